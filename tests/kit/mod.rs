//! kit: how every test runs a process, waits, and fails with the whole story.
//!
//! One runner for the chat, lab, script, sheet, netns and memory tests: a command runs in
//! its own process group, bounded in time (past the bound the whole group is killed), and
//! every assertion about it panics with the command, its status, stdout and stderr
//! (ripgrep's `TestCommand::assert_*`), so call sites never format reports themselves.
//! Also here: the one rule for tests that need what a machine may lack (`skip_unless_ci`).
//!
//! Other kits build on this one: `chatkit` (the `chat` binary on loopback, pipes and
//! pseudo-terminals), `labkit` (the compose lab), `labscripts` (the lab/ scripts and sheets).

#![allow(dead_code)] // each test binary uses a part of the kit

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A port nothing listens on right now (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Under CI (`CI=true` or `CI=1`, as GitHub Actions and GitLab set it) every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The one rule for tests that need something this machine may lack (Docker, root, a tool):
/// under CI they fail, elsewhere TEST is skipped with a message saying WHY.
pub fn skip_unless_ci(test: &str, why: &str) {
    if in_ci() {
        panic!(
            "{test} cannot run, and CI (CI={}) runs every test: {why}",
            std::env::var("CI").unwrap_or_default()
        );
    }
    // Straight to stderr: the test harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Call CHECK every 100 ms until it gives Some, or TIMEOUT passes (then None).
pub fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Command, status, stdout and stderr: what a failing test shows.
pub fn report(cmd: &Command, out: &Output) -> String {
    format!(
        "command: {cmd:?}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}\n---",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run CMD to the end, stdin closed (for commands that end by themselves: docker, ip…).
pub fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Run CMD to the end; panic with the report unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "command failed:\n{}",
        report(cmd, &out)
    );
    out
}

/// What a command did, with its report for failure messages.
pub struct Ran {
    pub out: Output,
    pub report: String,
    pub took: Duration,
}

impl Ran {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    /// Panic with the report unless the command succeeded.
    pub fn expect_success(self) -> Self {
        assert!(
            self.out.status.success(),
            "command failed:\n{}",
            self.report
        );
        self
    }

    /// Panic with the report unless the command exited with CODE.
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            Some(code),
            "exit code {code} expected:\n{}",
            self.report
        );
        self
    }

    /// Panic with the report unless stderr is one line holding NEEDLE.
    pub fn expect_one_line_error(self, needle: &str) -> Self {
        let stderr = self.stderr();
        assert!(
            stderr.lines().count() == 1 && stderr.contains(needle),
            "one line holding {needle:?} expected on stderr:\n{}",
            self.report
        );
        self
    }
}

/// Run CMD (stdin closed) in its own process group, for at most LIMIT: past it, the whole
/// group is killed and the test fails with what it printed so far.
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    run_input(cmd, None, limit)
}

/// `run`, with INPUT written to the command's stdin (then closed), as a pipe gives it.
pub fn run_with_stdin(cmd: &mut Command, input: &[u8], limit: Duration) -> Ran {
    run_input(cmd, Some(input.to_vec()), limit)
}

fn run_input(cmd: &mut Command, input: Option<Vec<u8>>, limit: Duration) -> Ran {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .process_group(0);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let pgid = Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGTERM);
            let out = rx
                .recv_timeout(Duration::from_secs(10))
                .ok()
                .and_then(Result::ok);
            let _ = killpg(pgid, Signal::SIGKILL);
            let report = out.map(|o| report(cmd, &o)).unwrap_or_default();
            panic!("still running after {limit:?}, killed:\n{report}");
        }
    };
    let report = report(cmd, &out);
    Ran {
        out,
        report,
        took: started.elapsed(),
    }
}
