//! The replay: saved captures (lab/capture's `captures/`), grouped by experiment, drawn as
//! `chatlab ladder` draws them, for the page to step through segment by segment.
//!
//! An experiment is the files of one capture: `NAME.pcap` (one host), or `NAME-client.pcap`,
//! `NAME-server.pcap`… (several), with their netem records (`….netem.pcap`). The page asks
//! for an experiment by NAME; only names of this listing are read, never a path from the
//! browser.
//!
//! What an experiment's files gave (its connections, as [`reading::load`] keeps them) is
//! cached, keyed by each file's path, size and modification time: the page asks again for
//! each connection, several pages at once, and one big capture is read once, not once per
//! request (concurrent requests for one experiment wait for the first one's reading). At most
//! [`CACHED`] experiments are kept, the least recently asked for goes first; each is bounded
//! by the capture window and its first [`LISTED`] connections (the page's list; a
//! connection beyond them is read on its own), so the cache is too.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde::Serialize;

use crate::capture::plan::file_name;
use crate::capture::reading::{self, LISTED, Reading};
use crate::capture::window::Pick;
use crate::ladder::{Ctx, svg};
use crate::lang::{Lang, msg};

/// How many experiments' readings are kept.
pub const CACHED: usize = 4;

/// An experiment's reading: its connections, or why its files cannot be read (kept as well:
/// shared, as the reading is).
type Loaded = Result<Arc<Reading>, Arc<reading::Error>>;

/// Why an experiment is not replayed: one line for the page, in the language of the ladder's
/// context.
#[derive(Debug)]
pub enum Error {
    /// The view was started without `--captures`.
    NoFolder { lang: Lang },
    /// No experiment of that name in the listing.
    NoExperiment { name: String, lang: Lang },
    /// Its files cannot be read (a file that is not a capture names itself), as the ladder
    /// says it.
    Unreadable(Arc<reading::Error>),
    /// It has fewer connections than the one asked for (from 1), TOTAL in all.
    NoConnection {
        name: String,
        n: usize,
        total: usize,
        lang: Lang,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::NoFolder { lang } => msg!(
                *lang,
                "pas de dossier de captures à rejouer (chatlab view --captures DOSSIER)",
                "no captures folder to replay (chatlab view --captures FOLDER)"
            ),
            Error::NoExperiment { name, lang } => msg!(
                *lang,
                "{name}: aucune capture de ce nom",
                "{name}: no capture of that name"
            ),
            Error::Unreadable(e) => return write!(f, "{e}"),
            Error::NoConnection {
                name,
                n,
                total,
                lang,
            } => msg!(
                *lang,
                "{name}: pas de connexion {n} ({total} en tout)",
                "{name}: no connection {n} ({total} in all)"
            ),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for Error {}

/// What a reading depends on: each file (path, size, modification time), the context, and
/// the connection asked for beyond the first ones.
type Key = (Vec<(PathBuf, u64, SystemTime)>, String, Option<usize>);

/// The readings kept, the most recently asked for last.
static CACHE: Mutex<VecDeque<(Key, Arc<OnceLock<Loaded>>)>> = Mutex::new(VecDeque::new());

/// The first connections of PATHS, and connection CONN (from 0), read once for as long as the
/// files do not change.
fn loaded(paths: &[(PathBuf, String)], ctx: &Ctx, conn: usize) -> Loaded {
    let pick = Pick {
        first: LISTED,
        also: (conn >= LISTED).then_some(conn),
    };
    let read = || {
        reading::load(paths, None, &ctx.plan, ctx.lang, ctx.max, pick)
            .map(Arc::new)
            .map_err(Arc::new)
    };
    let files: Option<Vec<(PathBuf, u64, SystemTime)>> = paths
        .iter()
        .map(|(p, _)| {
            let m = fs::metadata(p).ok()?;
            Some((p.clone(), m.len(), m.modified().ok()?))
        })
        .collect();
    // A file that cannot be looked at: read (and said) as it is, not cached.
    let Some(files) = files else {
        return read();
    };
    let key = (files, ctx.key(), pick.also);
    let cell = {
        // (A panic elsewhere while holding the lock leaves the list whole: take it.)
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cell = match cache.iter().position(|(k, _)| *k == key) {
            Some(i) => cache.remove(i).expect("found").1,
            None => Arc::new(OnceLock::new()),
        };
        cache.push_back((key, cell.clone()));
        while cache.len() > CACHED {
            cache.pop_front();
        }
        cell
    };
    // Outside the lock: others asking for this experiment wait here, others go on.
    cell.get_or_init(read).clone()
}

/// The experiment a capture file belongs to: its name without extension, netem record mark
/// and capturing host; None for what is not a capture (or is hidden: lab/view's own folder,
/// lab/capture's markers).
pub fn experiment(file: &str) -> Option<String> {
    let is_capture = file.ends_with(".pcap") || file.ends_with(".pcapng");
    if file.starts_with('.') || !is_capture {
        return None;
    }
    let name = file_name(file).experiment;
    (!name.is_empty()).then(|| name.to_string())
}

/// The experiments in DIR, each with its files (by name), in the order of their names.
pub fn list(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let mut all: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return all;
    };
    for e in entries.flatten() {
        let Some(file) = e.file_name().to_str().map(String::from) else {
            continue;
        };
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        if let Some(name) = experiment(&file) {
            all.entry(name).or_default().push(file);
        }
    }
    for files in all.values_mut() {
        files.sort();
    }
    all
}

/// The replay's answers, as the page reads them.
mod json {
    use serde::Serialize;

