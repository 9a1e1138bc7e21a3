//! Inputs that used to kill or wedge the server (issue 9): each case here aborted the process,
//! panicked a worker or held a job forever before its fix.

mod common;

use common::{start, tiny_spec};
use serde_json::{Value, json};
use sfnn::evolution::JobPayload;
use sfnn::exec::{CpuExecutor, EvalOutput, EvalRequest, ExecError, Executor};
use sfnn::limits::worker::MAX_CRASHES;
use sfnn::metrics::Metrics;
use sfnn::store::{JobStatus, NewJob, Store};
use sfnn::worker::{self, Worker, WorkerConfig};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A safetensors file whose header declares `model` and holds one tiny tensor: 100-odd bytes
/// that claim a genome of any size.
fn safetensors_declaring(model: Value) -> Vec<u8> {
    let data = [0u8; 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &data).unwrap();
    let header: HashMap<String, String> = [
        ("format".to_string(), "sfnn-genome".to_string()),
        ("version".to_string(), "1".to_string()),
        ("model".to_string(), model.to_string()),
    ]
    .into();
    safetensors::serialize([("learning_rate", view)], Some(header)).unwrap()
}

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn an_upload_declaring_a_huge_model_is_refused_before_anything_is_sized() {
    let server = start(0, None).await;
    // 1e5 asked for a 4e16-byte buffer (abort); 3e6 overflowed the layout (panic).
    for size in [100_000u64, 3_000_000, u64::MAX / 2] {
        let body =
            safetensors_declaring(json!({"nodes": 32, "msg_dims": size, "node_types": size}));
        assert!(body.len() < 256, "{} bytes", body.len());
        let response = server
            .client
            .post(server.api("/genomes"))
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!(status, 422, "{error}");
        assert_eq!(error["error"]["field"], "model.msg_dims", "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains("between 1 and 16"),
            "{error}"
        );
    }
    // The same through the JSON format.
    let response = server
        .client
        .post(server.api("/genomes"))
        .json(&json!({
            "format": "sfnn-genome", "version": 1,
            "model": {"nodes": 32, "msg_dims": 3_000_000u64, "node_types": 3_000_000u64},
            "tensors": [], "values": []
        }))
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("model.msg_dims"))
    );
    assert_eq!(
        server.call(reqwest::Method::GET, "/healthz").await.status(),
        200
    );
}

fn spec_with(patch: Value) -> Value {
    let mut spec = tiny_spec(1);
    for (key, value) in patch.as_object().unwrap() {
        match (spec.get_mut(key), value) {
            (Some(Value::Object(section)), Value::Object(fields)) => {
                section.extend(fields.clone());
            }
            _ => spec[key] = value.clone(),
        }
    }
    spec
}

#[tokio::test]
async fn specs_whose_sizes_multiply_past_the_machine_are_refused_with_the_bound() {
    let server = start(0, None).await;
    let cases = [
        // popsize × eval_repeats × envs wrapped to 0 in release builds; a popsize past what one
        // generation may simulate is refused by its own range first.
        (
            json!({"strategy": {"popsize": 1u64 << 58}, "lifetime": {"eval_repeats": 32}}),
            "strategy.popsize",
            "between 2 and 262144",
        ),
        (
            json!({"strategy": {"popsize": 1u64 << 61}}),
            "strategy.popsize",
            "between 2 and 262144",
        ),
        // Each size within its range, the product of them past it.
        (
            json!({"strategy": {"popsize": 1 << 17}, "lifetime": {"eval_repeats": 4}}),
            "strategy.popsize",
            "at most",
        ),
        // Each size within its own limit, but a 14.6 GB covariance.
        (
            json!({"model": {"msg_dims": 16, "node_types": 16}}),
            "strategy.name",
            "MiB",
        ),
        // 2^18 lifetimes of 256-node networks: memory and work far past one machine.
        (
            json!({"model": {"nodes": 256}, "strategy": {"name": "snes", "popsize": 1 << 18}}),
            "strategy.popsize",
            "limit",
        ),
    ];
    for (patch, field, says) in cases {
        let response = server
            .client
            .post(server.api("/jobs"))
            .json(&spec_with(patch.clone()))
            .send()
            .await
            .unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!(status, 422, "{patch}: {error}");
        assert_eq!(error["error"]["field"], field, "{patch}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{patch}: {message}");
    }
}

/// Panics on populations of `poison` members; otherwise the CPU executor. Stands in for any
/// bug or resource failure that panics inside a generation (a real GPU fault cannot be made
/// here).
struct PanicsOn {
    poison: usize,
    cpu: CpuExecutor,
}

impl Executor for PanicsOn {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn device(&self) -> String {
        "test executor".into()
    }

