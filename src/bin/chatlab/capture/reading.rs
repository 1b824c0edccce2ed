//! Loading captures: the files of an experiment read together, in time order, down to the
//! connections of the model, numbered in the order the captures first saw them; what `chatlab
//! ladder` draws and the view replays.
//!
//! Which host took a capture is read from its file name ([`super::plan`]), and its address
//! from the lab's plan. Where the plan does not fit the capture (another subnet, a teacher's
//! own machines), the capture says it: the address in all its packets is its host's; with
//! two (one conversation), the name says which end (`client` opens, `server` is opened); with
//! a name that says nothing, the times do (a segment is seen by its sender before its
//! receiver).

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::model::{self, Connection, Role, Source};
use super::pcap::{self, Flags, Ns};
use super::plan::{Plan, host_of};
use super::window::{self, Census, Pick, Window};
use crate::lang::{Lang, msg};

/// Why an experiment's captures give nothing to draw: one line naming the file, in the
/// language they were read in.
#[derive(Debug)]
pub enum Error {
    /// FILE cannot be read as a capture (or is damaged before its first packet).
    Unreadable {
        file: String,
        error: pcap::ReadError,
        lang: Lang,
    },
    /// FILE holds no TCP segment, and OTHER packets of other protocols.
    NoTcp {
        file: String,
        other: usize,
        lang: Lang,
    },
    /// FILE holds no TCP segment on PORT; SEEN: the ports it does hold (the lower of each
    /// segment's two).
    NoneOnPort {
        file: String,
        port: u16,
        seen: Vec<u16>,
        lang: Lang,
    },
    /// None of the captures holds a TCP segment.
    Empty { lang: Lang },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = match self {
            Error::Unreadable { file, error, lang } => {
                let why = error.say(*lang);
                msg!(*lang, "{file} : {why}", "{file}: {why}")
            }
            Error::NoTcp { file, other, lang } => {
                let other = match other {
                    0 => msg!(*lang, "aucun paquet", "no packet at all"),
                    1 => msg!(
                        *lang,
                        "1 paquet d'un autre protocole",
                        "1 packet of another protocol"
                    ),
                    n => msg!(
                        *lang,
                        "{n} paquets d'autres protocoles",
                        "{n} packets of other protocols"
                    ),
                };
                msg!(
                    *lang,
                    "{file} : aucun segment TCP ({other})",
                    "{file}: no TCP segment ({other})"
                )
            }
            Error::NoneOnPort {
                file,
                port,
                seen,
                lang,
            } => {
                let seen: Vec<String> = seen.iter().map(u16::to_string).collect();
                let seen = seen.join(", ");
                msg!(
                    *lang,
                    "{file} : aucun segment TCP sur le port {port} (ports vus: {seen})",
                    "{file}: no TCP segment on port {port} (ports seen: {seen})"
                )
            }
            Error::Empty { lang } => msg!(
                *lang,
                "aucun segment TCP dans ces captures",
                "no TCP segment in these captures"
            ),
        };
        f.write_str(&line)
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
        while let Some(p) = self
            .reader
            .next_packet()
            .map_err(|error| Error::Unreadable {
                file: self.shown.to_string(),
                error,
                lang,
            })?
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
        let shown = self.shown;
        match &self.reader.stopped {
            Some((at, pcap::Damage::Cut)) => log::warn!(
                "{}",
                msg!(
                    lang,
                    "{shown} : octet {at} : le dernier paquet est incomplet (capture en cours ?) : lu jusqu'à lui",
                    "{shown}: offset {at}: the last packet is incomplete (a capture still being written?): read up to it"
                )
            ),
            Some((at, damage)) => {
                let damage = damage.say(lang);
                log::warn!(
                    "{}",
                    msg!(
                        lang,
                        "{shown} : octet {at} : capture abîmée : {damage} ; lue jusque-là",
                        "{shown}: offset {at}: damaged capture: {damage}; read up to there"
                    )
                )
            }
            None => {}
        }
        if self.all == 0 && !self.record {
            return Err(Error::NoTcp {
                file: shown.to_string(),
                other: self.reader.other(),
                lang,
            });
        }
        if let Some(port) = port
            && self.kept == 0
            && !self.record
        {
            return Err(Error::NoneOnPort {
                file: shown.to_string(),
                port,
                seen: self.ports.iter().copied().collect(),
                lang,
            });
        }
        log::debug!("{shown}: {} segments", self.kept);
        Ok(())
    }
}

