//! The runner: it starts the program, judges `start` (and a server's `listen-all`), then runs
//! a role's probes in order ([`super::roles`]), each on the program its [`On`] names. The rule
//! for a program that has ended is here, once: start it again for the probe, or skip the
//! probe saying how it ended.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::criteria::{ended, how_ended};
use super::peer::{Conn, Listener};
use super::procs;
use super::program::{End, Program};
use super::report::{Report, Verdict};
use super::session::Unstarted;
use super::{Error, NotRun};
use crate::lang::{Lang, msg};

/// How long a program has to listen or connect.
pub const START: Duration = Duration::from_secs(5);

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A probe's function: it judges its criteria (adds each to `ctx.report`) on a program and
/// its connection.
pub type Judge = fn(&mut Ctx, &mut Program, &Conn);

/// One probe of a role: the criteria it judges, on which program, by which function.
#[derive(Clone, Copy)]
pub struct Probe {
    pub ids: &'static [&'static str],
    pub on: On,
    pub judge: Judge,
}

/// On which program a probe runs, and what happens when that program has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum On {
    /// A program started for this probe (a new run: the conversation before is over).
    New,
    /// The program of the probe before, as it is: the probe itself judges one that ended.
    Same,
    /// The program of the probe before; one that has ended (it crashed at an earlier probe,
    /// or a server ends with its client) is started again, so that one mistake fails one
    /// criterion. Started again, a program that crashes with the same line as before is not
    /// blamed twice: this probe's criteria are `skip`, pointing to the first it failed.
    Again,
    /// The program of the probe before, still running; when it has ended, the probe's
    /// criteria are `skip`: « the program has ended (how) ».
    Alive,
    /// As [`On::Alive`], said « the program ended earlier (how) ».
    AliveEarlier,
}

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
    /// Q1: the lines came out as b'…' or with their '\n' escaped (segments and utf8 then say
    /// « see lines »).
    pub lines_as_bytes: bool,
    /// Server roles: the addresses listening on the port when the last connection was made
    /// (a server may close its listener once it has its client).
    listening: Vec<IpAddr>,
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

