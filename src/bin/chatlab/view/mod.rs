//! `chatlab view`: the live lab in a browser — the hosts, the processes that hold each
//! conversation's sockets (after `fork`, two per side), their TCP states and queues, and the
//! deadlock when both ends wait for each other.
//!
//! Two halves, joined by files, so that the view sends nothing on the lab's network:
//!
//! - `chatlab view --probe --out DIR/HOST.probe --every 0.3` runs in each lab host (lab/view
//!   starts it) and rewrites that file, atomically, with what /proc says ([`probe`]); with
//!   `--netem-record`, it also copies lab/netem's record as it grows to `DIR/HOST.netem.pcap`
//!   ([`mirror`]: the true departures of delayed segments);
//! - `tcpdump -w DIR/HOST.pcap` runs in each lab host too (lab/view starts it);
//! - `chatlab view DIR` reads those files (in the hosts' shared `captures/` folder) and serves
//!   the page on 127.0.0.1 ([`server`], [`state`]); the segments become the ladder of
//!   `chatlab ladder` (one model, two views), in bounded memory ([`live`]). With `--captures`,
//!   the page also replays saved captures, segment by segment ([`replay`]).
//!
//! # Layout
//!
//! - [`probe`]: one host's sockets and processes (read by [`crate::procfs`]), as JSON.
//! - [`mirror`]: a growing copy of lab/netem's record, whole records only.
//! - [`state`]: the lab put together: conversations across hosts, the deadlock rule, JSON.
//! - [`live`]: the hosts' growing captures, read incrementally, the newest kept.
//! - [`replay`]: the saved captures, grouped by experiment, drawn for the replay.
//! - [`server`]: HTTP for one page, its state, its event stream and the replay (axum on
//!   tokio), every resource bounded whatever a client sends, only for our own `Host:`.
//! - `page.html`: the page, plain HTML, CSS and JavaScript, in French or English.

pub mod live;
pub mod mirror;
pub mod probe;
pub mod replay;
pub mod server;
pub mod state;

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use clap::Parser;

use crate::ladder;
use crate::lang::Lang;

/// The live lab in a browser: hosts, processes, TCP states, deadlocks; and any saved capture
/// replayed segment by segment.
///
/// lab/view starts both halves for the running lab and prints the address. Directly:
///
///   chatlab view --probe                          this host's sockets and processes, once
///   chatlab view --probe --out F --every 0.3      rewrite F with them, every 0.3 s
///   chatlab view DIR --listen 127.0.0.1:8088      serve the page for DIR/*.probe, DIR/*.pcap
///   chatlab view DIR --captures captures          … and replay captures/*.pcap on the page
///   chatlab view DIR --captures C --replay NAME   print the page's replay of NAME, once
///   chatlab view DIR --summary                    print the hosts and conversations, once
#[derive(Debug, Parser)]
#[command(name = "view", verbatim_doc_comment)]
pub struct Args {
    /// The folder of the hosts' probe files (HOST.probe) and live captures (HOST.pcap,
    /// HOST.netem.pcap), to serve the page for
    #[arg(
        value_name = "DIR",
        required_unless_present = "probe",
        conflicts_with = "probe"
    )]
    pub dir: Option<PathBuf>,

    /// Where the page is served: 127.0.0.1 only, unless you mean otherwise (lab/view publishes
    /// a container's port on the host's 127.0.0.1)
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8088")]
    pub listen: SocketAddr,

    /// The port the browser uses, when it is not --listen's (lab/view publishes the
    /// container's 8088 on the host's 127.0.0.1:PORT): the page answers only requests for
    /// 127.0.0.1, localhost or [::1] on these ports
    #[arg(long, value_name = "PORT", conflicts_with = "probe")]
    pub public_port: Option<u16>,

    /// The folder of saved captures the page can replay (lab/capture's captures/): its
    /// *.pcap and *.pcapng files, grouped by experiment (NAME-client.pcap, NAME-server.pcap…)
    #[arg(long, value_name = "FOLDER", conflicts_with = "probe")]
    pub captures: Option<PathBuf>,

    /// The lab's subnet, its first three numbers (as LAB_NET): how addresses get host names;
    /// or each host's address, server=IP,client=IP,client2=IP (a class's lab)
    #[arg(long, value_name = "PREFIX", default_value = "10.80.80")]
    pub net: String,

    /// Instead of serving the page, print its state (the JSON of its /state) on stdout, one
    /// line each time it changes, until stdout closes: the class's web server relays it
    #[arg(long, conflicts_with = "probe")]
    pub stream: bool,

    /// With --stream or --replay: in this language (else the locale's)
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,

    /// Instead of serving the page, print the list of --captures's saved captures (the JSON
    /// of its /captures) on stdout, once: the class's web server relays it
    #[arg(long, requires = "captures", conflicts_with_all = ["probe", "stream", "replay"])]
    pub list_captures: bool,

    /// Instead of serving the page, print the replay of --captures's experiment NAME (the
    /// JSON of its /replay?name=NAME) on stdout, once: the class's web server relays it
    #[arg(
        long,
        value_name = "NAME",
        requires = "captures",
        conflicts_with_all = ["probe", "stream"]
    )]
    pub replay: Option<String>,

    /// Instead of serving the page, print its state without the ladder (the hosts' probes and
    /// the conversations, deadlocks said) on stdout, once: the class's teacher's page sums it up
    #[arg(long, conflicts_with_all = ["probe", "stream", "replay", "list_captures"])]
    pub summary: bool,

    /// With --replay: only its connection N (from 1)
    #[arg(long, value_name = "N", requires = "replay")]
    pub conn: Option<u32>,

    /// Probe this host instead: its TCP sockets and the processes holding them, from /proc
    #[arg(long)]
    pub probe: bool,

    /// With --probe: write the snapshot to FILE (atomically: a temporary file renamed)
    #[arg(long, value_name = "FILE", requires = "probe")]
    pub out: Option<PathBuf>,

    /// With --probe --out: take a snapshot every SECONDS, until stopped
    #[arg(long, value_name = "SECONDS", requires = "out", value_parser = parse_period)]
    pub every: Option<Duration>,

    /// With --probe --every: also keep a copy of lab/netem's record (when each packet entered
    /// the userspace engine) growing beside FILE, as HOST.netem.pcap, for the live ladder
    #[arg(long, value_name = "RECORD", requires = "every")]
    pub netem_record: Option<PathBuf>,

    /// More diagnostics on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// A `--every` that is not a period the probe keeps: the text given.
