//! Reading captures: pcap or pcapng (the `pcap-parser` crate), Ethernet, Linux cooked or raw IP
//! frames, IPv4 or IPv6, TCP (the `etherparse` crate), down to what the model needs of each
//! segment. Also a minimal pcap writer (nanosecond timestamps, raw IP), for `chatlab netem
//! --record` and for the tests' own captures.
//!
//! Truncated packets (a snaplen) keep their real TCP length, read from the IP header: only the
//! shown data is cut. A capture still being written ends in a partial record: the packets
//! before it are read, and [`Reader::stopped`] says so.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use etherparse::{LaxIpSlice, TcpSlice};
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{Block, Linktype, PcapBlockOwned, PcapError};

/// Bytes of data kept per segment, for labels (the rest is counted, not kept).
pub const KEEP: usize = 256;

/// Nanoseconds since the Unix epoch.
pub type Ns = i64;

/// TCP flags, as on the wire (FIN = 1, SYN = 2, RST = 4, PSH = 8, ACK = 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: u8 = 1;
    pub const SYN: u8 = 2;
    pub const RST: u8 = 4;
    pub const PSH: u8 = 8;
    pub const ACK: u8 = 16;

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

/// What a TCP segment carries, as read from a capture: its header's fields and its data. The
/// model's segments hold it as it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tcp {
    pub flags: Flags,
    pub seq: u32,
    pub ack: u32,
    pub win: u16,
    /// Data length on the wire (from the IP header, whatever the snaplen).
    pub len: u32,
    /// The first data bytes captured (at most [`KEEP`]; fewer when the capture cut them).
    pub data: Vec<u8>,
}

/// One TCP segment as one capture saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub ts: Ns,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub tcp: Tcp,
}

/// The TCP segments of one capture file.
#[derive(Debug, Default)]
pub struct Capture {
    pub packets: Vec<Packet>,
    /// Packets that were not TCP (ARP, ICMP, UDP, …) or not decodable.
    #[cfg(test)]
    pub other: usize,
    /// The file ends in the middle of a record (a capture still being written, or cut).
    #[cfg(test)]
    pub partial_tail: bool,
    /// Where reading stopped before the end of the file, and why (the packets before it
    /// were read).
    #[cfg(test)]
    pub stopped: Option<(u64, Damage)>,
}

impl Capture {
    /// The capture of these PACKETS.
    pub fn of(packets: Vec<Packet>) -> Capture {
        // (What else a capture says is read by the tests only.)
        #[cfg(test)]
        return Capture {
            packets,
            ..Capture::default()
        };
        #[cfg(not(test))]
        Capture { packets }
    }
}

/// What is wrong at some offset of a capture file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside its file header.
    ShortHeader,
    /// A pcapng block whose type or lengths do not hold together.
    Block { kind: u32, len: u32 },
    /// A pcap record whose header does not hold together.
    Record { caplen: u32 },
    /// A record or block longer than any capture writes ([`MAX_RECORD`]).
    TooLarge { len: u32 },
    /// The file ends inside a record (a capture still being written, or cut).
    Cut,
}

impl Damage {
    /// What is wrong, in LANG.
    pub fn say(&self, lang: crate::lang::Lang) -> String {
        use crate::lang::Lang::*;
        match (self, lang) {
            (Damage::ShortHeader, En) => "the file ends inside its header".into(),
            (Damage::ShortHeader, Fr) => "le fichier s'arrête au milieu de son en-tête".into(),
            (Damage::Block { kind, len }, En) => {
                format!(
                    "a pcapng block that does not hold together (type 0x{kind:08x}, length {len})"
                )
            }
            (Damage::Block { kind, len }, Fr) => {
                format!("un bloc pcapng incohérent (type 0x{kind:08x}, longueur {len})")
            }
            (Damage::Record { caplen }, En) => {
                format!("a packet record that does not hold together (captured length {caplen})")
            }
            (Damage::Record { caplen }, Fr) => {
                format!("un enregistrement de paquet incohérent (longueur capturée {caplen})")
            }
            (Damage::TooLarge { len }, En) => {
                format!("a record of {len} bytes (no capture writes more than 1 MiB at once)")
            }
            (Damage::TooLarge { len }, Fr) => format!(
                "un enregistrement de {len} octets (aucune capture n'en écrit plus de 1 Mio d'un coup)"
            ),
            (Damage::Cut, En) => "the file ends inside a packet".into(),
            (Damage::Cut, Fr) => "le fichier s'arrête au milieu d'un paquet".into(),
        }
    }
}

