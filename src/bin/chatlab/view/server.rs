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
//! - the work that reads files and draws (the state, the replay) runs on tokio's blocking
//!   threads, at most [`WORKERS`] (the runtime's `max_blocking_threads`), all started with the
//!   server and kept for its life, one job each at a time (a semaphore of as many turns): no
//!   thread is created per client, so none can fail to be.
//!
//! One thread serves every connection (a current-thread runtime): the view serves one
//! browser, a few tabs at most.

use std::convert::Infallible;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use log::{debug, info};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt as _;

use crate::lang::{Lang, msg};

/// How often the event stream looks for a change (the page updates within this, plus the
/// probes' own period).
pub const TICK: Duration = Duration::from_millis(200);
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
        jobs: Jobs::new(),
        hosts: Arc::new(allowed_hosts(&allowed)),
        states: Arc::new([watch::channel(None).0, watch::channel(None).0]),
    };
    listener.set_nonblocking(true)?;
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        start_workers().await;
        info!("serving on http://{addr}/");
        tokio::spawn(watch_states(app.clone()));
        let router = router(app);
        chatlab_accept::accept_each(listener, MAX_CONNECTIONS, move |stream, _, permit| {
            connection(stream, router.clone(), permit)
        })
        .await
    })
}

/// The server's runtime: one thread serves every connection (the caller's); the files
/// are read on its blocking threads, never there: at most [`WORKERS`] of them, each kept once
/// started (a thread that idled would end, and the next job start another).
fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .max_blocking_threads(WORKERS)
        .thread_keep_alive(Duration::MAX)
        .thread_name("view-worker")
        .build()
}

/// Start the [`WORKERS`] blocking threads now, all of them (each job waits until all run at
/// once, so each has a thread of its own): the server's threads are then all there from its
/// first request, and stay (see [`runtime`]).
async fn start_workers() {
    let all = Arc::new(Barrier::new(WORKERS));
    let started: Vec<_> = (0..WORKERS)
        .map(|_| {
            let all = Arc::clone(&all);
            tokio::task::spawn_blocking(move || {
                all.wait();
            })
        })
        .collect();
    for s in started {
        let _ = s.await;
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
    jobs: Jobs,
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
    let ours = app.hosts.first().map_or("127.0.0.1", String::as_str);
    let body = msg!(
        lang,
        "adresse refusée : ouvrez la page à http://{ours}/\n",
        "this address is refused: open the page at http://{ours}/\n"
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

/// What a query string may say (`?lang=fr`, `/replay?name=…&conn=N`), percent-decoded by
/// axum's [`Query`]. Every value is text, read leniently after: a value that says nothing
/// usable is as if absent (a bad `conn` is the first connection, a `lang` other than `fr` is
/// English), never a 400.
#[derive(Debug, Default, Deserialize)]
struct Params {
    lang: Option<String>,
    name: Option<String>,
    conn: Option<String>,
}

impl Params {
    /// The query's values; none at all when the query cannot be read (a key given twice).
    fn of(query: Result<Query<Params>, QueryRejection>) -> Params {
        query.map(|Query(p)| p).unwrap_or_else(|e| {
            debug!("query: {e}");
            Params::default()
        })
    }

    fn lang(&self) -> Lang {
        match self.lang.as_deref() {
            Some("fr") => Lang::Fr,
            _ => Lang::En,
        }
    }

    fn conn(&self) -> Option<u32> {
        self.conn.as_deref().and_then(|n| n.parse().ok())
    }
}

/// JOB's answer from a blocking thread, as a response (503 if the job panicked).
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

async fn state(State(app): State<App>, query: Result<Query<Params>, QueryRejection>) -> Response {
    let lang = Params::of(query).lang();
    on_worker(&app, move |s| reply(StatusCode::OK, JSON, s.state(lang))).await
}

async fn captures(State(app): State<App>) -> Response {
    on_worker(&app, |s| reply(StatusCode::OK, JSON, s.captures())).await
}

async fn replay(State(app): State<App>, query: Result<Query<Params>, QueryRejection>) -> Response {
    let params = Params::of(query);
    let (lang, conn) = (params.lang(), params.conn());
    let name = params.name.unwrap_or_default();
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
async fn events(
    State(app): State<App>,
    query: Result<Query<Params>, QueryRejection>,
    req: Request,
) -> Response {
    let lang = Params::of(query).lang();
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

/// The turns of the blocking work (file reads, drawing): at most [`WORKERS`] jobs at a time,
/// one per blocking thread; the others wait their turn (and give it up when their connection
/// ends).
#[derive(Clone)]
struct Jobs {
    turns: Arc<Semaphore>,
}

impl Jobs {
    fn new() -> Jobs {
        Jobs {
            turns: Arc::new(Semaphore::new(WORKERS)),
        }
    }

    /// JOB's result, computed on a blocking thread; None if it panicked.
    async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        // The turn is taken here (a connection that ends meanwhile gives up its place) and
        // handed to the job: at most WORKERS jobs exist, never one waiting for a thread.
        let turn = Arc::clone(&self.turns).acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            job()
        })
        .await
        .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        let uri: axum::http::Uri = format!("/replay?{query}").parse().unwrap();
        Params::of(Query::try_from_uri(&uri))
    }

    #[test]
    fn query_values_are_decoded_and_bad_ones_say_nothing() {
        let p = params("name=05-latence%20%C3%A9t%C3%A9&conn=2&lang=fr&x=a+b");
        assert_eq!(p.name.as_deref(), Some("05-latence été"));
        assert_eq!((p.conn(), p.lang()), (Some(2), Lang::Fr));
        assert_eq!(params("name=a+b").name.as_deref(), Some("a b"));
        // What says nothing usable is as if absent: never a refusal.
        let p = params("conn=two&lang=de&nope");
        assert_eq!(
            (p.name.as_deref(), p.conn(), p.lang()),
            (None, None, Lang::En)
        );
        assert_eq!(params("conn=-1").conn(), None);
        let p = params("lang=fr&lang=fr");
        assert_eq!(
            (p.name.as_deref(), p.conn(), p.lang()),
            (None, None, Lang::En)
        );
        assert_eq!(params("").lang(), Lang::En);
    }

    /// Twenty jobs at once run on WORKERS threads, started before the first, at most WORKERS
    /// at a time.
    #[test]
    fn the_blocking_work_runs_on_the_workers_only() {
        use std::collections::HashSet;
        use std::sync::atomic::AtomicUsize;
        let (threads, most) = runtime().unwrap().block_on(async {
            start_workers().await;
            let jobs = Jobs::new();
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let all: Vec<_> = (0..20)
                .map(|_| {
                    let (jobs, running, most) = (jobs.clone(), running.clone(), most.clone());
                    tokio::spawn(async move {
                        jobs.run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                            std::thread::current().id()
                        })
                        .await
                    })
                })
                .collect();
            let mut threads = HashSet::new();
            for job in all {
                threads.insert(job.await.unwrap().expect("the job ran"));
            }
            (threads, most.load(Ordering::SeqCst))
        });
        assert_eq!(threads.len(), WORKERS, "{threads:?}");
        assert!(most <= WORKERS, "{most} jobs at once");
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
