//! `/proc/net/tcp` and `/proc/net/tcp6`: every TCP socket of this network namespace, with its
//! addresses, state, queues, timer and inode (what `/proc/PID/fd` links to).

use std::fmt;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Error;

/// A TCP state, as the kernel numbers it (`include/net/tcp_states.h`).
///
/// Named as RFC 793, the ladder and the exercise sheets name them (`SYN_RCVD`, not the
/// kernel's `TCP_SYN_RECV`): the page shows the ladder's states and the probe's side by side,
/// in one spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    Established,
    SynSent,
    SynRcvd,
    FinWait1,
    FinWait2,
    TimeWait,
    Closed,
    CloseWait,
    LastAck,
    Listen,
    Closing,
    /// A number this reader does not know.
    Unknown,
}

impl TcpState {
    const ALL: [TcpState; 12] = [
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRcvd,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::TimeWait,
        TcpState::Closed,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::Closing,
        TcpState::Unknown,
    ];

    /// The state of the kernel's number CODE (the `st` column, in hex there).
    pub fn from_code(code: u8) -> TcpState {
        match code {
            1..=11 => TcpState::ALL[usize::from(code) - 1],
            _ => TcpState::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRcvd => "SYN_RCVD",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Closed => "CLOSED",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::Closing => "CLOSING",
            TcpState::Unknown => "UNKNOWN",
        }
    }

    /// The state NAME names (as [`TcpState::name`] spells it), else Unknown.
    pub fn from_name(name: &str) -> TcpState {
        TcpState::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .unwrap_or(TcpState::Unknown)
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TcpState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TcpState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TcpState::from_name(&String::deserialize(d)?))
    }
}

/// One line of the table: a TCP socket of this host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Socket {
    /// The addresses as the kernel has them (an IPv4 peer of a dual-stack socket is
    /// `::ffff:a.b.c.d`).
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub state: TcpState,
    /// Bytes sent, not yet acknowledged (Send-Q).
    pub send_q: u32,
    /// Bytes received, not yet read by the program (Recv-Q).
    pub recv_q: u32,
    /// TIME_WAIT: seconds left before the kernel forgets the connection.
    pub timer_s: Option<f64>,
    /// 0 for a socket no process holds (TIME_WAIT, a connection not accepted yet).
    pub inode: u64,
}

/// Every TCP socket of this host, IPv4 and IPv6, from the tables under PROC (`/proc`).
///
/// A host without IPv6 has no `tcp6`: only a missing `tcp` is an error. Lines this reader
/// does not understand are skipped (the kernel only ever adds columns at the end).
pub fn table(proc: &Path) -> Result<Vec<Socket>, Error> {
    let v4 = proc.join("net/tcp");
    let mut sockets = parse_table(&fs::read_to_string(&v4).map_err(Error::read(&v4))?);
    if let Ok(text) = fs::read_to_string(proc.join("net/tcp6")) {
        sockets.extend(parse_table(&text));
    }
    Ok(sockets)
}

/// The sockets of one table's text (its header line first).
fn parse_table(text: &str) -> Vec<Socket> {
    text.lines().skip(1).filter_map(parse_line).collect()
}

/// `sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode …`
fn parse_line(line: &str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 10 {
        return None;
    }
    let (tx, rx) = f[4].split_once(':')?;
    let (timer, when) = f[5].split_once(':')?;
    // Timer 3 is TIME_WAIT's; `when` is in clock ticks (USER_HZ, 100 per second).
    let timer_s = (timer == "03")
        .then(|| u64::from_str_radix(when, 16).ok())
        .flatten()
        .map(|ticks| ticks as f64 / 100.0);
    Some(Socket {
        local: parse_addr(f[1])?,
        remote: parse_addr(f[2])?,
        state: TcpState::from_code(u8::from_str_radix(f[3], 16).ok()?),
        send_q: u32::from_str_radix(tx, 16).ok()?,
        recv_q: u32::from_str_radix(rx, 16).ok()?,
        timer_s,
        inode: f[9].parse().ok()?,
    })
}

/// `0100007F:1F90` → 127.0.0.1:8080: each 32-bit word of the address is printed as this
/// machine's integer of its bytes in network order (native byte order gives them back).
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (hex, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |i: usize| {
        let w = u32::from_str_radix(hex.get(8 * i..8 * i + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    let ip = match hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[4 * i..4 * i + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_tcp_table() {
        let line = "   3: 0B50500A:9C40 0A50500A:1F90 01 00000004:00000007 00:00000000 00000000     0        0 4242 1 0 20 4 30 10 -1";
        let s = parse_line(line).unwrap();
        assert_eq!(s.local, "10.80.80.11:40000".parse().unwrap());
        assert_eq!(s.remote, "10.80.80.10:8080".parse().unwrap());
        assert_eq!(
            (s.state, s.send_q, s.recv_q, s.inode),
            (TcpState::Established, 4, 7, 4242)
        );
        assert_eq!(s.timer_s, None);
        let tw = "   4: 0A50500A:1F90 0B50500A:9C40 06 00000000:00000000 03:000016A8 00000000     0        0 0 3 0";
        let s = parse_line(tw).unwrap();
        assert_eq!(s.state, TcpState::TimeWait);
        assert_eq!(s.timer_s, Some(58.0));
        let v6 = "   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 77 1";
        let s = parse_line(v6).unwrap();
        assert_eq!(s.local, "[::ffff:127.0.0.1]:8080".parse().unwrap());
        let lo6 = "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 78 1";
        let s = parse_line(lo6).unwrap();
        assert_eq!(s.local, "[::1]:8080".parse().unwrap());
        assert_eq!(s.state, TcpState::Listen);
        assert_eq!(parse_line("garbage"), None);
        assert_eq!(parse_addr("zz:0050"), None);
        assert_eq!(
            parse_addr("00000000:0050"),
            Some("0.0.0.0:80".parse().unwrap())
        );
    }

    #[test]
    fn one_spelling_for_each_state() {
        assert_eq!(TcpState::from_code(3).name(), "SYN_RCVD");
        assert_eq!(TcpState::from_name("SYN_RECV"), TcpState::Unknown);
        assert_eq!(TcpState::from_code(0x0A), TcpState::Listen);
        assert_eq!(TcpState::from_code(12), TcpState::Unknown);
        for code in 1..=11 {
            let s = TcpState::from_code(code);
            assert_eq!(TcpState::from_name(s.name()), s);
            assert_ne!(s, TcpState::Unknown);
        }
        assert_eq!(
            serde_json::to_string(&TcpState::FinWait1).unwrap(),
            "\"FIN_WAIT_1\""
        );
    }

    #[test]
    fn this_process_sees_its_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let all = table(Path::new(super::super::PROC)).unwrap();
        assert!(
            all.iter()
                .any(|s| s.local.port() == port && s.state == TcpState::Listen && s.inode != 0),
            "{all:?}"
        );
    }
}
