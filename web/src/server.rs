//! HTTPS for the class: axum on tokio, TLS by rustls.
//!
//! Every request passes, in this order:
//! 1. its `Host:` must be one of the server's names (DNS rebinding: a page of another site
//!    made to resolve to this server is refused);
//! 2. what changes something or costs (any method but GET and HEAD, and a WebSocket: a
//!    terminal, a file saved, a check, the teacher's « grade all » and reset) must come from
//!    the server's own pages: `Origin:` is this server (cross-site WebSocket hijacking,
//!    cross-site requests);
//! 3. a lab's routes (`/lab/ID/…`) want the cookie of that student's secret or the teacher's,
//!    the teacher's routes (`/teacher/…`) the teacher's: else 403, whatever the route, the
//!    student or the method (a page, a file, a terminal).
//!
//! A secret comes once in a link (`/s/SECRET`, `/t/SECRET`), becomes a cookie (`HttpOnly;
//! Secure; SameSite=Strict`) and the browser is sent to a clean address: the secret stays
//! neither in the history nor in the page. Wrong secrets from one address are counted:
//! past [`MAX_BAD_SECRETS`] a minute, that address gets 429.
//!
//! Bounds: [`MAX_CONNECTIONS`] connections, a TLS handshake and a request head each within
//! [`HEAD_TIMEOUT`], a request body of at most a file's size, a WebSocket frame of at most
//! the agents' [`MAX_FRAME`], [`MAX_TERMINALS`] terminals per student and [`MAX_ALL_TERMINALS`]
//! in all.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chatlab_agent::protocol::{
    CheckRequest, ClientFrame, ExecRequest, MAX_FRAME, Wire, valid_host, valid_student,
};
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use log::{debug, info, warn};
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_rustls::TlsAcceptor;

use crate::agents::{self, Agents};
use crate::checks::{self, Checks};
use crate::class::{Class, Who};
use crate::files;
use crate::terms::{self, Terminals};
use crate::view;

pub const MAX_CONNECTIONS: usize = 2048;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
pub const MAX_TERMINALS: usize = 8;
pub const MAX_ALL_TERMINALS: usize = 1500;
pub const MAX_BAD_SECRETS: u32 = 20;
pub const MAX_VIEWS: usize = 400;
const STUDENT_COOKIE: &str = "chatlab_student";
const TEACHER_COOKIE: &str = "chatlab_teacher";

pub struct Config {
    pub listen: SocketAddr,
    pub names: Vec<String>,
    pub tls: Arc<rustls::ServerConfig>,
    pub terminals: terms::Config,
}

#[derive(Clone)]
struct App {
    class: Arc<Class>,
    agents: Agents,
    /// The `Host:` values answered (names, with and without the port).
    hosts: Arc<Vec<String>>,
    presence: Arc<Mutex<HashMap<String, Presence>>>,
    /// The teacher's terminals open in each lab (its student's page says so).
    teacher_in: Arc<Mutex<HashMap<String, usize>>>,
    /// The live views open (each a command in its lab, relayed).
    views: Arc<Semaphore>,
    /// The labs whose view's probes this server has started (at their first terminal, so that
    /// the live ladder holds the conversation from its first segment).
    probed: Arc<Mutex<std::collections::HashSet<String>>>,
    terminals: Arc<Semaphore>,
    /// The checks asked from the pages, and the latest verdicts.
    checks: Arc<Checks>,
    /// The labs' shells, kept while no page shows them.
    terms: Terminals,
    /// The labs' summaries for the teacher, and when they were made.
    summaries: Arc<tokio::sync::Mutex<Option<(Instant, serde_json::Value)>>>,
    bad_secrets: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
}

/// A student seen: terminals open now, and when they last typed or opened one.
#[derive(Clone, Copy)]
struct Presence {
    terminals: usize,
    last: SystemTime,
}

