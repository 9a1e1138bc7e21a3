//! Serving HTTP/1.1 with bounded resources.
//!
//! `axum::serve` accepts connections until the process runs out of file descriptors and keeps
//! each for as long as its client likes. This accept loop instead
//! - serves at most a limit of connections, derived from the file-descriptor limit (raised to
//!   the hard limit first), making room at the limit by closing the longest-idle connection
//!   ([`super::connections`]) and turning newcomers away only when every connection is busy;
//! - closes a connection that takes longer than the idle timeout to send a request's headers,
//!   counted from when it opened or its previous response ended (idle and keep-alive
//!   connections, slow-header clients);
//! - disconnects a client that takes no bytes for the write timeout ([`super::io`]);
//! - on shutdown stops accepting, lets requests in progress finish, closes idle connections
//!   and returns when every connection is closed, as `axum::serve`'s graceful shutdown does.

use super::connections::{Admission, Connection, Connections, Slot};
use super::fd_limit;
use super::io::ConnectionIo;
use crate::limits;
use crate::metrics::Metrics;
use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How a node serves HTTP connections. The defaults are the bounds in
/// [`limits::connections`] and [`limits::events`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Connections served at once; `None`: [`limits::connections::MAX_CONNECTIONS`]. Either is
    /// lowered to what the file-descriptor limit leaves room for.
    pub max_connections: Option<usize>,
    /// Live event streams open at once (never more than half the connections).
    pub max_event_streams: usize,
    /// Time to send a request's headers, from when the connection opened or its previous
    /// response ended.
    pub idle_timeout: Duration,
    /// A client that takes no bytes of a response for this long is disconnected.
    pub write_timeout: Duration,
    /// Genome replays computed at once (0: none, every replay is refused `busy`).
    pub max_replays: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            max_connections: None,
            max_event_streams: limits::events::MAX_STREAMS,
            idle_timeout: limits::connections::IDLE_TIMEOUT,
            write_timeout: limits::connections::WRITE_TIMEOUT,
            max_replays: limits::replay::MAX_CONCURRENT,
        }
    }
}

impl HttpOptions {
    /// The connection table for these options: raises the file-descriptor limit and derives
    /// the connection limit from it.
    pub(super) fn connections(&self, metrics: &Metrics) -> Arc<Connections> {
        let fd_limit = fd_limit::raise();
        let limit = fd_limit::connection_limit(fd_limit, self.max_connections);
        tracing::info!(
            connections = limit,
            file_descriptors = fd_limit,
            "connection limit"
        );
        Connections::new(limit, metrics.connections().clone())
    }

    /// Live event streams allowed with `connections`: at most half of them, so that streams
    /// never leave a request without a connection.
    pub(super) fn event_streams(&self, connections: &Connections) -> usize {
        self.max_event_streams.min(connections.limit() / 2).max(1)
    }
}

/// Serves `app` on `listener` until `shutdown`, then waits for open connections to finish.
pub(super) fn serve(
    listener: TcpListener,
    app: Router,
    connections: Arc<Connections>,
    options: &HttpOptions,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<io::Result<()>> {
    let timeouts = Timeouts {
        idle: options.idle_timeout,
        write: options.write_timeout,
    };
    tokio::spawn(accept_loop(listener, app, connections, timeouts, shutdown))
}

#[derive(Debug, Clone, Copy)]
struct Timeouts {
    idle: Duration,
    write: Duration,
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    connections: Arc<Connections>,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let mut open = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            // Reaps finished connections, so the set holds only open ones.
            Some(_) = open.join_next() => continue,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        match connections.admit() {
            Admission::Admitted(slot) => {
                let connection = serve_connection(
                    stream,
                    remote,
                    slot,
                    app.clone(),
                    timeouts,
                    shutdown.clone(),
                );
                open.spawn(connection);
            }
            Admission::Full => refuse(&stream),
        }
    }
    // No more connections; those open finish what they are doing (live streams end on the
    // same signal).
    drop(listener);
    while open.join_next().await.is_some() {}
    Ok(())
}

/// `accept` failed. A connection reset before it was accepted is nothing; anything else
/// (descriptors or memory exhausted) is waited out briefly rather than retried in a spin, as
/// open connections close and free what is missing.
async fn accept_failed(e: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accepting a connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Turns a connection away when every slot is busy: one non-blocking write of a 503, then
/// close. It costs no task and never waits on the client.
fn refuse(stream: &TcpStream) {
    let body = r#"{"error":{"code":"unavailable","message":"every connection this server serves is busy; retry later"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        limits::events::RETRY_AFTER_SECONDS,
        body.len()
    );
    let _ = stream.try_write(response.as_bytes());
}

/// Serves one connection until it closes, is evicted, or the server shuts down.
async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    slot: Slot,
    app: Router,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) {
    let connection = slot.connection.clone();
    let io = TokioIo::new(ConnectionIo::new(
        stream,
        connection.clone(),
        timeouts.write,
    ));
    let service = AppService {
        app,
        remote,
        connection: connection.clone(),
    };
    let mut served = pin!(
        http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.idle)
            .max_buf_size(limits::connections::BUFFER)
            .serve_connection(io, service)
    );
    let mut stopping = false;
    loop {
        tokio::select! {
            outcome = served.as_mut() => {
                if let Err(e) = outcome {
                    tracing::debug!(%remote, "connection ended: {e}");
                }
                break;
            }
            // Idle (nothing in progress, everything written): closing it loses nothing.
            () = connection.evicted() => break,
            _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                stopping = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
    drop(slot);
}

/// The application as hyper calls it, for one connection: records when the connection is
/// busy, and gives handlers the client's address (`ConnectInfo<SocketAddr>`).
#[derive(Clone)]
struct AppService {
    app: Router,
    remote: SocketAddr,
    connection: Arc<Connection>,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for AppService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        self.connection.request_started();
        // Created here, so that the connection is told even if the handler never answers.
        let done = ResponseDone(self.connection.clone());
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let response = tower::Service::call(&mut self.app.clone(), request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody { body, _done: done }))
        })
    }
}

/// Tells the connection, when dropped, that its response ended.
struct ResponseDone(Arc<Connection>);

impl Drop for ResponseDone {
    fn drop(&mut self) {
        self.0.response_ended();
    }
}

/// A response body that tells its connection when it is done (hyper drops a body once it has
/// taken all of it, or gives up on it).
struct TrackedBody {
    body: Body,
    _done: ResponseDone,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
