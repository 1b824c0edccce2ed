//! netem-style values on the command line: times (`100ms`), percentages (`5%`), rates (`1mbit`).
//!
//! Unlike `tc`, a bare number is refused (except `0`): `tc` reads `delay 100` as 100 µs and
//! `rate 1000` as 1000 bit/s, a classic trap. Every error is one line that names the value and
//! says what would be accepted.

use std::fmt;
use std::time::Duration;

/// A value that is not one this module reads: which kind of value, the text given, and why.
/// Its `Display` is the one line clap prints after « invalid value 'TEXT' for '--OPTION' »
/// (lab/netem reads it from there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadValue {
    pub kind: Kind,
    pub text: String,
    pub why: Why,
}

/// The kinds of values read here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Time,
    Percent,
    Rate,
}

/// What is wrong with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Not a number with a unit of its kind.
    Unreadable,
    /// A bare number where a unit is needed (`100` for a time: µs in tc).
    NoUnit,
    /// More than the most of its kind.
    TooBig,
    /// Less than the least of its kind (a rate under 1 bit/s).
    TooSmall,
}

impl BadValue {
    /// The error of TEXT, a value of KIND, for WHY.
    fn of(kind: Kind, text: &str, why: Why) -> BadValue {
        BadValue {
            kind,
            text: text.to_string(),
            why,
        }
    }
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.text;
        match (self.kind, self.why) {
            (Kind::Time, Why::NoUnit) => write!(
                f,
                "bad time '{text}': give a unit: us, ms or s (e.g. {text}ms)"
            ),
            (Kind::Time, Why::TooBig) => write!(f, "bad time '{text}': at most 3600s"),
            (Kind::Time, Why::Unreadable | Why::TooSmall) => write!(
                f,
                "bad time '{text}': use a number and a unit: us, ms or s (e.g. 100ms)"
            ),
            (Kind::Percent, Why::TooBig) => write!(f, "bad percentage '{text}': at most 100%"),
            (Kind::Percent, Why::Unreadable | Why::NoUnit | Why::TooSmall) => write!(
                f,
                "bad percentage '{text}': use a number from 0 to 100, e.g. 5%"
            ),
            (Kind::Rate, Why::NoUnit) => write!(
                f,
                "bad rate '{text}': give a unit: kbit, mbit, gbit or kbps, mbps (e.g. {text}kbit)"
            ),
            (Kind::Rate, Why::TooBig) => write!(f, "bad rate '{text}': at most 1000tbit"),
            (Kind::Rate, Why::TooSmall) => write!(f, "bad rate '{text}': must be at least 1bit"),
            (Kind::Rate, Why::Unreadable) => write!(
                f,
                "bad rate '{text}': use a number and a unit: kbit, mbit, gbit (bits/s) or kbps, mbps (bytes/s), e.g. 1mbit"
            ),
        }
    }
}

impl std::error::Error for BadValue {}

/// Split `12.5ms` into (`12.5`, `ms`); the number part may have a fraction.
fn split_number(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    value.is_finite().then_some((value, unit))
}

