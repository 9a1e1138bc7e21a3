//! `sfnn worker`: workers only, for machines that run jobs for a shared (PostgreSQL) store.

use super::node::{self, DatabaseArgs, WorkerArgs};
use crate::server::{self, WorkerNodeOptions};
use anyhow::Result;
use std::net::SocketAddr;

#[derive(Debug, clap::Args)]
pub struct WorkerNodeArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    workers: WorkerArgs,
    /// Serve /healthz and /metrics (Prometheus) on this address.
    #[arg(long, env = "SFNN_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
}

pub fn worker(args: WorkerNodeArgs) -> Result<()> {
    node::runtime()?.block_on(async move {
        let database = args.database.url();
        let node = server::start_workers(WorkerNodeOptions {
            database: database.clone(),
            workers: args.workers.options()?,
            metrics_bind: args.metrics_bind,
        })
        .await?;
        match node.metrics_address {
            Some(address) => println!(
                "sfnn worker: database {}, metrics at http://{address}/metrics",
                crate::store::redact(&database)
            ),
            None => println!("sfnn worker: database {}", crate::store::redact(&database)),
        }
        node::shutdown_signal().await;
        tracing::info!("shutting down: finishing the running generations");
        node.stop().await
    })
}
