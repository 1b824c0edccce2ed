//! Errors are one line with what to do, and distinct exit codes; SO_REUSEADDR and TIME_WAIT;
//! --retry; IPv6.

mod chatkit;
mod kit;

use std::net::TcpListener;

use chatkit::{Chat, Input, secs, stderr_lines};
use kit::free_port;

fn run(args: &[&str]) -> Chat {
    let mut chat = Chat::start(args, Input::Bytes(Vec::new()));
    chat.expect_exit(secs(15.0));
    // All of stdout and stderr, not just what the reader threads had got so far.
    assert!(chat.stdout.wait_closed(secs(2.0)) && chat.stderr.wait_closed(secs(2.0)));
    chat
}

fn assert_one_line_error(chat: &Chat, starts: &str, mentions: &[&str]) {
    let lines = stderr_lines(chat);
    let errors: Vec<&String> = lines.iter().filter(|l| l.starts_with("chat: ")).collect();
    assert_eq!(errors.len(), 1, "{}", chat.report());
    assert!(errors[0].starts_with(starts), "{}", chat.report());
    for m in mentions {
        assert!(errors[0].contains(m), "missing {m:?}: {}", chat.report());
    }
    assert!(chat.stdout.bytes().is_empty(), "{}", chat.report());
}

#[test]
fn connection_refused_says_to_start_the_server_and_exits_4() {
    let port = free_port().to_string();
    let mut chat = run(&["send", "127.0.0.1", "-p", &port]);
    chat.expect_code(4, secs(0.0));
    assert_one_line_error(
        &chat,
        "chat: cannot connect to 127.0.0.1 port",
        &["refused", "start the server"],
    );
}

#[test]
fn unknown_host_exits_4() {
    let mut chat = run(&["duplex", "no-such-host.invalid"]);
    chat.expect_code(4, secs(0.0));
    assert_one_line_error(
        &chat,
        "chat: cannot connect to no-such-host.invalid",
        &["unknown host"],
    );
}

#[test]
fn port_in_use_names_the_address_time_wait_and_the_rule_and_exits_3() {
    let busy = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let mut chat = run(&["recv", "-p", &port]);
    chat.expect_code(3, secs(0.0));
    assert_one_line_error(
        &chat,
        &format!("chat: cannot listen on 0.0.0.0:{port}"),
        &["in use", "TIME_WAIT", "SO_REUSEADDR", "both"],
    );
}

#[test]
fn bad_arguments_exit_2() {
    for args in [
        &["recv", "-p", "99999"][..],
        &["duplex"],
        &["duplex", "--listen", "server"],
        &["recv", "--bind", "not-an-ip"],
        &["alternate", "server", "--first", "never"],
        &["send"],
    ] {
        let mut chat = run(args);
        chat.expect_code(2, secs(0.0));
    }
}

#[test]
fn every_mode_help_names_its_td_question() {
    for (mode, question) in [
        ("recv", "Q1"),
        ("send", "Q2"),
        ("alternate", "Q3"),
        ("duplex", "Q4"),
    ] {
        let mut chat = run(&[mode, "--help"]);
        chat.expect_code(0, secs(0.0));
        let help = chat.stdout.text();
        assert!(help.contains(question), "{help}");
        assert!(help.contains("Observe"), "{help}");
    }
}

#[test]
fn retry_waits_for_a_server_that_starts_later() {
    let port = free_port();
    let port_s = port.to_string();
    let mut client = Chat::start(
        &["send", "127.0.0.1", "-p", &port_s, "--retry", "10"],
        Input::Bytes(b"made it\n".to_vec()),
    );
    std::thread::sleep(secs(0.8));
    assert!(
        client.wait_timeout(secs(0.0)).is_none(),
        "{}",
        client.report()
    );
    let server = Chat::start(&["recv", "-p", &port_s], Input::Pipe);
    assert!(
        client.expect_exit(secs(5.0)).success(),
        "{}",
        client.report()
    );
    server.expect_stdout("made it\n", secs(2.0));
    assert!(client.stderr.text().contains("retrying"));
}

