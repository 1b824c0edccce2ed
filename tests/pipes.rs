//! Q1/Q2 through pipes: what goes in comes out, byte for byte, and only that on stdout.

mod chatkit;
mod kit;

use std::io::Write;
use std::time::Duration;

use chatkit::{Chat, Input, secs};

/// Every byte value, escape sequences, CRs, NULs, invalid UTF-8 and a last line without LF.
fn hostile() -> Vec<u8> {
    let mut data = b"plain line\n\x1b[2J\x1b]0;title\x07\r\n\0\0nul\n".to_vec();
    data.extend((0..=255u8).collect::<Vec<u8>>());
    data.extend_from_slice(b"\n\xff\xfe\xc3\x28 invalid utf-8\n\xe2\x82\xac euro\n\r\rcr only\r");
    data.extend_from_slice(b"last line without newline");
    data
}

/// The machine an ELF binary is for, from its header (e_machine).
fn elf_machine(path: &str) -> &'static str {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    assert!(bytes.starts_with(b"\x7fELF"), "{path} is not an ELF binary");
    match u16::from_le_bytes([bytes[18], bytes[19]]) {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        other => panic!("{path}: ELF machine {other:#x}, neither x86_64 nor aarch64"),
    }
}

#[test]
fn the_chat_under_test_is_the_one_asked_for() {
    // CHAT_TEST_BIN / CHAT_TEST_RUNNER (chatkit::chat_command) choose it; CHAT_TEST_ARCH says
    // which machine it must be for (default: this one's).
    let bin = chatkit::chat_bin();
    let arch = std::env::var("CHAT_TEST_ARCH").unwrap_or_else(|_| std::env::consts::ARCH.into());
    let runner = std::env::var("CHAT_TEST_RUNNER").unwrap_or_default();
    let machine = elf_machine(&bin);
    let _ = writeln!(
        std::io::stderr(),
        "chat under test: {bin} ({machine}){}",
        if runner.is_empty() {
            String::new()
        } else {
            format!(", run by {runner}")
        }
    );
    assert_eq!(
        machine, arch,
        "{bin} is not the binary CHAT_TEST_ARCH asks for"
    );
    // The process that serves is that binary, run by that runner (seen from outside: a
    // qemu-user process's exe is qemu, and its command line names the guest binary).
    let (server, _port) = Chat::server(&["recv"], Input::Pipe);
    let exe = std::fs::read_link(format!("/proc/{}/exe", server.pid())).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", server.pid())).unwrap();
    let argv: Vec<String> = cmdline
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    match runner.split_whitespace().next() {
        Some(program) => {
            let program = std::path::Path::new(program).file_name().unwrap();
            assert_eq!(exe.file_name(), Some(program), "exe {exe:?}, argv {argv:?}");
            assert!(argv.contains(&bin), "{bin} is not in the argv {argv:?}");
        }
        None => assert_eq!(exe, std::fs::canonicalize(&bin).unwrap(), "argv {argv:?}"),
    }
}

#[test]
fn send_to_recv_passes_every_byte_unchanged() {
    let (mut server, port) = Chat::server(&["recv"], Input::Pipe);
    let data = hostile();
    let port_s = port.to_string();
    let mut client = Chat::start(
        &["send", "127.0.0.1", "-p", &port_s],
        Input::Bytes(data.clone()),
    );
    client.expect_success(secs(10.0));
    assert!(
        server
            .stdout
            .wait_until(secs(5.0), |got| got.len() >= data.len()),
        "{}",
        server.report()
    );
    assert_eq!(server.stdout.bytes(), data, "{}", server.report());
    // stdout holds the data only; the logs went to stderr.
    server.expect_stderr("closed the connection", secs(5.0));
    server.signal(nix::sys::signal::Signal::SIGTERM);
    server.expect_exit(secs(5.0));
}

#[test]
fn crlf_option_sends_crlf_line_ends_once() {
    let (server, port) = Chat::server(&["recv"], Input::Pipe);
    let port_s = port.to_string();
    let mut client = Chat::start(
        &["send", "127.0.0.1", "-p", &port_s, "--crlf"],
        Input::Bytes(b"one\ntwo\r\nthree".to_vec()),
    );
    assert!(client.expect_exit(secs(10.0)).success());
    server.expect_stderr("closed the connection", secs(5.0));
    assert_eq!(server.stdout.bytes(), b"one\r\ntwo\r\nthree");
}

