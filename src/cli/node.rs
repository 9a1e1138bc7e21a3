//! What `sfnn serve` and `sfnn worker` share: where the database is, how workers run, and
//! how a node is told to stop.

use crate::server::WorkerOptions;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// SQLite file path, sqlite:// URL, or postgres:// URL for many machines
    /// (default: sfnn.db in the data directory).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database: Option<String>,
    /// Where the default database lives (default: $XDG_DATA_HOME/sfnn or ~/.local/share/sfnn).
    #[arg(long, env = "SFNN_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

impl DatabaseArgs {
    /// The database to open: the one named, else the SQLite file in the data directory.
    pub fn url(self) -> String {
        match self.database {
            Some(d) => d,
            None => data_dir(self.data_dir)
                .join("sfnn.db")
                .display()
                .to_string(),
        }
    }
}

/// The default data directory.
fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("sfnn")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/sfnn")))
        .unwrap_or_else(|| PathBuf::from("sfnn-data"))
}

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Jobs run at once by this node's workers (0: none).
    #[arg(long, env = "SFNN_WORKERS", default_value_t = 1)]
    workers: usize,
    /// auto, cpu or cuda.
    #[arg(long, env = "SFNN_EXECUTOR", default_value = "auto", value_parser = ["auto", "cpu", "cuda"])]
    executor: String,
    /// CPU threads for the CPU executor (0: one per core).
    #[arg(long, env = "SFNN_THREADS", default_value_t = 0)]
    threads: usize,
    /// Seconds a job's lease lasts without a heartbeat; then any worker takes the job over
    /// from its last checkpoint.
    #[arg(long, env = "SFNN_LEASE_SECONDS", default_value_t = 30)]
    lease_seconds: u64,
    /// Milliseconds between looks at an empty queue.
    #[arg(long, env = "SFNN_POLL_MS", default_value_t = 500)]
    poll_ms: u64,
}

impl WorkerArgs {
    pub fn options(&self) -> Result<WorkerOptions> {
        Ok(WorkerOptions {
            count: self.workers,
            executor: serde_json::from_value(self.executor.clone().into())?,
            threads: self.threads,
            // Heartbeats come every third of a lease; below 3 s they would crowd the database.
            lease: Duration::from_secs(self.lease_seconds.max(3)),
            poll: Duration::from_millis(self.poll_ms.clamp(10, 60_000)),
        })
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// A multi-threaded runtime for a node.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
