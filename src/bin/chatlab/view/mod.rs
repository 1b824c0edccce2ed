//! `chatlab view`: the live lab in a browser — the hosts, the processes that hold each
//! conversation's sockets (after `fork`, two per side), their TCP states and queues, and the
//! deadlock when both ends wait for each other.
//!
//! Two halves, joined by files, so that the view sends nothing on the lab's network:
//!
//! - `chatlab view --probe --out FILE --every 0.3` runs in each lab host (lab/view starts it)
//!   and rewrites FILE, atomically, with what /proc says ([`probe`]);
//! - `tcpdump -w DIR/HOST.pcap` runs in each lab host too (lab/view starts it);
//! - `chatlab view DIR` reads DIR's `*.probe` and `*.pcap` files (the hosts' shared
//!   `captures/` folder) and serves the page on 127.0.0.1 ([`server`], [`state`]); the
//!   segments become the ladder of `chatlab ladder` (one model, two views).
//!
//! # Layout
//!
//! - [`probe`]: one host's sockets and processes, from /proc; a line format to pass them on.
//! - [`state`]: the lab put together: conversations across hosts, the deadlock rule, JSON.
//! - [`server`]: HTTP for one page and its Server-Sent Events stream.
//! - `page.html`: the page, plain HTML, CSS and JavaScript, in French or English.

pub mod probe;
pub mod server;
pub mod state;

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use clap::Parser;

use crate::ladder;
use crate::lang::Lang;

/// The live lab in a browser: hosts, processes, TCP states, deadlocks.
///
/// lab/view starts both halves for the running lab and prints the address. Directly:
///
///   chatlab view --probe                          this host's sockets and processes, once
///   chatlab view --probe --out F --every 0.3      rewrite F with them, every 0.3 s
///   chatlab view DIR --listen 127.0.0.1:8088      serve the page for DIR/*.probe
#[derive(Debug, Parser)]
#[command(name = "view", verbatim_doc_comment)]
pub struct Args {
    /// The folder of the hosts' probe files (HOST.probe), to serve the page for
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

    /// The lab's subnet, its first three numbers (as LAB_NET): how addresses get host names
    #[arg(long, value_name = "PREFIX", default_value = "10.80.80")]
    pub net: String,

    /// Probe this host instead: its TCP sockets and the processes holding them, from /proc
    #[arg(long)]
    pub probe: bool,

    /// With --probe: write the snapshot to FILE (atomically: a temporary file renamed)
    #[arg(long, value_name = "FILE", requires = "probe")]
    pub out: Option<PathBuf>,

    /// With --probe --out: take a snapshot every SECONDS, until stopped
    #[arg(long, value_name = "SECONDS", requires = "out", value_parser = parse_period)]
    pub every: Option<Duration>,

    /// More diagnostics on stderr: -v for debug, -vv for trace (RUST_LOG overrides)
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_period(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.05..=60.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "'{text}' is not a period in seconds from 0.05 to 60 (e.g. 0.3)"
        )),
    }
}

/// Run what ARGS ask for; an error is one line for `main` to print.
pub fn run(args: &Args) -> Result<(), String> {
    if args.probe {
        return probe(args);
    }
    let dir = args.dir.clone().expect("clap requires DIR without --probe");
    if !dir.is_dir() {
        return Err(format!("{}: no such folder", dir.display()));
    }
    let listener = TcpListener::bind(args.listen).map_err(|e| {
        format!(
            "cannot listen on {}: {e} (another view? choose another port)",
            args.listen
        )
    })?;
    // The page's language is the browser's: the ladder's words follow the locale here.
    let ctx = ladder::Ctx::new(Lang::choose(None), &args.net, LADDER_FOLD, LADDER_MAX).ok_or_else(
        || {
            format!(
                "--net '{}': give the first three numbers, e.g. 10.80.80",
                args.net
            )
        },
    )?;
    let lab = Lab {
        dir,
        ctx,
        ladder: Mutex::default(),
    };
    server::serve(listener, lab).map_err(|e| format!("serving: {e}"))
}

fn probe(args: &Args) -> Result<(), String> {
    let Some(out) = &args.out else {
        let text = probe::read(Path::new("/")).to_text();
        return io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| format!("writing to stdout: {e}"));
    };
    let tmp = out.with_extension("probe-tmp");
    loop {
        let text = probe::read(Path::new("/")).to_text();
        fs::write(&tmp, text)
            .and_then(|()| fs::rename(&tmp, out))
            .map_err(|e| format!("writing {}: {e}", out.display()))?;
        match args.every {
            Some(period) => thread::sleep(period),
            None => return Ok(()),
        }
    }
}

/// Pauses longer than this (s) are folded in the live ladder.
const LADDER_FOLD: f64 = 2.0;
/// The most segments the live ladder draws per connection (a bulk transfer would otherwise
/// make a page of thousands of arrows): the rest is said in a note on the drawing.
const LADDER_MAX: usize = 300;
/// The newest connections the live ladder draws.
const LADDER_CONNECTIONS: usize = 3;

/// The lab as DIR's files say it: the page's source.
struct Lab {
    dir: PathBuf,
    ctx: ladder::Ctx,
    /// The last ladder drawn, and the captures' sizes it was drawn from: every open page asks
    /// for the state 5 times a second, and the captures are read again only when they grew.
    ladder: Mutex<(Sizes, Option<String>)>,
}

/// Each capture file and its size.
type Sizes = Vec<(PathBuf, u64)>;

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
                    .collect()
            })
            .unwrap_or_default();
        let rank = |n: &str| ["server", "client", "client2"].iter().position(|h| *h == n);
        names.sort_by_key(|n| (rank(n).unwrap_or(usize::MAX), n.clone()));
        names
            .into_iter()
            .map(|name| {
                let snapshot = fs::read_to_string(self.dir.join(format!("{name}.probe")))
                    .ok()
                    .map(|t| probe::Snapshot::from_text(&t));
                state::Host { name, snapshot }
            })
            .collect()
    }
}

impl server::Source for Lab {
    fn page(&self) -> String {
        include_str!("page.html").to_string()
    }

    fn state(&self) -> String {
        let mut captures: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
                    .collect()
            })
            .unwrap_or_default();
        captures.sort();
        let sizes: Sizes = captures
            .iter()
            .map(|p| (p.clone(), fs::metadata(p).map_or(0, |m| m.len())))
            .collect();
        let mut cache = self.ladder.lock().unwrap_or_else(|e| e.into_inner());
        if cache.0 != sizes {
            let svg = ladder::live_svg(&captures, &self.ctx, LADDER_CONNECTIONS);
            *cache = (sizes, svg);
        }
        state::to_json(&self.hosts(), cache.1.as_deref())
    }
}
