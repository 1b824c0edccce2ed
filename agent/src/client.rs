//! `chatlab-agent exec`: the client lab/class runs on the teacher's machine. It asks the agent
//! of the node where a lab runs for a command in one of its hosts ([`crate::protocol`]), and
//! behaves as `docker exec -i [-t]` would there: stdin passed on (its end too), stdout and
//! stderr apart, with `--tty` the local terminal in raw mode (restored on every way out) and
//! its size followed, and the command's exit status as its own.
//!
//! Its own failures (the agent unreachable, the token refused, no such host) are one line on
//! stderr and the status [`FAILED`] (125, as `docker exec` for a failure of Docker itself).

use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use nix::sys::termios::{self, SetArg, Termios};
use tokio::net::TcpStream;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::protocol::{
    AgentFrame, ClientFrame, EXEC_PATH, ExecRequest, MAX_FRAME, STDERR, Wire, token_of_file,
};

/// The status of a failure of the agent's path (not of the command).
pub const FAILED: i32 = 125;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a refused connection is tried again (an agent that lab/class up just started).
const CONNECT_RETRY: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// The most stdin bytes in one frame.
const CHUNK: usize = 16 * 1024;

pub struct Options<'a> {
    pub agent: &'a str,
    pub token_file: &'a Path,
    pub request: ExecRequest,
}

/// Run the exec; the status to exit with.
pub fn run(mut options: Options) -> i32 {
    let token = match std::fs::read_to_string(options.token_file)
        .map_err(|e| e.to_string())
        .and_then(|t| token_of_file(&t))
    {
        Ok(t) => t,
        Err(e) => return fail(&format!("{}: {e}", options.token_file.display())),
    };
    // A terminal only where there is one to give.
    let raw = options.request.tty && std::io::stdin().is_terminal();
    if raw {
        options.request.size = window_size();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("the runtime: {e}")),
    };
    let _raw = if raw { RawMode::enter() } else { None };
    let code = runtime.block_on(exec(&options, &token, raw));
    match code {
        Ok(code) => code,
        Err(why) => {
            // (Restored before the message, or it is printed in raw mode.)
            restore_terminal();
            fail(&why)
        }
    }
}

fn fail(why: &str) -> i32 {
    restore_terminal();
    eprintln!("chatlab-agent: {why}");
    FAILED
}

async fn exec(options: &Options<'_>, token: &str, raw: bool) -> Result<i32, String> {
    let agent = options.agent;
    let ws = open(agent, token, &options.request)
        .await
        .map_err(|e| match e {
            Refused::Token => format!(
                "the agent at {agent} refused the token (401): is {} this class's token?",
                options.token_file.display()
            ),
            Refused::Other(why) => why,
        })?;
    let (mut tx, mut rx) = ws.split();
    let mut stdin = stdin_reader();
    let mut stdin_open = true;
    let mut winch = if raw {
        signal(SignalKind::window_change()).ok()
    } else {
        None
    };
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    let lost =
        || format!("the connection to the agent at {agent} was lost before the command ended");
    loop {
        tokio::select! {
            chunk = stdin.recv(), if stdin_open => {
                let frame = match chunk {
                    Some(bytes) if !bytes.is_empty() => ClientFrame::Stdin(bytes),
                    _ => {
                        stdin_open = false;
                        ClientFrame::Eof
                    }
                };
                tx.send(message(frame.encode())).await.map_err(|_| lost())?;
            }
            msg = rx.next() => {
                let wire = match msg {
                    Some(Ok(Message::Binary(b))) => Wire::Binary(b.to_vec()),
                    Some(Ok(Message::Text(t))) => Wire::Text(t.to_string()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(lost()),
                };
                match AgentFrame::decode(wire) {
                    Ok(AgentFrame::Output { stream, data }) => {
                        // (A closed stdout or stderr: the output is dropped, the command goes on.)
                        let _ = if stream == STDERR {
                            write_flush(&mut std::io::stderr().lock(), &data)
                        } else {
                            write_flush(&mut std::io::stdout().lock(), &data)
                        };
                    }
                    Ok(AgentFrame::Exit(code)) => {
                        let _ = tx.close().await;
                        return Ok(code.clamp(0, 255) as i32);
                    }
                    Ok(AgentFrame::Error(why)) => {
                        return Err(format!("the agent at {agent}: {why}"));
                    }
                    Err(why) => return Err(format!("the agent at {agent} sent {why}")),
                }
            }
            Some(()) = recv(&mut winch) => {
                if let Some((cols, rows)) = window_size() {
                    tx.send(message(ClientFrame::Resize(cols, rows).encode())).await.map_err(|_| lost())?;
                }
            }
            Some(()) = recv(&mut term) => return Ok(143),
            Some(()) = recv(&mut hup) => return Ok(129),
            Some(()) = recv(&mut int) => return Ok(130),
        }
    }
}

/// Why [`open`] failed.
#[derive(Debug)]
pub enum Refused {
    /// The agent refused the token (401).
    Token,
    /// Any other failure, in one line.
    Other(String),
}

/// An exec's WebSocket with the agent at AGENT (`ADDRESS:PORT`), handshake done.
pub async fn open(
    agent: &str,
    token: &str,
    request: &ExecRequest,
) -> Result<WebSocketStream<TcpStream>, Refused> {
    let stream = connect(agent).await.map_err(Refused::Other)?;
    let url = format!("ws://{agent}{EXEC_PATH}?{}", request.query());
    let mut http = url
        .into_client_request()
        .map_err(|e| Refused::Other(format!("the agent's address '{agent}': {e}")))?;
    http.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().map_err(|_| {
            Refused::Other("the token holds characters a header cannot carry".to_string())
        })?,
    );
    let config = WebSocketConfig::default()
        .max_frame_size(Some(MAX_FRAME))
        .max_message_size(Some(MAX_FRAME));
    let handshake = tokio_tungstenite::client_async_with_config(http, stream, Some(config));
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Err(_) => Err(Refused::Other(format!(
            "the agent at {agent} did not answer in time"
        ))),
        Ok(Err(WsError::Http(response))) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|b| {
                    String::from_utf8_lossy(b)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
                .unwrap_or_default();
            Err(if status.as_u16() == 401 {
                Refused::Token
            } else {
                Refused::Other(format!(
                    "the agent at {agent} refused ({}): {body}",
                    status.as_u16()
                ))
            })
        }
        Ok(Err(e)) => Err(Refused::Other(format!("the agent at {agent}: {e}"))),
        Ok(Ok((ws, _))) => Ok(ws),
    }
}

