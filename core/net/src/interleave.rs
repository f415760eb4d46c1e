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
//!
//! The writes of a busy connection are also gathered: from a pause until a read finds the
//! socket empty, what `h2` writes (the next requests, window updates) is held, up to
//! [`HOLD`] bytes, and goes out in one write when the hold is full, when the read side runs
//! dry, or at shutdown. Each write to a sleeping server wakes it, and on this 2-core VM a
//! wake-up was most of a write's cost (about 14 us of kernel time, `perf`): one write per
//! turn sent about 9 requests, one per hold about 40, and the request path went 106-125k ->
//! 130-142k requests per second against nghttpd (BENCHMARKS.md, row 4a). A hold begins only
//! at a pause and ends at the first read that finds the socket empty: at a live market's
//! rate that read is in the same poll, so every write still goes out at once. It cannot
//! stall the connection: `h2` reads after it writes, and a read that finds nothing sends
//! what was held before it returns.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes read between two pauses: about 8 of the 14.7 KB pages of `examples/loadgen`
/// (a quarter of [`crate::http`]'s read buffer). 16 KB paused too often (a write per page);
/// 64-128 KB gave the most pages per second.
pub const TURN: usize = 128 << 10;

/// Bytes of writes held while a busy connection reads on: about 40 requests of
/// `examples/loadgen` (a request's headers are about 100 bytes: `h2` does not index
/// `:path`). Against nghttpd with 100 in flight: 0 (none held) 106-125k requests per
/// second, 2 KB 92-122k, 4 KB 130-142k, 8 KB 90-93k, 16 KB 94-98k, 64 KB 90-94k. Past
/// about half of what is in flight, the held requests are work the server does not have:
/// it runs dry.
pub const HOLD: usize = 4 << 10;

/// An `AsyncRead + AsyncWrite` that pauses its reading every `turn` bytes (module docs).
#[derive(Debug)]
pub struct Interleave<T> {
    io: T,
    read_since_pause: usize,
    turn: usize,
    /// Set by a pause, cleared when a read finds nothing: while it is set, writes are held
    /// (up to `hold` bytes).
    reading_on: bool,
    held: Vec<u8>,
    hold: usize,
}

impl<T> Interleave<T> {
    /// Pauses every [`TURN`] bytes and holds up to [`HOLD`] bytes of writes.
    pub fn new(io: T) -> Self {
        Self::with(io, TURN, HOLD)
    }

    /// Pauses every `turn` bytes (at least 1) and holds up to `hold` bytes of writes (0:
    /// none).
    pub fn with(io: T, turn: usize, hold: usize) -> Self {
        Interleave {
            io,
            read_since_pause: 0,
            turn: turn.max(1),
            reading_on: false,
            held: Vec::new(),
            hold,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.io
    }
}

impl<T: AsyncWrite + Unpin> Interleave<T> {
    /// Writes what was held, in order, before anything else is written.
    fn write_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut at = 0;
        let result = loop {
            if at == self.held.len() {
                break Poll::Ready(Ok(()));
            }
            match Pin::new(&mut self.io).poll_write(cx, &self.held[at..]) {
                Poll::Ready(Ok(0)) => break Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => at += n,
                Poll::Ready(Err(e)) => break Poll::Ready(Err(e)),
                Poll::Pending => break Poll::Pending,
            }
        };
        self.held.drain(..at);
        result
    }

