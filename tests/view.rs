//! lab/view for real: a lab up, the view started as a student starts it, conversations run in
//! the hosts, and what the page says read from its server and in a real headless browser
//! (Debian's chromium, driven by tests/browserkit); the replay of saved captures and a page
//! whose server goes away and comes back, with `chatlab view` run directly. Docker and
//! chromium are needed: under CI=true the tests fail without them, elsewhere they are skipped
//! with a message.

mod browserkit;
mod kit;
mod labkit;
mod labscripts;
mod ladderkit;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::{free_port, poll, root};
use labkit::Lab;
use labscripts::script;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// GET PATH from the view on 127.0.0.1:PORT: the body, or None if it does not answer.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut all = String::new();
    s.read_to_string(&mut all).ok()?;
    all.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// lab/view running in the background; stopped with Ctrl-C's signal when dropped.
struct View {
    child: Child,
    port: u16,
}

impl View {
    fn start(lab: &Lab) -> View {
        let port = free_port();
        let mut cmd = script(Some(lab), "view", &["--port", &port.to_string()]);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lab/view");
        View { child, port }
    }

    /// SIGINT (Ctrl-C), then the script's exit; its stderr.
    fn stop(mut self) -> String {
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
        let ended = poll(Duration::from_secs(20), || {
            self.child.try_wait().ok().flatten()
        });
        assert!(ended.is_some(), "lab/view did not end on Ctrl-C");
        let mut err = String::new();
        let _ = self.child.stderr.take().unwrap().read_to_string(&mut err);
        err
    }
}

impl Drop for View {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT);
            let _ = poll(Duration::from_secs(20), || {
                self.child.try_wait().ok().flatten()
            });
        }
    }
}

/// No probe nor tcpdump of a view runs in any host of LAB.
fn expect_no_view_process(lab: &Lab) {
    for host in ["server", "client", "client2"] {
        let ps = "ps -eo args | grep -e '^chatlab view' -e '^tcpdump' || true";
        let left = lab.exec(host, &["sh", "-c", ps], b"");
        assert_eq!(
            String::from_utf8_lossy(&left.stdout),
            "",
            "{host}: a view's probe or tcpdump is left"
        );
    }
}

/// The page as the browser shows it (its accessible summary), and a screenshot into FILE;
/// None when there is no chromium (and this is not CI).
fn browser(port: u16, shot: &std::path::Path) -> Option<String> {
    let url = format!("http://127.0.0.1:{port}/?once");
    let mut b = browserkit::Browser::open("view", &url, "en")?;
    b.wait_for(
        "document.querySelector('#summary').textContent.length > 0",
        Duration::from_secs(10),
    );
    b.screenshot(shot, false);
    Some(
        b.eval("document.documentElement.outerHTML")
            .as_str()?
            .to_string(),
    )
}

