//! Jobs: submit, list, get, cancel, resume, clone, delete, bulk cancel.

use super::AppState;
use super::admission::admit;
use super::error::{ApiError, ApiJson, Checked, ErrorBody, Result, parse_json, require_json};
use super::extract::{Path, Query};
use super::query::{Id, PageLimit, Search, Sort, Tag};
use super::responses::{Admission, BadQuery, Created, JsonBody, NoSuchJob};
#[allow(unused_imports)] // named in the OpenAPI annotations only
use crate::evolution::evaluation::EvaluationResult;
use crate::evolution::{JobPayload, JobSpec};
use crate::limits;
use crate::store::{Cursor, Job, JobFilter, JobKind, JobPage, JobStatus, JobUpdate, NewJob};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs", post(submit).get(list))
        .route("/jobs/cancel", post(cancel_matching))
        .route(
            "/jobs/{id}",
            get(get_job).delete(delete_job).patch(update_job),
        )
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

/// Queues an evolution job and answers 201 with its Location. The spec is valid; what is
/// checked here is what the store knows: that a warm start's genome exists and fits.
pub(super) async fn queue(state: &AppState, spec: JobSpec) -> Result<Created<Job>> {
    check_warm_start(state, &spec, "init_genome").await?;
    let _admitted = admit(state).await?;
    let priority = spec.priority;
    let job = state
        .store
        .create_job(NewJob::new(JobPayload::Evolve(spec), priority))
        .await?;
    Ok(Created(job))
}

/// A warm start's genome must exist and fit the spec's model (`field` names it in errors).
pub(super) async fn check_warm_start(state: &AppState, spec: &JobSpec, field: &str) -> Result<()> {
    if let Some(genome_id) = &spec.init_genome {
        let meta = match uuid::Uuid::parse_str(genome_id) {
            Ok(_) => state.store.genome_meta(genome_id).await?,
            Err(_) => None,
        };
        let meta = meta
            .ok_or_else(|| ApiError::invalid(field, format!("no genome with id {genome_id:?}")))?;
        if meta.model != spec.model.config() {
            return Err(ApiError::invalid(
                field,
                "the genome's model (nodes, msg_dims, node_types) differs from the spec's",
            ));
        }
    }
    Ok(())
}

/// Queue an evolution job.
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    request_body(content = JobSpec, content_type = "application/json",
        description = "The job spec; only `envs` is required"),
    responses(
        (status = 201, description = "Queued", body = Job,
            headers(("Location" = String, description = "The new job's URL"))),
        JsonBody,
        Admission,
    ),
)]
async fn submit(
    State(state): State<AppState>,
    Checked(spec): Checked<JobSpec>,
) -> Result<Created<Job>> {
    queue(&state, spec).await
}

/// The job list's query parameters; each bad one is a 422 naming it.
#[derive(Debug, Deserialize)]
struct ListParams {
    status: Option<JobStatus>,
    kind: Option<JobKind>,
    tag: Option<Tag>,
    sweep: Option<Id>,
    q: Option<Search>,
    #[serde(default)]
    sort: Sort,
    #[serde(default)]
    limit: PageLimit,
    cursor: Option<String>,
}

impl ListParams {
    fn filter(&self) -> JobFilter {
        JobFilter {
            status: self.status,
            kind: self.kind,
            tag: self.tag.as_ref().map(|t| t.0.clone()),
            sweep: self.sweep.as_ref().map(|s| s.0.clone()),
            name_contains: self.q.as_ref().and_then(|q| q.0.clone()),
        }
    }

    /// The cursor, which must have been made for this sort.
    fn cursor(&self) -> Result<Option<Cursor>> {
        self.cursor
            .as_deref()
            .map(|c| {
                Cursor::decode(c)
                    .filter(|c| c.sort == self.sort.0)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "cursor",
                            "not a cursor this endpoint returned for this sort",
                        )
                    })
            })
            .transpose()
    }
}

