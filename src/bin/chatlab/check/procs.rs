//! What the checker asks of /proc about the program: its process tree, the sockets it holds,
//! who listens on a port, a connection in TIME_WAIT. The reading itself is [`crate::procfs`]'s.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use crate::procfs::tcp::{self, Socket, TcpState};
use crate::procfs::{PROC, process};

/// One process, from /proc/PID/stat.
pub use crate::procfs::process::Stat as Proc;
pub use crate::procfs::process::ticks_per_second;

/// Every process visible now.
pub fn all() -> Vec<Proc> {
    let proc = Path::new(PROC);
    let pids = process::pids(proc).unwrap_or_default();
    // (A process may end between the listing and the reading of its stat: it is gone.)
    pids.into_iter()
        .filter_map(|pid| Proc::read(proc, pid).ok())
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
    process::fds(Path::new(PROC), pid)
        .iter()
        .filter_map(|(_, target)| process::socket_inode(target))
        .collect()
}

/// Every TCP socket of this host (none if /proc/net/tcp cannot be read).
fn tcp() -> Vec<Socket> {
    tcp::table(Path::new(PROC)).unwrap_or_else(|e| {
        log::debug!("{e}");
        Vec::new()
    })
}

/// The local addresses of the sockets listening on PORT.
pub fn listening_on(port: u16) -> Vec<IpAddr> {
    tcp()
        .into_iter()
        .filter(|t| t.local.port() == port && t.state == TcpState::Listen)
        .map(|t| t.local.ip())
        .collect()
}

/// The inode of the socket whose local port is LOCAL and remote port REMOTE (not TIME_WAIT).
pub fn connection(local: u16, remote: u16) -> Option<u64> {
    tcp()
        .into_iter()
        .find(|t| t.local.port() == local && t.remote.port() == remote && t.inode != 0)
        .map(|t| t.inode)
}

/// The inodes of the sockets listening on PORT.
pub fn listening(port: u16) -> HashSet<u64> {
    tcp()
        .into_iter()
        .filter(|t| t.local.port() == port && t.state == TcpState::Listen)
        .map(|t| t.inode)
        .collect()
}

/// Whether a connection from local port PORT is in TIME_WAIT.
pub fn time_wait(port: u16) -> bool {
    tcp()
        .iter()
        .any(|t| t.local.port() == port && t.state == TcpState::TimeWait)
}

#[cfg(test)]
mod tests {
    use super::*;

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
