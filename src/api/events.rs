//! Server-Sent Events: one stream per job (generation records and status changes) and one for
//! the job list (status and progress).
//!
//! A job stream first replays the records after `Last-Event-ID` (or `?after=`) from the store,
//! a page at a time, reading the next page only when the client has taken the previous one; then
//! it follows live events. The event id is the generation number, so a reconnecting client
//! resumes where it stopped. A subscriber that falls behind gets a `resync` event. So a stalled
//! client holds one page and its share of the broadcast ring, whatever the history's length.
//!
//! Streams are capped ([`StreamSlots`]): past the cap a new one is answered 503 with
//! `Retry-After`. They end when the server shuts down, so graceful shutdown never waits on them.

use super::AppState;
use super::error::{ErrorBody, ErrorDetail, Result};
use super::extract::{Path, Query};
use super::jobs::load_job;
use super::query::{Count, NoParams};
use super::responses::{BadQuery, NoSuchJob};
use crate::events::Event as HubEvent;
use crate::evolution::GenerationRecord;
use crate::limits::events::{REPLAY_PAGE, RETRY_AFTER_SECONDS};
use crate::metrics::StreamMetrics;
use crate::store::Store;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use prometheus_client::metrics::gauge::Gauge;
use serde::Serialize;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/events", get(job_events))
        .route("/events", get(list_events))
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>>;

/// The live event streams a server serves at once. A stream holds its slot until it is
/// dropped: its client left, was disconnected, or the server stopped.
#[derive(Debug, Clone)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    limit: usize,
    metrics: StreamMetrics,
}

/// One stream's place; gives it back when dropped.
struct StreamSlot {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl StreamSlots {
    pub fn new(limit: usize, metrics: StreamMetrics) -> Self {
        StreamSlots {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            metrics,
        }
    }

    /// A slot, unless every one is taken.
    fn take(&self) -> Result<StreamSlot, TooManyStreams> {
        let Ok(permit) = self.slots.clone().try_acquire_owned() else {
            self.metrics.refused.inc();
            return Err(TooManyStreams { limit: self.limit });
        };
        self.metrics.open.inc();
        Ok(StreamSlot {
            _permit: permit,
            open: self.metrics.open.clone(),
        })
    }
}

/// Every stream slot is taken: answered 503 with `Retry-After`.
struct TooManyStreams {
    limit: usize,
}

impl IntoResponse for TooManyStreams {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: "unavailable",
                message: format!(
                    "{} live event streams are open, the most this server serves; retry later",
                    self.limit
                ),
                field: None,
                errors: None,
            },
        };
        let retry_after = [(header::RETRY_AFTER, RETRY_AFTER_SECONDS.to_string())];
        (StatusCode::SERVICE_UNAVAILABLE, retry_after, Json(body)).into_response()
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// A stream that holds its slot for as long as it lives.
struct Holding {
    stream: EventStream,
    _slot: StreamSlot,
}

impl Stream for Holding {
    type Item = Result<Event, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.stream.as_mut().poll_next(cx)
    }
}

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

fn generation_event(record: &GenerationRecord) -> Event {
    json_event("generation", record).id(record.generation.to_string())
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
/// change), `job_deleted` (`{"id"}`, when it is deleted), `generation` (a GenerationRecord; the
/// SSE id is its generation number), `resync`
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
            `job_deleted` ({\"id\"}), `generation` (GenerationRecord, id = generation) and \
            `resync` ({\"missed\": n})",
            content_type = "text/event-stream"),
        NoSuchJob,
        BadQuery,
        (status = 503, description = "The server serves its limit of live streams; retry \
            after `Retry-After` seconds", body = ErrorBody),
    ),
)]
async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<JobEventsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let after = match params.after {
        Some(Count(after)) => Some(after),
        None => headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok()),
    };
    let slot = match state.streams.take() {
        Ok(slot) => slot,
        Err(full) => return Ok(full.into_response()),
    };
    // Subscribe before reading the store, so nothing falls between the replay and live events
    // (and no status change between reading the job and subscribing is lost).
    let live = BroadcastStream::new(state.events.subscribe());
    let job = load_job(&state, &id).await?;
    // The first page now, so that a store failure is answered as an error.
    let first = state
        .store
        .history_page(&job.id, after, REPLAY_PAGE)
        .await?;
    let follow = JobStream {
        store: state.store.clone(),
        job_id: job.id.clone(),
        live,
        more_stored: first.len() as i64 == REPLAY_PAGE,
        page: first.into_iter(),
        last_sent: after,
    };
    let stream = futures_util::stream::once(std::future::ready(Ok(json_event("job", &job))))
        .chain(follow.into_stream());
    let stream = Holding {
        stream: Box::pin(stream),
        _slot: slot,
    };
    Ok(sse(until_shutdown(&state, Box::pin(stream))).into_response())
}