#[test]
fn recv_takes_the_next_client_after_one_leaves() {
    let (server, port) = Chat::server(&["recv"], Input::Pipe);
    let port_s = port.to_string();
    for line in ["first client\n", "second client\n", "third client\n"] {
        let mut client = Chat::start(
            &["send", "localhost", "-p", &port_s],
            Input::Bytes(line.as_bytes().to_vec()),
        );
        assert!(
            client.expect_exit(secs(10.0)).success(),
            "{}",
            client.report()
        );
    }
    server.expect_stdout("third client\n", secs(5.0));
    assert_eq!(
        server.stdout.text(),
        "first client\nsecond client\nthird client\n"
    );
    let log = server.stderr.text();
    assert_eq!(log.matches(" connected").count(), 3, "{log}");
}

#[test]
fn send_exits_at_once_when_the_server_closes_while_idle() {
    // The server reads nothing and closes after 300 ms; chat send's stdin stays open.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        drop(stream);
    });
    let mut client = Chat::start(&["send", "127.0.0.1", "-p", &port], Input::Pipe);
    server.join().unwrap();
    client.expect_success(secs(2.0));
    client.expect_stderr("closed the connection", secs(2.0));
}

#[test]
fn a_burst_just_before_the_end_of_input_all_arrives() {
    // 20 000 lines (about 1 MB), then end of input at once: half-close must not cut anything.
    let mut data = Vec::new();
    for i in 0..20_000 {
        data.extend_from_slice(format!("burst line {i:06} {}\n", "x".repeat(30)).as_bytes());
    }
    let (server, port) = Chat::server(&["duplex", "--listen"], Input::Pipe);
    let port_s = port.to_string();
    let mut client = Chat::start(
        &["duplex", "127.0.0.1", "-p", &port_s],
        Input::Bytes(data.clone()),
    );
    // The client's Ctrl-D (end of input) ends the conversation for both sides.
    client.expect_success(secs(10.0));
    server.expect_stdout_closed(secs(5.0));
    assert_eq!(server.stdout.bytes().len(), data.len());
    assert_eq!(server.stdout.bytes(), data);
}

#[test]
fn a_burst_from_the_server_before_its_end_of_input_all_arrives() {
    let mut data = Vec::new();
    for i in 0..20_000 {
        data.extend_from_slice(format!("server burst {i:06}\n").as_bytes());
    }
    let (mut server, port) = Chat::server(&["duplex", "--listen"], Input::Pipe);
    let port_s = port.to_string();
    let client = Chat::start(&["duplex", "127.0.0.1", "-p", &port_s], Input::Pipe);
    server.expect_stderr("connected", secs(5.0));
    server.write_stdin(&data);
    server.close_stdin();
    client.expect_stdout_closed(secs(10.0));
    assert_eq!(client.stdout.bytes(), data);
    assert!(
        server.expect_exit(secs(5.0)).success(),
        "{}",
        server.report()
    );
}

#[test]
fn input_cut_short_by_the_peers_end_is_reported_with_exit_5() {
    // The server's input is empty: it half-closes at once, which ends the conversation.
    let (_server, port) = Chat::server(&["duplex", "--listen"], Input::Bytes(Vec::new()));
    let port_s = port.to_string();
    let mut client = Chat::start(&["duplex", "127.0.0.1", "-p", &port_s], Input::Pipe);
    // Input that never ends: the client cannot have sent it all when the server's end comes.
    let mut input = client.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let block = vec![b'x'; 1 << 16];
        while input.write_all(&block).is_ok() {}
    });
    let status = client.expect_exit(secs(5.0));
    assert_eq!(status.code(), Some(5), "{}", client.report());
    assert!(
        client
            .stderr
            .text()
            .contains("before all our input was sent"),
        "{}",
        client.report()
    );
    writer.join().unwrap();
}

#[test]
fn piped_input_still_goes_out_after_the_peer_half_closed() {
    // The server's input is empty: it half-closes at once, but keeps reading.
    let (server, port) = Chat::server(&["duplex", "--listen"], Input::Bytes(Vec::new()));
    let port_s = port.to_string();
    let mut data = Vec::new();
    for i in 0..200_000 {
        data.extend_from_slice(format!("late line {i:07}\n").as_bytes());
    }
    let mut client = Chat::start(
        &["duplex", "127.0.0.1", "-p", &port_s],
        Input::Bytes(data.clone()),
    );
    client.expect_success(secs(5.0));
    server.expect_stdout_closed(secs(5.0));
    assert_eq!(server.stdout.bytes().len(), data.len());
    assert!(server.stdout.bytes() == data);
}
