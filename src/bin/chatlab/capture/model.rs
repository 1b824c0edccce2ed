//! The conversation behind the captures: connections, each segment with its departure and
//! arrival, its fate, and the TCP states of both ends. No drawing here: `ladder` draws this
//! model, and so does `view`, live and in its replay.
//!
//! # Where each time comes from
//!
//! A segment from host A to host B can be seen in up to three places, all on one clock (the
//! lab's containers share the kernel's):
//!
//! - **entered**: A's netem record (`chatlab netem --record`): when the segment entered the
//!   impairment, i.e. when A's TCP sent it. The only true departure under a netem delay.
//! - **left**: A's capture: tcpdump sees egress after the qdisc and after the NFQUEUE verdict,
//!   so under netem this is when the segment LEFT the impairment. Without a record it is the
//!   best departure we have (and a netem delay then shows as a slow sender, not as a slant).
//! - **arrived**: B's capture.
//!
//! Observations are matched stage by stage (entered → left → arrived) on (flags, seq, ack,
//! length) in time order; see [`match_stage`]. A segment in A's record and in no later stage,
//! while a later one did go through, was dropped by netem (the engine lets packets out in the
//! order they came). One that left A, within B's capture, that B never saw, was lost on the way.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::pcap::{Capture, Flags, Ns, Packet, Tcp};

/// Where a capture was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// tcpdump on the host with this address (None: unknown, every time is "seen").
    Seen(Option<IpAddr>),
    /// The netem record of the host with this address: entry times into the impairment.
    Entered(IpAddr),
}

/// A capture and where it was taken.
pub struct Source {
    pub role: Role,
    pub capture: Capture,
}

impl Source {
    fn span(&self) -> Option<(Ns, Ns)> {
        let p = &self.capture.packets;
        Some((p.iter().map(|p| p.ts).min()?, p.iter().map(|p| p.ts).max()?))
    }
}

/// What became of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Seen arriving at the receiver.
    Arrived,
    /// Dropped by the sender's netem (in its record, never released).
    Dropped,
    /// Left the sender, never seen by the receiver although it was capturing.
    Lost,
    /// The receiver was not captured (or its capture had ended): we cannot know.
    Unknown,
}

/// One segment of a connection and its journey.
#[derive(Clone, Debug)]
pub struct Segment {
    /// 0: from the client (the end that sent the first SYN) to the server; 1: the other way.
    pub from: usize,
    /// Its header's fields and data, as the capture read them.
    pub tcp: Tcp,
    /// When the sender's TCP sent it: entry into netem if recorded, else its capture time.
    pub departed: Option<Ns>,
    /// `departed` comes from a netem record (the true departure, before the delay).
    pub from_record: bool,
    /// When the sender's capture saw it leave (after its netem, if any).
    pub left: Option<Ns>,
    /// When the receiver's capture saw it.
    pub arrived: Option<Ns>,
    pub fate: Fate,
    /// Its data (or SYN/FIN) was already sent before.
    pub retransmission: bool,
    /// A pure ACK repeating the previous one while data is outstanding.
    pub dup_ack: bool,
}

impl Segment {
    /// The segment of side FROM that packet P shows, its journey not yet known.
    fn of(from: usize, p: &Packet) -> Segment {
        Segment {
            from,
            tcp: p.tcp.clone(),
            departed: None,
            from_record: false,
            left: None,
            arrived: None,
            fate: Fate::Unknown,
            retransmission: false,
            dup_ack: false,
        }
    }

    /// The first known time of the segment (departure, else arrival).
    pub fn start(&self) -> Ns {
        self.departed
            .or(self.arrived)
            .expect("a segment was seen somewhere")
    }

    /// Where the arrow ends: the arrival, or its start when only one end was seen; None when
    /// it never arrived.
    pub fn end(&self) -> Option<Ns> {
        match self.fate {
            Fate::Dropped | Fate::Lost => None,
            _ => Some(self.arrived.unwrap_or(self.start())),
        }
    }

    /// Both ends were seen: the arrow's slant is the real one-way delay.
    pub fn both_ends(&self) -> bool {
        self.departed.is_some() && self.arrived.is_some()
    }

    /// Sequence space used: data, plus one for SYN and for FIN.
    pub fn seq_len(&self) -> u32 {
        self.tcp.len
            + u32::from(self.tcp.flags.has(Flags::SYN))
            + u32::from(self.tcp.flags.has(Flags::FIN))
    }
}

/// The TCP states of RFC 793, plus "unknown" for a connection caught in the middle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Unknown,
    Closed,
    Listen,
    SynSent,
    SynRcvd,
    Established,
    FinWait1,
    FinWait2,
    Closing,
    TimeWait,
    CloseWait,
    LastAck,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Unknown => "?",
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN_SENT",
            State::SynRcvd => "SYN_RCVD",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT_1",
            State::FinWait2 => "FIN_WAIT_2",
            State::Closing => "CLOSING",
            State::TimeWait => "TIME_WAIT",
            State::CloseWait => "CLOSE_WAIT",
            State::LastAck => "LAST_ACK",
        }
    }
}

/// A side's state changed at AT, because of segment SEG (sent or received).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub side: usize,
    pub at: Ns,
    pub state: State,
    pub seg: usize,
}

/// One TCP connection, as all the captures together saw it.
#[derive(Debug)]
pub struct Connection {
    /// [client, server]: the client sent the first SYN (without a SYN: the higher port).
    pub ends: [SocketAddr; 2],
    /// In order of their first known time.
    pub segments: Vec<Segment>,
    pub initial: [State; 2],
    pub changes: Vec<Change>,
    /// First sequence number of each side (its ISN when the SYN was seen), for relative numbers.
    pub base: [u32; 2],
    /// Each side's departures come from a netem record (true departures).
    pub recorded: [bool; 2],
    /// Each side's own capture was read (its departures and arrivals are known).
    pub captured: [bool; 2],
    /// Some segments come from a capture whose host is unknown: drawn at the time it saw them.
    pub unplaced: bool,
    /// Segments left out of the middle (the live view keeps a connection's opening and its
    /// latest segments): how many, and from when on the kept ones resume.
    pub elided: Option<Elided>,
}

