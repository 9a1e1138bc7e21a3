//! The generation loop: ask → draw lifetimes → evaluate → score → tell → record.
//!
//! A run is fully determined by its spec: the strategy draws from its own serialised RNG, and
//! every lifetime's randomness is keyed by (seed, generation, member), so a run resumed from a
//! [`Checkpoint`] continues exactly as the uninterrupted run would have.

use super::fitness::ReturnBounds;
use super::spec::JobSpec;
use super::strategies::{EvolutionStrategy, FieldError};
use crate::envs::EnvInfo;
use crate::exec::{EvalRequest, ExecError, Executor, Interrupt, Sampler, cpu_time};
use crate::model::GenomeLayout;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// Keeps the strategy's RNG stream apart from the lifetime streams drawn from the same seed.
const STRATEGY_SEED_SALT: u64 = 0x5EED_57A7_E6E5_0001;

/// The best genome seen so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestGenome {
    pub generation: u64,
    pub fitness: f64,
    pub values: Vec<f32>,
    pub env_scores: Vec<f64>,
    pub env_returns: Vec<f64>,
}

/// Everything needed to continue a run exactly: the strategy (with its RNG) and the bookkeeping.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Generations completed.
    pub generation: u64,
    pub strategy: EvolutionStrategy,
    pub best: Option<BestGenome>,
    /// The generation that last improved the best so far.
    pub last_improvement: u64,
    /// Wall-clock seconds spent so far (for the wall-clock stop rule; not part of the search).
    pub elapsed_seconds: f64,
}

/// JSON has no NaN or infinity: such values are written as `null` and read back as NaN.
mod float_or_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_finite() {
            serializer.serialize_f64(*value)
        } else {
            serializer.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
    }
}

/// Summary statistics of one generation's fitness values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FitnessStats {
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub best: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub mean: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub worst: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub std: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub q25: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub median: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub q75: f64,
}

impl FitnessStats {
    pub fn of(values: &[f64]) -> FitnessStats {
        let mut sorted: Vec<f64> = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len() as f64;
        let mean = sorted.iter().sum::<f64>() / n;
        let var = sorted.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
        // Linear interpolation between order statistics (numpy's default).
        let quantile = |p: f64| {
            let pos = p * (n - 1.0);
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        };
        FitnessStats {
            best: sorted[sorted.len() - 1],
            mean,
            worst: sorted[0],
            std: var.sqrt(),
            q25: quantile(0.25),
            median: quantile(0.5),
            q75: quantile(0.75),
        }
    }
}

/// Per-environment statistics of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnvStats {
    pub env: String,
    /// Population mean of the weighted raw return Σ w_k R_k.
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub mean_return: f64,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub best_return: f64,
    /// Population mean of the weighted normalised score.
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub mean_score: f64,
}

/// Seconds spent in each phase of a generation (wall clock), and the CPU seconds the
/// generation used in all (every thread's own clock: the strategy's ask and tell on the job's
/// thread plus each executor thread's share of the evaluation).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Timing {
    pub ask: f64,
    pub evaluate: f64,
    pub tell: f64,
    /// CPU seconds, all threads; 0 in records written before it was measured.
    #[serde(default)]
    pub cpu: f64,
}

impl Timing {
    /// Wall-clock seconds of the generation.
    pub fn wall(&self) -> f64 {
        self.ask + self.evaluate + self.tell
    }
}

/// What one generation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenerationRecord {
    /// 0-based index of this generation.
    pub generation: u64,
    pub fitness: FitnessStats,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub best_so_far: f64,
    /// Whether this generation's best improved the best so far.
    pub improved: bool,
    pub envs: Vec<EnvStats>,
    #[serde(with = "float_or_null")]
    #[schema(value_type = Option<f64>, required = true)]
    pub sigma: f64,
    pub telemetry: Vec<(String, f64)>,
    pub env_steps: u64,
    pub timing: Timing,
}

