//! A real server on a loopback port with a temporary database, for integration tests.
#![allow(dead_code)]

pub mod db;
pub mod disk;
pub mod http;
pub mod process;
pub mod raw;

use sfnn::api::admission::SubmissionLimits;
use sfnn::exec::ExecutorChoice;
use sfnn::server::{self, RunningServer, ServerOptions, WorkerOptions};
use std::time::{Duration, Instant};

pub struct TestServer {
    pub url: String,
    pub client: reqwest::Client,
    pub server: RunningServer,
    /// A scratch directory for the test's files.
    pub dir: tempfile::TempDir,
    pub database: db::TestDatabase,
}

/// Starts a server on a fresh SQLite file; with `SFNN_TEST_BACKEND=postgres`, on a fresh
/// PostgreSQL schema of `SFNN_TEST_DATABASE_URL` instead (to run the API suites on it).
pub async fn start(workers: usize, token: Option<&str>) -> TestServer {
    start_with(workers, token, |_| {}).await
}

/// [`start`], with options changed by `customise` first (limits, allowed hosts).
pub async fn start_with(
    workers: usize,
    token: Option<&str>,
    customise: impl FnOnce(&mut ServerOptions),
) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let database = match std::env::var("SFNN_TEST_BACKEND").as_deref() {
        Ok("postgres") => db::TestDatabase::postgres()
            .await
            .expect("SFNN_TEST_BACKEND=postgres needs SFNN_TEST_DATABASE_URL"),
        _ => db::TestDatabase::sqlite(),
    };
    let mut options = ServerOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        database: database.url.clone(),
        workers: WorkerOptions {
            count: workers,
            executor: ExecutorChoice::Cpu,
            threads: 2,
            lease: Duration::from_secs(5),
            ..WorkerOptions::default()
        },
        static_dir: Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("static")),
        token: token.map(String::from),
        limits: SubmissionLimits::default(),
        allowed_hosts: Vec::new(),
        http: Default::default(),
    };
    customise(&mut options);
    let server = server::start(options).await.unwrap();
    TestServer {
        url: format!("http://{}", server.address),
        client: reqwest::Client::new(),
        server,
        dir,
        database,
    }
}

impl TestServer {
    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.url)
    }

    /// Sends a bodiless request to an API path.
    pub async fn call(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.client
            .request(method, self.api(path))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let response = self.client.get(self.api(path)).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    pub async fn submit(&self, spec: &serde_json::Value) -> String {
        let response = self
            .client
            .post(self.api("/jobs"))
            .json(spec)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        let job: serde_json::Value = response.json().await.unwrap();
        job["id"].as_str().unwrap().to_string()
    }

    /// Waits until the job reaches `status`.
    pub async fn wait_for(&self, job: &str, status: &str, timeout: Duration) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.get_json(&format!("/jobs/{job}")).await;
            if value["status"] == status {
                return value;
            }
            assert!(
                Instant::now() < deadline,
                "job {job} still {} after {timeout:?}: {value}",
                value["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A job that finishes in well under a second in a debug build.
pub fn tiny_spec(generations: u64) -> serde_json::Value {
    serde_json::json!({
        "name": "tiny",
        "tags": ["test"],
        "envs": ["CartPole-v1"],
        "lifetime": {"episodes": 2, "episode_mode": "stop_on_done"},
        "strategy": {"popsize": 6},
        "generations": generations,
        "checkpoint_interval": 2,
        "mean_genome_interval": 2,
        "seed": 3
    })
}
