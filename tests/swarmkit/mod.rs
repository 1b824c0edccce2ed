//! swarmkit: a real Docker Swarm for the class tests, of one node (this machine's engine) or
//! two (plus a second engine in a network namespace of its own), torn down when dropped.
//!
//! The second node is the recipe of DESIGN.md (« A second swarm node on one machine »): a
//! netns joined to this machine by a veth (addresses of the test's own, 10.201.0.1 and .2);
//! `dockerd` started with `nsenter --net` inside `unshare -m` (its own resolv.conf naming
//! 127.0.0.1, so a task never waits for a resolver it cannot reach), with a data root, exec
//! root, socket, pid file and containerd namespaces of its own; the swarm is initialised on the
//! veth's address and node 2 joins it as a worker; the lab image reaches it by `docker save |
//! docker load`. Nothing leaves this machine: the only addresses used are the netns's.
//!
//! In node 2's mount namespace, node 2's socket is also bound over `/var/run/docker.sock`: as
//! on a second machine, a task of node 2 that mounts `/var/run/docker.sock` (the class's agent)
//! gets node 2's daemon, not this machine's.
//!
//! One swarm at a time on a machine: a file lock serialises the test processes that want one,
//! and a machine already in a swarm (the developer's own class) is never touched: the test is
//! skipped (it fails under CI, which starts from none). A swarm left by a killed run is torn
//! down by the next one (its names are fixed).

#![allow(dead_code)]

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::kit::{self, poll};

const NETNS: &str = "chatlab-test-n2";
const VETH_HOST: &str = "cl-test-n2h";
const VETH_NODE: &str = "cl-test-n2n";
const HOST_ADDR: &str = "10.201.0.1";
const NODE_ADDR: &str = "10.201.0.2";
const SOCK: &str = "/run/chatlab-test-n2.sock";

/// A swarm made by a test: this machine is its manager; `node2` is the second engine, if any.
pub struct Swarm {
    node2: Option<Node2>,
    _lock: MutexGuard<'static, ()>,
}

/// One swarm at a time: across processes a file lock (taken once, held for the process's
/// life), within a process a mutex (the tests of one binary run in threads).
fn lock() -> MutexGuard<'static, ()> {
    static FILE: OnceLock<nix::fcntl::Flock<File>> = OnceLock::new();
    static ONE: Mutex<()> = Mutex::new(());
    FILE.get_or_init(|| {
        let file = File::create(std::env::temp_dir().join("chatlab-test-swarm.lock"))
            .expect("the swarm lock file");
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| e)
            .expect("flock")
    });
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

struct Node2 {
    dir: PathBuf,
    /// nsenter, which became dockerd (nsenter, unshare and sh exec it): reaped at teardown.
    dockerd: std::process::Child,
}

/// `docker ARGS` with a bound in time, its output (status, stdout, stderr).
fn docker(args: &[&str]) -> std::process::Output {
    kit::output(Command::new("timeout").arg("60").arg("docker").args(args))
}