#[test]
fn the_page_shows_the_fork_the_deadlock_and_leaves_nothing_behind() {
    if Command::new("chromium").arg("--version").output().is_err() {
        return kit::skip_unless_ci(
            "view",
            "chromium is not installed (apt-get install chromium)",
        );
    }
    let Some(lab) = Lab::up("view", &[]) else {
        return;
    };
    // A port another program holds: one line saying so, and nothing of the view is left.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    kit::run(
        &mut script(Some(&lab), "view", &["--port", &port]),
        Duration::from_secs(60),
    )
    .expect_code(1)
    .expect_one_line_error(&format!("port {port} is taken on this machine"));
    drop(taken);
    expect_no_view_process(&lab);

    let view = View::start(&lab);
    // The server answers, and every host's probe has written once.
    let state = poll(Duration::from_secs(30), || {
        get(view.port, "/state").filter(|s| s.contains("\"client2\":{"))
    });
    assert!(
        state.is_some(),
        "the view did not show the three hosts within 30 s"
    );

    // A second view of this lab is refused in one line, and the first is unharmed.
    kit::run(
        &mut script(Some(&lab), "view", &["--port", &free_port().to_string()]),
        Duration::from_secs(60),
    )
    .expect_code(1)
    .expect_one_line_error("a view of this lab is already running");
    assert!(
        get(view.port, "/state").is_some(),
        "the first view is unharmed"
    );

    // The link as lab/netem left it: the page names the impairment of what client sends.
    let netem = kit::run(
        &mut script(Some(&lab), "netem", &["client", "delay", "20ms"]),
        Duration::from_secs(60),
    )
    .expect_success();
    let impaired = poll(Duration::from_secs(10), || {
        get(view.port, "/state").filter(|s| s.contains("\"settings\":\"delay 20ms\""))
    });
    assert!(
        impaired.is_some(),
        "the view never showed client's netem\n{}",
        netem.report
    );

    // Q4 across hosts (the lab's server runs chat duplex --listen -k), kept open; and Q3
    // started the wrong way round, on 9091.
    let mut duplex = lab.spawn("client", &["chat", "duplex", "server"]);
    let q3_server = lab.spawn(
        "server",
        &[
            "chat",
            "alternate",
            "--listen",
            "-p",
            "9091",
            "--first",
            "receive",
        ],
    );
    let q3_client = lab.spawn(
        "client",
        &[
            "chat",
            "alternate",
            "server",
            "-p",
            "9091",
            "--retry",
            "5",
            "--first",
            "receive",
        ],
    );

    // Within a few seconds: the deadlock on 9091, none on 8080; two processes per side on
    // 8080, the child reading the keyboard.
    let mut last = String::new();
    let seen = poll(Duration::from_secs(20), || {
        last = get(view.port, "/state")?;
        let deadlock_9091 = last.contains(":9091\"") && last.contains("\"deadlock\":true");
        let keyboard = last.matches("\"waits\":\"keyboard\"").count() >= 2;
        (deadlock_9091 && keyboard).then_some(())
    });
    assert!(
        seen.is_some(),
        "the state never showed the deadlock and the forks:\n{last}"
    );

    // A line typed in the duplex client crosses: the ladder shows it, with both ends' states.
    duplex.send(b"hello view\n");
    let crossed = poll(Duration::from_secs(20), || {
        last = get(view.port, "/state")?;
        (last.contains("hello view") && last.contains("ESTABLISHED")).then_some(())
    });
    assert!(
        crossed.is_some(),
        "the ladder never showed the line:\n{last}"
    );
    assert!(
        last.contains("\"ladder\":\"<?xml") && last.contains("<svg"),
        "{last}"
    );
    // Under lab/netem's userspace engine (this kernel has no sch_netem), the probe copies its
    // record: the line's arrow slants by client's 20 ms delay (1.2 px/ms: about 24 px).
    let mut slant = None;
    let slanted = poll(Duration::from_secs(10), || {
        let state: serde_json::Value = serde_json::from_str(&get(view.port, "/state")?).ok()?;
        let svg = state["ladder"].as_str()?.to_string();
        let doc = roxmltree::Document::parse(&svg).ok()?;
        let arrow = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("segment"))
            .find(|g| {
                g.descendants()
                    .any(|t| t.text().is_some_and(|t| t.contains("hello view")))
            })?
            .descendants()
            .find(|n| n.attribute("class") == Some("seg"))?;
        let y = |k: &str| arrow.attribute(k)?.parse::<f64>().ok();
        slant = Some(y("y2")? - y("y1")?);
        slant.filter(|&d| d > 15.0)
    });
    if netem.stderr().contains("userspace") {
        assert!(
            slanted.is_some(),
            "the live ladder slants the delayed line: {slant:?} px\n{}",
            netem.report
        );
    }
    assert_eq!(
        last.matches("\"deadlock\":true").count(),
        1,
        "only Q3 is a deadlock, not the duplex conversation:\n{last}"
    );

    // The browser shows it: the page's summary, and a screenshot kept for a person to look at.
    let shot = root().join("target").join("view-deadlock.png");
    let dom = browser(view.port, &shot).expect("chromium runs");
    let summary = dom
        .split("id=\"summary\"")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(summary.contains("deadlock server "), "{dom}");
    assert!(summary.contains(":9091"), "{summary}");
    assert!(summary.contains("client link delay 20ms"), "{summary}");
    assert!(summary.contains("server link plain"), "{summary}");
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with("ladder") && l.contains("hello view")),
        "the ladder in the page holds the line:\n{summary}"
    );
    for host in ["server", "client"] {
        assert!(
            summary
                .lines()
                .any(|l| l.starts_with(&format!("{host} process")) && l.contains("waits keyboard")),
            "{host}: a process reading the keyboard (the fork's child):\n{summary}"
        );
    }
    assert!(shot.exists(), "a screenshot in {}", shot.display());

    // The event stream: the state now, then each change as it comes.
    let mut events = TcpStream::connect(("127.0.0.1", view.port)).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        events,
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        view.port
    )
    .unwrap();
    let mut lines = BufReader::new(events).lines();
    let first = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("data: "))
        .expect("a first event");
    assert!(first.contains("\"deadlock\":true"), "{first}");
    // End Q3's programs (in the hosts: killing `docker exec` would leave them running).
    lab.exec("client", &["pkill", "-f", "chat alternate"], b"");
    lab.exec("server", &["pkill", "-f", "chat alternate"], b"");
    let started = Instant::now();
    let cleared = lines
        .map_while(Result::ok)
        .find(|l| l.starts_with("data: ") && !l.contains("\"deadlock\":true"));
    assert!(
        cleared.is_some(),
        "an event once the deadlocked programs are gone"
    );
    eprintln!(
        "deadlock cleared on the stream after {:?}",
        started.elapsed()
    );
    drop((q3_client, q3_server));

    // The README's scenario: the duplex client presses Ctrl-D. Its FIN goes first, the server
    // answers with its own, both programs end, and the client, which closed first, keeps the
    // connection in TIME_WAIT: the page shows it, and the ladder the FINs and the states.
    duplex.close_stdin();
    let closed = poll(Duration::from_secs(20), || {
        last = get(view.port, "/state")?;
        let client_tw = last
            .split("\"client\":")
            .nth(1)
            .and_then(|c| c.split("\"client2\":").next())
            .is_some_and(|c| c.contains("TIME_WAIT"));
        (client_tw && last.contains("FIN_WAIT_1") && last.contains("LAST_ACK")).then_some(())
    });
    assert!(
        closed.is_some(),
        "no TIME_WAIT on the client after Ctrl-D:\n{last}"
    );
    let shot = root().join("target").join("view-duplex.png");
    let dom = browser(view.port, &shot).expect("chromium runs");
    assert!(
        dom.contains("client socket") && dom.contains("TIME_WAIT"),
        "the page shows the TIME_WAIT:\n{dom}"
    );
    assert!(shot.exists());

    // Ctrl-C: nothing of the view is left (no container, no probe, no folder).
    let port = view.port;
    let said = view.stop();
    assert!(
        said.contains(&format!("http://127.0.0.1:{port}/")),
        "{said}"
    );
    assert!(get(port, "/state").is_none(), "the page is gone");
    let left = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "name=chatlab-view-",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    let server_id = lab.container("server");
    let mine = format!("chatlab-view-{}", &server_id[..12]);
    assert!(
        !String::from_utf8_lossy(&left.stdout).contains(&mine),
        "the view's container is gone"
    );
    expect_no_view_process(&lab);
    assert!(
        !root()
            .join("captures")
            .join(format!(".view-{}", &server_id[..12]))
            .exists(),
        "the probes' folder is removed"
    );
}

