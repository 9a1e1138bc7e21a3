//! Evaluating one genome: on chosen environments, episodes and seeds, one fresh lifetime
//! (wiring, synapse states, resets) per seed. One spec, one set of limits and one code path for
//! the API's evaluate request, the evaluation job that runs it, and `sfnn eval`.

use super::cost::check_evaluation;
use super::{LifetimeConfig, ReturnBounds};
use crate::envs;
use crate::exec::inputs::{lifetime_rng, sample_variant_lifetime};
use crate::exec::{
    CpuExecutor, EpisodeMode, EvalRequest, ExecError, Executor, ExtraFeed, Protocol,
    StructureVariant,
};
use crate::limits::FieldError;
use crate::limits::spec::{
    MAX_EPISODES, MAX_EVAL_SEEDS, MAX_EXTRA_INPUT_VALUE, MAX_EXTRA_INPUTS, MAX_NODES,
    check_env_count,
};
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
    /// Meta-testing: the structure changed from what the genome was trained with.
    #[serde(default)]
    pub variant: EvaluationVariant,
}

/// A structural variant for meta-testing, each part alone or combined; the default is the
/// genome's own structure. The genome's blocks do not depend on the network's size or on which
/// input node reads what, so any of these runs the same genome on a structure it never saw.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
#[schema(default)]
pub struct EvaluationVariant {
    /// Network size N instead of the genome's model's (inputs and outputs stay the
    /// environment's; the rest are hidden nodes).
    #[schema(minimum = 1, maximum = 256)]
    pub nodes: Option<usize>,
    /// Seed of a fixed random permutation of each environment's observation: input node i reads
    /// observation `order[i]` (the result lists `input_order`). The wiring is the unpermuted one.
    pub permute_inputs: Option<u64>,
    /// Input nodes added after the observation's, wired by the same rule as the real inputs,
    /// reading noise or a constant (`extra_input_value`).
    #[schema(maximum = 16)]
    pub extra_inputs: usize,
    /// The constant the extra inputs read; absent: standard normal noise, fresh every step.
    pub extra_input_value: Option<f64>,
}

impl EvaluationVariant {
    pub fn is_reference(&self) -> bool {
        *self == EvaluationVariant::default()
    }

    /// The model a genome of `model` runs as.
    pub fn model(&self, model: ModelConfig) -> ModelConfig {
        ModelConfig {
            nodes: self.nodes.unwrap_or(model.nodes),
            ..model
        }
    }

    /// What the lifetime sampler draws.
    pub fn structure(&self) -> StructureVariant {
        StructureVariant {
            permute_inputs: self.permute_inputs,
            extra_inputs: self.extra_inputs,
            extra_feed: Some(match self.extra_input_value {
                Some(value) => ExtraFeed::Constant(value as f32),
                None => ExtraFeed::Noise,
            }),
        }
    }

    /// Checks ranges on their own; errors name `variant.<field>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(nodes) = self.nodes
            && !(1..=MAX_NODES).contains(&nodes)
        {
            return Err(FieldError::new(
                "variant.nodes",
                format!("must be between 1 and {MAX_NODES}, got {nodes}"),
            ));
        }
        if self.extra_inputs > MAX_EXTRA_INPUTS {
            return Err(FieldError::new(
                "variant.extra_inputs",
                format!(
                    "must be between 0 and {MAX_EXTRA_INPUTS}, got {}",
                    self.extra_inputs
                ),
            ));
        }
        if let Some(value) = self.extra_input_value {
            if self.extra_inputs == 0 {
                return Err(FieldError::new(
                    "variant.extra_input_value",
                    "is what extra inputs read: give extra_inputs too",
                ));
            }
            if !value.is_finite() || value.abs() > MAX_EXTRA_INPUT_VALUE {
                return Err(FieldError::new(
                    "variant.extra_input_value",
                    format!(
                        "must be a number from -{MAX_EXTRA_INPUT_VALUE} to {MAX_EXTRA_INPUT_VALUE}"
                    ),
                ));
            }
        }
        Ok(())
    }
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
        let err = |field: &str, message: String| FieldError::new(field, message);
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
        self.variant.validate()?;
        self.topology.validate("topology")
    }
}

