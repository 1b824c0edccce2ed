//! The event loop: packets in from the queue, verdicts out when their time comes.
//!
//! One thread, no busy waiting. The loop sleeps in `ppoll` on two descriptors, the NFQUEUE
//! socket and a signalfd (SIGTERM, SIGINT, SIGUSR1), with a timeout that ends exactly at the
//! next release (nanosecond timeout, timer slack lowered to 1 µs so the kernel does not round
//! wake-ups up by its default 50 µs). Each wake-up:
//!
//! 1. reads up to [`BATCH`] packets and decides each one (drop now, or hold);
//! 2. releases every held packet that is due: as packets leave in arrival order, all of them
//!    become one "accept every packet up to this id" verdict;
//! 3. sends all the verdicts of this round in one datagram.
//!
//! With no delay, a packet is thus accepted in the same round it was read: the added latency
//! is one wake-up and one netlink round trip (measured between two namespaces on 2 busy cores:
//! ping RTT 8 µs without the engine, 51 µs through it).

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::time::TimeSpec;

use super::cli::Args;
use super::nfqueue::{self, NfQueue, Verdict};
use super::sched::{Counters, Decision, Scheduler};
use super::units::{format_rate, format_time};

/// Most packets read per round, so releases are never starved by a flood.
const BATCH: usize = 256;
/// Room in the kernel's queue beyond the held packets, for packets not read yet.
const KERNEL_HEADROOM: u32 = 1024;
/// Most packets `--record` writes (about 30 MB), then it stops recording and says so.
const RECORD_MAX: u64 = 200_000;

/// `--record`: each packet's headers at the moment it entered the engine, as a pcap.
///
/// The time is the wall clock (tcpdump's) when the engine read the packet from the queue: a
/// few tens of µs after TCP sent it (one wake-up), against the delays of milliseconds it
/// measures. Dropped packets are recorded too: the ladder knows them by their absence from
/// the capture of the same host, since the engine lets packets out in the order they came.
struct Recorder {
    out: crate::capture::pcap::Writer<std::io::BufWriter<std::fs::File>>,
    written: u64,
}

impl Recorder {
    fn create(path: &std::path::Path) -> io::Result<Recorder> {
        let file = std::fs::File::create(path)?;
        let out = crate::capture::pcap::Writer::new(std::io::BufWriter::new(file), 128)?;
        Ok(Recorder { out, written: 0 })
    }

    fn packet(&mut self, p: &nfqueue::Packet) -> io::Result<()> {
        if self.written == RECORD_MAX {
            log::warn!("--record: {RECORD_MAX} packets recorded, recording stops here");
        }
        self.written += 1;
        if self.written > RECORD_MAX {
            return Ok(());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        self.out.packet(now, p.head(), p.len)
    }
}

/// What stopped the engine with an error: one line, what we were doing and why.
#[derive(Debug)]
pub struct Error {
    pub doing: String,
    pub source: io::Error,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.doing, self.source)
    }
}

impl std::error::Error for Error {}

fn err(doing: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    move |source| Error {
        doing: doing.into(),
        source,
    }
}

fn errno(e: Errno) -> io::Error {
    io::Error::from(e)
}

/// How a run ended, for the last line on stderr.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The signal that stopped the engine (it runs until one comes).
    pub signal: Signal,
    pub counters: Counters,
    /// Released at exit without waiting for their time.
    pub held_at_exit: usize,
    /// Read after the stop signal and let through unimpaired.
    pub passed_at_exit: u64,
    /// The kernel's drops for this queue: queue full, and our socket buffer full.
    pub kernel_dropped: Option<(u64, u64)>,
    /// The worst lateness of a release behind its due time (how late the loop woke up).
    pub max_late: Duration,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counters;
        write!(
            f,
            "received={} released={} dropped-loss={} dropped-limit={} held-at-exit={} \
             passed-at-exit={} max-held={} max-late-us={}",
            c.received,
            c.released,
            c.dropped_loss,
            c.dropped_limit,
            self.held_at_exit,
            self.passed_at_exit,
            c.max_held,
            self.max_late.as_micros()
        )?;
        if let Some((queue_full, socket_full)) = self.kernel_dropped {
            write!(f, " kernel-dropped={}", queue_full + socket_full)?;
        }
        Ok(())
    }
}

fn counters_line(c: &Counters, held: usize) -> String {
    format!(
        "received={} released={} dropped-loss={} dropped-limit={} held={} max-held={}",
        c.received, c.released, c.dropped_loss, c.dropped_limit, held, c.max_held
    )
}

