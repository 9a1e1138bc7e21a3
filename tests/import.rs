//! Imports: `sfnn push` of a real `sfnn run` folder to a real server on a socket, and the
//! import endpoints' refusals.

mod common;

use common::{TestServer, start, tiny_spec};
use reqwest::Method;
use serde_json::{Value, json};
use sfnn::evolution::{Checkpoint, GenerationRecord};
use sfnn::model::GenomeFile;
use sfnn::store::genome_sha256;
use std::path::{Path, PathBuf};
use std::process::Output;

const TOKEN: &str = "push-token";

/// Runs `sfnn ARGS` off the async runtime.
async fn sfnn(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sfnn"))
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `sfnn run` of a tiny spec into `dir/run`; the folder.
async fn finished_run(dir: &Path, generations: u64) -> PathBuf {
    let spec = dir.join("spec.json");
    std::fs::write(&spec, tiny_spec(generations).to_string()).unwrap();
    let out = dir.join("run");
    let output = sfnn(vec![
        "run".into(),
        spec.display().to_string(),
        "--quiet".into(),
        "--out".into(),
        out.display().to_string(),
    ])
    .await;
    assert!(output.status.success(), "{}", text(&output));
    out
}

async fn push(s: &TestServer, run: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "push".to_string(),
        run.display().to_string(),
        "--server".into(),
        s.url.clone(),
        "--token".into(),
        TOKEN.into(),
    ];
    args.extend(extra.iter().map(|a| a.to_string()));
    sfnn(args).await
}

/// The job id at the end of the URL `sfnn push` prints.
fn pushed_id(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(output));
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    let url = stdout.trim();
    url.rsplit('/').next().unwrap().to_string()
}

fn local_history(run: &Path) -> Vec<Value> {
    std::fs::read_to_string(run.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let record: GenerationRecord = serde_json::from_str(line).unwrap();
            serde_json::to_value(record).unwrap()
        })
        .collect()
}

