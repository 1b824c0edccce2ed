//! Terminal-safe display of untrusted bytes (only when stdout is a terminal, unless `--raw`).
//!
//! A peer that could send ESC sequences to your terminal could move the cursor, rewrite what
//! is shown, change the title… So, like `cat -v`, `less` and `ncat --chat`, control bytes are
//! shown instead of obeyed:
//!
//! | received                          | shown        |
//! |-----------------------------------|--------------|
//! | LF, TAB, printable text, UTF-8     | as is        |
//! | CR LF (a CRLF line end)           | LF           |
//! | other C0 bytes, ESC, DEL          | `^A`, `^[`, `^M`, `^?` |
//! | C1 controls (U+0080–U+009F)       | `<U+009B>`   |
//! | bytes that are not UTF-8          | `\xFF`       |

use std::io::IsTerminal;

use crate::lines::{Filter, Raw};

/// How received bytes reach stdout: unchanged, or made safe for a terminal.
pub enum Display {
    Raw(Raw),
    Safe(Sanitizer),
}

impl Display {
    /// Safe when stdout is a terminal, unless `--raw`; unchanged in a pipe or a file.
    pub fn for_stdout(raw: bool) -> Self {
        if !raw && std::io::stdout().is_terminal() {
            Display::Safe(Sanitizer::default())
        } else {
            Display::Raw(Raw)
        }
    }
}

impl Filter for Display {
    fn apply<'a>(&mut self, input: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Display::Raw(f) => f.apply(input, out),
            Display::Safe(f) => f.apply(input, out),
        }
    }

    fn finish<'a>(&mut self, out: &'a mut Vec<u8>) -> &'a [u8] {
        match self {
            Display::Raw(f) => f.finish(out),
            Display::Safe(f) => f.finish(out),
        }
    }

    fn max_output(&self, n: usize) -> usize {
        match self {
            Display::Raw(f) => f.max_output(n),
            Display::Safe(f) => f.max_output(n),
        }
    }
}