/// The connections of FILES (each with the name to show in messages), read and matched across
/// hosts (named by PLAN); PORT keeps only the segments of that TCP port; PICK says which
/// connections to keep; LANG is the language of the messages, MAX the most segments kept per
/// connection. An [`Error`] is one line, naming the file at fault.
///
/// One pass: the captures are read together, a segment at a time in time order, and a
/// [`Census`] numbers their connections as it first sees them (a hash lookup per segment).
/// Only the connections PICK names go into the [`Window`] (per connection and file, its first
/// `max / 2` observations and its last ones; those between are counted and drawn as a
/// band) and are modelled; the others are counted. Netem records are read after the
/// captures, for the connections kept. Memory is thus a small multiple of what is drawn, plus
/// the census's 24-byte entry per connection.
pub fn load(
    files: &[(PathBuf, String)],
    port: Option<u16>,
    plan: &Plan,
    lang: Lang,
    max: usize,
    pick: Pick,
) -> Result<Reading, Error> {
    let mut window = Window::new(max / 2, max - max / 2);
    let mut inputs = open(files, &mut window, lang)?;
    let mut census = Census::new(pick);
    read_together(&mut inputs, port, lang, &mut census, &mut window)?;
    let at = places(&inputs, &window, plan);
    let (sources, spans) = sources(&inputs, &at, &mut window, &census, lang);
    if census.total() == 0 {
        return Err(Error::Empty { lang });
    }
    Ok(Reading {
        total: census.total(),
        conns: kept(&census, &sources, &spans, &window),
    })
}

/// FILES opened, each a file of WINDOW.
fn open<'a>(
    files: &'a [(PathBuf, String)],
    window: &mut Window,
    lang: Lang,
) -> Result<Vec<Input<'a>>, Error> {
    let mut inputs = Vec::new();
    for (path, shown) in files {
        let (host, record) = host_of(path);
        let reader = pcap::Reader::open(path).map_err(|error| Error::Unreadable {
            file: shown.clone(),
            error,
            lang,
        })?;
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
    Ok(inputs)
}

/// Read INPUTS to their end: the captures together in time order (records alone when there is
/// no capture), each segment counted by CENSUS and those of the connections it keeps put in
/// WINDOW; then the records, for the connections kept (see keep_recorded_seen).
fn read_together(
    inputs: &mut [Input],
    port: Option<u16>,
    lang: Lang,
    census: &mut Census,
    window: &mut Window,
) -> Result<(), Error> {
    let captures = inputs.iter().any(|i| !i.record);
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
    Ok(())
}

/// Where each of INPUTS was taken: the plan, else its packets (and its name), else the times
/// at which it saw the segments another file saw too (of the connections kept in WINDOW).
fn places(inputs: &[Input], window: &Window, plan: &Plan) -> Vec<Option<IpAddr>> {
    let mut at: Vec<Option<IpAddr>> = inputs
        .iter()
        .map(|i| {
            i.place
                .host(i.record, i.host, i.host.and_then(|h| plan.ip_of(h)))
        })
        .collect();
    for (k, i) in inputs.iter().enumerate() {
        if at[k].is_none() && !i.record {
            at[k] = i.place.by_time(window, i.file);
        }
    }
    at
}