/// Why a capture file cannot be read, in words for the one-line error.
#[derive(Debug)]
pub enum ReadError {
    Missing,
    Io(io::Error),
    Empty,
    NotPcap,
    /// Damaged at this offset (bytes from the start of the file), before any packet.
    Corrupt {
        offset: u64,
        damage: Damage,
    },
}

impl ReadError {
    /// What is wrong, in LANG (the English is the Display's).
    pub fn say(&self, lang: crate::lang::Lang) -> String {
        use crate::lang::Lang::*;
        match (self, lang) {
            (_, En) => self.to_string(),
            (ReadError::Missing, Fr) => "fichier introuvable".into(),
            (ReadError::Io(e), Fr) => format!("lecture impossible : {e}"),
            (ReadError::Empty, Fr) => {
                "fichier vide (la capture a-t-elle été arrêtée avant de commencer ?)".into()
            }
            (ReadError::NotPcap, Fr) => "pas un fichier de capture (ni pcap ni pcapng)".into(),
            (ReadError::Corrupt { offset, damage }, Fr) => {
                format!("octet {offset} : capture abîmée : {}", damage.say(Fr))
            }
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Missing => write!(f, "no such file"),
            ReadError::Io(e) => write!(f, "cannot read: {e}"),
            ReadError::Empty => write!(f, "empty file (was the capture stopped before it began?)"),
            ReadError::NotPcap => write!(f, "not a capture file (neither pcap nor pcapng)"),
            ReadError::Corrupt { offset, damage } => write!(
                f,
                "offset {offset}: damaged capture: {}",
                damage.say(crate::lang::Lang::En)
            ),
        }
    }
}

/// Read the capture at PATH, all of it (the program reads captures through a [`Reader`] and
/// keeps a window of them; the tests read them whole).
#[cfg(test)]
pub fn read_file(path: &Path) -> Result<Capture, ReadError> {
    Reader::open(path)?.read_all()
}

/// How the packets of one interface are framed, and its clock.
#[derive(Clone, Copy)]
struct Iface {
    link: i32,
    /// Timestamp units per second, and offset in seconds (pcapng).
    per_sec: u64,
    offset: i64,
}

/// Read a capture from any reader (pcap or pcapng, either byte order), all of it.
#[cfg(test)]
pub fn read(reader: impl io::Read + Send) -> Result<Capture, ReadError> {
    Reader::new(reader)?.read_all()
}

/// The magic numbers a capture starts with: pcap (µs, ns; either byte order), pcapng.
const MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x0a, 0x0d, 0x0d, 0x0a],
];

/// A capture read one TCP segment at a time: memory is the reader's buffer (1 MiB), whatever
/// the file's length. What is not TCP is counted; where reading stopped early is kept.
pub struct Reader<'a> {
    rd: Box<dyn PcapReaderIterator + Send + 'a>,
    ng: bool,
    framing: Framing,
    /// TCP segments given so far.
    pub packets: usize,
    /// Where reading stopped before the end of the file, and why.
    pub stopped: Option<(u64, Damage)>,
    done: bool,
}

impl Reader<'static> {
    /// Open the capture at PATH.
    pub fn open(path: &Path) -> Result<Reader<'static>, ReadError> {
        let file = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ReadError::Missing,
            _ => ReadError::Io(e),
        })?;
        if file.metadata().map_err(ReadError::Io)?.is_dir() {
            return Err(ReadError::Io(io::Error::other("is a directory")));
        }
        Reader::new(file)
    }
}