impl EvaluationSpec {
    /// Checks that a genome of `model` can run this evaluation: every environment fits its
    /// network, and the cost (memory, work) is within the bounds of a generation. The genome's
    /// model is known only once it is looked up.
    pub fn check_model(&self, model: &ModelConfig) -> Result<(), FieldError> {
        let model = &self.variant.model(*model);
        let extra = self.variant.extra_inputs;
        for (i, name) in self.envs.iter().enumerate() {
            if let Some(info) = envs::info(name) {
                let needed = info.obs_dim + extra + info.action_space.output_nodes() + 1;
                if model.nodes < needed {
                    let (field, message) = match self.variant.nodes {
                        Some(nodes) => (
                            "variant.nodes".to_string(),
                            format!(
                                "{name} needs at least {needed} nodes (inputs, outputs and a \
                                 hidden one), got {nodes}"
                            ),
                        ),
                        None => (
                            format!("envs[{i}]"),
                            format!(
                                "{name} needs {needed} nodes{}; the genome's model has {}",
                                if extra > 0 {
                                    " with the extra inputs"
                                } else {
                                    ""
                                },
                                model.nodes
                            ),
                        ),
                    };
                    return Err(FieldError::new(field, message));
                }
            }
        }
        let infos: Vec<_> = self.envs.iter().filter_map(|n| envs::info(n)).collect();
        let protocol = Protocol {
            episodes: self.episodes,
            mode: self.episode_mode,
        };
        check_evaluation(model, &infos, protocol, self.seeds.len()).map_err(|e| {
            match self.variant.nodes {
                Some(_) if e.field == "seeds" => FieldError::new(
                    "variant.nodes",
                    format!("with this network size: {}", e.message),
                ),
                _ => e,
            }
        })
    }
}

/// Per environment, per seed: the episode returns and the reference's weighted scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EvaluationResult {
    pub genome_id: String,
    /// The network size the lifetimes ran with (the genome's, or the variant's).
    #[serde(default)]
    pub nodes: usize,
    /// The structural variant evaluated (all defaults: the genome's own structure).
    #[serde(default)]
    pub variant: EvaluationVariant,
    pub envs: Vec<EnvEvaluation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnvEvaluation {
    pub env: String,
    /// With `permute_inputs`: input node i read observation `input_order[i]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_order: Option<Vec<usize>>,
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
    let model = spec.variant.model(model);
    let structure = spec.variant.structure();
    // Input variants are fed on the CPU (the GPU kernel reads the observation as it is).
    let cpu;
    let executor = if structure.is_reference() || executor.name() == "cpu" {
        executor
    } else {
        cpu = CpuExecutor::new(0)?;
        &cpu
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
            // The stream of `Sampler { seed, .. }.lifetime(0, 0)`: with no variant, the draws of
            // an evaluation are those of generation 0's first lifetime of a job with this seed.
            let mut rng = lifetime_rng(seed, 0, 0, 0);
            let inputs = [sample_variant_lifetime(
                &model,
                &spec.topology,
                info,
                protocol,
                &structure,
                &mut rng,
            )];
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
            input_order: spec
                .variant
                .permute_inputs
                .map(|_| structure.input_order(info.obs_dim)),
            mean_weighted_return: lifetimes.iter().map(|l| l.weighted_return).sum::<f64>() / n,
            mean_score: lifetimes.iter().map(|l| l.score).sum::<f64>() / n,
            lifetimes,
        });
    }
    Ok(EvaluationResult {
        genome_id: spec.genome_id.clone(),
        nodes: model.nodes,
        variant: spec.variant,
        envs: envs_out,
    })
}
