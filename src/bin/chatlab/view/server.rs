//! The view's HTTP server: axum on tokio, with hyper's HTTP/1.1 underneath, every resource
//! bounded whatever a client sends.
//!
//! Five paths: the page (`/`), the state as JSON (`/state`), a Server-Sent Events stream of
//! that state (`/events`, a long response the browser's `EventSource` reconnects by itself),
//! the saved captures (`/captures`) and one of them drawn for the replay
//! (`/replay?name=…&conn=N`); `?lang=fr` or `en` says the page's language.
//!
//! What a hostile client (or a web page of another site, through the browser) meets:
//!
//! - a `Host:` other than `127.0.0.1:PORT`, `localhost:PORT` or `[::1]:PORT` (PORT: the one
//!   the browser uses) is answered 403: a page using DNS rebinding reads nothing;
//! - a request head is read within [`HEAD_TIMEOUT`] (the whole head, not each read) into at
//!   most [`MAX_BUF`] bytes, else the connection is closed;
//! - a connection answers one request (no keep-alive) and is closed [`REQUEST_DEADLINE`]
//!   after it was accepted, the response written or not; only the event stream lives on, as
//!   long as the browser reads it (a stream not read for [`STREAM_STALL`] is closed);
//! - at most [`MAX_CONNECTIONS`] at once: one more is closed at once, without a task;
//! - the work that reads files and draws (the state, the replay) runs on [`WORKERS`] threads
//!   started with the server, one job each at a time: no thread is created per client, so
//!   none can fail to be.
//!
//! One thread serves every connection (a current-thread runtime): the view serves one
//! browser, a few tabs at most.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use log::{debug, info, warn};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::lang::Lang;

/// How often the event stream looks for a change (the page updates within this, plus the
/// probes' own period).
const TICK: Duration = Duration::from_millis(200);
/// An SSE comment this often keeps proxies and the browser from closing an idle stream.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// The most a request's head may take, all of it: a browser sends it in one go.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The most a connection may take, from accept to the response's last byte, unless it is an
/// event stream (a replay of a big capture takes a few seconds).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(20);
/// An event stream that took nothing (not even a keep-alive) for this long is not read.
const STREAM_STALL: Duration = Duration::from_secs(30);
/// The read buffer of a connection, the most a request head may be (hyper's smallest is 8 KiB).
const MAX_BUF: usize = 16 * 1024;
/// Connections at once, event streams included: a few tabs need a few.
pub const MAX_CONNECTIONS: usize = 64;
/// The threads that read the lab's files and draw, started with the server.
const WORKERS: usize = 2;

/// What the server serves, computed on demand: the page, the state as JSON, the saved
/// captures (JSON) and one of them for the replay (JSON, or a one-line error).
pub trait Source: Send + Sync + 'static {
    fn page(&self) -> String;
    fn state(&self, lang: Lang) -> String;
    fn captures(&self) -> String;
    fn replay(
        &self,
        name: &str,
        conn: Option<u32>,
        lang: Lang,
    ) -> Result<String, super::replay::Error>;
}

/// Serve SOURCE on LISTENER until the process ends. PORTS: the ports a browser may name in
/// `Host:` besides the listener's own (lab/view publishes the container's port on another).
pub fn serve(
    listener: std::net::TcpListener,
    source: impl Source,
    ports: &[u16],
) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let mut allowed: Vec<u16> = vec![addr.port()];
    allowed.extend(ports);
    let app = App {
        source: Arc::new(source),
        jobs: Workers::start()?,
        hosts: Arc::new(allowed_hosts(&allowed)),
        states: Arc::new([watch::channel(None).0, watch::channel(None).0]),
    };
    listener.set_nonblocking(true)?;
    // One thread for every connection; the files are read on the workers, never here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        info!("serving on http://{addr}/");
        tokio::spawn(watch_states(app.clone()));
        accept(listener, router(app)).await;
        Ok(())
    })
}

/// Accept connections until the process ends; over the cap, close them at once.
async fn accept(listener: tokio::net::TcpListener, router: Router) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors or memory: the connection waits in the backlog
                // until some close. Never a panic, never a busy loop.
                warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            debug!("{peer}: over {MAX_CONNECTIONS} connections, closed");
            continue; // (dropped: closed)
        };
        tokio::spawn(connection(stream, router.clone(), permit));
    }
}

/// What a connection's handler says to the task that drives it.
#[derive(Default)]
struct Conn {
    /// The response is an event stream: the request deadline no longer applies.
    streaming: AtomicBool,
    /// Events (and keep-alives) the stream handed to hyper so far.
    sent: AtomicU64,
}

