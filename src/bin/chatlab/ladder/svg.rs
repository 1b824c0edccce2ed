//! The ladder as SVG, written by hand (a few element kinds; a crate would add weight and hide
//! nothing we need): time runs downward, each segment an arrow from its departure on the
//! sender's time line to its arrival on the receiver's, the states on the time lines.
//!
//! # Time to height
//!
//! A monotone, piecewise-linear map: at the base scale (set so that the longest one-way delay
//! is about 140 px, at most 1.2 px/ms) between segment departures, except that two departures
//! are never closer than a label needs (bursts are spread out, never squeezed), and a pause
//! longer than the fold threshold (or taller than [`BLANK`], if longer than three one-way
//! delays) becomes a fixed band marked with its length. Arrivals go through the same map, so
//! an arrow's slant is its one-way delay at the local scale: never invented, and zero when
//! both ends saw the segment at once.

use std::fmt::Write;

use super::model::{Connection, Elided, Fate, Segment, State};
use super::pcap::{Flags, Ns};
use super::{Ctx, duration, label, secs, shown_data};

const WIDTH: f64 = 1100.0;
const XL: f64 = 300.0;
const XR: f64 = 880.0;
const AXIS: f64 = 70.0;
const HEAD: f64 = 120.0;
const GAP: f64 = 22.0;
const GAP_DATA: f64 = 34.0;
const FOLD_H: f64 = 46.0;
/// The tallest pause drawn in proportion: a longer one is folded even under the fold threshold
/// (without a delay, at 1.2 px/ms, 0.45 s would be half a screen of nothing), but never a
/// pause shorter than three one-way delays (an arrow in flight is not cut).
const BLANK: f64 = 240.0;
const MS: f64 = 1e6;

/// The band of time a segment spends in its sender's netem.
const HELD: &str = "#f0a30a";

const SANS: &str = "DejaVu Sans, Arial, Helvetica, sans-serif";
const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// How a segment is drawn: colour, dash pattern, width, marker id.
struct Style {
    color: &'static str,
    dash: &'static str,
    width: f64,
    marker: &'static str,
}

const DATA: Style = Style {
    color: "#1f4e9c",
    dash: "",
    width: 2.2,
    marker: "h-data",
};
const ACK: Style = Style {
    color: "#6b6b6b",
    dash: "",
    width: 1.3,
    marker: "h-ack",
};
const CTRL: Style = Style {
    color: "#111111",
    dash: "",
    width: 2.2,
    marker: "h-ctrl",
};
const RST: Style = Style {
    color: "#c0392b",
    dash: "",
    width: 2.2,
    marker: "h-rst",
};
const RETRANS: Style = Style {
    color: "#d35400",
    dash: "8 4",
    width: 2.2,
    marker: "h-re",
};
const DUP: Style = Style {
    color: "#8e44ad",
    dash: "2 3",
    width: 1.6,
    marker: "h-dup",
};
const LOST: Style = Style {
    color: "#c0392b",
    dash: "",
    width: 2.2,
    marker: "",
};

