//! The checker's side of the conversation: the peer the student's program talks to.

use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::capture::Captured;

/// One connection with the program; what it sends is collected.
pub struct Conn {
    /// None once hung up.
    stream: Mutex<Option<TcpStream>>,
    /// The bytes the program sent, and whether it sent FIN (or the connection broke).
    pub got: Captured,
    /// The program's port and ours.
    pub theirs: u16,
    pub ours: u16,
}

impl Conn {
    fn new(stream: TcpStream) -> io::Result<Conn> {
        // Each send its own segment: what is sent apart arrives apart.
        stream.set_nodelay(true)?;
        let theirs = stream.peer_addr()?.port();
        let ours = stream.local_addr()?.port();
        let got = Captured::collect(stream.try_clone()?);
        Ok(Conn {
            stream: Mutex::new(Some(stream)),
            got,
            theirs,
            ours,
        })
    }

    /// Connect to the program listening on PORT (127.0.0.1, else ::1), retrying until DEADLINE.
    /// GIVE_UP ends the wait early (the program has ended).
    pub fn connect(port: u16, deadline: Instant, give_up: impl Fn() -> bool) -> Option<Conn> {
        let addrs: [SocketAddr; 2] = [
            (Ipv4Addr::LOCALHOST, port).into(),
            (Ipv6Addr::LOCALHOST, port).into(),
        ];
        loop {
            for addr in &addrs {
                if let Ok(s) = TcpStream::connect_timeout(addr, Duration::from_millis(500)) {
                    return Conn::new(s).ok();
                }
            }
            if Instant::now() >= deadline || give_up() {
                return None;
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn send(&self, bytes: &[u8]) -> bool {
        let stream = self.stream.lock().unwrap();
        stream
            .as_ref()
            .is_some_and(|mut s| s.write_all(bytes).is_ok())
    }

    /// Send BYTES from a thread (a burst while the other direction also flows).
    pub fn send_in_background(&self, bytes: Vec<u8>) {
        let stream = self.stream.lock().unwrap();
        if let Some(Ok(mut s)) = stream.as_ref().map(TcpStream::try_clone) {
            thread::spawn(move || {
                let _ = s.write_all(&bytes);
            });
        }
    }

    /// FIN, and stop reading (our reader sees the end).
    pub fn close(&self) {
        if let Some(s) = &*self.stream.lock().unwrap() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Close, and let the socket go: what the program sends after is answered with RST (its
    /// next send fails), as when a peer's process has ended.
    pub fn hang_up(&self) {
        self.close();
        // Our reader's copy goes when it sees the end; this is the last one.
        drop(self.stream.lock().unwrap().take());
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.close();
    }
}

/// Where the checker waits for a client program: PORT on 127.0.0.1 and, if it can, ::1
/// (`localhost` may resolve to either). Loopback only: nothing is exposed to the network.
pub struct Listener {
    sockets: Vec<TcpListener>,
}

impl Listener {
    pub fn bind(port: u16) -> io::Result<Listener> {
        let mut sockets = vec![listen((Ipv4Addr::LOCALHOST, port).into())?];
        if let Ok(v6) = listen((Ipv6Addr::LOCALHOST, port).into()) {
            sockets.push(v6);
        }
        Ok(Listener { sockets })
    }

    /// Drop connections left waiting from an earlier run.
    pub fn drain(&self) {
        for s in &self.sockets {
            while s.accept().is_ok() {}
        }
    }

    /// The next connection, or None at DEADLINE, or as soon as GIVE_UP says so.
    pub fn accept(&self, deadline: Instant, give_up: impl Fn() -> bool) -> Option<Conn> {
        loop {
            for s in &self.sockets {
                if let Ok((stream, _)) = s.accept() {
                    stream.set_nonblocking(false).ok()?;
                    return Conn::new(stream).ok();
                }
            }
            if Instant::now() >= deadline || give_up() {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(16)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