pub async fn serve(config: Config, class: Class) -> Result<(), String> {
    let class = Arc::new(class);
    let port = config.listen.port();
    let mut hosts = Vec::new();
    for name in &config.names {
        let bare = if name.contains(':') && !name.starts_with('[') {
            format!("[{name}]") // an IPv6 address, as Host: carries it
        } else {
            name.clone()
        };
        hosts.push(format!("{bare}:{port}"));
        if port == 443 {
            hosts.push(bare);
        }
    }
    let app = App {
        agents: Agents::new(Arc::clone(&class)),
        class: Arc::clone(&class),
        hosts: Arc::new(hosts),
        presence: Arc::default(),
        teacher_in: Arc::default(),
        views: Arc::new(Semaphore::new(MAX_VIEWS)),
        probed: Arc::default(),
        terminals: Arc::new(Semaphore::new(MAX_ALL_TERMINALS)),
        checks: Arc::new(Checks::open(class.web_file("verdicts.json"))),
        terms: Terminals::new(config.terminals),
        summaries: Arc::default(),
        bad_secrets: Arc::default(),
    };
    // The roster may grow (lab/class up again): read again when it changes.
    {
        let class = Arc::clone(&class);
        let base = format!("https://{}", app.hosts[0]);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(3)).await;
                match class.reload() {
                    Ok(true) => {
                        info!("the roster changed: links.csv written again");
                        if let Err(e) = class.write_links(&base) {
                            warn!("{e}");
                        }
                    }
                    Ok(false) => {}
                    Err(e) => warn!("{e}"),
                }
            }
        });
    }
    let router = routes(app);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    info!("listening on {}", config.listen);
    let acceptor = TlsAcceptor::from(config.tls);
    chatlab_accept::accept_each(listener, MAX_CONNECTIONS, move |stream, peer, permit| {
        connection(stream, peer, acceptor.clone(), router.clone(), permit)
    })
    .await
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    _permit: OwnedSemaphorePermit,
) {
    let tls = match tokio::time::timeout(HEAD_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return debug!("{peer}: TLS: {e}"),
        Err(_) => return debug!("{peer}: no TLS handshake in time"),
    };
    let service = router.layer(axum::Extension(ConnectInfo(peer)));
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(32 * 1024)
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
        .with_upgrades();
    if let Err(e) = http.await {
        debug!("{peer}: {e}");
    }
}

fn routes(app: App) -> Router {
    // A lab's routes: its student's cookie or the teacher's (lab_guard), else 403.
    let lab = Router::new()
        .route("/lab/{id}/", get(student_page))
        .route("/lab/{id}/me", get(me))
        .route("/lab/{id}/term/{host}", get(terminal))
        .route("/lab/{id}/files", get(file_list))
        .route("/lab/{id}/files/{name}", get(file_read).put(file_write))
        .route("/lab/{id}/check", post(check))
        .route("/lab/{id}/view/", get(view_page))
        .route("/lab/{id}/view/page.js", get(view_script))
        .route("/lab/{id}/view/state", get(view_state))
        .route("/lab/{id}/view/events", get(view_events))
        .route("/lab/{id}/view/captures", get(view_captures))
        .route("/lab/{id}/view/replay", get(view_replay))
        .route_layer(middleware::from_fn_with_state(app.clone(), lab_guard));
    // The teacher's routes: the teacher's cookie (teacher_guard), else 403.
    let teacher = Router::new()
        .route("/teacher/", get(teacher_page))
        .route("/teacher/labs", get(teacher_labs))
        .route("/teacher/summaries", get(summaries))
        .route("/teacher/grades/{file}", get(grades))
        .route("/teacher/grade", post(grade_all))
        .route("/teacher/reset/{id}", post(reset))
        .route("/teacher/verdicts.csv", get(verdicts_csv))
        .route_layer(middleware::from_fn_with_state(app.clone(), teacher_guard));
    Router::new()
        .route("/", get(index))
        .route("/{kind}/{secret}", get(link))
        .route("/assets/{file}", get(asset))
        .merge(lab)
        .merge(teacher)
        .layer(DefaultBodyLimit::max(files::MAX_FILE))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

/// Every route of lab ID (`/lab/ID/…`), whatever the method: that student's cookie or the
/// teacher's, else 403; who it is goes to the handler (an extension).
async fn lab_guard(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let id = req.uri().path().split('/').nth(2).unwrap_or("").to_string();
    match viewer(&app, req.headers(), &id) {
        Some(who) => {
            req.extensions_mut().insert(who);
            next.run(req).await
        }
        None => forbidden(),
    }
}

/// Every route of the teacher: the teacher's cookie, else 403.
async fn teacher_guard(State(app): State<App>, req: Request, next: Next) -> Response {
    if is_teacher(&app, req.headers()) {
        next.run(req).await
    } else {
        forbidden()
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{why}\n")));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn forbidden() -> Response {
    refuse(
        StatusCode::FORBIDDEN,
        "forbidden: open the link your teacher gave you (accès refusé : ouvrez le lien que votre enseignant vous a donné)",
    )
}

/// Every request: our own `Host:`, then the response's security headers.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !app.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own names",
        );
    }
    // What changes something or costs (any method but GET and HEAD, and a WebSocket: a
    // terminal) comes from this server's own pages: cross-site requests and cross-site
    // WebSocket hijacking are refused, whatever the route.
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD)
        || req.headers().contains_key(header::UPGRADE);
    if changes && !same_origin(req.headers()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "forbidden: not from this server's page",
        );
    }
    // A body said to be too large is refused before any of it is read (a client that waits
    // for `100 Continue` sends none); read and cut at the bound, the connection would close
    // on bytes unread, and its reset could lose this answer.
    let length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|n| n > files::MAX_FILE as u64) {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a body is at most {} KiB", files::MAX_FILE / 1024),
        );
    }
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=86400"),
    );
    response
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn is_teacher(app: &App, headers: &HeaderMap) -> bool {
    cookie(headers, TEACHER_COOKIE).and_then(|s| app.class.who(&s)) == Some(Who::Teacher)
}

