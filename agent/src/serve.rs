//! `chatlab-agent serve`: the agent, in its container on every node of the class (a global
//! swarm service on the node's host network, with the node's Docker socket).
//!
//! It holds the node's Docker socket, which can do anything to the node: so it exposes only
//! the operations lab/class needs where a lab runs ([`crate::protocol`]), on the containers
//! of the class and no other (found by the labels lab/class gives them: `chatlab.class=1`,
//! `chatlab.class.student`, `chatlab.class.host`; running; on this daemon), and only to
//! whoever holds the class's token. Nothing of the Docker API passes through: no container
//! is named by its id, no image, mount, user or privilege is chosen by the client.
//!
//! Bounds: [`MAX_CONNECTIONS`] connections, [`MAX_EXECS`] execs at once (503 past it), a
//! request head within [`HEAD_TIMEOUT`], a request answered within [`REQUEST_TIMEOUT`], a
//! frame of at most [`MAX_FRAME`] bytes, an exec closed after [`IDLE_TIMEOUT`] with no byte
//! either way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::ListContainersOptionsBuilder;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use log::{debug, info, warn};
use tokio::io::AsyncWriteExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::protocol::{
    AgentFrame, CHECK_PATH, CHECK_WALL, CHECKS_AT_ONCE, CheckRequest, CheckResult, ClientFrame,
    EXEC_PATH, ExecRequest, HEALTH_PATH, LABS_PATH, LabHost, Labs, MAX_FRAME, ONE_LAB, RESET_PATH,
    STDERR, STDOUT, WORKDIR, Wire, bearer, reset_student, token_matches, valid_host, valid_student,
};

pub const MAX_CONNECTIONS: usize = 640;
/// (A class's web server holds one a terminal open: three per student, 170 students a node.)
pub const MAX_EXECS: usize = 512;
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Docker's API version the agent speaks: Docker 20.10's (the class's oldest engine).
const DOCKER_API: bollard::ClientVersion = bollard::ClientVersion {
    major_version: 1,
    minor_version: 41,
};

pub struct Config {
    pub listen: SocketAddr,
    pub token: String,
    pub docker_socket: String,
    /// One lab instead of the class's labs: its hosts' containers, host → id (`lab/view
    /// --terminals`, for a compose lab); its student is [`ONE_LAB`].
    pub lab: Option<HashMap<String, String>>,
}

#[derive(Clone)]
struct App {
    token: Arc<str>,
    docker: Docker,
    execs: Arc<Semaphore>,
    /// Checks running ([`CHECKS_AT_ONCE`]), and waiting for their turn.
    checks: Arc<Semaphore>,
    checks_waiting: Arc<Semaphore>,
    /// [`Config::lab`].
    lab: Option<Arc<HashMap<String, String>>>,
}

/// Serve until the process is stopped.
pub async fn serve(config: Config) -> Result<(), String> {
    let docker = Docker::connect_with_unix(&config.docker_socket, 120, &DOCKER_API)
        .map_err(|e| format!("the Docker socket {}: {e}", config.docker_socket))?;
    docker.ping().await.map_err(|e| {
        format!(
            "the Docker daemon at {} does not answer: {e}",
            config.docker_socket
        )
    })?;
    let app = App {
        token: config.token.into(),
        docker,
        execs: Arc::new(Semaphore::new(MAX_EXECS)),
        checks: Arc::new(Semaphore::new(CHECKS_AT_ONCE)),
        checks_waiting: Arc::new(Semaphore::new(MAX_CHECKS_WAITING)),
        lab: config.lab.map(Arc::new),
    };
    remove_leftover_checks(&app).await;
    let router = Router::new()
        .route(HEALTH_PATH, get(|| async { "ok\n" }))
        .route(EXEC_PATH, get(exec))
        .route(LABS_PATH, get(labs))
        .route(CHECK_PATH, get(check))
        .route(RESET_PATH, post(reset))
        .layer(middleware::from_fn_with_state(app.clone(), authorise))
        .with_state(app);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    info!("listening on {}", config.listen);
    chatlab_accept::accept_each(listener, MAX_CONNECTIONS, move |stream, peer, permit| {
        connection(stream, peer, router.clone(), permit)
    })
    .await
}

async fn connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    router: Router,
    _permit: OwnedSemaphorePermit,
) {
    let http = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(16 * 1024)
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
        .with_upgrades();
    if let Err(e) = http.await {
        debug!("{peer}: {e}");
    }
}

