//! `chatlab ladder`: a TCP conversation drawn as a time-sequence (ladder) diagram, from real
//! captures: text on the terminal, SVG, Mermaid. What it draws is the capture model's
//! ([`crate::capture`]: reading, matching, loading); here are the command and its drawings.
//!
//! # Layout
//!
//! - [`text`], [`svg`], [`mermaid`]: the three drawings of one connection.
//! - this file: the command line, [`Ctx`] (what the drawings need besides the connection) and
//!   the words they share (times, flags, labels, data).

pub mod mermaid;
pub mod svg;
pub mod text;

use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use chatlab::lines::Filter;
use chatlab::terminal::Sanitizer;
use clap::Parser;

use crate::capture::model::{Connection, Segment};
use crate::capture::pcap::{Flags, Ns};
use crate::capture::plan::Plan;
use crate::capture::reading::{self, LISTED};
use crate::capture::window::Pick;
use crate::lang::{Lang, msg};

/// Draw the TCP conversation of captures as a ladder (time-sequence) diagram.
///
/// One column per host, one arrow per segment from its departure to its arrival, each end's
/// TCP state where it changes. With captures of BOTH ends of a connection (e.g.
/// `NAME-client.pcap` and `NAME-server.pcap`, taken at the same time), each arrow slants by its
/// real one-way delay; with one end only, arrows are drawn flat at the time they were seen.
///
/// The capturing host is read from the file name (`…-client.pcap`, `…-server.pcap`,
/// `…-client2.pcap`); `…-HOST.netem.pcap` is the record of HOST's userspace netem (when each
/// segment entered the impairment: the true departure under a netem delay).
///
/// Connections are numbered in the order the captures first saw them. With more than 20, the
/// first 20 are listed and drawn and the others only counted (« 999980 more connections not
/// drawn »): --conn N draws connection N, whichever it is.
#[derive(Debug, Parser)]
#[command(name = "ladder", verbatim_doc_comment)]
pub struct Args {
    /// Capture files (pcap or pcapng)
    #[arg(required = true, value_name = "CAPTURE")]
    pub captures: Vec<PathBuf>,

    /// Also write the diagram as SVG to FILE
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Draw the SVG as a 16:9 slide (1920×1080, letters readable from the back of a room),
    /// one slide per connection, instead of a page as tall as the conversation
    #[arg(long, requires = "svg")]
    pub slide: bool,

    /// Print a Mermaid sequenceDiagram (for slides and Markdown) instead of the text ladder:
    /// one diagram per connection, the first 20 (--conn N for one)
    #[arg(long)]
    pub mermaid: bool,

    /// Draw only connection N (1 is the one the captures saw first; the list of the first 20
    /// is printed when there are several)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub conn: Option<u32>,

    /// Print no text ladder (with --svg: only write the file)
    #[arg(long)]
    pub no_text: bool,

    /// Only segments to or from this TCP port
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// The lab's subnet, to name hosts: PREFIX.10 server, .11 client, .12 client2; or each
    /// host's address: server=IP,client=IP,client2=IP (a class's lab)
    #[arg(long, value_name = "PREFIX", default_value = "10.80.80")]
    pub net: String,

    /// Fold pauses longer than this (seconds; at least 3 times the longest one-way delay)
    #[arg(long, value_name = "SECONDS", default_value_t = 0.5)]
    pub fold: f64,

    /// Most segments kept per connection: its first N/2 and its last N/2, as each capture saw
    /// them; those between are counted and drawn as one band (memory stays a small multiple of
    /// what is drawn, whatever the capture's length)
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max: usize,

    /// Language of the legend and messages (default: from the locale)
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,

    /// More diagnostics on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Everything the drawings need besides the connection: names, language, folding.
pub struct Ctx {
    pub lang: Lang,
    /// The lab's hosts, to name the ends.
    pub plan: Plan,
    /// Pauses longer than this are folded (ns).
    pub fold: Ns,
    pub max: usize,
}

impl Ctx {
    /// The drawing context for the lab whose subnet starts with NET (`10.80.80`); None when
    /// NET is not three numbers. FOLD: pauses longer than this (s) are folded; MAX: the most
    /// segments an SVG draws per connection.
    pub fn new(lang: Lang, net: &str, fold: f64, max: usize) -> Option<Ctx> {
        Some(Ctx {
            lang,
            plan: Plan::new(net)?,
            fold: (fold.max(0.001) * 1e9) as Ns,
            max: max.max(1),
        })
    }

    /// What a capture's reading depends on (language of its messages, plan, window): two
    /// contexts with the same key read the same files the same way.
    pub fn key(&self) -> String {
        format!("{:?} {:?} {}", self.lang, self.plan, self.max)
    }