/// The stateful filter: a CR or a UTF-8 sequence may be cut between two reads.
#[derive(Default)]
pub struct Sanitizer {
    after_cr: bool,
    seq: [u8; 4],
    have: usize,
    need: usize,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex_byte(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

impl Sanitizer {
    fn flush_seq(&mut self, out: &mut Vec<u8>) {
        for i in 0..self.have {
            hex_byte(out, self.seq[i]);
        }
        self.have = 0;
    }

    fn push(&mut self, b: u8, out: &mut Vec<u8>) {
        if self.after_cr {
            self.after_cr = false;
            if b == b'\n' {
                out.push(b'\n');
                return;
            }
            out.extend_from_slice(b"^M");
        }
        if self.have > 0 {
            if (0x80..=0xBF).contains(&b) {
                self.seq[self.have] = b;
                self.have += 1;
                if self.have == self.need {
                    self.finish_seq(out);
                }
                return;
            }
            self.flush_seq(out);
        }
        match b {
            b'\t' | b'\n' | 0x20..=0x7E => out.push(b),
            b'\r' => self.after_cr = true,
            0x00..=0x1F => out.extend_from_slice(&[b'^', b + 0x40]),
            0x7F => out.extend_from_slice(b"^?"),
            0xC2..=0xDF => self.start_seq(b, 2),
            0xE0..=0xEF => self.start_seq(b, 3),
            0xF0..=0xF4 => self.start_seq(b, 4),
            _ => hex_byte(out, b),
        }
    }

    fn start_seq(&mut self, lead: u8, need: usize) {
        self.seq[0] = lead;
        self.have = 1;
        self.need = need;
    }

    fn finish_seq(&mut self, out: &mut Vec<u8>) {
        let seq = &self.seq[..self.need];
        match std::str::from_utf8(seq).ok().and_then(|s| s.chars().next()) {
            Some(c) if ('\u{80}'..='\u{9F}').contains(&c) => {
                let code = c as u8;
                out.extend_from_slice(b"<U+00");
                out.extend_from_slice(&[HEX[(code >> 4) as usize], HEX[(code & 15) as usize]]);
                out.push(b'>');
                self.have = 0;
            }
            Some(_) => {
                out.extend_from_slice(seq);
                self.have = 0;
            }
            None => self.flush_seq(out),
        }
    }
}

impl Filter for Sanitizer {
    fn apply<'a>(&mut self, input: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
        out.clear();
        for &b in input {
            self.push(b, out);
        }
        out
    }

    fn finish<'a>(&mut self, out: &'a mut Vec<u8>) -> &'a [u8] {
        out.clear();
        if self.after_cr {
            self.after_cr = false;
            out.extend_from_slice(b"^M");
        }
        self.flush_seq(out);
        out
    }

    fn max_output(&self, n: usize) -> usize {
        // "\xNN" for each byte is the widest; a held-back sequence adds at most 3 more bytes.
        4 * (n + 4)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(pieces: &[&[u8]]) -> String {
        let mut s = Sanitizer::default();
        let mut got = Vec::new();
        let mut out = Vec::new();
        for p in pieces {
            got.extend_from_slice(s.apply(p, &mut out));
        }
        got.extend_from_slice(s.finish(&mut out));
        String::from_utf8(got).expect("sanitised output is always UTF-8")
    }

    #[test]
    fn text_tab_and_utf8_pass() {
        assert_eq!(
            show(&["héllo\twörld ✓ 😀\n".as_bytes()]),
            "héllo\twörld ✓ 😀\n"
        );
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(show(&[b"\x1b[2J\x1b]0;pwned\x07\n"]), "^[[2J^[]0;pwned^G\n");
    }

    #[test]
    fn crlf_is_a_line_end_and_lone_cr_is_visible() {
        assert_eq!(show(&[b"a\r\nb\rc\r"]), "a\nb^Mc^M");
        assert_eq!(show(&[b"a\r", b"\nb"]), "a\nb");
    }

    #[test]
    fn c1_controls_and_invalid_bytes_are_visible() {
        assert_eq!(show(&["x\u{9b}31m".as_bytes()]), "x<U+009B>31m");
        assert_eq!(show(&[b"\x9b\xff\xc3("]), "\\x9B\\xFF\\xC3(");
        assert_eq!(show(&[b"\0\x7f"]), "^@^?");
        // Overlong and surrogate encodings are not UTF-8.
        assert_eq!(
            show(&[b"\xe0\x80\x80\xed\xa0\x80"]),
            "\\xE0\\x80\\x80\\xED\\xA0\\x80"
        );
    }

    #[test]
    fn utf8_cut_between_reads_is_joined() {
        let e = "é".as_bytes();
        assert_eq!(show(&[&e[..1], &e[1..]]), "é");
        assert_eq!(show(&[&e[..1]]), "\\xC3");
    }

    #[test]
    fn output_never_exceeds_max_output() {
        // The widest inputs: invalid bytes, CR before a byte that is not LF, a cut UTF-8
        // sequence then an invalid byte, C1 controls; each also after a held prefix.
        let patterns: [&[u8]; 5] = [b"\xff", b"\r\xff", b"\xe2\x82\xff", b"\xc2\x9b", b"\x1b"];
        for prefix in [&b""[..], b"\r", b"\xe2\x82", b"\xf0\x9f\x98"] {
            for p in patterns {
                let input: Vec<u8> = p.iter().copied().cycle().take(999).collect();
                let mut s = Sanitizer::default();
                let mut out = Vec::new();
                let held = s.apply(prefix, &mut out).len();
                let n = s.apply(&input, &mut out).len();
                assert!(n <= s.max_output(input.len()), "{p:?} after {prefix:?}");
                assert!(held <= s.max_output(prefix.len()));
            }
        }
    }
}
