//! The probes, one file per question: each a function judging its criteria on a running
//! program ([`super::runner::Judge`]), the table ([`super::roles`]) saying which runs when.
//! Here, what the questions share: how a program ended, a line fault, the lines printed, and
//! what a program does once its peer leaves ([`left`]), each worded by its question.

pub mod left;
pub mod q1;
pub mod q2;
pub mod q3;
pub mod q4;

use std::time::Duration;

use super::judge::{self, Fault};
use super::peer::Conn;
use super::program::{End, Program};
use super::quote::quote;
use super::report::{Report, Verdict};
use crate::lang::{Lang, msg};

/// How a program ended, in words.
pub fn ended(lang: Lang, end: &Option<End>) -> String {
    match end {
        Some(End::Exited(c)) => msg!(lang, "code de sortie {c}", "exit status {c}"),
        Some(End::Signaled(s)) => msg!(lang, "tué par le signal {s}", "killed by signal {s}"),
        Some(End::NotRun(why)) => why.to_string(),
        None => msg!(lang, "toujours en cours", "still running"),
    }
}

/// How PROG ended: its crash line, or its status.
pub fn how_ended(lang: Lang, prog: &Program) -> String {
    prog.crashed_since(0)
        .unwrap_or_else(|| ended(lang, &prog.end()))
}

/// A line fault, as a sentence naming the TD concept and what to change (a table: one line a
/// fault, French then English).
#[rustfmt::skip]
pub fn fault_text(lang: Lang, fault: &Fault) -> String {
    match fault {
        Fault::Bytes => msg!(lang, "les lignes s'affichent comme b'…' : print(data) montre l'objet bytes ; décodez : print(data.decode(), end='')", "lines show as b'…': print(data) shows the bytes object; decode it: print(data.decode(), end='')"),
        Fault::Escaped => msg!(lang, "le '\\n' s'affiche comme les deux caractères \\n : affichez le texte décodé, pas sa représentation", "the '\\n' shows as the two characters \\n: print the decoded text, not its representation"),
        Fault::Split(l) => msg!(lang, "la ligne « {l} » arrive découpée : recv() rend un morceau du flot, pas une ligne ; accumulez jusqu'au '\\n' avant d'afficher", "the line \"{l}\" comes out in pieces: recv() returns a piece of the stream, not a line; accumulate up to the '\\n' before printing"),
        Fault::NoNewline(l) => msg!(lang, "la ligne « {l} » s'affiche sans son '\\n' : gardez le '\\n' reçu (print(…, end='') n'en ajoute pas)", "the line \"{l}\" is printed without its '\\n': keep the '\\n' received (print(…, end='') adds none)"),
        Fault::Missing(l) => msg!(lang, "la ligne « {l} » envoyée ne s'affiche pas (dans le délai) : affichez chaque donnée reçue, et sur stdout", "the line \"{l}\" sent is not printed (in time): print each piece of data received, on stdout"),
        Fault::Twice(l) => msg!(lang, "la ligne « {l} » s'affiche plusieurs fois : n'affichez chaque donnée reçue qu'une fois", "the line \"{l}\" is printed more than once: print each piece of data received once"),
        Fault::Blank => msg!(lang, "une ligne vide s'ajoute aux lignes : la donnée reçue contient déjà son '\\n' et print() en ajoute un ; print(…, end='')", "a blank line is added to the lines: the data received already holds its '\\n' and print() adds another; print(…, end='')"),
    }
}

/// A typed line that reaches the peer on CONN without its '\n' (GOT: what arrived).
pub fn without_newline(lang: Lang, conn: &Conn, got: &[u8]) -> String {
    let got = quote(lang, got, conn.got.dropped());
    msg!(
        lang,
        "la ligne tapée part sans son '\\n' (« {got} ») : input() l'enlève, ajoutez-le avant d'envoyer",
        "the typed line goes out without its '\\n' (\"{got}\"): input() strips it, add it back before sending"
    )
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

/// ID judged on lines printed (VERDICT, as [`printed`] said): a pass worded PASS; a fail
/// worded MISSING (given the line) when a line is not printed, else by the fault's sentence.
pub fn add_printed(
    report: &mut Report,
    lang: Lang,
    id: &'static str,
    verdict: &Result<(), Fault>,
    pass: String,
    missing: impl FnOnce(&str) -> String,
) {
    match verdict {
        Ok(()) => report.add(id, Verdict::Pass, pass),
        Err(Fault::Missing(l)) => report.add(id, Verdict::Fail, missing(l)),
        Err(f) => report.add(id, Verdict::Fail, fault_text(lang, f)),
    }
}

/// Pids as a reader wants them: "812" or "812, 813" (empty when none).
pub fn list(pids: impl Iterator<Item = i32>) -> String {
    pids.map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}
