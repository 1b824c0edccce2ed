//! The class's agent as a library: its protocol (what the class's web server speaks to the
//! agents too), the agent itself and its command-line client. `main.rs` is their command line.

pub mod client;
pub mod protocol;
pub mod serve;
