//! The class as the web server knows it: files in the class's folder, most written by
//! lab/class, a few by this server.
//!
//! - `labs.tsv` (lab/class): one student a line, `ID<TAB>INDEX<TAB>NAME`.
//! - `agent.token` (lab/class): the agents' token.
//! - `agents.txt` (lab/class): one agent a line, `ADDRESS:PORT`, every node's.
//! - `web/secrets.tsv` (here, mode 600): `ID<TAB>SECRET`, the teacher's as ID `-`; made once,
//!   kept across restarts (a link stays good), a new student's added when the roster grows.
//! - `links.csv` (here): `id,name,url` for a mail merge or an LMS.
//!
//! A secret is 24 random bytes (192 bits) in URL-safe base64. The server keeps only their
//! SHA-256 in its lookup table, and compares digests, not secrets.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chatlab_agent::protocol::{token_of_file, valid_student};
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// Who a secret opens the class to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Student(String),
    Teacher,
}

/// One student of the roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Student {
    pub id: String,
    pub name: String,
}

pub struct Class {
    dir: PathBuf,
    state: RwLock<State>,
    /// The agents' token (agent.token), read once: lab/class makes it before it starts this
    /// server, and a new token comes only with a new class, and so a new server.
    token: Result<String, String>,
}

#[derive(Default)]
struct State {
    /// The roster, in its order.
    students: Vec<Student>,
    /// ID → secret (the teacher's under `-`).
    secrets: HashMap<String, String>,
    /// SHA-256 of a secret → who.
    by_digest: HashMap<Vec<u8>, Who>,
    /// When labs.tsv was last read.
    roster_read: Option<SystemTime>,
}

const TEACHER: &str = "-";

impl Class {
    /// The class of DIR: its roster read, every secret made that is missing.
    pub fn open(dir: &Path) -> Result<Class, String> {
        if !dir.join("labs.tsv").is_file() {
            return Err(format!(
                "no class in {}: lab/class up ROSTER makes one (labs.tsv is missing)",
                dir.display()
            ));
        }
        let file = dir.join("agent.token");
        let token = fs::read_to_string(&file)
            .map_err(|e| format!("{}: {e}", file.display()))
            .and_then(|t| token_of_file(&t));
        let class = Class {
            dir: dir.to_path_buf(),
            state: RwLock::new(State::default()),
            token,
        };
        class.reload()?;
        Ok(class)
    }

    /// Read labs.tsv again if it changed; true when the roster changed.
    pub fn reload(&self) -> Result<bool, String> {
        let roster = self.dir.join("labs.tsv");
        let modified = fs::metadata(&roster).and_then(|m| m.modified()).ok();
        if modified.is_some() && self.state.read().unwrap().roster_read == modified {
            return Ok(false);
        }
        let students = read_roster(&roster)?;
        let secrets_file = self.dir.join("web").join("secrets.tsv");
        let mut secrets = read_secrets(&secrets_file)?;
        let mut added = false;
        for id in students.iter().map(|s| s.id.as_str()).chain([TEACHER]) {
            if !secrets.contains_key(id) {
                secrets.insert(id.to_string(), new_secret()?);
                added = true;
            }
        }
        if added {
            write_secrets(&secrets_file, &secrets)?;
        }
        let mut by_digest = HashMap::new();
        for (id, secret) in &secrets {
            let who = if id == TEACHER {
                Who::Teacher
            } else if students.iter().any(|s| &s.id == id) {
                Who::Student(id.clone())
            } else {
                continue; // a student no longer on the roster: their link opens nothing
            };
            by_digest.insert(digest(&SHA256, secret.as_bytes()).as_ref().to_vec(), who);
        }
        let mut state = self.state.write().unwrap();
        let changed = state.students != students;
        *state = State {
            students,
            secrets,
            by_digest,
            roster_read: modified,
        };
        Ok(changed)
    }

    /// Who SECRET is, if anyone.
    pub fn who(&self, secret: &str) -> Option<Who> {
        let key = digest(&SHA256, secret.as_bytes());
        self.state
            .read()
            .unwrap()
            .by_digest
            .get(key.as_ref())
            .cloned()
    }

    pub fn teacher_secret(&self) -> String {
        self.state.read().unwrap().secrets[TEACHER].clone()
    }

    pub fn students(&self) -> Vec<Student> {
        self.state.read().unwrap().students.clone()
    }

    pub fn has_student(&self, id: &str) -> bool {
        self.state
            .read()
            .unwrap()
            .students
            .iter()
            .any(|s| s.id == id)
    }

