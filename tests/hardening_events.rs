//! Live streams and connections under hostile or careless clients, against real `sfnn serve`
//! processes (their memory is read from /proc) and an in-process server:
//! - stalled SSE clients of a long history hold a page each, not the history;
//! - a job stream replays a long history exactly once, in order, across pages;
//! - live streams over the cap are answered 503 with Retry-After, and a slot frees when its
//!   client goes;
//! - a client that stops reading is disconnected after the write timeout;
//! - idle connections, slow headers and idle keep-alive connections are closed after the idle
//!   timeout;
//! - with more idle connections than the file-descriptor limit allows, /healthz still answers.
//!
//! Limits and timeouts are set through the environment (`SFNN_*`), which a server without them
//! ignores: what is checked is the behaviour.

mod common;
/// Generation records of the paper configuration's size, written straight into a store.
#[path = "../benches/common/mod.rs"]
mod fixture;

use common::db::TestDatabase;
use common::http::free_port;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, sleep, timeout};

/// A `sfnn serve --workers 0` process, killed when dropped.
struct Server {
    child: Child,
    address: SocketAddr,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on `database` with `env` set and, if given, an `RLIMIT_NOFILE` of `fds`
/// (soft and hard, so that it cannot raise it); waits until it answers.
async fn spawn(database: &str, env: &[(&str, &str)], fds: Option<u64>) -> Server {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_sfnn"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database", database, "--workers", "0"])
        .env("RUST_LOG", "sfnn=warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(fds) = fds {
        fixture::limit_open_files(&mut command, fds);
    }
    let child = command.spawn().unwrap();
    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Server {
        child,
        address,
        url: format!("http://{address}"),
    };
    let client = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(response) = client.get(format!("{}/healthz", server.url)).send().await
            && response.status() == 200
        {
            return server;
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        sleep(Duration::from_millis(50)).await;
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024.0
}

