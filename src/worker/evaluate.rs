//! Evaluation jobs: a stored genome on chosen environments, episodes and seeds (meta-testing a
//! genome on environments it never saw).

use super::{Outcome, Worker, WorkerError, blocking};
use crate::envs;
use crate::evolution::cost::check_evaluation;
use crate::evolution::strategies::FieldError;
use crate::evolution::{LifetimeConfig, ReturnBounds};
use crate::exec::{EpisodeMode, EvalRequest, Protocol, Sampler};
use crate::model::{ModelConfig, Topology};
use crate::store::Claim;
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

fn default_episodes() -> usize {
    8
}

fn default_seeds() -> Vec<u64> {
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
        if self.envs.is_empty() || self.envs.len() > 8 {
            return Err(err(
                "envs",
                format!(
                    "give 1 to 8 environments, from: {}",
                    envs::names().join(", ")
                ),
            ));
        }
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
        if !(1..=100).contains(&self.episodes) {
            return Err(err(
                "episodes",
                format!("must be between 1 and 100, got {}", self.episodes),
            ));
        }
        if self.seeds.is_empty() || self.seeds.len() > 256 {
            return Err(err("seeds", "give 1 to 256 seeds".into()));
        }
        self.topology.validate("topology")
    }
}

impl EvaluationSpec {
    /// Checks what evaluating a genome of `model` costs (memory, work) against the bounds of a
    /// generation: the genome's size is known only once it is looked up.
    pub fn check_cost(&self, model: &ModelConfig) -> Result<(), FieldError> {
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

impl Worker {
    pub(super) async fn evaluate(&self, claim: &Claim) -> Result<Outcome, WorkerError> {
        let (id, token) = (claim.job.id.as_str(), claim.lease_token.as_str());
        let spec: EvaluationSpec = serde_json::from_value(claim.job.spec.clone())
            .map_err(|e| WorkerError::Invalid(e.to_string()))?;
        spec.validate()
            .map_err(|e| WorkerError::Invalid(format!("{}: {}", e.field, e.message)))?;
        let meta = self
            .store
            .genome_meta(&spec.genome_id)
            .await?
            .ok_or_else(|| {
                WorkerError::Invalid(format!("genome {} does not exist", spec.genome_id))
            })?;
        spec.check_cost(&meta.model)
            .map_err(|e| WorkerError::Invalid(e.to_string()))?;
        let values = self
            .store
            .genome_values(&spec.genome_id)
            .await?
            .ok_or_else(|| WorkerError::Invalid("genome values missing".into()))?;
        let executor = self.config.executor.clone();
        self.store
            .set_executor(id, token, executor.name(), &executor.device())
            .await?;
        let spec_for_thread = spec.clone();
        let result = blocking(move || {
            evaluate_genome(&spec_for_thread, meta.model, &values, executor.as_ref())
        })
        .await??;
        self.store
            .finish_evaluation(
                id,
                token,
                &spec.genome_id,
                &serde_json::to_value(&result).expect("result serialises"),
            )
            .await?;
        Ok(Outcome::Finished)
    }
}

/// Runs the evaluation on `executor`.
pub fn evaluate_genome(
    spec: &EvaluationSpec,
    model: crate::model::ModelConfig,
    values: &[f32],
    executor: &dyn crate::exec::Executor,
) -> Result<EvaluationResult, WorkerError> {
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
        let info = envs::info(name).ok_or_else(|| WorkerError::Invalid(name.clone()))?;
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
