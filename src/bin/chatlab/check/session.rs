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

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, setpgid, tcsetpgrp};

pub fn run(command: &[OsString]) -> ExitCode {
    let mut report = std::io::stdout();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let Some((program, args)) = command.split_first() else {
        let _ = writeln!(report, "error Other no command");
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
            let _ = writeln!(report, "error Other {e}");
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
            let _ = writeln!(report, "error {:?} {e}", e.kind());
            return ExitCode::from(127);
        }
    };
    let pid = child.id() as i32;
    let _ = writeln!(report, "pid {pid}");
    let _ = report.flush();
    // Reap the program and every orphan that comes to us; report the program's end.
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => {
                let _ = writeln!(report, "exit {code}");
            }
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                let _ = writeln!(report, "signal {}", sig as i32);
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
