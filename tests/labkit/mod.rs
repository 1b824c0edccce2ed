//! labkit: run the real compose lab from a test, and always tear it down.
//!
//! ```text
//! mod kit;
//! mod labkit;
//! use labkit::Lab;
//!
//! #[test]
//! fn something_across_hosts() {
//!     // None: Docker is not usable here and this is not CI (a message says so on stderr).
//!     let Some(lab) = Lab::up("something", &[("CHAT_MODE", "recv")]) else { return };
//!     lab.exec("client", &["chat", "send", "server"], b"hello\n");
//!     lab.wait_logs("server", "hello\n");
//! } // Drop: docker compose down -v --remove-orphans, even when the test panicked
//! ```
//!
//! - Each lab has its own compose project name and its own `LAB_NET` (the /24 of compose.yaml),
//!   so tests run in parallel, and next to a user's lab on the default 10.80.80.0/24.
//! - The image is built once per test binary by `lab/build-offline` (no registry needed), under
//!   a tag of this checkout's own (`LAB_IMAGE`), so labs of other checkouts keep their binaries;
//!   or, with `LAB_TEST_IMAGE_PREBUILT=1`, `LAB_TEST_IMAGE` is used as it is (CI's registry build).
//! - Docker missing or unusable: the test fails under `CI=true`, and is skipped elsewhere.
//! - Every failure shows the command, its status, stdout and stderr, and the server's logs.

// Each test binary uses a part of this kit.
#![allow(dead_code)]

use crate::kit::{output, poll, report, root, run_ok, skip_unless_ci};

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The roles of `lab/check ROLE -- COMMAND` (one per program of the TD).
pub const CHECK_ROLES: [&str; 6] = [
    "q1",
    "q2",
    "q3-client",
    "q3-server",
    "q4-client",
    "q4-server",
];

/// How long a lab may take to do what a test waits for (a line to arrive, a host to be ready).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The compose command, as lab/lib.sh chooses it: `LAB_COMPOSE`, else `docker compose` (v2),
/// else `docker-compose` (v1). None when neither works.
pub fn compose_command() -> Option<&'static [String]> {
    static CMD: OnceLock<Option<Vec<String>>> = OnceLock::new();
    CMD.get_or_init(|| {
        let words = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        if let Ok(cmd) = std::env::var("LAB_COMPOSE") {
            return Some(words(&cmd));
        }
        ["docker compose", "docker-compose"]
            .into_iter()
            .map(words)
            .find(|cmd| {
                Command::new(&cmd[0])
                    .args(&cmd[1..])
                    .arg("version")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
    })
    .as_deref()
}

/// Why the lab cannot run here, if it cannot.
fn docker_problem() -> Option<&'static str> {
    static PROBLEM: OnceLock<Option<String>> = OnceLock::new();
    PROBLEM
        .get_or_init(|| {
            let info = Command::new("docker")
                .args(["info", "--format", "{{.ServerVersion}}"])
                .output();
            match info {
                Err(e) => return Some(format!("cannot run docker: {e}")),
                Ok(out) if !out.status.success() => {
                    return Some(format!(
                        "the Docker daemon is not usable: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    ));
                }
                Ok(_) => {}
            }
            if compose_command().is_none() {
                return Some("neither `docker compose` nor `docker-compose` works".into());
            }
            // lab/build-offline makes its Debian base once, with debootstrap, as root.
            let prebuilt = std::env::var("LAB_TEST_IMAGE_PREBUILT").is_ok_and(|v| v == "1");
            let has_base = Command::new("docker")
                .args(["image", "inspect", "chatlab-base:bookworm"])
                .output()
                .is_ok_and(|o| o.status.success());
            // /proc/self belongs to this process's effective user.
            let root = std::fs::metadata("/proc/self").is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt;
                m.uid() == 0
            });
            let debootstrap = Command::new("debootstrap")
                .arg("--version")
                .output()
                .is_ok();
            let can_build = has_base || (root && debootstrap);
            if !(prebuilt || can_build) {
                return Some(
                    "the lab's image is built offline the first time with debootstrap, as root \
                     (apt-get install debootstrap; then lab/build-offline once)"
                        .into(),
                );
            }
            None
        })
        .as_deref()
}

/// True when the lab can run. Otherwise: panic under CI, or say on stderr that TEST is skipped.
pub fn docker_available(test: &str) -> bool {
    match docker_problem() {
        None => true,
        Some(why) => {
            skip_unless_ci(
                test,
                &format!("{why} (the lab tests need Docker with compose)"),
            );
            false
        }
    }
}