/// Jobs, newest first unless `sort` says otherwise, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(
        ("status" = Option<JobStatus>, Query, description = "Only jobs in this state"),
        ("kind" = Option<JobKind>, Query, description = "Only jobs of this kind"),
        ("tag" = Option<String>, Query, description = "Only jobs with this tag",
            min_length = 1, max_length = 64),
        ("sweep" = Option<String>, Query, description = "Only the jobs of this sweep (its id)"),
        ("q" = Option<String>, Query, max_length = 200,
            description = "Only jobs whose name contains this text, ignoring case (`%` and `_` \
                           match only themselves)"),
        ("sort" = Option<String>, Query,
            description = "The order: `created`, `name` (lower-cased), `best` (jobs without a \
                           fitness last), `generation` or `status`, ascending; with a leading \
                           `-`, descending. Default `-created` (newest first); ties go by id"),
        ("limit" = Option<u32>, Query, description = "Page size (default 50)",
            minimum = 1, maximum = 500),
        ("cursor" = Option<String>, Query, min_length = 1,
            description = "The `next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "One page", body = JobPage),
        BadQuery,
    ),
)]
async fn list(
    State(state): State<AppState>,
    Query(params): Query<ListParams>,
) -> Result<Json<JobPage>> {
    let cursor = params.cursor()?;
    Ok(Json(
        state
            .store
            .list_jobs_sorted(
                &params.filter(),
                params.sort.0,
                params.limit.0,
                cursor.as_ref(),
            )
            .await?,
    ))
}

/// One job: status, progress, best fitness.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "The job", body = Job),
        NoSuchJob,
    ),
)]
async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    Ok(Json(load_job(&state, &id).await?))
}

/// What a job's owner may change after submitting it: each field given replaces the job's
/// (`null` or absent leaves it). The spec keeps the name and tags it was submitted with.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct JobPatch {
    /// 1 to 200 characters, not all blank.
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// At most 32 tags of 1 to 64 characters each; replaces every tag.
    tags: Option<Vec<String>>,
    /// Free text, at most 10,000 characters; `""` clears it.
    #[schema(max_length = 10000)]
    notes: Option<String>,
}

impl JobPatch {
    fn validate(self) -> Result<JobUpdate> {
        use limits::spec::{MAX_NOTES_CHARS, check_name, check_tags};
        if let Some(name) = &self.name {
            check_name(name).map_err(|message| ApiError::invalid("name", message))?;
        }
        if let Some(tags) = &self.tags {
            check_tags(tags)?;
        }
        if let Some(notes) = &self.notes {
            let chars = notes.chars().count();
            if chars > MAX_NOTES_CHARS {
                return Err(ApiError::invalid(
                    "notes",
                    format!("at most {MAX_NOTES_CHARS} characters, got {chars}"),
                ));
            }
        }
        Ok(JobUpdate {
            name: self.name,
            tags: self.tags,
            notes: self.notes,
        })
    }
}

/// Rename a job, replace its tags or write its notes.
#[utoipa::path(
    patch,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    request_body(content = JobPatch, content_type = "application/json",
        example = json!({"name": "cartpole, wide σ", "tags": ["paper"], "notes": "σ0 = 0.5 helps"})),
    responses(
        (status = 200, description = "The job as changed", body = Job),
        JsonBody,
        NoSuchJob,
    ),
)]
async fn update_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<JobPatch>,
) -> Result<Json<Job>> {
    check_id(&id, "job")?;
    let update = patch.validate()?;
    if update == JobUpdate::default() {
        return Ok(Json(load_job(&state, &id).await?));
    }
    Ok(Json(state.store.update_job(&id, &update).await?))
}

/// Ask a job to stop (at the next generation boundary when running).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, body = Job,
            description = "The job: cancelled if it was queued, `cancel_requested` if running, \
                           unchanged if finished"),
        NoSuchJob,
    ),
)]
async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    check_id(&id, "job")?;
    Ok(Json(state.store.request_cancel(&id).await?))
}

