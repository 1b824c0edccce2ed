//! The live ladder's captures, in bounded memory: each host's growing capture (and netem
//! record) is read as it grows, only its new bytes ([`Tail`]), and only what the ladder draws
//! is kept: the newest connections, each with its opening and its latest segments.
//!
//! A bulk transfer of a million segments thus costs what a chat of ten lines costs. What is
//! left out of a connection is counted, and the drawing says it where it was (a band « 9 412
//! segments not shown »), so the page never pretends the wire was quiet.
//!
//! What is kept is [`Window`]'s rule, the one `chatlab ladder` and the replay use on whole
//! files: every file of a connection is cut at the same instant.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::capture::model::{self, Role, Source};
use crate::capture::pcap::{Capture, Tail};
use crate::capture::plan::role_of;
use crate::capture::reading::keep_recorded_seen;
use crate::capture::window::{Window, pair_of};
use crate::ladder::{Ctx, svg};

/// How many connections are kept (the newest).
pub const CONNECTIONS: usize = 3;
/// Per connection and file: its first observations, kept whatever follows (the handshake).
pub const HEAD: usize = 3;
/// Per connection and file: its latest observations kept.
pub const WINDOW: usize = 250;

/// One capture file: how far it was read, where it was taken, its number in the window.
struct Held {
    tail: Tail,
    role: Role,
    file: usize,
}

/// The captures of the view's folder, as far as they were read.
pub struct Live {
    files: BTreeMap<PathBuf, Held>,
    window: Window,
}

impl Default for Live {
    fn default() -> Live {
        Live {
            files: BTreeMap::new(),
            window: Window::new(HEAD, WINDOW),
        }
    }
}

impl Live {
    /// Read what the captures of DIR (`HOST.pcap`, `HOST.netem.pcap`) gained since the last
    /// call; true when something changed. CTX names the hosts.
    pub fn refresh(&mut self, dir: &Path, ctx: &Ctx) -> bool {
        self.find_new_files(dir, ctx);
        let changed = self.read_grown();
        if changed {
            self.window.keep_newest(CONNECTIONS);
            self.window.settle();
        }
        changed
    }

