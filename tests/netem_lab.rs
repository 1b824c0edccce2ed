//! `lab/netem` on the real compose lab: delay, loss, show and clear across hosts, with whichever
//! engine this kernel allows (the kernel's netem, or `chatlab netem` when sch_netem is missing, as on
//! the machine these tests were written on). Docker is needed: these tests fail without it
//! under CI=true, and are skipped (with a message) elsewhere.

mod kit;
mod labkit;

use std::process::{Command, Output};

use kit::{output, report, root};
use labkit::{Lab, image};

/// `lab/netem ARGS` against this lab (its project, subnet and image).
fn netem(lab: &Lab, args: &[&str]) -> Output {
    netem_env(lab, args, &[])
}

fn netem_env(lab: &Lab, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(root().join("lab/netem"));
    cmd.args(args)
        .env("COMPOSE_PROJECT_NAME", lab.project())
        .env("LAB_NET", lab.net())
        .env("LAB_IMAGE", image())
        .env_remove("LAB_NETEM_ENGINE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    output(&mut cmd)
}

fn netem_ok(lab: &Lab, args: &[&str]) -> String {
    let mut cmd = Command::new(root().join("lab/netem"));
    cmd.args(args);
    let out = netem(lab, args);
    assert!(out.status.success(), "{}", report(&cmd, &out));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether this kernel has the netem qdisc, asked in a lab host (which has NET_ADMIN).
fn kernel_has_netem(lab: &Lab) -> bool {
    let out = lab.exec(
        "client",
        &[
            "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
        ],
        b"",
    );
    if out.status.success() {
        lab.exec("client", &["tc", "qdisc", "del", "dev", "lo", "root"], b"");
        return true;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("qdisc kind is unknown") || err.contains("No such file"),
        "tc failed for another reason than a missing sch_netem: {err}"
    );
    false
}

/// RTTs (ms) of `ping` from client to server.
fn ping(lab: &Lab, count: &str) -> Vec<f64> {
    let server = lab.ip("server");
    let out = lab.exec(
        "client",
        &["ping", "-n", "-c", count, "-i", "0.05", "-W", "2", &server],
        b"",
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split("time=").nth(1)?.split(' ').next()?.parse().ok())
        .collect()
}

/// All RTTs at least `low`; at most one in ten at or above `high` (a busy machine delays a
/// wake-up now and then).
fn assert_rtts(rtts: &[f64], count: usize, low: f64, high: f64, context: &str) {
    assert_eq!(
        rtts.len(),
        count,
        "every ping answered: {rtts:?}\n{context}"
    );
    let below = rtts.iter().filter(|r| **r < low).count();
    let above = rtts.iter().filter(|r| **r >= high).count();
    assert!(
        below == 0 && above * 10 <= rtts.len(),
        "RTTs (ms) should be in {low}..{high}: {rtts:?}\n{context}"
    );
}

/// lab/netem ARGS failed as a usage error (status 2): one line, `lab: …` containing NEEDLE.
fn assert_usage_error(args: &[&str], out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    assert!(
        err.starts_with("lab: ") && err.contains(needle),
        "{args:?}: {err}"
    );
}

/// Nothing of lab/netem is left in HOST: no netem qdisc, no NFQUEUE or notrack rule, no engine.
fn assert_clean(lab: &Lab, host: &str) {
    let check = "tc qdisc show dev eth0 root | grep netem; \
                 iptables -S OUTPUT 2>/dev/null | grep NFQUEUE; \
                 iptables-legacy -S OUTPUT 2>/dev/null | grep NFQUEUE; \
                 iptables -t raw -S OUTPUT 2>/dev/null | grep notrack; \
                 ps -eo comm | grep chatlab; true";
    let out = lab.exec(host, &["sh", "-c", check], b"");
    let left = String::from_utf8_lossy(&out.stdout);
    assert!(left.trim().is_empty(), "{host} still has: {left}");
}

#[test]
fn delay_on_client_then_on_both_then_clear() {
    let Some(lab) = Lab::up("netem-delay", &[("CHAT_MODE", "recv")]) else {
        return;
    };
    // Values are checked by the engine's own parser in the host, for both engines alike.
    for (args, needle) in [
        (
            &["client", "delay", "100"][..],
            "delay: bad time '100': give a unit",
        ),
        (
            &["client", "loss", "120%"],
            "loss: bad percentage '120%': at most 100%",
        ),
        (&["client", "rate", "fast"], "rate: bad rate 'fast'"),
        (&["client", "rate", "0.5bit"], "must be at least 1bit"),
        (&["client", "delay", "1ms", "limit", "0"], "limit:"),
    ] {
        let out = netem(&lab, args);
        assert_usage_error(args, &out, needle);
    }
    assert_clean(&lab, "client");
    let has_netem = kernel_has_netem(&lab);
    // The first ping pays for ARP resolution (4.5 ms seen on a busy machine): not measured.
    ping(&lab, "1");
    let before = ping(&lab, "10");
    assert_rtts(&before, 10, 0.0, 1.0, "no impairment yet");

    let said = netem_ok(&lab, &["client", "delay", "100ms"]);
    assert!(
        said.contains("egress"),
        "the output says it shapes egress: {said}"
    );
    let show = netem_ok(&lab, &["client", "show"]);
    let engine = if has_netem {
        "engine: kernel netem"
    } else {
        "engine: userspace chatlab netem"
    };
    assert!(
        show.contains(engine),
        "show names the engine ({engine}): {show}"
    );
    assert!(show.contains("delay 100ms"), "{show}");
    assert_rtts(&ping(&lab, "10"), 10, 100.0, 115.0, &show);

    // Egress only: the server's replies are not delayed until the server is impaired too.
    let show_server = netem_ok(&lab, &["server", "delay", "100ms"]);
    assert_rtts(&ping(&lab, "10"), 10, 200.0, 230.0, &show_server);

    let said = netem_ok(&lab, &["client", "clear"]);
    netem_ok(&lab, &["server", "clear"]);
    assert_rtts(&ping(&lab, "5"), 5, 0.0, 1.0, &said);
    let show = netem_ok(&lab, &["client", "show"]);
    assert!(show.contains("no impairment"), "{show}");
    assert_clean(&lab, "client");
    assert_clean(&lab, "server");
}

#[test]
fn loss_on_client_still_delivers_10000_lines_intact_and_in_order() {
    let Some(lab) = Lab::up("netem-loss", &[("CHAT_MODE", "recv")]) else {
        return;
    };
    netem_ok(&lab, &["client", "loss", "20%"]);
    // A bulk send is few packets through the queue (GSO: 15 seen for these 330 kB), which at
    // 20% all pass 3.5% of the time: 40 pings first make a run without loss a 1 in 200 000.
    let server = lab.ip("server");
    lab.exec(
        "client",
        &[
            "ping", "-n", "-q", "-c", "40", "-i", "0.01", "-W", "1", &server,
        ],
        b"",
    );
    let lines: String = (0..10_000)
        .map(|i| format!("line {i:05} across a lossy link\n"))
        .collect();
    let out = lab.exec("client", &["chat", "send", "server"], lines.as_bytes());
    assert!(out.status.success(), "chat send: {out:?}");
    // The whole text, as one substring of the server's output: every line, in order.
    lab.wait_logs("server", &lines);
    let show = netem_ok(&lab, &["client", "show"]);
    if show.contains("chatlab netem") {
        let lost: u64 = show
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("dropped-loss="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counters in show: {show}"));
        assert!(lost > 0, "packets were really lost: {show}");
    }
    netem_ok(&lab, &["client", "clear"]);
    assert_clean(&lab, "client");
}

/// On a kernel without sch_netem (this one), forcing the kernel engine fails in one line that
/// names the module, and leaves the host clean; auto mode then falls back to `chatlab netem`.
#[test]
fn missing_netem_is_said_in_one_line_and_leaves_nothing() {
    let Some(lab) = Lab::up("netem-missing", &[("CHAT_MODE", "recv")]) else {
        return;
    };
    if kernel_has_netem(&lab) {
        eprintln!("this kernel has sch_netem: the missing-netem path cannot be shown here");
        return;
    }
    let out = netem_env(
        &lab,
        &["client", "delay", "50ms"],
        &[("LAB_NETEM_ENGINE", "kernel")],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("lab: ") && err.contains("sch_netem"),
        "{err}"
    );
    assert_clean(&lab, "client");

    let said = netem_ok(&lab, &["client", "delay", "50ms"]);
    assert!(said.contains("userspace chatlab netem"), "{said}");
    assert!(said.contains("no sch_netem"), "{said}");
    netem_ok(&lab, &["client", "clear"]);
    assert_clean(&lab, "client");
}

#[test]
fn bad_arguments_and_unknown_hosts_are_one_line_errors() {
    // Checked before any Docker call: no lab needed.
    for (args, needle) in [
        (&["bob", "show"][..], "unknown host 'bob'"),
        (&["client", "jitter", "5ms"], "jitter needs a delay"),
        (&["client", "wobble", "5ms"], "unknown impairment 'wobble'"),
        (&["client", "show", "now"], "takes no argument"),
        (&["client"], "what to do with client"),
    ] {
        let out = output(Command::new(root().join("lab/netem")).args(args));
        assert_usage_error(args, &out, needle);
    }
}
