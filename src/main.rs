//! `chat`: parse the command line, start the logger, run the mode, map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = chatlab::cli::Cli::parse();
    chatlab::logging::init("chat", cli.verbose);
    match chatlab::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chat: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