/// The job stream's parameters.
#[derive(Debug, serde::Deserialize)]
struct JobEventsQuery {
    /// Replay only generations after this one (overrides `Last-Event-ID`).
    after: Option<Count>,
}

/// What follows a job stream's first event: the stored records after the client's position, a
/// page at a time, then live events.
struct JobStream {
    store: Store,
    job_id: String,
    live: BroadcastStream<HubEvent>,
    /// What is left of the page being sent.
    page: std::vec::IntoIter<GenerationRecord>,
    /// Whether the store may hold records after this page.
    more_stored: bool,
    /// The last generation sent, or the client's position: nothing at or before it is sent
    /// (again), whether it comes from the store or live.
    last_sent: Option<u64>,
}

impl JobStream {
    fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> + Send {
        futures_util::stream::unfold(self, |mut stream| async move {
            let event = stream.next_event().await?;
            Some((Ok(event), stream))
        })
    }

    /// The next event: polled only when the client has taken the previous one, so a page is
    /// read from the store only once the last one is sent.
    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(record) = self.page.next() {
                self.last_sent = Some(record.generation);
                return Some(generation_event(&record));
            }
            if self.more_stored {
                let page = self
                    .store
                    .history_page(&self.job_id, self.last_sent, REPLAY_PAGE)
                    .await;
                match page {
                    Ok(page) => {
                        self.more_stored = page.len() as i64 == REPLAY_PAGE;
                        self.page = page.into_iter();
                    }
                    Err(e) => {
                        // Ending the stream makes the client reconnect with Last-Event-ID,
                        // resuming exactly here.
                        tracing::warn!(job = %self.job_id, "replaying a job's history: {e}");
                        return None;
                    }
                }
                continue;
            }
            let item = self.live.next().await?;
            if let Some(event) = self.live_event(item) {
                return Some(event);
            }
        }
    }

    /// What a live event means to this stream, if anything.
    fn live_event(&mut self, item: Result<HubEvent, BroadcastStreamRecvError>) -> Option<Event> {
        match item {
            Ok(HubEvent::Generation { job_id, record }) if job_id == self.job_id => {
                // Already sent (replayed from the store): skip.
                if self.last_sent.is_some_and(|g| record.generation <= g) {
                    None
                } else {
                    self.last_sent = Some(record.generation);
                    Some(generation_event(&record))
                }
            }
            Ok(HubEvent::Job { job }) if job.id == self.job_id => Some(json_event("job", &job)),
            Ok(HubEvent::JobDeleted { job_id }) if job_id == self.job_id => Some(json_event(
                "job_deleted",
                &serde_json::json!({ "id": job_id }),
            )),
            Ok(HubEvent::Missed) => Some(json_event("resync", &serde_json::json!({}))),
            Ok(_) => None,
            Err(BroadcastStreamRecvError::Lagged(missed)) => Some(json_event(
                "resync",
                &serde_json::json!({ "missed": missed }),
            )),
        }
    }
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
/// change), `job_deleted` (`{"id"}`), `progress` (a Progress, after every generation), `resync`
/// (`{"missed": n}`).
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    responses(
        (status = 200, description = "An endless event stream: events `job` (Job), \
            `job_deleted` ({\"id\"}), `progress` (Progress) and `resync` ({\"missed\": n})",
            content_type = "text/event-stream"),
        BadQuery,
        (status = 503, description = "The server serves its limit of live streams; retry \
            after `Retry-After` seconds", body = ErrorBody),
    ),
)]
async fn list_events(
    State(state): State<AppState>,
    Query(NoParams {}): Query<NoParams>,
) -> Result<Response> {
    let slot = match state.streams.take() {
        Ok(slot) => slot,
        Err(full) => return Ok(full.into_response()),
    };
    let live = BroadcastStream::new(state.events.subscribe()).filter_map(|item| {
        let event = match item {
            Ok(HubEvent::Job { job }) => Some(json_event("job", &job)),
            Ok(HubEvent::JobDeleted { job_id }) => Some(json_event(
                "job_deleted",
                &serde_json::json!({ "id": job_id }),
            )),
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
    let stream = Holding {
        stream: Box::pin(live),
        _slot: slot,
    };
    Ok(sse(until_shutdown(&state, Box::pin(stream))).into_response())
}