/// Where one side's departures come from: the note each drawing words under its ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    /// Its netem record: when each segment entered the impairment, the true departure (the
    /// slant is the real one-way delay).
    NetemEntry,
    /// Its own capture, taken after any netem: a netem delay shows as a late send.
    AfterNetem,
    /// A capture whose host is unknown: its segments are placed when it saw them.
    Unknown,
    /// Not captured: its segments are placed at the other end.
    NotCaptured,
}

/// Segments of a connection that were seen and not kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elided {
    pub count: usize,
    /// The kept segments resume here: the gap before it is where the others were.
    pub until: Ns,
}

impl Connection {
    /// Sequence number relative to the sender's first one.
    pub fn rel_seq(&self, s: &Segment) -> u32 {
        s.tcp.seq.wrapping_sub(self.base[s.from])
    }

    /// Acknowledgment number relative to the receiver's first sequence number.
    pub fn rel_ack(&self, s: &Segment) -> u32 {
        s.tcp.ack.wrapping_sub(self.base[1 - s.from])
    }

    /// Say that segments were left out of the middle: E. The states are replayed again, each
    /// receiver taking what comes after the gap as in order (the bytes it holds were not kept).
    pub fn set_elided(&mut self, e: Elided) {
        self.elided = Some(e);
        (self.initial, self.changes) = states(&self.segments, Some(e.until));
    }

    /// Where side SIDE's departures come from.
    pub fn provenance(&self, side: usize) -> Provenance {
        if self.recorded[side] {
            Provenance::NetemEntry
        } else if self.unplaced && !self.captured[side] {
            Provenance::Unknown
        } else if self.captured[side] {
            Provenance::AfterNetem
        } else {
            Provenance::NotCaptured
        }
    }

    /// How many segments were seen: those kept, and those left out of the middle.
    pub fn seen(&self) -> usize {
        self.segments.len() + self.elided.map_or(0, |e| e.count)
    }

    /// The first and last known times.
    pub fn span(&self) -> (Ns, Ns) {
        let first = self.segments.iter().map(Segment::start).min().unwrap_or(0);
        let last = self
            .segments
            .iter()
            .map(|s| s.end().unwrap_or(s.start()).max(s.start()))
            .max()
            .unwrap_or(0);
        (first, last)
    }
}

/// `a <= b` in sequence space (modulo 2^32).
fn seq_le(a: u32, b: u32) -> bool {
    b.wrapping_sub(a) < 1 << 31
}

type Key = (u8, u32, u32, u32);

fn key(p: &Packet) -> Key {
    (p.tcp.flags.0, p.tcp.seq, p.tcp.ack, p.tcp.len)
}

/// Clocks are one, but the receiver stamps a packet after the sender: allow this much the
/// other way (rounding of µs captures).
const SLACK: Ns = 1_000;

/// Match each observation of a later stage (YS) to one of the earlier stage (XS), or none.
///
/// For each y, in time order, the latest unmatched x with the same key seen before it: a
/// segment lost and retransmitted matches its retransmission, not the lost copy. Then, per
/// key, the x's chosen are given back in time order, because both stages keep the order of
/// identical segments (netem's FIFO, the wire): if a retransmission left before the original
/// arrived (a delay longer than the retransmission timeout), the original still matches first.
/// Different segments may be reordered between stages (netem's jitter): each key is matched
/// on its own.
pub fn match_stage(xs: &[&Packet], ys: &[&Packet]) -> Vec<Option<usize>> {
    let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
    for (i, x) in xs.iter().enumerate() {
        by_key.entry(key(x)).or_default().push(i);
    }
    let mut taken = vec![false; xs.len()];
    let mut out = vec![None; ys.len()];
    let mut chosen: HashMap<Key, Vec<(usize, usize)>> = HashMap::new();
    for (j, y) in ys.iter().enumerate() {
        let Some(cands) = by_key.get(&key(y)) else {
            continue;
        };
        let upto = cands.partition_point(|&i| xs[i].ts <= y.ts + SLACK);
        if let Some(&i) = cands[..upto].iter().rev().find(|&&i| !taken[i]) {
            taken[i] = true;
            chosen.entry(key(y)).or_default().push((j, i));
        }
    }
    for pairs in chosen.values_mut() {
        let mut xs_sorted: Vec<usize> = pairs.iter().map(|&(_, i)| i).collect();
        xs_sorted.sort_unstable();
        for (&(j, _), i) in pairs.iter().zip(xs_sorted) {
            out[j] = Some(i);
        }
    }
    out
}

/// Build the connections of all the sources, in order of their first segment.
pub fn connections(sources: &[Source]) -> Vec<Connection> {
    let spans: Vec<Option<(Ns, Ns)>> = sources.iter().map(Source::span).collect();
    connections_within(sources, &spans)
}

/// [`connections`] of sources that hold only some of their files' segments (the connections
/// kept): SPANS says when each file began and ended (a segment that left while its receiver's
/// capture ran, and that it never saw, was lost).
pub fn connections_within(sources: &[Source], spans: &[Option<(Ns, Ns)>]) -> Vec<Connection> {
    // Each capture's time span is given once: a connection asks for its receiver's (the loss
    // rule), and scanning a file per connection made N connections cost N times the file.
    by_connection(sources)
        .into_iter()
        .map(|g| connection(sources, spans, g.ends, &g.obs))
        .collect()
}

/// The observations of one connection.
struct Group<'a> {
    /// [client, server].
    ends: [SocketAddr; 2],
    /// (source, packet), in time order.
    obs: Vec<(usize, &'a Packet)>,
    /// Each end's first SYN sequence number, once seen (two ends: no map needed).
    isn: [Option<(SocketAddr, u32)>; 2],
}

