//! Running nodes. A server ([`start`]) is the API and the dashboard with any number of
//! in-process workers; a worker node ([`start_workers`]) is workers only, with an optional
//! health and metrics port. Both run on one store; many of them can share a PostgreSQL store.
//! `sfnn serve`, `sfnn worker` and the integration tests all use these.

mod connections;
mod fd_limit;
mod http;
mod io;

pub use fd_limit::raise as raise_fd_limit;
pub use http::HttpOptions;

use crate::api::admission::{Admission, SubmissionLimits};
use crate::api::hosts::AllowedHosts;
use crate::api::{self, ApiConfig, AppState};
use crate::events::EventHub;
use crate::exec::{self, ExecutorChoice};
use crate::metrics::Metrics;
use crate::store::{self, Store};
use crate::worker::{self, Worker, WorkerConfig};
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    /// SQLite path, `sqlite://` or `postgres://` URL.
    pub database: String,
    pub workers: WorkerOptions,
    pub static_dir: Option<PathBuf>,
    pub token: Option<String>,
    /// Limits on queued jobs and job submissions.
    pub limits: SubmissionLimits,
    /// Host names answered besides localhost and IP addresses (`*`: any), see
    /// [`AllowedHosts::for_bind`].
    pub allowed_hosts: Vec<String>,
    /// Connection and live-stream limits and timeouts.
    pub http: HttpOptions,
}

/// How a node's workers run.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once (0: none).
    pub count: usize,
    pub executor: ExecutorChoice,
    /// CPU executor threads (0: one per core).
    pub threads: usize,
    pub lease: Duration,
    /// How often an idle worker looks for work.
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            count: 1,
            executor: ExecutorChoice::Auto,
            threads: 0,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(200),
        }
    }
}

/// Everything [`start_workers`] needs.
#[derive(Debug, Clone)]
pub struct WorkerNodeOptions {
    pub database: String,
    pub workers: WorkerOptions,
    /// Where to serve `/healthz` and `/metrics`, if anywhere.
    pub metrics_bind: Option<SocketAddr>,
}

/// An API server that is up; [`RunningServer::stop`] shuts it down gracefully.
pub struct RunningServer {
    pub address: SocketAddr,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    node: Node,
}

/// A worker node that is up; [`RunningWorkerNode::stop`] shuts it down gracefully.
pub struct RunningWorkerNode {
    /// Where `/healthz` and `/metrics` are served, if anywhere.
    pub metrics_address: Option<SocketAddr>,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    node: Node,
}

/// The tasks of a running node and the switch that stops them.
struct Node {
    stop: watch::Sender<bool>,
    http: Option<JoinHandle<std::io::Result<()>>>,
    workers: Vec<JoinHandle<()>>,
    /// Delivers the store's events to this process's subscribers.
    relay: Option<JoinHandle<()>>,
}

