//! What exists: environments, executors, health.

use super::AppState;
use super::error::Result;
use crate::envs::{self, EnvInfo};
use crate::metrics::{self, Metrics, WorkerHealth};
use crate::store::{Store, Throughput};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use std::sync::Arc;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/envs", get(list_envs))
        .route("/executors", get(list_executors))
        .route("/examples", get(list_examples))
        .route("/healthz", get(healthz))
}

/// An executor a worker of this server runs on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecutorInfo {
    pub name: String,
    pub device: String,
    pub workers: usize,
    /// Throughput of recent generations on this executor and device (`null` before any ran):
    /// what the submit form's run-time estimate divides by.
    pub measured: Option<Throughput>,
    /// SFNN steps per second the executor expects before any were measured (a built-in
    /// figure; `null` where it has none).
    pub built_in_steps_per_s: Option<f64>,
}

/// The environments jobs can use.
#[utoipa::path(
    get,
    path = "/api/v1/envs",
    tag = "meta",
    responses((status = 200, description = "Every environment", body = Vec<EnvInfo>)),
)]
async fn list_envs() -> Json<Vec<EnvInfo>> {
    Json(envs::all().into_iter().cloned().collect())
}

/// The job specs in `examples/`, built into the binary so the dashboard's presets are those
/// files wherever the server runs. `examples_are_the_files_in_examples` keeps the list whole.
pub const EXAMPLES: &[(&str, &str)] = &[
    (
        "cartpole-quick.json",
        include_str!("../../examples/cartpole-quick.json"),
    ),
    (
        "cartpole-solve.json",
        include_str!("../../examples/cartpole-solve.json"),
    ),
    (
        "reference-3env.json",
        include_str!("../../examples/reference-3env.json"),
    ),
];

/// An example job spec.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Example {
    /// Its file in `examples/`.
    pub file: String,
    /// The spec, as the file has it (a valid job spec).
    #[schema(value_type = Object)]
    pub spec: serde_json::Value,
}

/// The example job specs of `examples/` (the dashboard's presets).
#[utoipa::path(
    get,
    path = "/api/v1/examples",
    tag = "meta",
    responses((status = 200, description = "Every example spec", body = Vec<Example>)),
)]
async fn list_examples() -> Json<Vec<Example>> {
    Json(
        EXAMPLES
            .iter()
            .map(|(file, text)| Example {
                file: file.to_string(),
                spec: serde_json::from_str(text).expect("tests check every example parses"),
            })
            .collect(),
    )
}

/// What this server's workers run on.
#[utoipa::path(
    get,
    path = "/api/v1/executors",
    tag = "meta",
    responses(
        (status = 200, description = "The executors, with their measured throughput",
            body = Vec<ExecutorInfo>),
    ),
)]
async fn list_executors(State(state): State<AppState>) -> Result<Json<Vec<ExecutorInfo>>> {
    Ok(Json(measured_executors(&state).await?))
}

/// This server's executors, each with its throughput measured from the store.
pub(super) async fn measured_executors(state: &AppState) -> Result<Vec<ExecutorInfo>> {
    let mut executors = state.config.executors.clone();
    for executor in &mut executors {
        executor.measured = state
            .store
            .measured_throughput(&executor.name, &executor.device)
            .await?;
    }
    Ok(executors)
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer or cannot write, or a worker
    /// is down.
    #[schema(value_type = String)]
    status: &'static str,
    /// Whether the database answers a read.
    database: bool,
    /// Whether the database can write (false after a storage failure, such as a full disk,
    /// until a probe write succeeds again).
    writable: bool,
    /// Why writes fail, while they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    reason: Option<String>,
    /// Since when writes fail (Unix milliseconds), while they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    failing_since: Option<i64>,
    /// This process's workers: a panicked worker is down until it restarts.
    workers: WorkerHealth,
}

/// Liveness, database health (reads and writes) and workers; also served at `/healthz`.
#[utoipa::path(
    get,
    path = "/api/v1/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer or cannot write, or a \
            worker is down", body = Health),
    ),
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    health(&state.store, &state.metrics).await
}

async fn health(store: &Store, metrics: &Metrics) -> (StatusCode, Json<Health>) {
    let database = store.healthy().await;
    let failure = store.writable().await.err();
    let workers = metrics.workers();
    let ok = database && failure.is_none() && workers.alive >= workers.configured;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ok { "ok" } else { "degraded" },
            database,
            writable: failure.is_none(),
            failing_since: failure.as_ref().map(|f| f.since_ms),
            reason: failure.map(|f| f.reason),
            workers,
        }),
    )
}

/// Prometheus metrics of this process, with jobs by status and the queue depth read from the
/// store (served at `/metrics`, outside the versioned API, where scrapers look).
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = state.metrics.refresh_jobs(&state.store).await {
        // Worker counters are still worth serving; the job gauges keep their last values.
        tracing::warn!("reading job counts for /metrics failed: {e}");
    }
    exposition(&state.metrics)
}

fn exposition(metrics: &Metrics) -> Response {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics.encode(),
    )
        .into_response()
}

/// What a worker-only node serves on its optional port: health and its own metrics.
#[derive(Clone)]
pub struct ProbeState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
}

pub fn probe_router(state: ProbeState) -> axum::Router {
    axum::Router::new()
        .route(
            "/healthz",
            get(|State(state): State<ProbeState>| async move {
                health(&state.store, &state.metrics).await
            }),
        )
        .route(
            "/metrics",
            get(|State(state): State<ProbeState>| async move { exposition(&state.metrics) }),
        )
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_the_files_in_examples_and_valid_specs() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".json"))
            .collect();
        files.sort();
        let listed: Vec<&str> = EXAMPLES.iter().map(|(file, _)| *file).collect();
        assert_eq!(
            files, listed,
            "list every examples/*.json in EXAMPLES, sorted"
        );
        for (file, text) in EXAMPLES {
            crate::evolution::JobSpec::parse(text.as_bytes())
                .unwrap_or_else(|e| panic!("examples/{file}: {e}"));
        }
    }
}
