//! The student's program, run as a person runs it: behind a terminal, from a shell.
//!
//! ```text
//!   checker ── pty master ──▶ (terminal) ◀── stdin/stdout ── program (foreground group)
//!      │                          ▲ controlling terminal of the session           │
//!      └── spawns ── warden ── spawns ── check-session (session leader) ── spawns ┘
//!                 (child subreaper, outlives the checker: see [`super::session`])
//! ```
//!
//! The terminal has echo off (what is typed does not come back as output) and no output
//! processing (LF stays LF); input is canonical, so a line is delivered at Enter, `\x04` at
//! the start of a line is the end of input (Ctrl-D) and `\x03` is SIGINT (Ctrl-C). stderr is a
//! pipe of its own. Every process of the program's tree is killed when this is dropped.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::signal::{Signal, kill};
use nix::sys::termios::{self, LocalFlags, OutputFlags, SetArg};
use nix::unistd::Pid;

use super::capture::Captured;
use super::procs::{self, Proc};
use super::quote;
use super::session::{Said, Unstarted};
use crate::lang::Lang;

/// How the program ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Signaled(i32),
    /// It could not be started at all (not found, not executable…).
    NotRun(Unstarted),
}

pub struct Program {
    /// The warden (it started the session helper).
    helper: Child,
    /// The session helper's pid (the session's id), once the warden has said it.
    leader: i32,
    master: File,
    /// What the program prints on its terminal.
    pub out: Captured,
    err: Captured,
    /// The read end of the stderr pipe, to know when its reader has caught up.
    err_pipe: OwnedFd,
    reports: Captured,
    /// Every process seen in its tree, remembered by pid and start time.
    seen: Mutex<HashSet<(i32, u64)>>,
    /// The language its crash lines are quoted in.
    lang: Lang,
    /// Killed already: its pids may since have been given to other processes.
    killed: bool,
}

