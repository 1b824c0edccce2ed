//! The failures a user must reason about, each printed as one line with what to do, and its exit code.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Exit codes, documented in `chat --help` and the README.
pub mod exit {
    /// Something else failed (an I/O error on the terminal, a fork that failed…).
    pub const OTHER: u8 = 1;
    /// Bad command line (clap's own code).
    pub const USAGE: u8 = 2;
    /// Cannot listen: the port is taken, or may not be used.
    pub const LISTEN: u8 = 3;
    /// Cannot connect: refused, unknown host, unreachable, timed out.
    pub const CONNECT: u8 = 4;
    /// The connection broke while we still had lines to send.
    pub const PEER_LOST: u8 = 5;
}

#[derive(Debug)]
pub enum Error {
    /// bind() or listen() failed.
    Listen {
        addr: SocketAddr,
        reuseaddr: bool,
        source: io::Error,
    },
    /// The host name did not resolve.
    Resolve { host: String, source: io::Error },
    /// No address of the host accepted the connection.
    Connect {
        host: String,
        port: u16,
        source: io::Error,
        retried_for: Option<u64>,
    },
    /// Sending failed: the peer reset or vanished with our lines unsent.
    PeerLost { peer: SocketAddr, source: io::Error },
    /// Anything else, with what we were doing.
    Io {
        doing: &'static str,
        source: io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Listen { .. } => exit::LISTEN,
            Error::Resolve { .. } | Error::Connect { .. } => exit::CONNECT,
            Error::PeerLost { .. } => exit::PEER_LOST,
            Error::Io { .. } => exit::OTHER,
        }
    }

    pub fn io(doing: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |source| Error::Io { doing, source }
    }
}

/// The OS error text without Rust's " (os error N)" suffix.
fn reason(err: &io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Listen {
                addr,
                reuseaddr,
                source,
            } => {
                let port = addr.port();
                write!(f, "cannot listen on {addr}: {}", reason(source))?;
                match source.kind() {
                    io::ErrorKind::AddrInUse => write!(
                        f,
                        " — another program listens on port {port}, or a connection that closed there \
                         is still in TIME_WAIT (60 s after the side that closed first); a restart may \
                         rebind despite TIME_WAIT only if both the old and the new listener set \
                         SO_REUSEADDR ({}): see `ss -tanp sport = :{port}`",
                        if *reuseaddr {
                            "this one did, so the old one did not, or the port is really in use"
                        } else {
                            "this one did not: drop --no-reuseaddr, or wait 60 s"
                        }
                    ),
                    io::ErrorKind::PermissionDenied => write!(
                        f,
                        " — ports below 1024 need root (or CAP_NET_BIND_SERVICE): use -p 8080"
                    ),
                    io::ErrorKind::AddrNotAvailable => {
                        write!(
                            f,
                            " — no interface of this host has that address: see `ip addr`"
                        )
                    }
                    _ => Ok(()),
                }
            }
            Error::Resolve { host, source } => write!(
                f,
                "cannot connect to {host}: unknown host ({}) — check the name (in the lab: server, client, client2)",
                reason(source)
            ),
            Error::Connect {
                host,
                port,
                source,
                retried_for,
            } => {
                write!(
                    f,
                    "cannot connect to {host} port {port}: {}",
                    reason(source)
                )?;
                if let Some(secs) = retried_for {
                    write!(f, " (still, after retrying for {secs} s)")?;
                }
                match source.kind() {
                    io::ErrorKind::ConnectionRefused => write!(
                        f,
                        " — nothing listens there: start the server first (chat recv, or chat … --listen), \
                         or give --retry SECONDS"
                    ),
                    io::ErrorKind::TimedOut => {
                        write!(f, " — no answer: is the host up, and is the address right?")
                    }
                    _ => Ok(()),
                }
            }
            Error::PeerLost { peer, source } => write!(
                f,
                "connection to {peer} lost while sending: {} — the peer closed or crashed before \
                 reading everything; what was not yet sent is lost",
                reason(source)
            ),
            Error::Io { doing, source } => write!(f, "{doing}: {}", reason(source)),
        }
    }
}

impl std::error::Error for Error {}
