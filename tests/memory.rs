//! Memory stays bounded whatever the line length: one 100 MiB line through send → recv.
//! Alone in its own test binary, so the children's peak RSS (getrusage) is only theirs.

mod chatkit;
mod kit;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread;

use nix::sys::resource::{UsageWho, getrusage};

const LINE: usize = 100 << 20;
const MAX_RSS_KIB: i64 = 16 * 1024;

/// Kills the processes when the test ends, passed or failed; a watchdog kills them after two
/// minutes, so a stuck transfer fails the test instead of hanging it.
struct Guard(Vec<u32>);

impl Guard {
    fn watch(pids: Vec<u32>) -> Guard {
        let watched = pids.clone();
        thread::spawn(move || {
            thread::sleep(std::time::Duration::from_secs(120));
            kill_all(&watched);
        });
        Guard(pids)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        kill_all(&self.0);
    }
}

fn kill_all(pids: &[u32]) {
    for &pid in pids {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

#[test]
fn a_100_mib_line_passes_with_small_memory() {
    let mut recv = Command::new(chatkit::CHAT)
        .args(["recv", "-p", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = recv.stderr.take().unwrap();
    let mut seen = String::new();
    let port = loop {
        let mut b = [0u8; 1];
        assert_eq!(log.read(&mut b).unwrap(), 1, "recv ended: {seen}");
        seen.push(b[0] as char);
        if let Some(rest) = seen.split("listening on ").nth(1)
            && let Some(addr) = rest.split(' ').next().filter(|_| rest.contains(' '))
        {
            break addr.rsplit(':').next().unwrap().to_string();
        }
    };
    thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));

    let mut send = Command::new(chatkit::CHAT)
        .args(["send", "127.0.0.1", "-p", &port])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _guard = Guard::watch(vec![recv.id(), send.id()]);
    let mut input = send.stdin.take().unwrap();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let block = vec![b'x'; 1 << 20];
        for _ in 0..LINE / block.len() {
            input.write_all(&block)?;
        }
        input.write_all(b"\n")
    });
    // Count and check what recv prints while it streams.
    let mut out = recv.stdout.take().unwrap();
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    while total < LINE + 1 {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "recv stopped after {total} bytes");
        let expected_newline_at = LINE - total;
        for (i, &b) in buf[..n].iter().enumerate() {
            let want = if i == expected_newline_at {
                b'\n'
            } else {
                b'x'
            };
            assert_eq!(b, want, "byte {} differs", total + i);
        }
        total += n;
    }
    writer.join().unwrap().unwrap();
    assert!(send.wait().unwrap().success());
    recv.kill().unwrap();
    recv.wait().unwrap();

    let peak_kib = getrusage(UsageWho::RUSAGE_CHILDREN).unwrap().max_rss();
    eprintln!("peak RSS of chat send / chat recv for a 100 MiB line: {peak_kib} KiB");
    assert!(
        peak_kib < MAX_RSS_KIB,
        "peak RSS {peak_kib} KiB ≥ {MAX_RSS_KIB} KiB"
    );
}
