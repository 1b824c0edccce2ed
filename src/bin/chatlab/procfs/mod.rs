//! One reader of /proc for every instrument: the checker's eyes on a student's program
//! (`check/procs.rs`) and the view's probe in each lab host (`view/probe.rs`) read the
//! kernel's tables here, and only here. Reading changes nothing.
//!
//! - [`tcp`]: `/proc/net/tcp{,6}`: each TCP socket's addresses, [`tcp::TcpState`], queues,
//!   TIME_WAIT timer and inode.
//! - [`process`]: `/proc/PID/stat`, `fd` (which sockets a process holds: `socket:[INODE]`),
//!   `cmdline`, `syscall` and `wchan` (what a sleeping process waits for).
//!
//! Every function takes the folder where /proc is mounted ([`PROC`] in real use), so the
//! parsing is tested on the kernel's own text. Not the `procfs` crate: it reads neither the
//! TIME_WAIT timer of `/proc/net/tcp` nor `/proc/PID/syscall`, which the view needs, and this
//! is the few hundred lines of parsing the instruments use, tested here.

pub mod process;
pub mod tcp;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Where /proc is mounted.
pub const PROC: &str = "/proc";

/// What could not be read from /proc.
#[derive(Debug)]
pub enum Error {
    /// A file or folder could not be read: the process ended meanwhile, it is another
    /// user's, the table is missing.
    Read { path: PathBuf, source: io::Error },
    /// The kernel's text is not what this reader knows.
    Malformed { path: PathBuf, text: String },
}

impl Error {
    /// The error for reading PATH, for `map_err`.
    fn read(path: &Path) -> impl FnOnce(io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Read { path, source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Malformed { path, text } => {
                write!(f, "{}: unexpected text {text:?}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Read { source, .. } => Some(source),
            Error::Malformed { .. } => None,
        }
    }
}
