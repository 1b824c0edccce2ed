//! A lab's live view, for its student's tab: the page `lab/view` serves (`chatlab view`'s
//! page.html, the same file), its state made in the lab by `chatlab view --stream`, run by the
//! agent in the lab's server host and relayed as the page's event stream.
//!
//! As `lab/view` does, each host runs `chatlab view --probe` and `tcpdump`,
//! writing into the captures folder the lab's hosts share (`/captures/.class-view/`); they are
//! started the first time a view of the lab is opened, and run as long as the lab (nothing is
//! sent on the lab's network).
//!
//! The page's replay lists the student's own captures (`/captures/*.pcap` in the lab, as
//! `lab/capture` names them: NAME-client.pcap, NAME-server.pcap…) and draws one, by `chatlab
//! view --list-captures` and `--replay` in the lab's server host: the code `lab/view` runs.
//!
//! The page's one inline script is served as a file of its own (`page.js`), so that the
//! server's policy still allows no inline script.

use chatlab_agent::protocol::{AgentFrame, ExecRequest, HOSTS, STDOUT};
use futures_util::StreamExt;

use crate::agents::{self, Agents};

/// The view's page, as `chatlab view` serves it.
const PAGE: &str = include_str!("../../src/bin/chatlab/view/page.html");
const DIR: &str = "/captures/.class-view";
/// The student's saved captures, in every host of their lab.
const CAPTURES: &str = "/captures";
/// The largest replay relayed (its ladder drawn: up to a thousand segments).
const MAX_REPLAY: usize = 8 << 20;
/// The longest state line relayed (a ladder drawn is hundreds of kilobytes).
const MAX_LINE: usize = 8 << 20;

/// The page, its inline script replaced by `page.js`.
pub fn page() -> String {
    match split() {
        Some((before, _, after)) => format!("{before}<script src=\"page.js\"></script>{after}"),
        None => PAGE.to_string(),
    }
}

/// The page's script.
pub fn script() -> &'static str {
    split().map_or("", |(_, script, _)| script)
}

fn split() -> Option<(&'static str, &'static str, &'static str)> {
    let start = PAGE.find("<script>")?;
    let end = PAGE[start..].find("</script>")? + start;
    Some((
        &PAGE[..start],
        &PAGE[start + "<script>".len()..end],
        &PAGE[end + "</script>".len()..],
    ))
}

