//! Workers: claim a queued job that their executor may run, run it generation by generation,
//! record everything, and hold the job's lease with a heartbeat while doing so.
//!
//! A worker may die at any instruction. Everything it recorded is consistent (a generation, its
//! progress and its checkpoint are one transaction), its lease expires, the job is re-queued and
//! the next claim continues from the last checkpoint, recomputing the generations after it
//! identically.

mod evaluate;
mod evolve;

use crate::exec::{Executor, ExecutorChoice};
use crate::limits::storage;
use crate::limits::worker::MAX_CRASHES;
use crate::metrics::Metrics;
use crate::store::{Claim, JobKind, JobStatus, RunPlacement, Store, StoreError};
use futures_util::FutureExt;
use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How a worker behaves.
#[derive(Clone)]
pub struct WorkerConfig {
    /// Shown on the jobs it runs.
    pub id: String,
    /// A claim expires this long after the last heartbeat.
    pub lease: Duration,
    /// How often to look for work when the queue is empty.
    pub poll: Duration,
    pub executor: Arc<dyn Executor>,
    pub metrics: Arc<Metrics>,
}

/// Set to `true` to ask workers to stop after their current generation.
pub type Shutdown = watch::Receiver<bool>;

/// How a job's run ended, from the worker's side.
#[derive(Debug)]
enum Outcome {
    /// The job reached a final status (already written).
    Finished,
    /// Shutting down: the job goes back to the queue.
    Released,
    /// Someone else owns the job now; write nothing more.
    LeaseLost,
}

/// One worker.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    config: WorkerConfig,
    shutdown: Shutdown,
}

impl Worker {
    pub fn new(store: Store, config: WorkerConfig, shutdown: Shutdown) -> Self {
        Worker {
            store,
            config,
            shutdown,
        }
    }

    /// Runs jobs until shutdown.
    pub async fn run(mut self) {
        tracing::info!(worker = %self.config.id, "worker started");
        let mut backoff = Backoff::default();
        while !*self.shutdown.borrow() {
            // While the store cannot write (a full disk), a claim would fail or start a job
            // that cannot record anything: wait, longer each time, until a probe write succeeds.
            if let Err(failure) = self.store.writable().await {
                let wait = backoff.next_wait();
                tracing::warn!(
                    "the store cannot write ({}); next look in {wait:?}",
                    failure.reason
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.shutdown.changed() => {}
                    _ = self.store.write_health().recovered() => {}
                }
                continue;
            }
            backoff = Backoff::default();
            match self.store.requeue_expired().await {
                Ok(ids) if !ids.is_empty() => {
                    tracing::warn!(
                        jobs = ?ids,
                        "jobs whose worker died (lease expired): re-queued, or failed at \
                         {MAX_CRASHES} crashes"
                    );
                    self.config.metrics.lease_takeovers(ids.len() as u64);
                    self.config.metrics.jobs_crashed(ids.len() as u64);
                }
                Ok(_) => {}
                Err(e) => tracing::error!("re-queueing expired leases failed: {e}"),
            }
            match self
                .store
                .claim_job_for(
                    &self.config.id,
                    self.config.lease,
                    Some(self.config.executor.name()),
                )
                .await
            {
                Ok(Some(claim)) => self.run_claim(claim).await,
                Ok(None) => self.idle().await,
                Err(e) => {
                    tracing::error!("claiming a job failed: {e}");
                    self.idle().await;
                }
            }
        }
        tracing::info!(worker = %self.config.id, "worker stopped");
    }