/// VmHWM (peak resident memory) of the view's server, in KiB: the process of its container.
fn view_peak_kib(lab: &Lab) -> u64 {
    let name = format!("chatlab-view-{}", &lab.container("server")[..12]);
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Pid}}", &name])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The segment count of the newest connection on the page's ladder (its title: "N segments,").
fn newest_count(summary: &str) -> u64 {
    summary
        .lines()
        .filter_map(|l| l.strip_prefix("ladder ")?.split_once(" segments, "))
        .filter_map(|(n, _)| n.parse().ok())
        .next_back()
        .unwrap_or(0)
}

/// Load: one connection carries six bulks of more than 10 000 segments each (15 MB each, in
/// segments of one MSS) while the page is open. The page keeps its pace (its event loop is
/// never stuck for long), shows the connection's opening and end and counts what it left out
/// in between; the view's server keeps what it draws, not what it saw: its peak memory after
/// six bulks is about its peak after three.
#[test]
fn ten_thousand_segments_leave_the_page_live_and_the_server_bounded() {
    let Some(lab) = Lab::up("view-load", &[]) else {
        return;
    };
    let view = View::start(&lab);
    let up = poll(Duration::from_secs(30), || {
        get(view.port, "/state").filter(|s| s.contains("\"client\":{"))
    });
    assert!(up.is_some(), "the view did not start");
    let Some(mut b) = browserkit::Browser::open(
        "view load",
        &format!("http://127.0.0.1:{}/", view.port),
        "en",
    ) else {
        return;
    };
    b.wait_for(
        "document.querySelector('#status').textContent === 'live'",
        Duration::from_secs(10),
    );
    // The page's pace: the longest gap between two ticks of a 100 ms timer, and its renders.
    b.eval(
        "window.lag = 0; window.renders = 0; let last = performance.now(); \
         setInterval(() => { const now = performance.now(); lag = Math.max(lag, now - last - 100); last = now; }, 100); \
         new MutationObserver(() => renders++).observe(document.querySelector('#summary'), { childList: true }); true",
    );
    let _sink = lab.spawn(
        "server",
        &["socat", "-u", "TCP-LISTEN:9099,reuseaddr", "/dev/null"],
    );
    // One segment per MSS on the wire (no GSO on the lab's veth), as on a real card.
    lab.exec(
        "client",
        &["ip", "link", "set", "eth0", "gso_max_segs", "1"],
        b"",
    );
    let mut client = lab.spawn(
        "client",
        &["chat", "send", "server", "-p", "9099", "--retry", "5"],
    );
    let bulk: Vec<u8> = "a"
        .repeat(99)
        .bytes()
        .chain([b'\n'])
        .cycle()
        .take(15_000_000)
        .collect();
    let mut peaks = Vec::new();
    for round in 1..=6u64 {
        client.send(&bulk);
        // Each MSS-sized segment and its ACKs: more than 10 000 more segments on the ladder.
        let counted = poll(Duration::from_secs(30), || {
            let n = newest_count(&b.text("#summary"));
            (n > round * 10_000).then_some(n)
        });
        assert!(
            counted.is_some(),
            "bulk {round}: the page's count never passed {}:\n{}",
            round * 10_000,
            b.text("#summary")
        );
        std::thread::sleep(Duration::from_millis(500));
        peaks.push(view_peak_kib(&lab));
    }
    client.close_stdin();
    b.wait_for(
        "document.querySelector('#summary').textContent.includes('TIME_WAIT')",
        Duration::from_secs(20),
    );
    let lag = b.eval("lag").as_f64().unwrap();
    let renders = b.eval("renders").as_u64().unwrap();
    let summary = b.text("#summary");
    let count = newest_count(&summary);
    eprintln!(
        "view load: {count} segments; the page's longest stall {lag:.0} ms, {renders} renders; \
         the server's peak after each bulk {peaks:?} KiB"
    );
    assert!(
        summary.contains("not shown (only the start and the latest are kept)")
            && summary.contains("SYN seq 0")
            && summary.contains("FIN,ACK"),
        "the page shows the opening, the end, and says what it left out:\n{summary}"
    );
    assert!(renders >= 6, "the page kept rendering: {renders}");
    assert!(lag < 2000.0, "the page froze for {lag:.0} ms");
    let (three, six) = (peaks[2], peaks[5]);
    assert!(
        six < three + 8 * 1024,
        "the server's memory grows with what it saw: {peaks:?} KiB"
    );
    lab.exec(
        "client",
        &["ip", "link", "set", "eth0", "gso_max_segs", "65535"],
        b"",
    );
    drop(b);
    view.stop();
}

// --- Without the lab: `chatlab view` on this machine, on captures this test writes ---------