fn hash_of(value: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// The host image the test labs run, made by `lab/build-offline`: `LAB_TEST_IMAGE` if set
/// (CI names one and removes it after), else this checkout's own tag.
pub fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| {
        std::env::var("LAB_TEST_IMAGE")
            .unwrap_or_else(|_| format!("chatlab-host:test-{:012x}", hash_of(root()) >> 16))
    })
}

/// Build the image once per test binary (seconds when nothing changed). With
/// `LAB_TEST_IMAGE_PREBUILT=1`, the image `LAB_TEST_IMAGE` was built by someone else (CI's
/// registry build, from docker/Dockerfile) and is only checked to exist.
pub fn ensure_image() {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        if std::env::var("LAB_TEST_IMAGE_PREBUILT").is_ok_and(|v| v == "1") {
            let mut cmd = Command::new("docker");
            cmd.args(["image", "inspect", "-f", "{{.Id}}", image()]);
            let out = output(&mut cmd);
            return if out.status.success() {
                // Straight to stderr, so that CI's log says which image the labs ran.
                let _ = writeln!(
                    std::io::stderr(),
                    "labkit: {} used as it is (LAB_TEST_IMAGE_PREBUILT=1)",
                    image()
                );
                Ok(())
            } else {
                Err(format!(
                    "LAB_TEST_IMAGE_PREBUILT=1 but there is no image {}:\n{}",
                    image(),
                    report(&cmd, &out)
                ))
            };
        }
        let mut cmd = Command::new(root().join("lab/build-offline"));
        cmd.env("LAB_IMAGE", image());
        let started = Instant::now();
        let out = output(&mut cmd);
        if out.status.success() {
            eprintln!(
                "labkit: {} ready in {:.1} s",
                image(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        } else {
            Err(report(&cmd, &out))
        }
    });
    if let Err(report) = built {
        panic!("no lab image:\n{report}");
    }
}

/// Candidate values of LAB_NET for TEST, different from one test and process to the next:
/// 10.81.0 to 10.95.255 (the lab's default, 10.80.80, is left to the user).
pub fn nets(test: &str) -> impl Iterator<Item = String> {
    let start = hash_of((test, std::process::id()));
    (0..8u64).map(move |i| {
        let n = (start.wrapping_add(i.wrapping_mul(7919))) % (15 * 256);
        format!("10.{}.{}", 81 + n / 256, n % 256)
    })
}

/// One lab: the compose project, up until dropped.
pub struct Lab {
    project: String,
    net: String,
    env: Vec<(String, String)>,
    ids: Mutex<HashMap<String, String>>,
    is_up: bool,
}

impl Lab {
    /// Bring up a lab for TEST with ENV (e.g. `("CHAT_MODE", "recv")`) and wait until the
    /// server is healthy. None when Docker is not usable here, outside CI.
    pub fn up(test: &str, env: &[(&str, &str)]) -> Option<Lab> {
        if !docker_available(test) {
            return None;
        }
        ensure_image();
        let slug: String = test
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let project = format!("chatlab-{slug}-{}", std::process::id());
        let mut last = String::new();
        for net in nets(test) {
            let lab = Lab {
                project: project.clone(),
                net,
                env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ids: Mutex::default(),
                is_up: true,
            };
            let mut cmd = lab.compose(&["up", "-d"]);
            let out = output(&mut cmd);
            if out.status.success() {
                lab.wait_healthy();
                return Some(lab);
            }
            // Another lab holds this subnet (or a leftover network does): try another one.
            // Drop takes down what was made of this attempt.
            last = report(&cmd, &out);
            let stderr = String::from_utf8_lossy(&out.stderr);
            if !stderr.contains("overlaps") && !stderr.contains("in use") {
                break;
            }
        }
        panic!("cannot bring the lab up:\n{last}");
    }

    pub fn project(&self) -> &str {
        &self.project
    }

    /// LAB_NET: the first three octets of the lab's subnet.
    pub fn net(&self) -> &str {
        &self.net
    }

    /// A host's fixed address: server .10, client .11, client2 .12.
    pub fn ip(&self, host: &str) -> String {
        let last = match host {
            "server" => 10,
            "client" => 11,
            "client2" => 12,
            _ => panic!("no host {host} in the lab"),
        };
        format!("{}.{last}", self.net)
    }

