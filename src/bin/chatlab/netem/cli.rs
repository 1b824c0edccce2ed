//! The command line of `chatlab netem`; each option's doc comment is its `--help`.

use std::time::Duration;

use clap::Parser;

use super::sched::Impairment;
use super::units::{
    format_number, format_rate, format_time, parse_percent, parse_rate, parse_time,
};

/// Userspace netem: delay, jitter, loss and rate limit for the packets an NFQUEUE rule queues.
///
/// For kernels without the netem qdisc (sch_netem). It shapes the traffic that a rule sends to
/// its queue, usually the egress of one interface, as netem would:
///
///   iptables -A OUTPUT -o eth0 -j NFQUEUE --queue-num 0 --queue-bypass
///   chatlab netem --queue 0 --delay 100ms --jitter 10ms --loss 5% --rate 1mbit
///
/// Each packet is dropped with the --loss probability, or held for --delay ± --jitter (plus its
/// serialization time at --rate), then let through. Packets keep their order. At most --limit
/// packets are held; more are dropped. SIGTERM or Ctrl-C stops it: every held packet is let
/// through, the counters are printed on stderr; SIGUSR1 prints them without stopping. Thanks to
/// --queue-bypass, packets pass unimpaired while no engine runs. Needs root (CAP_NET_ADMIN).
///
/// Where conntrack is active (Docker containers), also exempt the interface from it:
///
///   iptables -t raw -A OUTPUT -o eth0 -j CT --notrack
///
/// otherwise a second packet of a new flow, sent while the first is held, clashes with it
/// when conntrack confirms them and the kernel drops it (the kernel's netem acts after
/// conntrack and has no such problem). lab/netem adds both rules.
#[derive(Debug, Parser)]
#[command(name = "netem", verbatim_doc_comment)]
pub struct Args {
    /// Delay added to every packet: a number and us, ms or s
    #[arg(long, value_name = "TIME", default_value = "0ms", value_parser = parse_time)]
    pub delay: Duration,

    /// Each packet's delay is drawn uniformly in DELAY ± JITTER (packets still keep their order)
    #[arg(long, value_name = "TIME", default_value = "0ms", value_parser = parse_time)]
    pub jitter: Duration,

    /// Probability of dropping each packet, e.g. 5% or 0.5%
    #[arg(long, value_name = "PERCENT", default_value = "0%", value_parser = parse_percent)]
    pub loss: f64,

    /// Link rate: kbit, mbit, gbit (bits/s) or kbps, mbps (bytes/s); unlimited by default
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub rate: Option<u64>,

    /// Most packets held at once; more are dropped (drop-tail), as netem's limit
    #[arg(long, value_name = "PACKETS", default_value_t = DEFAULT_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub limit: u32,

    /// NFQUEUE number, as in the rule's --queue-num
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub queue: u16,

    /// Record every packet queued, at the moment it entered (before its delay or its loss),
    /// into FILE: a pcap of its headers (nanosecond timestamps). tcpdump on this host sees a
    /// packet only when it leaves the engine; this is when TCP sent it (`chatlab ladder` draws
    /// the true one-way delay from it). At most 200000 packets are recorded.
    #[arg(long, value_name = "FILE")]
    pub record: Option<std::path::PathBuf>,

    /// Seed of the random generator (loss, jitter), for reproducible runs; default: time and pid
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Only check the options: print them as netem's settings (`delay 100ms loss 5%`) on
    /// stdout and exit, binding nothing (lab/netem checks its values this way)
    #[arg(long)]
    pub check: bool,

    /// More diagnostics on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// netem's default limit, which `settings` leaves out.
const DEFAULT_LIMIT: u32 = 1000;

impl Args {
    /// The settings in netem's words, normalised (`delay 100ms jitter 10ms loss 5% rate 1mbit
    /// limit 50`): what `--check` prints. Only what differs from no impairment is named.
    pub fn settings(&self) -> String {
        let mut words = Vec::new();
        if !self.delay.is_zero() || !self.jitter.is_zero() {
            words.push(format!("delay {}", format_time(self.delay)));
        }
        if !self.jitter.is_zero() {
            words.push(format!("jitter {}", format_time(self.jitter)));
        }
        if self.loss > 0.0 {
            words.push(format!("loss {}%", format_number(self.loss * 100.0)));
        }
        if let Some(rate) = self.rate {
            words.push(format!("rate {}", format_rate(rate)));
        }
        if self.limit != DEFAULT_LIMIT {
            words.push(format!("limit {}", self.limit));
        }
        words.join(" ")
    }

    /// The impairment these options describe.
    pub fn impairment(&self) -> Impairment {
        Impairment {
            delay: self.delay,
            jitter: self.jitter,
            loss: self.loss,
            rate: self.rate,
            limit: self.limit as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn netem_like_options() {
        let a = Args::try_parse_from([
            "netem", "--delay", "100ms", "--jitter", "10ms", "--loss", "5%", "--rate", "1mbit",
            "--limit", "50", "--queue", "3", "--seed", "7",
        ])
        .unwrap();
        let imp = a.impairment();
        assert_eq!(imp.delay, Duration::from_millis(100));
        assert_eq!(imp.jitter, Duration::from_millis(10));
        assert_eq!(imp.loss, 0.05);
        assert_eq!(imp.rate, Some(1_000_000));
        assert_eq!(imp.limit, 50);
        assert_eq!((a.queue, a.seed), (3, Some(7)));
        assert_eq!(a.record, None);
        let d = Args::try_parse_from(["netem"]).unwrap();
        assert_eq!(d.impairment(), Impairment::default());
    }

    #[test]
    fn check_prints_the_settings_normalised() {
        let settings = |args: &[&str]| {
            let mut all = vec!["netem", "--check"];
            all.extend_from_slice(args);
            Args::try_parse_from(all).unwrap().settings()
        };
        assert_eq!(settings(&[]), "");
        assert_eq!(
            settings(&["--delay", "0.1s", "--jitter", "10msec", "--loss", "0.5"]),
            "delay 100ms jitter 10ms loss 0.5%"
        );
        assert_eq!(
            settings(&["--rate", "100kbps", "--limit", "50"]),
            "rate 800kbit limit 50"
        );
        assert_eq!(settings(&["--limit", "1000"]), "");
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        let err = Args::try_parse_from(["netem", "--delay", "100"]).unwrap_err();
        assert!(err.to_string().contains("give a unit"), "{err}");
        let err = Args::try_parse_from(["netem", "--loss", "150%"]).unwrap_err();
        assert!(err.to_string().contains("at most 100%"), "{err}");
        assert!(Args::try_parse_from(["netem", "--limit", "0"]).is_err());
        assert!(Args::try_parse_from(["netem", "--rate", "fast"]).is_err());
    }
}
