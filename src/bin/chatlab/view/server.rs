//! A small HTTP/1.1 server on std::net, for one page and its event stream: no framework.
//!
//! Why no crate: the view serves three fixed paths to one browser on 127.0.0.1 — the page
//! (`/`), the state as JSON (`/state`) and a Server-Sent Events stream of that state
//! (`/events`, a long response the browser's `EventSource` reconnects by itself). That is a
//! request line and a few headers to read, and bytes to write; an HTTP crate (hyper, axum,
//! tiny_http) would add compile time and binary size to an image built offline on students'
//! laptops for nothing the page uses. One thread per connection: a handful of tabs at most.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info};

/// How often the event stream looks for a change (the page updates within this, plus the
/// probes' own period).
const TICK: Duration = Duration::from_millis(200);
/// An SSE comment this often keeps proxies and the browser from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// The most a request's head may take: more is not a browser.
const MAX_HEAD: usize = 16 * 1024;

/// What the server serves: the page, and the state as JSON, computed on demand.
pub trait Source: Send + Sync + 'static {
    fn page(&self) -> String;
    fn state(&self) -> String;
}

/// Serve SOURCE on LISTENER until the process ends.
pub fn serve(listener: TcpListener, source: impl Source) -> io::Result<()> {
    let source = Arc::new(source);
    info!("serving on http://{}/", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(s) => s,
            Err(e) => {
                debug!("accept: {e}");
                continue;
            }
        };
        let source = Arc::clone(&source);
        thread::spawn(move || {
            if let Err(e) = handle(stream, &*source) {
                debug!("connection: {e}");
            }
        });
    }
    Ok(())
}

/// The path of a GET request, from its head; Err with the status to answer otherwise.
pub fn request_path(head: &str) -> Result<&str, (u16, &'static str)> {
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(v)) if v.starts_with("HTTP/1.") => {
            Ok(target.split('?').next().unwrap_or(target))
        }
        (Some(_), Some(_), Some(v)) if v.starts_with("HTTP/1.") => Err((405, "Method Not Allowed")),
        _ => Err((400, "Bad Request")),
    }
}

fn handle(stream: TcpStream, source: &dyn Source) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = String::new();
    loop {
        let n = reader.read_line(&mut head)?;
        if n == 0 || head.ends_with("\r\n\r\n") || head.ends_with("\n\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return respond(
                stream,
                431,
                "Request Header Fields Too Large",
                "text/plain",
                b"",
            );
        }
    }
    match request_path(&head) {
        Ok("/") => respond(
            stream,
            200,
            "OK",
            "text/html; charset=utf-8",
            source.page().as_bytes(),
        ),
        Ok("/state") => respond(
            stream,
            200,
            "OK",
            "application/json",
            source.state().as_bytes(),
        ),
        Ok("/events") => events(stream, source),
        Ok(_) => respond(stream, 404, "Not Found", "text/plain", b"not found\n"),
        Err((code, reason)) => respond(stream, code, reason, "text/plain", b""),
    }
}

fn respond(
    mut stream: TcpStream,
    code: u16,
    reason: &str,
    kind: &str,
    body: &[u8],
) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

/// The state each time it changes, as SSE `data:` events, until the browser goes away.
fn events(mut stream: TcpStream, source: &dyn Source) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\n\r\nretry: 1000\n\n",
    )?;
    let mut last = String::new();
    let mut quiet_since = Instant::now();
    loop {
        let state = source.state();
        if state != last {
            // One line of JSON: no newline inside, so one `data:` line is the whole event.
            write!(stream, "data: {state}\n\n")?;
            stream.flush()?;
            last = state;
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= KEEPALIVE {
            stream.write_all(b": keep-alive\n\n")?;
            quiet_since = Instant::now();
        }
        thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_get_requests_only() {
        assert_eq!(
            request_path("GET /events HTTP/1.1\r\nHost: x\r\n\r\n"),
            Ok("/events")
        );
        assert_eq!(request_path("GET /?lang=fr HTTP/1.0\r\n\r\n"), Ok("/"));
        assert_eq!(request_path("POST / HTTP/1.1\r\n\r\n").unwrap_err().0, 405);
        assert_eq!(request_path("hello\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(request_path("").unwrap_err().0, 400);
    }
}
