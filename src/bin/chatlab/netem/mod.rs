//! `chatlab netem`: the userspace network impairment engine (delay, jitter, loss, rate on
//! packets taken from an NFQUEUE), for kernels without `sch_netem` (Docker Desktop, WSL2, some
//! CI kernels).
//!
//! # Layout
//!
//! - [`cli`]: the options, netem's vocabulary (`--delay 100ms --loss 5% --rate 1mbit`).
//! - [`units`]: parsing times, percentages and rates, with one-line errors.
//! - [`sched`]: the pure logic: loss, limit, release times (delay, jitter, rate), FIFO order.
//! - [`nfqueue`]: the kernel side: a minimal NFQUEUE netlink client (packet ids and lengths in, verdicts out).
//! - [`engine`]: the event loop joining them: one thread, `ppoll` on the queue and a signalfd
//!   with a timeout to the next release.

pub mod cli;
pub mod engine;
pub mod nfqueue;
pub mod sched;
pub mod units;

pub use engine::run;