impl<'a> Reader<'a> {
    /// Start reading a capture from READER (its file header is read now).
    pub fn new(reader: impl io::Read + Send + 'a) -> Result<Reader<'a>, ReadError> {
        let mut reader = BufReader::new(reader);
        let head = reader.fill_buf().map_err(ReadError::Io)?;
        let known = MAGICS.iter().any(|m| head.starts_with(m));
        let ng = head.starts_with(&MAGICS[4]);
        let short = ReadError::Corrupt {
            offset: 0,
            damage: Damage::ShortHeader,
        };
        let rd = match pcap_parser::create_reader(1 << 20, reader) {
            Ok(r) => r,
            Err(PcapError::Eof) => return Err(ReadError::Empty),
            Err(PcapError::Incomplete(_) | PcapError::UnexpectedEof) if known => return Err(short),
            Err(PcapError::ReadError) => return Err(ReadError::Io(io::Error::other("read error"))),
            // A capture's magic number, then a header that does not hold together.
            Err(_) if known => return Err(short),
            Err(_) => return Err(ReadError::NotPcap),
        };
        Ok(Reader {
            rd,
            ng,
            framing: Framing {
                big: false,
                legacy: Iface {
                    link: 1,
                    per_sec: 1_000_000,
                    offset: 0,
                },
                ifaces: Vec::new(),
                other: 0,
            },
            packets: 0,
            stopped: None,
            done: false,
        })
    }

    /// The next TCP segment (None at the end of the file, or where it stops making sense
    /// after good packets: see [`Reader::stopped`]). An error when the file is damaged
    /// before any packet.
    pub fn next_packet(&mut self) -> Result<Option<Packet>, ReadError> {
        while !self.done {
            let at = self.rd.consumed() as u64;
            match self.rd.next() {
                Ok((len, block)) => {
                    let got = self.framing.block(block);
                    self.rd.consume(len);
                    match got {
                        Some(p) => {
                            self.packets += 1;
                            return Ok(Some(p));
                        }
                        None => continue,
                    }
                }
                Err(PcapError::Eof) => self.done = true,
                Err(PcapError::Incomplete(_)) => {
                    self.rd
                        .refill()
                        .map_err(|_| ReadError::Io(io::Error::other("read error")))?;
                }
                Err(PcapError::ReadError) => {
                    return Err(ReadError::Io(io::Error::other("read error")));
                }
                Err(PcapError::UnexpectedEof) => self.stop(at, Damage::Cut)?,
                Err(PcapError::BufferTooSmall) => {
                    let len = self.field(if self.ng { 4 } else { 8 });
                    self.stop(at, Damage::TooLarge { len })?
                }
                Err(_) => {
                    let damage = if self.ng {
                        Damage::Block {
                            kind: self.field(0),
                            len: self.field(4),
                        }
                    } else {
                        Damage::Record {
                            caplen: self.field(8),
                        }
                    };
                    self.stop(at, damage)?
                }
            }
        }
        Ok(None)
    }

    /// Packets that were not TCP, or not decodable, so far.
    pub fn other(&self) -> usize {
        self.framing.other
    }

    /// Read the rest into a [`Capture`].
    #[cfg(test)]
    pub fn read_all(mut self) -> Result<Capture, ReadError> {
        let mut cap = Capture::default();
        while let Some(p) = self.next_packet()? {
            cap.packets.push(p);
        }
        cap.other = self.other();
        cap.partial_tail = self.partial_tail();
        cap.stopped = self.stopped;
        Ok(cap)
    }

    /// The file ends in the middle of a record.
    #[cfg(test)]
    pub fn partial_tail(&self) -> bool {
        matches!(self.stopped, Some((_, Damage::Cut)))
    }

    /// Reading ends at AT for DAMAGE: an error when nothing was read before it (the file is
    /// not a capture we can draw), else the packets before it stand.
    fn stop(&mut self, at: u64, damage: Damage) -> Result<(), ReadError> {
        self.done = true;
        if self.packets == 0 && self.other() == 0 {
            return Err(ReadError::Corrupt { offset: at, damage });
        }
        self.stopped = Some((at, damage));
        Ok(())
    }

    /// The 32-bit number at byte AT of the unread data (in the file's byte order), 0 when
    /// there is none: to say what a damaged block claims.
    fn field(&self, at: usize) -> u32 {
        match self.rd.data().get(at..at + 4) {
            Some(b) => {
                let b = [b[0], b[1], b[2], b[3]];
                if self.framing.big {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            }
            None => 0,
        }
    }
}

/// How the blocks read so far frame the next ones: byte order, interfaces, clocks.
struct Framing {
    /// The file (pcap) or the current section (pcapng) is big-endian: to read what a damaged
    /// record claims.
    big: bool,
    legacy: Iface,
    /// pcapng: the interfaces of the current section.
    ifaces: Vec<Iface>,
    /// Packets that were not TCP, or not decodable.
    other: usize,
}

impl Framing {
    /// Take one block: its TCP segment, if it holds one.
    fn block(&mut self, block: PcapBlockOwned<'_>) -> Option<Packet> {
        let (link, ts, frame) = match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy.link = h.network.0;
                self.big = h.is_bigendian();
                self.legacy.per_sec = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                return None;
            }
            PcapBlockOwned::Legacy(b) => {
                let ts = b.ts_sec as i64 * 1_000_000_000
                    + b.ts_usec as i64 * (1_000_000_000 / self.legacy.per_sec as i64);
                (self.legacy.link, ts, b.data)
            }
            PcapBlockOwned::NG(Block::SectionHeader(shb)) => {
                self.big = shb.big_endian();
                self.ifaces.clear();
                return None;
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.ifaces.push(Iface {
                    link: idb.linktype.0,
                    per_sec: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset: idb.ts_offset(),
                });
                return None;
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let Some(i) = self.ifaces.get(epb.if_id as usize) else {
                    self.other += 1;
                    return None;
                };
                let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ns = (u128::from(units) * 1_000_000_000 / u128::from(i.per_sec)) as i64;
                (i.link, ns + i.offset * 1_000_000_000, epb.data)
            }
            // No timestamp: a simple packet cannot be placed in time.
            PcapBlockOwned::NG(Block::SimplePacket(_)) => {
                self.other += 1;
                return None;
            }
            PcapBlockOwned::NG(_) => return None,
        };
        match decode(link, frame) {
            Some(mut p) => {
                p.ts = ts;
                Some(p)
            }
            None => {
                self.other += 1;
                None
            }
        }
    }
}

