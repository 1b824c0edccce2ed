//! sheetkit: what the exercise sheets' tests need beyond running their blocks: the blocks of a
//! sheet and their kinds, the captures a sheet makes read back as segments, and the French
//! typography rule of the sheets.

#![allow(dead_code)] // each test binary uses a part of the kit

use std::fs;
use std::path::{Path, PathBuf};

use crate::kit;

pub fn sheets_dir() -> PathBuf {
    kit::root().join("lab/exercices")
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Kind {
    /// `sh`: run by the tests, in order.
    Run,
    /// `sh interactif`: typed by hand; each command has a twin in a `sh` block.
    Interactive,
    /// `sh à vous`: the student's own program in the lab; checked, not run (the program is
    /// the student's).
    Yours,
    /// `text`: what one should see.
    Text,
}

pub struct Block {
    pub kind: Kind,
    pub line: usize,
    pub text: String,
}

/// The fenced blocks of the Markdown file PATH, with their kind; panics on an unknown tag.
pub fn blocks(path: &Path) -> Vec<Block> {
    let name = path.display();
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("read {name}: {e}"));
    let mut blocks = Vec::new();
    let mut open: Option<(Kind, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let Some(tag) = line.strip_prefix("```") else {
            if let Some((_, _, body)) = open.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
            continue;
        };
        match open.take() {
            Some((kind, line, text)) => blocks.push(Block { kind, line, text }),
            None => {
                let kind = match tag.trim() {
                    "sh" => Kind::Run,
                    "sh interactif" => Kind::Interactive,
                    "sh à vous" => Kind::Yours,
                    "text" => Kind::Text,
                    other => panic!(
                        "{name}:{}: block tagged {other:?}: use sh, sh interactif, sh à vous or text",
                        i + 1
                    ),
                };
                open = Some((kind, i + 1, String::new()));
            }
        }
    }
    assert!(open.is_none(), "{name}: a block is not closed");
    blocks
}

/// Every Markdown file of the sheets' folder and its subfolders (the answer keys).
pub fn markdown_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![sheets_dir()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

// --- Captures, read back -----------------------------------------------------------------

/// One TCP segment as `lab/capture --read` shows it (lab/tcpview.awk).
#[derive(Debug, Clone)]
pub struct Segment {
    /// Seconds since the first packet of the file.
    pub t: f64,
    /// `client:40000`, `server:8080`…
    pub from: String,
    pub to: String,
    /// `SYN`, `SYN ACK`, `PSH ACK`, `FIN ACK`…
    pub flags: String,
    /// Bytes of data.
    pub len: usize,
    /// The data as the view shows it (`\n` escaped, UTF-8 kept).
    pub data: String,
    pub line: String,
}

impl Segment {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.split_whitespace().any(|f| f == flag)
    }

    /// The host part of `from`: `client`, `server`, `client2`.
    pub fn sender(&self) -> &str {
        self.from.split(':').next().unwrap_or_default()
    }

    pub fn sender_port(&self) -> &str {
        self.from.rsplit(':').next().unwrap_or_default()
    }
}

/// The segments of a view (one line each; other lines are skipped).
pub fn parse_view(view: &str) -> Vec<Segment> {
    const FLAGS: [&str; 8] = ["SYN", "FIN", "PSH", "RST", "URG", "ECE", "CWR", "ACK"];
    let mut segments = Vec::new();
    for line in view.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 5 || words[2] != "→" {
            continue;
        }
        let Ok(t) = words[0].parse::<f64>() else {
            continue;
        };
        let flags: Vec<&str> = words[4..]
            .iter()
            .take_while(|w| FLAGS.contains(w))
            .copied()
            .collect();
        let (mut len, mut data) = (0, String::new());
        if let Some(at) = line.find(" bytes  \"").or_else(|| line.find(" byte  \"")) {
            let before = &line[..at];
            len = before
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let rest = &line[at..];
            let start = rest.find('"').map_or(0, |i| i + 1);
            let end = rest.rfind('"').unwrap_or(rest.len());
            data = rest[start..end.max(start)].to_string();
        }
        segments.push(Segment {
            t,
            from: words[1].to_string(),
            to: words[3].to_string(),
            flags: flags.join(" "),
            len,
            data,
            line: line.to_string(),
        });
    }
    segments
}

