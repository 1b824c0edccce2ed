//! Q3 — the alternating chat: strict turns, the TD's eight steps.
//!
//! Client: read the keyboard, send, wait for the server's line, print it, again. Server: wait
//! for the client's line, print it, read the keyboard, send, again. Run 1 judges the order
//! (turns), the printing (print) and the end (peer-close); run 2 shows, as `info`, what
//! happens when the two sides do not start as agreed.

use std::thread::sleep;
use std::time::Duration;

use super::left::peer_leaves;
use super::{add_printed, printed, without_newline};
use crate::check::peer::Conn;
use crate::check::procs;
use crate::check::program::Program;
use crate::check::report::Verdict::{Fail, Info, Pass};
use crate::check::runner::{Ctx, secs};
use crate::lang::{Lang, msg};

/// How long a line that must NOT be sent yet is watched for.
const HOLD: Duration = Duration::from_millis(700);

/// What the turns were, when they held: PASS, the wording; LINE, sent to the program once
/// they held, to be printed since MARK (judged by print).
struct Turns {
    pass: String,
    line: &'static str,
    mark: usize,
}

/// The client's turns, then print: the client starts (types, sends), then waits for the
/// server's line and prints it.
pub fn client_turns(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    turns_and_print(ctx, prog, conn, client_takes_turns);
}

/// turns, the client's side: 1 type, 2 send; a second line typed before the server's reply
/// waits for it, then goes. One step a line; the first that fails says why.
#[rustfmt::skip]
fn client_takes_turns(lang: Lang, prog: &mut Program, conn: &Conn) -> Result<Turns, String> {
    prog.type_("premier tour\n".as_bytes());
    typed_line(lang, conn, "premier tour", msg!(lang, "le serveur se tait et la première ligne tapée n'arrive pas en 1 s : le client commence (étapes 1-2 : lire le clavier, envoyer)", "with the server silent, the first typed line does not arrive within 1 s: the client starts (steps 1-2: read the keyboard, send)"))?;
    let out_mark = prog.out.len();
    let mark = conn.got.len();
    prog.type_("second tour\n".as_bytes());
    waits(conn, mark, "second tour", msg!(lang, "une deuxième ligne tapée part avant la réponse du serveur : en alternance stricte, après l'envoi, attendez la ligne du serveur (étape 3, recv) avant de relire le clavier", "a second typed line goes out before the server's reply: in strict alternation, after sending, wait for the server's line (step 3, recv) before reading the keyboard again"))?;
    let reply = "la reponse du serveur";
    conn.send(format!("{reply}\n").as_bytes());
    goes_out(conn, mark, "second tour", msg!(lang, "la réponse du serveur est arrivée, mais la ligne tapée entre-temps ne part pas en 1 s : après l'affichage (étape 4), relisez le clavier et envoyez", "the server's reply has arrived, but the line typed meanwhile does not go out within 1 s: after printing (step 4), read the keyboard again and send"))?;
    let pass = msg!(lang, "l'ordre du TD : la ligne tapée part, la suivante attend la réponse du serveur, puis part", "the TD's order: the typed line goes out, the next one waits for the server's reply, then goes");
    Ok(Turns { pass, line: reply, mark: out_mark })
}

/// Started differently: the server speaks first, the client reads the keyboard first.
pub fn client_started_differently(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let mark = prog.out.len();
    conn.send("le serveur parle en premier\n".as_bytes());
    sleep(secs(1.0));
    let moved = !prog.out.text_since(mark).trim().is_empty();
    #[rustfmt::skip]
    let words = match moved {
        true => msg!(ctx.lang, "si le serveur parle en premier, ce client affiche sa ligne sans attendre son tour : ce n'est plus l'alternance stricte", "if the server speaks first, this client prints its line without waiting for its turn: that is no longer strict alternation"),
        false => msg!(ctx.lang, "si le serveur parle en premier, sa ligne attend dans la socket : ce client lit d'abord le clavier, rien ne bouge tant qu'on ne tape pas ; si les deux côtés attendaient d'abord l'autre, rien ne bougerait jamais (interblocage)", "if the server speaks first, its line waits in the socket: this client reads the keyboard first, nothing moves until someone types; had both sides waited for the other first, nothing would ever move (deadlock)"),
    };
    ctx.report.add("started-differently", Info, words);
}

