//! Live events: what workers publish and SSE clients follow.

use crate::evolution::GenerationRecord;
use crate::store::Job;
use serde::Serialize;
use tokio::sync::broadcast;

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
}

impl Event {
    pub fn job_id(&self) -> &str {
        match self {
            Event::Generation { job_id, .. } => job_id,
            Event::Job { job } => &job.id,
        }
    }
}

/// A broadcast channel of [`Event`]s. Slow subscribers lag and are told so (they resynchronise
/// from the store); publishers never wait.
#[derive(Debug, Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    pub fn new(capacity: usize) -> Self {
        EventHub {
            sender: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, event: Event) {
        // No subscribers is fine.
        let _ = self.sender.send(event);
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
