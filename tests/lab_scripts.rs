//! The lab/ scripts (capture, ladder, wait, timewait, deadlock, help) run for real: their argument errors
//! without Docker, their success paths against a lab brought up by labkit. Docker is needed
//! for the latter: they fail without it under CI=true, and are skipped (with a message)
//! elsewhere.

mod kit;
mod labkit;
mod labscripts;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use kit::poll;
use kit::run;
use labkit::Lab;
use labscripts::{processes, remove_capture, script};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

const LIMIT: Duration = Duration::from_secs(120);

/// Bad arguments: one `lab: …` line on stderr and exit code 2, before any Docker call.
#[test]
fn scripts_refuse_bad_arguments_with_one_line_and_code_2() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("capture", &[], "which host?"),
        ("capture", &["nohost"], "unknown host 'nohost'"),
        (
            "capture",
            &["server", "--count", "x"],
            "--count needs a positive number",
        ),
        (
            "capture",
            &["server", "--duration", "0"],
            "--duration needs a positive number",
        ),
        (
            "capture",
            &["server", "--count", "1", "--duration", "1"],
            "not both",
        ),
        (
            "capture",
            &["server", "--name", "../etc/x"],
            "--name '../etc/x'",
        ),
        (
            "capture",
            &["server", "--bogus"],
            "unknown option '--bogus'",
        ),
        ("capture", &["--read", "/nonexistent.pcap"], "cannot read"),
        (
            "capture",
            &["--read", "x.pcap", "--count", "1"],
            "--read takes only",
        ),
        ("capture", &["server", "--wait", "x"], "--wait takes only"),
        (
            "wait",
            &["server"],
            "lab/wait HOST listening|connected PORT",
        ),
        (
            "wait",
            &["nohost", "listening", "80"],
            "unknown host 'nohost'",
        ),
        ("wait", &["server", "bogus", "80"], "wait for what?"),
        (
            "wait",
            &["server", "listening", "x"],
            "'x' is not a port number",
        ),
        (
            "wait",
            &["server", "listening", "80", "0"],
            "SECONDS must be",
        ),
        (
            "timewait",
            &["--port", "8080"],
            "--port needs a port number other than 8080",
        ),
        ("timewait", &["--port", "70000"], "--port needs"),
        ("timewait", &["extra"], "unknown argument 'extra'"),
        (
            "capture",
            &["client", "server", "client"],
            "a host is given twice",
        ),
        ("ladder", &[], "which captures?"),
        (
            "ladder",
            &["/nonexistent.pcap"],
            "cannot read '/nonexistent.pcap'",
        ),
        ("ladder", &["x.pcap", "--bogus"], "unknown option '--bogus'"),
        ("ladder", &["x.pcap", "--conn"], "--conn needs a value"),
        ("deadlock", &["--seconds", "0"], "--seconds needs"),
        ("deadlock", &["--name", "a/b"], "--name needs a file name"),
        (
            "help",
            &["nosuchscript"],
            "no lab script named 'nosuchscript'",
        ),
        ("help", &["lib.sh"], "no lab script named 'lib.sh'"),
        ("up", &["--bogus"], "unknown argument '--bogus'"),
        ("down", &["now"], "unknown argument 'now'"),
        ("help", &["--bogus"], "unknown option '--bogus'"),
    ];
    for (name, args, message) in cases {
        let ran = run(&mut script(None, name, args), LIMIT);
        let stderr = ran.stderr();
        assert_eq!(ran.code(), Some(2), "exit code 2 expected:\n{}", ran.report);
        assert!(
            stderr.starts_with("lab: ") && stderr.lines().count() == 1 && stderr.contains(message),
            "one `lab: …{message}…` line expected on stderr:\n{}",
            ran.report
        );
    }
}

