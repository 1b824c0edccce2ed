//! Helpers to run the lab/ scripts and the exercise sheets' commands against a lab of
//! `labkit`, bounded in time, with everything they printed in the failure message.

#![allow(dead_code)] // each test file uses a part of these helpers

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::labkit::{self, Lab};

/// The variables that make a command talk to LAB (compose project, LAB_NET, LAB_IMAGE…),
/// as labkit gives them to compose.
pub fn lab_env(lab: &Lab) -> Vec<(OsString, Option<OsString>)> {
    lab.compose(&[])
        .get_envs()
        .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
        .collect()
}

/// A command run at the repository root with LAB's variables (none when LAB is None).
pub fn command(lab: Option<&Lab>, program: impl AsRef<Path>) -> Command {
    let mut cmd = Command::new(program.as_ref());
    cmd.current_dir(labkit::root()).env_remove("LAB_DEBUG");
    if let Some(lab) = lab {
        for (k, v) in lab_env(lab) {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
    }
    cmd
}

/// `lab/SCRIPT ARGS` at the repository root, for LAB.
pub fn script(lab: Option<&Lab>, name: &str, args: &[&str]) -> Command {
    let mut cmd = command(lab, labkit::root().join("lab").join(name));
    cmd.args(args);
    cmd
}

/// What a command did, with a report for failure messages.
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
    pub fn ok(self) -> Self {
        assert!(
            self.out.status.success(),
            "command failed:\n{}",
            self.report
        );
        self
    }
}

/// Run CMD (stdin closed) in its own process group, for at most LIMIT: past it, the whole
/// group is killed and the test fails with what it printed so far.
pub fn run(cmd: &mut Command, limit: Duration) -> Ran {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
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
            let report = out.map(|o| labkit::report(cmd, &o)).unwrap_or_default();
            panic!("still running after {limit:?}, killed:\n{report}");
        }
    };
    let report = labkit::report(cmd, &out);
    Ran {
        out,
        report,
        took: started.elapsed(),
    }
}

/// A directory with a `docker` that turns `docker compose …` into `docker-compose …`, for
/// machines with Compose v1 only (the sheets say `docker compose`); None when v2 works.
pub fn compose_v1_shim() -> Option<PathBuf> {
    let v2 = Command::new("docker")
        .args(["compose", "version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if v2 {
        return None;
    }
    let docker = which("docker").expect("docker is on PATH (checked by labkit)");
    let dir = std::env::temp_dir().join(format!("chatlab-shim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("shim dir");
    let shim = dir.join("docker");
    let text = format!(
        "#!/bin/sh\n# docker compose → docker-compose (this machine has Compose v1 only)\n\
         if [ \"$1\" = compose ]; then shift; exec docker-compose \"$@\"; fi\nexec '{}' \"$@\"\n",
        docker.display()
    );
    std::fs::write(&shim, text).expect("write shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    Some(dir)
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The programs named NAME running in SERVICE (their command lines), through `ps`.
pub fn processes(lab: &Lab, service: &str, name: &str) -> Vec<String> {
    let out = labkit::output(Command::new("docker").args([
        "exec",
        &lab.container(service),
        "ps",
        "-e",
        "-o",
        "args=",
    ]));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|p| p.ends_with(name))
        })
        .map(str::to_string)
        .collect()
}

/// Remove captures/NAME.pcap (a test's own capture) if it is there.
pub fn remove_capture(name: &str) {
    let _ = std::fs::remove_file(labkit::root().join("captures").join(format!("{name}.pcap")));
}
