//! The accept loop of chatlab's servers: `chatlab view`'s, the class's agent's and its web
//! server's. Written once, because each must hold under a flood: at most a number of
//! connections at once (one more is closed at once, the server lives on), and an accept that
//! fails (out of file descriptors, of memory) waits a moment instead of spinning.
//!
//! axum's own `serve` has no such bound, which is why the servers drive hyper themselves and
//! share this.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use log::{debug, warn};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Accept connections on LISTENER for ever, at most MAX at once (one more is closed at once),
/// each served by SERVE in a task of its own, holding its permit until it ends.
pub async fn accept_each<F, Fut>(listener: TcpListener, max: usize, serve: F) -> !
where
    F: Fn(TcpStream, SocketAddr, OwnedSemaphorePermit) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let connections = Arc::new(Semaphore::new(max));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // (The connection waits in the backlog until some close.)
                warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            debug!("{peer}: over {max} connections, closed");
            continue; // (dropped: closed)
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, peer, permit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Two connections held, a third is closed at once; when one ends, the next is served.
    #[tokio::test(flavor = "current_thread")]
    async fn over_the_bound_a_connection_is_closed_and_the_loop_lives_on() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(accept_each(
            listener,
            2,
            |mut stream, _, permit| async move {
                // Each connection: answer "hi", then hold (its permit too) until the client
                // closes.
                let _permit = permit;
                let _ = stream.write_all(b"hi").await;
                let _ = stream.read(&mut [0; 1]).await;
            },
        ));
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(at).await.unwrap();
            let mut hi = [0; 2];
            c.read_exact(&mut hi).await.unwrap();
            assert_eq!(&hi, b"hi");
            held.push(c);
        }
        let mut third = TcpStream::connect(at).await.unwrap();
        assert_eq!(
            third.read(&mut [0; 2]).await.unwrap(),
            0,
            "closed, unserved"
        );
        drop(held.pop());
        // The permit is given back when the served connection's task ends.
        let mut hi = [0; 2];
        for _ in 0..50 {
            let mut c = TcpStream::connect(at).await.unwrap();
            if c.read_exact(&mut hi).await.is_ok() {
                return assert_eq!(&hi, b"hi");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("a permit given back was never taken again");
    }
}
