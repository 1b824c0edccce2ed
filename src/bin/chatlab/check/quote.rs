//! What the program wrote, quoted in a verdict: terminal-safe, one line, bounded.
//!
//! A verdict quotes the program's bytes (its traceback's last line, what it sent). Those are
//! untrusted: an escape sequence would retitle or clear the teacher's terminal, a flood would
//! make a megabyte line. So a quote shows control bytes visibly (the library's
//! [`Sanitizer`], as `chat` does on a terminal), its newlines as `\n`, and at most
//! [`QUOTE`] bytes, cut on a character, saying how many bytes more there were.

use chatlab::lines::Filter;
use chatlab::terminal::Sanitizer;

use crate::lang::{Lang, msg};

/// The most bytes of the program's output one quote shows.
pub const QUOTE: usize = 200;

/// The longest verdict detail, in bytes: a last guard over every sentence (ours are far
/// shorter; quotes in them are already capped).
pub const DETAIL: usize = 1000;

/// BYTES, terminal-safe and on one line, cut after [`QUOTE`] bytes; MORE bytes followed
/// that were not kept (counted by the capture), said with the rest that is cut.
pub fn quote(lang: Lang, bytes: &[u8], more: u64) -> String {
    let end = boundary(bytes, QUOTE);
    let mut text = safe(&bytes[..end]).replace('\n', "\\n");
    let rest = (bytes.len() - end) as u64 + more;
    if rest > 0 {
        text.push_str(" … ");
        text.push_str(&more_bytes(lang, rest));
    }
    text
}

/// TEXT cut after MAX bytes, on a character, saying how many bytes more there were.
pub fn cap(lang: Lang, text: &str, max: usize) -> String {
    let end = boundary(text.as_bytes(), max);
    if end == text.len() {
        return text.to_string();
    }
    format!(
        "{} … {}",
        &text[..end],
        more_bytes(lang, (text.len() - end) as u64)
    )
}

/// TEXT with its control bytes shown, not obeyed (newlines and tabs kept).
pub fn safe(bytes: &[u8]) -> String {
    let mut sanitizer = Sanitizer::default();
    let mut out = Vec::new();
    let mut shown = sanitizer.apply(bytes, &mut out).to_vec();
    shown.extend_from_slice(sanitizer.finish(&mut out));
    // The sanitizer writes only UTF-8 (invalid bytes become \xNN).
    String::from_utf8_lossy(&shown).into_owned()
}

/// The largest end ≤ MAX of BYTES that does not cut a UTF-8 sequence in two.
fn boundary(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut end = max;
    // At most 3 continuation bytes follow a lead byte: never back more than that.
    while end > 0 && max - end < 3 && bytes[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    if bytes[end] & 0xC0 == 0x80 { max } else { end }
}

/// « 1 048 576 octets de plus » / "1 048 576 bytes more".
fn more_bytes(lang: Lang, n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('\u{a0}');
        }
        grouped.push(d);
    }
    msg!(lang, "{grouped} octets de plus", "{grouped} bytes more")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_never_splits_a_character() {
        // Every length of every mix of 1- to 4-byte characters, cut at every size: no panic,
        // valid UTF-8, the most that fits.
        let text = "aé€😀".repeat(20);
        for len in 0..text.len() {
            let Some(s) = text.get(..len) else { continue };
            for max in 0..=s.len() + 1 {
                let capped = cap(Lang::En, s, max);
                let kept = capped.split(" … ").next().unwrap();
                assert!(kept.len() <= max && s.starts_with(kept), "{s:?} at {max}");
                assert!(kept.len() + 3 >= max.min(s.len()), "{s:?} at {max}");
                let _ = quote(Lang::En, s.as_bytes(), 0);
            }
        }
        assert_eq!(
            cap(Lang::En, &"é".repeat(150), 200),
            format!("{} … 100 bytes more", "é".repeat(100))
        );
    }

    #[test]
    fn a_quote_is_terminal_safe_one_line_and_bounded() {
        let flood = [b"\x1b]0;TITLE\x07a\nb\r\n".as_slice(), &[b'y'; 1 << 20]].concat();
        let q = quote(Lang::En, &flood, 1 << 20);
        assert!(q.starts_with("^[]0;TITLE^Ga\\nb\\nyyy"), "{q}");
        assert!(!q.contains(['\x1b', '\x07', '\n', '\r']), "{q}");
        let more = flood.len() - QUOTE + (1 << 20);
        assert!(
            q.ends_with(&format!(" … {} bytes more", group(more))),
            "{q}"
        );
        assert!(q.len() < QUOTE + 40);
        assert_eq!(
            quote(Lang::Fr, b"court", 1_048_576),
            "court … 1\u{a0}048\u{a0}576 octets de plus"
        );
        assert_eq!(quote(Lang::En, b"\x9b\xff", 0), "\\x9B\\xFF");
    }

    fn group(n: usize) -> String {
        more_bytes(Lang::En, n as u64).replace(" bytes more", "")
    }
}
