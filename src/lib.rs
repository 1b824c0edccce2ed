//! chatlab: the four programs of the TD « Chat » (Master 1 Réseaux & Système), as one `chat`
//! binary. The lab's instruments live in the `chatlab` binary (`src/bin/chatlab/`), which uses
//! this library only where code is truly shared: [`logging`], and [`lines`]' filter and
//! [`terminal`]'s sanitizer for what `check` quotes of a program and `ladder` prints of a
//! capture.
//!
//! # Layout
//!
//! - [`cli`]: the command line; its doc comments are each mode's `--help`.
//! - [`error`]: the failures a user must reason about, as one line and an exit code.
//! - [`net`]: listen (SO_REUSEADDR on purpose), accept, connect (with retry), half-close.
//! - [`lines`]: streaming copies of bytes and lines: bounded memory, lossless in pipes.
//! - [`terminal`]: showing untrusted bytes on a terminal without letting them drive it.
//! - [`modes`]: one file per TD question, readable top to bottom: `recv` (Q1), `send` (Q2),
//!   `alternate` (Q3), `duplex` (Q4, with fork).
//! - [`logging`]: diagnostics on stderr, tagged with the process id.
//!
//! Data flows one way: CLI → mode → net/lines/terminal. Modes never parse arguments; `net`
//! never prints data (it logs on stderr, like every module); exit codes come from
//! [`error::exit`]'s constants: `main.rs` maps an [`error::Error`] to its code, and duplex's
//! forked child, which cannot return, passes `exit::PEER_LOST` to `_exit`.

pub mod cli;
pub mod error;
pub mod lines;
pub mod logging;
pub mod modes;
pub mod net;
pub mod terminal;

use cli::{Cli, Mode};
use error::Error;

/// Run the mode the command line asked for.
pub fn run(cli: Cli) -> Result<(), Error> {
    match cli.mode {
        Mode::Recv(args) => modes::recv::run(&args),
        Mode::Send(args) => modes::send::run(&args),
        Mode::Alternate(args) => modes::alternate::run(&args),
        Mode::Duplex(args) => modes::duplex::run(&args),
    }
}
