//! lab/view for real: a lab up, the view started as a student starts it, conversations run in
//! the hosts, and what the page says read from its server and in a real headless browser
//! (Debian's chromium). Docker and chromium are needed: under CI=true the test fails without
//! them, elsewhere it is skipped with a message.

mod kit;
mod labkit;
mod labscripts;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kit::{poll, root};
use labkit::Lab;
use labscripts::script;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// GET PATH from the view on 127.0.0.1:PORT: the body, or None if it does not answer.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut all = String::new();
    s.read_to_string(&mut all).ok()?;
    all.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

/// The page as the browser shows it (its accessible summary), and a screenshot into FILE.
fn browser(port: u16, shot: &std::path::Path) -> Option<String> {
    let url = format!("http://127.0.0.1:{port}/?once");
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--virtual-time-budget=3000",
                "--window-size=1300,900",
            ])
            .args(extra)
            .arg(&url)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
    };
    let dom = chromium(&["--dump-dom"]).ok()?;
    let shot_arg = format!("--screenshot={}", shot.display());
    chromium(&[&shot_arg]).ok()?;
    Some(String::from_utf8_lossy(&dom.stdout).into_owned())
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
    let view = View::start(&lab);
    // The server answers, and every host's probe has written once.
    let state = poll(Duration::from_secs(30), || {
        get(view.port, "/state").filter(|s| s.contains("\"client2\":{"))
    });
    assert!(
        state.is_some(),
        "the view did not show the three hosts within 30 s"
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
    write!(events, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
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
    let probes = lab.exec(
        "server",
        &["sh", "-c", "ps -eo args | grep -c '^chatlab view' || true"],
        b"",
    );
    assert_eq!(String::from_utf8_lossy(&probes.stdout).trim(), "0");
    assert!(
        !root()
            .join("captures")
            .join(format!(".view-{}", &server_id[..12]))
            .exists(),
        "the probes' folder is removed"
    );
}
