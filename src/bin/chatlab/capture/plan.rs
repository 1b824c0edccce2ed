//! Which host is which: the lab's plan (its hosts' addresses, from `--net`) and what a capture
//! file's name says (the host that took it, a netem record), as `lab/capture` names them:
//! `NAME-client.pcap` (tcpdump on client), `NAME-client.netem.pcap` (the record of client's
//! userspace netem: when each segment entered the impairment).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use super::model::Role;

/// The lab's hosts and the last number of their address.
const HOSTS: [(&str, u8); 3] = [("server", 10), ("client", 11), ("client2", 12)];

/// The lab's plan: the address of each host (server, client, client2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    hosts: Vec<(IpAddr, &'static str)>,
}

impl Plan {
    /// The plan of the lab whose subnet starts with NET (`10.80.80`: .10 server, .11 client,
    /// .12 client2), or whose hosts' addresses NET says (`server=10.100.0.2,client=…`: a
    /// class's lab, where the swarm gives the addresses); None when NET is neither.
    pub fn new(net: &str) -> Option<Plan> {
        if net.contains('=') {
            return Plan::of_hosts(net);
        }
        let prefix: Vec<u8> = net
            .split('.')
            .map(|o| o.parse::<u8>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|v: &Vec<u8>| v.len() == 3)?;
        let hosts = HOSTS
            .iter()
            .map(|(h, last)| {
                let ip = IpAddr::V4(Ipv4Addr::new(prefix[0], prefix[1], prefix[2], *last));
                (ip, *h)
            })
            .collect();
        Some(Plan { hosts })
    }

    /// `HOST=IP,…`: each a host of the lab, once, with its address.
    fn of_hosts(list: &str) -> Option<Plan> {
        let mut hosts: Vec<(IpAddr, &'static str)> = Vec::new();
        for item in list.split(',').filter(|i| !i.is_empty()) {
            let (name, ip) = item.split_once('=')?;
            let (host, _) = HOSTS.iter().find(|(h, _)| *h == name)?;
            if hosts.iter().any(|(_, h)| h == host) {
                return None;
            }
            hosts.push((ip.parse().ok()?, host));
        }
        (!hosts.is_empty()).then_some(Plan { hosts })
    }

    /// The address of a lab host (server, client, client2).
    pub fn ip_of(&self, host: &str) -> Option<IpAddr> {
        self.hosts
            .iter()
            .find(|(_, h)| *h == host)
            .map(|(ip, _)| *ip)
    }

    /// The lab name of an address (client, server, client2), or the address itself.
    pub fn name(&self, addr: SocketAddr) -> String {
        self.hosts
            .iter()
            .find(|(ip, _)| *ip == addr.ip())
            .map_or_else(|| addr.ip().to_string(), |(_, n)| n.to_string())
    }
}

/// What a capture file's name says, as lab/capture names them: `NAME-HOST.pcap` (HOST took
/// it, for the experiment NAME), `NAME-HOST.netem.pcap` (HOST's netem record), `HOST.pcap`,
/// `HOST-DATE-TIME.pcap` (one host, the default name), or `NAME.pcap` (no host said).
pub struct FileName<'a> {
    /// The experiment: the files of one capture share it.
    pub experiment: &'a str,
    pub host: Option<&'static str>,
    /// A netem record (`….netem.pcap`), not a capture.
    pub record: bool,
}

pub fn file_name(name: &str) -> FileName<'_> {
    let stem = name
        .strip_suffix(".pcapng")
        .or_else(|| name.strip_suffix(".pcap"))
        .unwrap_or(name);
    let (stem, record) = match stem.strip_suffix(".netem") {
        Some(s) => (s, true),
        None => (stem, false),
    };
    // The longest host name first: client2 before client.
    let mut hosts: Vec<&'static str> = HOSTS.iter().map(|(h, _)| *h).collect();
    hosts.sort_by_key(|h| std::cmp::Reverse(h.len()));
    let suffixed = hosts.iter().find_map(|h| {
        let experiment = if stem == *h {
            stem
        } else {
            stem.strip_suffix(h)?.strip_suffix('-')?
        };
        Some((experiment, *h))
    });
    let (experiment, host) = match suffixed {
        Some((experiment, host)) => (experiment, Some(host)),
        None => (
            stem,
            hosts
                .iter()
                .find(|h| stem.starts_with(&format!("{h}-")))
                .copied(),
        ),
    };
    FileName {
        experiment,
        host,
        record,
    }
}

/// The host that took a capture, from its file name: (host, is a netem record).
pub fn host_of(path: &Path) -> (Option<&'static str>, bool) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let f = file_name(&name);
    (f.host, f.record)
}

/// Where the capture at PATH was taken, from its name (`…-client.pcap`, `client.netem.pcap`);
/// None when the name does not say which host, or names no host of PLAN.
pub fn role_of(path: &Path, plan: &Plan) -> Option<Role> {
    let (host, record) = host_of(path);
    let ip = plan.ip_of(host?)?;
    Some(if record {
        Role::Entered(ip)
    } else {
        Role::Seen(Some(ip))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_a_subnet_or_the_hosts_addresses() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 8080);
        let lab = Plan::new("10.80.80").unwrap();
        assert_eq!(lab.name(at("10.80.80.11")), "client");
        let class = Plan::new("server=10.100.0.2,client=10.100.0.3,client2=10.100.0.4").unwrap();
        assert_eq!(class.name(at("10.100.0.2")), "server");
        assert_eq!(class.name(at("10.100.0.3")), "client");
        assert_eq!(class.name(at("10.100.0.11")), "10.100.0.11");
        assert_eq!(class.ip_of("client2"), Some("10.100.0.4".parse().unwrap()));
        // A host left out (not resolved) is named by its address.
        let some = Plan::new("server=10.100.0.2,").unwrap();
        assert_eq!(some.name(at("10.100.0.3")), "10.100.0.3");
        for bad in [
            "10.80",
            "server=x",
            "router=10.0.0.1",
            "server=10.0.0.1,server=10.0.0.2",
            "=",
        ] {
            assert!(Plan::new(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_capturing_host_is_read_from_the_file_name() {
        let h = |p: &str| host_of(Path::new(p));
        assert_eq!(h("captures/05-ladder-client.pcap"), (Some("client"), false));
        assert_eq!(
            h("captures/05-ladder-client2.pcap"),
            (Some("client2"), false)
        );
        assert_eq!(h("x/05-ladder-server.netem.pcap"), (Some("server"), true));
        assert_eq!(
            h("captures/client-20250101-101010.pcap"),
            (Some("client"), false)
        );
        assert_eq!(h("captures/trace.pcapng"), (None, false));
    }
}
