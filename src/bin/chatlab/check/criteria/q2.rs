//! Q2 — a client that sends the lines typed.
//!
//! Run 1: lines typed one by one (lines), a paste of 1000 lines (burst), Ctrl-D (eof).
//! Run 2: the server leaves, then lines are typed (server-close).

use std::fmt::Write as _;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::ended;
use crate::check::peer::Conn;
use crate::check::program::{End, Program};
use crate::check::quote::quote;
use crate::check::report::Verdict::{self, Fail, Pass, Warn};
use crate::check::runner::{Ctx, secs};
use crate::lang::{Lang, msg};

/// lines: typed one by one; each must arrive within 0.5 s of Enter, exactly.
pub fn lines(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    // Let it reach its first read of the keyboard (a person does not type at once either).
    sleep(Duration::from_millis(200));

    let typed = ["bonjour", "une deuxieme ligne, en ASCII", "3"];
    let mut expected = Vec::new();
    let mut late = None;
    for l in typed {
        expected.extend_from_slice(l.as_bytes());
        expected.push(b'\n');
        prog.type_(format!("{l}\n").as_bytes());
        let want = expected.len();
        if !conn.got.wait_until(0, secs(0.5), |b, _| b.len() >= want) && late.is_none() {
            late = Some(l);
        }
    }
    // Whatever comes late, within a second more.
    let want = expected.len();
    conn.got
        .wait_until(0, secs(1.0), |b, closed| b.len() >= want || closed);
    sleep(Duration::from_millis(50));
    let got = conn.got.since(0);
    let shown = quote(lang, &got, conn.got.dropped());
    let (verdict, detail) = lines_words(lang, &got, &expected, late, &shown);
    ctx.report.add("lines", verdict, detail);
}

/// What lines says of GOT (SHOWN as quoted), the bytes the server received for EXPECTED,
/// LATE naming the first line that took more than 0.5 s.
fn lines_words(
    lang: Lang,
    got: &[u8],
    expected: &[u8],
    late: Option<&str>,
    shown: &str,
) -> (Verdict, String) {
    let without_newlines: Vec<u8> = expected.iter().copied().filter(|&b| b != b'\n').collect();
    if got == expected && late.is_none() {
        (
            Pass,
            msg!(
                lang,
                "chaque ligne tapée arrive telle quelle, avec son '\\n', dans l'ordre, moins de 0,5 s après Entrée",
                "each line typed arrives as it is, with its '\\n', in order, within 0.5 s of Enter"
            ),
        )
    } else if got == expected {
        let l = late.unwrap_or_default();
        (
            Fail,
            msg!(
                lang,
                "la ligne « {l} » arrive plus de 0,5 s après Entrée : elle attend dans un tampon ; envoyez-la aussitôt (sendall, ou flush() sur un fichier de socket)",
                "the line \"{l}\" arrives more than 0.5 s after Enter: it waits in a buffer; send it at once (sendall, or flush() on a socket file)"
            ),
        )
    } else if got.is_empty() {
        (
            Fail,
            msg!(
                lang,
                "rien n'arrive au serveur après trois lignes tapées : chaque ligne lue au clavier doit être envoyée (sendall), aussitôt (pas de tampon à vider)",
                "nothing reaches the server after three lines typed: each line read from the keyboard must be sent (sendall), at once (no buffer left unflushed)"
            ),
        )
    } else if got == without_newlines {
        (
            Fail,
            msg!(
                lang,
                "les lignes arrivent sans leur '\\n' (« {shown} ») : input() enlève le '\\n', ajoutez-le avant d'envoyer",
                "the lines arrive without their '\\n' (\"{shown}\"): input() strips the '\\n', add it back before sending"
            ),
        )
    } else if shown.contains("b'") {
        (
            Fail,
            msg!(
                lang,
                "le serveur reçoit « {shown} » : c'est str(bytes) qui est envoyé ; envoyez line.encode()",
                "the server receives \"{shown}\": that is str(bytes) being sent; send line.encode()"
            ),
        )
    } else {
        let want = quote(lang, expected, 0);
        (
            Fail,
            msg!(
                lang,
                "le serveur reçoit « {shown} » au lieu de « {want} » : envoyez chaque ligne tapée, exactement, avec son '\\n'",
                "the server receives \"{shown}\" instead of \"{want}\": send each line typed, exactly, with its '\\n'"
            ),
        )
    }
}