fn write_flush(out: &mut impl Write, data: &[u8]) -> std::io::Result<()> {
    out.write_all(data)?;
    out.flush()
}

fn message(wire: Wire) -> Message {
    match wire {
        Wire::Binary(b) => Message::Binary(b.into()),
        Wire::Text(t) => Message::Text(t.into()),
    }
}

/// The next signal of S; never, when there is none.
async fn recv(s: &mut Option<Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

pub async fn connect(agent: &str) -> Result<TcpStream, String> {
    let until = tokio::time::Instant::now() + CONNECT_RETRY;
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(agent)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e))
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && tokio::time::Instant::now() < until =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(Err(e)) => return Err(format!("cannot reach the agent at {agent}: {e}")),
            Err(_) => {
                return Err(format!(
                    "cannot reach the agent at {agent}: no answer in {} s",
                    CONNECT_TIMEOUT.as_secs()
                ));
            }
        }
    }
}

/// Stdin, read by a thread of its own (a blocking read the runtime need not wait for at
/// exit): chunks, then an empty one at its end.
fn stdin_reader() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0; CHUNK];
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            if tx.blocking_send(buf[..n].to_vec()).is_err() || n == 0 {
                return;
            }
        }
    });
    rx
}

nix::ioctl_read_bad!(tiocgwinsz, nix::libc::TIOCGWINSZ, nix::libc::winsize);

/// The terminal's columns and rows (of stdin, else stdout), when it has a size.
fn window_size() -> Option<(u16, u16)> {
    for fd in [0, 1] {
        let mut ws = nix::libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes a winsize into WS, which lives for the call.
        if unsafe { tiocgwinsz(fd, &mut ws) }.is_ok() && ws.ws_col > 0 && ws.ws_row > 0 {
            return Some((ws.ws_col.min(4096), ws.ws_row.min(4096)));
        }
    }
    None
}

/// The terminal's settings before raw mode: restored by the guard, by [`fail`], and by the
/// panic hook (a panic aborts: no destructor runs).
static ORIGINAL: OnceLock<nix::libc::termios> = OnceLock::new();

struct RawMode;

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let original = termios::tcgetattr(stdin.as_fd()).ok()?;
        let _ = ORIGINAL.set(original.clone().into());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
        let mut raw = original;
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSADRAIN, &raw).ok()?;
        Some(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    if let Some(original) = ORIGINAL.get() {
        let _ = termios::tcsetattr(
            std::io::stdin().as_fd(),
            SetArg::TCSADRAIN,
            &Termios::from(*original),
        );
    }
}
