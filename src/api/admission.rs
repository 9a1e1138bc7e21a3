//! Admission of new jobs: a cap on queued jobs and a token bucket on submissions, shared by
//! every endpoint that creates a job (submit, clone, evaluate). Over a limit the answer is 429
//! with `Retry-After` and an error code naming the limit (`queue_full`, `rate_limited`).
//!
//! Both limits are server-wide: the server has one token, so a per-token limit would be the
//! same limit. The check runs after the request is validated, so a rejected typo costs no
//! budget, and right before the job is written.

use super::AppState;
use super::error::{ApiError, Result};
use crate::limits::admission as defaults;
use crate::store::JobStatus;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The limits, as configured (`sfnn serve --max-queued-jobs --submit-rate --submit-burst`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubmissionLimits {
    /// Jobs that may be queued at once; 0: no cap.
    pub max_queued_jobs: u64,
    /// Sustained submissions per second; 0: no rate limit.
    pub submit_rate: f64,
    /// Submissions allowed at once above the rate (the bucket's size).
    pub submit_burst: u32,
}

impl Default for SubmissionLimits {
    fn default() -> Self {
        SubmissionLimits {
            max_queued_jobs: defaults::DEFAULT_MAX_QUEUED_JOBS,
            submit_rate: defaults::DEFAULT_SUBMIT_RATE,
            submit_burst: defaults::DEFAULT_SUBMIT_BURST,
        }
    }
}

impl SubmissionLimits {
    /// No limits at all (benchmarks).
    pub fn unlimited() -> Self {
        SubmissionLimits {
            max_queued_jobs: 0,
            submit_rate: 0.0,
            submit_burst: 0,
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `rate` per second; one submission takes one.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The limits and their live state, one per server.
#[derive(Debug)]
pub struct Admission {
    limits: SubmissionLimits,
    bucket: Mutex<Bucket>,
    /// Admissions between the queue count and the job's insertion, so that concurrent
    /// submissions cannot all see room for one more.
    pending: AtomicU64,
}

impl Default for Admission {
    fn default() -> Self {
        Admission::new(SubmissionLimits::default())
    }
}

/// Holds places in the queue count until the jobs are written (or the request fails).
pub struct Reservation<'a>(&'a AtomicU64, u64);

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(self.1, Ordering::SeqCst);
    }
}

impl Admission {
    pub fn new(limits: SubmissionLimits) -> Self {
        Admission {
            limits,
            bucket: Mutex::new(Bucket {
                tokens: f64::from(limits.submit_burst.max(1)),
                refilled: Instant::now(),
            }),
            pending: AtomicU64::new(0),
        }
    }

    pub fn limits(&self) -> SubmissionLimits {
        self.limits
    }

    /// Takes one submission from the bucket, or says how long until one is there.
    #[cfg(test)]
    fn take_token(&self) -> std::result::Result<(), Duration> {
        self.take_tokens(1)
    }

    /// Takes `n` submissions from the bucket, or says how long until they are there. More than
    /// the bucket holds takes a full bucket: a sweep larger than the burst waits for it, once.
    fn take_tokens(&self, n: u64) -> std::result::Result<(), Duration> {
        let rate = self.limits.submit_rate;
        if rate <= 0.0 {
            return Ok(());
        }
        let capacity = f64::from(self.limits.submit_burst.max(1));
        let need = (n as f64).min(capacity);
        let mut bucket = self.bucket.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= need {
            bucket.tokens -= need;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((need - bucket.tokens) / rate))
        }
    }
}

/// Admits one new job, or answers 429. Keep the reservation until the job is written.
pub async fn admit(state: &AppState) -> Result<Reservation<'_>> {
    admit_many(state, 1).await
}

/// Admits `jobs` new jobs at once (a sweep: all or none), or answers 429. Keep the
/// reservation until the jobs are written.
pub async fn admit_many(state: &AppState, jobs: u64) -> Result<Reservation<'_>> {
    let admission = &state.config.admission;
    let limits = admission.limits;
    admission.pending.fetch_add(jobs, Ordering::SeqCst);
    let reservation = Reservation(&admission.pending, jobs);
    if limits.max_queued_jobs > 0 {
        let queued = state
            .store
            .count_by_status()
            .await?
            .into_iter()
            .find(|(status, _)| *status == JobStatus::Queued)
            .map_or(0, |(_, n)| n);
        // Our own reservation is among the pending ones.
        let others = admission
            .pending
            .load(Ordering::SeqCst)
            .saturating_sub(jobs);
        if queued.saturating_add(others).saturating_add(jobs) > limits.max_queued_jobs {
            return Err(ApiError::TooManyRequests {
                code: "queue_full",
                message: format!(
                    "{queued} jobs are queued and {jobs} more were asked for, the limit is {} \
                     (--max-queued-jobs); retry when workers have taken some",
                    limits.max_queued_jobs
                ),
                retry_after: defaults::QUEUE_FULL_RETRY_AFTER,
            });
        }
    }
    admission.take_tokens(jobs).map_err(|wait| ApiError::TooManyRequests {
        code: "rate_limited",
        message: format!(
            "more than {} job submissions per second (burst {}) (--submit-rate, --submit-burst)",
            limits.submit_rate, limits.submit_burst
        ),
        retry_after: wait,
    })?;
    Ok(reservation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let admission = Admission::new(SubmissionLimits {
            max_queued_jobs: 0,
            submit_rate: 0.001,
            submit_burst: 3,
        });
        for _ in 0..3 {
            admission.take_token().unwrap();
        }
        let wait = admission.take_token().unwrap_err();
        // One token at 0.001/s takes 1000 s, less the moment this test took.
        assert!(
            wait <= Duration::from_secs(1000) && wait > Duration::from_secs(900),
            "{wait:?}"
        );
    }

    #[test]
    fn a_zero_rate_is_unlimited() {
        let admission = Admission::new(SubmissionLimits::unlimited());
        for _ in 0..10_000 {
            admission.take_token().unwrap();
        }
    }
}
