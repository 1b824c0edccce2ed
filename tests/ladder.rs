//! `chatlab ladder` as a student runs it on Linux: the real binary on captures this test
//! writes (pcap, raw IPv4), its output, and its one-line errors for bad input.

mod kit;
mod ladderkit;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ladderkit::{ipv4, pcap, tcp, tcp_at};

const CHATLAB: &str = env!("CARGO_BIN_EXE_chatlab");

/// A short conversation on PORT: handshake, one line, the client closes; as seen on the
/// client's side (SIDE 0) or on the server's (SIDE 1), 40 ms one way.
fn talk(port: u16, side: usize) -> Vec<u8> {
    talk_at([10, 80, 80, 11], [10, 80, 80, 10], port, side)
}

/// The conversation of [`talk`] between CLIENT and SERVER (any addresses).
fn talk_at(client: [u8; 4], server: [u8; 4], port: u16, side: usize) -> Vec<u8> {
    let (syn, ack, psh, fin) = (2, 16, 8, 1);
    let segs = [
        (0.0, true, syn, 100, 0, &b""[..]),
        (0.05, false, syn | ack, 500, 101, b""),
        (0.1, true, ack, 101, 501, b""),
        (0.1, true, psh | ack, 101, 501, b"bonjour\n"),
        (0.15, false, ack, 501, 109, b""),
        (0.2, true, fin | ack, 109, 501, b""),
        (0.25, false, fin | ack, 501, 110, b""),
        (0.3, true, ack, 110, 502, b""),
    ];
    let records: Vec<(f64, Vec<u8>)> = segs
        .iter()
        .map(|&(t, c, f, s, a, d)| {
            let seen = if c == (side == 0) { t } else { t + 0.04 };
            (
                1_700_000_000.0 + seen,
                tcp_at(client, server, c, port, f, s, a, d),
            )
        })
        .collect();
    pcap(&records)
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("chatlab-ladder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ladder(args: &[&Path], extra: &[&str]) -> Output {
    Command::new(CHATLAB)
        .arg("ladder")
        .args(args)
        .args(extra)
        .args(["--lang", "en"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The SVG renders (rsvg-convert, as a person turns it into a PNG to look at it) to a picture
/// of its declared size. CI installs rsvg-convert; elsewhere this part is skipped, visibly.
fn renders(svg: &Path) {
    let png = svg.with_extension("png");
    let Ok(out) = Command::new("rsvg-convert")
        .arg("-o")
        .arg(&png)
        .arg(svg)
        .output()
    else {
        return kit::skip_unless_ci(
            "rendering the SVG",
            "rsvg-convert is not installed (librsvg2-bin)",
        );
    };
    assert!(out.status.success(), "rsvg-convert: {}", text(&out.stderr));
    let head = std::fs::read(&png).unwrap();
    assert_eq!(&head[1..4], b"PNG");
    let width = u32::from_be_bytes(head[16..20].try_into().unwrap());
    let doc = std::fs::read_to_string(svg).unwrap();
    assert!(
        doc.contains(&format!("width=\"{width}\"")),
        "PNG width {width}"
    );
}

#[test]
fn both_ends_give_slanted_arrows_states_svg_and_mermaid() {
    let d = Dir::new("ok");
    let c = d.file("x-client.pcap", &talk(8080, 0));
    let s = d.file("x-server.pcap", &talk(8080, 1));
    let svg = d.0.join("x.svg");
    let out = ladder(&[&c, &s], &["--svg", svg.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("client 10.80.80.11:40000 → server 10.80.80.10:8080"),
        "{stdout}"
    );
    let syn = stdout.lines().find(|l| l.contains("── SYN seq 0")).unwrap();
    assert!(
        syn.trim().starts_with("0.000") && syn.trim().ends_with("0.040"),
        "{syn}"
    );
    for st in [
        "SYN_SENT",
        "SYN_RCVD",
        "FIN_WAIT_1",
        "CLOSE_WAIT",
        "LAST_ACK",
        "TIME_WAIT",
    ] {
        assert!(stdout.contains(st), "{st}: {stdout}");
    }
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    renders(&svg);
    let m = ladder(&[&c, &s], &["--mermaid"]);
    let m = text(&m.stdout);
    assert!(
        m.starts_with("sequenceDiagram\n") && m.contains("A->>B: 0.000 SYN seq 0 → 0.040"),
        "{m}"
    );
}

#[test]
fn captures_of_two_experiments_are_said_and_drawn_apart() {
    let d = Dir::new("apart");
    let c = d.file("x-client.pcap", &talk(8080, 0));
    let s = d.file("y-server.pcap", &talk(9090, 1));
    let out = ladder(&[&c, &s], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stderr).contains("share no connection (two different experiments?)"),
        "{out:?}"
    );
    assert!(text(&out.stdout).starts_with("Connections:"), "{out:?}");
    let one = ladder(&[&c, &s], &["--conn", "2"]);
    assert!(
        text(&one.stdout)
            .contains("Connection 2/2 : client 10.80.80.11:40000 → server 10.80.80.10:9090")
    );
    let bad = ladder(&[&c, &s], &["--conn", "3"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("--conn 3: these captures have 2 connections"));
}

#[test]
fn bad_input_is_one_line_naming_the_file() {
    let d = Dir::new("bad");
    let not_pcap = d.file("notes.pcap", b"this is not a capture at all, sorry");
    let empty = d.file("empty.pcap", b"");
    let udp = d.file("udp.pcap", &pcap(&[(1.0, ipv4(17, 11, 10, &[0; 12]))]));
    let other = d.file("other-port.pcap", &talk(9090, 0));
    let missing = d.0.join("missing.pcap");
    let cases: [(&Path, &[&str], String); 5] = [
        (
            &not_pcap,
            &[],
            "not a capture file (neither pcap nor pcapng)".into(),
        ),
        (&empty, &[], "empty file".into()),
        (
            &udp,
            &[],
            "no TCP segment (1 packet of another protocol)".into(),
        ),
        (
            &other,
            &["--port", "8080"],
            "no TCP segment on port 8080 (ports seen: 9090)".into(),
        ),
        (&missing, &[], "no such file".into()),
    ];
    for (file, extra, why) in cases {
        let out = ladder(&[file], extra);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file:?}: {out:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("chatlab ladder: {}: ", file.display())) && err.contains(&why),
            "{file:?}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
}

/// A damaged or cut capture, pcap or pcapng, is one short line: the file, the offset where it
/// goes wrong, what is wrong there; never the file's bytes. A capture cut after good packets
/// is drawn up to the cut, with a one-line warning at that offset.
#[test]
fn a_damaged_capture_is_one_line_with_its_offset() {
    let d = Dir::new("damaged");
    let good = talk(8080, 0);
    let ng = ladderkit::pcapng(&[(1.0, tcp(true, 8080, 2, 100, 0, b""))]);
    // pcapng: the section header (28 bytes), the interface (20), then the packet block.
    let mut ng_bad_block = ng.clone();
    ng_bad_block[48 + 4..48 + 8].copy_from_slice(&8u32.to_le_bytes()); // shorter than a block
    let mut ng_bad_trailer = ng.clone();
    let n = ng_bad_trailer.len();
    ng_bad_trailer[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
    // The EPB's length grown so its trailer is not there: the file ends inside it.
    let mut ng_huge = ng.clone();
    ng_huge[48 + 4..48 + 8].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    // pcap: the file header (24 bytes), then a record claiming 2 GB.
    let mut pcap_huge = good.clone();
    pcap_huge[24 + 8..24 + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "ng-block.pcapng",
            ng_bad_block,
            "offset 48: damaged capture: ",
        ),
        (
            "ng-trailer.pcapng",
            ng_bad_trailer,
            "offset 48: damaged capture: ",
        ),
        ("ng-huge.pcapng", ng_huge, "offset 48: damaged capture: "),
        (
            "ng-cut.pcapng",
            ng[..20].to_vec(),
            "offset 0: damaged capture: ",
        ),
        ("pcap-huge.pcap", pcap_huge, "offset 24: damaged capture: "),
        (
            "pcap-cut.pcap",
            good[..20].to_vec(),
            "offset 0: damaged capture: ",
        ),
    ];
    for (name, bytes, why) in cases {
        let f = d.file(name, &bytes);
        let out = ladder(&[&f], &[]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.len() < 200, "{name}: {} bytes: {err}", err.len());
        assert!(
            err.starts_with(&format!("chatlab ladder: {}: {why}", f.display())),
            "{name}: {err}"
        );
        assert!(out.stdout.is_empty(), "{name}");
    }
    // Good packets, then damage: drawn up to it, and said once, at its offset.
    let mut tail = good.clone();
    let at = tail.len();
    tail.extend_from_slice(&[0xff; 40]);
    let f = d.file("tail-client.pcap", &tail);
    let out = ladder(&[&f], &[]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("offset {at}: ")) && err.len() < 300,
        "{err}"
    );
    assert!(text(&out.stdout).contains("SYN seq 0"), "{out:?}");
}

/// Captures of both ends of one conversation, made anywhere (a subnet that is not the lab's,
/// a teacher's own machines): the capture itself says which host took it (the address in all
/// its packets; the file name then says which end it is). Each segment is one arrow, from its
/// departure to its arrival, never drawn twice as a « retransmission », never from an
/// « unknown host »: with or without --net, and with names that say nothing.
#[test]
fn captures_of_both_ends_on_any_subnet_give_one_arrow_per_segment() {
    let d = Dir::new("subnet");
    let lab = ([192, 0, 2, 11], [192, 0, 2, 10]);
    let apart = ([198, 51, 100, 7], [192, 0, 2, 44]);
    let pair = |(client, server): ([u8; 4], [u8; 4]), names: [&str; 2]| {
        let c = d.file(names[0], &talk_at(client, server, 8080, 0));
        let s = d.file(names[1], &talk_at(client, server, 8080, 1));
        (c, s)
    };
    let named = pair(lab, ["x-client.pcap", "x-server.pcap"]);
    let other = pair(apart, ["y-client.pcap", "y-server.pcap"]);
    let silent = pair(apart, ["a.pcap", "b.pcap"]);
    let cases: [(&str, &(PathBuf, PathBuf), &[&str]); 5] = [
        ("named, no --net", &named, &[]),
        ("named, --net of the lab", &named, &["--net", "192.0.2"]),
        ("named, another subnet", &other, &[]),
        (
            "named, another subnet, --net",
            &other,
            &["--net", "192.0.2"],
        ),
        ("names that say nothing", &silent, &[]),
    ];
    for (what, (c, s), extra) in cases {
        for files in [[c, s], [s, c]] {
            let out = ladder(&[files[0], files[1]], extra);
            let stdout = text(&out.stdout);
            assert!(out.status.success(), "{what}: {out:?}");
            let arrows = ladderkit::text_arrows(&stdout);
            assert_eq!(arrows.len(), 8, "{what}: one arrow per segment:\n{stdout}");
            for a in &arrows {
                let (Some(dep), Some(arr)) = (a.departure(), a.arrival()) else {
                    panic!("{what}: both ends of {:?}:\n{stdout}", a.line);
                };
                assert!(
                    (arr - dep - 0.04).abs() < 0.0015,
                    "{what}: the one-way delay, {:?}:\n{stdout}",
                    a.line
                );
            }
            assert!(
                !stdout.contains("retransmission") && !stdout.contains("unknown host"),
                "{what}:\n{stdout}"
            );
            let err = text(&out.stderr);
            assert!(!err.contains("which host took it"), "{what}: {err}");
        }
    }
}

/// A long bulk keeps, per connection, its opening and its last segments (--max N: N/2 and
/// N/2), and says how many it left out where they were: in the text, the Mermaid and the SVG.
/// Every segment is drawn or counted, and none at the cut is taken for a loss.
#[test]
fn a_long_bulk_is_drawn_as_its_opening_and_its_end_with_the_rest_counted() {
    let d = Dir::new("bulk");
    let (syn, ack, psh, fin) = (2, 16, 8, 1);
    let n: u32 = 3000;
    let mut segs = vec![
        (0.0, true, syn, 100, 0, Vec::new()),
        (0.01, false, syn | ack, 500, 101, Vec::new()),
        (0.02, true, ack, 101, 501, Vec::new()),
    ];
    for k in 0..n {
        let t = 0.03 + f64::from(k) * 0.0001;
        segs.push((t, true, psh | ack, 101 + 10 * k, 501, vec![b'x'; 10]));
    }
    let end = 101 + 10 * n;
    segs.push((0.5, true, fin | ack, end, 501, Vec::new()));
    segs.push((0.51, false, fin | ack, 501, end + 1, Vec::new()));
    segs.push((0.52, true, ack, end + 1, 502, Vec::new()));
    let total = segs.len();
    let side = |side: usize| {
        let records: Vec<(f64, Vec<u8>)> = segs
            .iter()
            .map(|(t, c, f, s, a, data)| {
                let seen = if *c == (side == 0) { *t } else { t + 0.002 };
                (1_700_000_000.0 + seen, tcp(*c, 8080, *f, *s, *a, data))
            })
            .collect();
        pcap(&records)
    };
    let c = d.file("bulk-client.pcap", &side(0));
    let s = d.file("bulk-server.pcap", &side(1));
    let svg = d.0.join("bulk.svg");
    let out = ladder(&[&c, &s], &["--max", "100", "--svg", svg.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains(&format!(", {total} segments, ")),
        "the header counts them all:\n{stdout}"
    );
    let arrows = ladderkit::text_arrows(&stdout);
    assert!(arrows.len() <= 110, "{} arrows drawn", arrows.len());
    assert!(arrows[0].has("SYN") && arrows.last().unwrap().line.contains("ack"));
    assert!(arrows.iter().any(|a| a.has("FIN")), "{stdout}");
    assert!(!stdout.contains("lost"), "{stdout}");
    let band = stdout
        .lines()
        .find(|l| l.contains("segments not shown"))
        .unwrap_or_else(|| panic!("a line says what was left out:\n{stdout}"));
    let left: usize = band
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .expect("a count");
    assert_eq!(left + arrows.len(), total, "{band}");
    // The receiver acts on the FIN after the gap: the close goes as TCP went.
    let states = ladderkit::text_states(&stdout);
    for st in [
        "server CLOSE_WAIT",
        "server LAST_ACK",
        "client TIME_WAIT",
        "server CLOSED",
    ] {
        assert!(
            states.contains(&st.to_string()),
            "{st}: {states:?}\n{stdout}"
        );
    }
    let doc = std::fs::read_to_string(&svg).unwrap();
    let xml = roxmltree::Document::parse(&doc).expect("well-formed");
    let fold = xml
        .descendants()
        .filter(|n| n.attribute("class") == Some("fold"))
        .filter_map(|n| n.text())
        .find(|t| t.contains("not shown"))
        .unwrap_or_else(|| panic!("a band says what was left out: {doc}"));
    assert!(fold.contains(&format!("{left} segments in ")), "{fold}");
    let m = text(&ladder(&[&c, &s], &["--max", "100", "--mermaid"]).stdout);
    assert!(
        m.contains(&format!("Note over A,B: … {left} segments not shown …")),
        "{m}"
    );
}

/// Many connections: the first LISTED (20), in the order the captures first saw them, are
/// listed and drawn (text, Mermaid, SVG); the others are counted, exactly, and said once. A
/// pair of ports used again with new ISNs is another connection.
#[test]
fn of_many_connections_the_first_twenty_are_drawn_and_the_others_counted() {
    let d = Dir::new("many");
    let (n, pairs) = (5000, 2500);
    let c = d.file("many-client.pcap", &ladderkit::tiny_capture(0..n, pairs, 0));
    let s = d.file("many-server.pcap", &ladderkit::tiny_capture(0..n, pairs, 1));
    let svg = d.0.join("many.svg");
    let out = ladder(&[&c, &s], &["--svg", svg.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let listed: Vec<&str> = stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .skip(1)
        .collect();
    assert_eq!(listed.len(), 21, "{stdout:.3000}");
    for (k, line) in listed[..20].iter().enumerate() {
        let want = format!("{:>2}. client 10.80.80.11:{} → server", k + 1, 1024 + k);
        assert!(line.trim_start().starts_with(want.trim_start()), "{line}");
    }
    assert_eq!(
        listed[20],
        format!(
            "  … {} more connections not drawn: --conn N draws one",
            n - 20
        )
    );
    let headers: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Connection "))
        .collect();
    let want: Vec<String> = (1..=20)
        .map(|k| format!("Connection {k}/{n} : client 10.80.80.11:{} ", 1023 + k))
        .collect();
    assert_eq!(headers.len(), 20, "{headers:?}");
    for (h, w) in headers.iter().zip(&want) {
        assert!(h.starts_with(w), "{h}");
    }
    assert_eq!(ladderkit::text_arrows(&stdout).len(), 20 * 4);
    let ladders = ladderkit::read_svg(&std::fs::read_to_string(&svg).unwrap()).unwrap();
    let conns: Vec<usize> = ladders.iter().map(|l| l.conn).collect();
    assert_eq!(conns, (1..=20).collect::<Vec<_>>());
    assert!(
        text(&out.stderr).contains(&format!("the first 20 connections of {n}")),
        "{out:?}"
    );
    let m = text(&ladder(&[&c, &s], &["--mermaid"]).stdout);
    assert!(
        m.starts_with(&format!(
            "%% {} more connections not drawn: --conn N draws one\nsequenceDiagram\n",
            n - 20
        )),
        "{m:.500}"
    );
    assert_eq!(m.matches("sequenceDiagram").count(), 20);
    let bad = ladder(&[&c, &s], &["--conn", &(n + 1).to_string()]);
    assert!(
        text(&bad.stderr).contains(&format!(
            "--conn {}: these captures have {n} connections",
            n + 1
        )),
        "{bad:?}"
    );
}

/// `--conn N` draws connection N as a capture holding only that connection draws it: the
/// same text, Mermaid and SVG, but for its number; N counted in the order the captures first
/// saw the connections, across both hosts' captures, ports used again included.
#[test]
fn conn_n_draws_the_nth_as_a_capture_of_it_alone() {
    let d = Dir::new("nth");
    let (n, pairs) = (5000, 2500);
    let all = [
        d.file("all-client.pcap", &ladderkit::tiny_capture(0..n, pairs, 0)),
        d.file("all-server.pcap", &ladderkit::tiny_capture(0..n, pairs, 1)),
    ];
    // Without its number and total (the header, the SVG's title): the drawing.
    let body = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.starts_with("Connection ") && !l.contains("%% connection "))
            .filter(|l| !l.starts_with("  ") || l.contains(':'))
            .map(String::from)
            .collect()
    };
    for k in [20usize, 2499, 3777, n - 1] {
        let alone = [
            d.file("one-client.pcap", &ladderkit::tiny_capture([k], pairs, 0)),
            d.file("one-server.pcap", &ladderkit::tiny_capture([k], pairs, 1)),
        ];
        let nth = (k + 1).to_string();
        for extra in [&["--conn", &nth][..], &["--conn", &nth, "--mermaid"]] {
            let got = ladder(&[&all[0], &all[1]], extra);
            assert!(got.status.success(), "{got:?}");
            let got = text(&got.stdout);
            let want = text(&ladder(&[&alone[0], &alone[1]], &extra[2..]).stdout);
            // The list of the first connections comes first in the text: leave it out.
            let drawing = got
                .find("\nConnection ")
                .map_or(got.as_str(), |i| &got[i + 1..]);
            assert!(!drawing.is_empty());
            assert_eq!(body(drawing), body(&want), "connection {nth}:\n{drawing}");
            let header = format!("onnection {nth}/{n}");
            assert!(got.contains(&header), "{header}:\n{got:.2000}");
            let port = format!("10.80.80.11:{} ", 1024 + k % pairs);
            assert!(got.contains(&port), "{port}:\n{got:.2000}");
        }
        let svgs = [d.0.join("all.svg"), d.0.join("one.svg")];
        let (a, b) = (svgs[0].to_str().unwrap(), svgs[1].to_str().unwrap());
        let got = ladder(
            &[&all[0], &all[1]],
            &["--conn", &nth, "--svg", a, "--no-text"],
        );
        assert!(got.status.success(), "{got:?}");
        ladder(&[&alone[0], &alone[1]], &["--svg", b, "--no-text"]);
        let read = |p: &Path| ladderkit::read_svg(&std::fs::read_to_string(p).unwrap()).unwrap();
        let (got, want) = (read(&svgs[0]), read(&svgs[1]));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].conn, k + 1);
        assert_eq!(got[0].structure()[1..], want[0].structure()[1..]);
    }
}

/// Memory follows what is drawn, not the number of connections: 200 000 connections (old
/// code: every one modelled, about 480 MB) read in well under 100 MB of peak RSS.
#[test]
fn memory_stays_small_whatever_the_number_of_connections() {
    let d = Dir::new("memory");
    let n = 200_000;
    let f = d.0.join("big-client.pcap");
    ladderkit::write_tiny_capture(&f, n, 60_000, 0);
    #[expect(
        clippy::zombie_processes,
        reason = "reaped below by wait4, which gives its peak RSS"
    )]
    let child = Command::new(CHATLAB)
        .arg("ladder")
        .arg(&f)
        .args(["--lang", "en", "--conn", "123456"])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.unwrap(), &mut stdout).unwrap();
    // This child's peak RSS (other tests' children are not counted, unlike
    // getrusage(RUSAGE_CHILDREN)); it is at least this process's own peak when it was spawned
    // (the child shares our memory until its exec), hence the capture written as it is made.
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct zeroed and written by wait4; PID is our child, not
    // waited for yet (std's Child is dropped without waiting).
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(
        nix::libc::WIFEXITED(status) && nix::libc::WEXITSTATUS(status) == 0,
        "status {status}: {stdout:.2000}"
    );
    let peak_mb = usage.ru_maxrss / 1024;
    assert!(peak_mb < 100, "peak RSS {peak_mb} MB for {n} connections");
    assert!(
        stdout.contains(&format!("Connection 123456/{n} : ")),
        "{stdout:.2000}"
    );
    assert!(stdout.contains(&format!("… {} more connections not listed", n - 20)));
}