/// Judge every criterion of a role (a row of [`super::roles`]: its CRITERIA, in the grid's
/// order, and the PROBES that judge them): the first start, then the probes (see [`On`]).
/// An error when the program cannot be run at all. (The table uses the runner, not the
/// other way round.)
pub fn judge(ctx: &mut Ctx, criteria: &[&'static str], probes: &[Probe]) -> Result<(), Error> {
    let lang = ctx.lang;
    let start = ctx.start()?;
    ctx.judge_start(&start);
    let Start::Up(prog, conn) = start else {
        let why = msg!(
            lang,
            "non jugé : pas de connexion",
            "not judged: no connection"
        );
        ctx.report.skip_rest(criteria, &why);
        return Ok(());
    };
    let mut run = Some((prog, conn));
    // The crash that ended a run, and the criterion whose probe it ended.
    let mut crash: Option<(String, &'static str)> = None;
    for probe in probes {
        let gone = !run.as_ref().is_some_and(|(p, _)| p.running());
        let again = match probe.on {
            On::New => true,
            On::Again => gone,
            On::Same | On::Alive | On::AliveEarlier => false,
        };
        if again {
            drop(run.take());
            run = ctx.restart()?;
        }
        let Some((prog, conn)) = &mut run else {
            let why = ctx.no_start();
            ctx.report.skip_rest(probe.ids, &why);
            continue;
        };
        if gone && matches!(probe.on, On::Alive | On::AliveEarlier) {
            let how = how_ended(lang, prog);
            let why = if probe.on == On::Alive {
                msg!(
                    lang,
                    "non jugé : le programme s'est terminé ({how})",
                    "not judged: the program has ended ({how})"
                )
            } else {
                msg!(
                    lang,
                    "non jugé : le programme s'est terminé plus tôt ({how})",
                    "not judged: the program ended earlier ({how})"
                )
            };
            ctx.report.skip_rest(probe.ids, &why);
            continue;
        }
        let before = ctx.report.criteria.len();
        (probe.judge)(ctx, prog, conn);
        if prog.running() {
            continue;
        }
        let line = prog.crashed_since(0);
        match (&crash, line) {
            (Some((first, blamed)), Some(line))
                if again && probe.on == On::Again && *first == line =>
            {
                for c in &mut ctx.report.criteria[before..] {
                    c.verdict = Verdict::Skip;
                    c.detail = msg!(
                        lang,
                        "non jugé : relancé, le programme plante de nouveau ({line}) : voir {blamed}",
                        "not judged: started again, the program crashes again ({line}): see {blamed}"
                    );
                }
            }
            (None, Some(line)) => crash = Some((line, probe.ids[0])),
            _ => {}
        }
    }
    Ok(())
}

impl Ctx {
    pub fn new(lang: Lang, port: u16, command: Vec<String>, report: Report) -> Ctx {
        Ctx {
            lang,
            port,
            command,
            report,
            listener: None,
            before: HashSet::new(),
            lines_as_bytes: false,
            listening: Vec::new(),
            runs: 0,
        }
    }

    /// Start the program once more, and connect to it (server) or accept it (client).
    fn start(&mut self) -> Result<Start, Error> {
        let first = self.runs == 0;
        self.runs += 1;
        if let Some(l) = &self.listener {
            l.drain();
        }
        let lang = self.lang;
        let program = Program::start(&self.command, lang)
            .map_err(|e| Error::new(lang, NotRun::Helper(e), String::new()))?;
        if let Some(End::NotRun(why)) = program.end() {
            let cmd = self.command[0].clone();
            let why = match why {
                Unstarted::NotFound(_) => NotRun::NotFound(cmd),
                Unstarted::PermissionDenied(_) => NotRun::NotExecutable(cmd),
                why => NotRun::Unstarted(cmd, why),
            };
            return Err(Error::new(lang, why, String::new()));
        }
        let deadline = Instant::now() + START;
        let conn = match &self.listener {
            Some(l) => l.accept(deadline, || !program.running()),
            None => loop {
                // What runs before this attempt: if it connects, these were there before accept.
                self.before = program.procs().iter().map(|p| p.key()).collect();
                // The listening socket is read before connecting, never after: a server that
                // closes its listener once it has accepted (or ends with its conversation)
                // would be gone by then (`listen-all` would not be judged). It is on this
                // host, so /proc shows it as soon as it listens: connect only then.
                self.listening = procs::listening_on(self.port);
                if !self.listening.is_empty()
                    && let Some(conn) = Conn::connect(self.port, Instant::now(), || true)
                {
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
                // On one machine, a check just before leaves the port in TIME_WAIT for 60 s.
                let time_wait = program.stderr_text().contains("Address already in use")
                    && procs::time_wait(self.port);
                let why = NotRun::EndedAtOnce {
                    end: program.end(),
                    time_wait: time_wait.then_some(self.port),
                    client: self.listener.is_some(),
                };
                Err(Error::new(lang, why, program.stderr_tail(20)))
            }
            None => Ok(Start::Ended(program)),
        }
    }

    /// The `start` criterion, judged from the first start.
    fn judge_start(&mut self, start: &Start) {
        let lang = self.lang;
        let port = self.port;
        let server = self.listener.is_none();
        match start {
            Start::Up(..) if server => {
                self.report.add(
                    "start",
                    Verdict::Pass,
                    msg!(lang, "le serveur écoute sur le port {port}", "the server listens on port {port}"),
                );
                self.judge_listen_all();
            }
            Start::Up(..) => self.report.add(
                "start",
                Verdict::Pass,
                msg!(lang, "le client se connecte au port {port}", "the client connects to port {port}"),
            ),
            Start::Late(..) if server => self.report.add(
                "start",
                Verdict::Fail,
                msg!(
                    lang,
                    "personne n'écoute sur le port {port} après 5 s : bind(('', {port})) puis listen() avant accept()",
                    "nothing listens on port {port} after 5 s: bind(('', {port})) then listen() before accept()"
                ),
            ),
            Start::Late(..) => self.report.add(
                "start",
                Verdict::Fail,
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
                    Verdict::Fail,
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
        let loopback = |ip: &IpAddr| match ip {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        };
        if let Some(open) = addrs.iter().find(|ip| !loopback(ip)) {
            self.report.add(
                "listen-all",
                Verdict::Pass,
                msg!(
                    lang,
                    "le serveur écoute sur {open} : les autres hôtes du lab (client, client2) peuvent le joindre",
                    "the server listens on {open}: the lab's other hosts (client, client2) can reach it"
                ),
            );
        } else if let Some(ip) = addrs.first() {
            self.report.add(
                "listen-all",
                Verdict::Warn,
                msg!(
                    lang,
                    "votre serveur n'écoute que sur {ip} : client et client2 ne peuvent pas le joindre ; liez-le à \"\" ou \"0.0.0.0\" : bind((\"\", {port}))",
                    "your server listens on {ip} only: client and client2 cannot reach it; bind it to \"\" or \"0.0.0.0\": bind((\"\", {port}))"
                ),
            );
        } else {
            self.report.add(
                "listen-all",
                Verdict::Skip,
                msg!(
                    lang,
                    "non jugé : la socket d'écoute est introuvable dans /proc/net/tcp",
                    "not judged: the listening socket is not in /proc/net/tcp"
                ),
            );
        }
    }

    /// A later start, for one probe: None when it did not connect.
    fn restart(&mut self) -> Result<Option<(Program, Conn)>, Error> {
        match self.start()? {
            Start::Up(prog, conn) => Ok(Some((prog, conn))),
            Start::Ended(_) | Start::Late(_) => Ok(None),
        }
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
