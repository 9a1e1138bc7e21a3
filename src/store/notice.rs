//! [`Notice`]: what the store announces when a write commits (the transactional outbox).
//!
//! Every store write that changes a job or records a generation announces it inside its own
//! transaction: on PostgreSQL as a `NOTIFY` (delivered to every process when it commits), on
//! SQLite to the process's subscribers right after the commit, in commit order. Nothing
//! outside the store announces anything; [`crate::events`] turns notices into live events.

use super::Job;
use crate::evolution::GenerationRecord;
use serde::{Deserialize, Serialize};

/// PostgreSQL refuses notification payloads of 8000 bytes or more.
pub const MAX_NOTIFY_PAYLOAD: usize = 7999;

/// A notification. Within one process it carries what changed whole; between processes it
/// must stay within [`MAX_NOTIFY_PAYLOAD`]: a generation travels as its job and index only (the
/// record stays in the store) and a job whole when it fits, else by id, for listeners to read
/// from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    Generation {
        job_id: String,
        generation: u64,
        /// The record, within one process (never serialised).
        #[serde(skip)]
        record: Option<Box<GenerationRecord>>,
    },
    /// A job was created or changed; or deleted, and `job` is then its last state.
    Job {
        job_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<Box<Job>>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        deleted: bool,
    },
}

impl Notice {
    pub(super) fn generation(job_id: &str, record: &GenerationRecord) -> Notice {
        Notice::Generation {
            job_id: job_id.to_string(),
            generation: record.generation,
            record: Some(Box::new(record.clone())),
        }
    }

    pub(super) fn job(job: &Job, deleted: bool) -> Notice {
        Notice::Job {
            job_id: job.id.clone(),
            job: Some(Box::new(job.clone())),
            deleted,
        }
    }

    /// The payload: JSON, within [`MAX_NOTIFY_PAYLOAD`] (a job too large to travel whole goes
    /// by id, for listeners to read from the store).
    pub fn encode(&self) -> String {
        let payload = serde_json::to_string(self).expect("notices serialise");
        match self {
            Notice::Job {
                job_id,
                job: Some(_),
                deleted,
            } if payload.len() > MAX_NOTIFY_PAYLOAD => Notice::Job {
                job_id: job_id.clone(),
                job: None,
                deleted: *deleted,
            }
            .encode(),
            _ => payload,
        }
    }

    pub fn decode(payload: &str) -> Result<Notice, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_notice_names_its_job_and_index() {
        let notice = Notice::Generation {
            job_id: "j".into(),
            generation: 3,
            record: None,
        };
        assert_eq!(
            notice.encode(),
            r#"{"type":"generation","job_id":"j","generation":3}"#
        );
        assert_eq!(Notice::decode(&notice.encode()).unwrap(), notice);
    }

    #[test]
    fn a_job_too_large_to_travel_whole_goes_by_id() {
        let job: Job = serde_json::from_value(serde_json::json!({
            "id": "j", "kind": "evolve", "name": "x".repeat(MAX_NOTIFY_PAYLOAD), "tags": [],
            "spec": {"envs": ["CartPole-v1"]}, "status": "queued", "priority": 0, "generation": 0, "generations": 1,
            "best_fitness": null, "cancel_requested": false, "worker_id": null,
            "lease_expires_at": null, "attempts": 0, "crashes": 0, "error": null,
            "stop_reason": null, "executor": null, "device": null, "created_at": 0,
            "updated_at": 0, "started_at": null, "finished_at": null
        }))
        .unwrap();
        let whole = Notice::job(&job, false);
        assert_eq!(whole.encode(), r#"{"type":"job","job_id":"j"}"#);
        let deleted = Notice::job(&job, true);
        assert_eq!(
            deleted.encode(),
            r#"{"type":"job","job_id":"j","deleted":true}"#,
            "a deletion too large to travel whole still says it is one"
        );
        let small = Notice::job(
            &Job {
                name: "small".into(),
                ..job
            },
            false,
        );
        assert_eq!(Notice::decode(&small.encode()).unwrap(), small);
    }
}
