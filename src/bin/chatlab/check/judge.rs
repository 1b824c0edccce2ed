//! Did the lines sent come out right? The program's output read as a person reads it.
//!
//! Fair to real programs: lines that match nothing sent are ignored (« connexion de … »), and
//! a fixed prefix is accepted (« client : bonjour », a prompt); but each line sent must end
//! exactly one output line, once, in order, with no blank line added between them.

/// What is wrong with the lines printed.
#[derive(Debug, PartialEq, Eq)]
pub enum Fault {
    /// `print(data)` of bytes: `b'bonjour\n'`.
    Bytes,
    /// The newline shown as the two characters `\n`.
    Escaped,
    /// The line came out cut in pieces (one recv() is not one line).
    Split(String),
    /// The line is there but without its newline, at the end of the output.
    NoNewline(String),
    /// The line is not there at all.
    Missing(String),
    /// The line came out more than once.
    Twice(String),
    /// A blank line between the lines (print() adds its own '\n').
    Blank,
}

/// Judge OUTPUT against EXPECTED lines (without their newline). BLANK: whether blank lines
/// count as a fault (only one criterion reports them, not every one).
pub fn judge(output: &str, expected: &[&str], blank: bool) -> Result<(), Fault> {
    let verdict = lines(output, expected, blank);
    // What went wrong may be the representation of bytes printed (b'caf\xc3\xa9\n').
    if verdict.is_err() {
        let repr = output
            .split('\n')
            .any(|l| l.contains("b'") || l.contains("b\""));
        if repr {
            return Err(Fault::Bytes);
        }
        if output.contains("\\n") {
            return Err(Fault::Escaped);
        }
    }
    verdict
}

fn lines(output: &str, expected: &[&str], blank: bool) -> Result<(), Fault> {
    let text = output.replace('\r', "");
    let complete = text.ends_with('\n');
    let mut lines: Vec<&str> = text.split('\n').collect();
    let partial = if complete { None } else { lines.pop() };
    if complete {
        lines.pop(); // after the last '\n'
    }
    let mut at = 0;
    let mut first_match = None;
    let mut last_match = 0;
    for e in expected {
        match lines[at..].iter().position(|l| l.ends_with(e)) {
            Some(i) => {
                at += i + 1;
                first_match.get_or_insert(at - 1);
                last_match = at - 1;
            }
            None => {
                if partial.is_some_and(|p| p.ends_with(e)) {
                    return Err(Fault::NoNewline(e.to_string()));
                }
                if split(&lines[at..], e) {
                    return Err(Fault::Split(e.to_string()));
                }
                return Err(Fault::Missing(e.to_string()));
            }
        }
    }
    for e in expected {
        let n = lines.iter().filter(|l| l.ends_with(e)).count();
        let wanted = expected.iter().filter(|x| x.ends_with(e)).count();
        if n > wanted {
            return Err(Fault::Twice(e.to_string()));
        }
    }
    // Blank lines between the first line and the last, or right after the last.
    if blank && let Some(first) = first_match {
        let end = (last_match + 2).min(lines.len());
        if lines[first..end].iter().any(|l| l.trim().is_empty()) {
            return Err(Fault::Blank);
        }
    }
    Ok(())
}

/// Whether E appears in LINES cut over consecutive lines.
fn split(lines: &[&str], e: &str) -> bool {
    (0..lines.len()).any(|i| {
        let mut joined = String::new();
        for l in &lines[i..] {
            joined.push_str(l);
            if joined.len() >= e.len() + 200 {
                break;
            }
            if joined.ends_with(e) && joined.len() > l.len() {
                return true;
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: &[&str] = &["bonjour", "deux"];

    #[test]
    fn exact_prefixed_and_chatty_outputs_pass() {
        assert_eq!(judge("bonjour\ndeux\n", L, true), Ok(()));
        assert_eq!(judge("client : bonjour\nclient : deux\n", L, true), Ok(()));
        assert_eq!(
            judge("connexion de 127.0.0.1\n\nbonjour\n> deux\n", L, true),
            Ok(())
        );
    }

    #[test]
    fn classic_mistakes_are_named() {
        use Fault::*;
        let cases = [
            ("b'bonjour\\n'\nb'deux\\n'\n", true, Err(Bytes)),
            ("bonjour\\ndeux\\n\n", true, Err(Escaped)),
            ("bonjour\n\ndeux\n\n", true, Err(Blank)),
            ("bonjour\n\ndeux\n\n", false, Ok(())),
            ("bonjour\nde\nux\n", true, Err(Split("deux".into()))),
            ("bonjour\ndeux", true, Err(NoNewline("deux".into()))),
            ("bonjour\n", true, Err(Missing("deux".into()))),
            (
                "bonjour\nbonjour\ndeux\n",
                true,
                Err(Twice("bonjour".into())),
            ),
            // Out of order: the second is found, the first after it is missing.
            ("deux\nbonjour\n", true, Err(Missing("deux".into()))),
        ];
        for (printed, blank, want) in cases {
            assert_eq!(judge(printed, L, blank), want, "{printed:?}");
        }
    }
}
