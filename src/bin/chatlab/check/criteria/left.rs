//! What a program does once its peer leaves: observed once, here; each question words it
//! (Q1's peer-close, Q3's peer-close, Q4's peer-end).
//!
//! The peer's FIN makes recv() return b'' (the end of the stream). A program may then crash
//! on it, print blank lines forever, spin on the CPU, exit in error, end cleanly, or wait.

use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::check::peer::Conn;
use crate::check::program::{End, Program};

/// How long the program is watched at most once its peer has left.
const WATCH: Duration = Duration::from_secs(1);

/// What the program did once its peer left.
pub struct Left {
    /// The line naming a crash, on its stderr since the mark given.
    pub crash: Option<String>,
    /// Newlines printed since the peer left (a loop on recv() == b'' prints empty lines).
    pub newlines: usize,
    /// The share of one CPU its processes used meanwhile (a loop on b'' spins).
    pub cpu: f64,
    /// How it ended, if it has.
    pub end: Option<End>,
    /// Whether the question's DONE held when the watch ended.
    pub done: bool,
}

/// The peer leaves (CONN sends FIN and stops reading); PROG is watched for [`WATCH`], or
/// until DONE holds; a crash counts from ERR_MARK in its stderr. Then what it did.
pub fn peer_leaves(prog: &Program, conn: &Conn, err_mark: usize, done: impl Fn() -> bool) -> Left {
    let out_mark = prog.out.len();
    let cpu0 = prog.cpu();
    let t0 = Instant::now();
    conn.close();
    let deadline = t0 + WATCH;
    while !done() && Instant::now() < deadline {
        sleep(Duration::from_millis(20));
    }
    // What it wrote last (a traceback, an empty line) reaches our readers.
    sleep(Duration::from_millis(50));
    let cpu = (prog.cpu() - cpu0) / t0.elapsed().as_secs_f64();
    Left {
        crash: prog.crashed_since(err_mark),
        newlines: prog.out.text_since(out_mark).matches('\n').count(),
        cpu,
        end: prog.end(),
        done: done(),
    }
}

impl Left {
    /// Empty lines printed without end: more than a program says when its client leaves.
    pub fn blank_lines(&self) -> bool {
        self.newlines > 2
    }

    /// An exit status other than 0, if it exited so.
    pub fn error_status(&self) -> Option<i32> {
        match self.end {
            Some(End::Exited(c)) if c != 0 => Some(c),
            _ => None,
        }
    }
}
