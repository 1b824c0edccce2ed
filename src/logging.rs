//! Diagnostics on stderr: `PROGRAM[PID]: message`, so the two processes of a duplex side can be told apart.

use std::io::Write;

use log::{Level, LevelFilter};

/// Start env_logger. `RUST_LOG` wins over `-v`; without either, info messages are shown.
pub fn init(program: &'static str, verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Info,
        1 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .parse_env("RUST_LOG")
        .format(move |f, record| {
            let pid = std::process::id();
            match record.level() {
                Level::Info => writeln!(f, "{program}[{pid}]: {}", record.args()),
                level => writeln!(f, "{program}[{pid}] {level}: {}", record.args()),
            }
        })
        .init();
}
