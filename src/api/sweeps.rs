//! Sweeps: queue one job per combination of a spec's axes in one request, and read them back
//! grouped by variant (the jobs that differ only in their seed).

use super::AppState;
use super::admission::admit_many;
use super::error::{ApiError, Checked, ErrorBody, Result};
use super::extract::{Path, Query};
use super::jobs::Cancelled;
use super::jobs::check_warm_start;
use super::query::PageLimit;
use super::responses::{Admission, BadQuery, Created, JsonBody, NoSuchSweep};
use crate::evolution::JobPayload;
use crate::evolution::sweep::SweepPlan;
#[allow(unused_imports)] // named in the OpenAPI annotations only
use crate::evolution::sweep::SweepRequest;
use crate::store::{JobFilter, Sweep, SweepSummary};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/sweeps", post(submit_sweep).get(list_sweeps))
        .route("/sweeps/{id}", get(get_sweep).delete(delete_sweep))
        .route("/sweeps/{id}/cancel", post(cancel_sweep))
}

/// Queue a sweep: one evolution job per combination of the axes' values.
#[utoipa::path(
    post,
    path = "/api/v1/sweeps",
    tag = "sweeps",
    request_body(content = SweepRequest, content_type = "application/json",
        description = "A job spec and its axes: spec fields by dotted path (`seed`, \
                       `strategy.sigma0`), each with the values to try"),
    responses(
        (status = 201, description = "Queued: the sweep with its jobs", body = Sweep,
            headers(("Location" = String, description = "The new sweep's URL"))),
        JsonBody,
        Admission,
    ),
)]
async fn submit_sweep(
    State(state): State<AppState>,
    Checked(plan): Checked<SweepPlan>,
) -> Result<Created<Sweep>> {
    for job in &plan.jobs {
        if let JobPayload::Evolve(spec) = &job.payload {
            check_warm_start(&state, spec, "spec.init_genome").await?;
        }
    }
    let _admitted = admit_many(&state, plan.jobs.len() as u64).await?;
    let sweep = state.store.create_sweep(&plan).await?;
    Ok(Created(sweep))
}

/// Sweeps, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/sweeps",
    tag = "sweeps",
    params(
        ("limit" = Option<u32>, Query, description = "How many (default 50)",
            minimum = 1, maximum = 500),
    ),
    responses(
        (status = 200, description = "The newest sweeps", body = Vec<SweepSummary>),
        BadQuery,
    ),
)]
async fn list_sweeps(
    State(state): State<AppState>,
    Query(SweepsQuery { limit }): Query<SweepsQuery>,
) -> Result<Json<Vec<SweepSummary>>> {
    let PageLimit(limit) = limit.unwrap_or_default();
    Ok(Json(state.store.list_sweeps(limit).await?))
}

/// The sweep list's parameters.
#[derive(Debug, serde::Deserialize)]
struct SweepsQuery {
    limit: Option<PageLimit>,
}

/// One sweep: its spec and axes, its jobs, and the jobs grouped by variant.
#[utoipa::path(
    get,
    path = "/api/v1/sweeps/{id}",
    tag = "sweeps",
    params(("id" = String, Path, description = "The sweep's id (a UUID)")),
    responses(
        (status = 200, description = "The sweep", body = Sweep),
        NoSuchSweep,
    ),
)]
async fn get_sweep(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Sweep>> {
    super::jobs::check_id(&id, "sweep")?;
    let sweep = state.store.sweep(&id).await?;
    Ok(Json(
        sweep.ok_or_else(|| ApiError::NotFound("sweep".into()))?,
    ))
}

/// Cancel every queued or running job of a sweep.
#[utoipa::path(
    post,
    path = "/api/v1/sweeps/{id}/cancel",
    tag = "sweeps",
    params(("id" = String, Path, description = "The sweep's id (a UUID)")),
    responses(
        (status = 200, description = "How many jobs were cancelled or asked to stop",
            body = Cancelled),
        NoSuchSweep,
    ),
)]
async fn cancel_sweep(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Cancelled>> {
    super::jobs::check_id(&id, "sweep")?;
    if state.store.sweep(&id).await?.is_none() {
        return Err(ApiError::NotFound("sweep".into()));
    }
    let filter = JobFilter {
        sweep: Some(id),
        ..JobFilter::default()
    };
    let cancelled = state.store.cancel_matching(&filter).await?;
    Ok(Json(Cancelled { cancelled }))
}

/// Delete a sweep and all its jobs, with their histories and genomes.
#[utoipa::path(
    delete,
    path = "/api/v1/sweeps/{id}",
    tag = "sweeps",
    params(("id" = String, Path, description = "The sweep's id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        NoSuchSweep,
        (status = 409, description = "A job of the sweep is running: cancel the sweep first",
            body = ErrorBody),
    ),
)]
async fn delete_sweep(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    super::jobs::check_id(&id, "sweep")?;
    state.store.delete_sweep(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
