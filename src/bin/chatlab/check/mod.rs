//! `chatlab check ROLE -- COMMAND…`: does a student's program answer the TD?
//!
//! A black-box conformance runner. It starts COMMAND behind a terminal ([`program`]), plays
//! the other side of the conversation on loopback ([`peer`]), types as a person would, and
//! judges criterion by criterion what the program prints ([`judge`]), sends, and how its
//! processes behave ([`procs`]). Each criterion is a probe with its own deadline; the verdicts
//! ([`report`]) speak the student's language. One module per question: [`q1`], [`q2`],
//! [`q3`], [`q4`]. [`session`] is the helper that leads the program's terminal session.

mod capture;
pub mod class;
mod judge;
mod peer;
mod procs;
mod program;
mod q1;
mod q2;
mod q3;
mod q4;
mod quote;
mod report;
pub mod session;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

use crate::lang::Lang;
use judge::Fault;
use peer::{Conn, Listener};
use program::{End, Program};
use report::Report;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Q1: a server that prints the lines it receives
    Q1,
    /// Q2: a client that sends the lines typed
    Q2,
    /// Q3: the alternating chat's client (it starts: types, sends, waits)
    #[value(name = "q3-client")]
    Q3Client,
    /// Q3: the alternating chat's server (waits, prints, types, sends)
    #[value(name = "q3-server")]
    Q3Server,
    /// Q4: the fork duplex client
    #[value(name = "q4-client")]
    Q4Client,
    /// Q4: the fork duplex server
    #[value(name = "q4-server")]
    Q4Server,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Q1 => "q1",
            Role::Q2 => "q2",
            Role::Q3Client => "q3-client",
            Role::Q3Server => "q3-server",
            Role::Q4Client => "q4-client",
            Role::Q4Server => "q4-server",
        }
    }

    /// The criteria judged for this role, in order.
    pub fn ids(self) -> &'static [&'static str] {
        match self {
            Role::Q1 => q1::IDS,
            Role::Q2 => q2::IDS,
            Role::Q3Client => q3::IDS,
            Role::Q3Server => q3::SERVER_IDS,
            Role::Q4Client => q4::CLIENT_IDS,
            Role::Q4Server => q4::SERVER_IDS,
        }
    }

    pub const ALL: [Role; 6] = [
        Role::Q1,
        Role::Q2,
        Role::Q3Client,
        Role::Q3Server,
        Role::Q4Client,
        Role::Q4Server,
    ];

    fn server(self) -> bool {
        matches!(self, Role::Q1 | Role::Q3Server | Role::Q4Server)
    }
}

/// The check could not go on.
pub enum Abort {
    /// The program could not be run at all: one line, and its stderr.
    NotRun(String, String),
}

/// The one idiom for a sentence in the student's language (see [`crate::lang`]).
pub(crate) use crate::lang::msg;

/// What a check needs: the language, the port, the command, and the verdicts so far.
pub struct Ctx {
    pub lang: Lang,
    pub port: u16,
    pub command: Vec<String>,
    pub report: Report,
    /// The checker's listening sockets (client roles).
    pub listener: Option<Listener>,
    /// Server roles: the program's processes just before the last connection (the listener
    /// and what it started before accept), so that a conversation's processes are told apart.
    pub before: HashSet<(i32, u64)>,
    /// Server roles: the addresses listening on the port when the last connection was made
    /// (a server may close its listener once it has its client).
    listening: Vec<std::net::IpAddr>,
    runs: u32,
}

/// How a start went.
pub enum Start {
    Up(Program, Conn),
    /// The program ended before the connection.
    Ended(Program),
    /// No connection by the deadline.
    Late(#[allow(dead_code, reason = "kept alive until judged, then killed on drop")] Program),
}

/// One probe of a conversation: the criteria it judges, and how, on a running program.
pub type Probe<'a> = (
    &'static [&'static str],
    Box<dyn FnMut(&mut Ctx, &Program, &Conn) + 'a>,
);

/// How long a program has to listen or connect.
pub const START: Duration = Duration::from_secs(5);

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