/// A time: a number with `ns`, `us`, `ms` or `s` (tc's long forms such as `msec`,
/// `usecs`, `sec` too). `0` alone is accepted.
pub fn parse_time(text: &str) -> Result<Duration, BadValue> {
    let bad = |why| BadValue::of(Kind::Time, text, why);
    let text_l = text.trim().to_ascii_lowercase();
    let (value, unit) = split_number(&text_l).ok_or_else(|| bad(Why::Unreadable))?;
    let nanos_per_unit = match unit {
        "" if value == 0.0 => 0.0,
        "" => return Err(bad(Why::NoUnit)),
        "ns" | "nsec" | "nsecs" => 1.0,
        "us" | "usec" | "usecs" => 1e3,
        "ms" | "msec" | "msecs" => 1e6,
        "s" | "sec" | "secs" => 1e9,
        _ => return Err(bad(Why::Unreadable)),
    };
    let nanos = value * nanos_per_unit;
    // An hour is far more than any lab needs; it also keeps the arithmetic far from overflow.
    if nanos > 3600e9 {
        return Err(bad(Why::TooBig));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

/// A probability written as a percentage: `5%`, `0.5%`, or `5` (as tc, a bare number is
/// percent). Returns a fraction in `0.0..=1.0`.
pub fn parse_percent(text: &str) -> Result<f64, BadValue> {
    let bad = |why| BadValue::of(Kind::Percent, text, why);
    let trimmed = text.trim();
    let (value, unit) = split_number(trimmed).ok_or_else(|| bad(Why::Unreadable))?;
    if !(unit.is_empty() || unit == "%") {
        return Err(bad(Why::Unreadable));
    }
    if value > 100.0 {
        return Err(bad(Why::TooBig));
    }
    Ok(value / 100.0)
}

/// A rate in bits per second: `bit`, `kbit`, `mbit`, `gbit`, `tbit` (powers of 1000),
/// `kibit`, `mibit`, `gibit`, `tibit` (powers of 1024), or the same with `bps` for bytes per
/// second (`kbps` = 8000 bit/s), case-insensitive as in tc. Must be more than 0.
pub fn parse_rate(text: &str) -> Result<u64, BadValue> {
    let bad = |why| BadValue::of(Kind::Rate, text, why);
    let text_l = text.trim().to_ascii_lowercase();
    let (value, unit) = split_number(&text_l).ok_or_else(|| bad(Why::Unreadable))?;
    if unit.is_empty() {
        return Err(bad(Why::NoUnit));
    }
    let (prefix, bits_per_unit) = if let Some(p) = unit.strip_suffix("bit") {
        (p, 1.0)
    } else if let Some(p) = unit.strip_suffix("bps") {
        (p, 8.0)
    } else {
        return Err(bad(Why::Unreadable));
    };
    let scale = match prefix {
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "g" => 1e9,
        "t" => 1e12,
        "ki" => 1024.0,
        "mi" => 1024.0 * 1024.0,
        "gi" => 1024.0 * 1024.0 * 1024.0,
        "ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad(Why::Unreadable)),
    };
    let bits = value * scale * bits_per_unit;
    if bits < 1.0 {
        return Err(bad(Why::TooSmall));
    }
    if bits > 1e15 {
        return Err(bad(Why::TooBig));
    }
    Ok(bits.round() as u64)
}

/// A rate for humans: `1mbit`, `1.5kbit`, `100bit`.
pub fn format_rate(bits: u64) -> String {
    let (value, unit) = match bits {
        b if b >= 1_000_000_000 => (b as f64 / 1e9, "gbit"),
        b if b >= 1_000_000 => (b as f64 / 1e6, "mbit"),
        b if b >= 1_000 => (b as f64 / 1e3, "kbit"),
        b => (b as f64, "bit"),
    };
    format!("{}{unit}", trim_float(value))
}

/// A time for humans: `100ms`, `1.5s`, `250us`, `0ms`.
pub fn format_time(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 || ns == 0.0 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    format!("{}{unit}", trim_float(value))
}

/// A number for humans, with at most 3 decimals and no trailing zeros: `0.5`, `5`.
pub fn format_number(value: f64) -> String {
    trim_float(value)
}

fn trim_float(value: f64) -> String {
    let s = format!("{value:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said<T: fmt::Debug>(parsed: Result<T, BadValue>) -> String {
        parsed.unwrap_err().to_string()
    }

    #[test]
    fn times_with_units() {
        assert_eq!(parse_time("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_time("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_time("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_time("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_time("10msec"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_time("3usecs"), Ok(Duration::from_micros(3)));
        assert_eq!(parse_time("1sec"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_time("500ns"), Ok(Duration::from_nanos(500)));
        assert_eq!(parse_time("100MS"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_time("0"), Ok(Duration::ZERO));
        assert_eq!(parse_time("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn bad_times_say_why_in_one_line() {
        let err = parse_time("100").unwrap_err().to_string();
        assert!(
            err.contains("give a unit") && err.contains("100ms"),
            "{err}"
        );
        for bad in [
            "",
            "ms",
            "-5ms",
            "10 parsecs",
            "1.ms",
            ".5ms",
            "1e3ms",
            "10m",
            "5h",
        ] {
            let err = said(parse_time(bad));
            assert!(err.starts_with("bad time '"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
        assert!(parse_time("2h").is_err());
        assert!(said(parse_time("3601s")).contains("at most"));
    }

    #[test]
    fn percentages() {
        for (text, want) in [
            ("5%", 0.05),
            ("5", 0.05),
            ("0.5%", 0.005),
            ("100%", 1.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse_percent(text), Ok(want), "{text}");
        }
        assert!(said(parse_percent("101%")).contains("at most 100%"));
        for bad in ["", "%", "-1%", "5%%", "five", "5 %", "0.05x"] {
            let err = said(parse_percent(bad));
            assert!(err.starts_with("bad percentage '"), "{bad}: {err}");
        }
    }

    #[test]
    fn rates() {
        for (text, want) in [
            ("1mbit", 1_000_000),
            ("1Mbit", 1_000_000),
            ("100kbit", 100_000),
            ("1.5gbit", 1_500_000_000),
            ("64bit", 64),
            ("1kibit", 1024),
            ("1mibit", 1_048_576),
            ("1bps", 8),
            ("100kbps", 800_000),
            ("1mbps", 8_000_000),
        ] {
            assert_eq!(parse_rate(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn bad_rates_say_why_in_one_line() {
        assert!(said(parse_rate("1000")).contains("give a unit"));
        assert!(said(parse_rate("0mbit")).contains("at least 1bit"));
        for bad in ["", "mbit", "1 mbit", "1xbit", "1mb", "fast", "-1mbit"] {
            let err = said(parse_rate(bad));
            assert!(err.starts_with("bad rate '"), "{bad}: {err}");
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn formatting_round_trips() {
        assert_eq!(format_rate(1_000_000), "1mbit");
        assert_eq!(format_rate(1_500), "1.5kbit");
        assert_eq!(format_rate(12), "12bit");
        assert_eq!(format_time(Duration::from_millis(100)), "100ms");
        assert_eq!(format_time(Duration::ZERO), "0ms");
        assert_eq!(format_time(Duration::from_micros(250)), "250us");
        assert_eq!(format_time(Duration::from_millis(1500)), "1.5s");
        for t in ["100ms", "250us", "1.5s"] {
            assert_eq!(format_time(parse_time(t).unwrap()), t);
        }
    }

    #[test]
    fn each_error_is_its_one_line() {
        // Each line names the value that must produce it, and its kind the parser.
        let lines = [
            "bad time '1x': use a number and a unit: us, ms or s (e.g. 100ms)",
            "bad time '5': give a unit: us, ms or s (e.g. 5ms)",
            "bad time '2h': use a number and a unit: us, ms or s (e.g. 100ms)",
            "bad time '4000s': at most 3600s",
            "bad percentage '5x': use a number from 0 to 100, e.g. 5%",
            "bad percentage '101': at most 100%",
            "bad rate 'fast': use a number and a unit: kbit, mbit, gbit (bits/s) or kbps, mbps (bytes/s), e.g. 1mbit",
            "bad rate '1000': give a unit: kbit, mbit, gbit or kbps, mbps (e.g. 1000kbit)",
            "bad rate '0.5bit': must be at least 1bit",
            "bad rate '2000tbit': at most 1000tbit",
        ];
        for line in lines {
            let (kind, rest) = line["bad ".len()..].split_once(" '").unwrap();
            let text = rest.split_once("': ").unwrap().0;
            let parsed = match kind {
                "time" => parse_time(text).map(drop),
                "percentage" => parse_percent(text).map(drop),
                "rate" => parse_rate(text).map(drop),
                _ => unreachable!("{line}"),
            };
            assert_eq!(said(parsed), line);
        }
    }
}
