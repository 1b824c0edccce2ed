//! `chatlab ladder`: a TCP conversation drawn as a time-sequence (ladder) diagram, from real
//! captures: text on the terminal, SVG, Mermaid.
//!
//! # Layout
//!
//! - [`pcap`]: reading pcap/pcapng files down to TCP segments (and writing netem's record).
//! - [`model`]: connections, matching a segment across captures, its fate, the TCP states.
//! - [`window`]: what is kept of the captures (which connections, by their census; of each, its
//!   opening and latest segments).
//! - [`text`], [`svg`], [`mermaid`]: the three drawings of one connection.
//!
//! Which host took a capture is read from its file name, as `lab/capture` writes them:
//! `NAME-client.pcap` (tcpdump on client), `NAME-client.netem.pcap` (the record of client's
//! userspace netem: when each segment entered the impairment). A host name is turned into its
//! address with the lab's plan (`--net`: .10 server, .11 client, .12 client2). Where the plan
//! does not fit the capture (another subnet, a teacher's own machines), the capture says it:
//! the address in all its packets is its host's; with two (one conversation), the name says
//! which end (`client` opens, `server` is opened); with a name that says nothing, the times
//! do (a segment is seen by its sender before its receiver).

pub mod mermaid;
pub mod model;
pub mod pcap;
pub mod svg;
pub mod text;
pub mod window;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use chatlab::lines::Filter;
use chatlab::terminal::Sanitizer;
use clap::Parser;

use crate::lang::Lang;
use model::{Connection, Role, Segment, Source};
use pcap::{Flags, Ns};
use window::{Census, Pick, Window};

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

    /// The lab's subnet, to name hosts: PREFIX.10 server, .11 client, .12 client2
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
    hosts: Vec<(IpAddr, &'static str)>,
    /// Pauses longer than this are folded (ns).
    pub fold: Ns,
    pub max: usize,
}

impl Ctx {
    /// The drawing context for the lab whose subnet starts with NET (`10.80.80`); None when
    /// NET is not three numbers. FOLD: pauses longer than this (s) are folded; MAX: the most
    /// segments an SVG draws per connection.
    pub fn new(lang: Lang, net: &str, fold: f64, max: usize) -> Option<Ctx> {
        let prefix: Vec<u8> = net
            .split('.')
            .map(|o| o.parse::<u8>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<u8>| v.len() == 3)?;
        let hosts = HOSTS
            .iter()
            .map(|(h, last)| {
                let ip = IpAddr::V4(Ipv4Addr::new(prefix[0], prefix[1], prefix[2], *last));
                (ip, *h)
            })
            .collect();
        Some(Ctx {
            lang,
            hosts,
            fold: (fold.max(0.001) * 1e9) as Ns,
            max: max.max(1),
        })
    }

    /// What a capture's reading depends on (language of its messages, plan, window): two
    /// contexts with the same key read the same files the same way.
    pub fn key(&self) -> String {
        format!("{:?} {:?} {}", self.lang, self.hosts, self.max)
    }

    /// The address of a lab host (server, client, client2).
    fn ip_of(&self, host: &str) -> Option<IpAddr> {
        self.hosts
            .iter()
            .find(|(_, h)| *h == host)
            .map(|(ip, _)| *ip)
    }