/// `chatlab view DIR --captures CAPTURES` on 127.0.0.1:PORT, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(dir: &std::path::Path, captures: &std::path::Path, port: u16) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_chatlab"))
            .arg("view")
            .arg(dir)
            .arg("--captures")
            .arg(captures)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chatlab view");
        let up = poll(Duration::from_secs(10), || get(port, "/captures"));
        assert!(up.is_some(), "chatlab view did not answer on port {port}");
        Server { child, port }
    }

    /// How many threads the server runs now.
    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// How many sockets the server holds now (its listener and its connections).
    fn sockets(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| {
                d.flatten()
                    .filter(|e| {
                        std::fs::read_link(e.path())
                            .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
                    })
                    .count()
            })
            .unwrap_or(0)
    }

    /// A line of the server's /proc/PID/status, in KiB (VmHWM: its peak resident memory).
    fn status_kib(&self, key: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server runs");
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("{key} in {status}"))
    }

    /// The server still runs (it did not die of what a client sent).
    fn expect_alive(&mut self) {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "the server died: {:?}",
            self.child.try_wait()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder of this test's own, emptied first.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = root().join("target").join("view-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One segment of a scripted conversation: sent at T ms, by the client or the server,
/// with FLAGS, relative SEQ and ACK, and DATA.
type Seg = (i64, bool, u8, u32, u32, &'static [u8]);

const FIN: u8 = 1;
const SYN: u8 = 2;
const PSH: u8 = 8;
const ACK: u8 = 16;

/// The TD's conversation, 50 ms each way: the handshake, "bonjour" and "salut", the client
/// closes first. Eleven segments.
const TALK: [Seg; 11] = [
    (0, true, SYN, 0, 0, b""),
    (60, false, SYN | ACK, 0, 1, b""),
    (120, true, ACK, 1, 1, b""),
    (300, true, PSH | ACK, 1, 1, b"bonjour\n"),
    (360, false, ACK, 1, 9, b""),
    (700, false, PSH | ACK, 1, 9, b"salut\n"),
    (760, true, ACK, 9, 7, b""),
    (1000, true, FIN | ACK, 9, 7, b""),
    (1060, false, ACK, 7, 10, b""),
    (1100, false, FIN | ACK, 7, 10, b""),
    (1160, true, ACK, 10, 8, b""),
];

/// Write NAME-client.pcap and NAME-server.pcap of SEGS into DIR as both hosts of the lab
/// (10.80.80.11:40000 and 10.80.80.10:8080) would have captured them: each segment leaves
/// its sender at its time and reaches the other 50 ms later.
fn write_talk(dir: &std::path::Path, name: &str, segs: &[Seg]) {
    let mut seen: [Vec<(f64, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    for &(ms, from_client, flags, seq, ack, data) in segs {
        // Relative numbers: the client's ISN is 1000, the server's 5000.
        let (isn, peer) = if from_client {
            (1000, 5000)
        } else {
            (5000, 1000)
        };
        let ack = if flags & ACK != 0 { peer + ack } else { 0 };
        let packet = ladderkit::tcp(from_client, 8080, flags, isn + seq, ack, data);
        let t = 1_760_000_000.0 + ms as f64 / 1000.0;
        let (me, other) = if from_client { (0, 1) } else { (1, 0) };
        seen[me].push((t, packet.clone()));
        seen[other].push((t + 0.050, packet));
    }
    for (host, mut records) in ["client", "server"].into_iter().zip(seen) {
        records.sort_by(|a, b| a.0.total_cmp(&b.0));
        let file = dir.join(format!("{name}-{host}.pcap"));
        std::fs::write(file, ladderkit::pcap(&records)).unwrap();
    }
}

/// The replay, as a student uses it: the Replay tab lists the saved captures by experiment,
/// a file that is not a capture says so in one line, and a conversation is stepped through
/// (next, back, first, last, the keyboard), segment by segment with each side's state, and
/// played at a chosen speed; pause stops it. In English and in French.
#[test]
fn the_replay_steps_through_a_saved_capture_and_says_what_is_wrong() {
    let live = scratch("replay-live");
    let captures = scratch("replay-captures");
    write_talk(&captures, "talk", &TALK);
    std::fs::write(
        captures.join("broken-client.pcap"),
        b"this is not a capture",
    )
    .unwrap();
    let server = Server::start(&live, &captures, free_port());
    let url = format!("http://127.0.0.1:{}/", server.port);
    let Some(mut b) = browserkit::Browser::open("view replay", &url, "en") else {
        return;
    };
    b.click("#tab-replay");
    // The first experiment in name order is the broken one: the page says what is wrong.
    b.wait_for(
        "document.querySelector('#replay-error').textContent.length > 0",
        Duration::from_secs(10),
    );
    assert_eq!(
        b.text("#replay-error"),
        "captures/broken-client.pcap: not a capture file (neither pcap nor pcapng)"
    );
    b.select("#capture", "talk");
    b.wait_for(
        "document.querySelector('#replay-summary').textContent.includes('replay step 0/11')",
        Duration::from_secs(10),
    );
    assert_eq!(b.text("#replay-error"), "", "the error is gone");
    let summary = |b: &mut browserkit::Browser| b.text("#replay-summary");
    let s = summary(&mut b);
    assert!(
        s.contains("replay state client CLOSED") && s.contains("replay state server LISTEN"),
        "{s}"
    );
    // Step by step: the SYN leaves, the client is SYN_SENT; then the SYN ACK, the ACK.
    b.click("#next");
    let s = summary(&mut b);
    assert!(
        s.contains("replay step 1/11")
            && s.contains("replay segment client SYN seq 0")
            && s.contains("replay state client SYN_SENT")
            && s.contains("replay state server SYN_RCVD"),
        "{s}"
    );
    b.click("#next");
    b.click("#next");
    let s = summary(&mut b);
    assert!(
        s.contains("replay step 3/11")
            && s.contains("replay state client ESTABLISHED")
            && s.contains("replay state server ESTABLISHED"),
        "{s}"
    );
    b.press("ArrowRight");
    let s = summary(&mut b);
    assert!(
        s.contains("replay step 4/11") && s.contains("\"bonjour\\n\""),
        "the keyboard steps too, and the line is shown: {s}"
    );
    assert!(b.text("#replay-step").contains("client → server"));
    // Only what has happened is drawn: four arrows, the rest hidden.
    let drawn = b.eval("document.querySelectorAll('#replay-ladder g.segment:not(.future)').length");
    assert_eq!(drawn, serde_json::json!(4));
    b.click("#back");
    assert!(summary(&mut b).contains("replay step 3/11"));
    b.click("#last");
    let s = summary(&mut b);
    assert!(
        s.contains("replay step 11/11")
            && s.contains("replay state client TIME_WAIT")
            && s.contains("replay state server CLOSED"),
        "the client closed first and keeps TIME_WAIT: {s}"
    );
    let shot = root().join("target").join("view-replay.png");
    b.click("#first");
    for _ in 0..4 {
        b.click("#next");
    }
    b.screenshot(&shot, false);
    b.click("#first");
    assert!(summary(&mut b).contains("replay step 0/11"));

    // Play at ×16: every step in order, to the end, by itself.
    b.eval(
        "window.steps = []; new MutationObserver(() => steps.push(document.querySelector('#replay-step').textContent.split(' — ')[0]))\
         .observe(document.querySelector('#replay-step'), { childList: true, characterData: true, subtree: true }); true",
    );
    b.select("#speed", "16");
    b.click("#play");
    b.wait_for(
        "document.querySelector('#replay-summary').textContent.includes('replay step 11/11') && document.querySelector('#play').getAttribute('aria-pressed') === 'false'",
        Duration::from_secs(20),
    );
    let steps = b.eval("JSON.stringify([...new Set(steps)])");
    // (From step 0, where it was.)
    let want: Vec<String> = (0..=11).map(|k| format!("segment {k}/11")).collect();
    assert_eq!(
        steps.as_str().unwrap(),
        serde_json::to_string(&want).unwrap(),
        "played in order"
    );
    // Pause: at a quarter of real time, the play stops where it was.
    b.select("#speed", "0.25");
    b.click("#play");
    b.wait_for(
        "document.querySelector('#replay-summary').textContent.includes('replay step 2/11')",
        Duration::from_secs(20),
    );
    b.click("#play");
    let paused = summary(&mut b);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(summary(&mut b), paused, "paused");

    // In French: the page, the error and the states.
    drop(b);
    let Some(mut b) =
        browserkit::Browser::open("view replay", &format!("{url}?replay=broken"), "fr")
    else {
        return;
    };
    b.wait_for(
        "document.querySelector('#replay-error').textContent.length > 0",
        Duration::from_secs(10),
    );
    assert_eq!(b.text("#tab-replay"), "Rejouer une capture");
    assert_eq!(
        b.text("#replay-error"),
        "captures/broken-client.pcap : pas un fichier de capture (ni pcap ni pcapng)"
    );
    b.goto(&format!("{url}?replay=talk&step=11"));
    b.wait_for(
        "document.querySelector('#replay-states').textContent.includes('TIME_WAIT')",
        Duration::from_secs(10),
    );
    assert_eq!(
        b.text("#replay-states"),
        "client\u{a0}: TIME_WAIT · server\u{a0}: CLOSED"
    );
    assert!(b.text("#replay-step").starts_with("segment 11/11"));
    // A replay link opens that capture only: each capture listed once, no other one opened.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#capture option')].map(o => o.value).join(' ')"),
        serde_json::json!("broken talk")
    );
    assert_eq!(b.text("#replay-error"), "");
    b.screenshot(&root().join("target").join("view-replay-fr.png"), false);
    assert!(shot.exists());
}

/// A page whose server goes away says so, and comes back by itself when the server does;
/// browsers that leave end their connections in the server (nothing is left open for them).
/// `lab/view --terminals`: the class's tab for the compose lab — its link, with a secret, on
/// 127.0.0.1 only; nothing opens without it; in a real browser, a terminal into each host (a
/// line typed runs in client, as in `docker compose exec`), the student's files (saved in the
/// lab's work/), the terminal's scripts loaded again when their first load fails; Ctrl-C
/// leaves nothing: no container, no folder, no probe.
#[test]
fn the_lab_in_one_tab_with_terminals_and_a_secret_link() {
    const TEST: &str = "view --terminals";
    if Command::new("chromium").arg("--version").output().is_err() {
        return kit::skip_unless_ci(TEST, "chromium is not installed (apt-get install chromium)");
    }
    if Command::new("musl-gcc").arg("--version").output().is_err() {
        return kit::skip_unless_ci(
            TEST,
            "musl-gcc is not installed (apt-get install musl-tools): the web server cannot be built",
        );
    }
    let Some(lab) = Lab::up("view-terminals", &[]) else {
        return;
    };
    let state = scratch("terminals-state");
    let (port, web_port) = (free_port(), free_port());
    let mut child = script(
        Some(&lab),
        "view",
        &[
            "--port",
            &port.to_string(),
            "--terminals",
            "--web-port",
            &web_port.to_string(),
        ],
    )
    .env("XDG_STATE_HOME", &state)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start lab/view --terminals");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let view = View { child, port };
    let mut link = String::new();
    // (The first time, the class's images are built: minutes.)
    stdout.read_line(&mut link).expect("the link on stdout");
    let link = link.trim().to_string();
    let base = format!("https://127.0.0.1:{web_port}");
    assert!(
        link.starts_with(&format!("{base}/s/")) && link.len() > base.len() + 30,
        "{link:?}"
    );
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args([
                "-k",
                "-s",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
            ])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    // Without the link's secret, nothing; the server is on 127.0.0.1 only.
    for path in ["/lab/lab/", "/lab/lab/files", "/lab/lab/view/state"] {
        assert_eq!(curl(&[&format!("{base}{path}")]), "403", "{path}");
    }
    assert_eq!(
        curl(&[&format!("{base}/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]),
        "403"
    );
    // Its listening socket (the container is on this machine's network): 127.0.0.1 only.
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap()
        + &std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let listening: Vec<&str> = table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local = *f.get(1)?;
            (f.get(3) == Some(&"0A") && local.ends_with(&format!(":{web_port:04X}")))
                .then_some(local)
        })
        .collect();
    assert_eq!(
        listening,
        [format!("0100007F:{web_port:04X}")],
        "where the tab's server listens"
    );
    // The check button's path: the agent checks in a container of its own, the lab's work/
    // read-only (the folder compose binds), and leaves none.
    let jar = state.join("cookies");
    let jar = jar.to_str().unwrap();
    assert_eq!(curl(&["-c", jar, &link]), "303");
    let checked = Command::new("curl")
        .args(["-k", "-s", "--max-time", "150", "-b", jar, "-X", "POST"])
        .args(["-H", &format!("Origin: {base}")])
        .arg(format!("{base}/lab/lab/check?role=q1&file=nope.py&lang=en"))
        .output()
        .unwrap();
    let checked = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.contains(r#""role":"q1""#) && checked.contains(r#""file":null"#),
        "{checked}"
    );
    let server = lab.container("server");
    let left = Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            &format!("label=chatlab.lab.check={server}"),
        ])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "a check's container is left");
    // The terminal's scripts fail to load the first time (the network blinked: Docker adding
    // an interface makes Chromium drop what is in flight): the page loads them again.
    let Some(mut b) = browserkit::Browser::open_failing(
        TEST,
        &link,
        "fr",
        &["/assets/xterm.js", "/assets/addon-fit.js"],
    ) else {
        return;
    };
    b.wait_for("location.pathname === '/lab/lab/'", Duration::from_secs(20));
    for host in ["server", "client", "client2"] {
        b.wait_terminal(host, "/work#", 1);
    }
    let logged = b.logged();
    assert!(
        logged.contains("ERR_CONNECTION_RESET https://127.0.0.1")
            && logged.contains("/assets/xterm.js"),
        "the first load of xterm.js did not fail: {logged}"
    );
    b.type_line("client", "echo ok-$((40+2)) $(hostname)");
    b.wait_terminal("client", "ok-42 client", 1);
    // A file saved from the page is in the lab's work/.
    let name = format!("essai-{}.py", std::process::id());
    b.eval(&format!(
        "document.querySelector('#new-name').value = {name:?}"
    ));
    b.click("#new");
    b.wait_for(
        &format!("document.querySelector('#open-name').textContent === {name:?}"),
        Duration::from_secs(20),
    );
    b.save_editor("print(1)\n", "enregistré");
    let saved = lab.exec("server", &["cat", &format!("/work/{name}")], b"");
    assert_eq!(String::from_utf8_lossy(&saved.stdout), "print(1)\n");
    let _ = lab.exec("server", &["rm", "-f", &format!("/work/{name}")], b"");
    drop(b);
    // Ctrl-C: nothing left.
    let err = view.stop();
    let tag = format!("view-{}", &lab.container("server")[..12]);
    for name in [format!("chatlab-{tag}-web"), format!("chatlab-{tag}-agent")] {
        let left = Command::new("docker")
            .args(["inspect", &name])
            .output()
            .unwrap();
        assert!(!left.status.success(), "{name} is left: {err}");
    }
    assert!(
        !state.join("chatlab").join(&tag).exists(),
        "the tab's folder (its secrets) is left"
    );
    expect_no_view_process(&lab);
}

/// `--list-captures` and `--replay NAME` print, once, what the page's server answers at
/// /captures and /replay (the class's web server relays them from a lab): the same JSON, the
/// same code; a name that is no capture is one line on stderr and status 1.
#[test]
fn the_replay_is_printed_once_as_the_page_gets_it() {
    let live = scratch("replay-once-live");
    let captures = scratch("replay-once-captures");
    write_talk(&captures, "talk", &TALK);
    let once = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_chatlab"))
            .arg("view")
            .arg(&live)
            .arg("--captures")
            .arg(&captures)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run chatlab view")
    };
    let server = Server::start(&live, &captures, free_port());
    let list = once(&["--list-captures"]);
    assert!(list.status.success());
    let served = get(server.port, "/captures").unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), served.trim());
    assert!(served.contains("\"talk\""), "{served}");
    for lang in ["fr", "en"] {
        let replay = once(&["--replay=talk", "--lang", lang]);
        assert!(replay.status.success(), "{replay:?}");
        let served = get(server.port, &format!("/replay?name=talk&lang={lang}")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&replay.stdout).trim(),
            served.trim()
        );
        assert!(served.contains("\"segments\":11"), "{served}");
    }
    let conn = once(&["--replay=talk", "--conn", "1", "--lang", "en"]);
    assert!(conn.status.success());
    for (args, says) in [
        (
            &["--replay=nope", "--lang", "en"][..],
            "nope: no capture of that name",
        ),
        (
            &["--replay=talk", "--conn", "2", "--lang", "en"][..],
            "talk",
        ),
    ] {
        let out = once(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
        assert!(out.stdout.is_empty());
    }
}

