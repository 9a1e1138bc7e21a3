//! Soak benchmark (`cargo bench --bench soak`): a real `sfnn serve` process, its worker busy on a
//! real job, under clients that hold on.
//! - Memory: 100 slow SSE clients follow a 100,000-generation job (each replays the history
//!   reading 16 KiB per 100 ms); the server's RSS is sampled each second and compared with its
//!   RSS before they came.
//! - Idle connections: 2,000 idle TCP connections are opened, at the file-descriptor limit the
//!   server raises itself to and at a hard limit of 1,024 (where it must make room by closing
//!   idle connections); /healthz latency on fresh connections, and whether the process lives.
//!
//! Everything talks to 127.0.0.1 only. `SOAK_SECONDS` sets the memory phase's length (30).

mod common;

use common::synthetic_job;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{sleep, timeout};

const HISTORY: u64 = 100_000;
const SLOW_CLIENTS: usize = 100;
const IDLE_CONNECTIONS: usize = 2_000;

struct Server {
    child: Child,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `sfnn serve` with one worker on `database`; with `fds`, under that `RLIMIT_NOFILE`
    /// (soft and hard).
    async fn start(database: &str, env: &[(&str, &str)], fds: Option<u64>) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_sfnn"));
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(["--database", database])
            .args(["--workers", "1", "--threads", "1", "--executor", "cpu"])
            .env("RUST_LOG", "sfnn=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(fds) = fds {
            common::limit_open_files(&mut command, fds);
        }
        let server = Server {
            child: command.spawn().unwrap(),
            address: format!("127.0.0.1:{port}").parse().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while health(server.address).await.is_err() {
            assert!(Instant::now() < deadline, "the server did not come up");
            sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    async fn metric(&self, name: &str) -> Option<f64> {
        let text = get(self.address, "/metrics").await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    /// A real job that keeps the worker busy and the live events flowing.
    async fn run_a_job(&self) {
        let spec = r#"{"envs": ["CartPole-v1"], "generations": 1000000,
            "lifetime": {"episodes": 2, "episode_mode": "stop_on_done"}, "strategy": {"popsize": 16}}"#;
        let request = format!(
            "POST /api/v1/jobs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{spec}",
            spec.len()
        );
        let response = exchange(self.address, &request).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    }
}

/// One request on a fresh connection (`Connection: close`); the whole response.
async fn exchange(address: SocketAddr, request: &str) -> Result<String, String> {
    let mut stream = timeout(Duration::from_secs(5), TcpStream::connect(address))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .map_err(|_| "no answer in 5 s".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

async fn get(address: SocketAddr, path: &str) -> Result<String, String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = exchange(address, &request).await?;
    if response.starts_with("HTTP/1.1 200") {
        Ok(response)
    } else {
        Err(response.lines().next().unwrap_or("no response").to_string())
    }
}

/// GET /healthz on a fresh connection, as a health probe does: milliseconds.
async fn health(address: SocketAddr) -> Result<f64, String> {
    let started = Instant::now();
    get(address, "/healthz").await?;
    Ok(started.elapsed().as_secs_f64() * 1e3)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// What the slow clients received, together.
#[derive(Default)]
struct Received {
    bytes: AtomicU64,
    events: AtomicU64,
}

/// An SSE client that reads at most 16 KiB per 100 ms (160 KiB/s) from a small receive buffer.
async fn slow_client(address: SocketAddr, job: String, received: Arc<Received>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 << 10).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /api/v1/jobs/{job}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 16 << 10];
    let mut carry = Vec::new();
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        carry.extend_from_slice(&buffer[..n]);
        let events = carry.windows(4).filter(|w| w == b"\nid:").count();
        carry.drain(..carry.len().saturating_sub(3));
        received.bytes.fetch_add(n as u64, Ordering::Relaxed);
        received.events.fetch_add(events as u64, Ordering::Relaxed);
        sleep(Duration::from_millis(100)).await;
    }
}

async fn memory_soak(database: &str, job: &str, seconds: u64) {
    let mut server = Server::start(database, &[], None).await;
    server.run_a_job().await;
    // Settle: the worker runs, one client reads the start of the history (as a dashboard
    // would), then the baseline.
    sleep(Duration::from_secs(3)).await;
    let warm_up = tokio::spawn(slow_client(server.address, job.to_string(), Arc::default()));
    sleep(Duration::from_secs(2)).await;
    warm_up.abort();
    sleep(Duration::from_secs(1)).await;
    let baseline = server.rss_mib();

    let received = Arc::new(Received::default());
    let clients: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| {
            tokio::spawn(slow_client(
                server.address,
                job.to_string(),
                received.clone(),
            ))
        })
        .collect();
    let started = Instant::now();
    let (mut peak, mut samples) = (0.0f64, Vec::new());
    while started.elapsed() < Duration::from_secs(seconds) {
        sleep(Duration::from_secs(1)).await;
        let rss = server.rss_mib();
        peak = peak.max(rss);
        samples.push(rss);
    }
    let streams = server.metric("sfnn_event_streams").await.unwrap_or(-1.0);
    let (health_ms, during) = (health(server.address).await, server.rss_mib());
    for client in clients {
        client.abort();
    }
    let events = received.events.load(Ordering::Relaxed);
    let bytes = received.bytes.load(Ordering::Relaxed);
    println!(
        "{SLOW_CLIENTS} slow SSE clients following a {HISTORY}-generation job for {seconds} s \
         ({streams} streams open): RSS {baseline:.0} MiB before, peak {peak:.0} MiB, \
         {during:.0} MiB at the end: peak/before = {:.2}×",
        peak / baseline
    );
    println!(
        "  they received {events} generation events ({:.0} per client, {:.1} MB, {:.1} MB/s \
         together); /healthz meanwhile {}; alive: {}",
        events as f64 / SLOW_CLIENTS as f64,
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / seconds as f64,
        health_ms.map_or_else(|e| e, |ms| format!("{ms:.1} ms")),
        server.alive()
    );
    let rss: Vec<String> = samples.iter().map(|r| format!("{r:.0}")).collect();
    println!("  RSS each second (MiB): {}", rss.join(" "));
}

