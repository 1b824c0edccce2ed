//! The agent's protocol, in one place: what `chatlab-agent exec` (and later the class's web
//! server) says to an agent, and what it answers. Nothing here does I/O.
//!
//! # Requests (HTTP/1.1, every one with `Authorization: Bearer TOKEN`)
//!
//! - `GET /v1/health` → 200 `ok`.
//! - `GET /v1/labs` → 200, JSON [`Labs`]: the hosts of the class's labs on the agent's node
//!   (running or not), by student; what the class's web server shows the teacher and how it
//!   finds the node of a lab.
//! - `GET /v1/exec?student=ID&host=HOST&tty=0|1&cols=C&rows=R&cmd=ARG&cmd=ARG…`, upgraded to a
//!   WebSocket: CMD (the `cmd` parameters in order; none: a login shell, `bash -l`) in the
//!   running container labelled `chatlab.class=1`, `chatlab.class.student=ID`,
//!   `chatlab.class.host=HOST` on the agent's own node, working directory `/work`, with a
//!   terminal when `tty=1` (of C columns and R rows when given).
//! - `GET /v1/check?student=ID&role=ROLE[&file=NAME][&lang=fr|en]` → 200, JSON [`CheckResult`]:
//!   ID's file for ROLE checked by `chatlab check` in a container of its own, made for it and
//!   removed after, from the image of ID's lab, with ID's `work/` read-only and
//!   `lab/check`'s containment (no network but its loopback, no capability, memory,
//!   processes and CPU bounded, [`CHECK_WALL`] seconds); [`CHECKS_AT_ONCE`] at a time on the
//!   node, the others wait their turn. What `lab/class grade` does as swarm jobs, for one file:
//!   the class's web page's check button.
//! - `POST /v1/reset?student=ID` → 200, JSON `{"reset":N}`: the N running hosts of ID's lab on
//!   this node killed, for the swarm to start them again, fresh (their volumes, `work/` and
//!   `captures/`, stay); 404 when none runs here. The teacher's « reset ».
//!
//! Refusals are plain HTTP, before any upgrade, with a one-line body: 401 (no or a wrong
//! token: nothing else is said), 400 (a bad parameter: ID is letters, digits, `-` and `_`, at
//! most 32; HOST is `server`, `client` or `client2`), 404 (no such running host of the class on
//! this node), 503 (the agent runs its maximum of execs).
//!
//! # Frames, once upgraded
//!
//! client → agent:
//! - binary: bytes for the command's stdin;
//! - text `{"resize":[COLS,ROWS]}`: the terminal's new size (tty only);
//! - text `{"eof":true}`: the end of stdin (the agent half-closes the command's stdin, so that
//!   a `chat send` reading it sees its end).
//!
//! agent → client:
//! - binary: a stream tag, then output bytes: tag 1 stdout (and a terminal's output), 2 stderr;
//! - text `{"exit":N}`: the command ended with status N; the agent then closes;
//! - text `{"error":"…"}`: the exec failed after the upgrade (one line); the agent then closes.
//!
//! A frame is at most [`MAX_FRAME`] bytes.

use std::fmt;

/// The agent's port, on each node's addresses (LAB_CLASS_AGENT_PORT in lab/class).
pub const DEFAULT_PORT: u16 = 7171;
pub const HEALTH_PATH: &str = "/v1/health";
pub const EXEC_PATH: &str = "/v1/exec";
pub const LABS_PATH: &str = "/v1/labs";
pub const CHECK_PATH: &str = "/v1/check";
pub const RESET_PATH: &str = "/v1/reset";
/// The TD's roles a check knows (`chatlab check ROLE`).
pub const ROLES: [&str; 6] = [
    "q1",
    "q2",
    "q3-client",
    "q3-server",
    "q4-client",
    "q4-server",
];
/// How long a check's program may run (`lab/check`'s wall), and checks at once on a node.
pub const CHECK_WALL: u64 = 120;
pub const CHECKS_AT_ONCE: usize = 2;
/// The most bytes of one WebSocket frame or message, either way.
pub const MAX_FRAME: usize = 64 * 1024;
/// Output stream tags: the first byte of an agent's binary frame.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// The student of an agent that serves one lab (`chatlab-agent serve --lab`: lab/view
/// --terminals, for a compose lab).
pub const ONE_LAB: &str = "lab";
/// The hosts of a student's lab.
pub const HOSTS: [&str; 3] = ["server", "client", "client2"];
/// A student ID's longest (lab/class's roster rule).
pub const ID_MAX: usize = 32;
/// A command's most arguments, and most bytes in all.
pub const MAX_ARGS: usize = 256;
pub const MAX_CMD_BYTES: usize = 16 * 1024;
/// The command when none is given: a login shell.
pub const DEFAULT_CMD: [&str; 2] = ["bash", "-l"];
/// Where the command runs in the host: the student's files.
pub const WORKDIR: &str = "/work";

