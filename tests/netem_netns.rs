//! `chatlab netem` for real, without Docker: two network namespaces joined by a veth pair, the
//! NFQUEUE rule on the egress of one side, the real binary running there, and real traffic
//! (ping, `chat send` → `chat recv`) between them.
//!
//! Needs root, `ip`, `iptables` (nft or legacy backend), `ping` and the kernel's
//! nfnetlink_queue. Under CI (`CI=true`) a missing piece fails the test; elsewhere the test is
//! skipped with a message on stderr.

mod kit;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const CHATLAB: &str = env!("CARGO_BIN_EXE_chatlab");
const CHAT: &str = env!("CARGO_BIN_EXE_chat");
/// The impaired side (where the engine and the rule are), and its peer.
const A_IP: &str = "10.99.0.1";
const B_IP: &str = "10.99.0.2";

/// CMD (program and arguments) to the end, through the kit's runner.
fn run(cmd: &[&str]) -> Output {
    kit::output(Command::new(cmd[0]).args(&cmd[1..]))
}

/// CMD to the end; the test fails with the kit's report unless it succeeds.
fn run_ok(cmd: &[&str]) -> Output {
    kit::run_ok(Command::new(cmd[0]).args(&cmd[1..]))
}

/// Whether we run as root (the effective uid in /proc/self/status).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
            .unwrap_or(false)
    })
}

/// Skip (or, under CI, fail) when the machine cannot run these tests.
fn unavailable(reason: &str) -> Option<Netns> {
    kit::skip_unless_ci("netns test", reason);
    None
}

/// The iptables command whose backend works in a fresh namespace here ("iptables",
/// "iptables-nft" or "iptables-legacy"), found once.
fn iptables() -> Result<&'static str, String> {
    static FOUND: OnceLock<Result<&'static str, String>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let probe = Netns::create_bare().ok_or("cannot create a network namespace")?;
            for cmd in ["iptables", "iptables-nft", "iptables-legacy"] {
                let rule = [
                    "ip",
                    "netns",
                    "exec",
                    &probe.a,
                    cmd,
                    "-A",
                    "OUTPUT",
                    "-o",
                    "lo",
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    "9",
                    "--queue-bypass",
                ];
                if Command::new(rule[0])
                    .args(&rule[1..])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
                {
                    return Ok(cmd);
                }
            }
            Err(
                "no iptables command can add an NFQUEUE rule (install iptables; \
                 the kernel needs nfnetlink_queue)"
                    .to_string(),
            )
        })
        .clone()
}

/// Two namespaces `a` and `b`, joined by a veth pair (A_IP in a, B_IP in b), removed on drop
/// with everything running in them.
struct Netns {
    a: String,
    b: String,
    engine: Option<Engine>,
    /// One lab at a time: on 2 cores, parallel labs (their bulk transfers, their namespace
    /// teardown in kernel workers) delay the engine's wake-ups by tens of milliseconds and
    /// blur the timings we check. Released after Drop has cleaned up.
    _serial: MutexGuard<'static, ()>,
}

impl Netns {
    /// The namespaces and the link, without checking the tools (None: cannot create them).
    fn create_bare() -> Option<Netns> {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}x{n}", std::process::id() % 100_000);
        static SERIAL: Mutex<()> = Mutex::new(());
        let lab = Netns {
            a: format!("cnA{id}"),
            b: format!("cnB{id}"),
            engine: None,
            _serial: SERIAL
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        // From here on, Drop cleans up whatever was created.
        let (va, vb) = (format!("va{id}"), format!("vb{id}"));
        let (a_net, b_net) = (format!("{A_IP}/24"), format!("{B_IP}/24"));
        let steps: Vec<Vec<&str>> = vec![
            vec!["ip", "netns", "add", &lab.a],
            vec!["ip", "netns", "add", &lab.b],
            vec![
                "ip", "link", "add", &va, "netns", &lab.a, "type", "veth", "peer", "name", &vb,
                "netns", &lab.b,
            ],
            vec!["ip", "-n", &lab.a, "addr", "add", &a_net, "dev", &va],
            vec!["ip", "-n", &lab.b, "addr", "add", &b_net, "dev", &vb],
            vec!["ip", "-n", &lab.a, "link", "set", &va, "up"],
            vec!["ip", "-n", &lab.b, "link", "set", &vb, "up"],
            vec!["ip", "-n", &lab.a, "link", "set", "lo", "up"],
            vec!["ip", "-n", &lab.b, "link", "set", "lo", "up"],
        ];
        for step in steps {
            if !run(&step).status.success() {
                return None;
            }
        }
        Some(lab)
    }

