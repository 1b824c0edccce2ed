//! A Windows checkout works: a clone made with `core.autocrlf=true` (Git for Windows' default)
//! keeps LF line ends in what runs or goes into the image, thanks to `.gitattributes`.
//!
//! The test clones this repository (`git clone` of `CARGO_MANIFEST_DIR`): a local clone holds
//! the COMMITTED files of HEAD, so with uncommitted changes it tests HEAD, not the working tree
//! (commit `.gitattributes` before trusting it).

mod kit;

use std::path::{Path, PathBuf};
use std::process::Command;

use kit::{root, run_ok as run};

/// A directory under cargo's temporary directory, removed on drop (even when a test fails).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("chatlab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `git` with no user or system configuration: only what the test passes counts.
fn git() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE");
    cmd
}

/// Clone FROM into INTO as Git for Windows does by default.
fn clone_autocrlf(from: &Path, into: &Path) {
    run(git()
        .args(["clone", "--quiet", "--config", "core.autocrlf=true"])
        .arg(from)
        .arg(into));
}

fn has_cr(path: &Path) -> bool {
    std::fs::read(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .contains(&b'\r')
}

/// The files of the clone that the lab scripts, CI and the image builds read or run.
fn files_that_must_be_lf(clone: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = [
        "compose.yaml",
        ".dockerignore",
        "Cargo.toml",
        "Cargo.lock",
        "rust-toolchain.toml",
    ]
    .iter()
    .map(|f| clone.join(f))
    .collect();
    for dir in ["lab", ".ci", "bench", "docker"] {
        for entry in std::fs::read_dir(clone.join(dir)).unwrap().flatten() {
            if entry.file_type().unwrap().is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn a_clone_with_autocrlf_keeps_lf_in_scripts_and_image_files() {
    let tmp = TempDir::new("checkout");

    // The control: the same clone of a repository without our .gitattributes gets CRLF,
    // so the clone below really ran with core.autocrlf=true in force.
    let plain = tmp.0.join("plain");
    run(git().args(["init", "--quiet"]).arg(&plain));
    std::fs::write(plain.join("script"), "#!/bin/sh\necho hello\n").unwrap();
    run(git()
        .current_dir(&plain)
        .args(["add", "script"])
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org"));
    run(git()
        .current_dir(&plain)
        .args(["commit", "--quiet", "-m", "probe"])
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org"));
    let plain_clone = tmp.0.join("plain-clone");
    clone_autocrlf(&plain, &plain_clone);
    assert!(
        has_cr(&plain_clone.join("script")),
        "core.autocrlf=true did not convert a file without attributes: this test proves nothing"
    );

    // This repository, cloned the same way.
    let clone = tmp.0.join("chatlab");
    clone_autocrlf(root(), &clone);
    let files = files_that_must_be_lf(&clone);
    for must in [
        "lab/help",
        "lab/lib.sh",
        "lab/tcpview.awk",
        "lab/build-offline",
        "docker/lab-server",
        "docker/Dockerfile",
        "docker/Dockerfile.offline",
        "docker/Dockerfile.agent",
        ".ci/run",
        "bench/throughput",
        "compose.yaml",
    ] {
        assert!(
            files.contains(&clone.join(must)),
            "{must} is not in the clone: update this test's list"
        );
    }
    let with_cr: Vec<String> = files
        .iter()
        .filter(|f| has_cr(f))
        .map(|f| f.strip_prefix(&clone).unwrap().display().to_string())
        .collect();
    assert!(
        with_cr.is_empty(),
        "CR line ends in a core.autocrlf=true clone (see .gitattributes): {with_cr:?}"
    );

    // Git's own view of every file: none converted to CRLF in the working tree.
    let eol = run(git().current_dir(&clone).args(["ls-files", "--eol"]));
    let eol = String::from_utf8_lossy(&eol.stdout);
    let crlf: Vec<&str> = eol.lines().filter(|l| l.contains("w/crlf")).collect();
    assert!(crlf.is_empty(), "files checked out with CRLF: {crlf:#?}");

    // And a lab script of that clone runs (its shebang line would end in CR otherwise).
    let help = run(Command::new(clone.join("lab/help")).current_dir(&clone));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("lab/build-offline") && text.contains("lab/capture"),
        "lab/help in the clone:\n{text}"
    );
}
