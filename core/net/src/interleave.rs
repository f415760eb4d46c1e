//! Reading and writing one HTTP/2 connection in turns.
//!
//! `h2` reads every frame it can before it writes anything: it leaves its read loop only
//! when the socket has nothing more, and only then sends what the woken request tasks have
//! queued. With 100 pages in flight, the client read about 50 pages, then sent their 50
//! follow-up requests in one write, and each side waited while the other worked: the
//! pipeline ran half empty (0.73 of a core busy in `examples/h2floor` against nghttpd).
//!
//! [`Interleave`] makes the connection pause its reading once it has read [`TURN`] bytes
//! since the last pause: the read returns `Pending` after waking its own task, so the
//! connection task goes to the back of the run queue, the request tasks those bytes woke
//! run and queue their next requests, and the connection writes them (`h2` flushes whenever
//! its read loop is left) before it reads on. The server gets work while the client is
//! still reading. Measured with `examples/h2floor` against nghttpd (100 in flight, one
//! thread): about 155k -> 240k pages per second, and less CPU per page (BENCHMARKS.md,
//! row 4a).
//!
//! Nothing is lost or reordered: a pause happens before a read, never inside one, and the
//! bytes are the connection's own; the task is woken before `Pending` is returned, so it is
//! always polled again.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read between two pauses: about 8 of the 14.7 KB pages of `examples/loadgen`
/// (a quarter of [`crate::http`]'s read buffer). 16 KB paused too often (a write per page);
/// 64-128 KB gave the most pages per second.
pub const TURN: usize = 128 << 10;

/// An `AsyncRead + AsyncWrite` that pauses its reading every `turn` bytes (module docs).
#[derive(Debug)]
pub struct Interleave<T> {
    io: T,
    read_since_pause: usize,
    turn: usize,
}

impl<T> Interleave<T> {
    /// Pauses every [`TURN`] bytes.
    pub fn new(io: T) -> Self {
        Self::every(io, TURN)
    }

    /// Pauses every `turn` bytes (at least 1).
    pub fn every(io: T, turn: usize) -> Self {
        Interleave {
            io,
            read_since_pause: 0,
            turn: turn.max(1),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Interleave<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read_since_pause >= self.turn {
            self.read_since_pause = 0;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        if read.is_ready() {
            self.read_since_pause += buf.filled().len() - before;
        }
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Interleave<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bytes)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll_once<T: AsyncRead + Unpin>(
        io: &mut Interleave<T>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<usize> {
        let mut buf = ReadBuf::new(out);
        match Pin::new(io).poll_read(cx, &mut buf) {
            Poll::Ready(r) => {
                r.expect("read");
                Poll::Ready(buf.filled().len())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    #[tokio::test]
    async fn it_pauses_after_each_turn_wakes_itself_and_loses_no_byte() {
        let (mut server, client) = tokio::io::duplex(1 << 16);
        let sent: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        server.write_all(&sent).await.unwrap();
        let mut io = Interleave::every(client, 3_000);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut got = Vec::new();
        let mut pauses = 0;
        let mut out = [0u8; 1_000];
        while got.len() < sent.len() {
            match poll_once(&mut io, &mut cx, &mut out) {
                Poll::Ready(n) => got.extend_from_slice(&out[..n]),
                Poll::Pending => {
                    pauses += 1;
                    // A pause wakes the task at once: it is polled again.
                    assert_eq!(count.0.load(Ordering::Relaxed), pauses);
                }
            }
        }
        assert_eq!(got, sent, "every byte, in order");
        // 10,000 bytes in reads of 1,000: a pause after 3,000, 6,000 and 9,000.
        assert_eq!(pauses, 3);
    }

    #[tokio::test]
    async fn writes_and_reads_pass_through() {
        let (mut server, client) = tokio::io::duplex(1 << 10);
        let mut io = Interleave::new(client);
        io.write_all(b"ping").await.unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        server.write_all(b"pong").await.unwrap();
        drop(server);
        let mut back = Vec::new();
        io.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"pong");
    }
}
