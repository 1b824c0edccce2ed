//! Q4 through pseudo-terminals: both directions at once, every way a conversation can end,
//! and no process left behind (no orphan reading the keyboard, no zombie).

mod common;

use nix::sys::signal::Signal;

use common::{Chat, Input, assert_group_gone, children, secs};

/// A duplex server and client, each behind its own terminal.
fn pair(server_args: &[&str]) -> (Chat, Chat) {
    let mut args = vec!["-v", "duplex", "--listen"];
    args.extend_from_slice(server_args);
    let (server, port) = Chat::server(&args, Input::Pty);
    let port = port.to_string();
    let client = Chat::start(&["duplex", "127.0.0.1", "-p", &port, "-v"], Input::Pty);
    // -v: each side logs its fork ("process N copies keyboard → …").
    for side in [&server, &client] {
        assert!(
            side.stderr.wait_for("copies keyboard", secs(5.0)),
            "{}",
            side.report()
        );
    }
    (server, client)
}

/// The `Threads:` line of /proc/PID/status.
fn threads(pid: i32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads: line")
}

fn ended_cleanly(chat: &mut Chat) {
    let status = chat.expect_exit(secs(1.0));
    assert!(status.success(), "{}", chat.report());
    assert_group_gone(chat.pid(), secs(1.0), &chat.report());
}

#[test]
fn lines_go_both_ways_while_the_other_side_types_nothing() {
    let (mut server, mut client) = pair(&[]);
    // Two processes per side: the fork happened.
    assert_eq!(children(client.pid()).len(), 1, "{}", client.report());
    assert_eq!(children(server.pid()).len(), 1, "{}", server.report());
    // duplex's SAFETY premise for fork: one thread per process, before and after.
    for side in [&client, &server] {
        for pid in [side.pid()].into_iter().chain(children(side.pid())) {
            assert_eq!(threads(pid), 1, "process {pid}\n{}", side.report());
        }
    }

    client.type_(b"hello from the client\n");
    assert!(
        server.stdout.wait_for("hello from the client\n", secs(2.0)),
        "{}",
        server.report()
    );
    server.type_(b"hello from the server\n");
    assert!(client.stdout.wait_for("hello from the server\n", secs(2.0)));
    client.type_(b"second line\n");
    assert!(server.stdout.wait_for("second line\n", secs(2.0)));
    assert_eq!(server.stdout.text(), "hello from the client\nsecond line\n");
    assert_eq!(client.stdout.text(), "hello from the server\n");
}

#[test]
fn ctrl_d_on_the_client_ends_both_sides() {
    let (mut server, mut client) = pair(&[]);
    client.type_(b"bye\n\x04");
    assert!(server.stdout.wait_for("bye\n", secs(2.0)));
    ended_cleanly(&mut server);
    ended_cleanly(&mut client);
}

#[test]
fn ctrl_d_on_the_server_ends_both_sides() {
    let (mut server, mut client) = pair(&[]);
    server.type_(b"closing now\n\x04");
    assert!(client.stdout.wait_for("closing now\n", secs(2.0)));
    ended_cleanly(&mut client);
    ended_cleanly(&mut server);
}

#[test]
fn ctrl_c_on_the_client_ends_both_sides() {
    let (mut server, mut client) = pair(&[]);
    client.type_(b"\x03");
    let status = client.expect_exit(secs(1.0));
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(Signal::SIGINT as i32)
    );
    assert_group_gone(client.pid(), secs(1.0), &client.report());
    ended_cleanly(&mut server);
}

#[test]
fn a_peer_killed_outright_ends_the_other_side() {
    let (mut server, port) = Chat::server(&["duplex", "--listen"], Input::Pty);
    // The client in pipes, not a terminal: no SIGHUP from a dying session leader helps here.
    let port = port.to_string();
    let mut client = Chat::start(&["duplex", "127.0.0.1", "-p", &port, "-v"], Input::Pipe);
    assert!(client.stderr.wait_for("copies keyboard", secs(5.0)));
    // SIGKILL to the client's parent only: its keyboard process, blocked reading stdin,
    // must not linger (PR_SET_PDEATHSIG), and the server sees the connection end.
    client.signal(Signal::SIGKILL);
    client.expect_exit(secs(1.0));
    assert_group_gone(client.pid(), secs(1.0), &client.report());
    ended_cleanly(&mut server);
}

#[test]
fn a_reset_from_the_peer_ends_the_conversation() {
    let (mut server, port) = Chat::server(&["duplex", "--listen"], Input::Pty);
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(server.stderr.wait_for("connected", secs(5.0)));
    // SO_LINGER 0: close() sends RST instead of FIN.
    socket2::SockRef::from(&stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(stream);
    ended_cleanly(&mut server);
    assert!(
        server.stderr.text().contains("reset"),
        "{}",
        server.report()
    );
}

#[test]
fn keep_listening_reaps_each_keyboard_process_and_takes_the_next_peer() {
    let (mut server, port) = Chat::server(&["duplex", "--listen", "-k"], Input::Pty);
    let port = port.to_string();
    for round in 0..3 {
        let mut client = Chat::start(&["duplex", "127.0.0.1", "-p", &port], Input::Pty);
        client.type_(format!("peer {round}\n").as_bytes());
        assert!(
            server
                .stdout
                .wait_for(&format!("peer {round}\n"), secs(2.0)),
            "{}",
            server.report()
        );
        server.type_(format!("welcome {round}\n").as_bytes());
        assert!(
            client
                .stdout
                .wait_for(&format!("welcome {round}\n"), secs(2.0))
        );
        client.type_(b"\x04");
        ended_cleanly(&mut client);
        // The server stays, with no child left: not running, not a zombie.
        let deadline = std::time::Instant::now() + secs(1.0);
        while !children(server.pid()).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(secs(0.02));
        }
        assert_eq!(
            children(server.pid()),
            Vec::<i32>::new(),
            "{}",
            server.report()
        );
        assert!(
            server.wait_timeout(secs(0.0)).is_none(),
            "{}",
            server.report()
        );
    }
}
