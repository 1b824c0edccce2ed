//! What is kept of the captures: per connection and per file, its first observations (the
//! opening) and its latest ones; what falls between is counted, not kept, and the drawing says
//! it where it was (a band « 9 412 segments not shown »), so it never pretends the wire was
//! quiet. Memory is thus a small multiple of what is drawn, whatever the captures' length:
//! `chatlab ladder` and the replay read whole files through it, the live view growing ones.
//!
//! Every file of a connection is cut at the same instant: a segment is kept on both hosts or
//! on neither (but one that straddles the instant, kept at its arrival only and drawn flat).
//! Cutting each file on its own would leave segments seen leaving and never arriving: a loss
//! that never happened.
//!
//! Which connections are kept at all is the [`Census`]'s choice: it numbers every connection
//! of the captures as they go by (a hash lookup per segment, a 24-byte entry per connection)
//! and says which ones to keep (those that will be listed or drawn); the others are counted.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;

use super::model::{Connection, Elided};
use super::pcap::{Flags, Ns, Packet};

/// A connection, by its two ends (in a canonical order).
pub type Pair = (SocketAddr, SocketAddr);

pub fn pair(p: &Packet) -> Pair {
    if p.src < p.dst {
        (p.src, p.dst)
    } else {
        (p.dst, p.src)
    }
}

/// The key of connection C.
pub fn pair_of(c: &Connection) -> Pair {
    let [a, b] = c.ends;
    if a < b { (a, b) } else { (b, a) }
}

/// What one file holds of one connection.
struct Part {
    file: usize,
    /// Its first `head` observations, then those from the cut on, in the file's order.
    packets: Vec<Packet>,
    /// The observations left out in each direction (from the pair's first end, from its
    /// second).
    out: [usize; 2],
}

/// One connection, as the files saw it.
struct Conn {
    parts: Vec<Part>,
    /// Its first observation.
    first: Ns,
    /// Observations before this instant (but the opening) are gone, from every file.
    cut: Ns,
    /// The kept observations resume here (after the latest cut that left something out).
    until: Ns,
}

/// The connections of some capture files, each kept as its opening and its latest
/// observations. Files are numbers given by [`Window::file`].
pub struct Window {
    head: usize,
    latest: usize,
    /// Per file: a netem record (its observations left out are not segments left out: the
    /// captures say those).
    records: Vec<bool>,
    conns: HashMap<Pair, Conn>,
}

impl Window {
    /// Keep, per connection and file, its first HEAD observations and its LATEST last ones.
    pub fn new(head: usize, latest: usize) -> Window {
        Window {
            head,
            latest: latest.max(1),
            records: Vec::new(),
            conns: HashMap::new(),
        }
    }

    /// A new file (RECORD: a netem record); its number.
    pub fn file(&mut self, record: bool) -> usize {
        self.records.push(record);
        self.records.len() - 1
    }

    /// Observation P of FILE (files are read in their order: time order).
    pub fn add(&mut self, file: usize, p: Packet) {
        let k = pair(&p);
        let c = self.conns.entry(k).or_insert_with(|| Conn {
            parts: Vec::new(),
            first: p.ts,
            cut: Ns::MIN,
            until: Ns::MIN,
        });
        c.first = c.first.min(p.ts);
        let at = match c.parts.iter().position(|x| x.file == file) {
            Some(at) => at,
            None => {
                c.parts.push(Part {
                    file,
                    packets: Vec::new(),
                    out: [0, 0],
                });
                c.parts.len() - 1
            }
        };
        c.parts[at].packets.push(p);
        // Cut once a file holds twice its window: each observation is moved O(1) times.
        if c.parts[at].packets.len() >= self.head + 2 * self.latest {
            c.trim(k, self.head, self.latest, &self.records);
        }
    }

