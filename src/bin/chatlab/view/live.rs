//! The live ladder's captures, in bounded memory: each host's growing capture (and netem
//! record) is read as it grows, only its new bytes ([`Tail`]), and only what the ladder draws
//! is kept: the newest connections, each with its opening and its latest segments.
//!
//! A bulk transfer of a million segments thus costs what a chat of ten lines costs. What is
//! left out of a connection is counted, and the drawing says it where it was (a band « 9 412
//! segments not shown »), so the page never pretends the wire was quiet.
//!
//! Every file is cut at the same instant for a connection: a segment is kept on both hosts or
//! on neither (but one that straddles the instant, kept at its arrival only and drawn flat).
//! Cutting each file on its own would leave segments seen leaving and never arriving: a loss
//! that never happened.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::ladder::model::{self, Elided, Role, Source};
use crate::ladder::pcap::{Capture, Ns, Packet, Tail};
use crate::ladder::{self, Ctx, svg};

/// How many connections are kept (the newest).
pub const CONNECTIONS: usize = 3;
/// Per connection and file: its first observations, kept whatever follows (the handshake).
pub const HEAD: usize = 3;
/// Per connection and file: its latest observations kept.
pub const WINDOW: usize = 250;

/// A connection, by its two ends (in a canonical order).
type Pair = (SocketAddr, SocketAddr);

fn pair(p: &Packet) -> Pair {
    if p.src < p.dst {
        (p.src, p.dst)
    } else {
        (p.dst, p.src)
    }
}

/// One capture file: how far it was read, where it was taken, what is kept of it.
struct Held {
    tail: Tail,
    role: Role,
    packets: Vec<Packet>,
}

/// What was left out of one connection.
#[derive(Default)]
struct LeftOut {
    /// Per capture (not netem record) that saw the connection, the observations it left out
    /// in each direction (from the pair's first end, from its second).
    per_file: HashMap<PathBuf, [usize; 2]>,
    /// The kept observations resume here.
    until: Ns,
}

impl LeftOut {
    /// The segments not drawn at all. A segment goes from the file that saw it leave when it
    /// left before the cut, and from the file that saw it arrive when it ARRIVED before the
    /// cut: then it is gone from both. So in each direction, the capture that left out the
    /// fewest is the one that saw those segments arrive, and its count is theirs.
    fn count(&self) -> usize {
        (0..2)
            .map(|d| self.per_file.values().map(|n| n[d]).min().unwrap_or(0))
            .sum()
    }
}

/// The captures of the view's folder, as far as they were read.
#[derive(Default)]
pub struct Live {
    files: BTreeMap<PathBuf, Held>,
    left_out: HashMap<Pair, LeftOut>,
}

impl Live {
    /// Read what the captures of DIR (`HOST.pcap`, `HOST.netem.pcap`) gained since the last
    /// call; true when something changed. CTX names the hosts.
    pub fn refresh(&mut self, dir: &Path, ctx: &Ctx) -> bool {
        let mut changed = false;
        if let Ok(entries) = fs::read_dir(dir) {
            for path in entries.flatten().map(|e| e.path()) {
                if self.files.contains_key(&path) || path.extension().is_none_or(|x| x != "pcap") {
                    continue;
                }
                let Some(role) = ladder::role_of(&path, ctx) else {
                    continue;
                };
                let tail = Tail::new(&path);
                let packets = Vec::new();
                self.files.insert(
                    path,
                    Held {
                        tail,
                        role,
                        packets,
                    },
                );
            }
        }
        for (path, held) in &mut self.files {
            match held.tail.read_new() {
                Ok(grown) => {
                    if grown.restarted {
                        held.packets.clear();
                        changed = true;
                    }
                    changed |= !grown.packets.is_empty();
                    held.packets.extend(grown.packets);
                }
                // A file that is not (yet) a capture: passed over, as lab/ladder would say.
                Err(e) => log::debug!("{}: {e}", path.display()),
            }
        }
        if changed {
            self.trim();
        }
        changed
    }

