//! Q3: strict turns, and the deadlock when both sides start by waiting.

mod chatkit;
mod kit;

use chatkit::{Chat, Input, secs};

#[test]
fn turns_alternate_line_by_line() {
    let (mut server, port) = Chat::server(&["alternate", "--listen"], Input::Pipe);
    let port = port.to_string();
    let mut client = Chat::start(&["alternate", "127.0.0.1", "-p", &port], Input::Pipe);
    server.expect_stderr("connected", secs(5.0));

    // The server cannot speak first: what it has to say waits for the client's line.
    server.write_stdin(b"answer 1\n");
    std::thread::sleep(secs(0.3));
    assert_eq!(client.stdout.text(), "", "the server spoke out of turn");

    client.write_stdin(b"question 1\n");
    server.expect_stdout("question 1\n", secs(2.0));
    client.expect_stdout("answer 1\n", secs(2.0));

    // Two lines typed ahead by the client go one per turn.
    client.write_stdin(b"question 2\nquestion 3\n");
    server.expect_stdout("question 2\n", secs(2.0));
    std::thread::sleep(secs(0.3));
    assert_eq!(server.stdout.text(), "question 1\nquestion 2\n");
    server.write_stdin(b"answer 2\n");
    server.expect_stdout("question 3\n", secs(2.0));
    client.expect_stdout("answer 2\n", secs(2.0));

    // The client's end of input: half-close; the server, waiting for a line, sees the end.
    server.write_stdin(b"answer 3\n");
    client.expect_stdout("answer 3\n", secs(2.0));
    client.close_stdin();
    assert!(
        server.expect_exit(secs(2.0)).success(),
        "{}",
        server.report()
    );
    assert!(
        client.expect_exit(secs(2.0)).success(),
        "{}",
        client.report()
    );
    assert_eq!(client.stdout.text(), "answer 1\nanswer 2\nanswer 3\n");
    assert_eq!(server.stdout.text(), "question 1\nquestion 2\nquestion 3\n");
}

#[test]
fn both_waiting_first_is_a_deadlock_that_nothing_hides() {
    let (server, port) = Chat::server(&["alternate", "--listen"], Input::Pipe);
    let port = port.to_string();
    let mut client = Chat::start(
        &["alternate", "127.0.0.1", "-p", &port, "--first", "receive"],
        Input::Pipe,
    );
    server.expect_stderr("connected", secs(5.0));
    // Both have lines ready to send, but each waits for the other's line first.
    client.write_stdin(b"client line\n");
    let mut server = server;
    server.write_stdin(b"server line\n");
    std::thread::sleep(secs(2.0));
    assert_eq!(client.stdout.text(), "");
    assert_eq!(server.stdout.text(), "");
    assert!(
        client.wait_timeout(secs(0.0)).is_none(),
        "{}",
        client.report()
    );
    assert!(
        server.wait_timeout(secs(0.0)).is_none(),
        "{}",
        server.report()
    );
    assert!(
        client
            .stderr
            .text()
            .contains("starts: waiting for its line")
    );
    assert!(
        server
            .stderr
            .text()
            .contains("starts: waiting for its line")
    );
}

#[test]
fn the_peer_leaving_during_your_turn_ends_the_session() {
    let (mut server, port) = Chat::server(&["alternate", "--listen"], Input::Pipe);
    let port = port.to_string();
    let mut client = Chat::start(&["alternate", "127.0.0.1", "-p", &port], Input::Pipe);
    client.write_stdin(b"hi\n");
    server.expect_stdout("hi\n", secs(2.0));
    // It is now the server's turn; the client goes away.
    client.signal(nix::sys::signal::Signal::SIGKILL);
    assert!(
        server.expect_exit(secs(1.0)).success(),
        "{}",
        server.report()
    );
}

#[test]
fn a_keep_listening_server_survives_a_client_that_resets() {
    let (mut server, port) = Chat::server(&["alternate", "--listen", "-k"], Input::Pipe);
    // Answers typed ahead: the server sends one as soon as it is its turn.
    server.write_stdin(b"answer 1\nanswer 2\nanswer 3\n");
    // A question, then at once RST (SO_LINGER 0): the reset is in before the server answers,
    // so its answer cannot be sent.
    let mut rude = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket2::SockRef::from(&rude)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    std::io::Write::write_all(&mut rude, b"question from a rude client\n").unwrap();
    drop(rude);
    server.expect_stdout("rude client\n", secs(2.0));
    std::thread::sleep(secs(0.3));
    assert!(
        server.wait_timeout(secs(0.0)).is_none(),
        "{}",
        server.report()
    );
    let port = port.to_string();
    let mut polite = Chat::start(&["alternate", "127.0.0.1", "-p", &port], Input::Pipe);
    polite.write_stdin(b"question from a polite client\n");
    server.expect_stdout("polite client\n", secs(2.0));
    polite.expect_stdout("answer", secs(2.0));
}