/// A seed from the clock and the process id, when none is given.
fn default_seed() -> u64 {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (u64::from(std::process::id()) << 32)
}

/// Run until SIGTERM or SIGINT; then let every held packet through and return the counters.
pub fn run(args: &Args) -> Result<Summary, Error> {
    let imp = args.impairment();
    let signals = block_signals()?;
    // Wake up on time: the default timer slack (50 µs) would delay every release by up to that.
    if let Err(e) = nix::sys::prctl::set_timerslack(1000) {
        log::debug!("cannot lower the timer slack: {e}");
    }
    let kernel_max = args.limit.saturating_add(KERNEL_HEADROOM);
    let queue = NfQueue::open(args.queue, kernel_max).map_err(|e| open_error(args.queue, e))?;

    let seed = args.seed.unwrap_or_else(default_seed);
    log::info!(
        "queue {}: delay {} jitter {} loss {}% rate {} limit {} (seed {seed}); \
         SIGTERM or Ctrl-C stops, held packets are then let through",
        args.queue,
        format_time(imp.delay),
        format_time(imp.jitter),
        imp.loss * 100.0,
        imp.rate.map_or("unlimited".to_string(), format_rate),
        imp.limit,
    );
    let record = match &args.record {
        Some(path) => Some(
            Recorder::create(path)
                .map_err(err(format!("cannot create the record {}", path.display())))?,
        ),
        None => None,
    };
    let mut engine = Engine {
        queue,
        sched: Scheduler::new(imp, seed),
        start: Instant::now(),
        batch: Vec::with_capacity(BATCH),
        max_late: Duration::ZERO,
        record,
    };
    let stopped_by = loop {
        let (queue_ready, signals_ready) = engine.wait(&signals)?;
        if signals_ready && let Some(stop) = engine.read_signals(&signals)? {
            break stop;
        }
        if queue_ready {
            engine.admit_batch()?;
        }
        engine.release_due()?;
    };
    engine.drain(stopped_by, args.queue)
}

/// SIGTERM, SIGINT and SIGUSR1 are read from a descriptor, not handled asynchronously: they
/// are blocked first.
fn block_signals() -> Result<SignalFd, Error> {
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
        mask.add(s);
    }
    mask.thread_block()
        .map_err(|e| err("cannot block signals")(errno(e)))?;
    SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| err("cannot create a signalfd")(errno(e)))
}

/// The loop's state: the queue, the held packets, and the clock they are timed on.
struct Engine {
    queue: NfQueue,
    sched: Scheduler<u32>,
    start: Instant,
    batch: Vec<nfqueue::Packet>,
    /// How late the first due packet of a round was released, at worst (wake-up latency).
    max_late: Duration,
    /// `--record`: every packet read, at the time it was read.
    record: Option<Recorder>,
}

