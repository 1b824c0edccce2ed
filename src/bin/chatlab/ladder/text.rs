//! The ladder on a terminal, in 100 columns:
//!
//! ```text
//!             client                                                                    server
//!             CLOSED                                                                    LISTEN
//!    0.000 ── SYN seq 0 ──────────────────────────────────────────────────────────▶    0.100
//!             SYN_SENT                                                                SYN_RCVD
//! ```
//!
//! Times in seconds from the connection's first segment: the departure on the sender's side,
//! the arrival on the receiver's (`?` when that end was not captured). The states are written
//! under the arrow that changed them. Pauses longer than the fold threshold become one line.

use std::fmt::Write;

use super::{Ctx, duration, label, push_data_and_marks, secs};
use crate::capture::model::{Connection, Fate, Provenance, Segment};
use crate::lang::{Lang, msg};

/// Width of the arrow between the two time columns.
const W: usize = 78;
/// Width of a time column.
const T: usize = 9;

/// The list of connections CONNS (each with its number from 0), when there are several; MORE
/// says those not listed.
pub fn list(out: &mut String, ctx: &Ctx, conns: &[(usize, &Connection)], more: Option<&str>) {
    let l = ctx.lang;
    let _ = writeln!(out, "{}", msg!(l, "Connexions :", "Connections:"));
    let t0 = conns.iter().map(|(_, c)| c.span().0).min().unwrap_or(0);
    for (i, c) in conns {
        let (a, b) = c.span();
        let _ = writeln!(
            out,
            "  {:>2}. {}  {} segments, {} → {} s",
            i + 1,
            ends(ctx, c),
            c.seen(),
            secs(a, t0),
            secs(b, t0),
        );
    }
    if let Some(more) = more {
        let _ = writeln!(out, "  … {more}");
    }
    let _ = writeln!(out);
}

/// Cut S to N characters, with `…` when cut.
/// « client 10.80.80.3:41234 → server 10.80.80.2:8080 »: a connection's two ends, named.
fn ends(ctx: &Ctx, c: &Connection) -> String {
    let [a, b] = c.ends;
    format!("{} {a} → {} {b}", ctx.name(a), ctx.name(b))
}

fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The arrow of segment S, W columns wide.
fn arrow(c: &Connection, s: &Segment, ctx: &Ctx) -> String {
    let l = ctx.lang;
    let mut text = label(c, s);
    push_data_and_marks(&mut text, s, l, ("[", "]"));
    let end = match s.fate {
        Fate::Dropped => msg!(l, " ✕ jeté par netem", " ✕ dropped by netem"),
        Fate::Lost => msg!(l, " ✕ perdu", " ✕ lost"),
        _ => String::new(),
    };
    let body = W - 2; // the head and one space
    let text = fit(&text, body - 4 - end.chars().count());
    let lead = "── ";
    let used = lead.chars().count() + text.chars().count() + 1;
    let reached = matches!(s.fate, Fate::Arrived | Fate::Unknown);
    let dashes = if reached { body - used } else { 2 };
    let mut line = format!("{lead}{text} {}", "─".repeat(dashes));
    if reached {
        line.push('▶');
        line.push(' ');
    } else {
        line.push_str(&end);
    }
    let pad = W - line.chars().count();
    if s.from == 0 {
        format!("{line}{}", " ".repeat(pad))
    } else {
        // Mirror: ◀ on the left, the text still read left to right.
        let mut m = String::from(" ◀");
        if reached {
            m.push_str(&"─".repeat(dashes));
            m.push(' ');
            m.push_str(&text);
            m.push_str(" ──");
        } else {
            m = format!(
                "{}{} {}─ ",
                " ".repeat(pad),
                end.trim_start(),
                "─".repeat(dashes)
            );
            m.push_str(&text);
            m.push_str(" ──");
        }
        let pad = W.saturating_sub(m.chars().count());
        format!("{}{m}", " ".repeat(pad))
    }
}

/// Two names (or states): one under each time line.
fn sides(out: &mut String, left: &str, right: &str) {
    let pad = W.saturating_sub(left.chars().count() + right.chars().count());
    let line = format!("{}{left}{}{right}", " ".repeat(T + 1), " ".repeat(pad));
    let _ = writeln!(out, "{}", line.trim_end());
}

