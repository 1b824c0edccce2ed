//! Q4 — the fork duplex, client or server.
//!
//! Run 1: after the connection, two processes (fork); a typed line goes out while the peer is
//! silent (to-peer); a line from the peer is printed while nobody types (from-peer); bursts
//! both ways at once (both-ways); Ctrl-D sends FIN (eof) and what the peer still sends is
//! printed (half-close). Run 2, keyboard still open: the peer closes; every process of the
//! conversation ends (peer-end); a server reaps them (zombie).

use std::collections::HashSet;
use std::fmt::Write as _;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::left::peer_leaves;
use super::{add_printed, fault_text, list, printed, without_newline};
use crate::check::peer::Conn;
use crate::check::procs::{self, Proc};
use crate::check::program::Program;
use crate::check::report::Verdict::{Fail, Pass, Skip, Warn};
use crate::check::runner::{Ctx, secs};
use crate::lang::msg;

/// The conversation's processes: a server's are those started after accept (not the
/// listener); a client's are all of its processes.
fn conversation(ctx: &Ctx, prog: &Program) -> Vec<Proc> {
    let server = ctx.listener.is_none();
    prog.procs()
        .into_iter()
        .filter(|p| !p.zombie())
        .filter(|p| !(server && ctx.before.contains(&p.key())))
        .collect()
}

/// Wait up to 1 s for two processes to hold the connection; the holders and the inode.
fn forked(prog: &Program, conn: &Conn) -> (Vec<Proc>, Option<u64>) {
    let deadline = Instant::now() + secs(1.0);
    loop {
        let inode = procs::connection(conn.theirs, conn.ours);
        let holders = inode.map(|i| prog.holders(i)).unwrap_or_default();
        if holders.len() >= 2 || Instant::now() >= deadline {
            return (holders, inode);
        }
        sleep(Duration::from_millis(20));
    }
}

/// fork: after the connection, two processes hold the socket.
pub fn fork(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let (holders, inode) = forked(prog, conn);
    let threads = holders.first().map_or(1, |p| p.threads);
    #[rustfmt::skip]
    let (verdict, detail) = if inode.is_none() {
        (Skip, msg!(lang, "non jugé : la connexion est introuvable dans /proc/net/tcp", "not judged: the connection is not in /proc/net/tcp"))
    } else if holders.len() >= 2 {
        let n = holders.len();
        (Pass, msg!(lang, "après la connexion, {n} processus tiennent la socket : fork() a eu lieu", "after the connection, {n} processes hold the socket: fork() happened"))
    } else if threads > 1 {
        (Fail, msg!(lang, "un seul processus ({threads} threads) tient la connexion : le TD demande deux processus, avec fork(), pas des threads", "one process ({threads} threads) holds the connection: the TD asks for two processes, with fork(), not threads"))
    } else {
        (Fail, msg!(lang, "un seul processus tient la connexion : après connect()/accept(), fork() ; un processus lit le clavier et envoie, l'autre reçoit et affiche", "one process holds the connection: after connect()/accept(), fork(); one process reads the keyboard and sends, the other receives and prints"))
    };
    ctx.report.add("fork", verdict, detail);
}

/// listener (servers): the conversation's processes should not keep the listening socket.
pub fn listener(ctx: &mut Ctx, prog: &mut Program, _conn: &Conn) {
    let lang = ctx.lang;
    let port = ctx.port;
    // A child closes it first thing after fork: give it half a second to do so.
    let deadline = Instant::now() + secs(0.5);
    let keepers = loop {
        let listening = procs::listening(port);
        let keepers = list(
            conversation(ctx, prog)
                .iter()
                .filter(|p| !procs::sockets(p.pid).is_disjoint(&listening))
                .map(|p| p.pid),
        );
        if keepers.is_empty() || Instant::now() >= deadline {
            break keepers;
        }
        sleep(Duration::from_millis(20));
    };
    #[rustfmt::skip]
    let (verdict, detail) = if keepers.is_empty() {
        (Pass, msg!(lang, "les processus de la conversation ne gardent pas la socket d'écoute", "the conversation's processes do not keep the listening socket"))
    } else {
        (Warn, msg!(lang, "le processus fils {keepers} garde la socket d'écoute : fermez-la dans le fils (chacun ferme ce qu'il n'utilise pas)", "the child process {keepers} keeps the listening socket: close it in the child (each closes what it does not use)"))
    };
    ctx.report.add("listener", verdict, detail);
}