async fn idle_soak(database: &str, fds: Option<u64>) {
    // A long idle timeout: what is measured is the connection limit, not the timeout.
    let env = [("SFNN_IDLE_TIMEOUT_SECONDS", "600")];
    let mut server = Server::start(database, &env, fds).await;
    server.run_a_job().await;
    sleep(Duration::from_secs(1)).await;
    let limit = server.metric("sfnn_http_connection_limit").await;
    let before = server.rss_mib();
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    let mut failed_connects = 0;
    for _ in 0..IDLE_CONNECTIONS {
        match timeout(Duration::from_secs(5), TcpStream::connect(server.address)).await {
            Ok(Ok(stream)) => idle.push(stream),
            _ => failed_connects += 1,
        }
    }
    sleep(Duration::from_secs(1)).await;
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        match health(server.address).await {
            Ok(ms) => latencies.push(ms),
            Err(e) => failures.push(e),
        }
    }
    latencies.sort_by(f64::total_cmp);
    let open = server.metric("sfnn_http_connections").await;
    let evicted = server.metric("sfnn_http_connections_evicted_total").await;
    let during = server.rss_mib();
    let limit_text = match fds {
        Some(fds) => format!("hard fd limit {fds}"),
        None => "fd limit raised to the hard limit".into(),
    };
    println!(
        "{IDLE_CONNECTIONS} idle connections ({limit_text}; connection limit {limit:?}; \
         {failed_connects} connects failed): server holds {open:?} connections, evicted \
         {evicted:?}; RSS {before:.0} → {during:.0} MiB; alive: {}",
        server.alive()
    );
    if latencies.is_empty() {
        println!("  /healthz: every probe failed: {:?}", failures.first());
    } else {
        println!(
            "  /healthz on fresh connections: {} of 200 answered, p50 {:.1} ms, p99 {:.1} ms, \
             max {:.1} ms{}",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies[latencies.len() - 1],
            failures
                .first()
                .map_or(String::new(), |e| format!("; first failure: {e}"))
        );
    }
    drop(idle);
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // 2,000 sockets of our own, besides the server's.
    let fds = sfnn::server::raise_fd_limit().unwrap_or(0);
    assert!(
        fds as usize > IDLE_CONNECTIONS + 200,
        "this benchmark needs a file-descriptor limit above {} (hard limit {fds})",
        IDLE_CONNECTIONS + 200
    );
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("soak.db").display().to_string();
    let filling = Instant::now();
    let store = sfnn::store::open(&database).await.unwrap();
    let job = synthetic_job(&store, HISTORY).await;
    drop(store);
    println!(
        "setup: a {HISTORY}-generation history written in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    memory_soak(&database, &job, seconds).await;
    idle_soak(&database, None).await;
    idle_soak(&database, Some(1024)).await;
}
