//! Q4 — the full-duplex chat: after the connection, fork; one process per direction.
//!
//! ```text
//!            parent: socket → screen          child: keyboard → socket
//!   peer ──────────────▶ stdout      stdin ──────────────▶ peer
//! ```
//!
//! Both processes hold the socket after fork (UNP §16.2), so:
//! - at the end of the keyboard the child calls shutdown(Write), not close(): close() would
//!   send no FIN while the parent still holds the socket. The parent keeps printing.
//! - at the end of the peer's stream the parent must stop the child, which is blocked reading
//!   the keyboard and would otherwise linger (the TD's classic pitfall), then reap it (no zombie).
//!   Input from a pipe or a file first gets half a second to go out (a peer that half-closed
//!   still reads); input cut short is reported (exit 5), never dropped silently.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, warn};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::prctl;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use crate::cli::DuplexArgs;
use crate::error::{Error, exit};
use crate::lines::{self, Buffers, LineEnds};
use crate::modes::{self, Flow, PeerEnd};
use crate::terminal::Display;

pub fn run(args: &DuplexArgs) -> Result<(), Error> {
    let mut screen = Screen::new(args.peer.lines.raw)?;
    modes::each_peer(&args.peer, |stream, peer, listener| {
        // Prepare: everything the child will use is made now, as after fork it allocates nothing.
        let keyboard = modes::stdin()?;
        let mut ends = LineEnds::new(args.peer.lines.crlf);
        let mut bufs = Buffers::for_filter(&ends);
        // Nothing may sit in a userspace buffer at fork, or both processes would write it.
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();
        log::logger().flush();
        let parent = getpid();

        // SAFETY: this process is single-threaded (chat starts no thread; tests/duplex.rs
        // checks `Threads: 1`), so the child inherits no lock held by another thread. The child
        // runs only `keyboard_to_socket`, which makes system calls on file descriptors (read,
        // write, shutdown, close, prctl, getppid) on buffers allocated above, and leaves by
        // `_exit`: it never returns into this function, runs no destructor, and flushes no
        // buffer shared with the parent.
        match unsafe { fork() }.map_err(|e| Error::io("fork")(e.into()))? {
            ForkResult::Child => {
                keyboard_to_socket(keyboard, &stream, listener, parent, &mut ends, &mut bufs)
            }
            ForkResult::Parent { child } => {
                drop(keyboard);
                socket_to_screen(child, stream, peer, &mut screen)
            }
        }
    })
}

/// The parent's side: stdout, how the peer's bytes are shown there, and the buffers.
struct Screen {
    stdout: File,
    display: Display,
    bufs: Buffers,
}

impl Screen {
    fn new(raw: bool) -> Result<Screen, Error> {
        let display = Display::for_stdout(raw);
        Ok(Screen {
            stdout: modes::stdout()?,
            bufs: Buffers::for_filter(&display),
            display,
        })
    }
}

/// How the keyboard process ended, as the parent learns it.
#[derive(Debug, PartialEq, Eq)]
enum Keyboard {
    /// All its input went out (or there was none left to send).
    Done,
    /// Input was left unsent: the peer went away first.
    CutShort,
}

/// The parent: socket → screen until the peer's stream ends, then end the keyboard process.
fn socket_to_screen(
    child: Pid,
    stream: TcpStream,
    peer: SocketAddr,
    screen: &mut Screen,
) -> Result<Flow, Error> {
    debug!("process {child} copies keyboard → {peer}; this process copies {peer} → screen");
    let end = modes::print_peer(
        &stream,
        peer,
        &mut screen.stdout,
        &mut screen.display,
        &mut screen.bufs,
    );
    let keyboard = finish_keyboard(child);
    // The child's copy of the socket died with it: this close is the last one, so the kernel
    // sends our FIN now (if the child had not already half-closed).
    drop(stream);
    match end? {
        PeerEnd::StdoutClosed => Ok(Flow::Stop),
        PeerEnd::Closed | PeerEnd::Reset(_) if keyboard == Keyboard::CutShort => {
            Err(Error::PeerLost {
                peer,
                source: io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "it ended the conversation before all our input was sent",
                ),
            })
        }
        PeerEnd::Closed | PeerEnd::Reset(_) => Ok(Flow::Next),
    }
}

