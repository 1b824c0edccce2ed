//! What one host's kernel says of its TCP connections and of the processes that hold them,
//! read from /proc: no packet sent, nothing changed (the view must not alter what it shows).
//!
//! - `/proc/net/tcp` and `/proc/net/tcp6`: each socket's addresses, state, queues (bytes sent
//!   and not acknowledged, bytes received and not read) and, in TIME_WAIT, the time left.
//! - `/proc/PID/fd`: which processes hold which socket (`socket:[INODE]`): after `fork`, two.
//! - `/proc/PID/stat`: state (`S` asleep, `R` running, `Z` zombie) and parent.
//! - `/proc/PID/syscall`: the system call a process is blocked in and its first argument, so
//!   a `read` of fd 0 (the keyboard) is told from a `read` of the socket; `/proc/PID/wchan`
//!   (where in the kernel it sleeps) when the system call cannot be read.
//!
//! The reading is [`crate::procfs`]'s; this puts one host's together. `chatlab view --probe`
//! writes it as one line of JSON ([`Snapshot::to_json`]), which the view's server reads back
//! and passes on to the page unchanged in shape.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::procfs::process::{self, Stat};
use crate::procfs::tcp;
pub use crate::procfs::tcp::{Socket, TcpState};

/// What a process is blocked on, when that can be seen.
/// Written as its name in lower case; a name this build does not know reads as `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Waits {
    /// `read` on fd 0 when it is a terminal or a pipe: the keyboard.
    Keyboard,
    /// `read`/`recv` on a socket.
    Socket,
    /// Waiting for a child (`wait`), or for several descriptors at once (`poll`, `select`).
    Child,
    Several,
    /// Running, or blocked in something else.
    #[serde(other)]
    Other,
}

/// A process that holds a TCP socket of this host (or is a zombie child of one that does).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    /// The process's name (`comm`) and command line.
    pub comm: String,
    pub args: String,
    /// `R`, `S`, `D`, `T`, `Z`…
    pub state: char,
    pub waits: Waits,
    /// The inodes of the TCP sockets it holds.
    pub sockets: Vec<u64>,
}

/// One host's snapshot: what the probe writes (as JSON), and the page reads under the host's
/// name.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Its TCP sockets, an IPv4 address in an IPv6 socket written as IPv4 (so that both ends
    /// of a conversation name each other alike).
    pub sockets: Vec<Socket>,
    pub processes: Vec<Process>,
    /// What lab/netem set on this host's egress (its state file), if anything.
    pub netem: Option<Netem>,
}

/// What lab/netem set on a host's egress, and by which engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Netem {
    /// `delay 100ms loss 5%`…
    pub settings: String,
    /// `tc` (the kernel's netem) or `userspace`.
    pub engine: String,
}

impl Snapshot {
    /// The snapshot as the probe writes it: one line of JSON, ended by a line feed.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string(self).expect("a snapshot is plain data");
        text.push('\n');
        text
    }

    /// Read back what [`Snapshot::to_json`] wrote.
    pub fn from_json(text: &str) -> serde_json::Result<Snapshot> {
        serde_json::from_str(text)
    }
}

/// Where lab/netem keeps what it set on a host (`engine=…` and `settings=…` lines).
const NETEM_STATE: &str = "run/lab-netem.state";

/// What lab/netem's state file says, if it set anything.
fn read_netem(root: &Path) -> Option<Netem> {
    let text = fs::read_to_string(root.join(NETEM_STATE)).ok()?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some(Netem {
        settings: get("settings")?,
        engine: get("engine")?,
    })
}

/// Read this host's snapshot from /proc (under ROOT, `/` in real use).
pub fn read(root: &Path) -> Snapshot {
    let proc = root.join("proc");
    let netem = read_netem(root);
    let sockets = read_sockets(&proc);
    let tcp: HashSet<u64> = sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| s.inode)
        .collect();
    let all = process::pids(&proc)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pid| read_process(&proc, pid, &tcp))
        .collect();
    Snapshot {
        sockets,
        processes: shown(all),
        netem,
    }
}

/// This host's TCP sockets (from PROC), an IPv4 peer of a dual-stack socket named as IPv4.
fn read_sockets(proc: &Path) -> Vec<Socket> {
    let mut sockets = tcp::table(proc).unwrap_or_else(|e| {
        log::debug!("{e}");
        Vec::new()
    });
    for s in &mut sockets {
        s.local = unmapped(s.local);
        s.remote = unmapped(s.remote);
    }
    sockets
}

/// Process PID: which of the TCP sockets (their inodes) it holds and what it waits for; None
/// when it ended since the listing.
fn read_process(proc: &Path, pid: i32, tcp: &HashSet<u64>) -> Option<Process> {
    let Stat {
        comm, state, ppid, ..
    } = Stat::read(proc, pid).ok()?;
    let targets: HashMap<i32, String> = process::fds(proc, pid).into_iter().collect();
    let (sockets, fd_kind) = fd_kinds(&targets, tcp);
    let waits = if state == 'S' || state == 'D' {
        let (syscall, wchan) = process::blocked_in(proc, pid);
        waits(&syscall, &wchan, |fd| fd_kind.get(&fd).copied())
    } else {
        Waits::Other
    };
    Some(Process {
        pid,
        ppid,
        comm,
        args: process::cmdline(proc, pid),
        state,
        waits,
        sockets,
    })
}

