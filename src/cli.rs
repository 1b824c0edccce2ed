//! The command line. Every doc comment here is what a student reads in `chat MODE --help`.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The four programs of the TD « Chat » on TCP (port 8080 by default).
///
/// Data received from the peer goes to stdout, byte for byte; everything else (who connected,
/// who left, errors) goes to stderr.
///
/// Exit codes: 0 the conversation ended; 1 other failure; 2 bad command line; 3 cannot listen;
/// 4 cannot connect; 5 the connection broke while lines were still being sent.
#[derive(Debug, Parser)]
#[command(name = "chat", version, propagate_version = true)]
pub struct Cli {
    /// More diagnostics on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Q1 — the server: accept a client, print every line it sends
    ///
    /// Listens (with SO_REUSEADDR, unless --no-reuseaddr), accepts one client, prints
    /// what it sends until it leaves, then accepts the next one.
    ///
    /// Observe: when a client leaves, it closed first, so TIME_WAIT is on the client's side.
    /// Stop the server (Ctrl-C) while a client is connected instead: the server closes first;
    /// started again within 60 s with --no-reuseaddr, it is refused (TIME_WAIT on port 8080).
    Recv(RecvArgs),

    /// Q2 — the client: connect and send every line typed
    ///
    /// Each line typed goes out as one TCP segment when you press Enter. At the end of the
    /// input (Ctrl-D) it half-closes (shutdown write: FIN) and exits once the server has closed.
    ///
    /// Observe: in a capture (lab/capture server), one segment with the PSH flag per line,
    /// then the client's FIN first, the server's FIN after.
    Send(SendArgs),

    /// Q3 — alternating chat: strict turns, one line each
    ///
    /// Client: read a line from the keyboard, send it, wait for the answer, print it, again.
    /// Server (--listen): wait for a line, print it, read a line from the keyboard, send it.
    ///
    /// Observe: start the client with `--first receive` too: both wait for the other's
    /// line, nothing moves, forever — the deadlock of "what if they start differently?".
    /// There is no timeout to hide it; Ctrl-C ends it. (Both with `--first send` do not
    /// deadlock: the two lines cross on the wire, then both wait, in lockstep.)
    Alternate(AlternateArgs),

    /// Q4 — full-duplex chat: one process per direction (fork)
    ///
    /// After the connection, the program forks: one process copies keyboard → socket,
    /// the other socket → screen, so each line goes out as soon as it is typed and is shown
    /// as soon as it arrives. Ctrl-D half-closes (FIN) and the peer's end stops both processes.
    ///
    /// Observe: `ps -o pid,ppid,stat,cmd` shows two chat processes per side (they log their
    /// PIDs with -v); after the end, none is left, not even a zombie.
    Duplex(DuplexArgs),
}

/// The server side: where to listen.
#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on (0.0.0.0: every IPv4 interface; :: for IPv6 as well)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = parse_ip)]
    pub bind: IpAddr,

    /// Do not set SO_REUSEADDR: a restart is then refused while a connection on this
    /// port is in TIME_WAIT (see the TIME_WAIT exercise)
    #[arg(long)]
    pub no_reuseaddr: bool,
}

/// How received bytes are shown, and how lines are sent.
#[derive(Debug, Args)]
pub struct LineArgs {
    /// Send each line end as CRLF (like telnet); CRLF is always accepted on input
    #[arg(long)]
    pub crlf: bool,

    /// Print received bytes as they are even on a terminal (by default, control bytes
    /// such as ESC are shown as ^[ so a peer cannot drive your terminal)
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct RecvArgs {
    /// TCP port to listen on (0: let the system choose; the log says which)
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,

    #[command(flatten)]
    pub listen: ListenArgs,

    /// Print received bytes as they are even on a terminal
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The server: a name (in the lab: server), an IPv4 or an IPv6 address
    pub host: String,

    /// TCP port of the server
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,

    /// Keep trying to connect for up to SECONDS while the server is not up yet
    #[arg(long, value_name = "SECONDS")]
    pub retry: Option<u64>,

    #[command(flatten)]
    pub lines: LineArgs,
}

/// Connect to HOST, or (--listen) wait for the peer.
#[derive(Debug, Args)]
pub struct PeerArgs {
    /// The peer to connect to: a name (in the lab: server), an IPv4 or an IPv6 address
    #[arg(required_unless_present = "listen")]
    pub host: Option<String>,

    /// Be the server: listen and wait for the peer instead of connecting
    #[arg(short, long, conflicts_with_all = ["host", "retry"])]
    pub listen: bool,

    /// TCP port (to connect to, or with --listen to listen on; 0 lets the system choose)
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,

    /// Keep trying to connect for up to SECONDS while the server is not up yet
    #[arg(long, value_name = "SECONDS")]
    pub retry: Option<u64>,

    /// Address to listen on, with --listen (:: for IPv6 as well)
    #[arg(long, value_name = "ADDR", value_parser = parse_ip, conflicts_with = "host")]
    pub bind: Option<IpAddr>,

    /// With --listen: do not set SO_REUSEADDR (see the TIME_WAIT exercise)
    #[arg(long, conflicts_with = "host")]
    pub no_reuseaddr: bool,

    /// With --listen: after the peer leaves, wait for the next one
    #[arg(short, long, conflicts_with = "host")]
    pub keep_listening: bool,

    #[command(flatten)]
    pub lines: LineArgs,
}

#[derive(Debug, Args)]
pub struct AlternateArgs {
    #[command(flatten)]
    pub peer: PeerArgs,

    /// Who starts: by default the client sends first and the server receives first.
    /// Give both sides `receive` to see the deadlock
    #[arg(long, value_enum)]
    pub first: Option<Turn>,
}

#[derive(Debug, Args)]
pub struct DuplexArgs {
    #[command(flatten)]
    pub peer: PeerArgs,
}

/// Whose turn it is in the alternating chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Turn {
    /// Read a line from the keyboard and send it
    Send,
    /// Wait for a line from the peer and print it
    Receive,
}

/// An IP address, IPv6 with or without [brackets].
fn parse_ip(s: &str) -> Result<IpAddr, String> {
    crate::net::parse_host(s)
        .parse()
        .map_err(|_| format!("`{s}` is not an IPv4 or IPv6 address (e.g. 0.0.0.0, ::, 127.0.0.1)"))
}

impl PeerArgs {
    /// The address to listen on, with --listen.
    pub fn bind_ip(&self) -> IpAddr {
        self.bind.unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn listen_and_host_are_exclusive_and_one_is_needed() {
        assert!(Cli::try_parse_from(["chat", "duplex"]).is_err());
        assert!(Cli::try_parse_from(["chat", "duplex", "--listen", "server"]).is_err());
        assert!(Cli::try_parse_from(["chat", "duplex", "server", "--bind", "::"]).is_err());
        assert!(Cli::try_parse_from(["chat", "duplex", "--listen", "--retry", "3"]).is_err());
        assert!(Cli::try_parse_from(["chat", "duplex", "-l", "-k", "--bind", "[::]"]).is_ok());
        assert!(Cli::try_parse_from(["chat", "alternate", "server", "-k"]).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["chat", "recv", "-p", "70000"]).is_err());
        assert!(Cli::try_parse_from(["chat", "recv", "--bind", "server"]).is_err());
        assert!(Cli::try_parse_from(["chat", "alternate", "h", "--first", "both"]).is_err());
    }
}
