//! Server benchmarks (`cargo bench --bench server`), with a worker running a real job meanwhile:
//! - submission latency (p50/p99) under 50 concurrent clients, against `/healthz` in the same run;
//! - the downsampled chart of a 10,000-generation history (target < 20 ms);
//! - full CSV export of a 100,000-generation history (throughput);
//! - 100 concurrent SSE clients following a running job, and submissions while they listen.

mod common;

use common::synthetic_job;
use futures_util::StreamExt;
use sfnn::api::admission::SubmissionLimits;
use sfnn::exec::ExecutorChoice;
use sfnn::server::{self, ServerOptions, WorkerOptions};
use sfnn::store;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

async fn timed_get(client: &reqwest::Client, url: &str) -> (f64, usize) {
    let started = Instant::now();
    let body = client.get(url).send().await.unwrap().bytes().await.unwrap();
    (started.elapsed().as_secs_f64() * 1e3, body.len())
}

async fn submissions(client: &reqwest::Client, api: &str, clients: usize, each: usize) -> Vec<f64> {
    let spec = serde_json::json!({
        "envs": ["CartPole-v1"], "tags": ["bench-submit"], "priority": -1000,
        "strategy": {"popsize": 8}, "generations": 5
    });
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, spec) = (client.clone(), format!("{api}/jobs"), spec.clone());
            tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in 0..each {
                    let started = Instant::now();
                    let response = client.post(&url).json(&spec).send().await.unwrap();
                    assert_eq!(response.status(), 201);
                    times.push(started.elapsed().as_secs_f64() * 1e3);
                }
                times
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("bench.db").display().to_string();
    let filling = Instant::now();
    let store = store::open(&database).await.unwrap();
    let chart_job = synthetic_job(&store, 10_000).await;
    let export_job = synthetic_job(&store, 100_000).await;
    println!(
        "setup: 110,000 generation records written in {:.1} s ({:.0} transactions/s)",
        filling.elapsed().as_secs_f64(),
        110_000.0 / filling.elapsed().as_secs_f64()
    );
    drop(store);

    let server = server::start(ServerOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        database,
        workers: WorkerOptions {
            count: 1,
            executor: ExecutorChoice::Cpu,
            threads: 1,
            lease: Duration::from_secs(30),
            ..WorkerOptions::default()
        },
        static_dir: None,
        token: None,
        // The submission figures measure the server, not its rate limit.
        limits: SubmissionLimits::unlimited(),
        allowed_hosts: Vec::new(),
        http: Default::default(),
    })
    .await
    .unwrap();
    let api = format!("http://{}/api/v1", server.address);
    let client = reqwest::Client::new();
    // A real job keeps the worker busy through every measurement.
    let running: serde_json::Value = client
        .post(format!("{api}/jobs"))
        .json(&serde_json::json!({
            "envs": ["CartPole-v1"], "priority": 1000, "generations": 1000000,
            "lifetime": {"episodes": 2, "episode_mode": "stop_on_done"}, "strategy": {"popsize": 16}
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let running = running["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let health: Vec<f64> = {
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push(
                timed_get(&client, &format!("http://{}/healthz", server.address))
                    .await
                    .0,
            );
        }
        v
    };
    let (health_p50, health_p99) = summary(health);
    println!("baseline GET /healthz: p50 {health_p50:.2} ms, p99 {health_p99:.2} ms");

    let submit = submissions(&client, &api, 50, 20).await;
    let n = submit.len();
    let (p50, p99) = summary(submit);
    println!(
        "submission, 50 concurrent clients ({n} jobs): p50 {p50:.2} ms, p99 {p99:.2} ms \
         ({:.1}× / {:.1}× the /healthz baseline)",
        p50 / health_p50,
        p99 / health_p99
    );

    let mut chart = Vec::new();
    for _ in 0..50 {
        chart.push(
            timed_get(
                &client,
                &format!("{api}/jobs/{chart_job}/history/chart?max_points=1000"),
            )
            .await
            .0,
        );
    }
    let (chart_p50, chart_p99) = summary(chart);
    println!(
        "chart of a 10,000-generation history (1,000 buckets): p50 {chart_p50:.2} ms, \
         p99 {chart_p99:.2} ms (target < 20 ms)"
    );

    let (export_ms, bytes) = timed_get(
        &client,
        &format!("{api}/jobs/{export_job}/history?format=csv"),
    )
    .await;
    println!(
        "CSV export of 100,000 generations: {:.2} s, {:.1} MB, {:.0} records/s, {:.1} MB/s",
        export_ms / 1e3,
        bytes as f64 / 1e6,
        100_000.0 / (export_ms / 1e3),
        bytes as f64 / 1e6 / (export_ms / 1e3)
    );

    // 100 SSE clients follow the running job from its current generation; each waits for 3 new
    // generations.
    let job: serde_json::Value = client
        .get(format!("{api}/jobs/{running}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = job["generation"].as_u64().unwrap().saturating_sub(1);
    let started = Instant::now();
    let listeners: Vec<_> = (0..100)
        .map(|_| {
            let (client, url) = (
                client.clone(),
                format!("{api}/jobs/{running}/events?after={after}"),
            );
            tokio::spawn(async move {
                let response = client.get(&url).send().await.unwrap();
                let mut stream = response.bytes_stream();
                let (mut text, mut seen) = (String::new(), 0);
                let mut first_live: Option<u64> = None;
                while let Some(chunk) = stream.next().await {
                    text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                    while let Some(end) = text.find("\n\n") {
                        let event: String = text.drain(..end + 2).collect();
                        if let Some(line) = event.lines().find(|l| l.starts_with("id:")) {
                            let g: u64 = line[3..].trim().parse().unwrap();
                            let first = *first_live.get_or_insert(g);
                            seen = g - first;
                        }
                    }
                    if seen >= 3 {
                        break;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let during = submissions(&client, &api, 10, 10).await;
    let (during_p50, during_p99) = summary(during);
    for l in listeners {
        l.await.unwrap();
    }
    println!(
        "100 concurrent SSE clients: all received 3 live generations within {:.2} s; \
         submissions meanwhile p50 {during_p50:.2} ms, p99 {during_p99:.2} ms",
        started.elapsed().as_secs_f64()
    );

    client
        .post(format!("{api}/jobs/cancel"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    server.stop().await.unwrap();
}
