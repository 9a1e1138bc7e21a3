//! The job spec: everything that determines a run. Every field has a default equal to the
//! reference protocol, so `{"envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]}` is the
//! paper's experiment.

use super::cost::{JobCost, JobSizes};
use super::fitness::{LifetimeConfig, ReturnBounds};
use super::strategies::{FieldError, StrategyConfig};
use crate::envs::{self, EnvInfo};
use crate::exec::{ExecutorChoice, Protocol};
use crate::json::{self, JsonError};
use crate::model::{ModelConfig, Topology};
use serde::{Deserialize, Serialize};

/// An environment of the job: a name, optionally with its own normalisation bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum EnvEntry {
    Name(String),
    Detailed(EnvOverride),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvOverride {
    pub name: String,
    /// Episode return that normalises to 0 (default: the environment's own).
    pub return_min: Option<f64>,
    /// Episode return that normalises to 1.
    pub return_max: Option<f64>,
}

impl EnvEntry {
    pub fn name(&self) -> &str {
        match self {
            EnvEntry::Name(name) => name,
            EnvEntry::Detailed(o) => &o.name,
        }
    }
}

/// The `model` section: sizes and wiring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct ModelSpec {
    pub nodes: usize,
    pub msg_dims: usize,
    pub node_types: usize,
    pub topology: Topology,
}

impl Default for ModelSpec {
    fn default() -> Self {
        let m = ModelConfig::default();
        ModelSpec {
            nodes: m.nodes,
            msg_dims: m.msg_dims,
            node_types: m.node_types,
            topology: Topology::default(),
        }
    }
}

impl ModelSpec {
    pub fn config(&self) -> ModelConfig {
        ModelConfig {
            nodes: self.nodes,
            msg_dims: self.msg_dims,
            node_types: self.node_types,
        }
    }
}

/// Rules that end a job before `generations`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct StopRules {
    /// Stop once the best fitness so far reaches this.
    pub target_fitness: Option<f64>,
    /// Stop after this many generations without a new best.
    pub stagnation_generations: Option<u64>,
    /// Stop at the first generation boundary after this much wall-clock time.
    pub max_wall_seconds: Option<f64>,
}

/// A complete, validated description of one evolution job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub envs: Vec<EnvEntry>,
    #[serde(default)]
    pub model: ModelSpec,
    #[serde(default)]
    pub lifetime: LifetimeConfig,
    #[serde(default)]
    pub strategy: StrategyConfig,
    #[serde(default = "defaults::generations")]
    #[schema(default = defaults::generations)]
    pub generations: u64,
    #[serde(default)]
    pub stop: StopRules,
    #[serde(default = "defaults::seed")]
    #[schema(default = defaults::seed)]
    pub seed: u64,
    #[serde(default)]
    pub executor: ExecutorChoice,
    /// Id of a stored genome whose values start the strategy mean.
    #[serde(default)]
    pub init_genome: Option<String>,
    /// Write a checkpoint every this many generations.
    #[serde(default = "defaults::checkpoint_interval")]
    #[schema(default = defaults::checkpoint_interval)]
    pub checkpoint_interval: u64,
    /// Keep the strategy mean as a genome every this many generations.
    #[serde(default = "defaults::mean_genome_interval")]
    #[schema(default = defaults::mean_genome_interval)]
    pub mean_genome_interval: u64,
    /// Higher runs first.
    #[serde(default)]
    pub priority: i32,
}

mod defaults {
    pub fn generations() -> u64 {
        10_000
    }
    pub fn seed() -> u64 {
        100
    }
    pub fn checkpoint_interval() -> u64 {
        10
    }
    pub fn mean_genome_interval() -> u64 {
        100
    }
}

/// The bounds of a spec live with every other bound, in [`crate::limits`].
pub use crate::limits::spec as limits;

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError::new(field, message)
}

use crate::limits::in_range;

impl JobSpec {
    /// The one way in: parses and validates a spec. Errors name the offending field
    /// (`lifetime.episodes`), or the line and column of a syntax error.
    pub fn parse(bytes: &[u8]) -> Result<JobSpec, JsonError> {
        let spec: JobSpec = json::parse_object(bytes)?;
        spec.validate()?;
        Ok(spec)
    }