    /// Cut every connection down to its window (after a batch of [`Window::add`]): each file
    /// of a connection then holds at most its opening and its latest observations from the
    /// same instant on.
    pub fn settle(&mut self) {
        let (head, latest) = (self.head, self.latest);
        for (k, c) in &mut self.conns {
            let over = c.parts.iter().any(|p| p.packets.len() > head + latest);
            if over || c.cut != Ns::MIN {
                c.trim(*k, head, latest, &self.records);
            }
        }
    }

    /// Keep only the N connections that began last.
    pub fn keep_newest(&mut self, n: usize) {
        if self.conns.len() <= n {
            return;
        }
        let mut firsts: Vec<(Ns, Pair)> = self.conns.iter().map(|(k, c)| (c.first, *k)).collect();
        firsts.sort_unstable_by(|a, b| b.cmp(a));
        for (_, k) in &firsts[n..] {
            self.conns.remove(k);
        }
    }

    /// Forget what FILE gave (it was replaced by another file of the same name).
    pub fn clear_file(&mut self, file: usize) {
        for c in self.conns.values_mut() {
            c.parts.retain(|p| p.file != file);
        }
        self.conns.retain(|_, c| !c.parts.is_empty());
    }

    /// The observations kept, in all files.
    pub fn kept(&self) -> usize {
        self.conns
            .values()
            .flat_map(|c| &c.parts)
            .map(|p| p.packets.len())
            .sum()
    }

    /// The observations kept of FILE, in time order, copied.
    pub fn packets(&self, file: usize) -> Vec<Packet> {
        let mut out: Vec<Packet> = self
            .conns
            .values()
            .flat_map(|c| &c.parts)
            .filter(|p| p.file == file)
            .flat_map(|p| p.packets.iter().cloned())
            .collect();
        out.sort_by_key(|p| p.ts);
        out
    }

    /// The observations kept of FILE, in time order, taken out of the window.
    pub fn take(&mut self, file: usize) -> Vec<Packet> {
        let mut out: Vec<Packet> = Vec::new();
        for c in self.conns.values_mut() {
            for p in c.parts.iter_mut().filter(|p| p.file == file) {
                out.append(&mut p.packets);
            }
        }
        out.sort_by_key(|p| p.ts);
        out
    }

    /// Per connection, what each file holds of it: (file, its observations kept).
    pub fn conns(&self) -> impl Iterator<Item = Vec<(usize, &[Packet])>> {
        self.conns.values().map(|c| {
            c.parts
                .iter()
                .map(|p| (p.file, p.packets.as_slice()))
                .collect()
        })
    }

    /// What was left out of connection K: how many segments, and where the kept ones resume.
    pub fn elided(&self, k: &Pair) -> Option<Elided> {
        let c = self.conns.get(k)?;
        // A segment goes from the file that saw it leave when it left before the cut, and
        // from the file that saw it arrive when it ARRIVED before the cut: then it is gone
        // from both. So in each direction, the capture that left out the fewest is the one
        // that saw those segments arrive, and its count is theirs.
        let count: usize = (0..2)
            .map(|d| {
                c.parts
                    .iter()
                    .filter(|p| !self.records[p.file])
                    .map(|p| p.out[d])
                    .min()
                    .unwrap_or(0)
            })
            .sum();
        (count > 0).then_some(Elided {
            count,
            until: c.until,
        })
    }
}

impl Conn {
    /// Cut every file of connection K at one instant: the latest one that leaves each file
    /// at most LATEST observations from it on (never earlier than a cut made before). The
    /// first HEAD observations of each file stay.
    fn trim(&mut self, k: Pair, head: usize, latest: usize, records: &[bool]) {
        for p in &self.parts {
            if p.packets.len() > head + latest {
                self.cut = self.cut.max(p.packets[p.packets.len() - latest].ts);
            }
        }
        if self.cut == Ns::MIN {
            return;
        }
        let cut = self.cut;
        for part in &mut self.parts {
            let mut rank = 0;
            let mut dropped = [0, 0];
            part.packets.retain(|p| {
                rank += 1;
                let keep = rank <= head || p.ts >= cut;
                dropped[usize::from(p.src != k.0)] += usize::from(!keep);
                keep
            });
            if records[part.file] {
                continue;
            }
            part.out[0] += dropped[0];
            part.out[1] += dropped[1];
            if dropped != [0, 0] {
                self.until = self.until.max(cut);
            }
        }
    }
}