#[derive(Debug)]
pub struct BadPeriod(String);

impl fmt::Display for BadPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = &self.0;
        write!(
            f,
            "'{text}' is not a period in seconds from 0.05 to 60 (e.g. 0.3)"
        )
    }
}

impl std::error::Error for BadPeriod {}

fn parse_period(text: &str) -> Result<Duration, BadPeriod> {
    match text.parse::<f64>() {
        Ok(s) if (0.05..=60.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(BadPeriod(text.to_string())),
    }
}

/// What stops `chatlab view`: one line each, for `main` to print.
#[derive(Debug)]
pub enum Error {
    /// DIR is not a folder.
    NoFolder(PathBuf),
    /// `--captures FOLDER` is not a folder.
    NoCaptures(PathBuf),
    /// `--net` is not the first three numbers of an address.
    BadNet(String),
    /// The page's address cannot be listened on.
    Listen { addr: SocketAddr, source: io::Error },
    /// The server stopped.
    Serve(io::Error),
    /// `--replay`: no such experiment, or it cannot be drawn (said in the page's words).
    Replay(replay::Error),
    /// The probe's snapshot could not be written: to stdout (None) or to its file.
    Write {
        to: Option<PathBuf>,
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NoFolder(dir) => write!(f, "{}: no such folder", dir.display()),
            Error::NoCaptures(dir) => write!(f, "--captures {}: no such folder", dir.display()),
            Error::Replay(e) => write!(f, "{e}"),
            Error::BadNet(net) => write!(
                f,
                "--net '{net}': give the first three numbers, e.g. 10.80.80, or the hosts' addresses, e.g. server=10.100.0.2,client=10.100.0.3"
            ),
            Error::Listen { addr, source } => write!(
                f,
                "cannot listen on {addr}: {source} (another view? choose another port)"
            ),
            Error::Serve(e) => write!(f, "serving: {e}"),
            Error::Write { to: None, source } => write!(f, "writing to stdout: {source}"),
            Error::Write {
                to: Some(path),
                source,
            } => write!(f, "writing {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Listen { source, .. } | Error::Write { source, .. } | Error::Serve(source) => {
                Some(source)
            }
            Error::NoFolder(_) | Error::NoCaptures(_) | Error::BadNet(_) | Error::Replay(_) => None,
        }
    }
}

