//! A pcapng writer for the tests: one little-endian section, one interface of the given link
//! type with µs timestamps, one Enhanced Packet Block per record. Shared by ladderkit and by
//! the unit tests of chatlab's capture reader (`src/bin/chatlab/capture/pcap.rs`, through a
//! `#[path]` module), which cannot use a kit of the integration tests otherwise.

/// The pcapng of (µs since the epoch, frame) records on one interface of `linktype`
/// (1 Ethernet, 101 raw IP), snaplen 65535.
pub fn pcapng_frames(linktype: u16, records: &[(u64, &[u8])]) -> Vec<u8> {
    fn block(f: &mut Vec<u8>, ty: u32, body: &[u8]) {
        let len = 12 + body.len().div_ceil(4) * 4;
        f.extend_from_slice(&ty.to_le_bytes());
        f.extend_from_slice(&(len as u32).to_le_bytes());
        f.extend_from_slice(body);
        f.resize(f.len() + (4 - body.len() % 4) % 4, 0);
        f.extend_from_slice(&(len as u32).to_le_bytes());
    }
    let mut f = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut f, 0x0a0d_0d0a, &shb);
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&65535u32.to_le_bytes());
    block(&mut f, 1, &idb);
    for &(us, p) in records {
        let mut epb = Vec::new();
        for v in [
            0,
            (us >> 32) as u32,
            us as u32,
            p.len() as u32,
            p.len() as u32,
        ] {
            epb.extend_from_slice(&v.to_le_bytes());
        }
        epb.extend_from_slice(p);
        block(&mut f, 6, &epb);
    }
    f
}