/// A netem record's segment may enter the impairment before the captures begin: this much
/// earlier is still theirs (as [`super::reading::keep_recorded_seen`] says).
pub const RECORD_MARGIN: Ns = 10_000_000_000;

/// Which connections to keep (numbers from 0, in the order the captures first saw them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    /// The first ones: connections 0 to FIRST - 1.
    pub first: usize,
    /// And this one.
    pub also: Option<usize>,
}

impl Pick {
    fn wants(self, n: usize) -> bool {
        n < self.first || self.also == Some(n)
    }
}

/// A connection kept: its number, its ends, when the captures first saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Picked {
    pub number: usize,
    pub pair: Pair,
    pub first: Ns,
}

/// What the census holds per pair of ends, for its latest connection: 12 bytes.
#[derive(Clone, Copy, Default)]
struct Gen {
    /// Each end's first SYN sequence number (end 0: the pair's first), once seen.
    isn: [u32; 2],
    /// ISN_0, ISN_1, PICKED, SEEN_0, SEEN_1, EVER_PICKED.
    flags: u8,
    /// The files (their bits) that saw this pair.
    files: u16,
}

const ISN: [u8; 2] = [1, 2];
const PICKED: u8 = 4;
const SEEN: [u8; 2] = [8, 16];
const EVER_PICKED: u8 = 32;

/// Every connection of the captures, numbered in the order they were first seen, in bounded
/// memory per connection: a hash table entry of its two ends packed (12 bytes for IPv4) and a
/// [`Gen`] (12 bytes). A million connections: a table of 2^21 entries, 52 MB (78 MB while it
/// grows from the previous one), not their segments. A pair of ends used again,
/// with a SYN of another ISN, is a new connection: the model's rule
/// ([`super::model::connections`]), applied as the segments go by.
pub struct Census {
    v4: HashMap<[u32; 3], Gen>,
    other: HashMap<Pair, Gen>,
    total: usize,
    pick: Pick,
    picked: Vec<Picked>,
    /// Per file (by its bit, the first 16 files): the files it shares a connection with.
    shared: [u16; 16],
}

/// The pair's packed key when both ends are IPv4 (A first).
fn packed(a: SocketAddr, b: SocketAddr) -> Option<[u32; 3]> {
    match (a, b) {
        (SocketAddr::V4(a), SocketAddr::V4(b)) => Some([
            a.ip().to_bits(),
            b.ip().to_bits(),
            (u32::from(a.port()) << 16) | u32::from(b.port()),
        ]),
        _ => None,
    }
}

impl Census {
    pub fn new(pick: Pick) -> Census {
        Census {
            v4: HashMap::new(),
            other: HashMap::new(),
            total: 0,
            pick,
            picked: Vec::new(),
            shared: [0; 16],
        }
    }

    /// Connections seen so far.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The connections kept, in the order they were first seen.
    pub fn picked(&self) -> &[Picked] {
        &self.picked
    }

    /// FILE and OTHER share a connection; FILE and FILE: FILE gave a segment (unknown beyond
    /// the first 16 files: true).
    pub fn share(&self, file: usize, other: usize) -> bool {
        file >= 16 || other >= 16 || self.shared[file] & (1 << other) != 0
    }