fn style(s: &Segment) -> &'static Style {
    if matches!(s.fate, Fate::Lost | Fate::Dropped) {
        &LOST
    } else if s.flags.has(Flags::RST) {
        &RST
    } else if s.retransmission {
        &RETRANS
    } else if s.dup_ack {
        &DUP
    } else if s.flags.has(Flags::SYN) || s.flags.has(Flags::FIN) {
        &CTRL
    } else if s.len > 0 {
        &DATA
    } else {
        &ACK
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn state_color(s: State) -> (&'static str, f64, &'static str) {
    match s {
        State::Established => ("#2e8b57", 4.0, ""),
        State::SynSent | State::SynRcvd => ("#2c7fb8", 3.0, ""),
        State::FinWait1 | State::FinWait2 | State::Closing | State::CloseWait | State::LastAck => {
            ("#e67e22", 3.0, "")
        }
        State::TimeWait => ("#e67e22", 3.0, "6 4"),
        State::Unknown | State::Closed | State::Listen => ("#9a9a9a", 1.5, "4 4"),
    }
}

/// The time → height map of one ladder.
struct Map {
    knots: Vec<(Ns, f64)>,
    /// (height of the band's middle, length of the pause, segments left out there)
    folds: Vec<(f64, Ns, usize)>,
    scale: f64,
    /// Pauses longer than this are folded (the threshold given, lowered by [`BLANK`]).
    fold: Ns,
}

impl Map {
    /// ELIDED: segments left out before a time, whose gap is always a band that says so.
    fn new(segs: &[&Segment], top: f64, fold: Ns, elided: Option<Elided>) -> Map {
        let delay = segs
            .iter()
            .filter_map(|s| Some(s.arrived? - s.departed?))
            .max()
            .unwrap_or(0)
            .max(0);
        // px per ns: the longest delay ≈ 140 px, at most 1.2 px/ms.
        let scale = (140.0 / (delay as f64).max(1.0)).min(1.2 / MS);
        let fold = fold.min((BLANK / scale) as Ns).max(3 * delay);
        let mut starts: Vec<(Ns, bool)> = segs.iter().map(|s| (s.start(), s.len > 0)).collect();
        starts.sort_unstable();
        let mut knots = Vec::new();
        let mut folds = Vec::new();
        let mut y = top;
        let mut prev: Option<(Ns, bool)> = None;
        for &(t, data) in &starts {
            match prev {
                None => knots.push((t, y)),
                Some((p, _)) if t == p => continue,
                Some((p, pdata)) => {
                    let gap = t - p;
                    let min = if pdata || data { GAP_DATA } else { GAP };
                    let skipped = elided
                        .filter(|e| p < e.until && e.until <= t)
                        .map_or(0, |e| e.count);
                    if gap > fold || skipped > 0 {
                        let keep = delay.min(gap);
                        y += keep as f64 * scale;
                        knots.push((p + keep, y));
                        folds.push((y + FOLD_H / 2.0, gap, skipped));
                        y += FOLD_H;
                    } else {
                        y += (gap as f64 * scale).max(min);
                    }
                    knots.push((t, y));
                }
            }
            prev = Some((t, data));
        }
        let last = knots.last().copied().unwrap_or((0, top));
        let end = segs
            .iter()
            .filter_map(|s| s.end())
            .max()
            .unwrap_or(last.0)
            .max(last.0);
        knots.push((end + 1, last.1 + (end - last.0) as f64 * scale + 1.0));
        Map {
            knots,
            folds,
            scale,
            fold,
        }
    }

    fn y(&self, t: Ns) -> f64 {
        let i = self.knots.partition_point(|&(k, _)| k <= t);
        if i == 0 {
            return self.knots[0].1;
        }
        if i == self.knots.len() {
            let (k, y) = self.knots[i - 1];
            return y + (t - k) as f64 * self.scale;
        }
        let (t0, y0) = self.knots[i - 1];
        let (t1, y1) = self.knots[i];
        y0 + (y1 - y0) * (t - t0) as f64 / (t1 - t0) as f64
    }

    /// Where a segment sent at START and seen arriving at END ends: its delay at the base
    /// scale, but never above a departure that came before it (the picture keeps the order of
    /// events). A burst spread out for readability thus never stretches a tiny delay into a
    /// visible slant.
    fn y_end(&self, start: Ns, end: Ns) -> f64 {
        let end = end.max(start);
        let i = self.knots.partition_point(|&(k, _)| k <= end);
        let floor = if i == 0 {
            self.knots[0].1
        } else {
            self.knots[i - 1].1
        };
        let own = self.y(start) + (end - start) as f64 * self.scale;
        own.max(floor).min(self.y(end))
    }

    fn bottom(&self) -> f64 {
        self.knots.last().map_or(0.0, |k| k.1)
    }

    /// Is T inside a folded pause (no time scale there)?
    fn folded(&self, t: Ns) -> bool {
        let i = self.knots.partition_point(|&(k, _)| k <= t);
        i > 0 && i < self.knots.len() && {
            let (t0, y0) = self.knots[i - 1];
            let (t1, y1) = self.knots[i];
            (y1 - y0 - FOLD_H).abs() < 0.01
                && t1 - t0 > 0
                && self.folds.iter().any(|f| f.0 > y0 && f.0 < y1)
        }
    }
}

/// The SVG document for the connections CONNS (numbered among N).
pub fn draw(out: &mut String, ctx: &Ctx, conns: &[(usize, &Connection)], n: usize) {
    let mut body = String::new();
    let mut y = 20.0;
    for (i, c) in conns {
        let _ = writeln!(body, r#"<g class="ladder" data-conn="{}">"#, i + 1);
        y = ladder(&mut body, ctx, *i, n, c, y) + 40.0;
        body.push_str("</g>\n");
    }
    let height = y.ceil();
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="{SANS}">
<title>TCP ladder</title>
<defs>"#
    );
    for st in [&DATA, &ACK, &CTRL, &RST, &RETRANS, &DUP] {
        let _ = writeln!(
            out,
            r#"<marker id="{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
            st.marker, st.color
        );
    }
    let _ = writeln!(out, "</defs>");
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    out.push_str(&body);
    out.push_str("</svg>\n");
}

/// One ladder from height TOP; returns the height where it ends.
fn ladder(o: &mut String, ctx: &Ctx, i: usize, n: usize, c: &Connection, top: f64) -> f64 {
    let l = ctx.lang;
    let segs: Vec<&Segment> = c.segments.iter().take(ctx.max).collect();
    let cut = c.segments.len() - segs.len();
    let (t0, t1) = c.span();
    // (The map keeps a fold out of any one-way delay, as Ctx::fold_for does for the text.)
    let map = Map::new(&segs, top + HEAD, ctx.fold, c.elided);
    let bottom = map.bottom() + 30.0;

    // Title and hosts.
    let _ = writeln!(
        o,
        r#"<text x="{AXIS}" y="{}" font-size="20" font-weight="bold">{} {}/{n} — {} {} → {} {}</text>"#,
        top + 10.0,
        l.pick("Connexion", "Connection"),
        i + 1,
        esc(&ctx.name(c.ends[0])),
        c.ends[0],
        esc(&ctx.name(c.ends[1])),
        c.ends[1]
    );
    let _ = writeln!(
        o,
        r##"<text x="{AXIS}" y="{}" font-size="14" fill="#555">{} segments, {}</text>"##,
        top + 32.0,
        c.segments.len() + c.elided.map_or(0, |e| e.count),
        duration(t1 - t0)
    );
    for (side, x) in [(0, XL), (1, XR)] {
        let _ = writeln!(
            o,
            r#"<text class="host" data-side="{side}" x="{x}" y="{}" font-size="24" font-weight="bold" text-anchor="middle">{}</text>"#,
            top + 72.0,
            esc(&ctx.name(c.ends[side]))
        );
        let _ = writeln!(
            o,
            r##"<text x="{x}" y="{}" font-size="13" fill="#555" text-anchor="middle">{}</text>"##,
            top + 90.0,
            c.ends[side]
        );
    }

    // Time lines, coloured by state.
    for side in 0..2 {
        let x = if side == 0 { XL } else { XR };
        let mut from = top + HEAD - 14.0;
        let mut st = c.initial[side];
        let changes: Vec<_> = c
            .changes
            .iter()
            .filter(|ch| ch.side == side && ch.seg < segs.len())
            .collect();
        // Two changes at (nearly) the same time: the second label goes under the first.
        let mut label_y = f64::MIN;
        // SEG: the segment (numbered from 1) whose sending or arrival changed the state.
        let mut draw_state = |o: &mut String, st: State, y: f64, seg: Option<usize>| {
            let y = y.max(label_y + 16.0);
            label_y = y;
            let (anchor, tx) = if side == 0 {
                ("end", XL - 64.0)
            } else {
                ("start", XR + 64.0)
            };
            let (color, ..) = state_color(st);
            let _ = writeln!(
                o,
                r#"<text class="state" data-side="{side}"{} x="{tx}" y="{:.1}" font-size="13" font-weight="bold" fill="{color}" text-anchor="{anchor}" dominant-baseline="middle">{}</text>"#,
                seg.map_or(String::new(), |k| format!(r#" data-seg="{k}""#)),
                y,
                st.name()
            );
        };
        draw_state(o, st, from, None);
        for ch in &changes {
            // At the end of the arrow that changed it, as drawn.
            let seg = &c.segments[ch.seg];
            let y = if ch.at == seg.start() {
                map.y(ch.at)
            } else {
                map.y_end(seg.start(), ch.at)
            };
            line_state(o, x, from, y, st);
            draw_state(o, ch.state, y, Some(ch.seg + 1));
            st = ch.state;
            from = y;
        }
        line_state(o, x, from, bottom, st);
    }

    // Folds: a zigzag across both lines, and the length of the pause.
    for &(y, gap, skipped) in &map.folds {
        let _ = writeln!(
            o,
            r##"<rect x="{}" y="{:.1}" width="{}" height="{}" fill="#f3f3f3"/>"##,
            AXIS - 20.0,
            y - FOLD_H / 2.0 + 12.0,
            WIDTH - AXIS,
            FOLD_H - 24.0
        );
        for x in [XL, XR] {
            let _ = writeln!(
                o,
                r##"<path d="M{:.1},{:.1} l10,-5 l-20,10 l10,-5" stroke="#444" stroke-width="2" fill="none"/>"##,
                x, y
            );
        }
        let what = if skipped > 0 {
            format!(
                "{skipped} segments {} {} {}",
                l.pick("en", "in"),
                duration(gap),
                l.pick(
                    "non montrés (la vue garde le début et les derniers)",
                    "not shown (the view keeps the start and the latest)"
                )
            )
        } else {
            format!(
                "{} {}",
                duration(gap),
                l.pick("sans rien (replié)", "of nothing (folded)")
            )
        };
        let _ = writeln!(
            o,
            r##"<text class="fold" x="{}" y="{:.1}" font-size="14" font-style="italic" fill="#444" text-anchor="middle" dominant-baseline="middle">… {} …</text>"##,
            (XL + XR) / 2.0,
            y,
            esc(&what)
        );
    }

    axis(o, &map, t0, top + HEAD, map.bottom());

    // Where the delay is: a segment held in its sender's netem, from the record (TCP sent it)
    // to the sender's capture (it left), as a band along the sender's line.
    for s in &segs {
        if let (true, Some(sent), Some(left)) = (s.from_record, s.departed, s.left)
            && left - sent > 2_000_000
        {
            let x = if s.from == 0 { XL + 2.0 } else { XR - 8.0 };
            let (y0, y1) = (map.y(sent), map.y_end(sent, left));
            let _ = writeln!(
                o,
                r##"<rect class="held" x="{x}" y="{y0:.1}" width="6" height="{:.1}" fill="{HELD}" opacity="0.55"/>"##,
                y1 - y0
            );
        }
    }

    // The arrows.
    let mut labels = Labels::new(segs.iter().map(|s| ends(s, &map)).collect());
    for (k, s) in segs.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<g class="segment" data-i="{}" data-from="{}" data-t="{}">"#,
            k + 1,
            esc(&ctx.name(c.ends[s.from])),
            secs(s.start(), t0)
        );
        arrow(o, c, (k, s), &map, t0, ctx, &mut labels);
        o.push_str("</g>\n");
    }
    let mut y = bottom;
    if cut > 0 {
        let _ = writeln!(
            o,
            r##"<text x="{AXIS}" y="{:.1}" font-size="15" fill="#c0392b">… {cut} segments {} (--max, --conn)</text>"##,
            y + 10.0,
            l.pick("de plus ne sont pas dessinés", "more are not drawn")
        );
        y += 30.0;
    }
    o.push_str("<g class=\"legend\">\n");
    let end = legend(o, ctx, c, y + 10.0, map.fold);
    o.push_str("</g>\n");
    end
}

fn line_state(o: &mut String, x: f64, y0: f64, y1: f64, st: State) {
    if y1 <= y0 {
        return;
    }
    let (color, w, dash) = state_color(st);
    let _ = writeln!(
        o,
        r#"<line class="timeline" x1="{x}" y1="{y0:.1}" x2="{x}" y2="{y1:.1}" stroke="{color}" stroke-width="{w}" stroke-dasharray="{dash}"/>"#
    );
}

/// The time scale on the left: ticks at round times, where the map is not folded.
fn axis(o: &mut String, map: &Map, t0: Ns, y0: f64, y1: f64) {
    let _ = writeln!(
        o,
        r##"<line x1="{AXIS}" y1="{y0:.1}" x2="{AXIS}" y2="{y1:.1}" stroke="#bbb" stroke-width="1"/>"##
    );
    // A step of about 60 px at the base scale.
    let steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];
    let step_ms = steps
        .iter()
        .copied()
        .find(|&s| s as f64 * MS * map.scale >= 60.0)
        .unwrap_or(10_000);
    let step = step_ms as Ns * 1_000_000;
    let end = map.knots.last().map_or(t0, |k| k.0);
    let mut last_y = f64::MIN;
    let mut t = t0;
    let mut count = 0;
    while t <= end && count < 5000 {
        let y = map.y(t);
        if !map.folded(t) && y - last_y >= 28.0 {
            let _ = writeln!(
                o,
                r##"<line x1="{}" y1="{y:.1}" x2="{AXIS}" y2="{y:.1}" stroke="#999"/><text x="{}" y="{y:.1}" font-size="11" fill="#777" text-anchor="end" dominant-baseline="middle">{} s</text>"##,
                AXIS - 5.0,
                AXIS - 8.0,
                secs(t, t0)
            );
            last_y = y;
        }
        t += step;
        count += 1;
        // Jump over folded pauses.
        if map.folded(t) {
            let i = map.knots.partition_point(|&(k, _)| k <= t);
            if i < map.knots.len() {
                let next = map.knots[i].0;
                t = t0 + (next - t0 + step - 1) / step * step;
            }
        }
    }
}