impl Ctx {
    /// Start the program once more, and connect to it (server) or accept it (client).
    pub fn start(&mut self) -> Result<Start, Abort> {
        let first = self.runs == 0;
        self.runs += 1;
        if let Some(l) = &self.listener {
            l.drain();
        }
        let program = Program::start(&self.command, self.lang).map_err(|e| {
            let lang = self.lang;
            Abort::NotRun(
                msg!(
                    lang,
                    "le vérificateur ne peut pas démarrer : {e}",
                    "cannot start the checker's helper: {e}"
                ),
                String::new(),
            )
        })?;
        if let Some(End::NotRun(why)) = program.end() {
            let lang = self.lang;
            let cmd = &self.command[0];
            let line = if why.starts_with("NotFound") {
                msg!(
                    lang,
                    "commande introuvable : {cmd}",
                    "command not found: {cmd}"
                )
            } else if why.starts_with("PermissionDenied") {
                msg!(
                    lang,
                    "{cmd} n'est pas exécutable : chmod +x, ou lancez-le avec son interprète (python3 {cmd})",
                    "{cmd} is not executable: chmod +x, or run it with its interpreter (python3 {cmd})"
                )
            } else {
                msg!(
                    lang,
                    "impossible de lancer {cmd} : {why}",
                    "cannot run {cmd}: {why}"
                )
            };
            return Err(Abort::NotRun(line, String::new()));
        }
        let deadline = Instant::now() + START;
        let conn = match &self.listener {
            Some(l) => l.accept(deadline, || !program.running()),
            None => loop {
                // What runs before this attempt: if it connects, these were there before accept.
                self.before = program.procs().iter().map(|p| p.key()).collect();
                self.listening = procs::listening_on(self.port);
                if let Some(conn) = Conn::connect(self.port, Instant::now(), || true) {
                    if self.listening.is_empty() {
                        self.listening = procs::listening_on(self.port);
                    }
                    break Some(conn);
                }
                if !program.running() || Instant::now() >= deadline {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            },
        };
        match conn {
            Some(conn) => Ok(Start::Up(program, conn)),
            None if program.running() => Ok(Start::Late(program)),
            None if first => {
                let lang = self.lang;
                let port = self.port;
                let mut status = ended(lang, &program.end());
                // On one machine, a check just before leaves the port in TIME_WAIT for 60 s.
                if program.stderr_text().contains("Address already in use")
                    && procs::time_wait(port)
                {
                    status.push_str(&msg!(
                        lang,
                        " ; le port {port} est en TIME_WAIT (une exécution précédente) : attendez 60 s, ou posez SO_REUSEADDR",
                        "; port {port} is in TIME_WAIT (an earlier run): wait 60 s, or set SO_REUSEADDR"
                    ));
                }
                let what = if self.listener.is_some() {
                    lang.pick("se connecter", "connecting")
                } else {
                    lang.pick("écouter", "listening")
                };
                Err(Abort::NotRun(
                    msg!(
                        lang,
                        "le programme s'est terminé au démarrage ({status}) sans {what}",
                        "the program ended at once ({status}) without {what}"
                    ),
                    program.stderr_tail(20),
                ))
            }
            None => Ok(Start::Ended(program)),
        }
    }

    /// The `start` criterion, judged from the first start.
    pub fn judge_start(&mut self, start: &Start) {
        let lang = self.lang;
        let port = self.port;
        let server = self.listener.is_none();
        match start {
            Start::Up(..) if server => {
                self.report.add(
                    "start",
                    report::Verdict::Pass,
                    msg!(lang, "le serveur écoute sur le port {port}", "the server listens on port {port}"),
                );
                self.judge_listen_all();
            }
            Start::Up(..) => self.report.add(
                "start",
                report::Verdict::Pass,
                msg!(lang, "le client se connecte au port {port}", "the client connects to port {port}"),
            ),
            Start::Late(..) if server => self.report.add(
                "start",
                report::Verdict::Fail,
                msg!(
                    lang,
                    "personne n'écoute sur le port {port} après 5 s : bind(('', {port})) puis listen() avant accept()",
                    "nothing listens on port {port} after 5 s: bind(('', {port})) then listen() before accept()"
                ),
            ),
            Start::Late(..) => self.report.add(
                "start",
                report::Verdict::Fail,
                msg!(
                    lang,
                    "aucune connexion au port {port} en 5 s : connect(('localhost', {port})) au démarrage",
                    "no connection to port {port} within 5 s: connect(('localhost', {port})) at start"
                ),
            ),
            Start::Ended(p) => {
                let status = ended(lang, &p.end());
                self.report.add(
                    "start",
                    report::Verdict::Fail,
                    msg!(lang, "le programme s'est terminé ({status}) avant la connexion", "the program ended ({status}) before the connection"),
                )
            }
        }
    }

    /// `listen-all` (servers): the listening socket's address lets the lab's other hosts in
    /// (0.0.0.0, ::, or an address of the host), not loopback only.
    fn judge_listen_all(&mut self) {
        let lang = self.lang;
        let port = self.port;
        let addrs = self.listening.clone();
        let loopback = |ip: &std::net::IpAddr| match ip {
            std::net::IpAddr::V4(v4) => v4.is_loopback(),
            std::net::IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        if let Some(open) = addrs.iter().find(|ip| !loopback(ip)) {
            self.report.add(
                "listen-all",
                report::Verdict::Pass,
                msg!(
                    lang,
                    "le serveur écoute sur {open} : les autres hôtes du lab (client, client2) peuvent le joindre",
                    "the server listens on {open}: the lab's other hosts (client, client2) can reach it"
                ),
            );
        } else if let Some(ip) = addrs.first() {
            self.report.add(
                "listen-all",
                report::Verdict::Warn,
                msg!(
                    lang,
                    "votre serveur n'écoute que sur {ip} : client et client2 ne peuvent pas le joindre ; liez-le à \"\" ou \"0.0.0.0\" : bind((\"\", {port}))",
                    "your server listens on {ip} only: client and client2 cannot reach it; bind it to \"\" or \"0.0.0.0\": bind((\"\", {port}))"
                ),
            );
        } else {
            self.report.add(
                "listen-all",
                report::Verdict::Skip,
                msg!(
                    lang,
                    "non jugé : la socket d'écoute est introuvable dans /proc/net/tcp",
                    "not judged: the listening socket is not in /proc/net/tcp"
                ),
            );
        }
    }

    /// The role's first start, judged (`start`): the program and its connection, or None when
    /// it did not connect (every other criterion of IDS is then `skip`, saying so).
    pub fn first_start(&mut self, ids: &[&'static str]) -> Result<Option<(Program, Conn)>, Abort> {
        let start = self.start()?;
        self.judge_start(&start);
        let Start::Up(prog, conn) = start else {
            let why = msg!(
                self.lang,
                "non jugé : pas de connexion",
                "not judged: no connection"
            );
            self.report.skip_rest(ids, &why);
            return Ok(None);
        };
        Ok(Some((prog, conn)))
    }

    /// A later start, for one probe: None when it did not connect (the criteria of IDS not
    /// judged yet are then `skip`, saying so).
    pub fn restart(&mut self, ids: &[&'static str]) -> Result<Option<(Program, Conn)>, Abort> {
        let Start::Up(prog, conn) = self.start()? else {
            let why = self.no_start();
            self.report.skip_rest(ids, &why);
            return Ok(None);
        };
        Ok(Some((prog, conn)))
    }

    /// Run PROBES in order, on the program of RUN while it runs. A program that has ended (it
    /// crashed at an earlier probe, or a server ends with its client) is started again for
    /// the next probe, so that one mistake fails one criterion and the others are still
    /// judged; when it cannot be started, that probe's criteria are `skip`. A program started
    /// again that crashes with the same line as before is not blamed twice: the criteria of
    /// that probe are `skip`, pointing to the first one it failed.
    pub fn probes(
        &mut self,
        mut run: Option<(Program, Conn)>,
        probes: Vec<Probe>,
    ) -> Result<(), Abort> {
        let lang = self.lang;
        // The crash that ended a run, and the criterion whose probe it ended.
        let mut crash: Option<(String, &'static str)> = None;
        for (ids, mut probe) in probes {
            let mut again = false;
            if !run.as_ref().is_some_and(|(p, _)| p.running()) {
                drop(run.take());
                run = self.restart(ids)?;
                again = true;
            }
            let Some((prog, conn)) = &run else {
                continue;
            };
            let before = self.report.criteria.len();
            probe(self, prog, conn);
            if prog.running() {
                continue;
            }
            let line = prog.crashed_since(0);
            match (&crash, line) {
                (Some((first, blamed)), Some(line)) if again && *first == line => {
                    for c in &mut self.report.criteria[before..] {
                        c.verdict = report::Verdict::Skip;
                        c.detail = msg!(
                            lang,
                            "non jugé : relancé, le programme plante de nouveau ({line}) : voir {blamed}",
                            "not judged: started again, the program crashes again ({line}): see {blamed}"
                        );
                    }
                }
                (None, Some(line)) => crash = Some((line, ids[0])),
                _ => {}
            }
        }
        Ok(())
    }

    /// A sentence for "not judged: the program could not be started for this probe".
    pub fn no_start(&self) -> String {
        msg!(
            self.lang,
            "non jugé : le programme n'a pas pu être relancé pour cette sonde",
            "not judged: the program could not be started again for this probe"
        )
    }
}

/// How a program ended, in words.
pub fn ended(lang: Lang, end: &Option<End>) -> String {
    match end {
        Some(End::Exited(c)) => msg!(lang, "code de sortie {c}", "exit status {c}"),
        Some(End::Signaled(s)) => msg!(lang, "tué par le signal {s}", "killed by signal {s}"),
        Some(End::NotRun(w)) => w.clone(),
        None => msg!(lang, "toujours en cours", "still running"),
    }
}

/// A line fault, as a sentence naming the TD concept and what to change.
pub fn fault_text(lang: Lang, fault: &Fault) -> String {
    match fault {
        Fault::Bytes => msg!(
            lang,
            "les lignes s'affichent comme b'…' : print(data) montre l'objet bytes ; décodez : print(data.decode(), end='')",
            "lines show as b'…': print(data) shows the bytes object; decode it: print(data.decode(), end='')"
        ),
        Fault::Escaped => msg!(
            lang,
            "le '\\n' s'affiche comme les deux caractères \\n : affichez le texte décodé, pas sa représentation",
            "the '\\n' shows as the two characters \\n: print the decoded text, not its representation"
        ),
        Fault::Split(l) => msg!(
            lang,
            "la ligne « {l} » arrive découpée : recv() rend un morceau du flot, pas une ligne ; accumulez jusqu'au '\\n' avant d'afficher",
            "the line \"{l}\" comes out in pieces: recv() returns a piece of the stream, not a line; accumulate up to the '\\n' before printing"
        ),
        Fault::NoNewline(l) => msg!(
            lang,
            "la ligne « {l} » s'affiche sans son '\\n' : gardez le '\\n' reçu (print(…, end='') n'en ajoute pas)",
            "the line \"{l}\" is printed without its '\\n': keep the '\\n' received (print(…, end='') adds none)"
        ),
        Fault::Missing(l) => msg!(
            lang,
            "la ligne « {l} » envoyée ne s'affiche pas (dans le délai) : affichez chaque donnée reçue, et sur stdout",
            "the line \"{l}\" sent is not printed (in time): print each piece of data received, on stdout"
        ),
        Fault::Twice(l) => msg!(
            lang,
            "la ligne « {l} » s'affiche plusieurs fois : n'affichez chaque donnée reçue qu'une fois",
            "the line \"{l}\" is printed more than once: print each piece of data received once"
        ),
        Fault::Blank => msg!(
            lang,
            "une ligne vide s'ajoute aux lignes : la donnée reçue contient déjà son '\\n' et print() en ajoute un ; print(…, end='')",
            "a blank line is added to the lines: the data received already holds its '\\n' and print() adds another; print(…, end='')"
        ),
    }
}

/// Wait until EXPECTED lines are all printed since MARK (at most TIMEOUT), let the output
/// settle a moment, then judge it.
pub fn printed(
    prog: &Program,
    mark: usize,
    expected: &[&str],
    timeout: Duration,
    blank: bool,
) -> Result<(), Fault> {
    let found = prog.out.wait_until(mark, timeout, |b, _| {
        judge::judge(&String::from_utf8_lossy(b), expected, false).is_ok()
    });
    if found {
        std::thread::sleep(Duration::from_millis(100));
    }
    judge::judge(&prog.out.text_since(mark), expected, blank)
}

/// Run the check described by ARGS; the exit code.
pub fn run(args: &Args) -> u8 {
    let lang = Lang::choose(args.lang);
    let role = args.role;
    let mut ctx = Ctx {
        lang,
        port: args.port,
        command: args.command.clone(),
        report: Report::new(role.name(), program::shown(&args.command), lang),
        listener: None,
        before: HashSet::new(),
        listening: Vec::new(),
        runs: 0,
    };
    let port = args.port;
    if role.server() {
        if Conn::connect(port, Instant::now(), || true).is_some() {
            eprintln!(
                "chatlab check: {}",
                msg!(
                    lang,
                    "le port {port} est déjà pris par un autre programme : arrêtez-le, ou --port",
                    "port {port} is already in use by another program: stop it, or use --port"
                )
            );
            return exit::NOT_RUN;
        }
    } else {
        match Listener::bind(port) {
            Ok(l) => ctx.listener = Some(l),
            Err(e) => {
                eprintln!(
                    "chatlab check: {}",
                    msg!(
                        lang,
                        "le vérificateur ne peut pas écouter sur le port {port} ({e}) : libérez-le, ou --port",
                        "the checker cannot listen on port {port} ({e}): free it, or use --port"
                    )
                );
                return exit::NOT_RUN;
            }
        }
    }
    let outcome = match role {
        Role::Q1 => q1::check(&mut ctx),
        Role::Q2 => q2::check(&mut ctx),
        Role::Q3Client => q3::check_client(&mut ctx),
        Role::Q3Server => q3::check_server(&mut ctx),
        Role::Q4Client => q4::check(&mut ctx, false),
        Role::Q4Server => q4::check(&mut ctx, true),
    };
    if let Err(Abort::NotRun(line, stderr)) = outcome {
        return not_run(args, &mut ctx.report, &line, &stderr);
    }
    if args.json {
        print!("{}", ctx.report.json());
    } else {
        print!("{}", ctx.report.text(lang));
    }
    if ctx.report.failed() {
        exit::FAIL
    } else {
        exit::PASS
    }
}

/// The program could not be run: one line (and its stderr) on stderr; with --json, also a
/// report where `start` fails with that line and nothing else is judged. Exit 3.
fn not_run(args: &Args, report: &mut Report, line: &str, stderr: &str) -> u8 {
    let lang = Lang::choose(args.lang);
    // The program's stderr is untrusted: each line terminal-safe and bounded.
    let stderr: Vec<String> = stderr
        .lines()
        .map(|l| quote::cap(lang, &quote::safe(l.as_bytes()), quote::QUOTE))
        .collect();
    eprintln!("chatlab check: {}", quote::safe(line.as_bytes()));
    for l in &stderr {
        eprintln!("  | {l}");
    }
    if args.json {
        report.criteria.clear();
        let last = stderr.last().map(|l| l.trim()).unwrap_or_default();
        let detail = if last.is_empty() {
            line.to_string()
        } else {
            format!("{line} — {last}")
        };
        report.add("start", report::Verdict::Fail, detail);
        report.skip_rest(
            args.role.ids(),
            &msg!(
                lang,
                "non jugé : le programme n'a pas pu être lancé",
                "not judged: the program could not be run"
            ),
        );
        print!("{}", report.json());
    }
    exit::NOT_RUN
}
