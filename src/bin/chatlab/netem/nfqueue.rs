//! A minimal NFQUEUE client over netlink (the protocol of `libnetfilter_queue`), in safe Rust.
//!
//! The kernel hands us each packet that an `iptables … -j NFQUEUE --queue-num N` rule queues,
//! and keeps the packet until we send a verdict (accept or drop) for its id. We ask for the
//! metadata and the first [`COPY_RANGE`] bytes only (the verdict needs the id, the rate needs
//! the length), and for GSO packets as they are (not cut into segments), like the kernel's
//! netem which also sees them whole.
//!
//! Verdicts are buffered and sent together by [`NfQueue::flush`]; a run of accepts in arrival
//! order becomes one "batch" verdict (every pending packet up to this id). The socket is
//! non-blocking: the engine polls [`NfQueue::fd`].
//!
//! Why not a crate: the `nfq` crate (pure Rust too) hides its socket, so it cannot be polled
//! with a timeout, it can only give a verdict for a whole received message (each one keeps its
//! receive buffer alive), and it has no batch verdicts. This file is all we need of the
//! protocol: 4 message types and a handful of attributes.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use nix::libc;
use socket2::{Domain, Protocol, Socket, Type};

// Linux ABI constants (linux/netlink.h, linux/netfilter/nfnetlink*.h), from libc where it has
// them; libc's are c_int, the wire's fields u16, u8 or u32 (each value fits). libc has no
// NLMSG_HDRLEN or NFGEN_HDRLEN (C macros): the header sizes are written here.
const AF_NETLINK: i32 = libc::AF_NETLINK;
const NETLINK_NETFILTER: i32 = libc::NETLINK_NETFILTER;
const NLMSG_HDRLEN: usize = 16;
const NFGEN_HDRLEN: usize = 4;
const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
const NFNL_SUBSYS_QUEUE: u16 = libc::NFNL_SUBSYS_QUEUE as u16;
const NFQNL_MSG_PACKET: u16 = libc::NFQNL_MSG_PACKET as u16;
const NFQNL_MSG_VERDICT: u16 = libc::NFQNL_MSG_VERDICT as u16;
const NFQNL_MSG_CONFIG: u16 = libc::NFQNL_MSG_CONFIG as u16;
const NFQNL_MSG_VERDICT_BATCH: u16 = libc::NFQNL_MSG_VERDICT_BATCH as u16;
const NFQA_PACKET_HDR: u16 = libc::NFQA_PACKET_HDR as u16;
const NFQA_VERDICT_HDR: u16 = libc::NFQA_VERDICT_HDR as u16;
const NFQA_PAYLOAD: u16 = libc::NFQA_PAYLOAD as u16;
const NFQA_CAP_LEN: u16 = libc::NFQA_CAP_LEN as u16;
const NFQA_CFG_CMD: u16 = libc::NFQA_CFG_CMD as u16;
const NFQA_CFG_PARAMS: u16 = libc::NFQA_CFG_PARAMS as u16;
const NFQA_CFG_QUEUE_MAXLEN: u16 = libc::NFQA_CFG_QUEUE_MAXLEN as u16;
const NFQA_CFG_MASK: u16 = libc::NFQA_CFG_MASK as u16;
const NFQA_CFG_FLAGS: u16 = libc::NFQA_CFG_FLAGS as u16;
const NFQNL_CFG_CMD_BIND: u8 = libc::NFQNL_CFG_CMD_BIND as u8;
const NFQNL_CFG_CMD_UNBIND: u8 = libc::NFQNL_CFG_CMD_UNBIND as u8;
const NFQNL_COPY_PACKET: u8 = libc::NFQNL_COPY_PACKET as u8;
/// Bytes of each packet copied to us. The kernel reports a packet's full length only when it
/// copies part of it (metadata-only mode gives no length, which the rate needs); 128 bytes
/// cover the IP and TCP headers (IPv6 and every TCP option included), for `--record`.
const COPY_RANGE: u32 = 128;
const NFQA_CFG_F_GSO: u32 = libc::NFQA_CFG_F_GSO as u32;
const NLA_TYPE_MASK: u16 = libc::NLA_TYPE_MASK as u16;
const NF_DROP: u32 = libc::NF_DROP as u32;
const NF_ACCEPT: u32 = libc::NF_ACCEPT as u32;
/// Flush the verdict buffer before it grows past this (a netlink datagram must fit the
/// socket's send buffer).
const OUT_FLUSH: usize = 32 * 1024;

/// A queued packet, as much as the engine needs of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    /// The kernel's id for this packet in this queue (increasing, wraps around).
    pub id: u32,
    /// Its length in bytes (the IP packet; a GSO packet counts whole).
    pub len: u32,
    /// Its first bytes (IP and TCP headers), for `--record`: `head[..head_len]`.
    pub head: [u8; COPY_RANGE as usize],
    pub head_len: u8,
}

