//! `chatlab check-session -- COMMAND…`: the helper that leads the program's terminal session.
//!
//! Started by the checker as session leader of a new session whose controlling terminal is
//! the pseudo-terminal on its stdin. It starts COMMAND as a shell would, in a process group of
//! its own made the terminal's foreground group (so `\x03` typed on the terminal is SIGINT for
//! the program, not for us), and stays: while it lives, the end of the program sends no SIGHUP
//! to what the program leaves behind, and a child left reading the keyboard stays visible.
//! It is also a child subreaper: orphans of the program become our children, not init's.
//!
//! It reports on stdout, one line each: `pid N` once started, `exit N` or `signal N` when the
//! program ends, or `error KIND MESSAGE` when it cannot be started. Then it waits to be killed.
//! Those lines are [`Said`]: written and read back by the same type.
//!
//! Above it stands the warden (`chatlab check-session --warden`, [`warden`]): the checker
//! starts the warden, the warden starts the helper. The warden owns everything the program
//! starts, whatever the program kills:
//!
//! ```text
//!   checker ── reports pipe (read end: the checker's alone) ◀── warden ── helper ── program…
//! ```
//!
//! - it is a child subreaper: when the helper is killed (`kill -9 $PPID`), the program's
//!   orphans become the warden's children, never init's;
//! - it watches its stdout, the reports pipe: when no reader is left (the checker returned,
//!   panicked, aborted or was SIGKILLed), the pipe says POLLERR, and the warden kills every
//!   process below it, reaps them, and exits. SIGTERM (the checker done with this run) does
//!   the same: once the warden has exited, nothing of the run is left, not even a zombie.
//!
//! Why this, not `PR_SET_PDEATHSIG` alone or a cgroup: the parent-death signal fires when
//! the parent *thread* ends and reaches one process (the helper), whose death sends SIGHUP to
//! the terminal's group only: a child that ignores SIGHUP and leaves the session survives. A
//! cgroup would contain everything, but creating one needs root or a delegated subtree, and
//! the checker runs as the student. A subreaper that outlives the checker needs neither. What
//! it cannot stop is a program that hunts down and kills the warden itself; `lab/check` runs
//! every program in a throwaway container, which contains that too.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};

use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, setpgid, tcsetpgrp};

use super::procs;

/// One line on the reports pipe, from the warden (`session`) or the helper (the others).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Said {
    /// The helper started: its pid (the session's id).
    Session(i32),
    /// The program started: its pid.
    Pid(i32),
    /// The program exited with this status.
    Exit(i32),
    /// The program was killed by this signal.
    Signal(i32),
    /// The program (or the helper) could not be started.
    Error(Unstarted),
}

/// Why a program could not be started: the kind of the `io::Error`, and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unstarted {
    /// No such file (`ErrorKind::NotFound`).
    NotFound(String),
    /// Not executable (`ErrorKind::PermissionDenied`).
    PermissionDenied(String),
    /// Any other kind, by its name.
    Other { kind: String, message: String },
    /// The helper ended without a word (neither a pid nor an error).
    Silent,
}

impl Unstarted {
    fn of(e: &std::io::Error) -> Unstarted {
        let message = e.to_string();
        match e.kind() {
            std::io::ErrorKind::NotFound => Unstarted::NotFound(message),
            std::io::ErrorKind::PermissionDenied => Unstarted::PermissionDenied(message),
            kind => Unstarted::Other {
                kind: format!("{kind:?}"),
                message,
            },
        }
    }

    fn other(message: impl fmt::Display) -> Unstarted {
        Unstarted::Other {
            kind: "Other".into(),
            message: message.to_string(),
        }
    }
}

/// `KIND MESSAGE`, as the helper says it after `error`.
impl fmt::Display for Unstarted {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Unstarted::NotFound(m) => write!(f, "NotFound {m}"),
            Unstarted::PermissionDenied(m) => write!(f, "PermissionDenied {m}"),
            Unstarted::Other { kind, message } => write!(f, "{kind} {message}"),
            Unstarted::Silent => write!(f, "the session helper failed"),
        }
    }
}