    /// `compose ARGS` for this lab (project name, LAB_NET, LAB_IMAGE and the test's variables).
    pub fn compose(&self, args: &[&str]) -> Command {
        let words = compose_command().expect("checked by docker_available");
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..])
            .arg("--project-directory")
            .arg(root())
            .arg("-f")
            .arg(root().join("compose.yaml"))
            .args(args)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .env("LAB_NET", &self.net)
            .env("LAB_IMAGE", image())
            .env_remove("CHAT_MODE")
            .env_remove("CHAT_ARGS");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The id of SERVICE's container, through compose (never from its name).
    pub fn container(&self, service: &str) -> String {
        self.container_id(service)
            .unwrap_or_else(|| panic!("{}: no container for {service}", self.project))
    }

    /// Looked up once per service (compose v1 takes half a second to answer).
    fn container_id(&self, service: &str) -> Option<String> {
        if let Some(id) = self.ids.lock().unwrap().get(service) {
            return Some(id.clone());
        }
        let out = output(&mut self.compose(&["ps", "-q", service]));
        let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || id.is_empty() {
            return None;
        }
        self.ids
            .lock()
            .unwrap()
            .insert(service.to_string(), id.clone());
        Some(id)
    }

    fn wait_healthy(&self) {
        let id = self.container("server");
        let mut last = String::new();
        let healthy = poll(Duration::from_secs(60), || {
            let out = output(Command::new("docker").args([
                "inspect",
                "-f",
                "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                &id,
            ]));
            last = String::from_utf8_lossy(&out.stdout).trim().to_string();
            (last == "running healthy").then_some(())
        });
        assert!(
            healthy.is_some(),
            "{}: the server is not healthy ({last}); its logs:\n{}",
            self.project,
            self.logs("server")
        );
    }

    /// Everything SERVICE's main process wrote (stdout and stderr), without the CR a
    /// terminal adds (the server has a TTY).
    pub fn logs(&self, service: &str) -> String {
        let Some(id) = self.container_id(service) else {
            return format!("(no container for {service})");
        };
        let out = output(Command::new("docker").args(["logs", &id]));
        let mut all = out.stdout;
        all.extend_from_slice(&out.stderr);
        String::from_utf8_lossy(&all).replace('\r', "")
    }

    /// Wait until SERVICE's logs contain NEEDLE `count` times; return the logs.
    pub fn wait_logs_n(&self, service: &str, needle: &str, count: usize) -> String {
        let mut logs = String::new();
        poll(TIMEOUT, || {
            logs = self.logs(service);
            (logs.matches(needle).count() >= count).then_some(())
        })
        .unwrap_or_else(|| {
            panic!("{service}'s logs do not show {needle:?} {count} time(s):\n{logs}")
        });
        logs
    }

    /// Wait until SERVICE's logs contain NEEDLE; return the logs.
    pub fn wait_logs(&self, service: &str, needle: &str) -> String {
        self.wait_logs_n(service, needle, 1)
    }

    /// The client's `chat send server` sends two lines, "bonjour" and "ça va ?", each seen in
    /// the server's logs before the next (the server runs `chat recv`), and ends well.
    pub fn send_two_lines(&self) {
        let mut client = self.spawn("client", &["chat", "send", "server"]);
        client.send(b"bonjour\n");
        self.wait_logs("server", "bonjour\n");
        client.send("ça va ?\n".as_bytes());
        self.wait_logs("server", "ça va ?\n");
        assert!(client.finish().status.success());
    }

    /// `docker exec -i` in SERVICE: run ARGS with STDIN, to the end.
    pub fn exec(&self, service: &str, args: &[&str], stdin: &[u8]) -> Output {
        let mut session = self.spawn(service, args);
        session.send(stdin);
        session.finish()
    }

    /// `docker exec -i` in SERVICE, running in the background: stdin is a pipe, stdout and
    /// stderr are collected.
    pub fn spawn(&self, service: &str, args: &[&str]) -> Session {
        let mut cmd = Command::new("docker");
        cmd.args(["exec", "-i", &self.container(service)])
            .args(args);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
        let stdout = collect(child.stdout.take().expect("piped"));
        let stderr = collect(child.stderr.take().expect("piped"));
        Session {
            what: format!("{service}: {}", args.join(" ")),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
        }
    }

    /// `docker attach` to SERVICE through a pseudo-terminal, as a user types into it.
    pub fn attach(&self, service: &str) -> Attached {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = File::from(pty.slave);
        let id = self.container(service);
        let child = Command::new("docker")
            .args(["attach", &id])
            .stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave)
            .spawn()
            .expect("cannot run docker attach");
        // The Command (and the slave's copies) is gone: the master reads EOF/EIO when
        // docker attach exits.
        let master = File::from(pty.master);
        let output = collect(master.try_clone().expect("dup"));
        Attached {
            master,
            child,
            output,
        }
    }

    /// `compose down -v --remove-orphans` now (Drop does it otherwise).
    pub fn down(mut self) {
        self.teardown();
    }

    fn teardown(&mut self) {
        if !self.is_up {
            return;
        }
        self.is_up = false;
        let mut cmd = self.compose(&["down", "-v", "--remove-orphans", "-t", "3"]);
        let out = output(&mut cmd);
        if !out.status.success() {
            // No panic here: Drop may run while a test is already panicking.
            eprintln!("labkit: teardown failed:\n{}", report(&cmd, &out));
        }
    }

    /// What is left of the project in Docker: containers, networks, volumes (by the compose
    /// project label), one line each.
    pub fn leftovers(project: &str) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={project}");
        let name = format!("name={project}_");
        let mut left = Vec::new();
        for (kind, args) in [
            ("container", vec!["ps", "-a", "-q", "--filter", &label]),
            ("network", vec!["network", "ls", "-q", "--filter", &label]),
            ("network", vec!["network", "ls", "-q", "--filter", &name]),
            ("volume", vec!["volume", "ls", "-q", "--filter", &label]),
        ] {
            let out = run_ok(Command::new("docker").args(&args));
            for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                left.push(format!("{kind} {id}"));
            }
        }
        left
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.is_up && thread::panicking() {
            eprintln!(
                "labkit: {} failed; the server's logs:\n{}",
                self.project,
                self.logs("server")
            );
        }
        self.teardown();
    }
}