    /// `GET /captures`.
    #[derive(Serialize)]
    pub struct Captures<'a> {
        pub captures: Vec<Experiment<'a>>,
    }

    #[derive(Serialize)]
    pub struct Experiment<'a> {
        pub name: &'a str,
        pub files: &'a [String],
    }

    /// `GET /replay`: one connection drawn, and the list of all.
    #[derive(Serialize)]
    pub struct Replay<'a> {
        pub name: &'a str,
        pub files: &'a [String],
        pub connections: Vec<Connection>,
        /// How many connections the experiment holds (the list has the first ones).
        pub total: usize,
        pub conn: usize,
        pub svg: String,
    }

    #[derive(Serialize)]
    pub struct Connection {
        pub n: usize,
        pub title: String,
        pub segments: usize,
    }
}

/// `{"captures":[{"name":…,"files":[…]},…]}` (empty without a captures folder).
pub fn list_json(dir: Option<&Path>) -> String {
    let all = dir.map(list).unwrap_or_default();
    let captures = all
        .iter()
        .map(|(name, files)| json::Experiment { name, files })
        .collect();
    to_string(&json::Captures { captures })
}

/// VALUE as JSON text.
fn to_string(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("plain data")
}

/// The experiment NAME of DIR, read and matched, its connection CONN (default the first)
/// drawn: `{"name", "files", "connections": [{"n", "title", "segments"}], "total", "conn",
/// "svg"}` (the connections listed: the first ones, and CONN; "total": how many there are).
/// An error is one line for the page ([`Error`]).
pub fn replay(
    dir: Option<&Path>,
    name: &str,
    conn: Option<u32>,
    ctx: &Ctx,
) -> Result<String, Error> {
    let lang = ctx.lang;
    let Some(dir) = dir else {
        return Err(Error::NoFolder { lang });
    };
    let all = list(dir);
    let files = all.get(name).ok_or_else(|| Error::NoExperiment {
        name: name.to_string(),
        lang,
    })?;
    let paths: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (dir.join(f), format!("captures/{f}")))
        .collect();
    let n = conn.unwrap_or(1).max(1) as usize;
    let reading = loaded(&paths, ctx, n - 1).map_err(Error::Unreadable)?;
    let c = reading.get(n - 1).ok_or_else(|| Error::NoConnection {
        name: name.to_string(),
        n,
        total: reading.total,
        lang,
    })?;
    let mut doc = String::new();
    svg::draw(&mut doc, ctx, &[(n - 1, c)], reading.total);
    // The first connections, and the one drawn (the page's list).
    let connections = reading
        .conns
        .iter()
        .map(|(i, c)| json::Connection {
            n: i + 1,
            title: format!(
                "{} {} → {} {}",
                ctx.name(c.ends[0]),
                c.ends[0],
                ctx.name(c.ends[1]),
                c.ends[1]
            ),
            segments: c.segments.len(),
        })
        .collect();
    Ok(to_string(&json::Replay {
        name,
        files,
        connections,
        total: reading.total,
        conn: n,
        svg: doc,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::model::tests::talk;
    use crate::lang::Lang;

    #[test]
    fn concurrent_replays_of_an_experiment_read_it_once_until_it_changes() {
        let dir = std::env::temp_dir().join(format!("chatlab-cache-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        talk().write(&dir, "x");
        let ctx = Ctx::new(Lang::En, "10.80.80", 0.5, 1000).unwrap();
        let paths: Vec<(PathBuf, String)> = ["x-client.pcap", "x-server.pcap"]
            .iter()
            .map(|f| (dir.join(f), f.to_string()))
            .collect();
        let got: Vec<Arc<Reading>> = std::thread::scope(|s| {
            let all: Vec<_> = (0..8)
                .map(|_| s.spawn(|| loaded(&paths, &ctx, 0).unwrap()))
                .collect();
            all.into_iter().map(|t| t.join().unwrap()).collect()
        });
        // One reading, shared: each reading makes its own list.
        assert!(got.iter().all(|c| Arc::ptr_eq(c, &got[0])));
        assert!(Arc::ptr_eq(&loaded(&paths, &ctx, 0).unwrap(), &got[0]));
        // Another language reads again (its messages differ).
        let fr = Ctx::new(Lang::Fr, "10.80.80", 0.5, 1000).unwrap();
        assert!(!Arc::ptr_eq(&loaded(&paths, &fr, 0).unwrap(), &got[0]));
        // A file that changed is read again.
        let mut s = talk();
        s.send(
            30 * crate::capture::model::tests::MS,
            true,
            16,
            9,
            7,
            b"",
            Some(1),
        );
        s.write(&dir, "x");
        let again = loaded(&paths, &ctx, 0).unwrap();
        assert!(!Arc::ptr_eq(&again, &got[0]));
        assert_eq!(
            again.conns[0].1.segments.len(),
            got[0].conns[0].1.segments.len() + 1
        );
        // Bounded: never more than CACHED readings kept.
        assert!(CACHE.lock().unwrap().len() <= CACHED);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn of_many_connections_the_page_lists_the_first_ones_and_the_one_asked_for() {
        use crate::capture::model::tests::{MS, Script};
        let dir = std::env::temp_dir().join(format!("chatlab-many-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        // 25 conversations, one every 100 ms, client port 40000 + k.
        let mut all = Script::new();
        for k in 0..25u16 {
            let one = talk();
            for (from, to) in [
                (&one.client, &mut all.client),
                (&one.server, &mut all.server),
            ] {
                for p in from {
                    let mut p = p.clone();
                    p.ts += i64::from(k) * 100 * MS;
                    let client = if p.src.port() == 40000 {
                        &mut p.src
                    } else {
                        &mut p.dst
                    };
                    client.set_port(40000 + k);
                    to.push(p);
                }
            }
        }
        all.write(&dir, "m");
        let ctx = Ctx::new(Lang::En, "10.80.80", 0.5, 1000).unwrap();
        let got = replay(Some(&dir), "m", Some(23), &ctx).unwrap();
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        let listed: Vec<u64> = v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["n"].as_u64().unwrap())
            .collect();
        let mut want: Vec<u64> = (1..=20).collect();
        want.push(23);
        assert_eq!(listed, want);
        assert_eq!(
            (v["total"].as_u64(), v["conn"].as_u64()),
            (Some(25), Some(23))
        );
        let svg = v["svg"].as_str().unwrap();
        assert!(
            svg.contains("10.80.80.11:40022") && svg.contains("23/25"),
            "{svg}"
        );
        let none = replay(Some(&dir), "m", Some(26), &ctx).unwrap_err();
        assert_eq!(none.to_string(), "m: no connection 26 (25 in all)");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_error_is_one_line_in_the_contexts_language() {
        let said = |lang, e: fn(Lang) -> Error| e(lang).to_string();
        let no_folder = |lang| Error::NoFolder { lang };
        let no_name = |lang| Error::NoExperiment {
            name: "05-x".into(),
            lang,
        };
        let no_conn = |lang| Error::NoConnection {
            name: "05-x".into(),
            n: 3,
            total: 2,
            lang,
        };
        assert_eq!(
            said(Lang::Fr, no_folder),
            "pas de dossier de captures à rejouer (chatlab view --captures DOSSIER)"
        );
        assert_eq!(
            said(Lang::En, no_folder),
            "no captures folder to replay (chatlab view --captures FOLDER)"
        );
        assert_eq!(said(Lang::Fr, no_name), "05-x: aucune capture de ce nom");
        assert_eq!(said(Lang::En, no_name), "05-x: no capture of that name");
        assert_eq!(
            said(Lang::Fr, no_conn),
            "05-x: pas de connexion 3 (2 en tout)"
        );
        assert_eq!(said(Lang::En, no_conn), "05-x: no connection 3 (2 in all)");
    }

    #[test]
    fn files_are_grouped_by_experiment() {
        assert_eq!(
            experiment("05-ladder-client.pcap").as_deref(),
            Some("05-ladder")
        );
        assert_eq!(
            experiment("05-ladder-client2.pcap").as_deref(),
            Some("05-ladder")
        );
        assert_eq!(
            experiment("05-ladder-client.netem.pcap").as_deref(),
            Some("05-ladder")
        );
        assert_eq!(experiment("01-poignee.pcap").as_deref(), Some("01-poignee"));
        assert_eq!(experiment("trace.pcapng").as_deref(), Some("trace"));
        assert_eq!(experiment("x.svg"), None);
        assert_eq!(experiment(".view-0123"), None);
        assert_eq!(experiment(".essai.capturing"), None);
        assert_eq!(experiment("-client.pcap"), None);
    }

    #[test]
    fn an_experiment_is_replayed_by_name_only_and_bad_files_say_so() {
        let dir = std::env::temp_dir().join(format!("chatlab-replay-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        talk().write(&dir, "x");
        fs::write(dir.join("bad-client.pcap"), b"not a capture at all").unwrap();
        fs::write(dir.join("sub").join("hidden.pcap"), b"").unwrap();
        let listed = list_json(Some(&dir));
        assert!(
            listed.contains(r#"{"name":"bad","files":["bad-client.pcap"]}"#)
                && listed.contains(r#""name":"x","files":["x-client.pcap","x-server.pcap"]"#)
                && !listed.contains("hidden"),
            "{listed}"
        );
        let ctx = Ctx::new(Lang::En, "10.80.80", 0.5, 1000).unwrap();
        let got = replay(Some(&dir), "x", None, &ctx).unwrap();
        assert!(got.contains(r#""conn":1"#) && got.contains("<svg"), "{got}");
        assert!(got.contains(r#""segments":"#), "{got}");
        let bad = replay(Some(&dir), "bad", None, &ctx)
            .unwrap_err()
            .to_string();
        assert_eq!(
            bad,
            "captures/bad-client.pcap: not a capture file (neither pcap nor pcapng)"
        );
        let fr = Ctx::new(Lang::Fr, "10.80.80", 0.5, 1000).unwrap();
        let bad = replay(Some(&dir), "bad", None, &fr)
            .unwrap_err()
            .to_string();
        assert_eq!(
            bad,
            "captures/bad-client.pcap : pas un fichier de capture (ni pcap ni pcapng)"
        );
        // Names from the listing only: a path is no name.
        for name in ["../x", "sub/hidden", "/etc/passwd", "x-client.pcap"] {
            assert!(replay(Some(&dir), name, None, &ctx).is_err(), "{name}");
        }
        assert!(replay(Some(&dir), "x", Some(2), &ctx).is_err());
        assert!(replay(None, "x", None, &ctx).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
