//! Q3 — the alternating chat: strict turns, one line each, exactly the TD's eight steps.
//!
//! Client: 1 read a line from the keyboard, 2 send it, 3 wait for a line from the server,
//! 4 print it, and again. Server: 5 wait for a line, 6 print it, 7 read a line from the
//! keyboard, 8 send it, and again. If both sides start by waiting (`--first receive` on the
//! client), each waits for the other forever: a deadlock, left visible on purpose.

use std::fs::File;
use std::io::{BufReader, ErrorKind, IsTerminal};
use std::net::{SocketAddr, TcpStream};

use log::{Level, info, log, warn};

use crate::cli::{AlternateArgs, Turn};
use crate::error::Error;
use crate::lines::{self, CHUNK, CopyError, LineEnds};
use crate::modes::{self, Flow, PeerEnd, Ready};
use crate::net;
use crate::terminal::Display;

pub fn run(args: &AlternateArgs) -> Result<(), Error> {
    let listening = args.peer.listen;
    let first = args
        .first
        .unwrap_or(if listening { Turn::Receive } else { Turn::Send });
    // The keyboard outlives each conversation: with -k, what was typed ahead is kept.
    let mut keyboard = BufReader::with_capacity(CHUNK, modes::stdin()?);
    let mut stdout = modes::stdout()?;
    let mut display = Display::for_stdout(args.peer.lines.raw);
    let turn_level = if std::io::stdin().is_terminal() {
        Level::Info
    } else {
        Level::Debug
    };
    modes::each_peer(&args.peer, |stream, peer, _| {
        let mut turns = Turns {
            turn_level,
            stream: &stream,
            peer,
            incoming: BufReader::with_capacity(CHUNK, &stream),
            ends: LineEnds::new(args.peer.lines.crlf),
            out: Vec::new(),
        };
        turns.converse(first, &mut keyboard, &mut stdout, &mut display)
    })
}

struct Turns<'a> {
    /// Whose turn it is, said at info level to someone typing, at debug level to a pipe.
    turn_level: Level,
    stream: &'a TcpStream,
    peer: SocketAddr,
    incoming: BufReader<&'a TcpStream>,
    ends: LineEnds,
    out: Vec<u8>,
}

impl Turns<'_> {
    fn converse(
        &mut self,
        first: Turn,
        keyboard: &mut BufReader<File>,
        stdout: &mut File,
        display: &mut Display,
    ) -> Result<Flow, Error> {
        let peer = self.peer;
        match first {
            Turn::Send => info!("you start: type a line, then wait for {peer}'s answer"),
            Turn::Receive => info!("{peer} starts: waiting for its line"),
        }
        let mut turn = first;
        loop {
            turn = match turn {
                Turn::Send => {
                    if !self.send_line(keyboard)? {
                        return self.finish(stdout, display);
                    }
                    log!(self.turn_level, "line sent; waiting for {peer}'s line");
                    Turn::Receive
                }
                Turn::Receive => {
                    match lines::copy_line(&mut self.incoming, stdout, display, &mut self.out) {
                        Ok(line) if line.complete => {
                            log!(self.turn_level, "your turn: type a line");
                            Turn::Send
                        }
                        Ok(_) => {
                            info!("{peer} closed the connection");
                            return Ok(Flow::Next);
                        }
                        Err(CopyError::Read(e)) => {
                            warn!("{peer} reset the connection: {e}");
                            return Ok(Flow::Next);
                        }
                        Err(CopyError::Write(e)) if e.kind() == ErrorKind::BrokenPipe => {
                            return Ok(Flow::Stop);
                        }
                        Err(CopyError::Write(source)) => {
                            return Err(Error::Io {
                                doing: "writing to stdout",
                                source,
                            });
                        }
                    }
                }
            };
        }
    }

    /// Steps 1–2 (client) or 7–8 (server): one line from the keyboard to the peer.
    /// Returns false when there is nothing more to send: end of input, or the peer is gone.
    fn send_line(&mut self, keyboard: &mut BufReader<File>) -> Result<bool, Error> {
        let peer = self.peer;
        if keyboard.buffer().is_empty()
            && modes::wait_keyboard(keyboard.get_ref(), self.stream)? == Ready::PeerGone
        {
            info!("{peer} left while it was your turn");
            return Ok(false);
        }
        match lines::copy_line(keyboard, &mut self.stream, &mut self.ends, &mut self.out) {
            Ok(line) if line.complete => Ok(true),
            Ok(_) => {
                // End of input, maybe after a last line without LF: that line is sent, then FIN.
                net::shutdown_write(self.stream);
                info!("end of input: half-closed; printing what {peer} still sends");
                Ok(false)
            }
            Err(CopyError::Read(source)) => Err(Error::Io {
                doing: "reading stdin",
                source,
            }),
            Err(CopyError::Write(source)) => Err(Error::PeerLost { peer, source }),
        }
    }

    /// Our side is done: print whatever the peer still sends, until it closes.
    fn finish(&mut self, stdout: &mut File, display: &mut Display) -> Result<Flow, Error> {
        let mut bufs = lines::Buffers::for_filter(display);
        // Through the BufReader: what it already holds is printed first.
        match modes::print_peer(&mut self.incoming, self.peer, stdout, display, &mut bufs)? {
            PeerEnd::StdoutClosed => Ok(Flow::Stop),
            PeerEnd::Closed | PeerEnd::Reset(_) => Ok(Flow::Next),
        }
    }
}
