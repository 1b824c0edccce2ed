//! The capture model: what the captures of a TCP conversation say, as data, with no drawing;
//! `ladder` draws it, `view` draws it live and replays it (one model, two views).
//!
//! # Layout
//!
//! - [`pcap`]: reading pcap/pcapng files down to TCP segments (and writing netem's record).
//! - [`model`]: connections, matching a segment across captures, its fate, the TCP states.
//! - [`window`]: what is kept of the captures (which connections, by their census; of each, its
//!   opening and latest segments).
//! - [`plan`]: which host is which: the lab's addresses, what a capture file's name says.
//! - [`reading`]: loading an experiment's captures and netem records into connections.

pub mod model;
pub mod pcap;
pub mod plan;
pub mod reading;
pub mod window;
