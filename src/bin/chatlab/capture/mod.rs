//! The capture model: what the captures of a TCP conversation say, as data, with no drawing;
//! `ladder` draws it, `view` draws it live and replays it (one model, two views).
//!
//! - [`pcap`]: reading pcap/pcapng files down to TCP segments (and writing netem's record).
//! - [`model`]: connections, matching a segment across captures, its fate, the TCP states.
//! - [`window`]: what is kept of long captures (which connections; of each, opening and end).
//! - [`plan`]: which host is which: the lab's addresses, what a capture file's name says.
//! - [`reading`]: an experiment's captures and netem records loaded into connections.

pub mod model;
pub mod pcap;
pub mod plan;
pub mod reading;
pub mod window;
