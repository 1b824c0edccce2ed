//! Streaming line I/O: big reads, whole writes, bounded memory whatever the line length.
//!
//! Bytes are never collected into a line before being passed on: a 100 MiB line goes through
//! in [`CHUNK`]-sized pieces. In a pipe the bytes come out exactly as they went in; a
//! [`Filter`] may change them on purpose (`--crlf` on the way out, terminal-safe display on
//! the way in).

use std::io::{self, BufRead, ErrorKind, Read, Write};

/// Size of one read. Large enough that a bulk transfer costs few system calls; a line typed
/// on a terminal still comes as one read, hence as one write (one TCP segment).
pub const CHUNK: usize = 64 * 1024;

/// A byte transformation applied between a read and its write.
pub trait Filter {
    /// The bytes to write for `input`: `input` itself when nothing changes, else `out`, refilled.
    fn apply<'a>(&mut self, input: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8];
    /// What is still held back when the input ends (a lone CR, a cut UTF-8 sequence…).
    fn finish<'a>(&mut self, _out: &'a mut Vec<u8>) -> &'a [u8] {
        &[]
    }
    /// The most bytes [`Filter::apply`] writes for `n` input bytes, so callers can size `out` once.
    fn max_output(&self, n: usize) -> usize {
        n
    }
}

/// Bytes unchanged.
pub struct Raw;

impl Filter for Raw {
    fn apply<'a>(&mut self, input: &'a [u8], _out: &'a mut Vec<u8>) -> &'a [u8] {
        input
    }
}

/// Outgoing lines: unchanged, or with every LF sent as CRLF (`--crlf`; a CRLF typed stays one).
pub struct LineEnds {
    crlf: bool,
    after_cr: bool,
}

impl LineEnds {
    pub fn new(crlf: bool) -> Self {
        LineEnds {
            crlf,
            after_cr: false,
        }
    }
}

impl Filter for LineEnds {
    fn apply<'a>(&mut self, input: &'a [u8], out: &'a mut Vec<u8>) -> &'a [u8] {
        if !self.crlf {
            return input;
        }
        out.clear();
        for &b in input {
            if b == b'\n' && !self.after_cr {
                out.push(b'\r');
            }
            out.push(b);
            self.after_cr = b == b'\r';
        }
        out
    }

    fn max_output(&self, n: usize) -> usize {
        if self.crlf { 2 * n } else { n }
    }
}

/// Why a copy stopped early: the side that failed matters (a reset socket, a closed stdout…).
#[derive(Debug)]
pub enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Buffers for [`copy`], allocated once (before a fork: the child then allocates nothing).
///
/// `output` holds what [`Filter::apply`] writes for one chunk (`max_output(CHUNK)`) or what
/// [`Filter::finish`] writes at the end of input: at most 14 bytes (a held CR shown as `^M`
/// and up to 3 held bytes of a cut UTF-8 sequence shown as `\xNN` each), hence the 16 more, so that it never
/// grows (never allocates) in the forked child.
pub struct Buffers {
    input: Vec<u8>,
    output: Vec<u8>,
}

impl Buffers {
    pub fn for_filter(filter: &impl Filter) -> Self {
        Buffers {
            input: vec![0; CHUNK],
            output: Vec::with_capacity(filter.max_output(CHUNK) + 16),
        }
    }
}