    /// Keep the newest connections, each with its opening and its latest observations.
    fn trim(&mut self) {
        let mut first: HashMap<Pair, Ns> = HashMap::new();
        for held in self.files.values() {
            for p in &held.packets {
                let t = first.entry(pair(p)).or_insert(p.ts);
                *t = (*t).min(p.ts);
            }
        }
        let mut newest: Vec<(Ns, Pair)> = first.iter().map(|(k, t)| (*t, *k)).collect();
        newest.sort_unstable_by(|a, b| b.cmp(a));
        newest.truncate(CONNECTIONS);
        let kept: HashMap<Pair, Ns> = newest.iter().map(|&(_, k)| (k, self.cutoff(k))).collect();
        self.left_out.retain(|k, _| kept.contains_key(k));
        for (path, held) in &mut self.files {
            let mut rank: HashMap<Pair, usize> = HashMap::new();
            let mut dropped: HashMap<Pair, [usize; 2]> = HashMap::new();
            held.packets.retain(|p| {
                let k = pair(p);
                let Some(&cutoff) = kept.get(&k) else {
                    return false;
                };
                let r = rank.entry(k).or_default();
                *r += 1;
                let keep = *r <= HEAD || p.ts >= cutoff;
                let d = usize::from(p.src != k.0);
                dropped.entry(k).or_default()[d] += usize::from(!keep);
                keep
            });
            if matches!(held.role, Role::Entered(_)) {
                continue;
            }
            for (k, n) in dropped {
                let out = self.left_out.entry(k).or_default();
                let total = out.per_file.entry(path.clone()).or_default();
                total[0] += n[0];
                total[1] += n[1];
                if n != [0, 0] {
                    out.until = out.until.max(kept[&k]);
                }
            }
        }
    }

    /// The instant before which a connection's observations (but its opening) go: the latest
    /// one that leaves every file at most WINDOW observations after it (Ns::MIN: none go).
    fn cutoff(&self, k: Pair) -> Ns {
        let mut cutoff = Ns::MIN;
        for held in self.files.values() {
            let ts: Vec<Ns> = held
                .packets
                .iter()
                .filter(|p| pair(p) == k)
                .map(|p| p.ts)
                .collect();
            if ts.len() > HEAD + WINDOW {
                cutoff = cutoff.max(ts[ts.len() - WINDOW]);
            }
        }
        cutoff
    }

    /// The observations kept, in all files (for the tests and the server's trace).
    pub fn kept(&self) -> usize {
        self.files.values().map(|h| h.packets.len()).sum()
    }