    /// The lab name of an address (client, server, client2), or the address itself.
    pub fn name(&self, addr: SocketAddr) -> String {
        self.hosts
            .iter()
            .find(|(ip, _)| *ip == addr.ip())
            .map_or_else(|| addr.ip().to_string(), |(_, n)| n.to_string())
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

const HOSTS: [(&str, u8); 3] = [("server", 10), ("client", 11), ("client2", 12)];

/// What a capture file's name says, as lab/capture names them: `NAME-HOST.pcap` (HOST took
/// it, for the experiment NAME), `NAME-HOST.netem.pcap` (HOST's netem record), `HOST.pcap`,
/// `HOST-DATE-TIME.pcap` (one host, the default name), or `NAME.pcap` (no host said).
pub struct FileName<'a> {
    /// The experiment: the files of one capture share it.
    pub experiment: &'a str,
    pub host: Option<&'static str>,
    /// A netem record (`….netem.pcap`), not a capture.
    pub record: bool,
}

pub fn file_name(name: &str) -> FileName<'_> {
    let stem = name
        .strip_suffix(".pcapng")
        .or_else(|| name.strip_suffix(".pcap"))
        .unwrap_or(name);
    let (stem, record) = match stem.strip_suffix(".netem") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    // The longest host name first: client2 before client.
    let mut hosts: Vec<&'static str> = HOSTS.iter().map(|(h, _)| *h).collect();
    hosts.sort_by_key(|h| std::cmp::Reverse(h.len()));
    let suffixed = hosts.iter().find_map(|h| {
        let experiment = if stem == *h {
            stem
        } else {
            stem.strip_suffix(h)?.strip_suffix('-')?
        };
        Some((experiment, *h))
    });
    let (experiment, host) = match suffixed {
        Some((experiment, host)) => (experiment, Some(host)),
        None => (
            stem,
            hosts
                .iter()
                .find(|h| stem.starts_with(&format!("{h}-")))
                .copied(),
        ),
    };
    FileName {
        experiment,
        host,
        record,
    }
}

/// The host that took a capture, from its file name: (host, is a netem record).
fn host_of(path: &Path) -> (Option<&'static str>, bool) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let f = file_name(&name);
    (f.host, f.record)
}

/// What went wrong, for the one-line error.
pub type Error = String;

/// Read, match, draw.
pub fn run(args: &Args) -> Result<(), Error> {
    let lang = Lang::choose(args.lang);
    let colon = lang.pick(" :", ":");
    let ctx = Ctx::new(lang, &args.net, args.fold, args.max).ok_or_else(|| {
        format!(
            "--net '{}': give the first three numbers, e.g. 10.80.80",
            args.net
        )
    })?;

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
    let reading = load(&files, args.port, &ctx, pick)?;
    let total = reading.total;
    let chosen: Vec<(usize, &Connection)> = match args.conn {
        Some(n) => {
            let i = n as usize - 1;
            let c = reading.get(i).ok_or_else(|| {
                format!(
                    "--conn {n}: {} {}",
                    lang.pick("ces captures ont", "these captures have"),
                    plural(total, lang.pick("connexion", "connection"))
                )
            })?;
            vec![(i, c)]
        }
        None => reading.conns.iter().map(|(i, c)| (*i, c)).collect(),
    };
    // Without --conn, those not drawn; with it, those not listed.
    let more = total.saturating_sub(LISTED);
    let not_drawn = if args.conn.is_none() && more > 0 {
        lang.pick(
            &format!("{more} connexions de plus, non dessinées : --conn N en dessine une"),
            &format!("{more} more connections not drawn: --conn N draws one"),
        )
        .to_string()
    } else {
        lang.pick(
            &format!("{more} connexions de plus, non listées"),
            &format!("{more} more connections not listed"),
        )
        .to_string()
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
        let mut doc = String::new();
        for (i, c) in &chosen {
            if c.segments.len() > ctx.max {
                log::warn!(
                    "{} {}: {}; {} ({})",
                    lang.pick("connexion", "connection"),
                    i + 1,
                    plural(c.segments.len(), "segment"),
                    lang.pick(
                        &format!("le SVG montre les {} premiers", ctx.max),
                        &format!("the SVG shows the first {}", ctx.max)
                    ),
                    lang.pick(
                        "--conn N pour une autre, --max N, ou une capture plus courte",
                        "--conn N for another one, --max N, or a shorter capture"
                    )
                );
            }
        }
        if args.conn.is_none() && more > 0 {
            log::warn!(
                "SVG{colon} {}",
                lang.pick(
                    &format!(
                        "les {LISTED} premières connexions sur {total} (--conn N pour une autre)"
                    ),
                    &format!(
                        "the first {LISTED} connections of {total} (--conn N for another one)"
                    )
                )
            );
        }
        let look = if args.slide {
            svg::Look::Slide
        } else {
            svg::Look::Page
        };
        svg::draw_as(&mut doc, &ctx, &chosen, total, look);
        std::fs::write(path, doc).map_err(|e| format!("{}: {e}", path.display()))?;
        log::info!(
            "{} {}",
            lang.pick("SVG écrit :", "SVG written:"),
            path.display()
        );
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("stdout: {e}")),
        _ => Ok(()),
    }
}