/// Who may open lab ID: that student (their cookie) or the teacher; None: 403.
fn viewer(app: &App, headers: &HeaderMap, id: &str) -> Option<Who> {
    if !valid_student(id) || !app.class.has_student(id) {
        return None;
    }
    if cookie(headers, STUDENT_COOKIE).and_then(|s| app.class.who(&s))
        == Some(Who::Student(id.to_string()))
    {
        return Some(Who::Student(id.to_string()));
    }
    is_teacher(app, headers).then_some(Who::Teacher)
}

/// A request that changes something comes from our own page: its Origin is this server.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
    matches!((host, origin), (Some(h), Some(o)) if o == format!("https://{h}"))
}

fn peer(req_ext: &Option<axum::Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    req_ext.as_ref().map(|e| e.0.0.ip())
}

/// Count a wrong secret from IP; true when IP is over its allowance.
fn too_many(app: &App, ip: Option<IpAddr>, wrong: bool) -> bool {
    let Some(ip) = ip else { return false };
    let mut bad = app.bad_secrets.lock().unwrap();
    if bad.len() > 10_000 {
        bad.retain(|_, (since, _)| since.elapsed() < Duration::from_secs(60));
    }
    let entry = bad.entry(ip).or_insert((Instant::now(), 0));
    if entry.0.elapsed() >= Duration::from_secs(60) {
        *entry = (Instant::now(), 0);
    }
    if wrong {
        entry.1 += 1;
    }
    entry.1 > MAX_BAD_SECRETS
}

fn redirect_with_cookie(location: &str, name: &str, secret: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    let h = r.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    h.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "{name}={secret}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=2592000"
        ))
        .unwrap(),
    );
    r
}

async fn index() -> Response {
    html(include_str!("../page/index.html"))
}

/// `/s/SECRET` (a student's link) and `/t/SECRET` (the teacher's): the secret becomes a
/// cookie, and the browser goes to the clean address of what it opens.
async fn link(
    State(app): State<App>,
    conn: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Path((kind, secret)): Path<(String, String)>,
) -> Response {
    let ip = peer(&conn);
    if too_many(&app, ip, false) {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many wrong links: wait a minute",
        );
    }
    match (kind.as_str(), app.class.who(&secret)) {
        ("s", Some(Who::Student(id))) => {
            redirect_with_cookie(&format!("/lab/{id}/"), STUDENT_COOKIE, &secret)
        }
        ("t", Some(Who::Teacher)) => redirect_with_cookie("/teacher/", TEACHER_COOKIE, &secret),
        _ => {
            too_many(&app, ip, true);
            forbidden()
        }
    }
}

