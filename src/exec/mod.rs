//! Executors: evaluate a whole population of genomes and return every episode's return.
//!
//! An executor only simulates. Everything random (wiring, synapse initial states, environment
//! resets) is drawn on the host by [`inputs::sample_lifetimes`] and handed over in an
//! [`EvalRequest`], and fitness is computed on the host from the returned episode returns, so
//! every executor sees identical inputs and is judged by the same arithmetic.

pub mod cpu;
pub mod cpu_time;
#[cfg(feature = "cuda")]
pub mod cuda;
pub mod digest;
pub mod inputs;
pub mod kernel_model;
pub mod lifetime;
pub mod trace;

pub use cpu::CpuExecutor;
pub use digest::Digest;
pub use inputs::{ExtraFeed, InputFeed, LifetimeInput, Sampler, StructureVariant};
pub use lifetime::{LifetimeRun, StepObserver, run_lifetime};

use crate::envs::EnvInfo;
use crate::model::ModelConfig;
use serde::{Deserialize, Serialize};

/// How an episode runs (docs/model.md, "Lifetime").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeMode {
    /// The reference: exactly `horizon` steps with gymnax-style auto-reset; the return counts
    /// rewards up to and including the first `done`, but the network keeps acting and learning.
    #[default]
    FixedHorizon,
    /// Stop each episode at its first `done`.
    StopOnDone,
}

/// The per-lifetime protocol an executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocol {
    pub episodes: usize,
    pub mode: EpisodeMode,
}

/// One population to evaluate. Lifetimes are ordered `[member][repeat][env]`.
#[derive(Debug, Clone, Copy)]
pub struct EvalRequest<'a> {
    pub model: ModelConfig,
    pub envs: &'a [&'static EnvInfo],
    pub protocol: Protocol,
    /// `members × param_count` genome values, row-major.
    pub genomes: &'a [f32],
    pub repeats: usize,
    pub lifetimes: &'a [LifetimeInput],
}

impl EvalRequest<'_> {
    pub fn members(&self) -> usize {
        self.lifetimes.len() / (self.repeats * self.envs.len())
    }
}

/// Episode returns `[member][repeat][env][episode]` and the number of environment steps taken.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOutput {
    pub returns: Vec<f64>,
    pub env_steps: u64,
    /// One [`Digest`] per lifetime (`[member][repeat][env]`): its actions and final synapse
    /// states, for parity checks between executors.
    pub digests: Vec<u64>,
    /// CPU seconds the evaluation used, summed over the threads that ran it (for the GPU: the
    /// host thread's, which packs, launches and waits).
    pub cpu_seconds: f64,
}

/// Which executor a job asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutorChoice {
    /// A GPU when one works, else the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
}

impl ExecutorChoice {
    /// The spec's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorChoice::Auto => "auto",
            ExecutorChoice::Cpu => "cpu",
            ExecutorChoice::Cuda => "cuda",
        }
    }

    /// Whether an executor called `name` (`"cpu"`, `"cuda"`) may run a job that asks for this.
    pub fn allows(self, name: &str) -> bool {
        self == ExecutorChoice::Auto || self.as_str() == name
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("executor unavailable: {0}")]
    Unavailable(String),
    #[error("invalid evaluation request: {0}")]
    InvalidRequest(String),
    /// The caller raised the [`Interrupt`] flag: the partial results are discarded.
    #[error("interrupted")]
    Interrupted,
}

/// Raised by another thread to stop an evaluation early (a cancelled job): executors check it
/// between lifetimes and then return [`ExecError::Interrupted`].
pub type Interrupt = std::sync::atomic::AtomicBool;

/// Something that evaluates populations.
pub trait Executor: Send + Sync {
    /// `"cpu"` or `"cuda"`.
    fn name(&self) -> &'static str;
    /// A human-readable device description (CPU model and threads, GPU name).
    fn device(&self) -> String;
    fn evaluate(&self, request: &EvalRequest) -> Result<EvalOutput, ExecError>;
    /// [`Executor::evaluate`], stopping early when `interrupt` is raised. The default checks
    /// only before it starts, for executors whose whole evaluation is one short launch.
    fn evaluate_interruptible(
        &self,
        request: &EvalRequest,
        interrupt: &Interrupt,
    ) -> Result<EvalOutput, ExecError> {
        if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ExecError::Interrupted);
        }
        self.evaluate(request)
    }
    /// The device's fp32 peak in GFLOP/s, where the executor knows it (the bench's reference).
    fn peak_gflops(&self) -> Option<f64> {
        None
    }
    /// SFNN steps per second to expect before this server has measured any (a run-time
    /// estimate's first figure); `None` where there is no figure to stand on.
    fn built_in_steps_per_s(&self) -> Option<f64> {
        None
    }
    /// CPU threads the executor computes on (the GPU executor: its one host thread).
    fn host_threads(&self) -> usize {
        1
    }
    /// The machine, for a compute account: the processor and the threads used
    /// (`"AMD EPYC 9B45 × 2 threads"`), whatever the device.
    fn machine(&self) -> String {
        let threads = self.host_threads();
        let plural = if threads == 1 { "" } else { "s" };
        format!("{} × {threads} thread{plural}", cpu::cpu_model())
    }
}

/// Builds the executor a job asks for. `threads = 0` uses every core. `Auto` takes the GPU when
/// one works and the CPU otherwise (and says which, and why, in the log); `Cuda` without a
/// usable GPU is an error, never a panic.
pub fn select(choice: ExecutorChoice, threads: usize) -> Result<Box<dyn Executor>, ExecError> {
    match choice {
        ExecutorChoice::Cpu => Ok(Box::new(CpuExecutor::new(threads)?)),
        ExecutorChoice::Cuda => cuda_executor(),
        ExecutorChoice::Auto => match cuda_executor() {
            Ok(executor) => {
                tracing::info!("executor auto: using the GPU, {}", executor.device());
                Ok(executor)
            }
            Err(reason) => {
                tracing::info!("executor auto: using the CPU ({reason})");
                Ok(Box::new(CpuExecutor::new(threads)?))
            }
        },
    }
}

#[cfg(feature = "cuda")]
fn cuda_executor() -> Result<Box<dyn Executor>, ExecError> {
    Ok(Box::new(cuda::CudaExecutor::new(0)?))
}

#[cfg(not(feature = "cuda"))]
fn cuda_executor() -> Result<Box<dyn Executor>, ExecError> {
    Err(ExecError::Unavailable(
        "this build has no CUDA executor (build with --features cuda); use \"cpu\" or \"auto\""
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_without_a_gpu_is_an_error_and_auto_falls_back_to_the_cpu() {
        match select(ExecutorChoice::Cuda, 1) {
            // A machine with a working GPU and a `cuda` build.
            Ok(executor) => assert_eq!(executor.name(), "cuda"),
            Err(ExecError::Unavailable(message)) => {
                assert!(message.contains("CUDA"), "unclear reason: {message}")
            }
            Err(e) => panic!("unexpected error {e}"),
        }
        let auto = select(ExecutorChoice::Auto, 1).unwrap();
        let cuda_works = select(ExecutorChoice::Cuda, 1).is_ok();
        assert_eq!(auto.name(), if cuda_works { "cuda" } else { "cpu" });
        assert_eq!(select(ExecutorChoice::Cpu, 1).unwrap().name(), "cpu");
    }
}
