//! The table of the checker: each role of the TD, its criteria, and the probe that judges each.
//!
//! Read a role's row top to bottom: the order the probes run in. Before them, the runner starts
//! the program and judges `start` (and `listen-all` for a server). Each probe judges its
//! criteria on the program [`On`] names; the rule for a program that has ended is applied
//! once, by the runner ([`super::runner`]). The probes are functions of
//! [`super::criteria`], one file per question.

use clap::ValueEnum;

use super::criteria::{q1, q2, q3, q4};
use super::runner::{Judge, On, Probe};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Q1: a server that prints the lines it receives
    Q1,
    /// Q2: a client that sends the lines typed
    Q2,
    /// Q3: the alternating chat's client (it starts: types, sends, waits)
    #[value(name = "q3-client")]
    Q3Client,
    /// Q3: the alternating chat's server (waits, prints, types, sends)
    #[value(name = "q3-server")]
    Q3Server,
    /// Q4: the fork duplex client
    #[value(name = "q4-client")]
    Q4Client,
    /// Q4: the fork duplex server
    #[value(name = "q4-server")]
    Q4Server,
}

/// One row of the table.
pub struct Spec {
    pub role: Role,
    pub name: &'static str,
    /// A server (the checker connects to it) or a client (the checker listens for it).
    pub server: bool,
    /// Every criterion, in the order of the class grid's columns (`start` first).
    pub criteria: &'static [&'static str],
    /// The probes, in the order they run: together they judge every criterion but `start`
    /// and `listen-all` (the runner's).
    pub probes: &'static [Probe],
}

/// A probe: the criteria it judges, on which program, by which function.
const fn probe(ids: &'static [&'static str], on: On, judge: Judge) -> Probe {
    Probe { ids, on, judge }
}

/// The parts joined end to end, N items in all (at compile time: a wrong N does not build).
const fn join<T: Copy, const N: usize>(parts: &[&[T]]) -> [T; N] {
    let mut out = [parts[0][0]; N];
    let (mut n, mut p) = (0, 0);
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[n] = parts[p][i];
            n += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(n == N, "join: N is not the parts' total length");
    out
}

/// Q3's criteria, the same for the client and the server (after `start`, and the server's
/// `listen-all`).
const Q3_CRITERIA: [&str; 4] = ["turns", "print", "peer-close", "started-differently"];

/// Q3's probes: one row for both sides, with each side's own judges of its turns and of a
/// peer started the other way round.
const fn q3_probes(turns: Judge, started_differently: Judge) -> [Probe; 3] {
    [
        probe(&["turns", "print"], On::Same, turns),
        probe(&["peer-close"], On::AliveEarlier, q3::peer_close),
        probe(&["started-differently"], On::New, started_differently),
    ]
}

/// Q4's exchange, one for the client and the server (the server has its `listener` before
/// it, and its `zombie` after): its criteria, in the order of the class grid's columns.
const Q4_EXCHANGE: [&str; 6] = [
    "to-peer",
    "from-peer",
    "both-ways",
    "eof",
    "half-close",
    "peer-end",
];

/// The probes of Q4's exchange but its end (`peer-end`, with the server's `zombie`).
const Q4_EXCHANGE_PROBES: [Probe; 4] = [
    // from-peer before to-peer: a program that waits for the keyboard before reading
    // the socket is caught there, not rescued by a line typed before.
    probe(&["from-peer"], On::Same, q4::from_peer),
    probe(&["to-peer"], On::Same, q4::to_peer),
    probe(&["both-ways"], On::Alive, q4::both_ways),
    probe(&["eof", "half-close"], On::Alive, q4::eof),
];

pub const ROLES: [Spec; 6] = [
    Spec {
        role: Role::Q1,
        name: "q1",
        server: true,
        criteria: &[
            "start",
            "listen-all",
            "lines",
            "segments",
            "utf8",
            "peer-close",
            "next-client",
            "stop",
            "reuseaddr",
        ],
        probes: &[
            probe(&["lines"], On::Again, q1::lines),
            probe(&["segments"], On::Again, q1::segments),
            probe(&["utf8"], On::Again, q1::utf8),
            probe(&["peer-close", "next-client"], On::Again, q1::peer_close),
            probe(&["stop", "reuseaddr"], On::New, q1::stop),
        ],
    },
    Spec {
        role: Role::Q2,
        name: "q2",
        server: false,
        criteria: &["start", "lines", "burst", "eof", "server-close"],
        probes: &[
            probe(&["lines"], On::Same, q2::lines),
            probe(&["burst"], On::Alive, q2::burst),
            probe(&["eof"], On::Alive, q2::eof),
            probe(&["server-close"], On::New, q2::server_close),
        ],
    },
    Spec {
        role: Role::Q3Client,
        name: "q3-client",
        server: false,
        criteria: &join::<_, 5>(&[&["start"], &Q3_CRITERIA]),
        probes: &q3_probes(q3::client_turns, q3::client_started_differently),
    },
    Spec {
        role: Role::Q3Server,
        name: "q3-server",
        server: true,
        criteria: &join::<_, 6>(&[&["start", "listen-all"], &Q3_CRITERIA]),
        probes: &q3_probes(q3::server_turns, q3::server_started_differently),
    },
    Spec {
        role: Role::Q4Client,
        name: "q4-client",
        server: false,
        criteria: &join::<_, 8>(&[&["start", "fork"], &Q4_EXCHANGE]),
        probes: &join::<_, 6>(&[
            &[probe(&["fork"], On::Same, q4::fork)],
            &Q4_EXCHANGE_PROBES,
            &[probe(&["peer-end"], On::New, q4::peer_end)],
        ]),
    },
    Spec {
        role: Role::Q4Server,
        name: "q4-server",
        server: true,
        criteria: &join::<_, 11>(&[
            &["start", "listen-all", "fork", "listener"],
            &Q4_EXCHANGE,
            &["zombie"],
        ]),
        probes: &join::<_, 7>(&[
            &[
                probe(&["fork"], On::Same, q4::fork),
                probe(&["listener"], On::Same, q4::listener),
            ],
            &Q4_EXCHANGE_PROBES,
            &[probe(
                &["peer-end", "zombie"],
                On::New,
                q4::peer_end_and_zombie,
            )],
        ]),
    },
];

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Q1,
        Role::Q2,
        Role::Q3Client,
        Role::Q3Server,
        Role::Q4Client,
        Role::Q4Server,
    ];

    /// This role's row of the table.
    pub fn spec(self) -> &'static Spec {
        ROLES
            .iter()
            .find(|s| s.role == self)
            .expect("every role has its row")
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The criteria judged for this role, in the order of the class grid.
    pub fn ids(self) -> &'static [&'static str] {
        self.spec().criteria
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each criterion is judged once: by the runner (`start`, a server's `listen-all`) or by
    /// exactly one probe; and the rows follow `Role::ALL`.
    #[test]
    fn each_criterion_has_one_judge() {
        for (spec, role) in ROLES.iter().zip(Role::ALL) {
            assert_eq!(spec.role, role);
            let mut judged: Vec<&str> = vec!["start"];
            if spec.server {
                judged.push("listen-all");
            }
            judged.extend(spec.probes.iter().flat_map(|p| p.ids.iter().copied()));
            let mut criteria = spec.criteria.to_vec();
            assert_eq!(criteria[0], "start", "{}", spec.name);
            criteria.sort_unstable();
            judged.sort_unstable();
            assert_eq!(criteria, judged, "{}", spec.name);
            assert_eq!(
                role.to_possible_value().unwrap().get_name(),
                spec.name,
                "the command line's name"
            );
        }
    }
}