/// The server's turns, then print: the server waits for the client's line, prints it, then
/// types and sends.
pub fn server_turns(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    turns_and_print(ctx, prog, conn, server_takes_turns);
}

/// turns, the server's side: a line typed while the client is silent is not sent; the
/// client's line comes, is printed, then the typed line goes; a second round, typed after the
/// client's line this time. One step a line; the first that fails says why.
#[rustfmt::skip]
fn server_takes_turns(lang: Lang, prog: &mut Program, conn: &Conn) -> Result<Turns, String> {
    prog.type_("tape trop tot\n".as_bytes());
    waits(conn, 0, "tape trop tot", msg!(lang, "une ligne tapée part alors que le client n'a rien envoyé : le serveur attend d'abord la ligne du client (étape 5, recv), puis l'affiche, puis lit le clavier", "a typed line goes out while the client has sent nothing: the server first waits for the client's line (step 5, recv), prints it, then reads the keyboard"))?;
    let out_mark = prog.out.len();
    let question = "la question du client";
    conn.send(format!("{question}\n").as_bytes());
    typed_line(lang, conn, "tape trop tot", msg!(lang, "la ligne du client est arrivée, mais la ligne tapée ne part pas en 1 s : après l'affichage (étape 6), lisez le clavier et envoyez (étapes 7-8)", "the client's line has arrived, but the typed line does not go out within 1 s: after printing (step 6), read the keyboard and send (steps 7-8)"))?;
    let mark = conn.got.len();
    let out = prog.out.len();
    conn.send("deuxieme question\n".as_bytes());
    let _ = printed(prog, out, &["deuxieme question"], secs(1.0), false);
    prog.type_("deuxieme reponse\n".as_bytes());
    goes_out(conn, mark, "deuxieme reponse", msg!(lang, "le deuxième tour ne se fait pas : après avoir envoyé, revenez attendre la ligne du client (une boucle sur les étapes 5 à 8)", "the second round does not happen: after sending, go back to waiting for the client's line (a loop over steps 5 to 8)"))?;
    let pass = msg!(lang, "l'ordre du TD : rien ne part avant la ligne du client ; elle s'affiche, puis la ligne tapée part", "the TD's order: nothing goes out before the client's line; it is printed, then the typed line goes");
    Ok(Turns { pass, line: question, mark: out_mark })
}

/// Started differently: the client also waits first. Nothing moves.
pub fn server_started_differently(ctx: &mut Ctx, _prog: &mut Program, conn: &Conn) {
    sleep(secs(1.0));
    let moved = !conn.got.since(0).is_empty();
    #[rustfmt::skip]
    let words = match moved {
        true => msg!(ctx.lang, "le client attend d'abord lui aussi, et ce serveur envoie quand même : ce n'est plus l'alternance stricte", "the client also waits first, and this server sends anyway: that is no longer strict alternation"),
        false => msg!(ctx.lang, "si le client attend d'abord lui aussi, chacun attend la ligne de l'autre : rien ne bouge (1 s observée), c'est l'interblocage ; en alternance stricte, un seul côté commence", "if the client also waits first, each waits for the other's line: nothing moves (1 s observed), a deadlock; in strict alternation exactly one side starts"),
    };
    ctx.report.add("started-differently", Info, words);
}

/// Whether LINE, typed at the program, waits: none of it reaches the peer on CONN since MARK
/// for [`HOLD`]; if some does, WENT.
fn waits(conn: &Conn, mark: usize, line: &str, went: String) -> Result<(), String> {
    if conn.got.wait_for(mark, line.as_bytes(), HOLD) {
        Err(went)
    } else {
        Ok(())
    }
}

