//! Q1 — a server that prints the lines it receives.
//!
//! On one program (started again when a probe finds it ended, see [`On::Again`]): lines
//! (plain ASCII), segments, utf8 (the only probe with accents), then the client leaves
//! (peer-close) and a second one comes (next-client). A new run: Ctrl-C while a client is
//! connected (stop): the server closes first, its port goes to TIME_WAIT; started once more,
//! at once, it must listen again (reuseaddr).
//!
//! [`On::Again`]: crate::check::runner::On::Again

use std::thread::sleep;
use std::time::{Duration, Instant};

use super::left::peer_leaves;
use super::{add_printed, fault_text, how_ended, printed};
use crate::check::judge::Fault;
use crate::check::peer::Conn;
use crate::check::procs;
use crate::check::program::Program;
use crate::check::report::Verdict::{Fail, Pass, Skip, Warn};
use crate::check::runner::{Ctx, START, secs};
use crate::lang::{Lang, msg};

/// A server waiting for nothing uses no CPU; one spinning on recv() == b'' gets what the
/// machine gives it, well above this even with every core busy.
const BUSY: f64 = 0.10;

fn see_lines(lang: Lang) -> String {
    msg!(
        lang,
        "non jugé : voir lines (l'affichage des données)",
        "not judged: see lines (how data is printed)"
    )
}

/// lines: three lines of plain ASCII (nothing but lines is tested), each its own segment.
pub fn lines(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let lines = [
        "bonjour",
        "une deuxieme ligne",
        "et la troisieme, plus longue que les autres",
    ];
    let mark = prog.out.len();
    for l in lines {
        conn.send(format!("{l}\n").as_bytes());
        sleep(Duration::from_millis(60));
    }
    let verdict = printed(prog, mark, &lines, secs(2.0), true);
    ctx.lines_as_bytes = verdict == Err(Fault::Bytes) || verdict == Err(Fault::Escaped);
    let pass = msg!(
        lang,
        "chaque ligne envoyée s'affiche telle quelle, une fois, dans l'ordre",
        "each line sent is printed as it is, once, in order"
    );
    add_lines(ctx, prog, "lines", &verdict, 0, pass);
}

/// segments: three lines in one segment, then one line in two segments.
pub fn segments(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let mark = prog.out.len();
    let err_mark = prog.err_mark();
    conn.send(b"un\ndeux\ntrois\n");
    sleep(Duration::from_millis(150));
    conn.send(b"quat");
    sleep(Duration::from_millis(150));
    conn.send(b"re\n");
    let verdict = printed(
        prog,
        mark,
        &["un", "deux", "trois", "quatre"],
        secs(1.5),
        false,
    );
    if ctx.lines_as_bytes {
        ctx.report.add("segments", Skip, see_lines(lang));
        return;
    }
    let pass = msg!(
        lang,
        "trois lignes dans un segment, une ligne en deux segments : toujours des lignes entières",
        "three lines in one segment, one line in two segments: still whole lines"
    );
    add_lines(ctx, prog, "segments", &verdict, err_mark, pass);
}

/// utf8: an accented line whole, then one with a character cut between two segments: the
/// only probe that sends anything but ASCII.
pub fn utf8(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    // Whether segments passed: then a line printed in pieces is its fault, not this one's.
    let segments_ok = ctx.report.verdict("segments") == Some(Pass);
    if ctx.lines_as_bytes {
        ctx.report.add("utf8", Skip, see_lines(lang));
        return;
    }
    let mark = prog.out.len();
    let err_mark = prog.err_mark();
    let whole = "déjà vu à l'été";
    conn.send(format!("{whole}\n").as_bytes());
    let first = printed(prog, mark, &[whole], secs(1.0), false);
    if let Some(line) = prog.crashed_since(err_mark) {
        ctx.report.add("utf8", Fail, msg!(lang, "le programme plante ({line}) sur un texte accentué (un caractère accentué fait 2 octets en UTF-8) : décodez en UTF-8 : data.decode('utf-8')", "the program crashes ({line}) on accented text (an accented character is 2 bytes in UTF-8): decode as UTF-8: data.decode('utf-8')"));
        return;
    }
    if first.is_err() && !matches!(first, Err(Fault::Split(_))) {
        ctx.report.add("utf8", Fail, msg!(lang, "« {whole} » ne s'affiche pas juste : un caractère accentué fait 2 octets en UTF-8 ; décodez en UTF-8 : data.decode('utf-8')", "\"{whole}\" does not print right: an accented character is 2 bytes in UTF-8; decode as UTF-8: data.decode('utf-8')"));
        return;
    }
    let mark = prog.out.len();
    let accented = "café crème brûlée\n".as_bytes();
    conn.send(&accented[..4]); // "caf" and the first byte of "é"
    sleep(Duration::from_millis(150));
    conn.send(&accented[4..]);
    let mut verdict = printed(prog, mark, &["café crème brûlée"], secs(1.5), false);
    // A program that prints each segment as a line fails segments, not this.
    if !segments_ok && matches!(verdict, Err(Fault::Split(_))) {
        verdict = Ok(());
    }
    if let Some(line) = prog.crashed_since(err_mark) {
        ctx.report.add("utf8", Fail, msg!(lang, "le programme plante ({line}) quand un caractère accentué (2 octets en UTF-8) est coupé entre deux segments : décodez des lignes entières, pas chaque morceau reçu", "the program crashes ({line}) when an accented character (2 bytes in UTF-8) is cut between two segments: decode whole lines, not each piece received"));
        return;
    }
    let pass = msg!(
        lang,
        "le texte accentué s'affiche juste, même coupé au milieu d'un caractère",
        "accented text prints right, even cut in the middle of a character"
    );
    add_printed(&mut ctx.report, lang, "utf8", &verdict, pass, |l| {
        msg!(
            lang,
            "« {l} » ne s'affiche pas juste ; un caractère accentué fait 2 octets en UTF-8, et peut être coupé entre deux segments : décodez des lignes entières (accumulez les octets jusqu'au '\\n')",
            "\"{l}\" does not print right; an accented character is 2 bytes in UTF-8, and may be cut between two segments: decode whole lines (accumulate bytes up to the '\\n')"
        )
    });
}