/// Every observation of SOURCES, on one time line, grouped by connection: the same two
/// endpoints, until a SYN with another ISN (a new connection on the same ports).
fn by_connection(sources: &[Source]) -> Vec<Group<'_>> {
    let mut all: Vec<(usize, &Packet)> = sources
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.capture.packets.iter().map(move |p| (i, p)))
        .collect();
    all.sort_by_key(|(_, p)| p.ts);

    let mut groups: Vec<Group> = Vec::new();
    let mut current: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    for (src, p) in all {
        let pair = if p.src < p.dst {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let syn = p.tcp.flags.has(Flags::SYN);
        let new = match current.get(&pair) {
            None => true,
            Some(&g) => {
                syn && groups[g]
                    .isn
                    .iter()
                    .flatten()
                    .any(|&(end, isn)| end == p.src && isn != p.tcp.seq)
            }
        };
        if new {
            current.insert(pair, groups.len());
            groups.push(Group {
                ends: ends_of(p),
                obs: Vec::new(),
                isn: [None, None],
            });
        }
        let g = &mut groups[current[&pair]];
        if syn
            && !g.isn.iter().flatten().any(|&(end, _)| end == p.src)
            && let Some(free) = g.isn.iter_mut().find(|e| e.is_none())
        {
            *free = Some((p.src, p.tcp.seq));
        }
        g.obs.push((src, p));
    }
    groups
}

/// [client, server] of the connection whose first packet seen is P: a SYN comes from the
/// client, a SYN-ACK from the server; without a SYN, the client is the end of the higher port.
fn ends_of(p: &Packet) -> [SocketAddr; 2] {
    let syn = p.tcp.flags.has(Flags::SYN);
    if syn && !p.tcp.flags.has(Flags::ACK) {
        [p.src, p.dst]
    } else if syn {
        [p.dst, p.src]
    } else if p.src.port() > p.dst.port() {
        [p.src, p.dst]
    } else {
        [p.dst, p.src]
    }
}

/// The sources that saw one direction A → B of a connection, stage by stage.
struct Stages {
    /// A's netem records: when each segment entered the impairment.
    entered: Vec<usize>,
    /// A's captures: when each segment left.
    left: Vec<usize>,
    /// B's captures: when each segment arrived.
    arrived: Vec<usize>,
    /// Captures by a host that is neither end, or unknown: each segment "seen" once.
    unknown: Vec<usize>,
}

impl Stages {
    fn of(sources: &[Source], a: SocketAddr, b: SocketAddr) -> Stages {
        let loopback = a.ip() == b.ip();
        let taken = |role: Role| -> Vec<usize> {
            // On loopback one capture sees both ends at once: it is "seen", not a stage.
            if loopback {
                return Vec::new();
            }
            sources
                .iter()
                .enumerate()
                .filter(|(_, s)| s.role == role)
                .map(|(i, _)| i)
                .collect()
        };
        let unknown = sources
            .iter()
            .enumerate()
            .filter(|(_, s)| match s.role {
                Role::Seen(None) => true,
                Role::Seen(Some(ip)) => loopback || (ip != a.ip() && ip != b.ip()),
                Role::Entered(_) => false,
            })
            .map(|(i, _)| i)
            .collect();
        Stages {
            entered: taken(Role::Entered(a.ip())),
            left: taken(Role::Seen(Some(a.ip()))),
            arrived: taken(Role::Seen(Some(b.ip()))),
            unknown,
        }
    }
}

fn connection(
    sources: &[Source],
    spans: &[Option<(Ns, Ns)>],
    ends: [SocketAddr; 2],
    obs: &[(usize, &Packet)],
) -> Connection {
    let mut segments = Vec::new();
    let mut recorded = [false; 2];
    let mut captured = [false; 2];
    let mut unplaced = false;
    for from in 0..2 {
        let (a, b) = (ends[from], ends[1 - from]);
        let at = Stages::of(sources, a, b);
        recorded[from] = !at.entered.is_empty();
        captured[from] = !at.left.is_empty();
        let stage = |srcs: &[usize]| -> Vec<&Packet> {
            obs.iter()
                .filter(|(s, p)| srcs.contains(s) && p.src == a && p.dst == b)
                .map(|(_, p)| *p)
                .collect()
        };
        let (e, s, r) = (stage(&at.entered), stage(&at.left), stage(&at.arrived));
        let r_span = at
            .arrived
            .iter()
            .filter_map(|&i| spans[i])
            .reduce(|x, y| (x.0.min(y.0), x.1.max(y.1)));
        let mut journeys = departures(from, &e, &s);
        // R is matched against the last stage that saw the segments at A.
        let leaving = if !s.is_empty() { &s } else { &e };
        arrivals(from, &mut journeys, leaving, &r, r_span);
        if journeys.is_empty() {
            journeys = seen_once(from, obs, &at.unknown, a, b);
            unplaced |= !journeys.is_empty();
        }
        segments.extend(journeys);
    }
    segments.sort_by_key(|s| (s.start(), s.end().unwrap_or(Ns::MAX)));

    let base = [0, 1].map(|side| {
        segments
            .iter()
            .find(|s| s.from == side && s.tcp.flags.has(Flags::SYN))
            .or_else(|| segments.iter().find(|s| s.from == side))
            .map_or(0, |s| s.tcp.seq)
    });
    mark_retransmissions(&mut segments);
    let (initial, changes) = states(&segments, None);
    Connection {
        ends,
        segments,
        initial,
        changes,
        base,
        recorded,
        captured,
        unplaced,
        elided: None,
    }
}