type Buffer = Arc<Mutex<Vec<u8>>>;

/// Read R to its end in a thread, into a shared buffer.
fn collect(mut r: impl Read + Send + 'static) -> Buffer {
    let buf = Buffer::default();
    let shared = Arc::clone(&buf);
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        // A pseudo-terminal's master reads EIO when the other side is closed: an end too.
        while let Ok(n @ 1..) = r.read(&mut chunk) {
            shared.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

fn text(buf: &Buffer) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// A program running in a lab host through `docker exec -i`.
pub struct Session {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Buffer,
    stderr: Buffer,
}

impl Session {
    /// Write BYTES to the program's stdin.
    pub fn send(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot write to stdin: {e}", self.what));
    }

    /// End of the program's input (Ctrl-D).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// Wait until the program's stdout contains NEEDLE.
    pub fn wait_stdout(&self, needle: &str) {
        poll(TIMEOUT, || self.stdout().contains(needle).then_some(())).unwrap_or_else(|| {
            panic!(
                "{}: {needle:?} never came on stdout\n--- stdout\n{}\n--- stderr\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            )
        });
    }

    /// Wait until the program's stderr (its diagnostics) contains NEEDLE.
    pub fn wait_stderr(&self, needle: &str) {
        poll(TIMEOUT, || self.stderr().contains(needle).then_some(())).unwrap_or_else(|| {
            panic!(
                "{}: {needle:?} never came on stderr\n--- stdout\n{}\n--- stderr\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            )
        });
    }

    /// Close stdin and wait for the end (TIMEOUT at most): status, stdout, stderr.
    pub fn finish(mut self) -> Output {
        self.close_stdin();
        let status = poll(TIMEOUT, || self.child.try_wait().expect("wait")).unwrap_or_else(|| {
            panic!(
                "{}: still running after {TIMEOUT:?}\n--- stdout\n{}\n--- stderr\n{}",
                self.what,
                self.stdout(),
                self.stderr()
            )
        });
        // The reader threads end with the pipes; give them a moment to store the last bytes.
        thread::sleep(Duration::from_millis(50));
        Output {
            status,
            stdout: self.stdout.lock().unwrap().clone(),
            stderr: self.stderr.lock().unwrap().clone(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `docker attach` on a pseudo-terminal: type into a host's main program.
pub struct Attached {
    master: File,
    child: Child,
    output: Buffer,
}

impl Attached {
    /// Type LINE and Enter.
    pub fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("cannot type into docker attach");
    }

    /// What the terminal showed so far.
    pub fn screen(&self) -> String {
        text(&self.output)
    }

    /// Detach with the detach keys, Ctrl-P Ctrl-Q: docker attach ends, the program goes on.
    pub fn detach(mut self) -> ExitStatus {
        self.master.write_all(b"\x10\x11").expect("cannot type");
        poll(TIMEOUT, || self.child.try_wait().expect("wait")).unwrap_or_else(|| {
            panic!(
                "docker attach still running after Ctrl-P Ctrl-Q; screen:\n{}",
                self.screen()
            )
        })
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// For tests that run the lab image with `docker run`, without a compose lab (lab/check):
/// the image, built if needed; None when Docker is not usable here (the test is skipped, or
/// fails under CI, as `docker_available` says).
pub fn image_for(test: &str) -> Option<&'static str> {
    if !docker_available(test) {
        return None;
    }
    ensure_image();
    Some(image())
}