impl fmt::Display for Said {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Said::Session(n) => write!(f, "session {n}"),
            Said::Pid(n) => write!(f, "pid {n}"),
            Said::Exit(n) => write!(f, "exit {n}"),
            Said::Signal(n) => write!(f, "signal {n}"),
            Said::Error(why) => write!(f, "error {why}"),
        }
    }
}

impl Said {
    /// A line read back; None for a line that is none of these.
    pub fn parse(line: &str) -> Option<Said> {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let n = || rest.parse().unwrap_or(-1);
        Some(match word {
            "session" => Said::Session(rest.parse().ok()?),
            "pid" => Said::Pid(rest.parse().ok()?),
            "exit" => Said::Exit(n()),
            "signal" => Said::Signal(n()),
            "error" => {
                let (kind, message) = rest.split_once(' ').unwrap_or((rest, ""));
                let message = message.to_string();
                Said::Error(match kind {
                    "NotFound" => Unstarted::NotFound(message),
                    "PermissionDenied" => Unstarted::PermissionDenied(message),
                    _ => Unstarted::Other {
                        kind: kind.to_string(),
                        message,
                    },
                })
            }
            _ => return None,
        })
    }
}

/// The warden: start the helper (`check-session -- COMMAND`) as leader of a new session on
/// the terminal that is our stdin, say `session N` (its pid), reap every orphan that comes to
/// us, and when the checker is gone (no reader left on our stdout), kill and reap everything
/// below us, then exit.
pub fn warden(command: &[OsString]) -> ExitCode {
    let mut report = std::io::stdout();
    // Orphans of the program come to us from here on (before the helper exists).
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            let _ = writeln!(report, "{}", Said::Error(Unstarted::other(e)));
            return ExitCode::from(127);
        }
    };
    // SIGTERM (the checker's "done") and SIGCHLD (an orphan to reap) come as readable events
    // of a signalfd, beside the reports pipe.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGCHLD);
    let signals = mask
        .thread_block()
        .map_err(std::io::Error::from)
        .and_then(|()| {
            SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
                .map_err(Into::into)
        });
    let signals = match signals {
        Ok(fd) => fd,
        Err(e) => {
            let _ = writeln!(report, "{}", Said::Error(Unstarted::other(e)));
            return ExitCode::from(127);
        }
    };
    let mut cmd = Command::new(exe);
    cmd.arg("check-session").arg("--").args(command);
    // stdin (the terminal), stdout (the reports) and stderr (the program's) are inherited.
    // SAFETY: between fork and exec the closure makes only async-signal-safe system calls
    // (sigprocmask, setsid, ioctl, prctl) and allocates nothing (MASK is built before).
    unsafe {
        cmd.pre_exec(move || {
            // A blocked signal stays blocked across exec: the helper and the program get none.
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&mask), None)?;
            nix::unistd::setsid()?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The helper does not outlive us (we may be killed: then its death hangs up the
            // terminal, and its orphans go to the checker's side of the tree).
            if nix::libc::prctl(nix::libc::PR_SET_PDEATHSIG, nix::libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(helper) => {
            let _ = writeln!(report, "{}", Said::Session(helper.id() as i32));
        }
        Err(e) => {
            // Nothing below us: say why and end (the checker sees the reports pipe close).
            let _ = writeln!(report, "{}", Said::Error(Unstarted::of(&e)));
            return ExitCode::from(127);
        }
    }
    let _ = report.flush();
    let me = getpid().as_raw();
    let stdout = std::io::stdout();
    loop {
        // POLLERR on a pipe's write end: its last reader is gone. No event asked for: POLLERR
        // and POLLHUP are always reported.
        let mut fds = [
            PollFd::new(stdout.as_fd(), PollFlags::empty()),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        let gone = match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => fds[0].any().unwrap_or(true),
            Err(Errno::EINTR) => false,
            Err(_) => true,
        };
        let mut done = gone;
        while let Ok(Some(info)) = signals.read_signal() {
            done |= info.ssi_signo == Signal::SIGTERM as u32;
        }
        reap();
        if done {
            break;
        }
    }
    kill_below(me);
    ExitCode::SUCCESS
}

/// Reap every child that has ended, without waiting; whether any child is left.
fn reap() -> bool {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
}

/// Kill every process below ME (a child subreaper) and reap them all. Stopped first, so that a
/// process that keeps forking cannot outrun the killing. A subreaper with no child has no
/// descendant left (each orphan comes to it), so this ends when waitpid says ECHILD.
fn kill_below(me: i32) {
    let none = std::collections::HashSet::new();
    // Bounded all the same: a child we cannot see in /proc must not keep us spinning.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        let below = procs::tree(me, me, &none);
        for signal in [Signal::SIGSTOP, Signal::SIGKILL] {
            for p in below.iter().filter(|p| !p.zombie()) {
                let _ = kill(Pid::from_raw(p.pid), signal);
            }
        }
        if !reap() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn run(command: &[OsString]) -> ExitCode {
    let mut report = std::io::stdout();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let Some((program, args)) = command.split_first() else {
        let _ = writeln!(report, "{}", Said::Error(Unstarted::other("no command")));
        return ExitCode::from(127);
    };
    let terminal = std::io::stdin();
    let tty = |what| {
        terminal
            .as_fd()
            .try_clone_to_owned()
            .map(Stdio::from)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{what}: {e}")))
    };
    let (stdin, stdout) = match (tty("stdin"), tty("stdout")) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) | (_, Err(e)) => {
            let _ = writeln!(report, "{}", Said::Error(Unstarted::other(e)));
            return ExitCode::from(127);
        }
    };
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(stdin).stdout(stdout);
    // SAFETY: between fork and exec the closure makes only async-signal-safe system calls
    // (sigprocmask, setpgid, getpid, tcsetpgrp) and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            // A process of a background group may take the terminal only with SIGTTOU blocked.
            let mut ttou = SigSet::empty();
            ttou.add(Signal::SIGTTOU);
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&ttou), None)?;
            setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
            // SAFETY: fd 0 is the terminal, open for the whole life of this process.
            tcsetpgrp(BorrowedFd::borrow_raw(0), getpid())?;
            sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&ttou), None)?;
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            let _ = writeln!(report, "{}", Said::Error(Unstarted::of(&e)));
            return ExitCode::from(127);
        }
    };
    let pid = child.id() as i32;
    let _ = writeln!(report, "{}", Said::Pid(pid));
    let _ = report.flush();
    // Reap the program and every orphan that comes to us; report the program's end.
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => {
                let _ = writeln!(report, "{}", Said::Exit(code));
            }
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                let _ = writeln!(report, "{}", Said::Signal(sig as i32));
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
        let _ = report.flush();
    }
    // No child left, so no descendant either: wait for the checker to end us.
    loop {
        nix::unistd::pause();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_said_reads_back() {
        let not_found = std::io::Error::from(std::io::ErrorKind::NotFound);
        for said in [
            Said::Session(12),
            Said::Pid(13),
            Said::Exit(0),
            Said::Signal(9),
            Said::Error(Unstarted::of(&not_found)),
            Said::Error(Unstarted::PermissionDenied(
                "Permission denied (os error 13)".into(),
            )),
            Said::Error(Unstarted::other("no command")),
        ] {
            assert_eq!(Said::parse(&said.to_string()), Some(said));
        }
        assert_eq!(
            Said::parse("error InvalidInput nul byte found"),
            Some(Said::Error(Unstarted::Other {
                kind: "InvalidInput".into(),
                message: "nul byte found".into()
            }))
        );
        assert_eq!(Said::parse("hello"), None);
    }
}
