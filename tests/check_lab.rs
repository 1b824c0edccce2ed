//! lab/check: the checker in a throwaway host of the lab image, for one program or a class;
//! hostile submissions harm nothing and get verdicts; nothing is left running.

mod kit;
mod labkit;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// `lab/check ARGS` at the repository root, run to its end.
fn script(args: &[&str]) -> Command {
    let mut cmd = Command::new(kit::root().join("lab/check"));
    cmd.args(args)
        .current_dir(kit::root())
        .env_remove("LAB_DEBUG");
    cmd
}

/// What a run did: its status and output, with a report for failure messages.
struct Ran {
    out: Output,
    report: String,
}

impl Ran {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
}

fn run(cmd: &mut Command) -> Ran {
    let out = cmd.output().expect("run lab/check");
    let report = format!(
        "command: {cmd:?}\nstatus: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ran { out, report }
}

/// Bad arguments: one `lab: …` line, exit code 2, before any Docker call.
#[test]
fn lab_check_refuses_bad_arguments_with_one_line_and_code_2() {
    let empty = std::env::temp_dir().join(format!("chatlab-empty-class-{}", std::process::id()));
    fs::create_dir_all(&empty).unwrap();
    let empty_str = empty.to_str().unwrap().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&[], "which question?"),
        (&["q9", "--", "true"], "unknown role 'q9'"),
        (&["q1", "python3", "x.py"], "the program comes after --"),
        (&["q1", "--"], "no program"),
        (
            &["q1", "--lang", "de", "--", "true"],
            "--lang needs fr or en",
        ),
        (&["--class"], "--class needs a folder"),
        (&["--class", "/nonexistent-class"], "no folder"),
        (&["--class", &empty_str], "no student folders"),
    ];
    for (args, message) in cases {
        let ran = run(&mut script(args));
        assert_eq!(ran.code(), Some(2), "{}", ran.report);
        let stderr = ran.stderr();
        assert!(
            stderr.starts_with("lab: ") && stderr.lines().count() == 1 && stderr.contains(message),
            "one `lab: …{message}…` line expected:\n{}",
            ran.report
        );
    }
    fs::remove_dir_all(&empty).unwrap();
}

