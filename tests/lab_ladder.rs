//! lab/ladder on the real compose lab: a conversation captured on both hosts at once
//! (lab/capture client server) while lab/netem delays what the client sends by 100 ms with the
//! userspace engine, whose record gives the true departures. The ladder's client → server
//! arrows must then slant by about 100 ms and the server → client ones not at all, and the
//! states must follow both close orders. Docker is needed: fails without it under CI=true,
//! skipped (with a message) elsewhere.

mod kit;
mod labkit;
mod labscripts;
mod ladderkit;

use std::thread;
use std::time::Duration;

use kit::{poll, run};
use labkit::Lab;
use labscripts::script;
use ladderkit::text_states as states;

const LIMIT: Duration = Duration::from_secs(120);

/// `lab/netem ARGS` with the userspace engine (the one that records entry times).
fn netem(lab: &Lab, args: &[&str]) {
    let mut cmd = script(Some(lab), "netem", args);
    cmd.env("LAB_NETEM_ENGINE", "userspace");
    run(&mut cmd, LIMIT).expect_success();
}

/// One arrow of the text ladder: (from the client?, time on the left, time on the right).
fn arrows(text: &str) -> Vec<(bool, f64, f64)> {
    ladderkit::text_arrows(text)
        .into_iter()
        .map(|a| {
            let t = |v: Option<f64>| v.unwrap_or_else(|| panic!("no time in {:?}", a.line));
            (a.from_client, t(a.left), t(a.right))
        })
        .collect()
}