impl Packet {
    /// A packet of LEN bytes whose first bytes are HEAD (cut to what we copy).
    pub fn new(id: u32, len: u32, head: &[u8]) -> Packet {
        let n = head.len().min(COPY_RANGE as usize);
        let mut p = Packet {
            id,
            len,
            head: [0; COPY_RANGE as usize],
            head_len: n as u8,
        };
        p.head[..n].copy_from_slice(&head[..n]);
        p
    }

    /// The first bytes of the packet.
    pub fn head(&self) -> &[u8] {
        &self.head[..usize::from(self.head_len)]
    }
}

/// What becomes of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Drop,
}

/// A socket bound to one NFQUEUE number.
pub struct NfQueue {
    sock: Socket,
    queue: u16,
    seq: u32,
    rx: Vec<u8>,
    out: Vec<u8>,
    /// Packets that arrived while we waited for an acknowledgement.
    early: Vec<Packet>,
    /// Error messages the kernel sent back for verdicts (e.g. an unknown id).
    pub verdict_errors: u64,
    /// Times the socket's receive buffer overflowed (the kernel dropped those packets).
    pub overruns: u64,
}

impl NfQueue {
    /// Bind queue `queue`, asking for each packet's metadata and first [`COPY_RANGE`] bytes,
    /// with at most `kernel_max` packets waiting in the kernel (held ones included).
    pub fn open(queue: u16, kernel_max: u32) -> io::Result<NfQueue> {
        let sock = Socket::new(
            Domain::from(AF_NETLINK),
            Type::RAW,
            Some(Protocol::from(NETLINK_NETFILTER)),
        )?;
        // Bursts of packet messages wait here; the kernel caps it at net.core.rmem_max.
        sock.set_recv_buffer_size(4 << 20)?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut q = NfQueue {
            sock,
            queue,
            seq: 0,
            rx: vec![0; 64 * 1024],
            out: Vec::with_capacity(OUT_FLUSH + 256),
            early: Vec::new(),
            verdict_errors: 0,
            overruns: 0,
        };
        q.bind(kernel_max)?;
        q.sock.set_nonblocking(true)?;
        Ok(q)
    }

    /// Bind and set copy mode, queue length and flags: one datagram of 4 requests,
    /// each acknowledged.
    fn bind(&mut self, kernel_max: u32) -> io::Result<()> {
        let mut buf = Vec::with_capacity(256);
        let first_seq = self.seq.wrapping_add(1);
        self.push_config(&mut buf, NFQA_CFG_CMD, &[NFQNL_CFG_CMD_BIND, 0, 0, 0]);
        let mut params = [0u8; 5];
        params[..4].copy_from_slice(&COPY_RANGE.to_be_bytes());
        params[4] = NFQNL_COPY_PACKET;
        self.push_config(&mut buf, NFQA_CFG_PARAMS, &params);
        self.push_config(&mut buf, NFQA_CFG_QUEUE_MAXLEN, &kernel_max.to_be_bytes());
        let mut flags = Vec::with_capacity(16);
        push_attr(&mut flags, NFQA_CFG_FLAGS, &NFQA_CFG_F_GSO.to_be_bytes());
        push_attr(&mut flags, NFQA_CFG_MASK, &NFQA_CFG_F_GSO.to_be_bytes());
        let start = self.begin(&mut buf, NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK);
        buf.extend_from_slice(&flags);
        end_msg(&mut buf, start);
        self.sock.send(&buf)?;
        for i in 0..4 {
            self.wait_ack(first_seq.wrapping_add(i))?;
        }
        Ok(())
    }

    fn push_config(&mut self, buf: &mut Vec<u8>, attr: u16, payload: &[u8]) {
        let start = self.begin(buf, NFQNL_MSG_CONFIG, NLM_F_REQUEST | NLM_F_ACK);
        push_attr(buf, attr, payload);
        end_msg(buf, start);
    }

