//! The exercise sheets (lab/exercices/*.md) cannot rot: every command in them is run here,
//! against a real lab, and what each sheet's questions rely on is asserted on what its own
//! commands captured and printed (a capture that comes out empty, a handshake missing, two
//! lines merged into one segment, a RTT that is not the delay: the test fails).
//!
//! The convention, for the sheets' authors (the sheets' README says it to the students):
//! - a fenced block tagged `sh` holds commands to copy as they are: the test runs each such
//!   block, in the order of the sheet, with `bash -euo pipefail` at the repository root, with
//!   the lab's variables, against a fresh lab per sheet; the block must succeed (a command that
//!   is meant to fail is written `cmd || echo "code de sortie : $?"`); a capture started in
//!   the background is waited for with `lab/capture --wait NAME`, never with a bare sleep;
//! - a block tagged `sh interactif` is the same experiment typed by hand in several terminals:
//!   not run (nobody types), but each of its commands must also appear in a `sh` block of the
//!   same sheet, up to `-T`, `timeout N` and `--retry N` (its non-interactive twin, which is
//!   run);
//! - a block tagged `sh à vous` runs the student's own program (in `work/`): not run (the
//!   program is the student's), but checked: a skeleton it copies or runs exists in
//!   `lab/exercices/squelettes/`, a `lab/check` names one of its roles;
//! - a block tagged `text` shows output; no other tag is allowed (a ```bash would be silently
//!   skipped).
//!
//! The prose of every sheet and answer key follows French typography (checked here, code
//! exempt). Under CI=true a missing Docker fails the sheet tests; elsewhere they are skipped
//! with a message. The convention, the typography and the skeletons are checked without Docker.

mod kit;
mod labkit;
mod labscripts;
mod ladderkit;
mod sheetkit;

use std::fs;
use std::process::Command;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kit::run;
use labkit::{CHECK_ROLES, Lab};
use labscripts::{remove_capture, script, shell};
use ladderkit::{Event, Ladder, TextArrow};
use sheetkit::{Block, Kind, Segment, blocks, data, parse_view, sheets_dir, show};

/// One block may run for this long (lab/deadlock takes ~15 s, a capture ~10 s).
const BLOCK_LIMIT: Duration = Duration::from_secs(180);

/// The sheets, in the order of a class, each with its test below.
const SHEETS: [&str; 6] = [
    "README.md",
    "01-poignee-de-main.md",
    "02-time-wait.md",
    "03-alternance.md",
    "04-duplex-fork.md",
    "05-latence.md",
];

/// A command line without what makes it non-interactive: `-T`, `timeout N`, `--retry N`.
fn normalized(text: &str) -> String {
    let mut words = Vec::new();
    let mut it = text.split_whitespace().peekable();
    while let Some(w) = it.next() {
        match w {
            "-T" => {}
            "timeout" | "--retry" if it.peek().is_some_and(|n| n.parse::<u32>().is_ok()) => {
                it.next();
            }
            _ => words.push(w),
        }
    }
    words.join(" ")
}

fn sheet_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(sheets_dir())
        .expect("lab/exercices")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    names.sort();
    names
}

/// A `sh à vous` block: the skeletons it names exist, its `lab/check` lines name a role and
/// the command after `--`, and the other lab/ scripts it names exist.
fn check_yours(name: &str, b: &Block) {
    let skeletons = sheets_dir().join("squelettes");
    for line in b.text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for w in &words {
            let file = w
                .strip_prefix("/work/")
                .or_else(|| w.strip_prefix("lab/exercices/squelettes/"))
                .or_else(|| w.strip_prefix("work/"));
            if let Some(file) = file.filter(|f| f.ends_with(".py")) {
                assert!(
                    skeletons.join(file).is_file(),
                    "{name}:{}: `{line}`: no skeleton lab/exercices/squelettes/{file}",
                    b.line
                );
            }
            if let Some(script) = w.strip_prefix("lab/").filter(|s| !s.contains('/')) {
                assert!(
                    kit::root().join("lab").join(script).is_file(),
                    "{name}:{}: `{line}`: no script lab/{script}",
                    b.line
                );
            }
        }
        if let Some(at) = words.iter().position(|w| *w == "lab/check") {
            let role = words.get(at + 1).copied().unwrap_or_default();
            // `--lang fr|en` may come between the role and `--`.
            let rest = match words.get(at + 2..at + 4) {
                Some(["--lang", "fr" | "en"]) => at + 4,
                _ => at + 2,
            };
            assert!(
                CHECK_ROLES.contains(&role) && words.get(rest) == Some(&"--"),
                "{name}:{}: `{line}`: write lab/check ROLE [--lang fr] -- COMMAND, ROLE one of {CHECK_ROLES:?}",
                b.line
            );
        }
    }
}

/// A sheet's first command sets the server's mode it needs (`CHAT_MODE=MODE lab/up`), and
/// its last `lab/up` puts the lab back in the default mode, for the next sheet.
fn check_starts_and_ends_in_a_known_mode(name: &str, blocks: &[Block]) {
    let commands: Vec<(usize, &str)> = blocks
        .iter()
        .filter(|b| b.kind != Kind::Text)
        .flat_map(|b| b.text.lines().map(move |l| (b.line, l.trim())))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let first = commands.first().copied().unwrap_or_default();
    assert!(
        first.1.starts_with("CHAT_MODE=") && first.1.ends_with(" lab/up"),
        "{name}:{}: the sheet's first command should set the mode it needs (CHAT_MODE=… lab/up), not `{}`",
        first.0,
        first.1
    );
    let ups: Vec<String> = commands
        .iter()
        .flat_map(|(_, l)| lab_state_lines(l))
        .filter(|l| l.ends_with("lab/up") || l.contains("lab/up "))
        .collect();
    assert_eq!(
        ups.last().map(String::as_str),
        Some("CHAT_MODE=duplex lab/up"),
        "{name}: its last lab/up should put the lab back in its default mode, for the next sheet"
    );
}

/// Every sheet follows the convention; every interactive command has its twin; every
/// sheet with commands has its test below; every sheet has its answer key, for teachers.
#[test]
fn sheets_follow_the_convention() {
    for name in sheet_names() {
        let blocks = blocks(&sheets_dir().join(&name));
        let run: Vec<String> = blocks
            .iter()
            .filter(|b| b.kind == Kind::Run)
            .map(|b| normalized(&b.text))
            .collect();
        for b in blocks.iter().filter(|b| b.kind == Kind::Interactive) {
            for line in b.text.lines().map(str::trim) {
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let line = normalized(line);
                assert!(
                    run.iter().any(|r| r.contains(&line)),
                    "{name}:{}: `{line}` has no non-interactive twin in a sh block",
                    b.line
                );
            }
        }
        for b in blocks.iter().filter(|b| b.kind == Kind::Yours) {
            check_yours(&name, b);
        }
        // A capture started in the background is waited for, by name, in the same block.
        for b in blocks.iter().filter(|b| b.kind == Kind::Run) {
            for line in b.text.lines().map(str::trim) {
                if !(line.starts_with("lab/capture ") && line.ends_with('&')) {
                    continue;
                }
                let captures = capture_names(&[Block {
                    kind: Kind::Run,
                    line: b.line,
                    text: line.to_string(),
                }]);
                assert!(
                    captures.len() == 1
                        && b.text
                            .contains(&format!("lab/capture --wait {}\n", captures[0])),
                    "{name}:{}: `{line}`: give it --name NAME and follow it with lab/capture --wait NAME",
                    b.line
                );
            }
        }
        if name.starts_with('0') {
            check_starts_and_ends_in_a_known_mode(&name, &blocks);
        }
        if !run.is_empty() {
            assert!(
                SHEETS.contains(&name.as_str()),
                "{name} has commands: add a test for it in tests/lab_sheets.rs"
            );
        }
        if name != "README.md" {
            let key = format!("enseignants/{}", name.replace(".md", "-corrige.md"));
            assert!(
                sheets_dir().join(&key).exists(),
                "{name} has no answer key {key}"
            );
        }
    }
}

