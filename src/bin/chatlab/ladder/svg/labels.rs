//! Where each arrow's label goes along it, clear of the other arrows and labels.

use std::collections::{HashMap, HashSet};

/// A straight line from one point to another, in px.
pub type Line = ((f64, f64), (f64, f64));

/// Where along each arrow its label goes, so that no other arrow runs through it (under a
/// delay, a slanted arrow crosses the flat ones sent meanwhile: at a fixed place, a label would
/// sit across one of them) nor any label placed before it.
pub struct Labels {
    /// What a label must keep clear of: every arrow of the ladder, in order (line K is arrow
    /// K), then the edges of each label placed; each with the arrow it belongs to (None for a
    /// label's edge).
    lines: Vec<(Line, Option<usize>)>,
    /// Which lines have a point in each band of LABEL_BAND px of height.
    bands: HashMap<i64, Vec<usize>>,
}

/// The height of the bands that [`Labels`] files its lines by.
const LABEL_BAND: f64 = 40.0;

/// Where a label may go along its arrow (fractions from the sender), best first: nearer the
/// sender than the middle (arrows that leave apart may arrive together).
const LABEL_AT: [f64; 13] = [
    0.4, 0.3, 0.5, 0.35, 0.45, 0.25, 0.55, 0.2, 0.6, 0.65, 0.7, 0.75, 0.8,
];

impl Labels {
    pub fn new(arrows: Vec<Line>) -> Labels {
        let mut labels = Labels {
            lines: Vec::new(),
            bands: HashMap::new(),
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

    /// The fraction of arrow K's length where its label's middle goes: WIDTH px of text in
    /// letters of SIZE px, from 1.5 SIZE above the arrow to a quarter below it, or 1.5 SIZE
    /// below with DATA under it. The label is then kept clear of by the labels placed after it.
    pub fn place(&mut self, k: usize, width: f64, size: f64, data: bool) -> f64 {
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
        let (top, bottom) = (-1.46 * size, size * if data { 1.46 } else { 0.23 });
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
        let mut seen = HashSet::new();
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
