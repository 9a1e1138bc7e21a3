//! `scripts/gpu-check.sh` on a machine without a GPU: it must say so clearly, write its summary
//! where the device tool collects it (`$OUT`), and fail, never pass by skipping. (On a GPU
//! machine the same script is the verdict; see docs/gpu.md.)

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the check with `pack` as its pack folder and a fake `nvidia-smi` that fails the way it
/// does on a machine without an NVIDIA driver; returns (exit code, summary.txt).
fn check(pack: &Path, out: &Path) -> (Option<i32>, String) {
    let bin = out.parent().unwrap().join("fake-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let smi = bin.join("nvidia-smi");
    std::fs::write(
        &smi,
        "#!/bin/sh\necho \"NVIDIA-SMI has failed because it couldn't communicate with the \
         NVIDIA driver.\"\nexit 9\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&smi, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let status = Command::new("bash")
        .arg(root().join("scripts/gpu-check.sh"))
        .env("PACK_DIR", pack)
        .env("OUT", out)
        .env("PATH", path)
        .status()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default();
    (status.code(), summary)
}

#[test]
fn without_a_gpu_the_check_fails_naming_the_missing_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("pack");
    std::fs::create_dir(&pack).unwrap();
    // Any executables will do: the check looks for the GPU before it runs them.
    for name in ["sfnn", "cuda_compile", "cuda_parity"] {
        std::fs::copy(env!("CARGO_BIN_EXE_sfnn"), pack.join(name)).unwrap();
    }
    let out = dir.path().join("out");
    let (code, summary) = check(&pack, &out);
    assert_eq!(code, Some(2), "{summary}");
    assert!(summary.contains("FAIL: no NVIDIA GPU here"), "{summary}");
    assert!(
        summary.contains("couldn't communicate with the NVIDIA driver"),
        "{summary}"
    );
    assert!(!summary.contains("PASS"), "{summary}");
}

#[test]
fn without_a_pack_the_check_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (code, summary) = check(&dir.path().join("missing"), &out);
    assert_eq!(code, Some(1), "{summary}");
    assert!(summary.contains("run scripts/gpu-pack.sh"), "{summary}");
}