/// The prose of the sheets and keys follows French typography: U+00A0 before « : », U+202F
/// before « ; ? ! » and inside « … », U+00A0 between a number and its unit. Code is exempt.
#[test]
fn sheets_follow_french_typography() {
    let errors: Vec<String> = sheetkit::markdown_files()
        .iter()
        .flat_map(|p| sheetkit::typography_errors(p))
        .collect();
    assert!(
        errors.is_empty(),
        "{} typography errors (⍽ is U+00A0, · is U+202F):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

/// What the lab's scripts tell students (messages and errors) comes from one table of strings
/// per family (lab/lang/*.sh), French and English with the same keys, each used by its
/// scripts, the French in French typography; the
/// language is chosen as the instruments choose it (src/bin/chatlab/lang.rs): --lang, else
/// the first of LC_ALL, LC_MESSAGES, LANG that is set and not empty, French when it starts
/// with fr.
#[test]
fn the_lab_speaks_french_or_english_by_the_instruments_rule() {
    let dir = kit::root().join("lab/lang");
    let mut families = 0;
    for entry in fs::read_dir(&dir).expect("lab/lang") {
        let path = entry.unwrap().path();
        let script = format!(
            "declare -A LAB_EN=() LAB_FR=(); source {0}; \
             diff <(printf '%s\\n' \"${{!LAB_FR[@]}}\" | sort) <(printf '%s\\n' \"${{!LAB_EN[@]}}\" | sort) \
             && printf '%s\\n' \"${{!LAB_FR[@]}}\"",
            path.display()
        );
        let mut cmd = Command::new("bash");
        cmd.current_dir(kit::root()).arg("-c").arg(script);
        let ran = run(&mut cmd, Duration::from_secs(10)).expect_success();
        let keys = ran.stdout();
        assert!(keys.lines().count() >= 4, "{}: {keys}", path.display());
        let errors = french_table_typography_errors(&fs::read_to_string(&path).unwrap());
        assert!(
            errors.is_empty(),
            "{}: French typography (U+00A0 before « : », U+202F before « ; ? ! »):\n{}",
            path.display(),
            errors.join("\n")
        );
        // Each key is used by a script of the family.
        let family = path.file_stem().unwrap().to_string_lossy().into_owned();
        let users: &[&str] = match family.as_str() {
            "demos" => &["timewait", "deadlock"],
            "up" => &["up", "down"],
            "lib" => &["lib.sh"],
            other => &[other],
        };
        let code: String = users
            .iter()
            .map(|s| fs::read_to_string(kit::root().join("lab").join(s)).unwrap())
            .collect();
        assert!(
            code.contains(&format!("lab_strings {family}"))
                || code.contains(&format!("lab/lang/{family}.sh")),
            "no script loads lab/lang/{family}.sh"
        );
        for key in keys.lines() {
            assert!(
                code.contains(&format!(" {key}")) || code.contains(&format!("({key}")),
                "{family}: the text {key} is used by none of {users:?}"
            );
        }
        families += 1;
    }
    assert!(
        families >= 4,
        "one table per family: demos, capture, netem, up"
    );
    // (the locale's variables, the flag, the language chosen)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 6] = [
        (&[("LANG", "fr_FR.UTF-8")], "", "fr"),
        (&[("LANG", "C.UTF-8")], "", "en"),
        (
            &[("LC_ALL", "en_US.UTF-8"), ("LANG", "fr_FR.UTF-8")],
            "",
            "en",
        ),
        (&[("LC_MESSAGES", "fr_CA"), ("LANG", "en_GB")], "", "fr"),
        (&[("LC_ALL", ""), ("LANG", "fr_BE")], "", "fr"),
        (&[("LANG", "fr_FR.UTF-8")], "--lang en", "en"),
    ];
    for (vars, flag, want) in cases {
        let mut cmd = Command::new("bash");
        cmd.current_dir(kit::root())
            .arg("-c")
            .arg(format!(
                "source lab/lib.sh; lab_lang_args x {flag}; printf %s \"$LAB_LANG\""
            ))
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env_remove("LANG")
            .env_remove("LAB_LANG")
            .envs(vars.iter().copied());
        let ran = run(&mut cmd, Duration::from_secs(10)).expect_success();
        assert_eq!(ran.stdout(), want, "{vars:?} {flag}");
    }
}

/// The French texts of a table of lab/lang (TEXT, the file): a plain space before « : ; ? ! »
/// (one a no-break space must replace), or a stand-in for one (⍽, ‧: how the typography
/// errors show them), one line each. The lines a demonstration types (`.line.` keys) are data.
fn french_table_typography_errors(text: &str) -> Vec<String> {
    let french = text
        .split("declare -gA LAB_FR+=(")
        .nth(1)
        .expect("a French table: declare -gA LAB_FR+=(");
    french
        .lines()
        .filter(|l| !l.contains(".line."))
        .filter(|l| {
            let chars: Vec<char> = l.chars().collect();
            l.contains(['\u{237d}', '\u{2027}'])
                || chars.windows(3).any(|w| {
                    w[0] == ' '
                        && matches!(w[1], ':' | ';' | '?' | '!')
                        && matches!(w[2], ' ' | '"' | '\\')
                })
        })
        .map(|l| l.trim().to_string())
        .collect()
}

/// The rule itself catches what it must, and lets code and correct text through.
#[test]
fn the_typography_rule_catches_plain_spaces() {
    let dir = std::env::temp_dir().join(format!("typo-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("t.md");
    let bad = "Pourquoi ? Voici : rien ; « citation » après 60 s et 40 ms.\n";
    fs::write(&file, bad).unwrap();
    assert_eq!(sheetkit::typography_errors(&file).len(), 7, "{bad}");
    // Inline code holding backticks (` ```sh `) ends where its own run of backticks does.
    let bad = "- ` ```sh ` : des commandes ; `a` et ``b ` c`` puis : fin\n";
    fs::write(&file, bad).unwrap();
    assert_eq!(sheetkit::typography_errors(&file).len(), 3, "{bad}");
    let good = "Pourquoi\u{202f}? Voici\u{a0}: `a : b ?` [x](y?z) «\u{202f}c\u{202f}» 60\u{a0}s, 10:30, 1:9.\n```sh\necho a : b ?\n```\n";
    fs::write(&file, good).unwrap();
    assert_eq!(
        sheetkit::typography_errors(&file),
        Vec::<String>::new(),
        "{good}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// The skeletons students copy into work/ are Python 3 that compiles and runs (it stops at
/// the first part to write, with a message saying so), with French comments and `# TODO`s;
/// one per program of the TD. The lab's tools for the sheets compile too.
#[test]
fn skeletons_compile_run_and_leave_the_work_to_do() {
    let dir = sheets_dir().join("squelettes");
    let expected = [
        "q1_serveur.py",
        "q2_client.py",
        "q3_client.py",
        "q3_serveur.py",
        "q4_client.py",
        "q4_serveur.py",
    ];
    for name in expected {
        let text = fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            text.contains("# TODO"),
            "{name}: no `# TODO` for the student"
        );
        assert!(
            text.contains("lab/check "),
            "{name}: does not say how to check it"
        );
    }
    if Command::new("python3").arg("--version").output().is_err() {
        kit::skip_unless_ci(
            "skeletons_compile_run_and_leave_the_work_to_do",
            "python3 is not installed",
        );
        return;
    }
    let tools = sheets_dir().join("outils");
    let mut files: Vec<_> = expected.iter().map(|n| dir.join(n)).collect();
    files.extend(fs::read_dir(&tools).unwrap().map(|e| e.unwrap().path()));
    for file in &files {
        // compile() checks the syntax and writes no __pycache__ into the repository.
        let mut cmd = Command::new("python3");
        cmd.args([
            "-c",
            "import sys; compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec')",
        ])
        .arg(file)
        // (As on a machine that does not set it: what the test writes is the test's doing.)
        .env_remove("PYTHONDONTWRITEBYTECODE");
        run(&mut cmd, Duration::from_secs(30)).expect_success();
    }
    // Run: a skeleton says which part is left to write (and binds no port before that).
    for name in expected {
        let mut cmd = Command::new("python3");
        cmd.arg("-B")
            .arg(dir.join(name))
            .arg("127.0.0.1")
            .env_remove("PYTHONDONTWRITEBYTECODE");
        let ran = run(&mut cmd, Duration::from_secs(10));
        assert!(
            !ran.out.status.success() && ran.stderr().contains("TODO"),
            "{name}: run, a skeleton stops at its first TODO and says so:\n{}",
            ran.report
        );
    }
    // Nothing written into the repository: no __pycache__ beside the skeletons or the tools.
    for folder in [&dir, &tools] {
        assert!(
            !folder.join("__pycache__").exists(),
            "{}: the skeletons' test left a __pycache__",
            folder.display()
        );
    }
}

// --- The reference ladders of the answer keys ------------------------------------------------

/// The reference ladders, in lab/exercices/enseignants/echelles/: NAME.svg, drawn by the tool
/// from the captures beside it (NAME-client.pcap, NAME-server.pcap, NAME-client.netem.pcap),
/// and the lessons each one shows.
const REFERENCES: [(&str, &[Lesson]); 3] = [
    ("02-timewait", &[lesson_02]),
    ("04-demi-fermeture", &[lesson_04]),
    ("05-rapide", &[lesson_05_slant, lesson_05_nagle]),
];

/// Every lesson a sheet's ladder shows, by sheet and question.
const LESSONS: [(&str, Lesson); 6] = [
    ("01 q7", lesson_01),
    ("02 q5", lesson_02),
    ("03 q4", lesson_03),
    ("04 q7", lesson_04),
    ("05 q5", lesson_05_slant),
    ("05 q7", lesson_05_nagle),
];

fn references_dir() -> std::path::PathBuf {
    sheets_dir().join("enseignants/echelles")
}

/// The captures of the reference NAME, sorted.
fn reference_captures(name: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = fs::read_dir(references_dir())
        .expect("lab/exercices/enseignants/echelles")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let f = p.file_name().unwrap().to_string_lossy();
            f.starts_with(&format!("{name}-")) && f.ends_with(".pcap")
        })
        .collect();
    files.sort();
    files
}

/// `chatlab ladder CAPTURES --svg FILE --lang fr EXTRA`, run; its stdout and the SVG written.
fn draw(captures: &[std::path::PathBuf], extra: &[&str]) -> (String, String) {
    // Tests run at once: each drawing its own file.
    static DRAWN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = DRAWN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out =
        std::env::temp_dir().join(format!("chatlab-reference-{}-{n}.svg", std::process::id()));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatlab"));
    cmd.arg("ladder")
        .args(captures)
        .arg("--svg")
        .arg(&out)
        .args(["--lang", "fr"])
        .args(extra)
        .env_remove("RUST_LOG");
    let ran = run(&mut cmd, Duration::from_secs(30)).expect_success();
    let svg = fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}\n{}", ran.report));
    let _ = fs::remove_file(&out);
    (ran.stdout(), svg)
}

/// The command that draws the reference NAME again, for a failure message.
fn regenerate(name: &str) -> String {
    format!(
        "if the change is meant, draw it again: cd lab/exercices/enseignants/echelles && \
         chatlab ladder {name}-*.pcap --svg {name}.svg --no-text --lang fr, and the slide: \
         chatlab ladder {name}-*.pcap --svg {name}-diapo.svg --slide --no-text --lang fr \
         (and look at them)"
    )
}

/// Each reference SVG is what the tool draws today from the captures committed beside it: the
/// same segments in order (sender, flags/seq/ack, data, slanted or flat), the same states on
/// each side, in order, and a legend; not the same pixels. Each is linked from an answer key,
/// and so is its slide (NAME-diapo.svg, drawn with --slide).
#[test]
fn reference_ladders_are_what_the_tool_draws_from_their_captures() {
    let keys: String = fs::read_dir(sheets_dir().join("enseignants"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| fs::read_to_string(p).unwrap())
        .collect();
    for (name, _) in REFERENCES {
        let captures = reference_captures(name);
        let hosts: Vec<String> = captures
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            hosts.contains(&format!("{name}-client.pcap"))
                && hosts.contains(&format!("{name}-server.pcap")),
            "{name}: the captures of both hosts are committed beside the reference: {hosts:?}"
        );
        // The page, and the slide to project (--slide).
        for (file, extra) in [
            (format!("{name}.svg"), &["--no-text"][..]),
            (format!("{name}-diapo.svg"), &["--no-text", "--slide"][..]),
        ] {
            let committed = fs::read_to_string(references_dir().join(&file))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let want = ladderkit::structure(
                &ladderkit::read_svg(&committed).unwrap_or_else(|e| panic!("{file}: {e}")),
            );
            let (_, drawn) = draw(&captures, extra);
            let got = ladderkit::structure(
                &ladderkit::read_svg(&drawn).unwrap_or_else(|e| panic!("{file}, drawn now: {e}")),
            );
            assert!(
                want == got,
                "{file} is no longer what the tool draws from its captures:\n{}{}",
                ladderkit::differences(&want, &got),
                regenerate(name)
            );
            assert!(
                keys.contains(&format!("(echelles/{file})")),
                "no answer key links echelles/{file}"
            );
        }
    }
}

/// The comparison above sees a change of structure: a copy of a reference with a state, a
/// label, a segment's data or the order of two segments changed is no longer the same.
#[test]
fn a_reference_ladder_changed_is_seen_changed() {
    let committed = fs::read_to_string(references_dir().join("05-rapide.svg")).unwrap();
    let want = ladderkit::structure(&ladderkit::read_svg(&committed).unwrap());
    let edits: [(&str, &str); 4] = [
        (">TIME_WAIT<", ">FIN_WAIT_2<"),
        (">SYN,ACK seq 0 ack 1<", ">SYN,ACK seq 0 ack 2<"),
        ("ligne 2\\nligne 3", "ligne 2\\nligne 4"),
        (
            "data-i=\"4\" data-from=\"client\"",
            "data-i=\"4\" data-from=\"server\"",
        ),
    ];
    for (from, to) in edits {
        assert!(committed.contains(from), "{from:?} is not in 05-rapide.svg");
        let edited = committed.replacen(from, to, 1);
        let got = ladderkit::structure(&ladderkit::read_svg(&edited).unwrap());
        assert_ne!(want, got, "{from:?} → {to:?} is not seen");
    }
    // Two segments swapped.
    let a = committed.find("<g class=\"segment\" data-i=\"5\"").unwrap();
    let b = committed.find("<g class=\"segment\" data-i=\"6\"").unwrap();
    let c = committed.find("<g class=\"segment\" data-i=\"7\"").unwrap();
    let swapped = format!(
        "{}{}{}{}",
        &committed[..a],
        &committed[b..c],
        &committed[a..b],
        &committed[c..]
    );
    let got = ladderkit::structure(&ladderkit::read_svg(&swapped).unwrap());
    assert_ne!(want, got, "two segments swapped are not seen");
}

/// The checks of the sheets' ladder questions can fail: on the reference ladders, each holds
/// where its lesson is shown and fails on the others (the ladder of another experiment).
#[test]
fn ladder_lessons_hold_on_their_reference_and_fail_on_the_others() {
    for (name, shown) in REFERENCES {
        let (text, svg) = draw(&reference_captures(name), &[]);
        let drawn = Drawn::new(&text, &svg).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
        for (which, lesson) in LESSONS {
            let holds = lesson(&drawn);
            let expected = shown.iter().any(|l| std::ptr::fn_addr_eq(*l, lesson));
            assert_eq!(
                holds.is_ok(),
                expected,
                "lesson {which} on {name}: {holds:?}\n{text}"
            );
        }
    }
}

// --- Running a sheet -------------------------------------------------------------------------

/// A sheet that ran: its lab (still up) and what each `sh` block printed.
struct Ran {
    name: String,
    lab: Rc<Lab>,
    outputs: Vec<(Block, kit::Ran)>,
    /// The sheet's turn: its captures (in captures/, shared by every lab of this checkout)
    /// are its own until the checks end.
    _turn: MutexGuard<'static, ()>,
}

/// One lock per sheet: the test of a sheet and the class test never write the same captures
/// at once.
static TURNS: [Mutex<()>; SHEETS.len()] = [const { Mutex::new(()) }; SHEETS.len()];

fn turn(name: &str) -> MutexGuard<'static, ()> {
    let i = SHEETS
        .iter()
        .position(|s| *s == name)
        .unwrap_or_else(|| panic!("{name} is not in SHEETS"));
    // A test that failed holding the lock poisons it; the next one still takes its turn.
    TURNS[i].lock().unwrap_or_else(|e| e.into_inner())
}

