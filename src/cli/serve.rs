//! `sfnn serve`: the API, the dashboard and in-process workers on one store.

use crate::server::{self, ServerOptions};
use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs SFNN_API_TOKEN (or
    /// --allow-unauthenticated).
    #[arg(long, env = "SFNN_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// SQLite file path or sqlite:// URL, or a postgres:// URL (default: sfnn.db in the data
    /// directory).
    #[arg(long, env = "DATABASE_URL")]
    database: Option<String>,
    /// Where the default database lives (default: $XDG_DATA_HOME/sfnn or ~/.local/share/sfnn).
    #[arg(long, env = "SFNN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Jobs run at once by in-process workers (0: API only).
    #[arg(long, env = "SFNN_WORKERS", default_value_t = 1)]
    workers: usize,
    /// auto, cpu or cuda.
    #[arg(long, env = "SFNN_EXECUTOR", default_value = "auto", value_parser = ["auto", "cpu", "cuda"])]
    executor: String,
    /// CPU threads for the CPU executor (0: one per core).
    #[arg(long, env = "SFNN_THREADS", default_value_t = 0)]
    threads: usize,
    /// Seconds a job's lease lasts without a heartbeat.
    #[arg(long, env = "SFNN_LEASE_SECONDS", default_value_t = 30)]
    lease_seconds: u64,
    /// Folder of the dashboard (default: ./static, else the one in the source tree).
    #[arg(long, env = "SFNN_STATIC_DIR")]
    static_dir: Option<PathBuf>,
    /// Require `Authorization: Bearer <token>` on every mutating request.
    #[arg(long, env = "SFNN_API_TOKEN", hide_env_values = true)]
    api_token: Option<String>,
    /// Allow a non-loopback address without a token.
    #[arg(long, env = "SFNN_ALLOW_UNAUTHENTICATED")]
    allow_unauthenticated: bool,
}

/// The default data directory.
fn data_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("sfnn")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/sfnn")))
        .unwrap_or_else(|| PathBuf::from("sfnn-data"))
}

fn static_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| Some(PathBuf::from("static")).filter(|p| p.join("index.html").exists()))
        .or_else(|| {
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"))
                .filter(|p| p.join("index.html").exists())
        })
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve_async(args))
}

async fn serve_async(args: ServeArgs) -> Result<()> {
    let token = args.api_token.filter(|t| !t.is_empty());
    if !args.bind.ip().is_loopback() && token.is_none() && !args.allow_unauthenticated {
        bail!(
            "refusing to listen on {} without SFNN_API_TOKEN; set a token, or pass \
             --allow-unauthenticated if the network is trusted",
            args.bind
        );
    }
    let database = match args.database {
        Some(d) => d,
        None => data_dir(args.data_dir)
            .join("sfnn.db")
            .display()
            .to_string(),
    };
    let server = server::start(ServerOptions {
        bind: args.bind,
        database: database.clone(),
        workers: args.workers,
        executor: serde_json::from_value(args.executor.clone().into())?,
        threads: args.threads,
        lease: Duration::from_secs(args.lease_seconds.max(3)),
        static_dir: static_dir(args.static_dir),
        token,
    })
    .await?;
    println!("SFNN Lab dashboard: http://{}/", server.address);
    println!(
        "API: http://{}/api/v1/  (database: {})",
        server.address,
        crate::store::redact(&database)
    );
    shutdown_signal().await;
    tracing::info!("shutting down: finishing the running generations");
    server.stop().await
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
