//! What the store holds, as the rest of the program sees it.

pub use crate::evolution::JobKind;
use crate::evolution::JobPayload;
pub use crate::evolution::compute::JobCompute;
use crate::model::{ModelConfig, Topology};
use serde::{Deserialize, Serialize};

/// A job's lifecycle: queued → running → succeeded | failed | cancelled (and back to queued on
/// resume or when a lease expires).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

/// A job as clients see it (the lease token stays inside the store and the worker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub name: String,
    pub tags: Vec<String>,
    /// Free text kept with the job (`PATCH /api/v1/jobs/{id}`); empty until written.
    #[serde(default)]
    pub notes: String,
    /// The job's spec: a `JobSpec` for `evolve` jobs, an `EvaluationSpec` for `evaluate` jobs.
    #[schema(value_type = Object)]
    pub spec: JobPayload,
    pub status: JobStatus,
    pub priority: i32,
    /// Generations completed.
    pub generation: u64,
    /// Generations asked for.
    pub generations: u64,
    #[schema(required = true)]
    pub best_fitness: Option<f64>,
    pub cancel_requested: bool,
    #[schema(required = true)]
    pub worker_id: Option<String>,
    #[schema(required = true)]
    pub lease_expires_at: Option<i64>,
    /// How many times a worker has claimed the job.
    pub attempts: u32,
    /// Runs in a row that ended in a crash (a panic, or a worker that died and let its lease
    /// expire) without getting past the generation of the previous crash; the job fails at
    /// `limits::worker::MAX_CRASHES`.
    pub crashes: u32,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(required = true)]
    pub stop_reason: Option<String>,
    #[schema(required = true)]
    pub executor: Option<String>,
    #[schema(required = true)]
    pub device: Option<String>,
    /// Why the job's last run was on its executor (the spec's `executor` against the worker's).
    #[schema(required = true)]
    pub placement: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[schema(required = true)]
    pub started_at: Option<i64>,
    #[schema(required = true)]
    pub finished_at: Option<i64>,
    /// Recorded elsewhere and imported (`sfnn push`, `POST /api/v1/imports`): `running` while
    /// its upload is under way; never resumed here (there is no checkpoint to resume from).
    #[serde(default)]
    pub imported: bool,
    /// The sweep that queued the job, if one did.
    #[schema(required = true)]
    pub sweep: Option<SweepMembership>,
    /// What the job's recorded generations cost, summed over every run of it.
    #[serde(default)]
    pub compute: JobCompute,
}

/// Where a claimed job runs (`Store::set_executor`).
#[derive(Debug, Clone, Copy)]
pub struct RunPlacement<'a> {
    /// `cpu` or `cuda`.
    pub executor: &'a str,
    /// The device in words (CPU model and threads, GPU name).
    pub device: &'a str,
    /// The processor and the threads used, for the compute account.
    pub machine: &'a str,
    /// Why on this executor (the spec's `executor` against the worker's).
    pub reason: &'a str,
}

/// A job's place in its sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepMembership {
    pub id: String,
    /// The values the sweep's axes gave this job.
    #[schema(value_type = Object)]
    pub values: serde_json::Map<String, serde_json::Value>,
    /// The same less the seed: the jobs of one variant differ only in their seed.
    #[schema(value_type = Object)]
    pub variant: serde_json::Map<String, serde_json::Value>,
}

impl SweepMembership {
    pub fn new(id: String, values: serde_json::Map<String, serde_json::Value>) -> Self {
        let mut variant = values.clone();
        variant.remove(crate::evolution::sweep::SEED_AXIS);
        SweepMembership {
            id,
            values,
            variant,
        }
    }
}

/// A sweep: the spec and axes as submitted, and its jobs grouped by variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Sweep {
    pub id: String,
    pub name: String,
    /// The spec every combination started from.
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
    /// Spec fields by dotted path, each with the values tried.
    #[schema(value_type = Object)]
    pub axes: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    pub created_at: i64,
    /// The jobs, in the order the combinations were expanded.
    pub jobs: Vec<Job>,
    /// The jobs grouped by variant, in order of first appearance.
    pub variants: Vec<SweepVariant>,
    /// What all its jobs used.
    pub compute: JobCompute,
}

/// The jobs of one variant of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepVariant {
    /// `strategy.sigma0=0.1, ...`, or `all` where the sweep varies only the seed.
    pub label: String,
    #[schema(value_type = Object)]
    pub variant: serde_json::Map<String, serde_json::Value>,
    pub job_ids: Vec<String>,
    /// What the variant's jobs used.
    pub compute: JobCompute,
}