impl Ran {
    /// stdout and stderr of the block whose text holds NEEDLE.
    fn output(&self, needle: &str) -> String {
        let (_, ran) = self
            .outputs
            .iter()
            .find(|(b, _)| b.text.contains(needle))
            .unwrap_or_else(|| panic!("{}: no sh block holds {needle:?}", self.name));
        format!("{}{}", ran.stdout(), ran.stderr())
    }

    /// The report of the block whose text holds NEEDLE, for failure messages.
    fn report(&self, needle: &str) -> &str {
        self.outputs
            .iter()
            .find(|(b, _)| b.text.contains(needle))
            .map_or("", |(_, r)| r.report.as_str())
    }

    /// The segments of captures/NAME.pcap, as `lab/capture --read` shows them; panics when
    /// the file is missing or holds no segment.
    fn capture(&self, name: &str) -> Vec<Segment> {
        let file = kit::root().join("captures").join(format!("{name}.pcap"));
        assert!(file.is_file(), "{}: no captures/{name}.pcap", self.name);
        let ran = run(
            &mut script(
                Some(&self.lab),
                "capture",
                &["--read", file.to_str().unwrap(), "tcp"],
            ),
            BLOCK_LIMIT,
        )
        .expect_success();
        let segments = parse_view(&ran.stdout());
        assert!(
            !segments.is_empty(),
            "{}: captures/{name}.pcap holds no segment: the capture missed the conversation\n{}",
            self.name,
            ran.report
        );
        segments
    }
}

