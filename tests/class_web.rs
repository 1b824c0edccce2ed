//! The class in a browser (`lab/class up` starts the class's web server, web/): on a swarm of
//! two nodes, two students' labs. Every endpoint of a lab is refused (403) to the other
//! student's cookie, to none and to a forged one, and opened to its student and the teacher;
//! names that leave `work/` are refused; a foreign `Host:` and a foreign `Origin:` are refused;
//! wrong secrets are rate-limited. Then in a real browser (headless Chromium): a student opens
//! their link (the secret becomes a cookie, the address a clean one), types in server's and
//! client's terminals and sees the lines cross (« ça » included), Ctrl-C reaches the program,
//! edits and saves `work/q1.py` (the file is in the lab), checks it and reads the verdicts (the
//! failing ones first), comes back after closing the tab to the same shells (a program still
//! running in one); the teacher's page shows the class, that student online, their verdict,
//! « grade all » with its progress and every student's verdicts; the teacher watches the
//! student's terminal read-only, takes the keyboard (the student's page says so) and gives it
//! back, and the student's page says when the teacher opens their lab. `down --purge` leaves nothing, the students' volumes included. Needs root,
//! Docker and Chromium: fails without them under CI, skipped elsewhere.

mod browserkit;
mod kit;
mod labkit;
mod swarmkit;

use std::collections::BTreeMap;
use std::fs;
use std::process::Command;
use std::time::Duration;

use browserkit::Browser;
use kit::run;
use swarmkit::{Dir, Swarm, class};

const LIMIT: Duration = Duration::from_secs(300);
/// An `up` that may build the class's agent and web server first (cargo, then images).
const LIMIT_BUILD: Duration = Duration::from_secs(900);
const AGENT_IMAGE: &str = "chatlab-agent:latest";
const BASE: &str = "https://localhost:8443";