/// How many connections are listed, and drawn without `--conn`: the first ones, in the order
/// the captures first saw them. The others are counted, not kept.
pub const LISTED: usize = 20;

/// What [`load`] read: how many connections the captures hold, and the ones kept (modelled in
/// full), each with its number (from 0, in the order the captures first saw them).
pub struct Reading {
    pub total: usize,
    /// In the order of their numbers.
    pub conns: Vec<(usize, Connection)>,
}

impl Reading {
    /// Connection N (from 0), if it was kept.
    pub fn get(&self, n: usize) -> Option<&Connection> {
        self.conns.iter().find(|(i, _)| *i == n).map(|(_, c)| c)
    }
}

/// One capture file being read.
struct Input<'a> {
    shown: &'a str,
    reader: pcap::Reader<'static>,
    /// Its number in the window (and the census).
    file: usize,
    host: Option<&'static str>,
    record: bool,
    place: Where,
    /// With --port: the ports seen (the lower of each segment's two), to say which there were.
    ports: std::collections::BTreeSet<u16>,
    all: usize,
    kept: usize,
    /// Its first and last segments' times.
    span: Option<(Ns, Ns)>,
    /// Its next segment, read ahead (captures are read together, in time order).
    next: Option<pcap::Packet>,
}

impl Input<'_> {
    /// The next segment of PORT (all without), or None at the end of the file, said then.
    fn pull(&mut self, port: Option<u16>, lang: Lang) -> Result<Option<pcap::Packet>, Error> {
        let colon = lang.pick(" :", ":");
        while let Some(p) = self
            .reader
            .next_packet()
            .map_err(|e| format!("{}{colon} {}", self.shown, e.say(lang)))?
        {
            self.all += 1;
            if let Some(port) = port {
                self.ports.insert(p.src.port().min(p.dst.port()));
                if p.src.port() != port && p.dst.port() != port {
                    continue;
                }
            }
            self.kept += 1;
            self.place.see(&p);
            self.span = Some(
                self.span
                    .map_or((p.ts, p.ts), |(a, b)| (a.min(p.ts), b.max(p.ts))),
            );
            return Ok(Some(p));
        }
        self.finish(port, lang)?;
        Ok(None)
    }

    /// The file is read: say where it stopped early; an error when it gave nothing to draw.
    fn finish(&self, port: Option<u16>, lang: Lang) -> Result<(), Error> {
        let (shown, colon) = (self.shown, lang.pick(" :", ":"));
        match &self.reader.stopped {
            Some((at, pcap::Damage::Cut)) => log::warn!(
                "{shown}{colon} {} {at}{colon} {}",
                lang.pick("octet", "offset"),
                lang.pick(
                    "le dernier paquet est incomplet (capture en cours ?) : lu jusqu'à lui",
                    "the last packet is incomplete (a capture still being written?): read up to it"
                )
            ),
            Some((at, damage)) => log::warn!(
                "{shown}{colon} {} {at}{colon} {} {}",
                lang.pick("octet", "offset"),
                lang.pick("capture abîmée :", "damaged capture:"),
                lang.pick(
                    &format!("{} ; lue jusque-là", damage.say(lang)),
                    &format!("{}; read up to there", damage.say(lang))
                )
            ),
            None => {}
        }
        if self.all == 0 && !self.record {
            return Err(format!(
                "{shown}{colon} {} ({})",
                lang.pick("aucun segment TCP", "no TCP segment"),
                match (self.reader.other(), lang) {
                    (0, Lang::Fr) => "aucun paquet".to_string(),
                    (0, Lang::En) => "no packet at all".to_string(),
                    (1, Lang::Fr) => "1 paquet d'un autre protocole".to_string(),
                    (1, Lang::En) => "1 packet of another protocol".to_string(),
                    (n, Lang::Fr) => format!("{n} paquets d'autres protocoles"),
                    (n, Lang::En) => format!("{n} packets of other protocols"),
                }
            ));
        }
        if let Some(port) = port
            && self.kept == 0
            && !self.record
        {
            let seen: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            return Err(format!(
                "{shown}{colon} {} {port} ({}: {})",
                lang.pick("aucun segment TCP sur le port", "no TCP segment on port"),
                lang.pick("ports vus", "ports seen"),
                seen.join(", ")
            ));
        }
        log::debug!("{shown}: {} segments", self.kept);
        Ok(())
    }
}

