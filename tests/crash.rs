//! Crash safety: a real `sfnn serve` process is killed with SIGKILL mid-job several times; after
//! each restart the job continues from its last checkpoint, and the finished job's history and
//! genomes are identical, bit for bit, to an uninterrupted run of the same spec.

mod common;

use common::db::TestDatabase;
use common::http::{free_port, get, outcome, submit};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    url: String,
}

fn spawn_server(database: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database", database])
        .args(["--workers", "1", "--threads", "2", "--lease-seconds", "3"])
        .env("RUST_LOG", "sfnn=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{url}/healthz")).is_none() {
        assert!(Instant::now() < deadline, "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, url }
}

fn job(server: &Server, id: &str) -> Value {
    get(&format!("{}/api/v1/jobs/{id}", server.url)).unwrap()
}

fn wait(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let j = job(server, id);
        if done(&j) {
            return j;
        }
        assert!(Instant::now() < deadline, "timed out: {j}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn killing_the_server_mid_job_loses_and_changes_nothing() {
    let (crash, reference) = (TestDatabase::sqlite(), TestDatabase::sqlite());
    kill_and_compare(&crash.url, &reference.url);
}

/// The same on PostgreSQL (when `SFNN_TEST_DATABASE_URL` is set): server processes opened on
/// a schema URL, leases expired by the database's clock.
#[test]
fn killing_the_server_mid_job_loses_and_changes_nothing_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(crash) = runtime.block_on(TestDatabase::postgres()) else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    let reference = runtime.block_on(TestDatabase::postgres()).unwrap();
    kill_and_compare(&crash.url, &reference.url);
}

fn kill_and_compare(database: &str, reference_database: &str) {
    let mut spec = common::tiny_spec(36);
    spec["checkpoint_interval"] = 4.into();
    spec["mean_genome_interval"] = 5.into();

    let mut server = spawn_server(database);
    let id = submit(&server.url, &spec);
    // Kill at different points of the run, including between checkpoints.
    for (kill, progress) in [5u64, 14, 23].into_iter().enumerate() {
        wait(&server, &id, |j| {
            j["generation"].as_u64().unwrap() >= progress
        });
        std::thread::sleep(Duration::from_millis(7 * kill as u64));
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        server = spawn_server(database);
        let restarted = job(&server, &id);
        assert_ne!(restarted["status"], "failed", "{restarted}");
    }
    // A graceful stop (SIGTERM) finishes the running generation, checkpoints it and hands the
    // job back to the queue.
    wait(&server, &id, |j| j["generation"].as_u64().unwrap() >= 28);
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let status = server.child.wait().unwrap();
    assert!(
        status.success(),
        "graceful shutdown exits cleanly: {status}"
    );
    server = spawn_server(database);
    let handed_back = job(&server, &id);
    assert!(
        ["queued", "running", "succeeded"].contains(&handed_back["status"].as_str().unwrap()),
        "{handed_back}"
    );
    let finished = wait(&server, &id, |j| j["status"] == "succeeded");
    assert_eq!(finished["generation"], 36);
    assert!(finished["attempts"].as_u64().unwrap() >= 2, "{finished}");
    let interrupted = outcome(&server.url, &id);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let mut reference = spawn_server(reference_database);
    let reference_id = submit(&reference.url, &spec);
    wait(&reference, &reference_id, |j| j["status"] == "succeeded");
    let expected = outcome(&reference.url, &reference_id);
    reference.child.kill().unwrap();
    reference.child.wait().unwrap();

    assert_eq!(interrupted.0.len(), 36);
    for (a, b) in interrupted.0.iter().zip(&expected.0) {
        assert_eq!(a, b, "generation {}", a["generation"]);
    }
    assert_eq!(interrupted.1, expected.1);
    // No generation was recorded twice (the export would show it) and none is missing.
    let generations: Vec<u64> = interrupted
        .0
        .iter()
        .map(|r| r["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(generations, (0..36).collect::<Vec<_>>());
}

/// Database trouble under a running job loses and changes nothing. PostgreSQL connections are
/// dropped (a database restart or a network cut, as `pg_terminate_backend` simulates), then
/// every generation write fails for a while (a trigger raising an error): the worker hands the
/// job back instead of failing it, takes it again, continues from its checkpoint, and the job
/// ends with the history and genomes of an undisturbed run.
#[test]
fn database_failures_lose_and_change_nothing_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime.block_on(TestDatabase::postgres()) else {
        eprintln!("SKIP: {} is not set", common::db::PG_URL_VAR);
        return;
    };
    // The schema's unique name marks this server's connections, and only them.
    let schema = database.schema.clone().unwrap();
    let url = format!("{}&application_name={schema}", database.url);
    let base = std::env::var(common::db::PG_URL_VAR).unwrap();
    let admin = |sql: String| {
        runtime.block_on(async {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut admin)
                .await
                .unwrap()
                .rows_affected()
        })
    };
    let mut spec = common::tiny_spec(30);
    spec["checkpoint_interval"] = 4.into();

    let mut server = spawn_server(&url);
    let id = submit(&server.url, &spec);
    let mut dropped = 0;
    for progress in [4u64, 9] {
        wait(&server, &id, |j| {
            j["generation"].as_u64().unwrap() >= progress
        });
        dropped += admin(format!(
            "select pg_terminate_backend(pid) from pg_stat_activity \
             where application_name = '{schema}'"
        ));
    }
    assert!(dropped > 0, "no connection of the server was dropped");

    wait(&server, &id, |j| j["generation"].as_u64().unwrap() >= 14);
    admin(format!(
        "create function {schema}.injected_failure() returns trigger language plpgsql as \
         $$ begin raise exception 'injected failure'; end $$; \
         create trigger injected_failure before insert on {schema}.generation_record \
         for each row execute function {schema}.injected_failure()"
    ));
    let handed_back = wait(&server, &id, |j| {
        j["attempts"].as_u64().unwrap() >= 2 || j["status"] == "failed"
    });
    assert_ne!(handed_back["status"], "failed", "{handed_back}");
    admin(format!(
        "drop trigger injected_failure on {schema}.generation_record"
    ));
    let finished = wait(&server, &id, |j| {
        ["succeeded", "failed"].contains(&j["status"].as_str().unwrap())
    });
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let disturbed = outcome(&server.url, &id);
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    let reference_database = TestDatabase::sqlite();
    let mut reference = spawn_server(&reference_database.url);
    let reference_id = submit(&reference.url, &spec);
    wait(&reference, &reference_id, |j| j["status"] == "succeeded");
    let expected = outcome(&reference.url, &reference_id);
    reference.child.kill().unwrap();
    reference.child.wait().unwrap();
    assert_eq!(disturbed, expected);
}
