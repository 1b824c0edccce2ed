//! The impairment logic, with no sockets and no clock: packets arrive at a given time, the
//! scheduler says drop or hold, and gives back the held ones when their release time comes.
//!
//! Times are [`Duration`]s since the engine started, so tests can drive the clock.
//!
//! For each packet, in this order (as netem):
//! 1. loss: dropped with probability `loss` (counted as `dropped-loss`);
//! 2. limit: dropped when `limit` packets are already held (drop-tail, `dropped-limit`);
//! 3. otherwise held until `release = max(arrival + delay ± jitter, previous release) + len/rate`.
//!
//! The `max` with the previous release keeps the packets in their arrival order (FIFO),
//! with or without jitter: a packet never overtakes an earlier one. The kernel's netem reorders
//! packets when the jitter exceeds the gap between them (unless a rate is set); we don't,
//! because reordering makes TCP retransmit and blurs what the students are measuring. The cost:
//! with a jitter larger than the gap between packets, a packet may wait for the one before it,
//! so delays bunch up on the high side.
//!
//! With a rate, `len/rate` is the serialization time of the packet: the link is busy until
//! then and the next packet starts after it (the same model as netem's `rate`). Lengths are the
//! IP packet lengths the kernel reports.
//!
//! Memory is bounded: at most `limit` entries of 16 bytes plus the packet's tag.

use std::collections::VecDeque;
use std::time::Duration;

/// What to do to packets (all zero: pass them through untouched, in order).
#[derive(Clone, Debug, PartialEq)]
pub struct Impairment {
    /// Added to every packet.
    pub delay: Duration,
    /// Each packet's delay is drawn uniformly in `delay ± jitter` (never below 0).
    pub jitter: Duration,
    /// Probability of dropping a packet, `0.0..=1.0`.
    pub loss: f64,
    /// Link rate in bits per second (`None`: unlimited).
    pub rate: Option<u64>,
    /// Most packets held at once; a packet arriving when the queue is full is dropped.
    pub limit: usize,
}

impl Default for Impairment {
    fn default() -> Self {
        Impairment {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            loss: 0.0,
            rate: None,
            limit: 1000,
        }
    }
}

/// What the scheduler decided for an arriving packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Held; it comes back from [`Scheduler::release_due`] at its release time.
    Hold,
    /// Dropped by the loss probability.
    DropLoss,
    /// Dropped because `limit` packets were already held.
    DropLimit,
}

/// What happened so far; `received = released + dropped_loss + dropped_limit + held`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub received: u64,
    pub released: u64,
    pub dropped_loss: u64,
    pub dropped_limit: u64,
    /// The most packets held at once.
    pub max_held: u64,
}

/// A small, fast PRNG (xorshift64*), good enough for loss and jitter; not for secrets.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Any seed works (0 included): it is mixed through splitmix64 first.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A uniform float in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p >= 1.0 || (p > 0.0 && self.unit() < p)
    }

    /// A uniform integer in `0..=max`.
    pub fn up_to(&mut self, max: u64) -> u64 {
        match max.checked_add(1) {
            Some(n) => self.next_u64() % n,
            None => self.next_u64(),
        }
    }
}

/// Time to put `len` bytes on a link of `rate` bits per second.
pub fn serialization_time(len: u32, rate: u64) -> Duration {
    let nanos = u128::from(len) * 8 * 1_000_000_000 / u128::from(rate.max(1));
    Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
}

/// The held packets in release order, and the rules that put them there. `T` is whatever
/// identifies a packet to the caller (the NFQUEUE packet id in the engine).
#[derive(Debug)]
pub struct Scheduler<T> {
    imp: Impairment,
    rng: Rng,
    held: VecDeque<(Duration, T)>,
    /// The release time of the last packet held: nothing is released before it (FIFO), and
    /// with a rate it is when the link becomes free.
    last_release: Duration,
    counters: Counters,
}