/// `--summary`: the page's state without its ladder, once — the hosts' probes as they are
/// (here this machine's, written by the probe itself) and the conversations.
#[test]
fn the_summary_is_the_state_without_the_ladder() {
    let dir = scratch("summary");
    let probe = Command::new(env!("CARGO_BIN_EXE_chatlab"))
        .args(["view", "--probe", "--out"])
        .arg(dir.join("server.probe"))
        .status()
        .unwrap();
    assert!(probe.success());
    let out = Command::new(env!("CARGO_BIN_EXE_chatlab"))
        .arg("view")
        .arg(&dir)
        .arg("--summary")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let state: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(state["hosts"]["server"]["processes"].is_array(), "{state}");
    assert!(state["conversations"].is_array(), "{state}");
    assert!(state["ladder"].is_null(), "{state}");
}

#[test]
fn the_page_survives_its_server_and_its_browsers_come_and_go() {
    let live = scratch("reconnect-live");
    let captures = scratch("reconnect-captures");
    let port = free_port();
    let server = Server::start(&live, &captures, port);
    let Some(mut b) =
        browserkit::Browser::open("view reconnect", &format!("http://127.0.0.1:{port}/"), "en")
    else {
        return;
    };
    b.wait_for(
        "document.querySelector('#status').textContent === 'live'",
        Duration::from_secs(10),
    );
    let idle = server.sockets();
    let threads = server.threads();
    // Ten browsers come and go (event streams opened, then dropped).
    let streams: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(s, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
            s
        })
        .collect();
    let busy = poll(Duration::from_secs(5), || {
        (server.sockets() >= idle + 10).then_some(())
    });
    assert!(
        busy.is_some(),
        "one connection per stream: {} sockets",
        server.sockets()
    );
    assert_eq!(server.threads(), threads, "no thread per stream");
    drop(streams);
    // The next change (a host appears) is written to every stream: the gone ones end.
    std::fs::write(live.join("client.probe"), "").unwrap();
    b.wait_for(
        "document.querySelector('#hosts').textContent.includes('client')",
        Duration::from_secs(10),
    );
    let back = poll(Duration::from_secs(15), || {
        (server.sockets() <= idle).then_some(())
    });
    assert!(
        back.is_some(),
        "the connections of gone browsers end: {} sockets, {idle} before",
        server.sockets()
    );

    // The server goes away: the page says so; it comes back: the page follows it again.
    drop(server);
    b.wait_for(
        "document.querySelector('#status').textContent.startsWith('connection lost')",
        Duration::from_secs(10),
    );
    std::fs::write(live.join("server.probe"), "").unwrap();
    let _server = Server::start(&live, &captures, port);
    b.wait_for(
        "document.querySelector('#status').textContent === 'live' && document.querySelector('#hosts').textContent.includes('server')",
        Duration::from_secs(15),
    );
}

