//! Rows as both backends hand them back, and the one place each becomes a model value.
//!
//! Field types are PostgreSQL's column types; SQLite's integers decode into them as well
//! (`bool` from 0/1, `i32` from an integer).

use super::models::*;
use super::{Result, StoreError};
use crate::evolution::JobPayload;
use crate::model::ModelConfig;

/// A `job` row (`select *`).
#[derive(sqlx::FromRow)]
pub(super) struct JobRow {
    job_id: String,
    kind: String,
    name: String,
    tags: String,
    notes: String,
    spec: String,
    status: String,
    priority: i32,
    generation: i64,
    generations: i64,
    best_fitness: Option<f64>,
    cancel_requested: bool,
    worker_id: Option<String>,
    lease_expires_at: Option<i64>,
    attempts: i32,
    crashes: i32,
    error: Option<String>,
    stop_reason: Option<String>,
    executor: Option<String>,
    device: Option<String>,
    placement: Option<String>,
    created_at: i64,
    updated_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    sweep_id: Option<String>,
    sweep_values: Option<String>,
    imported: bool,
    cpu_seconds: f64,
    wall_seconds: f64,
    env_steps: i64,
    machine: Option<String>,
    /// The lower-cased name as the database spells it, where a job list sorts by name.
    #[sqlx(default)]
    sort_name: Option<String>,
}

impl JobRow {
    /// The value of `key` by which a job list sorted on it ordered this row.
    pub(super) fn sort_value(&mut self, key: SortKey) -> SortValue {
        match key {
            SortKey::Created => SortValue::Int(self.created_at),
            SortKey::Generation => SortValue::Int(self.generation),
            SortKey::Best => SortValue::Real(self.best_fitness.unwrap_or(NO_FITNESS)),
            SortKey::Status => SortValue::Text(self.status.clone()),
            SortKey::Name => SortValue::Text(self.sort_name.take().unwrap_or_default()),
        }
    }

    /// The job this row holds; a value the program could not have written is
    /// [`StoreError::Corrupt`].
    pub(super) fn decode(self) -> Result<Job> {
        let kind = JobKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?;
        Ok(Job {
            id: self.job_id,
            kind,
            name: self.name,
            tags: serde_json::from_str(&self.tags).map_err(|_| corrupt("tags", &self.tags))?,
            notes: self.notes,
            spec: JobPayload::decode(kind, &self.spec).map_err(|_| corrupt("spec", &self.spec))?,
            status: parse_status(&self.status)?,
            priority: self.priority,
            generation: self.generation as u64,
            generations: self.generations as u64,
            best_fitness: self.best_fitness,
            cancel_requested: self.cancel_requested,
            worker_id: self.worker_id,
            lease_expires_at: self.lease_expires_at,
            attempts: self.attempts as u32,
            crashes: self.crashes as u32,
            error: self.error,
            stop_reason: self.stop_reason,
            executor: self.executor,
            device: self.device,
            placement: self.placement,
            created_at: self.created_at,
            updated_at: self.updated_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            imported: self.imported,
            compute: JobCompute {
                cpu_seconds: self.cpu_seconds,
                wall_seconds: self.wall_seconds,
                env_steps: self.env_steps as u64,
                sfnn_steps: self.env_steps as u64,
                machine: self.machine,
            },
            sweep: match self.sweep_id {
                Some(id) => {
                    let text = self.sweep_values.unwrap_or_else(|| "{}".into());
                    let values =
                        serde_json::from_str(&text).map_err(|_| corrupt("sweep_values", &text))?;
                    Some(SweepMembership::new(id, values))
                }
                None => None,
            },
        })
    }
}

/// Where a job list sorts by best fitness, a job without one sorts as this (below any fitness
/// an environment gives); the SQL of that sort spells the same number.
pub(super) const NO_FITNESS: f64 = -1e308;

/// The columns of a genome's metadata (its values stay behind: `param_count` is their length).
pub(super) const GENOME_COLUMNS: &str = "genome_id, job_id, generation, kind, fitness, model, \
    sha256, name, topology, cast(length(params) / 4 as bigint) as param_count, created_at";

/// A `genome` row of [`GENOME_COLUMNS`].
#[derive(sqlx::FromRow)]
pub(super) struct GenomeRow {
    genome_id: String,
    job_id: Option<String>,
    generation: Option<i64>,
    kind: String,
    fitness: Option<f64>,
    model: String,
    sha256: String,
    name: Option<String>,
    topology: Option<String>,
    param_count: i64,
    created_at: i64,
}

impl GenomeRow {
    pub(super) fn decode(self) -> Result<GenomeMeta> {
        let model: ModelConfig =
            serde_json::from_str(&self.model).map_err(|_| corrupt("model", &self.model))?;
        Ok(GenomeMeta {
            id: self.genome_id,
            job_id: self.job_id,
            generation: self.generation.map(|g| g as u64),
            kind: GenomeKind::parse(&self.kind)
                .ok_or_else(|| corrupt("genome kind", &self.kind))?,
            fitness: self.fitness,
            model,
            param_count: self.param_count as usize,
            sha256: self.sha256,
            name: self.name,
            topology: match self.topology {
                Some(text) => {
                    Some(serde_json::from_str(&text).map_err(|_| corrupt("topology", &text))?)
                }
                None => None,
            },
            created_at: self.created_at,
        })
    }
}

/// A `generation` row's chart numbers; NULL (a NaN, as stored) reads back as NaN.
#[derive(sqlx::FromRow)]
pub(super) struct PointRow {
    generation: i64,
    best: Option<f64>,
    mean: Option<f64>,
    worst: Option<f64>,
    best_so_far: Option<f64>,
    env_steps: Option<i64>,
    wall_seconds: f64,
}

impl PointRow {
    /// The columns a [`PointRow`] reads, from table `generation`.
    pub(super) const COLUMNS: &str = "generation, best, mean, worst, best_so_far, env_steps, \
         ask_s + evaluate_s + tell_s as wall_seconds";

    pub(super) fn decode(self) -> HistoryPoint {
        HistoryPoint {
            generation: self.generation as u64,
            best: nan(self.best),
            mean: nan(self.mean),
            worst: nan(self.worst),
            best_so_far: nan(self.best_so_far),
            env_steps: self.env_steps.unwrap_or(0).max(0) as u64,
            wall_seconds: self.wall_seconds,
        }
    }
}

/// A stored real that may be NULL, where the program means NaN.
pub(super) fn nan(value: Option<f64>) -> f64 {
    value.unwrap_or(f64::NAN)
}

/// A stored real: NaN is kept as NULL, as SQLite does on its own, so both backends read back
/// and aggregate alike (PostgreSQL would otherwise order NaN above every number).
pub(super) fn real(value: f64) -> Option<f64> {
    (!value.is_nan()).then_some(value)
}

/// Little-endian f32 bytes, as genomes are stored.
pub(super) fn genome_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(super) fn genome_values(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

pub(super) fn parse_status(status: &str) -> Result<JobStatus> {
    JobStatus::parse(status).ok_or_else(|| corrupt("status", status))
}

/// Stored JSON (a generation record, an evaluation result) read back.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}
