//! Many machines, simulated with processes: one API server (`sfnn serve --workers 0`) and three
//! worker processes (`sfnn worker`) share one database; twenty small jobs run on them while one
//! worker is killed with SIGKILL mid-job. Every job finishes exactly once, with the history and
//! genomes of an uninterrupted single-machine run, and no generation recorded twice.
//! On PostgreSQL (when `SFNN_TEST_DATABASE_URL` is set) the API server also relays the remote
//! workers' live events to its SSE clients.

mod common;

use common::db::TestDatabase;
use common::http::{client, free_port, get, outcome, submit};
use common::process::Process;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const JOBS: usize = 20;
const GENERATIONS: u64 = 16;

fn wait_until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn spawn_api(database: &str) -> (Process, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args([
            "serve",
            "--workers",
            "0",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--database", database])
        .env("RUST_LOG", "sfnn=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let process = Process(child);
    wait_until("the API server", Duration::from_secs(30), || {
        get(&format!("{url}/healthz"))
    });
    (process, url)
}

fn spawn_worker(database: &str) -> (Process, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args([
            "worker",
            "--workers",
            "1",
            "--executor",
            "cpu",
            "--threads",
            "1",
        ])
        .args(["--lease-seconds", "3", "--poll-ms", "50"])
        .args(["--metrics-bind", &format!("127.0.0.1:{port}")])
        .args(["--database", database])
        .env("RUST_LOG", "sfnn=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Process(child), format!("http://127.0.0.1:{port}"))
}

fn spec(seed: u64) -> Value {
    let mut spec = common::tiny_spec(GENERATIONS);
    spec["seed"] = seed.into();
    spec["checkpoint_interval"] = 4.into();
    spec["mean_genome_interval"] = 5.into();
    spec
}

/// The process id in a worker id (`{host}-{pid}-{index}`).
fn worker_pid(worker_id: &str) -> u32 {
    worker_id.rsplit('-').nth(1).unwrap().parse().unwrap()
}

/// Counts `event: job` SSE messages per job and status from the API server's `/events`.
fn follow_events(api: &str) -> std::sync::mpsc::Receiver<(String, String)> {
    // A live stream: no overall timeout.
    let response = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap()
        .get(format!("{api}/api/v1/events"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut event = String::new();
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            if let Some(name) = line.strip_prefix("event:") {
                event = name.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data:")
                && event == "job"
                && let Ok(job) = serde_json::from_str::<Value>(data.trim())
            {
                let status = job["status"].as_str().unwrap_or_default().to_string();
                let id = job["id"].as_str().unwrap_or_default().to_string();
                if sender.send((id, status)).is_err() {
                    return;
                }
            }
        }
    });
    receiver
}

fn three_workers_share_twenty_jobs_and_survive_a_kill(database: &str, events_cross: bool) {
    let (_api_process, api) = spawn_api(database);
    let events = events_cross.then(|| follow_events(&api));
    let mut workers: Vec<(Process, String)> = (0..3).map(|_| spawn_worker(database)).collect();
    let ids: Vec<String> = (0..JOBS as u64)
        .map(|seed| submit(&api, &spec(seed)))
        .collect();

    // Kill -9 the worker of a job that is well into its run.
    let (victim_job, victim_pid) = wait_until("a job mid-run", Duration::from_secs(120), || {
        ids.iter().find_map(|id| {
            let job = get(&format!("{api}/api/v1/jobs/{id}"))?;
            let generation = job["generation"].as_u64()?;
            let worker = job["worker_id"].as_str()?;
            (job["status"] == "running" && (3..GENERATIONS - 4).contains(&generation))
                .then(|| (id.clone(), worker_pid(worker)))
        })
    });
    let victim = workers
        .iter()
        .position(|(p, _)| p.0.id() == victim_pid)
        .expect("the job's worker is one of ours");
    let (mut killed, _) = workers.remove(victim);
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();

    let finished: BTreeMap<String, Value> =
        wait_until("every job to finish", Duration::from_secs(300), || {
            let jobs: Option<BTreeMap<_, _>> = ids
                .iter()
                .map(|id| Some((id.clone(), get(&format!("{api}/api/v1/jobs/{id}"))?)))
                .collect();
            let jobs = jobs?;
            jobs.values()
                .all(|j| {
                    ["succeeded", "failed", "cancelled"].contains(&j["status"].as_str().unwrap())
                })
                .then_some(jobs)
        });
    for (id, job) in &finished {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["generation"], GENERATIONS, "{id}");
    }
    assert!(
        finished[&victim_job]["attempts"].as_u64().unwrap() >= 2,
        "the killed worker's job was taken over: {}",
        finished[&victim_job]
    );
    // The survivors noticed the expired lease and took the job over.
    let takeovers: f64 = workers
        .iter()
        .filter_map(|(_, metrics)| {
            let text = client()
                .get(format!("{metrics}/metrics"))
                .send()
                .ok()?
                .text()
                .ok()?;
            text.lines()
                .find_map(|l| l.strip_prefix("sfnn_lease_takeovers_total "))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .sum();
    assert!(takeovers >= 1.0, "lease takeovers counted: {takeovers}");

    let outcomes: Vec<_> = ids.iter().map(|id| outcome(&api, id)).collect();
    for (history, genomes) in &outcomes {
        let generations: Vec<u64> = history
            .iter()
            .map(|r| r["generation"].as_u64().unwrap())
            .collect();
        // None recorded twice (the export would show it) and none missing.
        assert_eq!(generations, (0..GENERATIONS).collect::<Vec<_>>());
        let finals = genomes.iter().filter(|g| g.0.starts_with("final")).count();
        assert_eq!(finals, 2, "one final mean and one final best: {genomes:?}");
    }

    if let Some(events) = events {
        // Every job's `succeeded` reached this API server's SSE clients from the workers.
        let mut succeeded = std::collections::BTreeSet::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while succeeded.len() < JOBS && Instant::now() < deadline {
            if let Ok((id, status)) = events.recv_timeout(Duration::from_millis(500))
                && status == "succeeded"
            {
                succeeded.insert(id);
            }
        }
        assert_eq!(
            succeeded.len(),
            JOBS,
            "succeeded events relayed: {succeeded:?}"
        );
    }
    drop(workers);

    // The same specs on one machine, one process, without interruption.
    let reference_db = TestDatabase::sqlite();
    let port = free_port();
    let _reference_process = Process(
        Command::new(env!("CARGO_BIN_EXE_sfnn"))
            .args(["serve", "--workers", "2", "--threads", "1"])
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--database", &reference_db.url])
            .env("RUST_LOG", "sfnn=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reference = format!("http://127.0.0.1:{port}");
    wait_until("the reference server", Duration::from_secs(30), || {
        get(&format!("{reference}/healthz"))
    });
    let reference_ids: Vec<String> = (0..JOBS as u64)
        .map(|seed| submit(&reference, &spec(seed)))
        .collect();
    for (i, id) in reference_ids.iter().enumerate() {
        wait_until("a reference job", Duration::from_secs(300), || {
            let job = get(&format!("{reference}/api/v1/jobs/{id}"))?;
            (job["status"] == "succeeded").then_some(())
        });
        assert_eq!(outcomes[i], outcome(&reference, id), "job {i} (seed {i})");
    }
}

#[test]
fn many_worker_processes_on_sqlite() {
    let database = TestDatabase::sqlite();
    three_workers_share_twenty_jobs_and_survive_a_kill(&database.url, false);
}

#[test]
fn many_worker_processes_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    three_workers_share_twenty_jobs_and_survive_a_kill(&database.url, true);
}