fn sha256_of(path: &Path) -> String {
    genome_sha256(&GenomeFile::load(path).unwrap().values)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_run_reads_like_any_job_and_is_not_pushed_twice() {
    // A worker runs meanwhile: it must leave the import alone.
    let s = common::start(1, Some(TOKEN)).await;
    let run = finished_run(s.dir.path(), 4).await;
    let output = push(&s, &run, &["--name", "pushed run"]).await;
    let id = pushed_id(&output);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&format!("{}/#/jobs/{id}", s.url)),
        "{}",
        text(&output)
    );

    let job = s.get_json(&format!("/jobs/{id}")).await;
    let history = local_history(&run);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["imported"], true);
    assert_eq!(job["name"], "pushed run");
    assert_eq!(job["generation"], 4);
    assert_eq!(job["stop_reason"], "generations");
    assert_eq!(job["attempts"], 0, "no worker ran it");
    assert_eq!(job["best_fitness"], history[3]["best_so_far"]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
    assert_eq!(job["spec"], spec);

    // The history, record for record.
    let served = s.get_json(&format!("/jobs/{id}/history")).await;
    assert_eq!(served, Value::Array(history.clone()));
    let chart = s.get_json(&format!("/jobs/{id}/history/chart")).await;
    assert_eq!(chart["generations"], 4, "{chart}");

    // The final genomes, value for value.
    let checkpoint: Checkpoint =
        serde_json::from_str(&std::fs::read_to_string(run.join("checkpoint.json")).unwrap())
            .unwrap();
    let genomes = s.get_json(&format!("/jobs/{id}/genomes")).await;
    let genomes = genomes.as_array().unwrap();
    assert_eq!(genomes.len(), 2, "{genomes:?}");
    let kept = |kind: &str| genomes.iter().find(|g| g["kind"] == kind).unwrap().clone();
    let best = kept("final_best");
    assert_eq!(
        best["sha256"],
        sha256_of(&run.join("best_genome.safetensors"))
    );
    assert_eq!(
        best["generation"],
        checkpoint.best.as_ref().unwrap().generation
    );
    assert_eq!(best["fitness"], history[3]["best_so_far"]);
    let mean = kept("final_mean");
    assert_eq!(
        mean["sha256"],
        sha256_of(&run.join("mean_genome.safetensors"))
    );
    assert_eq!(mean["generation"], 3);
    // A downloaded genome is the file that was pushed.
    let download = s
        .call(
            Method::GET,
            &format!("/genomes/{}/download", best["id"].as_str().unwrap()),
        )
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        GenomeFile::from_json(&download).unwrap().values,
        GenomeFile::load(&run.join("best_genome.json"))
            .unwrap()
            .values
    );

    // Pushed again: the same job, nothing added.
    let again = push(&s, &run, &[]).await;
    assert_eq!(pushed_id(&again), id);
    assert!(text(&again).contains("already pushed"), "{}", text(&again));
    let jobs = s.get_json("/jobs").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "{jobs}");
    // An imported job cannot be resumed here, but can be cloned.
    let response = s
        .client
        .post(s.api(&format!("/jobs/{id}/resume")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_cut_short_continues_where_the_server_stopped() {
    let s = common::start(0, Some(TOKEN)).await;
    let run = finished_run(s.dir.path(), 5).await;
    let history = local_history(&run);
    // What a push killed after its second generation leaves: an open import holding two
    // records, and the folder's marker naming it.
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).unwrap()).unwrap();
    let job = post(&s, "/imports", &json!({"spec": spec})).await;
    assert_eq!(job.0, 201, "{}", job.1);
    let id = job.1["id"].as_str().unwrap().to_string();
    let (status, _) = post(
        &s,
        &format!("/imports/{id}/generations"),
        &json!({"records": history[..2]}),
    )
    .await;
    assert_eq!(status, 200);
    std::fs::write(
        run.join("push.json"),
        json!({"server": s.url, "job_id": id}).to_string(),
    )
    .unwrap();

    let output = push(&s, &run, &[]).await;
    assert_eq!(pushed_id(&output), id, "the same import, continued");
    assert!(
        text(&output).contains("from generation 2"),
        "{}",
        text(&output)
    );
    let served = s.get_json(&format!("/jobs/{id}/history")).await;
    assert_eq!(served, Value::Array(history));
    assert_eq!(
        s.get_json(&format!("/jobs/{id}")).await["status"],
        "succeeded"
    );

    // `--restart` opens a new import of the same run.
    let output = push(&s, &run, &["--restart"]).await;
    assert_ne!(pushed_id(&output), id);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_run_is_refused_with_what_to_do() {
    let s = common::start(0, None).await;
    let run = finished_run(s.dir.path(), 3).await;
    // What Ctrl-C leaves: a checkpoint short of the spec's generations.
    let spec_path = run.join("spec.json");
    let mut spec: Value =
        serde_json::from_str(&std::fs::read_to_string(&spec_path).unwrap()).unwrap();
    spec["generations"] = json!(6);
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let output = push(&s, &run, &[]).await;
    assert!(!output.status.success());
    let message = text(&output);
    assert!(
        message.contains("unfinished run")
            && message.contains("3 of 6")
            && message.contains("--resume"),
        "{message}"
    );
    let jobs = s.get_json("/jobs").await;
    assert!(
        jobs["jobs"].as_array().unwrap().is_empty(),
        "nothing was opened"
    );

    // Not a run folder at all.
    let empty = s.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let output = push(&s, &empty, &[]).await;
    assert!(!output.status.success());
    assert!(
        text(&output).contains("not a run folder"),
        "{}",
        text(&output)
    );
    s.server.stop().await.unwrap();
}

async fn post(s: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    let response = s
        .client
        .post(s.api(path))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A well-formed record of generation `g` of [`tiny_spec`] (CartPole only).
fn record(g: u64) -> Value {
    json!({
        "generation": g,
        "fitness": {"best": 0.5, "mean": 0.25, "worst": 0.0, "std": 0.1,
                    "q25": 0.1, "median": 0.2, "q75": 0.3},
        "best_so_far": 0.5,
        "improved": g == 0,
        "envs": [{"env": "CartPole-v1", "mean_return": 20.0, "best_return": 40.0,
                  "mean_score": 0.25}],
        "sigma": 1.0,
        "telemetry": [["sigma", 1.0]],
        "env_steps": 1000,
        "timing": {"ask": 0.001, "evaluate": 0.01, "tell": 0.001}
    })
}

fn records(range: std::ops::Range<u64>) -> Value {
    json!({"records": range.map(record).collect::<Vec<_>>()})
}

fn assert_field(response: &(u16, Value), status: u16, field: &str, text: &str) {
    assert_eq!(response.0, status, "{}", response.1);
    let error = &response.1["error"];
    assert_eq!(error["field"], field, "{}", response.1);
    assert!(
        error["message"].as_str().unwrap().contains(text),
        "{}",
        response.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_imports_are_refused_naming_the_field() {
    let s = start(0, Some(TOKEN)).await;
    // Mutations need the token.
    let response = s
        .client
        .post(s.api("/imports"))
        .json(&json!({"spec": tiny_spec(5)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    // The spec is checked by the spec parser, its errors named under `spec`.
    let mut bad = tiny_spec(5);
    bad["strategy"]["popsize"] = json!(0);
    assert_field(
        &post(&s, "/imports", &json!({"spec": bad})).await,
        422,
        "spec.strategy.popsize",
        "",
    );
    assert_field(
        &post(&s, "/imports", &json!({"spec": tiny_spec(5), "tags": [""]})).await,
        422,
        "tags[0]",
        "",
    );
    // Unknown imports.
    let nobody = uuid::Uuid::new_v4();
    assert_eq!(
        post(
            &s,
            &format!("/imports/{nobody}/generations"),
            &records(0..1)
        )
        .await
        .0,
        404
    );
    let finish = json!({"generations": 1, "genomes": 0, "stop_reason": "generations"});
    assert_eq!(
        post(&s, &format!("/imports/{nobody}/finish"), &finish)
            .await
            .0,
        404
    );

    let (status, job) = post(&s, "/imports", &json!({"spec": tiny_spec(5)})).await;
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["status"], "running");
    assert_eq!(job["imported"], true);
    let id = job["id"].as_str().unwrap().to_string();
    let add = |body: Value| {
        let (s, id) = (&s, id.clone());
        async move { post(s, &format!("/imports/{id}/generations"), &body).await }
    };
    // Out of order, gaps, too many, records that do not fit the spec.
    assert_field(
        &add(records(1..3)).await,
        422,
        "records[0].generation",
        "must be 0",
    );
    let mut gap = records(0..2);
    gap["records"][1]["generation"] = json!(2);
    assert_field(&add(gap).await, 422, "records[1].generation", "must be 1");
    assert_field(&add(records(0..1001)).await, 422, "records", "1000");
    assert_field(
        &add(records(0..6)).await,
        422,
        "records[5].generation",
        "below",
    );
    let mut env = records(0..1);
    env["records"][0]["envs"][0]["env"] = json!("Acrobot-v1");
    assert_field(
        &add(env).await,
        422,
        "records[0].envs[0].env",
        "CartPole-v1",
    );
    let mut timing = records(0..1);
    timing["records"][0]["timing"]["ask"] = json!(-1.0);
    assert_field(&add(timing).await, 422, "records[0].timing.ask", "negative");
    let mut missing = records(0..1);
    missing["records"][0]
        .as_object_mut()
        .unwrap()
        .remove("sigma");
    let refused = add(missing).await;
    assert_eq!(refused.0, 422, "{}", refused.1);
    assert!(
        refused.1["error"]["field"]
            .as_str()
            .unwrap()
            .starts_with("records[0]"),
        "{}",
        refused.1
    );

    // In order: stored; the same batch again is refused, naming where to continue.
    let (status, job) = add(records(0..2)).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["generation"], 2);
    assert_eq!(job["best_fitness"], 0.5);
    assert_field(
        &add(records(0..2)).await,
        422,
        "records[0].generation",
        "must be 2",
    );

    // Genomes: only of generations held, of the spec's model, of a kind a run keeps.
    let genome = GenomeFile::new(
        sfnn::model::ModelConfig::default(),
        vec![0.25; 565],
        Some(0.5),
    );
    let add_genome = |query: &str, body: String| {
        let (s, id, query) = (&s, id.clone(), query.to_string());
        async move {
            let response = s
                .client
                .post(s.api(&format!("/imports/{id}/genomes?{query}")))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    assert_field(
        &add_genome("kind=final_best&generation=2", genome.to_json()).await,
        422,
        "generation",
        "below 2",
    );
    assert_field(
        &add_genome("kind=uploaded&generation=1", genome.to_json()).await,
        422,
        "kind",
        "final_best",
    );
    // N is in no tensor's shape: the same values on 24 nodes are a genome of another model.
    let small = GenomeFile::new(
        sfnn::model::ModelConfig {
            nodes: 24,
            ..Default::default()
        },
        vec![0.25; 565],
        None,
    );
    assert_field(
        &add_genome("kind=final_best&generation=1", small.to_json()).await,
        422,
        "model",
        "differs",
    );
    let first = add_genome("kind=final_best&generation=1", genome.to_json()).await;
    assert_eq!(first.0, 201, "{}", first.1);
    let again = add_genome("kind=final_best&generation=1", genome.to_json()).await;
    assert_eq!(
        again.1["id"], first.1["id"],
        "a genome sent twice is stored once"
    );

    // Finishing checks the run is all there.
    let finish = |body: Value| {
        let (s, id) = (&s, id.clone());
        async move { post(s, &format!("/imports/{id}/finish"), &body).await }
    };
    let missing =
        finish(json!({"generations": 5, "genomes": 1, "stop_reason": "generations"})).await;
    assert_eq!(missing.0, 409, "{}", missing.1);
    assert!(
        missing.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds 2 generations"),
        "{}",
        missing.1
    );
    assert_field(
        &finish(json!({"generations": 2, "genomes": 1, "stop_reason": "generations"})).await,
        422,
        "stop_reason",
        "all 5",
    );
    let lost =
        finish(json!({"generations": 2, "genomes": 2, "stop_reason": "target_fitness"})).await;
    assert_eq!(lost.0, 409, "a genome count that differs: {}", lost.1);
    let (status, job) =
        finish(json!({"generations": 2, "genomes": 1, "stop_reason": "target_fitness"})).await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["status"], "succeeded");
    assert_eq!(job["stop_reason"], "target_fitness");
    assert_eq!(job["worker_id"], Value::Null);
    // Finished: closed to more.
    assert_eq!(add(records(2..3)).await.0, 409);

    // A cancelled import ends at once, and can be deleted.
    let (_, other) = post(&s, "/imports", &json!({"spec": tiny_spec(5)})).await;
    let other = other["id"].as_str().unwrap().to_string();
    let (status, cancelled) = post(&s, &format!("/jobs/{other}/cancel"), &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(
        post(&s, &format!("/imports/{other}/generations"), &records(0..1))
            .await
            .0,
        409
    );
    let response = s
        .client
        .delete(s.api(&format!("/jobs/{other}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    // A job the server runs is no import.
    let queued = {
        let response = s
            .client
            .post(s.api("/jobs"))
            .bearer_auth(TOKEN)
            .json(&tiny_spec(3))
            .send()
            .await
            .unwrap();
        response.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        post(
            &s,
            &format!("/imports/{queued}/generations"),
            &records(0..1)
        )
        .await
        .0,
        409
    );
    s.server.stop().await.unwrap();
}

/// `sfnn run --server`: the server follows the run as it goes (its import holds generations
/// while the run is still under way); a run killed half-way and resumed with `--resume`
/// continues the same job, which ends with the folder's history and genomes, as a push would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_recorded_live_is_followed_and_resumed_on_the_same_job() {
    let s = start(0, Some(TOKEN)).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("spec.json");
    std::fs::write(&spec, tiny_spec(60).to_string()).unwrap();
    let out = dir.path().join("run");
    let args = |resume: bool| {
        let mut args = vec![
            "run".to_string(),
            spec.display().to_string(),
            "--quiet".into(),
            "--out".into(),
            out.display().to_string(),
            "--server".into(),
            s.url.clone(),
            "--token".into(),
            TOKEN.into(),
        ];
        if resume {
            args.push("--resume".into());
        }
        args
    };
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(args(false))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The import appears and grows while the run goes; then the run dies.
    let started = std::time::Instant::now();
    let job = loop {
        let page = s.get_json("/jobs").await;
        if let Some(job) = page["jobs"].as_array().unwrap().first()
            && job["generation"].as_u64().unwrap() >= 3
        {
            break job.clone();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no live generations on the server: {page}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(job["imported"], true);
    assert_eq!(job["status"], "running", "{job}");
    let id = job["id"].as_str().unwrap().to_string();

    let resumed = sfnn(args(true)).await;
    assert!(resumed.status.success(), "{}", text(&resumed));
    assert!(
        String::from_utf8_lossy(&resumed.stdout)
            .trim()
            .ends_with(&id),
        "the same job: {}",
        text(&resumed)
    );
    let done = s.get_json(&format!("/jobs/{id}")).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["generation"], 60);
    assert_eq!(
        s.get_json("/jobs").await["jobs"].as_array().unwrap().len(),
        1
    );
    // What the server holds is the folder's run: generation by generation, the same fitness
    // (a generation computed twice, before and after the kill, computes the same numbers).
    let server: Vec<Value> = s
        .get_json(&format!("/jobs/{id}/history"))
        .await
        .as_array()
        .unwrap()
        .clone();
    let local = local_history(&out);
    assert_eq!(server.len(), local.len());
    for (a, b) in server.iter().zip(&local) {
        assert_eq!(a["generation"], b["generation"]);
        assert_eq!(a["fitness"], b["fitness"]);
    }
    let genomes = s.get_json(&format!("/jobs/{id}/genomes")).await;
    let kinds: Vec<&str> = genomes
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"final_mean") && kinds.contains(&"final_best"),
        "{kinds:?}"
    );
    s.server.stop().await.unwrap();
}