#[test]
fn ladder_of_a_delayed_conversation_slants_one_way_and_follows_both_close_orders() {
    let Some(lab) = Lab::up("ladder", &[("CHAT_MODE", "recv")]) else {
        return;
    };
    let name = format!("test-ladder-{}", std::process::id());
    let captures = kit::root().join("captures");
    let file = |suffix: &str| captures.join(format!("{name}-{suffix}"));
    // The files of this test go, whatever happens.
    struct Remove(Vec<std::path::PathBuf>);
    impl Drop for Remove {
        fn drop(&mut self) {
            for f in &self.0 {
                let _ = std::fs::remove_file(f);
            }
        }
    }
    let _remove = Remove(
        [
            "client.pcap",
            "server.pcap",
            "client.netem.pcap",
            "ladder.svg",
            "bad.pcap",
        ]
        .iter()
        .map(|f| file(f))
        .collect(),
    );
    netem(&lab, &["client", "delay", "100ms"]);

    let mut cmd = script(
        Some(&lab),
        "capture",
        &[
            "client",
            "server",
            "--name",
            &name,
            "--duration",
            "25",
            "tcp port 8080 or tcp port 9090",
        ],
    );
    let capture = thread::spawn(move || run(&mut cmd, LIMIT));
    poll(Duration::from_secs(20), || {
        (file("client.pcap").exists() && file("server.pcap").exists()).then_some(())
    })
    .expect("no capture files");
    thread::sleep(Duration::from_secs(1));

    // 1. The client closes first: chat send to the lab's server (chat recv).
    lab.send_two_lines();

    // 2. The server closes first: chat duplex on port 9090, the server's input ends first.
    let mut server = lab.spawn("server", &["chat", "duplex", "--listen", "--port", "9090"]);
    poll(Duration::from_secs(10), || {
        let out = lab.exec("server", &["ss", "-Htln", "sport = :9090"], b"");
        String::from_utf8_lossy(&out.stdout)
            .contains("LISTEN")
            .then_some(())
    })
    .expect("chat duplex --listen never listened");
    let mut client = lab.spawn("client", &["chat", "duplex", "--port", "9090", "server"]);
    client.send(b"salut\n");
    server.wait_stdout("salut\n");
    server.send(b"au revoir\n");
    client.wait_stdout("au revoir\n");
    thread::sleep(Duration::from_millis(300));
    server.close_stdin();
    // The client's input stays open: it closes only because the server did (its FIN second).
    client.wait_stderr("closed the connection");
    thread::sleep(Duration::from_millis(500));
    assert!(client.finish().status.success());
    assert!(server.finish().status.success());

    let ran = capture.join().unwrap().expect_success();
    let stderr = ran.stderr();
    assert!(
        stderr.contains(&format!("saved to captures/{name}-client.netem.pcap")),
        "the client's netem record is saved beside its capture:\n{}",
        ran.report
    );
    assert!(
        ran.stdout().lines().any(|l| l.starts_with("client "))
            && ran.stdout().lines().any(|l| l.starts_with("server ")),
        "each line of the live view says which host saw it:\n{}",
        ran.report
    );
    netem(&lab, &["client", "clear"]);

    let svg = file("ladder.svg");
    let shown = |f: &str| format!("captures/{name}-{f}");
    let ladder = run(
        &mut script(
            Some(&lab),
            "ladder",
            &[
                &shown("client.pcap"),
                &shown("server.pcap"),
                &shown("client.netem.pcap"),
                "--svg",
                svg.to_str().unwrap(),
                "--lang",
                "en",
            ],
        ),
        LIMIT,
    )
    .expect_success();
    let text = ladder.stdout();
    let report = &ladder.report;
    assert!(text.starts_with("Connections:"), "a list first:\n{report}");
    let (first, second) = text
        .split_once("Connection 2/2")
        .unwrap_or_else(|| panic!("two ladders:\n{report}"));
    assert!(
        first.contains("\"bonjour\\n\"") && second.contains("\"au revoir\\n\""),
        "{report}"
    );

    for (ladder, what) in [(first, "client closes"), (second, "server closes")] {
        let all = arrows(ladder);
        assert!(all.len() >= 7, "{what}: {report}");
        for (from_client, left, right) in all {
            let delay = if from_client {
                right - left
            } else {
                left - right
            };
            if from_client {
                assert!(
                    (0.095..0.25).contains(&delay),
                    "{what}: client → server takes the netem delay, {delay} s:\n{report}"
                );
            } else {
                assert!(
                    (0.0..0.02).contains(&delay),
                    "{what}: server → client is not delayed, {delay} s:\n{report}"
                );
            }
        }
    }
    // Each group of changes comes after the previous group; within a group, any order (two
    // changes under one arrow are written on one line, the client's first).
    let expect = |ladder: &str, groups: &[&[&str]]| {
        let got = states(ladder);
        let mut from = 0;
        for group in groups {
            let mut last = from;
            for want in *group {
                let at = got[from..]
                    .iter()
                    .position(|g| g == want)
                    .unwrap_or_else(|| {
                        panic!("{want:?} missing after {:?} in {got:?}", &got[..from])
                    });
                last = last.max(from + at + 1);
            }
            from = last;
        }
    };
    let open: [&[&str]; 4] = [
        &["client CLOSED", "server LISTEN"],
        &["client SYN_SENT"],
        &["server SYN_RCVD"],
        &["client ESTABLISHED", "server ESTABLISHED"],
    ];
    expect(first, &open);
    expect(
        first,
        &[
            &["client FIN_WAIT_1", "server CLOSE_WAIT"],
            &["server LAST_ACK", "client TIME_WAIT"],
            &["server CLOSED"],
        ],
    );
    expect(second, &open);
    expect(
        second,
        &[
            &["server FIN_WAIT_1", "client CLOSE_WAIT"],
            &["client LAST_ACK", "server TIME_WAIT"],
            &["client CLOSED"],
        ],
    );

    // The SVG: well-formed, one arrow per segment of the text, client → server arrows going
    // down by ~100 ms worth of height, server → client ones flat.
    let doc_text = std::fs::read_to_string(&svg).expect("the SVG was written");
    let doc = roxmltree::Document::parse(&doc_text).expect("well-formed SVG");
    let segs: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("seg"))
        .collect();
    assert_eq!(segs.len(), arrows(&text).len(), "{report}");
    for a in segs {
        let n = |k: &str| a.attribute(k).unwrap().parse::<f64>().unwrap();
        let (x1, y1, x2, y2) = (n("x1"), n("y1"), n("x2"), n("y2"));
        if x1 < x2 {
            assert!(
                y2 - y1 > 60.0,
                "a client → server arrow slants: {y1} → {y2}"
            );
        } else {
            assert!(
                (y2 - y1).abs() < 25.0,
                "a server → client arrow is flat: {y1} → {y2}"
            );
        }
    }

    // Bad input: one line naming the file, non-zero exit.
    let not_pcap = captures.join(format!("{name}-bad.pcap"));
    std::fs::write(&not_pcap, b"not a capture").unwrap();
    let bad = run(
        &mut script(Some(&lab), "ladder", &[&shown("bad.pcap"), "--lang", "en"]),
        LIMIT,
    );
    assert_ne!(bad.code(), Some(0), "{}", bad.report);
    assert_eq!(
        bad.stderr().trim(),
        format!(
            "chatlab ladder: captures/{name}-bad.pcap: not a capture file (neither pcap nor pcapng)"
        ),
        "{}",
        bad.report
    );
}