/// peer-close: the client leaves; then next-client, on the same program.
pub fn peer_close(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    // Watched a whole second, whatever it does: the CPU it uses is measured on that.
    let left = peer_leaves(prog, conn, prog.err_mark(), || false);
    let pct = (left.cpu * 100.0).round();
    let (verdict, detail) = if let Some(line) = left.crash {
        (
            Fail,
            msg!(
                lang,
                "quand le client part, le programme plante ({line}) : recv() rend b'' (la fin du flot), sortez de la boucle et fermez",
                "when the client leaves, the program crashes ({line}): recv() returns b'' (end of stream), leave the loop and close"
            ),
        )
    } else if left.blank_lines() {
        (
            Fail,
            msg!(
                lang,
                "quand le client part, le programme affiche des lignes vides sans fin : recv() rend b'' à la fin du flot, sortez alors de la boucle",
                "when the client leaves, the program prints empty lines forever: recv() returns b'' at the end of the stream, leave the loop then"
            ),
        )
    } else if left.end.is_none() && left.cpu > BUSY {
        (
            Fail,
            msg!(
                lang,
                "quand le client part, le programme tourne à vide ({pct} % du CPU) : recv() rend b'' à la fin du flot, sortez alors de la boucle",
                "when the client leaves, the program spins ({pct}% CPU): recv() returns b'' at the end of the stream, leave the loop then"
            ),
        )
    } else if let Some(c) = left.error_status() {
        (
            Fail,
            msg!(
                lang,
                "quand le client part, le programme sort avec le code {c} : une fin de client n'est pas une erreur",
                "when the client leaves, the program exits with status {c}: a client leaving is not an error"
            ),
        )
    } else if left.end.is_some() {
        (
            Pass,
            msg!(
                lang,
                "le client parti, le serveur se termine proprement",
                "once the client has left, the server ends cleanly"
            ),
        )
    } else {
        (
            Pass,
            msg!(
                lang,
                "le client parti, le serveur attend sans consommer de CPU",
                "once the client has left, the server waits without using the CPU"
            ),
        )
    };
    let failed = verdict == Fail;
    ctx.report.add("peer-close", verdict, detail);
    next_client(ctx, prog, failed);
}

/// next-client, on the program peer-close left (PEER_CLOSE_FAILED: not judged): judged by
/// the second client's line being printed (connect() alone succeeds through the listen
/// backlog).
fn next_client(ctx: &mut Ctx, prog: &Program, peer_close_failed: bool) {
    let lang = ctx.lang;
    if peer_close_failed {
        ctx.report.skip_see("next-client", "peer-close");
        return;
    }
    let served = prog.running().then(|| second_client_served(ctx.port, prog));
    #[rustfmt::skip]
    let (verdict, detail) = match served {
        Some(true) => (Pass, msg!(lang, "un deuxième client est servi après le premier", "a second client is served after the first")),
        Some(false) => (Warn, msg!(lang, "un deuxième client n'est pas servi (le TD n'en demande qu'un) : pour en servir d'autres, remettez accept() dans une boucle", "a second client is not served (the TD asks for one): to serve more, put accept() in a loop")),
        None => (Warn, msg!(lang, "le serveur se termine après son client (le TD n'en demande qu'un) : pour en servir d'autres, remettez accept() dans une boucle", "the server ends after its client (the TD asks for one): to serve more, put accept() in a loop")),
    };
    ctx.report.add("next-client", verdict, detail);
}

