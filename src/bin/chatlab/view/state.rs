//! The lab as the page shows it, put together from what each host's probe said: for each
//! conversation, both ends' sockets and the processes that hold them, and whether the two
//! ends wait for each other (the Q3 deadlock).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::probe::{Process, Snapshot, Socket, Waits};
use crate::json;

/// One host of the lab, and what its probe last said (None: no answer yet).
pub struct Host {
    pub name: String,
    pub snapshot: Option<Snapshot>,
}

/// Both ends of one connection, each on the host that has it.
#[derive(Debug, PartialEq)]
pub struct Conversation {
    /// (host, socket) of each end that a probe saw.
    pub ends: Vec<(String, Socket)>,
    /// Both ends wait to read the other, with nothing in flight nor queued.
    pub deadlock: bool,
}

/// The conversations of the lab: sockets that are neither listening nor of the host's own
/// loopback, paired across hosts by their addresses (the lab has no NAT: A's local address is
/// B's remote one).
pub fn conversations(hosts: &[Host]) -> Vec<Conversation> {
    let mut by_pair: BTreeMap<(String, String), Vec<(String, Socket)>> = BTreeMap::new();
    for host in hosts {
        let Some(snap) = &host.snapshot else { continue };
        for s in &snap.sockets {
            if s.state == "LISTEN" || s.remote.ip().is_unspecified() {
                continue;
            }
            let (a, b) = (s.local.to_string(), s.remote.to_string());
            let key = if a <= b { (a, b) } else { (b, a) };
            by_pair
                .entry(key)
                .or_default()
                .push((host.name.clone(), s.clone()));
        }
    }
    by_pair
        .into_values()
        .map(|ends| {
            let deadlock = ends.len() == 2
                && ends.iter().all(|(host, s)| {
                    waits_for_the_peer(s, holders(hosts, host, s.inode).as_slice())
                });
            Conversation { ends, deadlock }
        })
        .collect()
}

/// The processes of HOST that hold socket INODE.
pub fn holders<'a>(hosts: &'a [Host], host: &str, inode: u64) -> Vec<&'a Process> {
    hosts
        .iter()
        .filter(|h| h.name == host)
        .filter_map(|h| h.snapshot.as_ref())
        .flat_map(|s| s.processes.iter())
        .filter(|p| inode != 0 && p.sockets.contains(&inode))
        .collect()
}

/// An end that can only move when the peer sends: established, nothing unacknowledged,
/// nothing unread, and every process holding it asleep in a read of that socket.
fn waits_for_the_peer(s: &Socket, holders: &[&Process]) -> bool {
    s.state == "ESTABLISHED"
        && s.send_q == 0
        && s.recv_q == 0
        && !holders.is_empty()
        && holders
            .iter()
            .all(|p| p.state == 'S' && p.waits == Waits::Socket)
}

/// The whole state as one JSON object, for the page; LADDER is the ladder's JSON value (the
/// SVG as a JSON string, or `null`), made once per drawing.
pub fn to_json(hosts: &[Host], ladder: &str) -> String {
    let mut out = String::from("{\"hosts\":{");
    for (i, host) in hosts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let snap = host
            .snapshot
            .as_ref()
            .map_or("null".to_string(), snapshot_json);
        let _ = write!(out, "{}:{snap}", json::string(&host.name));
    }
    out.push_str("},\"conversations\":[");
    for (i, c) in conversations(hosts).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let ends: Vec<String> = c
            .ends
            .iter()
            .map(|(host, s)| {
                format!(
                    "{{\"host\":{},\"local\":{},\"remote\":{},\"inode\":{}}}",
                    json::string(host),
                    json::string(&s.local.to_string()),
                    json::string(&s.remote.to_string()),
                    s.inode
                )
            })
            .collect();
        let _ = write!(
            out,
            "{{\"ends\":[{}],\"deadlock\":{}}}",
            ends.join(","),
            c.deadlock
        );
    }
    let _ = write!(out, "],\"ladder\":{ladder}}}");
    out
}