    /// Follow the captures of DIR not followed yet (CTX says which host took each).
    fn find_new_files(&mut self, dir: &Path, ctx: &Ctx) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if self.files.contains_key(&path) || path.extension().is_none_or(|x| x != "pcap") {
                continue;
            }
            let Some(role) = role_of(&path, &ctx.plan) else {
                continue;
            };
            let tail = Tail::new(&path);
            let file = self.window.file(matches!(role, Role::Entered(_)));
            self.files.insert(path, Held { tail, role, file });
        }
    }

    /// Add to the window what each followed capture gained (a capture that started again
    /// replaces its packets); true when something changed.
    fn read_grown(&mut self) -> bool {
        let mut changed = false;
        for (path, held) in &mut self.files {
            match held.tail.read_new() {
                Ok(grown) => {
                    if grown.restarted {
                        self.window.clear_file(held.file);
                        changed = true;
                    }
                    changed |= !grown.packets.is_empty();
                    for p in grown.packets {
                        self.window.add(held.file, p);
                    }
                }
                // A file that is not (yet) a capture: passed over, as lab/ladder would say.
                Err(e) => log::debug!("{}: {e}", path.display()),
            }
        }
        changed
    }

    /// The observations kept, in all files (for the tests and the server's trace).
    pub fn kept(&self) -> usize {
        self.window.kept()
    }

    /// The ladder of what is kept, as SVG (None while there is no TCP segment).
    pub fn svg(&self, ctx: &Ctx) -> Option<String> {
        let conns = self.connections();
        if conns.is_empty() {
            return None;
        }
        let from = conns.len().saturating_sub(CONNECTIONS);
        let chosen: Vec<(usize, &model::Connection)> =
            conns.iter().enumerate().skip(from).collect();
        let mut doc = String::new();
        svg::draw(&mut doc, ctx, &chosen, conns.len());
        Some(doc)
    }

    /// The connections of what is kept, each saying what the window left out of it.
    fn connections(&self) -> Vec<model::Connection> {
        let mut sources: Vec<Source> = self
            .files
            .values()
            .map(|h| Source {
                role: h.role,
                capture: Capture::of(self.window.packets(h.file)),
            })
            .collect();
        keep_recorded_seen(&mut sources);
        let mut conns = model::connections(&sources);
        for c in &mut conns {
            if let Some(e) = self.window.elided(&pair_of(c)) {
                c.set_elided(e);
            }
        }
        conns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::pcap::{Flags, Ns, Packet, Writer, ip_packet, test_segment as seg};
    use crate::lang::Lang;

    const MS: Ns = 1_000_000;

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

        /// The handshake (ISNs 99 and 499).
        fn open(&mut self) {
            self.send(seg(0, true, Flags::SYN, 99, 0, b""));
            self.send(seg(2 * MS, false, Flags::SYN | A, 499, 100, b""));
            self.send(seg(4 * MS, true, A, 100, 500, b""));
        }

        /// Data segments FROM to TO (numbered from 0), one every 0.1 ms from T; the time after
        /// the last.
        fn data(&mut self, from: u32, to: u32, mut t: Ns) -> Ns {
            for k in from..to {
                self.send(seg(
                    t,
                    true,
                    Flags::PSH | A,
                    100 + 100 * k,
                    500,
                    &[b'x'; 100],
                ));
                t += MS / 10;
            }
            t
        }

        /// After N data segments, the client's FIN at T + 5 ms, the server's, the last ACK.
        fn close(&mut self, n: u32, t: Ns) {
            let end = 100 + 100 * n;
            self.send(seg(t + 5 * MS, true, Flags::FIN | A, end, 500, b""));
            self.send(seg(t + 7 * MS, false, Flags::FIN | A, 500, end + 1, b""));
            self.send(seg(t + 9 * MS, true, A, end + 1, 501, b""));
        }
    }

    /// The texts of the elements of class K in DOC.
    fn texts<'a>(doc: &'a roxmltree::Document, k: &str) -> Vec<&'a str> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(k))
            .filter_map(|n| n.text())
            .collect()
    }

    /// A test's own directory (TAG tells tests apart), the lab's context, an empty view, and
    /// the captures written into that directory.
    fn start(tag: &str) -> (PathBuf, Ctx, Live, Bulk) {
        let dir = std::env::temp_dir().join(format!("chatlab-live-{tag}{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx::new(Lang::En, "10.80.80", 2.0, 300).unwrap();
        let b = Bulk::new(&dir);
        (dir, ctx, Live::default(), b)
    }

    const A: u8 = Flags::ACK;

    #[test]
    fn a_bulk_keeps_its_opening_and_latest_segments_and_says_how_many_it_left() {
        let (dir, ctx, mut live, mut b) = start("");
        b.open();
        assert!(live.refresh(&dir, &ctx));
        assert!(!live.refresh(&dir, &ctx), "nothing new");
        let n: u32 = 3000;
        let mut t = 10 * MS;
        for round in 0..3 {
            t = b.data(round * (n / 3), (round + 1) * (n / 3), t);
            assert!(live.refresh(&dir, &ctx));
            // Bounded: each of the two files keeps at most its opening and its window.
            assert!(live.kept() <= 2 * (HEAD + WINDOW) + 2, "{}", live.kept());
        }
        b.close(n, t);
        assert!(live.refresh(&dir, &ctx));

        let svg = live.svg(&ctx).expect("a ladder");
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let segments = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("segment"))
            .count();
        assert!(segments <= HEAD + WINDOW + 3, "{segments} segments drawn");
        let labels = texts(&doc, "label");
        // The opening and the end are there, and every kept segment arrived (none is a
        // false loss at the cut).
        assert!(labels[0].starts_with("SYN seq 0"), "{labels:?}");
        assert!(
            labels.iter().any(|l| l.starts_with("FIN,ACK")),
            "{labels:?}"
        );
        assert!(!labels.iter().any(|l| l.contains("lost")), "{labels:?}");
        let states = texts(&doc, "state");
        assert!(states.contains(&"TIME_WAIT"), "{states:?}");
        // What was left out is said, with its count: every segment is either drawn or counted.
        let fold = texts(&doc, "fold")
            .into_iter()
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
        let (dir, ctx, mut live, mut b) = start("n-");
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