#[test]
fn retry_gives_up_after_its_deadline_with_exit_4() {
    let port = free_port().to_string();
    let start = std::time::Instant::now();
    let mut chat = run(&["send", "127.0.0.1", "-p", &port, "--retry", "1"]);
    chat.expect_code(4, secs(0.0));
    assert!(start.elapsed() >= secs(0.8));
    assert_one_line_error(&chat, "chat: cannot connect", &["after retrying for 1 s"]);
}

/// A duplex session where the server closes first (its input is empty), leaving the
/// server's port in TIME_WAIT; returns that port.
fn server_closes_first(server_args: &[&str]) -> u16 {
    let mut args = vec!["duplex", "--listen"];
    args.extend_from_slice(server_args);
    let (mut server, port) = Chat::server(&args, Input::Pipe);
    let port_s = port.to_string();
    // The client's input stays open: it does not close first.
    let mut client = Chat::start(&["duplex", "127.0.0.1", "-p", &port_s], Input::Pipe);
    server.expect_stderr("connected", secs(5.0));
    server.close_stdin();
    assert!(
        client.expect_exit(secs(2.0)).success(),
        "{}",
        client.report()
    );
    assert!(
        server.expect_exit(secs(2.0)).success(),
        "{}",
        server.report()
    );
    assert!(
        in_time_wait(port),
        "no TIME_WAIT on port {port}: {}",
        server.report()
    );
    port
}

/// Whether a TCP connection with local port `port` is in TIME_WAIT (state 06).
fn in_time_wait(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|f| {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols.len() > 3 && format!("{} ", cols[1]).ends_with(&needle) && cols[3] == "06"
            })
    })
}

#[test]
fn time_wait_blocks_a_restart_without_so_reuseaddr() {
    let port = server_closes_first(&[]).to_string();
    let mut chat = run(&["recv", "-p", &port, "--no-reuseaddr"]);
    chat.expect_code(3, secs(0.0));
    assert_one_line_error(
        &chat,
        "chat: cannot listen",
        &["TIME_WAIT", "drop --no-reuseaddr"],
    );
}

#[test]
fn time_wait_allows_a_restart_when_both_runs_set_so_reuseaddr() {
    let port = server_closes_first(&[]).to_string();
    let mut chat = Chat::start(&["recv", "-p", &port], Input::Pipe);
    chat.expect_stderr("listening on", secs(5.0));
    assert!(chat.wait_timeout(secs(0.2)).is_none());
}

#[test]
fn time_wait_blocks_a_restart_when_the_old_run_had_no_so_reuseaddr() {
    let port = server_closes_first(&["--no-reuseaddr"]).to_string();
    let mut chat = run(&["recv", "-p", &port]);
    chat.expect_code(3, secs(0.0));
    assert_one_line_error(
        &chat,
        "chat: cannot listen",
        &["this one did, so the old one did not"],
    );
}

#[test]
fn ipv6_literals_with_and_without_brackets() {
    if !std::fs::read_to_string("/proc/net/if_inet6")
        .unwrap_or_default()
        .contains(" lo")
    {
        eprintln!("SKIP ipv6: this machine has no IPv6 loopback");
        return;
    }
    let (server, port) = Chat::server(&["recv", "--bind", "::1"], Input::Pipe);
    let port = port.to_string();
    for host in ["::1", "[::1]"] {
        let mut client = Chat::start(
            &["send", host, "-p", &port],
            Input::Bytes(format!("via {host}\n").into_bytes()),
        );
        assert!(
            client.expect_exit(secs(5.0)).success(),
            "{}",
            client.report()
        );
    }
    server.expect_stdout("via [::1]\n", secs(2.0));
    assert_eq!(server.stdout.text(), "via ::1\nvia [::1]\n");
}
