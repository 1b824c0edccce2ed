//! Time to height: one scale for the whole connection, and two exceptions, each drawn.
//!
//! Between events the height is proportional to time: the base scale is set so that the
//! longest one-way delay is about [`Look::delay_px`] (at most [`Look::max_px_ms`]). Where two
//! departures would be closer than their labels need, or a departure would leave from where
//! an arrowhead lands on the same time line, height is added at the later departure's instant:
//! a *break*, during which no time passes, drawn as a zigzag on the scale. A pause
//! longer than the fold threshold (or taller than [`Look::blank`], if longer than three one-way
//! delays) becomes a fixed band marked with its length: a *fold*.
//!
//! Arrivals go through the same map, so an arrow's slant is its one-way delay at the scale:
//! never invented, and zero when both ends saw the segment at once.

use super::style::Look;
use crate::capture::model::{Elided, Segment};
use crate::capture::pcap::Ns;

pub const MS: f64 = 1e6;

/// A folded pause.
#[derive(Clone, Copy, Debug)]
pub struct Fold {
    /// The height of the band's middle.
    pub y: f64,
    /// The length of the pause.
    pub gap: Ns,
    /// Segments left out there (see [`Elided`]).
    pub skipped: usize,
}

/// The time → height map of one ladder.
pub struct Map {
    /// (time, height), in order of both; two knots at one time are a break between them.
    knots: Vec<(Ns, f64)>,
    pub folds: Vec<Fold>,
    /// Heights added where arrows would overlap, (from, to): no time passes there.
    pub breaks: Vec<(f64, f64)>,
    /// px per ns.
    pub scale: f64,
    /// Pauses longer than this are folded (the threshold given, lowered by [`Look::blank`]).
    pub fold: Ns,
    fold_h: f64,
}

impl Map {
    /// The map of SEGS from height TOP, at ZOOM times LOOK's base scale. ELIDED: segments left
    /// out before a time, whose gap is always a band that says so.
    pub fn new(
        segs: &[&Segment],
        top: f64,
        fold: Ns,
        elided: Option<Elided>,
        look: &Look,
        zoom: f64,
    ) -> Map {
        let delay = segs
            .iter()
            .filter_map(|s| Some(s.arrived? - s.departed?))
            .max()
            .unwrap_or(0)
            .max(0);
        let base = (look.delay_px / (delay as f64).max(1.0)).min(look.max_px_ms / MS);
        let mut map = Map {
            knots: Vec::new(),
            folds: Vec::new(),
            breaks: Vec::new(),
            scale: base * zoom,
            fold: fold.min((look.blank / base) as Ns).max(3 * delay),
            fold_h: look.fold_h,
        };
        let mut starts: Vec<(Ns, bool, usize)> = segs
            .iter()
            .map(|s| (s.start(), s.tcp.len > 0, s.from))
            .collect();
        starts.sort_unstable();
        let mut y = top;
        let mut prev: Option<(Ns, bool)> = None;
        for &(t, data, side) in &starts {
            let Some((p, pdata)) = prev else {
                map.knots.push((t, y));
                prev = Some((t, data));
                continue;
            };
            if t == p {
                continue;
            }
            let skipped = elided
                .filter(|e| p < e.until && e.until <= t)
                .map_or(0, |e| e.count);
            if t - p > map.fold || skipped > 0 {
                y = map.fold_at(p, t, y, delay, skipped);
            } else {
                let at_scale = y + (t - p) as f64 * map.scale;
                let gap = if pdata || data {
                    look.gap_data
                } else {
                    look.gap
                };
                // An arrowhead landing on this side since the last departure: leave below it.
                let head = segs
                    .iter()
                    .filter(|s| s.from != side)
                    .filter_map(|s| Some((s.start(), s.end()?)))
                    .filter(|&(_, end)| p < end && end <= t)
                    .map(|(start, end)| map.y_end(start, end) + look.head_gap)
                    .fold(f64::MIN, f64::max);
                let need = (y + gap).max(head);
                if need > at_scale + 0.5 {
                    map.knots.push((t, at_scale));
                    map.breaks.push((at_scale, need));
                    y = need;
                } else {
                    y = at_scale;
                }
                map.knots.push((t, y));
            }
            prev = Some((t, data));
        }
        let last = map.knots.last().copied().unwrap_or((0, top));
        let end = segs
            .iter()
            .filter_map(|s| s.end())
            .max()
            .unwrap_or(last.0)
            .max(last.0);
        map.knots
            .push((end + 1, last.1 + (end - last.0) as f64 * map.scale + 1.0));
        map
    }

    /// Fold the pause from P to T (height Y at P): a delay's worth in proportion (an arrow in
    /// flight is not cut), then the band. Returns the height at T.
    fn fold_at(&mut self, p: Ns, t: Ns, mut y: f64, delay: Ns, skipped: usize) -> f64 {
        let keep = delay.min(t - p);
        y += keep as f64 * self.scale;
        self.knots.push((p + keep, y));
        self.folds.push(Fold {
            y: y + self.fold_h / 2.0,
            gap: t - p,
            skipped,
        });
        y += self.fold_h;
        self.knots.push((t, y));
        y
    }

    pub fn y(&self, t: Ns) -> f64 {
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

    /// Where a segment sent at START and seen arriving at END ends: its delay at the scale,
    /// but never above a departure that came before it (the picture keeps the order of
    /// events). A break added in a burst thus never stretches a tiny delay into a slant.
    pub fn y_end(&self, start: Ns, end: Ns) -> f64 {
        let end = end.max(start);
        // The last knot before END or, at END, the first (above a break made at that instant).
        let i = self.knots.partition_point(|&(k, _)| k < end);
        let floor = match self.knots.get(i) {
            Some(&(k, y)) if k == end => y,
            _ => self.knots[i.saturating_sub(1)].1,
        };
        let own = self.y(start) + (end - start) as f64 * self.scale;
        own.max(floor).min(self.y(end))
    }

    pub fn bottom(&self) -> f64 {
        self.knots.last().map_or(0.0, |k| k.1)
    }

    /// The last instant drawn.
    pub fn end(&self) -> Ns {
        self.knots.last().map_or(0, |k| k.0)
    }

    /// Is T inside a folded pause (no time scale there)? The time after it, if so.
    pub fn folded(&self, t: Ns) -> Option<Ns> {
        let i = self.knots.partition_point(|&(k, _)| k <= t);
        if i == 0 || i == self.knots.len() {
            return None;
        }
        let (t0, y0) = self.knots[i - 1];
        let (t1, y1) = self.knots[i];
        ((y1 - y0 - self.fold_h).abs() < 0.01
            && t1 - t0 > 0
            && self.folds.iter().any(|f| f.y > y0 && f.y < y1))
        .then_some(t1)
    }
}
