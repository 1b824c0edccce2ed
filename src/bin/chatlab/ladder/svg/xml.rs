//! Writing the laid-out ladders as SVG: the last step, nothing computed here but strings.
//!
//! The marks the view's page and the tests read: `g.ladder[data-conn]`, per segment
//! `g.segment[data-i][data-from][data-t]` holding `line.seg`, `text.label`, `text.data`;
//! `text.state[data-side][data-seg]`, `text.host[data-side]`, `text.fold`, `rect.held`,
//! `g.legend`.

use std::fmt::Write;

use super::layout::{ArrowMark, Ladder, Legend, Scale, Swatch};
use super::style::{HELD, Kind, Look, MONO, MUTED, SANS, state_pen};
use crate::ladder::escape;

/// The document of LADDERS, WIDTH × HEIGHT.
pub fn document(out: &mut String, look: &Look, ladders: &[Ladder], (width, height): (f64, f64)) {
    let _ = writeln!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{SANS}">
<title>TCP ladder</title>
<defs>"#
    );
    for kind in Kind::ALL {
        let pen = kind.pen();
        if !pen.marker.is_empty() {
            let _ = writeln!(
                out,
                r#"<marker id="{}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{}"/></marker>"#,
                pen.marker, pen.color
            );
        }
    }
    let _ = writeln!(out, "</defs>");
    let _ = writeln!(out, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for l in ladders {
        let _ = writeln!(out, r#"<g class="ladder" data-conn="{}">"#, l.conn);
        ladder(out, look, l);
        out.push_str("</g>\n");
    }
    out.push_str("</svg>\n");
}

fn ladder(o: &mut String, look: &Look, l: &Ladder) {
    header(o, look, l);
    time_lines(o, look, l);
    folds(o, look, l);
    scale(o, look, &l.scale);
    for &(x, y, h) in &l.held {
        let _ = writeln!(
            o,
            r##"<rect class="held" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{HELD}" opacity="0.55"/>"##,
            6.0 * look.stroke
        );
    }
    for a in &l.arrows {
        arrow(o, look, a);
    }
    if let Some((y, text)) = &l.cut {
        let _ = writeln!(
            o,
            r##"<text x="{}" y="{y:.1}" font-size="{}" fill="#c0392b">{}</text>"##,
            look.axis,
            look.font.legend,
            esc(text)
        );
    }
    o.push_str("<g class=\"legend\">\n");
    legend(o, look, &l.legend);
    o.push_str("</g>\n");
}

fn header(o: &mut String, look: &Look, l: &Ladder) {
    let f = &look.font;
    let x = if look.slide {
        look.axis - 90.0
    } else {
        look.axis
    };
    let _ = writeln!(
        o,
        r#"<text x="{x}" y="{:.1}" font-size="{}" font-weight="bold">{}</text>"#,
        l.top + f.title * 1.3,
        f.title,
        esc(&l.title)
    );
    if !l.sub.is_empty() {
        let _ = writeln!(
            o,
            r#"<text x="{x}" y="{:.1}" font-size="{}" fill="{MUTED}">{}</text>"#,
            l.top + f.title * 1.3 + f.sub * 1.4,
            f.sub,
            esc(&l.sub)
        );
    }
    let y = l.top + look.head - f.state * 1.1 - f.state * 1.6 - f.addr * 1.2;
    for (side, h) in l.hosts.iter().enumerate() {
        let _ = writeln!(
            o,
            r#"<text class="host" data-side="{side}" x="{}" y="{y:.1}" font-size="{}" font-weight="bold" text-anchor="middle">{}</text>"#,
            h.x,
            f.host,
            esc(&h.name)
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{:.1}" font-size="{}" fill="{MUTED}" text-anchor="middle">{}</text>"#,
            h.x,
            y + f.addr * 1.4,
            f.addr,
            esc(&h.addr)
        );
    }
}

fn time_lines(o: &mut String, look: &Look, l: &Ladder) {
    for t in &l.lines {
        let (color, w, dash) = state_pen(t.state);
        let _ = writeln!(
            o,
            r#"<line class="timeline" x1="{}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="{color}" stroke-width="{}" stroke-dasharray="{dash}"/>"#,
            t.x,
            t.y0,
            t.x,
            t.y1,
            w * look.stroke
        );
    }
    for s in &l.states {
        let (color, ..) = state_pen(s.state);
        let seg = s
            .seg
            .map_or(String::new(), |k| format!(r#" data-seg="{k}""#));
        let _ = writeln!(
            o,
            r#"<text class="state" data-side="{}"{seg} x="{}" y="{:.1}" font-size="{}" font-weight="bold" fill="{color}" text-anchor="{}" dominant-baseline="middle">{}</text>"#,
            s.side,
            s.x,
            s.y,
            look.font.state,
            s.anchor.svg(),
            s.state.name()
        );
    }
}

/// Folds: a grey band across, a zigzag on both lines, the length of the pause.
fn folds(o: &mut String, look: &Look, l: &Ladder) {
    for f in &l.folds {
        let h = look.fold_band;
        let right = if look.slide {
            look.legend_x() - 30.0
        } else {
            look.width - 20.0
        };
        let _ = writeln!(
            o,
            r##"<rect x="{}" y="{:.1}" width="{}" height="{h}" fill="#eeeeee"/>"##,
            look.axis - 20.0,
            f.y - h / 2.0,
            right - look.axis + 20.0
        );
        for x in [look.xl, look.xr] {
            let _ = writeln!(
                o,
                r##"<path d="M{:.1},{:.1} l10,-5 l-20,10 l10,-5" stroke="#444" stroke-width="2" fill="none"/>"##,
                x, f.y
            );
        }
        let _ = writeln!(
            o,
            r##"<text class="fold" x="{}" y="{:.1}" font-size="{}" font-style="italic" fill="#333" text-anchor="middle" dominant-baseline="middle">… {} …</text>"##,
            (look.xl + look.xr) / 2.0,
            f.y,
            look.font.fold,
            esc(&f.text)
        );
    }
}

/// The scale: solid where drawn to scale, dotted across a break, ticks with their time.
fn scale(o: &mut String, look: &Look, s: &Scale) {
    let x = look.axis;
    for &(y0, y1) in &s.solid {
        let _ = writeln!(
            o,
            r##"<line class="scale" x1="{x}" y1="{y0:.1}" x2="{x}" y2="{y1:.1}" stroke="#888" stroke-width="1.5"/>"##
        );
    }
    for &(y0, y1) in &s.breaks {
        let _ = writeln!(
            o,
            r##"<path class="break" d="{}" stroke="#555" stroke-width="1.5" fill="none"/>"##,
            zigzag(x, y0, y1, look.stroke)
        );
    }
    for (y, t) in &s.ticks {
        let _ = writeln!(
            o,
            r##"<line x1="{}" y1="{y:.1}" x2="{x}" y2="{y:.1}" stroke="#888"/><text x="{}" y="{y:.1}" font-size="{}" fill="{MUTED}" text-anchor="end" dominant-baseline="middle">{t}</text>"##,
            x - 6.0,
            x - 9.0,
            look.font.tick
        );
    }
}

/// A zigzag down the scale from Y0 to Y1: the scale is broken there.
pub fn zigzag(x: f64, y0: f64, y1: f64, k: f64) -> String {
    let (step, amp) = (4.0 * k, 4.0 * k);
    let n = (((y1 - y0) / step).floor() as usize).max(2);
    let step = (y1 - y0) / n as f64;
    let mut d = format!("M{x:.1},{y0:.1}");
    for i in 1..=n {
        // Out to the right and back: the ticks' times are on the left.
        let dx = if i % 2 == 1 { amp } else { 0.0 };
        let _ = write!(d, " L{:.1},{:.1}", x + dx, y0 + step * i as f64);
    }
    d
}

fn arrow(o: &mut String, look: &Look, a: &ArrowMark) {
    let _ = writeln!(
        o,
        r#"<g class="segment" data-i="{}" data-from="{}" data-t="{}">"#,
        a.i,
        esc(&a.from),
        a.t
    );
    let pen = a.kind.pen();
    let ((xa, ya), (x2, y2)) = a.line;
    let _ = writeln!(
        o,
        r#"<line class="seg" x1="{xa}" y1="{ya:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}" stroke-width="{}"{}/>"#,
        pen.color,
        pen.width * look.stroke,
        dash_marker(a.kind)
    );
    if let Some((x, y)) = a.hollow {
        let _ = writeln!(
            o,
            r##"<circle cx="{x}" cy="{y:.1}" r="{}" fill="white" stroke="#555" stroke-width="1.5"/>"##,
            4.5 * look.stroke
        );
    }
    if a.cross {
        let r = 6.0 * look.stroke;
        let _ = writeln!(
            o,
            r#"<path d="M{:.1},{:.1} l{},{} m0,-{} l-{},{}" stroke="{}" stroke-width="3"/>"#,
            x2 - r,
            y2 - r,
            2.0 * r,
            2.0 * r,
            2.0 * r,
            2.0 * r,
            2.0 * r,
            pen.color
        );
    }
    for s in &a.stamps {
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{:.1}" font-size="{}" fill="{MUTED}" text-anchor="{}" dominant-baseline="middle">{}</text>"#,
            s.x,
            s.y,
            look.font.stamp,
            s.anchor.svg(),
            s.text
        );
    }
    let l = &a.label;
    let size = look.font.label;
    let weight = if l.bold { r#" font-weight="bold""# } else { "" };
    let _ = writeln!(
        o,
        r#"<g transform="translate({:.1},{:.1}) rotate({:.2})"><text class="label" y="{:.1}" font-size="{size}" fill="{}" text-anchor="{}" stroke="white" stroke-width="3" paint-order="stroke"{weight}>{}</text>"#,
        l.at.0,
        l.at.1,
        l.angle,
        -0.4 * size,
        pen.color,
        l.anchor.svg(),
        esc(&l.head)
    );
    if let Some(data) = &l.data {
        let _ = writeln!(
            o,
            r##"<text class="data" y="{:.1}" font-size="{size}" font-family="{MONO}" fill="#000" text-anchor="{}" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"##,
            1.08 * size,
            l.anchor.svg(),
            esc(data)
        );
    }
    o.push_str("</g>\n</g>\n");
}

fn dash_marker(kind: Kind) -> String {
    let pen = kind.pen();
    let mut s = String::new();
    if !pen.dash.is_empty() {
        let _ = write!(s, r#" stroke-dasharray="{}""#, pen.dash);
    }
    if !pen.marker.is_empty() {
        let _ = write!(s, r#" marker-end="url(#{})""#, pen.marker);
    }
    s
}

fn legend(o: &mut String, look: &Look, l: &Legend) {
    let size = look.font.legend;
    let _ = writeln!(
        o,
        r#"<text x="{}" y="{:.1}" font-size="{}" font-weight="bold">{}</text>"#,
        l.x,
        l.y,
        size * 1.15,
        esc(&l.title)
    );
    for item in &l.items {
        let (x, y) = (item.x, item.y);
        match item.swatch {
            Swatch::Arrow(kind) => {
                let pen = kind.pen();
                let _ = writeln!(
                    o,
                    r#"<line x1="{x}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}" stroke-width="{}"{}/>"#,
                    x + 60.0,
                    pen.color,
                    pen.width * look.stroke,
                    dash_marker(kind)
                );
            }
            Swatch::Held => {
                let _ = writeln!(
                    o,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{HELD}" opacity="0.55"/>"#,
                    x + 27.0,
                    y - 0.75 * size,
                    6.0 * look.stroke,
                    1.5 * size
                );
            }
        }
        for (k, line) in item.text.iter().enumerate() {
            let _ = writeln!(
                o,
                r#"<text x="{}" y="{:.1}" font-size="{size}" dominant-baseline="middle">{}</text>"#,
                x + 74.0,
                y + k as f64 * size * 1.25,
                esc(line)
            );
        }
    }
    for (x, y, line) in &l.notes {
        let _ = writeln!(
            o,
            r##"<text x="{x}" y="{y:.1}" font-size="{}" fill="#222">{}</text>"##,
            look.font.note,
            esc(line)
        );
    }
}

fn esc(s: &str) -> String {
    escape(
        s,
        &[
            ('&', "&amp;"),
            ('<', "&lt;"),
            ('>', "&gt;"),
            ('"', "&quot;"),
            ('\'', "&#39;"),
        ],
    )
}
