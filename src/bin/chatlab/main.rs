//! `chatlab`: the lab's instruments, one subcommand each, beside the TD's `chat`.
//!
//! # Layout
//!
//! - [`capture`]: the capture model that `ladder` and `view` draw: reading pcap files,
//!   connections and their TCP states, loading an experiment's captures and netem records.
//! - [`check`]: `chatlab check`, the conformance runner behind `lab/check`: does a student's
//!   program answer the TD? (`chatlab check-session` is its hidden helper.)
//! - [`lang`]: French or English for what the instruments say to students (`--lang`, locale).
//! - [`ladder`]: `chatlab ladder`, a TCP conversation drawn as a time-sequence diagram from real
//!   captures (text, SVG, Mermaid), behind `lab/ladder`.
//! - [`netem`]: `chatlab netem`, the userspace network impairment engine behind `lab/netem`
//!   on kernels without `sch_netem`.
//! - [`view`]: `chatlab view`, the live lab in a browser (hosts, processes, states, deadlock).
//! - [`procfs`]: the one reader of /proc (processes, their fds, the TCP table), shared by
//!   `check` and `view`.
//!
//! Each instrument is a folder of modules private to this binary; it uses the `chatlab`
//! library only where code is truly shared (logging; the line filter and the terminal
//! sanitizer, for what `check` quotes and `ladder` prints). JSON is written and read with
//! serde. A module's failures are a type of its own with a hand-written `Display` (an enum
//! where they differ in kind: [`procfs::Error`], `capture::pcap::ReadError`), no error crate.
//! Errors are printed once, as `chatlab COMMAND: …`, and mapped to the exit code here: an
//! instrument's `run` returns `Result<_, Error>` (its own error type, `Display` saying the
//! line) and prints no error.

mod capture;
mod check;
mod ladder;
mod lang;
mod netem;
mod procfs;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The instruments of the chat lab. Each command's --help says what it is for.
#[derive(Debug, Parser)]
#[command(name = "chatlab", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Check(check::Args),
    /// The session helper of `check` (internal): leads the program's terminal session.
    #[command(hide = true)]
    CheckSession {
        /// Be the warden above the session helper (it outlives the checker to clean up)
        #[arg(long)]
        warden: bool,
        #[arg(last = true)]
        command: Vec<std::ffi::OsString>,
    },
    /// The grid of a class checked by `lab/check --class DIR` (internal): report.csv and
    /// report.html in DIR, from DIR/.check/STUDENT/ROLE.json.
    #[command(hide = true)]
    CheckReport {
        dir: std::path::PathBuf,
        #[arg(long, value_enum)]
        lang: Option<lang::Lang>,
    },
    Netem(netem::cli::Args),
    Ladder(ladder::Args),
    View(view::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // A bad command line: one line, clap's first, without its usage block
            // (lab/netem reads it to say which of its values is wrong).
            let text = err.to_string();
            let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let first = lines.next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            // "the following required arguments were not provided:" names them on the next line.
            match lines.next().filter(|_| first.ends_with(':')) {
                Some(what) => eprintln!("chatlab: {first} {what} (see chatlab --help)"),
                None => eprintln!("chatlab: {first} (see chatlab --help)"),
            }
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Check(args) => match check::run(&args) {
            Ok(code) => ExitCode::from(code),
            Err(err) => {
                let code = err.exit_code();
                failed("check", err, code)
            }
        },
        Command::CheckSession {
            warden: true,
            command,
        } => check::session::warden(&command),
        Command::CheckSession { command, .. } => check::session::run(&command),
        Command::CheckReport { dir, lang } => finish(
            "check-report",
            check::class::run(&dir, lang::Lang::choose(lang))
                .map_err(|err| format!("{}: {err}", dir.display())),
        ),
        Command::View(args) => {
            chatlab::logging::init("chatlab", args.verbose);
            finish("view", view::run(&args))
        }
        Command::Netem(args) if args.check => {
            println!("{}", args.settings());
            ExitCode::SUCCESS
        }
        Command::Netem(args) => {
            chatlab::logging::init("chatlab", args.verbose);
            let stopped = netem::run(&args).map(|summary| {
                eprintln!("chatlab netem: stopped by {}: {summary}", summary.signal);
            });
            finish("netem", stopped)
        }
        Command::Ladder(args) => {
            chatlab::logging::init("chatlab", args.verbose);
            finish("ladder", ladder::run(&args))
        }
    }
}

/// The end of COMMAND: its error, if any, said once (see [`failed`]); exit code 1 for an error.
fn finish(command: &str, result: Result<(), impl std::fmt::Display>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => failed(command, err, 1),
    }
}

/// COMMAND's error, once on stderr as `chatlab COMMAND: …`, and its exit CODE.
fn failed(command: &str, err: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("chatlab {command}: {err}");
    ExitCode::from(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
