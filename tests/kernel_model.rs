//! The committed kernel model estimate (kernels/model-estimate.json, written by
//! scripts/kernel-model.py) belongs to the kernel sources in the tree: a kernel change without
//! rerunning the model fails here, naming the command. Needs no GPU, NVRTC or wheels.

use sfnn::exec::kernel_model::{self, RERUN};
use std::path::Path;

#[test]
fn the_committed_estimate_was_computed_for_the_kernel_sources_in_the_tree() {
    let estimate = kernel_model::committed().unwrap();
    let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("kernels");
    // Every kernel source and header is covered, none is missing.
    let mut on_disk: Vec<String> = std::fs::read_dir(&kernels)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cu") || n.ends_with(".cuh"))
        .collect();
    on_disk.sort();
    let mut hashed = estimate.sources.clone();
    hashed.sort();
    assert_eq!(
        hashed, on_disk,
        "the estimate hashed other kernel files than kernels/ holds; rerun {RERUN}"
    );
    let contents: Vec<(String, Vec<u8>)> = estimate
        .sources
        .iter()
        .map(|name| (name.clone(), std::fs::read(kernels.join(name)).unwrap()))
        .collect();
    let current =
        kernel_model::sources_sha256(contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    if let Some(stale) = estimate.staleness(&current) {
        panic!(
            "kernels/model-estimate.json: {stale} (kernels/sfnn.cu or its headers \
             changed since the model ran; see docs/gpu-model.md)"
        );
    }
    // The estimate the bench prints is there: the paper generation at d = 4.
    let paper: Vec<String> = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]
        .map(String::from)
        .to_vec();
    let g = estimate
        .generation(4, 128, &paper)
        .expect("an estimate for the paper generation (d = 4, popsize 128)");
    assert!(g.ms > 0.0 && g.ms >= g.issue_bound_ms.max(g.latency_bound_ms) - 1e-9);
}