/// The model's sources: each of INPUTS taken AT its place, with what WINDOW kept of it, and
/// its span; a file taken nowhere known is said (a record is then left out), and so are files
/// that share no connection (CENSUS).
fn sources(
    inputs: &[Input],
    at: &[Option<IpAddr>],
    window: &mut Window,
    census: &Census,
    lang: Lang,
) -> (Vec<Source>, Vec<Option<(Ns, Ns)>>) {
    let mut sources = Vec::new();
    let mut spans = Vec::new();
    let mut used = Vec::new();
    for (input, ip) in inputs.iter().zip(at) {
        if ip.is_none() {
            warn_unplaced(input, lang);
            if input.record {
                continue;
            }
        }
        let role = match (ip, input.record) {
            (Some(ip), true) => Role::Entered(*ip),
            (ip, _) => Role::Seen(*ip),
        };
        let capture = pcap::Capture::of(window.take(input.file));
        log::debug!("{}: {role:?}", input.shown);
        used.push((input.file, input.shown));
        spans.push(input.span);
        sources.push(Source { role, capture });
    }
    warn_unrelated(census, &used, lang);
    (sources, spans)
}

/// Say that no one knows which host took INPUT, and what follows.
fn warn_unplaced(input: &Input, lang: Lang) {
    // French puts a space before the colon.
    let colon = msg!(lang, " :", ":");
    let consequence = if input.record {
        msg!(lang, "enregistrement ignoré", "record ignored")
    } else {
        msg!(
            lang,
            "ses segments sont dessinés à plat, quand elle les a vus",
            "its segments are drawn flat, when it saw them"
        )
    };
    let why = match input.host {
        Some(_) => msg!(
            lang,
            "quel hôte l'a prise ? Ses paquets ne le disent pas",
            "which host took it? Its packets do not say"
        ),
        None => msg!(
            lang,
            "quel hôte l'a prise ? Le nom du fichier ne le dit pas",
            "which host took it? Its name does not say"
        ),
    };
    let shown = input.shown;
    log::warn!("{shown}{colon} {why} (…-client.pcap, …-server.pcap): {consequence}");
}

/// The connections CENSUS picked, each with its number: the model's connections of SOURCES
/// (over SPANS), each with what WINDOW left out of it.
fn kept(
    census: &Census,
    sources: &[Source],
    spans: &[Option<(Ns, Ns)>],
    window: &Window,
) -> Vec<(usize, Connection)> {
    let mut groups: Vec<Option<Connection>> = model::connections_within(sources, spans)
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
    conns
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
            opens.1 += usize::from(p.tcp.flags.has(Flags::SYN) && !p.tcp.flags.has(Flags::ACK));
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
        let key = |p: &pcap::Packet| (p.src, p.dst, p.tcp.flags.0, p.tcp.seq, p.tcp.ack, p.tcp.len);
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
                    msg!(lang, "et", "and"),
                    msg!(
                        lang,
                        "n'ont aucune connexion en commun (deux expériences différentes ?) : chacune est dessinée telle que sa capture l'a vue",
                        "share no connection (two different experiments?): each is drawn as its own capture saw it"
                    )
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_one_line_naming_the_file_in_the_language_asked() {
        let file = || "f.pcap".to_string();
        let said = |e: Error| e.to_string();
        let missing = |lang| Error::Unreadable {
            file: file(),
            error: pcap::ReadError::Missing,
            lang,
        };
        assert_eq!(said(missing(Lang::En)), "f.pcap: no such file");
        assert_eq!(said(missing(Lang::Fr)), "f.pcap : fichier introuvable");
        let no_tcp = |other, lang| Error::NoTcp {
            file: file(),
            other,
            lang,
        };
        assert_eq!(
            said(no_tcp(0, Lang::Fr)),
            "f.pcap : aucun segment TCP (aucun paquet)"
        );
        assert_eq!(
            said(no_tcp(2, Lang::En)),
            "f.pcap: no TCP segment (2 packets of other protocols)"
        );
        let port = |lang| Error::NoneOnPort {
            file: file(),
            port: 8080,
            seen: vec![22, 9090],
            lang,
        };
        assert_eq!(
            said(port(Lang::Fr)),
            "f.pcap : aucun segment TCP sur le port 8080 (ports vus: 22, 9090)"
        );
        assert_eq!(
            said(port(Lang::En)),
            "f.pcap: no TCP segment on port 8080 (ports seen: 22, 9090)"
        );
        assert_eq!(
            said(Error::Empty { lang: Lang::Fr }),
            "aucun segment TCP dans ces captures"
        );
    }
}
