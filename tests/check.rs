//! `chatlab check`: the reference passes every role, and a corpus of student-like programs
//! (tests/check/ROLE/*.py, each naming its expected verdicts) gets exactly those verdicts.
//! Every check runs the real `chatlab` binary, which runs the program behind a terminal.

mod kit;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;

use kit::free_port;

const CHAT: &str = env!("CARGO_BIN_EXE_chat");
const CHATLAB: &str = env!("CARGO_BIN_EXE_chatlab");

/// `chatlab check ROLE --json --port PORT [EXTRA] -- COMMAND…`
fn check(role: &str, port: u16, extra: &[&str], command: &[&str]) -> Output {
    let port = port.to_string();
    let mut cmd = Command::new(CHATLAB);
    cmd.args(["check", role, "--json", "--port", &port])
        .args(extra)
        .arg("--")
        .args(command)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    cmd.output().expect("run chatlab check")
}

fn shown(out: &Output) -> String {
    format!(
        "status: {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The JSON report of a `--json` check, parsed (`null` when it is not one).
fn report(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or_default()
}

/// The (id, verdict) pairs of the JSON report, in order.
fn verdicts(json: &str) -> Vec<(String, String)> {
    let report = report(json);
    let Some(criteria) = report["criteria"].as_array() else {
        return Vec::new();
    };
    criteria
        .iter()
        .map(|c| {
            let text = |key: &str| c[key].as_str().unwrap_or_default().to_string();
            (text("id"), text("verdict"))
        })
        .collect()
}

#[test]
fn the_reference_passes_every_role() {
    let roles: [(&str, &[&str]); 6] = [
        ("q1", &["recv"]),
        ("q2", &["send", "localhost"]),
        ("q3-client", &["alternate", "localhost"]),
        ("q3-server", &["alternate", "--listen"]),
        ("q4-client", &["duplex", "localhost"]),
        ("q4-server", &["duplex", "--listen"]),
    ];
    let runs: Vec<_> = roles
        .iter()
        .map(|(role, args)| {
            let (role, args) = (role.to_string(), args.to_vec());
            thread::spawn(move || {
                let port = free_port();
                let p = port.to_string();
                let mut command = vec![CHAT];
                command.extend(&args);
                command.extend(["-p", &p]);
                (role.clone(), check(&role, port, &[], &command))
            })
        })
        .collect();
    for run in runs {
        let (role, out) = run.join().unwrap();
        let json = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{role}\n{}", shown(&out));
        assert_eq!(report(&json)["role"], *role, "{}", shown(&out));
        assert_eq!(report(&json)["verdict"], "pass", "{}", shown(&out));
        for (id, verdict) in verdicts(&json) {
            let expected = match (role.as_str(), id.as_str()) {
                // chat duplex --listen ends with its peer: no next conversation to reap.
                ("q4-server", "zombie") => "skip",
                (_, "started-differently") => "info",
                _ => "pass",
            };
            assert_eq!(verdict, expected, "{role} {id}\n{}", shown(&out));
        }
    }
}

/// The verdicts a corpus file expects: `# expect: id=verdict …` (the others: pass or info).
fn expected(file: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(file).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("# expect:"))
        .unwrap_or_else(|| panic!("{} has no '# expect:' line", file.display()));
    line.split_whitespace()
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("id=verdict");
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn corpus(role: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/check")
        .join(role);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no programs in {}", dir.display());
    files
}

/// Run every program of ROLE's corpus (two at a time) and compare each verdict.
fn judge_corpus(role: &str) {
    let files = corpus(role);
    let mut failures = Vec::new();
    for pair in files.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|file| {
                let (role, file) = (role.to_string(), file.clone());
                thread::spawn(move || {
                    let port = free_port();
                    let p = port.to_string();
                    let path = file.to_str().unwrap().to_string();
                    let out = check(&role, port, &[], &["python3", &path, &p]);
                    (file, out)
                })
            })
            .collect();
        for run in runs {
            let (file, out) = run.join().unwrap();
            let want = expected(&file);
            let json = String::from_utf8_lossy(&out.stdout).into_owned();
            let got = verdicts(&json);
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if got.is_empty() {
                failures.push(format!("{role}/{name}: no verdicts\n{}", shown(&out)));
                continue;
            }
            for (id, verdict) in &got {
                let ok = match want.get(id) {
                    Some(w) => w == verdict,
                    None => verdict == "pass" || verdict == "info",
                };
                if !ok {
                    let w = want.get(id).map_or("pass", String::as_str);
                    failures.push(format!(
                        "{role}/{name}: {id} is {verdict}, expected {w}\n{json}"
                    ));
                }
            }
            for id in want.keys() {
                if !got.iter().any(|(g, _)| g == id) {
                    failures.push(format!("{role}/{name}: no verdict for {id}\n{json}"));
                }
            }
            let fails = want.values().any(|v| v == "fail");
            let code = out.status.code();
            if code != Some(if fails { 1 } else { 0 }) {
                failures.push(format!(
                    "{role}/{name}: exit status {code:?}\n{}",
                    shown(&out)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_q1() {
    judge_corpus("q1");
}

#[test]
fn corpus_q2() {
    judge_corpus("q2");
}

#[test]
fn corpus_q3_client() {
    judge_corpus("q3-client");
}

#[test]
fn corpus_q3_server() {
    judge_corpus("q3-server");
}

#[test]
fn corpus_q4_client() {
    judge_corpus("q4-client");
}

#[test]
fn corpus_q4_server() {
    judge_corpus("q4-server");
}

/// stderr, checked to be one line (plus the program's own stderr, shown indented).
fn first_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut lines = err.lines();
    let first = lines.next().unwrap_or_default().to_string();
    assert!(
        lines.all(|l| l.starts_with("  | ")),
        "more than one line of error\n{}",
        shown(out)
    );
    first
}

#[test]
fn a_bad_command_line_is_one_line_and_status_2() {
    for args in [
        &["check", "q5", "--", "true"][..],
        &["check", "q1", "python3", "x.py"],
        &["check", "q1", "--"],
        &["check", "q1", "--port", "0", "--", "true"],
    ] {
        let out = Command::new(CHATLAB).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", shown(&out));
        assert!(first_line(&out).starts_with("chatlab: "), "{}", shown(&out));
    }
}

#[test]
fn a_program_that_cannot_run_is_status_3_with_its_stderr() {
    let port = free_port();
    let out = check("q1", port, &[], &["no-such-program-here"]);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(first_line(&out).contains("command not found: no-such-program-here"));

    // Not executable.
    let dir = std::env::temp_dir().join(format!("chatlab-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("serveur.py");
    std::fs::write(&script, "print('hello')\n").unwrap();
    let out = check("q1", port, &[], &[script.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(
        first_line(&out).contains("is not executable"),
        "{}",
        shown(&out)
    );

    // Crashes at once: its traceback is shown.
    for role in ["q1", "q2"] {
        let out = check(role, port, &[], &["python3", "-c", "import no_such_module"]);
        assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
        assert!(
            first_line(&out).contains("ended at once"),
            "{}",
            shown(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("  | ModuleNotFoundError"),
            "{}",
            shown(&out)
        );
    }
}

#[test]
fn verdicts_speak_french_by_flag_or_locale() {
    let port = free_port();
    let p = port.to_string();
    let out = Command::new(CHATLAB)
        .args(["check", "q3-client", "--port", &p, "--lang", "fr", "--"])
        .args([CHAT, "alternate", "localhost", "-p", &p])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(text.contains("pass  turns"), "{text}");
    assert!(text.contains("l'ordre du TD"), "{text}");
    assert!(text.contains("q3-client : réussi"), "{text}");
    let out = Command::new(CHATLAB)
        .args(["check", "q3-client", "--port", &p, "--"])
        .args([CHAT, "alternate", "localhost", "-p", &p])
        .env("LANG", "fr_FR.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("q3-client : réussi"),
        "{}",
        shown(&out)
    );
}

/// A program that keeps forking, its children escaping (bounded here: this runs on the test machine, without the
/// container's limits) and never listens: `start` fails after its deadline, and when the
/// check ends, none of its processes is left.
#[test]
fn a_program_that_keeps_forking_leaves_nothing_behind() {
    let marker = format!("chatlab-forker-{}", std::process::id());
    // Its children leave the session and ignore SIGHUP: only the checker's own tracking
    // (descendants by parent links) finds them.
    let code = "import os, signal, time\n\
                for i in range(150):\n    \
                    if os.fork() == 0:\n        \
                        signal.signal(signal.SIGHUP, signal.SIG_IGN)\n        \
                        os.setsid()\n        \
                        while True:\n            \
                            time.sleep(1)\n    \
                    time.sleep(0.02)\n\
                time.sleep(60)\n";
    let port = free_port();
    let out = check("q1", port, &[], &["python3", "-c", code, &marker]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("{\"id\":\"start\",\"verdict\":\"fail\""),
        "{}",
        shown(&out)
    );
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The processes whose command line holds MARKER, once none is left or after 5 s. Those still
/// there are killed (the test that fails leaves nothing behind) and listed.
fn left_behind(marker: &str) -> Vec<String> {
    let find = || -> Vec<(i32, String)> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let pid: i32 = e.file_name().to_str()?.parse().ok()?;
                let cmd = std::fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                // Zombies have an empty command line: only live processes count.
                cmd.contains(marker).then_some((pid, cmd))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut left = find();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        thread::sleep(std::time::Duration::from_millis(50));
        left = find();
    }
    for (pid, _) in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    left.into_iter().map(|(_, c)| c).collect()
}

/// The report of a `--json` check, parsed; the verdict and detail of criterion ID.
fn criterion(out: &Output, id: &str) -> (String, String) {
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not one JSON report ({e})\n{}", shown(out)));
    let c = json["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no criterion {id}\n{}", shown(out)));
    (
        c["verdict"].as_str().unwrap().to_string(),
        c["detail"].as_str().unwrap().to_string(),
    )
}

/// A child that leaves the session, ignores SIGHUP and sleeps: only the checker's own
/// ownership of the program's tree can end it. Python, to prepend to a test program.
const STAYER: &str = "import os, signal, socket, sys, time\n\
    def stayer():\n    \
        if os.fork() == 0:\n        \
            signal.signal(signal.SIGHUP, signal.SIG_IGN)\n        \
            os.setsid()\n        \
            time.sleep(60)\n        \
            os._exit(0)\n";

/// Item 1 of the review: an error line of multi-byte characters past byte 200 is cut on a
/// character (it panicked), and the program's tree is gone after the check.
#[test]
fn an_accented_crash_line_is_reported_and_nothing_is_left() {
    let marker = format!("chatlab-accented-{}", std::process::id());
    let code = format!(
        "{STAYER}stayer()\n\
         s = socket.socket()\n\
         s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('', int(sys.argv[1])))\n\
         s.listen(1)\n\
         c, _ = s.accept()\n\
         raise ValueError('a' + 'é' * 150)\n"
    );
    let port = free_port();
    let p = port.to_string();
    let out = check("q1", port, &[], &["python3", "-c", &code, &p, &marker]);
    let left = left_behind(&marker);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let (verdict, detail) = criterion(&out, "lines");
    assert_eq!(verdict, "fail", "{}", shown(&out));
    assert!(detail.contains("ValueError: aéé"), "{}", shown(&out));
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Item 2: a program that ignores SIGHUP and kills the session helper (its parent), whose
/// grandchild leaves the session after the checker last looked: nothing of it is left.
#[test]
fn a_program_that_kills_its_session_helper_leaves_nothing_behind() {
    let marker = format!("chatlab-helper-killer-{}", std::process::id());
    let code = format!(
        "{STAYER}signal.signal(signal.SIGHUP, signal.SIG_IGN)\n\
         os.kill(os.getppid(), signal.SIGKILL)\n\
         if os.fork() == 0:\n    \
             time.sleep(1)\n    \
             stayer()\n    \
             os._exit(0)\n\
         time.sleep(2)\n"
    );
    let port = free_port();
    let out = check("q1", port, &[], &["python3", "-c", &code, &marker]);
    let left = left_behind(&marker);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(left.is_empty(), "left behind: {left:?}\n{}", shown(&out));
}

/// Item 2: a program that kills the checker itself: its tree is killed all the same.
#[test]
fn a_program_that_kills_the_checker_leaves_nothing_behind() {
    let marker = format!("chatlab-checker-killer-{}", std::process::id());
    let code = format!(
        "{STAYER}def cmd(p):\n    \
             return open(f'/proc/{{p}}/cmdline', 'rb').read().split(b'\\0')\n\
         def parent(p):\n    \
             return int(open(f'/proc/{{p}}/stat').read().rsplit(')', 1)[1].split()[1])\n\
         p = os.getppid()\n\
         while p > 1 and cmd(p)[1:2] != [b'check']:\n    \
             p = parent(p)\n\
         stayer()\n\
         time.sleep(0.3)\n\
         os.kill(p, signal.SIGKILL)\n\
         time.sleep(60)\n"
    );
    let port = free_port();
    let out = check("q1", port, &[], &["python3", "-c", &code, &marker]);
    let left = left_behind(&marker);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&out.status),
        Some(9),
        "the program should have killed the checker\n{}",
        shown(&out)
    );
    assert!(left.is_empty(), "left behind: {left:?}\n{}", shown(&out));
}

/// `chatlab check ROLE --lang en -- COMMAND…` as text, as a teacher's terminal gets it.
fn check_text(role: &str, port: u16, command: &[&str]) -> Output {
    let p = port.to_string();
    Command::new(CHATLAB)
        .args(["check", role, "--lang", "en", "--port", &p, "--"])
        .args(command)
        .output()
        .expect("run chatlab check")
}

/// No escape sequence reaches the terminal, no line is longer than a screenful.
fn assert_terminal_safe(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !stream.iter().any(|&b| b == 0x1b || b == 0x07 || b == 0x9b),
            "a control byte reaches the terminal\n{}",
            shown(out)
        );
        for line in stream.split(|&b| b == b'\n') {
            assert!(
                line.len() < 2000,
                "a line of {} bytes: {}…",
                line.len(),
                String::from_utf8_lossy(&line[..300])
            );
        }
    }
}

/// Item 3: what the program writes is shown terminal-safe and capped: its traceback's line,
/// what it sends, and its stderr when it cannot run.
#[test]
fn the_programs_output_is_quoted_terminal_safe_and_capped() {
    let port = free_port();
    let p = port.to_string();
    let crash = "import socket, sys\n\
                 s = socket.socket()\n\
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
                 s.bind(('', int(sys.argv[1])))\n\
                 s.listen(1)\n\
                 c, _ = s.accept()\n\
                 raise ValueError('\\x1b]0;PWNED\\x07\\x1b[2J' + 'x' * 5000)\n";
    let out = check_text("q1", port, &["python3", "-c", crash, &p]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ValueError: ^[]0;PWNED^G^[[2J"),
        "{}",
        shown(&out)
    );
    assert_terminal_safe(&out);

    // A client that floods the server with 2 MiB after an escape sequence.
    let flood = "import socket, sys\n\
                 s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))\n\
                 s.sendall(b'\\x1b]0;PWNED\\x07' + b'y' * (2 << 20))\n\
                 sys.stdin.read()\n";
    let out = check_text("q2", port, &["python3", "-c", flood, &p]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = text.lines().find(|l| l.starts_with("fail  lines")).unwrap();
    assert!(lines.contains("^[]0;PWNED^G"), "{}", shown(&out));
    assert!(lines.contains(" bytes more"), "{}", shown(&out));
    assert_terminal_safe(&out);

    // A program that cannot run: its stderr, shown.
    let out = check_text(
        "q1",
        port,
        &[
            "python3",
            "-c",
            "import sys; sys.stderr.write('\\x1b]0;PWNED\\x07' + 'z' * 5000 + '\\n'); sys.exit(1)",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("  | ^[]0;PWNED^G"),
        "{}",
        shown(&out)
    );
    assert_terminal_safe(&out);
}
