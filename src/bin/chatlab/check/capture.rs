//! Bytes a program or a socket sends, collected by a thread, bounded, with waits on content.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// At most this much is kept of one stream; what comes after is counted, not kept (a program
/// that floods its stdout is cut off by the criterion's deadline, and memory stays bounded).
pub const KEEP: usize = 1 << 20;

#[derive(Default)]
struct State {
    bytes: Vec<u8>,
    dropped: u64,
    closed: bool,
}

/// A stream being collected. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Captured(Arc<(Mutex<State>, Condvar)>);

impl Captured {
    /// Collect FROM in a thread until it ends or fails.
    pub fn collect(mut from: impl Read + Send + 'static) -> Self {
        let captured = Captured::default();
        let sink = captured.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            loop {
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sink.push(&buf[..n]),
                }
            }
            let (lock, cvar) = &*sink.0;
            lock.lock().unwrap().closed = true;
            cvar.notify_all();
        });
        captured
    }

    fn push(&self, data: &[u8]) {
        let (lock, cvar) = &*self.0;
        let mut s = lock.lock().unwrap();
        let room = KEEP.saturating_sub(s.bytes.len()).min(data.len());
        s.bytes.extend_from_slice(&data[..room]);
        s.dropped += (data.len() - room) as u64;
        cvar.notify_all();
    }

    /// Bytes kept so far (a mark for `since`).
    pub fn len(&self) -> usize {
        self.0.0.lock().unwrap().bytes.len()
    }

    /// Bytes received but not kept (past [`KEEP`]).
    pub fn dropped(&self) -> u64 {
        self.0.0.lock().unwrap().dropped
    }

    pub fn since(&self, mark: usize) -> Vec<u8> {
        let s = self.0.0.lock().unwrap();
        s.bytes[mark.min(s.bytes.len())..].to_vec()
    }

    pub fn text_since(&self, mark: usize) -> String {
        String::from_utf8_lossy(&self.since(mark)).into_owned()
    }

    pub fn closed(&self) -> bool {
        self.0.0.lock().unwrap().closed
    }

    /// Wait until PRED holds for the bytes since MARK (and whether the stream ended), at most
    /// TIMEOUT; whether it held.
    pub fn wait_until(
        &self,
        mark: usize,
        timeout: Duration,
        pred: impl Fn(&[u8], bool) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.0;
        let mut s = lock.lock().unwrap();
        loop {
            let from = mark.min(s.bytes.len());
            if pred(&s.bytes[from..], s.closed) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = cvar.wait_timeout(s, deadline - now).unwrap().0;
        }
    }

    /// Wait until the bytes since MARK contain NEEDLE.
    pub fn wait_for(&self, mark: usize, needle: &[u8], timeout: Duration) -> bool {
        self.wait_until(mark, timeout, |b, _| contains(b, needle))
    }

    /// Wait until the writer closed its end.
    pub fn wait_closed(&self, timeout: Duration) -> bool {
        self.wait_until(0, timeout, |_, closed| closed)
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}
