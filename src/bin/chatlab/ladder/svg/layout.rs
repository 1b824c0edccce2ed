//! Where everything goes: one ladder's marks as data (positions, words, kinds), computed from
//! the connection, the look and the words; [`super::xml`] writes them.

use super::super::{Ctx, duration, label, secs, shown_data};
use super::labels::{Labels, Line};
use super::map::{MS, Map};
use super::style::{BOLD_W, CHAR_W, Kind, Look, MONO_W};
use super::words::{Words, words};
use crate::capture::model::{Connection, Fate, Provenance, Segment, State};
use crate::capture::pcap::{Flags, Ns};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

impl Anchor {
    pub fn svg(self) -> &'static str {
        match self {
            Anchor::Start => "start",
            Anchor::Middle => "middle",
            Anchor::End => "end",
        }
    }
}

/// One connection's ladder, laid out.
pub struct Ladder {
    /// Numbered from 1.
    pub conn: usize,
    pub top: f64,
    pub title: String,
    pub sub: String,
    pub hosts: [Host; 2],
    pub lines: Vec<TimeLine>,
    pub states: Vec<StateMark>,
    pub folds: Vec<FoldMark>,
    pub scale: Scale,
    /// Segments held in their sender's netem: (x, y, height).
    pub held: Vec<(f64, f64, f64)>,
    pub arrows: Vec<ArrowMark>,
    /// Segments past --max: where it is said, and how.
    pub cut: Option<(f64, String)>,
    pub legend: Legend,
    /// Where the ladder ends.
    pub end: f64,
}

pub struct Host {
    pub x: f64,
    pub name: String,
    pub addr: String,
}

/// A stretch of a time line in one state.
pub struct TimeLine {
    pub x: f64,
    pub y0: f64,
    pub y1: f64,
    pub state: State,
}

pub struct StateMark {
    pub side: usize,
    /// The segment (from 1) whose sending or arrival made the state.
    pub seg: Option<usize>,
    pub x: f64,
    pub y: f64,
    pub anchor: Anchor,
    pub state: State,
}

pub struct FoldMark {
    pub y: f64,
    pub text: String,
}

/// The time scale on the left: its line, broken where no time passes, and its ticks.
pub struct Scale {
    /// Stretches drawn to scale, and the breaks (no time passes), (from, to).
    pub solid: Vec<(f64, f64)>,
    pub breaks: Vec<(f64, f64)>,
    pub ticks: Vec<(f64, String)>,
}

pub struct ArrowMark {
    pub i: usize,
    pub from: String,
    pub t: String,
    pub kind: Kind,
    pub line: Line,
    /// Where an end that was not captured would be (a hollow dot).
    pub hollow: Option<(f64, f64)>,
    /// Never arrived: a cross at the end of its stub.
    pub cross: bool,
    pub stamps: Vec<Stamp>,
    pub label: LabelMark,
}

/// A time written beside a time line.
pub struct Stamp {
    pub x: f64,
    pub y: f64,
    pub anchor: Anchor,
    pub text: String,
}

pub struct LabelMark {
    pub at: (f64, f64),
    pub angle: f64,
    pub anchor: Anchor,
    pub head: String,
    pub bold: bool,
    pub data: Option<String>,
}

pub struct Legend {
    pub x: f64,
    pub y: f64,
    pub title: String,
    pub items: Vec<Item>,
    /// Lines of notes: (x, y, text).
    pub notes: Vec<(f64, f64, String)>,
}

