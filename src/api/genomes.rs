//! Genomes: list per job, metadata, downloads (JSON, safetensors, raw f32), upload, and
//! evaluation of a stored genome as a queued job.

use super::AppState;
use super::error::{ApiError, ErrorBody, Result, parse_json};
use super::extract::{Path, Query};
use super::jobs::{check_id, load_job};
use super::responses::{Admission, BadQuery, Created, JsonBody, NoSuchGenome, NoSuchJob};
use crate::evolution::JobPayload;
use crate::evolution::evaluation::{self, EvaluationSpec};
use crate::exec::EpisodeMode;
use crate::model::{GenomeFile, GenomeFileError, Topology};
use crate::store::{GenomeKind, GenomeMeta, Job, NewGenome, NewJob};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/genomes", get(job_genomes))
        .route("/genomes", post(upload))
        .route("/genomes/{id}", get(meta))
        .route("/genomes/{id}/download", get(download))
        .route("/genomes/{id}/evaluate", post(evaluate))
}

/// The genomes a job kept: improvements, strategy means, finals.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/genomes",
    tag = "genomes",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "Their metadata", body = Vec<GenomeMeta>),
        NoSuchJob,
    ),
)]
async fn job_genomes(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<GenomeMeta>>> {
    let job = load_job(&state, &id).await?;
    Ok(Json(state.store.job_genomes(&job.id).await?))
}

pub(super) async fn load_meta(state: &AppState, id: &str) -> Result<GenomeMeta> {
    check_id(id, "genome")?;
    state
        .store
        .genome_meta(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("genome".into()))
}

/// One genome's metadata.
#[utoipa::path(
    get,
    path = "/api/v1/genomes/{id}",
    tag = "genomes",
    params(("id" = String, Path, description = "The genome's id (a UUID)")),
    responses(
        (status = 200, description = "Its metadata", body = GenomeMeta),
        NoSuchGenome,
    ),
)]
async fn meta(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<GenomeMeta>> {
    Ok(Json(load_meta(&state, &id).await?))
}

/// A download's parameters.
#[derive(Deserialize)]
struct DownloadQuery {
    format: Option<DownloadFormat>,
}

/// An upload's parameters.
#[derive(Debug, Deserialize)]
struct UploadQuery {
    name: Option<String>,
}

/// The format of a genome download.
#[derive(Clone, Copy, PartialEq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum DownloadFormat {
    /// The JSON genome format: layout + values.
    Json,
    /// Named tensors.
    Safetensors,
    /// Little-endian f32 in the reference's flat order.
    Raw,
}

/// The genome as a file anyone can read: `format=json` (layout + values), `safetensors`
/// (named tensors) or `raw` (little-endian f32 in the reference's flat order).
#[utoipa::path(
    get,
    path = "/api/v1/genomes/{id}/download",
    tag = "genomes",
    params(
        ("id" = String, Path, description = "The genome's id (a UUID)"),
        ("format" = inline(Option<DownloadFormat>), Query, description = "File format (default json)"),
    ),
    responses(
        (status = 200, description = "The genome as a download \
            (`Content-Disposition: attachment`): JSON, or safetensors / raw f32 bytes",
            headers(("Content-Disposition" = String, description = "attachment; filename=...")),
            content(
                (GenomeFile = "application/json"),
                ("application/octet-stream"),
            )),
        NoSuchGenome,
        BadQuery,
    ),
)]
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(DownloadQuery { format }): Query<DownloadQuery>,
) -> Result<Response> {
    let format = format.unwrap_or(DownloadFormat::Json);
    let meta = load_meta(&state, &id).await?;
    let values = state
        .store
        .genome_values(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("genome".into()))?;
    let mut file = GenomeFile::new(meta.model, values, meta.fitness)
        .with_metadata("genome_id", &meta.id)
        .with_metadata("kind", meta.kind.as_str())
        .with_metadata("sha256", &meta.sha256);
    if let Some(job) = &meta.job_id {
        file = file.with_metadata("job_id", job);
        // The job's wiring and spec, so the file says how its networks were built.
        if let Some(job) = state.store.get_job(job).await?
            && let JobPayload::Evolve(spec) = &job.spec
        {
            let value = serde_json::to_value(spec).expect("a spec serialises");
            file = file.with_job(spec.model.topology, value);
        }
    }
    if file.topology.is_none() {
        file.topology = meta.topology;
    }
    if let Some(g) = meta.generation {
        file = file.with_metadata("generation", g);
    }
    let (content_type, extension, body) = match format {
        DownloadFormat::Json => ("application/json", "json", file.to_json().into_bytes()),
        DownloadFormat::Safetensors => (
            "application/octet-stream",
            "safetensors",
            file.to_safetensors(),
        ),
        DownloadFormat::Raw => (
            "application/octet-stream",
            "f32",
            file.values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"genome-{}.{extension}\"", meta.id),
            ),
        ],
        body,
    )
        .into_response())
}