/// Whether a second client, connecting to PORT, has its line printed by PROG.
fn second_client_served(port: u16, prog: &Program) -> bool {
    let mark = prog.out.len();
    let second = Conn::connect(port, Instant::now() + secs(1.0), || false);
    second
        .as_ref()
        .is_some_and(|c| c.send(b"client numero 2\n"))
        && printed(prog, mark, &["client numero 2"], secs(1.0), false).is_ok()
}

/// stop, then reuseaddr: Ctrl-C while a client is connected, then started once more at once.
pub fn stop(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let port = ctx.port;
    conn.send(b"derniere ligne\n");
    // Everything read: unread bytes would make the close send RST (and no TIME_WAIT).
    let _ = printed(prog, 0, &["derniere ligne"], secs(1.0), false);
    sleep(Duration::from_millis(100));
    prog.ctrl_c();
    let stopped = prog.wait_end(secs(1.0)).is_some() && prog.live().is_empty();
    if stopped {
        ctx.report.add(
            "stop",
            Pass,
            msg!(lang, "Ctrl-C arrête le serveur", "Ctrl-C stops the server"),
        );
    } else {
        ctx.report.add("stop", Fail, msg!(lang, "Ctrl-C n'arrête pas le serveur en 1 s : ne rattrapez pas KeyboardInterrupt (ou sortez quand vous l'attrapez)", "Ctrl-C does not stop the server within 1 s: do not catch KeyboardInterrupt (or exit when you do)"));
    }
    // Nothing of it may be left listening: killed now, not when the runner drops it.
    prog.kill();
    // The server closed first (its FIN); now ours: the server's side goes to TIME_WAIT.
    conn.got.wait_closed(secs(1.0));
    conn.hang_up();
    let deadline = Instant::now() + secs(0.5);
    while !procs::time_wait(port) && Instant::now() < deadline {
        sleep(Duration::from_millis(10));
    }
    if !procs::time_wait(port) {
        ctx.report.add("reuseaddr", Skip, msg!(lang, "non jugé : le port {port} n'est pas passé en TIME_WAIT (la connexion s'est terminée par un RST ?)", "not judged: port {port} did not go to TIME_WAIT (the connection ended with a RST?)"));
        return;
    }
    let Ok(prog) = Program::start(&ctx.command, ctx.lang) else {
        let why = ctx.no_start();
        ctx.report.add("reuseaddr", Skip, why);
        return;
    };
    let deadline = Instant::now() + START.min(secs(3.0));
    let listening = loop {
        if !procs::listening(port).is_empty() {
            break true;
        }
        if !prog.running() || Instant::now() >= deadline {
            break false;
        }
        sleep(Duration::from_millis(20));
    };
    if listening {
        ctx.report.add("reuseaddr", Pass, msg!(lang, "relancé aussitôt, le serveur écoute malgré le TIME_WAIT de la connexion précédente (SO_REUSEADDR)", "restarted at once, the server listens despite the previous connection's TIME_WAIT (SO_REUSEADDR)"));
    } else {
        prog.wait_end(secs(0.5));
        let why = how_ended(lang, &prog);
        ctx.report.add("reuseaddr", Fail, msg!(lang, "relancé aussitôt après Ctrl-C, le serveur n'écoute pas ({why}) : le port est en TIME_WAIT ; posez SO_REUSEADDR avant bind() : s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)", "restarted at once after Ctrl-C, the server does not listen ({why}): the port is in TIME_WAIT; set SO_REUSEADDR before bind(): s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)"));
    }
}

/// ID judged on the lines printed (VERDICT): a pass worded PASS, or a fail worded by the crash
/// seen on stderr since ERR_MARK, else by the fault.
fn add_lines(
    ctx: &mut Ctx,
    prog: &Program,
    id: &'static str,
    verdict: &Result<(), Fault>,
    err_mark: usize,
    pass: String,
) {
    let lang = ctx.lang;
    match verdict {
        Ok(()) => ctx.report.add(id, Pass, pass),
        Err(f) => {
            let why = crashed(lang, prog, err_mark).unwrap_or_else(|| fault_text(lang, f));
            ctx.report.add(id, Fail, why);
        }
    }
}

/// The crash seen on stderr since MARK, as a sentence.
fn crashed(lang: Lang, prog: &Program, mark: usize) -> Option<String> {
    let line = prog.crashed_since(mark)?;
    Some(msg!(
        lang,
        "le programme plante en recevant des lignes ({line}) : lancez-le à la main, lisez la fin de la trace et corrigez la ligne qu'elle désigne",
        "the program crashes receiving lines ({line}): run it by hand, read the end of the traceback and fix the line it points to"
    ))
}