/// A student ID: letters, digits, `-` and `_`, 1 to [`ID_MAX`] of them.
pub fn valid_student(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn valid_host(host: &str) -> bool {
    HOSTS.contains(&host)
}

/// What `GET /v1/labs` answers: the class's lab hosts on one node.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Labs {
    pub hosts: Vec<LabHost>,
}

/// One host of a lab, as the node's Docker daemon sees its container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabHost {
    pub student: String,
    /// `server`, `client` or `client2`.
    pub host: String,
    /// Docker's state word: `running`, `exited`, `created`, …
    pub state: String,
    /// Docker's status sentence: `Up 5 minutes`, `Exited (0) 2 seconds ago`, …
    pub status: String,
    /// When the container was created (seconds since the epoch).
    pub created: i64,
}

/// What `GET /v1/exec` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub student: String,
    pub host: String,
    pub tty: bool,
    /// Columns and rows of the terminal, when known.
    pub size: Option<(u16, u16)>,
    /// Empty: [`DEFAULT_CMD`].
    pub cmd: Vec<String>,
}

/// Why a request is refused (400), in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest(pub String);

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(why: impl Into<String>) -> BadRequest {
    BadRequest(why.into())
}

impl ExecRequest {
    /// The request of a query string (without its `?`); every parameter checked.
    pub fn parse(query: &str) -> Result<ExecRequest, BadRequest> {
        let (mut student, mut host, mut tty, mut cols, mut rows) = (None, None, false, None, None);
        let mut cmd = Vec::new();
        let mut bytes = 0;
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let once = |slot: &Option<String>| {
                if slot.is_some() {
                    Err(bad(format!("'{key}' is given twice")))
                } else {
                    Ok(Some(value.to_string()))
                }
            };
            match &*key {
                "student" => student = once(&student)?,
                "host" => host = once(&host)?,
                "tty" => {
                    tty = match &*value {
                        "0" => false,
                        "1" => true,
                        _ => return Err(bad("tty is 0 or 1")),
                    }
                }
                "cols" => cols = Some(size(&value, "cols")?),
                "rows" => rows = Some(size(&value, "rows")?),
                "cmd" => {
                    bytes += value.len() + 1;
                    if cmd.len() >= MAX_ARGS || bytes > MAX_CMD_BYTES {
                        return Err(bad(format!(
                            "the command is longer than {MAX_ARGS} arguments or {MAX_CMD_BYTES} bytes"
                        )));
                    }
                    if value.contains('\0') {
                        return Err(bad("an argument of the command holds a NUL byte"));
                    }
                    cmd.push(value.into_owned());
                }
                _ => return Err(bad(format!("unknown parameter '{}'", printable(&key)))),
            }
        }
        let student = student.ok_or_else(|| bad("which student? (student=ID)"))?;
        if !valid_student(&student) {
            return Err(bad(format!(
                "'{}' is not a student ID: letters, digits, - and _, at most {ID_MAX}",
                printable(&student)
            )));
        }
        let host = host.ok_or_else(|| bad("which host? (host=server|client|client2)"))?;
        if !valid_host(&host) {
            return Err(bad(format!(
                "unknown host '{}': the lab's hosts are server, client and client2",
                printable(&host)
            )));
        }
        let size = match (cols, rows) {
            (Some(c), Some(r)) => Some((c, r)),
            (None, None) => None,
            _ => return Err(bad("cols and rows go together")),
        };
        Ok(ExecRequest {
            student,
            host,
            tty,
            size,
            cmd,
        })
    }

    /// The query string of this request (what [`parse`](Self::parse) reads back).
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("student", &self.student)
            .append_pair("host", &self.host)
            .append_pair("tty", if self.tty { "1" } else { "0" });
        if let Some((cols, rows)) = self.size {
            q.append_pair("cols", &cols.to_string())
                .append_pair("rows", &rows.to_string());
        }
        for arg in &self.cmd {
            q.append_pair("cmd", arg);
        }
        q.finish()
    }

    /// The command to run: the one asked for, or a login shell.
    pub fn command(&self) -> Vec<String> {
        if self.cmd.is_empty() {
            DEFAULT_CMD.iter().map(|s| s.to_string()).collect()
        } else {
            self.cmd.clone()
        }
    }
}

