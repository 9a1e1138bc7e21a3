//! Evaluating one genome: on chosen environments, episodes and seeds, one fresh lifetime
//! (wiring, synapse states, resets) per seed. One spec, one set of limits and one code path for
//! the API's evaluate request, the evaluation job that runs it, and `sfnn eval`.

use super::cost::check_evaluation;
use super::{LifetimeConfig, ReturnBounds};
use crate::envs;
use crate::exec::{EpisodeMode, EvalRequest, ExecError, Executor, Protocol, Sampler};
use crate::limits::FieldError;
use crate::limits::spec::{MAX_EPISODES, MAX_EVAL_SEEDS, check_env_count};
use crate::model::{ModelConfig, Topology};
use serde::{Deserialize, Serialize};

/// What to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSpec {
    pub genome_id: String,
    pub envs: Vec<String>,
    /// Episodes per lifetime (network state carried across them).
    #[serde(default = "default_episodes")]
    #[schema(default = default_episodes)]
    pub episodes: usize,
    /// One lifetime (fresh wiring, synapse states and resets) per seed.
    #[serde(default = "default_seeds")]
    #[schema(default = default_seeds)]
    pub seeds: Vec<u64>,
    #[serde(default)]
    pub episode_mode: EpisodeMode,
    #[serde(default)]
    pub topology: Topology,
}

/// Episodes per lifetime when a request does not say.
pub fn default_episodes() -> usize {
    8
}

/// Seeds when a request does not say: one lifetime.
pub fn default_seeds() -> Vec<u64> {
    vec![0]
}

impl EvaluationSpec {
    /// Checks ranges; errors name the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        let err = |field: &str, message: String| FieldError {
            field: field.to_string(),
            message,
        };
        if self.genome_id.is_empty() || self.genome_id.len() > 128 {
            return Err(err("genome_id", "must be a genome id".into()));
        }
        check_env_count(self.envs.len())?;
        for (i, name) in self.envs.iter().enumerate() {
            if envs::info(name).is_none() {
                return Err(err(
                    &format!("envs[{i}]"),
                    format!(
                        "unknown environment {name:?}; allowed: {}",
                        envs::names().join(", ")
                    ),
                ));
            }
        }
        if !(1..=MAX_EPISODES).contains(&self.episodes) {
            return Err(err(
                "episodes",
                format!(
                    "must be between 1 and {MAX_EPISODES}, got {}",
                    self.episodes
                ),
            ));
        }
        if self.seeds.is_empty() || self.seeds.len() > MAX_EVAL_SEEDS {
            return Err(err("seeds", format!("give 1 to {MAX_EVAL_SEEDS} seeds")));
        }
        self.topology.validate("topology")
    }
}

impl EvaluationSpec {
    /// Checks that a genome of `model` can run this evaluation: every environment fits its
    /// network, and the cost (memory, work) is within the bounds of a generation. The genome's
    /// model is known only once it is looked up.
    pub fn check_model(&self, model: &ModelConfig) -> Result<(), FieldError> {
        for (i, name) in self.envs.iter().enumerate() {
            if let Some(info) = envs::info(name)
                && model.nodes < info.obs_dim + info.action_space.output_nodes() + 1
            {
                return Err(FieldError::new(
                    format!("envs[{i}]"),
                    format!("{name} needs more nodes than the genome's model has"),
                ));
            }
        }
        let infos: Vec<_> = self.envs.iter().filter_map(|n| envs::info(n)).collect();
        let protocol = Protocol {
            episodes: self.episodes,
            mode: self.episode_mode,
        };
        check_evaluation(model, &infos, protocol, self.seeds.len())
    }
}

/// Per environment, per seed: the episode returns and the reference's weighted scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvaluationResult {
    pub genome_id: String,
    pub envs: Vec<EnvEvaluation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnvEvaluation {
    pub env: String,
    pub lifetimes: Vec<LifetimeEvaluation>,
    pub mean_weighted_return: f64,
    pub mean_score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LifetimeEvaluation {
    pub seed: u64,
    pub episode_returns: Vec<f64>,
    pub weighted_return: f64,
    pub score: f64,
}

/// Runs the evaluation of `values` (a genome of `model`, checked with
/// [`EvaluationSpec::check_model`]) on `executor`.
pub fn evaluate_genome(
    spec: &EvaluationSpec,
    model: ModelConfig,
    values: &[f32],
    executor: &dyn Executor,
) -> Result<EvaluationResult, ExecError> {
    let protocol = Protocol {
        episodes: spec.episodes,
        mode: spec.episode_mode,
    };
    let lifetime = LifetimeConfig {
        episodes: spec.episodes,
        episode_mode: spec.episode_mode,
        ..LifetimeConfig::default()
    };
    let mut envs_out = Vec::new();
    for name in &spec.envs {
        let info = envs::info(name)
            .ok_or_else(|| ExecError::InvalidRequest(format!("unknown environment {name:?}")))?;
        let env_list = [info];
        let bounds = [ReturnBounds {
            min: info.return_min,
            max: info.return_max,
        }];
        let mut lifetimes = Vec::new();
        for &seed in &spec.seeds {
            let sampler = Sampler {
                model: &model,
                topology: &spec.topology,
                envs: &env_list,
                protocol,
                repeats: 1,
                seed,
            };
            let inputs = sampler.generation(0, 1);
            let output = executor.evaluate(&EvalRequest {
                model,
                envs: &env_list,
                protocol,
                genomes: values,
                repeats: 1,
                lifetimes: &inputs,
            })?;
            let score = lifetime.score(&bounds, &output.returns);
            lifetimes.push(LifetimeEvaluation {
                seed,
                episode_returns: output.returns,
                weighted_return: score.env_returns[0],
                score: score.env_scores[0],
            });
        }
        let n = lifetimes.len() as f64;
        envs_out.push(EnvEvaluation {
            env: name.clone(),
            mean_weighted_return: lifetimes.iter().map(|l| l.weighted_return).sum::<f64>() / n,
            mean_score: lifetimes.iter().map(|l| l.score).sum::<f64>() / n,
            lifetimes,
        });
    }
    Ok(EvaluationResult {
        genome_id: spec.genome_id.clone(),
        envs: envs_out,
    })
}