/// Every request carries the class's token, or gets 401 and nothing else.
async fn authorise(State(app): State<App>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .unwrap_or("");
    if !token_matches(app.token.as_bytes(), given.as_bytes()) {
        return (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    }
    if req.uri().path() == CHECK_PATH {
        // (A check waits its turn, then runs up to its wall: it bounds its own time.)
        return next.run(req).await;
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(response) => response,
        Err(_) => refuse(
            StatusCode::GATEWAY_TIMEOUT,
            "the Docker daemon did not answer in time",
        ),
    }
}

fn refuse(status: StatusCode, why: &str) -> Response {
    let mut response = Response::new(Body::from(format!("{why}\n")));
    *response.status_mut() = status;
    response
}

/// `GET /v1/exec`: the host found and its exec created, then the WebSocket.
async fn exec(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let request = match ExecRequest::parse(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why.0),
    };
    let Ok(ws) = ws else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "exec is a WebSocket: an upgrade is expected",
        );
    };
    let Ok(permit) = Arc::clone(&app.execs).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("busy: {MAX_EXECS} execs run on this node already"),
        );
    };
    let container = match find_host(&app, &request).await {
        Ok(Some(id)) => id,
        Ok(None) => {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!(
                    "no running {} of {}'s lab on this node",
                    request.host, request.student
                ),
            );
        }
        Err(e) => {
            return refuse(StatusCode::BAD_GATEWAY, &format!("the Docker daemon: {e}"));
        }
    };
    let options = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(request.tty),
        cmd: Some(request.command()),
        working_dir: Some(WORKDIR.to_string()),
        env: request.tty.then(|| vec!["TERM=xterm".to_string()]),
        ..Default::default()
    };
    let exec_id = match app.docker.create_exec(&container, options).await {
        Ok(created) => created.id,
        Err(e) => {
            return refuse(
                StatusCode::BAD_GATEWAY,
                &one_line(&format!("the exec could not be created: {e}")),
            );
        }
    };
    info!(
        "exec {} in {}'s {} ({}): {:?}",
        &exec_id[..12.min(exec_id.len())],
        request.student,
        request.host,
        &container[..12.min(container.len())],
        request.command()
    );
    ws.max_frame_size(MAX_FRAME)
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            session(socket, app.docker, exec_id, request, permit).await;
        })
}

