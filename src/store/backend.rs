//! [`Store`]: the store the program runs on, SQLite or PostgreSQL, chosen by the database URL.
//! Every method has the same meaning on both; each call goes to the backend's own method.

use super::chart::Chart;
use super::health::{WriteFailure, WriteHealth};
use super::models::*;
use super::postgres::{self, PgStore};
use super::sqlite::SqliteStore;
use super::{Result, StoreError};
use crate::evolution::GenerationRecord;
use futures_util::Stream;
use std::time::Duration;

/// Generation records per query of [`Store::history_stream`].
const HISTORY_BATCH: i64 = 2000;

/// The store the program runs on. Cloning is cheap (backends share a connection pool).
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl From<SqliteStore> for Store {
    fn from(store: SqliteStore) -> Self {
        Store::Sqlite(store)
    }
}

impl From<PgStore> for Store {
    fn from(store: PgStore) -> Self {
        Store::Postgres(store)
    }
}

/// Calls the same method on whichever backend `$self` holds; a storage failure it meets marks
/// the store as failing (see [`WriteHealth`]).
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {{
        let result = match $self {
            Store::Sqlite(s) => s.$method($($arg),*).await,
            Store::Postgres(s) => s.$method($($arg),*).await,
        };
        if let Err(e) = &result {
            $self.write_health().note(e);
        }
        result
    }};
}

