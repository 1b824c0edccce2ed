//! A small HTTP/1.1 server on std::net, for one page and its event stream: no framework.
//!
//! Why no crate: the view serves five fixed paths to one browser on 127.0.0.1 — the page
//! (`/`), the state as JSON (`/state`), a Server-Sent Events stream of that state (`/events`,
//! a long response the browser's `EventSource` reconnects by itself), the saved captures
//! (`/captures`) and one of them drawn for the replay (`/replay?name=…&conn=N`); `?lang=fr`
//! or `en` says the page's language. That is a request line and a few headers to read, and
//! bytes to write; an HTTP crate (hyper, axum, tiny_http) would add compile time and binary
//! size to an image built offline on students' laptops for nothing the page uses. One thread
//! per connection: a handful of tabs at most. A browser that goes away ends its thread at the
//! next write (a change, or the keep-alive comment).

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, info};

use crate::lang::Lang;

/// How often the event stream looks for a change (the page updates within this, plus the
/// probes' own period).
const TICK: Duration = Duration::from_millis(200);
/// An SSE comment this often keeps proxies and the browser from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// The most a request's head may take: more is not a browser.
const MAX_HEAD: usize = 16 * 1024;

/// What the server serves, computed on demand: the page, the state as JSON, the saved
/// captures (JSON) and one of them for the replay (JSON, or a one-line error).
pub trait Source: Send + Sync + 'static {
    fn page(&self) -> String;
    fn state(&self, lang: Lang) -> String;
    fn captures(&self) -> String;
    fn replay(&self, name: &str, conn: Option<u32>, lang: Lang) -> Result<String, String>;
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

/// The path and query of a GET request, from its head; Err with the status to answer
/// otherwise.
pub fn request_path(head: &str) -> Result<(&str, &str), (u16, &'static str)> {
    let line = head.lines().next().unwrap_or_default();
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("GET"), Some(target), Some(v)) if v.starts_with("HTTP/1.") => {
            Ok(target.split_once('?').unwrap_or((target, "")))
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
    const JSON: &str = "application/json";
    let (path, query) = match request_path(&head) {
        Ok(p) => p,
        Err((code, reason)) => return respond(stream, code, reason, "text/plain", b""),
    };
    let lang = match param(query, "lang").as_deref() {
        Some("fr") => Lang::Fr,
        _ => Lang::En,
    };
    match path {
        "/" => respond(
            stream,
            200,
            "OK",
            "text/html; charset=utf-8",
            source.page().as_bytes(),
        ),
        "/state" => respond(stream, 200, "OK", JSON, source.state(lang).as_bytes()),
        "/events" => events(stream, source, lang),
        "/captures" => respond(stream, 200, "OK", JSON, source.captures().as_bytes()),
        "/replay" => {
            let name = param(query, "name").unwrap_or_default();
            let conn = param(query, "conn").and_then(|n| n.parse().ok());
            match source.replay(&name, conn, lang) {
                Ok(body) => respond(stream, 200, "OK", JSON, body.as_bytes()),
                Err(e) => {
                    debug!("replay {name:?}: {e}");
                    let body = format!("{{\"error\":{}}}", crate::json::string(&e));
                    respond(stream, 422, "Unprocessable Content", JSON, body.as_bytes())
                }
            }
        }
        _ => respond(stream, 404, "Not Found", "text/plain", b"not found\n"),
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

/// The value of KEY in a query string (`a=1&b=x%20y`), percent-decoded; None if absent or not
/// UTF-8 once decoded.
pub fn param(query: &str, key: &str) -> Option<String> {
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [it.next()?, it.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            b => bytes.push(b),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The state each time it changes, as SSE `data:` events, until the browser goes away.
fn events(mut stream: TcpStream, source: &dyn Source, lang: Lang) -> io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
          Connection: close\r\n\r\nretry: 1000\n\n",
    )?;
    let mut last = String::new();
    let mut quiet_since = Instant::now();
    loop {
        let state = source.state(lang);
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
            Ok(("/events", ""))
        );
        assert_eq!(
            request_path("GET /?lang=fr HTTP/1.0\r\n\r\n"),
            Ok(("/", "lang=fr"))
        );
        assert_eq!(request_path("POST / HTTP/1.1\r\n\r\n").unwrap_err().0, 405);
        assert_eq!(request_path("hello\r\n\r\n").unwrap_err().0, 400);
        assert_eq!(request_path("").unwrap_err().0, 400);
    }

    #[test]
    fn query_values_are_decoded() {
        let q = "name=05-latence%20%C3%A9t%C3%A9&conn=2&lang=fr&x=a+b";
        assert_eq!(param(q, "name").as_deref(), Some("05-latence été"));
        assert_eq!(param(q, "conn").as_deref(), Some("2"));
        assert_eq!(param(q, "x").as_deref(), Some("a b"));
        assert_eq!(param(q, "nope"), None);
        assert_eq!(param("name=%zz", "name"), None);
        assert_eq!(param("name=%C3", "name"), None, "not UTF-8");
    }
}