/// `GET /v1/labs`: every container of a class's lab on this daemon, running or not.
async fn labs(State(app): State<App>) -> Response {
    if let Some(lab) = &app.lab {
        let mut hosts = Vec::new();
        for (host, id) in lab.iter() {
            let state = match app.docker.inspect_container(id, None).await {
                Ok(c) => c
                    .state
                    .and_then(|s| s.status)
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
                Err(_) => "removed".to_string(),
            };
            hosts.push(LabHost {
                student: ONE_LAB.to_string(),
                host: host.clone(),
                state,
                status: String::new(),
                created: 0,
            });
        }
        hosts.sort_by(|a, b| a.host.cmp(&b.host));
        return axum::Json(Labs { hosts }).into_response();
    }
    let filters = HashMap::from([("label".to_string(), vec!["chatlab.class=1".to_string()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let found = match app.docker.list_containers(Some(options)).await {
        Ok(found) => found,
        Err(e) => return refuse(StatusCode::BAD_GATEWAY, &one_line(&e.to_string())),
    };
    let mut hosts: Vec<LabHost> = found
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels?;
            let student = labels.get("chatlab.class.student")?.clone();
            let host = labels.get("chatlab.class.host")?.clone();
            // (Only a lab's hosts: the agent's own container and grading jobs have no such pair.)
            (valid_student(&student) && valid_host(&host)).then(|| LabHost {
                student,
                host,
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                status: c.status.unwrap_or_default(),
                created: c.created.unwrap_or(0),
            })
        })
        .collect();
    hosts.sort_by(|a, b| (&a.student, &a.host, -a.created).cmp(&(&b.student, &b.host, -b.created)));
    // A swarm task replaced leaves its old container a while: the newest of each host.
    hosts.dedup_by(|b, a| a.student == b.student && a.host == b.host);
    axum::Json(Labs { hosts }).into_response()
}

/// `POST /v1/reset?student=ID`: the running hosts of ID's lab on this node killed (the swarm
/// starts them again, fresh).
async fn reset(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let student = match reset_student(query.as_deref().unwrap_or("")) {
        Ok(student) => student,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why.0),
    };
    if app.lab.is_some() {
        return refuse(
            StatusCode::CONFLICT,
            "a compose lab is started again by lab/down, then lab/up",
        );
    }
    let filters = HashMap::from([
        (
            "label".to_string(),
            vec![
                "chatlab.class=1".to_string(),
                format!("chatlab.class.student={student}"),
            ],
        ),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListContainersOptionsBuilder::default()
        .filters(&filters)
        .build();
    let found = match app.docker.list_containers(Some(options)).await {
        Ok(found) => found,
        Err(e) => return refuse(StatusCode::BAD_GATEWAY, &one_line(&e.to_string())),
    };
    // (The daemon's filter, checked again: only the hosts of that lab, never a check's.)
    let hosts: Vec<String> = found
        .into_iter()
        .filter(|c| {
            let l = c.labels.as_ref();
            let get = |k: &str| l.and_then(|l| l.get(k)).map(String::as_str);
            get("chatlab.class") == Some("1")
                && get("chatlab.class.student") == Some(student.as_str())
                && get("chatlab.class.host").is_some_and(valid_host)
        })
        .filter_map(|c| c.id)
        .collect();
    if hosts.is_empty() {
        return refuse(
            StatusCode::NOT_FOUND,
            &format!("no running host of {student}'s lab on this node"),
        );
    }
    for id in &hosts {
        let options = bollard::query_parameters::KillContainerOptionsBuilder::default()
            .signal("KILL")
            .build();
        if let Err(e) = app.docker.kill_container(id, Some(options)).await {
            return refuse(StatusCode::BAD_GATEWAY, &one_line(&e.to_string()));
        }
    }
    info!("{student}'s lab reset: {} hosts killed", hosts.len());
    axum::Json(serde_json::json!({ "reset": hosts.len() })).into_response()
}

/// What a check runs in its container: one copy, also lab/class's grading jobs'.
const GRADE_JOB: &str = include_str!("grade-job.sh");
/// Checks waiting for their turn on this node, past which one more gets 503.
pub const MAX_CHECKS_WAITING: usize = 256;
/// How long a check may wait for its turn.
pub const CHECK_QUEUE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The most bytes of a check's output kept (its report is a few KiB).
const MAX_CHECK_OUTPUT: usize = 4 * 1024 * 1024;
/// The label of a check's container (found and removed by it, by the agent at its start, and
/// by `lab/class down`).
const CHECK_LABEL: &str = "chatlab.class.check";

/// `GET /v1/check`: the student's lab found, a turn waited for, then the check in a container
/// of its own, in a task of its own (so that a client gone does not leave the container).
async fn check(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let request = match CheckRequest::parse(query.as_deref().unwrap_or("")) {
        Ok(r) => r,
        Err(why) => return refuse(StatusCode::BAD_REQUEST, &why.0),
    };
    let lab = match tokio::time::timeout(REQUEST_TIMEOUT, lab_of(&app, &request.student)).await {
        Ok(Ok(Some(lab))) => lab,
        Ok(Ok(None)) => {
            return refuse(
                StatusCode::NOT_FOUND,
                &format!("no lab of {} on this node", request.student),
            );
        }
        Ok(Err(e)) => return refuse(StatusCode::BAD_GATEWAY, &format!("the Docker daemon: {e}")),
        Err(_) => {
            return refuse(
                StatusCode::GATEWAY_TIMEOUT,
                "the Docker daemon did not answer in time",
            );
        }
    };
    let Ok(_waiting) = Arc::clone(&app.checks_waiting).try_acquire_owned() else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("busy: {MAX_CHECKS_WAITING} checks wait on this node already"),
        );
    };
    let turn =
        tokio::time::timeout(CHECK_QUEUE_TIMEOUT, Arc::clone(&app.checks).acquire_owned()).await;
    let Ok(Ok(permit)) = turn else {
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy: no turn for this check in 15 minutes",
        );
    };
    let task = tokio::spawn(run_check(app.docker.clone(), lab, request, permit));
    match task.await {
        Ok(Ok(result)) => axum::Json(result).into_response(),
        Ok(Err(e)) => refuse(StatusCode::BAD_GATEWAY, &one_line(&e)),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// A student's lab as a check needs it: the image its hosts run (by id) and its `work/` (a
/// volume in a class, the folder a compose lab binds), read from its server host (running or
/// not; the newest); the label its checks' containers get.
struct Lab {
    image: String,
    work: (bollard::models::MountType, String),
    label: (String, String),
}

async fn lab_of(app: &App, student: &str) -> Result<Option<Lab>, String> {
    if let Some(lab) = &app.lab {
        let Some(id) = lab.get("server").filter(|_| student == ONE_LAB) else {
            return Ok(None);
        };
        return lab_of_server(&app.docker, id, one_lab_check_label(id)).await;
    }
    let docker = &app.docker;
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            "chatlab.class=1".to_string(),
            format!("chatlab.class.student={student}"),
            "chatlab.class.host=server".to_string(),
        ],
    )]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let mut found = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| one_line(&e.to_string()))?;
    found.sort_by_key(|c| -c.created.unwrap_or(0));
    let Some(id) = found.into_iter().find_map(|c| {
        let l = c.labels.as_ref()?;
        (l.get("chatlab.class.student").map(String::as_str) == Some(student)
            && l.get("chatlab.class.host").map(String::as_str) == Some("server"))
        .then_some(c.id)?
    }) else {
        return Ok(None);
    };
    lab_of_server(docker, &id, (CHECK_LABEL.to_string(), "1".to_string())).await
}

