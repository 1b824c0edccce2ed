//! ladderkit: the ladder that `chatlab ladder` (and `lab/ladder`) draws, read back for the
//! tests: its SVG as a structure (each connection's segments in order, with sender, label and
//! data; each side's states in order), and its text (each arrow with the times at its two
//! ends, the states written under the arrows, the folded pauses).
//!
//! The SVG marks what it draws for this: `<g class="ladder" data-conn="N">` per connection,
//! `<g class="segment" data-i="K" data-from="client|server" data-t="…">` per segment holding
//! `line.seg`, `text.label` and `text.data`, `<text class="state" data-side="0|1">`, and
//! `<g class="legend">`.
//!
//! And the other way round, small captures written by the tests (`pcap`, `pcapng`, `ipv4`,
//! `tcp`): raw IPv4 between the lab's client (10.80.80.11:40000) and server (10.80.80.10), or
//! between any two addresses (`ipv4_at`, `tcp_at`).

#![allow(dead_code)] // each test binary uses a part of the kit

mod pcapng;

/// The TCP states a ladder writes.
pub const STATES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RCVD",
    "ESTABLISHED",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "CLOSING",
    "TIME_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
];

// --- The SVG -------------------------------------------------------------------------------

/// One connection's ladder in the SVG.
#[derive(Debug, Clone)]
pub struct Ladder {
    pub conn: usize,
    pub segments: Vec<Arrow>,
    /// The states written on each time line ([client's, server's]), top to bottom, with the
    /// height where each is written.
    pub states: [Vec<(String, f64)>; 2],
    pub legend: bool,
    /// How many bands show a segment held in its sender's netem (from the netem record).
    pub held: usize,
}

/// One segment's arrow.
#[derive(Debug, Clone)]
pub struct Arrow {
    pub i: usize,
    /// `client` or `server`.
    pub from: String,
    /// Its departure, in seconds from the connection's first segment.
    pub t: f64,
    /// Flags, seq and ack: `PSH,ACK seq 1:9 ack 1`.
    pub label: String,
    /// The data as drawn, in quotes: `"bonjour\n"`.
    pub data: Option<String>,
    /// Where the arrow starts and ends, in px.
    pub start: (f64, f64),
    pub end: (f64, f64),
}

impl Arrow {
    /// How far down the arrow goes from its start to its end, in px: its one-way delay.
    pub fn slant(&self) -> f64 {
        self.end.1 - self.start.1
    }
}

impl Ladder {
    /// Each side's states, in order, without their heights.
    pub fn names(&self, side: usize) -> Vec<&str> {
        self.states[side].iter().map(|(s, _)| s.as_str()).collect()
    }

    /// The structure a reference ladder must keep: one line per segment (number, sender,
    /// label, data, slanted or flat, whether it reaches the other time line), then each
    /// side's states in order, then the legend. Heights and pixels are left out, except
    /// whether an arrow slants by more than 20 px (a one-way delay drawn).
    pub fn structure(&self) -> Vec<String> {
        let xs: Vec<f64> = self
            .segments
            .iter()
            .flat_map(|a| [a.start.0, a.end.0])
            .collect();
        let (left, right) = xs
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, r), &x| (l.min(x), r.max(x)));
        let mut out = vec![format!("connection {}", self.conn)];
        for a in &self.segments {
            let reaches = (a.end.0 - left).abs() < 1.0 || (a.end.0 - right).abs() < 1.0;
            out.push(format!(
                "segment {} from {}: {} | {} | {} | {}",
                a.i,
                a.from,
                a.label,
                a.data.as_deref().unwrap_or("-"),
                if a.slant() > 20.0 { "slanted" } else { "flat" },
                if reaches { "arrives" } else { "never arrives" },
            ));
        }
        for (side, who) in ["client", "server"].iter().enumerate() {
            out.push(format!("{who} states: {}", self.names(side).join(" ")));
        }
        out.push(format!("legend: {}", self.legend));
        out
    }
}