/// Copy `from` to `to` until end of input; returns the number of bytes read.
/// Every read is written out at once (nothing waits in a userspace buffer).
///
/// Runs in duplex's forked child: it must not log, and allocates nothing beyond `bufs`.
pub fn copy(
    from: &mut impl Read,
    to: &mut impl Write,
    filter: &mut impl Filter,
    bufs: &mut Buffers,
) -> Result<u64, CopyError> {
    let mut total = 0;
    loop {
        match copy_chunk(from, to, filter, bufs)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

/// One read, written out whole; 0 means the input has ended (and what the filter held back
/// has been written).
///
/// Runs in duplex's forked child (through [`copy`]): no logging, no allocation beyond `bufs`.
pub fn copy_chunk(
    from: &mut impl Read,
    to: &mut impl Write,
    filter: &mut impl Filter,
    bufs: &mut Buffers,
) -> Result<usize, CopyError> {
    let n = loop {
        match from.read(&mut bufs.input) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                // The input is over all the same: what the filter held back still goes out.
                let rest = filter.finish(&mut bufs.output);
                to.write_all(rest).map_err(CopyError::Write)?;
                return Err(CopyError::Read(e));
            }
        }
    };
    let bytes = if n == 0 {
        filter.finish(&mut bufs.output)
    } else {
        filter.apply(&bufs.input[..n], &mut bufs.output)
    };
    to.write_all(bytes).map_err(CopyError::Write)?;
    to.flush().map_err(CopyError::Write)?;
    Ok(n)
}

/// One line copied by [`copy_line`].
#[derive(Debug, PartialEq, Eq)]
pub struct Line {
    /// Bytes read, line end included; 0 means the input had already ended.
    pub bytes: u64,
    /// Whether the line ended with LF (false: the input ended in the middle of it).
    pub complete: bool,
}

/// Copy one line, LF included, piece by piece: memory stays bounded by the reader's buffer.
pub fn copy_line(
    from: &mut impl BufRead,
    to: &mut impl Write,
    filter: &mut impl Filter,
    out: &mut Vec<u8>,
) -> Result<Line, CopyError> {
    let mut line = Line {
        bytes: 0,
        complete: false,
    };
    while !line.complete {
        let available = match from.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        if available.is_empty() {
            let rest = filter.finish(out);
            to.write_all(rest).map_err(CopyError::Write)?;
            break;
        }
        let (piece, complete) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        let bytes = filter.apply(piece, out);
        to.write_all(bytes).map_err(CopyError::Write)?;
        let len = piece.len();
        from.consume(len);
        line.bytes += len as u64;
        line.complete = complete;
    }
    to.flush().map_err(CopyError::Write)?;
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(filter: &mut impl Filter, pieces: &[&[u8]]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut out = Vec::new();
        for p in pieces {
            got.extend_from_slice(filter.apply(p, &mut out));
        }
        got.extend_from_slice(filter.finish(&mut out));
        got
    }

    #[test]
    fn crlf_adds_cr_once_even_across_pieces() {
        let mut f = LineEnds::new(true);
        assert_eq!(through(&mut f, &[b"a\nb\r", b"\nc\n"]), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn without_crlf_bytes_are_untouched() {
        let mut f = LineEnds::new(false);
        assert_eq!(through(&mut f, &[b"a\r\n\0\xff\n"]), b"a\r\n\0\xff\n");
    }

    #[test]
    fn copy_is_lossless_for_any_bytes() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let mut to = Vec::new();
        let mut bufs = Buffers::for_filter(&Raw);
        let n = copy(&mut &data[..], &mut to, &mut Raw, &mut bufs).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(to, data);
    }

    #[test]
    fn copy_line_stops_after_each_lf_and_reports_a_cut_last_line() {
        let mut from = io::BufReader::with_capacity(4, &b"hello\nworld"[..]);
        let mut to = Vec::new();
        let mut out = Vec::new();
        let first = copy_line(&mut from, &mut to, &mut Raw, &mut out).unwrap();
        assert_eq!(
            first,
            Line {
                bytes: 6,
                complete: true
            }
        );
        assert_eq!(to, b"hello\n");
        let second = copy_line(&mut from, &mut to, &mut Raw, &mut out).unwrap();
        assert_eq!(
            second,
            Line {
                bytes: 5,
                complete: false
            }
        );
        let third = copy_line(&mut from, &mut to, &mut Raw, &mut out).unwrap();
        assert_eq!(third.bytes, 0);
        assert_eq!(to, b"hello\nworld");
    }
}
