//! Observability: Prometheus metrics of the server and of a worker-only node, and JSON logs.

mod common;

use sfnn::server::{self, WorkerNodeOptions, WorkerOptions};
use std::collections::HashMap;
use std::time::Duration;

/// Parses the Prometheus text format into `series{labels} -> value`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

/// The one series whose name starts with `prefix`, and its value.
fn only<'a>(samples: &'a HashMap<String, f64>, prefix: &str) -> (&'a str, f64) {
    let matching: Vec<_> = samples
        .iter()
        .filter(|(series, _)| series.starts_with(prefix))
        .collect();
    assert_eq!(matching.len(), 1, "series {prefix}…: {matching:?}");
    (matching[0].0, *matching[0].1)
}

async fn scrape(client: &reqwest::Client, url: &str) -> HashMap<String, f64> {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    samples(&response.text().await.unwrap())
}

#[tokio::test]
async fn the_server_counts_generations_phases_and_jobs_by_status() {
    let server = common::start(1, None).await;
    let before = scrape(&server.client, &format!("{}/metrics", server.url)).await;
    assert_eq!(before["sfnn_queue_depth"], 0.0);
    assert_eq!(before[r#"sfnn_jobs{status="succeeded"}"#], 0.0);

    let id = server.submit(&common::tiny_spec(5)).await;
    server
        .wait_for(&id, "succeeded", Duration::from_secs(60))
        .await;
    let history = server.get_json(&format!("/jobs/{id}/history")).await;
    let records = history.as_array().expect("an array of records");
    let env_steps: f64 = records
        .iter()
        .map(|r| r["env_steps"].as_f64().unwrap())
        .sum();

    let after = scrape(&server.client, &format!("{}/metrics", server.url)).await;
    assert_eq!(after[r#"sfnn_jobs{status="succeeded"}"#], 1.0);
    assert_eq!(after[r#"sfnn_jobs{status="queued"}"#], 0.0);
    // The server's one worker is the only series of each per-worker family.
    let (series, generations) = only(&after, "sfnn_generations_total{");
    assert!(series.ends_with(r#",executor="cpu"}"#), "{series}");
    assert_eq!(generations, 5.0);
    assert_eq!(only(&after, "sfnn_env_steps_total{").1, env_steps);
    assert!(only(&after, "sfnn_worker_env_steps_per_second{").1 > 0.0);
    for phase in ["ask", "evaluate", "tell"] {
        let count =
            format!(r#"sfnn_generation_phase_seconds_count{{executor="cpu",phase="{phase}"}}"#);
        assert_eq!(after[&count], 5.0, "{count}");
    }
    assert_eq!(after["sfnn_lease_takeovers_total"], 0.0);
    server.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_queued_job_shows_in_the_queue_depth() {
    // No workers: whatever is submitted stays queued.
    let server = common::start(0, None).await;
    for _ in 0..3 {
        server.submit(&common::tiny_spec(2)).await;
    }
    let metrics = scrape(&server.client, &format!("{}/metrics", server.url)).await;
    assert_eq!(metrics["sfnn_queue_depth"], 3.0);
    assert_eq!(metrics[r#"sfnn_jobs{status="queued"}"#], 3.0);
    server.server.stop().await.unwrap();
}

#[tokio::test]
async fn a_worker_node_serves_health_and_its_own_metrics() {
    // An API-only server and a worker node on the same database file.
    let api = common::start(0, None).await;
    let database = api.database.url.clone();
    let node = server::start_workers(WorkerNodeOptions {
        database,
        workers: WorkerOptions {
            executor: sfnn::exec::ExecutorChoice::Cpu,
            threads: 1,
            lease: Duration::from_secs(5),
            ..WorkerOptions::default()
        },
        metrics_bind: Some("127.0.0.1:0".parse().unwrap()),
    })
    .await
    .unwrap();
    let probe = format!("http://{}", node.metrics_address.expect("a metrics port"));

    let id = api.submit(&common::tiny_spec(3)).await;
    api.wait_for(&id, "succeeded", Duration::from_secs(60))
        .await;
    let health: serde_json::Value = api
        .client
        .get(format!("{probe}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let metrics = scrape(&api.client, &format!("{probe}/metrics")).await;
    assert_eq!(only(&metrics, "sfnn_generations_total{").1, 3.0);
    node.stop().await.unwrap();
    api.server.stop().await.unwrap();
}
