//! `chatlab ladder`: a TCP conversation drawn as a time-sequence (ladder) diagram, from real
//! captures: text on the terminal, SVG, Mermaid.
//!
//! # Layout
//!
//! - [`pcap`]: reading pcap/pcapng files down to TCP segments (and writing netem's record).
//! - [`model`]: connections, matching a segment across captures, its fate, the TCP states.
//! - [`window`]: what is kept of long captures (each connection's opening and latest segments).
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
use window::Window;

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
    /// one diagram per connection (--conn N for one)
    #[arg(long)]
    pub mermaid: bool,

    /// Draw only connection N (1 is the first; the list is printed when there are several)
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
    let conns = load(&files, args.port, &ctx)?;
    let chosen: Vec<(usize, &Connection)> = match args.conn {
        Some(n) => {
            let i = n as usize - 1;
            let c = conns.get(i).ok_or_else(|| {
                format!(
                    "--conn {n}: {} {}",
                    lang.pick("ces captures ont", "these captures have"),
                    plural(conns.len(), lang.pick("connexion", "connection"))
                )
            })?;
            vec![(i, c)]
        }
        None => conns.iter().enumerate().collect(),
    };

    let mut out = String::new();
    if conns.len() > 1 && !args.mermaid {
        text::list(&mut out, &ctx, &conns);
    }
    for (i, c) in &chosen {
        if args.mermaid {
            mermaid::draw(&mut out, &ctx, *i, conns.len(), c);
        } else if !args.no_text {
            text::draw(&mut out, &ctx, *i, conns.len(), c);
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
        let look = if args.slide {
            svg::Look::Slide
        } else {
            svg::Look::Page
        };
        svg::draw_as(&mut doc, &ctx, &chosen, conns.len(), look);
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

/// The connections of FILES (each with the name to show in messages), read and matched across
/// hosts; PORT keeps only the segments of that TCP port. An error is one line naming the file.
///
/// Each file is read once, a segment at a time, into a [`Window`]: per connection and file,
/// its first `ctx.max / 2` observations and its last ones; those between are counted and
/// drawn as a band. Memory is thus a small multiple of what is drawn.
pub fn load(
    files: &[(PathBuf, String)],
    port: Option<u16>,
    ctx: &Ctx,
) -> Result<Vec<Connection>, Error> {
    let lang = ctx.lang;
    // French puts a space before the colon.
    let colon = lang.pick(" :", ":");
    let mut window = Window::new(ctx.max / 2, ctx.max - ctx.max / 2);
    // Per file: its number in the window, the host its name says, a netem record?, what its
    // packets say of where it was taken.
    let mut read: Vec<(usize, Option<&'static str>, bool, Where)> = Vec::new();
    for (path, shown) in files {
        let (host, record) = host_of(path);
        let mut reader =
            pcap::Reader::open(path).map_err(|e| format!("{shown}{colon} {}", e.say(lang)))?;
        let file = window.file(record);
        let mut place = Where::default();
        let mut ports = std::collections::BTreeSet::new();
        let (mut all, mut kept) = (0usize, 0usize);
        while let Some(p) = reader
            .next_packet()
            .map_err(|e| format!("{shown}{colon} {}", e.say(lang)))?
        {
            all += 1;
            if let Some(port) = port {
                ports.insert(p.src.port().min(p.dst.port()));
                if p.src.port() != port && p.dst.port() != port {
                    continue;
                }
            }
            kept += 1;
            place.see(&p);
            window.add(file, p);
        }
        match &reader.stopped {
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
        if all == 0 && !record {
            return Err(format!(
                "{shown}{colon} {} ({})",
                lang.pick("aucun segment TCP", "no TCP segment"),
                match (reader.other(), lang) {
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
            && kept == 0
            && !record
        {
            let seen: Vec<String> = ports.iter().map(u16::to_string).collect();
            return Err(format!(
                "{shown}{colon} {} {port} ({}: {})",
                lang.pick("aucun segment TCP sur le port", "no TCP segment on port"),
                lang.pick("ports vus", "ports seen"),
                seen.join(", ")
            ));
        }
        log::debug!("{shown}: {kept} segments");
        read.push((file, host, record, place));
    }
    window.settle();

    // Where each file was taken: the plan, else its packets (and its name), else the times at
    // which it saw the segments another file saw too.
    let mut at: Vec<Option<IpAddr>> = read
        .iter()
        .map(|(_, host, record, place)| place.host(*record, *host, host.and_then(|h| ctx.ip_of(h))))
        .collect();
    for i in 0..read.len() {
        let (file, _, record, place) = &read[i];
        if at[i].is_none() && !record {
            at[i] = place.by_time(&window, *file);
        }
    }

    let mut sources = Vec::new();
    let mut names = Vec::new();
    for (((file, host, record, _), ip), (_, shown)) in read.iter().zip(&at).zip(files) {
        if ip.is_none() {
            let consequence = if *record {
                lang.pick("enregistrement ignoré", "record ignored")
            } else {
                lang.pick(
                    "ses segments sont dessinés à plat, quand elle les a vus",
                    "its segments are drawn flat, when it saw them",
                )
            };
            let why = match host {
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
            if *record {
                continue;
            }
        }
        let role = match (ip, record) {
            (Some(ip), true) => Role::Entered(*ip),
            (ip, _) => Role::Seen(*ip),
        };
        let capture = pcap::Capture::of(window.take(*file));
        log::debug!("{shown}: {role:?}");
        names.push(shown.clone());
        sources.push(Source { role, capture });
    }
    keep_recorded_seen(&mut sources);
    warn_unrelated(&sources, &names, lang);

    let mut conns = model::connections(&sources);
    if conns.is_empty() {
        return Err(lang
            .pick(
                "aucun segment TCP dans ces captures",
                "no TCP segment in these captures",
            )
            .into());
    }
    // What the window left out, on the connection it was left out of (a pair of ports used
    // again: the last one that began before the kept segments resume).
    let mut by_pair: std::collections::HashMap<window::Pair, Vec<usize>> = Default::default();
    for (i, c) in conns.iter().enumerate() {
        by_pair.entry(window::pair_of(c)).or_default().push(i);
    }
    for (k, idx) in by_pair {
        if let Some(e) = window.elided(&k) {
            let i = idx
                .iter()
                .rev()
                .find(|&&i| conns[i].span().0 < e.until)
                .unwrap_or(&idx[0]);
            conns[*i].set_elided(e);
        }
    }
    Ok(conns)
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

/// Say so when two captures of hosts share no connection: not the same experiment.
fn warn_unrelated(sources: &[Source], names: &[String], lang: Lang) {
    let tuples: Vec<HashSet<(SocketAddr, SocketAddr)>> = sources
        .iter()
        .map(|s| {
            s.capture
                .packets
                .iter()
                .map(|p| {
                    if p.src < p.dst {
                        (p.src, p.dst)
                    } else {
                        (p.dst, p.src)
                    }
                })
                .collect()
        })
        .collect();
    for i in 0..sources.len() {
        for j in i + 1..sources.len() {
            if !tuples[i].is_empty() && !tuples[j].is_empty() && tuples[i].is_disjoint(&tuples[j]) {
                log::warn!(
                    "{} {} {} {}",
                    names[i],
                    lang.pick("et", "and"),
                    names[j],
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
