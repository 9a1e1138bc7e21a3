//! What exists: environments, executors, health.

use super::AppState;
use crate::envs::{self, EnvInfo};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Serialize;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/envs", get(list_envs))
        .route("/executors", get(list_executors))
        .route("/healthz", get(healthz))
}

/// An executor a worker of this server runs on.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExecutorInfo {
    pub name: String,
    pub device: String,
    pub workers: usize,
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

/// What this server's workers run on.
#[utoipa::path(
    get,
    path = "/api/v1/executors",
    tag = "meta",
    responses((status = 200, description = "The executors", body = Vec<ExecutorInfo>)),
)]
async fn list_executors(State(state): State<AppState>) -> Json<Vec<ExecutorInfo>> {
    Json(state.config.executors.clone())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    #[schema(value_type = String)]
    status: &'static str,
    database: bool,
}

/// Liveness and database health; also served at `/healthz`.
#[utoipa::path(
    get,
    path = "/api/v1/healthz",
    tag = "meta",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The database does not answer", body = Health),
    ),
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let database = state.store.healthy().await;
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if database { "ok" } else { "degraded" },
            database,
        }),
    )
}
