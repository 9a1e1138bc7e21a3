//! The committed estimate of the CUDA kernel's time per generation, computed from its SASS by
//! `scripts/kernel-model.py` (method: docs/gpu-model.md), and the hash that ties it to the kernel
//! sources it was computed from. A kernel change without rerunning the model leaves the estimate
//! stale: tests/kernel_model.rs fails then, and `sfnn bench --executor cuda` says so.

use serde::Deserialize;

/// `kernels/model-estimate.json`, as the script wrote it.
pub const ESTIMATE_JSON: &str = include_str!("../../kernels/model-estimate.json");

/// The command that recomputes the estimate (on a machine with Rust, NVRTC and the CUDA
/// disassembler wheels; see docs/gpu-model.md).
pub const RERUN: &str = "python3 scripts/kernel-model.py";

/// What the script wrote (the fields Rust reads; the file holds more).
#[derive(Debug, Clone, Deserialize)]
pub struct Estimate {
    /// The kernel sources hashed, in order (names under `kernels/`).
    pub sources: Vec<String>,
    /// [`sources_sha256`] of those files when the estimate was computed.
    pub sources_sha256: String,
    pub gpu: String,
    /// One estimate per message width and population size.
    pub generations: Vec<GenerationEstimate>,
}

/// The model's time for one generation of the paper's protocol.
#[derive(Debug, Clone, Deserialize)]
pub struct GenerationEstimate {
    pub msg_dims: usize,
    pub popsize: usize,
    pub envs: Vec<String>,
    /// max(issue bound, latency bound), in milliseconds.
    pub ms: f64,
    pub issue_bound_ms: f64,
    pub latency_bound_ms: f64,
}

/// SHA-256 over each source in order: its name, a NUL, its length (u64 little-endian), its
/// bytes. The script computes the same (hashlib) from the files on disk.
pub fn sources_sha256<'a>(files: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for (name, bytes) in files {
        hasher.update(name.as_bytes());
        hasher.update([0u8]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The committed estimate.
pub fn committed() -> Result<Estimate, String> {
    serde_json::from_str(ESTIMATE_JSON)
        .map_err(|e| format!("kernels/model-estimate.json is unreadable ({e}); rerun {RERUN}"))
}

impl Estimate {
    /// The paper-configuration estimate for `popsize` genomes at `msg_dims`, if computed.
    pub fn generation(
        &self,
        msg_dims: usize,
        popsize: usize,
        envs: &[String],
    ) -> Option<&GenerationEstimate> {
        self.generations
            .iter()
            .find(|g| g.msg_dims == msg_dims && g.popsize == popsize && g.envs == envs)
    }

    /// `None` when the estimate was computed for `sources_sha256`, else why it is stale.
    pub fn staleness(&self, sources_sha256: &str) -> Option<String> {
        (self.sources_sha256 != sources_sha256).then(|| {
            format!(
                "STALE: the estimate was computed for kernel sources {}…, these are {}…; rerun {RERUN}",
                &self.sources_sha256[..self.sources_sha256.len().min(12)],
                &sources_sha256[..sources_sha256.len().min(12)]
            )
        })
    }
}

/// The hash of the kernel sources compiled into this binary.
#[cfg(feature = "cuda")]
pub fn compiled_sources_sha256() -> String {
    sources_sha256(
        super::cuda::nvrtc::SOURCES
            .iter()
            .map(|(name, text)| (*name, text.as_bytes())),
    )
}

/// The line `sfnn bench --executor cuda` prints beside a measured generation: the model's
/// estimate for the same population (paper protocol, this message width), the ratio, and
/// whether the estimate is stale for the kernel compiled into this binary.
#[cfg(feature = "cuda")]
pub fn bench_line(
    msg_dims: usize,
    popsize: usize,
    envs: &[String],
    measured_seconds: f64,
) -> String {
    let estimate = match committed() {
        Ok(e) => e,
        Err(e) => return format!("kernel model: {e}"),
    };
    let stale = estimate
        .staleness(&compiled_sources_sha256())
        .map(|s| format!(" — {s}"))
        .unwrap_or_default();
    match estimate.generation(msg_dims, popsize, envs) {
        Some(g) => format!(
            "kernel model: {:.1} ms per generation (latency-bound {:.1}, issue-bound {:.1}; \
             docs/gpu-model.md), measured {:.1} ms = {:.2}× the model{stale}",
            g.ms,
            g.latency_bound_ms,
            g.issue_bound_ms,
            measured_seconds * 1e3,
            measured_seconds * 1e3 / g.ms
        ),
        None => format!(
            "kernel model: no estimate for popsize {popsize}, d = {msg_dims}, envs {envs:?} \
             (the model covers the paper protocol){stale}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_covers_names_boundaries_and_contents() {
        let h = |files: &[(&str, &[u8])]| sources_sha256(files.iter().copied());
        assert_ne!(h(&[("a", b"xy")]), h(&[("a", b"xz")]));
        assert_ne!(h(&[("a", b"xy")]), h(&[("b", b"xy")]));
        assert_ne!(
            h(&[("a", b"x"), ("b", b"y")]),
            h(&[("a", b"xb"), ("", b"y")])
        );
        // SHA-256 of "a\0" + 1u64 LE + "x", as Python's hashlib computes it.
        assert_eq!(
            h(&[("a", b"x")]),
            "c4f76f5106fdbad0120b6abb3a008a952545b138deacd333cd7b20427cdbcb32"
        );
    }

    /// The bench's line for the paper generation: the committed estimate, the measurement, and
    /// no STALE mark for the kernel compiled into this binary (tests/kernel_model.rs checks the
    /// same against the files).
    #[cfg(feature = "cuda")]
    #[test]
    fn the_bench_line_shows_the_estimate_and_the_ratio() {
        let paper: Vec<String> = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]
            .map(String::from)
            .to_vec();
        let estimate = committed().unwrap();
        let g = estimate.generation(4, 128, &paper).unwrap();
        let line = bench_line(4, 128, &paper, 2.0 * g.ms / 1e3);
        assert!(
            line.contains(&format!("{:.1} ms per generation", g.ms)),
            "{line}"
        );
        assert!(line.contains("= 2.00× the model"), "{line}");
        assert!(!line.contains("STALE"), "{line}");
        let other = bench_line(4, 100, &paper, 1.0);
        assert!(other.contains("no estimate for popsize 100"), "{other}");
    }
}
