//! A student's `work/` folder (the lab's volume, mounted at /work in its three hosts), read and
//! written by commands in the lab's `server` host through its agent.
//!
//! A name is confined to the folder by what it may be: 1 to 64 letters, digits, `.`, `_` and
//! `-`, not starting with `.` (no `/`, no `..`, no hidden file). Symbolic links are neither
//! listed, read nor written through (a student's link to elsewhere in their host would only
//! reach their own host; refused anyway, so that a name always means a file of `work/`).

use serde::Serialize;

use crate::agents::{Agents, MAX_OUTPUT};

/// The largest file the page opens or saves.
pub const MAX_FILE: usize = 256 * 1024;
const HOST: &str = "server";

#[derive(Debug, Serialize, PartialEq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    /// Last modified, seconds since the epoch.
    pub modified: f64,
}

#[derive(Debug)]
pub enum Error {
    BadName,
    NotFound,
    TooLarge,
    Lab(String),
}

/// Whether NAME may name a file of `work/` (the agent's rule: a check names one too).
pub use chatlab_agent::protocol::valid_file_name as valid_name;

pub async fn list(agents: &Agents, student: &str) -> Result<Vec<Entry>, Error> {
    let out = agents
        .run(
            student,
            HOST,
            &[
                "find",
                "/work",
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "-type",
                "f",
                "-printf",
                "%f\\t%s\\t%T@\\n",
            ],
            b"",
            MAX_OUTPUT,
        )
        .await
        .map_err(Error::Lab)?;
    if out.code != 0 {
        return Err(Error::Lab(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let mut entries: Vec<Entry> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut f = line.split('\t');
            let (name, size, modified) = (f.next()?, f.next()?, f.next()?);
            valid_name(name).then(|| Entry {
                name: name.to_string(),
                size: size.parse().unwrap_or(0),
                modified: modified.parse().unwrap_or(0.0),
            })
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(entries)
}

// The scripts get the name as $1 (never inside the script's text): exit 3 no such regular
// file, 4 too large.
const READ: &str = r#"f=/work/$1; [ -f "$f" ] && [ ! -L "$f" ] || exit 3; [ "$(stat -c %s -- "$f")" -le "$2" ] || exit 4; exec cat -- "$f""#;
const WRITE: &str = r#"f=/work/$1; [ -L "$f" ] || [ -d "$f" ] && exit 3; t=/work/.chatlab-save.$$; cat >"$t" && mv -f -- "$t" "$f" || { rm -f -- "$t"; exit 1; }"#;

pub async fn read(agents: &Agents, student: &str, name: &str) -> Result<Vec<u8>, Error> {
    if !valid_name(name) {
        return Err(Error::BadName);
    }
    let max = MAX_FILE.to_string();
    let out = agents
        .run(
            student,
            HOST,
            &["sh", "-c", READ, "sh", name, &max],
            b"",
            MAX_OUTPUT,
        )
        .await
        .map_err(Error::Lab)?;
    match out.code {
        0 => Ok(out.stdout),
        3 => Err(Error::NotFound),
        4 => Err(Error::TooLarge),
        _ => Err(Error::Lab(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}

pub async fn write(agents: &Agents, student: &str, name: &str, bytes: &[u8]) -> Result<(), Error> {
    if !valid_name(name) {
        return Err(Error::BadName);
    }
    if bytes.len() > MAX_FILE {
        return Err(Error::TooLarge);
    }
    let out = agents
        .run(
            student,
            HOST,
            &["sh", "-c", WRITE, "sh", name],
            bytes,
            MAX_OUTPUT,
        )
        .await
        .map_err(Error::Lab)?;
    match out.code {
        0 => Ok(()),
        3 => Err(Error::BadName),
        _ => Err(Error::Lab(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_stay_in_the_folder() {
        for good in ["q1.py", "q3-client.sh", "Notes_2.txt", "a"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            ".bashrc",
            "/etc/passwd",
            "a b",
            "ça.py",
            "a\0b",
            "%2e%2e",
            &"x".repeat(65),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
