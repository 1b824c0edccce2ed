//! What a terminal shows of the peer's bytes: control bytes made visible, or `--raw`.

mod chatkit;
mod kit;

use chatkit::{Chat, Input, secs};

#[test]
fn control_bytes_are_shown_not_obeyed_on_a_terminal() {
    let (server, port) = Chat::server(&["recv"], Input::Pty);
    let port = port.to_string();
    let mut client = Chat::start(
        &["send", "127.0.0.1", "-p", &port],
        Input::Bytes(b"\x1b[2J\x1b]0;pwned\x07 caf\xc3\xa9\tok\r\n\xc2\x9b31m\xff\n".to_vec()),
    );
    assert!(client.expect_exit(secs(5.0)).success());
    server.expect_stdout("\\xFF\n", secs(2.0));
    assert_eq!(
        server.stdout.text(),
        "^[[2J^[]0;pwned^G café\tok\n<U+009B>31m\\xFF\n"
    );
}

#[test]
fn raw_prints_control_bytes_as_they_are_on_a_terminal() {
    let (server, port) = Chat::server(&["recv", "--raw"], Input::Pty);
    let port = port.to_string();
    let data = b"\x1b[1mbold\x1b[0m\r\n".to_vec();
    let mut client = Chat::start(
        &["send", "127.0.0.1", "-p", &port],
        Input::Bytes(data.clone()),
    );
    assert!(client.expect_exit(secs(5.0)).success());
    assert!(
        server
            .stdout
            .wait_until(secs(2.0), |b| b.len() >= data.len())
    );
    assert_eq!(server.stdout.bytes(), data);
}
