//! chatkit: the real `chat` binary on loopback, in pipes or behind a pseudo-terminal, its
//! whole process group always cleaned up, even when a test fails. Its `expect_*` methods fail
//! the test with the command, status, stdout and stderr (the `kit` way).

#![allow(dead_code)] // each test file uses a part of these helpers

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::termios::{self, LocalFlags, OutputFlags, SetArg};
use nix::unistd::Pid;

pub const CHAT: &str = env!("CARGO_BIN_EXE_chat");

/// The `chat` binary under test: `CHAT_TEST_BIN` (another build of chat, e.g. the aarch64
/// one), else the one cargo built.
pub fn chat_bin() -> String {
    std::env::var("CHAT_TEST_BIN").unwrap_or_else(|_| CHAT.to_string())
}

/// The `chat` under test, as a Command to add arguments to: `chat_bin()`, run through
/// `CHAT_TEST_RUNNER` when set (a command prefix, split on spaces: e.g. `qemu-aarch64`).
/// CI runs tests/pipes.rs this way on the aarch64 binary (with `CHAT_TEST_ARCH=aarch64`);
/// tests/pipes.rs checks that the binary which ran is that one.
pub fn chat_command() -> Command {
    let bin = chat_bin();
    let runner = std::env::var("CHAT_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

/// Bytes a process writes, collected by a thread, with a way to wait for some content.
#[derive(Clone, Default)]
pub struct Captured(Arc<(Mutex<Stream>, Condvar)>);

/// The bytes so far, and whether the writer has closed its end.
#[derive(Default)]
pub struct Stream(Vec<u8>, bool);

impl Captured {
    pub fn collect(mut from: impl Read + Send + 'static) -> Self {
        let captured = Captured::default();
        let sink = captured.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let (lock, cvar) = &*sink.0;
                        lock.lock().unwrap().0.extend_from_slice(&buf[..n]);
                        cvar.notify_all();
                    }
                }
            }
            let (lock, cvar) = &*sink.0;
            lock.lock().unwrap().1 = true;
            cvar.notify_all();
        });
        captured
    }

    pub fn bytes(&self) -> Vec<u8> {
        self.0.0.lock().unwrap().0.clone()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes()).into_owned()
    }

    /// Wait until `pred` holds for the bytes so far; false on timeout.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&[u8]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        loop {
            if pred(&state.0) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    pub fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        let needle = needle.as_bytes().to_vec();
        self.wait_until(timeout, |b| b.windows(needle.len()).any(|w| w == needle))
    }

    /// Wait until the writer closed its end (the process exited, or closed the stream).
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.0;
        let mut state = lock.lock().unwrap();
        while !state.1 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = cvar.wait_timeout(state, deadline - now).unwrap().0;
        }
        true
    }
}

/// A running `chat`, in its own process group; killed (with its children) on drop.
pub struct Chat {
    pub child: Child,
    pub args: Vec<String>,
    pub stdin: Option<ChildStdin>,
    pub stdout: Captured,
    pub stderr: Captured,
    /// Behind a pseudo-terminal: the master side (write = typing; stdout is read from it).
    pub pty: Option<File>,
    status: Option<ExitStatus>,
}

pub enum Input {
    /// A pipe the test writes to (`Chat::stdin`).
    Pipe,
    /// Fixed bytes, then end of input.
    Bytes(Vec<u8>),
    /// stdin, stdout and the controlling terminal are a pseudo-terminal.
    Pty,
}