/// Queue a cancelled or failed evolution job again; it continues from its checkpoint.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/resume",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "The job, queued again", body = Job),
        NoSuchJob,
        (status = 409, description = "Not an evolution job, or not resumable in its state",
            body = ErrorBody),
    ),
)]
async fn resume(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Job>> {
    let job = load_job(&state, &id).await?;
    if job.kind != JobKind::Evolve {
        return Err(ApiError::Conflict(
            "only evolution jobs can be resumed".into(),
        ));
    }
    if job.imported {
        return Err(ApiError::Conflict(
            "an imported job has no checkpoint on this server to resume from; clone it to run \
             it again"
                .into(),
        ));
    }
    Ok(Json(state.store.resume_job(&id).await?))
}

/// Delete a job with its records and genomes.
#[utoipa::path(
    delete,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        NoSuchJob,
        (status = 409, description = "The job cannot be deleted in its state", body = ErrorBody),
    ),
)]
async fn delete_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode> {
    check_id(&id, "job")?;
    state.store.delete_job(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clones a job's spec with changes: the body is a JSON merge patch (RFC 7386) applied to the
/// original spec, e.g. `{"seed": 7, "strategy": {"popsize": 64}}`; an empty body clones as is.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/clone",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    request_body(content = Object, content_type = "application/json",
        description = "A JSON merge patch (RFC 7386) applied to the job's spec, e.g. \
                       `{\"seed\": 7}`; optional: without a body the spec is cloned as is",
        example = json!({"seed": 7, "strategy": {"popsize": 64}})),
    responses(
        (status = 201, description = "The clone, queued", body = Job,
            headers(("Location" = String, description = "The new job's URL"))),
        JsonBody,
        NoSuchJob,
        (status = 409, description = "Not an evolution job", body = ErrorBody),
        Admission,
    ),
)]
async fn clone_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Created<Job>> {
    let job = load_job(&state, &id).await?;
    if job.kind != JobKind::Evolve {
        return Err(ApiError::Conflict(
            "only evolution jobs can be cloned".into(),
        ));
    }
    // Whether there is a patch is known from the body itself: a chunked request has no
    // Content-Length, and an empty body (however framed) clones the spec as is.
    let declared_json = require_json(&request);
    let bytes = Bytes::from_request(request, &state).await?;
    let mut spec = serde_json::to_value(&job.spec).expect("a payload serialises");
    if !bytes.is_empty() {
        declared_json?;
        let patch: serde_json::Value = parse_json(&bytes)?;
        merge_patch(&mut spec, patch);
    }
    let patched = serde_json::to_vec(&spec).expect("a value serialises");
    queue(&state, JobSpec::parse(&patched)?).await
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

/// Which jobs to cancel: every queued or running job matching all the given filters.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct BulkCancel {
    /// `queued` or `running`.
    status: Option<JobStatus>,
    #[schema(min_length = 1, max_length = 64)]
    tag: Option<String>,
    kind: Option<JobKind>,
    /// The id of a sweep: only its jobs.
    #[schema(value_type = Option<String>)]
    sweep: Option<Id>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Cancelled {
    /// How many jobs were cancelled or asked to stop.
    pub cancelled: u64,
}

/// Cancel every queued or running job that matches.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/cancel",
    tag = "jobs",
    request_body(content = BulkCancel, content_type = "application/json"),
    responses(
        (status = 200, description = "How many were cancelled", body = Cancelled),
        JsonBody,
    ),
)]
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
    if let Some(tag) = &body.tag {
        limits::spec::check_tag(tag).map_err(|message| ApiError::invalid("tag", message))?;
    }
    let filter = JobFilter {
        status: body.status,
        tag: body.tag,
        kind: body.kind,
        sweep: body.sweep.map(|s| s.0),
        name_contains: None,
    };
    let cancelled = state.store.cancel_matching(&filter).await?;
    Ok(Json(Cancelled { cancelled }))
}

/// The result of an evaluation job.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/evaluation",
    tag = "jobs",
    params(("id" = String, Path, description = "The job's id (a UUID)")),
    responses(
        (status = 200, description = "Per environment and seed: episode returns and scores",
            body = EvaluationResult),
        (status = 404, description = "No such job, not an evaluation job, or no result yet",
            body = ErrorBody),
    ),
)]
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