/// Where the IP packet starts in a frame of link type LINK (Ethernet with VLAN tags, Linux
/// cooked v1 and v2, raw IP), if it carries IPv4 or IPv6.
fn ip_start(link: i32, frame: &[u8]) -> Option<usize> {
    let be16 = |at: usize| Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]));
    let (ty, at) = match Linktype(link) {
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => return Some(0),
        Linktype::ETHERNET => {
            let mut at = 12;
            // 802.1Q and 802.1ad tags: 4 bytes each before the real type.
            while matches!(be16(at)?, 0x8100 | 0x88a8) {
                at += 4;
            }
            (be16(at)?, at + 2)
        }
        Linktype::LINUX_SLL => (be16(14)?, 16),
        Linktype::LINUX_SLL2 => (be16(0)?, 20),
        _ => return None,
    };
    matches!(ty, 0x0800 | 0x86dd).then_some(at)
}

/// The TCP segment in one frame of link type LINK, if there is one.
fn decode(link: i32, frame: &[u8]) -> Option<Packet> {
    let at = ip_start(link, frame)?;
    let (ip, _) = LaxIpSlice::from_slice(frame.get(at..)?).ok()?;
    // The IP header says how long the packet really was; the capture may hold less of it.
    let (src, dst, ip_start, ip_total, payload) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.slice().as_ptr(),
                usize::from(h.total_len()),
                v4.payload(),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.slice().as_ptr(),
                40 + usize::from(h.payload_length()),
                v6.payload(),
            )
        }
    };
    if payload.fragmented {
        return None;
    }
    if payload.ip_number != etherparse::IpNumber::TCP {
        return None;
    }
    let tcp = TcpSlice::from_slice(payload.payload).ok()?;
    let data = tcp.payload();
    // Offsets within FRAME: both slices point into it.
    let data_at = data.as_ptr() as usize - ip_start as usize;
    let len = ip_total.saturating_sub(data_at) as u32;
    let kept = data.len().min(KEEP).min(len as usize);
    let raw = tcp.slice()[13];
    Some(Packet {
        ts: 0,
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        tcp: Tcp {
            flags: Flags(raw & 0x1f),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            win: tcp.window_size(),
            len,
            data: data[..kept].to_vec(),
        },
    })
}