/// The departures of side FROM: what left A (its capture S), each with its entry into netem
/// (its record E); then what entered netem but never left it. Without a capture of A, the
/// record is the departure stage. The first ones are in the order of S (or of E, without S).
fn departures(from: usize, e: &[&Packet], s: &[&Packet]) -> Vec<Segment> {
    let mut departures: Vec<Segment> = Vec::new();
    if !s.is_empty() || e.is_empty() {
        let m = match_stage(e, s);
        let mut used = vec![false; e.len()];
        for (j, p) in s.iter().enumerate() {
            let mut d = Segment::of(from, p);
            d.left = Some(p.ts);
            match m[j] {
                Some(i) => {
                    used[i] = true;
                    d.departed = Some(e[i].ts);
                    d.from_record = true;
                }
                None => d.departed = Some(p.ts),
            }
            departures.push(d);
        }
        // Entered, never left: dropped, if a later packet did leave (FIFO); else the
        // capture ended first.
        let last_used = used.iter().rposition(|&u| u);
        let s_start = s.first().map_or(0, |p| p.ts);
        for (i, p) in e.iter().enumerate() {
            // Entered before A's capture began: it left unseen, nothing to draw.
            if !used[i] && !s.is_empty() && p.ts >= s_start {
                let mut d = Segment::of(from, p);
                d.departed = Some(p.ts);
                d.from_record = true;
                d.fate = if last_used.is_some_and(|l| l > i) {
                    Fate::Dropped
                } else {
                    Fate::Unknown
                };
                departures.push(d);
            }
        }
    } else {
        // A record but no capture on A: the record is the departure stage.
        for p in e {
            let mut d = Segment::of(from, p);
            d.departed = Some(p.ts);
            d.from_record = true;
            departures.push(d);
        }
    }
    departures
}

/// The arrivals at B (its capture R, which ran over R_SPAN) of side FROM's DEPARTURES, whose
/// first ones left A as LEAVING shows: each arrived, or was lost (it left while R ran and R
/// never saw it), or its fate is unknown. What arrived and was never seen leaving (A not
/// captured, or before its capture) is added to the departures.
fn arrivals(
    from: usize,
    departures: &mut Vec<Segment>,
    leaving: &[&Packet],
    r: &[&Packet],
    r_span: Option<(Ns, Ns)>,
) {
    let m = match_stage(leaving, r);
    let mut arrived_for = vec![None; leaving.len()];
    for (j, mi) in m.iter().enumerate() {
        match mi {
            Some(i) => arrived_for[*i] = Some(j),
            None => {
                let mut d = Segment::of(from, r[j]);
                d.arrived = Some(r[j].ts);
                d.fate = Fate::Arrived;
                departures.push(d);
            }
        }
    }
    // (The departures after LEAVING's, dropped by netem or only seen arriving, keep theirs.)
    for (i, left) in leaving.iter().enumerate() {
        let d = &mut departures[i];
        match arrived_for[i] {
            Some(j) => {
                d.arrived = Some(r[j].ts);
                d.fate = Fate::Arrived;
            }
            None => {
                d.fate = match r_span {
                    Some((lo, hi)) if left.ts >= lo && left.ts <= hi => Fate::Lost,
                    _ => Fate::Unknown,
                };
            }
        }
    }
}

/// The segments A → B of side FROM that captures by unknown hosts saw (the sources UNKNOWN,
/// among the observations OBS), each "seen" at one time. A segment seen by several of them is
/// one: the k-th copy of a segment in one capture is the k-th copy in another (both saw the
/// same wire in its order); only the copies beyond are drawn again (a retransmission one
/// capture saw, another did not).
fn seen_once(
    from: usize,
    obs: &[(usize, &Packet)],
    unknown: &[usize],
    a: SocketAddr,
    b: SocketAddr,
) -> Vec<Segment> {
    let mut seen = Vec::new();
    let mut drawn: HashMap<Key, usize> = HashMap::new();
    for &u in unknown {
        let mut here: HashMap<Key, usize> = HashMap::new();
        for (src, p) in obs {
            if *src != u || p.src != a || p.dst != b {
                continue;
            }
            let n = here.entry(key(p)).or_default();
            *n += 1;
            if *n > drawn.get(&key(p)).copied().unwrap_or(0) {
                let mut d = Segment::of(from, p);
                d.departed = Some(p.ts);
                seen.push(d);
            }
        }
        for (k, n) in here {
            let d = drawn.entry(k).or_default();
            *d = (*d).max(n);
        }
    }
    seen
}

/// Retransmissions (data, SYN or FIN sent again) and duplicate ACKs, in order of departure.
fn mark_retransmissions(segments: &mut [Segment]) {
    let mut order: Vec<usize> = (0..segments.len()).collect();
    order.sort_by_key(|&i| segments[i].start());
    let mut sent_to: [Option<u32>; 2] = [None, None];
    let mut last_ack: [Option<(u32, u16)>; 2] = [None, None];
    for i in order {
        let s = &mut segments[i];
        let side = s.from;
        let n = s.seq_len();
        if n > 0 {
            let end = s.tcp.seq.wrapping_add(n);
            match sent_to[side] {
                Some(high) if seq_le(end, high) => s.retransmission = true,
                _ => sent_to[side] = Some(end),
            }
        }
        // A pure ACK repeating this side's previous segment, itself a pure ACK, while the
        // other side has data outstanding: the receiver saw something out of order.
        let pure_ack = s.tcp.flags.0 & !Flags::PSH == Flags::ACK && s.tcp.len == 0;
        if pure_ack {
            let outstanding = sent_to[1 - side].is_some_and(|high| !seq_le(high, s.tcp.ack));
            if outstanding && last_ack[side] == Some((s.tcp.ack, s.tcp.win)) {
                s.dup_ack = true;
            }
            last_ack[side] = Some((s.tcp.ack, s.tcp.win));
        } else {
            last_ack[side] = None;
        }
    }
}

/// The receiving half of one side: the next sequence number expected, the ranges received
/// beyond it, and the peer's FIN once seen.
#[derive(Default)]
struct Receiver {
    next: Option<u32>,
    ahead: Vec<(u32, u32)>,
    fin: Option<u32>,
    fin_done: bool,
}

