//! Q2 — the client: connect, send every line read from stdin, half-close at the end.

use log::{debug, info};

use crate::cli::SendArgs;
use crate::error::Error;
use crate::lines::{self, Buffers, LineEnds};
use crate::modes::{self, PeerEnd, Ready};
use crate::net;
use crate::terminal::Display;

pub fn run(args: &SendArgs) -> Result<(), Error> {
    let stream = net::connect(&args.host, args.port, args.retry)?;
    let peer = stream.peer_addr().map_err(Error::io("getpeername"))?;
    let mut keyboard = modes::stdin()?;
    let mut ends = LineEnds::new(args.lines.crlf);
    let mut bufs = Buffers::for_filter(&ends);
    let mut sent = 0u64;
    loop {
        // Between two reads, notice a server that left (instead of finding out at the next line).
        if modes::wait_keyboard(&keyboard, &stream)? == Ready::PeerGone {
            info!("{peer} closed the connection: nothing more can be sent");
            return Ok(());
        }
        match lines::copy_chunk(&mut keyboard, &mut &stream, &mut ends, &mut bufs) {
            Ok(0) => break,
            Ok(n) => sent += n as u64,
            Err(err) => return Err(modes::sending_failed(peer, err)),
        }
    }
    debug!("end of input after {sent} bytes");
    net::shutdown_write(&stream);
    // The server closes once it has read everything: wait for that, showing anything it sends.
    let mut stdout = modes::stdout()?;
    let mut display = Display::for_stdout(args.lines.raw);
    let mut bufs = Buffers::for_filter(&display);
    match modes::print_peer(&stream, peer, &mut stdout, &mut display, &mut bufs)? {
        // A reset after our FIN means the server dropped bytes it had not read.
        PeerEnd::Reset(source) => Err(Error::PeerLost { peer, source }),
        PeerEnd::Closed | PeerEnd::StdoutClosed => Ok(()),
    }
}