fn html(text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], text).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    let (kind, body): (&str, &'static [u8]) = match file.as_str() {
        "xterm.js" => (
            "text/javascript",
            include_bytes!("../vendor/xterm/xterm.js"),
        ),
        "xterm.css" => ("text/css", include_bytes!("../vendor/xterm/xterm.css")),
        "addon-fit.js" => (
            "text/javascript",
            include_bytes!("../vendor/xterm/addon-fit.js"),
        ),
        "student.js" => ("text/javascript", include_bytes!("../page/student.js")),
        "teacher.js" => ("text/javascript", include_bytes!("../page/teacher.js")),
        "class.css" => ("text/css", include_bytes!("../page/class.css")),
        _ => return refuse(StatusCode::NOT_FOUND, "no such file"),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn student_page() -> Response {
    html(include_str!("../page/student.html"))
}

async fn me(
    State(app): State<App>,
    Path(id): Path<String>,
    axum::Extension(who): axum::Extension<Who>,
) -> Response {
    let name = app
        .class
        .students()
        .into_iter()
        .find(|s| s.id == id)
        .map(|s| s.name)
        .unwrap_or_default();
    axum::Json(serde_json::json!({
        "id": id,
        "name": name,
        "teacher": who == Who::Teacher,
        "teacher_here": app.teacher_in.lock().unwrap().get(&id).is_some_and(|n| *n > 0),
        "max_file": files::MAX_FILE,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct TermSize {
    cols: Option<u16>,
    rows: Option<u16>,
}

async fn terminal(
    State(app): State<App>,
    Path((id, host)): Path<(String, String)>,
    axum::Extension(who): axum::Extension<Who>,
    Query(size): Query<TermSize>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !valid_host(&host) {
        return refuse(
            StatusCode::NOT_FOUND,
            "the lab's hosts are server, client and client2",
        );
    }
    let Ok(ws) = ws else {
        return refuse(StatusCode::BAD_REQUEST, "a terminal is a WebSocket");
    };
    let student = matches!(who, Who::Student(_));
    if student
        && app
            .presence
            .lock()
            .unwrap()
            .get(&id)
            .is_some_and(|p| p.terminals >= MAX_TERMINALS)
    {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "too many terminals open: close one",
        );
    }
    let Ok(permit) = Arc::clone(&app.terminals).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "the class's server has all the terminals it can hold",
        );
    };
    let request = ExecRequest {
        student: id.clone(),
        host,
        tty: true,
        size: size
            .cols
            .zip(size.rows)
            .filter(|(c, r)| (1..=4096).contains(c) && (1..=4096).contains(r)),
        cmd: Vec::new(),
    };
    // The host's shell (kept, or opened through the agent) first: a refusal is said before
    // the page's WebSocket opens.
    let view = match app.terms.open(&app.agents, &request, !student).await {
        Ok(view) => view,
        Err(why) => return refuse(StatusCode::BAD_GATEWAY, &why),
    };
    if app.probed.lock().unwrap().insert(id.clone()) {
        let (agents, probed, id) = (app.agents.clone(), Arc::clone(&app.probed), id.clone());
        tokio::spawn(async move {
            if let Err(why) = view::start_probes(&agents, &id).await {
                warn!("{id}'s view: {why}");
                probed.lock().unwrap().remove(&id);
            }
        });
    }
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            app.opened(&id, student, 1);
            relay(&app, socket, view, student.then_some(id.as_str())).await;
            app.opened(&id, student, -1);
            drop(permit);
        })
}

impl App {
    /// A terminal of lab ID opened (1) or closed (-1), by its student or the teacher.
    fn opened(&self, id: &str, student: bool, change: isize) {
        if student {
            self.seen(id, change);
        } else {
            let mut teacher = self.teacher_in.lock().unwrap();
            let n = teacher.entry(id.to_string()).or_default();
            *n = n.saturating_add_signed(change);
        }
    }