/// Run CMD; panic with its story unless it succeeds.
fn must(cmd: &mut Command) -> String {
    let out = kit::output(cmd);
    assert!(out.status.success(), "{}", kit::report(cmd, &out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn quiet(cmd: &mut Command) {
    let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
}

/// Why a swarm cannot be made here, if it cannot.
fn problem() -> Option<String> {
    let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        return Some("a swarm node in a netns needs root".into());
    }
    let out = docker(&["info", "-f", "{{.Swarm.LocalNodeState}}"]);
    if !out.status.success() {
        return Some(format!(
            "the Docker daemon is not usable: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    for tool in ["ip", "nsenter", "unshare", "dockerd"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
        {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

impl Swarm {
    /// A swarm for TEST: this machine alone (`nodes` = 1) or with a second node (2). None
    /// (skipped, with a message) where it cannot be made, outside CI.
    pub fn up(test: &str, nodes: usize, image: &str) -> Option<Swarm> {
        if let Some(why) = problem() {
            kit::skip_unless_ci(test, &format!("{why} (the class tests need a swarm)"));
            return None;
        }
        let lock = lock();
        // A swarm left by a killed run of these tests is ours to remove; any other is not.
        leftovers();
        let state =
            String::from_utf8_lossy(&docker(&["info", "-f", "{{.Swarm.LocalNodeState}}"]).stdout)
                .trim()
                .to_string();
        if state != "inactive" {
            kit::skip_unless_ci(
                test,
                &format!(
                    "this machine is in a swarm already ({state}): the class tests make their own \
                     and never touch one they did not make (docker swarm leave --force, if it is a leftover)"
                ),
            );
            return None;
        }
        let mut swarm = Swarm {
            node2: None,
            _lock: lock,
        };
        if nodes == 1 {
            // lab/class makes the one-node swarm itself (and says so): the test checks that.
            return Some(swarm);
        }
        swarm.node2 = Some(Node2::start());
        must(Command::new("timeout").args([
            "60",
            "docker",
            "swarm",
            "init",
            "--advertise-addr",
            HOST_ADDR,
        ]));
        let token = must(Command::new("timeout").args([
            "60",
            "docker",
            "swarm",
            "join-token",
            "-q",
            "worker",
        ]));
        must(Command::new("timeout").args([
            "60",
            "docker",
            "-H",
            &format!("unix://{SOCK}"),
            "swarm",
            "join",
            "--token",
            &token,
            &format!("{HOST_ADDR}:2377"),
        ]));
        let ready = poll(Duration::from_secs(60), || {
            let out = docker(&["node", "ls", "--format", "{{.Status}}"]);
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            (text.lines().filter(|l| *l == "Ready").count() == 2).then_some(())
        });
        assert!(ready.is_some(), "node 2 did not become Ready in 60 s");
        // The lab image, by docker save | docker load (no registry).
        swarm.give_node2(image);
        Some(swarm)
    }

    /// `docker ARGS` on node 2 (its own daemon).
    pub fn node2(&self, args: &[&str]) -> Command {
        assert!(self.node2.is_some(), "this swarm has one node");
        let mut cmd = Command::new("docker");
        cmd.arg("-H").arg(format!("unix://{SOCK}")).args(args);
        cmd
    }

    /// Node 2's engine, as DOCKER_HOST names it.
    pub fn node2_host(&self) -> String {
        format!("unix://{SOCK}")
    }

    /// The swarm node id of node 2.
    pub fn node2_id(&self) -> String {
        must(&mut self.node2(&["info", "-f", "{{.Swarm.NodeID}}"]))
    }

    /// The manager's (this machine's) node id.
    pub fn manager_id(&self) -> String {
        must(Command::new("docker").args(["info", "-f", "{{.Swarm.NodeID}}"]))
    }

    /// The address of this machine as node 2 sees it (a lab must not reach it).
    pub fn manager_addr(&self) -> &'static str {
        HOST_ADDR
    }

    /// Node 2's address (its veth's, in its netns).
    pub fn node2_addr(&self) -> &'static str {
        NODE_ADDR
    }

    /// IMAGE given to node 2 as to another machine: `docker save | docker load`.
    pub fn give_node2(&self, image: &str) {
        must(Command::new("sh").args([
            "-c",
            &format!("docker save '{image}' | timeout 120 docker -H unix://{SOCK} load -q"),
        ]));
    }

    /// `docker ARGS` on the daemon of node NODE_ID (this machine's, or node 2's).
    pub fn on(&self, node_id: &str, args: &[&str]) -> Command {
        if self.node2.is_some() && node_id == self.node2_id() {
            self.node2(args)
        } else {
            let mut cmd = Command::new("docker");
            cmd.args(args);
            cmd
        }
    }
}

impl Node2 {
    fn start() -> Node2 {
        let dir = std::env::temp_dir().join(format!("chatlab-test-n2-{}", std::process::id()));
        fs::create_dir_all(dir.join("data")).expect("node 2's data root");
        fs::create_dir_all(dir.join("exec")).expect("node 2's exec root");
        // This machine's daemon.json sets data-root, which conflicts with the flag: keep only
        // what matters (fuse-overlayfs where the machine uses it, the MTU).
        let main = fs::read_to_string("/etc/docker/daemon.json").unwrap_or_default();
        let driver = if main.contains("fuse-overlayfs") {
            r#""storage-driver": "fuse-overlayfs", "#
        } else {
            ""
        };
        fs::write(
            dir.join("daemon.json"),
            format!(r#"{{{driver}"mtu": 1400}}"#),
        )
        .expect("daemon.json");
        fs::write(dir.join("resolv.conf"), "nameserver 127.0.0.1\n").expect("resolv.conf");
        let ip = |args: &[&str]| must(Command::new("ip").args(args));
        ip(&["netns", "add", NETNS]);
        ip(&[
            "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NODE,
        ]);
        ip(&["link", "set", VETH_NODE, "netns", NETNS]);
        ip(&["addr", "add", &format!("{HOST_ADDR}/24"), "dev", VETH_HOST]);
        ip(&["link", "set", VETH_HOST, "up"]);
        ip(&[
            "-n",
            NETNS,
            "addr",
            "add",
            &format!("{NODE_ADDR}/24"),
            "dev",
            VETH_NODE,
        ]);
        ip(&["-n", NETNS, "link", "set", VETH_NODE, "up"]);
        ip(&["-n", NETNS, "link", "set", "lo", "up"]);
        let d = dir.display();
        let script = format!(
            "mount --bind {d}/resolv.conf /etc/resolv.conf && exec dockerd \
             --config-file {d}/daemon.json --data-root {d}/data --exec-root {d}/exec \
             -H unix://{SOCK} --pidfile {d}/dockerd.pid \
             --containerd-namespace chatlab-test-n2 \
             --containerd-plugins-namespace chatlab-test-n2-plugins"
        );
        let log = File::create(dir.join("dockerd.log")).expect("dockerd.log");
        let mut dockerd = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{NETNS}"))
            .args(["unshare", "-m", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start node 2's dockerd");
        let up = poll(Duration::from_secs(30), || {
            kit::output(
                Command::new("timeout")
                    .args(["5", "docker", "-H"])
                    .arg(format!("unix://{SOCK}"))
                    .arg("info"),
            )
            .status
            .success()
            .then_some(())
        });
        if up.is_none() {
            let log = fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
            teardown_node2(&dir, Some(&mut dockerd));
            panic!("node 2's dockerd did not answer in 30 s:\n{log}");
        }
        // (dockerd is that child: nsenter, unshare and sh exec'd it. Its containerd and the
        // containers' mounts are resolved in its mount namespace.)
        let bound = kit::output(
            Command::new("nsenter")
                .arg(format!("--mount=/proc/{}/ns/mnt", dockerd.id()))
                .args(["mount", "--bind", SOCK, "/var/run/docker.sock"]),
        );
        if !bound.status.success() {
            teardown_node2(&dir, Some(&mut dockerd));
            panic!(
                "node 2's socket over /var/run/docker.sock in its mount namespace: {}",
                String::from_utf8_lossy(&bound.stderr)
            );
        }
        Node2 { dir, dockerd }
    }
}

/// Leave the swarm on both nodes, stop node 2's engine, remove its netns, veth and files,
/// and the network swarm created (docker_gwbridge, ingress).
fn teardown_node2(dir: &Path, mut dockerd: Option<&mut std::process::Child>) {
    quiet(
        Command::new("timeout")
            .args(["30", "docker", "-H"])
            .arg(format!("unix://{SOCK}"))
            .args(["swarm", "leave", "--force"]),
    );
    let pid = match &dockerd {
        Some(child) => Some(child.id() as i32),
        None => fs::read_to_string(dir.join("dockerd.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok()),
    };
    if let Some(pid) = pid {
        let pid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        // Our child is reaped here (a zombie would look alive); another's is polled.
        let gone = poll(Duration::from_secs(20), || match &mut dockerd {
            Some(child) => child.try_wait().ok().flatten().map(|_| ()),
            None => nix::sys::signal::kill(pid, None).is_err().then_some(()),
        });
        if gone.is_none() {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            if let Some(child) = dockerd {
                let _ = child.wait();
            }
        }
    }
    // Whatever node 2's engine still had mounted under its data root.
    quiet(Command::new("sh").args([
        "-c",
        &format!(
            "grep -o ' {}[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l",
            dir.display()
        ),
    ]));
    let _ = fs::remove_dir_all(dir);
}

/// What a killed run of these tests may have left: node 2 (found by its fixed names), this
/// machine's swarm if node 2's netns shows it was ours.
fn leftovers() {
    let ours = Path::new("/var/run/netns").join(NETNS).exists();
    if ours {
        let dirs = fs::read_dir(std::env::temp_dir())
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("chatlab-test-n2-"))
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for dir in dirs {
            teardown_node2(&dir, None);
        }
        leave_manager();
        quiet(Command::new("ip").args(["netns", "del", NETNS]));
        quiet(Command::new("ip").args(["link", "del", VETH_HOST]));
    }
}

fn leave_manager() {
    // The class's web server is a container of this machine, not a swarm service: leaving the
    // swarm would leave it running.
    let web = docker(&["ps", "-aq", "--filter", "label=chatlab.class.web"]);
    for id in String::from_utf8_lossy(&web.stdout).split_whitespace() {
        quiet(Command::new("docker").args(["rm", "-f", id]));
    }
    quiet(Command::new("timeout").args(["60", "docker", "swarm", "leave", "--force"]));
    for net in ["docker_gwbridge", "ingress"] {
        quiet(Command::new("timeout").args(["30", "docker", "network", "rm", net]));
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        if let Some(mut node2) = self.node2.take() {
            teardown_node2(&node2.dir, Some(&mut node2.dockerd));
            quiet(Command::new("ip").args(["netns", "del", NETNS]));
            quiet(Command::new("ip").args(["link", "del", VETH_HOST]));
        }
        leave_manager();
    }
}

/// A folder of the test's own for the class's files (LAB_CLASS_DIR) and its rosters.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(test: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("chatlab-class-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    pub fn roster(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `lab/class ARGS` with the class's files in DIR/class.
pub fn class(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(kit::root().join("lab/class"));
    cmd.args(args)
        .current_dir(kit::root())
        .env("LAB_CLASS_DIR", dir.join("class"))
        .env_remove("LAB_DEBUG")
        .env_remove("LAB_CLASS_NET");
    cmd
}

/// The class's volumes on this machine (the students' files); empty after `down --purge`.
pub fn class_volumes() -> String {
    let out = kit::output(Command::new("docker").args([
        "volume",
        "ls",
        "-q",
        "--filter",
        "label=chatlab.class=1",
    ]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
