//! `chatlab-web`: the class's web server. Each student of the class opens one link and gets
//! their lab in a browser tab (terminals into its three hosts, their files); the teacher's
//! link shows the whole class. It runs on the swarm's manager (lab/class web starts it) and
//! reaches the labs only through the class's agents, with the class's token: it holds no
//! Docker socket, and exposes nothing but a login shell in one of a student's three hosts,
//! that student's files, checks of them, and the class's summary to the teacher.
//!
//! # Layout
//! - `class.rs`: the class's files it reads and writes (the roster, the secrets, the links,
//!   the agents' addresses), and who a secret is.
//! - `tls.rs`: the certificate, the teacher's or one made at the first start.
//! - `agents.rs`: the labs found through the agents, and a command run in a host.
//! - `terms.rs`: the labs' shells, shared by the pages that show them and kept while none
//!   does; the keyboard, the student's or the teacher's.
//! - `server.rs`: HTTPS, the checks every request passes (host, origin, secret), the routes.
//! - `files.rs`: a student's `work/` folder, by names confined to it.
//! - `checks.rs`: checks of a student's files (by the agents), the latest verdicts, the
//!   teacher's « grade all ».
//! - `view.rs`: a lab's live view: `chatlab view`'s page, its state made in the lab.
//! - `page/`: the pages (HTML, CSS, JavaScript), and `vendor/xterm/` the terminal emulator.

mod agents;
mod checks;
mod class;
mod files;
mod server;
mod terms;
mod tls;
mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The class's web server: each student's lab in a browser tab, the class for the teacher.
#[derive(Debug, Parser)]
#[command(name = "chatlab-web", version)]
struct Cli {
    /// The class's folder (lab/class's class/): roster, agent token and addresses; the server
    /// writes its secrets, certificate and the students' links there (web/, links.csv).
    #[arg(long, default_value = "class")]
    dir: PathBuf,
    /// Where to listen.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], 8443)))]
    listen: SocketAddr,
    /// The name (or address) the class reaches this server by, as in the links; repeat for
    /// other names. Requests for any other `Host:` are refused (DNS rebinding).
    #[arg(long = "name", required = true)]
    names: Vec<String>,
    /// The teacher's certificate (PEM); without it, one made and kept in DIR/web/.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The key of --cert (PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// How long a lab's shell is kept, in seconds, once no page shows it (a tab closed finds it
    /// again, with what runs in it); 0: closed with its last page.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    keep_terminals: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("chatlab-web: the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chatlab-web: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let class = class::Class::open(&cli.dir)?;
    let port = cli.listen.port();
    let origin = |name: &str| {
        if port == 443 {
            format!("https://{name}")
        } else {
            format!("https://{name}:{port}")
        }
    };
    let base = origin(&cli.names[0]);
    class.write_links(&base)?;
    let cert = match (&cli.cert, &cli.key) {
        (Some(cert), Some(key)) => tls::Certificate::load(cert, key)?,
        _ => tls::Certificate::made_in(&cli.dir.join("web"), &cli.names)?,
    };
    // What the teacher reads (stdout; lab/class web prints it): the link and the fingerprint.
    println!("teacher: {base}/t/{}", class.teacher_secret());
    println!("students' links: {}", cli.dir.join("links.csv").display());
    println!("certificate SHA-256: {}", cert.fingerprint());
    let config = server::Config {
        listen: cli.listen,
        names: cli.names,
        tls: cert.server_config()?,
        terminals: terms::Config {
            keep: std::time::Duration::from_secs(cli.keep_terminals),
        },
    };
    server::serve(config, class).await
}
