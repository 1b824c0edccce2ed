//! The little JSON the instruments write (objects of strings, numbers and lists): by hand,
//! with the escaping JSON requires, rather than a serialization framework for a few objects.

use std::fmt::Write as _;

/// TEXT as a JSON string literal, quotes included: `"`, `\` and control characters escaped.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(string("plain"), "\"plain\"");
        assert_eq!(string("a\"b\\c\nd\u{1b}"), "\"a\\\"b\\\\c\\nd\\u001b\"");
        assert_eq!(string("ça va ?"), "\"ça va ?\"");
    }
}
