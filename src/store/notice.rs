//! [`Notice`]: what travels between processes through the database (PostgreSQL `NOTIFY`),
//! written by the store and by [`crate::events`], read back by [`crate::events::relay`].

use super::Job;
use serde::{Deserialize, Serialize};

/// PostgreSQL refuses notification payloads of 8000 bytes or more.
pub const MAX_NOTIFY_PAYLOAD: usize = 7999;

/// A notification: small, since it must stay within [`MAX_NOTIFY_PAYLOAD`]. A generation is
/// announced by the transaction that records it, with its job and index only (the record
/// itself stays in the store); a job travels whole when it fits, else by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    Generation {
        job_id: String,
        generation: u64,
    },
    Job {
        job_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        job: Option<Box<Job>>,
    },
}

impl Notice {
    /// The payload: JSON, within [`MAX_NOTIFY_PAYLOAD`] (a job too large to travel whole goes
    /// by id, for listeners to read from the store).
    pub fn encode(&self) -> String {
        let payload = serde_json::to_string(self).expect("notices serialise");
        match self {
            Notice::Job {
                job_id,
                job: Some(_),
            } if payload.len() > MAX_NOTIFY_PAYLOAD => Notice::Job {
                job_id: job_id.clone(),
                job: None,
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
        let whole = Notice::Job {
            job_id: "j".into(),
            job: Some(Box::new(job.clone())),
        };
        assert_eq!(whole.encode(), r#"{"type":"job","job_id":"j"}"#);
        let small = Notice::Job {
            job_id: "j".into(),
            job: Some(Box::new(Job {
                name: "small".into(),
                ..job
            })),
        };
        assert_eq!(Notice::decode(&small.encode()).unwrap(), small);
    }
}