/// A legacy pcap file still being written (`tcpdump -U -w`, netem's record), followed as it
/// grows: each look reads only the whole records appended since the last one, so a long
/// capture costs its new bytes, not its length. [`Tail::read_new`] decodes them (the live
/// ladder); [`Tail::read_raw`] gives them as they are in the file (the view's copy of netem's
/// record). pcapng is not followed this way (the files followed are tcpdump's and netem's).
pub struct Tail {
    path: PathBuf,
    /// The file's identity (device, inode): another file under the same name starts over.
    id: Option<(u64, u64)>,
    /// Where the first unread record starts (0: the file header is not read yet).
    offset: u64,
    /// The file header: link type, big-endian, timestamp units per second.
    header: Option<(i32, bool, i64)>,
}

/// What a [`Tail`] found since the last look, as bytes.
#[derive(Debug, Default)]
pub struct Raw {
    /// The file was replaced or truncated: what was read of it before is gone.
    pub restarted: bool,
    /// The file header, when this look read it (the file is new to the tail).
    pub header: Option<Vec<u8>>,
    /// Whole records, as in the file.
    pub records: Vec<u8>,
}

/// What a [`Tail`] found since the last look, decoded.
#[derive(Debug, Default)]
pub struct Grown {
    /// The file was replaced or truncated: what was read of it before is gone.
    pub restarted: bool,
    pub packets: Vec<Packet>,
    /// Packets that were not TCP, or not decodable.
    pub other: usize,
}

/// The most a [`Tail`] reads at once (the rest waits for the next call): bounded memory
/// whatever the file's growth. At the view's five looks a second, 10 MB/s of capture (some
/// 40 000 packets cut at 256 bytes) is followed without falling behind.
const TAIL_CHUNK: u64 = 2 << 20;
/// A record longer than this is not one (tcpdump's largest snaplen is 256 KiB).
const MAX_RECORD: u32 = 1 << 20;

/// The record at the start of BUF, in the byte order of the file.
fn frame(
    big: bool,
    buf: &[u8],
) -> pcap_parser::nom::IResult<&[u8], pcap_parser::LegacyPcapBlock<'_>, PcapError<&[u8]>> {
    if big {
        pcap_parser::parse_pcap_frame_be(buf)
    } else {
        pcap_parser::parse_pcap_frame(buf)
    }
}

impl Tail {
    pub fn new(path: &Path) -> Tail {
        Tail {
            path: path.to_path_buf(),
            id: None,
            offset: 0,
            header: None,
        }
    }