/// from-peer: a line from the peer is printed while nobody types (judged before to-peer: a
/// program that waits for the keyboard before reading the socket is caught here, not
/// rescued by a line typed before).
pub fn from_peer(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    sleep(Duration::from_millis(150));
    let mark = prog.out.len();
    conn.send("une ligne du pair\n".as_bytes());
    let verdict = printed(prog, mark, &["une ligne du pair"], secs(0.5), true);
    let pass = msg!(
        lang,
        "une ligne du pair s'affiche en moins de 0,5 s sans que personne ne tape",
        "a line from the peer is printed within 0.5 s while nobody types"
    );
    add_printed(&mut ctx.report, lang, "from-peer", &verdict, pass, |_| {
        msg!(
            lang,
            "une ligne du pair ne s'affiche pas en 0,5 s tant que personne ne tape : un processus doit recevoir et afficher, sans attendre le clavier",
            "a line from the peer is not printed within 0.5 s while nobody types: one process must receive and print, without waiting for the keyboard"
        )
    });
}

/// to-peer: a typed line goes out while the peer is silent.
pub fn to_peer(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let mark = conn.got.len();
    prog.type_("une ligne tapee\n".as_bytes());
    let line = "une ligne tapee\n".as_bytes();
    if conn.got.wait_for(mark, line, secs(0.5)) {
        ctx.report.add(
            "to-peer",
            Pass,
            msg!(
                lang,
                "une ligne tapée part en moins de 0,5 s alors que le pair se tait",
                "a typed line goes out within 0.5 s while the peer is silent"
            ),
        );
    } else if conn.got.wait_for(mark, line, secs(1.0)) {
        ctx.report.add("to-peer", Fail, msg!(lang, "la ligne tapée part avec plus de 0,5 s de retard : elle attend dans un tampon ; envoyez-la aussitôt lue", "the typed line goes out more than 0.5 s late: it waits in a buffer; send it as soon as it is read"));
    } else {
        let bytes = conn.got.since(mark);
        if !bytes.is_empty() && !bytes.contains(&b'\n') {
            ctx.report
                .add("to-peer", Fail, without_newline(lang, conn, &bytes));
        } else {
            ctx.report.add("to-peer", Fail, msg!(lang, "la ligne tapée ne part pas tant que le pair se tait : un processus doit lire le clavier et envoyer, sans attendre le pair", "the typed line does not go out while the peer is silent: one process must read the keyboard and send, without waiting for the peer"));
        }
    }
}

/// both-ways: bursts both ways at once.
pub fn both_ways(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let n = 200;
    let (mut typed, mut sent) = (String::new(), String::new());
    let mut sent_lines = Vec::new();
    for i in 1..=n {
        let _ = writeln!(typed, "clavier {i:03}");
        let l = format!("pair {i:03}");
        let _ = writeln!(sent, "{l}");
        sent_lines.push(l);
    }
    let (out_mark, got_mark) = (prog.out.len(), conn.got.len());
    prog.type_(typed.as_bytes());
    conn.send_in_background(sent.clone().into_bytes());
    let refs: Vec<&str> = sent_lines.iter().map(String::as_str).collect();
    let out_ok = printed(prog, out_mark, &refs, secs(3.0), false);
    let want = typed.len();
    conn.got
        .wait_until(got_mark, secs(1.0), |b, closed| b.len() >= want || closed);
    let got_ok = conn.got.since(got_mark) == typed.as_bytes();
    #[rustfmt::skip]
    let (verdict, detail) = match (got_ok, &out_ok) {
        (true, Ok(())) => (Pass, msg!(lang, "{n} lignes dans chaque sens en même temps (tapées d'un coup, plus vite qu'une frappe) : toutes livrées, dans l'ordre", "{n} lines each way at once (typed in one go, faster than a person types): all delivered, in order")),
        (false, _) => (Fail, msg!(lang, "{n} lignes tapées pendant que le pair envoie : elles n'arrivent pas toutes, dans l'ordre (envoyez tout avec sendall)", "{n} lines typed while the peer sends: they do not all arrive, in order (send everything with sendall)")),
        (true, Err(f)) => {
            let why = fault_text(lang, f);
            (Fail, msg!(lang, "{n} lignes du pair pendant qu'on tape : {why}", "{n} lines from the peer while typing: {why}"))
        }
    };
    ctx.report.add("both-ways", verdict, detail);
}

