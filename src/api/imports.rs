//! Imports: a run recorded elsewhere (an `sfnn run` folder, sent by `sfnn push`) becomes a job
//! that reads like any other (history, charts, genomes, best fitness).
//!
//! Why `/imports` and not a `/jobs/...` route: an import is an upload session with its own
//! steps (open, add generations, add genomes, finish) and rules, none of which apply to a job the
//! server runs; its id is the job's id, so once open the job is at `/jobs/{id}` as usual.
//!
//! Why in pieces: a 10,000-generation history is about 10 MB of JSON, over the 4 MiB body
//! limit that every other request keeps. So each step is one bounded request:
//! 1. `POST /imports` with the spec (checked by the one spec parser) opens the job: `running`,
//!    `imported`, held by the import, so no worker ever claims it.
//! 2. `POST /imports/{id}/generations` adds at most `limits::import::MAX_BATCH_RECORDS`
//!    records that continue exactly from the job's `generation` (the records it holds). A batch
//!    that does not (a re-send after a lost answer, say) is refused with 422 naming
//!    `records[i].generation` and the generation expected: re-sending is never silently
//!    stored twice; a client that lost an answer reads the job and continues from its
//!    `generation`.
//! 3. `POST /imports/{id}/genomes?kind=…&generation=…` adds a genome file; the same genome sent
//!    twice is stored once (so that step may simply be retried).
//! 4. `POST /imports/{id}/finish` with the run's generation and genome counts and why it
//!    stopped: refused (409) unless the job holds exactly those, then the job is `succeeded`.
//!
//! An abandoned import stays `running` until it is finished, or cancelled (at once) and
//! deleted. Nothing is lost in between: every piece is stored before it is acknowledged.

use super::AppState;
use super::admission::admit;
use super::error::{ApiError, ApiJson, Result};
use super::extract::{Path, Query};
use super::genomes::read_genome_file;
use super::jobs::load_job;
use super::query::Count;
use super::responses::{Admission, ClosedImport, Created, JsonBody, NoSuchJob};
use crate::evolution::{GenerationRecord, JobPayload, JobSpec};
use crate::json::JsonError;
use crate::limits::{FieldError, import as limits, spec as spec_limits};
use crate::store::{GenomeKind, GenomeMeta, Job, NewGenome, NewJob};
use axum::Json;
use axum::extract::{Request, State};
use axum::routing::post;
use serde::Deserialize;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/imports", post(open))
        .route("/imports/{id}/generations", post(add_generations))
        .route("/imports/{id}/genomes", post(add_genome))
        .route("/imports/{id}/finish", post(finish))
}

/// What opens an import.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportRequest {
    /// The job spec the run was made with (its `spec.json`); checked as a submitted spec is.
    #[schema(value_type = crate::evolution::JobSpec)]
    spec: serde_json::Value,
    /// The job's name; by default the spec's.
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// The job's tags; by default the spec's.
    #[schema(max_items = 32)]
    tags: Option<Vec<String>>,
}

/// Open an import: a job that will hold a run recorded elsewhere.
#[utoipa::path(
    post,
    path = "/api/v1/imports",
    tag = "imports",
    request_body(content = ImportRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The job, `running` and `imported` until the import \
            finishes", body = Job,
            headers(("Location" = String, description = "The job's URL"))),
        JsonBody,
        Admission,
    ),
)]
async fn open(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ImportRequest>,
) -> Result<Created<Job>> {
    let bytes = serde_json::to_vec(&request.spec).expect("a JSON value serialises");
    let payload = JobPayload::evolve(&bytes).map_err(spec_error)?;
    let mut new = NewJob::new(payload, 0);
    if let JobPayload::Evolve(spec) = &new.payload {
        new.priority = spec.priority;
    }
    if let Some(name) = request.name {
        spec_limits::check_name(&name).map_err(|message| ApiError::invalid("name", message))?;
        new.name = name;
    }
    if let Some(tags) = request.tags {
        spec_limits::check_tags(&tags)?;
        new.tags = tags;
    }
    let _admitted = admit(&state).await?;
    let job = state.store.create_import(new).await?;
    Ok(Created(job))
}

/// A spec error, named under `spec`.
fn spec_error(e: JsonError) -> ApiError {
    let e = FieldError::from(e);
    let field = if e.field.is_empty() {
        "spec".to_string()
    } else {
        format!("spec.{}", e.field)
    };
    ApiError::invalid(field, e.message)
}