    async fn idle(&mut self) {
        let poll = self.config.poll;
        let _ = tokio::time::timeout(poll, self.shutdown.changed()).await;
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    async fn run_claim(&self, claim: Claim) {
        let span =
            tracing::info_span!("job", job_id = %claim.job.id, kind = claim.job.kind.as_str());
        self.run_claim_in_span(claim).instrument(span).await;
    }

    async fn run_claim_in_span(&self, claim: Claim) {
        let id = claim.job.id.clone();
        tracing::info!(attempt = claim.job.attempts, "claimed");

        let lost = Arc::new(AtomicBool::new(false));
        // Dropped whichever way the run ends, panics included: a lease is renewed only while
        // its run is alive.
        let heartbeat = AbortOnDrop(tokio::spawn(heartbeat(
            self.store.clone(),
            id.clone(),
            claim.lease_token.clone(),
            self.config.lease,
            lost.clone(),
        )));
        let run = async {
            match claim.job.kind {
                JobKind::Evolve => self.evolve(&claim, &lost).await,
                JobKind::Evaluate => self.evaluate(&claim).await,
            }
        };
        let result = AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(WorkerError::Panicked(panic_message(&*panic))));
        drop(heartbeat);

        let token = &claim.lease_token;
        match result {
            Ok(Outcome::Finished) => tracing::info!("finished"),
            Ok(Outcome::Released) => {
                tracing::info!("released for another worker (shutting down)");
                if let Err(e) = self.store.release_job(&id, token).await {
                    tracing::warn!("releasing the job failed: {e}");
                }
            }
            Ok(Outcome::LeaseLost) | Err(WorkerError::Store(StoreError::LeaseLost)) => {
                tracing::warn!("lease lost; another worker continues the job");
                self.config.metrics.lease_lost();
            }
            // A full disk, an I/O error or a lost database is no fault of the job: hand it back,
            // without counting the attempt, to continue from its checkpoint; the claim loop
            // above then waits for the store to write again.
            Err(WorkerError::Store(StoreError::Unavailable(e))) => {
                tracing::warn!("the store is unavailable, handing the job back: {e}");
                self.hand_back(&id, token).await;
            }
            // Any other database error is no fault of the job either: hand it back to continue
            // from its checkpoint, unless it keeps happening.
            Err(WorkerError::Store(StoreError::Database(e)))
                if claim.job.attempts < RETRIES_ON_DATABASE_ERRORS =>
            {
                tracing::warn!("database error, handing the job back to the queue: {e}");
                if let Err(e) = self.store.release_job(&id, token).await {
                    tracing::warn!("releasing the job failed (its lease will expire): {e}");
                }
                // Give the database a moment before this worker claims again.
                tokio::time::sleep(self.config.poll.max(Duration::from_secs(1))).await;
            }
            Err(WorkerError::Panicked(message)) => self.crashed(&id, token, &message).await,
            Err(e) => {
                tracing::error!("job failed: {e}");
                let message = e.to_string();
                if let Err(e) = self
                    .store
                    .finish_job(&id, token, JobStatus::Failed, Some(&message), None)
                    .await
                {
                    tracing::warn!("recording the failure failed: {e}");
                }
            }
        }
    }

    /// A run panicked: a bug, or a job the executor cannot take. The job goes back to the
    /// queue, and fails with the panic's message once it has crashed `MAX_CRASHES` times, so
    /// one bad job never holds a worker or a lease.
    async fn crashed(&self, id: &str, token: &str, message: &str) {
        self.config.metrics.worker_panicked();
        self.config.metrics.jobs_crashed(1);
        let reason = format!("the worker panicked while running this job: {message}");
        tracing::error!("{reason}");
        match self.store.record_crash(id, token, &reason).await {
            Ok(JobStatus::Failed) => {
                tracing::error!("the job crashed {MAX_CRASHES} times and is failed")
            }
            Ok(status) => tracing::warn!(status = status.as_str(), "crashed run ended"),
            Err(e) => tracing::warn!("recording the crash failed (its lease will expire): {e}"),
        }
    }
}

impl Worker {
    /// Records where the claimed job runs: this worker's executor, device and machine, and why
    /// here (the job asked for `requested`).
    async fn place(
        &self,
        id: &str,
        token: &str,
        requested: ExecutorChoice,
    ) -> Result<(), StoreError> {
        let executor = &self.config.executor;
        self.store
            .set_executor(
                id,
                token,
                &RunPlacement {
                    executor: executor.name(),
                    device: &executor.device(),
                    machine: &executor.machine(),
                    reason: &placement(requested, executor.name()),
                },
            )
            .await
    }
}

/// Why a job that asks for `requested` runs on this worker's executor, `name`, in words.
fn placement(requested: ExecutorChoice, name: &str) -> String {
    match requested {
        ExecutorChoice::Auto => {
            format!("the job runs on any executor; a {name} worker claimed it")
        }
        _ => format!("the job asks for the {name} executor"),
    }
}

