//! `chatlab check ROLE -- COMMAND…`: does a student's program answer the TD?
//!
//! A black-box conformance runner. It starts COMMAND behind a terminal, plays the other side
//! of the conversation on loopback, types as a person would, and judges criterion by criterion
//! what the program prints, sends, and how its processes behave. Each criterion has its own
//! deadline; the verdicts speak the student's language.
//!
//! # Layout
//!
//! - [`roles`]: **the table**: each role, its criteria, and the probe (a function) judging each.
//! - [`runner`]: starts the program, judges `start`, runs the probes; the one rule for a
//!   program that has ended (start it again, or skip).
//! - [`criteria`]: the probes, one file per question (`q1.rs` … `q4.rs`), each sentence a
//!   student reads beside the code that judges it; what the questions share (how a program
//!   ended, a line fault in words, what a program does once its peer leaves).
//! - [`program`]: the student's program behind a terminal; [`session`]: the warden and the
//!   helper that lead its terminal session, and [`session::Said`], what they report.
//! - [`peer`]: the checker's side of the conversation; [`capture`]: bytes collected.
//! - [`judge`]: the lines printed, read as a person reads them; [`procs`]: /proc.
//! - [`report`]: the verdicts, as text or JSON; [`quote`]: the program's bytes made safe;
//!   [`class`]: a class's grid from the JSON reports.

mod capture;
pub mod class;
mod criteria;
mod judge;
mod peer;
mod procs;
mod program;
mod quote;
mod report;
mod roles;
mod runner;
pub mod session;

use std::fmt;
use std::io;
use std::time::Instant;

use clap::Parser;

use crate::lang::{Lang, msg};
use peer::{Conn, Listener};
use program::End;
use report::Report;
pub use roles::Role;
use runner::Ctx;
use session::Unstarted;

/// Exit codes of `chatlab check`.
pub mod exit {
    /// No criterion fails (warnings do not fail).
    pub const PASS: u8 = 0;
    /// At least one criterion fails.
    pub const FAIL: u8 = 1;
    /// The program could not be run at all (not found, ended at once).
    pub const NOT_RUN: u8 = 3;
}

/// Check a program of the TD: does it do what the question asks? (criterion by criterion)
///
/// COMMAND runs behind a terminal (stdin and stdout; echo off), its stderr apart, on loopback:
/// servers must listen on PORT, clients connect to 127.0.0.1 (or localhost) on PORT. The checker
/// plays the other side and types on the program's keyboard. Each criterion gets a verdict
/// (pass, fail, warn, skip, info) and a sentence saying what to change.
///
///   chatlab check q1 -- python3 serveur.py
///   chatlab check q4-client --lang fr -- python3 client_fork.py
///
/// Exit status: 0 no criterion fails, 1 one fails, 2 bad command line, 3 the program could not
/// be run at all (its stderr is shown).
#[derive(Debug, Parser)]
#[command(name = "check", verbatim_doc_comment)]
pub struct Args {
    /// Which program of the TD this is
    #[arg(value_enum)]
    pub role: Role,

    /// One JSON object instead of text: {"role", "command", "verdict", "criteria": [{"id", "verdict", "detail"}]}
    #[arg(long)]
    pub json: bool,

    /// Language of the verdicts (default: the locale, French when it starts with fr)
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,

    /// The TCP port of the conversation (the TD's is 8080)
    #[arg(long, short, default_value_t = 8080,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// The program and its arguments, after --
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// Why a check could not be made at all: `main.rs` says it once, as `chatlab check: …`,
/// followed by the program's stderr (each line `  | …`), and exits with [`exit::NOT_RUN`].
#[derive(Debug)]
pub struct Error {
    lang: Lang,
    pub why: NotRun,
    /// The last lines of the program's stderr (untrusted: quoted when shown).
    pub stderr: String,
}

/// What stopped the check before it could judge.
#[derive(Debug)]
pub enum NotRun {
    /// Servers: another program already listens on the port.
    PortTaken(u16),
    /// Clients: the checker cannot listen on the port.
    CannotListen(u16, io::Error),
    /// The checker's session helper cannot be started.
    Helper(io::Error),
    /// The command is not found.
    NotFound(String),
    /// The command is not executable.
    NotExecutable(String),
    /// The command cannot be run for another reason, as the helper said it.
    Unstarted(String, Unstarted),
    /// The program ended at once, before it listened (a server) or connected (a client).
    EndedAtOnce {
        end: Option<End>,
        /// The port, when it is in TIME_WAIT and the program said « Address already in use ».
        time_wait: Option<u16>,
        client: bool,
    },
}

impl Error {
    pub fn new(lang: Lang, why: NotRun, stderr: String) -> Error {
        Error { lang, why, stderr }
    }

    pub fn exit_code(&self) -> u8 {
        exit::NOT_RUN
    }

