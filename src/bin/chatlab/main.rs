//! `chatlab`: the lab's instruments, one subcommand each, beside the TD's `chat`.
//!
//! # Layout
//!
//! - [`check`]: `chatlab check`, the conformance runner behind `lab/check`: does a student's
//!   program answer the TD? (`chatlab check-session` is its hidden helper.)
//! - [`lang`]: French or English for what the instruments say to students (`--lang`, locale).
//! - [`netem`]: `chatlab netem`, the userspace network impairment engine behind `lab/netem`
//!   on kernels without `sch_netem`.
//!
//! Each instrument is a folder of modules private to this binary; it uses the `chatlab`
//! library only where code is truly shared (logging). Errors are printed once, as
//! `chatlab COMMAND: …`, and mapped to the exit code here.

mod check;
mod lang;
mod netem;

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
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // One line: clap's first, without its usage block.
            let text = err.to_string();
            let first = text.lines().next().unwrap_or_default();
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("chatlab: {first} (see chatlab --help)");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Check(args) => ExitCode::from(check::run(&args)),
        Command::CheckSession { command } => check::session::run(&command),
        Command::CheckReport { dir, lang } => {
            match check::class::run(&dir, lang::Lang::choose(lang)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("chatlab check-report: {}: {err}", dir.display());
                    ExitCode::FAILURE
                }
            }
        }
        Command::Netem(args) => {
            chatlab::logging::init("chatlab", args.verbose);
            match netem::run(&args) {
                Ok(summary) => {
                    eprintln!("chatlab netem: stopped by {}: {summary}", summary.signal);
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("chatlab netem: {err}");
                    ExitCode::FAILURE
                }
            }
        }
    }
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