/// One host's snapshot as JSON: `{"sockets": […], "processes": […]}`.
fn snapshot_json(snap: &Snapshot) -> String {
    let sockets: Vec<String> = snap
        .sockets
        .iter()
        .map(|s| {
            format!(
                "{{\"local\":{},\"remote\":{},\"state\":{},\"send_q\":{},\"recv_q\":{},\"timer_s\":{},\"inode\":{}}}",
                json::string(&s.local.to_string()),
                json::string(&s.remote.to_string()),
                json::string(s.state),
                s.send_q,
                s.recv_q,
                s.timer_s.map_or("null".to_string(), |t| format!("{t:.2}")),
                s.inode
            )
        })
        .collect();
    let processes: Vec<String> = snap
        .processes
        .iter()
        .map(|p| {
            let inodes: Vec<String> = p.sockets.iter().map(u64::to_string).collect();
            format!(
                "{{\"pid\":{},\"ppid\":{},\"comm\":{},\"args\":{},\"state\":{},\"waits\":{},\"sockets\":[{}]}}",
                p.pid,
                p.ppid,
                json::string(&p.comm),
                json::string(&p.args),
                json::string(&p.state.to_string()),
                json::string(p.waits.name()),
                inodes.join(",")
            )
        })
        .collect();
    let netem = snap
        .netem
        .as_ref()
        .map_or("null".to_string(), |(settings, engine)| {
            format!(
                "{{\"settings\":{},\"engine\":{}}}",
                json::string(settings),
                json::string(engine)
            )
        });
    format!(
        "{{\"sockets\":[{}],\"processes\":[{}],\"netem\":{netem}}}",
        sockets.join(","),
        processes.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(local: &str, remote: &str, inode: u64, queued: u32) -> Socket {
        Socket {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state: "ESTABLISHED",
            send_q: 0,
            recv_q: queued,
            timer_s: None,
            inode,
        }
    }

    fn process(pid: u32, ppid: u32, inode: u64, waits: Waits) -> Process {
        Process {
            pid,
            ppid,
            comm: "chat".into(),
            args: "chat".into(),
            state: 'S',
            waits,
            sockets: vec![inode],
        }
    }

    const C: &str = "10.80.80.11:40000";
    const S: &str = "10.80.80.10:8080";

    fn lab(server_waits: &[Waits], client_waits: &[Waits], queued: u32) -> Vec<Host> {
        let listen = Socket {
            state: "LISTEN",
            ..socket("0.0.0.0:8080", "0.0.0.0:0", 5, 0)
        };
        let side = |name: &str, local, remote, waits: &[Waits], base: u32, extra: Vec<Socket>| {
            let mut sockets = vec![socket(local, remote, 7 + base as u64, queued)];
            sockets.extend(extra);
            Host {
                name: name.into(),
                snapshot: Some(Snapshot {
                    sockets,
                    processes: waits
                        .iter()
                        .enumerate()
                        .map(|(i, w)| process(base + i as u32, base, 7 + base as u64, *w))
                        .collect(),
                    netem: None,
                }),
            }
        };
        vec![
            side("server", S, C, server_waits, 100, vec![listen]),
            side("client", C, S, client_waits, 200, vec![]),
            Host {
                name: "client2".into(),
                snapshot: None,
            },
        ]
    }

    #[test]
    fn both_waiting_to_read_is_the_deadlock() {
        let hosts = lab(&[Waits::Socket], &[Waits::Socket], 0);
        let convs = conversations(&hosts);
        assert_eq!(convs.len(), 1, "the listener is no conversation");
        assert_eq!(convs[0].ends.len(), 2);
        assert!(convs[0].deadlock);
        assert!(to_json(&hosts, "null").contains("\"deadlock\":true"));
    }

    #[test]
    fn normal_turns_and_duplex_are_not() {
        // Q3, the client's turn: it reads the keyboard.
        assert!(!conversations(&lab(&[Waits::Socket], &[Waits::Keyboard], 0))[0].deadlock);
        // Q4: each side's child reads the keyboard.
        let duplex = lab(
            &[Waits::Socket, Waits::Keyboard],
            &[Waits::Socket, Waits::Keyboard],
            0,
        );
        assert!(!conversations(&duplex)[0].deadlock);
        // Bytes received and not read yet: the program will read them.
        assert!(!conversations(&lab(&[Waits::Socket], &[Waits::Socket], 3))[0].deadlock);
    }
}