impl Node {
    /// Stops accepting requests, ends live streams, lets each worker finish (or checkpoint) its
    /// generation and hand its job back, then returns.
    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        if let Some(http) = self.http {
            http.await.context("HTTP task")?.context("serving HTTP")?;
        }
        for worker in self.workers {
            let _ = worker.await;
        }
        if let Some(relay) = self.relay {
            let _ = relay.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// The workers of one node and what they run on.
struct Workers {
    handles: Vec<JoinHandle<()>>,
    executors: Vec<api::meta::ExecutorInfo>,
}

fn spawn_workers(
    store: &Store,
    metrics: &Arc<Metrics>,
    options: &WorkerOptions,
    shutdown: &watch::Receiver<bool>,
) -> Result<Workers> {
    let mut workers = Workers {
        handles: Vec::new(),
        executors: Vec::new(),
    };
    if options.count == 0 {
        return Ok(workers);
    }
    let executor: Arc<dyn exec::Executor> =
        Arc::from(exec::select(options.executor, options.threads)?);
    tracing::info!(executor = executor.name(), device = %executor.device(), "executor ready");
    workers.executors.push(api::meta::ExecutorInfo {
        name: executor.name().into(),
        device: executor.device(),
        workers: options.count,
        measured: None,
        built_in_steps_per_s: executor.built_in_steps_per_s(),
    });
    let host = hostname();
    for i in 0..options.count {
        let config = WorkerConfig {
            id: format!("{host}-{}-{i}", std::process::id()),
            lease: options.lease,
            poll: options.poll,
            executor: executor.clone(),
            metrics: metrics.clone(),
        };
        let worker = Worker::new(store.clone(), config, shutdown.clone());
        workers
            .handles
            .push(tokio::spawn(worker::supervise(worker)));
    }
    Ok(workers)
}

/// The machine's name, for worker ids: `HOSTNAME`, else the kernel's, else `local`.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into())
}

async fn open_store(database: &str) -> Result<Store> {
    store::open(database)
        .await
        .with_context(|| format!("opening the database {}", store::redact(database)))
}

/// Opens the store, starts the workers and begins serving the API.
pub async fn start(options: ServerOptions) -> Result<RunningServer> {
    let store = open_store(&options.database).await?;
    let metrics = Metrics::new();
    let (stop, shutdown) = watch::channel(false);
    // Listening starts before anything can write, so no event of this process is missed.
    let (events, relay) = EventHub::follow(&store, shutdown.clone())
        .await
        .context("listening for the store's events")?;
    let workers = spawn_workers(&store, &metrics, &options.workers, &shutdown)?;
    let connections = options.http.connections(&metrics);
    let streams = api::StreamSlots::new(
        options.http.event_streams(&connections),
        metrics.event_streams().clone(),
    );

    let state = AppState {
        store: store.clone(),
        events,
        config: Arc::new(ApiConfig {
            allowed_hosts: AllowedHosts::for_bind(
                options.bind,
                &options.allowed_hosts,
                options.token.is_some(),
            ),
            token: options.token,
            static_dir: options.static_dir,
            executors: workers.executors,
            admission: Arc::new(Admission::new(options.limits)),
        }),
        metrics: metrics.clone(),
        shutdown: shutdown.clone(),
        streams,
        replays: api::ReplaySlots::new(options.http.max_replays),
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("listening on {}", options.bind))?;
    let address = listener.local_addr()?;
    let http = http::serve(
        listener,
        api::router(state),
        connections,
        &options.http,
        shutdown,
    );
    tracing::info!(%address, workers = options.workers.count, "serving");
    Ok(RunningServer {
        address,
        store,
        metrics,
        node: Node {
            stop,
            http: Some(http),
            workers: workers.handles,
            relay: Some(relay),
        },
    })
}

/// Opens the store and starts workers only (`sfnn worker`).
pub async fn start_workers(options: WorkerNodeOptions) -> Result<RunningWorkerNode> {
    let store = open_store(&options.database).await?;
    // The store announces what the workers write (to other processes through the database,
    // when shared); nobody here subscribes.
    let metrics = Metrics::new();
    let (stop, shutdown) = watch::channel(false);
    let workers = spawn_workers(&store, &metrics, &options.workers, &shutdown)?;
    let (address, http) = match options.metrics_bind {
        Some(bind) => {
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .with_context(|| format!("listening on {bind}"))?;
            let address = listener.local_addr()?;
            let app = api::meta::probe_router(api::meta::ProbeState {
                store: store.clone(),
                metrics: metrics.clone(),
            });
            let options = HttpOptions::default();
            let connections = options.connections(&metrics);
            let http = http::serve(listener, app, connections, &options, shutdown);
            (Some(address), Some(http))
        }
        None => (None, None),
    };
    tracing::info!(
        workers = options.workers.count,
        metrics = ?address,
        "worker node started"
    );
    Ok(RunningWorkerNode {
        metrics_address: address,
        store,
        metrics,
        node: Node {
            stop,
            http,
            workers: workers.handles,
            relay: None,
        },
    })
}

impl RunningServer {
    /// Stops accepting requests, ends live streams, lets each worker finish (or checkpoint) its
    /// generation and hand its job back, then returns.
    pub async fn stop(self) -> Result<()> {
        self.node.stop().await
    }
}

impl RunningWorkerNode {
    /// Lets each worker finish (or checkpoint) its generation and hand its job back.
    pub async fn stop(self) -> Result<()> {
        self.node.stop().await
    }
}