/// Bad arguments in the students' language (lab/lang/*.sh): French under a French locale, or
/// with --lang fr wherever a script takes it (anywhere among its options), the English of
/// today under the C locale or with --lang en; one `lab: …` line saying what to do, code 2.
#[test]
fn scripts_refuse_bad_arguments_in_french_or_english() {
    // (script, arguments, takes --lang, French line, English line)
    let cases: &[(&str, &[&str], bool, &str, &str)] = &[
        (
            "view",
            &["--port", "x"],
            true,
            "--port attend un numéro de port, par exemple 8088",
            "--port needs a port number, e.g. 8088",
        ),
        (
            "check",
            &["q1", "--bogus"],
            true,
            "argument inconnu «\u{202f}--bogus\u{202f}»\u{a0}: le programme vient après --, \
             par exemple lab/check q1 -- python3 /work/prog.py",
            "unknown argument '--bogus': the program comes after --, e.g. lab/check q1 -- \
             python3 /work/prog.py",
        ),
        (
            "check",
            &["--class", "/nonexistent"],
            true,
            "le dossier /nonexistent n'existe pas",
            "no folder /nonexistent",
        ),
        (
            "ladder",
            &["/nonexistent.pcap"],
            true,
            "impossible de lire «\u{202f}/nonexistent.pcap\u{202f}»\u{a0}: ce fichier n'existe pas",
            "cannot read '/nonexistent.pcap': no such file",
        ),
        (
            "ladder",
            &[],
            true,
            "quelles captures\u{202f}? par exemple lab/ladder captures/05-ladder-*.pcap \
             (voir lab/help ladder)",
            "which captures? e.g. lab/ladder captures/05-ladder-*.pcap (see lab/help ladder)",
        ),
        (
            "wait",
            &["server", "listening", "x"],
            false,
            "«\u{202f}x\u{202f}» n'est pas un numéro de port",
            "'x' is not a port number",
        ),
        (
            "wait",
            &["nohost", "listening", "80"],
            false,
            "hôte inconnu «\u{202f}nohost\u{202f}»\u{a0}: les hôtes du lab sont server client client2",
            "unknown host 'nohost': the lab's hosts are server client client2",
        ),
        (
            "down",
            &["now"],
            false,
            "argument inconnu «\u{202f}now\u{202f}»\u{a0}: lab/down n'en prend aucun",
            "unknown argument 'now': lab/down takes none",
        ),
        (
            "help",
            &["nosuchscript"],
            false,
            "aucun script du lab ne s'appelle «\u{202f}nosuchscript\u{202f}»\u{a0}: voir lab/help",
            "no lab script named 'nosuchscript': see lab/help",
        ),
        (
            "up",
            &["--bogus"],
            true,
            "argument inconnu «\u{202f}--bogus\u{202f}»\u{a0}: lab/up [--build]",
            "unknown argument '--bogus': lab/up [--build]",
        ),
        (
            "capture",
            &["server", "--count", "x"],
            false,
            "--count attend un nombre positif de paquets, pas «\u{202f}x\u{202f}»",
            "--count needs a positive number of packets, not 'x'",
        ),
        (
            "netem",
            &["server", "bogus", "1"],
            true,
            "perturbation inconnue «\u{202f}bogus\u{202f}»\u{a0}: utilisez delay, jitter, loss, \
             rate ou limit (ou show, clear) (lab/netem --help)",
            "unknown impairment 'bogus': use delay, jitter, loss, rate or limit (or show, clear) \
             (lab/netem --help)",
        ),
        (
            "timewait",
            &["--port", "8080"],
            true,
            "--port attend un numéro de port autre que 8080 (celui du serveur du lab), par exemple 9090",
            "--port needs a port number other than 8080 (the lab's server), e.g. 9090",
        ),
        (
            "deadlock",
            &["--seconds", "0"],
            true,
            "--seconds attend un nombre de secondes de 1 à 99",
            "--seconds needs a number of seconds from 1 to 99",
        ),
        (
            "build-offline",
            &["--arch", "mips"],
            true,
            "pas de construction pour l'architecture «\u{202f}mips\u{202f}»\u{a0}: x86_64 ou aarch64",
            "no build for the architecture 'mips': x86_64 or aarch64",
        ),
    ];
    for (name, args, takes_lang, french, english) in cases {
        let mut runs: Vec<(&str, Vec<&str>, &str)> = vec![
            ("fr_FR.UTF-8", args.to_vec(), french),
            ("C", args.to_vec(), english),
        ];
        if *takes_lang {
            runs.push(("C", [args, &["--lang", "fr"][..]].concat(), french));
            runs.push((
                "fr_FR.UTF-8",
                [args, &["--lang", "en"][..]].concat(),
                english,
            ));
        }
        for (locale, args, line) in runs {
            let ran = run(in_locale(&mut script(None, name, &args), locale), LIMIT);
            assert_eq!(
                ran.code(),
                Some(2),
                "LANG={locale}: exit code 2 expected:\n{}",
                ran.report
            );
            assert_eq!(
                ran.stderr(),
                format!("lab: {line}\n"),
                "LANG={locale}: {name} {args:?}:\n{}",
                ran.report
            );
        }
    }
}