    fn seen(&self, id: &str, terminals: isize) {
        let mut presence = self.presence.lock().unwrap();
        let p = presence.entry(id.to_string()).or_insert(Presence {
            terminals: 0,
            last: SystemTime::now(),
        });
        p.terminals = p.terminals.saturating_add_signed(terminals);
        p.last = SystemTime::now();
    }
}

/// A page ↔ its lab host's terminal: first who holds the keyboard and the screen so far, then
/// the output as it comes; the page's keystrokes and resizes (checked as the agent's protocol
/// says) to the shell while it holds the keyboard, and the teacher's `{"keyboard":"take"}` or
/// `{"keyboard":"give"}`.
async fn relay(app: &App, page: WebSocket, mut view: terms::View, student: Option<&str>) {
    let (mut page_tx, mut page_rx) = page.split();
    let Some(mut out) = view.out.take() else {
        return;
    };
    let mut first = vec![keyboard_message(view.keyboard)];
    for chunk in view.backlog.chunks(MAX_FRAME - 1) {
        first.push(Message::Binary(terms::output_frame(chunk).into()));
    }
    first.extend(view.ended.as_ref().map(|end| message(end.encode())));
    for msg in first {
        if page_tx.send(msg).await.is_err() {
            return;
        }
    }
    if view.ended.is_some() {
        let _ = page_tx.close().await;
        return;
    }
    let view = &view;
    let up = async {
        while let Some(Ok(msg)) = page_rx.next().await {
            let wire = match msg {
                Message::Binary(b) => Wire::Binary(b.to_vec()),
                Message::Text(t) => Wire::Text(t.to_string()),
                Message::Close(_) => break,
                _ => continue,
            };
            if let Wire::Text(text) = &wire
                && let Some(take) = keyboard_request(text)
            {
                view.keyboard(take);
                continue;
            }
            let Ok(frame) = ClientFrame::decode(wire) else {
                break;
            };
            if let (Some(id), ClientFrame::Stdin(_)) = (student, &frame) {
                app.seen(id, 0);
            }
            if !view.send(frame).await {
                break;
            }
        }
    };
    let down = async {
        loop {
            let msg = match out.recv().await {
                Ok(terms::Out::Output(data)) => Message::Binary(terms::output_frame(&data).into()),
                Ok(terms::Out::Keyboard(k)) => keyboard_message(k),
                Ok(terms::Out::End(end)) => {
                    let _ = page_tx.send(message(end.encode())).await;
                    break;
                }
                Err(broadcast::error::RecvError::Lagged(n)) => Message::Binary(
                    terms::output_frame(format!("\r\n[… {n} …]\r\n").as_bytes()).into(),
                ),
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if page_tx.send(msg).await.is_err() {
                break;
            }
        }
        let _ = page_tx.close().await;
    };
    // Either side gone ends both (the shell stays: terms.rs).
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

fn message(wire: Wire) -> Message {
    match wire {
        Wire::Binary(b) => Message::Binary(b.into()),
        Wire::Text(t) => Message::Text(t.into()),
    }
}

fn keyboard_message(holder: terms::Keyboard) -> Message {
    Message::Text(serde_json::json!({ "keyboard": holder }).to_string().into())
}

/// `{"keyboard":"take"}` (true) or `{"keyboard":"give"}` (false); None: another frame.
fn keyboard_request(text: &str) -> Option<bool> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    match value.get("keyboard")?.as_str()? {
        "take" => Some(true),
        "give" => Some(false),
        _ => None,
    }
}

async fn file_list(State(app): State<App>, Path(id): Path<String>) -> Response {
    match files::list(&app.agents, &id).await {
        Ok(entries) => axum::Json(entries).into_response(),
        Err(e) => file_error(e),
    }
}

#[derive(Deserialize)]
struct Download {
    download: Option<String>,
}

async fn file_read(
    State(app): State<App>,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<Download>,
) -> Response {
    match files::read(&app.agents, &id, &name).await {
        Ok(bytes) => {
            let mut r = Response::new(Body::from(bytes));
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let disposition = if q.download.is_some() {
                "attachment"
            } else {
                "inline"
            };
            // (The name is letters, digits, '.', '_' and '-': nothing to quote.)
            if let Ok(v) = HeaderValue::from_str(&format!("{disposition}; filename=\"{name}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => file_error(e),
    }
}

async fn file_write(
    State(app): State<App>,
    Path((id, name)): Path<(String, String)>,
    axum::Extension(who): axum::Extension<Who>,
    body: Bytes,
) -> Response {
    match files::write(&app.agents, &id, &name, &body).await {
        Ok(()) => {
            if let Who::Student(id) = who {
                app.seen(&id, 0);
            }
            refuse(StatusCode::OK, "saved")
        }
        Err(e) => file_error(e),
    }
}

fn file_error(e: files::Error) -> Response {
    match e {
        files::Error::BadName => refuse(
            StatusCode::BAD_REQUEST,
            "a file name is letters, digits, '.', '_' and '-' (64 at most, not starting with '.')",
        ),
        files::Error::NotFound => refuse(StatusCode::NOT_FOUND, "no such file in work/"),
        files::Error::TooLarge => refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "a file of work/ opened here is at most {} KiB",
                files::MAX_FILE / 1024
            ),
        ),
        files::Error::Lab(why) => refuse(StatusCode::BAD_GATEWAY, &why),
    }
}

// --- Checks (checks.rs) ----------------------------------------------------------------------

#[derive(Deserialize)]
struct CheckParams {
    role: String,
    file: Option<String>,
    lang: Option<String>,
}

/// `POST /lab/ID/check?role=R[&file=F][&lang=fr|en]`: the check of that file (by default the
/// role's own) by the agent of the lab; its result (the checker's report) as JSON.
async fn check(
    State(app): State<App>,
    Path(id): Path<String>,
    axum::Extension(who): axum::Extension<Who>,
    Query(params): Query<CheckParams>,
) -> Response {
    let asked = CheckRequest {
        student: id,
        role: params.role,
        file: params.file.filter(|f| !f.is_empty()),
        lang: params.lang,
    };
    // (Checked here as the agent checks it: a bad request is this server's 400.)
    let request = match CheckRequest::parse(&asked.query()) {
        Ok(request) => request,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why.0),
    };
    if let Who::Student(id) = &who {
        app.seen(id, 0);
    }
    match app.checks.run(&app.agents, &request, false).await {
        Ok(result) => axum::Json(result).into_response(),
        Err(e @ checks::Error::Busy) => refuse(StatusCode::CONFLICT, &e.to_string()),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, &e.to_string()),
    }
}