    /// Start a message for this queue; returns where it starts (for [`end_msg`]).
    fn begin(&mut self, buf: &mut Vec<u8>, msg: u16, flags: u16) -> usize {
        self.seq = self.seq.wrapping_add(1);
        let start = buf.len();
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by end_msg
        buf.extend_from_slice(&((NFNL_SUBSYS_QUEUE << 8) | msg).to_ne_bytes());
        buf.extend_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(&self.seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        buf.extend_from_slice(&[0, 0]); // nfgenmsg: family AF_UNSPEC, version 0
        buf.extend_from_slice(&self.queue.to_be_bytes());
        start
    }

    /// Wait for the acknowledgement of request `seq` (an error message with error 0).
    fn wait_ack(&mut self, seq: u32) -> io::Result<()> {
        loop {
            let n = match (&self.sock).read(&mut self.rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel",
                    ));
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue, // lost packets
                Err(e) => return Err(e),
            };
            let mut acked = None;
            let mut early = Vec::new();
            for msg in Messages::new(&self.rx[..n]) {
                match msg {
                    Message::Ack { seq: s, error } if s == seq => acked = Some(error),
                    Message::Ack { .. } => {}
                    Message::Packet(p) => early.push(p),
                }
            }
            self.early.extend(early);
            match acked {
                Some(0) => return Ok(()),
                Some(errno) => return Err(io::Error::from_raw_os_error(errno)),
                None => {}
            }
        }
    }

    /// The socket, to poll for readability.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Append the packets waiting on the socket to `out`, at most `max` (without blocking).
    pub fn recv(&mut self, out: &mut Vec<Packet>, max: usize) -> io::Result<()> {
        let start = out.len();
        out.append(&mut self.early);
        while out.len() - start < max {
            let n = match (&self.sock).read(&mut self.rx) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // ENOBUFS: our receive buffer overflowed and the kernel dropped packets.
                    self.overruns += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            for msg in Messages::new(&self.rx[..n]) {
                match msg {
                    Message::Packet(p) => out.push(p),
                    Message::Ack { error: 0, .. } => {}
                    Message::Ack { error, .. } => {
                        self.verdict_errors += 1;
                        log::debug!("verdict refused: {}", io::Error::from_raw_os_error(error));
                    }
                }
            }
        }
        Ok(())
    }

    /// Queue a verdict for packet `id` (sent by [`flush`](Self::flush)).
    pub fn verdict(&mut self, id: u32, verdict: Verdict) -> io::Result<()> {
        self.push_verdict(NFQNL_MSG_VERDICT, id, verdict)
    }

    /// Queue one verdict for every packet still pending with an id up to `id` (sent by
    /// [`flush`](Self::flush)). Only correct when all of those are meant to get it.
    pub fn verdict_up_to(&mut self, id: u32, verdict: Verdict) -> io::Result<()> {
        self.push_verdict(NFQNL_MSG_VERDICT_BATCH, id, verdict)
    }

    fn push_verdict(&mut self, msg: u16, id: u32, verdict: Verdict) -> io::Result<()> {
        let mut out = std::mem::take(&mut self.out);
        let start = self.begin(&mut out, msg, NLM_F_REQUEST);
        let code = match verdict {
            Verdict::Accept => NF_ACCEPT,
            Verdict::Drop => NF_DROP,
        };
        let mut hdr = [0u8; 8];
        hdr[..4].copy_from_slice(&code.to_be_bytes());
        hdr[4..].copy_from_slice(&id.to_be_bytes());
        push_attr(&mut out, NFQA_VERDICT_HDR, &hdr);
        end_msg(&mut out, start);
        self.out = out;
        if self.out.len() >= OUT_FLUSH {
            self.flush()?;
        }
        Ok(())
    }

    /// Send the buffered verdicts.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        loop {
            match self.sock.send(&self.out) {
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Netlink to the kernel is processed synchronously; this does not happen,
                    // but never spin: give the kernel a moment.
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => {
                    self.out.clear();
                    return Err(e);
                }
            }
        }
        self.out.clear();
        Ok(())
    }

    /// Unbind the queue. The kernel does it anyway when the socket closes, but it then drops the
    /// packets still queued: call this after the last verdicts.
    pub fn unbind(mut self) -> io::Result<()> {
        // Packets read while waiting for an earlier acknowledgement are let through too.
        if let Some(last) = self.early.last().map(|p| p.id) {
            self.early.clear();
            self.verdict_up_to(last, Verdict::Accept)?;
        }
        self.flush()?;
        self.sock.set_nonblocking(false)?;
        let mut buf = Vec::with_capacity(64);
        let seq = self.seq.wrapping_add(1);
        self.push_config(&mut buf, NFQA_CFG_CMD, &[NFQNL_CFG_CMD_UNBIND, 0, 0, 0]);
        self.sock.send(&buf)?;
        self.wait_ack(seq)
    }
}

/// Append a netlink attribute (padded to 4 bytes).
fn push_attr(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = 4 + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len() + (align4(len) - len), 0);
}

/// Write the length of the message started at `start`.
fn end_msg(buf: &mut [u8], start: usize) {
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// What we care about in a datagram from the kernel.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Packet(Packet),
    /// An acknowledgement (error 0) or an error (a positive errno) for request `seq`.
    Ack {
        seq: u32,
        error: i32,
    },
}

/// The messages of one datagram; malformed parts end the iteration (never a panic).
struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    fn new(datagram: &'a [u8]) -> Self {
        Messages { rest: datagram }
    }
}