impl Ran {
    /// The ladder the sheet drew from the captures NAME-*.pcap with `lab/ladder`: what its
    /// block printed and the SVG it wrote (captures/NAME.svg), checked to agree (see
    /// [`Drawn::new`]).
    fn ladder(&self, name: &str) -> Drawn {
        let needle = format!("lab/ladder captures/{name}-*.pcap");
        let text = self.output(&needle);
        let file = kit::root().join("captures").join(format!("{name}.svg"));
        let svg = fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: `{needle}` wrote no captures/{name}.svg ({e})\n{}",
                self.name,
                self.report(&needle)
            )
        });
        Drawn::new(&text, &svg).unwrap_or_else(|e| {
            panic!(
                "{}: the ladder of {name}: {e}\n{}",
                self.name,
                self.report(&needle)
            )
        })
    }
}

/// The names of the captures a sheet's blocks make (`--name NAME`).
fn capture_names(blocks: &[Block]) -> Vec<String> {
    let mut names = Vec::new();
    for b in blocks {
        let words: Vec<&str> = b.text.split_whitespace().collect();
        for pair in words.windows(2) {
            if pair[0] == "--name" {
                names.push(pair[1].to_string());
            }
        }
    }
    names
}

/// Run every `sh` block of NAME, in order, against a fresh lab (None: no Docker, not CI).
fn run_sheet(name: &str) -> Option<Ran> {
    let test = format!("sheet-{}", name.trim_end_matches(".md"));
    let lab = Lab::up(&test, &[])?;
    Some(run_on(Rc::new(lab), name, false))
}

/// Run every `sh` block of NAME, in order, on LAB. AS_A_CLASS: also the commands of its
/// `sh à vous` blocks that change the lab's state (see [`lab_state_lines`]), where they stand
/// in the sheet, as the students type them between two sheets.
fn run_on(lab: Rc<Lab>, name: &str, as_a_class: bool) -> Ran {
    let all = blocks(&sheets_dir().join(name));
    let turn = turn(name);
    // A capture left by an earlier run must not pass for this one's.
    for capture in capture_names(&all) {
        remove_capture(&capture);
    }
    let started = Instant::now();
    let mut outputs = Vec::new();
    for b in all {
        let text = match b.kind {
            Kind::Run => b.text.clone(),
            Kind::Yours if as_a_class => lab_state_lines(&b.text).join("\n"),
            _ => continue,
        };
        if text.is_empty() {
            continue;
        }
        let ran = run(&mut shell(&lab, &text), BLOCK_LIMIT);
        assert!(
            ran.out.status.success(),
            "{name}:{}: the block failed:\n{}",
            b.line,
            ran.report
        );
        eprintln!("{name}:{}: ok in {:.1} s", b.line, ran.took.as_secs_f64());
        if b.kind == Kind::Run {
            outputs.push((b, ran));
        }
    }
    eprintln!(
        "{name}: {} blocks in {:.1} s",
        outputs.len(),
        started.elapsed().as_secs_f64()
    );
    Ran {
        name: name.to_string(),
        lab,
        outputs,
        _turn: turn,
    }
}

/// The lines of a block that set the lab's state for what follows: `lab/up` and `lab/netem`,
/// with their variables (`CHAT_MODE=idle lab/up`); not the students' programs, not comments.
fn lab_state_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| {
            let command = line
                .split_whitespace()
                .find(|w| !(w.contains('=') && w.starts_with(|c: char| c.is_ascii_uppercase())));
            matches!(command, Some("lab/up" | "lab/netem"))
        })
        .map(String::from)
        .collect()
}

