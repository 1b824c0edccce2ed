//! Sockets through socket2, so every option the TD talks about is set on purpose, never by default.
//!
//! `std::net::TcpListener::bind` always sets SO_REUSEADDR on Unix; we build listeners with
//! socket2 so that `--no-reuseaddr` really leaves it off. This module never prints data (it
//! logs what it does on stderr) and never decides exit codes: it returns [`Error`]s.

use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::Error;

/// How long one connection attempt may wait for the SYN to be answered.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause between two attempts under `--retry`.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// socket() + SO_REUSEADDR (only if asked) + bind() + listen().
pub fn listen(ip: IpAddr, port: u16, reuseaddr: bool) -> Result<TcpListener, Error> {
    let addr = SocketAddr::new(ip, port);
    let fail = |source| Error::Listen {
        addr,
        reuseaddr,
        source,
    };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(fail)?;
    socket.set_reuse_address(reuseaddr).map_err(fail)?;
    socket.bind(&addr.into()).map_err(fail)?;
    socket.listen(16).map_err(fail)?;
    let listener = TcpListener::from(socket);
    let local = listener.local_addr().map_err(fail)?;
    info!(
        "listening on {local} (SO_REUSEADDR {})",
        if reuseaddr { "on" } else { "off" }
    );
    Ok(listener)
}

/// Wait for the next client. A connection aborted before we took it is skipped.
pub fn accept(listener: &TcpListener) -> Result<(TcpStream, SocketAddr), Error> {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                info!("{peer} connected");
                return Ok((stream, peer));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                ) =>
            {
                debug!("accept: {e}, waiting for the next client");
            }
            Err(source) => return Err(Error::io("accept")(source)),
        }
    }
}

/// A host as the user typed it: a name, an IPv4 address, or an IPv6 address with or without [brackets].
pub fn parse_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Connect to HOST:PORT, trying each address it resolves to; under `retry`, keep trying
/// (refused, unknown name, unreachable…) until that many seconds have passed.
pub fn connect(host: &str, port: u16, retry: Option<u64>) -> Result<TcpStream, Error> {
    let name = parse_host(host);
    if port == 0 {
        return Err(Error::Connect {
            host: name.to_string(),
            port,
            source: io::Error::new(io::ErrorKind::InvalidInput, "port 0 cannot be connected to"),
            retried_for: None,
        });
    }
    let deadline = retry.map(|secs| Instant::now() + Duration::from_secs(secs));
    let mut announced = false;
    loop {
        // Under --retry, no attempt outlasts the deadline.
        let timeout = deadline.map_or(CONNECT_TIMEOUT, |d| {
            d.saturating_duration_since(Instant::now())
                .clamp(RETRY_PAUSE, CONNECT_TIMEOUT)
        });
        let err = match try_connect(name, port, timeout) {
            Ok(stream) => {
                info!("connected to {}", describe(&stream));
                return Ok(stream);
            }
            Err(err) => err,
        };
        match deadline {
            Some(deadline) if Instant::now() + RETRY_PAUSE < deadline => {
                if !announced {
                    info!("{err}; retrying for up to {} s", retry.unwrap_or(0));
                    announced = true;
                } else {
                    debug!("{err}; retrying");
                }
                thread::sleep(RETRY_PAUSE);
            }
            _ => {
                let mut err = err;
                if let Error::Connect { retried_for, .. } = &mut err {
                    *retried_for = retry;
                }
                return Err(err);
            }
        }
    }
}

fn try_connect(name: &str, port: u16, timeout: Duration) -> Result<TcpStream, Error> {
    let addrs: Vec<SocketAddr> = (name, port)
        .to_socket_addrs()
        .map_err(|source| Error::Resolve {
            host: name.to_string(),
            source,
        })?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        debug!("trying {addr}");
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(Error::Connect {
        host: name.to_string(),
        port,
        source: last,
        retried_for: None,
    })
}

/// "peer (from local)" for the logs.
pub fn describe(stream: &TcpStream) -> String {
    match (stream.peer_addr(), stream.local_addr()) {
        (Ok(peer), Ok(local)) => format!("{peer} (from {local})"),
        (Ok(peer), Err(_)) => peer.to_string(),
        _ => "peer".to_string(),
    }
}

/// Half-close: send our FIN, keep receiving. A peer that is already gone is not an error.
pub fn shutdown_write(stream: &TcpStream) {
    match stream.shutdown(Shutdown::Write) {
        Ok(()) => debug!("end of input: sent FIN (shutdown write), still receiving"),
        Err(e) => debug!("shutdown(write): {e}"),
    }
}