/// A client that asks for a job's live stream and never reads a byte. Its receive buffer is
/// small, so the server soon has to hold back (what it then holds is what is measured).
async fn stalled_client(address: SocketAddr, job: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    let request = format!(
        "GET /api/v1/jobs/{job}/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Reads a job's live stream until `n` generation events arrived; returns their ids.
async fn generation_ids(url: &str, n: usize) -> Vec<u64> {
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let mut response = response;
    let (mut text, mut ids) = (String::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < n {
        let chunk = timeout(deadline - Instant::now(), response.chunk())
            .await
            .expect("events in time")
            .unwrap()
            .expect("the stream stays open");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.contains("event: generation") {
                let id = event.lines().find_map(|l| l.strip_prefix("id:")).unwrap();
                ids.push(id.trim().parse().unwrap());
            }
        }
    }
    ids
}

/// Reads until the server closes the connection; `false` if it is still open at the deadline.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = vec![0u8; 64 << 10];
    let deadline = Instant::now() + within;
    loop {
        match timeout(deadline - Instant::now(), stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// A value of the server's Prometheus exposition, if it has it.
async fn metric(url: &str, name: &str) -> Option<f64> {
    let text = client()
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

const HISTORY: u64 = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_of_a_long_history_hold_a_page_each_not_the_history() {
    let db = TestDatabase::sqlite();
    let job = fixture::synthetic_job(&db.open().await, HISTORY).await;
    let server = spawn(&db.url, &[], None).await;
    let pid = server.child.id();

    // Warm up: one client reads the whole history (every page, to the end) and leaves.
    let url = format!("{}/api/v1/jobs/{job}/events", server.url);
    let all = generation_ids(&url, HISTORY as usize).await;
    assert_eq!(all, (0..HISTORY).collect::<Vec<_>>());
    let baseline = rss_mib(pid);

    // 40 clients that never read. Holding the history (about 1 KiB a record, 20 MiB a
    // client) they would take 800 MiB; holding a page (200 records) and a 64 KiB buffer, a
    // few MiB together.
    let mut stalled = Vec::new();
    for batch in 0..4 {
        for _ in 0..10 {
            stalled.push(stalled_client(server.address, &job).await);
        }
        sleep(Duration::from_secs(2)).await;
        let grown = rss_mib(pid) - baseline;
        println!(
            "{} stalled clients: RSS {baseline:.0} MiB + {grown:.1} MiB",
            (batch + 1) * 10
        );
        assert!(
            grown < 100.0,
            "{} stalled clients grew the server's memory by {grown:.0} MiB (from {baseline:.0})",
            (batch + 1) * 10
        );
    }

    // The server still serves: health, and a complete replay for a new client.
    let health = client()
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let again = generation_ids(&format!("{url}?after=19000"), 999).await;
    assert_eq!(again, (19_001..HISTORY).collect::<Vec<_>>());
    drop(stalled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_stream_replays_a_long_history_once_in_order_across_pages() {
    let s = common::start(0, None).await;
    let job = fixture::synthetic_job(&s.server.store, 1_000).await;
    let url = s.api(&format!("/jobs/{job}/events"));
    assert_eq!(
        generation_ids(&url, 1_000).await,
        (0..1_000).collect::<Vec<_>>()
    );
    // From the middle of a page, and from exactly a page's end.
    let after = generation_ids(&format!("{url}?after=450"), 549).await;
    assert_eq!(after, (451..1_000).collect::<Vec<_>>());
    let after = generation_ids(&format!("{url}?after=199"), 800).await;
    assert_eq!(after, (200..1_000).collect::<Vec<_>>());
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_over_the_cap_are_answered_503_and_slots_free_when_clients_leave() {
    let db = TestDatabase::sqlite();
    let job = fixture::synthetic_job(&db.open().await, 10).await;
    let server = spawn(&db.url, &[("SFNN_MAX_EVENT_STREAMS", "2")], None).await;
    let client = client();
    let job_url = format!("{}/api/v1/jobs/{job}/events", server.url);
    let list_url = format!("{}/api/v1/events", server.url);
    let first = client.get(&job_url).send().await.unwrap();
    let second = client.get(&list_url).send().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (200, 200)
    );

    for url in [&job_url, &list_url] {
        let refused = client.get(url).send().await.unwrap();
        assert_eq!(refused.status(), 503, "{url}");
        let retry_after: u64 = refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after > 0);
        let body: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unavailable", "{body}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains('2'),
            "the message quotes the limit: {body}"
        );
    }

    // A client that leaves gives its slot back.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = client.get(&job_url).send().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(Instant::now() < deadline, "the slot was never given back");
        sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_after_the_write_timeout() {
    let db = TestDatabase::sqlite();
    let job = fixture::synthetic_job(&db.open().await, HISTORY).await;
    let server = spawn(&db.url, &[("SFNN_WRITE_TIMEOUT_SECONDS", "1")], None).await;
    let mut stalled = stalled_client(server.address, &job).await;
    // Stalled for longer than the timeout, the server gives up on it: the stream slot is free
    // again and, once the client reads what was already sent, the connection ends.
    sleep(Duration::from_secs(3)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&server.url, "sfnn_event_streams").await != Some(0.0) {
        assert!(
            Instant::now() < deadline,
            "the stalled stream is still open"
        );
        sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed_by_server(&mut stalled, Duration::from_secs(20)).await,
        "the stalled connection is still open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_slow_headers_and_idle_keep_alive_are_closed() {
    let db = TestDatabase::sqlite();
    let server = spawn(&db.url, &[("SFNN_IDLE_TIMEOUT_SECONDS", "1")], None).await;

    let mut silent = TcpStream::connect(server.address).await.unwrap();
    let mut slow = TcpStream::connect(server.address).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let mut keep_alive = TcpStream::connect(server.address).await.unwrap();
    keep_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    keep_alive.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    for (what, stream) in [
        ("a connection that sends nothing", &mut silent),
        ("a client that never finishes its headers", &mut slow),
        ("an idle keep-alive connection", &mut keep_alive),
    ] {
        assert!(
            closed_by_server(stream, Duration::from_secs(20)).await,
            "{what} is still open"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_answers_with_more_idle_connections_than_file_descriptors() {
    let db = TestDatabase::sqlite();
    // 256 descriptors, and not allowed to raise them: 300 idle connections would exhaust them.
    let server = spawn(&db.url, &[], Some(256)).await;
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(server.address).await.unwrap());
    }
    sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let response = client()
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .expect("/healthz answers");
        assert_eq!(response.status(), 200);
    }
    // Room was made by closing the longest-idle connections; the limit held.
    let metric = |name| metric(&server.url, name);
    assert!(metric("sfnn_http_connections_evicted_total").await > Some(0.0));
    let limit = metric("sfnn_http_connection_limit").await.unwrap();
    assert!(limit <= 128.0, "limit {limit} with 256 descriptors");
    assert!(metric("sfnn_http_connections").await <= Some(limit));
    drop(idle);
}