    /// links.csv: every student's link, BASE/s/SECRET.
    pub fn write_links(&self, base: &str) -> Result<(), String> {
        let state = self.state.read().unwrap();
        let mut csv = String::from("id,name,url\n");
        for s in &state.students {
            csv.push_str(&format!(
                "{},{},{base}/s/{}\n",
                csv_field(&s.id),
                csv_field(&s.name),
                state.secrets[&s.id]
            ));
        }
        write_private(&self.dir.join("links.csv"), csv.as_bytes())
    }

    /// The agents' token.
    pub fn agent_token(&self) -> Result<String, String> {
        self.token.clone()
    }

    /// The agents' addresses (agents.txt), one per node.
    pub fn agents(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("agents.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    }

    /// A file of the server's own in the class's folder (`web/NAME`).
    pub fn web_file(&self, name: &str) -> PathBuf {
        self.dir.join("web").join(name)
    }

    /// A file of the class's folder that the teacher may download (the grades).
    pub fn grades_file(&self, name: &str) -> Option<PathBuf> {
        matches!(name, "report.csv" | "report.html")
            .then(|| self.dir.join("grades").join(name))
            .filter(|p| p.is_file())
    }
}

fn read_roster(file: &Path) -> Result<Vec<Student>, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut students = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut fields = line.split('\t');
        let id = fields.next().unwrap_or("").trim();
        let _index = fields.next();
        let name = fields.next().unwrap_or("").trim();
        if !valid_student(id) {
            return Err(format!(
                "{}: '{}' is not a student ID",
                file.display(),
                chatlab_agent::protocol::printable(id)
            ));
        }
        students.push(Student {
            id: id.to_string(),
            name: if name.is_empty() { id } else { name }.to_string(),
        });
    }
    Ok(students)
}

fn read_secrets(file: &Path) -> Result<HashMap<String, String>, String> {
    let text = match fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}: {e}", file.display())),
    };
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, s)| s.len() >= 22)
        .map(|(id, s)| (id.to_string(), s.to_string()))
        .collect())
}

fn write_secrets(file: &Path, secrets: &HashMap<String, String>) -> Result<(), String> {
    let mut ids: Vec<&String> = secrets.keys().collect();
    ids.sort();
    let text: String = ids
        .into_iter()
        .map(|id| format!("{id}\t{}\n", secrets[id]))
        .collect();
    write_private(file, text.as_bytes())
}

/// FILE written whole (a temporary file renamed), readable by its owner only.
pub fn write_private(file: &Path, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = file.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = file.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .and_then(|_| fs::rename(&tmp, file))
        .map_err(|e| format!("{}: {e}", file.display()))
}

fn new_secret() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no random numbers from the system".to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// TEXT as one CSV field: quoted when it must be, and never a spreadsheet's formula (a leading
/// `=`, `+`, `-` or `@` gets a `'`, as the checker's report does).
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_never_formulas() {
        assert_eq!(csv_field("Élodie Martin"), "Élodie Martin");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+33"), "'+33");
        assert_eq!(csv_field("-x"), "'-x");
        assert_eq!(csv_field("@A1"), "'@A1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }

    #[test]
    fn secrets_are_192_bits_and_differ() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn a_class_keeps_its_secrets_and_knows_who_each_is() {
        let dir = std::env::temp_dir().join(format!("chatlab-web-class-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("labs.tsv"), "alice\t0\tAlice, B.\nbob\t1\t\n").unwrap();
        let class = Class::open(&dir).unwrap();
        class.write_links("https://h:8443").unwrap();
        let links = fs::read_to_string(dir.join("links.csv")).unwrap();
        let alice = links.lines().nth(1).unwrap();
        assert!(
            alice.starts_with("alice,\"Alice, B.\",https://h:8443/s/"),
            "{links}"
        );
        let secret = alice.rsplit('/').next().unwrap();
        assert_eq!(class.who(secret), Some(Who::Student("alice".into())));
        assert_eq!(class.who(&class.teacher_secret()), Some(Who::Teacher));
        assert_eq!(class.who("nope"), None);
        // Opened again: the same secrets (a link given stays good).
        let again = Class::open(&dir).unwrap();
        assert_eq!(again.who(secret), Some(Who::Student("alice".into())));
        // Off the roster: the link opens nothing.
        fs::write(dir.join("labs.tsv"), "bob\t1\t\n").unwrap();
        let third = Class::open(&dir).unwrap();
        assert_eq!(third.who(secret), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
