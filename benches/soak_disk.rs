//! Full-disk soak (`cargo bench --bench soak_disk`; root only, it mounts a tmpfs): a real
//! `sfnn serve` runs a job on a SQLite file on a 64 MiB tmpfs; mid-job the filesystem is filled
//! to the last byte and held full (`SOAK_HOLD_SECONDS`, default 20) while clients keep
//! submitting, then freed. Reports how fast the failure shows on `/healthz`, what submissions
//! got meanwhile, how long recovery takes once space returns, and whether the finished job's
//! history and genomes equal an undisturbed run's (nothing lost), all in one server process.

#[path = "../tests/common/disk.rs"]
mod disk;
#[path = "../tests/common/http.rs"]
#[allow(dead_code)]
mod http;

use http::{client, free_port, get, outcome, submit};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const GENERATIONS: u64 = 150;
const FILL_AT: u64 = 30;

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

fn spawn_server(database: &Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--database")
        .arg(database)
        .args(["--workers", "1", "--threads", "2"])
        .env("RUST_LOG", "sfnn=error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    wait_until(Duration::from_secs(30), || {
        get(&format!("{}/healthz", server.url)).is_some()
    });
    server
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn job(server: &Server, id: &str) -> Value {
    get(&format!("{}/api/v1/jobs/{id}", server.url)).unwrap()
}

fn healthz(server: &Server) -> u16 {
    client()
        .get(format!("{}/healthz", server.url))
        .send()
        .map_or(0, |r| r.status().as_u16())
}

fn submit_status(server: &Server, spec: &Value) -> u16 {
    client()
        .post(format!("{}/api/v1/jobs", server.url))
        .json(spec)
        .send()
        .map_or(0, |r| r.status().as_u16())
}

fn spec() -> Value {
    json!({
        "name": "soak", "envs": ["CartPole-v1"],
        "lifetime": {"episodes": 2, "episode_mode": "stop_on_done"},
        "strategy": {"popsize": 16}, "generations": GENERATIONS,
        "checkpoint_interval": 5, "mean_genome_interval": 10, "seed": 5
    })
}

fn seconds(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let hold = Duration::from_secs(
        std::env::var("SOAK_HOLD_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let Some(disk) = disk::Tmpfs::mount(64) else {
        return;
    };
    let server = spawn_server(&disk.path().join("sfnn.db"));
    let pid = server.child.id();
    let started = Instant::now();
    let id = submit(&server.url, &spec());
    wait_until(Duration::from_secs(300), || {
        job(&server, &id)["generation"].as_u64().unwrap() >= FILL_AT
    });

    let ballast = disk.fill();
    let filled = Instant::now();
    let at_fill = job(&server, &id)["generation"].as_u64().unwrap();
    wait_until(Duration::from_secs(120), || healthz(&server) == 503);
    let detected = filled.elapsed();
    let at_failure = job(&server, &id)["generation"].as_u64().unwrap();
    let (mut refused, mut accepted, mut other) = (0, 0, 0);
    while filled.elapsed() < detected + hold {
        match submit_status(&server, &spec()) {
            503 => refused += 1,
            201 => accepted += 1,
            _ => other += 1,
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let during = job(&server, &id);

    std::fs::remove_file(&ballast).unwrap();
    let freed = Instant::now();
    wait_until(Duration::from_secs(120), || healthz(&server) == 200);
    let healthy = freed.elapsed();
    let before = job(&server, &id)["generation"].as_u64().unwrap();
    wait_until(Duration::from_secs(120), || {
        job(&server, &id)["generation"].as_u64().unwrap() > before
    });
    let progressing = freed.elapsed();
    wait_until(Duration::from_secs(600), || {
        job(&server, &id)["status"] == "succeeded"
    });
    let total = started.elapsed();
    let finished = job(&server, &id);
    let disturbed = outcome(&server.url, &id);
    let same_process = server.child.id() == pid && healthz(&server) == 200;
    drop(server);

    let reference_dir = tempfile::tempdir().unwrap();
    let reference = spawn_server(&reference_dir.path().join("sfnn.db"));
    let reference_started = Instant::now();
    let reference_id = submit(&reference.url, &spec());
    wait_until(Duration::from_secs(600), || {
        job(&reference, &reference_id)["status"] == "succeeded"
    });
    let undisturbed = reference_started.elapsed();
    let expected = outcome(&reference.url, &reference_id);

    println!(
        "full-disk soak: {GENERATIONS} generations, SQLite on a 64 MiB tmpfs, filled at generation {at_fill}, held full {}",
        seconds(hold)
    );
    println!(
        "  failure on /healthz (503)    {} after the fill (job at generation {at_failure})",
        seconds(detected)
    );
    println!(
        "  submissions while full       {refused} refused with 503, {accepted} accepted, {other} other"
    );
    println!(
        "  job while full               {} (attempts {})",
        during["status"], during["attempts"]
    );
    println!(
        "  /healthz 200 again           {} after space returned",
        seconds(healthy)
    );
    println!(
        "  job recording again          {} after space returned",
        seconds(progressing)
    );
    println!(
        "  finished                     {} at generation {}, attempts {}, in {} (undisturbed: {})",
        finished["status"],
        finished["generation"],
        finished["attempts"],
        seconds(total),
        seconds(undisturbed)
    );
    println!(
        "  history and genomes          {} ({} records, {} genomes); same server process: {same_process}",
        if disturbed == expected {
            "identical to the undisturbed run"
        } else {
            "DIFFER"
        },
        disturbed.0.len(),
        disturbed.1.len()
    );
    assert_eq!(disturbed, expected, "the full disk changed the outcome");
}