/// A straight line from one point to another, in px.
type Line = ((f64, f64), (f64, f64));

/// Where the arrow of S goes: from its departure on the sender's line to its arrival on the
/// receiver's, or, when it never arrived, a stub that stops short.
fn ends(s: &Segment, map: &Map) -> Line {
    let (xa, xb) = if s.from == 0 { (XL, XR) } else { (XR, XL) };
    let ya = map.y(s.start());
    match s.end() {
        Some(t) => ((xa, ya), (xb, map.y_end(s.start(), t))),
        None => ((xa, ya), (xa + (xb - xa) * 0.62, ya)),
    }
}

/// Where along each arrow its label goes, so that no other arrow runs through it (under a
/// delay, a slanted arrow crosses the flat ones sent meanwhile: at a fixed place, a label would
/// sit across one of them) nor any label placed before it.
struct Labels {
    /// What a label must keep clear of: every arrow of the ladder, in order (line K is arrow
    /// K), then the edges of each label placed; each with the arrow it belongs to (None for a
    /// label's edge).
    lines: Vec<(Line, Option<usize>)>,
    /// Which lines have a point in each band of LABEL_BAND px of height.
    bands: std::collections::HashMap<i64, Vec<usize>>,
}

/// The height of the bands that [`Labels`] files its lines by.
const LABEL_BAND: f64 = 40.0;