/// The tests that run lab/check in Docker take turns: each checks that no `chatlab-check-…`
/// container is left, which another's running checks would be.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn leftovers() -> String {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "name=chatlab-check-",
            "--format",
            "{{.Names}}",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn lab_check_runs_programs_in_throwaway_hosts_and_grades_a_class() {
    let _turn = one_at_a_time();
    let Some(image) = labkit::image_for("lab_check_runs_programs_in_throwaway_hosts") else {
        return;
    };
    let check = |args: &[&str]| {
        let mut cmd = script(args);
        cmd.env("LAB_IMAGE", image)
            .env("LANG", "C.UTF-8")
            .env_remove("LC_ALL");
        run(&mut cmd)
    };
    // The reference, as a student would check a program: the TD's host names work unchanged.
    let ran = check(&["q1", "--", "chat", "recv"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.report);
    assert!(ran.stdout().contains("pass  reuseaddr"), "{}", ran.report);
    let ran = check(&["q4-client", "--json", "--", "chat", "duplex", "server"]);
    assert_eq!(ran.code(), Some(0), "{}", ran.report);
    assert!(
        ran.stdout().starts_with("{\"role\":\"q4-client\""),
        "{}",
        ran.report
    );
    // A program that cannot run: status 3, its error shown.
    let ran = check(&["q2", "--", "python3", "/work/no-such-file.py"]);
    assert_eq!(ran.code(), Some(3), "{}", ran.report);
    assert!(ran.stderr().contains("can't open file"), "{}", ran.report);
    // No image: one line saying how to build it.
    let mut cmd = script(&["q1", "--", "chat", "recv"]);
    cmd.env("LAB_IMAGE", "chatlab-host:no-such-image");
    let ran = run(&mut cmd);
    assert_eq!(ran.code(), Some(1), "{}", ran.report);
    assert!(ran.stderr().contains("lab/build-offline"), "{}", ran.report);

    // A class: a good student, a partial one, and a hostile one.
    let class = std::env::temp_dir().join(format!("chatlab-class-{}", std::process::id()));
    let _ = fs::remove_dir_all(&class);
    let corpus = kit::root().join("tests/check");
    for role in labkit::CHECK_ROLES {
        fs::create_dir_all(class.join("alice")).unwrap();
        fs::copy(
            corpus.join(role).join("good.py"),
            class.join("alice").join(format!("{role}.py")),
        )
        .unwrap();
    }
    write(&class.join("alice/notes.txt"), "keep me\n");
    fs::create_dir_all(class.join("bob")).unwrap();
    fs::copy(corpus.join("q1/bytes.py"), class.join("bob/q1.py")).unwrap();
    let m = class.join("mallory");
    // A fork bomb, a memory bomb, a disk filler, a wiper, a flood of stdout, a file that is
    // not executable.
    for (name, text) in [
        (
            "q1.py",
            "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        ),
        (
            "q2.py",
            "x = []\nwhile True:\n    x.append(b'x' * 10_000_000)\n",
        ),
        (
            "q3-client.py",
            "with open('/tmp/big', 'wb') as f:\n    while True:\n        f.write(b'x' * 1_000_000)\n",
        ),
        (
            "q3-server.sh",
            "rm -rf /work/* /work/../* /tmp/* 2>/dev/null\nexec sleep 1000\n",
        ),
        (
            "q4-client.py",
            "import sys\nwhile True:\n    sys.stdout.write('flood ' * 1000 + '\\n')\n",
        ),
        ("q4-server", "print('not executable')\n"),
    ] {
        write(&m.join(name), text);
    }

    let ran = check(&["--class", class.to_str().unwrap()]);
    assert_eq!(ran.code(), Some(0), "{}", ran.report);
    assert!(
        ran.stderr().contains("[18/18] mallory q4-server"),
        "{}",
        ran.report
    );
    let csv = fs::read_to_string(class.join("report.csv")).unwrap();
    let html = fs::read_to_string(class.join("report.html")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(
        rows[0].starts_with("student,q1:start,q1:listen-all,q1:lines,"),
        "{csv}"
    );
    let header: Vec<&str> = rows[0].split(',').collect();
    let cell = |row: &str, column: &str| -> String {
        let i = header.iter().position(|h| *h == column).unwrap();
        row.split(',').nth(i).unwrap().to_string()
    };
    let (alice, bob, mallory) = (rows[1], rows[2], rows[3]);
    assert!(
        alice.starts_with("alice,") && !alice.contains("fail"),
        "{csv}"
    );
    assert_eq!(cell(bob, "q1:lines"), "fail", "{csv}");
    assert_eq!(cell(bob, "q2:start"), "skip", "{csv}");
    for role in ["q1", "q2", "q3-client", "q4-client", "q4-server"] {
        assert_eq!(
            cell(mallory, &format!("{role}:start")),
            "fail",
            "{role}\n{csv}"
        );
    }
    // The wiper's server never listens (sleep): start fails; nothing of the class was deleted.
    assert_eq!(cell(mallory, "q3-server:start"), "fail", "{csv}");
    assert_eq!(
        fs::read_to_string(class.join("alice/notes.txt")).unwrap(),
        "keep me\n"
    );
    assert!(m.join("q3-server.sh").exists());
    assert!(html.contains("class=\"fail\" title=\""), "{html}");
    assert!(html.contains("not executable"), "{html}");
    assert_eq!(leftovers(), "", "containers left behind");
    fs::remove_dir_all(&class).unwrap();
}

/// Item 6 of the review: odd student folder names. A ':' (it broke `-v`: status 125 for every
/// role), a name that is a formula to a spreadsheet, a name ending in a newline and one
/// holding an escape sequence (reported in one line each and skipped, never raw on the
/// terminal).
#[test]
fn lab_check_grades_a_class_whatever_its_folder_names() {
    let _turn = one_at_a_time();
    let Some(image) = labkit::image_for("lab_check_grades_a_class_whatever_its_folder_names")
    else {
        return;
    };
    let class = std::env::temp_dir().join(format!("chatlab-names-{}", std::process::id()));
    let _ = fs::remove_dir_all(&class);
    let good = kit::root().join("tests/check/q1/good.py");
    for name in ["a:b, \"c\"", "=1+1", "nl\n", "\x1b]0;PWNED\x07"] {
        fs::create_dir_all(class.join(name)).unwrap();
        fs::copy(&good, class.join(name).join("q1.py")).unwrap();
    }
    let mut cmd = script(&["--class", class.to_str().unwrap()]);
    cmd.env("LAB_IMAGE", image)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL");
    let ran = run(&mut cmd);
    assert_eq!(ran.code(), Some(0), "{}", ran.report);
    for stream in [&ran.out.stdout, &ran.out.stderr] {
        assert!(
            !stream.iter().any(|&b| b == 0x1b || b == 0x07),
            "a control byte reaches the terminal\n{}",
            ran.report
        );
    }
    let stderr = ran.stderr();
    for shown in ["$'nl\\n'", "$'\\E]0;PWNED\\a'"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains("skipping the folder") && l.contains(shown)),
            "{shown} not reported\n{}",
            ran.report
        );
    }
    let csv = fs::read_to_string(class.join("report.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    // Sorted by name ('=' before 'a'); the formula is text; each row's start passes.
    assert!(rows[1].starts_with("'=1+1,pass,"), "{csv}");
    assert!(rows[2].starts_with("\"a:b, \"\"c\"\"\",pass,"), "{csv}");
    assert_eq!(leftovers(), "", "containers left behind");
    fs::remove_dir_all(&class).unwrap();
}
