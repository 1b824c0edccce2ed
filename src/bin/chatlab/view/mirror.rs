//! A growing copy of lab/netem's record, for the live ladder.
//!
//! The userspace engine writes, in the host's `/run`, when each packet ENTERED the impairment
//! (`chatlab netem --record`): the only true departure time of a delayed segment (tcpdump sees
//! it when it leaves). The view's server runs in a container of its own and cannot read a
//! host's `/run`; the host's probe copies the record into the view's folder as it grows.
//!
//! Whole records only, so the copy is always a valid pcap: a record half-written by the
//! engine waits for the next step. When lab/netem restarts the engine (new settings, or
//! `clear` then a new setting), the record is a new file: its records are appended after the
//! old ones (the engine always writes the same header), so nothing seen is lost.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::capture::pcap::Tail;

/// Why a step of the copy failed.
#[derive(Debug)]
pub enum Error {
    /// The record cannot be read.
    Read(crate::capture::pcap::ReadError),
    /// The copy cannot be written.
    Write { to: PathBuf, source: io::Error },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read(e) => write!(f, "{e}"),
            Error::Write { to, source } => write!(f, "{}: {source}", to.display()),
        }
    }
}

impl std::error::Error for Error {}

/// The copy of one record file.
pub struct Mirror {
    from: Tail,
    to: PathBuf,
    out: Option<File>,
}

impl Mirror {
    pub fn new(from: &Path, to: &Path) -> Mirror {
        Mirror {
            from: Tail::new(from),
            to: to.to_path_buf(),
            out: None,
        }
    }

    /// Copy the whole records added since the last step (nothing while there is no record).
    pub fn step(&mut self) -> Result<(), Error> {
        let raw = self.from.read_raw().map_err(Error::Read)?;
        let failed = |source| Error::Write {
            to: self.to.clone(),
            source,
        };
        let write = |out: &mut File, bytes: &[u8]| out.write_all(bytes).map_err(failed);
        // The first record file's header starts the copy; a later one's (the engine
        // restarted) is the same and is left out.
        if let (Some(header), None) = (&raw.header, &self.out) {
            let mut out = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&self.to)
                .map_err(failed)?;
            write(&mut out, header)?;
            self.out = Some(out);
        }
        match &mut self.out {
            Some(out) if !raw.records.is_empty() => write(out, &raw.records),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::pcap::{self, Flags, Packet, Writer, ip_packet};
    use std::fs;

    fn packet(i: u8) -> Packet {
        Packet {
            ts: 1_700_000_000_000_000_000 + i64::from(i) * 1_000_000,
            src: "10.80.80.11:40000".parse().unwrap(),
            dst: "10.80.80.10:8080".parse().unwrap(),
            tcp: pcap::Tcp {
                flags: Flags(Flags::PSH | Flags::ACK),
                seq: u32::from(i),
                ack: 1,
                win: 100,
                len: 3,
                data: vec![b'a' + i; 3],
            },
        }
    }

    fn record(packets: &[Packet]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut w = Writer::new(&mut out, 128).unwrap();
            for p in packets {
                let ip = ip_packet(p);
                w.packet(p.ts, &ip, ip.len() as u32).unwrap();
            }
            w.flush().unwrap();
        }
        out
    }

    #[test]
    fn the_copy_holds_whole_records_across_a_restart_of_the_engine() {
        let dir = std::env::temp_dir().join(format!("chatlab-mirror-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (from, to) = (dir.join("record.pcap"), dir.join("client.netem.pcap"));
        let mut m = Mirror::new(&from, &to);
        m.step().unwrap();
        assert!(!to.exists(), "no record, no copy");

        let first: Vec<Packet> = (0..3).map(packet).collect();
        let bytes = record(&first);
        // The engine is in the middle of its third record.
        fs::write(&from, &bytes[..bytes.len() - 5]).unwrap();
        m.step().unwrap();
        assert_eq!(pcap::read_file(&to).unwrap().packets, first[..2]);
        assert!(
            !pcap::read_file(&to).unwrap().partial_tail,
            "whole records only"
        );
        fs::write(&from, &bytes).unwrap();
        m.step().unwrap();
        assert_eq!(pcap::read_file(&to).unwrap().packets, first);

        // lab/netem restarts the engine: a new record file; its packets follow the others.
        fs::remove_file(&from).unwrap();
        let second: Vec<Packet> = (3..5).map(packet).collect();
        fs::write(&from, record(&second)).unwrap();
        m.step().unwrap();
        let all: Vec<Packet> = first.iter().chain(&second).cloned().collect();
        assert_eq!(pcap::read_file(&to).unwrap().packets, all);
        fs::remove_dir_all(&dir).unwrap();
    }
}