fn size(value: &str, what: &str) -> Result<u16, BadRequest> {
    value
        .parse::<u16>()
        .ok()
        .filter(|n| (1..=4096).contains(n))
        .ok_or_else(|| bad(format!("{what} is a number from 1 to 4096")))
}

/// TEXT with its control characters shown as `?`, at most 40 characters (for messages that
/// quote what a client sent).
pub fn printable(text: &str) -> String {
    text.chars()
        .take(40)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// A frame from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    Stdin(Vec<u8>),
    Resize(u16, u16),
    Eof,
}

/// A frame from the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentFrame {
    Output { stream: u8, data: Vec<u8> },
    Exit(i64),
    Error(String),
}

/// A frame as it travels: binary or text (the WebSocket library's message, without it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wire {
    Binary(Vec<u8>),
    Text(String),
}

impl ClientFrame {
    pub fn encode(&self) -> Wire {
        match self {
            ClientFrame::Stdin(data) => Wire::Binary(data.clone()),
            ClientFrame::Resize(cols, rows) => {
                Wire::Text(serde_json::json!({ "resize": [cols, rows] }).to_string())
            }
            ClientFrame::Eof => Wire::Text(r#"{"eof":true}"#.to_string()),
        }
    }

    pub fn decode(wire: Wire) -> Result<ClientFrame, BadRequest> {
        match wire {
            Wire::Binary(data) => Ok(ClientFrame::Stdin(data)),
            Wire::Text(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| bad("a text frame is not JSON"))?;
                if value.get("eof") == Some(&serde_json::Value::Bool(true)) {
                    return Ok(ClientFrame::Eof);
                }
                if let Some([cols, rows]) = value
                    .get("resize")
                    .and_then(|v| serde_json::from_value::<[u16; 2]>(v.clone()).ok())
                    && cols > 0
                    && rows > 0
                {
                    return Ok(ClientFrame::Resize(cols, rows));
                }
                Err(bad(format!("unknown frame {}", printable(&text))))
            }
        }
    }
}

impl AgentFrame {
    pub fn encode(&self) -> Wire {
        match self {
            AgentFrame::Output { stream, data } => {
                let mut bytes = Vec::with_capacity(data.len() + 1);
                bytes.push(*stream);
                bytes.extend_from_slice(data);
                Wire::Binary(bytes)
            }
            AgentFrame::Exit(code) => Wire::Text(serde_json::json!({ "exit": code }).to_string()),
            AgentFrame::Error(why) => Wire::Text(serde_json::json!({ "error": why }).to_string()),
        }
    }

    pub fn decode(wire: Wire) -> Result<AgentFrame, BadRequest> {
        match wire {
            Wire::Binary(bytes) => match bytes.split_first() {
                Some((&stream, data)) if stream == STDOUT || stream == STDERR => {
                    Ok(AgentFrame::Output {
                        stream,
                        data: data.to_vec(),
                    })
                }
                _ => Err(bad("an output frame without its stream tag (1 or 2)")),
            },
            Wire::Text(text) => {
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| bad("a text frame is not JSON"))?;
                if let Some(code) = value.get("exit").and_then(serde_json::Value::as_i64) {
                    return Ok(AgentFrame::Exit(code));
                }
                if let Some(why) = value.get("error").and_then(serde_json::Value::as_str) {
                    return Ok(AgentFrame::Error(why.to_string()));
                }
                Err(bad(format!("unknown frame {}", printable(&text))))
            }
        }
    }
}

/// A file of a student's `work/`, as the class names one: letters, digits, `.`, `_` and `-`,
/// 1 to 64 of them, never hidden (so never `.` or `..`), never a path.
pub fn valid_file_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What `GET /v1/check` asks for: the check of one student's file for one role of the TD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRequest {
    pub student: String,
    /// One of [`ROLES`].
    pub role: String,
    /// A file of `work/`; None: the role's own (`ROLE.py`, `ROLE.sh` or `ROLE`).
    pub file: Option<String>,
    /// `fr` or `en`; None: the checker's default.
    pub lang: Option<String>,
}

