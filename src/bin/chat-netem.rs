//! `chat-netem`: userspace netem for kernels without `sch_netem` (see `chatlab::netem`).

fn main() {
    eprintln!("chat-netem: not built yet");
    std::process::exit(1);
}