impl Store {
    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers (a read).
    pub async fn healthy(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.healthy().await,
            Store::Postgres(s) => s.healthy().await,
        }
    }

    /// The record of storage failures this store met.
    pub fn write_health(&self) -> &WriteHealth {
        match self {
            Store::Sqlite(s) => s.write_health(),
            Store::Postgres(s) => s.write_health(),
        }
    }

    /// `Ok` when the store can write: no storage failure since the last successful probe, or a
    /// probe write made now succeeds (probes run at most every
    /// [`PROBE_INTERVAL`](crate::limits::storage::PROBE_INTERVAL)).
    pub async fn writable(&self) -> Result<(), WriteFailure> {
        self.write_health()
            .check(|bytes| async move {
                match self {
                    Store::Sqlite(s) => s.probe_write(bytes).await,
                    Store::Postgres(s) => s.probe_write(bytes).await,
                }
            })
            .await
    }

    /// Refuses new work while the store cannot write, rather than accepting it into a store
    /// that cannot run it (or failing halfway).
    async fn admit(&self) -> Result<()> {
        self.writable()
            .await
            .map_err(|failure| StoreError::Unavailable(failure.reason))
    }

    // ---- live events across machines -----------------------------------------------------

    /// Sends `payload` to the listeners of this store on every machine (PostgreSQL `NOTIFY`,
    /// delivered when the sending statement commits). Payloads of 8000 bytes or more are refused
    /// with [`super::StoreError::Invalid`] on both backends. On SQLite this sends nothing: one SQLite
    /// file serves one process, whose in-process event hub already carries every event.
    pub async fn notify(&self, payload: &str) -> Result<()> {
        match self {
            Store::Sqlite(_) => postgres::check_payload(payload),
            Store::Postgres(s) => s.notify(payload).await,
        }
    }

    /// The payloads sent to this store from now on, by [`Store::notify`] and by
    /// `record_generation` (`{"type":"generation","job_id":…,"generation":…}`), on any machine.
    /// `None` on SQLite, which has no other machines to hear from. An
    /// [`super::StoreError::EventsMissed`] item means the connection was lost and re-established:
    /// resynchronise from the store.
    pub async fn listen(
        &self,
    ) -> Result<Option<impl Stream<Item = Result<String>> + Send + Unpin + 'static>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(s) => Ok(Some(s.listen().await?)),
        }
    }

    // ---- jobs -----------------------------------------------------------------------------

    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        self.admit().await?;
        dispatch!(self.create_job(new))
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        dispatch!(self.get_job(id))
    }

    /// Jobs newest first, `limit` per page, after `cursor`.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<JobPage> {
        dispatch!(self.list_jobs(filter, limit, cursor))
    }

    /// Number of jobs per status.
    pub async fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>> {
        dispatch!(self.count_by_status())
    }

    /// Cancels a queued job at once; asks a running one to stop at its next generation
    /// boundary. Finished jobs are left as they are.
    pub async fn request_cancel(&self, id: &str) -> Result<Job> {
        dispatch!(self.request_cancel(id))
    }

    /// Cancels every queued or running job that matches; returns how many.
    pub async fn cancel_matching(&self, filter: &JobFilter) -> Result<u64> {
        dispatch!(self.cancel_matching(filter))
    }

    /// Queues a cancelled or failed job again; it continues from its last checkpoint.
    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn resume_job(&self, id: &str) -> Result<Job> {
        self.admit().await?;
        dispatch!(self.resume_job(id))
    }

    /// Deletes a job that is not running, with all its records, checkpoint and genomes.
    pub async fn delete_job(&self, id: &str) -> Result<()> {
        dispatch!(self.delete_job(id))
    }

    // ---- queue and leases -----------------------------------------------------------------

    /// Atomically claims the next queued job (highest priority, then oldest, then id).
    pub async fn claim_job(&self, worker_id: &str, lease: Duration) -> Result<Option<Claim>> {
        dispatch!(self.claim_job(worker_id, lease))
    }

    /// Extends a lease. `false`: the lease is gone and the worker must stop.
    pub async fn heartbeat(&self, id: &str, token: &str, lease: Duration) -> Result<bool> {
        dispatch!(self.heartbeat(id, token, lease))
    }

    /// Puts running jobs whose lease expired back in the queue (or ends them as cancelled if a
    /// cancel was asked for); returns their ids.
    pub async fn requeue_expired(&self) -> Result<Vec<String>> {
        dispatch!(self.requeue_expired())
    }

    /// Whether a cancel was asked for, and whether the lease is still ours.
    pub async fn lease_state(&self, id: &str, token: &str) -> Result<LeaseState> {
        dispatch!(self.lease_state(id, token))
    }

    /// Records which executor and device run the job.
    pub async fn set_executor(
        &self,
        id: &str,
        token: &str,
        executor: &str,
        device: &str,
    ) -> Result<()> {
        dispatch!(self.set_executor(id, token, executor, device))
    }

    /// Ends a claimed job.
    pub async fn finish_job(
        &self,
        id: &str,
        token: &str,
        status: JobStatus,
        error: Option<&str>,
        stop_reason: Option<&str>,
    ) -> Result<()> {
        dispatch!(self.finish_job(id, token, status, error, stop_reason))
    }

    /// Ends a run that crashed (a panic caught by its worker): the job goes back to the queue,
    /// or fails with `reason` at its `MAX_CRASHES`th crash. Returns the job's new status.
    pub async fn record_crash(&self, id: &str, token: &str, reason: &str) -> Result<JobStatus> {
        dispatch!(self.record_crash(id, token, reason))
    }

    /// Gives a claimed job back to the queue; it continues from its last checkpoint.
    pub async fn release_job(&self, id: &str, token: &str) -> Result<()> {
        dispatch!(self.release_job(id, token))
    }

    /// Gives a claimed job back to the queue without counting its claim as an attempt (the
    /// store failed, not the job); it continues from its last checkpoint.
    pub async fn hand_back_job(&self, id: &str, token: &str) -> Result<()> {
        dispatch!(self.hand_back_job(id, token))
    }

    // ---- generations and checkpoints ------------------------------------------------------

    /// The last checkpoint: (generations completed, serialised state).
    pub async fn load_checkpoint(&self, id: &str) -> Result<Option<(u64, Vec<u8>)>> {
        dispatch!(self.load_checkpoint(id))
    }

    /// Forgets everything recorded from generation `from` on.
    pub async fn truncate_from(
        &self,
        id: &str,
        token: &str,
        from: u64,
        best_fitness: Option<f64>,
    ) -> Result<()> {
        dispatch!(self.truncate_from(id, token, from, best_fitness))
    }

    /// Writes one generation, its genomes and checkpoint in one transaction fenced by the lease.
    pub async fn record_generation(
        &self,
        id: &str,
        token: &str,
        record: &GenerationRecord,
        genomes: &[NewGenome],
        checkpoint: Option<&[u8]>,
    ) -> Result<()> {
        dispatch!(self.record_generation(id, token, record, genomes, checkpoint))
    }

    /// Saves a checkpoint outside a generation record.
    pub async fn save_checkpoint(
        &self,
        id: &str,
        token: &str,
        generation: u64,
        state: &[u8],
    ) -> Result<()> {
        dispatch!(self.save_checkpoint(id, token, generation, state))
    }

    /// Stores the genomes that close a run, fenced by the lease.
    pub async fn record_final_genomes(
        &self,
        id: &str,
        token: &str,
        genomes: &[NewGenome],
    ) -> Result<()> {
        dispatch!(self.record_final_genomes(id, token, genomes))
    }

    /// Records of generations after `after` (all if `None`), in order, at most `limit`.
    pub async fn history_page(
        &self,
        id: &str,
        after: Option<u64>,
        limit: i64,
    ) -> Result<Vec<GenerationRecord>> {
        dispatch!(self.history_page(id, after, limit))
    }

    /// The whole history as a stream, read in batches, so exporting a long run costs no more
    /// memory than one batch.
    pub fn history_stream(
        &self,
        id: String,
    ) -> impl Stream<Item = Result<GenerationRecord>> + Send + 'static {
        let store = self.clone();
        let state = (
            store,
            id,
            None::<u64>,
            Vec::<GenerationRecord>::new().into_iter(),
            false,
        );
        futures_util::stream::unfold(state, |(store, id, after, mut batch, done)| async move {
            if let Some(record) = batch.next() {
                let after = Some(record.generation);
                return Some((Ok(record), (store, id, after, batch, done)));
            }
            if done {
                return None;
            }
            match store.history_page(&id, after, HISTORY_BATCH).await {
                Ok(records) => {
                    let last = (records.len() as i64) < HISTORY_BATCH;
                    let mut batch = records.into_iter();
                    let record = batch.next()?;
                    let after = Some(record.generation);
                    Some((Ok(record), (store, id, after, batch, last)))
                }
                Err(e) => Some((Err(e), (store, id, after, Vec::new().into_iter(), true))),
            }
        })
    }

    /// The chart numbers of every generation, in order.
    pub async fn history_points(&self, id: &str) -> Result<Vec<HistoryPoint>> {
        dispatch!(self.history_points(id))
    }

    /// The chart of a history, reduced in SQL; equals [`super::chart::downsample`].
    pub async fn history_chart(&self, id: &str, max_points: usize) -> Result<Chart> {
        dispatch!(self.history_chart(id, max_points))
    }

    // ---- genomes and evaluations ----------------------------------------------------------

    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn insert_genome(&self, genome: &NewGenome) -> Result<GenomeMeta> {
        self.admit().await?;
        dispatch!(self.insert_genome(genome))
    }

    pub async fn genome_meta(&self, id: &str) -> Result<Option<GenomeMeta>> {
        dispatch!(self.genome_meta(id))
    }

    /// A genome's values.
    pub async fn genome_values(&self, id: &str) -> Result<Option<Vec<f32>>> {
        dispatch!(self.genome_values(id))
    }

    pub async fn job_genomes(&self, job_id: &str) -> Result<Vec<GenomeMeta>> {
        dispatch!(self.job_genomes(job_id))
    }

    /// Stores an evaluation's result and ends its job, in one transaction.
    pub async fn finish_evaluation(
        &self,
        job_id: &str,
        token: &str,
        genome_id: &str,
        result: &serde_json::Value,
    ) -> Result<()> {
        dispatch!(self.finish_evaluation(job_id, token, genome_id, result))
    }

    pub async fn evaluation(&self, job_id: &str) -> Result<Option<serde_json::Value>> {
        dispatch!(self.evaluation(job_id))
    }
}