impl Receiver {
    /// Take segment S; true when the peer's FIN has now arrived in order (once).
    fn receive(&mut self, s: &Segment) -> bool {
        let syn = s.tcp.flags.has(Flags::SYN);
        let start = s.tcp.seq.wrapping_add(u32::from(syn));
        let end = start.wrapping_add(s.tcp.len);
        if s.tcp.flags.has(Flags::FIN) {
            self.fin = Some(end);
        }
        let fin_end = |e: u32| {
            if s.tcp.flags.has(Flags::FIN) {
                e.wrapping_add(1)
            } else {
                e
            }
        };
        match self.next {
            _ if syn => self.next = Some(fin_end(end)),
            // Caught in the middle: take it as in order.
            None => self.next = Some(fin_end(end)),
            Some(next) if seq_le(start, next) => {
                if !seq_le(fin_end(end), next) {
                    self.next = Some(fin_end(end));
                }
            }
            Some(_) => self.ahead.push((start, fin_end(end))),
        }
        // Fill the gap with what arrived ahead.
        while let Some(next) = self.next {
            let Some(k) = self.ahead.iter().position(|&(a, _)| seq_le(a, next)) else {
                break;
            };
            let (_, b) = self.ahead.swap_remove(k);
            if !seq_le(b, next) {
                self.next = Some(b);
            }
        }
        let in_order = match (self.fin, self.next) {
            (Some(fin), Some(next)) => !self.fin_done && !seq_le(next, fin),
            _ => false,
        };
        if in_order {
            self.fin_done = true;
        }
        in_order
    }
}

/// Each side's state, replayed from what it sent (at departure) and received (at arrival).
/// RESUME: segments were left out before this instant (see [`Elided`]): there each receiver
/// takes what comes next as in order, as for a connection caught in the middle.
fn states(segments: &[Segment], resume: Option<Ns>) -> ([State; 2], Vec<Change>) {
    let initial = initial_states(segments);
    let mut state = initial;
    // The ACK number that acknowledges each side's FIN, once sent.
    let mut fin_ack: [Option<u32>; 2] = [None, None];
    // What each side has received in order: TCP acts on a FIN only once every byte before
    // it has arrived (a FIN that overtakes lost data waits in the out-of-order queue).
    let mut rcv = [Receiver::default(), Receiver::default()];
    let mut resume = resume;
    let mut changes = Vec::new();
    for (t, side, received, i) in events(segments) {
        if resume.is_some_and(|r| t >= r) {
            resume = None;
            for r in &mut rcv {
                r.next = None;
                r.ahead.clear();
            }
        }
        let s = &segments[i];
        let before = state[side];
        let st = match before {
            // Caught in the middle.
            State::Unknown if !s.tcp.flags.has(Flags::SYN) => State::Established,
            st => st,
        };
        let st = if s.tcp.flags.has(Flags::RST) {
            State::Closed
        } else if !received {
            after_sending(st, s, &mut fin_ack[side])
        } else {
            let fin = rcv[side].receive(s);
            after_receiving(st, s, fin, fin_ack[side])
        };
        if st != before {
            state[side] = st;
            changes.push(Change {
                side,
                at: t,
                state: st,
                seg: i,
            });
        }
    }
    (initial, changes)
}

/// Each side's state before the first segment: the one that sent the first SYN is CLOSED,
/// the other LISTEN (or CLOSED, if it answered with a RST); without a SYN, unknown.
fn initial_states(segments: &[Segment]) -> [State; 2] {
    let first_syn = segments
        .iter()
        .find(|s| s.tcp.flags.has(Flags::SYN) && !s.tcp.flags.has(Flags::ACK));
    let mut initial = match first_syn {
        Some(s) if s.from == 0 => [State::Closed, State::Listen],
        Some(_) => [State::Listen, State::Closed],
        None => [State::Unknown, State::Unknown],
    };
    // Refused: nothing listened, the kernel answered the SYN with a RST.
    if let Some(syn) = first_syn {
        let passive = 1 - syn.from;
        if segments
            .iter()
            .find(|s| s.from == passive)
            .is_some_and(|s| s.tcp.flags.has(Flags::RST))
        {
            initial[passive] = State::Closed;
        }
    }
    initial
}

/// What each side did, in time order: (time, side, received?, segment): a segment is sent
/// by its side at its departure, and received by the other at its arrival.
fn events(segments: &[Segment]) -> Vec<(Ns, usize, bool, usize)> {
    let mut events = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        if let Some(t) = s.departed {
            events.push((t, s.from, false, i));
        }
        if let Some(t) = s.end() {
            // A segment seen only at its receiver still was sent (at an unknown time, drawn
            // at its arrival).
            if s.departed.is_none() {
                events.push((t, s.from, false, i));
            }
            events.push((t, 1 - s.from, true, i));
        }
    }
    events.sort_by_key(|&(t, _, received, i)| (t, i, received));
    events
}

/// The state of a side in state ST once it has sent S; FIN_ACK: the ACK number that will
/// acknowledge its FIN, set when it sends one.
fn after_sending(st: State, s: &Segment, fin_ack: &mut Option<u32>) -> State {
    let f = s.tcp.flags;
    if f.has(Flags::FIN) {
        fin_ack.get_or_insert(s.tcp.seq.wrapping_add(s.tcp.len).wrapping_add(1));
    }
    match (st, f.has(Flags::SYN), f.has(Flags::ACK), f.has(Flags::FIN)) {
        (State::Closed, true, false, _) => State::SynSent,
        (State::Established, _, _, true) => State::FinWait1,
        (State::CloseWait, _, _, true) => State::LastAck,
        (st, ..) => st,
    }
}

