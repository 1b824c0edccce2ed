//! Sizes and colours: one set for the page (a document read up close and scrolled, in a
//! browser or the live view) and one for a slide (16:9, read from the back of a room).

use crate::capture::model::{Fate, Segment, State};
use crate::capture::pcap::Flags;

pub const SANS: &str = "DejaVu Sans, Arial, Helvetica, sans-serif";
pub const MONO: &str = "DejaVu Sans Mono, Menlo, Consolas, monospace";

/// The band of time a segment spends in its sender's netem.
pub const HELD: &str = "#f0a30a";
/// Secondary text (addresses, time stamps, the scale): dark enough to read on a projector.
pub const MUTED: &str = "#555555";

/// The sizes of one kind of picture, in px of its viewBox.
pub struct Look {
    pub slide: bool,
    pub width: f64,
    /// A slide's height (16:9): the ladder is scaled to fit it.
    pub height: Option<f64>,
    /// The time scale's line, the client's and the server's time lines.
    pub axis: f64,
    pub xl: f64,
    pub xr: f64,
    /// From a ladder's top to its first instant.
    pub head: f64,
    /// Below the last instant, before the legend.
    pub tail: f64,
    /// A folded pause: the height it takes, and its grey band's (the rest is room for labels).
    pub fold_h: f64,
    pub fold_band: f64,
    /// Least height between two departures (the label above the arrow; more with data under it).
    pub gap: f64,
    pub gap_data: f64,
    /// Least height between an arrowhead and a departure from the same time line.
    pub head_gap: f64,
    /// The tallest pause drawn in proportion (see [`super::map::Map`]).
    pub blank: f64,
    /// Height of the longest one-way delay, and the most px per ms.
    pub delay_px: f64,
    pub max_px_ms: f64,
    /// Arrows' width, relative to the page's.
    pub stroke: f64,
    /// From a time line to the states written beside it.
    pub state_dx: f64,
    pub font: Fonts,
    /// Characters per line of a note.
    pub note_chars: usize,
    /// The legend's items: how many per row, how wide each.
    pub legend_cols: usize,
    pub legend_col_w: f64,
}

/// Font sizes, px.
pub struct Fonts {
    pub title: f64,
    pub sub: f64,
    pub host: f64,
    pub addr: f64,
    pub state: f64,
    pub label: f64,
    pub stamp: f64,
    pub tick: f64,
    pub fold: f64,
    pub legend: f64,
    pub note: f64,
}

/// Width of a character, per px of font size: sans, bold sans, mono (DejaVu, measured).
pub const CHAR_W: f64 = 0.56;
pub const BOLD_W: f64 = 0.63;
pub const MONO_W: f64 = 0.61;

pub const PAGE: Look = Look {
    slide: false,
    width: 1100.0,
    height: None,
    axis: 80.0,
    xl: 310.0,
    xr: 870.0,
    head: 120.0,
    tail: 30.0,
    fold_h: 64.0,
    fold_band: 20.0,
    gap: 24.0,
    gap_data: 36.0,
    head_gap: 14.0,
    blank: 240.0,
    delay_px: 140.0,
    max_px_ms: 1.2,
    stroke: 1.0,
    state_dx: 64.0,
    font: Fonts {
        title: 20.0,
        sub: 14.0,
        host: 24.0,
        addr: 13.0,
        state: 13.0,
        label: 13.0,
        stamp: 12.0,
        tick: 12.0,
        fold: 14.0,
        legend: 13.0,
        note: 13.0,
    },
    note_chars: 140,
    legend_cols: 3,
    legend_col_w: 330.0,
};

pub const SLIDE: Look = Look {
    slide: true,
    width: 1920.0,
    height: Some(1080.0),
    axis: 150.0,
    xl: 470.0,
    xr: 1230.0,
    head: 190.0,
    tail: 24.0,
    fold_h: 96.0,
    fold_band: 30.0,
    gap: 36.0,
    gap_data: 56.0,
    head_gap: 21.0,
    blank: 360.0,
    delay_px: 200.0,
    max_px_ms: 1.8,
    stroke: 1.5,
    state_dx: 82.0,
    font: Fonts {
        title: 32.0,
        sub: 22.0,
        host: 36.0,
        addr: 20.0,
        state: 22.0,
        label: 20.0,
        stamp: 18.0,
        tick: 18.0,
        fold: 20.0,
        legend: 20.0,
        note: 19.0,
    },
    note_chars: 172,
    legend_cols: 1,
    legend_col_w: 420.0,
};

impl Look {
    /// Where the slide's legend column starts (right of the server's states).
    pub fn legend_x(&self) -> f64 {
        if self.slide {
            self.xr + self.state_dx + 190.0
        } else {
            self.axis
        }
    }
}

/// What kind of arrow a segment is drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Data,
    Ack,
    Ctrl,
    Rst,
    Retrans,
    Dup,
    Lost,
}

/// How a kind of arrow is drawn: colour, dash pattern, width on the page, marker id.
pub struct Pen {
    pub color: &'static str,
    pub dash: &'static str,
    pub width: f64,
    pub marker: &'static str,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Data,
        Kind::Ack,
        Kind::Ctrl,
        Kind::Rst,
        Kind::Retrans,
        Kind::Dup,
        Kind::Lost,
    ];

    pub fn of(s: &Segment) -> Kind {
        if matches!(s.fate, Fate::Lost | Fate::Dropped) {
            Kind::Lost
        } else if s.tcp.flags.has(Flags::RST) {
            Kind::Rst
        } else if s.retransmission {
            Kind::Retrans
        } else if s.dup_ack {
            Kind::Dup
        } else if s.tcp.flags.has(Flags::SYN) || s.tcp.flags.has(Flags::FIN) {
            Kind::Ctrl
        } else if s.tcp.len > 0 {
            Kind::Data
        } else {
            Kind::Ack
        }
    }

    pub fn pen(self) -> Pen {
        let (color, dash, width, marker) = match self {
            Kind::Data => ("#1f4e9c", "", 2.2, "h-data"),
            Kind::Ack => ("#5e5e5e", "", 1.4, "h-ack"),
            Kind::Ctrl => ("#111111", "", 2.2, "h-ctrl"),
            Kind::Rst => ("#c0392b", "", 2.2, "h-rst"),
            Kind::Retrans => ("#d35400", "8 4", 2.2, "h-re"),
            Kind::Dup => ("#8e44ad", "2 3", 1.6, "h-dup"),
            Kind::Lost => ("#c0392b", "", 2.2, ""),
        };
        Pen {
            color,
            dash,
            width,
            marker,
        }
    }
}

/// A time line's colour, width and dash pattern in STATE.
pub fn state_pen(s: State) -> (&'static str, f64, &'static str) {
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
