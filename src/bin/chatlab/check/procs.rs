//! What /proc says about processes and TCP sockets: the checker's eyes on the program.

use std::collections::HashSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One process, from /proc/PID/stat.
#[derive(Clone, Debug)]
pub struct Proc {
    pub pid: i32,
    pub ppid: i32,
    pub sid: i32,
    pub state: char,
    /// Start time (clock ticks after boot): with the pid, names a process even after reuse.
    pub start: u64,
    /// utime + stime, in clock ticks.
    pub cpu: u64,
    pub threads: u32,
}

impl Proc {
    pub fn key(&self) -> (i32, u64) {
        (self.pid, self.start)
    }

    pub fn zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

fn read(pid: i32) -> Option<Proc> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ppid pgrp session …: comm may hold spaces, split after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Proc {
        pid,
        state: f.first()?.chars().next()?,
        ppid: num(1)? as i32,
        sid: num(3)? as i32,
        // Fields 14, 15, 20, 22 of proc(5), counted here from field 3 (state) as 0.
        cpu: num(11)? + num(12)?,
        threads: num(17)? as u32,
        start: num(19)?,
    })
}

/// Every process visible now.
pub fn all() -> Vec<Proc> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read)
        .collect()
}

/// The processes of ROOT's tree: those of SESSION, ROOT's descendants (by parent links: an
/// orphan is reparented to ROOT, a child subreaper), plus those in KNOWN still there; ROOT
/// and the process SESSION (its leader) excluded.
///
/// What this returns gets stopped and killed: it never holds init, this process (ROOT may
/// be this process: the warden's own tree), or anything
/// found through a session or root id of 0 or 1 (init's tree is the whole machine; its
/// session id may be 0, as kernel threads' are).
pub fn tree(root: i32, session: i32, known: &HashSet<(i32, u64)>) -> Vec<Proc> {
    let me = std::process::id() as i32;
    if root <= 1 {
        return Vec::new();
    }
    let all: Vec<Proc> = all()
        .into_iter()
        .filter(|p| p.pid > 1 && p.pid != me && p.pid != root)
        .collect();
    let mut inside: HashSet<i32> = HashSet::new();
    for p in &all {
        if (session > 1 && p.sid == session) || p.ppid == root || known.contains(&p.key()) {
            inside.insert(p.pid);
        }
    }
    // Descendants: repeat until nothing is added (parents may be listed after children).
    loop {
        let before = inside.len();
        for p in &all {
            if inside.contains(&p.ppid) {
                inside.insert(p.pid);
            }
        }
        if inside.len() == before {
            break;
        }
    }
    all.into_iter()
        .filter(|p| inside.contains(&p.pid) && p.pid != session)
        .collect()
}

/// The socket inodes PID holds open.
pub fn sockets(pid: i32) -> HashSet<u64> {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let link = fs::read_link(e.path()).ok()?;
            let link = link.to_str()?;
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// One line of /proc/net/tcp or tcp6.
#[derive(Debug)]
pub struct Tcp {
    pub local_ip: IpAddr,
    pub local_port: u16,
    pub remote_port: u16,
    /// 01 ESTABLISHED … 06 TIME_WAIT … 0A LISTEN.
    pub state: u8,
    pub inode: u64,
}

pub const LISTEN: u8 = 0x0A;
pub const TIME_WAIT: u8 = 0x06;

pub fn tcp() -> Vec<Tcp> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            let port = |a: &str| {
                a.rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            };
            let (Some(local_ip), Some(local_port), Some(remote_port), Ok(state), Ok(inode)) = (
                f[1].split_once(':').and_then(|(ip, _)| ip_of(ip)),
                port(f[1]),
                port(f[2]),
                u8::from_str_radix(f[3], 16),
                f[9].parse(),
            ) else {
                continue;
            };
            out.push(Tcp {
                local_ip,
                local_port,
                remote_port,
                state,
                inode,
            });
        }
    }
    out
}

/// An address as /proc/net/tcp{,6} writes it: 32-bit words in hex, each in host byte order.
fn ip_of(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        let w = u32::from_str_radix(hex.get(8 * i..8 * i + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(Ipv4Addr::from(word(0)?).into()),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[4 * i..4 * i + 4].copy_from_slice(&word(i)?);
            }
            Some(Ipv6Addr::from(b).into())
        }
        _ => None,
    }
}

/// The local addresses of the sockets listening on PORT.
pub fn listening_on(port: u16) -> Vec<IpAddr> {
    tcp()
        .into_iter()
        .filter(|t| t.local_port == port && t.state == LISTEN)
        .map(|t| t.local_ip)
        .collect()
}

/// The inode of the socket whose local port is LOCAL and remote port REMOTE (not TIME_WAIT).
pub fn connection(local: u16, remote: u16) -> Option<u64> {
    tcp()
        .into_iter()
        .find(|t| t.local_port == local && t.remote_port == remote && t.inode != 0)
        .map(|t| t.inode)
}

/// The inodes of the sockets listening on PORT.
pub fn listening(port: u16) -> HashSet<u64> {
    tcp()
        .into_iter()
        .filter(|t| t.local_port == port && t.state == LISTEN)
        .map(|t| t.inode)
        .collect()
}

/// Whether a connection from local port PORT is in TIME_WAIT.
pub fn time_wait(port: u16) -> bool {
    tcp()
        .iter()
        .any(|t| t.local_port == port && t.state == TIME_WAIT)
}

/// Clock ticks per second, for [`Proc::cpu`].
pub fn ticks_per_second() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |t| t as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_addresses_read_right() {
        let v4 = |a: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(a));
        assert_eq!(
            ip_of(&v4([127, 0, 0, 1])),
            Some("127.0.0.1".parse().unwrap())
        );
        assert_eq!(ip_of("00000000"), Some("0.0.0.0".parse().unwrap()));
        let v6: [u8; 16] = "::ffff:10.0.0.2".parse::<Ipv6Addr>().unwrap().octets();
        let hex: String = v6
            .chunks(4)
            .map(|c| format!("{:08X}", u32::from_ne_bytes(c.try_into().unwrap())))
            .collect();
        assert_eq!(ip_of(&hex), Some("::ffff:10.0.0.2".parse().unwrap()));
        assert_eq!(ip_of("zz"), None);
    }

    /// A tree asked with no session, or about init, holds none of the machine's other
    /// processes (a session id of 0 once matched init's whole tree here).
    #[test]
    fn a_tree_never_reaches_beyond_its_root() {
        let none = HashSet::new();
        let me = std::process::id() as i32;
        let parent = nix::unistd::getppid().as_raw();
        for (root, session) in [(1, 0), (0, 0), (me, 0), (parent, 1), (parent, 0)] {
            let found = tree(root, session, &none);
            assert!(
                found.iter().all(|p| p.pid != 1 && p.pid != me),
                "tree({root}, {session}) holds init or the caller: {found:?}"
            );
        }
        // Our parent's tree without a session: its descendants (us among them), nothing else.
        let found = tree(parent, 0, &none);
        assert!(found.iter().all(|p| p.pid != parent), "{found:?}");
        assert!(tree(1, 0, &none).is_empty());
    }
}
