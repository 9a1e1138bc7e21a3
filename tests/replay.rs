//! `GET /api/v1/genomes/{id}/replay` over real HTTP: the replay of a genome is the lifetime
//! `sfnn eval --seed S --trace` records for its downloaded file, with the sampled network and
//! the synapse-state norms, within the limits of `limits::replay`, and refused with named
//! fields, 404 or 429 where it should be.

mod common;

use common::{TestServer, start, start_with, tiny_spec};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sfnn::limits::replay::{MAX_NORM_VALUES, MAX_SYNAPSE_STEPS};
use sfnn::model::{GenomeFile, ModelConfig};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// The final best genome of a tiny job evolved with `model` (its `model` spec section).
async fn evolved_genome(s: &TestServer, model: Value) -> String {
    let mut spec = tiny_spec(3);
    spec["model"] = model;
    let job = s.submit(&spec).await;
    s.wait_for(&job, "succeeded", LONG).await;
    let genomes = s.get_json(&format!("/jobs/{job}/genomes")).await;
    genomes
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "final_best")
        .expect("a final best genome")["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Uploads a genome of `model` with small deterministic values; returns its id.
async fn upload(s: &TestServer, model: ModelConfig) -> String {
    let values = (0..model.param_count())
        .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.6)
        .collect();
    let response = s
        .client
        .post(s.api("/genomes"))
        .header("Content-Type", "application/json")
        .body(GenomeFile::new(model, values, None).to_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta: Value = response.json().await.unwrap();
    meta["id"].as_str().unwrap().to_string()
}

async fn get(s: &TestServer, path: &str) -> (StatusCode, Value) {
    let response = s.client.get(s.api(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Asserts a 422 naming `field`; returns the message.
async fn refused(s: &TestServer, path: &str, field: &str) -> String {
    let (status, body) = get(s, path).await;
    assert_eq!(status, 422, "{path}: {body}");
    assert_eq!(body["error"]["field"], field, "{path}: {body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_is_the_lifetime_sfnn_eval_traces_with_its_network_and_norms() {
    let s = start(1, None).await;
    // A wiring rule other than the reference's: the replay must use the job's, as the
    // downloaded file (and so `sfnn eval`) does.
    let id = evolved_genome(&s, json!({"topology": {"preset": "layered"}})).await;
    let replay = s
        .get_json(&format!(
            "/genomes/{id}/replay?env=CartPole-v1&seed=5&episodes=2"
        ))
        .await;

    // The shape.
    assert_eq!(
        (&replay["genome_id"], &replay["env"], &replay["seed"]),
        (&json!(id), &json!("CartPole-v1"), &json!(5))
    );
    assert_eq!(replay["episode_mode"], "fixed_horizon");
    let trace = &replay["trace"];
    let nodes = replay["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 32);
    let roles: Vec<&str> = nodes.iter().map(|n| n["role"].as_str().unwrap()).collect();
    assert_eq!(roles.iter().filter(|r| **r == "input").count(), 4);
    assert_eq!(roles.iter().filter(|r| **r == "output").count(), 2);
    assert!(roles[..4].iter().all(|r| *r == "input") && roles[30..].iter().all(|r| *r == "output"));
    for (node, ty) in nodes
        .iter()
        .zip(trace["wiring"]["node_types"].as_array().unwrap())
    {
        assert_eq!(&node["type"], ty);
    }
    let edges = trace["wiring"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    // Layered: input→hidden and hidden→output only.
    for edge in edges {
        let (pre, post) = (edge[0].as_u64().unwrap(), edge[1].as_u64().unwrap());
        assert!(
            (pre < 4 && (4..30).contains(&post)) || ((4..30).contains(&pre) && post >= 30),
            "{pre} → {post} is not a layered synapse"
        );
    }
    let episodes = trace["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 2);
    for episode in episodes {
        for key in ["obs", "actions", "outputs", "rewards", "dones"] {
            assert_eq!(episode[key].as_array().unwrap().len(), 500, "{key}");
        }
    }
    let returns: Vec<&Value> = episodes.iter().map(|e| &e["episode_return"]).collect();
    assert_eq!(
        replay["returns"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        returns
    );

    // The norms: one column every `every` steps, one value per synapse, each a norm.
    let norms = &replay["synapse_norms"];
    let every = norms["every"].as_u64().unwrap() as usize;
    let columns = norms["values"].as_array().unwrap();
    assert_eq!(columns.len(), 1000usize.div_ceil(every));
    assert!(columns.len() * edges.len() <= MAX_NORM_VALUES);
    for (k, (column, step)) in columns
        .iter()
        .zip(norms["steps"].as_array().unwrap())
        .enumerate()
    {
        assert_eq!(step.as_u64().unwrap() as usize, k * every);
        let column = column.as_array().unwrap();
        assert_eq!(column.len(), edges.len());
        assert!(column.iter().all(|v| v.as_f64().unwrap() >= 0.0));
    }
    // At the first step the states are still about their Uniform(−0.1, 0.1) start.
    let first: Vec<f64> = columns[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(first.iter().any(|&v| v > 0.0), "{first:?}");

    // The same lifetime as `sfnn eval --seed 5 --trace` on the downloaded file.
    let file = s.dir.path().join("genome.json");
    let bytes = s
        .client
        .get(s.api(&format!("/genomes/{id}/download")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    std::fs::write(&file, &bytes).unwrap();
    let traced = s.dir.path().join("trace.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .arg("eval")
        .arg(&file)
        .args(["--env", "CartPole-v1", "--episodes", "2", "--seed", "5"])
        .arg("--trace")
        .arg(&traced)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let traced: Value = serde_json::from_slice(&std::fs::read(&traced).unwrap()).unwrap();
    let actions = |t: &Value| -> Vec<Value> {
        t["episodes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["actions"].as_array().unwrap().clone())
            .collect()
    };
    assert_eq!(actions(trace), actions(&traced), "the same actions");
    assert_eq!(
        trace, &traced,
        "the whole trace is the file sfnn eval writes"
    );

    // Another seed is another lifetime (another wiring).
    let other = s
        .get_json(&format!(
            "/genomes/{id}/replay?env=CartPole-v1&seed=6&episodes=2"
        ))
        .await;
    assert_ne!(other["trace"]["wiring"], trace["wiring"]);
    // The default is the job's episodes per lifetime of `sfnn eval`: 8.
    let default = s
        .get_json(&format!("/genomes/{id}/replay?env=CartPole-v1"))
        .await;
    assert_eq!(default["trace"]["episodes"].as_array().unwrap().len(), 8);
    assert_eq!(default["seed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_requests_are_validated_field_by_field() {
    let s = start(0, None).await;
    let id = upload(&s, ModelConfig::default()).await;
    let path = |query: &str| format!("/genomes/{id}/replay?{query}");

    let message = refused(&s, &path("env=NoSuchEnv-v0"), "env").await;
    for name in sfnn::envs::names() {
        assert!(message.contains(name), "{message} lists {name}");
    }
    refused(&s, &path(""), "env").await;
    refused(&s, &path("env=CartPole-v1&seed=-1"), "seed").await;
    refused(&s, &path("env=CartPole-v1&seed=x"), "seed").await;
    refused(&s, &path("env=CartPole-v1&episodes=0"), "episodes").await;
    // 21 × 500 steps is over the 10,000-step limit; 50 × 200 MountainCar steps is not.
    let message = refused(&s, &path("env=CartPole-v1&episodes=21"), "episodes").await;
    assert!(message.contains("from 1 to 20"), "{message}");
    refused(&s, &path("env=MountainCar-v0&episodes=51"), "episodes").await;
    refused(
        &s,
        &path("env=CartPole-v1&episode_mode=sometimes"),
        "episode_mode",
    )
    .await;
    let message = refused(&s, &path("env=CartPole-v1&speed=2"), "speed").await;
    assert!(
        message.contains("env, seed, episodes, episode_mode"),
        "{message}"
    );

    // Unknown genomes: a well-formed id and a malformed one.
    let (status, body) = get(
        &s,
        "/genomes/00000000-0000-4000-8000-000000000000/replay?env=CartPole-v1",
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, _) = get(&s, "/genomes/nope/replay?env=CartPole-v1").await;
    assert_eq!(status, 404);

    // A model too small for an environment: the error lists the ones it can run.
    let small = upload(
        &s,
        ModelConfig {
            nodes: 8,
            ..ModelConfig::default()
        },
    )
    .await;
    let message = refused(
        &s,
        &format!("/genomes/{small}/replay?env=Acrobot-v1"),
        "env",
    )
    .await;
    assert!(message.contains("needs more nodes"), "{message}");
    let allowed = message.split("allowed for this genome: ").nth(1).unwrap();
    assert!(
        allowed.contains("CartPole-v1") && !allowed.contains("Acrobot"),
        "{message}"
    );
    let replay = s
        .get_json(&format!(
            "/genomes/{small}/replay?env=Pendulum-v1&episodes=1&episode_mode=stop_on_done"
        ))
        .await;
    assert_eq!(replay["nodes"].as_array().unwrap().len(), 8);
    assert_eq!(
        replay["trace"]["readout"],
        json!({"low": -2.0, "high": 2.0})
    );
}

/// Wide synapses cost more: at d = 16 a synapse update counts 16 times, so the replay that fits
/// at d = 4 is refused there; a network whose initial states alone would be a huge answer is
/// refused outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wide_synapses_count_by_their_cost_and_huge_states_are_refused() {
    let s = start(0, None).await;
    let narrow = upload(
        &s,
        ModelConfig {
            nodes: 64,
            ..ModelConfig::default()
        },
    )
    .await;
    let wide = upload(
        &s,
        ModelConfig {
            nodes: 64,
            msg_dims: 16,
            ..ModelConfig::default()
        },
    )
    .await;
    let path = |id: &str| format!("/genomes/{id}/replay?env=CartPole-v1&episodes=6");
    s.get_json(&path(&narrow)).await;
    let message = refused(&s, &path(&wide), "episodes").await;
    assert!(message.contains("16 channels"), "{message}");
    let huge = upload(
        &s,
        ModelConfig {
            nodes: 256,
            msg_dims: 16,
            ..ModelConfig::default()
        },
    )
    .await;
    let message = refused(
        &s,
        &format!("/genomes/{huge}/replay?env=CartPole-v1&episodes=1"),
        "id",
    )
    .await;
    assert!(message.contains("too large to replay"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_networks_are_bounded_by_synapse_updates_and_heat_map_values() {
    let s = start(0, None).await;
    // 100 nodes: about 4,500 synapses in the reference wiring.
    let id = upload(
        &s,
        ModelConfig {
            nodes: 100,
            ..ModelConfig::default()
        },
    )
    .await;
    let message = refused(
        &s,
        &format!("/genomes/{id}/replay?env=CartPole-v1&episodes=20"),
        "episodes",
    )
    .await;
    assert!(
        message.contains(&MAX_SYNAPSE_STEPS.to_string()),
        "{message}"
    );

    let replay = s
        .get_json(&format!("/genomes/{id}/replay?env=CartPole-v1&episodes=2"))
        .await;
    let edges = replay["trace"]["wiring"]["edges"].as_array().unwrap().len();
    assert!(edges > 4000, "{edges}");
    let norms = &replay["synapse_norms"];
    let columns = norms["values"].as_array().unwrap().len();
    assert!(columns * edges <= MAX_NORM_VALUES, "{columns} × {edges}");
    let every = norms["every"].as_u64().unwrap() as usize;
    assert!(every > 1);
    assert_eq!(columns, 1000usize.div_ceil(every));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_beyond_the_cap_are_refused_busy() {
    // No replay slots at all: every replay is refused, with a reason and a time to wait.
    let s = start_with(0, None, |o| o.http.max_replays = 0).await;
    let id = upload(&s, ModelConfig::default()).await;
    let response = s
        .client
        .get(s.api(&format!("/genomes/{id}/replay?env=CartPole-v1")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy", "{body}");
    // Validation still comes first.
    refused(&s, &format!("/genomes/{id}/replay?env=x"), "env").await;

    // One slot and a burst of slow replays: each is answered, done or busy, never queued
    // without bound; the server keeps answering other requests meanwhile.
    let s = start_with(0, None, |o| o.http.max_replays = 1).await;
    let id = upload(
        &s,
        ModelConfig {
            nodes: 100,
            ..ModelConfig::default()
        },
    )
    .await;
    let url = s.api(&format!("/genomes/{id}/replay?env=CartPole-v1&episodes=4"));
    let burst: Vec<_> = (0..6)
        .map(|_| {
            let client = s.client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let response = client.get(url).send().await.unwrap();
                let status = response.status();
                let body: Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let health = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let mut done = 0;
    for task in burst {
        let (status, body) = task.await.unwrap();
        match status.as_u16() {
            200 => done += 1,
            429 => assert_eq!(body["error"]["code"], "busy", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(done >= 1);
}
