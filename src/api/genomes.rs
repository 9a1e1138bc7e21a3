//! Genomes: list per job, metadata, downloads (JSON, safetensors, raw f32), upload, and
//! evaluation of a stored genome as a queued job.

use super::AppState;
use super::error::{ApiError, Result, parse_json};
use super::jobs::{check_id, created, load_job};
use crate::envs;
use crate::exec::EpisodeMode;
use crate::model::{GenomeFile, GenomeLayout, Topology};
use crate::store::{GenomeKind, GenomeMeta, JobKind, NewGenome, NewJob};
use crate::worker::EvaluationSpec;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::collections::HashMap;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/genomes", get(job_genomes))
        .route("/genomes", post(upload))
        .route("/genomes/{id}", get(meta))
        .route("/genomes/{id}/download", get(download))
        .route("/genomes/{id}/evaluate", post(evaluate))
}

async fn job_genomes(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<GenomeMeta>>> {
    let job = load_job(&state, &id).await?;
    Ok(Json(state.store.job_genomes(&job.id).await?))
}

async fn load_meta(state: &AppState, id: &str) -> Result<GenomeMeta> {
    check_id(id, "genome")?;
    state
        .store
        .genome_meta(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("genome".into()))
}

async fn meta(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<GenomeMeta>> {
    Ok(Json(load_meta(&state, &id).await?))
}

/// The genome as a file anyone can read: `format=json` (layout + values), `safetensors`
/// (named tensors) or `raw` (little-endian f32 in the reference's flat order).
async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "format") {
        return Err(ApiError::invalid(
            unknown.as_str(),
            "unknown parameter; allowed: format",
        ));
    }
    let format = params.get("format").map_or("json", String::as_str);
    if !["json", "safetensors", "raw"].contains(&format) {
        return Err(ApiError::invalid(
            "format",
            "must be json, safetensors or raw",
        ));
    }
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
    }
    if let Some(g) = meta.generation {
        file = file.with_metadata("generation", g);
    }
    let (content_type, extension, body) = match format {
        "json" => ("application/json", "json", file.to_json().into_bytes()),
        "safetensors" => (
            "application/octet-stream",
            "safetensors",
            file.to_safetensors(),
        ),
        _ => (
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
async fn upload(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response> {
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "name") {
        return Err(ApiError::invalid(
            unknown.as_str(),
            "unknown parameter; allowed: name",
        ));
    }
    let name = params.get("name").cloned();
    if name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 200)
    {
        return Err(ApiError::invalid("name", "must be 1 to 200 characters"));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = Bytes::from_request(request, &state).await?;
    let file = match content_type.as_str() {
        "application/json" => {
            let file: GenomeFile = parse_json(&bytes)?;
            file.validate()
                .map_err(|e| ApiError::invalid("values", e.to_string()))?;
            file
        }
        "application/octet-stream" => GenomeFile::from_safetensors(&bytes)
            .map_err(|e| ApiError::invalid("", format!("not a valid safetensors genome: {e}")))?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "application/json or application/octet-stream (safetensors)",
            ));
        }
    };
    check_model(&file)?;
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
        })
        .await?;
    let location = format!("/api/v1/genomes/{}", meta.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(meta),
    )
        .into_response())
}

/// The sizes the server can run.
fn check_model(file: &GenomeFile) -> Result<()> {
    use crate::evolution::spec::limits;
    let m = &file.model;
    if !(2..=limits::MAX_NODES).contains(&m.nodes) {
        return Err(ApiError::invalid(
            "model.nodes",
            format!("must be between 2 and {}", limits::MAX_NODES),
        ));
    }
    if !(1..=limits::MAX_MSG_DIMS).contains(&m.msg_dims) {
        return Err(ApiError::invalid(
            "model.msg_dims",
            format!("must be between 1 and {}", limits::MAX_MSG_DIMS),
        ));
    }
    if !(1..=limits::MAX_NODE_TYPES).contains(&m.node_types) {
        return Err(ApiError::invalid(
            "model.node_types",
            format!("must be between 1 and {}", limits::MAX_NODE_TYPES),
        ));
    }
    debug_assert_eq!(file.values.len(), GenomeLayout::new(*m).len());
    Ok(())
}

/// The body of an evaluation request: the genome comes from the path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluateRequest {
    envs: Vec<String>,
    #[serde(default = "default_episodes")]
    episodes: usize,
    #[serde(default = "default_seeds")]
    seeds: Vec<u64>,
    #[serde(default)]
    episode_mode: EpisodeMode,
    #[serde(default)]
    topology: Topology,
    #[serde(default)]
    priority: i32,
}

fn default_episodes() -> usize {
    8
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

async fn evaluate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    super::ApiJson(body): super::ApiJson<EvaluateRequest>,
) -> Result<Response> {
    let meta = load_meta(&state, &id).await?;
    let spec = EvaluationSpec {
        genome_id: meta.id.clone(),
        envs: body.envs,
        episodes: body.episodes,
        seeds: body.seeds,
        episode_mode: body.episode_mode,
        topology: body.topology,
    };
    spec.validate()?;
    for (i, name) in spec.envs.iter().enumerate() {
        let info = envs::info(name).expect("validated");
        if meta.model.nodes < info.obs_dim + info.action_space.output_nodes() + 1 {
            return Err(ApiError::invalid(
                format!("envs[{i}]"),
                format!("{name} needs more nodes than the genome's model has"),
            ));
        }
    }
    if !(-1000..=1000).contains(&body.priority) {
        return Err(ApiError::invalid(
            "priority",
            "must be between -1000 and 1000",
        ));
    }
    let job = state
        .store
        .create_job(NewJob {
            kind: JobKind::Evaluate,
            name: format!("evaluate {} on {}", &meta.id[..8], spec.envs.join("+")),
            tags: vec!["evaluation".into()],
            spec: serde_json::to_value(&spec).expect("spec serialises"),
            priority: body.priority,
            generations: 1,
        })
        .await?;
    Ok(created(&state, job))
}