/// eof: Ctrl-D closes the connection (FIN) within 1 s, and the program exits 0.
pub fn eof(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let err_mark = prog.err_mark();
    prog.ctrl_d();
    let fin = conn.got.wait_closed(secs(1.0));
    // As a server does at the end of the stream: close in turn.
    conn.close();
    let end = prog.wait_end(secs(1.0));
    let crash = prog.crashed_since(err_mark);
    let how = ended(lang, &end);
    #[rustfmt::skip]
    let (verdict, detail) = match (fin, &end, crash) {
        (_, _, Some(line)) if line.contains("EOFError") => (Fail, msg!(lang, "Ctrl-D (fin de l'entrée) fait planter le programme ({line}) : input() lève EOFError à la fin de l'entrée ; attrapez-la (try/except EOFError), puis fermez la socket", "Ctrl-D (end of input) crashes the program ({line}): input() raises EOFError at the end of input; catch it (try/except EOFError), then close the socket")),
        (_, _, Some(line)) => (Fail, msg!(lang, "à Ctrl-D le programme plante ({line}) : à la fin de l'entrée, fermez la socket et sortez", "at Ctrl-D the program crashes ({line}): at the end of input, close the socket and exit")),
        (false, _, None) => (Fail, msg!(lang, "après Ctrl-D, la connexion n'est pas fermée en 1 s (pas de FIN) : la fin de l'entrée est une lecture vide ('' ou EOFError) ; sortez alors de la boucle et fermez la socket", "after Ctrl-D the connection is not closed within 1 s (no FIN): the end of input is an empty read ('' or EOFError); leave the loop then and close the socket")),
        (true, Some(End::Exited(0)), None) => (Pass, msg!(lang, "à Ctrl-D la connexion est fermée (FIN) et le programme se termine (code 0)", "at Ctrl-D the connection is closed (FIN) and the program exits (status 0)")),
        (true, None, None) => (Fail, msg!(lang, "après Ctrl-D la connexion est fermée mais le programme ne se termine pas en 1 s : sortez après la fermeture", "after Ctrl-D the connection is closed but the program does not end within 1 s: exit after closing")),
        (true, Some(_), None) => (Fail, msg!(lang, "à Ctrl-D la connexion est fermée mais le programme se termine en erreur ({how}) : la fin de l'entrée est une fin normale, sortez avec le code 0", "at Ctrl-D the connection is closed but the program ends in error ({how}): the end of input is a normal end, exit with status 0")),
    };
    ctx.report.add("eof", verdict, detail);
}

/// server-close: the server leaves; the next lines typed meet a closed connection.
pub fn server_close(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    sleep(Duration::from_millis(200));
    prog.type_(b"avant\n");
    conn.got.wait_for(0, b"avant\n", secs(1.0));
    conn.hang_up();
    sleep(Duration::from_millis(200));
    prog.type_(b"apres 1\n");
    sleep(Duration::from_millis(300));
    prog.type_(b"apres 2\n");
    let end = prog.wait_end(secs(1.5));
    let crash = prog.crashed_since(0);
    #[rustfmt::skip]
    let (verdict, detail) = match (end, crash) {
        (_, Some(line)) => (Warn, msg!(lang, "quand le serveur part, le programme finit sur une trace d'erreur ({line}) : attrapez l'erreur d'envoi (BrokenPipeError, ConnectionResetError) et dites-le en une phrase", "when the server leaves, the program ends with a traceback ({line}): catch the send error (BrokenPipeError, ConnectionResetError) and say it in a sentence")),
        (Some(_), None) => (Pass, msg!(lang, "quand le serveur part, le programme s'arrête sans trace d'erreur", "when the server leaves, the program stops without a traceback")),
        (None, None) => (Warn, msg!(lang, "le serveur parti, le programme continue de lire le clavier : une lecture de b'' sur la socket, ou une erreur d'envoi, dit que le serveur est parti", "the server gone, the program keeps reading the keyboard: reading b'' from the socket, or a send error, says the server has left")),
    };
    ctx.report.add("server-close", verdict, detail);
}

/// burst: 1000 lines pasted at once (judged only where single lines go through).
pub fn burst(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    if ctx.report.verdict("lines") != Some(Pass) {
        ctx.report.skip_see("burst", "lines");
        return;
    }
    let mark = conn.got.len();
    let mut paste = String::new();
    for i in 1..=1000 {
        let _ = writeln!(paste, "ligne collee numero {i:04} / 1000");
    }
    prog.type_(paste.as_bytes());
    let want = paste.len();
    let t0 = Instant::now();
    conn.got
        .wait_until(mark, secs(5.0), |b, closed| b.len() >= want || closed);
    let elapsed = t0.elapsed().as_secs_f64();
    let got = conn.got.since(mark);
    let whole = got == paste.as_bytes();
    let n = String::from_utf8_lossy(&got)
        .lines()
        .filter(|l| l.starts_with("ligne collee"))
        .count();
    ctx.report.add(
        "burst",
        if whole { Pass } else { Fail },
        if whole {
            msg!(lang, "1000 lignes collées d'un coup (plus vite qu'une frappe) arrivent toutes, dans l'ordre, en {elapsed:.1} s", "1000 lines pasted at once (faster than typing) all arrive, in order, in {elapsed:.1} s")
        } else {
            msg!(lang, "sur 1000 lignes collées d'un coup (plus vite qu'une frappe), {n} arrivent entières en 5 s : envoyez tout ce qui est lu (sendall, pas send), sans rien perdre ni retenir", "of 1000 lines pasted at once (faster than typing), {n} arrive whole within 5 s: send everything read (sendall, not send), losing and holding nothing")
        },
    );
}