impl CheckRequest {
    /// The request of a query string (without its `?`); every parameter checked.
    pub fn parse(query: &str) -> Result<CheckRequest, BadRequest> {
        let (mut student, mut role, mut file, mut lang) = (None, None, None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*key {
                "student" => &mut student,
                "role" => &mut role,
                "file" => &mut file,
                "lang" => &mut lang,
                _ => return Err(bad(format!("unknown parameter '{}'", printable(&key)))),
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(bad(format!("'{key}' is given twice")));
            }
        }
        let student = student.ok_or_else(|| bad("which student? (student=ID)"))?;
        if !valid_student(&student) {
            return Err(bad(format!(
                "'{}' is not a student ID: letters, digits, - and _, at most {ID_MAX}",
                printable(&student)
            )));
        }
        let role = role.ok_or_else(|| bad("which role? (role=q1|q2|…)"))?;
        if !ROLES.contains(&role.as_str()) {
            return Err(bad(format!(
                "unknown role '{}': one of {}",
                printable(&role),
                ROLES.join(", ")
            )));
        }
        if let Some(f) = &file
            && !valid_file_name(f)
        {
            return Err(bad(format!(
                "'{}' is not a file of work/: letters, digits, . _ -, at most 64, not hidden",
                printable(f)
            )));
        }
        if let Some(l) = &lang
            && l != "fr"
            && l != "en"
        {
            return Err(bad("lang is fr or en"));
        }
        Ok(CheckRequest {
            student,
            role,
            file,
            lang,
        })
    }

    /// The query string of this request (what [`parse`](Self::parse) reads back).
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("student", &self.student)
            .append_pair("role", &self.role);
        if let Some(f) = &self.file {
            q.append_pair("file", f);
        }
        if let Some(l) = &self.lang {
            q.append_pair("lang", l);
        }
        q.finish()
    }
}

/// The query string of a `POST /v1/reset` of STUDENT (what [`reset_student`] reads back).
pub fn reset_query(student: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("student", student)
        .finish()
}

/// The student of a `POST /v1/reset` query string (`student=ID`, and nothing else).
pub fn reset_student(query: &str) -> Result<String, BadRequest> {
    let mut student = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != "student" {
            return Err(bad(format!("unknown parameter '{}'", printable(&key))));
        }
        if student.replace(value.into_owned()).is_some() {
            return Err(bad("'student' is given twice"));
        }
    }
    let student = student.ok_or_else(|| bad("which student? (student=ID)"))?;
    if !valid_student(&student) {
        return Err(bad(format!(
            "'{}' is not a student ID: letters, digits, - and _, at most {ID_MAX}",
            printable(&student)
        )));
    }
    Ok(student)
}

/// What `GET /v1/check` answers (200, JSON) once the check has run.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CheckResult {
    pub role: String,
    /// The file checked; None: there was none (no `ROLE.py`, `ROLE.sh` or `ROLE`, or the one
    /// asked for is not there).
    pub file: Option<String>,
    /// The checker's exit status (0 no criterion fails, 1 one fails, 2 bad command line,
    /// 3 the program could not be run, 137 cut at the wall); None: no file, or cut short.
    pub status: Option<i32>,
    /// The checker's report (`chatlab check --json`), when it wrote one.
    pub report: Option<chatlab_report::Report>,
    /// The first line the checker wrote on stderr, or why the check could not run.
    pub error: String,
}

impl CheckResult {
    /// The result of a check's stdout: its `chatlab-grade` line (agent/src/grade-job.sh).
    pub fn of_job(role: &str, file: Option<&str>, stdout: &str) -> CheckResult {
        use base64::Engine;
        let decode = |s: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(s)
                .ok()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        let mut result = CheckResult {
            role: role.to_string(),
            file: file.map(str::to_string),
            status: None,
            report: None,
            error: String::new(),
        };
        let Some(line) = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with("chatlab-grade "))
        else {
            result.error = "the check ended before its verdicts (cut short)".to_string();
            return result;
        };
        let words: Vec<&str> = line.split(' ').collect();
        match words[..] {
            [_, r, "none"] if r == role => result.file = None,
            [_, r, file, status, json, err] if r == role => {
                result.file = Some(file.to_string());
                result.status = status.parse().ok();
                result.report = decode(json).and_then(|j| serde_json::from_str(&j).ok());
                result.error = decode(err).unwrap_or_default().trim_end().to_string();
            }
            _ => result.error = format!("an unexpected line from the check: {}", printable(line)),
        }
        result
    }
}

