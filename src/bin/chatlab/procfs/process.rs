//! `/proc/PID/…`: what a process is (`stat`, `cmdline`), what it holds open (`fd`), and what
//! it is blocked in (`syscall`, `wchan`).

use std::fs;
use std::path::{Path, PathBuf};

use super::Error;

/// One process, from `/proc/PID/stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: i32,
    /// Its name (`comm`, at most 15 bytes; it may hold spaces and parentheses).
    pub comm: String,
    /// `R` running, `S` asleep, `D` in the disk, `T` stopped, `Z` zombie…
    pub state: char,
    pub ppid: i32,
    /// Its session id.
    pub sid: i32,
    /// Start time (clock ticks after boot): with the pid, names a process even after reuse.
    pub start: u64,
    /// utime + stime, in clock ticks ([`ticks_per_second`]).
    pub cpu: u64,
    pub threads: u32,
}

impl Stat {
    /// The stat of process PID under PROC (`/proc`): an error when it has ended meanwhile.
    pub fn read(proc: &Path, pid: i32) -> Result<Stat, Error> {
        let path = dir(proc, pid).join("stat");
        let text = fs::read_to_string(&path).map_err(Error::read(&path))?;
        Stat::parse(&text).ok_or(Error::Malformed { path, text })
    }

    /// `pid (comm) state ppid pgrp session …`: the name may hold spaces and parentheses, so
    /// the fields are counted after the last ')'.
    pub fn parse(stat: &str) -> Option<Stat> {
        let (pid, rest) = stat.split_once(" (")?;
        let (comm, rest) = rest.rsplit_once(')')?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        let int = |i: usize| f.get(i).and_then(|v| v.parse::<i32>().ok());
        Some(Stat {
            pid: pid.trim().parse().ok()?,
            comm: comm.to_string(),
            state: f.first()?.chars().next()?,
            ppid: int(1)?,
            sid: int(3)?,
            // Fields 14, 15, 20, 22 of proc(5), counted here from field 3 (state) as 0.
            cpu: num(11)? + num(12)?,
            threads: num(17)? as u32,
            start: num(19)?,
        })
    }

    /// (pid, start time): names this process even after its pid is reused.
    pub fn key(&self) -> (i32, u64) {
        (self.pid, self.start)
    }

    /// Ended, and not reaped by its parent yet (or being torn down).
    pub fn zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// `/proc/PID`.
fn dir(proc: &Path, pid: i32) -> PathBuf {
    proc.join(pid.to_string())
}

/// The pids of every process visible under PROC now.
pub fn pids(proc: &Path) -> Result<Vec<i32>, Error> {
    let entries = fs::read_dir(proc).map_err(Error::read(proc))?;
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect())
}

/// The open descriptors of PID: each fd's number and what it links to (`socket:[INODE]`,
/// `/dev/pts/0`, `pipe:[N]`, a path). Empty when the process has ended or is not ours.
pub fn fds(proc: &Path, pid: i32) -> Vec<(i32, String)> {
    let Ok(entries) = fs::read_dir(dir(proc, pid).join("fd")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse().ok()?;
            let target = fs::read_link(e.path()).ok()?;
            Some((n, target.to_string_lossy().into_owned()))
        })
        .collect()
}

/// `socket:[12345]` → 12345: the inode of the socket an fd links to.
pub fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// The command line of PID, its arguments separated by spaces ("" for a kernel thread, or
/// when it cannot be read).
pub fn cmdline(proc: &Path, pid: i32) -> String {
    fs::read(dir(proc, pid).join("cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .trim_end_matches('\0')
                .replace('\0', " ")
        })
        .unwrap_or_default()
}

/// `/proc/PID/syscall` ("NR ARG1 …", "running", or "" when it cannot be read: another
/// user's process) and `/proc/PID/wchan` (where in the kernel it sleeps).
pub fn blocked_in(proc: &Path, pid: i32) -> (String, String) {
    let read = |file| fs::read_to_string(dir(proc, pid).join(file)).unwrap_or_default();
    (read("syscall"), read("wchan"))
}

/// Clock ticks per second, for [`Stat::cpu`].
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
    fn stat_names_may_hold_spaces_and_parentheses() {
        let line = "42 (my (odd) prog) S 7 42 40 34816 42 4194560 120 0 0 0 3 4 0 0 20 0 2 0 987654 2490368 200 18446744073709551615";
        let s = Stat::parse(line).unwrap();
        assert_eq!(
            (s.pid, s.comm.as_str(), s.state, s.ppid, s.sid),
            (42, "my (odd) prog", 'S', 7, 40)
        );
        assert_eq!((s.cpu, s.threads, s.start), (7, 2, 987654));
        assert_eq!(Stat::parse("nonsense"), None);
        assert_eq!(Stat::parse("42 (short) S 7 42 42 0"), None);
    }

    #[test]
    fn this_process_reads_itself() {
        let proc = Path::new(super::super::PROC);
        let me = std::process::id() as i32;
        let stat = Stat::read(proc, me).unwrap();
        assert_eq!(stat.pid, me);
        assert_eq!(stat.ppid, nix::unistd::getppid().as_raw());
        assert!(pids(proc).unwrap().contains(&me));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let held: Vec<u64> = fds(proc, me)
            .iter()
            .filter_map(|(_, target)| socket_inode(target))
            .collect();
        assert!(!held.is_empty(), "our listener among our fds");
        drop(listener);
        assert!(matches!(Stat::read(proc, -1), Err(Error::Read { .. })));
        assert_eq!(socket_inode("socket:[123]"), Some(123));
        assert_eq!(socket_inode("pipe:[123]"), None);
    }
}