/// The segments that carry data.
pub fn data(segments: &[Segment]) -> Vec<&Segment> {
    segments.iter().filter(|s| s.len > 0).collect()
}

/// The segments as text, for failure messages.
pub fn show(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| s.line.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

// --- French typography ---------------------------------------------------------------------

pub const NBSP: char = '\u{a0}';
pub const NNBSP: char = '\u{202f}';

/// The prose of a Markdown text: fenced blocks, inline code and link targets blanked out
/// (commands and outputs stay ASCII), one entry per line with its number.
fn prose(text: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut fenced = false;
    // Inline code may go on to the next line of its paragraph. It opens with a run of
    // backticks and closes with a run of the same length (` ```sh ` is code holding ```sh).
    let mut code: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            code = None;
        }
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '`' {
                let mut run = 1;
                while chars.next_if_eq(&'`').is_some() {
                    run += 1;
                }
                code = match code {
                    None => Some(run),
                    Some(open) if open == run => None,
                    open => open,
                };
                out.push_str(&"`".repeat(run));
                continue;
            }
            if code.is_some() {
                out.push('x');
                continue;
            }
            out.push(c);
            // A link target: ](…) is not prose.
            if c == ']' && chars.peek() == Some(&'(') {
                for c in chars.by_ref() {
                    if c == ')' {
                        break;
                    }
                }
                out.push_str("(x)");
            }
        }
        lines.push((i + 1, out));
    }
    lines
}

const UNITS: [&str; 12] = [
    "ms", "s", "min", "h", "µs", "octets", "octet", "Mo", "Go", "ko", "Mio", "%",
];

/// The places where PATH's prose breaks the French typography: U+00A0 before `:`, U+202F
/// before `; ? !` and inside `« »`, a non-breaking space between a number and its unit.
pub fn typography_errors(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).expect("read");
    let name = path.strip_prefix(kit::root()).unwrap_or(path).display();
    let mut errors = Vec::new();
    for (n, line) in prose(&text) {
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            let before = if i > 0 { chars[i - 1] } else { '\n' };
            let after = chars.get(i + 1).copied().unwrap_or('\n');
            let problem = match c {
                ':' if before == ' ' || before == NNBSP => Some("U+00A0 before « : »"),
                // A colon glued to a word: only in prose, not in 10:30 or seq 1:9.
                ':' if before.is_alphabetic() && (after == ' ' || after == '\n') => {
                    Some("U+00A0 before « : »")
                }
                ';' | '?' | '!' if before == ' ' || before == NBSP => {
                    Some("U+202F before « ; ? ! »")
                }
                ';' | '?' | '!' if before.is_alphanumeric() && !matches!(after, '=' | '[') => {
                    Some("U+202F before « ; ? ! »")
                }
                '«' if after != NNBSP => Some("U+202F after « « »"),
                '»' if before != NNBSP => Some("U+202F before « » »"),
                _ => None,
            };
            if let Some(problem) = problem {
                errors.push(format!("{name}:{n}: {problem}: {}", excerpt(&chars, i)));
            }
        }
        // A number, a plain space, a unit.
        for (i, w) in line.split(' ').enumerate().skip(1) {
            let prev = line.split(' ').nth(i - 1).unwrap_or_default();
            let unit = w.trim_end_matches(|c: char| ",.;:)".contains(c));
            if UNITS.contains(&unit) && prev.chars().last().is_some_and(|c| c.is_ascii_digit()) {
                errors.push(format!(
                    "{name}:{n}: U+00A0 between a number and its unit: « {prev} {unit} »"
                ));
            }
        }
    }
    errors
}

fn excerpt(chars: &[char], i: usize) -> String {
    let from = i.saturating_sub(20);
    let to = (i + 10).min(chars.len());
    let s: String = chars[from..to].iter().collect();
    format!("« {} »", s.replace(NBSP, "⍽").replace(NNBSP, "·"))
}
