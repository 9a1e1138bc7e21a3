//! Who gets in: admission limits on new jobs (429 + Retry-After on submit, clone and evaluate)
//! and the `Host` check against DNS rebinding, on `server::start` and on a real `sfnn serve`.

mod common;

use common::raw;
use common::{start_with, tiny_spec};
use serde_json::Value;
use sfnn::api::admission::SubmissionLimits;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

async fn upload_genome(s: &common::TestServer) -> String {
    let values: Vec<f32> = (0..565).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect();
    let file = sfnn::model::GenomeFile::new(sfnn::model::ModelConfig::default(), values, None);
    let response = s
        .client
        .post(s.api("/genomes"))
        .header("content-type", "application/json")
        .body(file.to_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta: Value = response.json().await.unwrap();
    meta["id"].as_str().unwrap().to_string()
}

/// The three ways to create a job, each answered.
async fn create_three_ways(
    s: &common::TestServer,
    job: &str,
    genome: &str,
) -> Vec<reqwest::Response> {
    let submit = s.client.post(s.api("/jobs")).json(&tiny_spec(1));
    let clone = s
        .client
        .post(s.api(&format!("/jobs/{job}/clone")))
        .json(&serde_json::json!({"seed": 9}));
    let evaluate = s
        .client
        .post(s.api(&format!("/genomes/{genome}/evaluate")))
        .json(&serde_json::json!({"envs": ["CartPole-v1"], "episodes": 1}));
    let mut out = Vec::new();
    for request in [submit, clone, evaluate] {
        out.push(request.send().await.unwrap());
    }
    out
}

async fn assert_limited(response: reqwest::Response, code: &str, min_wait: u64) {
    assert_eq!(response.status(), 429);
    let wait: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= min_wait, "Retry-After {wait}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_beyond_the_burst_wait_for_the_bucket() {
    // 0.001 per second: after the burst, the next token is 1000 s away.
    let s = start_with(0, None, |o| {
        o.limits = SubmissionLimits {
            max_queued_jobs: 0,
            submit_rate: 0.001,
            submit_burst: 2,
        }
    })
    .await;
    let genome = upload_genome(&s).await; // uploads are not jobs: no token taken
    let job = s.submit(&tiny_spec(1)).await;
    s.submit(&tiny_spec(1)).await;
    for response in create_three_ways(&s, &job, &genome).await {
        assert_limited(response, "rate_limited", 900).await;
    }
    // An invalid spec is refused for what it is, without taking (or needing) a token.
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&serde_json::json!({"envs": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    // Reading is never limited.
    assert_eq!(
        s.get_json("/jobs").await["jobs"].as_array().unwrap().len(),
        2
    );
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_new_jobs_until_one_leaves_it() {
    let s = start_with(0, None, |o| {
        o.limits = SubmissionLimits {
            max_queued_jobs: 2,
            submit_rate: 0.0,
            submit_burst: 0,
        }
    })
    .await;
    let genome = upload_genome(&s).await;
    let first = s.submit(&tiny_spec(1)).await;
    s.submit(&tiny_spec(1)).await;
    for response in create_three_ways(&s, &first, &genome).await {
        assert_limited(response, "queue_full", 1).await;
    }
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&tiny_spec(1))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the limit is 2 (--max-queued-jobs)"),
        "{body}"
    );
    // A cancelled job leaves the queue, and makes room for exactly one.
    let response = s
        .call(reqwest::Method::POST, &format!("/jobs/{first}/cancel"))
        .await;
    assert_eq!(response.status(), 200);
    let replies = create_three_ways(&s, &first, &genome).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [201, 429, 429]);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loopback_server_refuses_foreign_host_names() {
    let s = start_with(0, None, |_| {}).await;
    let address = s.server.address;
    let port = address.port();
    let get = |host: String, path: &'static str| async move {
        raw::send(
            address,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}"),
            b"",
        )
        .await
    };
    for host in [
        format!("127.0.0.1:{port}"),
        "127.0.0.1".to_string(),
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("[::1]:{port}"),
    ] {
        let response = get(host.clone(), "/api/v1/jobs").await;
        assert_eq!(response.status, 200, "Host {host}");
    }
    // What a rebinding page sends: its own name, whatever it now resolves to.
    for path in ["/api/v1/jobs", "/", "/healthz", "/metrics"] {
        let response = get(format!("attacker.example:{port}"), path).await;
        assert_eq!(response.status, 421, "{path}");
        assert_eq!(response.json()["error"]["code"], "host_not_allowed");
    }
    // Mutations too.
    let body = tiny_spec(1).to_string();
    let response = raw::send(
        address,
        &format!(
            "POST /api/v1/jobs HTTP/1.1\r\nHost: rebind.attacker.example\r\n\
             Content-Type: application/json\r\nContent-Length: {}",
            body.len()
        ),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 421);
    assert!(
        s.get_json("/jobs").await["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.server.stop().await.unwrap();
}

/// A child process that is killed when the test ends, however it ends.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_takes_the_limits_and_allowed_hosts_from_flags_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::http::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args([
            "serve",
            "--workers",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--allowed-hosts", "lab.example,other.example"])
        .args(["--submit-rate", "0.001", "--submit-burst", "2"])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SFNN_MAX_QUEUED_JOBS", "1")
        .env_remove("SFNN_API_TOKEN")
        .env_remove("SFNN_SUBMIT_BURST")
        .env_remove("SFNN_ALLOWED_HOSTS")
        .env("RUST_LOG", "sfnn=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _process = Process(child);
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::http::get(&format!("{base}/healthz")).is_none() {
        assert!(Instant::now() < deadline, "sfnn serve did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
    let client = common::http::client();
    let submit = || {
        client
            .post(format!("{base}/api/v1/jobs"))
            .json(&tiny_spec(1))
            .send()
            .unwrap()
    };
    let cancel = |job: &Value| {
        let id = job["id"].as_str().unwrap();
        let url = format!("{base}/api/v1/jobs/{id}/cancel");
        assert_eq!(client.post(url).send().unwrap().status(), 200);
    };
    let refused = |response: reqwest::blocking::Response| {
        assert_eq!(response.status(), 429);
        let wait = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .to_string();
        let body: Value = response.json().unwrap();
        (body["error"]["code"].as_str().unwrap().to_string(), wait)
    };
    // SFNN_MAX_QUEUED_JOBS=1: one queued job fills the queue (and takes no token while full).
    let first = submit();
    assert_eq!(first.status(), 201);
    assert_eq!(
        refused(submit()),
        ("queue_full".to_string(), "30".to_string())
    );
    cancel(&first.json().unwrap());
    // --submit-burst 2 --submit-rate 0.001: the second token is the last for 1000 s.
    let second = submit();
    assert_eq!(second.status(), 201);
    cancel(&second.json().unwrap());
    let (code, wait) = refused(submit());
    assert_eq!(code, "rate_limited");
    assert!(wait.parse::<u64>().unwrap() > 900, "Retry-After {wait}");

    let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = |host: &str| {
        runtime
            .block_on(raw::send(
                address,
                &format!("GET /api/v1/jobs HTTP/1.1\r\nHost: {host}"),
                b"",
            ))
            .status
    };
    assert_eq!(status("lab.example"), 200);
    assert_eq!(status(&format!("other.example:{port}")), 200);
    assert_eq!(status("attacker.example"), 421);
}