#[derive(Deserialize)]
struct GradeParams {
    lang: Option<String>,
}

/// `POST /teacher/grade[?lang=fr|en]`: every role of every student with a lab, checked in the
/// background (202); 409 while a grading runs. Its progress is in `/teacher/labs`.
async fn grade_all(State(app): State<App>, Query(params): Query<GradeParams>) -> Response {
    let lang = params.lang.filter(|l| l == "fr" || l == "en");
    let hosts = app.agents.hosts().await;
    let labs = agents::by_student(&hosts);
    let students: Vec<(String, String)> = app
        .class
        .students()
        .into_iter()
        .filter_map(|s| labs.get(&s.id).map(|(agent, _)| (s.id, agent.clone())))
        .collect();
    if students.is_empty() {
        return refuse(StatusCode::CONFLICT, "no lab is up: nothing to grade");
    }
    if app.checks.grade_all(app.agents.clone(), students, lang) {
        refuse(StatusCode::ACCEPTED, "grading")
    } else {
        refuse(StatusCode::CONFLICT, "a grading runs already")
    }
}

/// `POST /teacher/reset/ID`: ID's lab started again fresh (its hosts killed by the agent of its
/// node, started again by the swarm; their files stay). Its shells end; its view's probes are
/// started again with its next terminal.
async fn reset(State(app): State<App>, Path(id): Path<String>) -> Response {
    if !valid_student(&id) || !app.class.has_student(&id) {
        return refuse(StatusCode::NOT_FOUND, "no such student in the class");
    }
    match app.agents.reset(&id).await {
        Ok(n) => {
            app.probed.lock().unwrap().remove(&id);
            info!("{id}'s lab reset ({n} hosts)");
            refuse(StatusCode::OK, &format!("reset: {n} hosts"))
        }
        Err(why) => refuse(StatusCode::BAD_GATEWAY, &why),
    }
}