/// Whether LINE, typed at the program with its '\n', reaches the peer on CONN since MARK
/// within 1 s; if not, NOT_SENT.
fn goes_out(conn: &Conn, mark: usize, line: &str, not_sent: String) -> Result<(), String> {
    let line = format!("{line}\n");
    if conn.got.wait_for(mark, line.as_bytes(), secs(1.0)) {
        Ok(())
    } else {
        Err(not_sent)
    }
}

/// [`goes_out`] from the start of the connection, a miss told apart: the line came without
/// its '\n', or NOT_SENT.
fn typed_line(lang: Lang, conn: &Conn, line: &str, not_sent: String) -> Result<(), String> {
    goes_out(conn, 0, line, not_sent).map_err(|not_sent| {
        let got = conn.got.since(0);
        if String::from_utf8_lossy(&got).starts_with(line) {
            without_newline(lang, conn, &got)
        } else {
            not_sent
        }
    })
}

/// turns, as one side TAKES_TURNS (what they were, or why they failed), then print: the line
/// sent once they held is printed.
fn turns_and_print(
    ctx: &mut Ctx,
    prog: &mut Program,
    conn: &Conn,
    takes_turns: fn(Lang, &mut Program, &Conn) -> Result<Turns, String>,
) {
    let lang = ctx.lang;
    // Let it reach its first read of the keyboard, or of the socket.
    sleep(Duration::from_millis(200));
    let turns = match takes_turns(lang, prog, conn) {
        Ok(turns) => turns,
        Err(why) => {
            ctx.report.add("turns", Fail, why);
            ctx.report.skip_see("print", "turns");
            return;
        }
    };
    ctx.report.add("turns", Pass, turns.pass);
    let verdict = printed(prog, turns.mark, &[turns.line], secs(1.0), true);
    let pass = msg!(
        lang,
        "la ligne reçue s'affiche telle quelle",
        "the line received is printed as it is"
    );
    add_printed(&mut ctx.report, lang, "print", &verdict, pass, |_| {
        msg!(
            lang,
            "la ligne reçue ne s'affiche pas : affichez-la dès sa réception (étape 4 ou 6), sur stdout",
            "the line received is not printed: print it as soon as it arrives (step 4 or 6), on stdout"
        )
    });
}

/// peer-close: the other side leaves; the program ends its conversation within 1 s, with no
/// traceback (a server may instead wait for the next client).
pub fn peer_close(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let server = ctx.listener.is_none();
    // The other side leaves while the program waits (not while it is between two steps).
    sleep(Duration::from_millis(300));
    let inode = procs::connection(conn.theirs, conn.ours);
    let done = || !prog.running() || (server && inode.is_some_and(|i| prog.holders(i).is_empty()));
    let left = peer_leaves(prog, conn, prog.err_mark(), done);
    #[rustfmt::skip]
    let (verdict, detail) = if let Some(line) = left.crash {
        (Fail, msg!(lang, "quand l'autre côté part, le programme plante ({line}) : recv() rend b'' (fin du flot) ; terminez proprement", "when the other side leaves, the program crashes ({line}): recv() returns b'' (end of stream); end cleanly"))
    } else if left.blank_lines() {
        (Fail, msg!(lang, "quand l'autre côté part, le programme affiche des lignes vides sans fin : recv() rend b'' à la fin du flot, sortez alors de la boucle", "when the other side leaves, the program prints empty lines forever: recv() returns b'' at the end of the stream, leave the loop then"))
    } else if left.done {
        (Pass, msg!(lang, "quand l'autre côté part, la conversation se termine en moins de 1 s", "when the other side leaves, the conversation ends within 1 s"))
    } else {
        (Fail, msg!(lang, "l'autre côté est parti, mais le programme ne se termine pas en 1 s : recv() qui rend b'' veut dire « parti » ; sortez de la boucle au lieu d'attendre le clavier", "the other side has left, but the program does not end within 1 s: recv() returning b'' means \"gone\"; leave the loop instead of waiting for the keyboard"))
    };
    ctx.report.add("peer-close", verdict, detail);
}