impl Program {
    /// Start COMMAND behind a new terminal, through the session helper.
    pub fn start(command: &[String], lang: Lang) -> io::Result<Program> {
        let pty = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut t = termios::tcgetattr(pty.slave.as_fd()).map_err(io::Error::from)?;
        t.local_flags
            .remove(LocalFlags::ECHO | LocalFlags::ECHONL | LocalFlags::ECHOCTL);
        t.local_flags.insert(LocalFlags::ICANON | LocalFlags::ISIG);
        t.output_flags.remove(OutputFlags::OPOST);
        termios::tcsetattr(pty.slave.as_fd(), SetArg::TCSANOW, &t).map_err(io::Error::from)?;
        // The master stays ours: neither the helper nor the program may inherit it.
        cloexec(&pty.master)?;
        let exe = std::env::current_exe()?;
        let mut cmd = Command::new(exe);
        cmd.args(["check-session", "--warden", "--"]).args(command);
        // A group of its own: a Ctrl-C or a Ctrl-Z on the checker's terminal is not for the
        // warden, which must outlive the checker to clean up after it.
        cmd.process_group(0);
        cmd.stdin(Stdio::from(pty.slave))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The program's environment: no PYTHON* variable (PYTHONUNBUFFERED=1 would hide a
        // buffering mistake), a UTF-8 locale whatever the user's.
        for (name, _) in std::env::vars_os() {
            let n = name.to_string_lossy();
            if n.starts_with("PYTHON") || n.starts_with("LC_") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("LANG", "C.UTF-8").env("TERM", "dumb");
        let mut helper = cmd.spawn()?;
        let reports = Captured::collect(helper.stdout.take().expect("piped"));
        let stderr = helper.stderr.take().expect("piped");
        let err_pipe = stderr.as_fd().try_clone_to_owned()?;
        let err = Captured::collect(stderr);
        let master = File::from(pty.master);
        let out = Captured::collect(master.try_clone()?);
        let mut program = Program {
            helper,
            leader: 0,
            master,
            out,
            err,
            err_pipe,
            reports,
            seen: Mutex::new(HashSet::new()),
            lang,
            killed: false,
        };
        // The warden says `session N` (or `error …`), the helper `pid N` or `error …`, at once.
        program
            .reports
            .wait_until(0, Duration::from_secs(5), |b, closed| {
                let said: Vec<Said> = String::from_utf8_lossy(b)
                    .lines()
                    .filter_map(Said::parse)
                    .collect();
                let session = said.iter().any(|s| matches!(s, Said::Session(_)));
                let program = said
                    .iter()
                    .any(|s| matches!(s, Said::Pid(_) | Said::Error(_)));
                closed || (session && program)
            });
        program.leader = program
            .said()
            .iter()
            .find_map(|s| match s {
                Said::Session(n) => Some(*n),
                _ => None,
            })
            .unwrap_or(0);
        Ok(program)
    }

    /// What the warden and the helper said so far.
    fn said(&self) -> Vec<Said> {
        self.reports
            .text_since(0)
            .lines()
            .filter_map(Said::parse)
            .collect()
    }

    /// The program's pid, once started.
    pub fn pid(&self) -> Option<i32> {
        self.said().iter().find_map(|s| match s {
            Said::Pid(n) => Some(*n),
            _ => None,
        })
    }

    /// How it ended, if it has.
    pub fn end(&self) -> Option<End> {
        for said in self.said() {
            match said {
                Said::Exit(c) => return Some(End::Exited(c)),
                Said::Signal(s) => return Some(End::Signaled(s)),
                Said::Error(why) => return Some(End::NotRun(why)),
                Said::Session(_) | Said::Pid(_) => {}
            }
        }
        if self.reports.closed() && self.pid().is_none() {
            return Some(End::NotRun(Unstarted::Silent));
        }
        None
    }

    pub fn running(&self) -> bool {
        self.end().is_none()
    }

    /// Wait at most TIMEOUT for the program (its first process) to end.
    pub fn wait_end(&self, timeout: Duration) -> Option<End> {
        self.reports.wait_until(0, timeout, |b, closed| {
            closed
                || String::from_utf8_lossy(b)
                    .lines()
                    .any(|l| matches!(Said::parse(l), Some(Said::Exit(_) | Said::Signal(_))))
        });
        self.end()
    }

    /// Type BYTES on the terminal. A writer thread: a paste bigger than the terminal's input
    /// queue blocks until the program reads it.
    pub fn type_(&self, bytes: &[u8]) {
        let Ok(mut master) = self.master.try_clone() else {
            return;
        };
        let owned = bytes.to_vec();
        let writer = thread::Builder::new().spawn(move || {
            let _ = master.write_all(&owned);
        });
        if writer.is_err() {
            // No thread to be had (the process limit is exhausted): write from here.
            let _ = (&self.master).write_all(bytes);
        }
    }

    pub fn ctrl_c(&self) {
        self.type_(b"\x03");
    }

    pub fn ctrl_d(&self) {
        self.type_(b"\x04");
    }

    /// The processes of the program now (zombies included), remembered for later.
    pub fn procs(&self) -> Vec<Proc> {
        let mut seen = self.seen.lock().unwrap();
        let found = procs::tree(self.helper.id() as i32, self.leader, &seen);
        seen.extend(found.iter().map(Proc::key));
        found
    }

    /// Its processes that are not zombies.
    pub fn live(&self) -> Vec<Proc> {
        self.procs().into_iter().filter(|p| !p.zombie()).collect()
    }

    /// CPU time used by its live processes, in seconds.
    pub fn cpu(&self) -> f64 {
        let ticks: u64 = self.procs().iter().map(|p| p.cpu).sum();
        ticks as f64 / procs::ticks_per_second() as f64
    }

    /// Its processes holding the socket INODE.
    pub fn holders(&self, inode: u64) -> Vec<Proc> {
        self.procs()
            .into_iter()
            .filter(|p| !p.zombie() && procs::sockets(p.pid).contains(&inode))
            .collect()
    }

    /// A mark in its stderr (all it wrote so far kept): for `crashed_since`.
    pub fn err_mark(&self) -> usize {
        self.settle_stderr();
        self.err.len()
    }

    /// Its whole stderr so far.
    pub fn stderr_text(&self) -> String {
        self.settle_stderr();
        self.err.text_since(0)
    }

    /// The last lines of its stderr, for a report (bounded).
    pub fn stderr_tail(&self, lines: usize) -> String {
        let text = self.stderr_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Whether its stderr since MARK shows a Python traceback or another crash.
    pub fn crashed_since(&self, mark: usize) -> Option<String> {
        self.settle_stderr();
        let text = self.err.text_since(mark);
        crash_line(self.lang, &text)
    }

    /// Let the stderr reader catch up with what is in the pipe (a traceback written just
    /// before the program ended), for at most 300 ms.
    fn settle_stderr(&self) {
        let deadline = Instant::now() + Duration::from_millis(300);
        loop {
            let mut pending: nix::libc::c_int = 0;
            // SAFETY: FIONREAD writes one c_int, through a pointer to a live local c_int, about
            // a file descriptor this struct owns.
            let ok = unsafe {
                nix::libc::ioctl(
                    self.err_pipe.as_raw_fd(),
                    nix::libc::FIONREAD,
                    &mut pending as *mut nix::libc::c_int,
                )
            } == 0;
            if !ok || pending == 0 || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        // Read from the pipe is not yet kept: the reader's next step.
        thread::sleep(Duration::from_millis(20));
    }

    /// Kill every process of the program and the session helper, then the warden. First stop
    /// them all (SIGSTOP), so that a program that keeps forking cannot outrun the killing;
    /// then SIGKILL. (Should this never run — the checker aborted or was killed — the warden
    /// does the same on its own.) Once only: then the warden is reaped, and its pid free.
    pub fn kill(&mut self) {
        if self.killed {
            return;
        }
        self.killed = true;
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let running: Vec<Proc> = self
                .procs()
                .into_iter()
                .filter(|p| !p.zombie() && p.state != 'T')
                .collect();
            if running.is_empty() || Instant::now() > deadline {
                break;
            }
            for p in &running {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGSTOP);
            }
            thread::sleep(Duration::from_millis(5));
        }
        loop {
            let alive: Vec<Proc> = self.procs().into_iter().filter(|p| !p.zombie()).collect();
            if alive.is_empty() || Instant::now() > deadline {
                break;
            }
            for p in &alive {
                let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
            }
            thread::sleep(Duration::from_millis(10));
        }
        // The warden, told we are done, kills and reaps what is left below it (the session
        // helper at least) and exits: then nothing of this run remains, not even a zombie.
        let warden = Pid::from_raw(self.helper.id() as i32);
        let _ = kill(warden, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(2);
        while matches!(self.helper.try_wait(), Ok(None)) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.helper.kill();
        let _ = self.helper.wait();
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cloexec(fd: &OwnedFd) -> io::Result<()> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(io::Error::from)?;
    Ok(())
}

/// The line that names a crash in TEXT (a program's stderr): a Python traceback's last line,
/// or a line saying Traceback / panicked / Segmentation fault; quoted terminal-safe, and cut
/// on a character after [`quote::QUOTE`] bytes.
pub fn crash_line(lang: Lang, text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| {
        l.starts_with("Traceback (most recent call last)")
            || l.contains("panicked at")
            || l.contains("Segmentation fault")
    })?;
    // A traceback ends with its exception's line: the first after it not indented.
    let last = lines[start + 1..]
        .iter()
        .find(|l| !l.starts_with(' ') && !l.is_empty())
        .unwrap_or(&lines[start]);
    let line = quote::safe(last.trim().as_bytes());
    Some(quote::cap(lang, &line, quote::QUOTE))
}

/// The command as the report shows it.
pub fn shown(command: &[String]) -> String {
    command.join(" ")
}
