//! Server-Sent Events: one stream per job (generation records and status changes) and one for
//! the job list (status and progress).
//!
//! A job stream first replays the records after `Last-Event-ID` (or `?after=`) from the store,
//! then follows live events; the event id is the generation number, so a reconnecting client
//! resumes where it stopped. A subscriber that falls behind gets a `resync` event. Streams end
//! when the server shuts down, so graceful shutdown never waits on them.

use super::AppState;
use super::error::{ApiError, ErrorBody, Result};
use super::jobs::load_job;
use crate::events::Event as HubEvent;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/events", get(job_events))
        .route("/events", get(list_events))
}

type EventStream = std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

fn sse(stream: EventStream) -> impl IntoResponse {
    Sse::new(stream).keep_alive(
        KeepAlive::new()
            .interval(Duration::from_secs(15))
            .text("keep-alive"),
    )
}

fn json_event(kind: &str, payload: &impl Serialize) -> Event {
    Event::default()
        .event(kind)
        .data(serde_json::to_string(payload).expect("event serialises"))
}

/// Ends `stream` when the server starts shutting down.
fn until_shutdown(state: &AppState, stream: EventStream) -> EventStream {
    let mut shutdown = state.shutdown.clone();
    let stopped = async move {
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    Box::pin(stream.take_until(stopped))
}

/// A job's live stream (Server-Sent Events). Events: `job` (a Job, first and on every status
/// change), `generation` (a GenerationRecord; the SSE id is its generation number), `resync`
/// (`{"missed": n}`: this client fell behind). Replays the records after `Last-Event-ID` or
/// `?after=` first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/events",
    tag = "events",
    params(
        ("id" = String, Path, description = "The job's id (a UUID)"),
        ("after" = Option<u64>, Query,
            description = "Replay only generations after this one (overrides Last-Event-ID)"),
        ("Last-Event-ID" = Option<u64>, Header,
            description = "Set by reconnecting EventSource clients: the last generation seen"),
    ),
    responses(
        (status = 200, description = "An endless event stream: events `job` (Job), \
            `generation` (GenerationRecord, id = generation) and `resync` ({\"missed\": n})",
            content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 422, description = "A parameter is invalid or unknown; `field` names it",
            body = ErrorBody),
    ),
)]
async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<impl IntoResponse> {
    if let Some(unknown) = params.keys().find(|k| k.as_str() != "after") {
        return Err(ApiError::invalid(
            unknown.as_str(),
            "unknown parameter; allowed: after",
        ));
    }
    let after = match params.get("after").or(None) {
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| ApiError::invalid("after", "must be a generation number"))?,
        ),
        None => headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
    };
    let job = load_job(&state, &id).await?;
    // Subscribe before reading the store, so nothing falls between the replay and live events.
    let live = BroadcastStream::new(state.events.subscribe());
    let replay = state.store.history_page(&job.id, after, i64::MAX).await?;
    let mut last_sent = replay.last().map(|r| r.generation).or(after);
    let mut stream: Vec<Result<Event, Infallible>> = vec![Ok(json_event("job", &job))];
    stream.extend(
        replay
            .iter()
            .map(|record| Ok(json_event("generation", record).id(record.generation.to_string()))),
    );
    let job_id = job.id.clone();
    let live = live.filter_map(move |item| {
        let event = match item {
            Ok(HubEvent::Generation { job_id: j, record }) if j == job_id => {
                // Already replayed from the store: skip.
                if last_sent.is_some_and(|g| record.generation <= g) {
                    None
                } else {
                    last_sent = Some(record.generation);
                    Some(json_event("generation", &record).id(record.generation.to_string()))
                }
            }
            Ok(HubEvent::Job { job }) if job.id == job_id => Some(json_event("job", &job)),
            Ok(HubEvent::Missed) => Some(json_event("resync", &serde_json::json!({}))),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(json_event(
                "resync",
                &serde_json::json!({ "missed": missed }),
            )),
        };
        futures_util::future::ready(event.map(Ok))
    });
    let stream: EventStream = Box::pin(futures_util::stream::iter(stream).chain(live));
    Ok(sse(until_shutdown(&state, stream)))
}

/// Progress of a running job, for the job list.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Progress<'a> {
    job_id: &'a str,
    generation: u64,
    /// `null` until a generation produced a finite best.
    best_so_far: Option<f64>,
}

/// Every job's status and progress (Server-Sent Events). Events: `job` (a Job, on every status
/// change), `progress` (a Progress, after every generation), `resync` (`{"missed": n}`).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses(
        (status = 200, description = "An endless event stream: events `job` (Job), \
            `progress` (Progress) and `resync` ({\"missed\": n})",
            content_type = "text/event-stream"),
        (status = 422, description = "Takes no parameters", body = ErrorBody),
    ),
)]
async fn list_events(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse> {
    if let Some(unknown) = params.keys().next() {
        return Err(ApiError::invalid(unknown.as_str(), "takes no parameters"));
    }
    let live = BroadcastStream::new(state.events.subscribe()).filter_map(|item| {
        let event = match item {
            Ok(HubEvent::Job { job }) => Some(json_event("job", &job)),
            Ok(HubEvent::Missed) => Some(json_event("resync", &serde_json::json!({}))),
            Ok(HubEvent::Generation { job_id, record }) => Some(json_event(
                "progress",
                &Progress {
                    job_id: &job_id,
                    generation: record.generation + 1,
                    best_so_far: record.best_so_far.is_finite().then_some(record.best_so_far),
                },
            )),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(json_event(
                "resync",
                &serde_json::json!({ "missed": missed }),
            )),
        };
        futures_util::future::ready(event.map(Ok))
    });
    Ok(sse(until_shutdown(&state, Box::pin(live))))
}