/// A fresh Debian machine has no debootstrap, which lab/build-offline (so lab/up) needs once
/// to make the lab's base. As root with apt-get, it is installed, in one line of narration;
/// not root, one line says the command to type. Stubs stand for `id` and `apt-get`, on a PATH
/// that holds only what lib.sh needs, so the machine's own debootstrap is out of sight.
#[test]
fn a_missing_debootstrap_is_installed_as_root_and_explained_otherwise() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = std::env::temp_dir().join(format!("chatlab-deboot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for tool in ["bash", "dirname", "mktemp", "tail", "rm", "cat"] {
        let real = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not in /usr/bin or /bin"));
        symlink(real, dir.join(tool)).unwrap();
    }
    let stub = |name: &str, text: &str| {
        std::fs::write(dir.join(name), format!("#!/bin/sh\n{text}\n")).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    stub("id", r#"echo "$STUB_UID""#);
    // apt-get records its calls; `install` puts a debootstrap on the PATH, unless told to fail.
    stub(
        "apt-get",
        r#"echo "apt-get $*" >> "$STUB_LOG"
[ -n "$STUB_APT_FAILS" ] && { echo "E: Unable to locate package debootstrap" >&2; exit 100; }
case " $* " in *" install "*) printf '#!/bin/sh\n' > "$STUB_DIR/debootstrap"; chmod +x "$STUB_DIR/debootstrap";; esac
exit 0"#,
    );
    let log = dir.join("apt.log");
    let need = |uid: &str, apt_fails: bool| {
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_file(dir.join("debootstrap"));
        let mut cmd = Command::new(dir.join("bash"));
        cmd.arg("-c")
            .arg("source lab/lib.sh; lab_need_debootstrap; command -v debootstrap")
            .current_dir(kit::root())
            .env_clear()
            .env("PATH", &dir)
            .env("STUB_UID", uid)
            .env("STUB_LOG", &log)
            .env("STUB_DIR", &dir)
            .env("STUB_APT_FAILS", if apt_fails { "1" } else { "" });
        let ran = run(&mut cmd, LIMIT);
        (ran, std::fs::read_to_string(&log).unwrap_or_default())
    };

    let (ran, calls) = need("0", false);
    let ran = ran.expect_success();
    assert!(
        ran.stderr()
            .lines()
            .eq(["lab: installing debootstrap (apt-get install debootstrap, once: it makes the lab's Debian base)"]),
        "as root: one line saying it installs debootstrap:\n{}",
        ran.report
    );
    assert!(
        calls.contains("apt-get update") && calls.contains("apt-get install -y -qq debootstrap"),
        "as root: apt-get update, then install debootstrap; it ran:\n{calls}"
    );
    assert!(
        ran.stdout().trim().ends_with("/debootstrap"),
        "{}",
        ran.report
    );

    let (ran, calls) = need("1000", false);
    ran.expect_code(1)
        .expect_one_line_error("run 'sudo apt-get install debootstrap'");
    assert!(
        calls.is_empty(),
        "not root: apt-get must not run; it ran:\n{calls}"
    );

    let (ran, _) = need("0", true);
    let ran = ran.expect_code(1);
    assert!(
        ran.stderr()
            .contains("E: Unable to locate package debootstrap")
            && ran
                .stderr()
                .lines()
                .last()
                .is_some_and(|l| l.starts_with("lab: apt-get could not install debootstrap")),
        "apt-get failing: its last lines, then one `lab:` line saying what to do:\n{}",
        ran.report
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// lab/help lists every script with its summary, and shows one script's usage.
#[test]
fn help_lists_the_scripts_and_shows_their_usage() {
    let ran = run(&mut script(None, "help", &[]), LIMIT).expect_success();
    for name in ["capture", "ladder", "timewait", "deadlock", "up", "down"] {
        assert!(
            ran.stdout().contains(&format!("lab/{name}")),
            "{}",
            ran.report
        );
    }
    for name in ["capture", "ladder", "timewait", "deadlock", "up", "down"] {
        let ran = run(&mut script(None, "help", &[name]), LIMIT).expect_success();
        assert!(
            ran.stdout().starts_with(&format!("Usage: lab/{name}")),
            "{}",
            ran.report
        );
        let own = run(&mut script(None, name, &["--help"]), LIMIT).expect_success();
        assert_eq!(own.stdout(), ran.stdout());
    }
}

/// What lab/up made (project, image), taken down and removed even when the test fails.
struct UpLab {
    env: Vec<(&'static str, String)>,
    image: String,
}

impl Drop for UpLab {
    fn drop(&mut self) {
        let mut down = script(None, "down", &[]);
        down.envs(self.env.iter().map(|(k, v)| (k, v)));
        let _ = run(&mut down, LIMIT);
        let _ = kit::output(Command::new("docker").args(["rmi", &self.image]));
    }
}

/// The README's run command: lab/up builds the missing image (the offline way here, as no
/// registry answers: LAB_BUILD=offline says so without trying one), starts the lab, waits
/// until the server listens and prints the command to type; that command then chats with the
/// server. A second lab/up builds nothing. lab/down leaves nothing of the lab.
#[test]
fn up_builds_starts_and_says_what_to_type_then_down_removes_it() {
    if !labkit::docker_available("up_builds_starts_and_says_what_to_type") {
        return;
    }
    labkit::ensure_image(); // the binaries and the image layers are then built: seconds.
    let project = format!("chatlab-up-{}", std::process::id());
    let image = format!("{}-up", labkit::image());
    let lab = UpLab {
        image: image.clone(),
        env: vec![
            ("COMPOSE_PROJECT_NAME", project.clone()),
            ("LAB_NET", labkit::nets("lab-up").next().expect("a subnet")),
            ("LAB_IMAGE", image),
            ("LAB_BUILD", "offline".to_string()),
        ],
    };
    let up = |lab: &UpLab| {
        let mut cmd = script(None, "up", &[]);
        cmd.envs(lab.env.iter().map(|(k, v)| (k, v)))
            .env_remove("CHAT_MODE")
            .env_remove("CHAT_ARGS");
        run(&mut cmd, LIMIT).expect_success()
    };
    let first = up(&lab);
    assert!(
        first.stderr().contains("the offline way") && first.stderr().contains("LAB_BUILD=offline"),
        "it says how it builds and why:\n{}",
        first.report
    );
    let stdout = first.stdout();
    assert!(stdout.starts_with("The lab is up"), "{}", first.report);
    // The command it prints, run as printed (minus the compose word, which labkit chooses).
    let next = stdout
        .lines()
        .find_map(|l| l.trim().split_once(" exec client "))
        .map(|(_, cmd)| cmd.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no `exec client` command printed:\n{}", first.report));
    assert_eq!(next, ["chat", "duplex", "server"]);
    let container = |service: &str| {
        let out = kit::run_ok(
            Command::new("docker")
                .args(["ps", "-q", "--filter"])
                .arg(format!("label=com.docker.compose.project={project}"))
                .arg("--filter")
                .arg(format!("label=com.docker.compose.service={service}")),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let server = container("server");
    // The printed command, with a line piped in: it reaches the server at once (no --retry).
    let mut chat = Command::new("docker");
    chat.args(["exec", "-i", &container("client"), "sh", "-c"])
        .arg(format!("echo hello from lab-up | {}", next.join(" ")));
    kit::run_ok(&mut chat);
    let logs = poll(Duration::from_secs(10), || {
        let out = kit::output(Command::new("docker").args(["logs", &server]));
        let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
        text.contains("hello from lab-up\n").then_some(text)
    });
    assert!(logs.is_some(), "the server never printed the client's line");

    let second = up(&lab);
    assert!(
        !second.stderr().contains("building"),
        "the image exists: nothing is built\n{}",
        second.report
    );
    let mut down = script(None, "down", &[]);
    down.envs(lab.env.iter().map(|(k, v)| (k, v)));
    let ran = run(&mut down, LIMIT).expect_success();
    assert!(ran.stderr().contains("the lab is down"), "{}", ran.report);
    assert_eq!(labkit::Lab::leftovers(&project), Vec::<String>::new());
}

/// With no lab up under this project name: a one-line error naming the host, exit code 1.
#[test]
fn scripts_say_when_the_lab_is_not_up() {
    if !labkit::docker_available("scripts_say_when_the_lab_is_not_up") {
        return;
    }
    for name in ["capture", "timewait", "deadlock", "view"] {
        let mut cmd = script(
            None,
            name,
            if name == "capture" { &["client"] } else { &[] },
        );
        cmd.env(
            "COMPOSE_PROJECT_NAME",
            format!("chatlab-nothing-{}", std::process::id()),
        );
        let ran = run(&mut cmd, LIMIT);
        assert_eq!(ran.code(), Some(1), "{}", ran.report);
        assert!(
            ran.stderr().starts_with("lab: ") && ran.stderr().contains("is not running"),
            "{}",
            ran.report
        );
    }
}

/// lab/capture: the live view shows the handshake, one PSH segment per line with its text,
/// the summary; the file is a valid pcap holding the lines; --read shows it again; a bad
/// filter is refused; no tcpdump is left in the host.
#[test]
fn capture_shows_and_saves_the_exchange() {
    let Some(lab) = Lab::up("capture", &[]) else {
        return;
    };
    let name = format!("test-capture-{}", std::process::id());
    remove_capture(&name);
    let mut cmd = script(
        Some(&lab),
        "capture",
        &["client", "--name", &name, "--duration", "12"],
    );
    let capture = thread::spawn(move || run(&mut cmd, LIMIT));
    // Ready when the file exists (tcpdump opens it when it listens); then type two lines.
    let file = kit::root().join("captures").join(format!("{name}.pcap"));
    poll(Duration::from_secs(20), || file.exists().then_some(())).expect("no capture file");
    thread::sleep(Duration::from_secs(1));
    lab.send_two_lines();
    let ran = capture.join().unwrap().expect_success();

    let view = ran.stdout();
    for expected in [
        "→ server:8080  SYN ",
        "server:8080 → client:",
        "SYN ACK",
        "PSH ACK      seq 1:9, ack 1, 8 bytes  \"bonjour\\n\"",
        "9 bytes  \"ça va ?\\n\"",
        "FIN ACK",
    ] {
        assert!(
            view.contains(expected),
            "the view lacks {expected:?}:\n{}",
            ran.report
        );
    }
    let psh = view.lines().filter(|l| l.contains("PSH")).count();
    assert_eq!(psh, 2, "one PSH segment per line typed:\n{}", ran.report);
    assert!(
        ran.stderr().contains("17 bytes of TCP data")
            && ran
                .stderr()
                .contains(&format!("saved to captures/{name}.pcap")),
        "{}",
        ran.report
    );

    // A valid pcap, with the lines in it, read by tcpdump in a host.
    let out = lab.exec(
        "server",
        &[
            "tcpdump",
            "-r",
            &format!("/captures/{name}.pcap"),
            "-n",
            "-A",
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("bonjour") && text.contains("a va ?"));

    // --read shows the same segments.
    let read = run(
        &mut script(Some(&lab), "capture", &["--read", file.to_str().unwrap()]),
        LIMIT,
    )
    .expect_success();
    assert_eq!(
        read.stdout().lines().count(),
        view.lines().count(),
        "--read:\n{}\nlive:\n{view}",
        read.report
    );
    assert!(read.stdout().contains("\"ça va ?\\n\""));

    let bad = run(
        &mut script(Some(&lab), "capture", &["server", "tcp", "port"]),
        LIMIT,
    );
    assert_eq!(bad.code(), Some(2), "{}", bad.report);
    assert!(
        bad.stderr().contains("tcpdump refuses the filter"),
        "{}",
        bad.report
    );

    assert_eq!(processes(&lab, "client", "tcpdump"), Vec::<String>::new());
    assert_eq!(processes(&lab, "server", "tcpdump"), Vec::<String>::new());
    remove_capture(&name);
}

/// lab/capture --wait NAME returns once the capture NAME started in the background is
/// capturing (its "capturing on" line is out, and the next connection is in the file, SYN
/// first); for a capture that never starts, it fails with exit 1 after its bound.
#[test]
fn capture_wait_returns_once_the_background_capture_is_capturing() {
    let Some(lab) = Lab::up("capture-wait", &[]) else {
        return;
    };
    let name = format!("test-wait-{}", std::process::id());
    remove_capture(&name);
    let tmp = std::env::temp_dir().join(format!("{name}.err"));
    let text = format!(
        "lab/capture server --name {name} --duration 8 >/dev/null 2>{err} &\n\
         lab/capture --wait {name}\n\
         grep -q 'capturing on' {err} || {{ echo 'returned before the capture'; exit 7; }}\n\
         printf 'hello\\n' | docker compose exec -T client chat send server\n\
         wait\n\
         lab/capture --read captures/{name}.pcap\n",
        err = tmp.display()
    );
    let ran = run(&mut labscripts::shell(&lab, &text), LIMIT).expect_success();
    let first = ran.stdout().lines().next().unwrap_or_default().to_string();
    assert!(
        first.contains("→ server:8080  SYN ") && ran.stdout().contains("\"hello\\n\""),
        "the capture lacks the start of the connection:\n{}",
        ran.report
    );
    let _ = std::fs::remove_file(&tmp);
    remove_capture(&name);

    let never = run(
        &mut script(Some(&lab), "capture", &["--wait", "no-such-capture"]),
        LIMIT,
    )
    .expect_code(1);
    assert!(
        never
            .stderr()
            .contains("no capture named 'no-such-capture'"),
        "{}",
        never.report
    );
}

/// lab/wait: returns at once for the lab's listening server; for a connection, once one is
/// established (a client connected in the background), and fails with exit 1 when nothing
/// comes within its bound.
#[test]
fn wait_returns_when_the_server_listens_or_the_connection_is_made() {
    let Some(lab) = Lab::up("wait", &[]) else {
        return;
    };
    run(
        &mut script(Some(&lab), "wait", &["server", "listening", "8080"]),
        LIMIT,
    )
    .expect_success();
    let none = run(
        &mut script(Some(&lab), "wait", &["client", "connected", "8080", "2"]),
        LIMIT,
    )
    .expect_code(1);
    assert!(
        none.stderr()
            .contains("nothing connected on port 8080 in client after 2 s"),
        "{}",
        none.report
    );
    let text = "(printf 'hello\\n'; sleep 5) | docker compose exec -T client chat send server &\n\
                lab/wait client connected 8080\n\
                docker compose exec -T client ss -Htn state established '( dport = :8080 )'\n\
                wait\n";
    let ran = run(&mut labscripts::shell(&lab, text), LIMIT).expect_success();
    assert!(
        ran.stdout().contains(":8080"),
        "lab/wait returned before the connection:\n{}",
        ran.report
    );
}

/// lab/capture with no limit stops cleanly on SIGTERM and on Ctrl-C (SIGINT to its process
/// group, as a terminal sends it): summary printed, tcpdump gone from the host. --count
/// stops by itself.
#[test]
fn capture_stops_cleanly_on_ctrl_c_sigterm_and_count() {
    let Some(lab) = Lab::up("capture-stop", &[]) else {
        return;
    };
    for (how, signal) in [("sigterm", Signal::SIGTERM), ("sigint", Signal::SIGINT)] {
        let name = format!("test-{how}-{}", std::process::id());
        let mut cmd = script(Some(&lab), "capture", &["server", "--name", &name]);
        let (tx, rx) = std::sync::mpsc::channel();
        // Started here, not by run(), to know its pid.
        let capture = thread::spawn(move || {
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .expect("spawn lab/capture");
            tx.send(child.id()).unwrap();
            child.wait_with_output().unwrap()
        });
        let pid = Pid::from_raw(rx.recv().unwrap() as i32);
        poll(Duration::from_secs(20), || {
            (!processes(&lab, "server", "tcpdump").is_empty()).then_some(())
        })
        .expect("tcpdump never started");
        thread::sleep(Duration::from_millis(500));
        if signal == Signal::SIGINT {
            killpg(pid, signal).unwrap();
        } else {
            kill(pid, signal).unwrap();
        }
        let out = capture.join().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{how}: {out:?}");
        assert!(
            stderr.contains(&format!("saved to captures/{name}.pcap")),
            "{how}: {stderr}"
        );
        assert_eq!(
            processes(&lab, "server", "tcpdump"),
            Vec::<String>::new(),
            "{how}"
        );
        remove_capture(&name);
    }

    let name = format!("test-count-{}", std::process::id());
    let mut cmd = script(
        Some(&lab),
        "capture",
        &["client", "--name", &name, "--count", "2", "icmp"],
    );
    let capture = thread::spawn(move || run(&mut cmd, LIMIT));
    poll(Duration::from_secs(20), || {
        (!processes(&lab, "client", "tcpdump").is_empty()).then_some(())
    })
    .expect("tcpdump never started");
    thread::sleep(Duration::from_millis(500));
    let ping = lab.exec("client", &["ping", "-c", "1", "-W", "2", "server"], b"");
    assert!(ping.status.success(), "{ping:?}");
    let ran = capture.join().unwrap().expect_success();
    assert!(
        ran.stdout()
            .contains("IP client > server: ICMP echo request")
            && ran.stdout().contains("IP server > client: ICMP echo reply")
            && ran.stderr().contains("2 packets"),
        "{}",
        ran.report
    );
    remove_capture(&name);
}

/// lab/timewait: EADDRINUSE (exit code 3) without SO_REUSEADDR, then a successful restart
/// with it, the TIME_WAIT on the server, the server's FIN first; nothing left running. Under a
/// French locale it narrates in French and types French lines (lab/lang/demos.sh).
#[test]
fn timewait_shows_eaddrinuse_then_a_restart_with_so_reuseaddr() {
    let Some(lab) = Lab::up("timewait", &[]) else {
        return;
    };
    let name = format!("test-timewait-{}", std::process::id());
    let ran = run(
        in_locale(
            &mut script(Some(&lab), "timewait", &["--name", &name]),
            "fr_FR.UTF-8",
        ),
        LIMIT,
    )
    .expect_success();
    let out = ran.stdout();
    let ladder = format!("lab/ladder captures/{name}-*.pcap --lang fr");
    let steps = [
        "server | bonjour, serveur",
        "client | au revoir, client",
        "timer:(timewait,",
        "chat recv -p 9090 --no-reuseaddr",
        "in use",
        "(code de sortie 3)",
        "server | chat[",
        "listening on 0.0.0.0:9090 (SO_REUSEADDR on)",
        "Le premier FIN va de server à client",
        ladder.as_str(),
    ];
    assert!(
        !out.contains("The first FIN") && !out.contains("types:"),
        "English narration under a French locale:\n{}",
        ran.report
    );
    let mut at = 0;
    for step in steps {
        let found = out[at..].find(step);
        assert!(
            found.is_some(),
            "{step:?} missing, or out of order:\n{}",
            ran.report
        );
        at += found.unwrap();
    }
    let first_fin = out
        .lines()
        .find(|l| l.contains('→') && l.contains("FIN"))
        .unwrap_or_default();
    assert!(
        first_fin.contains("server:9090 → client:"),
        "{first_fin}\n{}",
        ran.report
    );
    assert_eq!(processes(&lab, "server", "timeout"), Vec::<String>::new());
    assert!(
        processes(&lab, "server", "chat")
            .iter()
            .all(|p| !p.contains("9090"))
    );
    assert_eq!(processes(&lab, "client", "chat"), Vec::<String>::new());
    assert_eq!(processes(&lab, "server", "tcpdump"), Vec::<String>::new());
    for host in ["server", "client"] {
        let file = kit::root().join(format!("captures/{name}-{host}.pcap"));
        assert!(
            file.is_file(),
            "captured on both hosts, for lab/ladder: {file:?}"
        );
    }
    eprintln!("lab/timewait took {:.1} s", ran.took.as_secs_f64());
    remove_capture(&name);
}

/// CMD under the locale LOCALE only (LANG; LC_ALL, LC_MESSAGES and LAB_LANG removed).
fn in_locale<'a>(cmd: &'a mut Command, locale: &str) -> &'a mut Command {
    cmd.env("LANG", locale)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LAB_LANG")
}

/// lab/deadlock: during the deadlock, empty queues and only the three segments of the
/// handshake (no data segment); then the way out carries both lines; nothing left running.
#[test]
fn deadlock_shows_no_data_segment_then_the_way_out() {
    let Some(lab) = Lab::up("deadlock", &[]) else {
        return;
    };
    let name = format!("test-deadlock-{}", std::process::id());
    let ran = run(
        in_locale(
            &mut script(Some(&lab), "deadlock", &["--seconds", "3", "--name", &name]),
            "C.UTF-8",
        ),
        LIMIT,
    )
    .expect_success();
    let out = ran.stdout();
    assert!(
        out.contains("== 2. Nothing moves (watching for 3 s)")
            && out.contains("[client] types: hello?")
            && !out.contains("tape"),
        "the English narration, outside a French locale:\n{}",
        ran.report
    );
    let during = out
        .split("The capture so far:")
        .nth(1)
        .and_then(|s| s.split("== 3.").next())
        .unwrap_or_else(|| panic!("no capture section:\n{}", ran.report));
    let segments: Vec<&str> = during.lines().filter(|l| l.contains('→')).collect();
    assert_eq!(segments.len(), 3, "the handshake only:\n{}", ran.report);
    assert!(segments[0].contains(" SYN ") && segments[1].contains("SYN ACK"));
    assert!(
        !during.contains("bytes"),
        "no data segment:\n{}",
        ran.report
    );
    let estab: Vec<&str> = out.lines().filter(|l| l.contains("ESTAB")).collect();
    assert_eq!(estab.len(), 2, "{}", ran.report);
    for line in estab {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // "server | ESTAB 0 0 …": Recv-Q and Send-Q.
        assert_eq!(&fields[3..5], ["0", "0"], "{line}");
    }
    assert!(out.contains("client | hello, client") && out.contains("server | hello, server"));
    assert!(
        out.contains("14 bytes  \"hello, server\\n\""),
        "{}",
        ran.report
    );
    assert_eq!(processes(&lab, "client", "chat"), Vec::<String>::new());
    assert!(
        processes(&lab, "server", "chat")
            .iter()
            .all(|p| !p.contains("9091"))
    );
    assert_eq!(processes(&lab, "server", "tcpdump"), Vec::<String>::new());
    eprintln!("lab/deadlock took {:.1} s", ran.took.as_secs_f64());
    remove_capture(&name);
}

/// Every shell script of the repository (lab/, docker/, .ci/, bench/: each tracked file whose
/// first line names a shell) is shellcheck clean (CI installs shellcheck).
#[test]
fn scripts_are_shellcheck_clean() {
    if Command::new("shellcheck")
        .arg("--version")
        .output()
        .is_err()
    {
        return kit::skip_unless_ci(
            "scripts_are_shellcheck_clean",
            "shellcheck is not installed",
        );
    }
    let files = kit::run_ok(
        Command::new("git")
            .current_dir(kit::root())
            .args(["ls-files", "lab", "docker", ".ci", "bench"]),
    );
    let scripts: Vec<String> = String::from_utf8_lossy(&files.stdout)
        .lines()
        .filter(|f| {
            std::fs::read_to_string(kit::root().join(f)).is_ok_and(|text| {
                text.lines()
                    .next()
                    .is_some_and(|l| l.starts_with("#!") && l.contains("sh"))
                    || text.starts_with("# shellcheck shell=")
            })
        })
        .map(String::from)
        .collect();
    for expected in [
        "lab/netem",
        "lab/build-offline",
        "lab/lib.sh",
        "docker/lab-server",
        ".ci/run",
    ] {
        assert!(
            scripts.iter().any(|s| s == expected),
            "{expected} not found among {scripts:?}"
        );
    }
    let mut cmd = Command::new("shellcheck");
    cmd.current_dir(kit::root()).arg("-x").args(&scripts);
    run(&mut cmd, LIMIT).expect_success();
}

// --- Ctrl-C, twice: a script's cleanup, once started, finishes -----------------------------

/// Start CMD in a process group of its own (as a terminal starts a command), its output
/// piped; its pid.
fn spawn_group(cmd: &mut Command) -> Group {
    Group(Some(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("spawn the script"),
    ))
}

/// A script running in its own process group. When a test fails before `ctrl_c_twice`,
/// dropping it stops the group as a student would (Ctrl-C; after 30 s, SIGKILL), so the script
/// and what it started (a view's container, its probes) do not outlive the test.
struct Group(Option<std::process::Child>);

impl Group {
    fn id(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let group = Pid::from_raw(child.id() as i32);
            let _ = killpg(group, Signal::SIGINT);
            if poll(Duration::from_secs(30), || child.try_wait().ok().flatten()).is_none() {
                let _ = killpg(group, Signal::SIGKILL);
                let _ = child.wait();
            }
        }
    }
}

/// Ctrl-C twice, 0.3 s apart, to CHILD's process group (as a terminal sends it); how long
/// CHILD took to end after the first, and its status and stderr.
fn ctrl_c_twice(mut group: Group) -> (Duration, std::process::ExitStatus, String) {
    let mut child = group.0.take().expect("running");
    let group = Pid::from_raw(child.id() as i32);
    let first = std::time::Instant::now();
    killpg(group, Signal::SIGINT).unwrap();
    thread::sleep(Duration::from_millis(300));
    let _ = killpg(group, Signal::SIGINT);
    let status = poll(Duration::from_secs(60), || child.try_wait().ok().flatten());
    let took = first.elapsed();
    let status = status.unwrap_or_else(|| {
        let _ = killpg(group, Signal::SIGKILL);
        panic!("the script did not end within 60 s of Ctrl-C")
    });
    let mut err = String::new();
    use std::io::Read;
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (took, status, err)
}

/// `GET /state` from 127.0.0.1:PORT, as a browser asks: the body, or None.
fn view_state(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /state HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut all = String::new();
    s.read_to_string(&mut all).ok()?;
    all.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}

/// What `docker ARGS` prints, trimmed.
fn docker(args: &[&str]) -> String {
    let out = kit::output(Command::new("docker").args(args));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// lab/view, stopped by Ctrl-C pressed twice: it ends within a second of the first, and
/// leaves nothing: the port is free, no container nor network of the view, no probe nor
/// tcpdump in any host, no folder; so the next lab/view starts (twice over). Its server runs
/// unprivileged, bounded, alone on its network.
#[test]
fn view_ends_within_a_second_of_ctrl_c_twice_and_leaves_nothing() {
    let Some(lab) = Lab::up("view-stop", &[]) else {
        return;
    };
    let server = lab.container("server");
    let name = format!("chatlab-view-{}", &server[..12]);
    let folder = kit::root()
        .join("captures")
        .join(format!(".view-{}", &server[..12]));
    for round in 1..=2 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = spawn_group(&mut script(
            Some(&lab),
            "view",
            &["--port", &port.to_string()],
        ));
        let up = poll(Duration::from_secs(60), || {
            view_state(port).filter(|s| s.contains("\"client2\":{"))
        });
        assert!(
            up.is_some(),
            "round {round}: the view never showed the hosts"
        );
        for host in ["server", "client", "client2"] {
            assert!(
                !processes(&lab, host, "tcpdump").is_empty(),
                "round {round}: no tcpdump in {host}"
            );
        }
        if round == 1 {
            let config = docker(&[
                "inspect",
                "-f",
                "{{.Config.User}} {{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}} \
                 {{.HostConfig.PidsLimit}} {{.HostConfig.CapDrop}} {{.HostConfig.ReadonlyRootfs}} \
                 {{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}",
                &name,
            ]);
            // (As the user running lab/view, or nobody for root.)
            let (user, rest) = config.split_once(' ').unwrap();
            assert!(
                !user.is_empty() && !user.starts_with("0:") && user != "0",
                "the view's server runs as {user:?}"
            );
            assert_eq!(
                rest,
                format!("[no-new-privileges] 268435456 32 [ALL] true {name}"),
                "the view's container"
            );
            let others = docker(&["network", "inspect", "-f", "{{len .Containers}}", &name]);
            assert_eq!(others, "1", "the view's network is its own");
            // A foreign name is refused through the published port too.
            use std::io::{BufRead, Write};
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            write!(
                s,
                "GET /state HTTP/1.1\r\nHost: rebound.example:{port}\r\n\r\n"
            )
            .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(s).read_line(&mut line).unwrap();
            assert_eq!(line.trim_end(), "HTTP/1.1 403 Forbidden");
        }
        let (took, status, err) = ctrl_c_twice(child);
        eprintln!("round {round}: lab/view ended {took:?} after the first Ctrl-C ({status})");
        assert!(
            took < Duration::from_secs(1),
            "round {round}: lab/view took {took:?} to end\n{err}"
        );
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "round {round}: port {port} is still taken"
        );
        assert_eq!(
            docker(&["ps", "-aq", "--filter", &format!("name={name}")]),
            "",
            "round {round}: the view's container is left"
        );
        assert_eq!(
            docker(&["network", "ls", "-q", "--filter", &format!("name={name}")]),
            "",
            "round {round}: the view's network is left"
        );
        for host in ["server", "client", "client2"] {
            assert_eq!(
                processes(&lab, host, "tcpdump"),
                Vec::<String>::new(),
                "round {round}: {host}"
            );
            let probes: Vec<String> = processes(&lab, host, "chatlab")
                .into_iter()
                .filter(|p| p.contains("--probe"))
                .collect();
            assert_eq!(probes, Vec::<String>::new(), "round {round}: {host}");
        }
        assert!(
            !folder.exists(),
            "round {round}: {} is left",
            folder.display()
        );
    }
}

/// lab/capture, Ctrl-C pressed twice: the second does not cut the end short; the summary is
/// printed, the file saved, tcpdump gone.
#[test]
fn capture_finishes_on_ctrl_c_twice() {
    let Some(lab) = Lab::up("capture-twice", &[]) else {
        return;
    };
    let name = format!("test-twice-{}", std::process::id());
    let child = spawn_group(&mut script(
        Some(&lab),
        "capture",
        &["server", "client", "--name", &name],
    ));
    poll(Duration::from_secs(20), || {
        (!processes(&lab, "client", "tcpdump").is_empty()
            && !processes(&lab, "server", "tcpdump").is_empty())
        .then_some(())
    })
    .expect("tcpdump never started");
    thread::sleep(Duration::from_millis(500));
    let (took, status, err) = ctrl_c_twice(child);
    eprintln!("lab/capture ended {took:?} after the first Ctrl-C");
    assert!(status.success(), "{status}: {err}");
    for host in ["server", "client"] {
        assert!(
            err.contains(&format!("saved to captures/{name}-{host}.pcap")),
            "{err}"
        );
        assert_eq!(processes(&lab, host, "tcpdump"), Vec::<String>::new());
    }
    assert!(err.contains("the ladder of this experiment"), "{err}");
    remove_capture(&name);
}

/// lab/check, Ctrl-C pressed twice while a program is checked: it ends, and no container of
/// the check is left.
#[test]
fn check_leaves_no_container_on_ctrl_c_twice() {
    let Some(image) = labkit::image_for("check_leaves_no_container_on_ctrl_c_twice") else {
        return;
    };
    let mut cmd = script(None, "check", &["q1", "--", "sleep", "100"]);
    cmd.env("LAB_IMAGE", image);
    let child = spawn_group(&mut cmd);
    let pid = child.id();
    let filter = format!("name=chatlab-check-{pid}-");
    poll(Duration::from_secs(30), || {
        (!docker(&["ps", "-q", "--filter", &filter]).is_empty()).then_some(())
    })
    .expect("the check's container never started");
    let (took, status, err) = ctrl_c_twice(child);
    eprintln!("lab/check ended {took:?} after the first Ctrl-C ({status})");
    assert!(!status.success(), "{err}");
    assert_eq!(
        docker(&["ps", "-aq", "--filter", &filter]),
        "",
        "a container of the check is left\n{err}"
    );
}

/// lab/build-offline, Ctrl-C pressed twice while it builds: it ends, unmounts what is
/// mounted in its temporary folder (debootstrap mounts /proc and /sys in the new root; here a
/// tmpfs stands for them) and removes the folder.
#[test]
fn build_offline_cleans_up_on_ctrl_c_twice() {
    const TEST: &str = "build_offline_cleans_up_on_ctrl_c_twice";
    let uid = kit::output(Command::new("id").arg("-u"));
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return kit::skip_unless_ci(TEST, "mounting needs root");
    }
    if !labkit::docker_available(TEST) {
        return;
    }
    let tmp = kit::root().join("target").join("build-offline-ctrl-c");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let mut cmd = script(None, "build-offline", &[]);
    // An image of its own, and a build that takes long enough to be stopped: a fresh target.
    cmd.env("TMPDIR", &tmp)
        .env("LAB_IMAGE", "chatlab-host:ctrl-c-test")
        .env("CARGO_TARGET_DIR", tmp.join("target"));
    let child = spawn_group(&mut cmd);
    let folder = poll(Duration::from_secs(120), || {
        std::fs::read_dir(&tmp)
            .ok()?
            .flatten()
            .find(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("chatlab-build.")
            })
            .map(|e| e.path())
    });
    let Some(folder) = folder else {
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        panic!("lab/build-offline never made its folder");
    };
    let proc_like = folder.join("rootfs").join("proc");
    std::fs::create_dir_all(&proc_like).unwrap();
    kit::run_ok(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "none"])
            .arg(&proc_like),
    );
    std::fs::write(proc_like.join("inside"), "a file in the mount").unwrap();
    let (took, status, err) = ctrl_c_twice(child);
    eprintln!("lab/build-offline ended {took:?} after the first Ctrl-C ({status})");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let still = mounts.contains(&*proc_like.to_string_lossy());
    if still {
        let _ = Command::new("umount").arg("-l").arg(&proc_like).status();
    }
    assert!(!status.success(), "{err}");
    assert!(!still, "the mount in its folder is left\n{err}");
    assert!(!folder.exists(), "its temporary folder is left\n{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
