//! Live events: what workers and the API publish and SSE clients follow.
//!
//! Within one process a broadcast channel carries them. When the store is shared by many
//! processes (PostgreSQL), events travel through the database instead: publishing sends a
//! `NOTIFY`, and every process's [`relay`] turns the notifications back into events for its
//! own subscribers, its own publications included, so each event arrives exactly once
//! whichever process published it. What travels is a [`Notice`], the store's one notification
//! type.

use crate::evolution::GenerationRecord;
use crate::store::{Job, Notice, Store, StoreError};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Something that happened to a job.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A generation was recorded.
    Generation {
        job_id: String,
        record: Box<GenerationRecord>,
    },
    /// A job changed status (or was created or deleted; `job` is then its last state).
    Job { job: Box<Job> },
    /// Events were lost (the database connection dropped); subscribers should re-read the
    /// store.
    Missed,
}

/// A broadcast channel of [`Event`]s. Slow subscribers lag and are told so (they resynchronise
/// from the store); publishers never wait on subscribers.
#[derive(Debug, Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
    /// Set when events go through the store to every process.
    shared: Option<Store>,
}

impl EventHub {
    /// A hub for one process.
    pub fn new(capacity: usize) -> Self {
        EventHub {
            sender: broadcast::channel(capacity).0,
            shared: None,
        }
    }

    /// A hub for `store`: in-process on SQLite; through the database on PostgreSQL, where
    /// [`relay`] must run for local subscribers to hear anything.
    pub fn for_store(store: &Store) -> Self {
        EventHub {
            shared: store
                .shares_events_across_processes()
                .then(|| store.clone()),
            ..EventHub::default()
        }
    }

    /// Whether events go through the store (and need a [`relay`]).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    pub async fn publish(&self, event: Event) {
        let Some(store) = &self.shared else {
            // No subscribers is fine.
            let _ = self.sender.send(event);
            return;
        };
        let notice = match event {
            // The record's own transaction announced it, to every process.
            Event::Generation { .. } | Event::Missed => return,
            Event::Job { job } => Notice::Job {
                job_id: job.id.clone(),
                job: Some(job),
            },
        };
        if let Err(e) = store.announce(&notice).await {
            tracing::warn!("announcing a job event failed: {e}");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new(1024)
    }
}

/// Delivers the store's notifications to `hub`'s subscribers until `shutdown`; `None` when the
/// hub is in-process. Listening has begun when this returns, so nothing published afterwards
/// is missed.
pub async fn relay(
    hub: &EventHub,
    mut shutdown: watch::Receiver<bool>,
) -> crate::store::Result<Option<JoinHandle<()>>> {
    let Some(store) = hub.shared.clone() else {
        return Ok(None);
    };
    let Some(mut notices) = store.listen().await? else {
        return Ok(None);
    };
    let sender = hub.sender.clone();
    Ok(Some(tokio::spawn(async move {
        loop {
            let payload = tokio::select! {
                item = notices.next() => match item {
                    Some(Ok(payload)) => payload,
                    Some(Err(StoreError::EventsMissed)) => {
                        tracing::warn!("event listener reconnected; some events were missed");
                        let _ = sender.send(Event::Missed);
                        continue;
                    }
                    Some(Err(e)) => {
                        tracing::warn!("event listener: {e}");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                    None => return,
                },
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
            };
            match resolve(&store, &payload).await {
                Ok(Some(event)) => {
                    let _ = sender.send(event);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("relaying event {payload}: {e}"),
            }
        }
    })))
}

/// The event a notice stands for, read from the store where the notice only names it.
async fn resolve(store: &Store, payload: &str) -> crate::store::Result<Option<Event>> {
    let notice = Notice::decode(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(match notice {
        Notice::Generation { job_id, generation } => store
            .history_page(&job_id, generation.checked_sub(1), 1)
            .await?
            .into_iter()
            .next()
            .filter(|record| record.generation == generation)
            .map(|record| Event::Generation {
                job_id,
                record: Box::new(record),
            }),
        Notice::Job { job: Some(job), .. } => Some(Event::Job { job }),
        Notice::Job { job_id, job: None } => store
            .get_job(&job_id)
            .await?
            .map(|job| Event::Job { job: Box::new(job) }),
    })
}
