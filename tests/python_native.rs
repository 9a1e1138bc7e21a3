//! The native evaluator (`sfnn_lab.native`, the wheel python/native builds) against this
//! build's `sfnn eval` and `sfnn run`, bit for bit: python/native/tests/test_native.py, run with
//! `SFNN_BIN` set to this build's binary. Ignored, with the reason, where python3 cannot import
//! the wheel; REQUIRE_SFNN_NATIVE=1 (CI, which builds and installs it) makes that a failure.

mod prereq;

use std::path::Path;
use std::process::Command;

fn main() {
    prereq::main(
        prereq::Needs {
            require_var: "REQUIRE_SFNN_NATIVE",
            check: wheel_installed,
        },
        vec![(
            "native_evaluator_matches_sfnn_eval_and_run",
            native_evaluator_matches_sfnn_eval_and_run,
        )],
    )
}

fn wheel_installed() -> Result<(), String> {
    let output = Command::new("python3")
        .args(["-c", "import numpy, sfnn_lab_native"])
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(format!(
        "python3 cannot import the native evaluator (pip install ./python/native): {}",
        stderr.lines().last().unwrap_or("no error message")
    ))
}

fn native_evaluator_matches_sfnn_eval_and_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .args(["-m", "unittest", "-v", "test_native"])
        .current_dir(root.join("python/native/tests"))
        .env("PYTHONPATH", root.join("python"))
        .env("SFNN_BIN", env!("CARGO_BIN_EXE_sfnn"))
        // The wheel imports (checked above): a skip inside would hide a failure.
        .env("REQUIRE_SFNN_NATIVE", "1")
        .output()
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{}{stderr}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the native evaluator's tests failed"
    );
    assert!(
        stderr.contains("test_generations_of_a_run") && !stderr.contains("skipped"),
        "every test ran"
    );
}