    /// The whole records appended since the last call, as bytes (none while the file does
    /// not exist).
    pub fn read_raw(&mut self) -> Result<Raw, ReadError> {
        use std::io::{Read, Seek, SeekFrom};
        use std::os::unix::fs::MetadataExt;
        let mut raw = Raw::default();
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(raw),
            Err(e) => return Err(ReadError::Io(e)),
        };
        let id = (meta.dev(), meta.ino());
        if self.id != Some(id) || meta.len() < self.offset {
            raw.restarted = self.id.is_some();
            *self = Tail {
                id: Some(id),
                ..Tail::new(&self.path)
            };
        }
        if meta.len() <= self.offset {
            return Ok(raw);
        }
        let mut file = File::open(&self.path).map_err(ReadError::Io)?;
        file.seek(SeekFrom::Start(self.offset))
            .map_err(ReadError::Io)?;
        let mut buf = Vec::new();
        file.take(TAIL_CHUNK)
            .read_to_end(&mut buf)
            .map_err(ReadError::Io)?;
        let mut at = 0;
        let big = match self.header {
            Some((_, big, _)) => big,
            None => {
                if buf.len() < 24 {
                    return Ok(raw);
                }
                let h = match pcap_parser::parse_pcap_header(&buf) {
                    Ok((_, h)) => h,
                    Err(_) => return Err(ReadError::NotPcap),
                };
                let per_sec = if h.is_nanosecond_precision() {
                    1_000_000_000
                } else {
                    1_000_000
                };
                self.header = Some((h.network.0, h.is_bigendian(), per_sec));
                raw.header = Some(buf[..24].to_vec());
                at = 24;
                h.is_bigendian()
            }
        };
        let start = at;
        while buf.len() - at >= 16 {
            let (rest, b) = match frame(big, &buf[at..]) {
                Ok(f) => f,
                Err(pcap_parser::nom::Err::Incomplete(_)) => break,
                Err(_) => {
                    let caplen = buf[at + 8..at + 12].try_into().map_or(0, |b| {
                        if big {
                            u32::from_be_bytes(b)
                        } else {
                            u32::from_le_bytes(b)
                        }
                    });
                    return Err(ReadError::Corrupt {
                        offset: self.offset + at as u64,
                        damage: Damage::Record { caplen },
                    });
                }
            };
            if b.caplen > MAX_RECORD {
                return Err(ReadError::Corrupt {
                    offset: self.offset + at as u64,
                    damage: Damage::TooLarge { len: b.caplen },
                });
            }
            at = buf.len() - rest.len();
        }
        self.offset += at as u64;
        buf.truncate(at);
        buf.drain(..start);
        raw.records = buf;
        Ok(raw)
    }

    /// The whole records appended since the last call, decoded (none while the file does
    /// not exist).
    pub fn read_new(&mut self) -> Result<Grown, ReadError> {
        let raw = self.read_raw()?;
        let mut grown = Grown {
            restarted: raw.restarted,
            ..Grown::default()
        };
        let Some((link, big, per_sec)) = self.header else {
            return Ok(grown);
        };
        let mut rest = &raw.records[..];
        // (Whole records only: read_raw checked them.)
        while let Ok((next, b)) = frame(big, rest) {
            let ts = b.ts_sec as i64 * 1_000_000_000 + b.ts_usec as i64 * (1_000_000_000 / per_sec);
            match decode(link, b.data) {
                Some(mut p) => {
                    p.ts = ts;
                    grown.packets.push(p);
                }
                None => grown.other += 1,
            }
            rest = next;
        }
        Ok(grown)
    }
}

