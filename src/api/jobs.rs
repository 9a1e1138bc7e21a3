//! Jobs: submit, list, get, cancel, resume, clone, delete, bulk cancel.

use super::AppState;
use super::error::{ApiError, ApiJson, Result, parse_json, require_json};
use crate::events::Event;
use crate::evolution::JobSpec;
use crate::store::{Cursor, Job, JobFilter, JobKind, JobPage, JobStatus, NewJob};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs", post(submit).get(list))
        .route("/jobs/cancel", post(cancel_matching))
        .route("/jobs/{id}", get(get_job).delete(delete_job))
        .route("/jobs/{id}/cancel", post(cancel))
        .route("/jobs/{id}/resume", post(resume))
        .route("/jobs/{id}/clone", post(clone_job))
        .route("/jobs/{id}/evaluation", get(evaluation))
}

/// Job ids are UUIDs; anything else cannot name a job.
pub fn check_id(id: &str, what: &str) -> Result<()> {
    if uuid::Uuid::parse_str(id).is_ok() {
        Ok(())
    } else {
        Err(ApiError::NotFound(what.into()))
    }
}

pub(super) async fn load_job(state: &AppState, id: &str) -> Result<Job> {
    check_id(id, "job")?;
    state
        .store
        .get_job(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("job".into()))
}

/// Queues a validated spec and answers 201 with its Location.
pub(super) async fn queue(state: &AppState, spec: JobSpec) -> Result<Response> {
    spec.validate()?;
    if let Some(genome_id) = &spec.init_genome {
        let meta = match uuid::Uuid::parse_str(genome_id) {
            Ok(_) => state.store.genome_meta(genome_id).await?,
            Err(_) => None,
        };
        let meta = meta.ok_or_else(|| {
            ApiError::invalid("init_genome", format!("no genome with id {genome_id:?}"))
        })?;
        if meta.model != spec.model.config() {
            return Err(ApiError::invalid(
                "init_genome",
                "the genome's model (nodes, msg_dims, node_types) differs from the spec's",
            ));
        }
    }
    let job = state
        .store
        .create_job(NewJob {
            kind: JobKind::Evolve,
            name: spec.display_name(),
            tags: spec.tags.clone(),
            spec: serde_json::to_value(&spec).expect("spec serialises"),
            priority: spec.priority,
            generations: spec.generations,
        })
        .await?;
    Ok(created(state, job))
}

pub(super) fn created(state: &AppState, job: Job) -> Response {
    state.events.publish(Event::Job {
        job: Box::new(job.clone()),
    });
    let location = format!("/api/v1/jobs/{}", job.id);
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(job),
    )
        .into_response()
}

async fn submit(State(state): State<AppState>, request: Request) -> Result<Response> {
    require_json(&request)?;
    let bytes = Bytes::from_request(request, &state).await?;
    let spec: JobSpec = parse_json(&bytes)?;
    queue(&state, spec).await
}

/// Query parameters of the job list, parsed by hand so that every bad one is named.
struct ListQuery {
    filter: JobFilter,
    limit: u32,
    cursor: Option<Cursor>,
}

const MAX_PAGE: u32 = 500;

fn parse_filter(params: &HashMap<String, String>, allowed: &[&str]) -> Result<JobFilter> {
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(
            unknown.as_str(),
            format!("unknown parameter; allowed: {}", allowed.join(", ")),
        ));
    }
    let status = match params.get("status") {
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::invalid(
                "status",
                "must be one of queued, running, succeeded, failed, cancelled",
            )
        })?),
        None => None,
    };
    let kind = match params.get("kind") {
        Some(k) => Some(
            JobKind::parse(k)
                .ok_or_else(|| ApiError::invalid("kind", "must be evolve or evaluate"))?,
        ),
        None => None,
    };
    let tag = params.get("tag").cloned();
    if tag.as_ref().is_some_and(|t| t.is_empty() || t.len() > 64) {
        return Err(ApiError::invalid("tag", "must be 1 to 64 characters"));
    }
    Ok(JobFilter { status, tag, kind })
}

