//! What a queued job does, as one type: [`JobPayload`]. A payload is made only by its parsers
//! ([`JobPayload::evolve`] from the bytes a user sent, [`JobPayload::evaluate`] from an
//! evaluation request and the genome's model), which validate it, so holding one means it was
//! valid when it was submitted. The store keeps payloads as JSON beside their kind and decodes
//! them where it reads a row, without checking them again: a worker re-checks only what can
//! change after submission (that a referenced genome still exists).

use super::JobSpec;
use super::evaluation::EvaluationSpec;
use crate::json::JsonError;
use crate::limits::FieldError;
use crate::model::ModelConfig;
use serde::{Deserialize, Serialize};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Evolve genomes (payload: a [`JobSpec`]).
    Evolve,
    /// Evaluate a stored genome (payload: an [`EvaluationSpec`]).
    Evaluate,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Evolve => "evolve",
            JobKind::Evaluate => "evaluate",
        }
    }

    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Evolve, JobKind::Evaluate]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A job's validated spec, by kind. It serialises as the bare spec (clients see the same JSON
/// they sent, with defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // One per job, never stored in bulk.
pub enum JobPayload {
    Evolve(JobSpec),
    Evaluate(EvaluationSpec),
}

impl JobPayload {
    /// An evolution job from a JSON spec: parsed and validated ([`JobSpec::parse`]).
    pub fn evolve(bytes: &[u8]) -> Result<JobPayload, JsonError> {
        Ok(JobPayload::Evolve(JobSpec::parse(bytes)?))
    }

    /// An evaluation of a genome of `model`: its ranges, and whether that genome can run it.
    pub fn evaluate(spec: EvaluationSpec, model: &ModelConfig) -> Result<JobPayload, FieldError> {
        spec.validate()?;
        spec.check_model(model)?;
        Ok(JobPayload::Evaluate(spec))
    }

    /// A payload the store holds, as JSON text, for a job of `kind`. Not validated again (see
    /// the module comment).
    pub fn decode(kind: JobKind, json: &str) -> Result<JobPayload, serde_json::Error> {
        Ok(match kind {
            JobKind::Evolve => JobPayload::Evolve(serde_json::from_str(json)?),
            JobKind::Evaluate => JobPayload::Evaluate(serde_json::from_str(json)?),
        })
    }

    /// The payload as the store keeps it.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).expect("a payload serialises")
    }

    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::Evolve(_) => JobKind::Evolve,
            JobPayload::Evaluate(_) => JobKind::Evaluate,
        }
    }

    /// Generations the job asks for (an evaluation is one).
    pub fn generations(&self) -> u64 {
        match self {
            JobPayload::Evolve(spec) => spec.generations,
            JobPayload::Evaluate(_) => 1,
        }
    }

    /// The job's display name.
    pub fn name(&self) -> String {
        match self {
            JobPayload::Evolve(spec) => spec.display_name(),
            JobPayload::Evaluate(spec) => format!(
                "evaluate {} on {}",
                spec.genome_id.get(..8).unwrap_or(&spec.genome_id),
                spec.envs.join("+")
            ),
        }
    }

    pub fn tags(&self) -> Vec<String> {
        match self {
            JobPayload::Evolve(spec) => spec.tags.clone(),
            JobPayload::Evaluate(_) => vec!["evaluation".into()],
        }
    }

    /// The environment names, in spec order.
    pub fn env_names(&self) -> Vec<String> {
        match self {
            JobPayload::Evolve(spec) => spec.envs.iter().map(|e| e.name().to_string()).collect(),
            JobPayload::Evaluate(spec) => spec.envs.clone(),
        }
    }

    /// Which executors may run the job.
    pub fn executor(&self) -> crate::exec::ExecutorChoice {
        match self {
            JobPayload::Evolve(spec) => spec.executor,
            JobPayload::Evaluate(_) => crate::exec::ExecutorChoice::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_round_trips_through_the_store_encoding_by_kind() {
        let payload = JobPayload::evolve(br#"{"envs": ["CartPole-v1"]}"#).unwrap();
        let text = payload.encode();
        assert_eq!(JobPayload::decode(JobKind::Evolve, &text).unwrap(), payload);
        assert!(JobPayload::decode(JobKind::Evaluate, &text).is_err());
    }

    #[test]
    fn an_invalid_spec_is_never_a_payload() {
        let e = JobPayload::evolve(br#"{"envs": ["CartPole-v1"], "strategy": {"popsize": 0}}"#)
            .unwrap_err();
        assert!(
            matches!(e, JsonError::Value(ref f) if f.field == "strategy.popsize"),
            "{e}"
        );
    }
}
