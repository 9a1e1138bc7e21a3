//! The `sfnn` binary: `run` (with resume and Ctrl-C), `eval`, and error reporting.

use sfnn::evolution::{Checkpoint, GenerationRecord};
use sfnn::model::GenomeFile;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = r#"{
    "name": "cli-test",
    "envs": ["CartPole-v1"],
    "lifetime": {"episodes": 2, "episode_mode": "stop_on_done"},
    "strategy": {"popsize": 6},
    "generations": 3,
    "checkpoint_interval": 1,
    "seed": 4
}"#;

fn sfnn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sfnn"))
}

fn write_spec(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("spec.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn history(out: &Path) -> Vec<GenerationRecord> {
    serde_json::from_str(&std::fs::read_to_string(out.join("history.json")).unwrap()).unwrap()
}

#[test]
fn run_writes_history_genomes_and_checkpoint_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SPEC);
    let out = dir.path().join("out");
    let output = sfnn()
        .args([
            "run",
            spec.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let first = history(&out);
    assert_eq!(first.len(), 3);
    // The summary states the compute, and compute.json keeps it: the sums of the records.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("compute: "))
        .unwrap_or_else(|| panic!("no compute line in {stderr}"));
    assert!(
        line.contains("CPU s") && line.contains("SFNN") && line.contains("thread"),
        "{line}"
    );
    let compute: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compute.json")).unwrap()).unwrap();
    let cpu: f64 = first.iter().map(|r| r.timing.cpu).sum();
    assert!(cpu > 0.0);
    assert_eq!(compute["cpu_seconds"].as_f64().unwrap(), cpu);
    assert_eq!(
        compute["sfnn_steps"].as_u64().unwrap(),
        first.iter().map(|r| r.env_steps).sum::<u64>()
    );
    assert_eq!(compute["generations"], 3);
    assert_eq!(compute["executor"], "cpu");
    let csv = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("generation,best,mean"));
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("CartPole-v1_mean_return")
    );
    let best = GenomeFile::load(&out.join("best_genome.safetensors")).unwrap();
    assert_eq!(
        best,
        GenomeFile::load(&out.join("best_genome.json")).unwrap()
    );
    assert_eq!(best.values.len(), 565);
    assert_eq!(best.fitness, Some(first.last().unwrap().best_so_far));

    // Extending the run continues from the checkpoint and keeps what was recorded.
    let status = sfnn()
        .args([
            "run",
            spec.to_str().unwrap(),
            "--quiet",
            "--resume",
            "--generations",
            "5",
        ])
        .args(["--out", out.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let extended = history(&out);
    assert_eq!(extended.len(), 5);
    assert_eq!(extended[..3], first[..]);

    // The same spec run straight to 5 generations gives the same history, timings aside.
    let straight = dir.path().join("straight");
    let status = sfnn()
        .args([
            "run",
            spec.to_str().unwrap(),
            "--quiet",
            "--generations",
            "5",
        ])
        .args(["--out", straight.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let strip = |records: Vec<GenerationRecord>| {
        records
            .into_iter()
            .map(|mut r| {
                r.timing = Default::default();
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(history(&straight)), strip(extended));
}

#[test]
fn eval_prints_one_line_per_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let genome = GenomeFile::new(
        sfnn::model::ModelConfig::default(),
        (0..565).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect(),
        None,
    );
    let path = dir.path().join("g.json");
    std::fs::write(&path, genome.to_json()).unwrap();
    let output = sfnn()
        .args([
            "eval",
            path.to_str().unwrap(),
            "--env",
            "Acrobot-v1",
            "--episodes",
            "2",
        ])
        .args(["--lifetimes", "3"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 3);
    for row in rows {
        let returns: Vec<f64> = row
            .split('\t')
            .nth(1)
            .unwrap()
            .split(' ')
            .map(|r| r.parse().unwrap())
            .collect();
        assert_eq!(returns.len(), 2);
        assert!(returns.iter().all(|r| (-500.0..=0.0).contains(r)));
    }
}

/// The issue's command: a genome on Acrobot in 64-node networks, its observation permuted and
/// two extra inputs added, with the variant in the JSON result; bad values name their flag.
#[test]
fn eval_takes_meta_test_variants_and_names_the_flag_of_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let genome = GenomeFile::new(
        sfnn::model::ModelConfig::default(),
        (0..565).map(|i| ((i % 5) as f32 - 2.0) * 0.1).collect(),
        None,
    );
    let path = dir.path().join("g.safetensors");
    std::fs::write(&path, genome.to_safetensors()).unwrap();
    let json = dir.path().join("result.json");
    let output = sfnn()
        .args(["eval", path.to_str().unwrap(), "--env", "Acrobot-v1"])
        .args([
            "--nodes",
            "64",
            "--permute-inputs",
            "7",
            "--extra-inputs",
            "2",
        ])
        .args(["--episodes", "1", "--lifetimes", "2", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(result["nodes"], 64);
    assert_eq!(result["variant"]["permute_inputs"], 7);
    assert_eq!(result["variant"]["extra_inputs"], 2);
    assert_eq!(result["envs"][0]["lifetimes"].as_array().unwrap().len(), 2);
    assert_eq!(
        result["envs"][0]["input_order"].as_array().unwrap().len(),
        6
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("64 nodes") && stderr.contains("2 extra inputs"),
        "{stderr}"
    );

    for (flags, flag) in [
        (vec!["--nodes", "9"], "--nodes"),
        (vec!["--nodes", "300"], "--nodes"),
        (vec!["--extra-inputs", "17"], "--extra-inputs"),
        (vec!["--extra-input-value", "1"], "--extra-input-value"),
        (
            vec!["--extra-inputs", "1", "--extra-input-value", "-5000"],
            "--extra-input-value",
        ),
    ] {
        let output = sfnn()
            .args(["eval", path.to_str().unwrap(), "--env", "Acrobot-v1"])
            .args(&flags)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{flags:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{flags:?}: {stderr}");
    }
}

#[test]
fn a_bad_spec_fails_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        r#"{"envs": ["CartPole-v1"], "lifetime": {"episodes": -1}}"#,
    );
    let output = sfnn()
        .args(["run", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lifetime.episodes"), "{stderr}");
}

#[test]
fn a_malformed_spec_names_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "{\n  \"envs\": [\"CartPole-v1\"],\n}\n");
    let output = sfnn()
        .args(["run", spec.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let place = format!("{}:3:1: malformed JSON", spec.display());
    assert!(stderr.contains(&place), "{stderr}");
}

#[test]
fn ctrl_c_stops_at_a_generation_boundary_with_everything_written() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        &SPEC.replace("\"generations\": 3", "\"generations\": 100000"),
    );
    let out = dir.path().join("out");
    let mut child = sfnn()
        .args([
            "run",
            spec.to_str().unwrap(),
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let jsonl = out.join("history.jsonl");
    while std::fs::read_to_string(&jsonl).map_or(0, |t| t.lines().count()) < 2 {
        assert!(Instant::now() < deadline, "no generations recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let checkpoint: Checkpoint =
        serde_json::from_str(&std::fs::read_to_string(out.join("checkpoint.json")).unwrap())
            .unwrap();
    let records = history(&out);
    assert!(checkpoint.generation >= 2);
    assert_eq!(records.len() as u64, checkpoint.generation);
    assert!(out.join("best_genome.safetensors").exists());
}

#[test]
fn the_documented_specs_and_the_example_specs_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for doc in ["README.md", "docs/job-spec.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        let blocks: Vec<&str> = text
            .split("```json\n")
            .skip(1)
            .filter_map(|rest| rest.split("```").next())
            .collect();
        assert!(!blocks.is_empty(), "a json block in {doc}");
        for block in blocks {
            let spec = sfnn::evolution::JobSpec::from_json(block)
                .unwrap_or_else(|e| panic!("{doc}: {e}\n{block}"));
            assert_eq!(spec.model.config().param_count(), 565);
        }
    }
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            sfnn::evolution::JobSpec::from_json(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let output = sfnn()
        .args(["serve", "--bind", "0.0.0.0:0", "--workers", "0"])
        .args(["--database", dir.path().join("x.db").to_str().unwrap()])
        .env_remove("SFNN_API_TOKEN")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SFNN_API_TOKEN"), "{stderr}");
}

#[test]
fn a_worker_node_logs_json_lines_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let child = sfnn()
        .args(["--log-format", "json", "worker", "--workers", "1"])
        .args(["--executor", "cpu", "--threads", "1"])
        .args(["--database", dir.path().join("w.db").to_str().unwrap()])
        .env("RUST_LOG", "sfnn=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Long enough for start-up and the worker's first look at the queue.
    std::thread::sleep(Duration::from_millis(1500));
    let terminated = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit status {}", output.status);
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| {
            assert!(l["level"].is_string() && l["timestamp"].is_string(), "{l}");
            l["message"].as_str().unwrap_or_default()
        })
        .collect();
    for expected in [
        "worker started",
        "worker node started",
        "worker stopped",
        "stopped",
    ] {
        assert!(messages.contains(&expected), "{expected:?} in {messages:?}");
    }
}

/// `python3` set up to import the package in `python/`, if numpy is there. CI installs numpy
/// and safetensors and sets REQUIRE_PYTHON_SAFETENSORS=1, so there the Python checks must run.
fn python_package() -> Option<Command> {
    let required = std::env::var("REQUIRE_PYTHON_SAFETENSORS").is_ok_and(|v| v == "1");
    let available = Command::new("python3")
        .args(["-c", "import numpy"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            !required,
            "REQUIRE_PYTHON_SAFETENSORS=1 but python3 cannot import numpy"
        );
        eprintln!("SKIP python package checks: python3 with numpy is not installed");
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    let mut python = Command::new("python3");
    python.current_dir(&root).env("PYTHONPATH", &root);
    Some(python)
}

/// The Python package's own tests (reference fixtures, files, wirings, lifetimes), and its
/// replay of lifetimes the Rust CPU step traced with `sfnn eval --trace`: an evolved genome per
/// environment (discrete and continuous readouts), and the same genomes without plasticity
/// (`static-*`, λ = 0). Same actions wherever the margin exceeds 1e-4: over the whole lifetime
/// for the static genomes, over the prefix that float32 determines for the plastic ones
/// (plasticity can amplify rounding; `replay_trace` in python/sfnn_genome/lifetime.py).
#[test]
fn python_package_matches_the_fixtures_and_replays_rust_traces() {
    let Some(mut python) = python_package() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let evolved = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evolved");
    let envs = [
        "CartPole-v1",
        "Acrobot-v1",
        "MountainCar-v0",
        "MountainCarContinuous-v0",
        "Pendulum-v1",
    ];
    for env in envs {
        let mut genome = GenomeFile::load(&evolved.join(format!("{env}.json"))).unwrap();
        // One episode each (two for CartPole without plasticity, to cross an episode boundary):
        // enough to compare, and the replay stays within seconds.
        for (name, episodes) in [(env.to_string(), 1), (format!("static-{env}"), 1)] {
            let episodes = if name == "static-CartPole-v1" {
                2
            } else {
                episodes
            };
            if name.starts_with("static-") {
                let lr = genome.layout().tensor("learning_rate").unwrap().offset;
                genome.values[lr] = 0.0;
            }
            let path = dir.path().join(format!("{name}.genome.json"));
            std::fs::write(&path, genome.to_json()).unwrap();
            check_trace(
                &path,
                env,
                episodes,
                &dir.path().join(format!("{name}.trace.json")),
            );
        }
    }
    // The client's tests (python/tests/test_client.py) start this build's server; with httpx
    // missing they are skipped with the reason, unless REQUIRE_SFNN_SERVER=1 (CI).
    let output = python
        .args(["-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."])
        .env("SFNN_TRACE_DIR", dir.path())
        .env("SFNN_BIN", env!("CARGO_BIN_EXE_sfnn"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("test_replays_match_the_rust_actions (tests.test_trace.RustTraces")
            && !stderr.contains("skipped 'SFNN_TRACE_DIR"),
        "{stderr}"
    );
}

/// Runs `sfnn eval --trace` and checks the trace is the evaluation's first lifetime.
fn check_trace(genome: &Path, env: &str, episodes: usize, trace_path: &Path) {
    let output = sfnn()
        .args(["eval", genome.to_str().unwrap(), "--env", env])
        .args(["--episodes", &episodes.to_string(), "--seed", "3"])
        .args(["--lifetimes", "2", "--trace", trace_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trace: sfnn::exec::trace::Trace =
        serde_json::from_str(&std::fs::read_to_string(trace_path).unwrap()).unwrap();
    assert_eq!((trace.env.as_str(), trace.seed), (env, 3));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let row: Vec<&str> = stdout.lines().nth(1).unwrap().split('\t').collect();
    let returns: Vec<String> = trace
        .episodes
        .iter()
        .map(|e| format!("{}", e.episode_return))
        .collect();
    assert_eq!((row[0], row[1]), ("3", returns.join(" ").as_str()));
    assert_eq!(trace.synapse_init.len(), trace.wiring.edges.len() * 4);
    let horizon = sfnn::envs::info(env).unwrap().horizon;
    assert_eq!(trace.episodes.len(), episodes);
    for episode in &trace.episodes {
        assert_eq!(episode.obs.len(), horizon);
        assert_eq!(episode.outputs.len(), horizon);
        assert_eq!(episode.actions.len(), horizon);
    }
}

#[test]
fn eval_refuses_a_trace_longer_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let genome =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evolved/Pendulum-v1.json");
    let trace = dir.path().join("t.json");
    // 60 episodes of 999 steps.
    let output = sfnn()
        .args([
            "eval",
            genome.to_str().unwrap(),
            "--env",
            "MountainCarContinuous-v0",
        ])
        .args(["--episodes", "60", "--trace", trace.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--trace: a trace holds at most 50000 steps"),
        "{stderr}"
    );
    assert!(!trace.exists());
}

#[test]
fn eval_wires_networks_with_the_topology_the_genome_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let evolved = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evolved");
    let layered = sfnn::model::Topology {
        preset: sfnn::model::TopologyPreset::Layered,
        ..Default::default()
    };
    let genome = GenomeFile::load(&evolved.join("Pendulum-v1.json"))
        .unwrap()
        .with_job(layered, serde_json::json!({}));
    let path = dir.path().join("layered.safetensors");
    std::fs::write(&path, genome.to_safetensors()).unwrap();
    let trace_path = dir.path().join("trace.json");
    let status = sfnn()
        .args(["eval", path.to_str().unwrap(), "--env", "Pendulum-v1"])
        .args(["--episodes", "1", "--trace", trace_path.to_str().unwrap()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let trace: sfnn::exec::trace::Trace =
        serde_json::from_str(&std::fs::read_to_string(&trace_path).unwrap()).unwrap();
    let w = &trace.wiring;
    assert!(!w.edges.is_empty());
    for &[i, j] in &w.edges {
        let (i, j) = (i as usize, j as usize);
        let input_to_hidden = i < w.inputs && w.hidden().contains(&j);
        let hidden_to_output = w.hidden().contains(&i) && j >= w.nodes - w.outputs;
        assert!(input_to_hidden || hidden_to_output, "edge {i} → {j}");
    }
}

#[test]
fn run_refuses_a_folder_with_an_earlier_run_unless_told_to_resume_or_start_over() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), SPEC);
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        sfnn()
            .args(["run", spec.to_str().unwrap(), "--quiet", "--out"])
            .arg(&out)
            .args(extra)
            .output()
            .unwrap()
    };
    assert!(run(&["--generations", "2"]).status.success());
    let earlier = std::fs::read(out.join("history.jsonl")).unwrap();

    // A second run into the same folder is refused, says what to do, and changes nothing.
    let refused = run(&["--generations", "1"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("already holds a run")
            && stderr.contains("--resume")
            && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(out.join("history.jsonl")).unwrap(), earlier);
    assert_eq!(history(&out).len(), 2);

    // Both at once is a usage error.
    assert!(!run(&["--force", "--resume"]).status.success());
    assert_eq!(std::fs::read(out.join("history.jsonl")).unwrap(), earlier);

    // --force starts over: the new run's history only.
    assert!(run(&["--generations", "1", "--force"]).status.success());
    assert_eq!(history(&out).len(), 1);
    let jsonl = std::fs::read_to_string(out.join("history.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 1);
}

/// Runs `SPEC` with `seed` into `dir/name`; returns the run folder.
fn tiny_run(dir: &Path, name: &str, seed: u64) -> std::path::PathBuf {
    let spec = dir.join(format!("{name}.json"));
    std::fs::write(
        &spec,
        SPEC.replace("\"seed\": 4", &format!("\"seed\": {seed}")),
    )
    .unwrap();
    let out = dir.join(name);
    let status = sfnn()
        .args(["run", spec.to_str().unwrap(), "--quiet", "--out"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    out
}

#[test]
fn plot_draws_each_group_and_names_a_folder_that_is_not_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny_run(dir.path(), "a", 4);
    let b = tiny_run(dir.path(), "b", 5);
    let svg_path = dir.path().join("curves.svg");
    let output = sfnn()
        .args(["plot", "--out", svg_path.to_str().unwrap()])
        .arg(format!("--group=first={}", a.display()))
        .arg(format!("--group=second={}", b.display()))
        // Positional folders group by spec minus seed: both runs form one group, "cli-test".
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg "), "{}", &svg[..80.min(svg.len())]);
    assert!(svg.trim_end().ends_with("</svg>"));
    // Two panels (best so far, population mean), one line and one band per group in each.
    assert_eq!(svg.matches("class=\"line\"").count(), 3 * 2);
    assert_eq!(svg.matches("class=\"band\"").count(), 3 * 2);
    let legend: Vec<&str> = svg
        .lines()
        .filter(|l| l.contains("class=\"legend\""))
        .map(|l| l.split('>').nth(1).unwrap().trim_end_matches("</text"))
        .collect();
    assert_eq!(legend, ["first", "second", "cli-test"]);
    assert!(svg.contains("2 runs: mean, min–max"));
    assert!(svg.contains(">generation</text>") && svg.contains(">fitness</text>"));
    // Tags balance: every element opened is closed (self-closing or paired).
    let opened = svg.matches('<').count();
    assert_eq!(opened, svg.matches('>').count());

    let missing = dir.path().join("no-such-run");
    let output = sfnn()
        .args(["plot", "--out", svg_path.to_str().unwrap()])
        .arg(&a)
        .arg(&missing)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(missing.to_str().unwrap()) && stderr.contains("not a run folder"),
        "{stderr}"
    );
}
