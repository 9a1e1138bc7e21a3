//! Live events: what SSE clients follow, as the store announces it.
//!
//! The store is the one publisher: every write that changes a job or records a generation
//! announces a [`Notice`] in its own transaction (see [`crate::store`]). [`EventHub::follow`]
//! listens to those notices, on SQLite in-process and on PostgreSQL through the database (so
//! writes by any process reach every server), turns each into an [`Event`] and broadcasts it
//! to this process's subscribers. Nothing else publishes.

use crate::evolution::GenerationRecord;
use crate::limits::events::RING;
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
    /// A job was created or changed.
    Job { job: Box<Job> },
    /// A job was deleted.
    JobDeleted { job_id: String },
    /// Events were lost (a lagging listener, a dropped database connection); subscribers
    /// should re-read the store.
    Missed,
}

/// The store's events for this process's subscribers. Slow subscribers lag and are told so
/// (they resynchronise from the store); the store never waits on them.
#[derive(Debug, Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    /// Follows `store`'s notices until `shutdown`. Listening has begun when this returns, so
    /// no write committed afterwards is missed.
    pub async fn follow(
        store: &Store,
        mut shutdown: watch::Receiver<bool>,
    ) -> crate::store::Result<(EventHub, JoinHandle<()>)> {
        let mut notices = store.listen().await?;
        let hub = EventHub {
            sender: broadcast::channel(RING).0,
        };
        let sender = hub.sender.clone();
        let store = store.clone();
        let relay = tokio::spawn(async move {
            loop {
                let notice = tokio::select! {
                    item = notices.next() => match item {
                        Some(Ok(notice)) => notice,
                        Some(Err(StoreError::EventsMissed)) => {
                            tracing::warn!("the event listener fell behind or reconnected; \
                                            some events were missed");
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
                match resolve(&store, notice).await {
                    // No subscribers is fine.
                    Ok(Some(event)) => {
                        let _ = sender.send(event);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!("relaying an event: {e}"),
                }
            }
        });
        Ok((hub, relay))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// The event a notice stands for, read from the store only where the notice came from another
/// process and names what changed without carrying it.
async fn resolve(store: &Store, notice: Notice) -> crate::store::Result<Option<Event>> {
    Ok(match notice {
        Notice::Generation {
            job_id,
            record: Some(record),
            ..
        } => Some(Event::Generation { job_id, record }),
        Notice::Generation {
            job_id,
            generation,
            record: None,
        } => store
            .history_page(&job_id, generation.checked_sub(1), 1)
            .await?
            .into_iter()
            .next()
            .filter(|record| record.generation == generation)
            .map(|record| Event::Generation {
                job_id,
                record: Box::new(record),
            }),
        Notice::Job {
            job_id,
            deleted: true,
            ..
        } => Some(Event::JobDeleted { job_id }),
        Notice::Job { job: Some(job), .. } => Some(Event::Job { job }),
        Notice::Job {
            job_id, job: None, ..
        } => store
            .get_job(&job_id)
            .await?
            .map(|job| Event::Job { job: Box::new(job) }),
    })
}