/// A pcap file being written: nanosecond timestamps, raw IP packets (link type 101).
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// Start a capture whose packets are cut to SNAPLEN bytes.
    pub fn new(mut out: W, snaplen: u32) -> io::Result<Self> {
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes()); // nanosecond pcap
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
        out.write_all(&h)?;
        Ok(Writer { out })
    }

    /// Append a packet seen at TS whose first bytes are DATA and whole length ORIG_LEN.
    pub fn packet(&mut self, ts: Ns, data: &[u8], orig_len: u32) -> io::Result<()> {
        let mut r = Vec::with_capacity(16 + data.len());
        r.extend_from_slice(&((ts.div_euclid(1_000_000_000)) as u32).to_le_bytes());
        r.extend_from_slice(&((ts.rem_euclid(1_000_000_000)) as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&orig_len.max(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        self.out.write_all(&r)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// An IPv4 or IPv6 TCP packet as bytes (no checksums: the ladder does not read them), for the
/// tests' own captures.
#[cfg(test)]
pub fn ip_packet(p: &Packet) -> Vec<u8> {
    let mut tcp = Vec::new();
    tcp.extend_from_slice(&p.src.port().to_be_bytes());
    tcp.extend_from_slice(&p.dst.port().to_be_bytes());
    tcp.extend_from_slice(&p.tcp.seq.to_be_bytes());
    tcp.extend_from_slice(&p.tcp.ack.to_be_bytes());
    tcp.push(5 << 4);
    tcp.push(p.tcp.flags.0);
    tcp.extend_from_slice(&p.tcp.win.to_be_bytes());
    tcp.extend_from_slice(&[0, 0, 0, 0]);
    tcp.extend_from_slice(&p.tcp.data);
    let mut ip = Vec::new();
    match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            ip.extend_from_slice(&[0x45, 0]);
            ip.extend_from_slice(&(20 + tcp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ip.extend_from_slice(&[0x60, 0, 0, 0]);
            ip.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
            ip.extend_from_slice(&[6, 64]);
            ip.extend_from_slice(&s.octets());
            ip.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed address families"),
    }
    ip.extend_from_slice(&tcp);
    ip
}

/// A segment of the tests' one connection, client 10.80.80.11:40000 to server
/// 10.80.80.10:8080 (`from_client`) or back, at `t`, window 500.
#[cfg(test)]
pub fn test_segment(
    t: Ns,
    from_client: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Packet {
    let (c, s): (SocketAddr, SocketAddr) = (
        "10.80.80.11:40000".parse().unwrap(),
        "10.80.80.10:8080".parse().unwrap(),
    );
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    Packet {
        ts: t,
        src,
        dst,
        tcp: Tcp {
            flags: Flags(flags),
            seq,
            ack,
            win: 500,
            len: data.len() as u32,
            data: data.to_vec(),
        },
    }
}

#[cfg(test)]
#[path = "../../../../tests/ladderkit/pcapng.rs"]
mod pcapng_fixture;

#[cfg(test)]
mod tests {
    use super::pcapng_fixture::pcapng_frames;
    use super::*;

    fn pkt(src: &str, dst: &str, data: &[u8]) -> Packet {
        Packet {
            ts: 1_700_000_000_123_456_789,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            tcp: Tcp {
                flags: Flags(Flags::PSH | Flags::ACK),
                seq: 1000,
                ack: 2000,
                win: 512,
                len: data.len() as u32,
                data: data.to_vec(),
            },
        }
    }

    fn pcap_of(packets: &[Packet], snaplen: u32) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), snaplen).unwrap();
        for p in packets {
            let ip = ip_packet(p);
            let cut = ip.len().min(snaplen as usize);
            w.packet(p.ts, &ip[..cut], ip.len() as u32).unwrap();
        }
        w.out
    }

    #[test]
    fn a_tail_reads_each_whole_record_once_as_the_file_grows() {
        use std::io::Write as _;
        let dir = std::env::temp_dir().join(format!("chatlab-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.pcap");
        let ps: Vec<Packet> = (0..3u8)
            .map(|i| {
                let mut p = pkt("10.80.80.11:40000", "10.80.80.10:8080", &[b'a' + i; 5]);
                p.ts += i64::from(i);
                p
            })
            .collect();
        let bytes = pcap_of(&ps, 65535);
        let record = (bytes.len() - 24) / 3;
        let mut tail = Tail::new(&path);
        assert!(tail.read_new().unwrap().packets.is_empty(), "no file yet");
        let mut f = File::create(&path).unwrap();
        // Half a header, then the header and half a record, then the rest: each record once.
        let cuts = [10, 24 + record / 2, 24 + record + 3, bytes.len()];
        let mut from = 0;
        let mut seen = Vec::new();
        for to in cuts {
            f.write_all(&bytes[from..to]).unwrap();
            f.flush().unwrap();
            from = to;
            let grown = tail.read_new().unwrap();
            assert!(!grown.restarted);
            seen.extend(grown.packets);
        }
        assert_eq!(seen, ps);
        assert!(tail.read_new().unwrap().packets.is_empty(), "nothing new");
        // Another file under the same name (a new capture): read from its start, and said.
        drop(f);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, pcap_of(&ps[..1], 65535)).unwrap();
        let grown = tail.read_new().unwrap();
        assert!(grown.restarted);
        assert_eq!(grown.packets, ps[..1]);
        // Not a pcap: said, not guessed.
        std::fs::write(dir.join("bad.pcap"), b"not a capture at all, really").unwrap();
        assert!(matches!(
            Tail::new(&dir.join("bad.pcap")).read_new(),
            Err(ReadError::NotPcap)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_what_the_writer_wrote_ipv4_and_ipv6() {
        let a = pkt("10.80.80.11:40000", "10.80.80.10:8080", b"bonjour\n");
        let b = pkt("[fd00::11]:40000", "[fd00::10]:8080", b"salut\n");
        let cap = read(&pcap_of(&[a.clone(), b.clone()], 65535)[..]).unwrap();
        assert_eq!(cap.packets, vec![a, b]);
        assert!(!cap.partial_tail);
    }

    #[test]
    fn a_snaplen_cuts_the_data_not_the_length() {
        let a = pkt("10.80.80.11:40000", "10.80.80.10:8080", &[b'x'; 100]);
        let cap = read(&pcap_of(std::slice::from_ref(&a), 60)[..]).unwrap();
        assert_eq!(cap.packets[0].tcp.len, 100);
        assert_eq!(cap.packets[0].tcp.data, vec![b'x'; 20]);
    }

    #[test]
    fn a_capture_still_being_written_gives_its_whole_packets() {
        let a = pkt("10.80.80.11:40000", "10.80.80.10:8080", b"un\n");
        let mut bytes = pcap_of(&[a.clone(), a.clone()], 65535);
        bytes.truncate(bytes.len() - 5);
        let cap = read(&bytes[..]).unwrap();
        assert_eq!(cap.packets.len(), 1);
        assert!(cap.partial_tail);
    }

    #[test]
    fn ethernet_frames_in_pcapng() {
        // One section (little-endian), one Ethernet interface with µs timestamps, one EPB.
        let p = pkt("10.80.80.11:40000", "10.80.80.10:8080", b"hi\n");
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&ip_packet(&p));
        let f = pcapng_frames(1, &[((p.ts / 1000) as u64, &frame)]);
        let cap = read(&f[..]).unwrap();
        assert_eq!(cap.packets.len(), 1);
        assert_eq!(cap.packets[0].ts, p.ts / 1000 * 1000);
        assert_eq!(cap.packets[0].tcp.data, b"hi\n");
    }

    #[test]
    fn link_layers_lead_to_the_ip_packet() {
        let p = pkt("10.80.80.11:40000", "10.80.80.10:8080", b"x");
        let ip = ip_packet(&p);
        let mut vlan = vec![0u8; 12];
        vlan.extend_from_slice(&[0x81, 0x00, 0, 7, 0x08, 0x00]);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        let mut sll2 = vec![0x86, 0xdd];
        sll2.resize(20, 0);
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        assert_eq!(ip_start(1, &vlan), Some(18));
        assert_eq!(ip_start(113, &sll), Some(16));
        assert_eq!(ip_start(276, &sll2), Some(20));
        assert_eq!(ip_start(1, &arp), None);
        assert_eq!(ip_start(1, &vlan[..13]), None);
        vlan.extend_from_slice(&ip);
        assert_eq!(decode(1, &vlan).map(|d| d.tcp.data), Some(b"x".to_vec()));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert!(matches!(read(&b""[..]), Err(ReadError::Empty)));
        assert!(matches!(
            read(&b"hello, this is not a capture at all"[..]),
            Err(ReadError::NotPcap)
        ));
        assert!(matches!(
            read_file(Path::new("/nonexistent/x.pcap")),
            Err(ReadError::Missing)
        ));
    }
}