    /// [`JobSpec::parse`] with every error as a [`FieldError`].
    pub fn from_json(text: &str) -> Result<JobSpec, FieldError> {
        Ok(JobSpec::parse(text.as_bytes())?)
    }

    /// Checks every value against its allowed range; the error is the first found and
    /// carries every other one (`FieldError::also`).
    pub fn validate(&self) -> Result<(), FieldError> {
        use limits::*;
        let l = &self.lifetime;
        let checks = [
            self.check_name(),
            check_tags(&self.tags),
            self.check_envs(),
            self.check_model(),
            EPISODES.check(l.episodes),
            EVAL_REPEATS.check(l.eval_repeats),
            self.strategy.validate(),
            GENERATIONS.check(self.generations),
            CHECKPOINT_INTERVAL.check(self.checkpoint_interval),
            MEAN_GENOME_INTERVAL.check(self.mean_genome_interval),
            PRIORITY.check(self.priority),
            self.check_stop(),
            self.check_init_genome(),
        ];
        FieldError::all(checks.into_iter().filter_map(Result::err))?;
        // Products of the sizes above, checked once each is in range: memory, work per
        // generation, checkpoint size.
        self.cost().map(drop)
    }

    fn check_name(&self) -> Result<(), FieldError> {
        match self.name.chars().count() {
            n if n > limits::MAX_NAME_CHARS => Err(err(
                "name",
                format!("at most {} characters", limits::MAX_NAME_CHARS),
            )),
            _ => Ok(()),
        }
    }

    fn check_envs(&self) -> Result<(), FieldError> {
        limits::check_env_count(self.envs.len())?;
        for (i, entry) in self.envs.iter().enumerate() {
            let field = format!("envs[{i}]");
            let Some(info) = envs::info(entry.name()) else {
                return Err(err(
                    field,
                    format!(
                        "unknown environment {:?}; allowed: {}",
                        entry.name(),
                        envs::names().join(", ")
                    ),
                ));
            };
            if self.envs[..i].iter().any(|e| e.name() == entry.name()) {
                return Err(err(field, format!("{} is listed twice", entry.name())));
            }
            let bounds = self.bounds_of(entry, info);
            if !bounds.min.is_finite() || !bounds.max.is_finite() || bounds.max <= bounds.min {
                return Err(err(
                    format!("{field}.return_max"),
                    "return_min and return_max must be finite with return_max > return_min",
                ));
            }
        }
        Ok(())
    }

    /// The model's sizes; its nodes must hold the largest environment's inputs and outputs.
    fn check_model(&self) -> Result<(), FieldError> {
        let m = &self.model;
        let needed = self
            .env_infos()
            .iter()
            .map(|i| i.obs_dim + i.action_space.output_nodes() + 1)
            .max()
            .unwrap_or(1);
        in_range("model.nodes", m.nodes, needed, limits::NODES.max as usize)?;
        m.config().validate()?;
        m.topology.validate("model.topology")
    }

    fn check_stop(&self) -> Result<(), FieldError> {
        if let Some(target) = self.stop.target_fitness
            && !target.is_finite()
        {
            return Err(err("stop.target_fitness", "must be a finite number"));
        }
        if let Some(n) = self.stop.stagnation_generations {
            limits::STAGNATION.check(n)?;
        }
        match self.stop.max_wall_seconds {
            Some(s) if !(s.is_finite() && s > 0.0) => Err(err(
                "stop.max_wall_seconds",
                "must be a positive number of seconds",
            )),
            _ => Ok(()),
        }
    }

