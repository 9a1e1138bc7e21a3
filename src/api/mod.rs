//! The REST API under `/api/v1`, live events (SSE) and the static dashboard.
//!
//! Handlers are thin: extract → validate (errors name the field) → one store call → JSON. The
//! API only reads what workers record; it never runs evolution itself.

pub mod admission;
mod auth;
pub mod error;
mod estimate;
mod events;
mod extract;
mod genomes;
mod history;
pub mod hosts;
mod imports;
mod jobs;
pub mod meta;
pub mod openapi;
mod query;
mod replay;
mod responses;
mod sweeps;

pub use error::{ApiError, ApiJson};
pub use events::StreamSlots;
pub use replay::ReplaySlots;

use crate::events::EventHub;
use crate::metrics::Metrics;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use crate::limits::http::BODY_LIMIT;

/// Settings the API needs.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// When set, mutating requests need `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Folder of the dashboard's static files.
    pub static_dir: Option<PathBuf>,
    /// What the executors of this server's workers are ("cpu", device name).
    pub executors: Vec<meta::ExecutorInfo>,
    /// Limits on queued jobs and submissions, with their live state.
    pub admission: Arc<admission::Admission>,
    /// The `Host` values this server answers (DNS rebinding).
    pub allowed_hosts: hosts::AllowedHosts,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub events: EventHub,
    pub config: Arc<ApiConfig>,
    pub metrics: Arc<Metrics>,
    /// Flips to `true` on shutdown; live streams end then, so shutdown does not wait on them.
    pub shutdown: watch::Receiver<bool>,
    /// Caps the live event streams open at once.
    pub streams: StreamSlots,
    /// Caps the genome replays computed at once.
    pub replays: ReplaySlots,
}

/// Answers a request whose handler panicked with our JSON 500 (`internal`) and counts it
/// (`sfnn_http_handler_panics_total`), instead of dropping the connection unanswered.
fn catch_panics<S: Clone + Send + Sync + 'static>(
    app: Router<S>,
    metrics: Arc<Metrics>,
) -> Router<S> {
    app.layer(CatchPanicLayer::custom(move |panic| {
        metrics.handler_panicked();
        error::panic_response(panic)
    }))
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let rest = Router::new()
        .merge(jobs::routes())
        .merge(estimate::routes())
        .merge(sweeps::routes())
        .merge(history::routes())
        .merge(genomes::routes())
        .merge(imports::routes())
        .merge(replay::routes())
        .merge(meta::routes())
        .route("/openapi.json", axum::routing::get(openapi::openapi_json))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            crate::limits::http::REQUEST_TIMEOUT,
        ));
    let api = Router::new()
        .merge(rest)
        .merge(events::routes())
        .fallback(|| async { ApiError::NotFound("route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT));

    let mut app = Router::new()
        .nest("/api/v1", api)
        .route("/healthz", axum::routing::get(meta::healthz))
        .route("/metrics", axum::routing::get(meta::metrics));
    if let Some(dir) = &state.config.static_dir {
        // The API page's vendored UI (RapiDoc) styles its elements inline; only that page may.
        app = app.nest_service(
            "/api/docs",
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                         img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                         object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                         form-action 'self'",
                    ),
                ))
                .service(
                    ServeDir::new(dir.join("api").join("docs"))
                        .append_index_html_on_directories(true),
                ),
        );
        app = app.fallback_service(
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'self'; script-src 'self'; style-src 'self'; \
                         img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                         base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
                    ),
                ))
                .service(ServeDir::new(dir).append_index_html_on_directories(true)),
        );
    }
    catch_panics(app, state.metrics.clone())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            hosts::check_host,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_is_answered_with_a_json_500_and_counted() {
        let metrics = Metrics::new();
        let app: Router = catch_panics(
            Router::new().route(
                "/boom",
                axum::routing::get(|| async {
                    #[allow(clippy::panic)]
                    if true {
                        panic!("deliberately");
                    }
                    "unreachable"
                }),
            ),
            metrics.clone(),
        );
        let response = app
            .oneshot(
                axum::http::Request::get("/boom")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"]["code"], "internal");
        assert!(
            !body.to_string().contains("deliberately"),
            "the panic's message stays in the log"
        );
        assert!(
            metrics
                .encode()
                .contains("sfnn_http_handler_panics_total 1"),
            "{}",
            metrics.encode()
        );
    }
}
