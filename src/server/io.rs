//! The I/O of a served connection: it gives up on a client who stops taking bytes, and tells
//! the connection table when a response has been written out.
//!
//! Backpressure already keeps a stalled reader from growing the server's buffers: once the
//! socket is full, writes wait. But they would wait for ever, holding the connection, its task
//! and (for a live stream) a stream slot; so a write or flush fails with `TimedOut`, ending the
//! connection, when the client has taken nothing for the whole write timeout.

use super::connections::Connection;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

pub struct ConnectionIo<T> {
    inner: T,
    connection: Arc<Connection>,
    write_timeout: Duration,
    /// Running while a write is pending: started by the first `Pending`, dropped by progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<T> ConnectionIo<T> {
    pub fn new(inner: T, connection: Arc<Connection>, write_timeout: Duration) -> Self {
        ConnectionIo {
            inner,
            connection,
            write_timeout,
            stalled: None,
        }
    }

    /// Passes `outcome` on, turning a `Pending` that has lasted the whole timeout into an error.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let timeout = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        ready!(stalled.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client took no data for {} s", timeout.as_secs_f64()),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnectionIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnectionIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// hyper flushes the I/O once its own buffer is empty: everything it was given is then
    /// with the kernel.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = outcome {
            self.connection.flushed();
        }
        self.watch(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, outcome)
    }
}