pub struct Item {
    pub x: f64,
    pub y: f64,
    pub swatch: Swatch,
    /// Its words, one entry per line.
    pub text: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Swatch {
    Arrow(Kind),
    Held,
}

/// Connection I (of N) from height TOP.
pub fn ladder(ctx: &Ctx, look: &Look, (i, n): (usize, usize), c: &Connection, top: f64) -> Ladder {
    let w = words(ctx.lang);
    let segs: Vec<&Segment> = c.segments.iter().take(ctx.max).collect();
    let cut = c.segments.len() - segs.len();
    let (t0, _) = c.span();
    let notes_room = look.height.map(|_| notes_height(look, ctx, c));
    let limit = look
        .height
        .zip(notes_room)
        .map(|(h, notes)| top + h - notes - look.tail - if cut > 0 { 40.0 } else { 20.0 });
    let map = fit(ctx, look, c, &segs, top + look.head, limit);
    let bottom = map.bottom() + look.tail;
    let (lines, states) = time_lines(look, c, segs.len(), &map, top);
    let names = c.ends.map(|e| ctx.name(e));
    let mut arrows = arrows(look, w, (c, &names), &segs, &map, t0);
    unstack_stamps(look, &mut arrows);
    let held = held(look, &segs, &map);
    let cut = (cut > 0).then(|| {
        (
            bottom + look.font.legend,
            format!("… {cut} segments {}", w.not_drawn),
        )
    });
    let below = cut.as_ref().map_or(bottom, |(y, _)| y + look.font.legend) + 10.0;
    let legend = legend(ctx, look, c, &map, &arrows, !held.is_empty(), top, below);
    let end = match look.height {
        Some(h) => (top + h).max(legend.notes.last().map_or(below, |n| n.1) + 20.0),
        None => legend.notes.last().map_or(below, |n| n.1) + 10.0,
    };
    let (title, sub) = titles(ctx, look, (i, n), c);
    Ladder {
        conn: i + 1,
        top,
        title,
        sub,
        hosts: [0, 1].map(|side| Host {
            x: [look.xl, look.xr][side],
            name: ctx.name(c.ends[side]),
            addr: c.ends[side].to_string(),
        }),
        lines,
        states,
        folds: folds(w, &map),
        scale: scale(look, &map, t0, top + look.head),
        held,
        arrows,
        cut,
        legend,
        end,
    }
}

/// The map, at the look's scale or, on a slide, at the largest scale that fits above LIMIT
/// (breaks and folds keep their height; a zoom of 1/20 to 12 times the base scale).
fn fit(
    ctx: &Ctx,
    look: &Look,
    c: &Connection,
    segs: &[&Segment],
    y0: f64,
    limit: Option<f64>,
) -> Map {
    let at = |zoom| Map::new(segs, y0, ctx.fold, c.elided, look, zoom);
    let Some(limit) = limit else { return at(1.0) };
    let (mut lo, mut hi) = (0.05_f64, 12.0_f64);
    if at(hi).bottom() <= limit {
        return at(hi);
    }
    for _ in 0..20 {
        let mid = (lo * hi).sqrt();
        if at(mid).bottom() <= limit {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at(lo)
}

fn titles(ctx: &Ctx, look: &Look, (i, n): (usize, usize), c: &Connection) -> (String, String) {
    let w = words(ctx.lang);
    let (t0, t1) = c.span();
    let [a, b] = c.ends;
    let sub = format!("{} segments, {}", c.seen(), duration(t1 - t0));
    if look.slide {
        // One line: the addresses are under the hosts' names.
        let title = format!(
            "{} {}/{n} — {} → {} · {sub}",
            w.connection,
            i + 1,
            ctx.name(a),
            ctx.name(b)
        );
        return (title, String::new());
    }
    let title = format!(
        "{} {}/{n} — {} {a} → {} {b}",
        w.connection,
        i + 1,
        ctx.name(a),
        ctx.name(b)
    );
    (title, sub)
}

/// Each side's time line, coloured by state, and the states written beside it.
fn time_lines(
    look: &Look,
    c: &Connection,
    drawn: usize,
    map: &Map,
    top: f64,
) -> (Vec<TimeLine>, Vec<StateMark>) {
    let bottom = map.bottom() + look.tail;
    let (mut lines, mut states) = (Vec::new(), Vec::new());
    for side in 0..2 {
        let x = [look.xl, look.xr][side];
        let (anchor, tx) = if side == 0 {
            (Anchor::End, look.xl - look.state_dx)
        } else {
            (Anchor::Start, look.xr + look.state_dx)
        };
        // Two changes at (nearly) the same time: the second is written under the first.
        let mut label_y = f64::MIN;
        let mut mark = |state, y: f64, seg| {
            let y = y.max(label_y + look.font.state * 1.45);
            label_y = y;
            states.push(StateMark {
                side,
                seg,
                x: tx,
                y,
                anchor,
                state,
            });
        };
        let mut from = top + look.head - look.font.state * 1.1;
        let mut st = c.initial[side];
        mark(st, from, None);
        for ch in c
            .changes
            .iter()
            .filter(|ch| ch.side == side && ch.seg < drawn)
        {
            // At the end of the arrow that changed it, as drawn.
            let seg = &c.segments[ch.seg];
            let y = if ch.at == seg.start() {
                map.y(ch.at)
            } else {
                map.y_end(seg.start(), ch.at)
            };
            lines.push(TimeLine {
                x,
                y0: from,
                y1: y,
                state: st,
            });
            mark(ch.state, y, Some(ch.seg + 1));
            st = ch.state;
            from = y;
        }
        lines.push(TimeLine {
            x,
            y0: from,
            y1: bottom,
            state: st,
        });
    }
    lines.retain(|l| l.y1 > l.y0);
    (lines, states)
}

fn folds(w: &Words, map: &Map) -> Vec<FoldMark> {
    map.folds
        .iter()
        .map(|f| FoldMark {
            y: f.y,
            text: if f.skipped > 0 {
                format!(
                    "{} segments {} {} {}",
                    f.skipped,
                    w.in_,
                    duration(f.gap),
                    w.not_shown
                )
            } else {
                format!("{} {}", duration(f.gap), w.folded)
            },
        })
        .collect()
}

/// The time scale: ticks at round times where the map is not folded, about five lines of
/// ticks' text apart; its line, cut at folds, dotted at breaks.
fn scale(look: &Look, map: &Map, t0: Ns, y0: f64) -> Scale {
    let y1 = map.bottom();
    let room = look.font.tick * 4.6;
    let steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];
    let step_ms = steps
        .iter()
        .copied()
        .find(|&s| s as f64 * MS * map.scale >= room)
        .unwrap_or(10_000);
    let step = step_ms as Ns * 1_000_000;
    let end = map.end();
    let mut ticks = Vec::new();
    let mut last_y = f64::MIN;
    let mut t = t0;
    while t <= end && ticks.len() < 5000 {
        let y = map.y(t);
        if map.folded(t).is_none() && y - last_y >= look.font.tick * 2.2 {
            ticks.push((y, format!("{} s", secs(t, t0))));
            last_y = y;
        }
        t += step;
        // Jump over folded pauses.
        if let Some(next) = map.folded(t) {
            t = t0 + (next - t0 + step - 1) / step * step;
        }
    }
    let mut cuts: Vec<(f64, f64)> = map.breaks.clone();
    cuts.extend(
        map.folds
            .iter()
            .map(|f| (f.y - look.fold_h / 2.0, f.y + look.fold_h / 2.0)),
    );
    cuts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut solid = Vec::new();
    let mut from = y0;
    for &(a, b) in &cuts {
        if a > from {
            solid.push((from, a));
        }
        from = from.max(b);
    }
    if y1 > from {
        solid.push((from, y1));
    }
    Scale {
        solid,
        breaks: map.breaks.clone(),
        ticks,
    }
}

/// Where the delay is: a segment held in its sender's netem, from the record (TCP sent it) to
/// the sender's capture (it left), as a band along the sender's line.
fn held(look: &Look, segs: &[&Segment], map: &Map) -> Vec<(f64, f64, f64)> {
    let w = 6.0 * look.stroke;
    segs.iter()
        .filter_map(|s| {
            let (true, Some(sent), Some(left)) = (s.from_record, s.departed, s.left) else {
                return None;
            };
            (left - sent > 2_000_000).then(|| {
                let x = if s.from == 0 {
                    look.xl + 2.0
                } else {
                    look.xr - 2.0 - w
                };
                let (y0, y1) = (map.y(sent), map.y_end(sent, left));
                (x, y0, y1 - y0)
            })
        })
        .collect()
}

/// Where the arrow of S goes: from its departure on the sender's line to its arrival on the
/// receiver's, or, when it never arrived, a stub that stops short.
pub fn ends(look: &Look, s: &Segment, map: &Map) -> Line {
    let (xa, xb) = if s.from == 0 {
        (look.xl, look.xr)
    } else {
        (look.xr, look.xl)
    };
    let ya = map.y(s.start());
    match s.end() {
        Some(t) => ((xa, ya), (xb, map.y_end(s.start(), t))),
        None => ((xa, ya), (xa + (xb - xa) * 0.62, ya)),
    }
}

fn arrows(
    look: &Look,
    w: &Words,
    (c, names): (&Connection, &[String; 2]),
    segs: &[&Segment],
    map: &Map,
    t0: Ns,
) -> Vec<ArrowMark> {
    let lines: Vec<Line> = segs.iter().map(|s| ends(look, s, map)).collect();
    let mut labels = Labels::new(lines.clone());
    segs.iter()
        .zip(lines)
        .enumerate()
        .map(|(k, (s, line))| {
            let ((xa, ya), end) = line;
            let reached = s.end().is_some();
            ArrowMark {
                i: k + 1,
                from: names[s.from].clone(),
                t: secs(s.start(), t0),
                kind: Kind::of(s),
                line,
                hollow: (reached && !s.both_ends()).then_some(if s.departed.is_some() {
                    end
                } else {
                    (xa, ya)
                }),
                cross: !reached,
                stamps: stamps(look, s, line, t0),
                label: label_mark(look, w, c, (k, s), line, &mut labels),
            }
        })
        .collect()
}

/// The times at both ends, just outside the lines.
fn stamps(look: &Look, s: &Segment, ((xa, ya), (x2, y2)): Line, t0: Ns) -> Vec<Stamp> {
    let mut at = vec![(xa, ya, s.start())];
    if let (Some(t), true) = (s.end(), s.both_ends()) {
        at.push((x2, y2, t));
    }
    at.into_iter()
        .filter_map(|(x, y, t)| {
            let (x, anchor) = if x <= look.xl + 1.0 {
                (look.xl - 8.0, Anchor::End)
            } else if x >= look.xr - 1.0 {
                (look.xr + 8.0, Anchor::Start)
            } else {
                return None;
            };
            Some(Stamp {
                x,
                y,
                anchor,
                text: secs(t, t0),
            })
        })
        .collect()
}

/// Stamps on one line closer than their letters: the same time written once, another time
/// moved down to clear the one above.
fn unstack_stamps(look: &Look, arrows: &mut [ArrowMark]) {
    let room = 1.1 * look.font.stamp;
    let mut seen: Vec<(f64, f64, String)> = Vec::new();
    for a in arrows.iter_mut() {
        a.stamps.retain_mut(|s| {
            let (sx, sy) = (s.x, s.y);
            let within =
                |d: f64| move |(x, y, _): &&(f64, f64, String)| *x == sx && (sy - y).abs() < d;
            if seen
                .iter()
                .filter(within(2.0 * room))
                .any(|(.., t)| *t == s.text)
            {
                return false;
            }
            let near = within(room);
            if let Some(y) = seen
                .iter()
                .filter(near)
                .map(|(_, y, _)| *y)
                .reduce(f64::max)
            {
                s.y = s.y.max(y + room);
            }
            seen.push((s.x, s.y, s.text.clone()));
            true
        });
    }
}

/// The label along the arrow: flags, seq and ack above, the data below, upright, clear of the
/// other arrows (see [`Labels`]).
fn label_mark(
    look: &Look,
    w: &Words,
    c: &Connection,
    (k, s): (usize, &Segment),
    ((xa, ya), (x2, y2)): Line,
    labels: &mut Labels,
) -> LabelMark {
    let size = look.font.label;
    let mut head = label(c, s);
    if s.retransmission {
        head.push_str(w.tag_retrans);
    }
    if s.dup_ack {
        head.push_str(w.tag_dup);
    }
    match s.fate {
        Fate::Lost => head.push_str(w.tag_lost),
        Fate::Dropped => head.push_str(w.tag_dropped),
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
    let bold =
        s.tcp.flags.has(Flags::SYN) || s.tcp.flags.has(Flags::FIN) || s.tcp.flags.has(Flags::RST);
    let reached = s.end().is_some();
    let room = if reached {
        ((x2 - xa).abs() / (size * CHAR_W)) as usize
    } else {
        90
    };
    let head = fit_chars(&head, room.max(8));
    let data = (s.tcp.len > 0).then(|| fit_chars(&shown_data(s), room.max(8)));
    let (at, anchor) = match (reached, s.from) {
        (true, _) => {
            let per = size * if bold { BOLD_W } else { CHAR_W };
            let width = (head.chars().count() as f64 * per).max(
                data.as_ref()
                    .map_or(0.0, |d| d.chars().count() as f64 * size * MONO_W),
            );
            let f = labels.place(k, width, size, data.is_some());
            ((xa + (x2 - xa) * f, ya + (y2 - ya) * f), Anchor::Middle)
        }
        // A segment that never arrived: its label starts at the sender, along the stub.
        (false, 0) => ((xa + 10.0, ya), Anchor::Start),
        (false, _) => ((xa - 10.0, ya), Anchor::End),
    };
    LabelMark {
        at,
        angle,
        anchor,
        head,
        bold,
        data,
    }
}

fn fit_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// The legend: what the drawing uses, and the notes (the time rule, the ends not captured,
/// where the departures come from). On the page, all under the ladder from BELOW; on a slide,
/// the items and the rule in a column on the right, where the departures come from at the
/// bottom, in one line.
#[allow(clippy::too_many_arguments)]
fn legend(
    ctx: &Ctx,
    look: &Look,
    c: &Connection,
    map: &Map,
    arrows: &[ArrowMark],
    held: bool,
    top: f64,
    below: f64,
) -> Legend {
    let w = words(ctx.lang);
    let mut kinds: Vec<Kind> = arrows.iter().map(|a| a.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut swatches: Vec<Swatch> = kinds.into_iter().map(Swatch::Arrow).collect();
    if held {
        swatches.push(Swatch::Held);
    }
    let size = look.font.legend;
    let (x, y) = if look.slide {
        (look.legend_x(), top + look.head)
    } else {
        (look.axis, below + size * 1.2)
    };
    let chars = |px: f64, size: f64| (px / (size * CHAR_W)) as usize;
    let (items, items_end) = legend_items(look, w, swatches, (x, y));
    let rule = rule(ctx, map, arrows.iter().any(|a| a.hollow.is_some()));
    let from = provenance(ctx, c);
    let lh = look.font.note * 1.45;
    let mut notes = Vec::new();
    let mut put = |x: f64, y0: f64, lines: Vec<String>| {
        for (k, l) in lines.into_iter().enumerate() {
            notes.push((x, y0 + k as f64 * lh, l));
        }
    };
    match look.height {
        Some(h) => {
            let rule: Vec<String> = rule
                .iter()
                .flat_map(|n| wrap(n, chars(look.width - 30.0 - x, look.font.note)))
                .collect();
            put(x, items_end + size * 2.2, rule);
            let from = wrap(&from, look.note_chars);
            let y0 = top + h - 30.0 - (from.len() as f64 - 1.0) * lh;
            put(look.axis - 90.0, y0, from);
        }
        None => {
            let lines: Vec<String> = rule
                .iter()
                .chain([&from])
                .flat_map(|n| wrap(n, look.note_chars))
                .collect();
            put(x, items_end + size * 2.4, lines);
        }
    }
    Legend {
        x,
        y,
        title: w.legend.to_string(),
        items,
        notes,
    }
}

/// The legend's items from (X, Y), in rows of the look's columns (an item too long for one
/// takes a row of its own); and the height of the last line.
fn legend_items(
    look: &Look,
    w: &Words,
    swatches: Vec<Swatch>,
    (x, y): (f64, f64),
) -> (Vec<Item>, f64) {
    let size = look.font.legend;
    let (row, line) = (size * 1.7, size * 1.25);
    let per = |px: f64| (px / (size * CHAR_W)) as usize;
    let col_chars = per(look.legend_col_w - 80.0);
    let full_chars = per(look.width - 40.0 - x - 74.0);
    let mut items = Vec::new();
    let (mut yy, mut col, mut lines) = (y + row, 0, 1);
    for swatch in swatches {
        let text = swatch_words(w, swatch);
        let wide = look.legend_cols > 1 && text.chars().count() > col_chars;
        if col > 0 && (col >= look.legend_cols || wide) {
            yy += row + (lines - 1) as f64 * line;
            (col, lines) = (0, 1);
        }
        let text = wrap(text, if wide { full_chars } else { col_chars });
        lines = lines.max(text.len());
        items.push(Item {
            x: x + col as f64 * look.legend_col_w,
            y: yy,
            swatch,
            text,
        });
        col = if wide { look.legend_cols } else { col + 1 };
    }
    (items, yy + (lines - 1) as f64 * line)
}

fn swatch_words(w: &Words, s: Swatch) -> &'static str {
    match s {
        Swatch::Arrow(Kind::Data) => w.data,
        Swatch::Arrow(Kind::Ack) => w.pure_ack,
        Swatch::Arrow(Kind::Ctrl) => w.syn_fin,
        Swatch::Arrow(Kind::Rst) => w.rst,
        Swatch::Arrow(Kind::Retrans) => w.retrans,
        Swatch::Arrow(Kind::Dup) => w.dup,
        Swatch::Arrow(Kind::Lost) => w.lost,
        Swatch::Held => w.held,
    }
}

/// The time rule as this drawing applies it; the ends not captured, if ONE_END.
fn rule(ctx: &Ctx, map: &Map, one_end: bool) -> Vec<String> {
    let w = words(ctx.lang);
    let mut rule = w.rule.to_string();
    if !map.breaks.is_empty() {
        rule.push_str(w.rule_breaks);
    }
    if !map.folds.is_empty() {
        rule = format!(
            "{rule}{} {} {}",
            w.rule_folds,
            duration(map.fold),
            w.rule_fold_band
        );
    }
    rule.push('.');
    let mut notes = vec![rule];
    if one_end {
        notes.push(w.one_end.to_string());
    }
    notes
}

/// One line: where each side's departures come from.
fn provenance(ctx: &Ctx, c: &Connection) -> String {
    let w = words(ctx.lang);
    let source = |side: usize| match c.provenance(side) {
        Provenance::NetemEntry => w.from_record,
        Provenance::Unknown => w.from_unknown,
        Provenance::AfterNetem => w.from_capture,
        Provenance::NotCaptured => w.not_captured,
    };
    let [a, b] = c.ends.map(|e| ctx.name(e));
    if c.provenance(0) == c.provenance(1) {
        let both = if c.provenance(0) == Provenance::AfterNetem {
            w.from_captures
        } else {
            source(0)
        };
        format!("{} — {a} {} {b}{} {both}.", w.departures, w.and, w.colon)
    } else {
        format!(
            "{} — {a}{} {}{} {b}{} {}.",
            w.departures,
            w.colon,
            source(0),
            w.semicolon,
            w.colon,
            source(1)
        )
    }
}

/// The height the notes take at the bottom of a slide: where the departures come from.
fn notes_height(look: &Look, ctx: &Ctx, c: &Connection) -> f64 {
    let lines = wrap(&provenance(ctx, c), look.note_chars).len();
    lines as f64 * look.font.note * 1.45 + 30.0
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