/// Upload a genome: `Content-Type: application/json` (the JSON genome format) or
/// `application/octet-stream` (safetensors). `?name=` labels it.
#[utoipa::path(
    post,
    path = "/api/v1/genomes",
    tag = "genomes",
    params(
        ("name" = Option<String>, Query, description = "A label for the genome",
            min_length = 1, max_length = 200),
    ),
    request_body(description = "The JSON genome format, or a safetensors file",
        content(
            (GenomeFile = "application/json"),
            ("application/octet-stream"),
        )),
    responses(
        (status = 201, description = "Stored", body = GenomeMeta,
            headers(("Location" = String, description = "The new genome's URL"))),
        (status = 400, description = "Malformed JSON (`invalid_json`)", body = ErrorBody),
        (status = 413, description = "The body is larger than the limit", body = ErrorBody),
        (status = 415, description = "Neither JSON nor octet-stream", body = ErrorBody),
        (status = 422, description = "Not a valid genome, or a model the server cannot run",
            body = ErrorBody),
    ),
)]
async fn upload(
    State(state): State<AppState>,
    Query(UploadQuery { name }): Query<UploadQuery>,
    request: Request,
) -> Result<Created<GenomeMeta>> {
    if let Some(name) = &name {
        crate::limits::spec::check_genome_name(name)
            .map_err(|message| ApiError::invalid("name", message))?;
    }
    let file = read_genome_file(&state, request).await?;
    let meta = state
        .store
        .insert_genome(&NewGenome {
            job_id: None,
            generation: None,
            kind: GenomeKind::Uploaded,
            fitness: file.fitness,
            model: file.model,
            values: file.values,
            name,
            topology: file.topology,
        })
        .await?;
    Ok(Created(meta))
}

/// A genome file from a request body: `application/json` (the JSON genome format) or
/// `application/octet-stream` (safetensors), checked ([`GenomeFile::complete`]).
pub(super) async fn read_genome_file(state: &AppState, request: Request) -> Result<GenomeFile> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = Bytes::from_request(request, state).await?;
    let file = match content_type.as_str() {
        "application/json" => {
            let file: GenomeFile = parse_json(&bytes)?;
            file.complete()
                .map_err(|e| rejected_genome(e, "values", ""))?
        }
        "application/octet-stream" => GenomeFile::from_safetensors(&bytes)
            .map_err(|e| rejected_genome(e, "", "not a valid safetensors genome: "))?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "application/json or application/octet-stream (safetensors)",
            ));
        }
    };
    Ok(file)
}

/// A genome file the server will not store: a model it cannot run names the model's field,
/// anything else `field` with `prefix` before the reason.
fn rejected_genome(e: GenomeFileError, field: &str, prefix: &str) -> ApiError {
    match e {
        GenomeFileError::Model(e) => e.into(),
        other => ApiError::invalid(field, format!("{prefix}{other}")),
    }
}

/// The body of an evaluation request: the genome comes from the path.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluateRequest {
    /// Environment names (see `GET /api/v1/envs`).
    #[schema(min_items = 1, max_items = 8)]
    envs: Vec<String>,
    /// Episodes per lifetime.
    #[serde(default = "evaluation::default_episodes")]
    #[schema(default = evaluation::default_episodes, minimum = 1, maximum = 100)]
    episodes: usize,
    /// One lifetime per seed.
    #[serde(default = "evaluation::default_seeds")]
    #[schema(default = evaluation::default_seeds, min_items = 1, max_items = 256)]
    seeds: Vec<u64>,
    #[serde(default)]
    episode_mode: EpisodeMode,
    /// How each lifetime is wired; by default as the genome was evolved (its job's spec, or
    /// the topology its uploaded file carried), else the reference's reservoir.
    #[serde(default)]
    topology: Option<Topology>,
    /// Meta-testing: a network size, a permutation of the observation or extra input nodes
    /// the genome was not trained with (each alone or combined).
    #[serde(default)]
    variant: evaluation::EvaluationVariant,
    /// Higher runs first.
    #[serde(default)]
    #[schema(minimum = -1000, maximum = 1000)]
    priority: i32,
}

/// Queue an evaluation of a stored genome.
#[utoipa::path(
    post,
    path = "/api/v1/genomes/{id}/evaluate",
    tag = "genomes",
    params(("id" = String, Path, description = "The genome's id (a UUID)")),
    request_body(content = EvaluateRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "The evaluation job, queued", body = crate::store::Job,
            headers(("Location" = String, description = "The new job's URL"))),
        JsonBody,
        NoSuchGenome,
        Admission,
    ),
)]
async fn evaluate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    super::ApiJson(body): super::ApiJson<EvaluateRequest>,
) -> Result<Created<Job>> {
    let meta = load_meta(&state, &id).await?;
    let topology = match body.topology {
        Some(chosen) => chosen,
        None => genome_topology(&state, &meta).await?.unwrap_or_default(),
    };
    let spec = EvaluationSpec {
        genome_id: meta.id.clone(),
        envs: body.envs,
        episodes: body.episodes,
        seeds: body.seeds,
        episode_mode: body.episode_mode,
        topology,
        variant: body.variant,
    };
    let payload = JobPayload::evaluate(spec, &meta.model)?;
    if !(-1000..=1000).contains(&body.priority) {
        return Err(ApiError::invalid(
            "priority",
            "must be between -1000 and 1000",
        ));
    }
    let _admitted = super::admission::admit(&state).await?;
    let job = state
        .store
        .create_job(NewJob::new(payload, body.priority))
        .await?;
    Ok(Created(job))
}

/// The wiring a stored genome was made with, where known: as its file said (uploads,
/// imports), else as its job's spec says. `sfnn eval` reads the same from a downloaded file.
pub(super) async fn genome_topology(
    state: &AppState,
    meta: &GenomeMeta,
) -> Result<Option<Topology>> {
    if meta.topology.is_some() {
        return Ok(meta.topology);
    }
    let Some(job) = &meta.job_id else {
        return Ok(None);
    };
    Ok(match state.store.get_job(job).await? {
        Some(job) => match &job.spec {
            JobPayload::Evolve(spec) => Some(spec.model.topology),
            JobPayload::Evaluate(_) => None,
        },
        None => None,
    })
}
