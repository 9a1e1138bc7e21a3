//! The dashboard end to end: a real `sfnn serve` driven by headless Chromium through
//! `tests/e2e/dashboard.mjs` (Node with playwright-core, Debian's /usr/bin/chromium).
//!
//! Without Chromium, Node or `tests/e2e/node_modules` the test is reported ignored, with what is
//! missing; with `REQUIRE_BROWSER=1` (CI sets it) it fails instead. Screenshots, the downloaded
//! genome and the server log go to `target/e2e/`.

mod prereq;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Longest the browser script may take (about 100 s on a 2-core machine).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);

/// Kills the child process when dropped, so a failing test leaves nothing running.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/e2e`, next to the target directory's `tmp`.
fn artifact_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("e2e")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn main() {
    prereq::main(
        prereq::Needs {
            require_var: "REQUIRE_BROWSER",
            check: || match missing_prerequisites() {
                missing if missing.is_empty() => Ok(()),
                missing => Err(format!("missing {}", missing.join(", "))),
            },
        },
        vec![(
            "the_dashboard_runs_a_job_end_to_end_in_headless_chromium",
            the_dashboard_runs_a_job_end_to_end_in_headless_chromium,
        )],
    )
}

/// What is missing to run the browser test, if anything.
fn missing_prerequisites() -> Vec<String> {
    let mut missing = Vec::new();
    if !chromium().is_file() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        missing.push("node".into());
    }
    let playwright = manifest_dir().join("tests/e2e/node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        missing.push("tests/e2e/node_modules (npm ci --prefix tests/e2e)".into());
    }
    missing
}

/// Starts `sfnn serve` on a free loopback port; returns the process and its URL.
fn start_server(dir: &Path, log: &Path) -> (KillOnDrop, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sfnn"))
        .args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
        .arg("--database")
        .arg(dir.join("dashboard.db"))
        .arg("--static-dir")
        .arg(manifest_dir().join("static"))
        .env("RUST_LOG", "info")
        .env_remove("SFNN_API_TOKEN")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("creating the server log"))
        .spawn()
        .expect("starting sfnn serve");
    let stdout = child.stdout.take().expect("piped stdout");
    let child = KillOnDrop(child);
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.split("dashboard: ").nth(1) {
                let _ = send.send(url.trim().trim_end_matches('/').to_string());
            }
        }
    });
    let url = receive
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "sfnn serve did not report its address; log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    (child, url)
}

fn the_dashboard_runs_a_job_end_to_end_in_headless_chromium() {
    let artifacts = artifact_dir();
    std::fs::create_dir_all(&artifacts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = start_server(dir.path(), &artifacts.join("server.log"));

    let started = Instant::now();
    let mut script = KillOnDrop(
        Command::new("node")
            .arg(manifest_dir().join("tests/e2e/dashboard.mjs"))
            .arg(&url)
            .arg(&artifacts)
            .env("CHROMIUM", chromium())
            .env("SFNN_BIN", env!("CARGO_BIN_EXE_sfnn"))
            .spawn()
            .expect("starting node"),
    );
    let status = loop {
        if let Some(status) = script.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < SCRIPT_TIMEOUT,
            "the browser script ran longer than {SCRIPT_TIMEOUT:?}; see {}",
            artifacts.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "the browser script failed ({status}); screenshots, summary.json and server.log are in {}",
        artifacts.display()
    );
    assert!(artifacts.join("job-page.png").is_file());
}
