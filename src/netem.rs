//! The userspace network impairment engine behind `chat-netem` (delay, jitter, loss, rate on
//! packets taken from an NFQUEUE), for kernels without `sch_netem`.