/// Where a label may go along its arrow (fractions from the sender), best first: nearer the
/// sender than the middle (arrows that leave apart may arrive together).
const LABEL_AT: [f64; 13] = [
    0.4, 0.3, 0.5, 0.35, 0.45, 0.25, 0.55, 0.2, 0.6, 0.65, 0.7, 0.75, 0.8,
];

impl Labels {
    fn new(arrows: Vec<Line>) -> Labels {
        let mut labels = Labels {
            lines: Vec::new(),
            bands: std::collections::HashMap::new(),
        };
        for (k, a) in arrows.into_iter().enumerate() {
            labels.add(a, Some(k));
        }
        labels
    }

    fn add(&mut self, line: Line, arrow: Option<usize>) {
        let ((_, y1), (_, y2)) = line;
        let i = self.lines.len();
        self.lines.push((line, arrow));
        let (lo, hi) = (y1.min(y2), y1.max(y2));
        for band in (lo / LABEL_BAND).floor() as i64..=(hi / LABEL_BAND).floor() as i64 {
            self.bands.entry(band).or_default().push(i);
        }
    }

    /// The fraction of arrow K's length where its label's middle goes: WIDTH px of text, from
    /// 19 px above the arrow to 3 px below it, or 19 px below with DATA under it. The label
    /// is then kept clear of by the labels placed after it.
    fn place(&mut self, k: usize, width: f64, data: bool) -> f64 {
        let ((a, b), _) = self.lines[k];
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy).max(1.0);
        // The label's own frame: u along the text (read left to right), v downward.
        let (ux, uy) = if dx < 0.0 {
            (-dx / len, -dy / len)
        } else {
            (dx / len, dy / len)
        };
        let (vx, vy) = (-uy, ux);
        let half = (width / 2.0).min(len / 2.0);
        let (top, bottom) = (-19.0, if data { 19.0 } else { 3.0 });
        let at = |f: f64| (a.0 + dx * f, a.1 + dy * f);
        let mut best: Option<(usize, f64)> = None;
        for f in LABEL_AT {
            if f * len - half < 2.0 || f * len + half > len - 2.0 {
                continue;
            }
            let (cx, cy) = at(f);
            let hits = self.hits(k, (cx, cy), (ux, uy), half, (top, bottom));
            if best.is_none_or(|(h, _)| hits < h) {
                best = Some((hits, f));
            }
            if hits == 0 {
                break;
            }
        }
        let f = best.map_or(0.5, |(_, f)| f);
        // Its box's long edges, for the labels placed after it.
        let (cx, cy) = at(f);
        for v in [top, bottom] {
            let p = |u: f64| (cx + ux * u + vx * v, cy + uy * u + vy * v);
            self.add((p(-half), p(half)), None);
        }
        f
    }

    /// How many points (every 3 px) of the lines other than arrow K's fall in the box of
    /// half-length HALF along U around C, from TOP to BOTTOM across.
    fn hits(
        &self,
        k: usize,
        c: (f64, f64),
        u: (f64, f64),
        half: f64,
        (top, bottom): (f64, f64),
    ) -> usize {
        let (vx, vy) = (-u.1, u.0);
        let reach = half.hypot(top.abs().max(bottom.abs()));
        let (lo, hi) = (c.1 - reach, c.1 + reach);
        let mut seen = std::collections::HashSet::new();
        let mut hits = 0;
        for band in (lo / LABEL_BAND).floor() as i64..=(hi / LABEL_BAND).floor() as i64 {
            for &i in self.bands.get(&band).map_or(&[][..], Vec::as_slice) {
                let ((p, q), arrow) = self.lines[i];
                if arrow == Some(k) || !seen.insert(i) {
                    continue;
                }
                let n = ((q.0 - p.0).hypot(q.1 - p.1) / 3.0).ceil().max(1.0) as usize;
                for j in 0..=n {
                    let t = j as f64 / n as f64;
                    let (x, y) = (p.0 + (q.0 - p.0) * t - c.0, p.1 + (q.1 - p.1) * t - c.1);
                    let (along, across) = (x * u.0 + y * u.1, x * vx + y * vy);
                    if along.abs() <= half && (top..=bottom).contains(&across) {
                        hits += 1;
                    }
                }
            }
        }
        hits
    }
}