/// The check's label of a one-lab agent: the lab's server's id (no class's, so that lab/class
/// never takes them for its own; and no other lab's).
fn one_lab_check_label(server: &str) -> (String, String) {
    ("chatlab.lab.check".to_string(), server.to_string())
}

async fn lab_of_server(
    docker: &Docker,
    id: &str,
    label: (String, String),
) -> Result<Option<Lab>, String> {
    use bollard::models::MountType;
    let inspected = docker
        .inspect_container(id, None)
        .await
        .map_err(|e| one_line(&e.to_string()))?;
    let work = inspected
        .mounts
        .unwrap_or_default()
        .into_iter()
        .find_map(|m| {
            if m.destination.as_deref() != Some(WORKDIR) {
                return None;
            }
            match m.typ.as_deref() {
                Some("volume") => Some((MountType::VOLUME, m.name?)),
                Some("bind") => Some((MountType::BIND, m.source?)),
                _ => None,
            }
        });
    Ok(inspected
        .image
        .zip(work)
        .map(|(image, work)| Lab { image, work, label }))
}

/// The check of REQUEST in a container of LAB's image, removed after whatever happens.
async fn run_check(
    docker: Docker,
    lab: Lab,
    request: CheckRequest,
    _turn: OwnedSemaphorePermit,
) -> Result<CheckResult, String> {
    use bollard::models::{ContainerCreateBody, HostConfig, Mount, MountType, MountVolumeOptions};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "chatlab-check-{}-{}-{nanos:08x}",
        request.student, request.role
    );
    let mut cmd = vec![
        "bash".to_string(),
        "-c".to_string(),
        GRADE_JOB.to_string(),
        "grade".to_string(),
        request.role.clone(),
    ];
    cmd.extend(request.file.clone());
    let limit = |name: &str, n: i64| bollard::models::ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(n),
        hard: Some(n),
    };
    // lab/check's containment, as lab/class grade's jobs have it.
    let host_config = HostConfig {
        network_mode: Some("none".to_string()),
        extra_hosts: Some(vec!["server:127.0.0.1".to_string()]),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_string(),
            "rw,size=16m,mode=1777".to_string(),
        )])),
        memory: Some(256 << 20),
        memory_swap: Some(256 << 20),
        pids_limit: Some(128),
        nano_cpus: Some(1_000_000_000),
        ulimits: Some(vec![limit("nofile", 1024), limit("fsize", 16 << 20)]),
        init: Some(true),
        mounts: Some(vec![Mount {
            target: Some(WORKDIR.to_string()),
            source: Some(lab.work.1.clone()),
            typ: Some(lab.work.0),
            read_only: Some(true),
            volume_options: (lab.work.0 == MountType::VOLUME).then(|| MountVolumeOptions {
                no_copy: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(lab.image.clone()),
        cmd: Some(cmd),
        env: Some(vec![
            "HOME=/tmp".to_string(),
            format!("GRADE_WALL={CHECK_WALL}"),
            format!("GRADE_LANG={}", request.lang.as_deref().unwrap_or("")),
        ]),
        working_dir: Some(WORKDIR.to_string()),
        labels: Some(if lab.label.0 == CHECK_LABEL {
            HashMap::from([
                ("chatlab.class".to_string(), "1".to_string()),
                (CHECK_LABEL.to_string(), "1".to_string()),
                ("chatlab.class.student".to_string(), request.student.clone()),
            ])
        } else {
            HashMap::from([lab.label.clone()])
        }),
        host_config: Some(host_config),
        ..Default::default()
    };
    let options = bollard::query_parameters::CreateContainerOptionsBuilder::default()
        .name(&name)
        .build();
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| format!("the check's container could not be made: {e}"))?;
    info!(
        "check of {}'s {} ({})",
        request.student,
        request.role,
        request.file.as_deref().unwrap_or("its own file")
    );
    let output = check_output(&docker, &created.id).await;
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    if let Err(e) = docker.remove_container(&created.id, Some(remove)).await {
        warn!("the check's container {name} could not be removed: {e}");
    }
    let stdout = output?;
    Ok(CheckResult::of_job(
        &request.role,
        request.file.as_deref(),
        &stdout,
    ))
}

/// The container ID started, waited for (at most the wall and a margin), and its stdout.
async fn check_output(docker: &Docker, id: &str) -> Result<String, String> {
    docker
        .start_container(id, None)
        .await
        .map_err(|e| format!("the check could not start: {e}"))?;
    let waited = tokio::time::timeout(
        Duration::from_secs(CHECK_WALL + 30),
        docker.wait_container(id, None).next(),
    )
    .await;
    if waited.is_err() {
        return Err(format!("the check did not end in {} s", CHECK_WALL + 30));
    }
    let options = bollard::query_parameters::LogsOptionsBuilder::default()
        .stdout(true)
        .build();
    let mut logs = docker.logs(id, Some(options));
    let mut stdout = Vec::new();
    while let Some(chunk) = logs.next().await {
        let chunk = chunk.map_err(|e| format!("the check's output: {e}"))?;
        if let LogOutput::StdOut { message } = chunk
            && stdout.len() + message.len() <= MAX_CHECK_OUTPUT
        {
            stdout.extend_from_slice(&message);
        }
    }
    Ok(String::from_utf8_lossy(&stdout).into_owned())
}

/// The checks' containers a former agent left (killed in the middle of one): the class's, or
/// those of this agent's one lab.
async fn remove_leftover_checks(app: &App) {
    let docker = &app.docker;
    let label = match app.lab.as_ref().and_then(|lab| lab.get("server")) {
        Some(server) => {
            let (k, v) = one_lab_check_label(server);
            format!("{k}={v}")
        }
        None => format!("{CHECK_LABEL}=1"),
    };
    let filters = HashMap::from([("label".to_string(), vec![label])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(found) = docker.list_containers(Some(options)).await else {
        return;
    };
    let remove = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
        .force(true)
        .build();
    for id in found.into_iter().filter_map(|c| c.id) {
        info!(
            "a former check's container removed: {}",
            &id[..12.min(id.len())]
        );
        let _ = docker.remove_container(&id, Some(remove.clone())).await;
    }
}

/// The container of the request's host: running, of the class, on this daemon; None if none.
async fn find_host(app: &App, request: &ExecRequest) -> Result<Option<String>, String> {
    if let Some(lab) = &app.lab {
        let Some(id) = lab
            .get(&request.host)
            .filter(|_| request.student == ONE_LAB)
        else {
            return Ok(None);
        };
        let running = app
            .docker
            .inspect_container(id, None)
            .await
            .ok()
            .and_then(|c| c.state?.running)
            .unwrap_or(false);
        return Ok(running.then(|| id.clone()));
    }
    let docker = &app.docker;
    let labels = vec![
        "chatlab.class=1".to_string(),
        format!("chatlab.class.student={}", request.student),
        format!("chatlab.class.host={}", request.host),
    ];
    let filters = HashMap::from([
        ("label".to_string(), labels),
        ("status".to_string(), vec!["running".to_string()]),
    ]);
    let options = ListContainersOptionsBuilder::default()
        .all(false)
        .filters(&filters)
        .build();
    let found = docker
        .list_containers(Some(options))
        .await
        .map_err(|e| one_line(&e.to_string()))?;
    // (The filter is the daemon's; checked again here, so that this function alone decides.)
    Ok(found
        .into_iter()
        .find(|c| {
            let l = c.labels.as_ref();
            let is = |k: &str, v: &str| l.and_then(|l| l.get(k)).is_some_and(|x| x == v);
            is("chatlab.class", "1")
                && is("chatlab.class.student", &request.student)
                && is("chatlab.class.host", &request.host)
        })
        .and_then(|c| c.id))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn message(wire: Wire) -> Message {
    match wire {
        Wire::Binary(b) => Message::Binary(b.into()),
        Wire::Text(t) => Message::Text(t.into()),
    }
}

/// One exec, attached: stdin from the client's frames, output to it, then the exit status.
async fn session(
    socket: WebSocket,
    docker: Docker,
    exec_id: String,
    request: ExecRequest,
    _permit: OwnedSemaphorePermit,
) {
    let (mut tx, mut rx) = socket.split();
    let started = docker
        .start_exec(
            &exec_id,
            Some(StartExecOptions {
                detach: false,
                tty: request.tty,
                output_capacity: Some(MAX_FRAME - 1),
            }),
        )
        .await;
    let (mut output, mut input) = match started {
        Ok(StartExecResults::Attached { output, input }) => (output, Some(input)),
        Ok(StartExecResults::Detached) => unreachable!("started attached"),
        Err(e) => {
            let why = one_line(&format!("the exec could not start: {e}"));
            let _ = tx.send(message(AgentFrame::Error(why).encode())).await;
            let _ = tx.close().await;
            return;
        }
    };
    if let (true, Some((cols, rows))) = (request.tty, request.size) {
        resize(&docker, &exec_id, cols, rows).await;
    }
    let idle = tokio::time::sleep(IDLE_TIMEOUT);
    tokio::pin!(idle);
    let mut client_gone = false;
    loop {
        tokio::select! {
            out = output.next() => {
                let (stream, data) = match out {
                    Some(Ok(LogOutput::StdOut { message } | LogOutput::Console { message })) => (STDOUT, message),
                    Some(Ok(LogOutput::StdErr { message })) => (STDERR, message),
                    Some(Ok(LogOutput::StdIn { .. })) => continue,
                    Some(Err(e)) => {
                        debug!("exec {exec_id}: output: {e}");
                        break;
                    }
                    None => break,
                };
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
                // (A terminal's output comes as it was read: cut to the frames' bound.)
                for piece in data.chunks(MAX_FRAME - 1) {
                    let frame = AgentFrame::Output { stream, data: piece.to_vec() };
                    if tx.send(message(frame.encode())).await.is_err() {
                        client_gone = true;
                        break;
                    }
                }
                if client_gone {
                    break;
                }
            }
            msg = rx.next() => {
                let wire = match msg {
                    Some(Ok(Message::Binary(b))) => Wire::Binary(b.to_vec()),
                    Some(Ok(Message::Text(t))) => Wire::Text(t.to_string()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        client_gone = true;
                        break;
                    }
                };
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
                match ClientFrame::decode(wire) {
                    Ok(ClientFrame::Stdin(bytes)) => {
                        if let Some(w) = input.as_mut()
                            && w.write_all(&bytes).await.and(w.flush().await).is_err()
                        {
                            input = None;
                        }
                    }
                    Ok(ClientFrame::Resize(cols, rows)) => {
                        if request.tty {
                            resize(&docker, &exec_id, cols, rows).await;
                        }
                    }
                    Ok(ClientFrame::Eof) => {
                        // The half-close: the command reads the end of its stdin, and its
                        // output still comes back.
                        if let Some(mut w) = input.take() {
                            let _ = w.shutdown().await;
                        }
                    }
                    Err(why) => {
                        let _ = tx.send(message(AgentFrame::Error(why.0).encode())).await;
                        client_gone = true;
                        break;
                    }
                }
            }
            () = &mut idle => {
                let why = format!("no byte either way for {} minutes: closed", IDLE_TIMEOUT.as_secs() / 60);
                let _ = tx.send(message(AgentFrame::Error(why).encode())).await;
                client_gone = true;
                break;
            }
        }
    }
    drop(input);
    if client_gone {
        debug!("exec {exec_id}: the client left before the command's end");
        return;
    }
    let frame = match exit_code(&docker, &exec_id).await {
        Some(code) => AgentFrame::Exit(code),
        None => AgentFrame::Error("the command's exit status is unknown".into()),
    };
    debug!("exec {exec_id}: {frame:?}");
    let _ = tx.send(message(frame.encode())).await;
    let _ = tx.close().await;
}

async fn resize(docker: &Docker, exec_id: &str, cols: u16, rows: u16) {
    let size = ResizeExecOptions {
        width: cols,
        height: rows,
    };
    if let Err(e) = docker.resize_exec(exec_id, size).await {
        debug!("exec {exec_id}: resize: {e}");
    }
}

/// The exec's exit status, once Docker has it (its output ends a moment before).
async fn exit_code(docker: &Docker, exec_id: &str) -> Option<i64> {
    for _ in 0..100 {
        match docker.inspect_exec(exec_id).await {
            Ok(inspect) if inspect.running != Some(true) => {
                if let Some(code) = inspect.exit_code {
                    return Some(code);
                }
            }
            Ok(_) => {}
            Err(e) => {
                debug!("exec {exec_id}: inspect: {e}");
                return None;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}
