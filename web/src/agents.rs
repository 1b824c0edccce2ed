//! The labs, through the class's agents (one per node, `agents.txt`): where each student's lab
//! runs and its hosts' states (`GET /v1/labs` of every agent), and a command run in a host
//! (`/v1/exec`, the agent's WebSocket: [`chatlab_agent::protocol`]), and a check of a
//! student's file (`/v1/check`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use chatlab_agent::client::{self, Refused};
use chatlab_agent::protocol::{
    AgentFrame, CHECK_PATH, CheckRequest, CheckResult, ClientFrame, ExecRequest, LABS_PATH,
    LabHost, Labs, MAX_FRAME, RESET_PATH, STDOUT, Wire, reset_query,
};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::Mutex;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use crate::class::Class;

/// How long the labs' listing is taken as still true.
const FRESH: Duration = Duration::from_secs(5);
const ASK_TIMEOUT: Duration = Duration::from_secs(5);
/// The most bytes a command run for the server may print (a file read whole, a listing).
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// Each lab host the agents know, with its agent's address.
pub type Hosts = Vec<(String, LabHost)>;

#[derive(Clone)]
pub struct Agents {
    class: Arc<Class>,
    /// The last listing, and when it was made.
    seen: Arc<Mutex<Option<(Instant, Hosts)>>>,
}

/// What a command run in a host gave.
pub struct Output {
    pub code: i64,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Agents {
    pub fn new(class: Arc<Class>) -> Agents {
        Agents {
            class,
            seen: Arc::new(Mutex::new(None)),
        }
    }

    /// Every lab host the agents know, with its agent (at most [`FRESH`] old).
    pub async fn hosts(&self) -> Hosts {
        let mut seen = self.seen.lock().await;
        if let Some((when, hosts)) = &*seen
            && when.elapsed() < FRESH
        {
            return hosts.clone();
        }
        let hosts = self.ask_all().await;
        *seen = Some((Instant::now(), hosts.clone()));
        hosts
    }

    /// The agent of STUDENT's lab (asking the agents again if it was not seen).
    pub async fn agent_of(&self, student: &str) -> Option<String> {
        let find = |hosts: &[(String, LabHost)]| {
            hosts
                .iter()
                .find(|(_, h)| h.student == student && h.state == "running")
                .map(|(a, _)| a.clone())
        };
        if let Some(agent) = find(&self.hosts().await) {
            return Some(agent);
        }
        *self.seen.lock().await = None;
        find(&self.hosts().await)
    }

    async fn ask_all(&self) -> Hosts {
        let Ok(token) = self.class.agent_token() else {
            log::warn!("no agent token in the class's folder");
            return Vec::new();
        };
        let asks = self.class.agents().into_iter().map(|agent| {
            let token = token.clone();
            async move {
                match tokio::time::timeout(ASK_TIMEOUT, labs_of(&agent, &token)).await {
                    Ok(Ok(labs)) => labs.hosts.into_iter().map(|h| (agent.clone(), h)).collect(),
                    Ok(Err(e)) => {
                        log::warn!("the agent at {agent}: {e}");
                        Vec::new()
                    }
                    Err(_) => {
                        log::warn!("the agent at {agent} did not answer in time");
                        Vec::new()
                    }
                }
            }
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// The exec's WebSocket of REQUEST, with the agent of its lab.
    pub async fn open(
        &self,
        request: &ExecRequest,
    ) -> Result<WebSocketStream<tokio::net::TcpStream>, String> {
        let agent = self
            .agent_of(&request.student)
            .await
            .ok_or_else(|| format!("{}'s lab is not running", request.student))?;
        let token = self.class.agent_token()?;
        client::open(&agent, &token, request)
            .await
            .map_err(|e| match e {
                Refused::Token => format!("the agent at {agent} refused the class's token"),
                Refused::Other(why) => why,
            })
    }

    /// The check of REQUEST, by the agent of its student's lab (`/v1/check`): it waits its
    /// turn there, then runs up to the checker's wall.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckResult, String> {
        let agent = self
            .agent_of(&request.student)
            .await
            .ok_or_else(|| format!("{}'s lab is not running", request.student))?;
        let token = self.class.agent_token()?;
        let path = format!("{CHECK_PATH}?{}", request.query());
        let body = ask(&agent, &token, "GET", &path).await?;
        serde_json::from_slice(&body).map_err(|e| format!("the check's result: {e}"))
    }

    /// STUDENT's lab reset by the agent of its node (`/v1/reset`: its hosts killed, started
    /// again fresh by the swarm); how many hosts.
    pub async fn reset(&self, student: &str) -> Result<u64, String> {
        let agent = self
            .agent_of(student)
            .await
            .ok_or_else(|| format!("{student}'s lab is not running"))?;
        let token = self.class.agent_token()?;
        let query = reset_query(student);
        let body = ask(&agent, &token, "POST", &format!("{RESET_PATH}?{query}")).await?;
        *self.seen.lock().await = None;
        let value: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("the reset's answer: {e}"))?;
        Ok(value["reset"].as_u64().unwrap_or(0))
    }

    /// CMD run in HOST of STUDENT's lab, STDIN given to it whole; its output, at most LIMIT
    /// bytes of each stream (an error past it).
    pub async fn run(
        &self,
        student: &str,
        host: &str,
        cmd: &[&str],
        stdin: &[u8],
        limit: usize,
    ) -> Result<Output, String> {
        let request = ExecRequest {
            student: student.to_string(),
            host: host.to_string(),
            tty: false,
            size: None,
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
        };
        let ws = self.open(&request).await?;
        let (mut tx, mut rx) = ws.split();
        let feed = async move {
            for chunk in stdin.chunks(MAX_FRAME / 2) {
                tx.send(message(ClientFrame::Stdin(chunk.to_vec()).encode()))
                    .await?;
            }
            tx.send(message(ClientFrame::Eof.encode())).await?;
            Ok::<_, tokio_tungstenite::tungstenite::Error>(tx)
        };
        let collect = async move {
            let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
            while let Some(frame) = next_frame(&mut rx).await {
                match frame? {
                    AgentFrame::Output { stream, data } => {
                        let out = if stream == STDOUT {
                            &mut stdout
                        } else {
                            &mut stderr
                        };
                        if out.len() + data.len() > limit {
                            return Err(format!("more than {limit} bytes of output"));
                        }
                        out.extend_from_slice(&data);
                    }
                    AgentFrame::Exit(code) => {
                        return Ok(Output {
                            code,
                            stdout,
                            stderr,
                        });
                    }
                    AgentFrame::Error(why) => return Err(why),
                }
            }
            Err("the agent closed before the command ended".to_string())
        };
        let (fed, output) = tokio::join!(feed, collect);
        if let Err(e) = fed {
            log::debug!("stdin of {cmd:?}: {e}");
        }
        output
    }
}

/// The agent's next frame on RX, decoded; None once it has closed.
pub async fn next_frame<S>(rx: &mut S) -> Option<Result<AgentFrame, String>>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let wire = match rx.next().await? {
            Err(e) => return Some(Err(e.to_string())),
            Ok(Message::Binary(b)) => Wire::Binary(b.to_vec()),
            Ok(Message::Text(t)) => Wire::Text(t.to_string()),
            Ok(Message::Close(_)) => return None,
            Ok(_) => continue,
        };
        return Some(AgentFrame::decode(wire).map_err(|e| e.0));
    }
}

