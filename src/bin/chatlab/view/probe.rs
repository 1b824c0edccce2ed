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

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

/// A TCP socket of this host.
#[derive(Clone, Debug, PartialEq)]
pub struct Socket {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// The kernel's name: ESTABLISHED, TIME_WAIT, LISTEN…
    pub state: &'static str,
    /// Bytes sent, not yet acknowledged (Send-Q).
    pub send_q: u32,
    /// Bytes received, not yet read by the program (Recv-Q).
    pub recv_q: u32,
    /// TIME_WAIT: seconds left before the kernel forgets the connection.
    pub timer_s: Option<f64>,
    pub inode: u64,
}

/// What a process is blocked on, when that can be seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Waits {
    /// `read` on fd 0 when it is a terminal or a pipe: the keyboard.
    Keyboard,
    /// `read`/`recv` on a socket.
    Socket,
    /// Waiting for a child (`wait`), or for several descriptors at once (`poll`, `select`).
    Child,
    Several,
    /// Running, or blocked in something else.
    Other,
}

impl Waits {
    pub fn name(self) -> &'static str {
        match self {
            Waits::Keyboard => "keyboard",
            Waits::Socket => "socket",
            Waits::Child => "child",
            Waits::Several => "several",
            Waits::Other => "other",
        }
    }
}

/// A process that holds a TCP socket of this host (or is a zombie child of one that does).
#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The process's name (`comm`) and command line.
    pub comm: String,
    pub args: String,
    /// `R`, `S`, `D`, `T`, `Z`…
    pub state: char,
    pub waits: Waits,
    /// The inodes of the TCP sockets it holds.
    pub sockets: Vec<u64>,
}

/// One host's snapshot.
#[derive(Debug, Default, PartialEq)]
pub struct Snapshot {
    pub sockets: Vec<Socket>,
    pub processes: Vec<Process>,
    /// What lab/netem set on this host's egress, and by which engine (its state file).
    pub netem: Option<(String, String)>,
}

/// Where lab/netem keeps what it set on a host (`engine=…` and `settings=…` lines).
const NETEM_STATE: &str = "run/lab-netem.state";

/// (settings, engine) from lab/netem's state file, if it set anything.
fn read_netem(root: &Path) -> Option<(String, String)> {
    let text = fs::read_to_string(root.join(NETEM_STATE)).ok()?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_string)
    };
    Some((get("settings")?, get("engine")?))
}