/// eof: Ctrl-D sends FIN (shutdown), though the other process still holds the socket; then
/// half-close: after its FIN, what the peer still sends is printed.
pub fn eof(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let lang = ctx.lang;
    let err_mark = prog.err_mark();
    prog.ctrl_d();
    let fin = conn.got.wait_closed(secs(1.0));
    let crash = prog.crashed_since(err_mark);
    match (fin, crash) {
        (_, Some(line)) if line.contains("EOFError") => ctx.report.add("eof", Fail, msg!(lang, "Ctrl-D fait planter le processus du clavier ({line}) : attrapez EOFError, puis shutdown(socket.SHUT_WR)", "Ctrl-D crashes the keyboard process ({line}): catch EOFError, then shutdown(socket.SHUT_WR)")),
        (true, _) => ctx.report.add("eof", Pass, msg!(lang, "à Ctrl-D un FIN part vers le pair en moins de 1 s", "at Ctrl-D a FIN goes to the peer within 1 s")),
        (false, _) => ctx.report.add("eof", Fail, msg!(lang, "à Ctrl-D aucun FIN n'arrive au pair en 1 s : close() dans un processus n'envoie rien tant que l'autre tient la socket ; shutdown(socket.SHUT_WR) envoie le FIN", "at Ctrl-D no FIN reaches the peer within 1 s: close() in one process sends nothing while the other holds the socket; shutdown(socket.SHUT_WR) sends the FIN")),
    }
    if !fin {
        ctx.report.skip_see("half-close", "eof");
        return;
    }
    let mark = prog.out.len();
    conn.send(b"le pair parle encore\n");
    match printed(prog, mark, &["le pair parle encore"], secs(0.5), false) {
        Ok(()) => ctx.report.add("half-close", Pass, msg!(lang, "après son FIN, les lignes que le pair envoie encore s'affichent (demi-fermeture)", "after its FIN, lines the peer still sends are printed (half-close)")),
        Err(_) => ctx.report.add("half-close", Warn, msg!(lang, "après son FIN, une ligne que le pair envoie encore ne s'affiche pas : la fin du clavier ne ferme que votre sens ; continuez d'afficher jusqu'à ce que le pair ferme", "after its FIN, a line the peer still sends is not printed: the end of the keyboard closes only your direction; keep printing until the peer closes")),
    }
}

/// peer-end (a new run, keyboard still open): the peer closes; every process of the
/// conversation ends within 1 s.
pub fn peer_end(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    judge_peer_end(ctx, prog, conn);
}

/// peer-end, then zombie: the server reaps the conversation's processes.
pub fn peer_end_and_zombie(ctx: &mut Ctx, prog: &mut Program, conn: &Conn) {
    let (conv, ended) = judge_peer_end(ctx, prog, conn);
    zombie(ctx, prog, &conv, ended);
}

