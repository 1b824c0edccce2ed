//! The exercise sheets (lab/exercices/*.md) cannot rot: every command in them is run here,
//! against a real lab.
//!
//! The convention, for the sheets' authors (the sheets' README says it to the students):
//! - a fenced block tagged `sh` holds commands to copy as they are: the test runs each such
//!   block, in the order of the sheet, with `bash -euo pipefail` at the repository root, with
//!   the lab's variables, against a fresh lab per sheet; the block must succeed (a command that
//!   is meant to fail is written `cmd || echo "code de sortie : $?"`);
//! - a block tagged `sh interactif` is the same experiment typed by hand in several terminals:
//!   not run (nobody types), but each of its commands must also appear in a `sh` block of the
//!   same sheet, up to `-T`, `timeout N` and `--retry N` (its non-interactive twin, which is
//!   run);
//! - a block tagged `text` shows output; no other tag is allowed (a ```bash would be silently
//!   skipped).
//!
//! Under CI=true a missing Docker fails the sheet tests; elsewhere they are skipped with a
//! message. The convention itself is checked without Docker.

mod kit;
mod labkit;
mod labscripts;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use kit::run;
use labkit::Lab;
use labscripts::{command, compose_v1_shim};

/// One block may run for this long (lab/deadlock takes ~15 s, a capture ~10 s).
const BLOCK_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug, PartialEq)]
enum Kind {
    Run,
    Interactive,
    Text,
}

struct Block {
    kind: Kind,
    line: usize,
    text: String,
}

fn sheets_dir() -> PathBuf {
    kit::root().join("lab/exercices")
}

/// The fenced blocks of a Markdown file, with their kind; panics on an unknown tag.
fn blocks(name: &str) -> Vec<Block> {
    let text = fs::read_to_string(sheets_dir().join(name)).expect("read sheet");
    let mut blocks = Vec::new();
    let mut open: Option<(Kind, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(tag) = line.strip_prefix("```") else {
            if let Some((_, _, body)) = open.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        };
        match open.take() {
            Some((kind, line, text)) => blocks.push(Block { kind, line, text }),
            None => {
                let kind = match tag.trim() {
                    "sh" => Kind::Run,
                    "sh interactif" => Kind::Interactive,
                    "text" => Kind::Text,
                    other => panic!(
                        "{name}:{}: block tagged {other:?}: use sh, sh interactif or text",
                        i + 1
                    ),
                };
                open = Some((kind, i + 1, String::new()));
            }
        }
    }
    assert!(open.is_none(), "{name}: a block is not closed");
    blocks
}

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

/// Every sheet follows the convention; every interactive command has its twin; every
/// sheet with commands has its test below; every sheet has its answer key.
#[test]
fn sheets_follow_the_convention() {
    let tested = [
        "README.md",
        "01-poignee-de-main.md",
        "02-time-wait.md",
        "03-alternance.md",
        "04-duplex-fork.md",
        "05-latence.md",
    ];
    for name in sheet_names() {
        let blocks = blocks(&name);
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
        if !run.is_empty() {
            assert!(
                tested.contains(&name.as_str()),
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

/// Run every `sh` block of NAME, in order, against a fresh lab.
fn run_sheet(name: &str) {
    let blocks: Vec<Block> = blocks(name)
        .into_iter()
        .filter(|b| b.kind == Kind::Run)
        .collect();
    let test = format!("sheet-{}", name.trim_end_matches(".md"));
    let Some(lab) = Lab::up(&test, &[]) else {
        return;
    };
    let shim = compose_v1_shim();
    let started = Instant::now();
    for b in &blocks {
        let mut cmd = command(Some(&lab), "bash");
        cmd.arg("-c").arg(format!("set -euo pipefail\n{}", b.text));
        if let Some(dir) = &shim {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![dir.clone()];
            paths.extend(std::env::split_paths(&path));
            cmd.env("PATH", std::env::join_paths(paths).unwrap());
        }
        let ran = run(&mut cmd, BLOCK_LIMIT);
        assert!(
            ran.out.status.success(),
            "{name}:{}: the block failed:\n{}",
            b.line,
            ran.report
        );
        eprintln!("{name}:{}: ok in {:.1} s", b.line, ran.took.as_secs_f64());
    }
    eprintln!(
        "{name}: {} blocks in {:.1} s",
        blocks.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sheet_readme_commands_run() {
    run_sheet("README.md");
}

#[test]
fn sheet_01_handshake_commands_run() {
    run_sheet("01-poignee-de-main.md");
}

#[test]
fn sheet_02_time_wait_commands_run() {
    run_sheet("02-time-wait.md");
}

#[test]
fn sheet_03_alternation_commands_run() {
    run_sheet("03-alternance.md");
}

#[test]
fn sheet_04_duplex_commands_run() {
    run_sheet("04-duplex-fork.md");
}

#[test]
fn sheet_05_latency_commands_run() {
    run_sheet("05-latence.md");
}