/// One connection, one request, within its deadline; PERMIT held until it ends.
async fn connection(stream: tokio::net::TcpStream, router: Router, permit: OwnedSemaphorePermit) {
    let _permit = permit;
    let peer = stream.peer_addr().ok();
    let conn = Arc::new(Conn::default());
    let ours = Arc::clone(&conn);
    let service = router.map_request(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(Arc::clone(&ours));
        req
    });
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_BUF)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(http);
    let mut deadline = Instant::now() + REQUEST_DEADLINE;
    let mut sent = 0;
    loop {
        tokio::select! {
            done = http.as_mut() => {
                if let Err(e) = done {
                    debug!("{peer:?}: {e}");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline) => {
                if !conn.streaming.load(Ordering::Relaxed) {
                    debug!("{peer:?}: over {REQUEST_DEADLINE:?}, closed");
                    return;
                }
                let now = conn.sent.load(Ordering::Relaxed);
                if now == sent {
                    debug!("{peer:?}: an event stream not read for {STREAM_STALL:?}, closed");
                    return;
                }
                sent = now;
                deadline = Instant::now() + STREAM_STALL;
            }
        }
    }
}

/// The server's shared parts.
#[derive(Clone)]
struct App {
    source: Arc<dyn Source>,
    jobs: Workers,
    /// The `Host:` values accepted, lowercase.
    hosts: Arc<Vec<String>>,
    /// The latest state in each language ([`lang_index`]), while an event stream follows it.
    states: Arc<[watch::Sender<Option<Arc<str>>>; 2]>,
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::Fr => 0,
        Lang::En => 1,
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/state", get(state))
        .route("/events", get(events))
        .route("/captures", get(captures))
        .route("/replay", get(replay))
        .fallback(|| async { reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()) })
        .layer(middleware::from_fn_with_state(app.clone(), only_our_hosts))
        .with_state(app)
}

/// The `Host:` values a browser sends for 127.0.0.1, localhost or [::1] on one of PORTS.
pub fn allowed_hosts(ports: &[u16]) -> Vec<String> {
    let mut hosts = Vec::new();
    for port in ports {
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            hosts.push(format!("{name}:{port}"));
            if *port == 80 {
                hosts.push(name.to_string());
            }
        }
    }
    hosts
}

/// 403 for a request whose `Host:` (or absolute target) is not ours: a page of another site
/// that made its name point to 127.0.0.1 (DNS rebinding) reads nothing.
async fn only_our_hosts(State(app): State<App>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let ours = |h: &str| app.hosts.iter().any(|a| a == h);
    let target_ok = req
        .uri()
        .authority()
        .is_none_or(|a| ours(&a.as_str().to_ascii_lowercase()));
    if host.as_deref().is_some_and(ours) && target_ok {
        return next.run(req).await;
    }
    debug!("refused Host: {host:?}");
    let french = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|l| l.trim_start().starts_with("fr"));
    let lang = if french { Lang::Fr } else { Lang::En };
    let body = format!(
        "{} http://{}/\n",
        lang.pick(
            "adresse refusée : ouvrez la page à",
            "this address is refused: open the page at"
        ),
        app.hosts.first().map_or("127.0.0.1", String::as_str)
    );
    reply(StatusCode::FORBIDDEN, "text/plain; charset=utf-8", body)
}