/// peer-end; the conversation's processes, and whether they all ended.
fn judge_peer_end(ctx: &mut Ctx, prog: &Program, conn: &Conn) -> (HashSet<(i32, u64)>, bool) {
    let lang = ctx.lang;
    let port = ctx.port;
    let server = ctx.listener.is_none();
    forked(prog, conn);
    sleep(Duration::from_millis(100));
    let conv: HashSet<(i32, u64)> = conversation(ctx, prog).iter().map(Proc::key).collect();
    let mark = prog.out.len();
    conn.send(b"au revoir\n");
    let _ = printed(prog, mark, &["au revoir"], secs(0.5), false);
    let still = || -> Vec<Proc> {
        prog.procs()
            .into_iter()
            .filter(|p| conv.contains(&p.key()) && !p.zombie())
            .collect()
    };
    // A server has ended, or listens again for the next client.
    let settled = || -> bool {
        let l = procs::listening(port);
        !server
            || !prog.running()
            || prog
                .procs()
                .iter()
                .any(|p| !p.zombie() && !procs::sockets(p.pid).is_disjoint(&l))
    };
    // Its whole stderr: a crash from the line before the close counts too.
    let seen = peer_leaves(prog, conn, 0, || still().is_empty() && settled());
    let (left, settled) = (still(), settled());
    #[rustfmt::skip]
    let (verdict, detail) = if !left.is_empty() {
        let pids = list(left.iter().map(|p| p.pid));
        (Fail, msg!(lang, "le pair a fermé, mais le processus {pids} tourne encore après 1 s (bloqué à lire le clavier ?) : quand recv() rend b'', arrêtez l'autre processus (os.kill(pid, signal.SIGTERM), puis waitpid)", "the peer has closed, but process {pids} still runs after 1 s (blocked reading the keyboard?): when recv() returns b'', stop the other process (os.kill(pid, signal.SIGTERM), then waitpid)"))
    } else if !settled {
        (Fail, msg!(lang, "le pair a fermé : le serveur ne se termine pas et n'attend pas de nouveau client", "the peer has closed: the server neither exits nor waits for a new client"))
    } else if let Some(line) = seen.crash {
        (Fail, msg!(lang, "le pair a fermé : le programme finit sur une trace d'erreur ({line})", "the peer has closed: the program ends with a traceback ({line})"))
    } else {
        (Pass, msg!(lang, "le pair a fermé : tous les processus de la conversation se terminent en moins de 1 s", "the peer has closed: every process of the conversation ends within 1 s"))
    };
    ctx.report.add("peer-end", verdict, detail);
    (conv, left.is_empty())
}

/// zombie (servers): the finished conversation (CONV, ENDED when all its processes did)
/// leaves no process, not even a zombie.
fn zombie(ctx: &mut Ctx, prog: &Program, conv: &HashSet<(i32, u64)>, ended: bool) {
    let lang = ctx.lang;
    let port = ctx.port;
    let zombies = |prog: &Program| -> String {
        list(
            prog.procs()
                .into_iter()
                .filter(|p| conv.contains(&p.key()) && p.zombie())
                .map(|p| p.pid),
        )
    };
    if !ended {
        ctx.report.skip_see("zombie", "peer-end");
    } else if !prog.running() {
        ctx.report.add(
            "zombie",
            Skip,
            msg!(
                lang,
                "non jugé : le serveur se termine avec sa conversation (rien à récolter)",
                "not judged: the server ends with its conversation (nothing to reap)"
            ),
        );
    } else {
        sleep(Duration::from_millis(300));
        let mut z = zombies(prog);
        let mut when = msg!(
            lang,
            "pendant qu'il attend le client suivant",
            "while it waits for the next client"
        );
        if z.is_empty() {
            let next = Conn::connect(port, Instant::now() + secs(1.0), || false);
            sleep(Duration::from_millis(400));
            z = zombies(prog);
            when = msg!(
                lang,
                "pendant qu'il parle au client suivant",
                "while it talks to the next client"
            );
            drop(next);
        }
        if z.is_empty() {
            ctx.report.add(
                "zombie",
                Pass,
                msg!(
                    lang,
                    "aucun processus de la conversation finie ne reste, pas même zombie",
                    "no process of the finished conversation remains, not even a zombie"
                ),
            );
        } else {
            ctx.report.add("zombie", Fail, msg!(lang, "le processus {z} de la conversation finie reste zombie {when} : récoltez chaque fils (os.waitpid) quand il se termine", "process {z} of the finished conversation stays a zombie {when}: reap each child (os.waitpid) when it ends"));
        }
    }
}
