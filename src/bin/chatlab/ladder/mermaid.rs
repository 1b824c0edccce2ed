//! The ladder as a Mermaid `sequenceDiagram`, for slides and Markdown: one message per
//! segment (`-x` when it never arrived, dotted for a pure ACK), the states as notes, folded
//! pauses as a note across both. Mermaid has no time axis: the times are in the messages.

use std::fmt::Write;

use super::{Ctx, duration, escape, label, push_data_and_marks, secs};
use crate::capture::model::{Connection, Fate};
use crate::capture::pcap::Flags;
use crate::lang::msg;

/// Mermaid's text escapes: entity codes for what its parser reads as syntax.
fn esc(s: &str) -> String {
    escape(
        s,
        &[
            ('#', "#35;"),
            (';', "#59;"),
            ('<', "#lt;"),
            ('>', "#gt;"),
            ('"', "#quot;"),
        ],
    )
}

pub fn draw(out: &mut String, ctx: &Ctx, i: usize, n: usize, c: &Connection) {
    let l = ctx.lang;
    let (t0, _) = c.span();
    let _ = writeln!(out, "sequenceDiagram");
    let _ = writeln!(
        out,
        "    %% {} {}/{n}: {} → {}",
        msg!(l, "connexion", "connection"),
        i + 1,
        c.ends[0],
        c.ends[1]
    );
    let ids = ["A", "B"];
    for (side, id) in ids.iter().enumerate() {
        let _ = writeln!(
            out,
            "    participant {} as {} {}",
            id,
            esc(&ctx.name(c.ends[side])),
            c.ends[side]
        );
    }
    let _ = writeln!(
        out,
        "    Note over A: {}\n    Note over B: {}",
        c.initial[0].name(),
        c.initial[1].name()
    );
    let fold = ctx.fold_for(c);
    let mut prev: Option<i64> = None;
    for (k, s) in c.segments.iter().enumerate() {
        let skipped = c
            .elided
            .filter(|e| prev.is_some_and(|p| p < e.until) && e.until <= s.start());
        if let Some(e) = skipped {
            let _ = writeln!(
                out,
                "    Note over A,B: … {} {} …",
                e.count,
                msg!(l, "segments non montrés", "segments not shown")
            );
        } else if let Some(p) = prev
            && s.start() - p > fold
        {
            let _ = writeln!(out, "    Note over A,B: … {} …", duration(s.start() - p));
        }
        prev = Some(prev.map_or(s.start(), |p| p.max(s.start())));
        let (a, b) = (ids[s.from], ids[1 - s.from]);
        let pure_ack = s.tcp.len == 0 && s.tcp.flags.0 & !Flags::PSH == Flags::ACK;
        let arrow = match (s.fate, pure_ack) {
            (Fate::Lost | Fate::Dropped, _) => "-x",
            (_, true) => "-->>",
            _ => "->>",
        };
        let mut text = format!("{} {}", secs(s.start(), t0), label(c, s));
        if let Some(t) = s.arrived
            && s.departed.is_some()
        {
            let _ = write!(text, " → {}", secs(t, t0));
        }
        push_data_and_marks(&mut text, s, l, ("(", ")"));
        match s.fate {
            Fate::Lost => text.push_str(&msg!(l, " (perdu)", " (lost)")),
            Fate::Dropped => text.push_str(&msg!(l, " (jeté par netem)", " (dropped by netem)")),
            _ => {}
        }
        let _ = writeln!(out, "    {a}{arrow}{b}: {}", esc(&text));
        for ch in c.changes.iter().filter(|ch| ch.seg == k) {
            let _ = writeln!(out, "    Note over {}: {}", ids[ch.side], ch.state.name());
        }
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::model::{connections, tests::talk};
    use crate::ladder::text::tests::ctx;

    #[test]
    fn a_sequence_diagram_with_one_message_per_segment() {
        let c = connections(&talk().sources()).remove(0);
        let mut out = String::new();
        draw(&mut out, &ctx(), 0, 1, &c);
        assert!(out.starts_with("sequenceDiagram\n"));
        assert!(out.contains("participant A as client 10.80.80.11:40000"));
        let messages = out
            .lines()
            .filter(|l| l.contains("->>") || l.contains("-x"))
            .count();
        assert_eq!(messages, c.segments.len());
        assert!(out.contains("A->>B: 0.000 SYN seq 0 → 0.001"), "{out}");
        assert!(out.contains("Note over B: SYN_RCVD"));
    }
}