impl<T> Scheduler<T> {
    pub fn new(imp: Impairment, seed: u64) -> Scheduler<T> {
        let capacity = imp.limit.min(4096);
        Scheduler {
            imp,
            rng: Rng::new(seed),
            held: VecDeque::with_capacity(capacity),
            last_release: Duration::ZERO,
            counters: Counters::default(),
        }
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// How many packets are held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// This packet's delay: `delay ± jitter`, uniform, never below 0.
    fn sample_delay(&mut self) -> Duration {
        let jitter = self.imp.jitter.as_nanos() as u64;
        if jitter == 0 {
            return self.imp.delay;
        }
        let offset = self.rng.up_to(2 * jitter);
        let nanos = (self.imp.delay.as_nanos() as u64 + offset).saturating_sub(jitter);
        Duration::from_nanos(nanos)
    }

    /// The release time of a packet of `len` bytes arriving `now`, if it were held.
    fn release_time(&mut self, now: Duration, len: u32) -> Duration {
        let start = (now + self.sample_delay()).max(self.last_release);
        match self.imp.rate {
            Some(rate) => start + serialization_time(len, rate),
            None => start,
        }
    }

    /// A packet of `len` bytes arrives at `now`: drop it, or hold it until its release time.
    pub fn arrive(&mut self, now: Duration, packet: T, len: u32) -> Decision {
        self.counters.received += 1;
        if self.rng.chance(self.imp.loss) {
            self.counters.dropped_loss += 1;
            return Decision::DropLoss;
        }
        if self.held.len() >= self.imp.limit {
            self.counters.dropped_limit += 1;
            return Decision::DropLimit;
        }
        let release = self.release_time(now, len);
        self.last_release = release;
        self.held.push_back((release, packet));
        self.counters.max_held = self.counters.max_held.max(self.held.len() as u64);
        Decision::Hold
    }

    /// When the next held packet is due (`None`: nothing held).
    pub fn next_release(&self) -> Option<Duration> {
        self.held.front().map(|(at, _)| *at)
    }

    /// Hand every packet due at `now` to `release`, oldest first; returns how many.
    pub fn release_due(&mut self, now: Duration, mut release: impl FnMut(T)) -> usize {
        let mut n = 0;
        while let Some((at, _)) = self.held.front() {
            if *at > now {
                break;
            }
            let (_, packet) = self.held.pop_front().expect("front exists");
            release(packet);
            n += 1;
        }
        self.counters.released += n as u64;
        n
    }

    /// Hand every held packet to `release` now, whatever its time (at exit), oldest first.
    pub fn release_all(&mut self, mut release: impl FnMut(T)) -> usize {
        let n = self.held.len();
        for (_, packet) in self.held.drain(..) {
            release(packet);
        }
        self.counters.released += n as u64;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn imp() -> Impairment {
        Impairment::default()
    }

    /// A scheduler for a test whose outcome does not depend on the seed.
    fn scheduler<T>(imp: Impairment) -> Scheduler<T> {
        Scheduler::new(imp, 1)
    }

    fn drain_at<T>(s: &mut Scheduler<T>, now: Duration) -> Vec<T> {
        let mut out = Vec::new();
        s.release_due(now, |p| out.push(p));
        out
    }

    #[test]
    fn no_impairment_releases_at_once_in_order() {
        let mut s = scheduler(imp());
        for i in 0..5 {
            assert_eq!(s.arrive(ms(10), i, 1500), Decision::Hold);
        }
        assert_eq!(s.next_release(), Some(ms(10)));
        assert_eq!(drain_at(&mut s, ms(10)), vec![0, 1, 2, 3, 4]);
        assert_eq!(s.next_release(), None);
        let c = s.counters();
        assert_eq!((c.received, c.released, c.max_held), (5, 5, 5));
    }

    #[test]
    fn delay_holds_each_packet_for_exactly_the_delay() {
        let mut s = scheduler(Impairment {
            delay: ms(100),
            ..imp()
        });
        s.arrive(ms(0), 'a', 100);
        s.arrive(ms(30), 'b', 100);
        assert_eq!(s.next_release(), Some(ms(100)));
        assert!(drain_at(&mut s, ms(99)).is_empty());
        assert_eq!(drain_at(&mut s, ms(100)), vec!['a']);
        assert_eq!(s.next_release(), Some(ms(130)));
        assert!(drain_at(&mut s, ms(129)).is_empty());
        assert_eq!(drain_at(&mut s, ms(200)), vec!['b']);
    }

    #[test]
    fn jitter_stays_within_bounds_and_keeps_fifo_order() {
        let jitter = Impairment {
            delay: ms(100),
            jitter: ms(10),
            ..imp()
        };
        let mut s = Scheduler::new(jitter.clone(), 42);
        let mut min = Duration::MAX;
        let mut max = Duration::ZERO;
        for i in 0..2000u64 {
            // Packets 50 ms apart never wait for each other: each release is arrival + sample.
            let now = ms(50 * i);
            s.arrive(now, i, 100);
            let at = s.next_release().unwrap();
            let d = at - now;
            min = min.min(d);
            max = max.max(d);
            assert_eq!(drain_at(&mut s, at), vec![i]);
        }
        assert!(min >= ms(90) && max <= ms(110), "{min:?}..{max:?}");
        assert!(
            min < ms(91) && max > ms(109),
            "the whole range is used: {min:?}..{max:?}"
        );

        // Packets 1 ms apart: jitter would reorder them; FIFO keeps the arrival order.
        let mut s = Scheduler::new(jitter, 7);
        for i in 0..500u64 {
            s.arrive(ms(i), i, 100);
        }
        let out = drain_at(&mut s, ms(10_000));
        assert_eq!(out, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn jitter_larger_than_delay_never_goes_below_zero() {
        let mut s = Scheduler::new(
            Impairment {
                delay: ms(5),
                jitter: ms(20),
                ..imp()
            },
            3,
        );
        for i in 0..1000u64 {
            let now = ms(100 * i);
            s.arrive(now, i, 100);
            let at = s.next_release().unwrap();
            assert!(at >= now && at <= now + ms(25));
            drain_at(&mut s, at);
        }
    }

    #[test]
    fn loss_probability_is_honoured() {
        let mut s = Scheduler::new(Impairment { loss: 0.2, ..imp() }, 12345);
        let n = 100_000;
        for i in 0..n {
            if s.arrive(ms(0), i, 100) == Decision::Hold {
                drain_at(&mut s, ms(0));
            }
        }
        let c = s.counters();
        let ratio = c.dropped_loss as f64 / n as f64;
        assert!((0.19..0.21).contains(&ratio), "{ratio}");
        assert_eq!(c.received, c.released + c.dropped_loss);
    }

    #[test]
    fn loss_zero_and_hundred_percent() {
        let mut none = scheduler(imp());
        let mut all = scheduler(Impairment { loss: 1.0, ..imp() });
        for i in 0..1000 {
            assert_eq!(none.arrive(ms(0), i, 1), Decision::Hold);
            assert_eq!(all.arrive(ms(0), i, 1), Decision::DropLoss);
        }
    }

    #[test]
    fn same_seed_same_decisions() {
        let run = |seed| {
            let mut s = Scheduler::new(
                Impairment {
                    loss: 0.5,
                    jitter: ms(3),
                    delay: ms(5),
                    ..imp()
                },
                seed,
            );
            (0..200u64)
                .map(|i| (s.arrive(ms(i * 20), i, 1), s.next_release()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }

    #[test]
    fn limit_drops_the_tail_and_counts_it() {
        let mut s = scheduler(Impairment {
            delay: ms(100),
            limit: 3,
            ..imp()
        });
        let decisions: Vec<_> = (0..5).map(|i| s.arrive(ms(i), i, 1)).collect();
        use Decision::*;
        assert_eq!(decisions, vec![Hold, Hold, Hold, DropLimit, DropLimit]);
        assert_eq!(s.held(), 3);
        assert_eq!(drain_at(&mut s, ms(100)), vec![0]);
        assert_eq!(s.arrive(ms(100), 5, 1), Hold, "room again after a release");
        let c = s.counters();
        assert_eq!(
            (c.received, c.released, c.dropped_limit, c.max_held),
            (6, 1, 2, 3)
        );
    }

    #[test]
    fn rate_paces_packets_by_serialization_time() {
        // 1 mbit: 1250 bytes take 10 ms.
        assert_eq!(serialization_time(1250, 1_000_000), ms(10));
        assert_eq!(
            serialization_time(1500, 1_000_000_000),
            Duration::from_nanos(12_000)
        );
        let mut s = scheduler(Impairment {
            rate: Some(1_000_000),
            ..imp()
        });
        // A burst of 4 packets at t=0 leaves at 10, 20, 30, 40 ms.
        for i in 0..4 {
            s.arrive(ms(0), i, 1250);
        }
        let mut times = Vec::new();
        while let Some(at) = s.next_release() {
            times.push(at);
            drain_at(&mut s, at);
        }
        assert_eq!(times, vec![ms(10), ms(20), ms(30), ms(40)]);
        // After the link went idle, a packet waits only for its own serialization.
        s.arrive(ms(100), 9, 1250);
        assert_eq!(s.next_release(), Some(ms(110)));
    }

    #[test]
    fn rate_with_delay_adds_both() {
        let mut s = scheduler(Impairment {
            delay: ms(50),
            rate: Some(1_000_000),
            ..imp()
        });
        s.arrive(ms(0), 0, 1250);
        s.arrive(ms(0), 1, 1250);
        assert_eq!(s.next_release(), Some(ms(60)));
        drain_at(&mut s, ms(60));
        assert_eq!(s.next_release(), Some(ms(70)));
    }

    #[test]
    fn release_all_empties_in_order_and_counts() {
        let mut s = scheduler(Impairment {
            delay: ms(1000),
            ..imp()
        });
        for i in 0..10 {
            s.arrive(ms(i), i, 1);
        }
        let mut out = Vec::new();
        assert_eq!(s.release_all(|p| out.push(p)), 10);
        assert_eq!(out, (0..10).collect::<Vec<_>>());
        assert_eq!(s.held(), 0);
        assert_eq!(s.counters().released, 10);
    }
}