/// Run what ARGS ask for; an error is one line for `main` to print.
pub fn run(args: &Args) -> Result<(), Error> {
    if args.probe {
        return probe(args);
    }
    let dir = args.dir.clone().expect("clap requires DIR without --probe");
    if !dir.is_dir() {
        return Err(Error::NoFolder(dir));
    }
    if let Some(captures) = &args.captures
        && !captures.is_dir()
    {
        return Err(Error::NoCaptures(captures.clone()));
    }
    let ctx = |lang, fold, max| {
        ladder::Ctx::new(lang, &args.net, fold, max).ok_or_else(|| Error::BadNet(args.net.clone()))
    };
    // The page asks in the browser's language: the ladders are drawn in both, on demand.
    let live_ctx = [
        ctx(Lang::Fr, FOLD, LIVE_MAX)?,
        ctx(Lang::En, FOLD, LIVE_MAX)?,
    ];
    let replay_ctx = [
        ctx(Lang::Fr, FOLD, REPLAY_MAX)?,
        ctx(Lang::En, FOLD, REPLAY_MAX)?,
    ];
    let lab = Lab {
        dir,
        captures: args.captures.clone(),
        live_ctx,
        replay_ctx,
        live: Mutex::default(),
    };
    if args.stream {
        return stream(&lab, Lang::choose(args.lang));
    }
    if args.summary {
        let json = state::to_json(&lab.hosts(), &serde_json::value::RawValue::NULL.to_owned());
        return writeln!(io::stdout(), "{json}")
            .map_err(|source| Error::Write { to: None, source });
    }
    if args.list_captures || args.replay.is_some() {
        use server::Source;
        let json = match &args.replay {
            Some(name) => lab
                .replay(name, args.conn, Lang::choose(args.lang))
                .map_err(Error::Replay)?,
            None => lab.captures(),
        };
        return writeln!(io::stdout(), "{json}")
            .map_err(|source| Error::Write { to: None, source });
    }
    let listener = TcpListener::bind(args.listen).map_err(|source| Error::Listen {
        addr: args.listen,
        source,
    })?;
    let ports: Vec<u16> = args.public_port.into_iter().collect();
    server::serve(listener, lab, &ports).map_err(Error::Serve)
}

/// `--stream`: the page's state, a line each time it changes (looked at as often as the
/// page's server looks), until stdout is closed (the reader gone: not an error).
fn stream(lab: &Lab, lang: Lang) -> Result<(), Error> {
    use server::Source;
    let mut out = io::stdout().lock();
    let mut last = String::new();
    loop {
        let now = lab.state(lang);
        if now != last {
            match writeln!(out, "{now}").and_then(|()| out.flush()) {
                Ok(()) => last = now,
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                Err(source) => return Err(Error::Write { to: None, source }),
            }
        }
        thread::sleep(server::TICK);
    }
}

fn probe(args: &Args) -> Result<(), Error> {
    let Some(out) = &args.out else {
        let text = probe::read(Path::new("/")).to_json();
        return io::stdout()
            .write_all(text.as_bytes())
            .map_err(|source| Error::Write { to: None, source });
    };
    let tmp = out.with_extension("probe-tmp");
    let mut mirror = args
        .netem_record
        .as_ref()
        .map(|from| mirror::Mirror::new(from, &out.with_extension("netem.pcap")));
    loop {
        let text = probe::read(Path::new("/")).to_json();
        fs::write(&tmp, text)
            .and_then(|()| fs::rename(&tmp, out))
            .map_err(|source| Error::Write {
                to: Some(out.clone()),
                source,
            })?;
        if let Some(m) = &mut mirror
            && let Err(e) = m.step()
        {
            log::warn!("the copy of the netem record: {e}");
        }
        match args.every {
            Some(period) => thread::sleep(period),
            None => return Ok(()),
        }
    }
}

/// Pauses longer than this (s) are folded, as lab/ladder does by default.
const FOLD: f64 = 0.5;
/// The live ladder draws at most this many segments per connection (it keeps
/// live::HEAD + live::WINDOW of each: see [`live`]); a replay, as many as lab/ladder.
const LIVE_MAX: usize = 300;
const REPLAY_MAX: usize = 1000;

/// The lab as DIR's files say it: the page's source.
struct Lab {
    dir: PathBuf,
    captures: Option<PathBuf>,
    /// The ladders' contexts, in French and in English ([`lang_index`]).
    live_ctx: [ladder::Ctx; 2],
    replay_ctx: [ladder::Ctx; 2],
    /// The live captures, and the ladder drawn from them in each language (as its JSON value,
    /// `null` or the escaped SVG) until they grow: every open page asks for the state five
    /// times a second, and the drawing is hundreds of kilobytes.
    live: Mutex<(live::Live, [Option<Arc<serde_json::value::RawValue>>; 2])>,
}

fn lang_index(lang: Lang) -> usize {
    match lang {
        Lang::Fr => 0,
        Lang::En => 1,
    }
}

/// The most hosts the page shows (the lab has three): a folder of a million probes costs
/// what a folder of this many costs.
const MAX_HOSTS: usize = 16;
/// A probe file is a few kilobytes (a host's sockets and processes); a bigger one is not read.
pub const MAX_PROBE: u64 = 1 << 20;