/// The state of a side in state ST once it has received S; FIN: the peer's FIN has now
/// arrived in order; FIN_ACK: the ACK number that acknowledges this side's FIN, once sent.
fn after_receiving(st: State, s: &Segment, fin: bool, fin_ack: Option<u32>) -> State {
    let f = s.tcp.flags;
    let acks_my_fin = f.has(Flags::ACK) && fin_ack.is_some_and(|fa| seq_le(fa, s.tcp.ack));
    match (st, f.has(Flags::SYN), f.has(Flags::ACK)) {
        (State::Listen, true, false) => State::SynRcvd,
        (State::SynSent, true, true) => State::Established,
        (State::SynSent, true, false) => State::SynRcvd,
        (State::SynRcvd, false, true) => {
            if fin {
                State::CloseWait
            } else {
                State::Established
            }
        }
        (State::Established, false, _) if fin => State::CloseWait,
        (State::FinWait1, false, _) => match (acks_my_fin, fin) {
            (true, true) => State::TimeWait,
            (true, false) => State::FinWait2,
            (false, true) => State::Closing,
            (false, false) => State::FinWait1,
        },
        (State::FinWait2, false, _) if fin => State::TimeWait,
        (State::Closing, false, _) if acks_my_fin => State::TimeWait,
        (State::LastAck, false, _) if acks_my_fin => State::Closed,
        (st, ..) => st,
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::capture::pcap::{Flags as F, test_segment};

    pub const C: &str = "10.80.80.11:40000";
    pub const S: &str = "10.80.80.10:8080";
    pub const MS: Ns = 1_000_000;

    /// A conversation written as (sent at, from client?, flags, seq, ack, data), relative
    /// numbers (client ISN 1000, server ISN 5000), and what each host's capture saw of it.
    pub struct Script {
        pub client: Vec<Packet>,
        pub server: Vec<Packet>,
        pub record: Vec<Packet>,
    }

    /// The segment of [`test_segment`]'s connection (C to S, or back) of the script's
    /// relative SEQ and ACK.
    pub fn p(t: Ns, from_client: bool, flags: u8, seq: u32, ack: u32, data: &[u8]) -> Packet {
        let (isn, peer) = if from_client {
            (1000, 5000)
        } else {
            (5000, 1000)
        };
        let ack = if flags & F::ACK != 0 { peer + ack } else { 0 };
        test_segment(t, from_client, flags, isn + seq, ack, data)
    }

    impl Script {
        pub fn new() -> Self {
            Script {
                client: vec![],
                server: vec![],
                record: vec![],
            }
        }

        /// A segment sent at T by the client (or the server) reaching the other after D ms
        /// (None: lost on the way).
        #[expect(
            clippy::too_many_arguments,
            reason = "a segment's fields, as a test reads them"
        )]
        pub fn send(
            &mut self,
            t: Ns,
            from_client: bool,
            flags: u8,
            seq: u32,
            ack: u32,
            data: &[u8],
            d: Option<Ns>,
        ) -> &mut Self {
            let pk = p(t, from_client, flags, seq, ack, data);
            let (me, peer) = if from_client {
                (&mut self.client, &mut self.server)
            } else {
                (&mut self.server, &mut self.client)
            };
            me.push(pk.clone());
            if let Some(d) = d {
                peer.push(Packet { ts: t + d, ..pk });
            }
            self
        }

        /// The captures as lab/capture writes them: DIR/NAME-client.pcap, NAME-server.pcap
        /// (and NAME-client.netem.pcap when there is a record).
        pub fn write(&self, dir: &std::path::Path, name: &str) {
            use crate::capture::pcap::{Writer, ip_packet};
            for (host, pk) in [
                ("client", &self.client),
                ("server", &self.server),
                ("client.netem", &self.record),
            ] {
                if pk.is_empty() {
                    continue;
                }
                let mut packets = pk.clone();
                packets.sort_by_key(|p| p.ts);
                let file = std::fs::File::create(dir.join(format!("{name}-{host}.pcap")))
                    .expect("create a capture");
                let mut w = Writer::new(file, 65535).unwrap();
                for p in &packets {
                    let bytes = ip_packet(p);
                    w.packet(p.ts, &bytes, bytes.len() as u32).unwrap();
                }
                w.flush().unwrap();
            }
        }

        pub fn sources(&self) -> Vec<Source> {
            let mut out = vec![];
            for (role, pk) in [
                (Role::Seen(Some(ip(C))), &self.client),
                (Role::Seen(Some(ip(S))), &self.server),
                (Role::Entered(ip(C)), &self.record),
            ] {
                if !pk.is_empty() {
                    let mut packets = pk.clone();
                    packets.sort_by_key(|p| p.ts);
                    out.push(Source {
                        role,
                        capture: Capture {
                            packets,
                            ..Default::default()
                        },
                    });
                }
            }
            out
        }
    }

    pub fn ip(a: &str) -> IpAddr {
        a.parse::<SocketAddr>().unwrap().ip()
    }

    const SYN: u8 = F::SYN;
    const SA: u8 = F::SYN | F::ACK;
    const A: u8 = F::ACK;
    const PA: u8 = F::PSH | F::ACK;
    const FA: u8 = F::FIN | F::ACK;
    const RA: u8 = F::RST | F::ACK;

    /// Handshake, "bonjour\n" from the client, "salut\n" from the server, 1 ms one way.
    pub fn talk() -> Script {
        let mut s = Script::new();
        let d = Some(MS);
        s.send(0, true, SYN, 0, 0, b"", d)
            .send(2 * MS, false, SA, 0, 1, b"", d)
            .send(4 * MS, true, A, 1, 1, b"", d)
            .send(10 * MS, true, PA, 1, 1, b"bonjour\n", d)
            .send(12 * MS, false, A, 1, 9, b"", d)
            .send(20 * MS, false, PA, 1, 9, b"salut\n", d)
            .send(22 * MS, true, A, 9, 7, b"", d);
        s
    }

    /// [`talk`], then more data from the client at T (reaching the server after DEPARTED;
    /// None: lost on the way).
    pub fn talk_then(t: Ns, data: &[u8], departed: Option<Ns>) -> Script {
        let mut s = talk();
        s.send(t, true, PA, 9, 7, data, departed);
        s
    }

    fn timeline(c: &Connection) -> Vec<(usize, &'static str)> {
        c.changes
            .iter()
            .map(|ch| (ch.side, ch.state.name()))
            .collect()
    }

    fn one(s: &Script) -> Connection {
        let mut conns = connections(&s.sources());
        assert_eq!(conns.len(), 1);
        conns.remove(0)
    }

    /// The changes of state after [`talk`]'s handshake once SENDS have gone too (no data,
    /// each departing `departed` before it is seen), as "side STATE" joined by ", ".
    fn closing(departed: Ns, sends: &[(Ns, bool, u8, u32, u32)]) -> String {
        let mut s = talk();
        for &(t, from_client, flags, seq, ack) in sends {
            s.send(t, from_client, flags, seq, ack, b"", Some(departed));
        }
        let changes = timeline(&one(&s))[4..]
            .iter()
            .map(|(side, state)| format!("{side} {state}"))
            .collect::<Vec<_>>();
        changes.join(", ")
    }

    #[test]
    fn handshake_and_data_both_ways() {
        let c = one(&talk());
        assert_eq!(c.ends, [C.parse().unwrap(), S.parse().unwrap()]);
        assert_eq!(c.initial, [State::Closed, State::Listen]);
        assert_eq!(
            timeline(&c),
            [
                (0, "SYN_SENT"),
                (1, "SYN_RCVD"),
                (0, "ESTABLISHED"),
                (1, "ESTABLISHED")
            ]
        );
        assert_eq!(c.segments.len(), 7);
        for s in &c.segments {
            assert_eq!(s.fate, Fate::Arrived);
            assert_eq!(s.arrived.unwrap() - s.departed.unwrap(), MS);
            assert!(!s.retransmission && !s.dup_ack);
        }
        let data = &c.segments[3];
        assert_eq!(
            (c.rel_seq(data), c.rel_ack(data), &data.tcp.data[..]),
            (1, 1, &b"bonjour\n"[..])
        );
        // The SYN_RCVD of the server comes when the SYN arrives, not when it left.
        assert_eq!(c.changes[1].at, MS);
    }

    /// Each way a connection closes: the segments sent after the handshake and data of
    /// [`talk`] (taking DELAY to arrive), and the state changes they make.
    #[test]
    fn each_way_to_close() {
        type Sends = &'static [(Ns, bool, u8, u32, u32)];
        let cases: [(&str, Ns, Sends, &str); 4] = [
            (
                "the client closes first",
                MS,
                &[
                    (30 * MS, true, FA, 9, 7),
                    (32 * MS, false, A, 7, 10),
                    (40 * MS, false, FA, 7, 10),
                    (42 * MS, true, A, 10, 8),
                ],
                "0 FIN_WAIT_1, 1 CLOSE_WAIT, 0 FIN_WAIT_2, 1 LAST_ACK, 0 TIME_WAIT, 1 CLOSED",
            ),
            (
                "the server closes first, with FIN and ACK together",
                MS,
                &[
                    (30 * MS, false, FA, 7, 9),
                    (40 * MS, true, FA, 9, 8),
                    (42 * MS, false, A, 8, 10),
                ],
                "1 FIN_WAIT_1, 0 CLOSE_WAIT, 0 LAST_ACK, 1 TIME_WAIT, 0 CLOSED",
            ),
            (
                "simultaneous close",
                5 * MS,
                &[
                    (30 * MS, true, FA, 9, 7),
                    (31 * MS, false, FA, 7, 9),
                    (36 * MS, true, A, 10, 8),
                    (37 * MS, false, A, 8, 10),
                ],
                "0 FIN_WAIT_1, 1 FIN_WAIT_1, 1 CLOSING, 0 CLOSING, 1 TIME_WAIT, 0 TIME_WAIT",
            ),
            (
                "a reset closes both",
                MS,
                &[(30 * MS, true, RA, 9, 7)],
                "0 CLOSED, 1 CLOSED",
            ),
        ];
        for (what, delay, sends, changes) in cases {
            assert_eq!(closing(delay, sends), changes, "{what}");
        }
    }

    #[test]
    fn a_refused_connection() {
        let mut s = Script::new();
        s.send(0, true, SYN, 0, 0, b"", Some(MS))
            .send(2 * MS, false, RA, 0, 1, b"", Some(MS));
        let c = one(&s);
        assert_eq!(c.initial, [State::Closed, State::Closed]);
        assert_eq!(timeline(&c), [(0, "SYN_SENT"), (0, "CLOSED")]);
    }

    #[test]
    fn loss_on_the_way_and_retransmission() {
        let mut s = talk();
        s.send(30 * MS, true, PA, 9, 7, b"perdu\n", None)
            .send(31 * MS, false, PA, 7, 9, b"x", Some(MS))
            .send(33 * MS, true, A, 15, 8, b"", Some(MS))
            .send(34 * MS, false, A, 8, 9, b"", Some(MS))
            .send(35 * MS, false, A, 8, 9, b"", Some(MS))
            .send(230 * MS, true, PA, 9, 8, b"perdu\n", Some(MS));
        let c = one(&s);
        let lost: Vec<_> = c.segments.iter().filter(|s| s.fate == Fate::Lost).collect();
        assert_eq!(lost.len(), 1);
        assert_eq!(lost[0].start(), 30 * MS);
        let re: Vec<_> = c.segments.iter().filter(|s| s.retransmission).collect();
        assert_eq!(re.len(), 1);
        assert_eq!((re[0].start(), re[0].fate), (230 * MS, Fate::Arrived));
        let dups: Vec<_> = c
            .segments
            .iter()
            .filter(|s| s.dup_ack)
            .map(|s| s.start())
            .collect();
        assert_eq!(dups, [35 * MS]);
    }

    #[test]
    fn a_fin_that_overtakes_lost_data_waits_for_it() {
        let mut s = talk();
        s.send(30 * MS, true, PA, 9, 7, b"perdu\n", None)
            .send(31 * MS, true, FA, 15, 7, b"", Some(MS))
            .send(32 * MS, false, A, 7, 9, b"", Some(MS))
            .send(230 * MS, true, PA, 9, 7, b"perdu\n", Some(MS))
            .send(232 * MS, false, A, 7, 16, b"", Some(MS));
        let c = one(&s);
        let close_wait = c
            .changes
            .iter()
            .find(|ch| ch.state == State::CloseWait)
            .unwrap();
        assert_eq!((close_wait.side, close_wait.at), (1, 231 * MS));
        assert_eq!(
            timeline(&c)[4..],
            [(0, "FIN_WAIT_1"), (1, "CLOSE_WAIT"), (0, "FIN_WAIT_2")]
        );
    }

    #[test]
    fn a_retransmission_that_leaves_before_the_original_arrives() {
        // Same bytes twice, 50 ms apart, each taking 100 ms: the first copy arrives first.
        let mut s = talk();
        s.send(30 * MS, true, PA, 9, 7, b"lent\n", Some(100 * MS))
            .send(80 * MS, true, PA, 9, 7, b"lent\n", Some(100 * MS));
        let c = one(&s);
        let copies: Vec<_> = c.segments.iter().filter(|s| s.tcp.len == 5).collect();
        assert_eq!(copies.len(), 2);
        for s in copies {
            assert_eq!(s.arrived.unwrap() - s.departed.unwrap(), 100 * MS);
        }
    }

    #[test]
    fn reordered_segments_keep_their_own_delays() {
        let mut s = talk();
        s.send(30 * MS, true, PA, 9, 7, b"a", Some(50 * MS)).send(
            31 * MS,
            true,
            PA,
            10,
            7,
            b"b",
            Some(20 * MS),
        );
        let c = one(&s);
        let a = c.segments.iter().find(|s| s.tcp.data == b"a").unwrap();
        let b = c.segments.iter().find(|s| s.tcp.data == b"b").unwrap();
        assert_eq!((a.arrived, b.arrived), (Some(80 * MS), Some(51 * MS)));
        assert!(!b.retransmission);
    }

    #[test]
    fn netem_record_gives_true_departures_and_drops() {
        // The client's netem holds each segment 100 ms and drops one: its capture sees them
        // when they leave netem, its record when they entered it.
        let mut s = Script::new();
        let held = 100 * MS;
        for (t, flags, seq, ack, data, dropped) in [
            (0, SYN, 0, 0, &b""[..], false),
            (104 * MS, A, 1, 1, b"", false),
            (110 * MS, PA, 1, 1, b"un\n", true),
            (330 * MS, PA, 1, 1, b"un\n", false),
        ] {
            let pk = p(t, true, flags, seq, ack, data);
            s.record.push(pk.clone());
            if !dropped {
                s.client.push(Packet {
                    ts: t + held,
                    ..pk.clone()
                });
                s.server.push(Packet {
                    ts: t + held + MS,
                    ..pk
                });
            }
        }
        let sa = p(101 * MS, false, SA, 0, 1, b"");
        s.server.push(sa.clone());
        s.client.push(Packet { ts: 102 * MS, ..sa });
        let c = one(&s);
        assert_eq!(c.recorded, [true, false]);
        let from = [c.provenance(0), c.provenance(1)];
        assert_eq!(from, [Provenance::NetemEntry, Provenance::AfterNetem]);
        let syn = &c.segments[0];
        assert!(syn.from_record);
        assert_eq!(
            (syn.departed, syn.left, syn.arrived),
            (Some(0), Some(100 * MS), Some(101 * MS))
        );
        let dropped: Vec<_> = c
            .segments
            .iter()
            .filter(|s| s.fate == Fate::Dropped)
            .collect();
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].departed, Some(110 * MS));
        let re = c.segments.iter().find(|s| s.retransmission).unwrap();
        assert_eq!((re.departed, re.arrived), (Some(330 * MS), Some(431 * MS)));
        // SYN_SENT at entry into netem (when TCP sent it), not when netem let it go.
        assert_eq!((c.changes[0].side, c.changes[0].at), (0, 0));
    }

    #[test]
    fn one_capture_only_gives_one_end() {
        let s = talk();
        let mut srcs = s.sources();
        srcs.remove(0); // the client's capture
        let c = connections(&srcs).remove(0);
        assert_eq!(c.captured, [false, true]);
        let from = [c.provenance(0), c.provenance(1)];
        assert_eq!(from, [Provenance::NotCaptured, Provenance::AfterNetem]);
        for s in &c.segments {
            assert!(!s.both_ends());
            assert_eq!(s.end(), Some(s.start()));
        }
        assert_eq!(timeline(&c)[..2], [(0, "SYN_SENT"), (1, "SYN_RCVD")]);
    }

    #[test]
    fn captures_of_unknown_hosts_draw_a_segment_they_both_saw_once() {
        let mut s = talk();
        s.send(30 * MS, true, PA, 9, 7, b"perdu\n", None).send(
            230 * MS,
            true,
            PA,
            9,
            7,
            b"perdu\n",
            Some(MS),
        );
        let mut srcs = s.sources();
        for src in &mut srcs {
            src.role = Role::Seen(None);
        }
        let c = one_of(&srcs);
        assert!(c.unplaced);
        let from = [c.provenance(0), c.provenance(1)];
        assert_eq!(from, [Provenance::Unknown, Provenance::Unknown]);
        // The 7 of talk() and both copies of "perdu": the client saw two, the server one.
        assert_eq!(c.segments.len(), 9);
        let re: Vec<_> = c.segments.iter().filter(|s| s.retransmission).collect();
        assert_eq!(re.len(), 1);
        assert_eq!(re[0].tcp.data, b"perdu\n");
    }

    fn one_of(srcs: &[Source]) -> Connection {
        let mut conns = connections(srcs);
        assert_eq!(conns.len(), 1);
        conns.remove(0)
    }

    #[test]
    fn a_new_syn_on_the_same_ports_is_a_new_connection() {
        let mut s = talk();
        let mut again = talk();
        for pk in again.client.iter_mut().chain(again.server.iter_mut()) {
            pk.ts += 1000 * MS;
            let tcp = &mut pk.tcp;
            if pk.src == C.parse().unwrap() {
                tcp.seq = tcp.seq.wrapping_add(77_777);
            } else {
                tcp.ack = tcp
                    .ack
                    .wrapping_add(if tcp.flags.has(F::ACK) { 77_777 } else { 0 });
            }
        }
        s.client.extend(again.client);
        s.server.extend(again.server);
        let conns = connections(&s.sources());
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[1].segments.len(), 7);
    }
}