/// An open import's job and spec; 409 for a job that is not one.
async fn open_import(state: &AppState, id: &str) -> Result<(Job, JobSpec)> {
    let job = load_job(state, id).await?;
    if !job.imported {
        return Err(ApiError::Conflict(
            "not an imported job; jobs the server runs record their own generations".into(),
        ));
    }
    if job.status.is_finished() {
        return Err(ApiError::Conflict(format!(
            "the import is {}: nothing more can be added",
            job.status.as_str()
        )));
    }
    let JobPayload::Evolve(spec) = job.spec.clone() else {
        return Err(ApiError::Conflict("not an evolution job".into()));
    };
    Ok((job, spec))
}

/// Generation records to add to an import.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GenerationBatch {
    /// Consecutive records; the first continues from the job's `generation`.
    #[schema(min_items = 1, max_items = 1000)]
    records: Vec<GenerationRecord>,
}

/// Add generation records to an import.
#[utoipa::path(
    post,
    path = "/api/v1/imports/{id}/generations",
    tag = "imports",
    params(("id" = String, Path, description = "The import's job id (a UUID)")),
    request_body(content = GenerationBatch, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored; the job with its progress", body = Job),
        JsonBody,
        NoSuchJob,
        ClosedImport,
    ),
)]
async fn add_generations(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(batch): ApiJson<GenerationBatch>,
) -> Result<Json<Job>> {
    let count = batch.records.len();
    if !(1..=limits::MAX_BATCH_RECORDS).contains(&count) {
        return Err(ApiError::invalid(
            "records",
            format!(
                "give 1 to {} records per request, got {count}",
                limits::MAX_BATCH_RECORDS
            ),
        ));
    }
    let (job, spec) = open_import(&state, &id).await?;
    for (i, record) in batch.records.iter().enumerate() {
        check_record(record, job.generation + i as u64, &spec)
            .map_err(|e| ApiError::invalid(format!("records[{i}].{}", e.field), e.message))?;
    }
    let job = state.store.import_generations(&id, &batch.records).await?;
    Ok(Json(job))
}

/// One record of an import: where it belongs, and that it fits the spec. Fitness statistics
/// may be `null` (NaN), as a run records them; timings are finite and not negative.
fn check_record(
    record: &GenerationRecord,
    expected: u64,
    spec: &JobSpec,
) -> Result<(), FieldError> {
    if record.generation != expected {
        let held = match expected {
            0 => "holds no generations yet".to_string(),
            n => format!("holds generations 0 to {}", n - 1),
        };
        return Err(FieldError::new(
            "generation",
            format!(
                "must be {expected}, got {}: the import {held}, and records continue from \
                 there in order",
                record.generation
            ),
        ));
    }
    if record.generation >= spec.generations {
        return Err(FieldError::new(
            "generation",
            format!(
                "must be below the spec's generations ({}), got {}",
                spec.generations, record.generation
            ),
        ));
    }
    if record.envs.len() != spec.envs.len() {
        return Err(FieldError::new(
            "envs",
            format!(
                "one entry per environment of the spec ({}), got {}",
                spec.envs.len(),
                record.envs.len()
            ),
        ));
    }
    for (j, (stats, entry)) in record.envs.iter().zip(&spec.envs).enumerate() {
        if stats.env != entry.name() {
            return Err(FieldError::new(
                format!("envs[{j}].env"),
                format!(
                    "must be {:?} (the spec's order), got {:?}",
                    entry.name(),
                    stats.env
                ),
            ));
        }
    }
    for (name, value) in [
        ("timing.ask", record.timing.ask),
        ("timing.evaluate", record.timing.evaluate),
        ("timing.tell", record.timing.tell),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            return Err(FieldError::new(
                name,
                format!("must be a finite number of seconds, not negative, got {value}"),
            ));
        }
    }
    if record.telemetry.len() > limits::MAX_TELEMETRY {
        return Err(FieldError::new(
            "telemetry",
            format!(
                "at most {} values, got {}",
                limits::MAX_TELEMETRY,
                record.telemetry.len()
            ),
        ));
    }
    for (k, (name, _)) in record.telemetry.iter().enumerate() {
        let chars = name.chars().count();
        if !(1..=limits::MAX_TELEMETRY_NAME_CHARS).contains(&chars) {
            return Err(FieldError::new(
                format!("telemetry[{k}]"),
                format!(
                    "a name of 1 to {} characters, got {chars}",
                    limits::MAX_TELEMETRY_NAME_CHARS
                ),
            ));
        }
    }
    Ok(())
}

/// An import genome's parameters; both are required.
#[derive(Debug, serde::Deserialize)]
struct GenomeQuery {
    kind: Option<GenomeKind>,
    generation: Option<Count>,
}