/// Why a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Generations,
    TargetFitness,
    Stagnation,
    WallClock,
}

/// One evolution job in progress.
pub struct Evolution {
    spec: JobSpec,
    layout: GenomeLayout,
    envs: Vec<&'static EnvInfo>,
    bounds: Vec<ReturnBounds>,
    state: Checkpoint,
}

impl Evolution {
    /// Starts a run of a validated spec (a [`super::JobPayload`]'s, or [`JobSpec::parse`]'s);
    /// `initial_mean` warm-starts the strategy from a stored genome.
    pub fn new(spec: JobSpec, initial_mean: Option<&[f64]>) -> Result<Self, FieldError> {
        let layout = GenomeLayout::new(spec.model.config());
        if let Some(mean) = initial_mean
            && mean.len() != layout.len()
        {
            return Err(FieldError::new(
                "init_genome",
                format!(
                    "genome has {} values, the model needs {}",
                    mean.len(),
                    layout.len()
                ),
            ));
        }
        let strategy = EvolutionStrategy::new(
            &spec.strategy,
            layout.len(),
            initial_mean,
            spec.seed ^ STRATEGY_SEED_SALT,
        )?;
        let state = Checkpoint {
            generation: 0,
            strategy,
            best: None,
            last_improvement: 0,
            elapsed_seconds: 0.0,
        };
        Ok(Self::from_checkpoint(spec, state))
    }

    /// Continues a run from a checkpoint of the same spec.
    pub fn from_checkpoint(spec: JobSpec, checkpoint: Checkpoint) -> Self {
        Evolution {
            layout: GenomeLayout::new(spec.model.config()),
            envs: spec.env_infos(),
            bounds: spec.return_bounds(),
            spec,
            state: checkpoint,
        }
    }

    pub fn spec(&self) -> &JobSpec {
        &self.spec
    }

    pub fn layout(&self) -> &GenomeLayout {
        &self.layout
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.state
    }

    /// Generations completed.
    pub fn generation(&self) -> u64 {
        self.state.generation
    }

    pub fn best(&self) -> Option<&BestGenome> {
        self.state.best.as_ref()
    }

    /// The strategy's current mean as a genome.
    pub fn mean_genome(&self) -> Vec<f32> {
        self.state
            .strategy
            .mean()
            .iter()
            .map(|&v| v as f32)
            .collect()
    }

    /// Adds wall-clock time spent outside [`Evolution::step`] (e.g. writing records).
    pub fn add_elapsed(&mut self, seconds: f64) {
        self.state.elapsed_seconds += seconds;
    }

    /// Whether a stop rule says the run is over.
    pub fn stop_reason(&self) -> Option<StopReason> {
        let s = &self.state;
        let stop = &self.spec.stop;
        if s.generation >= self.spec.generations {
            return Some(StopReason::Generations);
        }
        if let (Some(target), Some(best)) = (stop.target_fitness, &s.best)
            && best.fitness >= target
        {
            return Some(StopReason::TargetFitness);
        }
        if let Some(n) = stop.stagnation_generations
            && s.generation >= s.last_improvement + 1 + n
        {
            return Some(StopReason::Stagnation);
        }
        if let Some(limit) = stop.max_wall_seconds
            && s.elapsed_seconds >= limit
        {
            return Some(StopReason::WallClock);
        }
        None
    }

    /// Runs one generation on `executor`.
    pub fn step(&mut self, executor: &dyn Executor) -> Result<GenerationRecord, ExecError> {
        self.step_interruptible(executor, &Interrupt::new(false))
    }