/// The class: the README and the five sheets, in order, on ONE lab, as a class runs them:
/// every `sh` block, and between them the commands of the `sh à vous` blocks that change the
/// lab's state (`CHAT_MODE=… lab/up`, `lab/netem …`; the students' programs are theirs, not
/// run). A sheet that counts on a mode an earlier one left behind fails here, though it passes
/// alone on a fresh lab. Each sheet's lessons are asserted as in its own test; at the end the
/// lab is back in its default mode: chat duplex on port 8080, no delay on any host.
#[test]
fn the_sheets_run_in_order_on_one_lab_as_a_class_does() {
    let Some(lab) = Lab::up("class", &[]) else {
        return;
    };
    let lab = Rc::new(lab);
    let started = Instant::now();
    let lessons: [fn(&Ran); SHEETS.len()] = [
        lessons_readme,
        lessons_01,
        lessons_02,
        lessons_03,
        lessons_04,
        lessons_05,
    ];
    for (name, lessons) in SHEETS.iter().zip(lessons) {
        let sheet = run_on(Rc::clone(&lab), name, true);
        lessons(&sheet);
    }
    let after = run(
        &mut shell(
            &lab,
            "lab/wait server listening 8080\n\
             docker compose exec -T server ps -o args= -C chat\n\
             LAB_LANG=en lab/netem client show\n\
             LAB_LANG=en lab/netem server show",
        ),
        BLOCK_LIMIT,
    )
    .expect_success();
    let out = after.stdout();
    assert!(
        out.contains("chat duplex --listen") && out.matches("egress: no impairment").count() == 2,
        "after the five sheets, the lab should be back in its default mode (chat duplex on 8080, no netem):\n{}",
        after.report
    );
    eprintln!(
        "the class: {} sheets in order on one lab in {:.1} s",
        SHEETS.len(),
        started.elapsed().as_secs_f64()
    );
}

// --- The ladders ------------------------------------------------------------------------------

/// A conversation as `lab/ladder` drew it, text and SVG, one connection.
struct Drawn {
    /// The SVG's ladder.
    svg: Ladder,
    /// What the text ladder says, in order.
    events: Vec<Event>,
    /// The text, for failure messages.
    text: String,
}

impl Drawn {
    /// The one connection drawn in TEXT (the text ladder, among other output) and SVG, or
    /// why not: the SVG is well-formed, the text and the SVG show the same segments and the
    /// same states, and both ends of every segment were captured (times on both sides).
    fn new(text: &str, svg: &str) -> Result<Drawn, String> {
        let mut ladders = ladderkit::read_svg(svg).map_err(|e| format!("the SVG: {e}"))?;
        if ladders.len() != 1 {
            return Err(format!("{} connections drawn, not one", ladders.len()));
        }
        let svg = ladders.remove(0);
        let events = ladderkit::text_events(text);
        let drawn = Drawn {
            svg,
            events,
            text: text.to_string(),
        };
        let arrows = drawn.arrows();
        if arrows.is_empty() || arrows.len() != drawn.svg.segments.len() {
            return Err(format!(
                "{} arrows in the text, {} segments in the SVG",
                arrows.len(),
                drawn.svg.segments.len()
            ));
        }
        for (a, s) in arrows.iter().zip(&drawn.svg.segments) {
            let from = if a.from_client { "client" } else { "server" };
            if s.from != from || !a.line.contains(&s.label) {
                return Err(format!(
                    "segment {}: the SVG says {} from {}, the text {:?}",
                    s.i, s.label, s.from, a.line
                ));
            }
            if a.left.is_none() || a.right.is_none() {
                return Err(format!(
                    "{:?}: one end was not captured (capture on both hosts)",
                    a.line
                ));
            }
        }
        for side in 0..2 {
            let text: Vec<&str> = drawn.states(side);
            if text != drawn.svg.names(side) {
                return Err(format!(
                    "side {side}'s states: the text says {text:?}, the SVG {:?}",
                    drawn.svg.names(side)
                ));
            }
        }
        Ok(drawn)
    }