impl Chat {
    pub fn start(args: &[&str], input: Input) -> Chat {
        let mut cmd = chat_command();
        cmd.args(args).stderr(Stdio::piped());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut pty = None;
        match &input {
            Input::Pipe | Input::Bytes(_) => {
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .process_group(0);
            }
            Input::Pty => {
                let (master, slave) = open_pty();
                cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
                    .stdout(Stdio::from(slave));
                // SAFETY: between fork and exec the closure makes only async-signal-safe
                // system calls (setsid, ioctl) and allocates nothing.
                unsafe {
                    cmd.pre_exec(|| {
                        nix::unistd::setsid()?;
                        if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                pty = Some(File::from(master));
            }
        }
        let mut child = cmd.spawn().expect("start chat");
        let stderr = Captured::collect(child.stderr.take().unwrap());
        let stdout = match &pty {
            Some(master) => Captured::collect(master.try_clone().unwrap()),
            None => Captured::collect(child.stdout.take().unwrap()),
        };
        let mut stdin = child.stdin.take();
        if let Input::Bytes(bytes) = input {
            let mut pipe = stdin.take().unwrap();
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            });
        }
        Chat {
            child,
            args,
            stdin,
            stdout,
            stderr,
            pty,
            status: None,
        }
    }

    /// Start a server with `-p 0` added, and wait for the port it logs.
    pub fn server(args: &[&str], input: Input) -> (Chat, u16) {
        let mut all = args.to_vec();
        all.extend(["-p", "0"]);
        let chat = Chat::start(&all, input);
        let port = chat.listening_port();
        (chat, port)
    }

    pub fn listening_port(&self) -> u16 {
        self.expect_stderr("listening on ", Duration::from_secs(10));
        let text = self.stderr.text();
        let line = text.lines().find(|l| l.contains("listening on ")).unwrap();
        let addr = line.split("listening on ").nth(1).unwrap();
        let addr = addr.split(' ').next().unwrap();
        addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Type on the terminal (write to the pty master).
    pub fn type_(&mut self, bytes: &[u8]) {
        let pty = self.pty.as_mut().expect("not started with Input::Pty");
        pty.write_all(bytes).unwrap();
    }

    /// Send bytes down the stdin pipe.
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        self.stdin.as_mut().unwrap().write_all(bytes).unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Wait for exit, at most `timeout`; None if still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if self.status.is_some() {
            return self.status;
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                self.status = Some(status);
                return self.status;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for exit or fail the test with everything we know.
    pub fn expect_exit(&mut self, timeout: Duration) -> ExitStatus {
        match self.wait_timeout(timeout) {
            Some(status) => status,
            None => panic!("still running after {timeout:?}\n{}", self.report()),
        }
    }

    /// Wait until stdout holds NEEDLE; else fail the test with everything we know.
    pub fn expect_stdout(&self, needle: &str, timeout: Duration) {
        if !self.stdout.wait_for(needle, timeout) {
            panic!(
                "{needle:?} never came on stdout within {timeout:?}\n{}",
                self.report()
            );
        }
    }

    /// Wait until stderr (the diagnostics) holds NEEDLE; else fail the test.
    pub fn expect_stderr(&self, needle: &str, timeout: Duration) {
        if !self.stderr.wait_for(needle, timeout) {
            panic!(
                "{needle:?} never came on stderr within {timeout:?}\n{}",
                self.report()
            );
        }
    }

    /// Wait until chat closes its stdout (its end); else fail the test.
    pub fn expect_stdout_closed(&self, timeout: Duration) {
        if !self.stdout.wait_closed(timeout) {
            panic!("stdout still open after {timeout:?}\n{}", self.report());
        }
    }

    /// Wait for exit with status 0; else fail the test.
    pub fn expect_success(&mut self, timeout: Duration) -> ExitStatus {
        let status = self.expect_exit(timeout);
        assert!(status.success(), "exit 0 expected\n{}", self.report());
        status
    }

    /// Wait for exit with CODE; else fail the test.
    pub fn expect_code(&mut self, code: i32, timeout: Duration) {
        let status = self.expect_exit(timeout);
        assert_eq!(
            status.code(),
            Some(code),
            "exit code {code} expected\n{}",
            self.report()
        );
    }

    /// Wait until nothing of chat's process group is left running (no orphan); else fail.
    pub fn expect_group_gone(&self, timeout: Duration) {
        assert_group_gone(self.pid(), timeout, &self.report());
    }

    pub fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), sig);
    }

    /// Everything useful when a test fails.
    pub fn report(&self) -> String {
        format!(
            "command: chat {}\nstatus: {:?}\nstdout: {:?}\nstderr:\n{}",
            self.args.join(" "),
            self.status,
            String::from_utf8_lossy(&self.stdout.bytes()),
            self.stderr.text()
        )
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        // The group holds chat and the process it forked (duplex). setsid() for a pty also
        // makes a group whose id is the pid.
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    // No echo (the master then reads only what chat prints) and no output processing (LF
    // stays LF), but canonical input: a line is delivered on Enter, Ctrl-D ends the input
    // and Ctrl-C sends SIGINT, as on a real terminal.
    let mut t = termios::tcgetattr(pty.slave.as_fd()).unwrap();
    t.local_flags.remove(LocalFlags::ECHO | LocalFlags::ECHONL);
    t.local_flags.insert(LocalFlags::ICANON | LocalFlags::ISIG);
    t.output_flags.remove(OutputFlags::OPOST);
    termios::tcsetattr(pty.slave.as_fd(), SetArg::TCSANOW, &t).unwrap();
    (pty.master, pty.slave)
}

/// The processes of process group `pgid` that are not zombies: (pid, state, ppid).
pub fn live_members(pgid: i32) -> Vec<(i32, char, i32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let state = fields[0].chars().next().unwrap_or('?');
        let ppid: i32 = fields[1].parse().unwrap_or(0);
        let pgrp: i32 = fields[2].parse().unwrap_or(0);
        if pgrp == pgid && state != 'Z' {
            found.push((pid, state, ppid));
        }
    }
    found
}

/// The children of `pid`, zombies included (a zombie child is a child not reaped).
pub fn children(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// Assert that nothing of process group `pgid` is left running within `timeout`.
pub fn assert_group_gone(pgid: i32, timeout: Duration, context: &str) {
    let deadline = Instant::now() + timeout;
    loop {
        let left = live_members(pgid);
        if left.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("processes left after {timeout:?}: {left:?}\n{context}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Lines of stderr, for checking that an error is one line.
pub fn stderr_lines(chat: &Chat) -> Vec<String> {
    chat.stderr.text().lines().map(str::to_string).collect()
}

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}