/// Add a genome to an import: `Content-Type: application/json` (the JSON genome format) or
/// `application/octet-stream` (safetensors). The same genome (kind, generation, values) sent
/// again is stored once and answered the same.
#[utoipa::path(
    post,
    path = "/api/v1/imports/{id}/genomes",
    tag = "imports",
    params(
        ("id" = String, Path, description = "The import's job id (a UUID)"),
        ("kind" = GenomeKind, Query,
            description = "Why the run kept it: `final_best`, `final_mean`, `generation_best` \
                           or `strategy_mean` (not `uploaded`)"),
        ("generation" = u64, Query, minimum = 0,
            description = "The generation it belongs to: one the import holds already"),
    ),
    request_body(description = "The JSON genome format, or a safetensors file",
        content(
            (crate::model::GenomeFile = "application/json"),
            ("application/octet-stream"),
        )),
    responses(
        (status = 201, description = "Stored (or stored already)", body = GenomeMeta,
            headers(("Location" = String, description = "The genome's URL"))),
        JsonBody,
        NoSuchJob,
        ClosedImport,
    ),
)]
async fn add_genome(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<GenomeQuery>,
    request: Request,
) -> Result<Created<GenomeMeta>> {
    let kind = query
        .kind
        .filter(|k| *k != GenomeKind::Uploaded)
        .ok_or_else(|| {
            ApiError::invalid(
                "kind",
                "must be final_best, final_mean, generation_best or strategy_mean",
            )
        })?;
    let Count(generation) = query
        .generation
        .ok_or_else(|| ApiError::invalid("generation", "must be a generation number"))?;
    let (job, spec) = open_import(&state, &id).await?;
    if generation >= job.generation {
        return Err(ApiError::invalid(
            "generation",
            format!(
                "must be one the import holds (below {}), got {generation}: add the \
                 generations first",
                job.generation
            ),
        ));
    }
    let file = read_genome_file(&state, request).await?;
    if file.model != spec.model.config() {
        return Err(ApiError::invalid(
            "model",
            "the genome's model (nodes, msg_dims, node_types) differs from the spec's",
        ));
    }
    if file.topology.is_some_and(|t| t != spec.model.topology) {
        return Err(ApiError::invalid(
            "topology",
            "the genome's topology differs from the spec's",
        ));
    }
    let meta: GenomeMeta = state
        .store
        .import_genome(
            &id,
            &NewGenome {
                job_id: Some(id.clone()),
                generation: Some(generation),
                kind,
                fitness: file.fitness,
                model: file.model,
                values: file.values,
                name: None,
                // The job's spec says.
                topology: None,
            },
        )
        .await?;
    Ok(Created(meta))
}

/// What the client says the run holds, to finish its import.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct FinishImport {
    /// Generations the run recorded: the import must hold exactly these.
    #[schema(minimum = 1)]
    generations: u64,
    /// Genomes the run kept: the import must hold exactly these.
    genomes: u64,
    /// Why the run stopped: `generations` (all done), `target_fitness`, `stagnation` or
    /// `wall_clock`.
    stop_reason: String,
}

const STOP_REASONS: [&str; 4] = ["generations", "target_fitness", "stagnation", "wall_clock"];

/// Finish an import: check it holds the whole run, then end it as `succeeded`.
#[utoipa::path(
    post,
    path = "/api/v1/imports/{id}/finish",
    tag = "imports",
    params(("id" = String, Path, description = "The import's job id (a UUID)")),
    request_body(content = FinishImport, content_type = "application/json"),
    responses(
        (status = 200, description = "The job, succeeded", body = Job),
        JsonBody,
        NoSuchJob,
        (status = 409, description = "Not an open import, or it lacks generations or genomes \
            the run has", body = super::error::ErrorBody),
    ),
)]
async fn finish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<FinishImport>,
) -> Result<Json<Job>> {
    let (_, spec) = open_import(&state, &id).await?;
    if !(1..=spec.generations).contains(&body.generations) {
        return Err(ApiError::invalid(
            "generations",
            format!(
                "must be between 1 and the spec's generations ({}), got {}",
                spec.generations, body.generations
            ),
        ));
    }
    if !STOP_REASONS.contains(&body.stop_reason.as_str()) {
        return Err(ApiError::invalid(
            "stop_reason",
            format!("must be one of {}", STOP_REASONS.join(", ")),
        ));
    }
    let all_done = body.generations == spec.generations;
    if all_done != (body.stop_reason == "generations") {
        return Err(ApiError::invalid(
            "stop_reason",
            format!(
                "must be generations exactly when all {} generations ran, got {:?} after {}",
                spec.generations, body.stop_reason, body.generations
            ),
        ));
    }
    let job = state
        .store
        .finish_import(&id, body.generations, body.genomes, &body.stop_reason)
        .await?;
    Ok(Json(job))
}