async fn verdicts_csv(State(app): State<App>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        app.checks.csv(),
    )
        .into_response()
}

async fn teacher_page() -> Response {
    html(include_str!("../page/teacher.html"))
}

/// The class for the teacher: every student of the roster, where their lab runs, its hosts'
/// states, whether they are online (a terminal open) and when they were last active.
async fn teacher_labs(State(app): State<App>) -> Response {
    let hosts = app.agents.hosts().await;
    let labs = agents::by_student(&hosts);
    let presence = app.presence.lock().unwrap().clone();
    let verdicts = app.checks.latest();
    let rows: Vec<serde_json::Value> = app
        .class
        .students()
        .into_iter()
        .map(|s| {
            let lab = labs.get(&s.id);
            let p = presence.get(&s.id);
            serde_json::json!({
                "id": s.id,
                "name": s.name,
                "agent": lab.map(|l| l.0.clone()),
                "hosts": lab.map(|l| l.1.clone()).unwrap_or_default(),
                "terminals": p.map_or(0, |p| p.terminals),
                "last": p.and_then(|p| p.last.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
                "verdicts": verdicts.get(&s.id),
            })
        })
        .collect();
    axum::Json(serde_json::json!({
        "labs": rows,
        "roles": chatlab_agent::protocol::ROLES,
        "grading": app.checks.progress(),
    }))
    .into_response()
}

/// How long the labs' summaries are taken as still true, and how many are asked at once.
const SUMMARIES_FRESH: Duration = Duration::from_secs(5);
const SUMMARIES_AT_ONCE: usize = 16;

/// `GET /teacher/summaries`: `{ID: summary}` of every lab whose view's probes run (a terminal
/// or its view was opened): its programs, sockets' states, deadlock ([`view::sum_up`]).
async fn summaries(State(app): State<App>) -> Response {
    let mut cache = app.summaries.lock().await;
    if let Some((when, json)) = &*cache
        && when.elapsed() < SUMMARIES_FRESH
    {
        return axum::Json(json.clone()).into_response();
    }
    let labs: Vec<String> = app.probed.lock().unwrap().iter().cloned().collect();
    let agents = app.agents.clone();
    let found: serde_json::Map<String, serde_json::Value> = futures_util::stream::iter(labs)
        .map(|id| {
            let agents = agents.clone();
            async move {
                let sum =
                    tokio::time::timeout(Duration::from_secs(5), view::summary(&agents, &id)).await;
                match sum {
                    Ok(Ok(sum)) => Some((id, sum)),
                    Ok(Err(why)) => {
                        debug!("{id}'s summary: {why}");
                        None
                    }
                    Err(_) => None,
                }
            }
        })
        .buffer_unordered(SUMMARIES_AT_ONCE)
        .filter_map(|x| async move { x })
        .collect()
        .await;
    let json = serde_json::Value::Object(found);
    *cache = Some((Instant::now(), json.clone()));
    axum::Json(json).into_response()
}

async fn grades(State(app): State<App>, Path(file): Path<String>) -> Response {
    let Some(path) = app.class.grades_file(&file) else {
        return refuse(StatusCode::NOT_FOUND, "no grades yet: lab/class grade");
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let kind = if file.ends_with(".csv") {
                "text/csv; charset=utf-8"
            } else {
                "text/html; charset=utf-8"
            };
            ([(header::CONTENT_TYPE, kind)], bytes).into_response()
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

// --- A lab's live view (view.rs) -----------------------------------------------------------

#[derive(Deserialize)]
struct ViewLang {
    lang: Option<String>,
}

impl ViewLang {
    fn lang(&self) -> &'static str {
        if self.lang.as_deref() == Some("fr") {
            "fr"
        } else {
            "en"
        }
    }
}

async fn view_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        view::page(),
    )
        .into_response()
}

