//! Live events come from the store, on both backends: a job's events reach SSE clients once
//! each and in order, and a client that reconnects with `Last-Event-ID` misses none.
//!
//! SQLite: one `sfnn serve` process whose worker writes. PostgreSQL (with
//! `SFNN_TEST_DATABASE_URL`; ignored without it, failing under `REQUIRE_POSTGRES=1`): the API
//! server runs no worker and a separate `sfnn worker` process writes, so every event the API
//! serves crossed the database.

mod common;
mod prereq;

use common::db::{PG_URL_VAR, TestDatabase};
use common::http::{free_port, get, submit};
use common::process::Process;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const GENERATIONS: u64 = 40;
/// Generation events the first job stream takes before it hangs up.
const BEFORE_RECONNECT: usize = 8;

static POSTGRES: prereq::Needs = prereq::Needs {
    require_var: "REQUIRE_POSTGRES",
    check: || match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Ok(()),
        _ => Err(format!("{PG_URL_VAR} is not set")),
    },
};

fn main() {
    prereq::main_each(vec![
        (
            "sqlite_a_jobs_events_arrive_once_in_order_and_survive_a_reconnect",
            None,
            on_sqlite,
        ),
        (
            "postgres_events_written_by_another_process_arrive_once_in_order_and_survive_a_reconnect",
            Some(&POSTGRES),
            on_postgres,
        ),
    ])
}

fn on_sqlite() {
    let database = TestDatabase::sqlite();
    a_jobs_events_arrive_once_in_order(&database.url, false);
}

fn on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime
        .block_on(TestDatabase::postgres())
        .expect("checked by the prerequisite");
    a_jobs_events_arrive_once_in_order(&database.url, true);
}

fn sfnn(args: &[&str], database: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(args)
        .args(["--database", database])
        .env("RUST_LOG", "sfnn=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process(child)
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    event: String,
    id: Option<String>,
    data: Value,
}

/// The events of the stream at `url` (sent with `headers`), as they arrive, on a thread; the
/// stream is dropped when the receiver is.
fn follow(url: &str, headers: &[(&str, String)]) -> mpsc::Receiver<Sse> {
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap();
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut event, mut id, mut data) = (String::new(), None, String::new());
        for line in BufReader::new(response).lines() {
            let Ok(line) = line else { return };
            if let Some(value) = line.strip_prefix("event:") {
                event = value.trim().to_string();
            } else if let Some(value) = line.strip_prefix("id:") {
                id = Some(value.trim().to_string());
            } else if let Some(value) = line.strip_prefix("data:") {
                data.push_str(value.trim());
            } else if line.is_empty() && !event.is_empty() {
                let sse = Sse {
                    event: std::mem::take(&mut event),
                    id: id.take(),
                    data: serde_json::from_str(&std::mem::take(&mut data)).unwrap_or(Value::Null),
                };
                if sender.send(sse).is_err() {
                    return;
                }
            }
        }
    });
    receiver
}

/// Takes events from `events` until `done` says so; panics after `timeout`.
fn take_until(
    events: &mpsc::Receiver<Sse>,
    timeout: Duration,
    mut done: impl FnMut(&[Sse]) -> bool,
) -> Vec<Sse> {
    let deadline = Instant::now() + timeout;
    let mut taken = Vec::new();
    while !done(&taken) {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) => taken.push(event),
            Err(e) => panic!("waiting for events ({e}); got {taken:#?}"),
        }
    }
    taken
}

fn generations(events: &[Sse]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.event == "generation")
        .map(|e| e.data["generation"].as_u64().unwrap())
        .collect()
}

fn succeeded(events: &[Sse], job: &str) -> bool {
    events
        .iter()
        .any(|e| e.event == "job" && e.data["id"] == job && e.data["status"] == "succeeded")
}

fn a_jobs_events_arrive_once_in_order(database: &str, separate_writer: bool) {
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let workers = if separate_writer { "0" } else { "1" };
    let _api = sfnn(
        &[
            "serve",
            "--bind",
            &bind,
            "--workers",
            workers,
            "--threads",
            "1",
        ],
        database,
    );
    let url = format!("http://{bind}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{url}/healthz")).is_none() {
        assert!(Instant::now() < deadline, "the server did not start");
        std::thread::sleep(Duration::from_millis(25));
    }
    // Every job's events, from before the job exists.
    let list = follow(&format!("{url}/api/v1/events"), &[]);
    let mut spec = common::tiny_spec(GENERATIONS);
    spec["checkpoint_interval"] = 5.into();
    let job = submit(&url, &spec);
    let _writer = separate_writer.then(|| {
        sfnn(
            &[
                "worker",
                "--workers",
                "1",
                "--threads",
                "1",
                "--poll-ms",
                "50",
            ],
            database,
        )
    });

    // A job stream that hangs up part way, and one that resumes from its last event id.
    let job_url = format!("{url}/api/v1/jobs/{job}/events");
    let first = follow(&job_url, &[]);
    let before = take_until(&first, Duration::from_secs(60), |events| {
        generations(events).len() >= BEFORE_RECONNECT
    });
    drop(first);
    let last_id = before
        .iter()
        .rev()
        .find_map(|e| e.id.clone())
        .expect("generation events carry ids");
    assert_eq!(
        last_id,
        generations(&before).last().unwrap().to_string(),
        "the event id is the generation"
    );
    let second = follow(&job_url, &[("Last-Event-ID", last_id)]);
    let missing = GENERATIONS as usize - generations(&before).len();
    let after = take_until(&second, Duration::from_secs(120), |events| {
        succeeded(events, &job) && generations(events).len() >= missing
    });
    let mut seen = generations(&before);
    seen.extend(generations(&after));
    assert_eq!(
        seen,
        (0..GENERATIONS).collect::<Vec<_>>(),
        "each generation once, in order, across the reconnect"
    );

    // The job list's stream: each change of the job once, in the order the store wrote it.
    let listed = take_until(&list, Duration::from_secs(30), |events| {
        succeeded(events, &job)
    });
    let changes: Vec<&Value> = listed
        .iter()
        .filter(|e| e.event == "job" && e.data["id"] == job)
        .map(|e| &e.data)
        .collect();
    let statuses: Vec<&str> = changes
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.first(), Some(&"queued"), "created: {statuses:?}");
    assert_eq!(statuses.last(), Some(&"succeeded"), "{statuses:?}");
    let rank = |s: &str| {
        ["queued", "running", "succeeded"]
            .iter()
            .position(|r| *r == s)
    };
    assert!(
        statuses.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "statuses in order: {statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "queued").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "succeeded").count(),
        1,
        "{statuses:?}"
    );
    for pair in changes.windows(2) {
        assert_ne!(pair[0], pair[1], "a change announced twice");
        assert!(
            pair[0]["updated_at"].as_i64() <= pair[1]["updated_at"].as_i64(),
            "changes in the order written"
        );
    }
    // Where the job runs is announced as it starts, not only at its end.
    assert!(
        changes
            .iter()
            .any(|j| j["status"] == "running" && j["executor"] == "cpu"),
        "the executor is announced while the job runs: {changes:#?}"
    );
    let progress: Vec<u64> = listed
        .iter()
        .filter(|e| e.event == "progress" && e.data["job_id"] == job)
        .map(|e| e.data["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(
        progress,
        (1..=GENERATIONS).collect::<Vec<_>>(),
        "progress once per generation, in order"
    );
    assert!(
        listed.iter().all(|e| e.event != "resync"),
        "no events were missed"
    );
}