/// The connections of FILES (each with the name to show in messages), read and matched across
/// hosts; PORT keeps only the segments of that TCP port; PICK says which connections to keep.
/// An error is one line naming the file.
///
/// One pass: the captures are read together, a segment at a time in time order, and a
/// [`Census`] numbers their connections as it first sees them (a hash lookup per segment).
/// Only the connections PICK names go into the [`Window`] (per connection and file, its first
/// `ctx.max / 2` observations and its last ones; those between are counted and drawn as a
/// band) and are modelled; the others are counted. Netem records are read after the
/// captures, for the connections kept. Memory is thus a small multiple of what is drawn, plus
/// the census's 24-byte entry per connection.
pub fn load(
    files: &[(PathBuf, String)],
    port: Option<u16>,
    ctx: &Ctx,
    pick: Pick,
) -> Result<Reading, Error> {
    let lang = ctx.lang;
    // French puts a space before the colon.
    let colon = lang.pick(" :", ":");
    let mut window = Window::new(ctx.max / 2, ctx.max - ctx.max / 2);
    let mut inputs: Vec<Input> = Vec::new();
    for (path, shown) in files {
        let (host, record) = host_of(path);
        let reader =
            pcap::Reader::open(path).map_err(|e| format!("{shown}{colon} {}", e.say(lang)))?;
        inputs.push(Input {
            shown,
            reader,
            file: window.file(record),
            host,
            record,
            place: Where::default(),
            ports: Default::default(),
            all: 0,
            kept: 0,
            span: None,
            next: None,
        });
    }

    // The captures, together in time order (records alone when there is no capture).
    let captures = inputs.iter().any(|i| !i.record);
    let mut census = Census::new(pick);
    for i in inputs.iter_mut().filter(|i| !i.record || !captures) {
        i.next = i.pull(port, lang)?;
    }
    while let Some(i) = (0..inputs.len())
        .filter(|&i| inputs[i].next.is_some())
        .min_by_key(|&i| inputs[i].next.as_ref().map(|p| p.ts))
    {
        let input = &mut inputs[i];
        let p = input.next.take().expect("a segment read ahead");
        if census.see(input.file, &p) {
            window.add(input.file, p);
        }
        input.next = input.pull(port, lang)?;
    }
    // The records: what the captures saw of the connections kept (see keep_recorded_seen).
    let span = inputs
        .iter()
        .filter(|i| !i.record)
        .filter_map(|i| i.span)
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
    if let Some(span) = span {
        for input in inputs.iter_mut().filter(|i| i.record) {
            while let Some(p) = input.pull(port, lang)? {
                if census.recorded(input.file, &p, span) {
                    window.add(input.file, p);
                }
            }
        }
    }
    window.settle();

    // Where each file was taken: the plan, else its packets (and its name), else the times at
    // which it saw the segments another file saw too (of the connections kept).
    let mut at: Vec<Option<IpAddr>> = inputs
        .iter()
        .map(|i| {
            i.place
                .host(i.record, i.host, i.host.and_then(|h| ctx.ip_of(h)))
        })
        .collect();
    for (k, i) in inputs.iter().enumerate() {
        if at[k].is_none() && !i.record {
            at[k] = i.place.by_time(&window, i.file);
        }
    }

    let mut sources = Vec::new();
    let mut spans = Vec::new();
    let mut used = Vec::new();
    for (input, ip) in inputs.iter().zip(&at) {
        let (shown, record) = (input.shown, input.record);
        if ip.is_none() {
            let consequence = if record {
                lang.pick("enregistrement ignoré", "record ignored")
            } else {
                lang.pick(
                    "ses segments sont dessinés à plat, quand elle les a vus",
                    "its segments are drawn flat, when it saw them",
                )
            };
            let why = match input.host {
                Some(_) => lang.pick(
                    "quel hôte l'a prise ? Ses paquets ne le disent pas",
                    "which host took it? Its packets do not say",
                ),
                None => lang.pick(
                    "quel hôte l'a prise ? Le nom du fichier ne le dit pas",
                    "which host took it? Its name does not say",
                ),
            };
            log::warn!("{shown}{colon} {why} (…-client.pcap, …-server.pcap): {consequence}");
            if record {
                continue;
            }
        }
        let role = match (ip, record) {
            (Some(ip), true) => Role::Entered(*ip),
            (ip, _) => Role::Seen(*ip),
        };
        let capture = pcap::Capture::of(window.take(input.file));
        log::debug!("{shown}: {role:?}");
        used.push((input.file, shown));
        spans.push(input.span);
        sources.push(Source { role, capture });
    }
    warn_unrelated(&census, &used, lang);

    if census.total() == 0 {
        return Err(lang
            .pick(
                "aucun segment TCP dans ces captures",
                "no TCP segment in these captures",
            )
            .into());
    }
    let mut groups: Vec<Option<Connection>> = model::connections_within(&sources, &spans)
        .into_iter()
        .map(Some)
        .collect();
    // What the window left out, on the connection it was left out of (a pair of ports used
    // again: the last one that began before the kept segments resume).
    let mut by_pair: std::collections::HashMap<window::Pair, Vec<usize>> = Default::default();
    for (i, c) in groups.iter().enumerate() {
        let c = c.as_ref().expect("all there");
        by_pair.entry(window::pair_of(c)).or_default().push(i);
    }
    for (k, idx) in &by_pair {
        if let Some(e) = window.elided(k) {
            let span = |i: usize| groups[i].as_ref().expect("all there").span();
            let i = *idx
                .iter()
                .rev()
                .find(|&&i| span(i).0 < e.until)
                .unwrap_or(&idx[0]);
            groups[i].as_mut().expect("all there").set_elided(e);
        }
    }
    // Each connection kept is the model's connection of its ends that holds the first segment
    // the census saw of it (the model may also make one of a record's segments the captures'
    // connections kept did not hold: not drawn, as before the census).
    let mut conns = Vec::new();
    for p in census.picked() {
        let distance = |c: &Connection| {
            let (a, b) = c.span();
            (a - p.first).max(p.first - b).max(0)
        };
        let nearest = by_pair
            .get(&p.pair)
            .into_iter()
            .flatten()
            .filter(|&&i| groups[i].is_some())
            .min_by_key(|&&i| distance(groups[i].as_ref().expect("filtered")));
        if let Some(&i) = nearest {
            conns.push((p.number, groups[i].take().expect("filtered")));
        }
    }
    Ok(Reading {
        total: census.total(),
        conns,
    })
}