fn arrow(
    o: &mut String,
    c: &Connection,
    (k, s): (usize, &Segment),
    map: &Map,
    t0: Ns,
    ctx: &Ctx,
    labels: &mut Labels,
) {
    let l = ctx.lang;
    let st = style(s);
    let reached = s.end();
    let ((xa, ya), (x2, y2)) = ends(s, map);
    // Stop at the line, not on it (the head's tip touches it).
    let dash = if st.dash.is_empty() {
        String::new()
    } else {
        format!(r#" stroke-dasharray="{}""#, st.dash)
    };
    let marker = if st.marker.is_empty() {
        String::new()
    } else {
        format!(r#" marker-end="url(#{})""#, st.marker)
    };
    let _ = writeln!(
        o,
        r#"<line class="seg" x1="{xa}" y1="{ya:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="{}"{dash}{marker}/>"#,
        st.color, st.width
    );
    // One end only: a hollow dot where the other end would be.
    if reached.is_some() && !s.both_ends() {
        let (xo, yo) = if s.departed.is_some() {
            (x2, y2)
        } else {
            (xa, ya)
        };
        let _ = writeln!(
            o,
            r##"<circle cx="{xo}" cy="{yo:.1}" r="4.5" fill="white" stroke="#555" stroke-width="1.5"/>"##
        );
    }
    if reached.is_none() {
        let _ = writeln!(
            o,
            r#"<path d="M{:.1},{:.1} l12,12 m0,-12 l-12,12" stroke="{}" stroke-width="3"/>"#,
            x2 - 6.0,
            y2 - 6.0,
            st.color
        );
    }
    // Times at both ends, just outside the lines.
    let mut times = vec![(xa, ya, secs(s.start(), t0))];
    if let (Some(t), true) = (reached, s.both_ends()) {
        times.push((x2, y2, secs(t, t0)));
    }
    for (x, y, t) in times {
        let (tx, anchor) = if x <= XL + 1.0 {
            (XL - 6.0, "end")
        } else if x >= XR - 1.0 {
            (XR + 6.0, "start")
        } else {
            continue;
        };
        let _ = writeln!(
            o,
            r##"<text x="{tx}" y="{y:.1}" font-size="10" fill="#888" text-anchor="{anchor}" dominant-baseline="middle">{t}</text>"##
        );
    }
    // The label along the arrow: header above, data below.
    let mut head = label(c, s);
    if s.retransmission {
        head.push_str(l.pick(" · retransmis", " · retransmission"));
    }
    if s.dup_ack {
        head.push_str(l.pick(" · ACK dupliqué", " · dup ACK"));
    }
    match s.fate {
        Fate::Lost => head.push_str(l.pick(" · perdu", " · lost")),
        Fate::Dropped => head.push_str(l.pick(" · jeté par netem", " · dropped by netem")),
        _ => {}
    }
    let angle = (y2 - ya).atan2(x2 - xa).to_degrees();
    // Keep text upright: an arrow going left is read from its other end.
    let angle = if angle > 90.0 {
        angle - 180.0
    } else if angle < -90.0 {
        angle + 180.0
    } else {
        angle
    };
    let room = ((x2 - xa).abs() / 7.2) as usize;
    let weight = if s.flags.has(Flags::SYN) || s.flags.has(Flags::FIN) || s.flags.has(Flags::RST) {
        r#" font-weight="bold""#
    } else {
        ""
    };
    let room = if reached.is_some() { room } else { 90 };
    let head = fit(&head, room.max(8));
    let data = (s.len > 0).then(|| fit(&shown_data(s), room.max(8)));
    let ((mx, my), anchor) = match (reached, s.from) {
        // Along the arrow, clear of the other arrows and labels (see Labels).
        (Some(_), _) => {
            let bold = if weight.is_empty() { 7.2 } else { 8.0 };
            let width = (head.chars().count() as f64 * bold).max(
                data.as_ref()
                    .map_or(0.0, |d| d.chars().count() as f64 * 7.8),
            );
            let f = labels.place(k, width, data.is_some());
            ((xa + (x2 - xa) * f, ya + (y2 - ya) * f), "middle")
        }
        // A segment that never arrived: its label starts at the sender, along the stub.
        (None, 0) => ((xa + 10.0, ya), "start"),
        (None, _) => ((xa - 10.0, ya), "end"),
    };
    let _ = writeln!(
        o,
        r#"<g transform="translate({mx:.1},{my:.1}) rotate({angle:.2})"><text class="label" y="-5" font-size="13" fill="{}" text-anchor="{anchor}" stroke="white" stroke-width="3" paint-order="stroke"{weight}>{}</text>"#,
        st.color,
        esc(&head)
    );
    if let Some(data) = data {
        let _ = writeln!(
            o,
            r##"<text class="data" y="14" font-size="13" font-family="{MONO}" fill="#000" text-anchor="{anchor}" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"##,
            esc(&data)
        );
    }
    o.push_str("</g>\n");
}

fn legend(o: &mut String, ctx: &Ctx, c: &Connection, top: f64, fold: Ns) -> f64 {
    let l = ctx.lang;
    let mut y = top;
    let _ = writeln!(
        o,
        r#"<text x="{AXIS}" y="{y}" font-size="15" font-weight="bold">{}</text>"#,
        l.pick("Légende", "Legend")
    );
    y += 10.0;
    let items: [(&Style, &str); 7] = [
        (&DATA, l.pick("données", "data")),
        (&ACK, l.pick("ACK seul", "pure ACK")),
        (&CTRL, "SYN / FIN"),
        (&RST, "RST"),
        (&RETRANS, l.pick("retransmission", "retransmission")),
        (&DUP, l.pick("ACK dupliqué", "duplicate ACK")),
        (
            &LOST,
            l.pick(
                "perdu ou jeté : n'arrive jamais (✕)",
                "lost or dropped: never arrives (✕)",
            ),
        ),
    ];
    for (k, (st, what)) in items.iter().enumerate() {
        let (col, row) = (k % 2, k / 2);
        let x = AXIS + col as f64 * 480.0;
        let yy = y + 20.0 + row as f64 * 22.0;
        let dash = if st.dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{}""#, st.dash)
        };
        let marker = if st.marker.is_empty() {
            String::new()
        } else {
            format!(r#" marker-end="url(#{})""#, st.marker)
        };
        let _ = writeln!(
            o,
            r#"<line x1="{x}" y1="{yy}" x2="{}" y2="{yy}" stroke="{}" stroke-width="{}"{dash}{marker}/><text x="{}" y="{yy}" font-size="13" dominant-baseline="middle">{}</text>"#,
            x + 60.0,
            st.color,
            st.width,
            x + 72.0,
            esc(what)
        );
    }
    y += 20.0 + 4.0 * 22.0;
    if c.recorded.iter().any(|&r| r) {
        let yy = y + 8.0;
        let _ = writeln!(
            o,
            r##"<rect x="{}" y="{}" width="6" height="22" fill="{HELD}" opacity="0.55"/><text x="{}" y="{}" font-size="13" dominant-baseline="middle">{}</text>"##,
            AXIS + 27.0,
            yy - 11.0,
            AXIS + 72.0,
            yy,
            esc(l.pick(
                "le segment attend dans le netem de l'émetteur (de l'envoi par TCP à sa sortie vue par tcpdump)",
                "the segment waits in its sender's netem (from TCP sending it to tcpdump seeing it leave)"
            ))
        );
        y += 24.0;
    }
    let mut notes = vec![
        l.pick(
            "Le temps descend, proportionnel (échelle à gauche) ; une rafale est espacée pour rester lisible, jamais resserrée.",
            "Time runs down, in proportion (scale on the left); a burst is spread out to stay readable, never squeezed.",
        )
        .to_string(),
        format!(
            "{} {} {}",
            l.pick("Pauses de plus de", "Pauses longer than"),
            duration(fold),
            l.pick("repliées (bande grise).", "folded (grey band).")
        ),
        l.pick(
            "○ : un seul bout capturé, la flèche est à plat au moment vu (délai inconnu).",
            "○: one end only was captured, the arrow is flat at the time seen (delay unknown).",
        )
        .to_string(),
    ];
    for side in 0..2 {
        let who = ctx.name(c.ends[side]);
        let note = if c.recorded[side] {
            l.pick(
                "départs = entrée dans son netem (enregistré par chatlab netem) : la pente est le vrai délai aller.",
                "departures = entry into its netem (recorded by chatlab netem): the slant is the real one-way delay.",
            )
        } else if c.unplaced && !c.captured[side] {
            l.pick(
                "capture d'un hôte inconnu (nommez-la …-client.pcap ou …-server.pcap) : segments placés quand elle les a vus",
                "captured by an unknown host (name the file …-client.pcap or …-server.pcap): segments placed when it saw them",
            )
        } else if c.captured[side] {
            l.pick(
                "départs = sa capture, prise APRÈS un éventuel netem (aucun enregistrement : netem du noyau, ou pas de netem) : un délai netem y paraît comme un envoi tardif, pas comme une pente.",
                "departures = its capture, taken AFTER any netem (no record: kernel netem, or none): a netem delay shows as a late send, not as a slant.",
            )
        } else {
            l.pick("non capturé.", "not captured.")
        };
        notes.push(format!("{who}{} {note}", l.pick(" :", ":")));
    }
    for note in notes {
        for line in wrap(&note, 130) {
            y += 19.0;
            let _ = writeln!(
                o,
                r##"<text x="{AXIS}" y="{y}" font-size="13" fill="#333">{}</text>"##,
                esc(&line)
            );
        }
    }
    y + 10.0
}

fn wrap(s: &str, n: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for w in s.split(' ') {
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.chars().count() + 1 + w.chars().count() > n {
            lines.push(w.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(w);
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::model::{
        connections,
        tests::{MS as NS_MS, Script, talk},
    };
    use crate::ladder::text::tests::ctx;

    #[test]
    fn the_map_is_monotone_proportional_and_folds_pauses() {
        let mut s = talk();
        // A pause of 10 s, then one more segment.
        s.send(
            10_000 * NS_MS,
            true,
            Flags::PSH | Flags::ACK,
            9,
            7,
            b"x",
            Some(NS_MS),
        );
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None);
        assert_eq!(map.folds.len(), 1);
        let mut last = f64::MIN;
        for t in (0..11_000).map(|ms| ms * NS_MS) {
            let y = map.y(t);
            assert!(y >= last);
            last = y;
        }
        assert!(
            map.bottom() < 1000.0,
            "the pause is folded: {}",
            map.bottom()
        );
    }

    #[test]
    fn a_pause_too_tall_to_draw_is_folded_but_never_inside_a_delay() {
        // 1 ms one-way: a 450 ms pause, under the 1 s threshold, would be 540 px of nothing.
        let mut s = talk();
        let data = Flags::PSH | Flags::ACK;
        s.send(470 * NS_MS, true, data, 9, 7, b"x", Some(NS_MS));
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None);
        assert_eq!(map.folds.len(), 1, "{:?}", map.folds);
        assert!(map.fold < 450 * NS_MS, "the legend says so: {}", map.fold);
        assert!(map.bottom() < 400.0, "{}", map.bottom());
        // 200 ms one-way: the same pause is shorter than three delays, drawn in proportion.
        let mut s = Script::new();
        let d = Some(200 * NS_MS);
        s.send(0, true, Flags::SYN, 0, 0, b"", d)
            .send(200 * NS_MS, false, Flags::SYN | Flags::ACK, 0, 1, b"", d)
            .send(400 * NS_MS, true, Flags::ACK, 1, 1, b"", d)
            .send(850 * NS_MS, true, data, 1, 1, b"x", d);
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 500 * NS_MS, None);
        assert!(map.folds.is_empty(), "{:?}", map.folds);
        assert_eq!(map.fold, 600 * NS_MS);
    }

    #[test]
    fn a_label_is_kept_clear_of_the_arrows_that_cross_its_own() {
        // Behind a 200 ms delay, the server's ACK of the first line crosses the second line's
        // arrow at 40 % of its length: where its label would go by default.
        let mut s = talk();
        let d = Some(200 * NS_MS);
        let data = Flags::PSH | Flags::ACK;
        s.send(100 * NS_MS, true, data, 9, 7, b"ligne 1\n", d)
            .send(300 * NS_MS, false, Flags::ACK, 7, 17, b"", Some(NS_MS / 20))
            .send(220 * NS_MS, true, data, 17, 7, b"ligne 2\nligne 3\n", d);
        let c = connections(&s.sources()).remove(0);
        let mut out = String::new();
        draw(&mut out, &ctx(), &[(0, &c)], 1);
        let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
        let group = |k: usize| {
            let seg = c
                .segments
                .iter()
                .position(|g| g.start() == k as Ns * NS_MS)
                .unwrap();
            doc.descendants()
                .find(|n| n.attribute("data-i") == Some(&(seg + 1).to_string()))
                .unwrap()
        };
        let line = |g: roxmltree::Node| {
            let l = g
                .descendants()
                .find(|n| n.attribute("class") == Some("seg"))
                .unwrap();
            let n = |k: &str| l.attribute(k).unwrap().parse::<f64>().unwrap();
            ((n("x1"), n("y1")), (n("x2"), n("y2")))
        };
        let (((ax, ay), (bx, by)), ((_, ack_y), _)) = (line(group(220)), line(group(300)));
        // Where the flat ACK crosses the slanted arrow, as a fraction of its length.
        let cross = (ack_y - ay) / (by - ay);
        assert!((0.3..0.5).contains(&cross), "the ACK crosses at {cross}");
        let moved = group(220)
            .descendants()
            .find_map(|n| n.attribute("transform"))
            .unwrap();
        let xy: Vec<f64> = moved["translate(".len()..moved.find(')').unwrap()]
            .split(',')
            .map(|v| v.parse().unwrap())
            .collect();
        let at = (xy[0] - ax) / (bx - ax);
        // The data line is the label's widest: "ligne 2\nligne 3\n" in quotes, 20 characters.
        let half = 20.0 * 7.8 / 2.0 / (bx - ax).hypot(by - ay);
        assert!(
            (at - cross).abs() > half,
            "the label ({at:.2} ± {half:.2} of the arrow) is clear of the ACK ({cross:.2})"
        );
    }

    #[test]
    fn a_burst_spread_out_does_not_stretch_tiny_delays_into_slants() {
        let mut s = talk();
        let us = NS_MS / 1000;
        s.send(30 * NS_MS, false, Flags::ACK, 7, 9, b"", Some(30 * us))
            .send(
                30 * NS_MS + 50 * us,
                false,
                Flags::PSH | Flags::ACK,
                7,
                9,
                b"x",
                Some(30 * us),
            );
        let c = connections(&s.sources()).remove(0);
        let segs: Vec<&Segment> = c.segments.iter().collect();
        let map = Map::new(&segs, 0.0, 1_000 * NS_MS, None);
        let (a, b) = (segs[7], segs[8]);
        assert!(
            map.y(b.start()) - map.y(a.start()) >= GAP_DATA,
            "spread out"
        );
        for s in [a, b] {
            let slant = map.y_end(s.start(), s.end().unwrap()) - map.y(s.start());
            assert!((0.0..1.0).contains(&slant), "30 µs is flat: {slant} px");
        }
    }

    #[test]
    fn the_svg_is_well_formed_xml_whose_arrows_labels_and_states_match_the_segments() {
        let mut s = talk();
        s.send(
            30 * NS_MS,
            true,
            Flags::PSH | Flags::ACK,
            9,
            7,
            b"<perdu> & \x1b",
            None,
        )
        .send(40 * NS_MS, false, Flags::ACK, 7, 9, b"", Some(NS_MS));
        let c = connections(&s.sources()).remove(0);
        let mut out = String::new();
        draw(&mut out, &ctx(), &[(0, &c)], 1);
        let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
        let class = |n: &roxmltree::Node, k: &str| n.attribute("class") == Some(k);
        let arrows: Vec<_> = doc.descendants().filter(|n| class(n, "seg")).collect();
        assert_eq!(arrows.len(), c.segments.len());
        let labels: Vec<String> = doc
            .descendants()
            .filter(|n| class(n, "label"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect();
        assert_eq!(labels.len(), c.segments.len());
        for (seg, label) in c.segments.iter().zip(&labels) {
            assert!(label.starts_with(&crate::ladder::label(&c, seg)), "{label}");
        }
        assert!(
            labels[7].ends_with("lost"),
            "{labels:?} {:?}",
            c.segments[7]
        );
        let data: Vec<String> = doc
            .descendants()
            .filter(|n| class(n, "data"))
            .map(|n| n.text().unwrap_or_default().to_string())
            .collect();
        assert_eq!(data, ["\"bonjour\\n\"", "\"salut\\n\"", "\"<perdu> & ^[\""]);
        // Client → server arrows go right and slant down by their delay; the lost one is flat
        // and stops before the server's line.
        for (seg, a) in c.segments.iter().zip(&arrows) {
            let n = |k: &str| a.attribute(k).unwrap().parse::<f64>().unwrap();
            let (x1, y1, x2, y2) = (n("x1"), n("y1"), n("x2"), n("y2"));
            assert_eq!(x1 < x2, seg.from == 0);
            if seg.fate == Fate::Lost {
                assert!(y1 == y2 && x2 < XR);
            } else {
                assert!(y2 > y1, "a 1 ms delay slants");
            }
        }
        // Each segment's drawing is one group, numbered in order, naming its sender; each
        // state is marked with its side (what the view's replay and the sheets' tests read).
        let groups: Vec<_> = doc.descendants().filter(|n| class(n, "segment")).collect();
        assert_eq!(groups.len(), c.segments.len());
        for (k, (g, seg)) in groups.iter().zip(&c.segments).enumerate() {
            assert_eq!(g.attribute("data-i"), Some((k + 1).to_string().as_str()));
            let from = if seg.from == 0 { "client" } else { "server" };
            assert_eq!(g.attribute("data-from"), Some(from));
            assert_eq!(g.descendants().filter(|n| class(n, "seg")).count(), 1);
        }
        let states: Vec<(&str, &str)> = doc
            .descendants()
            .filter(|n| class(n, "state"))
            .map(|n| (n.attribute("data-side").unwrap(), n.text().unwrap()))
            .collect();
        assert_eq!(states[0], ("0", "CLOSED"), "{states:?}");
        // A change names the segment that made it: the client's SYN makes it SYN_SENT.
        let syn_sent = doc
            .descendants()
            .find(|n| class(n, "state") && n.text() == Some("SYN_SENT"))
            .unwrap();
        assert_eq!(syn_sent.attribute("data-seg"), Some("1"));
        assert!(states.contains(&("1", "LISTEN")), "{states:?}");
        assert!(states.contains(&("0", "SYN_SENT")), "{states:?}");
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        for st in ["CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED"] {
            assert!(texts.contains(&st), "{st}");
        }
    }
}
