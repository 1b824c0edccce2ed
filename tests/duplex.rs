//! Q4 through pseudo-terminals: both directions at once, every way a conversation can end,
//! and no process left behind (no orphan reading the keyboard, no zombie).

mod chatkit;
mod kit;

use nix::sys::signal::Signal;

use chatkit::{Chat, Input, children, secs};

/// A duplex server and client, each behind its own terminal.
fn pair(server_args: &[&str]) -> (Chat, Chat) {
    let mut args = vec!["-v", "duplex", "--listen"];
    args.extend_from_slice(server_args);
    let (server, port) = Chat::server(&args, Input::Pty);
    let port = port.to_string();
    let client = Chat::start(&["duplex", "127.0.0.1", "-p", &port, "-v"], Input::Pty);
    // -v: each side logs its fork ("process N copies keyboard → …").
    for side in [&server, &client] {
        side.expect_stderr("copies keyboard", secs(5.0));
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
    chat.expect_success(secs(1.0));
    chat.expect_group_gone(secs(1.0));
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
    server.expect_stdout("hello from the client\n", secs(2.0));
    server.type_(b"hello from the server\n");
    client.expect_stdout("hello from the server\n", secs(2.0));
    client.type_(b"second line\n");
    server.expect_stdout("second line\n", secs(2.0));
    assert_eq!(server.stdout.text(), "hello from the client\nsecond line\n");
    assert_eq!(client.stdout.text(), "hello from the server\n");
}

#[test]
fn ctrl_d_on_the_client_ends_both_sides() {
    let (mut server, mut client) = pair(&[]);
    client.type_(b"bye\n\x04");
    server.expect_stdout("bye\n", secs(2.0));
    ended_cleanly(&mut server);
    ended_cleanly(&mut client);
}

#[test]
fn ctrl_d_on_the_server_ends_both_sides() {
    let (mut server, mut client) = pair(&[]);
    server.type_(b"closing now\n\x04");
    client.expect_stdout("closing now\n", secs(2.0));
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
    client.expect_group_gone(secs(1.0));
    ended_cleanly(&mut server);
}

#[test]
fn a_peer_killed_outright_ends_the_other_side() {
    let (mut server, port) = Chat::server(&["duplex", "--listen"], Input::Pty);
    // The client in pipes, not a terminal: no SIGHUP from a dying session leader helps here.
    let port = port.to_string();
    let mut client = Chat::start(&["duplex", "127.0.0.1", "-p", &port, "-v"], Input::Pipe);
    client.expect_stderr("copies keyboard", secs(5.0));
    // SIGKILL to the client's parent only: its keyboard process, blocked reading stdin,
    // must not linger (PR_SET_PDEATHSIG), and the server sees the connection end.
    client.signal(Signal::SIGKILL);
    client.expect_exit(secs(1.0));
    client.expect_group_gone(secs(1.0));
    ended_cleanly(&mut server);
}

#[test]
fn a_reset_from_the_peer_ends_the_conversation() {
    let (mut server, port) = Chat::server(&["duplex", "--listen"], Input::Pty);
    let stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    server.expect_stderr("connected", secs(5.0));
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
        server.expect_stdout(&format!("peer {round}\n"), secs(2.0));
        server.type_(format!("welcome {round}\n").as_bytes());
        client.expect_stdout(&format!("welcome {round}\n"), secs(2.0));
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