    /// The ladder of what is kept, as SVG (None while there is no TCP segment).
    pub fn svg(&self, ctx: &Ctx) -> Option<String> {
        let mut sources: Vec<Source> = self
            .files
            .values()
            .map(|h| Source {
                role: h.role,
                capture: Capture {
                    packets: h.packets.clone(),
                    ..Capture::default()
                },
            })
            .collect();
        ladder::keep_recorded_seen(&mut sources);
        let mut conns = model::connections(&sources);
        if conns.is_empty() {
            return None;
        }
        for c in &mut conns {
            let k = if c.ends[0] < c.ends[1] {
                (c.ends[0], c.ends[1])
            } else {
                (c.ends[1], c.ends[0])
            };
            if let Some(out) = self.left_out.get(&k) {
                let count = out.count();
                c.elided = (count > 0).then_some(Elided {
                    count,
                    until: out.until,
                });
            }
        }
        let from = conns.len().saturating_sub(CONNECTIONS);
        let chosen: Vec<(usize, &model::Connection)> =
            conns.iter().enumerate().skip(from).collect();
        let mut doc = String::new();
        svg::draw(&mut doc, ctx, &chosen, conns.len());
        Some(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::pcap::{Flags, Writer, ip_packet};
    use crate::lang::Lang;

    const MS: Ns = 1_000_000;

    fn seg(t: Ns, from_client: bool, flags: u8, seq: u32, ack: u32, data: &[u8]) -> Packet {
        let (c, s): (SocketAddr, SocketAddr) = (
            "10.80.80.11:40000".parse().unwrap(),
            "10.80.80.10:8080".parse().unwrap(),
        );
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        Packet {
            ts: t,
            src,
            dst,
            flags: Flags(flags),
            seq,
            ack,
            win: 500,
            len: data.len() as u32,
            data: data.to_vec(),
        }
    }

    /// A bulk from client to server, N data segments of 100 bytes, each seen leaving client
    /// and arriving at server 1 ms later; then client's FIN and server's. Written to DIR's
    /// client.pcap and server.pcap in one go or appended in parts.
    struct Bulk {
        client: Writer<fs::File>,
        server: Writer<fs::File>,
    }

    impl Bulk {
        fn new(dir: &Path) -> Bulk {
            let w = |h: &str| Writer::new(fs::File::create(dir.join(h)).unwrap(), 65535).unwrap();
            Bulk {
                client: w("client.pcap"),
                server: w("server.pcap"),
            }
        }

        fn send(&mut self, p: Packet) {
            let ip = ip_packet(&p);
            let (from, to) = if p.src.port() == 40000 {
                (&mut self.client, &mut self.server)
            } else {
                (&mut self.server, &mut self.client)
            };
            from.packet(p.ts, &ip, ip.len() as u32).unwrap();
            to.packet(p.ts + MS, &ip, ip.len() as u32).unwrap();
            from.flush().unwrap();
            to.flush().unwrap();
        }
    }

    const A: u8 = Flags::ACK;

    #[test]
    fn a_bulk_keeps_its_opening_and_latest_segments_and_says_how_many_it_left() {
        let dir = std::env::temp_dir().join(format!("chatlab-live-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx::new(Lang::En, "10.80.80", 2.0, 300).unwrap();
        let mut live = Live::default();
        let mut b = Bulk::new(&dir);
        b.send(seg(0, true, Flags::SYN, 99, 0, b""));
        b.send(seg(2 * MS, false, Flags::SYN | A, 499, 100, b""));
        b.send(seg(4 * MS, true, A, 100, 500, b""));
        assert!(live.refresh(&dir, &ctx));
        assert!(!live.refresh(&dir, &ctx), "nothing new");
        let n: u32 = 3000;
        let mut t = 10 * MS;
        for round in 0..3 {
            for i in 0..n / 3 {
                let k = round * (n / 3) + i;
                b.send(seg(
                    t,
                    true,
                    Flags::PSH | A,
                    100 + 100 * k,
                    500,
                    &[b'x'; 100],
                ));
                t += MS / 10;
            }
            assert!(live.refresh(&dir, &ctx));
            // Bounded: each of the two files keeps at most its opening and its window.
            assert!(live.kept() <= 2 * (HEAD + WINDOW) + 2, "{}", live.kept());
        }
        b.send(seg(
            t + 5 * MS,
            true,
            Flags::FIN | A,
            100 + 100 * n,
            500,
            b"",
        ));
        b.send(seg(
            t + 7 * MS,
            false,
            Flags::FIN | A,
            500,
            101 + 100 * n,
            b"",
        ));
        b.send(seg(t + 9 * MS, true, A, 101 + 100 * n, 501, b""));
        assert!(live.refresh(&dir, &ctx));

        let svg = live.svg(&ctx).expect("a ladder");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let class = |n: &roxmltree::Node, k: &str| n.attribute("class") == Some(k);
        let segments = doc.descendants().filter(|n| class(n, "segment")).count();
        assert!(segments <= HEAD + WINDOW + 3, "{segments} segments drawn");
        let labels: Vec<&str> = doc
            .descendants()
            .filter(|n| class(n, "label"))
            .filter_map(|n| n.text())
            .collect();
        // The opening and the end are there, and every kept segment arrived (none is a
        // false loss at the cut).
        assert!(labels[0].starts_with("SYN seq 0"), "{labels:?}");
        assert!(
            labels.iter().any(|l| l.starts_with("FIN,ACK")),
            "{labels:?}"
        );
        assert!(!labels.iter().any(|l| l.contains("lost")), "{labels:?}");
        let states: Vec<&str> = doc
            .descendants()
            .filter(|n| class(n, "state"))
            .filter_map(|n| n.text())
            .collect();
        assert!(states.contains(&"TIME_WAIT"), "{states:?}");
        // What was left out is said, with its count: every segment is either drawn or counted.
        let fold = doc
            .descendants()
            .filter(|n| class(n, "fold"))
            .filter_map(|n| n.text())
            .find(|t| t.contains("not shown"))
            .expect("a band says what was left out");
        let left: usize = fold
            .trim_start_matches("… ")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(left + segments, n as usize + 6, "{fold}");
        // The title counts them all.
        assert!(svg.contains(&format!(">{} segments, ", n + 6)), "{svg}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_the_newest_connections_are_kept() {
        let dir = std::env::temp_dir().join(format!("chatlab-live-n-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx::new(Lang::En, "10.80.80", 2.0, 300).unwrap();
        let mut live = Live::default();
        let mut b = Bulk::new(&dir);
        for i in 0..5u16 {
            let mut p = seg(Ns::from(i) * 100 * MS, true, Flags::SYN, 1, 0, b"");
            p.src.set_port(40000 + i);
            // Seen on client only (its port is not 40000 for all but the first).
            let ip = ip_packet(&p);
            b.client.packet(p.ts, &ip, ip.len() as u32).unwrap();
        }
        b.client.flush().unwrap();
        live.refresh(&dir, &ctx);
        assert_eq!(live.kept(), CONNECTIONS);
        let svg = live.svg(&ctx).unwrap();
        assert!(svg.contains(":40004") && svg.contains(":40002") && !svg.contains(":40001"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