/// A sweep in a list: what it is, without its jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SweepSummary {
    pub id: String,
    pub name: String,
    #[schema(value_type = Object)]
    pub axes: std::collections::BTreeMap<String, Vec<serde_json::Value>>,
    pub jobs: u64,
    pub created_at: i64,
}

/// A job to queue: a validated payload (which gives the kind and the generations asked for),
/// with a name and tags (the payload's own by [`NewJob::new`]).
#[derive(Debug, Clone)]
pub struct NewJob {
    pub payload: JobPayload,
    pub name: String,
    pub tags: Vec<String>,
    pub priority: i32,
}

impl NewJob {
    pub fn new(payload: JobPayload, priority: i32) -> NewJob {
        NewJob {
            name: payload.name(),
            tags: payload.tags(),
            payload,
            priority,
        }
    }
}

/// Whether a worker still holds the lease of its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    Held,
    CancelRequested,
    Lost,
}

/// A job claimed by a worker, with the token that fences its writes.
#[derive(Debug, Clone)]
pub struct Claim {
    pub job: Job,
    pub lease_token: String,
}

/// What `PATCH /api/v1/jobs/{id}` changes: each field given replaces the job's, the others
/// stay. The job's spec keeps the name and tags it was submitted with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobUpdate {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// Which jobs to list or act on.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub tag: Option<String>,
    pub kind: Option<JobKind>,
    /// Only the jobs of this sweep.
    pub sweep: Option<String>,
    /// Only jobs whose name contains this, ignoring case (listing only).
    pub name_contains: Option<String>,
}

/// What a job list is ordered by; ties go by job id in the same direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Created,
    /// The name, lower-cased.
    Name,
    /// The best fitness; jobs without one count as lowest.
    Best,
    Generation,
    Status,
}

/// A job list's order: a key and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobSort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for JobSort {
    /// Newest first.
    fn default() -> Self {
        JobSort {
            key: SortKey::Created,
            descending: true,
        }
    }
}

impl JobSort {
    const KEYS: [(SortKey, &'static str); 5] = [
        (SortKey::Created, "created"),
        (SortKey::Name, "name"),
        (SortKey::Best, "best"),
        (SortKey::Generation, "generation"),
        (SortKey::Status, "status"),
    ];

    /// Every value `parse` accepts: each key ascending, then descending (`-key`).
    pub fn allowed() -> Vec<String> {
        let keys = Self::KEYS.iter().map(|(_, name)| name.to_string());
        keys.clone().chain(keys.map(|k| format!("-{k}"))).collect()
    }

    /// `key` ascending or `-key` descending.
    pub fn parse(text: &str) -> Option<JobSort> {
        let (descending, name) = match text.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, text),
        };
        let key = Self::KEYS.iter().find(|(_, n)| *n == name)?.0;
        Some(JobSort { key, descending })
    }

    pub fn as_string(self) -> String {
        let name = Self::KEYS
            .iter()
            .find(|(k, _)| *k == self.key)
            .expect("every key")
            .1;
        if self.descending {
            format!("-{name}")
        } else {
            name.to_string()
        }
    }
}

/// A sort key's value as the store compares it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Real(f64),
    Text(String),
}

/// A position in a sorted job list: the sort, and the sort value and id of the last job of the
/// previous page. Opaque to clients (hex of a small JSON array), so any name can travel in a
/// query string.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub sort: JobSort,
    pub value: SortValue,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::json!([self.sort.as_string(), self.value, self.id]).to_string();
        json.bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        if !text.len().is_multiple_of(2) || !text.is_ascii() {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let (sort, value, id): (String, SortValue, String) = serde_json::from_slice(&bytes).ok()?;
        let sort = JobSort::parse(&sort)?;
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let valid_value = matches!(
            (sort.key, &value),
            (SortKey::Created | SortKey::Generation, SortValue::Int(_))
                | (SortKey::Name | SortKey::Status, SortValue::Text(_))
                | (SortKey::Best, SortValue::Real(_) | SortValue::Int(_))
        );
        (valid_id && valid_value).then_some(Cursor { sort, value, id })
    }
}

