//! A running SFNN Lab server: store, in-process workers and the HTTP application, started and
//! stopped together. `sfnn serve` and the integration tests both use it.

use crate::api::{self, ApiConfig, AppState};
use crate::events::EventHub;
use crate::exec::{self, ExecutorChoice};
use crate::store;
use crate::worker::{Worker, WorkerConfig};
use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Everything `start` needs.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub bind: SocketAddr,
    /// SQLite path or `sqlite://` URL, or a `postgres://` URL.
    pub database: String,
    pub workers: usize,
    pub executor: ExecutorChoice,
    pub threads: usize,
    pub lease: Duration,
    pub static_dir: Option<PathBuf>,
    pub token: Option<String>,
}

/// A server that is up; [`RunningServer::stop`] shuts it down gracefully.
pub struct RunningServer {
    pub address: SocketAddr,
    pub store: store::Store,
    stop: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

/// Opens the store, starts the workers and begins serving.
pub async fn start(options: ServerOptions) -> Result<RunningServer> {
    let store = store::open(&options.database)
        .await
        .with_context(|| format!("opening the database {}", store::redact(&options.database)))?;
    let events = EventHub::default();
    let (stop, shutdown) = watch::channel(false);

    let mut executors = Vec::new();
    let mut workers = Vec::new();
    if options.workers > 0 {
        let executor: Arc<dyn exec::Executor> =
            Arc::from(exec::select(options.executor, options.threads)?);
        executors.push(api::meta::ExecutorInfo {
            name: executor.name().into(),
            device: executor.device(),
            workers: options.workers,
        });
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into());
        for i in 0..options.workers {
            let config = WorkerConfig {
                id: format!("{host}-{}-{i}", std::process::id()),
                lease: options.lease,
                poll: Duration::from_millis(200),
                executor: executor.clone(),
            };
            let worker = Worker::new(store.clone(), events.clone(), config, shutdown.clone());
            workers.push(tokio::spawn(worker.run()));
        }
    }

    let state = AppState {
        store: store.clone(),
        events,
        config: Arc::new(ApiConfig {
            token: options.token,
            static_dir: options.static_dir,
            executors,
        }),
        shutdown: shutdown.clone(),
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .with_context(|| format!("listening on {}", options.bind))?;
    let address = listener.local_addr()?;
    let mut http_shutdown = shutdown;
    let http = tokio::spawn(
        axum::serve(listener, api::router(state))
            .with_graceful_shutdown(async move {
                let _ = http_shutdown.wait_for(|stop| *stop).await;
            })
            .into_future(),
    );
    tracing::info!(%address, workers = options.workers, "serving");
    Ok(RunningServer {
        address,
        store,
        stop,
        http,
        workers,
    })
}

impl RunningServer {
    /// Stops accepting requests, ends live streams, lets each worker finish (or checkpoint) its
    /// generation and hand its job back, then returns.
    pub async fn stop(self) -> Result<()> {
        let _ = self.stop.send(true);
        self.http
            .await
            .context("HTTP task")?
            .context("serving HTTP")?;
        for worker in self.workers {
            let _ = worker.await;
        }
        tracing::info!("stopped");
        Ok(())
    }
}