fn message(wire: Wire) -> Message {
    match wire {
        Wire::Binary(b) => Message::Binary(b.into()),
        Wire::Text(t) => Message::Text(t.into()),
    }
}

/// `GET /v1/labs` of the agent at AGENT.
async fn labs_of(agent: &str, token: &str) -> Result<Labs, String> {
    let body = ask(agent, token, "GET", LABS_PATH).await?;
    serde_json::from_slice(&body).map_err(|e| format!("its labs: {e}"))
}

/// The body of `METHOD PATH_AND_QUERY` of the agent at AGENT (at most [`MAX_OUTPUT`] bytes),
/// or its status and first line.
async fn ask(
    agent: &str,
    token: &str,
    method: &str,
    path_and_query: &str,
) -> Result<axum::body::Bytes, String> {
    let stream = client::connect(agent).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("host", agent)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = axum::body::to_bytes(Body::new(response.into_body()), MAX_OUTPUT)
        .await
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&body).lines().next().unwrap_or("")
        ));
    }
    Ok(body)
}

/// The labs of the class by student: each host's state.
pub fn by_student(hosts: &[(String, LabHost)]) -> HashMap<String, (String, Vec<LabHost>)> {
    let mut labs: HashMap<String, (String, Vec<LabHost>)> = HashMap::new();
    for (agent, host) in hosts {
        let lab = labs
            .entry(host.student.clone())
            .or_insert_with(|| (agent.clone(), Vec::new()));
        lab.1.push(host.clone());
    }
    labs
}