    /// A ready lab with the NFQUEUE rule on a's egress (queue 0), or None to skip.
    fn new() -> Option<Netns> {
        if !is_root() {
            return unavailable("not root (network namespaces and iptables need it)");
        }
        for tool in ["ip", "ping"] {
            if Command::new(tool).arg("-V").output().is_err() {
                return unavailable(&format!("'{tool}' is not installed"));
            }
        }
        let ipt = match iptables() {
            Ok(cmd) => cmd,
            Err(reason) => return unavailable(&reason),
        };
        let Some(lab) = Netns::create_bare() else {
            return unavailable("cannot create network namespaces and a veth pair");
        };
        let va = format!("va{}", &lab.a[3..]);
        lab.exec_ok(&[
            ipt,
            "-A",
            "OUTPUT",
            "-o",
            &va,
            "-j",
            "NFQUEUE",
            "--queue-num",
            "0",
            "--queue-bypass",
        ]);
        Some(lab)
    }

    fn exec_ok(&self, cmd: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.a];
        all.extend_from_slice(cmd);
        run_ok(&all)
    }

    /// Start `chatlab netem` in a with these options, and wait until it has bound the queue.
    fn start_engine(&mut self, opts: &[&str]) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.a, CHATLAB, "netem"])
            .args(opts)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chatlab netem");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        let reader = thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let engine = Engine {
            child,
            stderr,
            reader: Some(reader),
            opts: opts.iter().map(|s| s.to_string()).collect(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !engine.stderr().contains("queue 0:") {
            if Instant::now() > deadline {
                panic!("chatlab netem did not start\n{}", engine.stderr());
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.engine = Some(engine);
    }

    /// SIGTERM the engine; returns its stderr once it has exited (successfully).
    fn stop_engine(&mut self) -> String {
        let mut engine = self.engine.take().expect("engine running");
        kill(Pid::from_raw(engine.child.id() as i32), Signal::SIGTERM).unwrap();
        let status = wait_timeout(&mut engine.child, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("chatlab netem ignored SIGTERM\n{}", engine.stderr()));
        engine.reader.take().unwrap().join().unwrap();
        let text = engine.stderr();
        assert!(
            status.success(),
            "chatlab netem {:?}: {status}\n{text}",
            engine.opts
        );
        text
    }

    /// Ping b from a: (replies, RTTs in ms).
    fn ping(&self, args: &[&str]) -> (usize, Vec<f64>) {
        let mut cmd = vec!["ip", "netns", "exec", &self.a, "ping", "-n"];
        cmd.extend_from_slice(args);
        cmd.push(B_IP);
        let out = run(&cmd);
        let text = String::from_utf8_lossy(&out.stdout);
        let rtts: Vec<f64> = text
            .lines()
            .filter_map(|l| l.split("time=").nth(1))
            .filter_map(|t| t.split(' ').next()?.parse().ok())
            .collect();
        (rtts.len(), rtts)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut engine) = self.engine.take() {
            let _ = engine.child.kill();
            let _ = engine.child.wait();
        }
        // Deleting a namespace removes its veth end (and so the pair) and its rules.
        for ns in [&self.a, &self.b] {
            // Processes still inside (chat recv) keep it alive: kill them first.
            let pids = run(&["ip", "netns", "pids", ns]);
            for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse() {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

struct Engine {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<thread::JoinHandle<()>>,
    opts: Vec<String>,
}

impl Engine {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The value of `key=N` in the engine's last line.
fn counter(stderr: &str, key: &str) -> u64 {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("stopped by"))
        .unwrap_or_else(|| panic!("no counters line in:\n{stderr}"));
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in: {line}"))
        .parse()
        .unwrap()
}

/// No RTT below `low` (the engine never releases early), and, as this machine may be busy
/// with other work that delays a wake-up now and then, at most one RTT in ten above `high`.
fn assert_rtts(rtts: &[f64], low: f64, high: f64, engine: &str) {
    let below = rtts.iter().filter(|r| **r < low).count();
    let above = rtts.iter().filter(|r| **r >= high).count();
    assert!(
        below == 0 && above * 10 <= rtts.len(),
        "RTTs (ms) should be in {low}..{high}: {rtts:?}\n{engine}"
    );
}

fn avg(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn delay_raises_the_rtt_and_clean_stop_prints_counters() {
    let Some(mut lab) = Netns::new() else { return };
    let (n, before) = lab.ping(&["-c", "5", "-i", "0.05"]);
    assert_eq!(
        n, 5,
        "no engine: the rule's --queue-bypass lets packets through"
    );
    assert!(avg(&before) < 1.0, "RTT before: {before:?}");

    lab.start_engine(&["--delay", "100ms"]);
    let (n, during) = lab.ping(&["-c", "10", "-i", "0.05"]);
    let stderr = lab.stop_engine();
    assert_eq!(n, 10, "{during:?}");
    assert_rtts(&during, 100.0, 115.0, &stderr);
    assert_eq!(counter(&stderr, "received"), 10, "{stderr}");
    assert_eq!(counter(&stderr, "released"), 10, "{stderr}");
    assert_eq!(counter(&stderr, "dropped-loss"), 0, "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");

    let (n, after) = lab.ping(&["-c", "5", "-i", "0.05"]);
    assert_eq!(n, 5);
    assert!(avg(&after) < 1.0, "RTT after the engine stopped: {after:?}");
}

#[test]
fn jitter_and_rate_shape_the_rtt() {
    let Some(mut lab) = Netns::new() else { return };
    // Echo requests of 1250 bytes at 1 mbit: 10 ms of serialization each, on top of 20 ms ± 5.
    lab.start_engine(&[
        "--delay", "20ms", "--jitter", "5ms", "--rate", "1mbit", "--seed", "1",
    ]);
    let (n, rtts) = lab.ping(&["-c", "20", "-i", "0.05", "-s", "1222"]);
    let stderr = lab.stop_engine();
    assert_eq!(n, 20, "{rtts:?}");
    assert_rtts(&rtts, 25.0, 40.0, &stderr);
    let spread = rtts.iter().cloned().fold(f64::MIN, f64::max)
        - rtts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 2.0, "jitter shows: {rtts:?}");
}

#[test]
fn tcp_through_20_percent_loss_delivers_every_line_in_order() {
    let Some(mut lab) = Netns::new() else { return };
    lab.start_engine(&["--loss", "20%", "--seed", "42"]);
    let lines: String = (0..10_000)
        .map(|i| format!("line {i:05} through a lossy link\n"))
        .collect();

    let mut recv = Command::new("ip")
        .args(["netns", "exec", &lab.b, CHAT, "recv", "-p", "9100"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chat recv");
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let mut out = recv.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n @ 1..) = std::io::Read::read(&mut out, &mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });

    let mut send = Command::new("ip")
        .args([
            "netns", "exec", &lab.a, CHAT, "send", B_IP, "-p", "9100", "--retry", "10",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chat send");
    let mut stdin = send.stdin.take().unwrap();
    let input = lines.clone();
    let writer = thread::spawn(move || stdin.write_all(input.as_bytes()));
    let status = wait_timeout(&mut send, Duration::from_secs(120));
    // chat send exits once the server has closed: its output is complete, or about to be.
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < lines.len() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = recv.kill();
    let _ = recv.wait();
    reader.join().unwrap();
    let status = status.expect("chat send finished within 120 s");
    writer.join().unwrap().unwrap();
    let mut err = String::new();
    let _ = std::io::Read::read_to_string(&mut send.stderr.take().unwrap(), &mut err);
    assert!(status.success(), "chat send: {status}\n{err}");
    let received = received.lock().unwrap();
    assert_eq!(received.len(), lines.len(), "bytes received");
    assert!(
        *received == lines.as_bytes(),
        "every line intact and in order"
    );

    let stderr = lab.stop_engine();
    let (received, lost) = (
        counter(&stderr, "received"),
        counter(&stderr, "dropped-loss"),
    );
    // The transfer takes few (GSO) packets, so the ratio is noisy; it is unit-tested.
    assert!(lost > 0, "some packets were lost: {stderr}");
    assert_eq!(received, counter(&stderr, "released") + lost, "{stderr}");
}

#[test]
fn sigterm_releases_held_packets_at_once() {
    let Some(mut lab) = Netns::new() else { return };
    lab.start_engine(&["--delay", "3s"]);
    let a = lab.a.clone();
    // Three echo requests, held 3 s each: stop the engine after 1 s, they must leave then.
    let pinger = thread::spawn(move || {
        let out = run(&[
            "ip", "netns", "exec", &a, "ping", "-n", "-c", "3", "-i", "0.1", "-W", "5", B_IP,
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    thread::sleep(Duration::from_millis(1000));
    let started = Instant::now();
    let stderr = lab.stop_engine();
    assert!(started.elapsed() < Duration::from_secs(2), "prompt exit");
    let out = pinger.join().unwrap();
    let rtts: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1)?.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(
        rtts.len(),
        3,
        "all held requests answered:\n{out}\n{stderr}"
    );
    for rtt in &rtts {
        assert!(
            *rtt < 2500.0,
            "released at the stop, not after 3 s: {rtts:?}"
        );
    }
    assert_eq!(counter(&stderr, "held-at-exit"), 3, "{stderr}");
    assert_eq!(counter(&stderr, "released"), 3, "{stderr}");
}

#[test]
fn limit_drops_the_tail_and_counts_it() {
    let Some(mut lab) = Netns::new() else { return };
    lab.start_engine(&["--delay", "1s", "--limit", "5"]);
    // 20 requests within 0.2 s: 5 are held (and answered after 1 s), 15 dropped.
    let (n, rtts) = lab.ping(&["-c", "20", "-i", "0.01", "-W", "3"]);
    let stderr = lab.stop_engine();
    assert_eq!(n, 5, "{rtts:?}\n{stderr}");
    assert_eq!(counter(&stderr, "received"), 20, "{stderr}");
    assert_eq!(counter(&stderr, "dropped-limit"), 15, "{stderr}");
    assert_eq!(counter(&stderr, "max-held"), 5, "{stderr}");
}

#[test]
fn bad_options_are_one_line_errors() {
    // No root needed: refused before touching the kernel.
    let out = run(&[CHATLAB, "netem", "--delay", "100"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.lines().next().unwrap().contains("give a unit"), "{err}");
}

/// ICMP echo requests in a pcap (Ethernet or raw IPv4, µs or ns): (time in s, echo sequence).
fn echo_requests(pcap: &[u8]) -> Vec<(f64, u16)> {
    let u32le = |at: usize| u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap());
    let nanos = match u32le(0) {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        magic => panic!("not a little-endian pcap: {magic:#x}"),
    };
    let link_len = match u32le(20) {
        1 => 14,
        101 => 0,
        link => panic!("unexpected link type {link}"),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let frac = f64::from(u32le(at + 4)) / if nanos { 1e9 } else { 1e6 };
        let t = f64::from(u32le(at)) + frac;
        let len = u32le(at + 8) as usize;
        let ip = &pcap[at + 16 + link_len..at + 16 + len];
        let ihl = usize::from(ip[0] & 15) * 4;
        if ip[9] == 1 && ip[ihl] == 8 {
            out.push((t, u16::from_be_bytes([ip[ihl + 6], ip[ihl + 7]])));
        }
        at += 16 + len;
    }
    out
}

#[test]
fn record_dates_each_packet_when_it_entered_dropped_ones_too() {
    let Some(mut lab) = Netns::new() else { return };
    if Command::new("tcpdump").arg("--version").output().is_err() {
        unavailable("'tcpdump' is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("chatlab-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (record, capture) = (dir.join("record.pcap"), dir.join("egress.pcap"));
    let va = format!("va{}", &lab.a[3..]);
    // tcpdump on a's interface: it sees what the engine lets out, when it lets it out.
    let mut tcpdump = Command::new("ip")
        // --immediate-mode: without it, packets wait in the kernel's ring for a block to
        // fill or time out, and those still there when tcpdump is stopped are lost.
        .args([
            "netns",
            "exec",
            &lab.a,
            "tcpdump",
            "--immediate-mode",
            "-i",
            &va,
            "-U",
            "-w",
        ])
        .arg(&capture)
        .arg("icmp")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tcpdump");
    let mut listening = BufReader::new(tcpdump.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on") {
        line.clear();
        assert!(listening.read_line(&mut line).unwrap() > 0, "tcpdump ended");
    }
    let rec = record.to_str().unwrap().to_string();
    lab.start_engine(&[
        "--delay", "100ms", "--loss", "30%", "--seed", "7", "--record", &rec,
    ]);
    let (replies, _) = lab.ping(&["-c", "20", "-i", "0.05", "-W", "2"]);
    // Every packet still held goes out on its own time before the stop.
    thread::sleep(Duration::from_millis(300));
    let stderr = lab.stop_engine();
    thread::sleep(Duration::from_millis(200));
    kill(Pid::from_raw(tcpdump.id() as i32), Signal::SIGINT).unwrap();
    tcpdump.wait().unwrap();

    let entered = echo_requests(&std::fs::read(&record).unwrap());
    let left = echo_requests(&std::fs::read(&capture).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let dropped = counter(&stderr, "dropped-loss") as usize;
    assert_eq!(
        entered.len(),
        20,
        "every request recorded, dropped ones too\n{stderr}"
    );
    assert!(dropped > 0, "seed 7 drops some of 20 at 30%\n{stderr}");
    assert_eq!(replies, 20 - dropped, "{stderr}");
    assert_eq!(left.len(), 20 - dropped, "{left:?}\n{entered:?}\n{stderr}");
    for (t_left, seq) in &left {
        let (t_in, _) = entered
            .iter()
            .find(|(_, s)| s == seq)
            .expect("left, so entered");
        let held = (t_left - t_in) * 1000.0;
        assert!(
            (99.0..130.0).contains(&held),
            "request {seq}: entered {t_in}, left {t_left}: held {held:.1} ms, not the delay"
        );
    }
}
