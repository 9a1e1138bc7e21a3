//! The REST API over real HTTP on a loopback socket, with a real SQLite file and in-process
//! workers.

mod common;

use common::{TestServer, start, tiny_spec};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sfnn::api::admission::SubmissionLimits;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_and_its_history_and_genomes_can_be_read_back() {
    let s = start(1, None).await;
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&tiny_spec(4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/jobs/{id}"));
    assert_eq!(job["status"], "queued");
    // Defaults are filled in and stored with the job.
    assert_eq!(job["spec"]["model"]["nodes"], 32);

    let done = s.wait_for(id, "succeeded", LONG).await;
    assert_eq!(done["generation"], 4);
    assert_eq!(done["stop_reason"], "generations");
    assert_eq!(done["executor"], "cpu");

    // The three export formats agree.
    let history = s.get_json(&format!("/jobs/{id}/history")).await;
    let records = history.as_array().unwrap();
    assert_eq!(records.len(), 4);

    // The job's compute is the sum of its generations' (CPU, wall, steps) and names the machine.
    let compute = &done["compute"];
    let sum = |f: &dyn Fn(&Value) -> f64| records.iter().map(f).sum::<f64>();
    let cpu = sum(&|r| r["timing"]["cpu"].as_f64().unwrap());
    assert!(cpu > 0.0, "{compute}");
    assert!(
        (compute["cpu_seconds"].as_f64().unwrap() - cpu).abs() < 1e-9,
        "{compute}"
    );
    let wall = sum(&|r| {
        let t = &r["timing"];
        t["ask"].as_f64().unwrap() + t["evaluate"].as_f64().unwrap() + t["tell"].as_f64().unwrap()
    });
    assert!(
        (compute["wall_seconds"].as_f64().unwrap() - wall).abs() < 1e-9,
        "{compute}"
    );
    let steps = sum(&|r| r["env_steps"].as_f64().unwrap());
    assert_eq!(compute["env_steps"].as_f64().unwrap(), steps);
    assert_eq!(compute["sfnn_steps"], compute["env_steps"]);
    assert!(steps > 0.0);
    let machine = compute["machine"].as_str().unwrap();
    assert!(
        machine.contains(" × ") && machine.contains("thread"),
        "{machine}"
    );
    for (g, r) in records.iter().enumerate() {
        assert_eq!(r["generation"], g as u64);
    }
    let ndjson = s
        .call(Method::GET, &format!("/jobs/{id}/history?format=ndjson"))
        .await
        .text()
        .await
        .unwrap();
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(&lines, records);
    let csv = s
        .call(Method::GET, &format!("/jobs/{id}/history?format=csv"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("generation,best,mean,worst"));
    let best_column: f64 = csv
        .lines()
        .nth(4)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(best_column, records[3]["fitness"]["best"].as_f64().unwrap());

    let chart = s
        .get_json(&format!("/jobs/{id}/history/chart?max_points=2"))
        .await;
    assert_eq!(chart["generations"], 4);
    assert_eq!(chart["generation"].as_array().unwrap().len(), 2);
    let best_so_far = chart["best_so_far"]["value"].as_array().unwrap();
    assert_eq!(best_so_far.last().unwrap(), &done["best_fitness"]);

    // Genomes: improvements, means every 2 generations, and the final pair.
    let genomes = s.get_json(&format!("/jobs/{id}/genomes")).await;
    let kinds: Vec<&str> = genomes
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"generation_best"));
    assert_eq!(kinds.iter().filter(|k| **k == "strategy_mean").count(), 2);
    assert!(kinds.contains(&"final_best") && kinds.contains(&"final_mean"));
    let best = genomes
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "final_best")
        .unwrap();
    assert_eq!(best["fitness"], done["best_fitness"]);
    let genome_id = best["id"].as_str().unwrap();
    let download = |format: &str| {
        s.client
            .get(s.api(&format!("/genomes/{genome_id}/download?format={format}")))
            .send()
    };
    let json_file: sfnn::model::GenomeFile =
        serde_json::from_str(&download("json").await.unwrap().text().await.unwrap()).unwrap();
    let st = download("safetensors")
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let st_file = sfnn::model::GenomeFile::from_safetensors(&st).unwrap();
    assert_eq!(json_file.values, st_file.values);
    // Both files say how the job wired its networks and what it ran.
    assert_eq!(json_file.topology, Some(Default::default()));
    assert_eq!(json_file.spec.as_ref().unwrap()["strategy"]["popsize"], 6);
    assert_eq!(
        (&st_file.topology, &st_file.spec),
        (&json_file.topology, &json_file.spec)
    );
    let raw = download("raw").await.unwrap().bytes().await.unwrap();
    let raw_values: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(raw_values, json_file.values);
    assert_eq!(
        best["sha256"].as_str().unwrap(),
        sfnn::store::genome_sha256(&raw_values)
    );
    python_reads_safetensors(&s, &st, &raw_values);

    // Clone with a change, then delete the original.
    let response = s
        .client
        .post(s.api(&format!("/jobs/{id}/clone")))
        .json(&json!({"seed": 11, "generations": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let clone: Value = response.json().await.unwrap();
    assert_eq!(clone["spec"]["seed"], 11);
    assert_eq!(clone["spec"]["strategy"]["popsize"], 6);
    s.wait_for(clone["id"].as_str().unwrap(), "succeeded", LONG)
        .await;
    let deleted = s.call(Method::DELETE, &format!("/jobs/{id}")).await;
    assert_eq!(deleted.status(), 204);
    let gone = s.call(Method::GET, &format!("/jobs/{id}")).await;
    assert_eq!(gone.status(), 404);
    let gone = s.call(Method::GET, &format!("/genomes/{genome_id}")).await;
    assert_eq!(gone.status(), 404, "a job's genomes go with it");
    s.server.stop().await.unwrap();
}

/// CI installs Python's safetensors and numpy and sets REQUIRE_PYTHON_SAFETENSORS=1, so there
/// the Python checks must run; elsewhere they run when python3 can import safetensors.
fn python_has_safetensors() -> bool {
    let required = std::env::var("REQUIRE_PYTHON_SAFETENSORS").is_ok_and(|v| v == "1");
    let available = std::process::Command::new("python3")
        .args(["-c", "import safetensors.numpy, numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            !required,
            "REQUIRE_PYTHON_SAFETENSORS=1 but python3 cannot import safetensors"
        );
        eprintln!("SKIP python safetensors check: not installed");
    }
    available
}

fn python_reads_safetensors(s: &TestServer, bytes: &[u8], values: &[f32]) {
    if !python_has_safetensors() {
        return;
    }
    let path = s.dir.path().join("genome.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let script = r#"
import sys, numpy
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
order = ["node_cells.out.weight", "edge_cells.weight_ih", "edge_cells.weight_hh",
         "edge_cells.bias", "edge_cells.bias_n", "learning_rate"]
assert t["edge_cells.weight_ih"].shape == (3, 12, 9), t["edge_cells.weight_ih"].shape
flat = numpy.concatenate([t[k].reshape(-1) for k in order]).astype(numpy.float32)
sys.stdout.write(flat.tobytes().hex())
"#;
    let output = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let expected: String = values
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
}

/// The tensors of a downloaded genome re-saved by `safetensors.numpy.save_file` (no metadata,
/// so no "model" entry) upload, evaluate on the server, and evaluate with `sfnn eval`; so does
/// a flat array with a model config.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genomes_resaved_from_python_upload_and_evaluate() {
    if !python_has_safetensors() {
        return;
    }
    let s = start(1, None).await;
    let original = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/evolved/CartPole-v1.json"
    ))
    .unwrap();
    let upload = |content_type: &'static str, body: Vec<u8>| {
        s.client
            .post(s.api("/genomes"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let response = upload("application/json", original.clone().into_bytes())
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta: Value = response.json().await.unwrap();
    let downloaded = s
        .call(
            Method::GET,
            &format!(
                "/genomes/{}/download?format=safetensors",
                meta["id"].as_str().unwrap()
            ),
        )
        .await
        .bytes()
        .await
        .unwrap();
    let (from, to) = (
        s.dir.path().join("in.safetensors"),
        s.dir.path().join("out.safetensors"),
    );
    std::fs::write(&from, &downloaded).unwrap();
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; from safetensors.numpy import load_file, save_file; \
             save_file(load_file(sys.argv[1]), sys.argv[2])",
            from.to_str().unwrap(),
            to.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let resaved = std::fs::read(&to).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&resaved).unwrap();
    assert!(header.metadata().is_none(), "save_file wrote no metadata");

    let response = upload("application/octet-stream", resaved).await.unwrap();
    assert_eq!(response.status(), 201);
    let bare: Value = response.json().await.unwrap();
    assert_eq!(bare["sha256"], meta["sha256"]);
    assert_eq!(
        bare["model"],
        json!({"nodes": 32, "msg_dims": 4, "node_types": 3})
    );
    let file: sfnn::model::GenomeFile = serde_json::from_str(&original).unwrap();
    let flat = json!({"model": file.model, "values": file.values}).to_string();
    let response = upload("application/json", flat.into_bytes()).await.unwrap();
    assert_eq!(response.status(), 201);
    let flat_meta: Value = response.json().await.unwrap();
    assert_eq!(flat_meta["sha256"], meta["sha256"]);

    let response = s
        .client
        .post(s.api(&format!(
            "/genomes/{}/evaluate",
            bare["id"].as_str().unwrap()
        )))
        .json(&json!({"envs": ["CartPole-v1"], "episodes": 2, "seeds": [5]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    let job = job["id"].as_str().unwrap();
    s.wait_for(job, "succeeded", LONG).await;
    let result = s.get_json(&format!("/jobs/{job}/evaluation")).await;
    let returns: Vec<String> = result["envs"][0]["lifetimes"][0]["episode_returns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}", r.as_f64().unwrap()))
        .collect();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["eval", to.to_str().unwrap(), "--env", "CartPole-v1"])
        .args(["--episodes", "2", "--seed", "5"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let row: Vec<&str> = stdout.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(row[1], returns.join(" "), "the server and sfnn eval agree");
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_resume_and_bulk_cancel() {
    let s = start(1, None).await;
    let id = s.submit(&tiny_spec(100_000)).await;
    s.wait_for(&id, "running", LONG).await;
    // Let it record a generation or two.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let response = s.call(Method::POST, &format!("/jobs/{id}/cancel")).await;
    assert_eq!(response.status(), 200);
    let cancelled = s.wait_for(&id, "cancelled", LONG).await;
    let done_before = cancelled["generation"].as_u64().unwrap();

    let resumed: Value = s
        .call(Method::POST, &format!("/jobs/{id}/resume"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(resumed["status"], "queued");
    s.wait_for(&id, "running", LONG).await;
    // Queue more work behind it, then cancel everything tagged "test".
    let queued = s.submit(&tiny_spec(5)).await;
    let bulk: Value = s
        .client
        .post(s.api("/jobs/cancel"))
        .json(&json!({"tag": "test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bulk["cancelled"], 2);
    s.wait_for(&queued, "cancelled", LONG).await;
    let again = s.wait_for(&id, "cancelled", LONG).await;
    assert!(again["generation"].as_u64().unwrap() >= done_before.saturating_sub(2));
    // A cancelled job can be resumed once; a queued one cannot be resumed again.
    let resume = |job: String| s.client.post(s.api(&format!("/jobs/{job}/resume"))).send();
    assert_eq!(resume(queued.clone()).await.unwrap().status(), 200);
    assert_eq!(resume(queued.clone()).await.unwrap().status(), 409);
    let cancel = s
        .client
        .post(s.api(&format!("/jobs/{queued}/cancel")))
        .send();
    assert_eq!(cancel.await.unwrap().status(), 200);

    let list = s.get_json("/jobs?status=cancelled&tag=test&limit=1").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);
    let cursor = list["next_cursor"].as_str().unwrap();
    let next = s
        .get_json(&format!(
            "/jobs?status=cancelled&tag=test&limit=1&cursor={cursor}"
        ))
        .await;
    assert_ne!(next["jobs"][0]["id"], list["jobs"][0]["id"]);
    s.server.stop().await.unwrap();
}

/// Reads server-sent events until `n` generation events arrived; returns (event ids, statuses).
async fn read_events(s: &TestServer, id: &str, last_event_id: Option<u64>, n: usize) -> Vec<u64> {
    let mut request = s.client.get(s.api(&format!("/jobs/{id}/events")));
    if let Some(last) = last_event_id {
        request = request.header("last-event-id", last.to_string());
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = response.bytes_stream();
    let mut buffer = String::new();
    let mut ids = Vec::new();
    let deadline = tokio::time::Instant::now() + LONG;
    while ids.len() < n {
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .expect("events in time")
            .expect("stream open")
            .unwrap();
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.contains("event: generation") {
                let id_line = event.lines().find(|l| l.starts_with("id:")).unwrap();
                ids.push(id_line[3..].trim().parse().unwrap());
            }
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_generations_live_and_resume_after_last_event_id() {
    let s = start(1, None).await;
    let id = s.submit(&tiny_spec(12)).await;
    let live = read_events(&s, &id, None, 6).await;
    assert_eq!(live, (0..6).collect::<Vec<_>>());
    let resumed = read_events(&s, &id, Some(3), 4).await;
    assert_eq!(resumed, [4, 5, 6, 7]);
    s.wait_for(&id, "succeeded", LONG).await;
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploaded_genomes_warm_start_jobs_and_are_evaluated_as_jobs() {
    let s = start(1, None).await;
    let model = sfnn::model::ModelConfig::default();
    let values: Vec<f32> = (0..565).map(|i| ((i % 11) as f32 - 5.0) * 0.05).collect();
    let file = sfnn::model::GenomeFile::new(model, values.clone(), None);
    let response = s
        .client
        .post(s.api("/genomes?name=handmade"))
        .header("content-type", "application/json")
        .body(file.to_json())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta: Value = response.json().await.unwrap();
    let genome_id = meta["id"].as_str().unwrap();
    assert_eq!(meta["kind"], "uploaded");
    assert_eq!(meta["name"], "handmade");

    // safetensors upload of the same values gives the same hash.
    let response = s
        .client
        .post(s.api("/genomes"))
        .header("content-type", "application/octet-stream")
        .body(file.to_safetensors())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta2: Value = response.json().await.unwrap();
    assert_eq!(meta2["sha256"], meta["sha256"]);

    let mut spec = tiny_spec(1);
    spec["init_genome"] = json!(genome_id);
    spec["strategy"]["sigma0"] = json!(1e-9);
    let job = s.submit(&spec).await;
    s.wait_for(&job, "succeeded", LONG).await;
    let genomes = s.get_json(&format!("/jobs/{job}/genomes")).await;
    let best = genomes
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "final_best")
        .unwrap();
    let file: sfnn::model::GenomeFile = serde_json::from_str(
        &s.call(
            Method::GET,
            &format!("/genomes/{}/download", best["id"].as_str().unwrap()),
        )
        .await
        .text()
        .await
        .unwrap(),
    )
    .unwrap();
    let drift = file
        .values
        .iter()
        .zip(&values)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        drift < 1e-6,
        "a warm start with tiny sigma stays at the genome ({drift})"
    );

    let response = s
        .client
        .post(s.api(&format!("/genomes/{genome_id}/evaluate")))
        .json(&json!({"envs": ["Acrobot-v1", "MountainCar-v0"], "episodes": 2, "seeds": [1, 2, 3]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let evaluation: Value = response.json().await.unwrap();
    let eval_id = evaluation["id"].as_str().unwrap();
    assert_eq!(evaluation["kind"], "evaluate");
    s.wait_for(eval_id, "succeeded", LONG).await;
    let result = s.get_json(&format!("/jobs/{eval_id}/evaluation")).await;
    let envs = result["envs"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    for env in envs {
        let lifetimes = env["lifetimes"].as_array().unwrap();
        assert_eq!(lifetimes.len(), 3);
        for l in lifetimes {
            assert_eq!(l["episode_returns"].as_array().unwrap().len(), 2);
        }
    }
    // MountainCar returns are -200..=-1 per episode.
    let mc = &envs[1]["lifetimes"][0]["episode_returns"][0];
    assert!((-200.0..=-1.0).contains(&mc.as_f64().unwrap()));
    s.server.stop().await.unwrap();
}

/// An export whose job is deleted while it streams ends as a failed transfer, in every format,
/// never as a complete-looking shorter history; an undisturbed one has every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_that_loses_its_job_is_aborted_not_ended() {
    use sfnn::evolution::GenerationRecord;
    let s = start(0, None).await;
    // Enough records that the export cannot sit whole in the sockets' buffers before the
    // delete: about 10 MB of JSON.
    const RECORDS: u64 = 40_000;
    let store = &s.server.store;
    let template: GenerationRecord = serde_json::from_value(json!({
        "generation": 0, "best_so_far": 0.5, "improved": false, "envs": [],
        "sigma": 1.0, "telemetry": [], "env_steps": 100,
        "fitness": {"best": 1.0, "mean": 0.5, "worst": 0.0, "std": 0.1,
                    "q25": 0.2, "median": 0.5, "q75": 0.7},
        "timing": {"ask": 0.001, "evaluate": 0.01, "tell": 0.001, "cpu": 0.02}
    }))
    .unwrap();
    let imported = || async {
        let payload = sfnn::evolution::JobPayload::evolve(
            br#"{"envs": ["CartPole-v1"], "generations": 40000}"#,
        )
        .unwrap();
        let job = store
            .create_import(sfnn::store::NewJob::new(payload, 0))
            .await
            .unwrap();
        let records: Vec<GenerationRecord> = (0..RECORDS)
            .map(|g| GenerationRecord {
                generation: g,
                ..template.clone()
            })
            .collect();
        for chunk in records.chunks(1000) {
            store.import_generations(&job.id, chunk).await.unwrap();
        }
        store
            .finish_import(&job.id, RECORDS, 0, "generations")
            .await
            .unwrap();
        job.id
    };
    for format in ["json", "ndjson", "csv"] {
        let id = imported().await;
        let mut body = s
            .call(Method::GET, &format!("/jobs/{id}/history?format={format}"))
            .await
            .bytes_stream();
        let first = body.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
        s.server.store.delete_job(&id).await.unwrap();
        let mut read = first.len();
        let outcome = loop {
            match body.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                Some(Err(e)) => break Err(e),
                None => break Ok(()),
            }
        };
        assert!(
            outcome.is_err(),
            "{format}: the export ended cleanly after {read} bytes of a deleted job"
        );
    }
    // Undisturbed, the same export is whole.
    let id = imported().await;
    let history = s.get_json(&format!("/jobs/{id}/history")).await;
    assert_eq!(history.as_array().unwrap().len() as u64, RECORDS);
    s.server.stop().await.unwrap();
}

/// Meta-test variants of an evaluation: accepted alone or combined, recorded with the result,
/// and refused with the field's path when out of bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evaluations_take_structural_variants_and_record_them() {
    let s = start(1, None).await;
    let values: Vec<f32> = (0..565).map(|i| ((i % 13) as f32 - 6.0) * 0.05).collect();
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
    let genome: Value = response.json().await.unwrap();
    let evaluate = |body: Value| {
        let url = s.api(&format!(
            "/genomes/{}/evaluate",
            genome["id"].as_str().unwrap()
        ));
        let client = s.client.clone();
        async move { client.post(url).json(&body).send().await.unwrap() }
    };

    // Bad values, each named by its path.
    for (variant, field) in [
        (json!({"nodes": 0}), "variant.nodes"),
        (json!({"nodes": 257}), "variant.nodes"),
        (json!({"nodes": 9}), "variant.nodes"), // Acrobot: 6 inputs + 3 outputs + 1 hidden
        (json!({"nodes": 10, "extra_inputs": 1}), "variant.nodes"),
        (json!({"extra_inputs": 17}), "variant.extra_inputs"),
        (json!({"extra_inputs": -1}), "variant.extra_inputs"),
        (
            json!({"extra_input_value": 1.0}),
            "variant.extra_input_value",
        ),
        (
            json!({"extra_inputs": 1, "extra_input_value": 1e9}),
            "variant.extra_input_value",
        ),
        (json!({"permute_inputs": -3}), "variant.permute_inputs"),
        (json!({"permute_inputs": "seven"}), "variant.permute_inputs"),
        (json!({"colour": "red"}), "variant.colour"),
        (json!(3), "variant"),
    ] {
        let response = evaluate(json!({"envs": ["Acrobot-v1"], "variant": variant})).await;
        assert_eq!(response.status(), 422, "{variant}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{variant}: {error}");
    }

    // All three combined, on an environment of another size than the genome ever saw.
    let variant = json!({"nodes": 64, "permute_inputs": 7, "extra_inputs": 2});
    let response = evaluate(json!({
        "envs": ["Acrobot-v1", "Pendulum-v1"], "episodes": 1, "seeds": [1, 2], "variant": variant
    }))
    .await;
    assert_eq!(response.status(), 201);
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["spec"]["variant"]["nodes"], 64);
    s.wait_for(id, "succeeded", LONG).await;
    let result = s.get_json(&format!("/jobs/{id}/evaluation")).await;
    assert_eq!(result["nodes"], 64);
    assert_eq!(result["variant"]["permute_inputs"], 7);
    assert_eq!(result["variant"]["extra_inputs"], 2);
    for (env, dim) in [(&result["envs"][0], 6), (&result["envs"][1], 3)] {
        let mut order: Vec<u64> = env["input_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        order.sort();
        assert_eq!(order, (0..dim).collect::<Vec<u64>>(), "{env}");
        assert_eq!(env["lifetimes"].as_array().unwrap().len(), 2);
    }
    // Without a variant the result says so, and lists no input order.
    let response = evaluate(json!({"envs": ["Acrobot-v1"], "episodes": 1})).await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.wait_for(&id, "succeeded", LONG).await;
    let plain = s.get_json(&format!("/jobs/{id}/evaluation")).await;
    assert_eq!(plain["nodes"], 32);
    assert!(plain["envs"][0].get("input_order").is_none());
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_mutation_but_not_reads() {
    let s = start(0, Some("s3cret")).await;
    let denied = s
        .client
        .post(s.api("/jobs"))
        .json(&tiny_spec(1))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let body: Value = denied.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let wrong = s
        .client
        .post(s.api("/jobs"))
        .bearer_auth("s3cres")
        .json(&tiny_spec(1))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = s
        .client
        .post(s.api("/jobs"))
        .bearer_auth("s3cret")
        .json(&tiny_spec(1))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 201);
    let id = allowed.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = |token: Option<&str>| {
        let request = s
            .client
            .patch(s.api(&format!("/jobs/{id}")))
            .json(&json!({"notes": "mine"}));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
        .send()
    };
    assert_eq!(patch(None).await.unwrap().status(), 401);
    assert_eq!(patch(Some("s3cret")).await.unwrap().status(), 200);
    let read = s.call(Method::GET, "/jobs").await;
    assert_eq!(read.status(), 200);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_is_served_with_strict_headers_and_unknown_api_paths_are_json() {
    let s = start(0, None).await;
    let page = s.client.get(format!("{}/", s.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert!(page.text().await.unwrap().contains("SFNN Lab"));
    let missing = s.call(Method::GET, "/nope").await;
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let health = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let envs = s.get_json("/envs").await;
    assert_eq!(envs.as_array().unwrap().len(), 5);
    assert_eq!(envs[0]["name"], "CartPole-v1");
    assert_eq!(envs[0]["obs_dim"], 4);
    let executors = s.get_json("/executors").await;
    assert_eq!(
        executors.as_array().unwrap().len(),
        0,
        "an API-only server runs no executor"
    );
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_queues_one_job_per_combination_grouped_by_variant() {
    // Room for 4 queued jobs: a 4-job sweep fits once, then a second one is refused whole.
    let s = common::start_with(0, None, |o| {
        o.limits = SubmissionLimits {
            max_queued_jobs: 4,
            ..SubmissionLimits::default()
        }
    })
    .await;
    let request = json!({
        "name": "episodes",
        "spec": common::tiny_spec(2),
        "axes": {"seed": [1, 2], "lifetime.episodes": [1, 3]},
    });
    let response = s
        .client
        .post(s.api("/sweeps"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let sweep: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/sweeps/{}", sweep["id"].as_str().unwrap())
    );
    let jobs = sweep["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    // In expansion order (axes by name, the last fastest), each with its own values written in.
    let got: Vec<(u64, u64)> = jobs
        .iter()
        .map(|j| {
            let spec = &j["spec"];
            (
                spec["lifetime"]["episodes"].as_u64().unwrap(),
                spec["seed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(1, 1), (1, 2), (3, 1), (3, 2)]);
    assert_eq!(jobs[1]["name"], "episodes [lifetime.episodes=1, seed=2]");
    assert_eq!(
        jobs[1]["spec"]["strategy"]["popsize"], 6,
        "the base spec's own fields stay"
    );
    let variants = sweep["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[0]["label"], "lifetime.episodes=1");
    assert_eq!(
        variants[0]["job_ids"],
        json!([jobs[0]["id"], jobs[1]["id"]]),
        "a variant holds the jobs that differ only in their seed"
    );

    // Each job knows its sweep; the sweep reads back the same; the list counts its jobs.
    let job = s
        .get_json(&format!("/jobs/{}", jobs[3]["id"].as_str().unwrap()))
        .await;
    assert_eq!(job["sweep"]["id"], sweep["id"]);
    assert_eq!(job["sweep"]["variant"], json!({"lifetime.episodes": 3}));
    assert_eq!(
        job["sweep"]["values"],
        json!({"lifetime.episodes": 3, "seed": 2})
    );
    let again = s.get_json(&location.replace("/api/v1", "")).await;
    assert_eq!(again, sweep);
    let list = s.get_json("/sweeps").await;
    assert_eq!(list[0]["id"], sweep["id"]);
    assert_eq!(list[0]["jobs"], 4);

    // The queue holds 4 jobs now: another sweep is refused whole, and queues nothing.
    let response = s
        .client
        .post(s.api("/sweeps"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let page = s.get_json("/jobs?limit=100").await;
    assert_eq!(page["jobs"].as_array().unwrap().len(), 4);
    assert_eq!(s.get_json("/sweeps").await.as_array().unwrap().len(), 1);

    // A bad combination names the spec field and the combination; unknown sweeps are 404.
    let response = s
        .client
        .post(s.api("/sweeps"))
        .json(&json!({"spec": common::tiny_spec(2), "axes": {"strategy.popsize": [6, 1]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"]["field"], "spec.strategy.popsize");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("strategy.popsize=1"),
        "{error}"
    );
    let missing = s
        .call(
            reqwest::Method::GET,
            &format!("/sweeps/{}", uuid::Uuid::new_v4()),
        )
        .await;
    assert_eq!(missing.status(), 404);

    // The job list filters by sweep: an unrelated job stays out of it.
    let sweep_id = sweep["id"].as_str().unwrap();
    let other = s
        .client
        .post(s.api("/jobs/cancel"))
        .json(&json!({"sweep": "not-a-uuid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    let error: Value = other.json().await.unwrap();
    assert_eq!(error["error"]["field"], "sweep");
    let ids = |page: &Value| -> Vec<String> {
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mut of_sweep = ids(&s.get_json(&format!("/jobs?sweep={sweep_id}")).await);
    of_sweep.sort();
    let mut expected: Vec<String> = jobs
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(of_sweep, expected);
    let bad = s.call(reqwest::Method::GET, "/jobs?sweep=x").await;
    assert_eq!(bad.status(), 422);

    // A sweep is cancelled and deleted as a whole.
    let cancelled: Value = s
        .client
        .post(s.api(&format!("/sweeps/{sweep_id}/cancel")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cancelled["cancelled"], 4);
    let statuses = s
        .get_json(&format!("/jobs?sweep={sweep_id}&status=cancelled"))
        .await;
    assert_eq!(ids(&statuses).len(), 4);
    let deleted = s
        .call(reqwest::Method::DELETE, &format!("/sweeps/{sweep_id}"))
        .await;
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        s.call(reqwest::Method::GET, &format!("/sweeps/{sweep_id}"))
            .await
            .status(),
        404
    );
    for id in &expected {
        assert_eq!(
            s.call(reqwest::Method::GET, &format!("/jobs/{id}"))
                .await
                .status(),
            404
        );
    }
    for method in [reqwest::Method::DELETE, reqwest::Method::POST] {
        let path = match method {
            reqwest::Method::POST => format!("/sweeps/{sweep_id}/cancel"),
            _ => format!("/sweeps/{sweep_id}"),
        };
        assert_eq!(s.call(method, &path).await.status(), 404);
    }
    s.server.stop().await.unwrap();
}

/// `PATCH /jobs/{id}`: `body` sent as JSON; the status and the body back.
async fn patch_job(s: &TestServer, id: &str, body: Value) -> (u16, Value) {
    let response = s
        .client
        .patch(s.api(&format!("/jobs/{id}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_renamed_retagged_and_annotated_and_bad_changes_name_the_field() {
    let s = start(0, None).await;
    let id = s.submit(&tiny_spec(3)).await;

    let notes = "σ0 = 0.5 helps.\nSecond line; 'quotes' and \"more\".";
    let (status, job) = patch_job(
        &s,
        &id,
        json!({"name": "wide σ", "tags": ["paper", "σ"], "notes": notes}),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["name"], "wide σ");
    assert_eq!(job["tags"], json!(["paper", "σ"]));
    assert_eq!(job["notes"], notes);
    // Read back, and found by its new tag but no longer by its old one.
    let read = s.get_json(&format!("/jobs/{id}")).await;
    assert_eq!(
        (&read["name"], &read["notes"]),
        (&job["name"], &job["notes"])
    );
    let tagged = s.get_json("/jobs?tag=paper").await;
    assert_eq!(tagged["jobs"][0]["id"], id.as_str());
    assert_eq!(s.get_json("/jobs?tag=test").await["jobs"], json!([]));

    // Only the fields given change; `{}` changes nothing.
    let (status, job) = patch_job(&s, &id, json!({"notes": ""})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (job["notes"].as_str(), job["name"].as_str()),
        (Some(""), Some("wide σ"))
    );
    let (status, same) = patch_job(&s, &id, json!({})).await;
    assert_eq!((status, &same["tags"]), (200, &json!(["paper", "σ"])));

    let max_notes = sfnn::limits::spec::MAX_NOTES_CHARS;
    for (body, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (
            json!({"tags": vec!["t"; sfnn::limits::spec::MAX_TAGS + 1]}),
            "tags",
        ),
        (json!({"tags": ["ok", ""]}), "tags[1]"),
        (json!({"notes": "é".repeat(max_notes + 1)}), "notes"),
        (json!({"notes": 5}), "notes"),
        (json!({"owner": "me"}), "owner"),
    ] {
        let (status, error) = patch_job(&s, &id, body.clone()).await;
        assert_eq!(status, 422, "{body}: {error}");
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    // Notes at the limit, counted in characters, are fine.
    let (status, _) = patch_job(&s, &id, json!({"notes": "é".repeat(max_notes)})).await;
    assert_eq!(status, 200);

    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        patch_job(&s, &unknown.to_string(), json!({"notes": "x"}))
            .await
            .0,
        404
    );
    assert_eq!(
        patch_job(&s, "not-a-job", json!({"notes": "x"})).await.0,
        404
    );
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_job_list_searches_names_and_sorts_with_cursors_on_every_key() {
    let s = start(0, None).await;
    // Names with ties (two "beta"s differing only in case), LIKE wildcards, and an empty one.
    let names = [
        "Beta", "alpha", "beta", "50% off", "a_b", "axb", "", "gamma",
    ];
    let mut ids = Vec::new();
    for name in names {
        let mut spec = tiny_spec(1 + ids.len() as u64 % 3);
        spec["name"] = json!(name);
        ids.push(s.submit(&spec).await);
    }
    // Search: a substring, ignoring case; `%` and `_` match only themselves.
    let found = |page: &Value| -> Vec<String> {
        let mut names: Vec<String> = page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    assert_eq!(found(&s.get_json("/jobs?q=BET").await), ["Beta", "beta"]);
    assert_eq!(found(&s.get_json("/jobs?q=%25").await), ["50% off"]);
    assert_eq!(found(&s.get_json("/jobs?q=a_").await), ["a_b"]);
    assert_eq!(
        s.get_json("/jobs?q=").await["jobs"]
            .as_array()
            .unwrap()
            .len(),
        names.len()
    );

    for key in ["created", "name", "best", "generation", "status"] {
        for sort in [key.to_string(), format!("-{key}")] {
            let whole = s.get_json(&format!("/jobs?sort={sort}&limit=500")).await;
            let whole: Vec<Value> = whole["jobs"].as_array().unwrap().clone();
            assert_eq!(whole.len(), names.len());
            // In order of the key (the name lower-cased), ties broken by id.
            let sort_key = |j: &Value| -> (Value, String) {
                let value = match key {
                    "created" => j["created_at"].clone(),
                    "name" => json!(j["name"].as_str().unwrap().to_lowercase()),
                    "best" => json!(j["best_fitness"].as_f64().unwrap_or(f64::MIN)),
                    "generation" => j["generation"].clone(),
                    _ => j["status"].clone(),
                };
                (value, j["id"].as_str().unwrap().to_string())
            };
            let in_order = whole.windows(2).all(|pair| {
                let ((a, a_id), (b, b_id)) = (sort_key(&pair[0]), sort_key(&pair[1]));
                let order = match (a.as_f64(), b.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).unwrap(),
                    _ => a.as_str().unwrap().cmp(b.as_str().unwrap()),
                }
                .then(a_id.cmp(&b_id));
                if sort.starts_with('-') {
                    order.is_gt()
                } else {
                    order.is_lt()
                }
            });
            assert!(
                in_order,
                "{sort}: {:?}",
                whole.iter().map(sort_key).collect::<Vec<_>>()
            );
            // Paging two at a time gives the same jobs in the same order.
            let mut paged = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/jobs?sort={sort}&limit=2");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let page = s.get_json(&path).await;
                paged.extend(page["jobs"].as_array().unwrap().iter().cloned());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
                assert!(paged.len() <= names.len(), "{sort}: the pages never end");
            }
            let id_list = |jobs: &[Value]| -> Vec<String> {
                jobs.iter()
                    .map(|j| j["id"].as_str().unwrap().to_string())
                    .collect()
            };
            assert_eq!(id_list(&paged), id_list(&whole), "{sort}");
        }
    }
    // A cursor belongs to its sort.
    let page = s.get_json("/jobs?sort=name&limit=2").await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let other = s
        .call(
            Method::GET,
            &format!("/jobs?sort=-name&limit=2&cursor={cursor}"),
        )
        .await;
    assert_eq!(other.status(), 422);
    let bad = s.call(Method::GET, "/jobs?sort=fitness").await;
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"]["field"], "sort");
    let message = error["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("-generation") && message.contains("name"),
        "{message}"
    );
    let long = s
        .call(Method::GET, &format!("/jobs?q={}", "q".repeat(201)))
        .await;
    assert_eq!(long.status(), 422);
    s.server.stop().await.unwrap();
}

/// Episode returns of `sfnn eval FILE --env CartPole-v1 --episodes 2 --seed 5`, as printed.
fn sfnn_eval_returns(file: &std::path::Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["eval", file.to_str().unwrap(), "--env", "CartPole-v1"])
        .args(["--episodes", "2", "--seed", "5"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .nth(1)
        .unwrap()
        .to_string()
}

/// A genome file that carries a `topology` is evaluated on the server with that wiring, as
/// `sfnn eval` does with the same file; a request's own `topology` overrides it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_genome_is_evaluated_with_the_topology_its_file_carries() {
    let s = start(1, None).await;
    let original: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/evolved/CartPole-v1.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut layered = original.clone();
    layered["topology"] = json!({"preset": "layered"});
    let (layered_file, reservoir_file) = (
        s.dir.path().join("layered.json"),
        s.dir.path().join("reservoir.json"),
    );
    std::fs::write(&layered_file, layered.to_string()).unwrap();
    let mut reservoir = original.clone();
    reservoir["topology"] = json!({"preset": "reservoir"});
    std::fs::write(&reservoir_file, reservoir.to_string()).unwrap();
    let expected = sfnn_eval_returns(&layered_file);
    // Otherwise the test could not tell the two wirings apart.
    assert_ne!(expected, sfnn_eval_returns(&reservoir_file));

    let response = s
        .client
        .post(s.api("/genomes"))
        .json(&layered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let meta: Value = response.json().await.unwrap();
    assert_eq!(meta["topology"]["preset"], "layered");
    let genome = meta["id"].as_str().unwrap();
    let evaluate = |body: Value| {
        let s = &s;
        async move {
            let response = s
                .client
                .post(s.api(&format!("/genomes/{genome}/evaluate")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            let job: Value = response.json().await.unwrap();
            let job = job["id"].as_str().unwrap().to_string();
            s.wait_for(&job, "succeeded", LONG).await;
            let result = s.get_json(&format!("/jobs/{job}/evaluation")).await;
            let returns: Vec<String> = result["envs"][0]["lifetimes"][0]["episode_returns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{}", r.as_f64().unwrap()))
                .collect();
            let spec = s.get_json(&format!("/jobs/{job}")).await["spec"].clone();
            (returns.join(" "), spec["topology"]["preset"].clone())
        }
    };
    let base = json!({"envs": ["CartPole-v1"], "episodes": 2, "seeds": [5]});
    let (returns, preset) = evaluate(base.clone()).await;
    assert_eq!(returns, expected, "the server and sfnn eval agree");
    assert_eq!(
        preset, "layered",
        "the evaluation job records the wiring it used"
    );
    let mut chosen = base;
    chosen["topology"] = json!({"preset": "reservoir"});
    let (returns, preset) = evaluate(chosen).await;
    assert_eq!(preset, "reservoir");
    assert_eq!(returns, sfnn_eval_returns(&reservoir_file));
    // The download carries the wiring too, so the file goes round unchanged.
    let file: Value = s.get_json(&format!("/genomes/{genome}/download")).await;
    assert_eq!(file["topology"]["preset"], "layered");
}

async fn estimate(s: &TestServer, spec: &Value) -> (u16, Value) {
    let response = s
        .client
        .post(s.api("/jobs/estimate"))
        .json(spec)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Per-environment and σ series of the chart endpoint (opt-in, bucketed like the fitness and
/// checked against the full records), and run-time estimates from the executor's measured
/// throughput. With `SFNN_TEST_BACKEND=postgres` this runs on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_carry_env_and_sigma_series_and_estimates_use_measured_throughput() {
    let s = start(1, None).await;
    let mut spec = tiny_spec(6);
    spec["envs"] = json!(["CartPole-v1", "Acrobot-v1"]);

    // Before any generation: the executor is known but unmeasured, so the seconds come from
    // its built-in figure.
    let executors = s.get_json("/executors").await;
    assert_eq!(executors[0]["name"], "cpu");
    assert_eq!(executors[0]["measured"], Value::Null);
    let built_in = executors[0]["built_in_steps_per_s"].as_f64().unwrap();
    let (status, before) = estimate(&s, &spec).await;
    assert_eq!(status, 200, "{before}");
    // popsize 6 × 1 repeat × 2 episodes × (500 + 500 horizon steps).
    assert_eq!(before["steps_per_generation"], 6 * 2 * (500 + 500));
    assert_eq!(before["total_steps"], 6 * 6 * 2 * (500 + 500));
    assert_eq!(
        before["exact_steps"], false,
        "stop_on_done ends episodes early"
    );
    assert_eq!(before["executor"]["name"], "cpu");
    assert_eq!(before["throughput_source"], "built_in");
    assert!(close(
        before["seconds_upper"].as_f64().unwrap(),
        before["total_steps"].as_f64().unwrap() / built_in
    ));

    let id = s.submit(&spec).await;
    s.wait_for(&id, "succeeded", LONG).await;
    let records = s.get_json(&format!("/jobs/{id}/history")).await;
    let records = records.as_array().unwrap();

    // The default chart stays fitness only.
    let plain = s.get_json(&format!("/jobs/{id}/history/chart")).await;
    assert!(plain.get("envs").is_none() && plain.get("sigma").is_none());

    let chart = s
        .get_json(&format!(
            "/jobs/{id}/history/chart?max_points=3&series=envs,sigma"
        ))
        .await;
    assert_eq!(chart["bucket_size"], 2);
    assert_eq!(chart["generation"], json!([0, 2, 4]));
    // The other x axes: steps and seconds up to the end of each bucket.
    let mut steps_so_far = 0;
    let mut seconds_so_far = 0.0;
    for bucket in 0..3 {
        for r in &records[bucket * 2..bucket * 2 + 2] {
            steps_so_far += r["env_steps"].as_u64().unwrap();
            let t = &r["timing"];
            seconds_so_far += t["ask"].as_f64().unwrap()
                + t["evaluate"].as_f64().unwrap()
                + t["tell"].as_f64().unwrap();
        }
        assert_eq!(chart["steps"][bucket], steps_so_far);
        assert!(close(
            chart["wall_seconds"][bucket].as_f64().unwrap(),
            seconds_so_far
        ));
    }
    let envs = chart["envs"].as_array().unwrap();
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0]["env"], "CartPole-v1");
    assert_eq!(envs[1]["env"], "Acrobot-v1");
    let bucket_max = |bucket: usize, value: &dyn Fn(&Value) -> f64| {
        records[bucket * 2..bucket * 2 + 2]
            .iter()
            .map(value)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    for (k, env) in envs.iter().enumerate() {
        for bucket in 0..3 {
            let mean = bucket_max(bucket, &|r| r["envs"][k]["mean_return"].as_f64().unwrap());
            let best = bucket_max(bucket, &|r| r["envs"][k]["best_return"].as_f64().unwrap());
            assert!(close(
                env["mean_return_max"][bucket].as_f64().unwrap(),
                mean
            ));
            assert!(close(
                env["best_return_max"][bucket].as_f64().unwrap(),
                best
            ));
        }
    }
    for bucket in 0..3 {
        let sigma = |i: usize| records[bucket * 2 + i]["sigma"].as_f64().unwrap();
        assert!(close(
            chart["sigma"]["max"][bucket].as_f64().unwrap(),
            sigma(0).max(sigma(1))
        ));
        assert!(close(
            chart["sigma"]["min"][bucket].as_f64().unwrap(),
            sigma(0).min(sigma(1))
        ));
    }
    let only_sigma = s
        .get_json(&format!("/jobs/{id}/history/chart?series=sigma"))
        .await;
    assert!(only_sigma.get("envs").is_none());
    assert_eq!(only_sigma["sigma"]["min"].as_array().unwrap().len(), 6);
    let bad = s
        .call(
            Method::GET,
            &format!("/jobs/{id}/history/chart?series=envs,steps"),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(error["error"]["field"], "series");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("steps")
    );

    // The throughput is the generations' steps over their seconds.
    let steps: f64 = records
        .iter()
        .map(|r| r["env_steps"].as_f64().unwrap())
        .sum();
    let seconds: f64 = records
        .iter()
        .map(|r| {
            let t = &r["timing"];
            t["ask"].as_f64().unwrap()
                + t["evaluate"].as_f64().unwrap()
                + t["tell"].as_f64().unwrap()
        })
        .sum();
    let executors = s.get_json("/executors").await;
    let measured = &executors[0]["measured"];
    assert_eq!(measured["generations"], 6);
    let rate = measured["steps_per_s"].as_f64().unwrap();
    assert!(
        (rate / (steps / seconds) - 1.0).abs() < 1e-6,
        "{rate} vs {}",
        steps / seconds
    );

    // Now an estimate has seconds, and more generations take proportionally longer.
    let (_, after) = estimate(&s, &spec).await;
    assert_eq!(after["throughput_source"], "measured");
    let upper = after["seconds_upper"].as_f64().unwrap();
    assert!(close(upper, after["total_steps"].as_f64().unwrap() / rate));
    spec["generations"] = json!(60);
    let (_, longer) = estimate(&s, &spec).await;
    assert!(close(
        longer["seconds_upper"].as_f64().unwrap(),
        upper * 10.0
    ));
    assert_eq!(longer["capped_by_wall_clock"], false);
    spec["stop"] = json!({"max_wall_seconds": upper / 100.0});
    let (_, capped) = estimate(&s, &spec).await;
    assert_eq!(capped["capped_by_wall_clock"], true);
    assert!(close(
        capped["seconds_upper"].as_f64().unwrap(),
        upper / 100.0
    ));
    spec["lifetime"]["episode_mode"] = json!("fixed_horizon");
    let (_, fixed) = estimate(&s, &spec).await;
    assert_eq!(fixed["exact_steps"], true);

    // The spec is validated as a submission is; nothing is queued.
    spec["strategy"]["popsize"] = json!(1);
    let (status, error) = estimate(&s, &spec).await;
    assert_eq!(status, 422);
    assert_eq!(error["error"]["field"], "strategy.popsize");
    let jobs = s.get_json("/jobs").await;
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1);
    s.server.stop().await.unwrap();
}
