//! A full disk under a running job: the SQLite file lives on a small tmpfs of its own (a real
//! mount: root only; `REQUIRE_TMPFS=1`, as in CI, turns the SKIP into a failure). Mid-job the
//! filesystem is filled to the last byte: the server reports itself unhealthy and refuses
//! submissions with 503, the job is neither failed nor charged an attempt. Once the ballast is
//! deleted the same server process (no restart) finishes the job with exactly the history and
//! genomes of an undisturbed run. Underneath, the store's connection pool must not be wedged by
//! the failed commits.

mod common;

use common::db::TestDatabase;
use common::disk::Tmpfs;
use common::http::{client, free_port, get, outcome, submit};
use serde_json::Value;
use sfnn::evolution::Checkpoint;
use sfnn::model::ModelConfig;
use sfnn::store::{GenomeKind, NewGenome};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_server(database: &str, log: &Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database", database])
        .args(["--workers", "1", "--threads", "2"])
        .env("RUST_LOG", "sfnn=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_until("the server comes up", || {
        get(&format!("{}/healthz", server.url)).is_some()
    });
    server
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn job(server: &Server, id: &str) -> Value {
    get(&format!("{}/api/v1/jobs/{id}", server.url)).unwrap()
}

/// `/healthz`: status code and body.
fn health(server: &Server) -> (u16, Value) {
    let response = client()
        .get(format!("{}/healthz", server.url))
        .send()
        .unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

fn spec() -> Value {
    let mut spec = common::tiny_spec(60);
    spec["checkpoint_interval"] = 3.into();
    spec["mean_genome_interval"] = 5.into();
    spec
}

#[test]
fn a_full_disk_mid_job_loses_nothing_and_needs_no_restart() {
    let Some(disk) = Tmpfs::mount(48) else { return };
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("server.log");
    let database = disk.path().join("sfnn.db").display().to_string();
    let server = spawn_server(&database, &log);
    let log_tail = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    };

    let id = submit(&server.url, &spec());
    wait_until("the job is under way", || {
        job(&server, &id)["generation"].as_u64().unwrap() >= 6
    });
    let ballast = disk.fill();

    // The job's next writes fail: the server says so, and takes no new work.
    wait_until("/healthz reports the failing store", || {
        let (status, body) = health(&server);
        let done = job(&server, &id);
        assert_ne!(
            done["status"], "succeeded",
            "the job ended before the disk filled up"
        );
        status == 503
            && body["writable"] == false
            && body["reason"].as_str().unwrap().contains("full")
    });
    let refused = client()
        .post(format!("{}/api/v1/jobs", server.url))
        .json(&spec())
        .send()
        .unwrap();
    assert_eq!(refused.status(), 503, "a submission while the disk is full");
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0);
    let body: Value = refused.json().unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let waiting = job(&server, &id);
    assert!(
        ["running", "queued"].contains(&waiting["status"].as_str().unwrap()),
        "{waiting}\n{}",
        log_tail()
    );

    // Space returns: the same process recovers on its own and finishes the job.
    std::fs::remove_file(&ballast).unwrap();
    wait_until("the job finishes", || {
        let j = job(&server, &id);
        assert!(
            ["running", "queued", "succeeded"].contains(&j["status"].as_str().unwrap()),
            "{j}\n{}",
            log_tail()
        );
        j["status"] == "succeeded"
    });
    let finished = job(&server, &id);
    assert_eq!(finished["generation"], 60);
    assert_eq!(
        finished["attempts"], 1,
        "a full disk costs the job no attempt: {finished}"
    );
    let (status, body) = health(&server);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["writable"], true);
    let disturbed = outcome(&server.url, &id);
    assert_eq!(submit_status(&server), 201);

    let reference_database = TestDatabase::sqlite();
    let reference = spawn_server(&reference_database.url, &logs.path().join("reference.log"));
    let reference_id = submit(&reference.url, &spec());
    wait_until("the reference job finishes", || {
        job(&reference, &reference_id)["status"] == "succeeded"
    });
    let expected = outcome(&reference.url, &reference_id);
    assert_eq!(disturbed.0.len(), 60);
    for (a, b) in disturbed.0.iter().zip(&expected.0) {
        assert_eq!(a, b, "generation {}", a["generation"]);
    }
    assert_eq!(disturbed.1, expected.1);
}

/// Commits that fail on a full disk leave no connection of the pool broken: once space returns,
/// every write works again in the same process. (sqlx used to put a connection whose COMMIT
/// failed back into the pool at transaction depth 1; every later transaction on it failed with
/// "attempted to call begin_with at non-zero transaction depth".)
#[test]
fn failed_commits_on_a_full_disk_leave_no_connection_broken() {
    let Some(disk) = Tmpfs::mount(16) else { return };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let database = disk.path().join("sfnn.db").display().to_string();
        let store = sfnn::store::open(&database).await.unwrap();
        let genome = |values: usize| NewGenome {
            job_id: None,
            generation: None,
            kind: GenomeKind::Uploaded,
            fitness: None,
            model: ModelConfig::default(),
            values: vec![0.5; values],
            name: None,
            topology: None,
        };
        store.insert_genome(&genome(565)).await.unwrap();
        let ballast = disk.fill();
        // Several failing transactions, spread over the pool's connections.
        let failures = futures_util::future::join_all(
            (0..8).map(|_| async { store.insert_genome(&genome(1 << 20)).await }),
        )
        .await;
        assert!(failures.iter().all(Result::is_err), "{failures:?}");
        std::fs::remove_file(&ballast).unwrap();
        // Every connection of the pool, concurrently, several times over.
        for round in 0..4 {
            let results = futures_util::future::join_all(
                (0..8).map(|_| async { store.insert_genome(&genome(565)).await }),
            )
            .await;
            for result in results {
                result.unwrap_or_else(|e| panic!("round {round}: {e}"));
            }
        }
    });
}

fn submit_status(server: &Server) -> u16 {
    client()
        .post(format!("{}/api/v1/jobs", server.url))
        .json(&spec())
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// Disk use per job: a succeeded job keeps no checkpoint (it can never resume), and a job that
/// can resume keeps one compact checkpoint (a default-model CMA-ES state: its 565 × 565
/// covariance used to take 7.5 MB of JSON in every job).
#[tokio::test]
async fn checkpoints_are_compact_and_gone_once_a_job_succeeds() {
    let server = common::start(1, None).await;
    let store = &server.server.store;
    let finished = server.submit(&common::tiny_spec(1)).await;
    server
        .wait_for(&finished, "succeeded", Duration::from_secs(120))
        .await;
    assert_eq!(store.load_checkpoint(&finished).await.unwrap(), None);

    let stopped = server.submit(&common::tiny_spec(1000)).await;
    loop {
        let job = server.get_json(&format!("/jobs/{stopped}")).await;
        if job["generation"].as_u64().unwrap() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server
        .call(reqwest::Method::POST, &format!("/jobs/{stopped}/cancel"))
        .await;
    server
        .wait_for(&stopped, "cancelled", Duration::from_secs(60))
        .await;
    let (generation, state) = store.load_checkpoint(&stopped).await.unwrap().unwrap();
    assert!(generation >= 4);
    assert!(
        state.len() < 1_300_000,
        "checkpoint of {} bytes",
        state.len()
    );
    let checkpoint = Checkpoint::from_bytes(&state).unwrap();
    assert_eq!(checkpoint.generation, generation);
}