/// One page of jobs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl JobPage {
    /// The page of `jobs` (with each one's sort value), read `limit + 1` at a time: the extra
    /// one, when there, says that another page follows, which starts after the page's last job.
    pub(super) fn of(mut jobs: Vec<(Job, SortValue)>, sort: JobSort, limit: u32) -> JobPage {
        let next_cursor = if jobs.len() > limit as usize {
            jobs.truncate(limit as usize);
            jobs.last().map(|(job, value)| {
                Cursor {
                    sort,
                    value: value.clone(),
                    id: job.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        JobPage {
            jobs: jobs.into_iter().map(|(job, _)| job).collect(),
            next_cursor,
        }
    }
}

/// How fast an executor simulated recent generations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Throughput {
    /// SFNN steps (one network step per environment step of a lifetime) per second of
    /// generation (ask, evaluate and tell).
    pub steps_per_s: f64,
    /// Generations the measurement sums over.
    pub generations: u64,
}

/// The numbers a fitness chart needs from one generation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub generation: u64,
    pub best: f64,
    pub mean: f64,
    pub worst: f64,
    pub best_so_far: f64,
    /// Environment steps of the generation (0 where an old record lacks them).
    pub env_steps: u64,
    /// The generation's seconds: ask, evaluate and tell.
    pub wall_seconds: f64,
}

/// Why a genome was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GenomeKind {
    /// The best of a generation that improved the best so far.
    GenerationBest,
    /// The strategy mean, every `genome_retention.mean_every` generations.
    StrategyMean,
    /// The best genome of the whole run, at its end.
    FinalBest,
    /// The strategy mean at the end of the run.
    FinalMean,
    /// Uploaded by a user.
    Uploaded,
}

impl GenomeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GenomeKind::GenerationBest => "generation_best",
            GenomeKind::StrategyMean => "strategy_mean",
            GenomeKind::FinalBest => "final_best",
            GenomeKind::FinalMean => "final_mean",
            GenomeKind::Uploaded => "uploaded",
        }
    }

    pub fn parse(s: &str) -> Option<GenomeKind> {
        [
            GenomeKind::GenerationBest,
            GenomeKind::StrategyMean,
            GenomeKind::FinalBest,
            GenomeKind::FinalMean,
            GenomeKind::Uploaded,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A genome to store.
#[derive(Debug, Clone)]
pub struct NewGenome {
    pub job_id: Option<String>,
    pub generation: Option<u64>,
    pub kind: GenomeKind,
    pub fitness: Option<f64>,
    pub model: ModelConfig,
    pub values: Vec<f32>,
    pub name: Option<String>,
    /// The wiring it was made with, where its file said (uploads, imports); `None` for a
    /// job's genomes, whose job's spec says.
    pub topology: Option<Topology>,
}

/// A stored genome's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GenomeMeta {
    pub id: String,
    #[schema(required = true)]
    pub job_id: Option<String>,
    #[schema(required = true)]
    pub generation: Option<u64>,
    pub kind: GenomeKind,
    #[schema(required = true)]
    pub fitness: Option<f64>,
    pub model: ModelConfig,
    pub param_count: usize,
    /// SHA-256 of the raw little-endian f32 values.
    pub sha256: String,
    #[schema(required = true)]
    pub name: Option<String>,
    /// The wiring it was made with, as the file it was uploaded or imported in said; `null`
    /// for a job's genomes (their job's spec says) and files that did not say.
    #[serde(default)]
    #[schema(required = true)]
    pub topology: Option<Topology>,
    pub created_at: i64,
}

/// SHA-256 of raw little-endian f32 values, hex.
pub fn genome_sha256(values: &[f32]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for v in values {
        hasher.update(v.to_le_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_any_name_and_refuse_what_no_page_returned() {
        let cursor = Cursor {
            sort: JobSort::parse("-name").unwrap(),
            value: SortValue::Text("50% \"σ\" & co_".into()),
            id: uuid::Uuid::new_v4().to_string(),
        };
        let text = cursor.encode();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        assert_eq!(Cursor::decode(&text), Some(cursor));
        let best = Cursor {
            sort: JobSort::parse("best").unwrap(),
            value: SortValue::Real(-1e308),
            id: "a-1".into(),
        };
        assert_eq!(Cursor::decode(&best.encode()), Some(best));
        let hex = |json: &str| json.bytes().map(|b| format!("{b:02x}")).collect::<String>();
        // A sort value of the wrong type, an unknown sort, a bad id, not hex.
        for bad in [
            hex(r#"["created", "x", "a"]"#),
            hex(r#"["fitness", 1, "a"]"#),
            hex(r#"["created", 1, "a b"]"#),
            "zz".into(),
            "abc".into(),
        ] {
            assert_eq!(Cursor::decode(&bad), None, "{bad}");
        }
    }

    #[test]
    fn every_allowed_sort_parses_and_prints_back() {
        let allowed = JobSort::allowed();
        assert_eq!(allowed.len(), 10);
        for text in &allowed {
            assert_eq!(&JobSort::parse(text).unwrap().as_string(), text);
        }
        assert_eq!(JobSort::parse("-created"), Some(JobSort::default()));
        assert_eq!(JobSort::parse("--name"), None);
    }
}