fn parse_list(params: &HashMap<String, String>) -> Result<ListQuery> {
    let filter = parse_filter(params, &["status", "tag", "kind", "limit", "cursor"])?;
    let limit = match params.get("limit") {
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", format!("must be an integer from 1 to {MAX_PAGE}"))
            })?,
        None => 50,
    };
    let cursor = match params.get("cursor") {
        Some(c) => Some(Cursor::decode(c).ok_or_else(|| {
            ApiError::invalid("cursor", "not a cursor returned by this endpoint")
        })?),
        None => None,
    };
    Ok(ListQuery {
        filter,
        limit,
        cursor,
    })
}

async fn list(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<JobPage>> {
    let query = parse_list(&params)?;
    Ok(Json(
        state
            .store
            .list_jobs(&query.filter, query.limit, query.cursor.as_ref())
            .await?,
    ))
}

async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    Ok(Json(load_job(&state, &id).await?))
}

async fn publish(state: &AppState, job: Job) -> Json<Job> {
    state.events.publish(Event::Job {
        job: Box::new(job.clone()),
    });
    Json(job)
}

async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    check_id(&id, "job")?;
    let job = state.store.request_cancel(&id).await?;
    Ok(publish(&state, job).await)
}

async fn resume(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    let job = load_job(&state, &id).await?;
    if job.kind != JobKind::Evolve {
        return Err(ApiError::Conflict(
            "only evolution jobs can be resumed".into(),
        ));
    }
    let job = state.store.resume_job(&id).await?;
    Ok(publish(&state, job).await)
}

async fn delete_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    let job = load_job(&state, &id).await?;
    state.store.delete_job(&id).await?;
    state.events.publish(Event::Job { job: Box::new(job) });
    Ok(StatusCode::NO_CONTENT)
}

/// Clones a job's spec with changes: the body is a JSON merge patch (RFC 7386) applied to the
/// original spec, e.g. `{"seed": 7, "strategy": {"popsize": 64}}`; an empty body clones as is.
async fn clone_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response> {
    let job = load_job(&state, &id).await?;
    if job.kind != JobKind::Evolve {
        return Err(ApiError::Conflict(
            "only evolution jobs can be cloned".into(),
        ));
    }
    let has_body = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0");
    let mut spec = job.spec.clone();
    if has_body {
        require_json(&request)?;
        let bytes = Bytes::from_request(request, &state).await?;
        let patch: serde_json::Value = parse_json(&bytes)?;
        if !patch.is_object() {
            return Err(ApiError::invalid("", "the patch must be a JSON object"));
        }
        merge_patch(&mut spec, patch);
    }
    let spec: JobSpec = parse_json(spec.to_string().as_bytes())?;
    queue(&state, spec).await
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
fn merge_patch(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (key, value) in p {
                if value.is_null() {
                    t.remove(&key);
                } else {
                    merge_patch(t.entry(key).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (t, p) => *t = p,
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkCancel {
    status: Option<JobStatus>,
    tag: Option<String>,
    kind: Option<JobKind>,
}

#[derive(Serialize)]
struct Cancelled {
    cancelled: u64,
}

async fn cancel_matching(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<BulkCancel>,
) -> Result<Json<Cancelled>> {
    if let Some(status) = body.status
        && status.is_finished()
    {
        return Err(ApiError::invalid(
            "status",
            "only queued or running jobs can be cancelled",
        ));
    }
    if body
        .tag
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > 64)
    {
        return Err(ApiError::invalid("tag", "must be 1 to 64 characters"));
    }
    let filter = JobFilter {
        status: body.status,
        tag: body.tag,
        kind: body.kind,
    };
    let cancelled = state.store.cancel_matching(&filter).await?;
    Ok(Json(Cancelled { cancelled }))
}

async fn evaluation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>> {
    let job = load_job(&state, &id).await?;
    if job.kind != JobKind::Evaluate {
        return Err(ApiError::NotFound(
            "evaluation (this is an evolution job)".into(),
        ));
    }
    let result = state.store.evaluation(&id).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "evaluation result (the job is {})",
            job.status.as_str()
        ))
    })?;
    Ok(Json(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = serde_json::json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(
            &mut target,
            serde_json::json!({"b": {"c": null, "e": 4}, "f": [1]}),
        );
        assert_eq!(
            target,
            serde_json::json!({"a": 1, "b": {"d": 3, "e": 4}, "f": [1]})
        );
    }
}
