//! `lab/class`: a class of labs on a real Docker Swarm. The roster's errors without Docker;
//! then, on a swarm of two nodes (this machine's engine and a second one in a network
//! namespace, from swarmkit), six students' labs: spread over both nodes, each lab's three
//! hosts on one node, `chat` between client and server in every lab, `exec` through the
//! class's agent on both nodes (pipes, exit statuses, a terminal; refusals), each lab cut off
//! from the others, from the machines and from the agents, `up` again creating nothing, an
//! interrupted `up` completed by the next, and `down` leaving nothing. Needs root and Docker:
//! fails without them under CI, skipped elsewhere.

mod kit;
mod labkit;
mod swarmkit;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kit::{Ran, run};
use swarmkit::{Dir, Swarm, class};

const LIMIT: Duration = Duration::from_secs(300);
/// An `up` that may build the class's agent first (cargo, then its image).
const LIMIT_BUILD: Duration = Duration::from_secs(900);
/// The class's agent: its image, its port.
const AGENT_IMAGE: &str = "chatlab-agent:latest";
const AGENT_PORT: u16 = 7171;

/// The roster's faults: one `lab: …` line naming the file and line, exit 2, and nothing
/// created (no class folder, no call to Docker needed).
#[test]
fn a_bad_roster_is_one_line_and_creates_nothing() {
    let dir = Dir::new("roster");
    let cases: &[(&str, &str, &str)] = &[
        ("empty.txt", "", "names no student"),
        ("blank.txt", "\n# only a comment\n\n", "names no student"),
        (
            "dup.txt",
            "alice\nbob,Bob\nalice,Alice B.\n",
            "dup.txt:3: 'alice' is already on line 1",
        ),
        (
            "space.txt",
            "alice\nal ice\n",
            "space.txt:2: 'al ice' is not a student ID",
        ),
        (
            "slash.txt",
            "../etc\n",
            "slash.txt:1: '../etc' is not a student ID",
        ),
        (
            "escape.txt",
            "a\x1b[31mb\n",
            "escape.txt:1: 'a?[31mb' is not a student ID",
        ),
        (
            "long.txt",
            "abcdefghijabcdefghijabcdefghijabc\n",
            "longer than 32 characters",
        ),
    ];
    for (name, text, message) in cases {
        let roster = dir.roster(name, text);
        run(&mut class(&dir.0, &["up", roster.to_str().unwrap()]), LIMIT)
            .expect_code(2)
            .expect_one_line_error(message);
    }
    run(
        &mut class(&dir.0, &["up", "/nonexistent/roster.txt"]),
        LIMIT,
    )
    .expect_code(2)
    .expect_one_line_error("no roster file '/nonexistent/roster.txt'");
    // A roster that is fine, but a range of addresses that is not.
    let roster = dir.roster("ok.txt", "alice\nbob\n");
    for (range, message) in [
        ("10.100.0.0", "is not a range like"),
        ("10.100.0.0/25", "from /8 to /24"),
        ("10.100.1.0/16", "does not start on a /16 boundary"),
    ] {
        run(
            class(&dir.0, &["up", roster.to_str().unwrap()]).env("LAB_CLASS_NET", range),
            LIMIT,
        )
        .expect_code(2)
        .expect_one_line_error(message);
    }
    assert!(
        !dir.0.join("class").exists(),
        "a refused roster created the class folder"
    );
    // An engine too old for swarm jobs' era, and a machine that is a swarm worker: one line
    // each saying what to do (a stub `docker` first on PATH plays the engine, as rbenv's
    // tests stub commands; the real worker is refused on the two-node swarm below).
    let stubs = dir.0.join("stubs");
    for (engine, state, message) in [
        (
            "19.03.15",
            "inactive false",
            "Docker 19.03.15 is too old for the class: it needs 20.10 or later",
        ),
        (
            "20.10.24",
            "active false",
            "this machine is a swarm worker: run lab/class on a manager",
        ),
    ] {
        fs::create_dir_all(&stubs).unwrap();
        let stub = stubs.join("docker");
        fs::write(
            &stub,
            format!(
                "#!/bin/sh\ncase $1 in version) echo {engine} ;; info) echo '{state}' ;; \
                 *) echo \"unexpected: docker $*\" >&2; exit 99 ;; esac\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap());
        run(
            class(&dir.0, &["up", roster.to_str().unwrap()]).env("PATH", path),
            LIMIT,
        )
        .expect_code(1)
        .expect_one_line_error(message);
    }
    // Bad commands.
    run(&mut class(&dir.0, &["frobnicate"]), LIMIT)
        .expect_code(2)
        .expect_one_line_error("unknown command 'frobnicate'");
    run(&mut class(&dir.0, &["up"]), LIMIT)
        .expect_code(2)
        .expect_one_line_error("which roster?");
}

/// The hosts of the class: (student, host) → (node id, container id), from each node's own
/// daemon.
fn hosts(swarm: &Swarm, nodes: &[String]) -> BTreeMap<(String, String), (String, String)> {
    let mut found = BTreeMap::new();
    for node in nodes {
        let out = kit::output(&mut swarm.on(
            node,
            &[
                "ps",
                "--filter",
                "label=chatlab.class=1",
                "--format",
                r#"{{.ID}} {{.Label "chatlab.class.student"}} {{.Label "chatlab.class.host"}}"#,
            ],
        ));
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let w: Vec<&str> = line.split_whitespace().collect();
            if let [id, student, host] = w[..] {
                found.insert(
                    (student.to_string(), host.to_string()),
                    (node.clone(), id.to_string()),
                );
            }
        }
    }
    found
}

/// `sh -c SCRIPT` in a host's container, on its node, stdin closed.
fn in_host(swarm: &Swarm, at: &(String, String), script: &str) -> Ran {
    run(
        &mut swarm.on(&at.0, &["exec", &at.1, "sh", "-c", script]),
        LIMIT,
    )
}

/// The swarm's services FILTER selects, their ids.
fn services_with(filter: &str) -> String {
    let out = kit::output(Command::new("docker").args(["service", "ls", "-q", "--filter", filter]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Nothing of the class on any node: no service, and (once each node has removed its
/// stopped containers, seconds after `down`) no container nor network.
fn no_class_left(swarm: &Swarm, nodes: &[String]) {
    let gone = kit::poll(Duration::from_secs(30), || {
        nodes
            .iter()
            .all(|node| {
                kit::output(
                    &mut swarm.on(node, &["ps", "-aq", "--filter", "label=chatlab.class=1"]),
                )
                .stdout
                .is_empty()
            })
            .then_some(())
    });
    assert!(
        gone.is_some(),
        "containers of the class still there 30 s after down"
    );
    let services = services_with("label=chatlab.class=1");
    assert!(services.is_empty(), "services left: {services}");
    let secrets = kit::output(Command::new("docker").args([
        "secret",
        "ls",
        "-q",
        "--filter",
        "label=chatlab.class=1",
    ]));
    assert!(
        secrets.stdout.is_empty(),
        "secrets left (the agent's token): {}",
        String::from_utf8_lossy(&secrets.stdout)
    );
    for node in nodes {
        for what in [
            &["ps", "-aq", "--filter", "label=chatlab.class=1"][..],
            &["network", "ls", "-q", "--filter", "label=chatlab.class=1"][..],
        ] {
            let out = kit::output(&mut swarm.on(node, what));
            assert!(
                out.stdout.is_empty(),
                "left on node {node}: {what:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

/// `lab/class ARGS` under a terminal (`script`), TYPED on its keyboard once it has started,
/// the keyboard left open until it ends: its status and what the terminal showed.
fn in_a_terminal(dir: &Path, args: &str, typed: &str) -> (Option<i32>, String) {
    let line = format!("{} {args}", kit::root().join("lab/class").display());
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(kit::root())
        .env("LAB_CLASS_DIR", dir.join("class"))
        .env_remove("LAB_DEBUG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script (util-linux)");
    let mut keyboard = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    keyboard.write_all(typed.as_bytes()).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(keyboard);
    let mut shown = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut shown);
    (status, shown)
}

#[test]
fn a_class_of_six_on_two_nodes() {
    const TEST: &str = "a_class_of_six_on_two_nodes";
    let Some(image) = labkit::image_for(TEST) else {
        return;
    };
    let Some(swarm) = Swarm::up(TEST, 2, image) else {
        return;
    };
    let dir = Dir::new("six");
    let roster = dir.roster(
        "roster.txt",
        "# TD Chat, groupe 1\nalice,Alice Martin\nbob,Bob\ncarol\r\ndave,Dave D.\n\nerin\nfrank\n",
    );
    let roster = roster.to_str().unwrap();
    let students = ["alice", "bob", "carol", "dave", "erin", "frank"];
    let nodes = vec![swarm.manager_id(), swarm.node2_id()];

    // 0. A lab's subnet taken by another network (a compose lab's, say): one line, exit 2,
    // and no lab created.
    let collide = format!("chatlab-test-collide-{}", std::process::id());
    kit::run_ok(Command::new("docker").args([
        "network",
        "create",
        "--subnet",
        "10.100.0.0/24",
        &collide,
    ]));
    let refused = run(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        LIMIT,
    );
    let _ = kit::output(Command::new("docker").args(["network", "rm", &collide]));
    refused.expect_code(2).expect_one_line_error(&format!(
        "alice's subnet 10.100.0.0/24 overlaps the network {collide} (10.100.0.0/24)"
    ));
    no_class_left(&swarm, &nodes);
    // Run on node 2, a worker: refused in one line.
    run(
        class(&dir.0, &["up", roster])
            .env("LAB_IMAGE", image)
            .env("DOCKER_HOST", swarm.node2_host()),
        LIMIT,
    )
    .expect_code(1)
    .expect_one_line_error("this machine is a swarm worker: run lab/class on a manager");

    // 1. Up, first: the class's agent is built here (when missing or older than agent/), and
    // node 2 lacks its image: one line says how it travels, and no lab is created. Carried
    // so, up: N of M as they come, a summary; the image checks found both on both nodes.
    let first = run(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        LIMIT_BUILD,
    )
    .expect_code(1);
    let last = first.stderr().lines().last().unwrap_or("").to_string();
    assert!(
        last.contains(&format!("lack the image {AGENT_IMAGE}"))
            && last.contains("docker load < chatlab-agent.tar")
            && last.contains(&format!("docker save {AGENT_IMAGE} > chatlab-agent.tar")),
        "node 2 lacks the agent's image: the remedy expected:\n{}",
        first.report
    );
    assert!(
        hosts(&swarm, &nodes).is_empty(),
        "a lab created without the agent's image on every node"
    );
    swarm.give_node2(AGENT_IMAGE);
    let up = run(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        LIMIT,
    )
    .expect_success();
    let said = up.stderr();
    assert!(
        said.contains("lab: 6 of 6 labs up") && said.contains("the class is up: 6 labs, 6 new"),
        "progress and summary expected:\n{}",
        up.report
    );

    // 2. Each lab's three hosts on one node; the labs split three and three.
    let found = hosts(&swarm, &nodes);
    let mut per_node: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for s in students {
        let at: BTreeSet<&String> = ["server", "client", "client2"]
            .iter()
            .map(|h| {
                &found
                    .get(&(s.to_string(), h.to_string()))
                    .unwrap_or_else(|| panic!("{s}'s {h} runs nowhere: {found:?}"))
                    .0
            })
            .collect();
        assert_eq!(at.len(), 1, "{s}'s hosts on several nodes: {at:?}");
        per_node
            .entry(at.into_iter().next().unwrap().clone())
            .or_default()
            .insert(s);
    }
    assert_eq!(
        per_node.values().map(BTreeSet::len).collect::<Vec<_>>(),
        [3, 3],
        "six labs over two nodes, three each: {per_node:?}"
    );

    // 3. Status: a line per lab, its node, its three hosts running.
    let status = run(&mut class(&dir.0, &["status"]), LIMIT).expect_success();
    let lines: Vec<String> = status.stdout().lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 6, "one line per lab:\n{}", status.report);
    for (s, line) in students.iter().zip(&lines) {
        let node = &found[&(s.to_string(), "server".to_string())].0;
        assert!(
            line.starts_with(s)
                && line.contains(&node[..12])
                && line.matches(": running").count() == 3,
            "{s}: node {node} and three hosts running expected in: {line}"
        );
    }

    // 4. In every lab, client → server by name: the line reaches the server's program
    // (chat duplex --listen -k, CHAT_MODE's default), as in the compose lab.
    for s in students {
        let client = &found[&(s.to_string(), "client".to_string())];
        let line = format!("bonjour de {s}");
        in_host(
            &swarm,
            client,
            &format!("printf '%s\\n' '{line}' | chat send --retry 5 server"),
        )
        .expect_success();
        let server = &found[&(s.to_string(), "server".to_string())];
        let logs = kit::poll(Duration::from_secs(10), || {
            let out = kit::output(&mut swarm.on(&server.0, &["logs", &server.1]));
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            text.contains(&line).then_some(text)
        });
        assert!(logs.is_some(), "{s}'s server never printed {line:?}");
    }

    // exec, through the agent of the lab's node, the same on both: a command's output, stdin
    // through a pipe (to the lab's server), the command's exit status, a terminal.
    let manager = swarm.manager_id();
    let node2 = swarm.node2_id();
    for s in students {
        let ran = run(
            &mut class(&dir.0, &["exec", s, "client", "hostname"]),
            LIMIT,
        )
        .expect_success();
        assert_eq!(ran.stdout().trim(), "client", "{}", ran.report);
    }
    let token = dir.0.join("class/agent.token");
    let mode = fs::metadata(&token)
        .expect("class/agent.token")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the agent's token is the teacher's only"
    );
    let on = |node: &String| {
        *students
            .iter()
            .find(|s| &found[&(s.to_string(), "client".to_string())].0 == node)
            .expect("a lab on each node")
    };
    let (on_manager, on_node2) = (on(&manager), on(&node2));
    for (s, node) in [(on_manager, "the manager"), (on_node2, "node 2")] {
        let line = format!("par l'agent de {node}, {s}");
        let sent = kit::run_with_stdin(
            &mut class(&dir.0, &["exec", s, "client", "chat", "send", "server"]),
            format!("{line}\n").as_bytes(),
            LIMIT,
        )
        .expect_success();
        assert!(
            sent.stderr().contains("connected to"),
            "chat send, through lab/class exec on {node}:\n{}",
            sent.report
        );
        let server = &found[&(s.to_string(), "server".to_string())];
        let logs = kit::poll(Duration::from_secs(10), || {
            let out = kit::output(&mut swarm.on(&server.0, &["logs", &server.1]));
            String::from_utf8_lossy(&out.stdout)
                .contains(&line)
                .then_some(())
        });
        assert!(logs.is_some(), "{s}'s server never printed {line:?}");
        run(
            &mut class(&dir.0, &["exec", s, "server", "sh", "-c", "exit 7"]),
            LIMIT,
        )
        .expect_code(7);
        let took = run(&mut class(&dir.0, &["exec", s, "client", "true"]), LIMIT)
            .expect_success()
            .took;
        eprintln!("lab/class exec {s} client true, on {node}: {took:?}");
        let (status, shown) = in_a_terminal(&dir.0, &format!("exec {s} client"), "tty; exit 3\r");
        assert!(
            status == Some(3) && shown.contains("/dev/pts/"),
            "a shell with a terminal on {node}: status 3 and a /dev/pts path expected, got {status:?}:\n{shown}"
        );
    }

    // Refusals, each one line and the client's own status (125): a wrong token (through
    // lab/class, and straight to node 2's agent); a host that is no class host of that node:
    // a student not in the class, a lab of the other node, a container that has a lab's
    // labels but not the class's (the agent's own container cannot even be named: the agent
    // takes a student and a host, never a container); bad characters.
    let good = fs::read(&token).unwrap();
    fs::write(&token, "0".repeat(64)).unwrap();
    run(
        &mut class(&dir.0, &["exec", on_node2, "client", "true"]),
        LIMIT,
    )
    .expect_code(125)
    .expect_one_line_error("refused the token (401)");
    fs::write(&token, &good).unwrap();
    let bad_token = dir.roster("bad.token", &"f".repeat(64));
    let client = dir.0.join("class/chatlab-agent");
    let agent = |addr: &str, token: &Path, student: &str, host: &str| {
        let mut cmd = Command::new(&client);
        cmd.args([
            "exec",
            "--agent",
            &format!("{addr}:{AGENT_PORT}"),
            "--token-file",
        ])
        .arg(token)
        .args(["--student", student, "--host", host, "--", "hostname"]);
        run(&mut cmd, LIMIT).expect_code(125)
    };
    let (m, n2) = (swarm.manager_addr(), swarm.node2_addr());
    agent(n2, &bad_token, on_node2, "client").expect_one_line_error("refused the token (401)");
    agent(m, &bad_token, on_manager, "client").expect_one_line_error("refused the token (401)");
    agent(n2, &token, "nobody", "client")
        .expect_one_line_error("(404): no running client of nobody's lab on this node");
    agent(n2, &token, on_manager, "client")
        .expect_one_line_error(&format!("(404): no running client of {on_manager}'s lab"));
    agent(m, &token, on_node2, "server")
        .expect_one_line_error(&format!("(404): no running server of {on_node2}'s lab"));
    let intruder = kit::run_ok(Command::new("docker").args([
        "run",
        "-d",
        "--rm",
        "--label",
        "chatlab.class.student=intrus",
        "--label",
        "chatlab.class.host=client",
        image,
        "sleep",
        "120",
    ]));
    let intruder = String::from_utf8_lossy(&intruder.stdout).trim().to_string();
    let refused = agent(m, &token, "intrus", "client");
    let _ = kit::output(Command::new("docker").args(["rm", "-f", &intruder]));
    refused.expect_one_line_error("(404): no running client of intrus's lab");
    agent(m, &token, "../etc", "client")
        .expect_one_line_error("(400): '../etc' is not a student ID");
    agent(n2, &token, "al ice", "client").expect_one_line_error("is not a student ID");
    agent(n2, &token, on_node2, "agent").expect_one_line_error("(400): unknown host 'agent'");
    run(&mut class(&dir.0, &["exec", "../etc", "client"]), LIMIT)
        .expect_code(2)
        .expect_one_line_error("'../etc' is not a student ID");

    // 5. Isolation. From alice's client: the hosts of a lab on the other node and of one on
    // the same node are unreachable (ICMP, TCP), even with a route added by hand (the hosts
    // have NET_ADMIN: their network segment holds nobody else: no ARP answer); so are the
    // machines (the manager's address, Docker's bridge) and the agents (each node's address,
    // the agent's port).
    let alice = &found[&("alice".to_string(), "client".to_string())];
    let alice_node = &alice.0;
    let same = students[1..]
        .iter()
        .find(|s| &found[&(s.to_string(), "server".to_string())].0 == alice_node)
        .expect("another lab on alice's node");
    let other = students[1..]
        .iter()
        .find(|s| &found[&(s.to_string(), "server".to_string())].0 != alice_node)
        .expect("a lab on the other node");
    for s in [same, other] {
        let server = &found[&(s.to_string(), "server".to_string())];
        let addr = in_host(&swarm, server, "hostname -i")
            .expect_success()
            .stdout();
        let addr = addr.trim();
        let subnet = format!("{}.0/24", addr.rsplit_once('.').unwrap().0);
        let probe = in_host(
            &swarm,
            alice,
            &format!(
                "ping -c 1 -W 1 {addr} >/dev/null 2>&1 && echo PING-OK; \
                 timeout 3 bash -c 'echo x > /dev/tcp/{addr}/8080' 2>/dev/null && echo TCP-OK; \
                 ip route add {subnet} dev eth0; \
                 for i in 1 2 3 4 5 6 7 8 9 10; do ping -c 1 -W 1 {subnet_base}.$i >/dev/null 2>&1 && echo SWEEP-OK-$i; done; \
                 ip neigh show to {subnet} | grep -v FAILED | grep -v INCOMPLETE | grep . && echo NEIGH-OK; \
                 ip route del {subnet} dev eth0; echo done",
                subnet_base = addr.rsplit_once('.').unwrap().0
            ),
        )
        .expect_success();
        assert!(
            probe.stdout().trim() == "done",
            "alice's client reached {s}'s lab ({subnet}):\n{}",
            probe.report
        );
    }
    let out = in_host(
        &swarm,
        alice,
        &format!(
            "for a in {} 172.17.0.1 {}; do ping -c 1 -W 1 $a >/dev/null 2>&1 && echo REACHED-$a; \
             timeout 3 bash -c \"echo x > /dev/tcp/$a/2377\" 2>/dev/null && echo TCP-$a; \
             timeout 3 bash -c \"echo x > /dev/tcp/$a/{AGENT_PORT}\" 2>/dev/null && echo AGENT-$a; done; \
             ip route | grep -c default; true",
            swarm.manager_addr(),
            swarm.node2_addr()
        ),
    )
    .expect_success();
    assert_eq!(
        out.stdout().trim(),
        "0",
        "alice's client reached a machine, or has a default route:\n{}",
        out.report
    );

    // 6. Up again: nothing to create.
    let again = run(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        LIMIT,
    )
    .expect_success();
    assert!(
        again.stderr().contains("6 lab(s) already there")
            && again.stderr().contains("6 labs, 0 new"),
        "{}",
        again.report
    );

    // 7. Grade: each student's files checked by a swarm job on their lab's node (the files
    // are in that node's volume: a job anywhere else would find none), with lab/check
    // --class's containment; the grid is the one lab/check --class makes of the same files.
    grade(&dir, &swarm, &found, alice_node, image);
    let services = services_with("label=chatlab.class.grade=1");
    assert!(services.is_empty(), "grading jobs left: {services}");

    // 8. Down one student: when it returns, theirs run no more and only theirs; then the
    // whole class.
    run(&mut class(&dir.0, &["down", "bob"]), LIMIT).expect_success();
    let left = hosts(&swarm, &nodes);
    assert!(
        left.keys().all(|(s, _)| s != "bob") && left.len() == 15,
        "down bob: the 15 other hosts stay: {left:?}"
    );
    run(&mut class(&dir.0, &["down", "--purge"]), LIMIT).expect_success();
    no_class_left(&swarm, &nodes);
    drop(swarm);
}

/// Step 7 of the class of six: files handed in by three students (one on alice's node, two
/// on the other), `lab/class grade`, and the same files graded by `lab/check --class`: the
/// same grid.
fn grade(
    dir: &Dir,
    swarm: &Swarm,
    found: &BTreeMap<(String, String), (String, String)>,
    alice_node: &str,
    image: &str,
) {
    let corpus = kit::root().join("tests/check");
    let node_of = |s: &str| found[&(s.to_string(), "server".to_string())].0.clone();
    let far: Vec<String> = ["bob", "carol", "dave", "erin", "frank"]
        .iter()
        .filter(|s| node_of(s) != alice_node)
        .map(|s| s.to_string())
        .take(2)
        .collect();
    let alice_addr = in_host(
        swarm,
        &found[&("alice".into(), "server".into())],
        "hostname -i",
    )
    .expect_success()
    .stdout();
    // A program that listens as q1 asks only when it reaches neither another lab's server
    // nor a machine: the containment of the check decides its verdict.
    let reach = format!(
        "for a in {} {} 10.201.0.2; do timeout 2 bash -c \"</dev/tcp/$a/8080\" 2>/dev/null && exit 9; \
         timeout 2 bash -c \"</dev/tcp/$a/2377\" 2>/dev/null && exit 9; done\nexec python3 /work/good.py\n",
        alice_addr.trim(),
        swarm.manager_addr()
    );
    let read = |p: &str| fs::read_to_string(corpus.join(p)).unwrap();
    let handed: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "alice",
            vec![("q1.py", read("q1/good.py")), ("q2.py", read("q2/good.py"))],
        ),
        // A server without SO_REUSEADDR leaves port 8080 in TIME_WAIT: the next question is
        // checked in a fresh host all the same, as lab/check --class does.
        (
            &far[0],
            vec![
                ("q1.py", read("q1/no_reuseaddr.py")),
                ("q2.py", read("q2/good.py")),
            ],
        ),
        (
            &far[1],
            vec![("good.py", read("q1/good.py")), ("q1.sh", reach)],
        ),
    ];
    let local = dir.0.join("handed-in");
    for s in ["alice", "bob", "carol", "dave", "erin", "frank"] {
        fs::create_dir_all(local.join(s)).unwrap();
    }
    for (s, files) in &handed {
        let client = &found[&(s.to_string(), "client".to_string())];
        for (name, text) in files {
            assert!(!text.contains("\nEND-OF-FILE\n"));
            in_host(
                swarm,
                client,
                &format!("cat > /work/{name} <<'END-OF-FILE'\n{text}\nEND-OF-FILE\n"),
            )
            .expect_success();
            fs::write(local.join(s).join(name), format!("{text}\n")).unwrap();
        }
    }

    run(&mut class(&dir.0, &["grade", "--roles", "q1,q9"]), LIMIT)
        .expect_code(2)
        .expect_one_line_error("unknown role 'q9'");
    let graded = run(&mut class(&dir.0, &["grade"]), LIMIT).expect_success();
    let said = graded.stderr();
    assert!(
        said.contains("grading 6 students") && said.contains("4 checks at a time"),
        "{}",
        graded.report
    );
    for line in [
        "alice q1: pass".to_string(),
        format!("{} q1: fail", far[0]),
        format!("{} q2: pass", far[0]),
        format!("{} q1: pass", far[1]),
        "graded 6 students".to_string(),
    ] {
        assert!(
            said.contains(&line),
            "{line:?} expected:\n{}",
            graded.report
        );
    }
    let grid = fs::read_to_string(dir.0.join("class/grades/report.csv")).unwrap();
    assert!(dir.0.join("class/grades/report.html").is_file());
    let checked = run(
        Command::new(kit::root().join("lab/check"))
            .args(["--class", local.to_str().unwrap()])
            .env("LAB_IMAGE", image)
            .env_remove("LAB_DEBUG"),
        LIMIT,
    )
    .expect_success();
    let expected = fs::read_to_string(local.join("report.csv")).unwrap();
    assert_eq!(
        grid, expected,
        "lab/class grade and lab/check --class disagree on the same files\n{}\n{}",
        graded.report, checked.report
    );
    let rows: Vec<&str> = grid.lines().collect();
    assert_eq!(rows.len(), 7, "{grid}");
    assert!(
        rows[1].starts_with("alice,pass,pass,pass,"),
        "alice's q1 passes: {grid}"
    );
}

/// Run CMD in a process group of its own; once `docker LIST -q --filter FILTER` shows
/// something (it has begun, within WITHIN), two Ctrl-C 0.3 s apart, as a terminal sends
/// them; its output.
fn ctrl_c_twice(
    cmd: &mut Command,
    filter: &str,
    list: &[&str],
    within: Duration,
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("lab/class");
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let begun = kit::poll(within, || {
        let out = kit::output(
            Command::new("docker")
                .args(list)
                .args(["-q", "--filter", filter]),
        );
        (!out.stdout.is_empty()).then_some(())
    });
    assert!(
        begun.is_some(),
        "nothing matched {filter} in {within:?}: {cmd:?}"
    );
    for _ in 0..2 {
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT);
        std::thread::sleep(Duration::from_millis(300));
    }
    child.wait_with_output().expect("wait")
}

/// Ctrl-C twice during `up` leaves a class that the next `up` completes and `down` removes;
/// on a machine in no swarm, `up` makes a one-node swarm and says so.
#[test]
fn an_interrupted_up_is_completed_by_the_next() {
    const TEST: &str = "an_interrupted_up_is_completed_by_the_next";
    let Some(image) = labkit::image_for(TEST) else {
        return;
    };
    let Some(swarm) = Swarm::up(TEST, 1, image) else {
        return;
    };
    let dir = Dir::new("ctrlc");
    let names: Vec<String> = (1..=8).map(|i| format!("etu{i:02}")).collect();
    let roster = dir.roster("roster.txt", &(names.join("\n") + "\n"));
    let roster = roster.to_str().unwrap();

    // (On a fresh machine this first up builds the class's agent first: minutes.)
    let out = ctrl_c_twice(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        "label=chatlab.class.host",
        &["service", "ls"],
        LIMIT_BUILD,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.contains("making it a one-node swarm"),
        "a machine in no swarm is made one, and that is said:\n{stderr}"
    );
    // Interrupted, or finished before the signal landed: either way the next up completes.
    let up = run(
        class(&dir.0, &["up", roster]).env("LAB_IMAGE", image),
        LIMIT,
    )
    .expect_success();
    assert!(up.stderr().contains("8 of 8 labs up"), "{}", up.report);
    let status = run(&mut class(&dir.0, &["status"]), LIMIT).expect_success();
    assert_eq!(status.stdout().lines().count(), 8, "{}", status.report);

    // exec, through the agent of this one node: stdin passed through a pipe, the command's
    // exit status, one-line refusals.
    let mut send = class(
        &dir.0,
        &["exec", "etu03", "client", "chat", "send", "server"],
    );
    let sent = kit::run_with_stdin(&mut send, b"bonjour par exec\n", LIMIT).expect_success();
    assert!(
        sent.stderr().contains("connected to"),
        "chat send, through lab/class exec:\n{}",
        sent.report
    );
    let logs = kit::poll(Duration::from_secs(10), || {
        let id = kit::output(Command::new("docker").args([
            "ps",
            "-q",
            "--filter",
            "label=com.docker.swarm.service.name=chatlab-class-etu03-server",
        ]));
        let id = String::from_utf8_lossy(&id.stdout).trim().to_string();
        let out = kit::output(Command::new("docker").args(["logs", &id]));
        String::from_utf8_lossy(&out.stdout)
            .contains("bonjour par exec")
            .then_some(())
    });
    assert!(
        logs.is_some(),
        "etu03's server never printed the line sent by exec"
    );
    run(
        &mut class(&dir.0, &["exec", "etu03", "server", "sh", "-c", "exit 7"]),
        LIMIT,
    )
    .expect_code(7);
    run(&mut class(&dir.0, &["exec", "nobody", "client"]), LIMIT)
        .expect_code(1)
        .expect_one_line_error("nobody has no lab");
    run(&mut class(&dir.0, &["exec", "etu03", "router"]), LIMIT).expect_code(2);
    let join = run(&mut class(&dir.0, &["join"]), LIMIT).expect_success();
    assert!(
        join.stdout().contains("docker swarm join --token")
            && join.stdout().contains("docker load -i chatlab-host.tar")
            && join.stdout().contains("docker load -i chatlab-agent.tar"),
        "{}",
        join.report
    );
    // grade, interrupted by Ctrl-C twice while a check runs: no job, network nor container
    // of the grading is left, on any node.
    let spin = fs::read(kit::root().join("tests/check/q1/spin.py")).unwrap();
    kit::run_with_stdin(
        &mut class(
            &dir.0,
            &["exec", "etu03", "client", "sh", "-c", "cat > q1.py"],
        ),
        &spin,
        LIMIT,
    )
    .expect_success();
    let out = ctrl_c_twice(
        &mut class(&dir.0, &["grade"]),
        "label=chatlab.class.grade=1",
        &["ps"],
        Duration::from_secs(60),
    );
    assert_eq!(
        out.status.code(),
        Some(130),
        "grade, interrupted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let gone = kit::poll(Duration::from_secs(30), || {
        [
            &[
                "service",
                "ls",
                "-q",
                "--filter",
                "label=chatlab.class.grade=1",
            ][..],
            &[
                "network",
                "ls",
                "-q",
                "--filter",
                "label=chatlab.class.grade=1",
            ][..],
            &["ps", "-aq", "--filter", "label=chatlab.class.grade=1"][..],
        ]
        .iter()
        .all(|what| {
            kit::output(Command::new("docker").args(*what))
                .stdout
                .is_empty()
        })
        .then_some(())
    });
    assert!(
        gone.is_some(),
        "an interrupted grade left a job, its network or its container"
    );

    run(&mut class(&dir.0, &["down", "--purge"]), LIMIT).expect_success();
    let nodes = vec![swarm.manager_id()];
    no_class_left(&swarm, &nodes);
    let volumes = swarmkit::class_volumes();
    assert!(volumes.is_empty(), "--purge left volumes: {}", volumes);
    drop(swarm);
}