/// curl ARGS against the class's server (its certificate is self-signed): status, body.
fn curl(args: &[&str]) -> (u16, String) {
    let out = kit::output(
        Command::new("curl")
            .args(["-k", "-s", "--max-time", "5", "-w", "\n%{http_code}"])
            .args(args),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// A POST to PATH with COOKIE, from the server's own page (its Origin): status, body.
fn post(cookie: &str, path: &str) -> (u16, String) {
    curl(&[
        "-X",
        "POST",
        "-b",
        cookie,
        "-H",
        &format!("Origin: {BASE}"),
        &format!("{BASE}{path}"),
    ])
}

/// A WebSocket handshake for a terminal: its status (101 when opened).
fn upgrade(cookie: &str, path: &str, origin: &str) -> u16 {
    curl(&[
        "--http1.1",
        "-o",
        "/dev/null",
        "--max-time",
        "3",
        "-b",
        cookie,
        "-H",
        &format!("Origin: {origin}"),
        "-H",
        "Connection: Upgrade",
        "-H",
        "Upgrade: websocket",
        "-H",
        "Sec-WebSocket-Version: 13",
        "-H",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        &format!("{BASE}{path}"),
    ])
    .0
}

#[test]
fn the_class_in_a_browser() {
    const TEST: &str = "the_class_in_a_browser";
    let Some(image) = labkit::image_for(TEST) else {
        return;
    };
    if Command::new("chromium").arg("--version").output().is_err() {
        kit::skip_unless_ci(TEST, "chromium is not installed (apt-get install chromium)");
        return;
    }
    if Command::new("musl-gcc").arg("--version").output().is_err() {
        kit::skip_unless_ci(
            TEST,
            "musl-gcc is not installed (apt-get install musl-tools): the class's web server cannot be built",
        );
        return;
    }
    let Some(swarm) = Swarm::up(TEST, 2, image) else {
        return;
    };
    let dir = Dir::new("web");
    let roster = dir.roster("roster.txt", "alice,Alice Martin\nbob,Bob\n");
    let roster = roster.to_str().unwrap();
    // CHAT_MODE=idle, as the sheets start the lab to run chat by hand in server's terminal.
    let up = |limit| {
        run(
            class(&dir.0, &["up", roster])
                .env("LAB_IMAGE", image)
                .env("CHAT_MODE", "idle"),
            limit,
        )
    };
    // The first up builds the agent and the web server when missing; node 2 then lacks the
    // agent's image (the class test checks that refusal): carried, up again.
    let first = up(LIMIT_BUILD);
    if first.code() != Some(0) {
        swarm.give_node2(AGENT_IMAGE);
        up(LIMIT).expect_success();
    }
    let ran = run(&mut class(&dir.0, &["web"]), LIMIT).expect_success();
    let teacher = ran.stdout().trim().to_string();
    assert!(
        teacher.starts_with("https://") && teacher.contains("/t/"),
        "web prints the teacher's link on stdout:\n{}",
        ran.report
    );
    assert!(
        ran.stderr().contains("certificate's SHA-256: ") && ran.stderr().contains("links.csv"),
        "web says the certificate's fingerprint and where the links are:\n{}",
        ran.report
    );
    let teacher_secret = teacher.rsplit('/').next().unwrap().to_string();
    // links.csv: id,name,url; each secret 32 characters of URL-safe base64 (192 bits).
    let csv = fs::read_to_string(dir.0.join("class/links.csv")).unwrap();
    let mut secrets = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let secret = f[2].rsplit('/').next().unwrap();
        assert_eq!(secret.len(), 32, "{line}");
        assert!(
            secret
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{line}"
        );
        secrets.insert(f[0].to_string(), secret.to_string());
    }
    assert_eq!(
        secrets.keys().collect::<Vec<_>>(),
        ["alice", "bob"],
        "{csv}"
    );
    let agents = fs::read_to_string(dir.0.join("class/agents.txt")).unwrap();
    assert_eq!(agents.lines().count(), 2, "one agent a node: {agents}");

    // 1. A link: 303 to the lab's clean address, the secret as a strict cookie.
    let (code, _) = curl(&["-o", "/dev/null", &format!("{BASE}/s/{}", secrets["alice"])]);
    assert_eq!(code, 303);
    let head = kit::output(Command::new("curl").args([
        "-k",
        "-s",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("{BASE}/s/{}", secrets["alice"]),
    ]));
    let head = String::from_utf8_lossy(&head.stdout).to_lowercase();
    assert!(
        head.contains("location: /lab/alice/")
            && head.contains("httponly")
            && head.contains("secure")
            && head.contains("samesite=strict"),
        "{head}"
    );

    // 2. Every endpoint of each lab, with every cookie: its student and the teacher get in,
    // the other student, none and a forged one get 403.
    let cookie = |who: &str| match who {
        "teacher" => format!("chatlab_teacher={teacher_secret}"),
        "none" => "x=y".to_string(),
        "forged" => "chatlab_student=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        // A student's secret offered as the teacher's: still a student.
        "alice-as-teacher" => format!("chatlab_teacher={}", secrets["alice"]),
        id => format!("chatlab_student={}", secrets[id]),
    };
    // (Saved first, so that the reads below find it.)
    for id in ["alice", "bob"] {
        let (code, body) = curl(&[
            "-X",
            "PUT",
            "-b",
            &cookie(id),
            "-H",
            &format!("Origin: {BASE}"),
            "--data-binary",
            &format!("print('{id}')\n"),
            &format!("{BASE}/lab/{id}/files/q1.py"),
        ]);
        assert_eq!((code, body.trim()), (200, "saved"));
    }
    for lab in ["alice", "bob"] {
        for who in [
            "alice",
            "bob",
            "teacher",
            "none",
            "forged",
            "alice-as-teacher",
        ] {
            let allowed = who == lab || who == "teacher";
            let c = cookie(who);
            for path in [
                "/",
                "/me",
                "/files",
                "/files/q1.py",
                "/files/q1.py?download=1",
                "/view/captures",
            ] {
                let (code, body) = curl(&["-b", &c, &format!("{BASE}/lab/{lab}{path}")]);
                if allowed {
                    assert_eq!(code, 200, "{who} on {lab}{path}: {body}");
                } else {
                    assert_eq!(code, 403, "{who} on {lab}{path}: {body}");
                    assert!(!body.contains(&format!("print('{lab}')")), "{body}");
                }
            }
            let (code, _) = curl(&[
                "-X",
                "PUT",
                "-b",
                &c,
                "-H",
                &format!("Origin: {BASE}"),
                "--data-binary",
                "pwned",
                &format!("{BASE}/lab/{lab}/files/q2.py"),
            ]);
            assert_eq!(
                code,
                if allowed { 200 } else { 403 },
                "{who} saves in {lab}"
            );
            if !allowed {
                // (An allowed one would run a check: the browser's part does, below.)
                let (code, _) = post(&c, &format!("/lab/{lab}/check?role=q1"));
                assert_eq!(code, 403, "{who} checks in {lab}");
            }
            let opened = upgrade(&c, &format!("/lab/{lab}/term/client"), BASE);
            assert_eq!(
                opened,
                if allowed { 101 } else { 403 },
                "{who}'s terminal in {lab}"
            );
        }
        // The teacher's routes: the teacher only.
        for who in ["alice", "bob", "none", "forged", "alice-as-teacher"] {
            for path in [
                "/teacher/",
                "/teacher/labs",
                "/teacher/grades/report.csv",
                "/teacher/verdicts.csv",
            ] {
                let (code, _) = curl(&["-b", &cookie(who), &format!("{BASE}{path}")]);
                assert_eq!(code, 403, "{who} on {path}");
            }
            for path in ["/teacher/grade", "/teacher/reset/alice"] {
                let (code, _) = post(&cookie(who), path);
                assert_eq!(code, 403, "{who} posts {path}");
            }
        }
    }
    let (code, body) = curl(&[
        "-b",
        &cookie("alice"),
        &format!("{BASE}/lab/alice/files/q1.py"),
    ]);
    assert_eq!((code, body.as_str()), (200, "print('alice')\n"));
    // Names that leave work/ (or hide in it): refused, whoever asks.
    for name in [
        "..%2F..%2Fetc%2Fpasswd",
        ".bashrc",
        "..",
        "a%2Fb",
        "%2Fetc%2Fpasswd",
    ] {
        // (--path-as-is: curl would resolve the dots itself.)
        let (code, body) = curl(&[
            "--path-as-is",
            "-b",
            &cookie("alice"),
            &format!("{BASE}/lab/alice/files/{name}"),
        ]);
        assert!(code == 400 || code == 404, "{name}: {code} {body}");
        assert!(!body.contains("root:"), "{name}: {body}");
    }
    // A path that climbs out of bob's lab into alice's: not alice's files.
    let (code, body) = curl(&[
        "--path-as-is",
        "-b",
        &cookie("bob"),
        &format!("{BASE}/lab/bob/../alice/files/q1.py"),
    ]);
    assert!(code != 200 && !body.contains("alice"), "{code} {body}");
    // A symbolic link in work/ is neither listed nor read through.
    run(
        &mut class(
            &dir.0,
            &[
                "exec",
                "alice",
                "server",
                "ln",
                "-sfn",
                "/etc/passwd",
                "/work/link",
            ],
        ),
        LIMIT,
    )
    .expect_success();
    let (code, _) = curl(&[
        "-b",
        &cookie("alice"),
        &format!("{BASE}/lab/alice/files/link"),
    ]);
    assert_eq!(code, 404);
    let (_, list) = curl(&["-b", &cookie("alice"), &format!("{BASE}/lab/alice/files")]);
    assert!(list.contains("q1.py") && !list.contains("link"), "{list}");
    // Another Host: (DNS rebinding), another Origin: (cross-site WebSocket), no Origin on a
    // save: refused.
    let (code, _) = curl(&[
        "-H",
        "Host: evil.example:8443",
        "-b",
        &cookie("alice"),
        &format!("{BASE}/lab/alice/"),
    ]);
    assert_eq!(code, 421);
    assert_eq!(
        upgrade(
            &cookie("alice"),
            "/lab/alice/term/client",
            "https://evil.example"
        ),
        403
    );
    let (code, _) = curl(&[
        "-X",
        "PUT",
        "-b",
        &cookie("alice"),
        "--data-binary",
        "x",
        &format!("{BASE}/lab/alice/files/q3.py"),
    ]);
    assert_eq!(code, 403, "a save without Origin");
    // A check: from this server's page only; a role of the TD; a file of work/.
    let check = |query: &str, origin: bool| {
        let mut args = vec!["-X", "POST", "-b"];
        let c = cookie("alice");
        let o = format!("Origin: {BASE}");
        args.push(&c);
        if origin {
            args.extend(["-H", &o]);
        }
        let url = format!("{BASE}/lab/alice/check?{query}");
        args.extend(["--max-time", "5", &url]);
        curl(&args)
    };
    assert_eq!(check("role=q1", false).0, 403, "a check without Origin");
    for bad in [
        "role=q9",
        "role=q1&file=..%2F..%2Fetc%2Fpasswd",
        "role=q1&file=.bashrc",
        "role=q1&lang=de",
    ] {
        let (code, body) = check(bad, true);
        assert_eq!(code, 400, "{bad}: {body}");
    }
    // Too large a file: refused by its length, before its body is sent (`Expect:
    // 100-continue`: read and cut at the bound instead, the connection closed on bytes
    // unread, and its reset lost the answer: curl saw 100, then nothing), nothing written.
    let big = dir.0.join("big");
    fs::write(&big, vec![b'x'; 300 * 1024]).unwrap();
    let (code, _) = curl(&[
        "-X",
        "PUT",
        "-b",
        &cookie("alice"),
        "-H",
        "Expect: 100-continue",
        "-H",
        &format!("Origin: {BASE}"),
        "--data-binary",
        &format!("@{}", big.display()),
        &format!("{BASE}/lab/alice/files/big.txt"),
    ]);
    assert_eq!(code, 413);
    // No lab can reach the class's server (nor the agents: the class test).
    let addr = teacher
        .trim_start_matches("https://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let probe = run(
        &mut class(
            &dir.0,
            &[
                "exec",
                "alice",
                "client",
                "bash",
                "-c",
                &format!("timeout 3 bash -c '</dev/tcp/{addr}/8443' && echo reached || echo cut"),
            ],
        ),
        LIMIT,
    );
    assert_eq!(probe.stdout().trim(), "cut", "{}", probe.report);
    // 3. In a browser: alice's link, her lab. (Screenshots for the README.)
    let shots = kit::root().join("target/class-web");
    fs::create_dir_all(&shots).unwrap();
    let Some(mut b) = Browser::open(TEST, &format!("{BASE}/s/{}", secrets["alice"]), "fr") else {
        return;
    };
    b.wait_for(
        "location.pathname === '/lab/alice/'",
        Duration::from_secs(20),
    );
    assert_eq!(
        b.eval("location.href").as_str().unwrap(),
        format!("{BASE}/lab/alice/"),
        "the secret does not stay in the address"
    );
    for host in ["server", "client", "client2"] {
        b.wait_terminal(host, "/work#", 1);
    }
    // The sheets' duplex chat, by hand: server listens, client connects, lines cross.
    b.type_line("server", "chat duplex --listen");
    std::thread::sleep(Duration::from_millis(500));
    b.type_line("client", "chat duplex server");
    std::thread::sleep(Duration::from_millis(500));
    b.type_line("client", "bonjour, ça va ?");
    b.wait_terminal("server", "bonjour, ça va ?", 1);
    b.type_line("server", "très bien");
    b.wait_terminal("client", "très bien", 1);
    // The lab's live view (lab/view's page, its state made in the lab), in another tab: the
    // two chat processes of each side and their connection, established.
    let Some(mut v) = Browser::open(TEST, &format!("{BASE}/s/{}", secrets["alice"]), "fr") else {
        return;
    };
    v.wait_for(
        "location.pathname === '/lab/alice/'",
        Duration::from_secs(20),
    );
    v.goto(&format!("{BASE}/lab/alice/view/"));
    v.wait_for(
        "document.querySelector('#summary').textContent.includes('ESTABLISHED') && \
         document.querySelector('#hosts').textContent.includes('chat')",
        Duration::from_secs(60),
    );
    // The probes started with the lab's first terminal: the ladder holds the line typed.
    v.wait_for(
        "document.querySelector('#ladder').textContent.includes('bonjour')",
        Duration::from_secs(30),
    );
    // The hosts by their names (the addresses the swarm chose, as the lab resolves them).
    let ladder = v.text("#ladder");
    assert!(
        ladder.contains("client 10.") && ladder.contains("→ server 10."),
        "the ladder names the hosts: {ladder:.300}"
    );
    v.screenshot(&shots.join("view.png"), false);
    // The replay: the student's own captures (/captures of the lab, as lab/capture names
    // them), one drawn segment by segment — by the code lab/view runs, in the lab.
    let sample = kit::root().join("lab/exercices/enseignants/echelles");
    for side in ["client", "server"] {
        let pcap = fs::read(sample.join(format!("02-timewait-{side}.pcap"))).unwrap();
        kit::run_with_stdin(
            &mut class(
                &dir.0,
                &[
                    "exec",
                    "alice",
                    side,
                    "sh",
                    "-c",
                    &format!("cat > /captures/essai-{side}.pcap"),
                ],
            ),
            &pcap,
            LIMIT,
        )
        .expect_success();
    }
    v.click("#tab-replay");
    v.wait_for(
        "[...document.querySelectorAll('#capture option')].some(o => o.value === 'essai')",
        Duration::from_secs(20),
    );
    v.select("#capture", "essai");
    v.wait_for(
        "document.querySelector('#replay-summary').textContent.includes('0/11')",
        Duration::from_secs(30),
    );
    v.click("#next");
    v.wait_for(
        "document.querySelector('#replay-summary').textContent.includes('1/11')",
        Duration::from_secs(10),
    );
    let (code, body) = curl(&[
        "-b",
        &cookie("alice"),
        &format!("{BASE}/lab/alice/view/replay?name=nope&lang=en"),
    ]);
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("no capture of that name"), "{body}");
    let (code, _) = curl(&[
        "-b",
        &cookie("bob"),
        &format!("{BASE}/lab/alice/view/replay?name=essai"),
    ]);
    assert_eq!(code, 403, "bob replays alice's capture");
    drop(v);
    // Ctrl-C reaches the program: the client's chat ends, its shell answers again.
    b.eval("window.terms.client.term.focus()");
    b.key("ctrl+c");
    b.wait_terminal("client", "/work#", 2);
    b.type_line("client", "echo fin-$((6*7))");
    b.wait_terminal("client", "fin-42", 1);

    // Files: q1.py opened, edited, saved; the file in the lab is the one saved.
    b.wait_for(
        "document.querySelector('#file-list li[data-name=\"q1.py\"]') !== null",
        Duration::from_secs(20),
    );
    b.click("#file-list li[data-name=\"q1.py\"]");
    b.wait_for(
        "document.querySelector('#editor').value.includes(\"print('alice')\")",
        Duration::from_secs(20),
    );
    b.save_editor("print('ça marche')\n", "enregistré");
    let cat = run(
        &mut class(&dir.0, &["exec", "alice", "client", "cat", "/work/q1.py"]),
        LIMIT,
    )
    .expect_success();
    assert_eq!(cat.stdout(), "print('ça marche')\n");
    // A check of q1.py, which prints but does not listen: verdicts, the failing ones first.
    let verdicts = |b: &mut Browser| {
        b.eval("[...document.querySelectorAll('#verdicts li')].map(l => l.className).join(',')")
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let rank = |v: &str| {
        ["fail", "warn", "pass", "info", "skip"]
            .iter()
            .position(|r| *r == v)
    };
    b.eval("document.querySelector('#check-role').value = 'q1'");
    b.click("#check");
    b.wait_for(
        "document.querySelector('#check-status').textContent.startsWith('q1.py :')",
        Duration::from_secs(180),
    );
    let shown = verdicts(&mut b);
    let ranks: Vec<_> = shown.split(',').map(rank).collect();
    assert!(
        shown.starts_with("fail") && ranks.iter().all(Option::is_some) && ranks.is_sorted(),
        "the verdicts, the failing ones first: {shown}"
    );
    // The TD's server, right: every criterion passes.
    let good = fs::read_to_string(kit::root().join("tests/check/q1/good_loop.py")).unwrap();
    b.save_editor(&good, "enregistré");
    b.eval("document.querySelector('#check-file').value = 'q1.py'");
    b.click("#check");
    b.wait_for(
        "document.querySelector('#check-status').textContent.includes('0 échoué(s)')",
        Duration::from_secs(180),
    );
    let shown = verdicts(&mut b);
    assert!(
        !shown.is_empty() && shown.split(',').all(|v| v == "pass" || v == "info"),
        "{shown}"
    );
    b.screenshot(&shots.join("student.png"), false);

    // A deadlock, as sheet 3 makes one: both sides start by waiting for the other's line.
    b.type_line("server", "chat alternate --listen --first receive");
    std::thread::sleep(Duration::from_millis(500));
    b.type_line("client", "chat alternate server --first receive");

    // 4. The teacher's page, in another browser: both students, alice online.
    let Some(mut t) = Browser::open(TEST, &teacher, "fr") else {
        return;
    };
    t.wait_for("location.pathname === '/teacher/'", Duration::from_secs(20));
    t.wait_for(
        "(() => { const r = document.querySelector('tr[data-id=\"alice\"]'); \
         return !!r && r.textContent.includes('oui (3)'); })()",
        Duration::from_secs(20),
    );
    t.wait_for(
        "(() => { const r = document.querySelector('tr[data-id=\"bob\"]'); \
         return !!r && r.textContent.includes('non'); })()",
        Duration::from_secs(20),
    );
    // bob opens his link too: both online.
    let Some(mut bob) = Browser::open(TEST, &format!("{BASE}/s/{}", secrets["bob"]), "en") else {
        return;
    };
    bob.wait_terminal("client", "/work#", 1);
    t.wait_for(
        "(() => { const r = document.querySelector('tr[data-id=\"bob\"]'); \
         return !!r && r.textContent.includes('oui (3)'); })()",
        Duration::from_secs(20),
    );
    t.wait_for(
        "document.querySelector('#summary').textContent.includes('2 en ligne')",
        Duration::from_secs(20),
    );
    drop(bob);
    // What runs in alice's lab, and the deadlock, in her row.
    t.wait_for(
        "(() => { const c = document.querySelector('tr[data-id=\"alice\"] td.inlab'); \
         return !!c && c.textContent.includes('interblocage') && c.textContent.includes('chat') \
         && c.textContent.includes('ESTABLISHED'); })()",
        Duration::from_secs(40),
    );
    // alice's check is in the grid; « grade all » checks every role of both, with progress.
    t.wait_for(
        "document.querySelector('tr[data-id=\"alice\"] td[data-role=\"q1\"] .v.pass') !== null",
        Duration::from_secs(20),
    );
    t.click("#grade");
    t.wait_for(
        "document.querySelector('#grading').textContent.includes('notation finie (12')",
        Duration::from_secs(600),
    );
    for (id, role, verdict) in [
        ("alice", "q1", "pass"),
        ("bob", "q1", "fail"),
        ("alice", "q4-server", "none"),
        ("bob", "q3-client", "none"),
    ] {
        t.wait_for(
            &format!(
                "document.querySelector('tr[data-id=\"{id}\"] td[data-role=\"{role}\"] .v.{verdict}') !== null"
            ),
            Duration::from_secs(10),
        );
    }
    let (code, csv) = curl(&[
        "-b",
        &cookie("teacher"),
        &format!("{BASE}/teacher/verdicts.csv"),
    ]);
    assert_eq!(code, 200);
    assert!(
        csv.contains("\nalice,q1,pass,") && csv.contains("\nbob,q1,fail,"),
        "{csv}"
    );
    // No check's container is left on either node.
    let ps = ["ps", "-aq", "--filter", "label=chatlab.class.check=1"];
    for mut docker in [Command::new("docker"), swarm.node2(&[])] {
        let left = kit::output(docker.args(ps));
        assert!(left.stdout.is_empty(), "a check's container is left");
    }
    t.screenshot(&shots.join("teacher.png"), false);
    // The teacher resets bob's lab (two clicks): fresh hosts (new containers), his files kept.
    let bob_server = |swarm: &Swarm| {
        let filter = [
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            "label=chatlab.class.student=bob",
            "--filter",
            "label=chatlab.class.host=server",
        ];
        [Command::new("docker"), swarm.node2(&[])]
            .into_iter()
            .map(|mut docker| {
                String::from_utf8_lossy(&kit::output(docker.args(filter)).stdout)
                    .trim()
                    .to_string()
            })
            .collect::<String>()
    };
    let before = bob_server(&swarm);
    assert!(!before.is_empty(), "bob's server is not running");
    t.click("tr[data-id=\"bob\"] button.reset");
    t.click("tr[data-id=\"bob\"] button.reset");
    t.wait_for(
        "document.querySelector('tr[data-id=\"bob\"] button.reset').textContent === 'réinitialisé'",
        Duration::from_secs(30),
    );
    let after = kit::poll(Duration::from_secs(90), || {
        let now = bob_server(&swarm);
        (!now.is_empty() && now != before).then_some(now)
    });
    assert!(after.is_some(), "bob's server was not started again");
    let cat = kit::poll(Duration::from_secs(60), || {
        let ran = run(
            &mut class(&dir.0, &["exec", "bob", "server", "cat", "/work/q1.py"]),
            LIMIT,
        );
        (ran.code() == Some(0)).then_some(ran)
    })
    .expect("bob's reset lab answers");
    assert_eq!(cat.stdout(), "print('bob')\n", "bob's files are kept");
    // The deadlock ended (Ctrl-C on both sides): the banner goes.
    for host in ["client", "server"] {
        b.eval(&format!("window.terms.{host}.term.focus()"));
        b.key("ctrl+c");
    }
    b.type_line("client", "echo apres-$((3*3))");
    b.wait_terminal("client", "apres-9", 1);
    t.wait_for(
        "!document.querySelector('tr[data-id=\"alice\"] td.inlab').textContent.includes('interblocage')",
        Duration::from_secs(40),
    );
    // The teacher opens alice's tab: alice's page says the teacher is there, until they leave.
    // (At the teacher's link's own address: its cookie is that host's.)
    let origin = teacher.split("/t/").next().unwrap();
    t.goto(&format!("{origin}/lab/alice/"));
    // The same shell as alice's (her screen so far), read-only for the teacher.
    t.wait_terminal("client", "fin-42", 1);
    b.wait_for(
        "!document.querySelector('#teacher-here').hidden && \
         document.querySelector('#teacher-here').textContent.includes('enseignant est dans')",
        Duration::from_secs(20),
    );
    let label = |host: &str| {
        format!("document.querySelector('section[data-host=\"{host}\"] .keyboard').textContent")
    };
    t.wait_for(
        &format!("{}.includes('lecture seule')", label("client")),
        Duration::from_secs(20),
    );
    t.type_line("client", "echo prof-$((40+2))");
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !b.terminal_text("client").contains("prof-42"),
        "the teacher typed in alice's shell without the keyboard"
    );
    // The teacher takes the keyboard: alice's page says so; the teacher's line runs in her
    // shell, hers does not; given back, hers does again.
    t.click("section[data-host=\"client\"] .take");
    b.wait_for(
        &format!("{}.includes('enseignant a le clavier')", label("client")),
        Duration::from_secs(20),
    );
    b.type_line("client", "echo eleve-$((1+1))");
    t.type_line("client", "echo prof-$((40+2))");
    b.wait_terminal("client", "prof-42", 1);
    assert!(!t.terminal_text("client").contains("eleve-2"));
    t.click("section[data-host=\"client\"] .take");
    b.wait_for(
        &format!("{}.trim() === ''", label("client")),
        Duration::from_secs(20),
    );
    b.type_line("client", "echo eleve-$((1+1))");
    t.wait_terminal("client", "eleve-2", 1);
    drop(t);
    b.wait_for(
        "document.querySelector('#teacher-here').hidden",
        Duration::from_secs(20),
    );

    // 5. The tab closed and opened again: the lab as it was — its files, and its shells with
    // what runs in them (a cat, in client2's), their screens so far.
    b.type_line("client2", "cat");
    b.type_line("client2", "avant-fermeture");
    b.wait_terminal("client2", "avant-fermeture", 2);
    b.goto("about:blank");
    std::thread::sleep(Duration::from_secs(2));
    b.goto(&format!("{BASE}/lab/alice/"));
    b.wait_terminal("client2", "avant-fermeture", 2);
    b.type_line("client2", "apres-reouverture");
    b.wait_terminal("client2", "apres-reouverture", 2);
    b.eval("window.terms.client2.term.focus()");
    b.key("ctrl+c");
    b.wait_terminal("client", "/work#", 1);
    b.wait_for(
        "document.querySelector('#file-list li[data-name=\"q1.py\"]') !== null",
        Duration::from_secs(20),
    );
    drop(b);

    // 6. Wrong secrets, again and again, from one address: 429 once past the allowance (for
    // a minute, right ones too: the pages already opened go on, by their cookies).
    let mut codes = Vec::new();
    for i in 0..25 {
        codes.push(curl(&["-o", "/dev/null", &format!("{BASE}/s/wrong{i:027}")]).0);
    }
    assert!(codes[..20].iter().all(|c| *c == 403), "{codes:?}");
    assert_eq!(codes[24], 429, "{codes:?}");

    let (code, _) = curl(&["-o", "/dev/null", &format!("{BASE}/s/{}", secrets["bob"])]);
    assert_eq!(code, 429);
    let (code, _) = curl(&[
        "-o",
        "/dev/null",
        "-b",
        &cookie("bob"),
        &format!("{BASE}/lab/bob/me"),
    ]);
    assert_eq!(code, 200);

    // 7. down: the web server goes with the class.
    // (--purge: the students' files too, so that no later run finds this one's.)
    run(&mut class(&dir.0, &["down", "--purge"]), LIMIT).expect_success();
    let left = kit::output(Command::new("docker").args([
        "ps",
        "-aq",
        "--filter",
        "label=chatlab.class.web",
    ]));
    assert!(left.stdout.is_empty(), "the web server is left after down");
    let volumes = swarmkit::class_volumes();
    assert!(
        volumes.is_empty(),
        "the students' volumes are left after down --purge: {}",
        volumes
    );
    drop(swarm);
}