/// The token of an `Authorization` header's value (`Bearer TOKEN`).
pub fn bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether GIVEN is EXPECTED, in a time that does not depend on where they differ (only on
/// GIVEN's length, which tells nothing of the token).
pub fn token_matches(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != given.len());
    for (i, g) in given.iter().enumerate() {
        // (Compared with a byte of EXPECTED whatever the lengths: no early exit.)
        let e = expected
            .get(i % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        diff |= e ^ g;
    }
    diff == 0 && !expected.is_empty()
}

/// The token of a token file: its content without surrounding whitespace; at least 16
/// characters (what lab/class makes: 64 hex digits, 256 bits).
pub fn token_of_file(text: &str) -> Result<String, String> {
    let token = text.trim();
    if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the token file does not hold a token (16 or more printable characters)".into(),
        );
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(q: &str) -> Result<ExecRequest, BadRequest> {
        ExecRequest::parse(q)
    }

    #[test]
    fn a_request_travels_and_comes_back() {
        let r = ExecRequest {
            student: "alice_B-2".into(),
            host: "client2".into(),
            tty: true,
            size: Some((120, 40)),
            cmd: vec![
                "sh".into(),
                "-c".into(),
                "echo 'a b' && exit 7 # é&=?".into(),
            ],
        };
        assert_eq!(req(&r.query()), Ok(r.clone()));
        let bare = ExecRequest {
            tty: false,
            size: None,
            cmd: vec![],
            ..r
        };
        assert_eq!(req(&bare.query()), Ok(bare.clone()));
        assert_eq!(bare.command(), ["bash", "-l"]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        for (q, why) in [
            ("host=client", "which student?"),
            ("student=alice", "which host?"),
            (
                "student=..%2Fetc&host=client",
                "'../etc' is not a student ID",
            ),
            ("student=al%20ice&host=client", "not a student ID"),
            ("student=&host=client", "not a student ID"),
            (
                "student=abcdefghijabcdefghijabcdefghijabc&host=client",
                "not a student ID",
            ),
            ("student=alice&host=router", "unknown host 'router'"),
            ("student=alice&host=%1b%5b31m", "unknown host '?[31m'"),
            ("student=alice&student=bob&host=client", "given twice"),
            ("student=alice&host=client&tty=yes", "tty is 0 or 1"),
            ("student=alice&host=client&cols=80", "go together"),
            (
                "student=alice&host=client&cols=0&rows=10",
                "cols is a number",
            ),
            (
                "student=alice&host=client&cols=80&rows=99999",
                "rows is a number",
            ),
            (
                "student=alice&host=client&image=x",
                "unknown parameter 'image'",
            ),
            ("student=alice&host=client&cmd=a%00b", "NUL"),
        ] {
            let err = req(q).expect_err(q).0;
            assert!(err.contains(why), "{q}: {err:?} should say {why:?}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
        let many = "cmd=x&".repeat(MAX_ARGS + 1);
        assert!(req(&format!("student=a&host=client&{many}")).is_err());
        let long = format!("cmd={}", "x".repeat(MAX_CMD_BYTES));
        assert!(req(&format!("student=a&host=client&{long}")).is_err());
    }

    #[test]
    fn frames_round_trip() {
        for f in [
            ClientFrame::Stdin(b"bonjour\n".to_vec()),
            ClientFrame::Stdin(vec![]),
            ClientFrame::Resize(80, 24),
            ClientFrame::Eof,
        ] {
            assert_eq!(ClientFrame::decode(f.encode()), Ok(f));
        }
        assert_eq!(
            ClientFrame::Resize(80, 24).encode(),
            Wire::Text(r#"{"resize":[80,24]}"#.into())
        );
        for f in [
            AgentFrame::Output {
                stream: STDOUT,
                data: b"client\n".to_vec(),
            },
            AgentFrame::Output {
                stream: STDERR,
                data: vec![],
            },
            AgentFrame::Exit(7),
            AgentFrame::Error("no such host".into()),
        ] {
            assert_eq!(AgentFrame::decode(f.encode()), Ok(f));
        }
        assert_eq!(
            AgentFrame::Exit(3).encode(),
            Wire::Text(r#"{"exit":3}"#.into())
        );
        assert_eq!(
            AgentFrame::Output {
                stream: STDERR,
                data: b"x".to_vec()
            }
            .encode(),
            Wire::Binary(vec![2, b'x'])
        );
    }

    #[test]
    fn bad_frames_are_refused() {
        for text in [
            "",
            "{}",
            "[1]",
            r#"{"eof":false}"#,
            r#"{"resize":[0,10]}"#,
            r#"{"resize":[80]}"#,
        ] {
            assert!(
                ClientFrame::decode(Wire::Text(text.into())).is_err(),
                "{text}"
            );
        }
        assert!(AgentFrame::decode(Wire::Binary(vec![])).is_err());
        assert!(AgentFrame::decode(Wire::Binary(vec![3, b'x'])).is_err());
        assert!(AgentFrame::decode(Wire::Text(r#"{"exit":"x"}"#.into())).is_err());
    }

    #[test]
    fn tokens() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Basic abc"), None);
        let t = b"0123456789abcdef0123456789abcdef";
        assert!(token_matches(t, t));
        assert!(!token_matches(t, b"0123456789abcdef0123456789abcdee"));
        assert!(!token_matches(t, b"0123456789abcdef"));
        assert!(!token_matches(t, b""));
        assert!(!token_matches(b"", b""));
        assert_eq!(
            token_of_file("  0123456789abcdef0123\n").as_deref(),
            Ok("0123456789abcdef0123")
        );
        assert!(token_of_file("short\n").is_err());
        assert!(token_of_file("").is_err());
    }

    #[test]
    fn a_check_request_travels_and_bad_ones_are_refused() {
        let r = CheckRequest {
            student: "alice".into(),
            role: "q4-server".into(),
            file: Some("mon_serveur.py".into()),
            lang: Some("fr".into()),
        };
        assert_eq!(CheckRequest::parse(&r.query()), Ok(r.clone()));
        let bare = CheckRequest {
            file: None,
            lang: None,
            ..r
        };
        assert_eq!(CheckRequest::parse(&bare.query()), Ok(bare));
        for (q, why) in [
            ("role=q1", "which student?"),
            ("student=alice", "which role?"),
            ("student=alice&role=q5", "unknown role 'q5'"),
            (
                "student=alice&role=q1&file=../etc/passwd",
                "not a file of work/",
            ),
            ("student=alice&role=q1&file=.bashrc", "not a file of work/"),
            ("student=alice&role=q1&file=a%2Fb", "not a file of work/"),
            ("student=alice&role=q1&lang=de", "lang is fr or en"),
            ("student=alice&role=q1&role=q2", "given twice"),
            ("student=a/b&role=q1", "not a student ID"),
            ("student=alice&role=q1&image=x", "unknown parameter 'image'"),
        ] {
            let e = CheckRequest::parse(q).expect_err(q);
            assert!(e.0.contains(why), "{q}: {e}");
        }
    }

    #[test]
    fn a_reset_names_one_student() {
        assert_eq!(reset_student("student=alice_2").unwrap(), "alice_2");
        assert_eq!(reset_student(&reset_query("bob-1")).unwrap(), "bob-1");
        for (q, why) in [
            ("", "which student?"),
            ("student=a%2Fb", "not a student ID"),
            ("student=a&student=b", "twice"),
            ("student=a&host=server", "unknown parameter 'host'"),
        ] {
            assert!(reset_student(q).expect_err(q).0.contains(why), "{q}");
        }
    }

    #[test]
    fn a_check_job_line_is_read_back() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let report = r#"{"role":"q1","command":"python3 q1.py","verdict":"fail","criteria":[]}"#;
        let out = format!(
            "noise\nchatlab-grade q1 q1.py 1 {} {}\n",
            b64(report),
            b64("Traceback (most recent call last):\n")
        );
        let r = CheckResult::of_job("q1", None, &out);
        assert_eq!(r.file.as_deref(), Some("q1.py"));
        assert_eq!(r.status, Some(1));
        assert_eq!(r.report.unwrap().verdict, chatlab_report::Verdict::Fail);
        assert_eq!(r.error, "Traceback (most recent call last):");
        // No error line: its word is empty.
        let r = CheckResult::of_job(
            "q1",
            None,
            &format!("chatlab-grade q1 q1.py 0 {} ", b64(report)),
        );
        assert_eq!((r.status, r.error.as_str()), (Some(0), ""));
        let r = CheckResult::of_job("q2", Some("x.py"), "chatlab-grade q2 none\n");
        assert_eq!((r.file, r.status, r.report), (None, None, None));
        let r = CheckResult::of_job("q2", None, "");
        assert!(r.error.contains("cut short"), "{}", r.error);
        let r = CheckResult::of_job("q2", None, "chatlab-grade q1 none");
        assert!(r.error.contains("unexpected"), "{}", r.error);
    }
}
