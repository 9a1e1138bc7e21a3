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
#[derive(Debug, Clone, Serialize)]
pub struct ExecutorInfo {
    pub name: String,
    pub device: String,
    pub workers: usize,
}

async fn list_envs() -> Json<Vec<EnvInfo>> {
    Json(envs::all().into_iter().cloned().collect())
}

async fn list_executors(State(state): State<AppState>) -> Json<Vec<ExecutorInfo>> {
    Json(state.config.executors.clone())
}

#[derive(Serialize)]
pub struct Health {
    status: &'static str,
    database: bool,
}

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