/// Read this host's snapshot from /proc (under ROOT, `/` in real use).
pub fn read(root: &Path) -> Snapshot {
    let mut sockets = Vec::new();
    for (file, v6) in [("proc/net/tcp", false), ("proc/net/tcp6", true)] {
        if let Ok(text) = fs::read_to_string(root.join(file)) {
            sockets.extend(text.lines().skip(1).filter_map(|l| parse_tcp_line(l, v6)));
        }
    }
    let tcp: HashMap<u64, ()> = sockets
        .iter()
        .filter(|s| s.inode != 0)
        .map(|s| (s.inode, ()))
        .collect();
    let mut processes = Vec::new();
    let netem = read_netem(root);
    let Ok(dir) = fs::read_dir(root.join("proc")) else {
        return Snapshot {
            sockets,
            processes,
            netem,
        };
    };
    let mut all = Vec::new();
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let base = entry.path();
        let Some((comm, state, ppid)) = fs::read_to_string(base.join("stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
        else {
            continue;
        };
        let mut held = Vec::new();
        // Each open fd: what it is (a TCP socket of ours, the keyboard, something else).
        let mut fd_kind = HashMap::new();
        let mut targets = HashMap::new();
        if let Ok(fds) = fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                let (Ok(n), Ok(target)) = (
                    fd.file_name().to_string_lossy().parse::<i64>(),
                    fs::read_link(fd.path()),
                ) else {
                    continue;
                };
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = socket_inode(&target)
                    && tcp.contains_key(&inode)
                {
                    held.push(inode);
                    fd_kind.insert(n, Waits::Socket);
                }
                targets.insert(n, target);
            }
        }
        // The keyboard: a terminal, or whatever fd 0 is (a program may read a copy of fd 0).
        for (n, target) in &targets {
            let terminal = target.starts_with("/dev/pts/") || target.starts_with("/dev/tty");
            if terminal || targets.get(&0) == Some(target) {
                fd_kind.entry(*n).or_insert(Waits::Keyboard);
            }
        }
        held.sort_unstable();
        let waits = if state == 'S' || state == 'D' {
            let syscall = fs::read_to_string(base.join("syscall")).unwrap_or_default();
            let wchan = fs::read_to_string(base.join("wchan")).unwrap_or_default();
            waits(&syscall, &wchan, |fd| fd_kind.get(&fd).copied())
        } else {
            Waits::Other
        };
        let args = fs::read(base.join("cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            })
            .unwrap_or_default();
        all.push(Process {
            pid,
            ppid,
            comm,
            args,
            state,
            waits,
            sockets: held,
        });
    }
    // Those that hold a socket, and their zombie children (a conversation not reaped).
    let holders: Vec<u32> = all
        .iter()
        .filter(|p| !p.sockets.is_empty())
        .map(|p| p.pid)
        .collect();
    for p in all {
        if !p.sockets.is_empty() || (p.state == 'Z' && holders.contains(&p.ppid)) {
            processes.push(p);
        }
    }
    processes.sort_by_key(|p| p.pid);
    Snapshot {
        sockets,
        processes,
        netem,
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// `pid (comm) state ppid …`: the name may hold spaces and parentheses, so split at the last ')'.
fn parse_stat(stat: &str) -> Option<(String, char, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((comm, state, ppid))
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

/// One line of /proc/net/tcp (or tcp6).
fn parse_tcp_line(line: &str, v6: bool) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let local = parse_addr(f[1], v6)?;
    let remote = parse_addr(f[2], v6)?;
    let state = state_name(u8::from_str_radix(f[3], 16).ok()?);
    let (tx, rx) = f[4].split_once(':')?;
    let (timer, when) = f[5].split_once(':')?;
    // Timer 3 is TIME_WAIT's; `when` is in clock ticks (USER_HZ, 100 per second).
    let timer_s = (timer == "03")
        .then(|| u64::from_str_radix(when, 16).ok())
        .flatten()
        .map(|ticks| ticks as f64 / 100.0);
    Some(Socket {
        local,
        remote,
        state,
        send_q: u32::from_str_radix(tx, 16).ok()?,
        recv_q: u32::from_str_radix(rx, 16).ok()?,
        timer_s,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080: each 32-bit word of the address is printed as this
/// machine's integer of its bytes in network order (native byte order gives them back).
fn parse_addr(text: &str, v6: bool) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let ip = match (v6, words.as_slice()) {
        (false, [w]) => IpAddr::V4(Ipv4Addr::from(w.to_ne_bytes())),
        (true, [a, b, c, d]) => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].into_iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
            let v6 = Ipv6Addr::from(bytes);
            v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

fn state_name(code: u8) -> &'static str {
    match code {
        1 => "ESTABLISHED",
        2 => "SYN_SENT",
        3 => "SYN_RECV",
        4 => "FIN_WAIT_1",
        5 => "FIN_WAIT_2",
        6 => "TIME_WAIT",
        7 => "CLOSED",
        8 => "CLOSE_WAIT",
        9 => "LAST_ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

impl Snapshot {
    /// The snapshot as lines of tab-separated fields, what `chatlab view --probe` writes for
    /// the view (one line per socket, then one per process; the command line last, its tabs
    /// and line ends made spaces):
    ///
    /// ```text
    /// socket  LOCAL  REMOTE  STATE  SEND_Q  RECV_Q  TIMER_S|-  INODE
    /// process PID  PPID  STATE  WAITS  INODE,INODE…  COMM  ARGS
    /// netem   SETTINGS  ENGINE
    /// ```
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some((settings, engine)) = &self.netem {
            let _ = writeln!(out, "netem\t{settings}\t{engine}");
        }
        for s in &self.sockets {
            let timer = s.timer_s.map_or("-".to_string(), |t| format!("{t:.2}"));
            let _ = writeln!(
                out,
                "socket\t{}\t{}\t{}\t{}\t{}\t{timer}\t{}",
                s.local, s.remote, s.state, s.send_q, s.recv_q, s.inode
            );
        }
        for p in &self.processes {
            let inodes: Vec<String> = p.sockets.iter().map(u64::to_string).collect();
            let clean = |t: &str| t.replace(['\t', '\n', '\r'], " ");
            let _ = writeln!(
                out,
                "process\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                p.pid,
                p.ppid,
                p.state,
                p.waits.name(),
                inodes.join(","),
                clean(&p.comm),
                clean(&p.args)
            );
        }
        out
    }

    /// Read back what [`Snapshot::to_text`] wrote; lines it does not understand are skipped.
    pub fn from_text(text: &str) -> Snapshot {
        let mut snap = Snapshot::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["socket", local, remote, state, send_q, recv_q, timer, inode] => {
                    let (Ok(local), Ok(remote), Ok(send_q), Ok(recv_q), Ok(inode)) = (
                        local.parse(),
                        remote.parse(),
                        send_q.parse(),
                        recv_q.parse(),
                        inode.parse(),
                    ) else {
                        continue;
                    };
                    snap.sockets.push(Socket {
                        local,
                        remote,
                        state: STATES
                            .iter()
                            .find(|s| *s == state)
                            .copied()
                            .unwrap_or("UNKNOWN"),
                        send_q,
                        recv_q,
                        timer_s: timer.parse().ok(),
                        inode,
                    });
                }
                ["process", pid, ppid, state, waits, inodes, comm, args] => {
                    let (Ok(pid), Ok(ppid), Some(state)) =
                        (pid.parse(), ppid.parse(), state.chars().next())
                    else {
                        continue;
                    };
                    snap.processes.push(Process {
                        pid,
                        ppid,
                        comm: comm.to_string(),
                        args: args.to_string(),
                        state,
                        waits: WAITS
                            .iter()
                            .find(|w| w.name() == *waits)
                            .copied()
                            .unwrap_or(Waits::Other),
                        sockets: inodes.split(',').filter_map(|i| i.parse().ok()).collect(),
                    });
                }
                ["netem", settings, engine] => {
                    snap.netem = Some((settings.to_string(), engine.to_string()));
                }
                _ => {}
            }
        }
        snap
    }
}

const STATES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT_1",
    "FIN_WAIT_2",
    "TIME_WAIT",
    "CLOSED",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "UNKNOWN",
];
const WAITS: [Waits; 5] = [
    Waits::Keyboard,
    Waits::Socket,
    Waits::Child,
    Waits::Several,
    Waits::Other,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_tcp_table() {
        let line = "   3: 0B50500A:9C40 0A50500A:1F90 01 00000004:00000007 00:00000000 00000000     0        0 4242 1 0 20 4 30 10 -1";
        let s = parse_tcp_line(line, false).unwrap();
        assert_eq!(s.local, "10.80.80.11:40000".parse().unwrap());
        assert_eq!(s.remote, "10.80.80.10:8080".parse().unwrap());
        assert_eq!(
            (s.state, s.send_q, s.recv_q, s.inode),
            ("ESTABLISHED", 4, 7, 4242)
        );
        assert_eq!(s.timer_s, None);
        let tw = "   4: 0A50500A:1F90 0B50500A:9C40 06 00000000:00000000 03:000016A8 00000000     0        0 0 3 0";
        let s = parse_tcp_line(tw, false).unwrap();
        assert_eq!(s.state, "TIME_WAIT");
        assert_eq!(s.timer_s, Some(58.0));
        let v6 = "   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 77 1";
        let s = parse_tcp_line(v6, true).unwrap();
        assert_eq!(s.local, "127.0.0.1:8080".parse().unwrap());
        let lo6 = "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 78 1";
        assert_eq!(
            parse_tcp_line(lo6, true).unwrap().local,
            "[::1]:8080".parse().unwrap()
        );
        assert_eq!(parse_tcp_line("garbage", false), None);
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
            Some(("delay 100ms loss 5%".to_string(), "userspace".to_string()))
        );
        let snap = Snapshot {
            netem,
            ..Snapshot::default()
        };
        assert_eq!(Snapshot::from_text(&snap.to_text()), snap);
    }

    #[test]
    fn stat_names_may_hold_spaces_and_parentheses() {
        assert_eq!(
            parse_stat("42 (my (odd) prog) S 7 42 42 0"),
            Some(("my (odd) prog".to_string(), 'S', 7))
        );
        assert_eq!(parse_stat("nonsense"), None);
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
        let me = std::process::id();
        let sock = snap
            .sockets
            .iter()
            .find(|s| s.local.port() == port && s.state == "LISTEN")
            .expect("our listener in /proc/net/tcp");
        let proc = snap
            .processes
            .iter()
            .find(|p| p.pid == me)
            .expect("this process among the holders");
        assert!(proc.sockets.contains(&sock.inode));
        assert_eq!(
            Snapshot::from_text(&snap.to_text()),
            snap,
            "the text reads back the same"
        );
    }
}