    fn arrows(&self) -> Vec<&TextArrow> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Arrow(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    /// SIDE's states, in order (0: the client, 1: the server).
    fn states(&self, side: usize) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::State { side: s, name } if *s == side => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// SIDE's states after it became ESTABLISHED: how it closed.
    fn closing(&self, side: usize) -> Vec<&str> {
        let all = self.states(side);
        let from = all
            .iter()
            .position(|s| *s == "ESTABLISHED")
            .map_or(0, |i| i + 1);
        all[from..].to_vec()
    }

    /// SIDE's state when arrow K (0 is the first) is drawn: the last change written before.
    fn state_at(&self, k: usize, side: usize) -> Option<&str> {
        let mut state = None;
        let mut arrow = 0;
        for e in &self.events {
            match e {
                Event::Arrow(_) if arrow == k => return state,
                Event::Arrow(_) => arrow += 1,
                Event::State { side: s, name } if *s == side => state = Some(name.as_str()),
                _ => {}
            }
        }
        None
    }

    /// The arrows carrying data, with their index among all arrows.
    fn data(&self) -> Vec<(usize, &TextArrow)> {
        self.arrows()
            .into_iter()
            .enumerate()
            .filter(|(_, a)| !a.data().is_empty())
            .collect()
    }

    /// The arrows carrying FIN, with their index among all arrows.
    fn fins(&self) -> Vec<(usize, &TextArrow)> {
        self.arrows()
            .into_iter()
            .enumerate()
            .filter(|(_, a)| a.has("FIN"))
            .collect()
    }
}

/// A check of a lesson on a ladder: Err says what the ladder does not show.
type Lesson = fn(&Drawn) -> Result<(), String>;

fn expect(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

/// Sheet 1, question 7: the handshake (the client ESTABLISHED on the SYN ACK, the server on
/// the ACK), one data arrow per typed line, and TIME_WAIT on the client, which closed first.
fn lesson_01(d: &Drawn) -> Result<(), String> {
    let a = d.arrows();
    expect(
        a.len() >= 3
            && a[0].from_client
            && a[0].flags() == "SYN"
            && !a[1].from_client
            && a[1].flags() == "SYN,ACK"
            && a[2].from_client
            && a[2].flags() == "ACK",
        || "no handshake first".into(),
    )?;
    expect(
        d.state_at(1, 0) == Some("SYN_SENT")
            && d.state_at(2, 0) == Some("ESTABLISHED")
            && d.state_at(2, 1) == Some("SYN_RCVD")
            && d.state_at(3, 1) == Some("ESTABLISHED"),
        || "the client is not ESTABLISHED on the SYN ACK, or the server on the ACK".into(),
    )?;
    let sent: Vec<&str> = d.data().iter().map(|(_, a)| a.data()).collect();
    expect(
        sent == ["bonjour\\n", "ça va ?\\n"] && d.data().iter().all(|(_, a)| a.from_client),
        || format!("not one data arrow per line typed: {sent:?}"),
    )?;
    let fins = d.fins();
    expect(
        fins.first().is_some_and(|(_, f)| f.from_client)
            && d.states(0).last() == Some(&"TIME_WAIT")
            && d.states(1).last() == Some(&"CLOSED"),
        || "the client does not close first and end in TIME_WAIT".into(),
    )
}

/// Sheet 2, question 5: the server closes first: FIN_WAIT_1, FIN_WAIT_2 (the client's delayed
/// ACK), TIME_WAIT; the client CLOSE_WAIT (its half-second), LAST_ACK, CLOSED.
fn lesson_02(d: &Drawn) -> Result<(), String> {
    let fins = d.fins();
    expect(fins.len() == 2 && !fins[0].1.from_client, || {
        "the server's FIN does not come first".into()
    })?;
    expect(
        d.closing(1) == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
            && d.closing(0) == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        || {
            format!(
                "the server should go FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT, the client CLOSE_WAIT LAST_ACK CLOSED: {:?} {:?}",
                d.closing(1),
                d.closing(0)
            )
        },
    )?;
    let client_fin = fins[1].0;
    expect(
        d.state_at(client_fin, 0) == Some("CLOSE_WAIT")
            && d.state_at(client_fin, 1) == Some("FIN_WAIT_2"),
        || "before the client's FIN: the client in CLOSE_WAIT, the server in FIN_WAIT_2".into(),
    )
}

/// Sheet 3, question 4: the client's line, acknowledged at once (by the kernel), then the
/// server's answer about 2 s later (its user), after a folded pause; both ESTABLISHED all along.
fn lesson_03(d: &Drawn) -> Result<(), String> {
    let data = d.data();
    expect(
        data.len() == 2
            && data[0].1.from_client
            && data[0].1.data() == "bonjour serveur\\n"
            && !data[1].1.from_client
            && data[1].1.data() == "salut client\\n",
        || "not the client's line, then the server's".into(),
    )?;
    let ((i, line), (j, answer)) = (data[0], data[1]);
    let gap = answer.departure().unwrap_or(0.0) - line.arrival().unwrap_or(0.0);
    expect((1.5..10.0).contains(&gap), || {
        format!("{gap:.3} s between the line and its answer, not about 2 s")
    })?;
    let arrows = d.arrows();
    let acked = arrows[i + 1..j].iter().any(|a| {
        !a.from_client
            && a.ack() == line.seq_end()
            && a.departure().unwrap_or(9.0) - line.arrival().unwrap_or(0.0) < 0.1
    });
    expect(acked, || "the line is not acknowledged at once".into())?;
    let between = d
        .events
        .iter()
        .skip_while(|e| !matches!(e, Event::Arrow(a) if a.line == line.line));
    let mut folded = false;
    for e in between {
        match e {
            Event::Arrow(a) if a.line == answer.line => break,
            Event::Fold(_) => folded = true,
            Event::State { .. } => return Err("a state changes during the pause".into()),
            _ => {}
        }
    }
    expect(
        folded
            && d.state_at(j, 0) == Some("ESTABLISHED")
            && d.state_at(j, 1) == Some("ESTABLISHED"),
        || "no folded pause, or not both ESTABLISHED, before the answer".into(),
    )
}

/// Sheet 4, question 7: the client's FIN first; the server sends its line in CLOSE_WAIT, the
/// client gets it in FIN_WAIT_2; then the server's FIN: LAST_ACK, and TIME_WAIT on the client.
fn lesson_04(d: &Drawn) -> Result<(), String> {
    let fins = d.fins();
    expect(
        fins.len() == 2 && fins[0].1.from_client && !fins[1].1.from_client,
        || "not the client's FIN, then the server's".into(),
    )?;
    let data = d.data();
    expect(
        data.len() == 1
            && !data[0].1.from_client
            && data[0].1.data().contains("je parle encore")
            && fins[0].0 < data[0].0
            && data[0].0 < fins[1].0,
        || "the server's line does not come between the two FINs".into(),
    )?;
    let k = data[0].0;
    expect(
        d.state_at(k, 1) == Some("CLOSE_WAIT") && d.state_at(k, 0) == Some("FIN_WAIT_2"),
        || {
            format!(
                "the server sends in {:?}, the client receives in {:?}: not CLOSE_WAIT and FIN_WAIT_2",
                d.state_at(k, 1),
                d.state_at(k, 0)
            )
        },
    )?;
    expect(
        d.closing(0) == ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
            && d.closing(1) == ["CLOSE_WAIT", "LAST_ACK", "CLOSED"],
        || {
            format!(
                "closing: client {:?}, server {:?}",
                d.closing(0),
                d.closing(1)
            )
        },
    )
}

/// Sheet 5, question 5: under 200 ms on the client's egress, drawn from its netem record:
/// every client → server arrow slants by about 200 ms, every server → client one is flat,
/// and the time each segment waited in netem is drawn.
fn lesson_05_slant(d: &Drawn) -> Result<(), String> {
    expect(d.svg.held > 0, || {
        "no segment drawn waiting in netem: the netem record is missing".into()
    })?;
    for (a, s) in d.arrows().iter().zip(&d.svg.segments) {
        let took = a.arrival().unwrap_or(0.0) - a.departure().unwrap_or(0.0);
        let ok = if a.from_client {
            (0.18..0.3).contains(&took) && s.slant() > 60.0
        } else {
            (0.0..0.02).contains(&took) && s.slant().abs() < 2.0
        };
        expect(ok, || {
            format!(
                "{:?} takes {took:.3} s, slants {:.1} px: client → server should slant by ~200 ms, server → client be flat",
                a.line,
                s.slant()
            )
        })?;
    }
    Ok(())
}

/// Sheet 5, question 7: ten lines typed fast behind 200 ms go in a few segments, each (but the
/// first, and one that carries the FIN) leaving the moment the previous one's ACK arrives.
fn lesson_05_nagle(d: &Drawn) -> Result<(), String> {
    let data: Vec<(usize, &TextArrow)> = d
        .data()
        .into_iter()
        .filter(|(_, a)| a.from_client)
        .collect();
    let lines: Vec<usize> = data
        .iter()
        .map(|(_, a)| a.data().matches("\\n").count())
        .collect();
    expect(
        (2..=6).contains(&data.len())
            && lines.iter().sum::<usize>() == 10
            && lines.iter().any(|&n| n >= 2),
        || format!("ten lines should go in a few segments, grouped: {lines:?}"),
    )?;
    let arrows = d.arrows();
    let mut waited = 0;
    for w in data.windows(2) {
        let ((_, prev), (_, next)) = (w[0], w[1]);
        if next.has("FIN") {
            continue;
        }
        let ack = arrows
            .iter()
            .find(|a| !a.from_client && a.ack() == prev.seq_end())
            .ok_or_else(|| format!("no ACK of {:?}", prev.line))?;
        let after = next.departure().unwrap_or(0.0) - ack.arrival().unwrap_or(0.0);
        expect((-0.002..0.02).contains(&after), || {
            format!(
                "{:?} leaves {after:.3} s after the ACK of the previous one arrives, not at once",
                next.line
            )
        })?;
        waited += 1;
    }
    expect(waited > 0, || "no segment waited for an ACK".into())
}

// --- What each sheet's questions rely on -------------------------------------------------------

/// The three segments of the handshake open SEGMENTS, from the client to TO (`server:8080`).
fn assert_handshake(sheet: &str, capture: &str, segments: &[Segment], to: &str) {
    let ok = segments.len() >= 3
        && segments[0].flags == "SYN"
        && segments[0].to == to
        && segments[1].flags == "SYN ACK"
        && segments[1].from == to
        && segments[2].flags == "ACK"
        && segments[2].to == to;
    assert!(
        ok,
        "{sheet}: {capture} does not open with the handshake to {to}:\n{}",
        show(segments)
    );
}

/// The segments carrying FIN, in order.
fn fins_of(segments: &[Segment]) -> Vec<&Segment> {
    segments.iter().filter(|s| s.has("FIN")).collect()
}

/// `rtt min/avg/max/mdev = a/b/c/d ms` lines of ping, their averages in ms.
fn ping_averages(output: &str) -> Vec<f64> {
    output
        .lines()
        .filter_map(|l| l.split_once("mdev = "))
        .filter_map(|(_, v)| v.split('/').nth(1)?.parse().ok())
        .collect()
}

fn near(value: f64, target: f64, tolerance: f64) -> bool {
    (value - target).abs() <= target * tolerance
}

/// The ladder QUESTION asks about shows its lesson, or the test fails saying what is missing.
fn assert_lesson(sheet: &str, question: &str, d: &Drawn, lesson: Lesson) {
    if let Err(e) = lesson(d) {
        panic!(
            "{sheet}: {question} needs the ladder to show it: {e}\n{}",
            d.text
        );
    }
}

#[test]
fn sheet_readme_commands_run() {
    if let Some(sheet) = run_sheet("README.md") {
        lessons_readme(&sheet);
    }
}

/// The README starts the lab: `docker compose ps` shows it healthy.
fn lessons_readme(sheet: &Ran) {
    assert!(
        sheet.output("docker compose ps").contains("healthy"),
        "{}",
        sheet.report("docker compose ps")
    );
}

/// Sheet 1: the handshake; two lines typed, two PSH segments of 8 and 9 bytes, the client's
/// FIN first; its ladder, from both hosts' captures: the states of the handshake, one arrow
/// per line, TIME_WAIT on the client; three lines at once, one segment; a 3000-byte line, cut
/// into segments of at most one MSS, PSH on the last one only.
#[test]
fn sheet_01_handshake_shows_its_lesson() {
    if let Some(sheet) = run_sheet("01-poignee-de-main.md") {
        lessons_01(&sheet);
    }
}

/// What sheet 1's questions rely on, in what its commands printed and captured.
fn lessons_01(sheet: &Ran) {
    let name = sheet.name.as_str();
    let segs = sheet.capture("01-poignee-client");
    assert_handshake(name, "01-poignee-client", &segs, "server:8080");
    let sent: Vec<&Segment> = data(&segs);
    assert!(
        sent.len() == 2
            && sent[0].data == "bonjour\\n"
            && sent[0].len == 8
            && sent[1].data == "ça va ?\\n"
            && sent[1].len == 9
            && sent.iter().all(|s| s.flags == "PSH ACK"),
        "{name}: question 4 needs two PSH segments, one per line:\n{}",
        show(&segs)
    );
    let fins = fins_of(&segs);
    assert!(
        fins.len() == 2 && fins[0].sender() == "client",
        "{name}: question 5 needs the client's FIN first:\n{}",
        show(&segs)
    );
    let server_side = sheet.capture("01-poignee-server");
    assert_eq!(
        server_side.len(),
        segs.len(),
        "{name}: the server saw every segment the client did:\n{}",
        show(&server_side)
    );
    assert_lesson(name, "question 7", &sheet.ladder("01-poignee"), lesson_01);
    assert!(
        sheet.output("tcp-syn").contains("mss 1460"),
        "{name}: question 8 needs the SYN's options:\n{}",
        sheet.report("tcp-syn")
    );

    let segs = sheet.capture("01-rafale");
    let sent = data(&segs);
    assert!(
        sent.len() == 1 && sent[0].data == "un\\ndeux\\ntrois\\n",
        "{name}: question 10 needs the three lines in one segment:\n{}",
        show(&segs)
    );

    let segs = sheet.capture("01-longue");
    let sent = data(&segs);
    let total: usize = sent.iter().map(|s| s.len).sum();
    let last = sent.last().expect("data");
    assert!(
        total == 3000
            && sent.len() >= 3
            && sent.iter().all(|s| s.len <= 1460)
            && last.has("PSH")
            && sent[..sent.len() - 1].iter().all(|s| !s.has("PSH")),
        "{name}: question 11 needs a 3000-byte line in segments of at most one MSS, PSH on the last:\n{}",
        show(&segs)
    );
}

/// Sheet 2: the server closes first (its FIN opens the four segments of the close) and keeps
/// TIME_WAIT, which its ladder shows on the server's time line (the client's: CLOSE_WAIT,
/// LAST_ACK, CLOSED); without SO_REUSEADDR on the old socket the restart is refused (exit 3);
/// when the client closes first, TIME_WAIT is on the client and the server restarts (exit 124).
#[test]
fn sheet_02_time_wait_shows_its_lesson() {
    if let Some(sheet) = run_sheet("02-time-wait.md") {
        lessons_02(&sheet);
    }
}

/// What sheet 2's questions rely on, in what its commands printed and captured.
fn lessons_02(sheet: &Ran) {
    let name = sheet.name.as_str();
    let segs = sheet.capture("02-timewait-server");
    assert_handshake(name, "02-timewait-server", &segs, "server:9090");
    let first_fin = segs.iter().position(|s| s.has("FIN")).expect("a FIN");
    let close: Vec<&Segment> = segs[first_fin..].iter().collect();
    assert!(
        close.len() == 4
            && close[0].sender() == "server"
            && close[0].has("FIN")
            && close[1].sender() == "client"
            && close[1].flags == "ACK"
            && close[2].sender() == "client"
            && close[2].has("FIN")
            && close[3].sender() == "server"
            && close[3].flags == "ACK",
        "{name}: question 4 needs the four segments of the close, the server's FIN first:\n{}",
        show(&segs)
    );
    assert_lesson(name, "question 5", &sheet.ladder("02-timewait"), lesson_02);
    let ss = sheet.output("ss -tano state time-wait\n");
    assert!(
        ss.contains("timer:(timewait,"),
        "{name}: question 2 needs the TIME_WAIT entry and its timer:\n{ss}"
    );
    let refused = sheet.output("-p 9093");
    assert!(
        refused.contains("timer:(timewait,")
            && refused.contains("code de sortie : 3")
            && refused.contains("in use"),
        "{name}: question 6 needs a refused restart (EADDRINUSE, exit 3):\n{refused}"
    );
    let reuse = sheet.output("socket.create_server");
    assert!(
        reuse.contains("SO_REUSEADDR = 1"),
        "{name}: question 13 needs create_server's SO_REUSEADDR:\n{reuse}"
    );
    let client_first = sheet.output("-p 9094");
    assert!(
        client_first.contains("timer:(timewait,") && client_first.contains("code de sortie : 124"),
        "{name}: question 8 needs the TIME_WAIT on the client and a server that listens:\n{client_first}"
    );
}

/// Sheet 3: the client's line, then the server's answer about 2 s later (its user's time,
/// not the network's), which the ladder shows as turns while TCP stays ESTABLISHED; both
/// sides waiting: the handshake and no data, then `timeout` (124).
#[test]
fn sheet_03_alternation_shows_its_lesson() {
    if let Some(sheet) = run_sheet("03-alternance.md") {
        lessons_03(&sheet);
    }
}

/// What sheet 3's questions rely on, in what its commands printed and captured.
fn lessons_03(sheet: &Ran) {
    let name = sheet.name.as_str();
    let segs = sheet.capture("03-alternance-server");
    assert_handshake(name, "03-alternance-server", &segs, "server:9091");
    let sent = data(&segs);
    assert!(
        sent.len() == 2
            && sent[0].sender() == "client"
            && sent[0].data == "bonjour serveur\\n"
            && sent[1].sender() == "server"
            && sent[1].data == "salut client\\n",
        "{name}: question 2 needs the client's line, then the server's:\n{}",
        show(&segs)
    );
    let gap = sent[1].t - sent[0].t;
    assert!(
        (1.5..10.0).contains(&gap),
        "{name}: question 2 needs about 2 s between the line and its answer, not {gap:.3} s:\n{}",
        show(&segs)
    );
    assert_lesson(
        name,
        "question 4",
        &sheet.ladder("03-alternance"),
        lesson_03,
    );
    let deadlock = sheet.output("--first receive </dev/null");
    assert!(
        deadlock.contains("code de sortie : 124"),
        "{name}: the deadlock ends by timeout only:\n{deadlock}"
    );
    // lab/deadlock: the first connection carries no data; the way out (another one) does.
    let segs = sheet.capture("03-interblocage");
    assert_handshake(name, "03-interblocage", &segs, "server:9091");
    let port = segs[0].sender_port().to_string();
    let stuck: Vec<&Segment> = segs
        .iter()
        .filter(|s| s.sender_port() == port || s.to.ends_with(&format!(":{port}")))
        .collect();
    assert!(
        stuck.iter().all(|s| s.len == 0)
            && segs.iter().any(|s| s.len > 0 && s.sender_port() != port),
        "{name}: question 7 needs a blocked connection without data, then the way out:\n{}",
        show(&segs)
    );
}

/// Sheet 4: two processes per side sharing one socket (ss shows both pids); the client's FIN
/// first, then the server's data and its FIN (half-close), which the ladder shows sent in
/// CLOSE_WAIT and received in FIN_WAIT_2; no zombie; a killed parent takes its child with it;
/// a buffer not flushed before fork is written twice.
#[test]
fn sheet_04_duplex_shows_its_lesson() {
    if let Some(sheet) = run_sheet("04-duplex-fork.md") {
        lessons_04(&sheet);
    }
}

/// What sheet 4's questions rely on, in what its commands printed and captured.
fn lessons_04(sheet: &Ran) {
    let name = sheet.name.as_str();
    let two = sheet.output("ss -tnp");
    let shared = two
        .lines()
        .any(|l| l.contains("ESTAB") && l.matches("(\"chat\",pid=").count() == 2);
    assert!(
        shared,
        "{name}: question 3 needs one socket held by two chat processes:\n{two}"
    );

    let segs = sheet.capture("04-demi-fermeture-client");
    assert_handshake(name, "04-demi-fermeture-client", &segs, "server:9092");
    let fins = fins_of(&segs);
    let client_fin = fins.first().expect("a FIN");
    let after: Vec<&Segment> = data(&segs)
        .into_iter()
        .filter(|s| s.sender() == "server" && s.t > client_fin.t)
        .collect();
    assert!(
        fins.len() == 2
            && client_fin.sender() == "client"
            && fins[1].sender() == "server"
            && after.len() == 1
            && after[0].data.contains("je parle encore"),
        "{name}: question 4 needs the client's FIN, then the server's data, then its FIN:\n{}",
        show(&segs)
    );
    assert!(
        sheet
            .output("04-demi-fermeture --duration")
            .contains("je parle encore"),
        "{name}: question 4: the client shows what came after its FIN"
    );
    assert_lesson(
        name,
        "question 7",
        &sheet.ladder("04-demi-fermeture"),
        lesson_04,
    );

    let segs = sheet.capture("04-fin");
    let fins = fins_of(&segs);
    assert!(
        fins.len() == 2 && fins[0].sender() == "client" && fins[1].sender() == "server",
        "{name}: question 8 needs the client's FIN, then the server's:\n{}",
        show(&segs)
    );
    let ps = sheet.output("04-fin --duration");
    let chats: Vec<&str> = ps.lines().filter(|l| l.contains(" chat ")).collect();
    assert!(
        chats.len() == 1 && !chats[0].contains(" Z"),
        "{name}: question 9 needs one chat left on the server, no zombie:\n{ps}"
    );

    let killed = sheet.output("kill -9");
    assert!(
        killed.contains("plus aucun chat sur client"),
        "{name}: question 10 needs the child gone with its parent:\n{killed}"
    );
    let fork = sheet.output("os.fork()");
    assert_eq!(
        fork.matches("avant le fork").count(),
        3,
        "{name}: question 11 needs the line twice without flush, once with:\n{fork}"
    );
}

/// Sheet 5: the RTT is the sum of the egress delays; both captures show the 200 ms between
/// SYN ACK and ACK; the ladder drawn with the userspace netem's record slants client → server
/// by 200 ms and not the other way; slow lines go one per segment, fast ones are grouped by
/// Nagle, a RTT apart, each group leaving as the ACK arrives (the ladder shows it);
/// write-write-read waits for the delayed ACK unless TCP_NODELAY.
#[test]
fn sheet_05_latency_shows_its_lesson() {
    if let Some(sheet) = run_sheet("05-latence.md") {
        lessons_05(&sheet);
    }
}

/// What sheet 5's questions rely on, in what its commands printed and captured.
fn lessons_05(sheet: &Ran) {
    let name = sheet.name.as_str();
    let rtts = ping_averages(&sheet.output("lab/netem client delay 200ms"));
    assert!(
        rtts.len() == 2 && rtts[0] < 20.0 && near(rtts[1], 200.0, 0.2),
        "{name}: question 1 needs a RTT of about 200 ms with the delay: {rtts:?}"
    );
    let rtts = ping_averages(&sheet.output("lab/netem server delay 100ms"));
    assert!(
        rtts.len() == 1 && near(rtts[0], 300.0, 0.2),
        "{name}: question 2 needs a RTT of about 300 ms: {rtts:?}"
    );

    for capture in ["05-cote-client", "05-cote-serveur"] {
        let segs = sheet.capture(capture);
        assert_handshake(name, capture, &segs, "server:8080");
        let syn_ack = segs[1].t - segs[0].t;
        let ack = segs[2].t - segs[1].t;
        assert!(
            syn_ack < 0.05 && near(ack, 0.2, 0.2),
            "{name}: questions 3-4 need SYN→SYN ACK short and SYN ACK→ACK about 200 ms in {capture}:\n{}",
            show(&segs)
        );
    }

    let ss = sheet.output("ss -ti");
    let rtt: Vec<f64> = ss
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("rtt:")?.split('/').next()?.parse().ok())
        .collect();
    assert!(
        rtt.len() == 1 && near(rtt[0], 200.0, 0.2),
        "{name}: question 4 needs ss -ti's RTT of about 200 ms:\n{ss}"
    );
    assert_lesson(
        name,
        "question 5",
        &sheet.ladder("05-echelle"),
        lesson_05_slant,
    );

    let segs = sheet.capture("05-lent");
    let sent = data(&segs);
    assert!(
        sent.len() == 5 && sent.iter().all(|s| s.data.matches("\\n").count() == 1),
        "{name}: question 6 needs five segments, one line each:\n{}",
        show(&segs)
    );

    let segs = sheet.capture("05-rapide-server");
    let sent = data(&segs);
    let lines: usize = sent.iter().map(|s| s.data.matches("\\n").count()).sum();
    let spaced = sent
        .windows(2)
        .take(sent.len().saturating_sub(2))
        .all(|w| w[1].t - w[0].t > 0.15);
    assert!(
        lines == 10 && (2..=6).contains(&sent.len()) && spaced,
        "{name}: question 7 needs ten lines grouped in a few segments, a RTT apart:\n{}",
        show(&segs)
    );
    let rapide = sheet.ladder("05-rapide");
    assert_lesson(name, "question 7", &rapide, lesson_05_nagle);
    assert_lesson(name, "question 7", &rapide, lesson_05_slant);

    let ewr = sheet.output("ecrire-ecrire-lire.py");
    let times: Vec<f64> = ewr
        .lines()
        .filter_map(|l| {
            l.split(" en ")
                .nth(1)?
                .trim()
                .strip_suffix(" ms")?
                .trim()
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(
        times.len(),
        20,
        "{name}: question 10: two runs of ten:\n{ewr}"
    );
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (nagle, nodelay) = (median(&times[1..10]), median(&times[11..]));
    assert!(
        nagle >= 30.0 && nodelay < 20.0,
        "{name}: question 10 needs the delayed ACK in write-write-read (median {nagle} ms) and not with TCP_NODELAY ({nodelay} ms):\n{ewr}"
    );
}

/// The sheets' captures are named after their sheet (NN-…), so that captures/ reads in the
/// order of the class.
#[test]
fn sheets_name_their_captures_after_themselves() {
    for name in SHEETS.iter().filter(|n| n.starts_with('0')) {
        let number = &name[..3];
        let blocks = blocks(&sheets_dir().join(name));
        for capture in capture_names(&blocks) {
            assert!(
                capture.starts_with(number),
                "{name}: capture {capture} should start with {number}"
            );
        }
    }
}
