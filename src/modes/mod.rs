//! One file per TD question, and what they share: stdio as raw file descriptors, the
//! accept-or-connect loop, and printing the peer's stream until it ends.

pub mod alternate;
pub mod duplex;
pub mod recv;
pub mod send;

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};

use log::{info, warn};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::cli::PeerArgs;
use crate::error::Error;
use crate::lines::{self, Buffers, CopyError};
use crate::net;
use crate::terminal::Display;

/// stdin as an unbuffered file: no byte read ahead sits in a userspace buffer (safe across fork).
pub(crate) fn stdin() -> Result<File, Error> {
    unbuffered(io::stdin().as_fd(), "cannot use stdin")
}

/// stdout as an unbuffered file: each write goes straight out.
pub(crate) fn stdout() -> Result<File, Error> {
    unbuffered(io::stdout().as_fd(), "cannot use stdout")
}

fn unbuffered(fd: BorrowedFd<'_>, doing: &'static str) -> Result<File, Error> {
    Ok(File::from(
        fd.try_clone_to_owned().map_err(Error::io(doing))?,
    ))
}

/// After a conversation: go on with the next peer, or stop.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Flow {
    Next,
    Stop,
}

/// Connect to HOST, or with --listen accept peers (the next one after each, under -k),
/// and hold each conversation with `converse`.
pub(crate) fn each_peer(
    args: &PeerArgs,
    mut converse: impl FnMut(TcpStream, SocketAddr, Option<&TcpListener>) -> Result<Flow, Error>,
) -> Result<(), Error> {
    let Some(host) = &args.host else {
        let listener = net::listen(args.bind_ip(), args.port, !args.no_reuseaddr)?;
        if !args.keep_listening {
            // One conversation only: stop listening, so a second client is refused, not left waiting.
            let (stream, peer) = net::accept(&listener)?;
            drop(listener);
            return converse(stream, peer, None).map(drop);
        }
        loop {
            let (stream, peer) = net::accept(&listener)?;
            match converse(stream, peer, Some(&listener)) {
                Ok(Flow::Stop) => return Ok(()),
                Ok(Flow::Next) => {}
                // One peer's broken connection does not stop a server that keeps listening.
                Err(err @ Error::PeerLost { .. }) => warn!("{err}"),
                Err(err) => return Err(err),
            }
            info!("waiting for the next peer");
        }
    };
    let stream = net::connect(host, args.port, args.retry)?;
    let peer = stream.peer_addr().map_err(Error::io("getpeername"))?;
    converse(stream, peer, None).map(drop)
}

/// How the peer's side of the connection ended.
#[derive(Debug)]
pub(crate) enum PeerEnd {
    /// FIN: it closed or half-closed.
    Closed,
    /// RST, or another error on the socket.
    Reset(io::Error),
    /// Our stdout went away (e.g. `| head`): nobody reads what it sends.
    StdoutClosed,
}

/// Print what the peer sends until it ends; log how it ended.
pub(crate) fn print_peer(
    mut stream: impl Read,
    peer: SocketAddr,
    stdout: &mut File,
    display: &mut Display,
    bufs: &mut Buffers,
) -> Result<PeerEnd, Error> {
    match lines::copy(&mut stream, stdout, display, bufs) {
        Ok(n) => {
            info!("{peer} closed the connection ({n} bytes received)");
            Ok(PeerEnd::Closed)
        }
        Err(err) => receiving_failed(peer, err),
    }
}

/// A copy from the peer to the screen stopped early: the peer reset, or stdout went away
/// (a closed pipe is a normal end: nobody reads any more), or stdout failed (an error).
pub(crate) fn receiving_failed(peer: SocketAddr, err: CopyError) -> Result<PeerEnd, Error> {
    match err {
        CopyError::Read(e) => {
            warn!("{peer} reset the connection: {e}");
            Ok(PeerEnd::Reset(e))
        }
        CopyError::Write(e) if e.kind() == ErrorKind::BrokenPipe => {
            info!("stdout was closed: stopping");
            Ok(PeerEnd::StdoutClosed)
        }
        CopyError::Write(source) => Err(Error::io("writing to stdout")(source)),
    }
}

/// A copy from the keyboard to the peer stopped early: reading stdin failed (an error), or
/// sending did (the peer is lost with our lines unsent).
pub(crate) fn sending_failed(peer: SocketAddr, err: CopyError) -> Error {
    match err {
        CopyError::Read(source) => Error::io("reading stdin")(source),
        CopyError::Write(source) => Error::PeerLost { peer, source },
    }
}

/// What woke us while waiting for the keyboard.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ready {
    Keyboard,
    PeerGone,
}

/// Wait until the keyboard has input, or the peer has closed (FIN/RST: POLLRDHUP, not data).
/// Typed input wins: a line already typed is read and sent first.
pub(crate) fn wait_keyboard(keyboard: &File, stream: &TcpStream) -> Result<Ready, Error> {
    // POLLRDHUP: the peer sent FIN (POLLHUP and POLLERR come unasked); data alone does not wake us.
    let watched = PollFlags::from_bits_retain(nix::libc::POLLRDHUP);
    let mut fds = [
        PollFd::new(keyboard.as_fd(), PollFlags::POLLIN),
        PollFd::new(stream.as_fd(), watched),
    ];
    loop {
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::io("poll")(e.into())),
        }
    }
    let typed = fds[0].revents().is_some_and(|r| !r.is_empty());
    // nix knows no POLLRDHUP flag, so revents() gives None when that bit is set.
    let hung_up = fds[1].revents().is_none_or(|r| !r.is_empty());
    Ok(if typed || !hung_up {
        Ready::Keyboard
    } else {
        Ready::PeerGone
    })
}