    /// [`Evolution::step`], abandoned when `interrupt` is raised: then it returns
    /// [`ExecError::Interrupted`] and this evolution is half-way through a generation (its
    /// strategy has asked), so it must be dropped, never checkpointed.
    pub fn step_interruptible(
        &mut self,
        executor: &dyn Executor,
        interrupt: &Interrupt,
    ) -> Result<GenerationRecord, ExecError> {
        let started = Instant::now();
        let cpu_started = cpu_time::thread_seconds();
        let generation = self.state.generation;
        let population = self.state.strategy.ask();
        let genomes: Vec<f32> = population.members.iter().map(|&v| v as f32).collect();
        let members = genomes.len() / self.layout.len();
        let model = self.spec.model.config();
        let sampler = Sampler {
            model: &model,
            topology: &self.spec.model.topology,
            envs: &self.envs,
            protocol: self.spec.protocol(),
            repeats: self.spec.lifetime.eval_repeats,
            seed: self.spec.seed,
        };
        let lifetimes = sampler.generation(generation, members);
        let asked = Instant::now();

        let request = EvalRequest {
            model,
            envs: &self.envs,
            protocol: sampler.protocol,
            genomes: &genomes,
            repeats: sampler.repeats,
            lifetimes: &lifetimes,
        };
        let (output, cpu_in_call) =
            cpu_time::measure(|| executor.evaluate_interruptible(&request, interrupt));
        let output = output?;
        let per_member = output.returns.len() / members;
        let scores: Vec<_> = output
            .returns
            .chunks_exact(per_member)
            .map(|returns| self.spec.lifetime.score(&self.bounds, returns))
            .collect();
        let fitness: Vec<f64> = scores.iter().map(|s| s.fitness).collect();
        let evaluated = Instant::now();

        let telemetry = self.state.strategy.tell(&population, &fitness);
        let told = Instant::now();
        // This thread's time outside the evaluation call (ask, sampling, scoring, tell) plus
        // the evaluation's own account, which sums its threads (this one included, where the
        // executor runs work on the caller).
        let cpu = cpu_time::thread_seconds() - cpu_started - cpu_in_call + output.cpu_seconds;

        // The generation's best member; NaN never wins, ties go to the lowest index.
        let champion =
            (0..members)
                .filter(|&i| !fitness[i].is_nan())
                .fold(None, |best: Option<usize>, i| match best {
                    Some(b) if fitness[b] >= fitness[i] => Some(b),
                    _ => Some(i),
                });
        let mut improved = false;
        if let Some(c) = champion
            && self
                .state
                .best
                .as_ref()
                .is_none_or(|b| fitness[c] > b.fitness)
        {
            improved = true;
            self.state.last_improvement = generation;
            self.state.best = Some(BestGenome {
                generation,
                fitness: fitness[c],
                values: genomes[c * self.layout.len()..(c + 1) * self.layout.len()].to_vec(),
                env_scores: scores[c].env_scores.clone(),
                env_returns: scores[c].env_returns.clone(),
            });
        }
        let envs = self
            .envs
            .iter()
            .enumerate()
            .map(|(e, info)| {
                let returns = scores.iter().map(|s| s.env_returns[e]);
                EnvStats {
                    env: info.name.to_string(),
                    mean_return: returns.clone().sum::<f64>() / members as f64,
                    best_return: returns.fold(f64::NEG_INFINITY, f64::max),
                    mean_score: scores.iter().map(|s| s.env_scores[e]).sum::<f64>()
                        / members as f64,
                }
            })
            .collect();
        self.state.generation += 1;
        self.state.elapsed_seconds += started.elapsed().as_secs_f64();
        Ok(GenerationRecord {
            generation,
            fitness: FitnessStats::of(&fitness),
            best_so_far: self.state.best.as_ref().map_or(f64::NAN, |b| b.fitness),
            improved,
            envs,
            sigma: telemetry.sigma,
            telemetry: telemetry.extra,
            env_steps: output.env_steps,
            timing: Timing {
                ask: (asked - started).as_secs_f64(),
                evaluate: (evaluated - asked).as_secs_f64(),
                tell: (told - evaluated).as_secs_f64(),
                cpu,
            },
        })
    }
}