/// What the packets of one capture say about the host that took it.
#[derive(Default)]
struct Where {
    /// The addresses in every packet so far, at most two (None before the first packet).
    common: Option<Vec<IpAddr>>,
    /// The address that sent every packet so far (a netem record holds one host's egress).
    sender: Option<Vec<IpAddr>>,
    /// Per address of `common`: (SYNs it sent to open, packets it sent from the higher port):
    /// the end that opens the connections is the client.
    opens: Vec<(IpAddr, usize, usize)>,
}

impl Where {
    fn see(&mut self, p: &pcap::Packet) {
        let (src, dst) = (p.src.ip(), p.dst.ip());
        match &mut self.common {
            None => {
                self.common = Some(if src == dst {
                    vec![src]
                } else {
                    vec![src, dst]
                })
            }
            Some(c) => c.retain(|ip| *ip == src || *ip == dst),
        }
        match &mut self.sender {
            None => self.sender = Some(vec![src]),
            Some(s) => s.retain(|ip| *ip == src),
        }
        if self.common.as_ref().is_some_and(|c| c.contains(&src)) {
            let opens = match self.opens.iter().position(|o| o.0 == src) {
                Some(i) => &mut self.opens[i],
                None => {
                    self.opens.push((src, 0, 0));
                    self.opens.last_mut().expect("just pushed")
                }
            };
            opens.1 += usize::from(p.flags.has(Flags::SYN) && !p.flags.has(Flags::ACK));
            opens.2 += usize::from(p.src.port() > p.dst.port());
        }
    }