/// What each open fd of a process is, from its TARGETS (fd → what `/proc/PID/fd/N` links
/// to): one of this host's TCP sockets (an inode in TCP), the keyboard, or something else (not
/// in the map); and the inodes of the TCP sockets it holds, in order.
fn fd_kinds(targets: &HashMap<i32, String>, tcp: &HashSet<u64>) -> (Vec<u64>, HashMap<i64, Waits>) {
    let mut held = Vec::new();
    let mut fd_kind = HashMap::new();
    for (n, target) in targets {
        if let Some(inode) = process::socket_inode(target)
            && tcp.contains(&inode)
        {
            held.push(inode);
            fd_kind.insert(i64::from(*n), Waits::Socket);
        }
    }
    // The keyboard: a terminal, or whatever fd 0 is (a program may read a copy of fd 0).
    for (n, target) in targets {
        let terminal = target.starts_with("/dev/pts/") || target.starts_with("/dev/tty");
        if terminal || targets.get(&0) == Some(target) {
            fd_kind.entry(i64::from(*n)).or_insert(Waits::Keyboard);
        }
    }
    held.sort_unstable();
    (held, fd_kind)
}

/// Of ALL the processes, those the page shows, by pid: those that hold a socket, and their
/// zombie children (a conversation not reaped).
fn shown(all: Vec<Process>) -> Vec<Process> {
    let holders: Vec<i32> = all
        .iter()
        .filter(|p| !p.sockets.is_empty())
        .map(|p| p.pid)
        .collect();
    let mut processes: Vec<Process> = all
        .into_iter()
        .filter(|p| !p.sockets.is_empty() || (p.state == 'Z' && holders.contains(&p.ppid)))
        .collect();
    processes.sort_by_key(|p| p.pid);
    processes
}

/// `[::ffff:10.0.0.2]:80` → `10.0.0.2:80`: an IPv4 peer of a dual-stack socket, named as the
/// peer names itself.
fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(addr, |v4| SocketAddr::new(v4.into(), addr.port())),
        IpAddr::V4(_) => addr,
    }
}

/// System call numbers that matter here, for this machine's architecture.
#[cfg(target_arch = "x86_64")]
mod nr {
    pub const READ: &[u64] = &[0, 17, 19, 45, 47]; // read, pread64, readv, recvfrom, recvmsg
    pub const WAIT: &[u64] = &[61, 247]; // wait4, waitid
    pub const SEVERAL: &[u64] = &[7, 23, 232, 270, 271, 281]; // poll, select, epoll_wait, pselect6, ppoll, epoll_pwait
}
#[cfg(target_arch = "aarch64")]
mod nr {
    pub const READ: &[u64] = &[63, 65, 67, 207, 212]; // read, readv, pread64, recvfrom, recvmsg
    pub const WAIT: &[u64] = &[260, 95]; // wait4, waitid
    pub const SEVERAL: &[u64] = &[72, 73, 22]; // pselect6, ppoll, epoll_pwait
}
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod nr {
    pub const READ: &[u64] = &[];
    pub const WAIT: &[u64] = &[];
    pub const SEVERAL: &[u64] = &[];
}