fn u16_ne(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_ne(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u32_be(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

impl Iterator for Messages<'_> {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        loop {
            let b = self.rest;
            let len = u32_ne(b, 0)? as usize;
            if len < NLMSG_HDRLEN || len > b.len() {
                self.rest = &[];
                return None;
            }
            let ty = u16_ne(b, 4)?;
            let seq = u32_ne(b, 8)?;
            let body = &b[NLMSG_HDRLEN..len];
            self.rest = b.get(align4(len)..).unwrap_or(&[]);
            match ty {
                NLMSG_ERROR => {
                    let error = i32::from_ne_bytes(body.get(..4)?.try_into().ok()?);
                    return Some(Message::Ack {
                        seq,
                        error: error.wrapping_neg(),
                    });
                }
                NLMSG_DONE => return None,
                t if t == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET => {
                    if let Some(p) = parse_packet(body.get(NFGEN_HDRLEN..)?) {
                        return Some(Message::Packet(p));
                    }
                }
                _ => {}
            }
        }
    }
}

/// The id and length of a packet message's attributes.
fn parse_packet(mut attrs: &[u8]) -> Option<Packet> {
    let (mut id, mut payload, mut cap_len) = (None, &[][..], None);
    while attrs.len() >= 4 {
        let len = u16_ne(attrs, 0)? as usize;
        let ty = u16_ne(attrs, 2)? & NLA_TYPE_MASK;
        if len < 4 || len > attrs.len() {
            break;
        }
        let data_attr = &attrs[4..len];
        match ty {
            NFQA_PACKET_HDR => id = u32_be(data_attr, 0),
            NFQA_PAYLOAD => payload = data_attr,
            NFQA_CAP_LEN => cap_len = u32_be(data_attr, 0),
            _ => {}
        }
        attrs = attrs.get(align4(len)..).unwrap_or(&[]);
    }
    Some(Packet::new(
        id?,
        cap_len.unwrap_or(payload.len() as u32),
        payload,
    ))
}

/// The kernel's own counters for queue `queue` in this network namespace:
/// (packets dropped because the queue was full, packets dropped because our socket was full).
pub fn kernel_drops(queue: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue").ok()?;
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() >= 7 && f[0].parse::<u16>().ok()? == queue)
            .then(|| Some((f[5].parse().ok()?, f[6].parse().ok()?)))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet_msg(id: u32, attrs_extra: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut buf = Vec::new();
        buf.extend_from_slice(&0u32.to_ne_bytes());
        buf.extend_from_slice(&(NFNL_SUBSYS_QUEUE << 8).to_ne_bytes());
        buf.extend_from_slice(&[0; 10]);
        buf.extend_from_slice(&[0, 0, 0, 7]);
        let mut hdr = id.to_be_bytes().to_vec();
        hdr.extend_from_slice(&[0x08, 0x00, 3]);
        push_attr(&mut buf, NFQA_PACKET_HDR, &hdr);
        for (ty, p) in attrs_extra {
            push_attr(&mut buf, *ty, p);
        }
        end_msg(&mut buf, 0);
        buf
    }

    #[test]
    fn parses_packets_acks_and_stops_on_garbage() {
        let mut dgram = packet_msg(42, &[(NFQA_CAP_LEN, 1500u32.to_be_bytes().to_vec())]);
        dgram.extend(packet_msg(43, &[(NFQA_PAYLOAD, vec![0; 61])]));
        let mut ack = Vec::new();
        ack.extend_from_slice(&36u32.to_ne_bytes());
        ack.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack.extend_from_slice(&[0, 0]);
        ack.extend_from_slice(&9u32.to_ne_bytes());
        ack.extend_from_slice(&[0; 4]);
        ack.extend_from_slice(&(-16i32).to_ne_bytes());
        ack.extend_from_slice(&[0; 16]);
        dgram.extend(&ack);
        dgram.extend_from_slice(&[0xff; 7]);
        let msgs: Vec<_> = Messages::new(&dgram).collect();
        assert_eq!(
            msgs,
            vec![
                Message::Packet(Packet::new(42, 1500, &[])),
                Message::Packet(Packet::new(43, 61, &[0; 61])),
                Message::Ack { seq: 9, error: 16 },
            ]
        );
        // Truncated in the middle of a message: nothing, and no panic.
        assert_eq!(Messages::new(&dgram[..20]).count(), 0);
    }

    #[test]
    fn pads_attributes_to_four_bytes() {
        let mut buf = Vec::new();
        push_attr(&mut buf, NFQA_CFG_PARAMS, &[0, 0, 0, 0, 1]);
        // 4 bytes of header + 5 of payload, padded to 12.
        assert_eq!(buf.len(), 12);
        assert_eq!(u16_ne(&buf, 0), Some(9));
        assert_eq!(&buf[9..], &[0, 0, 0]);
    }
}