/// The child: keyboard → socket until the keyboard ends, then half-close, then `_exit`.
///
/// Invariants: only system calls on file descriptors, on buffers allocated before fork; no
/// logging, no allocation; never returns (`-> !`), so no destructor runs in the child.
fn keyboard_to_socket(
    mut keyboard: File,
    stream: &TcpStream,
    listener: Option<&TcpListener>,
    parent: Pid,
    ends: &mut LineEnds,
    bufs: &mut Buffers,
) -> ! {
    // If the parent dies (even by SIGKILL), the kernel sends us SIGTERM: no orphan left
    // reading the keyboard. Checked after, in case the parent died before the prctl.
    if prctl::set_pdeathsig(Signal::SIGTERM).is_err() || getppid() != parent {
        exit_now(1);
    }
    // The concurrent server's rule (UNP §4.8): the child closes the listener, the parent keeps
    // it. This fd's owner lives in the parent's frames, which the child never returns to, so
    // nothing closes it twice.
    if let Some(listener) = listener {
        let _ = nix::unistd::close(listener.as_raw_fd());
    }
    let code = match lines::copy(&mut keyboard, &mut &*stream, ends, bufs) {
        // End of the keyboard (Ctrl-D): FIN to the peer; the parent keeps receiving.
        Ok(_) => {
            let _ = stream.shutdown(Shutdown::Write);
            0
        }
        // The keyboard failed (e.g. the terminal hung up): end our direction all the same.
        Err(lines::CopyError::Read(_)) => {
            let _ = stream.shutdown(Shutdown::Write);
            1
        }
        // The peer is gone with our input unsent: the parent sees the end too, and reports
        // the loss from this exit code.
        Err(lines::CopyError::Write(_)) => i32::from(exit::PEER_LOST),
    };
    exit_now(code)
}

/// `_exit(2)`: leave at once, without atexit handlers, destructors or stdio flushes.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and takes no pointer; it cannot return.
    unsafe { nix::libc::_exit(code) }
}

/// Stop the keyboard process (it may be blocked reading the terminal) and reap it.
fn stop(child: Pid) -> Option<WaitStatus> {
    // The child is not reaped yet, so its pid cannot have been reused: the signal is ours.
    match kill(child, Signal::SIGTERM) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => warn!("kill {child}: {e}"),
    }
    loop {
        match waitpid(child, None) {
            Ok(status) => {
                debug!("process {child} reaped: {status:?}");
                return Some(status);
            }
            Err(Errno::EINTR) => continue,
            Err(e) => {
                warn!("waitpid {child}: {e}");
                return None;
            }
        }
    }
}

// --- Ending the keyboard process, and the grace period for piped input -----------------------

/// The peer's end ends the conversation: end the keyboard process too. Reading a terminal,
/// it is stopped at once (nobody is typing: the TD's classic pitfall is to leave it blocked).
/// Reading a pipe or a file, it may first finish sending what it has, for up to [`GRACE`]: a
/// peer that only half-closed still reads.
fn finish_keyboard(child: Pid) -> Keyboard {
    if !io::stdin().is_terminal()
        && let Some(status) = wait_at_most(child, GRACE)
    {
        return ended(Some(status), false);
    }
    let status = stop(child);
    // Input left unsent: in stdin now, or arriving at once (a producer the child was keeping
    // up with leaves the pipe empty for an instant).
    ended(status, input_waiting(PollTimeout::from(20u8)))
}

/// How long a keyboard process reading a pipe or a file may go on after the peer's end.
const GRACE: Duration = Duration::from_millis(500);

/// What the child's end says of its input: its own exit code when it saw the loss, else
/// whether input was left when we had to stop it.
fn ended(status: Option<WaitStatus>, input_left: bool) -> Keyboard {
    match status {
        Some(WaitStatus::Exited(_, code)) if code == i32::from(exit::PEER_LOST) => {
            Keyboard::CutShort
        }
        Some(WaitStatus::Signaled(..)) if input_left => Keyboard::CutShort,
        _ => Keyboard::Done,
    }
}

/// Reap CHILD if it ends within WAIT; None if it is still running then.
fn wait_at_most(child: Pid, wait: Duration) -> Option<WaitStatus> {
    let deadline = Instant::now() + wait;
    while Instant::now() < deadline {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {
                thread::sleep(Duration::from_millis(5))
            }
            Ok(status) => return Some(status),
            Err(_) => return None,
        }
    }
    None
}

/// Whether stdin holds input that nobody has read yet (a line typed, a pipe not drained), or
/// receives some within `wait`.
fn input_waiting(wait: PollTimeout) -> bool {
    let stdin = io::stdin();
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, wait).is_ok_and(|n| n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
}