/// The probe and tcpdump in each host of STUDENT's lab, started if they are not running.
/// The probe looks every second, not every 0.3 s as `lab/view`'s: a class runs a probe in
/// each host of every lab opened, and at 0.3 s thirty labs' probes saturated this 2-core
/// machine (bench/class-web: a keystroke's echo p95 of 180 ms); the ladder, from tcpdump, is
/// not slowed.
pub async fn start_probes(agents: &Agents, student: &str) -> Result<(), String> {
    // $1: the view's folder. The capture interface: the host's one network (its default route).
    let script = r#"d=$1; mkdir -p "$d" && chmod 755 "$d" || exit 1
pgrep -f "chatlab view --probe --out $d/" >/dev/null && exit 0
h=$(hostname); i=$(ip -o route show default 2>/dev/null | awk '{print $5; exit}')
[ -n "$i" ] || i=$(ip -o link show | awk -F': ' '$2 != "lo" {print $2; exit}' | cut -d@ -f1)
setsid chatlab view --probe --out "$d/$h.probe" --every 1 </dev/null >/dev/null 2>&1 &
setsid tcpdump -i "$i" -s 256 -U --immediate-mode -w "$d/$h.pcap" tcp </dev/null >/dev/null 2>&1 &
exit 0"#;
    for host in HOSTS {
        let out = agents
            .run(
                student,
                host,
                &["sh", "-c", script, "sh", DIR],
                b"",
                agents::MAX_OUTPUT,
            )
            .await?;
        if out.code != 0 {
            return Err(format!(
                "the view's probe in {host}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    Ok(())
}

/// Sets `net` in a lab's host: each host's address as the lab resolves its name
/// (`server=IP,client=IP,client2=IP`: the swarm chose them), so that the ladders name the
/// hosts; else the host's own subnet.
const NET: &str = r#"net=
for h in server client client2; do
  ip=$(getent hosts "$h" | awk '{print $1; exit}')
  [ -n "$ip" ] && net="$net$h=$ip,"
done
[ -n "$net" ] || net=$(hostname -i | awk '{print $1}' | cut -d. -f1-3)
"#;

/// The command that prints the lab's state in LANG, each time it changes (`--stream`), in the
/// lab's server host.
fn stream_command(lang: &str) -> Vec<String> {
    let script = format!(r#"{NET}exec chatlab view "$1" --stream --lang "$2" --net "$net""#);
    ["sh", "-c", &script, "sh", DIR, lang]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The student's saved captures (`/captures/*.pcap` of their lab, grouped by experiment): the
/// JSON of the page's `/captures`, printed in the lab's server host by `chatlab view
/// --list-captures`.
pub async fn captures(agents: &Agents, student: &str) -> Result<String, String> {
    let cmd = [
        "chatlab",
        "view",
        CAPTURES,
        "--captures",
        CAPTURES,
        "--list-captures",
    ];
    let out = agents
        .run(student, "server", &cmd, b"", agents::MAX_OUTPUT)
        .await?;
    if out.code != 0 {
        return Err(first_line(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The replay of experiment NAME (connection CONN) of the student's captures in LANG: the JSON
/// of the page's `/replay`, printed by `chatlab view --replay` in the lab's server host (its
/// host names as the lab resolves them); Ok(Err(line)) when the view says what is wrong with it.
pub async fn replay(
    agents: &Agents,
    student: &str,
    name: &str,
    conn: Option<u32>,
    lang: &str,
) -> Result<Result<String, String>, String> {
    let script = format!(
        r#"{NET}d=$1; shift
exec chatlab view "$d" --captures "$d" --net "$net" "$@""#
    );
    let replay = format!("--replay={name}");
    let conn = conn.map(|n| n.to_string());
    let mut cmd = vec!["sh", "-c", &script, "sh", CAPTURES, &replay, "--lang", lang];
    if let Some(n) = &conn {
        cmd.extend(["--conn", n]);
    }
    let out = agents.run(student, "server", &cmd, b"", MAX_REPLAY).await?;
    Ok(match out.code {
        0 => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        1 => Err(first_line(&out.stderr)),
        code => {
            return Err(format!(
                "the replay ended ({code}): {}",
                first_line(&out.stderr)
            ));
        }
    })
}

/// The lab as its teacher's grid sums it up, from `chatlab view --summary` in its server host
/// (what its probes see, once they run): [`sum_up`].
pub async fn summary(agents: &Agents, student: &str) -> Result<serde_json::Value, String> {
    let cmd = ["chatlab", "view", DIR, "--summary"];
    let out = agents
        .run(student, "server", &cmd, b"", agents::MAX_OUTPUT)
        .await?;
    if out.code != 0 {
        return Err(first_line(&out.stderr));
    }
    let state = serde_json::from_slice(&out.stdout).map_err(|e| format!("its summary: {e}"))?;
    Ok(sum_up(&state))
}

/// `{"hosts": {HOST: {"programs": ["chat ×2"], "states": ["ESTABLISHED"]}}, "deadlock": B}`
/// of the view's STATE: per host, the programs that hold a TCP socket (how many of each) and
/// the states of its sockets but those of its loopback; whether a conversation is the deadlock the view shows.
pub fn sum_up(state: &serde_json::Value) -> serde_json::Value {
    let mut hosts = serde_json::Map::new();
    for (name, snap) in state["hosts"].as_object().into_iter().flatten() {
        let mut programs: Vec<(String, usize)> = Vec::new();
        for p in snap["processes"].as_array().into_iter().flatten() {
            if p["sockets"].as_array().is_none_or(|s| s.is_empty()) {
                continue;
            }
            let comm = p["comm"].as_str().unwrap_or("?").to_string();
            match programs.iter_mut().find(|(c, _)| *c == comm) {
                Some((_, n)) => *n += 1,
                None => programs.push((comm, 1)),
            }
        }
        // (Not the host's own loopback: Docker's name server listens there in every host.)
        let mut states: Vec<&str> = snap["sockets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| {
                let local = s["local"].as_str().unwrap_or("");
                !(local.starts_with("127.") || local.starts_with("[::1]"))
            })
            .filter_map(|s| s["state"].as_str())
            .collect();
        states.sort_unstable();
        states.dedup();
        let programs: Vec<String> = programs
            .into_iter()
            .map(|(c, n)| if n > 1 { format!("{c} ×{n}") } else { c })
            .collect();
        hosts.insert(
            name.clone(),
            serde_json::json!({ "programs": programs, "states": states }),
        );
    }
    let deadlock = state["conversations"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["deadlock"] == true));
    serde_json::json!({ "hosts": hosts, "deadlock": deadlock })
}

fn first_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().next().unwrap_or("").trim();
    // (chatlab says "chatlab view: WHAT": the page wants WHAT.)
    line.strip_prefix("chatlab view: ")
        .unwrap_or(line)
        .to_string()
}

/// The lab's state lines, as they come, until the page or the lab goes: each line is sent to
/// SEND; the first error ends it.
pub async fn stream(
    agents: &Agents,
    student: &str,
    lang: &str,
    mut send: impl FnMut(String) -> bool,
) -> Result<(), String> {
    let request = ExecRequest {
        student: student.to_string(),
        host: "server".to_string(),
        tty: false,
        size: None,
        cmd: stream_command(lang),
    };
    let ws = agents.open(&request).await?;
    let (_tx, mut rx) = ws.split();
    let mut line = Vec::new();
    while let Some(frame) = agents::next_frame(&mut rx).await {
        match frame? {
            AgentFrame::Output { stream, data } if stream == STDOUT => {
                for chunk in data.split_inclusive(|b| *b == b'\n') {
                    line.extend_from_slice(chunk);
                    if line.len() > MAX_LINE {
                        return Err(format!("a state of more than {MAX_LINE} bytes"));
                    }
                    if line.ends_with(b"\n") {
                        line.pop();
                        let text = String::from_utf8_lossy(&line).into_owned();
                        line.clear();
                        if !send(text) {
                            return Ok(());
                        }
                    }
                }
            }
            AgentFrame::Output { data, .. } => {
                log::debug!(
                    "{student}'s view: {}",
                    String::from_utf8_lossy(&data).trim()
                );
            }
            AgentFrame::Exit(code) => return Err(format!("the view's state ended ({code})")),
            AgentFrame::Error(why) => return Err(why),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_summary_says_programs_states_and_the_deadlock() {
        let state = serde_json::json!({
            "hosts": {
                "server": {
                    "sockets": [
                        {"state": "LISTEN", "local": "0.0.0.0:8080"},
                        {"state": "ESTABLISHED", "local": "10.0.0.2:8080"},
                        {"state": "LISTEN", "local": "127.0.0.11:40000"},
                        {"state": "TIME_WAIT", "local": "[::1]:9"}
                    ],
                    "processes": [
                        {"comm": "chat", "sockets": [7]},
                        {"comm": "chat", "sockets": [7]},
                        {"comm": "bash", "sockets": []}
                    ]
                },
                "client2": null
            },
            "conversations": [{"deadlock": false}, {"deadlock": true}],
            "ladder": null
        });
        let sum = super::sum_up(&state);
        assert_eq!(
            sum["hosts"]["server"]["programs"],
            serde_json::json!(["chat ×2"])
        );
        assert_eq!(
            sum["hosts"]["server"]["states"],
            serde_json::json!(["ESTABLISHED", "LISTEN"])
        );
        assert_eq!(sum["hosts"]["client2"]["programs"], serde_json::json!([]));
        assert_eq!(sum["deadlock"], true);
        let calm = serde_json::json!({"hosts": {}, "conversations": [{"deadlock": false}]});
        assert_eq!(super::sum_up(&calm)["deadlock"], false);
    }

    #[test]
    fn the_page_is_the_views_with_its_script_apart() {
        let page = super::page();
        assert!(page.contains("<script src=\"page.js\"></script>"));
        assert!(!page.contains("<script>"), "an inline script left");
        let script = super::script();
        assert!(
            script.contains("EventSource(`events?lang="),
            "relative URLs: {script:.200}"
        );
        assert!(super::PAGE.contains(script));
    }
}