async fn view_script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript")], view::script()).into_response()
}

/// A view of lab ID: one of the views allowed, the lab's probes running (started if they are
/// not); else the refusal.
async fn view_open(app: &App, id: &str) -> Result<OwnedSemaphorePermit, Response> {
    let Ok(permit) = Arc::clone(&app.views).try_acquire_owned() else {
        return Err(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many views open",
        ));
    };
    view::start_probes(&app.agents, id)
        .await
        .map_err(|why| refuse(StatusCode::BAD_GATEWAY, &why))?;
    Ok(permit)
}

/// The lab's state now: the first line of its stream.
async fn view_state(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<ViewLang>,
) -> Response {
    let _permit = match view_open(&app, &id).await {
        Ok(permit) => permit,
        Err(refused) => return refused,
    };
    let mut first = None;
    let got = tokio::time::timeout(
        Duration::from_secs(15),
        view::stream(&app.agents, &id, q.lang(), |line| {
            first = Some(line);
            false
        }),
    )
    .await;
    match (got, first) {
        (_, Some(line)) => ([(header::CONTENT_TYPE, "application/json")], line).into_response(),
        (Ok(Err(why)), None) => refuse(StatusCode::BAD_GATEWAY, &why),
        _ => refuse(StatusCode::GATEWAY_TIMEOUT, "the lab's view did not answer"),
    }
}

/// The lab's state each time it changes, as the page's event stream (SSE).
async fn view_events(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<ViewLang>,
) -> Response {
    let permit = match view_open(&app, &id).await {
        Ok(permit) => permit,
        Err(refused) => return refused,
    };
    // The newest state wins: a page that reads slowly skips states, never piles them up.
    let (tx, rx) = tokio::sync::watch::channel(None::<String>);
    let lang = q.lang();
    let agents = app.agents.clone();
    tokio::spawn(async move {
        let _permit = permit;
        if let Err(why) = view::stream(&agents, &id, lang, |line| tx.send(Some(line)).is_ok()).await
        {
            debug!("{id}'s view: {why}");
        }
    });
    let first = Bytes::from_static(b"retry: 1000\n\n");
    let stream = futures_util::stream::unfold((Some(first), rx), |(next, mut rx)| async move {
        let chunk = match next {
            Some(chunk) => chunk,
            None => loop {
                tokio::select! {
                    changed = rx.changed() => {
                        changed.ok()?; // the lab's stream ended
                        let Some(state) = rx.borrow_and_update().clone() else { continue };
                        break Bytes::from(format!("data: {state}\n\n"));
                    }
                    () = tokio::time::sleep(Duration::from_secs(15)) => {
                        break Bytes::from_static(b": keep-alive\n\n");
                    }
                }
            },
        };
        Some((Ok::<_, std::convert::Infallible>(chunk), (None, rx)))
    });
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The replay of saved captures is not in the class's tab yet: an empty list.
/// The student's saved captures, as the view's page lists them.
async fn view_captures(State(app): State<App>, Path(id): Path<String>) -> Response {
    match view::captures(&app.agents, &id).await {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(why) => refuse(StatusCode::BAD_GATEWAY, &why),
    }
}

#[derive(Deserialize)]
struct ReplayParams {
    name: Option<String>,
    conn: Option<u32>,
    lang: Option<String>,
}

/// One of the student's captures drawn for the replay (the view's `/replay`): 422 and the
/// view's sentence when it cannot be.
async fn view_replay(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(params): Query<ReplayParams>,
) -> Response {
    let lang = ViewLang { lang: params.lang }.lang();
    let name = params.name.unwrap_or_default();
    match view::replay(&app.agents, &id, &name, params.conn, lang).await {
        Ok(Ok(json)) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Ok(Err(why)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(serde_json::json!({ "error": why })),
        )
            .into_response(),
        Err(why) => refuse(StatusCode::BAD_GATEWAY, &why),
    }
}