    fn check_init_genome(&self) -> Result<(), FieldError> {
        match &self.init_genome {
            Some(id) if id.is_empty() || id.len() > limits::MAX_ID_CHARS => Err(err(
                "init_genome",
                format!(
                    "must be a genome id of 1 to {} characters",
                    limits::MAX_ID_CHARS
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The sizes a job's cost depends on.
    pub fn sizes(&self) -> JobSizes {
        JobSizes {
            model: self.model.config(),
            strategy: self.strategy.name,
            popsize: self.strategy.popsize,
            eval_repeats: self.lifetime.eval_repeats,
            envs: self.env_infos(),
            protocol: self.protocol(),
        }
    }

    /// What a generation of this job costs ([`JobCost::of`]): `Err` names the field that makes
    /// it too costly.
    pub fn cost(&self) -> Result<JobCost, FieldError> {
        JobCost::of(&self.sizes())
    }

    /// The environments, in spec order. Call only on a validated spec.
    pub fn env_infos(&self) -> Vec<&'static EnvInfo> {
        self.envs
            .iter()
            .filter_map(|e| envs::info(e.name()))
            .collect()
    }

    fn bounds_of(&self, entry: &EnvEntry, info: &EnvInfo) -> ReturnBounds {
        let (min, max) = match entry {
            EnvEntry::Name(_) => (None, None),
            EnvEntry::Detailed(o) => (o.return_min, o.return_max),
        };
        ReturnBounds {
            min: min.unwrap_or(info.return_min),
            max: max.unwrap_or(info.return_max),
        }
    }

    /// Normalisation bounds per environment, in spec order.
    pub fn return_bounds(&self) -> Vec<ReturnBounds> {
        self.envs
            .iter()
            .zip(self.env_infos())
            .map(|(entry, info)| self.bounds_of(entry, info))
            .collect()
    }

    pub fn protocol(&self) -> Protocol {
        Protocol {
            episodes: self.lifetime.episodes,
            mode: self.lifetime.episode_mode,
        }
    }

    /// A display name: the given one, or the environments.
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            self.envs
                .iter()
                .map(|e| e.name())
                .collect::<Vec<_>>()
                .join("+")
        } else {
            self.name.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envs_alone_is_the_reference_protocol() {
        let spec =
            JobSpec::from_json(r#"{"envs": ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]}"#)
                .unwrap();
        assert_eq!(spec.model.config(), ModelConfig::default());
        assert_eq!(spec.lifetime, LifetimeConfig::default());
        assert_eq!(spec.strategy, StrategyConfig::default());
        assert_eq!(spec.strategy.popsize, 128);
        assert_eq!(spec.strategy.sigma0, 1.0);
        assert_eq!(spec.generations, 10_000);
        assert_eq!(spec.seed, 100);
        assert_eq!(spec.model.config().param_count(), 565);
    }

    fn field_of(json: &str) -> String {
        JobSpec::from_json(json).unwrap_err().field
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{}"#), "envs");
        assert_eq!(field_of(r#"{"envs": []}"#), "envs");
        assert_eq!(field_of(r#"{"envs": ["Nope-v0"]}"#), "envs[0]");
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "lifetime": {"episodes": 0}}"#),
            "lifetime.episodes"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "lifetime": {"episodes": "x"}}"#),
            "lifetime.episodes"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "model": {"nodes": 5}}"#),
            "model.nodes"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "model": {"topology": {"p_hh": 1.5}}}"#),
            "model.topology.p_hh"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "bogus": 1}"#),
            "bogus"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "lifetime": {"bogus": 1}}"#),
            "lifetime.bogus"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "strategy": {"popsize": 1}}"#),
            "strategy.popsize"
        );
        assert_eq!(
            field_of(r#"{"envs": [{"name": "CartPole-v1", "return_min": 5, "return_max": 1}]}"#),
            "envs[0].return_max"
        );
        assert_eq!(
            field_of(r#"{"envs": ["CartPole-v1"], "stop": {"max_wall_seconds": -1}}"#),
            "stop.max_wall_seconds"
        );
    }

    #[test]
    fn unknown_environment_lists_the_allowed_ones() {
        let e = JobSpec::from_json(r#"{"envs": ["Nope-v0"]}"#).unwrap_err();
        assert!(e.message.contains("CartPole-v1") && e.message.contains("Pendulum-v1"));
    }

    #[test]
    fn overridden_bounds_apply() {
        let spec = JobSpec::from_json(
            r#"{"envs": [{"name": "Pendulum-v1", "return_min": -1000, "return_max": 0}, "CartPole-v1"]}"#,
        )
        .unwrap();
        let b = spec.return_bounds();
        assert_eq!((b[0].min, b[0].max), (-1000.0, 0.0));
        assert_eq!((b[1].min, b[1].max), (8.0, 500.0));
    }
}