    fn evaluate(&self, request: &EvalRequest) -> Result<EvalOutput, ExecError> {
        assert_ne!(request.members(), self.poison, "poisoned population");
        self.cpu.evaluate(request)
    }
}

async fn queue(store: &Store, spec: Value) -> String {
    store
        .create_job(NewJob {
            payload: JobPayload::evolve(spec.to_string().as_bytes()).unwrap(),
            name: "t".into(),
            tags: vec![],
            priority: 0,
        })
        .await
        .unwrap()
        .id
}

async fn wait_until_final(store: &Store, id: &str, timeout: Duration) -> sfnn::store::Job {
    let deadline = Instant::now() + timeout;
    loop {
        let job = store.get_job(id).await.unwrap().unwrap();
        if matches!(
            job.status,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        ) {
            return job;
        }
        assert!(Instant::now() < deadline, "job still {:?}", job.status);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_job_that_panics_its_worker_fails_after_a_few_crashes_and_frees_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = sfnn::store::open(dir.path().join("sfnn.db").to_str().unwrap())
        .await
        .unwrap();
    let poisoned = queue(&store, spec_with(json!({"strategy": {"popsize": 7}}))).await;
    let healthy = queue(&store, tiny_spec(2)).await;

    let metrics = Metrics::new();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let config = WorkerConfig {
        id: "test-worker".into(),
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(20),
        executor: Arc::new(PanicsOn {
            poison: 7,
            cpu: CpuExecutor::new(1).unwrap(),
        }),
        metrics: metrics.clone(),
    };
    let worker = Worker::new(store.clone(), config, shutdown);
    let task = tokio::spawn(worker::supervise(worker));

    let job = wait_until_final(&store, &poisoned, Duration::from_secs(60)).await;
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.crashes, MAX_CRASHES);
    let error = job.error.unwrap();
    assert!(
        error.contains("panicked") && error.contains("poisoned population"),
        "{error}"
    );
    // The lease went with the run: nobody holds the job, nothing renews it.
    assert_eq!((job.worker_id, job.lease_expires_at), (None, None));

    // The same worker goes on to the next job.
    let next = wait_until_final(&store, &healthy, Duration::from_secs(60)).await;
    assert_eq!(next.status, JobStatus::Succeeded, "{:?}", next.error);
    let health = metrics.workers();
    assert_eq!((health.configured, health.alive), (1, 1));
    assert_eq!(health.panics, u64::from(MAX_CRASHES));
    assert!(metrics.encode().contains("sfnn_worker_panics_total 3"));

    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(metrics.workers().alive, 0);
}

#[tokio::test]
async fn cancel_interrupts_a_running_generation() {
    let server = start(1, None).await;
    // One generation of this takes minutes on two cores.
    let id = server
        .submit(&json!({
            "envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"],
            "strategy": {"popsize": 1024},
            "generations": 1
        }))
        .await;
    server
        .wait_for(&id, "running", Duration::from_secs(30))
        .await;
    // Let the generation get going (the strategy has asked, lifetimes are running).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = Instant::now();
    let response = server
        .call(reqwest::Method::POST, &format!("/jobs/{id}/cancel"))
        .await;
    assert!(response.status().is_success());
    let job = server
        .wait_for(&id, "cancelled", Duration::from_secs(20))
        .await;
    assert_eq!(job["generation"], 0, "{job}");
    // Nothing of the abandoned generation was recorded.
    let history = server.get_json(&format!("/jobs/{id}/history")).await;
    assert_eq!(history.as_array().map(Vec::len), Some(0), "{history}");
    eprintln!("cancel took effect after {:?}", asked.elapsed());
}

#[tokio::test]
async fn an_evaluation_is_bounded_by_the_genome_it_runs() {
    let server = start(0, None).await;
    let model = sfnn::model::ModelConfig {
        nodes: 256,
        msg_dims: 16,
        node_types: 16,
    };
    let genome = sfnn::model::GenomeFile::new(model, vec![0.01; model.param_count()], None);
    let response = server
        .client
        .post(server.api("/genomes"))
        .header("content-type", "application/json")
        .body(genome.to_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let evaluate = |body: Value| {
        server
            .client
            .post(server.api(&format!("/genomes/{id}/evaluate")))
            .json(&body)
            .send()
    };
    // Each field within its own limit; together 256 lifetimes of 100 episodes of the largest
    // network on each environment.
    let seeds: Vec<u64> = (0..256).collect();
    let (status, error) = error_of(
        evaluate(json!({"envs": ["CartPole-v1", "Acrobot-v1"], "episodes": 100, "seeds": seeds}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &error["error"]["field"]),
        (422, &json!("seeds")),
        "{error}"
    );
    // A modest evaluation of the same genome is accepted.
    let response = evaluate(json!({"envs": ["CartPole-v1"], "episodes": 1, "seeds": [1]}))
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}
