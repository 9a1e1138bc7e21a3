//! The CPU executor: the reference every other executor is checked against.
//!
//! Lifetimes are independent, so they are spread over a rayon pool one lifetime per task; each
//! writes its own slice of the output, so results do not depend on the number of threads.

use super::{EvalOutput, EvalRequest, ExecError, Executor, Interrupt, cpu_time, lifetime};
use crate::model::{GenomeLayout, Params};
use rayon::prelude::*;
use std::sync::atomic::Ordering;

pub struct CpuExecutor {
    pool: rayon::ThreadPool,
}

impl CpuExecutor {
    /// An executor with `threads` worker threads (0: one per core).
    pub fn new(threads: usize) -> Result<Self, ExecError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("sfnn-cpu-{i}"))
            .build()
            .map_err(|e| ExecError::Unavailable(format!("cannot start CPU threads: {e}")))?;
        Ok(CpuExecutor { pool })
    }

    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }
}

/// The processor's model name, from `/proc/cpuinfo` where there is one.
pub fn cpu_model() -> String {
    CpuId::read().name
}

/// What `/proc/cpuinfo` says of the processor: enough to tell whether a timing taken on another
/// machine holds here (same vendor, family and model name; the vector units).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuId {
    /// `GenuineIntel`, `AuthenticAMD`, … (empty where unknown).
    pub vendor: String,
    pub family: Option<u32>,
    pub model: Option<u32>,
    /// The model name; the architecture where `/proc/cpuinfo` is missing.
    pub name: String,
    pub avx512: bool,
}

impl CpuId {
    pub fn read() -> CpuId {
        CpuId::parse(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default())
    }

    /// The first processor of a `/proc/cpuinfo` text.
    pub fn parse(cpuinfo: &str) -> CpuId {
        let field = |name: &str| {
            cpuinfo
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .find_map(|l| {
                    let (key, value) = l.split_once(':')?;
                    (key.trim() == name).then(|| value.trim().to_string())
                })
        };
        CpuId {
            vendor: field("vendor_id").unwrap_or_default(),
            family: field("cpu family").and_then(|v| v.parse().ok()),
            model: field("model").and_then(|v| v.parse().ok()),
            name: field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string()),
            avx512: field("flags").is_some_and(|f| f.split(' ').any(|f| f == "avx512f")),
        }
    }
}

impl std::fmt::Display for CpuId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if let (Some(family), Some(model)) = (self.family, self.model) {
            write!(f, " (family {family}, model {model})")?;
        }
        Ok(())
    }
}

/// SFNN steps per second of one thread, a little under what `sfnn bench` measured in release
/// builds on this project's machines (180–188 k on an AMD EPYC, 2026-12; docs/performance.md);
/// a debug build (the test suite's) runs about 16 times slower.
const BUILT_IN_STEPS_PER_S_PER_THREAD: f64 = if cfg!(debug_assertions) {
    10_000.0
} else {
    150_000.0
};

impl Executor for CpuExecutor {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn device(&self) -> String {
        format!("{} ({} threads)", cpu_model(), self.threads())
    }

    fn host_threads(&self) -> usize {
        self.threads()
    }

    fn built_in_steps_per_s(&self) -> Option<f64> {
        Some(BUILT_IN_STEPS_PER_S_PER_THREAD * self.threads() as f64)
    }

    fn evaluate(&self, request: &EvalRequest) -> Result<EvalOutput, ExecError> {
        self.evaluate_interruptible(request, &Interrupt::new(false))
    }

    /// Checks `interrupt` before each lifetime, so a cancel takes effect within one lifetime
    /// per thread (milliseconds at the paper's sizes) rather than a whole generation.
    fn evaluate_interruptible(
        &self,
        request: &EvalRequest,
        interrupt: &Interrupt,
    ) -> Result<EvalOutput, ExecError> {
        let layout = GenomeLayout::new(request.model);
        let params_len = layout.len();
        let envs = request.envs.len();
        let per_member = request.repeats * envs;
        if envs == 0 || request.repeats == 0 || !request.lifetimes.len().is_multiple_of(per_member)
        {
            return Err(ExecError::InvalidRequest(
                "lifetimes must be ordered [member][repeat][env]".into(),
            ));
        }
        let members = request.members();
        if request.genomes.len() != members * params_len {
            return Err(ExecError::InvalidRequest(format!(
                "{} genome values for {members} members of {params_len} parameters",
                request.genomes.len()
            )));
        }
        let episodes = request.protocol.episodes;
        let mut returns = vec![0.0; request.lifetimes.len() * episodes];
        let mut digests = vec![0u64; request.lifetimes.len()];
        let (env_steps, cpu_seconds) = self.pool.install(|| {
            returns
                .par_chunks_mut(episodes)
                .zip(digests.par_iter_mut())
                .zip(request.lifetimes.par_iter())
                .enumerate()
                .map(|(index, ((out, digest), input))| {
                    if interrupt.load(Ordering::Relaxed) {
                        return (0, 0.0);
                    }
                    let cpu_start = cpu_time::thread_seconds();
                    let member = index / per_member;
                    let genome = &request.genomes[member * params_len..(member + 1) * params_len];
                    let params = Params::<f32>::from_flat(&layout, genome);
                    let info = request.envs[index % envs];
                    let run = lifetime::run_lifetime(
                        &params,
                        &request.model,
                        info,
                        input,
                        request.protocol,
                        out,
                        &mut (),
                    );
                    *digest = run.digest;
                    (run.env_steps, cpu_time::thread_seconds() - cpu_start)
                })
                .reduce(|| (0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        if interrupt.load(Ordering::Relaxed) {
            return Err(ExecError::Interrupted);
        }
        Ok(EvalOutput {
            returns,
            env_steps,
            digests,
            cpu_seconds,
        })
    }
}