// --- Hostile clients: `chatlab view` on loopback, what a client sends bounded ---------------

/// A server on an empty folder, on a port of its own.
fn bare_server(name: &str) -> Server {
    let live = scratch(&format!("{name}-live"));
    let captures = scratch(&format!("{name}-captures"));
    Server::start(&live, &captures, free_port())
}

/// Send REQUEST to 127.0.0.1:PORT as it is; the status line of the answer ("" if none).
fn status_of(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut first = String::new();
    let _ = BufReader::new(s).read_line(&mut first);
    first.trim_end().to_string()
}

/// Whether the server closed S (end of stream or reset), without waiting.
fn closed_by_server(mut s: &TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut buf = [0; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// One request line of 512 MiB without its end: the server reads a head's worth, closes the
/// connection, and its memory stays that of a server at rest.
#[test]
fn a_huge_request_line_is_cut_off_in_bounded_memory() {
    let mut server = bare_server("hostile-line");
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /").unwrap();
    let chunk = vec![b'a'; 1 << 20];
    let mut sent = 0usize;
    while sent < 512 << 20 {
        match s.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    let peak = server.status_kib("VmHWM");
    eprintln!(
        "a 512 MiB request line: {} KiB sent before the server closed, its peak {peak} KiB",
        sent >> 10
    );
    assert!(
        sent < 64 << 20,
        "the server read {} MiB of one request line",
        sent >> 20
    );
    assert!(peak < 64 * 1024, "the server's peak memory: {peak} KiB");
    server.expect_alive();
    assert!(get(server.port, "/state").is_some(), "it still answers");
}

/// 300 clients that send their request a byte every 2 s: the connections over the cap are
/// closed at once, the others once their head has taken longer than a browser's; no thread
/// is made for any of them, the memory stays small, and a browser is answered after.
#[test]
fn slow_clients_hold_no_thread_and_are_cut_off() {
    let mut server = bare_server("hostile-slow");
    let threads = server.threads();
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
            let _ = s.write_all(b"G");
            s
        })
        .collect();
    let start = Instant::now();
    let mut most_threads = 0;
    let mut open = slow.len();
    // A byte every 2 s, for 9 s: past the head's deadline (5 s) with margin.
    while start.elapsed() < Duration::from_secs(9) {
        std::thread::sleep(Duration::from_secs(2));
        for s in &mut slow {
            let _ = s.write(b"E");
        }
        most_threads = most_threads.max(server.threads());
        open = slow.iter().filter(|s| !closed_by_server(s)).count();
    }
    let peak = server.status_kib("VmHWM");
    eprintln!(
        "300 slow clients: at most {most_threads} threads ({threads} at rest), {open} still \
         open after 9 s, peak {peak} KiB"
    );
    server.expect_alive();
    assert_eq!(most_threads, threads, "a thread per slow client");
    assert_eq!(open, 0, "slow clients are still connected after 9 s");
    assert!(peak < 64 * 1024, "the server's peak memory: {peak} KiB");
    assert!(
        get(server.port, "/state").is_some(),
        "a browser is answered"
    );
}

/// Event streams up to the cap are served; one more connection is closed at once without an
/// answer, and the server lives on: once a stream ends, a browser is answered again.
#[test]
fn connections_over_the_cap_are_closed_and_the_server_lives_on() {
    const CAP: usize = 64; // the server's MAX_CONNECTIONS
    let mut server = bare_server("hostile-cap");
    let port = server.port;
    let mut streams: Vec<TcpStream> = (0..CAP)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(s, "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").unwrap();
            let mut first = [0; 12];
            s.read_exact(&mut first)
                .unwrap_or_else(|e| panic!("stream {i} is not served: {e}"));
            assert_eq!(&first, b"HTTP/1.1 200", "stream {i}");
            s
        })
        .collect();
    let over = status_of(
        port,
        &format!("GET /state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    );
    assert_eq!(over, "", "a connection over the cap is answered");
    server.expect_alive();
    streams.truncate(CAP - 1);
    let answered = poll(Duration::from_secs(5), || get(port, "/state"));
    assert!(answered.is_some(), "no answer once a stream ended");
}

/// Forty requests at once for the state and the replay, bad queries among them: each is
/// answered (a bad value says nothing, it is never refused), the work waits its turn on the
/// server's few threads, and no thread is made for them.
#[test]
fn a_burst_of_requests_makes_no_thread_and_bad_queries_are_answered() {
    let mut server = bare_server("hostile-burst");
    let port = server.port;
    let threads = server.threads();
    let paths = [
        ("/state", "200"),
        ("/state?lang=%C3&lang=fr", "200"),
        ("/replay?name=x&conn=two&lang=fr", "422"),
        ("/replay?name=%zz&conn=-1&name=y", "422"),
    ];
    let (answers, most) = std::thread::scope(|s| {
        let all: Vec<_> = (0..40)
            .map(|i| {
                let (path, want) = paths[i % paths.len()];
                s.spawn(move || {
                    let got = status_of(
                        port,
                        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
                    );
                    (path, want, got)
                })
            })
            .collect();
        let mut most = 0;
        while !all.iter().all(|t| t.is_finished()) {
            most = most.max(server.threads());
            std::thread::sleep(Duration::from_millis(5));
        }
        let answers: Vec<_> = all.into_iter().map(|t| t.join().unwrap()).collect();
        (answers, most)
    });
    for (path, want, got) in answers {
        assert!(
            got.starts_with(&format!("HTTP/1.1 {want}")),
            "{path}: {got}"
        );
    }
    server.expect_alive();
    assert_eq!(most, threads, "a thread per request ({threads} at rest)");
}

/// A request for another name than 127.0.0.1, localhost or [::1] on the server's port (a web
/// page that made its own name point to 127.0.0.1) gets 403 on every path, in one line.
#[test]
fn a_foreign_host_gets_403_everywhere() {
    let server = bare_server("hostile-host");
    let port = server.port;
    let paths = ["/", "/state", "/events", "/captures", "/replay?name=x"];
    for path in paths {
        for host in [
            format!("evil.example:{port}"),
            format!("127.0.0.1:{}", port + 1),
            "127.0.0.1".to_string(),
            format!("127.0.0.1.evil.example:{port}"),
        ] {
            let got = status_of(
                port,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            );
            assert_eq!(got, "HTTP/1.1 403 Forbidden", "{path} for Host: {host}");
        }
        let none = status_of(port, &format!("GET {path} HTTP/1.0\r\n\r\n"));
        assert_eq!(none, "HTTP/1.0 403 Forbidden", "{path} without Host");
        for host in [
            format!("127.0.0.1:{port}"),
            format!("LOCALHOST:{port}"),
            format!("[::1]:{port}"),
        ] {
            let got = status_of(
                port,
                &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            );
            assert!(
                got.starts_with("HTTP/1.1 200") || got.starts_with("HTTP/1.1 422"),
                "{path} for Host: {host}: {got}"
            );
        }
    }
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /state HTTP/1.1\r\nHost: evil.example:{port}\r\nAccept-Language: fr-FR\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let body = all.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(
        body,
        format!("adresse refusée : ouvrez la page à http://127.0.0.1:{port}/\n")
    );
}

/// A FIFO named like a probe, and a probe of 300 MB: the state is still answered at once,
/// without them, and the server's memory stays small; the good probe is read.
#[test]
fn a_fifo_or_a_huge_probe_hangs_nothing() {
    let live = scratch("hostile-files-live");
    let captures = scratch("hostile-files-captures");
    nix::unistd::mkfifo(
        &live.join("client.probe"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    nix::unistd::mkfifo(
        &live.join("client.pcap"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    // Sparse: 300 MB to read, nothing on the disk.
    let huge = std::fs::File::create(live.join("server.probe")).unwrap();
    huge.set_len(300_000_000).unwrap();
    std::fs::write(live.join("client2.probe"), "").unwrap();
    let mut server = Server::start(&live, &captures, free_port());
    for _ in 0..3 {
        let started = Instant::now();
        let state = get(server.port, "/state").expect("/state answers");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(
            state.contains("\"client\":null")
                && state.contains("\"server\":null")
                && state.contains("\"client2\":{"),
            "{state}"
        );
    }
    let mut events = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    events
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        events,
        "GET /events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        server.port
    )
    .unwrap();
    let first = BufReader::new(events)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("data: "));
    assert!(
        first.is_some_and(|l| l.contains("\"client2\":{")),
        "the event stream"
    );
    let peak = server.status_kib("VmHWM");
    eprintln!("a FIFO and a 300 MB probe: the server's peak {peak} KiB");
    assert!(peak < 64 * 1024, "the server's peak memory: {peak} KiB");
    server.expect_alive();
}
