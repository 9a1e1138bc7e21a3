//! `sfnn serve`: the API, the dashboard and in-process workers on one store.

use super::node::{self, DatabaseArgs, WorkerArgs};
use crate::api::admission::SubmissionLimits;
use crate::limits::{self, admission};
use crate::server::{self, HttpOptions, ServerOptions};
use anyhow::{Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Host names the server answers besides localhost and IP addresses, comma-separated
    /// (`*`: any). Requests naming another host get 421 (DNS rebinding).
    #[arg(long, env = "SFNN_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    http: HttpArgs,
}

/// Admission limits on new jobs (submit, clone, evaluate); over one the answer is 429.
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Jobs that may be queued at once (0: no cap).
    #[arg(long, env = "SFNN_MAX_QUEUED_JOBS", default_value_t = admission::DEFAULT_MAX_QUEUED_JOBS)]
    max_queued_jobs: u64,
    /// Job submissions per second, sustained (0: no rate limit).
    #[arg(long, env = "SFNN_SUBMIT_RATE", default_value_t = admission::DEFAULT_SUBMIT_RATE,
          value_parser = non_negative)]
    submit_rate: f64,
    /// Job submissions allowed at once above the rate.
    #[arg(long, env = "SFNN_SUBMIT_BURST", default_value_t = admission::DEFAULT_SUBMIT_BURST)]
    submit_burst: u32,
}

fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("expected a number >= 0, got {text:?}")),
    }
}

/// Connection limits and timeouts (defaults in src/limits.rs).
#[derive(Debug, clap::Args)]
struct HttpArgs {
    /// Connections served at once (default: 4096, or fewer if the file-descriptor limit
    /// leaves room for fewer). At the limit the longest-idle connection makes room.
    #[arg(long, env = "SFNN_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Live event streams (SSE) open at once; more are answered 503.
    #[arg(long, env = "SFNN_MAX_EVENT_STREAMS", default_value_t = limits::events::MAX_STREAMS)]
    max_event_streams: usize,
    /// Seconds a connection gets to send a request's headers, from when it opened or its
    /// previous response ended; then it is closed.
    #[arg(long, env = "SFNN_IDLE_TIMEOUT_SECONDS",
          default_value_t = limits::connections::IDLE_TIMEOUT.as_secs())]
    idle_timeout_seconds: u64,
    /// Seconds a client may take no bytes of a response before it is disconnected.
    #[arg(long, env = "SFNN_WRITE_TIMEOUT_SECONDS",
          default_value_t = limits::connections::WRITE_TIMEOUT.as_secs())]
    write_timeout_seconds: u64,
    /// Genome replays (`GET /api/v1/genomes/{id}/replay`, a lifetime on the CPU each)
    /// computed at once; more are answered 429. 0 turns replays off.
    #[arg(long, env = "SFNN_MAX_REPLAYS", default_value_t = limits::replay::MAX_CONCURRENT)]
    max_replays: usize,
}

impl HttpArgs {
    fn options(&self) -> HttpOptions {
        HttpOptions {
            max_connections: self.max_connections,
            max_event_streams: self.max_event_streams.max(1),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds.max(1)),
            write_timeout: Duration::from_secs(self.write_timeout_seconds.max(1)),
            max_replays: self.max_replays,
        }
    }
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
    limit_malloc_arenas();
    node::runtime()?.block_on(serve_async(args))
}

/// glibc gives threads that allocate at the same time heaps ("arenas") of their own, up to 8
/// per core, and memory freed in one is kept there. Live streams decode replay pages on the
/// runtime's and the SQLite pool's threads, so with 100 slow clients RSS grew in steps to 2.3×
/// its size (benches/soak.rs); with two arenas it stays within 1.5×, delivering as many events.
/// Called before any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
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
        limits: SubmissionLimits {
            max_queued_jobs: args.limits.max_queued_jobs,
            submit_rate: args.limits.submit_rate,
            submit_burst: args.limits.submit_burst,
        },
        allowed_hosts: args.allowed_hosts,
        http: args.http.options(),
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