/// The ladders of an SVG written by `chatlab ladder --svg`, or why it cannot be read.
pub fn read_svg(text: &str) -> Result<Vec<Ladder>, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("not well-formed XML: {e}"))?;
    let class = |n: &roxmltree::Node, k: &str| {
        n.attribute("class")
            .is_some_and(|c| c.split_whitespace().any(|w| w == k))
    };
    let attr = |n: &roxmltree::Node, k: &str| -> Result<String, String> {
        n.attribute(k)
            .map(str::to_string)
            .ok_or_else(|| format!("<{}> without {k}", n.tag_name().name()))
    };
    let num = |n: &roxmltree::Node, k: &str| -> Result<f64, String> {
        let v = attr(n, k)?;
        v.parse()
            .map_err(|_| format!("<{}> {k}={v:?} is not a number", n.tag_name().name()))
    };
    let text_of = |n: roxmltree::Node| -> String {
        n.descendants()
            .filter(|d| d.is_text())
            .filter_map(|d| d.text())
            .collect()
    };
    let mut ladders = Vec::new();
    for g in doc.descendants().filter(|n| class(n, "ladder")) {
        let conn = attr(&g, "data-conn")?
            .parse()
            .map_err(|_| "data-conn is not a number".to_string())?;
        let mut segments = Vec::new();
        for s in g.descendants().filter(|n| class(n, "segment")) {
            let line = s
                .descendants()
                .find(|n| class(n, "seg"))
                .ok_or("a segment without its line.seg")?;
            let label = s
                .descendants()
                .find(|n| class(n, "label"))
                .ok_or("a segment without its text.label")?;
            segments.push(Arrow {
                i: attr(&s, "data-i")?
                    .parse()
                    .map_err(|_| "data-i is not a number".to_string())?,
                from: attr(&s, "data-from")?,
                t: num(&s, "data-t")?,
                label: text_of(label),
                data: s.descendants().find(|n| class(n, "data")).map(text_of),
                start: (num(&line, "x1")?, num(&line, "y1")?),
                end: (num(&line, "x2")?, num(&line, "y2")?),
            });
        }
        let mut states: [Vec<(String, f64)>; 2] = [Vec::new(), Vec::new()];
        for st in g.descendants().filter(|n| class(n, "state")) {
            let side: usize = match attr(&st, "data-side")?.as_str() {
                "0" => 0,
                "1" => 1,
                other => return Err(format!("a state with data-side={other:?}")),
            };
            states[side].push((text_of(st), num(&st, "y")?));
        }
        ladders.push(Ladder {
            conn,
            segments,
            states,
            legend: g.descendants().any(|n| class(&n, "legend")),
            held: g.descendants().filter(|n| class(n, "held")).count(),
        });
    }
    if ladders.is_empty() {
        return Err("no <g class=\"ladder\">".into());
    }
    Ok(ladders)
}

/// The structure of every ladder of an SVG, one line per item (see [`Ladder::structure`]).
pub fn structure(ladders: &[Ladder]) -> Vec<String> {
    ladders.iter().flat_map(Ladder::structure).collect()
}

/// Two structures side by side where they differ, for a failure message.
pub fn differences(want: &[String], got: &[String]) -> String {
    let mut out = String::new();
    for k in 0..want.len().max(got.len()) {
        let (w, g) = (want.get(k), got.get(k));
        if w != g {
            out.push_str(&format!(
                "  line {}:\n    want {}\n    got  {}\n",
                k + 1,
                w.map_or("(nothing)", String::as_str),
                g.map_or("(nothing)", String::as_str)
            ));
        }
    }
    out
}

// --- The text ------------------------------------------------------------------------------

/// One arrow of the text ladder.
#[derive(Debug, Clone)]
pub struct TextArrow {
    /// From the client (left) to the server (right)?
    pub from_client: bool,
    /// The times written left and right (the client's end, the server's end); None for `?`
    /// (that end was not captured) or nothing (it never arrived).
    pub left: Option<f64>,
    pub right: Option<f64>,
    pub line: String,
}

impl TextArrow {
    pub fn departure(&self) -> Option<f64> {
        if self.from_client {
            self.left
        } else {
            self.right
        }
    }

    pub fn arrival(&self) -> Option<f64> {
        if self.from_client {
            self.right
        } else {
            self.left
        }
    }

    /// The flags as the ladder writes them: `SYN`, `SYN,ACK`, `FIN,PSH,ACK`…
    pub fn flags(&self) -> &str {
        let from = self.line.find("── ").map_or(0, |i| i + "── ".len());
        self.line[from..].split_whitespace().next().unwrap_or("")
    }

    pub fn has(&self, flag: &str) -> bool {
        self.flags().split(',').any(|f| f == flag)
    }

    /// The number after WORD (`seq 1:9` gives 9 for the end, `ack 17` gives 17).
    fn number_after(&self, word: &str) -> Option<u32> {
        let w: Vec<&str> = self.line.split_whitespace().collect();
        let at = w.iter().position(|x| *x == word)?;
        w.get(at + 1)?.rsplit(':').next()?.parse().ok()
    }

    /// The relative sequence number just after its data: `seq 9:33` gives 33.
    pub fn seq_end(&self) -> Option<u32> {
        self.number_after("seq")
    }