    /// The one line, in the student's language (a table: one line a reason, French then
    /// English).
    #[rustfmt::skip]
    pub fn line(&self) -> String {
        let lang = self.lang;
        match &self.why {
            NotRun::PortTaken(port) => msg!(lang, "le port {port} est déjà pris par un autre programme : arrêtez-le, ou --port", "port {port} is already in use by another program: stop it, or use --port"),
            NotRun::CannotListen(port, e) => msg!(lang, "le vérificateur ne peut pas écouter sur le port {port} ({e}) : libérez-le, ou --port", "the checker cannot listen on port {port} ({e}): free it, or use --port"),
            NotRun::Helper(e) => msg!(lang, "le vérificateur ne peut pas démarrer : {e}", "cannot start the checker's helper: {e}"),
            NotRun::NotFound(cmd) => msg!(lang, "commande introuvable : {cmd}", "command not found: {cmd}"),
            NotRun::NotExecutable(cmd) => msg!(lang, "{cmd} n'est pas exécutable : chmod +x, ou lancez-le avec son interprète (python3 {cmd})", "{cmd} is not executable: chmod +x, or run it with its interpreter (python3 {cmd})"),
            NotRun::Unstarted(cmd, why) => msg!(lang, "impossible de lancer {cmd} : {why}", "cannot run {cmd}: {why}"),
            NotRun::EndedAtOnce { end, time_wait, client } => ended_at_once(lang, end, *time_wait, *client),
        }
    }

    /// The program's stderr, each line terminal-safe and bounded.
    fn stderr_lines(&self) -> Vec<String> {
        self.stderr
            .lines()
            .map(|l| quote::cap(self.lang, &quote::safe(l.as_bytes()), quote::QUOTE))
            .collect()
    }
}

/// The program ended at once (END), before it listened or connected (CLIENT); TIME_WAIT: the
/// port, when it is in TIME_WAIT and the program said « Address already in use ».
fn ended_at_once(lang: Lang, end: &Option<End>, time_wait: Option<u16>, client: bool) -> String {
    let mut status = criteria::ended(lang, end);
    if let Some(port) = time_wait {
        status.push_str(&msg!(
            lang,
            " ; le port {port} est en TIME_WAIT (une exécution précédente) : attendez 60 s, ou posez SO_REUSEADDR",
            "; port {port} is in TIME_WAIT (an earlier run): wait 60 s, or set SO_REUSEADDR"
        ));
    }
    let what = match client {
        true => msg!(lang, "se connecter", "connecting"),
        false => msg!(lang, "écouter", "listening"),
    };
    msg!(
        lang,
        "le programme s'est terminé au démarrage ({status}) sans {what}",
        "the program ended at once ({status}) without {what}"
    )
}

/// The line, then the program's stderr, one `  | ` line each.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", quote::safe(self.line().as_bytes()))?;
        for l in self.stderr_lines() {
            write!(f, "\n  | {l}")?;
        }
        Ok(())
    }
}

/// Run the check described by ARGS: the report on stdout, and the exit code ([`exit::PASS`]
/// or [`exit::FAIL`]); or why it could not be made (with --json, a report is printed all the
/// same: `start` fails with the error's line, nothing else is judged).
pub fn run(args: &Args) -> Result<u8, Error> {
    let lang = Lang::choose(args.lang);
    let spec = args.role.spec();
    let report = Report::new(spec.name, program::shown(&args.command), lang);
    let mut ctx = Ctx::new(lang, args.port, args.command.clone(), report);
    let port = args.port;
    if spec.server {
        if Conn::connect(port, Instant::now(), || true).is_some() {
            return Err(Error::new(lang, NotRun::PortTaken(port), String::new()));
        }
    } else {
        let listener = Listener::bind(port)
            .map_err(|e| Error::new(lang, NotRun::CannotListen(port, e), String::new()))?;
        ctx.listener = Some(listener);
    }
    if let Err(err) = runner::judge(&mut ctx, spec.criteria, spec.probes) {
        if args.json {
            print!("{}", not_run(&err, ctx.report, spec).json());
        }
        return Err(err);
    }
    if args.json {
        print!("{}", ctx.report.json());
    } else {
        print!("{}", ctx.report.text(lang));
    }
    Ok(if ctx.report.failed() {
        exit::FAIL
    } else {
        exit::PASS
    })
}

/// The report of a program that could not be run: `start` fails with ERR's line (and the last
/// line of its stderr), nothing else is judged.
fn not_run(err: &Error, mut report: Report, spec: &roles::Spec) -> Report {
    let lang = err.lang;
    let line = err.line();
    report.criteria.clear();
    let stderr = err.stderr_lines();
    let last = stderr.last().map(|l| l.trim()).unwrap_or_default();
    let detail = if last.is_empty() {
        line
    } else {
        format!("{line} — {last}")
    };
    report.add("start", report::Verdict::Fail, detail);
    report.skip_rest(
        spec.criteria,
        &msg!(
            lang,
            "non jugé : le programme n'a pas pu être lancé",
            "not judged: the program could not be run"
        ),
    );
    report
}