/// The text of PATH if it is a regular file of at most CAP bytes, read without waiting: a
/// FIFO, a device or a symbolic link of that name is refused, never opened for reading
/// in a way that can block.
pub fn read_small(path: &Path, cap: u64) -> io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = nix::fcntl::OFlag::O_NONBLOCK | nix::fcntl::OFlag::O_NOFOLLOW;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(path)?;
    // The opened file's own type and size (not the name's: it may have changed since).
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    if meta.len() > cap {
        return Err(io::Error::other(format!(
            "{} bytes, more than {cap}",
            meta.len()
        )));
    }
    let mut text = String::new();
    // (A file that grows meanwhile is cut at CAP, and then not valid: refused too.)
    file.take(cap + 1).read_to_string(&mut text)?;
    if text.len() as u64 > cap {
        return Err(io::Error::other(format!("more than {cap} bytes")));
    }
    Ok(text)
}

impl Lab {
    /// The hosts whose probes are in DIR, the lab's in their usual order first.
    fn hosts(&self) -> Vec<state::Host> {
        let mut names: Vec<String> = fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".probe")
                            .map(String::from)
                    })
                    .take(MAX_HOSTS * 4)
                    .collect()
            })
            .unwrap_or_default();
        let rank = |n: &str| ["server", "client", "client2"].iter().position(|h| *h == n);
        names.sort_by_key(|n| (rank(n).unwrap_or(usize::MAX), n.clone()));
        names.truncate(MAX_HOSTS);
        names
            .into_iter()
            .map(|name| {
                let path = self.dir.join(format!("{name}.probe"));
                let snapshot = match read_small(&path, MAX_PROBE) {
                    // (What is not a snapshot shows the host with nothing in it, as an
                    // empty file does.)
                    Ok(text) => Some(probe::Snapshot::from_json(&text).unwrap_or_else(|e| {
                        log::debug!("{}: {e}", path.display());
                        probe::Snapshot::default()
                    })),
                    Err(e) => {
                        log::debug!("{}: {e}", path.display());
                        None
                    }
                };
                state::Host { name, snapshot }
            })
            .collect()
    }
}

impl server::Source for Lab {
    fn page(&self) -> String {
        include_str!("page.html").to_string()
    }

    fn state(&self, lang: Lang) -> String {
        let i = lang_index(lang);
        let ladder = {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            let (captures, drawn) = &mut *live;
            if captures.refresh(&self.dir, &self.live_ctx[i]) {
                log::trace!("live ladder: {} observations kept", captures.kept());
                *drawn = [None, None];
            }
            Arc::clone(drawn[i].get_or_insert_with(|| {
                let svg = captures.svg(&self.live_ctx[i]);
                serde_json::value::to_raw_value(&svg)
                    .expect("a string is JSON")
                    .into()
            }))
        };
        state::to_json(&self.hosts(), &ladder)
    }

    fn captures(&self) -> String {
        replay::list_json(self.captures.as_deref())
    }

    fn replay(&self, name: &str, conn: Option<u32>, lang: Lang) -> Result<String, replay::Error> {
        replay::replay(
            self.captures.as_deref(),
            name,
            conn,
            &self.replay_ctx[lang_index(lang)],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_is_its_one_line() {
        let gone = || io::Error::from(io::ErrorKind::AddrInUse);
        let cases = [
            (
                Error::NoFolder("lab/x".into()).to_string(),
                "lab/x: no such folder",
            ),
            (
                Error::NoCaptures("caps".into()).to_string(),
                "--captures caps: no such folder",
            ),
            (
                Error::BadNet("10.80".into()).to_string(),
                "--net '10.80': give the first three numbers, e.g. 10.80.80, or the hosts' addresses, e.g. server=10.100.0.2,client=10.100.0.3",
            ),
            (
                Error::Listen {
                    addr: "127.0.0.1:8088".parse().unwrap(),
                    source: gone(),
                }
                .to_string(),
                "cannot listen on 127.0.0.1:8088: address in use (another view? choose another \
                 port)",
            ),
            (Error::Serve(gone()).to_string(), "serving: address in use"),
            (
                Error::Write {
                    to: None,
                    source: gone(),
                }
                .to_string(),
                "writing to stdout: address in use",
            ),
            (
                Error::Write {
                    to: Some("d/client.probe".into()),
                    source: gone(),
                }
                .to_string(),
                "writing d/client.probe: address in use",
            ),
            (
                parse_period("0.01").unwrap_err().to_string(),
                "'0.01' is not a period in seconds from 0.05 to 60 (e.g. 0.3)",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
