//! Q3 — the alternating chat: strict turns, one line each, exactly the TD's eight steps.
//!
//! Client: 1 read a line from the keyboard, 2 send it, 3 wait for a line from the server,
//! 4 print it, and again. Server: 5 wait for a line, 6 print it, 7 read a line from the
//! keyboard, 8 send it, and again. If both sides start by waiting (`--first receive` on the
//! client), each waits for the other forever: a deadlock, left visible on purpose.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::net::{SocketAddr, TcpStream};

use log::{Level, info, log};

use crate::cli::{AlternateArgs, Turn};
use crate::error::Error;
use crate::lines::{self, CHUNK, LineEnds};
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

/// What a sending turn did.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    /// A whole line went to the peer: now it is its turn.
    Line,
    /// Nothing more to send: end of input (we half-closed), or the peer is gone.
    Done,
}

/// What a receiving turn got.
#[derive(Debug)]
enum Received {
    /// A whole line, printed: now it is our turn.
    Line,
    /// The peer's stream ended (or stdout went away).
    End(PeerEnd),
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
                Turn::Send => match self.send_line(keyboard)? {
                    Sent::Line => {
                        log!(self.turn_level, "line sent; waiting for {peer}'s line");
                        Turn::Receive
                    }
                    Sent::Done => return self.finish(stdout, display),
                },
                Turn::Receive => match self.receive_line(stdout, display)? {
                    Received::Line => {
                        log!(self.turn_level, "your turn: type a line");
                        Turn::Send
                    }
                    Received::End(PeerEnd::StdoutClosed) => return Ok(Flow::Stop),
                    Received::End(PeerEnd::Closed | PeerEnd::Reset(_)) => return Ok(Flow::Next),
                },
            };
        }
    }

    /// Steps 1–2 (client) or 7–8 (server): one line from the keyboard to the peer.
    fn send_line(&mut self, keyboard: &mut BufReader<File>) -> Result<Sent, Error> {
        let peer = self.peer;
        if keyboard.buffer().is_empty()
            && modes::wait_keyboard(keyboard.get_ref(), self.stream)? == Ready::PeerGone
        {
            info!("{peer} left while it was your turn");
            return Ok(Sent::Done);
        }
        match lines::copy_line(keyboard, &mut self.stream, &mut self.ends, &mut self.out) {
            Ok(line) if line.complete => Ok(Sent::Line),
            Ok(_) => {
                // End of input, maybe after a last line without LF: that line is sent, then FIN.
                net::shutdown_write(self.stream);
                info!("end of input: half-closed; printing what {peer} still sends");
                Ok(Sent::Done)
            }
            Err(err) => Err(modes::sending_failed(peer, err)),
        }
    }

    /// Steps 3–4 (client) or 5–6 (server): one line from the peer to the screen.
    fn receive_line(
        &mut self,
        stdout: &mut File,
        display: &mut Display,
    ) -> Result<Received, Error> {
        match lines::copy_line(&mut self.incoming, stdout, display, &mut self.out) {
            Ok(line) if line.complete => Ok(Received::Line),
            Ok(_) => {
                info!("{} closed the connection", self.peer);
                Ok(Received::End(PeerEnd::Closed))
            }
            Err(err) => modes::receiving_failed(self.peer, err).map(Received::End),
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