impl Engine {
    /// Sleep until the queue or a signal is ready, or the next release is due; which are ready.
    fn wait(&self, signals: &SignalFd) -> Result<(bool, bool), Error> {
        let timeout = self
            .sched
            .next_release()
            .map(|at| TimeSpec::from_duration(at.saturating_sub(self.start.elapsed())));
        let mut fds = [
            PollFd::new(self.queue.fd(), PollFlags::POLLIN),
            PollFd::new(signals.as_fd(), PollFlags::POLLIN),
        ];
        match ppoll(&mut fds, timeout, None) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok((false, false)),
            Err(e) => return Err(err("poll")(errno(e))),
        }
        let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
        Ok((ready(&fds[0]), ready(&fds[1])))
    }

    /// The signals that came: SIGUSR1 prints the counters; the stop signal, if one came.
    fn read_signals(&self, signals: &SignalFd) -> Result<Option<Signal>, Error> {
        let mut stop = None;
        while let Some(info) = signals
            .read_signal()
            .map_err(|e| err("read signals")(errno(e)))?
        {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGUSR1) => log::info!(
                    "{}",
                    counters_line(&self.sched.counters(), self.sched.held())
                ),
                Ok(s) => stop = Some(s),
                Err(_) => {}
            }
        }
        Ok(stop)
    }

    /// Read a batch of packets, record them (`--record`), and decide each: hold it, or drop it now.
    fn admit_batch(&mut self) -> Result<(), Error> {
        self.batch.clear();
        self.queue
            .recv(&mut self.batch, BATCH)
            .map_err(err("read from the queue"))?;
        let now = self.start.elapsed();
        if let Some(r) = &mut self.record {
            for p in &self.batch {
                r.packet(p).map_err(err("write the record"))?;
            }
            r.out.flush().map_err(err("write the record"))?;
        }
        for p in &self.batch {
            match self.sched.arrive(now, p.id, p.len) {
                Decision::Hold => {}
                decision => {
                    log::trace!("packet {} ({} bytes): {decision:?}", p.id, p.len);
                    self.queue
                        .verdict(p.id, Verdict::Drop)
                        .map_err(err("send a verdict"))?;
                }
            }
        }
        Ok(())
    }

    /// Let through every held packet that is due (one "accept up to" verdict: they leave in
    /// arrival order), and send this round's verdicts in one datagram.
    fn release_due(&mut self) -> Result<(), Error> {
        let now = self.start.elapsed();
        if let Some(due) = self.sched.next_release().filter(|due| *due <= now) {
            self.max_late = self.max_late.max(now - due);
        }
        let mut last = None;
        self.sched.release_due(now, |id| last = Some(id));
        if let Some(id) = last {
            self.queue
                .verdict_up_to(id, Verdict::Accept)
                .map_err(err("send a verdict"))?;
        }
        self.queue.flush().map_err(err("send verdicts"))
    }

    /// At exit: let through what we hold, then what is still waiting in the kernel, then
    /// unbind (closing the socket alone would make the kernel drop what is still queued).
    fn drain(mut self, signal: Signal, queue_num: u16) -> Result<Summary, Error> {
        let mut last = None;
        let held_at_exit = self.sched.release_all(|id| last = Some(id));
        if let Some(id) = last {
            self.queue
                .verdict_up_to(id, Verdict::Accept)
                .map_err(err("send a verdict"))?;
        }
        let mut passed_at_exit = 0;
        for _ in 0..64 {
            self.batch.clear();
            self.queue
                .recv(&mut self.batch, BATCH)
                .map_err(err("read from the queue"))?;
            let Some(last) = self.batch.last().map(|p| p.id) else {
                break;
            };
            passed_at_exit += self.batch.len() as u64;
            self.queue
                .verdict_up_to(last, Verdict::Accept)
                .map_err(err("send a verdict"))?;
            self.queue.flush().map_err(err("send verdicts"))?;
        }
        if self.queue.verdict_errors > 0 || self.queue.overruns > 0 {
            log::warn!(
                "{} verdicts refused by the kernel, {} receive buffer overruns",
                self.queue.verdict_errors,
                self.queue.overruns
            );
        }
        let kernel_dropped = nfqueue::kernel_drops(queue_num);
        if let Err(e) = self.queue.unbind() {
            log::debug!("unbind queue {queue_num}: {e}");
        }
        Ok(Summary {
            signal,
            counters: self.sched.counters(),
            held_at_exit,
            passed_at_exit,
            kernel_dropped,
            max_late: self.max_late,
        })
    }
}

/// Why the queue could not be opened, and what to do about it.
fn open_error(queue: u16, source: io::Error) -> Error {
    let hint = match source.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EPERM) => "run as root (needs CAP_NET_ADMIN)",
        Some(Errno::EBUSY) => {
            "another program (another chatlab netem?) holds this queue: stop it or use --queue"
        }
        _ => "does this kernel have nfnetlink_queue? (modprobe nfnetlink_queue)",
    };
    Error {
        doing: format!("cannot bind NFQUEUE {queue} ({hint})"),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_is_one_line_of_key_values() {
        let s = Summary {
            signal: Signal::SIGTERM,
            counters: Counters {
                received: 10,
                released: 7,
                dropped_loss: 2,
                dropped_limit: 1,
                max_held: 4,
            },
            held_at_exit: 3,
            passed_at_exit: 0,
            kernel_dropped: Some((0, 1)),
            max_late: Duration::from_micros(42),
        };
        assert_eq!(
            s.to_string(),
            "received=10 released=7 dropped-loss=2 dropped-limit=1 held-at-exit=3 \
             passed-at-exit=0 max-held=4 max-late-us=42 kernel-dropped=1"
        );
    }

    #[test]
    fn open_errors_say_what_to_do() {
        let e = open_error(3, io::Error::from(Errno::EPERM));
        assert!(
            e.to_string()
                .starts_with("cannot bind NFQUEUE 3 (run as root"),
            "{e}"
        );
        let e = open_error(0, io::Error::from(Errno::EBUSY));
        assert!(e.to_string().contains("--queue"), "{e}");
    }
}
