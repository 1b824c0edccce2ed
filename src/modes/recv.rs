//! Q1 — the server: listen, accept one client, print what it sends; when it leaves, the next.

use log::info;

use crate::cli::RecvArgs;
use crate::error::Error;
use crate::lines::Buffers;
use crate::modes::{self, PeerEnd};
use crate::net;
use crate::terminal::Display;

pub fn run(args: &RecvArgs) -> Result<(), Error> {
    let listener = net::listen(args.listen.bind, args.port, !args.listen.no_reuseaddr)?;
    let mut stdout = modes::stdout()?;
    let mut display = Display::for_stdout(args.raw);
    let mut bufs = Buffers::for_filter(&display);
    loop {
        let (stream, peer) = net::accept(&listener)?;
        let end = modes::print_peer(&stream, peer, &mut stdout, &mut display, &mut bufs)?;
        // Dropping the stream closes our side: the client, which closed first, keeps TIME_WAIT.
        drop(stream);
        if let PeerEnd::StdoutClosed = end {
            return Ok(());
        }
        info!("waiting for the next client");
    }
}