/// What a sleeping process waits for: from `/proc/PID/syscall` ("NR ARG1 …", or "running",
/// or unreadable), else from its `wchan`. FD_KIND says what an fd is (Socket, Keyboard).
fn waits(syscall: &str, wchan: &str, fd_kind: impl Fn(i64) -> Option<Waits>) -> Waits {
    let mut words = syscall.split_whitespace();
    if let (Some(Ok(call)), Some(arg)) = (
        words.next().map(str::parse::<u64>),
        words
            .next()
            .and_then(|a| i64::from_str_radix(a.trim_start_matches("0x"), 16).ok()),
    ) {
        if nr::READ.contains(&call) {
            return fd_kind(arg).unwrap_or(Waits::Other);
        }
        if nr::WAIT.contains(&call) {
            return Waits::Child;
        }
        if nr::SEVERAL.contains(&call) {
            return Waits::Several;
        }
        return Waits::Other;
    }
    match wchan.trim() {
        w if w.contains("tty") => Waits::Keyboard,
        w if w.starts_with("sk_wait_data") || w.contains("tcp_recvmsg") => Waits::Socket,
        w if w.contains("do_wait") || w.contains("wait_consider") => Waits::Child,
        w if w.contains("poll") || w.contains("select") => Waits::Several,
        _ => Waits::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_is_written_as_its_name_and_an_unknown_name_reads_as_other() {
        let json = serde_json::to_string(&[Waits::Keyboard, Waits::Several, Waits::Other]).unwrap();
        assert_eq!(json, r#"["keyboard","several","other"]"#);
        let back: Vec<Waits> = serde_json::from_str(r#"["socket","child","sleeping"]"#).unwrap();
        assert_eq!(back, [Waits::Socket, Waits::Child, Waits::Other]);
    }

    #[test]
    fn an_ipv4_peer_of_a_dual_stack_socket_is_named_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:8080".parse().unwrap();
        assert_eq!(unmapped(mapped), "127.0.0.1:8080".parse().unwrap());
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(unmapped(v6), v6);
    }

    #[test]
    fn lab_netems_state_says_what_impairs_the_host() {
        let root = std::env::temp_dir().join(format!("chatlab-probe-{}", std::process::id()));
        fs::create_dir_all(root.join("run")).unwrap();
        assert_eq!(read_netem(&root), None);
        fs::write(
            root.join(NETEM_STATE),
            "engine=userspace\niface=eth0\nsettings=delay 100ms loss 5%\n",
        )
        .unwrap();
        let netem = read_netem(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            netem,
            Some(Netem {
                settings: "delay 100ms loss 5%".to_string(),
                engine: "userspace".to_string()
            })
        );
        let snap = Snapshot {
            netem,
            ..Snapshot::default()
        };
        assert_eq!(Snapshot::from_json(&snap.to_json()).unwrap(), snap);
    }

    #[test]
    fn a_process_holds_its_tcp_sockets_and_reads_the_keyboard_on_fd_0_and_its_copies() {
        let targets: HashMap<i32, String> = [
            (0, "/dev/null"),
            (1, "pipe:[7]"),
            (3, "socket:[43]"),
            (4, "socket:[42]"),
            (5, "/dev/null"),
            (6, "/dev/pts/1"),
            (7, "socket:[50]"),
        ]
        .into_iter()
        .map(|(n, t)| (n, t.to_string()))
        .collect();
        let (held, kind) = fd_kinds(&targets, &HashSet::from([42, 43, 99]));
        assert_eq!(held, [42, 43]);
        let of = |n| kind.get(&n).copied();
        assert_eq!((of(3), of(4)), (Some(Waits::Socket), Some(Waits::Socket)));
        for n in [0, 5, 6] {
            assert_eq!(of(n), Some(Waits::Keyboard), "fd {n}");
        }
        assert_eq!((of(1), of(7)), (None, None), "a pipe, a socket not TCP");
    }

    #[test]
    fn the_holders_are_shown_and_their_zombies_only() {
        let p = |pid, ppid, state, sockets: &[u64]| Process {
            pid,
            ppid,
            comm: "chat".into(),
            args: String::new(),
            state,
            waits: Waits::Other,
            sockets: sockets.to_vec(),
        };
        let all = vec![
            p(30, 10, 'Z', &[]),
            p(10, 1, 'S', &[42]),
            p(20, 1, 'S', &[]),
            p(40, 20, 'Z', &[]),
            p(11, 10, 'S', &[42]),
        ];
        let pids: Vec<i32> = shown(all).iter().map(|p| p.pid).collect();
        assert_eq!(pids, [10, 11, 30]);
    }

    #[test]
    fn tells_the_keyboard_from_the_socket() {
        let socket = |fd: i64| match fd {
            3 => Some(Waits::Socket),
            0 | 6 => Some(Waits::Keyboard),
            _ => None,
        };
        #[cfg(target_arch = "x86_64")]
        {
            assert_eq!(waits("0 0x0 0x7ff 0x1", "", socket), Waits::Keyboard);
            assert_eq!(waits("0 0x6 0x7ff 0x1", "", socket), Waits::Keyboard);
            assert_eq!(waits("0 0x9 0x7ff 0x1", "", socket), Waits::Other);
            assert_eq!(waits("0 0x3 0x7ff 0x1", "", socket), Waits::Socket);
            assert_eq!(waits("61 0xffffffff 0x0", "", socket), Waits::Child);
            assert_eq!(waits("7 0x7ff 0x2 0xffffffff", "", socket), Waits::Several);
        }
        // Unreadable system call: the kernel function it sleeps in.
        assert_eq!(waits("", "n_tty_read", socket), Waits::Keyboard);
        assert_eq!(waits("", "sk_wait_data", socket), Waits::Socket);
        assert_eq!(waits("running", "do_wait", socket), Waits::Child);
        assert_eq!(waits("", "0", socket), Waits::Other);
    }

    #[test]
    fn this_process_sees_its_own_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let snap = read(Path::new("/"));
        let me = std::process::id() as i32;
        let sock = snap
            .sockets
            .iter()
            .find(|s| s.local.port() == port && s.state == TcpState::Listen)
            .expect("our listener in /proc/net/tcp");
        let proc = snap
            .processes
            .iter()
            .find(|p| p.pid == me)
            .expect("this process among the holders");
        assert!(proc.sockets.contains(&sock.inode));
        let text = snap.to_json();
        assert_eq!(text.lines().count(), 1, "one line: {text}");
        assert_eq!(
            Snapshot::from_json(&text).unwrap(),
            snap,
            "the text reads back the same"
        );
    }
}