/// Runs `worker` until shutdown. A panic inside a job is caught where the job runs; one in the
/// worker's own loop (claiming, polling) ends up here: it is counted, and the loop restarts
/// after a pause that doubles up to a minute, so a worker never silently disappears.
pub async fn supervise(worker: Worker) {
    let metrics = worker.config.metrics.clone();
    let mut shutdown = worker.shutdown.clone();
    metrics.worker_spawned();
    let mut pause = Duration::from_secs(1);
    loop {
        metrics.worker_alive(true);
        let result = AssertUnwindSafe(worker.clone().run()).catch_unwind().await;
        metrics.worker_alive(false);
        let Err(panic) = result else {
            return;
        };
        metrics.worker_panicked();
        tracing::error!(
            worker = %worker.config.id,
            "worker loop panicked, restarting in {pause:?}: {}",
            panic_message(&*panic)
        );
        if tokio::time::timeout(pause, shutdown.wait_for(|stop| *stop))
            .await
            .is_ok()
        {
            return;
        }
        pause = (pause * 2).min(Duration::from_secs(60));
    }
}

/// Runs CPU-bound work (building a strategy, a generation, reading a checkpoint) on the
/// blocking pool, so it never stalls the async workers, heartbeats and requests; a panic in it
/// becomes [`WorkerError::Panicked`] with its message.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, WorkerError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        WorkerError::Panicked(match e.try_into_panic() {
            Ok(panic) => panic_message(&*panic),
            Err(e) => e.to_string(),
        })
    })
}

/// Aborts its task when dropped.
pub(super) struct AbortOnDrop(pub(super) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The text of a panic payload (`panic!` with a string or a format), else a placeholder.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Claims after which a database error fails a job instead of queueing it again.
const RETRIES_ON_DATABASE_ERRORS: u32 = 10;

impl Worker {
    /// Hands a job back to the queue without counting the attempt, retrying while the store
    /// fails. Gives up when the lease is gone or the worker stops: the lease then expires and
    /// the job is queued again anyway.
    async fn hand_back(&self, id: &str, token: &str) {
        let mut backoff = Backoff::default();
        let mut shutdown = self.shutdown.clone();
        loop {
            match self.store.hand_back_job(id, token).await {
                Ok(()) | Err(StoreError::LeaseLost) => return,
                Err(e) if self.stopping() => {
                    tracing::warn!("handing the job back failed (its lease will expire): {e}");
                    return;
                }
                Err(e) => {
                    let wait = backoff.next_wait();
                    tracing::warn!("handing the job back failed, next try in {wait:?}: {e}");
                    let _ = tokio::time::timeout(wait, shutdown.changed()).await;
                }
            }
        }
    }
}

/// Waits between looks at a failing store: from [`BACKOFF_MIN`](storage::BACKOFF_MIN),
/// doubling up to [`BACKOFF_MAX`](storage::BACKOFF_MAX).
#[derive(Debug, Default)]
struct Backoff {
    last: Option<Duration>,
}

impl Backoff {
    fn next_wait(&mut self) -> Duration {
        let wait = self.last.map_or(storage::BACKOFF_MIN, |last| {
            (last * 2).min(storage::BACKOFF_MAX)
        });
        self.last = Some(wait);
        wait
    }
}

/// Why a job could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid job: {0}")]
    Invalid(String),
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    #[error("panicked: {0}")]
    Panicked(String),
}

/// Renews the lease every third of its length until aborted; flags a lost lease.
async fn heartbeat(
    store: Store,
    id: String,
    token: String,
    lease: Duration,
    lost: Arc<AtomicBool>,
) {
    let mut interval = tokio::time::interval(lease / 3);
    interval.tick().await;
    loop {
        interval.tick().await;
        match store.heartbeat(&id, &token, lease).await {
            Ok(true) => {}
            Ok(false) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A transient database error: try again next tick; the lease has slack.
            Err(e) => tracing::warn!(job_id = %id, "heartbeat failed: {e}"),
        }
    }
}