    /// The address of the host that took the capture: PLANNED (the lab's plan for the host its
    /// NAMED) when its packets agree; else the one address in all its packets; else, of the
    /// two ends of one conversation, the one its name says (`client` opens, `server` is
    /// opened); else PLANNED all the same; else None. A RECORD's host sent all its packets.
    fn host(&self, record: bool, named: Option<&str>, planned: Option<IpAddr>) -> Option<IpAddr> {
        let cands = if record { &self.sender } else { &self.common };
        let cands = cands.as_deref().unwrap_or(&[]);
        if let Some(ip) = planned
            && cands.contains(&ip)
        {
            return Some(ip);
        }
        match (cands, named) {
            ([ip], _) => Some(*ip),
            ([a, b], Some(name)) => {
                let opens = |ip: &IpAddr| {
                    self.opens
                        .iter()
                        .find(|o| o.0 == *ip)
                        .map_or((0, 0), |o| (o.1, o.2))
                };
                let (client, server) = match opens(a).cmp(&opens(b)) {
                    std::cmp::Ordering::Greater => (*a, *b),
                    std::cmp::Ordering::Less => (*b, *a),
                    std::cmp::Ordering::Equal => return planned,
                };
                Some(if name == "server" { server } else { client })
            }
            _ => planned,
        }
    }

    /// The host that took FILE, from time: of the two ends in all its packets, the one whose
    /// segments it saw before another file did (and whose peer's segments it saw after).
    /// None when no other file saw its segments, or their times do not tell.
    fn by_time(&self, window: &Window, file: usize) -> Option<IpAddr> {
        let Some([a, b]) = self.common.as_deref() else {
            return None;
        };
        type Key = (SocketAddr, SocketAddr, u8, u32, u32, u32);
        let key = |p: &pcap::Packet| (p.src, p.dst, p.flags.0, p.seq, p.ack, p.len);
        // Votes for a, against a.
        let mut votes: i64 = 0;
        for parts in window.conns() {
            let Some((_, mine)) = parts.iter().find(|(f, _)| *f == file) else {
                continue;
            };
            for (_, theirs) in parts.iter().filter(|(f, _)| *f != file) {
                let mut first: std::collections::HashMap<Key, Ns> = Default::default();
                for p in *theirs {
                    first.entry(key(p)).or_insert(p.ts);
                }
                for p in *mine {
                    let Some(&t) = first.get(&key(p)) else {
                        continue;
                    };
                    // Seen here first: here is its sender; seen here last: its receiver.
                    let here = match p.ts.cmp(&t) {
                        std::cmp::Ordering::Less => p.src.ip(),
                        std::cmp::Ordering::Greater => p.dst.ip(),
                        std::cmp::Ordering::Equal => continue,
                    };
                    votes += if here == *a {
                        1
                    } else if here == *b {
                        -1
                    } else {
                        0
                    };
                }
            }
        }
        match votes.cmp(&0) {
            std::cmp::Ordering::Greater => Some(*a),
            std::cmp::Ordering::Less => Some(*b),
            std::cmp::Ordering::Equal => None,
        }
    }
}

/// Where the capture at PATH was taken, from its name (`…-client.pcap`, `client.netem.pcap`);
/// None when the name does not say which host, or names no host of CTX's lab.
pub fn role_of(path: &Path, ctx: &Ctx) -> Option<Role> {
    let (host, record) = host_of(path);
    let ip = ctx.ip_of(host?)?;
    Some(if record {
        Role::Entered(ip)
    } else {
        Role::Seen(Some(ip))
    })
}