    pub fn ack(&self) -> Option<u32> {
        self.number_after("ack")
    }

    /// The data, as written between quotes (escaped: `ligne 1\n`), or "".
    pub fn data(&self) -> &str {
        match (self.line.find('"'), self.line.rfind('"')) {
            (Some(a), Some(b)) if b > a => &self.line[a + 1..b],
            _ => "",
        }
    }
}

/// What a text ladder says, in order: arrows, state changes, folded pauses.
#[derive(Debug, Clone)]
pub enum Event {
    Arrow(TextArrow),
    /// `side` 0 is the client (left), 1 the server (right).
    State {
        side: usize,
        name: String,
    },
    /// A pause folded to one line: `… 2.0 s …`.
    Fold(String),
}

/// The events of the text ladders in TEXT (other lines are skipped).
pub fn text_events(text: &str) -> Vec<Event> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.contains('▶') || line.contains('◀') {
            let words: Vec<&str> = line.split_whitespace().collect();
            let t = |w: Option<&&str>| w.and_then(|w| w.parse::<f64>().ok());
            let from_client = line.contains('▶');
            // A time column is the first word when it starts the line, the last at its end.
            let left = if line.starts_with("  ") && !line.trim_start().starts_with('◀') {
                t(words.first())
            } else {
                None
            };
            let right = t(words.last());
            out.push(Event::Arrow(TextArrow {
                from_client,
                left,
                right,
                line: line.to_string(),
            }));
            continue;
        }
        if line.trim_start().starts_with('⋮') {
            out.push(Event::Fold(line.trim().to_string()));
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() || !words.iter().all(|w| STATES.contains(w)) {
            continue;
        }
        // The client's time line is near column 10, the server's near column 90.
        let left = line.len() - line.trim_start().len() < 20;
        if words.len() == 2 {
            out.push(Event::State {
                side: 0,
                name: words[0].into(),
            });
            out.push(Event::State {
                side: 1,
                name: words[1].into(),
            });
        } else {
            out.push(Event::State {
                side: usize::from(!left),
                name: words[0].into(),
            });
        }
    }
    out
}

