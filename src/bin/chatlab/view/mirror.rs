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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The pcap file header's length, and a record header's.
const FILE_HEADER: u64 = 24;
const RECORD_HEADER: usize = 16;
/// The most copied per step.
const CHUNK: u64 = 8 << 20;

/// The copy of one record file.
pub struct Mirror {
    from: PathBuf,
    to: PathBuf,
    /// The identity (device, inode) of the record being copied, and how far.
    id: Option<(u64, u64)>,
    offset: u64,
    /// Records are big-endian (from the record's magic number).
    big: bool,
    out: Option<File>,
}

impl Mirror {
    pub fn new(from: &Path, to: &Path) -> Mirror {
        Mirror {
            from: from.to_path_buf(),
            to: to.to_path_buf(),
            id: None,
            offset: 0,
            big: false,
            out: None,
        }
    }

    /// Copy the whole records added since the last step (nothing while there is no record).
    pub fn step(&mut self) -> io::Result<()> {
        let meta = match fs::metadata(&self.from) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let id = (meta.dev(), meta.ino());
        if self.id != Some(id) || meta.len() < self.offset {
            // A new record (the engine restarted): copy it from its first record on.
            self.id = Some(id);
            self.offset = 0;
        }
        if meta.len() <= self.offset {
            return Ok(());
        }
        let mut file = File::open(&self.from)?;
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.take(CHUNK).read_to_end(&mut buf)?;
        let mut at = 0;
        if self.offset == 0 {
            if (buf.len() as u64) < FILE_HEADER {
                return Ok(());
            }
            let header = &buf[..FILE_HEADER as usize];
            self.big = matches!(
                header[..4],
                [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d]
            );
            if self.out.is_none() {
                let mut out = OpenOptions::new()
                    .create(true)
                    .write(true)
                    .truncate(true)
                    .open(&self.to)?;
                out.write_all(header)?;
                self.out = Some(out);
            }
            at = FILE_HEADER as usize;
        }
        let start = at;
        while buf.len() - at >= RECORD_HEADER {
            let len: [u8; 4] = buf[at + 8..at + 12].try_into().expect("4 bytes");
            let len = if self.big {
                u32::from_be_bytes(len)
            } else {
                u32::from_le_bytes(len)
            } as usize;
            if buf.len() - at - RECORD_HEADER < len {
                break;
            }
            at += RECORD_HEADER + len;
        }
        if at > start {
            let out = self.out.as_mut().expect("the header is written first");
            out.write_all(&buf[start..at])?;
        }
        self.offset += at as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::pcap::{self, Flags, Packet, Writer, ip_packet};

    fn packet(i: u8) -> Packet {
        Packet {
            ts: 1_700_000_000_000_000_000 + i64::from(i) * 1_000_000,
            src: "10.80.80.11:40000".parse().unwrap(),
            dst: "10.80.80.10:8080".parse().unwrap(),
            flags: Flags(Flags::PSH | Flags::ACK),
            seq: u32::from(i),
            ack: 1,
            win: 100,
            len: 3,
            data: vec![b'a' + i; 3],
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
