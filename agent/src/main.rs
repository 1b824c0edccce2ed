//! `chatlab-agent`: the class's agent, one static binary for both of its ends.
//!
//! `lab/class` gives each student a lab on a swarm of machines, and `docker exec` reaches only
//! the containers of the daemon it talks to. So every node runs this agent (a global swarm
//! service, on the node's host network, with the node's Docker socket), and `lab/class exec`
//! runs its client, which asks the agent of the lab's node.
//!
//! # Layout
//! - `lib.rs`: the modules below, for the class's web server (it speaks the protocol).
//! - `protocol.rs`: the requests, the frames, the checks: the whole protocol, no I/O (the
//!   class's web server will speak it too).
//! - `serve.rs`: `chatlab-agent serve`, the agent: what it exposes, and why nothing else.
//! - `client.rs`: `chatlab-agent exec`, the client lab/class runs.

use chatlab_agent::{client, protocol, serve};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "chatlab-agent",
    version,
    about = "The class's agent: exec into the hosts of the class's labs, on the node where they run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the class's operations on this node (in the agent's container).
    Serve {
        /// Where to listen: the node's addresses and the agent's port.
        #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], protocol::DEFAULT_PORT)))]
        listen: SocketAddr,
        /// The class's token (a swarm secret in the agent's container).
        #[arg(long, default_value = "/run/secrets/chatlab-class-agent-token")]
        token_file: PathBuf,
        /// The node's Docker socket.
        #[arg(long, default_value = "/var/run/docker.sock")]
        docker: String,
        /// One lab instead of the class's: its three hosts' containers,
        /// server=ID,client=ID,client2=ID (lab/view --terminals, for a compose lab); its
        /// student is `lab`, and nothing else is reached.
        #[arg(long, value_name = "HOST=ID,...", value_parser = parse_lab)]
        lab: Option<std::collections::HashMap<String, String>>,
    },
    /// Run CMD (default: a login shell) in HOST of STUDENT's lab, through the agent of its node.
    Exec {
        /// The agent of the lab's node: ADDRESS:PORT.
        #[arg(long)]
        agent: String,
        /// The file holding the class's token (class/agent.token).
        #[arg(long)]
        token_file: PathBuf,
        /// The student's ID.
        #[arg(long)]
        student: String,
        /// server, client or client2.
        #[arg(long)]
        host: String,
        /// A terminal: the local one in raw mode, its size followed (when stdin is one).
        #[arg(long)]
        tty: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true)]
        cmd: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = matches!(cli.command, Command::Exec { .. });
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(if quiet {
        "warn"
    } else {
        "info"
    }))
    .init();
    match cli.command {
        Command::Serve {
            listen,
            token_file,
            docker,
            lab,
        } => {
            let token = match std::fs::read_to_string(&token_file)
                .map_err(|e| e.to_string())
                .and_then(|t| protocol::token_of_file(&t))
            {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("chatlab-agent: {}: {e}", token_file.display());
                    return ExitCode::FAILURE;
                }
            };
            let config = serve::Config {
                listen,
                token,
                docker_socket: docker,
                lab,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the tokio runtime");
            match runtime.block_on(serve::serve(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("chatlab-agent: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Exec {
            agent,
            token_file,
            student,
            host,
            tty,
            cmd,
        } => {
            // (Not checked here: the agent is the one that decides, and says why not.)
            let request = protocol::ExecRequest {
                student,
                host,
                tty,
                size: None,
                cmd,
            };
            let code = client::run(client::Options {
                agent: &agent,
                token_file: &token_file,
                request,
            });
            // (exit, not a return: the thread reading stdin may be blocked in a read.)
            std::process::exit(code);
        }
    }
}

/// `server=ID,client=ID,client2=ID`: each host of the lab, once, with a container's id.
fn parse_lab(text: &str) -> Result<std::collections::HashMap<String, String>, String> {
    let mut lab = std::collections::HashMap::new();
    for item in text.split(',') {
        let (host, id) = item
            .split_once('=')
            .ok_or_else(|| format!("'{item}': HOST=ID"))?;
        if !protocol::valid_host(host) {
            return Err(format!(
                "'{host}': the hosts are server, client and client2"
            ));
        }
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("'{id}' is not a container's id"));
        }
        if lab.insert(host.to_string(), id.to_string()).is_some() {
            return Err(format!("{host} is given twice"));
        }
    }
    if !lab.contains_key("server") {
        return Err("the lab's server is missing".into());
    }
    Ok(lab)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lab_is_its_hosts_containers() {
        let lab = super::parse_lab("server=ab12,client=cd34,client2=ef56").unwrap();
        assert_eq!(lab["client"], "cd34");
        assert!(super::parse_lab("server=ab12").is_ok());
        for (bad, why) in [
            ("client=ab12", "server is missing"),
            ("server=ab12,server=cd34", "twice"),
            ("router=ab12", "the hosts are"),
            ("server=x;rm", "not a container's id"),
            ("server", "HOST=ID"),
        ] {
            let e = super::parse_lab(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