    /// Segment P of a capture FILE, in time order across the captures: true when its
    /// connection is kept.
    pub fn see(&mut self, file: usize, p: &Packet) -> bool {
        let dir = usize::from(p.src > p.dst);
        let (a, b) = if dir == 0 {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let (g, new) = match packed(a, b) {
            Some(k) => entry(&mut self.v4, k),
            None => entry(&mut self.other, (a, b)),
        };
        let syn = p.tcp.flags.has(Flags::SYN);
        // A SYN with another ISN from an end that sent one: the ports are used again.
        if new || (syn && g.flags & ISN[dir] != 0 && g.isn[dir] != p.tcp.seq) {
            let n = self.total;
            self.total += 1;
            g.flags &= SEEN[0] | SEEN[1] | EVER_PICKED;
            if self.pick.wants(n) {
                g.flags |= PICKED | EVER_PICKED;
                self.picked.push(Picked {
                    number: n,
                    pair: (a, b),
                    first: p.ts,
                });
            }
        }
        if syn && g.flags & ISN[dir] == 0 {
            g.isn[dir] = p.tcp.seq;
            g.flags |= ISN[dir];
        }
        g.flags |= SEEN[dir];
        join(&mut self.shared, g, file);
        g.flags & PICKED != 0
    }

    /// Segment P of a netem record FILE (read after the captures, which spanned LO to HI):
    /// true when it belongs to a connection kept. As [`super::reading::keep_recorded_seen`] keeps a
    /// record's segments: those the captures saw go that way, within their time (the record
    /// holds all the host's egress since its engine started).
    pub fn recorded(&mut self, file: usize, p: &Packet, (lo, hi): (Ns, Ns)) -> bool {
        if p.ts < lo - RECORD_MARGIN || p.ts > hi {
            return false;
        }
        let dir = usize::from(p.src > p.dst);
        let (a, b) = if dir == 0 {
            (p.src, p.dst)
        } else {
            (p.dst, p.src)
        };
        let g = match packed(a, b) {
            Some(k) => self.v4.get_mut(&k),
            None => self.other.get_mut(&(a, b)),
        };
        let Some(g) = g.filter(|g| g.flags & SEEN[dir] != 0) else {
            return false;
        };
        join(&mut self.shared, g, file);
        g.flags & EVER_PICKED != 0
    }
}

/// The census entry of K, and whether it is new.
fn entry<K: Hash + Eq>(map: &mut HashMap<K, Gen>, k: K) -> (&mut Gen, bool) {
    let mut new = false;
    let g = map.entry(k).or_insert_with(|| {
        new = true;
        Gen::default()
    });
    (g, new)
}

/// FILE saw the pair of G: it shares a connection with every file that saw it too.
fn join(shared: &mut [u16; 16], g: &mut Gen, file: usize) {
    let Some(bit) = u32::try_from(file).ok().and_then(|f| 1u16.checked_shl(f)) else {
        return;
    };
    if g.files & bit != 0 {
        return;
    }
    for (other, s) in shared.iter_mut().enumerate() {
        if g.files & (1 << other) != 0 {
            *s |= bit;
        }
    }
    shared[file] |= g.files | bit;
    g.files |= bit;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::pcap::{Flags, test_segment};

    /// A data segment of 10 bytes.
    fn seg(t: Ns, from_client: bool, seq: u32) -> Packet {
        test_segment(t, from_client, Flags::ACK, seq, 0, &[b'x'; 10])
    }

    #[test]
    fn both_files_are_cut_at_one_instant_and_every_observation_is_kept_or_counted() {
        // A bulk seen leaving the client (file 0) and arriving 5 ms later at the server (1),
        // read one file after the other, as `chatlab ladder` reads them.
        let mut w = Window::new(3, 50);
        let (c, s) = (w.file(false), w.file(false));
        let n = 1000;
        for i in 0..n {
            w.add(c, seg(i64::from(i) * 1_000_000, true, i));
        }
        for i in 0..n {
            w.add(s, seg(i64::from(i) * 1_000_000 + 5_000_000, true, i));
        }
        w.settle();
        let (pc, ps) = (w.packets(c), w.packets(s));
        assert!(
            pc.len() <= 3 + 50 && ps.len() <= 3 + 50,
            "{} {}",
            pc.len(),
            ps.len()
        );
        // The same segments on both sides: none seen leaving and not arriving.
        let seqs = |v: &[Packet]| v.iter().map(|p| p.tcp.seq).collect::<Vec<_>>();
        let (sc, ss) = (seqs(&pc), seqs(&ps));
        assert_eq!(&sc[..3], &[0, 1, 2]);
        // The server may keep one or more that straddle the cut (arrived after it): only those.
        assert!(ss.ends_with(&sc[3..]), "{sc:?}\n{ss:?}");
        let e = w.elided(&pair(&pc[0])).expect("some were left out");
        // Each segment is kept (at its arrival at least) or counted.
        assert_eq!(e.count + ss.len(), n as usize);
        assert_eq!(e.until, pc[3].ts);
    }

    #[test]
    fn the_census_numbers_connections_as_first_seen_and_keeps_those_picked() {
        let syn = |t: Ns, port: u16, isn: u32| {
            let mut p = seg(t, true, isn);
            p.src.set_port(port);
            p.tcp.flags = Flags(Flags::SYN);
            p
        };
        let data = |t: Ns, port: u16| {
            let mut p = seg(t, false, 7);
            p.dst.set_port(port);
            p
        };
        let mut c = Census::new(Pick {
            first: 1,
            also: Some(2),
        });
        let kept: Vec<bool> = [
            syn(0, 1, 100), // connection 0
            data(1, 1),     // 0
            syn(2, 2, 200), // 1
            syn(3, 1, 100), // 0: the same SYN again
            data(4, 3),     // 2 (no SYN: caught in the middle; one way only)
            syn(5, 1, 900), // 3: ports of 0 used again, another ISN
            data(6, 1),     // 3
            data(7, 2),     // 1
        ]
        .iter()
        .map(|p| c.see(0, p))
        .collect();
        // Connection 3 is not kept, though the ports of 0 are.
        assert_eq!(kept, [true, true, false, true, true, false, false, false]);
        assert_eq!(c.total(), 4);
        let picked: Vec<(usize, u16, Ns)> = c
            .picked()
            .iter()
            .map(|p| (p.number, p.pair.1.port(), p.first))
            .collect();
        assert_eq!(picked, [(0, 1, 0), (2, 3, 4)]);
        // A record (file 1) gives what the captures saw of the ends kept, within their time:
        // not another direction, not other ends, not long before or after.
        let span = (0, 7);
        assert!(c.recorded(1, &data(5, 3), span));
        assert!(c.recorded(1, &syn(-RECORD_MARGIN, 1, 100), span));
        assert!(!c.recorded(1, &syn(-RECORD_MARGIN - 1, 1, 100), span));
        assert!(!c.recorded(1, &syn(8, 1, 100), span));
        assert!(!c.recorded(1, &syn(5, 3, 1), span), "that direction");
        assert!(!c.recorded(1, &syn(5, 2, 200), span), "connection 1");
        assert!(!c.recorded(1, &data(5, 9), span), "never seen");
        assert!(c.share(0, 1) && c.share(1, 1) && !c.share(0, 2) && !c.share(2, 2));
    }

    #[test]
    fn a_short_connection_is_kept_whole_and_only_the_newest_stay() {
        let mut w = Window::new(3, 50);
        let f = w.file(false);
        for i in 0..40 {
            w.add(f, seg(i, i % 2 == 0, i as u32));
        }
        let mut other = seg(100, true, 0);
        other.src.set_port(40001);
        w.add(f, other);
        w.settle();
        assert_eq!(w.kept(), 41);
        assert!(w.elided(&pair(&seg(0, true, 0))).is_none());
        w.keep_newest(1);
        assert_eq!(w.kept(), 1);
        w.clear_file(f);
        assert_eq!(w.kept(), 0);
    }
}
