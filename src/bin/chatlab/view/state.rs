//! The lab as the page shows it, put together from what each host's probe said: for each
//! conversation, both ends' sockets and the processes that hold them, and whether the two
//! ends wait for each other (the Q3 deadlock).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::probe::{Process, Snapshot, Socket, TcpState, Waits};

/// One host of the lab, and what its probe last said (None: no answer yet).
pub struct Host {
    pub name: String,
    pub snapshot: Option<Snapshot>,
}

/// Both ends of one connection, each on the host that has it.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct Conversation {
    /// (host, socket) of each end that a probe saw; for the page, `{host, local, remote,
    /// inode}` each.
    #[serde(serialize_with = "ends_json")]
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
            if s.state == TcpState::Listen || s.remote.ip().is_unspecified() {
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
    s.state == TcpState::Established
        && s.send_q == 0
        && s.recv_q == 0
        && !holders.is_empty()
        && holders
            .iter()
            .all(|p| p.state == 'S' && p.waits == Waits::Socket)
}

/// What the page needs of an end: where it is, and the socket's inode (to find its holders).
fn ends_json<S: Serializer>(ends: &[(String, Socket)], out: S) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct End<'a> {
        host: &'a str,
        local: SocketAddr,
        remote: SocketAddr,
        inode: u64,
    }
    out.collect_seq(ends.iter().map(|(host, s)| End {
        host,
        local: s.local,
        remote: s.remote,
        inode: s.inode,
    }))
}

/// The hosts as one JSON object, HOST: snapshot (or `null`), in the lab's order (the page
/// shows them in this order).
struct Hosts<'a>(&'a [Host]);

impl Serialize for Hosts<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.collect_map(self.0.iter().map(|h| (&h.name, &h.snapshot)))
    }
}

/// The whole state for the page: `{"hosts": {…}, "conversations": […], "ladder": …}`.
#[derive(serde::Serialize)]
struct State<'a> {
    hosts: Hosts<'a>,
    conversations: Vec<Conversation>,
    ladder: &'a RawValue,
}

/// The whole state as one JSON object, for the page; LADDER is the ladder's JSON value (the
/// SVG as a JSON string, or `null`), made once per drawing.
pub fn to_json(hosts: &[Host], ladder: &RawValue) -> String {
    let state = State {
        hosts: Hosts(hosts),
        conversations: conversations(hosts),
        ladder,
    };
    serde_json::to_string(&state).expect("the state is plain data")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(local: &str, remote: &str, inode: u64, queued: u32) -> Socket {
        Socket {
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state: TcpState::Established,
            send_q: 0,
            recv_q: queued,
            timer_s: None,
            inode,
        }
    }

    fn process(pid: i32, ppid: i32, inode: u64, waits: Waits) -> Process {
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

    fn null() -> Box<RawValue> {
        RawValue::from_string("null".into()).unwrap()
    }

    const C: &str = "10.80.80.11:40000";
    const S: &str = "10.80.80.10:8080";

    fn lab(server_waits: &[Waits], client_waits: &[Waits], queued: u32) -> Vec<Host> {
        let listen = Socket {
            state: TcpState::Listen,
            ..socket("0.0.0.0:8080", "0.0.0.0:0", 5, 0)
        };
        let side = |name: &str, local, remote, waits: &[Waits], base: i32, extra: Vec<Socket>| {
            let mut sockets = vec![socket(local, remote, 7 + base as u64, queued)];
            sockets.extend(extra);
            Host {
                name: name.into(),
                snapshot: Some(Snapshot {
                    sockets,
                    processes: waits
                        .iter()
                        .enumerate()
                        .map(|(i, w)| process(base + i as i32, base, 7 + base as u64, *w))
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
        assert!(to_json(&hosts, &null()).contains("\"deadlock\":true"));
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

    /// The page reads these names and values (`page.html`): the JSON keeps them, in order.
    #[test]
    fn the_page_gets_the_json_it_reads() {
        let mut hosts = lab(&[Waits::Socket], &[Waits::Keyboard], 0);
        hosts.truncate(1);
        let snap = hosts[0].snapshot.as_mut().unwrap();
        snap.sockets.push(Socket {
            state: TcpState::TimeWait,
            timer_s: Some(57.93),
            ..socket("10.80.80.10:8080", "10.80.80.12:40001", 0, 0)
        });
        snap.processes[0].args = "chat recv \"x\"".into();
        snap.netem = Some(super::super::probe::Netem {
            settings: "delay 100ms".into(),
            engine: "tc".into(),
        });
        hosts.push(Host {
            name: "client".into(),
            snapshot: None,
        });
        let ladder = RawValue::from_string("\"<svg/>\"".into()).unwrap();
        assert_eq!(
            to_json(&hosts, &ladder),
            concat!(
                r#"{"hosts":{"server":{"sockets":["#,
                r#"{"local":"10.80.80.10:8080","remote":"10.80.80.11:40000","state":"ESTABLISHED","send_q":0,"recv_q":0,"timer_s":null,"inode":107},"#,
                r#"{"local":"0.0.0.0:8080","remote":"0.0.0.0:0","state":"LISTEN","send_q":0,"recv_q":0,"timer_s":null,"inode":5},"#,
                r#"{"local":"10.80.80.10:8080","remote":"10.80.80.12:40001","state":"TIME_WAIT","send_q":0,"recv_q":0,"timer_s":57.93,"inode":0}],"#,
                r#""processes":[{"pid":100,"ppid":100,"comm":"chat","args":"chat recv \"x\"","state":"S","waits":"socket","sockets":[107]}],"#,
                r#""netem":{"settings":"delay 100ms","engine":"tc"}},"client":null},"#,
                r#""conversations":["#,
                r#"{"ends":[{"host":"server","local":"10.80.80.10:8080","remote":"10.80.80.11:40000","inode":107}],"deadlock":false},"#,
                r#"{"ends":[{"host":"server","local":"10.80.80.10:8080","remote":"10.80.80.12:40001","inode":0}],"deadlock":false}],"#,
                r#""ladder":"<svg/>"}"#
            )
        );
    }
}
