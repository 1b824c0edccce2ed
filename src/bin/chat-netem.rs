//! `chat-netem`: userspace netem for kernels without `sch_netem` (see `chatlab::netem`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = chatlab::netem::cli::Args::parse();
    chatlab::logging::init("chat-netem", args.verbose);
    match chatlab::netem::run(&args) {
        Ok(summary) => {
            eprintln!("chat-netem: stopped by {}: {summary}", summary.signal);
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("chat-netem: {err}");
            ExitCode::FAILURE
        }
    }
}