/// The ladder of connection C (number I of N).
pub fn draw(out: &mut String, ctx: &Ctx, i: usize, n: usize, c: &Connection) {
    heading(out, ctx, i, n, c);
    let l = ctx.lang;
    let t0 = c.span().0;
    let fold = ctx.fold_for(c);
    let mut prev: Option<i64> = None;
    for (k, s) in c.segments.iter().enumerate() {
        let start = s.start();
        let skipped = c
            .elided
            .filter(|e| prev.is_some_and(|p| p < e.until) && e.until <= start);
        if let Some(e) = skipped {
            let mark = format!(
                "… {} {} …",
                e.count,
                msg!(l, "segments non montrés", "segments not shown")
            );
            let pad = W.saturating_sub(mark.chars().count()) / 2;
            let _ = writeln!(
                out,
                "{}⋮{}{mark}",
                " ".repeat(T + 1),
                " ".repeat(pad.max(1) - 1)
            );
        } else if let Some(p) = prev
            && start - p > fold
        {
            let mark = format!("… {} …", duration(start - p));
            let pad = (W - mark.chars().count()) / 2;
            let _ = writeln!(out, "{}⋮{}{mark}", " ".repeat(T + 1), " ".repeat(pad - 1));
        }
        prev = Some(prev.map_or(start, |p| p.max(s.end().unwrap_or(start))));
        row(out, ctx, c, k, s, t0);
    }
    let _ = writeln!(out);
}

/// The connection's title, where each side's departures come from, its hosts' names and
/// their states before the first segment.
fn heading(out: &mut String, ctx: &Ctx, i: usize, n: usize, c: &Connection) {
    let l = ctx.lang;
    let (t0, t1) = c.span();
    let _ = writeln!(
        out,
        "{} {}/{n} : {}, {} segments, {}",
        msg!(l, "Connexion", "Connection"),
        i + 1,
        ends(ctx, c),
        c.seen(),
        duration(t1 - t0),
    );
    for side in 0..2 {
        let who = ctx.name(c.ends[side]);
        let note = departures(l, c.provenance(side));
        let _ = writeln!(out, "  {who}{} {note}", msg!(l, " :", ":"));
    }
    sides(out, &ctx.name(c.ends[0]), &ctx.name(c.ends[1]));
    sides(out, c.initial[0].name(), c.initial[1].name());
}

/// Where a side's departures come from, in L.
#[rustfmt::skip]
fn departures(l: Lang, from: Provenance) -> String {
    match from {
        Provenance::NetemEntry => msg!(l, "départs = entrée dans son netem (enregistrement) : la pente est le vrai délai", "departures = entry into its netem (record): the slant is the real delay"),
        Provenance::Unknown => msg!(l, "capture d'un hôte inconnu (nommez-la …-client.pcap ou …-server.pcap) : segments placés quand elle les a vus", "captured by an unknown host (name the file …-client.pcap or …-server.pcap): segments placed when it saw them"),
        Provenance::AfterNetem => msg!(l, "départs = sa capture, APRÈS un éventuel netem (pas d'enregistrement)", "departures = its capture, AFTER any netem (no record)"),
        Provenance::NotCaptured => msg!(l, "pas capturé : ses segments sont placés à l'autre bout", "not captured: its segments are placed at the other end"),
    }
}

/// Segment S (the K-th of C): its arrow between its times (from T0), then the states it
/// changed, under it.
fn row(out: &mut String, ctx: &Ctx, c: &Connection, k: usize, s: &Segment, t0: i64) {
    let dep = s.departed.map_or("?".to_string(), |t| secs(t, t0));
    let arr = match (s.fate, s.arrived) {
        (_, Some(t)) => secs(t, t0),
        (Fate::Dropped | Fate::Lost, None) => String::new(),
        (_, None) => "?".to_string(),
    };
    let (left, right) = if s.from == 0 { (dep, arr) } else { (arr, dep) };
    let line = format!("{left:>T$} {} {right}", arrow(c, s, ctx));
    let _ = writeln!(out, "{}", line.trim_end());
    let mut st = [String::new(), String::new()];
    for ch in c.changes.iter().filter(|ch| ch.seg == k) {
        st[ch.side] = ch.state.name().to_string();
    }
    if !st[0].is_empty() || !st[1].is_empty() {
        sides(out, &st[0], &st[1]);
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::capture::model::{connections, tests::talk};
    use crate::lang::Lang;

    pub fn ctx() -> Ctx {
        Ctx::new(Lang::En, "10.80.80", 1.0, 1000).unwrap()
    }

    #[test]
    fn the_text_ladder_fits_100_columns_and_names_hosts_and_states() {
        let conns = connections(&talk().sources());
        let mut out = String::new();
        draw(&mut out, &ctx(), 0, 1, &conns[0]);
        for line in out.lines() {
            assert!(line.chars().count() <= 100, "too wide: {line:?}");
        }
        assert!(
            out.contains("client 10.80.80.11:40000 → server 10.80.80.10:8080"),
            "{out}"
        );
        let syn = out.lines().find(|l| l.contains("── SYN seq 0")).unwrap();
        assert!(
            syn.trim_start().starts_with("0.000") && syn.trim_end().ends_with("0.001"),
            "{syn}"
        );
        assert!(out.contains("\"bonjour\\n\""), "{out}");
        let states = out.lines().find(|l| l.contains("SYN_SENT")).unwrap();
        assert!(states.trim_end().ends_with("SYN_RCVD") || out.contains("SYN_RCVD"));
        let back = out.lines().find(|l| l.contains("salut")).unwrap();
        assert!(back.contains("◀"), "{back}");
    }
}