    /// The lab name of an address (client, server, client2), or the address itself.
    pub fn name(&self, addr: SocketAddr) -> String {
        self.plan.name(addr)
    }

    /// The fold threshold for connection C: never inside a one-way delay.
    pub fn fold_for(&self, c: &Connection) -> Ns {
        let longest = c
            .segments
            .iter()
            .filter_map(|s| Some(s.arrived? - s.departed?))
            .max()
            .unwrap_or(0);
        self.fold.max(3 * longest)
    }
}

/// Why `chatlab ladder` draws nothing: the one-line error.
#[derive(Debug)]
pub enum Error {
    /// `--net` is not three numbers.
    Net(String),
    /// The captures give nothing to draw.
    Load(reading::Error),
    /// `--conn N` beyond the TOTAL connections of the captures.
    Conn { n: u32, total: usize, lang: Lang },
    /// The SVG file cannot be written.
    Svg { path: PathBuf, error: io::Error },
    /// The drawing cannot be written out.
    Stdout(io::Error),
}

impl From<reading::Error> for Error {
    fn from(e: reading::Error) -> Error {
        Error::Load(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Net(net) => write!(
                f,
                "--net '{net}': give the first three numbers, e.g. 10.80.80, or the hosts' addresses, e.g. server=10.100.0.2,client=10.100.0.3"
            ),
            Error::Load(e) => write!(f, "{e}"),
            Error::Conn { n, total, lang } => {
                let have = plural(*total, &msg!(*lang, "connexion", "connection"));
                f.write_str(&msg!(
                    *lang,
                    "--conn {n}: ces captures ont {have}",
                    "--conn {n}: these captures have {have}"
                ))
            }
            Error::Svg { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Stdout(e) => write!(f, "stdout: {e}"),
        }
    }
}

/// Read, match, draw.
pub fn run(args: &Args) -> Result<(), Error> {
    let lang = Lang::choose(args.lang);
    let colon = msg!(lang, " :", ":");
    let ctx = Ctx::new(lang, &args.net, args.fold, args.max)
        .ok_or_else(|| Error::Net(args.net.clone()))?;

    let files: Vec<(PathBuf, String)> = args
        .captures
        .iter()
        .map(|p| (p.clone(), p.display().to_string()))
        .collect();
    // Kept in full: the first LISTED connections (listed, and drawn without --conn), and
    // connection N; the others are counted.
    let listing = !args.mermaid;
    let pick = Pick {
        first: if args.conn.is_none() || listing {
            LISTED
        } else {
            0
        },
        also: args.conn.map(|n| n as usize - 1),
    };
    let reading = reading::load(&files, args.port, &ctx.plan, lang, ctx.max, pick)?;
    let total = reading.total;
    let chosen: Vec<(usize, &Connection)> = match args.conn {
        Some(n) => {
            let i = n as usize - 1;
            let c = reading.get(i).ok_or(Error::Conn { n, total, lang })?;
            vec![(i, c)]
        }
        None => reading.conns.iter().map(|(i, c)| (*i, c)).collect(),
    };
    // Without --conn, those not drawn; with it, those not listed.
    let more = total.saturating_sub(LISTED);
    let not_drawn = if args.conn.is_none() && more > 0 {
        msg!(
            lang,
            "{more} connexions de plus, non dessinées : --conn N en dessine une",
            "{more} more connections not drawn: --conn N draws one",
        )
    } else {
        msg!(
            lang,
            "{more} connexions de plus, non listées",
            "{more} more connections not listed",
        )
    };

    let mut out = String::new();
    if total > 1 && listing {
        let listed: Vec<(usize, &Connection)> = reading
            .conns
            .iter()
            .filter(|(i, _)| *i < LISTED)
            .map(|(i, c)| (*i, c))
            .collect();
        text::list(&mut out, &ctx, &listed, (more > 0).then_some(&not_drawn));
    }
    if args.mermaid && args.conn.is_none() && more > 0 {
        let _ = writeln!(out, "%% {not_drawn}");
    }
    for (i, c) in &chosen {
        if args.mermaid {
            mermaid::draw(&mut out, &ctx, *i, total, c);
        } else if !args.no_text {
            text::draw(&mut out, &ctx, *i, total, c);
        }
    }
    if let Some(path) = &args.svg {
        let (mut doc, max) = (String::new(), ctx.max);
        for (i, c) in &chosen {
            if c.segments.len() > max {
                log::warn!(
                    "{} {}: {}; {} ({})",
                    msg!(lang, "connexion", "connection"),
                    i + 1,
                    plural(c.segments.len(), "segment"),
                    msg!(
                        lang,
                        "le SVG montre les {max} premiers",
                        "the SVG shows the first {max}"
                    ),
                    msg!(
                        lang,
                        "--conn N pour une autre, --max N, ou une capture plus courte",
                        "--conn N for another one, --max N, or a shorter capture"
                    )
                );
            }
        }
        if args.conn.is_none() && more > 0 {
            log::warn!(
                "SVG{colon} {}",
                msg!(
                    lang,
                    "les {LISTED} premières connexions sur {total} (--conn N pour une autre)",
                    "the first {LISTED} connections of {total} (--conn N for another one)"
                )
            );
        }
        let look = if args.slide {
            svg::Look::Slide
        } else {
            svg::Look::Page
        };
        svg::draw_as(&mut doc, &ctx, &chosen, total, look);
        std::fs::write(path, doc).map_err(|error| Error::Svg {
            path: path.clone(),
            error,
        })?;
        log::info!(
            "{} {}",
            msg!(lang, "SVG écrit :", "SVG written:"),
            path.display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Stdout(e)),
        _ => Ok(()),
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Seconds since T0, with milliseconds.
pub fn secs(t: Ns, t0: Ns) -> String {
    format!("{:.3}", (t - t0) as f64 / 1e9)
}

/// A duration in words: 850 ms, 4.2 s.
pub fn duration(ns: Ns) -> String {
    if ns < 1_000_000_000 {
        format!("{} ms", ns / 1_000_000)
    } else {
        format!("{:.1} s", ns as f64 / 1e9)
    }
}

/// Flags in words, as tcpdump's readers say them: SYN, SYN,ACK, PSH,ACK, FIN,ACK, RST.
pub fn flags(f: Flags) -> String {
    let mut words = Vec::new();
    for (bit, w) in [
        (Flags::SYN, "SYN"),
        (Flags::FIN, "FIN"),
        (Flags::RST, "RST"),
        (Flags::PSH, "PSH"),
        (Flags::ACK, "ACK"),
    ] {
        if f.has(bit) {
            words.push(w);
        }
    }
    words.join(",")
}

/// The segment in one line without its data: `PSH,ACK seq 1:9 ack 1`.
pub fn label(c: &Connection, s: &Segment) -> String {
    let mut l = flags(s.tcp.flags);
    let seq = c.rel_seq(s);
    if s.tcp.len > 0 {
        let _ = write!(l, " seq {seq}:{}", seq.wrapping_add(s.tcp.len));
    } else {
        let _ = write!(l, " seq {seq}");
    }
    if s.tcp.flags.has(Flags::ACK) {
        let _ = write!(l, " ack {}", c.rel_ack(s));
    }
    l
}

/// The data as safe text on one line, in quotes: control bytes shown as `chat` shows them on a
/// terminal (^[, ^M, \xFF), line ends and tabs as \n and \t; `…` when the capture cut it.
pub fn shown_data(s: &Segment) -> String {
    let mut sanitizer = Sanitizer::default();
    let mut buf = Vec::new();
    let mut text = String::from_utf8_lossy(sanitizer.apply(&s.tcp.data, &mut buf)).into_owned();
    text.push_str(&String::from_utf8_lossy(sanitizer.finish(&mut buf)));
    let text = text.replace('\n', "\\n").replace('\t', "\\t");
    let cut = if (s.tcp.data.len() as u32) < s.tcp.len {
        "…"
    } else {
        ""
    };
    format!("\"{text}{cut}\"")
}

/// After a segment's label: a space and its data (if any), then its marks (retransmission,
/// dup ACK), each after a space in the drawing's brackets (OPEN, CLOSE).
pub fn push_data_and_marks(text: &mut String, s: &Segment, l: Lang, (open, close): (&str, &str)) {
    if s.tcp.len > 0 {
        text.push(' ');
        text.push_str(&shown_data(s));
    }
    if s.retransmission {
        let mark = msg!(l, "retransmis", "retransmission");
        let _ = write!(text, " {open}{mark}{close}");
    }
    if s.dup_ack {
        let mark = msg!(l, "ACK dupliqué", "dup ACK");
        let _ = write!(text, " {open}{mark}{close}");
    }
}

/// S with each character CODES names written as its code: a drawing's escapes.
pub fn escape(s: &str, codes: &[(char, &str)]) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match codes.iter().find(|(k, _)| *k == c) {
            Some((_, code)) => o.push_str(code),
            None => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_shown_safely_on_one_line() {
        let s = Segment {
            from: 0,
            tcp: crate::capture::pcap::Tcp {
                flags: Flags(Flags::ACK),
                seq: 0,
                ack: 0,
                win: 0,
                len: 20,
                data: b"a\tb\x1b[2J\r\n".to_vec(),
            },
            departed: Some(0),
            from_record: false,
            left: None,
            arrived: None,
            fate: crate::capture::model::Fate::Unknown,
            retransmission: false,
            dup_ack: false,
        };
        assert_eq!(shown_data(&s), "\"a\\tb^[[2J\\n…\"");
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
