//! `sfnn serve`: the API, the dashboard and in-process workers on one store.

use super::node::{self, DatabaseArgs, WorkerArgs};
use crate::server::{self, ServerOptions};
use anyhow::{Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but loopback needs SFNN_API_TOKEN (or
    /// --allow-unauthenticated).
    #[arg(long, env = "SFNN_BIND", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    workers: WorkerArgs,
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

fn static_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    explicit
        .or_else(|| Some(PathBuf::from("static")).filter(|p| p.join("index.html").exists()))
        .or_else(|| {
            Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static"))
                .filter(|p| p.join("index.html").exists())
        })
}

pub fn serve(args: ServeArgs) -> Result<()> {
    node::runtime()?.block_on(serve_async(args))
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
    let database = args.database.url();
    let server = server::start(ServerOptions {
        bind: args.bind,
        database: database.clone(),
        workers: args.workers.options()?,
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
    node::shutdown_signal().await;
    tracing::info!("shutting down: finishing the running generations");
    server.stop().await
}