/// A netem record holds all the host's egress, since the engine started: keep what the
/// captures saw (same connection, within their time), the record only dates it.
pub fn keep_recorded_seen(sources: &mut [Source]) {
    let seen: Vec<&Source> = sources
        .iter()
        .filter(|s| matches!(s.role, Role::Seen(_)))
        .collect();
    let Some((lo, hi)) = seen
        .iter()
        .flat_map(|s| s.capture.packets.iter().map(|p| p.ts))
        .fold(None, |acc: Option<(Ns, Ns)>, t| {
            Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
        })
    else {
        return;
    };
    let tuples: HashSet<(SocketAddr, SocketAddr)> = seen
        .iter()
        .flat_map(|s| s.capture.packets.iter().map(|p| (p.src, p.dst)))
        .collect();
    // A segment may enter netem before the capture starts and leave after: 10 s of margin.
    let margin = 10_000_000_000;
    for s in sources.iter_mut() {
        if matches!(s.role, Role::Entered(_)) {
            s.capture
                .packets
                .retain(|p| tuples.contains(&(p.src, p.dst)) && p.ts >= lo - margin && p.ts <= hi);
        }
    }
}

/// Say so when two captures (of the files USED: number, name) share no connection: not the
/// same experiment.
fn warn_unrelated(census: &Census, used: &[(usize, &str)], lang: Lang) {
    for (k, (i, a)) in used.iter().enumerate() {
        for (j, b) in &used[k + 1..] {
            // (A file that gave nothing, e.g. a record of other connections, relates to none.)
            let some = census.share(*i, *i) && census.share(*j, *j);
            if some && !census.share(*i, *j) {
                log::warn!(
                    "{a} {} {b} {}",
                    lang.pick("et", "and"),
                    lang.pick(
                        "n'ont aucune connexion en commun (deux expériences différentes ?) : chacune est dessinée telle que sa capture l'a vue",
                        "share no connection (two different experiments?): each is drawn as its own capture saw it"
                    )
                );
            }
        }
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
    let mut l = flags(s.flags);
    let seq = c.rel_seq(s);
    if s.len > 0 {
        let _ = write!(l, " seq {seq}:{}", seq.wrapping_add(s.len));
    } else {
        let _ = write!(l, " seq {seq}");
    }
    if s.flags.has(Flags::ACK) {
        let _ = write!(l, " ack {}", c.rel_ack(s));
    }
    l
}

/// The data as safe text on one line, in quotes: control bytes shown as `chat` shows them on a
/// terminal (^[, ^M, \xFF), line ends and tabs as \n and \t; `…` when the capture cut it.
pub fn shown_data(s: &Segment) -> String {
    let mut sanitizer = Sanitizer::default();
    let mut buf = Vec::new();
    let mut text = String::from_utf8_lossy(sanitizer.apply(&s.data, &mut buf)).into_owned();
    text.push_str(&String::from_utf8_lossy(sanitizer.finish(&mut buf)));
    let text = text.replace('\n', "\\n").replace('\t', "\\t");
    let cut = if (s.data.len() as u32) < s.len {
        "…"
    } else {
        ""
    };
    format!("\"{text}{cut}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capturing_host_is_read_from_the_file_name() {
        let h = |p: &str| host_of(Path::new(p));
        assert_eq!(h("captures/05-ladder-client.pcap"), (Some("client"), false));
        assert_eq!(
            h("captures/05-ladder-client2.pcap"),
            (Some("client2"), false)
        );
        assert_eq!(h("x/05-ladder-server.netem.pcap"), (Some("server"), true));
        assert_eq!(
            h("captures/client-20250101-101010.pcap"),
            (Some("client"), false)
        );
        assert_eq!(h("captures/trace.pcapng"), (None, false));
    }

    #[test]
    fn data_is_shown_safely_on_one_line() {
        let s = Segment {
            from: 0,
            flags: Flags(Flags::ACK),
            seq: 0,
            ack: 0,
            win: 0,
            len: 20,
            data: b"a\tb\x1b[2J\r\n".to_vec(),
            departed: Some(0),
            from_record: false,
            left: None,
            arrived: None,
            fate: model::Fate::Unknown,
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
