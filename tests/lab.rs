//! The lab end to end: compose.yaml brought up for real (image from lab/build-offline), the
//! TD's programs run across its hosts. Docker is needed: these tests fail without it under
//! CI=true, and are skipped (with a message) elsewhere.
//!
//! The server's keyboard is driven as a user does: `docker attach` on a pseudo-terminal.
//! The clients run through `docker exec -i`, so their stdout is a pipe and compared exactly.

mod kit;
mod labkit;

use std::process::Command;

use kit::{report, root, run_ok};
use labkit::Lab;

/// Q1 and Q2 across hosts: what `chat send` sends from client, then from client2, shows
/// intact in the server's output; then `down` leaves nothing of the project behind.
#[test]
fn recv_server_prints_what_each_client_sends_and_down_leaves_nothing() {
    let Some(lab) = Lab::up("recv", &[("CHAT_MODE", "recv")]) else {
        return;
    };
    let long = "0123456789".repeat(300);
    let lines = format!("hello from client\nUTF-8 é ü 漢字\tand a tab\n{long}\n");
    let out = lab.exec("client", &["chat", "send", "server"], lines.as_bytes());
    assert!(
        out.status.success(),
        "chat send from client failed: {out:?}"
    );
    let logs = lab.wait_logs("server", &lines);
    assert!(
        logs.contains(&format!("{}:", lab.ip("client"))),
        "the server should log the client's fixed address {}:\n{logs}",
        lab.ip("client")
    );

    // The server survived the first client's departure and takes the next one.
    let out = lab.exec("client2", &["chat", "send", "server"], b"then client2\n");
    assert!(
        out.status.success(),
        "chat send from client2 failed: {out:?}"
    );
    lab.wait_logs("server", "then client2\n");

    let project = lab.project().to_string();
    lab.down();
    assert_eq!(
        Lab::leftovers(&project),
        Vec::<String>::new(),
        "after down, nothing of {project} may remain"
    );
}

/// Q4 across hosts: the server (`chat duplex --listen -k`, typed into with `docker attach`)
/// talks both ways with client, then with client2; after Ctrl-P Ctrl-Q it still runs.
#[test]
fn duplex_server_talks_both_ways_with_client_then_client2() {
    let Some(lab) = Lab::up("duplex", &[]) else {
        return;
    };
    let mut keyboard = lab.attach("server");
    for (done, host) in ["client", "client2"].into_iter().enumerate() {
        let mut peer = lab.spawn(host, &["chat", "duplex", "server"]);
        peer.wait_stderr("connected to");
        peer.send(format!("hello server, from {host}\n").as_bytes());
        lab.wait_logs("server", &format!("hello server, from {host}\n"));
        keyboard.type_line(&format!("hello {host}, from server"));
        peer.wait_stdout(&format!("hello {host}, from server\n"));

        // Ctrl-D on the client: it half-closes, the server ends this conversation.
        let out = peer.finish();
        assert!(out.status.success(), "{host}: chat duplex failed: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("hello {host}, from server\n"),
            "{host} must receive exactly what the server typed"
        );
        lab.wait_logs_n("server", "waiting for the next peer", done + 1);
    }

    // The documented detach keys leave the server running, and serving.
    keyboard.detach();
    let server = lab.container("server");
    let state =
        run_ok(Command::new("docker").args(["inspect", "-f", "{{.State.Running}}", &server]));
    assert_eq!(String::from_utf8_lossy(&state.stdout).trim(), "true");
    let out = lab.exec("client", &["chat", "send", "server"], b"after detach\n");
    assert!(
        out.status.success(),
        "chat send after detach failed: {out:?}"
    );
    lab.wait_logs("server", "after detach\n");
}

/// Q3 across hosts: client and server (`chat alternate --listen -k`) take strict turns.
#[test]
fn alternate_client_and_server_take_turns_across_hosts() {
    let Some(lab) = Lab::up("alternate", &[("CHAT_MODE", "alternate")]) else {
        return;
    };
    let mut keyboard = lab.attach("server");
    let mut peer = lab.spawn("client", &["chat", "alternate", "server"]);
    for round in 1..=2 {
        peer.send(format!("ping {round}\n").as_bytes());
        lab.wait_logs("server", &format!("ping {round}\n"));
        keyboard.type_line(&format!("pong {round}"));
        peer.wait_stdout(&format!("pong {round}\n"));
    }
    let out = peer.finish();
    assert!(out.status.success(), "chat alternate failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pong 1\npong 2\n");
    lab.wait_logs("server", "waiting for the next peer");
}

/// The package list of an `apt-get install` in a Dockerfile.
fn packages(dockerfile: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join(dockerfile)).expect(dockerfile);
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.contains("apt-get install"))
        .unwrap_or_else(|| panic!("{dockerfile}: no apt-get install"));
    let after = line
        .split("--no-install-recommends")
        .nth(1)
        .expect("--no-install-recommends");
    let mut list: Vec<String> = after
        .split("&&")
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    list.sort();
    list
}

/// The registry build and the offline build make the same host.
#[test]
fn both_dockerfiles_install_the_same_packages() {
    let registry = packages("docker/Dockerfile");
    assert!(registry.contains(&"tcpdump".to_string()), "{registry:?}");
    assert_eq!(registry, packages("docker/Dockerfile.offline"));
}

/// compose.yaml stays within what docker-compose 1.29.2 and Compose v2 both accept, and
/// what the lab promises (no host port, never privileged).
#[test]
fn compose_file_keeps_to_the_common_ground() {
    let text = std::fs::read_to_string(root().join("compose.yaml")).expect("compose.yaml");
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(
            !line.starts_with("name:"),
            "no top-level name: (v1): {line}"
        );
        for word in [
            "start_interval",
            "required:",
            "privileged",
            "ports:",
            "network_mode",
        ] {
            assert!(
                !line.contains(word),
                "compose.yaml must not use {word}: {line}"
            );
        }
    }
    // If docker-compose v1 is here, it must accept the file as it is.
    if let Ok(out) = Command::new("docker-compose")
        .current_dir(root())
        .args(["-f", "compose.yaml", "config", "-q"])
        .output()
    {
        let cmd = Command::new("docker-compose");
        assert!(
            out.status.success(),
            "docker-compose config:\n{}",
            report(&cmd, &out)
        );
    }
}