fn reply(code: StatusCode, kind: &'static str, body: String) -> Response {
    let mut response = (code, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

const JSON: &str = "application/json";

fn lang_of(req: &Request) -> Lang {
    match param(req.uri().query().unwrap_or_default(), "lang").as_deref() {
        Some("fr") => Lang::Fr,
        _ => Lang::En,
    }
}

/// JOB's answer from a worker, as a response (503 if the workers are gone).
async fn on_worker(
    app: &App,
    job: impl FnOnce(&dyn Source) -> Response + Send + 'static,
) -> Response {
    let source = Arc::clone(&app.source);
    match app.jobs.run(move || job(&*source)).await {
        Some(response) => response,
        None => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "the view's workers are gone\n".into(),
        ),
    }
}

async fn page(State(app): State<App>) -> Response {
    reply(
        StatusCode::OK,
        "text/html; charset=utf-8",
        app.source.page(),
    )
}

async fn state(State(app): State<App>, req: Request) -> Response {
    let lang = lang_of(&req);
    on_worker(&app, move |s| reply(StatusCode::OK, JSON, s.state(lang))).await
}

async fn captures(State(app): State<App>) -> Response {
    on_worker(&app, |s| reply(StatusCode::OK, JSON, s.captures())).await
}

async fn replay(State(app): State<App>, req: Request) -> Response {
    let lang = lang_of(&req);
    let query = req.uri().query().unwrap_or_default();
    let name = param(query, "name").unwrap_or_default();
    let conn = param(query, "conn").and_then(|n| n.parse().ok());
    on_worker(&app, move |s| match s.replay(&name, conn, lang) {
        Ok(body) => reply(StatusCode::OK, JSON, body),
        Err(e) => {
            debug!("replay {name:?}: {e}");
            let body = serde_json::json!({ "error": e.to_string() }).to_string();
            reply(StatusCode::UNPROCESSABLE_ENTITY, JSON, body)
        }
    })
    .await
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

/// While an event stream follows a language, its state every TICK (computed once for all the
/// streams of that language, on a worker); forgotten when none follows it.
async fn watch_states(app: App) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for lang in [Lang::Fr, Lang::En] {
            let sender = &app.states[lang_index(lang)];
            if sender.receiver_count() == 0 {
                sender.send_if_modified(|v| v.take().is_some());
                continue;
            }
            let source = Arc::clone(&app.source);
            let Some(now) = app.jobs.run(move || source.state(lang)).await else {
                continue;
            };
            sender.send_if_modified(|v| {
                let changed = v.as_deref() != Some(now.as_str());
                if changed {
                    *v = Some(now.into());
                }
                changed
            });
        }
    }
}

/// The state each time it changes, as SSE `data:` events, while the browser reads them.
async fn events(State(app): State<App>, req: Request) -> Response {
    let lang = lang_of(&req);
    let conn = req
        .extensions()
        .get::<Arc<Conn>>()
        .cloned()
        .unwrap_or_default();
    conn.streaming.store(true, Ordering::Relaxed);
    let mut changes = app.states[lang_index(lang)].subscribe();
    changes.mark_changed();
    let first = Bytes::from_static(b"retry: 1000\n\n");
    let stream = futures_util::stream::unfold(
        (Some(first), changes, conn),
        |(next, mut changes, conn)| async move {
            let chunk = match next {
                Some(chunk) => chunk,
                None => loop {
                    tokio::select! {
                        changed = changes.changed() => {
                            changed.ok()?; // the server is ending
                            let Some(state) = changes.borrow_and_update().clone() else {
                                continue;
                            };
                            // One line of JSON: no newline inside, so one `data:` line is the
                            // whole event.
                            break Bytes::from(format!("data: {state}\n\n"));
                        }
                        () = tokio::time::sleep(KEEPALIVE) => {
                            break Bytes::from_static(b": keep-alive\n\n");
                        }
                    }
                },
            };
            conn.sent.fetch_add(1, Ordering::Relaxed);
            Some((Ok::<_, Infallible>(chunk), (None, changes, conn)))
        },
    );
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of threads for the blocking work (file reads, drawing), started with the
/// server; at most one job per thread at a time, the others wait their turn (and give it up
/// when their connection ends).
#[derive(Clone)]
struct Workers {
    queue: mpsc::SyncSender<Job>,
    turns: Arc<Semaphore>,
}

impl Workers {
    fn start() -> io::Result<Workers> {
        let (queue, jobs) = mpsc::sync_channel::<Job>(WORKERS);
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..WORKERS {
            let jobs = Arc::clone(&jobs);
            thread::Builder::new()
                .name(format!("view-worker-{i}"))
                .spawn(move || {
                    loop {
                        // (A job that panicked poisoned nothing: the lock is not held then.)
                        let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Workers {
            queue,
            turns: Arc::new(Semaphore::new(WORKERS)),
        })
    }

    /// JOB's result, computed on a worker; None if the workers are gone.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        // The turn is taken here (a connection that ends meanwhile gives up its place) and
        // handed to the job: at most WORKERS jobs exist, so the queue never blocks.
        let turn = Arc::clone(&self.turns).acquire_owned().await.ok()?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _turn = turn;
            let _ = tx.send(job());
        });
        self.queue.try_send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn only_loopback_names_on_our_ports_are_hosts() {
        let hosts = allowed_hosts(&[8088, 9000]);
        for ok in ["127.0.0.1:8088", "localhost:9000", "[::1]:8088"] {
            assert!(hosts.iter().any(|h| h == ok), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "evil.example:8088",
            "127.0.0.1:8089",
            "localhost",
        ] {
            assert!(!hosts.iter().any(|h| h == bad), "{bad}");
        }
        assert!(allowed_hosts(&[80]).iter().any(|h| h == "localhost"));
    }
}