    /// Whether a write now is held rather than written.
    fn holding(&self) -> bool {
        self.reading_on && self.held.len() < self.hold
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Interleave<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read_since_pause >= self.turn {
            self.read_since_pause = 0;
            self.reading_on = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        let got = buf.filled().len() - before;
        match &read {
            Poll::Ready(Ok(())) if got > 0 => self.read_since_pause += got,
            _ => {
                // Nothing more to read (or the end): what was held goes now. If the socket
                // cannot take it all, the rest goes at the next write or flush (`h2` flushes
                // on every poll; the socket's readiness wakes the task).
                self.reading_on = false;
                if !self.held.is_empty()
                    && let Poll::Ready(Err(e)) = self.write_held(cx)
                {
                    return Poll::Ready(Err(e));
                }
            }
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
        if self.holding() {
            self.held.extend_from_slice(bytes);
            return Poll::Ready(Ok(bytes.len()));
        }
        std::task::ready!(self.write_held(cx))?;
        Pin::new(&mut self.io).poll_write(cx, bytes)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.holding() {
            let mut n = 0;
            for b in bytes {
                self.held.extend_from_slice(b);
                n += b.len();
            }
            return Poll::Ready(Ok(n));
        }
        std::task::ready!(self.write_held(cx))?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bytes)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.holding() {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(self.write_held(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.write_held(cx))?;
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

    fn poll_once<T: AsyncRead + AsyncWrite + Unpin>(
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
        let mut io = Interleave::with(client, 3_000, 0);
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

    /// What the peer can read now, without waiting.
    fn readable_now(peer: &mut tokio::io::DuplexStream) -> Vec<u8> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = vec![0u8; 1 << 16];
        let mut buf = ReadBuf::new(&mut out);
        match Pin::new(peer).poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                r.expect("read");
                buf.filled().to_vec()
            }
            Poll::Pending => Vec::new(),
        }
    }

    fn write_now<T: AsyncRead + AsyncWrite + Unpin>(io: &mut Interleave<T>, bytes: &[u8]) {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(io).poll_write(&mut cx, bytes) {
            Poll::Ready(Ok(n)) => assert_eq!(n, bytes.len()),
            other => panic!("write: {other:?}"),
        }
    }

    /// Reads until the turn's pause (`Pending` with data still there).
    fn read_to_pause<T: AsyncRead + AsyncWrite + Unpin>(io: &mut Interleave<T>) -> usize {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut out = [0u8; 1_000];
        let mut read = 0;
        while let Poll::Ready(n) = poll_once(io, &mut cx, &mut out) {
            assert!(n > 0, "the data ran out before the pause");
            read += n;
        }
        read
    }

    #[tokio::test]
    async fn writes_after_a_pause_are_held_until_the_read_runs_dry_then_sent_in_order() {
        let (mut server, client) = tokio::io::duplex(1 << 16);
        server.write_all(&[7u8; 5_000]).await.unwrap();
        let mut io = Interleave::with(client, 3_000, 1 << 10);
        // Before any pause, a write goes out at once.
        write_now(&mut io, b"zero;");
        assert_eq!(readable_now(&mut server), b"zero;");
        assert_eq!(read_to_pause(&mut io), 3_000);
        write_now(&mut io, b"first;");
        write_now(&mut io, b"second;");
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(Pin::new(&mut io).poll_flush(&mut cx).is_ready());
        assert_eq!(
            readable_now(&mut server),
            b"",
            "held while the read goes on"
        );
        // The rest of the data, then a read that finds nothing: the held bytes go.
        let mut out = [0u8; 1_000];
        let mut read = 0;
        while let Poll::Ready(n) = poll_once(&mut io, &mut cx, &mut out) {
            read += n;
        }
        assert_eq!(read, 2_000);
        assert_eq!(readable_now(&mut server), b"first;second;");
        // The read found nothing: writes go out at once again.
        write_now(&mut io, b"third;");
        assert_eq!(readable_now(&mut server), b"third;");
    }

    #[tokio::test]
    async fn a_full_hold_is_written_before_the_next_write_and_shutdown_sends_what_is_held() {
        let (mut server, client) = tokio::io::duplex(1 << 16);
        server.write_all(&[7u8; 10_000]).await.unwrap();
        let mut io = Interleave::with(client, 3_000, 8);
        read_to_pause(&mut io);
        write_now(&mut io, b"0123456789");
        assert_eq!(
            readable_now(&mut server),
            b"",
            "under the hold when it was written"
        );
        // The hold is full: the held bytes, then this write, in order, with data still
        // to read.
        write_now(&mut io, b"abc");
        assert_eq!(readable_now(&mut server), b"0123456789abc");
        read_to_pause(&mut io);
        write_now(&mut io, b"bye");
        assert_eq!(readable_now(&mut server), b"");
        io.shutdown().await.unwrap();
        let mut rest = Vec::new();
        server.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"bye", "sent at shutdown, then the end of the stream");
    }
}