/// The arrows of the text ladders in TEXT, in order.
pub fn text_arrows(text: &str) -> Vec<TextArrow> {
    text_events(text)
        .into_iter()
        .filter_map(|e| match e {
            Event::Arrow(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// The states written in the text ladders of TEXT, in order, each as "client STATE" or
/// "server STATE".
pub fn text_states(text: &str) -> Vec<String> {
    text_events(text)
        .into_iter()
        .filter_map(|e| match e {
            Event::State { side, name } => Some(format!("{} {name}", ["client", "server"][side])),
            _ => None,
        })
        .collect()
}

// --- Captures the tests write ----------------------------------------------------------------

/// A pcap (µs timestamps, raw IP) of (seconds, IP packet) records.
pub fn pcap(records: &[(f64, Vec<u8>)]) -> Vec<u8> {
    let mut f = pcap_header();
    for (t, p) in records {
        pcap_record(&mut f, *t, p);
    }
    f
}

/// A pcap's file header (µs timestamps, raw IP).
pub fn pcap_header() -> Vec<u8> {
    let mut f = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 101] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f
}

/// One pcap record, IP packet P at T seconds, appended to F.
pub fn pcap_record(f: &mut Vec<u8>, t: f64, p: &[u8]) {
    let us = (t * 1e6).round() as u64;
    for v in [
        (us / 1_000_000) as u32,
        (us % 1_000_000) as u32,
        p.len() as u32,
        p.len() as u32,
    ] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(p);
}

/// An IPv4 packet of protocol PROTO from .SRC to .DST (10.80.80.x) carrying L4.
pub fn ipv4(proto: u8, src: u8, dst: u8, l4: &[u8]) -> Vec<u8> {
    ipv4_at(proto, [10, 80, 80, src], [10, 80, 80, dst], l4)
}

/// An IPv4 packet of protocol PROTO from SRC to DST carrying L4.
pub fn ipv4_at(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&(20 + l4.len() as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    ip.extend_from_slice(l4);
    ip
}

/// A TCP segment from the client (.11:40000) to the server (.10:PORT), or back.
pub fn tcp(from_client: bool, port: u16, flags: u8, seq: u32, ack: u32, data: &[u8]) -> Vec<u8> {
    let (client, server) = ([10, 80, 80, 11], [10, 80, 80, 10]);
    tcp_at(client, server, from_client, port, flags, seq, ack, data)
}

/// A TCP segment from CLIENT:40000 to SERVER:PORT, or back.
#[expect(
    clippy::too_many_arguments,
    reason = "a segment's fields, as a test reads them"
)]
pub fn tcp_at(
    client: [u8; 4],
    server: [u8; 4],
    from_client: bool,
    port: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let ((s, sp), (d, dp)) = if from_client {
        ((client, 40000), (server, port))
    } else {
        ((server, port), (client, 40000))
    };
    tcp_ports((s, sp), (d, dp), flags, seq, ack, data)
}

/// A TCP segment from SRC (address, port) to DST, in IPv4.
pub fn tcp_ports(
    (s, sp): ([u8; 4], u16),
    (d, dp): ([u8; 4], u16),
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 2, 0, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    ipv4_at(6, s, d, &t)
}

/// Tiny connection K of a capture of many, as SIDE saw it (0: the lab's client, 1: its
/// server), 50 µs one way: SYN, SYN ACK, a line, RST from the server. One begins every
/// millisecond and lasts 3.15: each overlaps the next ones, so their segments interleave in
/// the file (never at the same microsecond). The client's port is 1024 + K % PAIRS: every PAIRS connections the ports are
/// used again, with new ISNs (a new connection, as TCP has it).
pub fn tiny(k: usize, pairs: usize, side: usize) -> Vec<(f64, Vec<u8>)> {
    let (syn, ack, psh, rst) = (2, 16, 8, 4);
    let client = ([10, 80, 80, 11], 1024 + (k % pairs) as u16);
    let server = ([10, 80, 80, 10], 8080);
    let (c, s) = (
        1000u32.wrapping_add((k as u32).wrapping_mul(7919)),
        5000u32.wrapping_add((k as u32).wrapping_mul(104_729)),
    );
    let t = 1_700_000_000.0 + k as f64 * 0.001;
    [
        (0.0, true, syn, c, 0, &b""[..]),
        (0.0014, false, syn | ack, s, c.wrapping_add(1), b""),
        (
            0.0023,
            true,
            psh | ack,
            c.wrapping_add(1),
            s.wrapping_add(1),
            b"bonjour\n",
        ),
        (
            0.0031,
            false,
            rst | ack,
            s.wrapping_add(1),
            c.wrapping_add(9),
            b"",
        ),
    ]
    .iter()
    .map(|&(dt, from_client, f, seq, a, data)| {
        let seen = if from_client == (side == 0) {
            dt
        } else {
            dt + 0.000_05
        };
        let (src, dst) = if from_client {
            (client, server)
        } else {
            (server, client)
        };
        (t + seen, tcp_ports(src, dst, f, seq, a, data))
    })
    .collect()
}

/// The capture SIDE took of the tiny connections CONNS (see [`tiny`]), in time order.
pub fn tiny_capture(conns: impl IntoIterator<Item = usize>, pairs: usize, side: usize) -> Vec<u8> {
    let mut records: Vec<(f64, Vec<u8>)> = conns
        .into_iter()
        .flat_map(|k| tiny(k, pairs, side))
        .collect();
    records.sort_by(|a, b| a.0.total_cmp(&b.0));
    pcap(&records)
}

/// A pcapng (one little-endian section, one raw-IP interface with µs timestamps) of
/// (seconds, IP packet) records, each an Enhanced Packet Block.
pub fn pcapng(records: &[(f64, Vec<u8>)]) -> Vec<u8> {
    let frames: Vec<(u64, &[u8])> = records
        .iter()
        .map(|(t, p)| ((t * 1e6).round() as u64, &p[..]))
        .collect();
    pcapng::pcapng_frames(101, &frames)
}

/// [`tiny_capture`] of connections 0 to N - 1, written to PATH as it is made: memory stays
/// small however many there are (a test measuring a child's peak memory counts its own too).
pub fn write_tiny_capture(path: &std::path::Path, n: usize, pairs: usize, side: usize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(&pcap_header()).unwrap();
    // The segments of the connections begun, not yet written: those before the next one
    // begins can go (each lasts less than 4 ms).
    let mut pending: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut buf = Vec::new();
    for k in 0..=n {
        let next = tiny(k, pairs, side);
        let from = if k < n { next[0].0 } else { f64::MAX };
        pending.sort_by(|a, b| a.0.total_cmp(&b.0));
        let ready = pending.partition_point(|r| r.0 < from);
        for (t, p) in pending.drain(..ready) {
            buf.clear();
            pcap_record(&mut buf, t, &p);
            out.write_all(&buf).unwrap();
        }
        if k < n {
            pending.extend(next);
        }
    }
    out.flush().unwrap();
}
