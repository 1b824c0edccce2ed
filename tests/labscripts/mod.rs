//! Helpers to run the lab/ scripts and the exercise sheets' commands against a lab of
//! `labkit`, bounded in time, with everything they printed in the failure message.

#![allow(dead_code)] // each test file uses a part of these helpers

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::kit;
use crate::labkit::Lab;

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
    cmd.current_dir(kit::root()).env_remove("LAB_DEBUG");
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
    let mut cmd = command(lab, kit::root().join("lab").join(name));
    cmd.args(args);
    cmd
}

/// A directory with a `docker` that turns `docker compose …` into `docker-compose …`, for
/// machines with Compose v1 only (the sheets say `docker compose`); None when v2 works.
pub fn compose_v1_shim() -> Option<PathBuf> {
    // Written once per test process: rewriting it while another test's shell runs it fails
    // that shell with « Text file busy » (ETXTBSY).
    static SHIM: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    SHIM.get_or_init(write_compose_v1_shim).clone()
}

fn write_compose_v1_shim() -> Option<PathBuf> {
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

/// `bash -euo pipefail -c TEXT` at the repository root for LAB, as a student's shell would
/// run it: `docker compose` works even on a machine with Compose v1 only (through the shim).
pub fn shell(lab: &Lab, text: &str) -> Command {
    let mut cmd = command(Some(lab), "bash");
    cmd.arg("-c").arg(format!("set -euo pipefail\n{text}"));
    if let Some(dir) = compose_v1_shim() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir];
        paths.extend(std::env::split_paths(&path));
        cmd.env("PATH", std::env::join_paths(paths).expect("PATH"));
    }
    cmd
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The programs named NAME running in SERVICE (their command lines), through `ps`.
pub fn processes(lab: &Lab, service: &str, name: &str) -> Vec<String> {
    let out = kit::output(Command::new("docker").args([
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

/// Remove what lab/capture and lab/ladder wrote for NAME (a test's own capture), if it is
/// there: captures/NAME.pcap, or NAME-HOST.pcap and HOST's netem record for each host, and
/// the ladder NAME.svg.
pub fn remove_capture(name: &str) {
    let dir = kit::root().join("captures");
    let mut files = vec![format!("{name}.pcap"), format!("{name}.svg")];
    for host in ["server", "client", "client2"] {
        files.push(format!("{name}-{host}.pcap"));
        files.push(format!("{name}-{host}.netem.pcap"));
    }
    for f in files {
        let _ = std::fs::remove_file(dir.join(f));
    }
}
