//! Whether the store can write, and what to do with a connection a failed transaction left
//! behind.
//!
//! A store that answers reads may still be unable to write (a full disk, an I/O error, a lock
//! held too long, a database that went away). Such an error is no fault of the request or job
//! that met it, so it becomes [`StoreError::Unavailable`](super::StoreError::Unavailable): the
//! API answers 503 with `Retry-After`, workers back off and hand the job back without counting
//! the attempt.
//!
//! [`WriteHealth`] remembers the last such failure. From then on the store is unhealthy until a
//! probe write of [`WRITE_PROBE_BYTES`] succeeds (run by `/healthz`, by a submission, or by a
//! worker waiting to claim), so a store that can squeeze in a small write but not a generation's
//! worth of data is still reported as failing. Ordinary writes that succeed do not clear it: on
//! a full disk SQLite can often still fit a small write into space its write-ahead log already
//! holds.

use super::StoreError;
use crate::limits::storage::{PROBE_INTERVAL, WRITE_PROBE_BYTES};
use sqlx::pool::PoolConnectionMetadata;
use sqlx::{Connection, Database};
use std::sync::Mutex;
use std::time::Instant;

/// Whether `e` means the store cannot work right now (rather than that the request is wrong):
/// a full disk, an I/O error, a database locked or busy past the timeout, a connection lost.
pub(super) fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLite's extended result code; the primary code is its low byte.
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                matches!(
                    code & 0xff,
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
                )
            } else {
                // PostgreSQL's SQLSTATE: 53 insufficient resources (53100 disk full),
                // 08 connection exception, 57P0x the server shutting down or starting,
                // 58030 I/O error.
                let state = db.code().unwrap_or_default();
                state.starts_with("53")
                    || state.starts_with("08")
                    || state.starts_with("57P0")
                    || state == "58030"
            }
        }
        _ => false,
    }
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// A pool's `after_release` check: a connection goes back to the pool only outside any
/// transaction; otherwise it is closed (which rolls back whatever is still open).
///
/// This is what keeps a failed commit from wedging the pool. When COMMIT fails with
/// `SQLITE_FULL`, SQLite has often rolled the transaction back already; sqlx then queues a
/// ROLLBACK, which fails ("no transaction is active") and leaves the connection's transaction
/// depth at 1, so every later `begin immediate` on it fails with "attempted to call begin_with
/// at non-zero transaction depth", even after space returns. The ping lets that queued rollback
/// run first; whatever depth is left then means the connection's state cannot be trusted.
pub(super) fn release_outside_transaction<DB: Database>(
    conn: &mut DB::Connection,
    _meta: PoolConnectionMetadata,
) -> futures_util::future::BoxFuture<'_, Result<bool, sqlx::Error>> {
    Box::pin(async move {
        conn.ping().await?;
        let clean = !conn.is_in_transaction();
        if !clean {
            tracing::warn!("closing a database connection left inside a transaction");
        }
        Ok(clean)
    })
}

/// The last storage failure, if the store has not written successfully since.
#[derive(Debug, Default)]
pub struct WriteHealth {
    failing: Mutex<Option<Failure>>,
    /// One probe at a time; callers that arrive meanwhile share its answer.
    probing: tokio::sync::Mutex<()>,
    /// Wakes those waiting for the store to write again (workers backing off).
    recovered: tokio::sync::Notify,
}

#[derive(Debug, Clone)]
struct Failure {
    /// When writes started failing (Unix milliseconds).
    since_ms: i64,
    reason: String,
    last_probe: Option<Instant>,
}

/// Why the store cannot write, for `/healthz`.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteFailure {
    pub reason: String,
    /// When writes started failing (Unix milliseconds).
    pub since_ms: i64,
}

impl WriteHealth {
    /// Remembers a storage failure (other errors say nothing about the store's health).
    pub(super) fn note(&self, error: &StoreError) {
        if let StoreError::Unavailable(reason) = error {
            let mut failing = self.failing.lock().unwrap();
            match failing.as_mut() {
                Some(f) => f.reason.clone_from(reason),
                None => {
                    tracing::warn!("the store cannot write: {reason}");
                    *failing = Some(Failure {
                        since_ms: super::now_ms(),
                        reason: reason.clone(),
                        last_probe: None,
                    });
                }
            }
        }
    }

    /// Completes when a probe finds the store writing again (from `/healthz`, say), so a worker
    /// backing off need not sleep out its wait.
    pub async fn recovered(&self) {
        self.recovered.notified().await
    }

    /// The standing failure, without probing.
    pub fn failure(&self) -> Option<WriteFailure> {
        self.failing.lock().unwrap().as_ref().map(|f| WriteFailure {
            reason: f.reason.clone(),
            since_ms: f.since_ms,
        })
    }

    /// `Ok` when the store writes; while it fails, probes at most every [`PROBE_INTERVAL`] with
    /// `probe` (a write of [`WRITE_PROBE_BYTES`]) and clears the failure when that succeeds.
    pub(super) async fn check<F, Fut>(&self, probe: F) -> Result<(), WriteFailure>
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<(), StoreError>>,
    {
        if self.failing.lock().unwrap().is_none() {
            return Ok(());
        }
        let _probing = self.probing.lock().await;
        let due = match self.failing.lock().unwrap().as_ref() {
            None => return Ok(()),
            Some(f) => f.last_probe.is_none_or(|t| t.elapsed() >= PROBE_INTERVAL),
        };
        if due {
            let outcome = probe(WRITE_PROBE_BYTES).await;
            let mut failing = self.failing.lock().unwrap();
            match outcome {
                Ok(()) => {
                    if let Some(f) = failing.take() {
                        let seconds = (super::now_ms() - f.since_ms) as f64 / 1000.0;
                        tracing::info!("the store writes again (it failed for {seconds:.1} s)");
                    }
                    self.recovered.notify_waiters();
                    return Ok(());
                }
                Err(e) => {
                    if let Some(f) = failing.as_mut() {
                        f.last_probe = Some(Instant::now());
                        f.reason = match e {
                            StoreError::Unavailable(reason) => reason,
                            other => other.to_string(),
                        };
                    }
                }
            }
        }
        Err(self.failure().expect("still failing"))
    }
}
