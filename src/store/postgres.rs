//! The PostgreSQL store: the same interface and behaviour as [`super::SqliteStore`], for many
//! machines on one database.
//!
//! Differences that matter, and why:
//! - Time stamps come from the database's clock (`sfnn_now_ms()` in the migration), never from
//!   the process: leases are granted and expired by one clock, so clock skew between worker
//!   machines cannot expire a lease early or keep a dead worker's lease alive.
//! - Claiming uses `for update skip locked`, so concurrent claimers never wait on each other and
//!   never get the same job.
//! - NaN is stored as NULL, as SQLite does on its own, so aggregates (`min`, `max`) skip it the
//!   same way (PostgreSQL would otherwise order NaN above every number).
//! - Each recorded generation sends a notification on the store's channel in the same
//!   transaction (delivered on commit), so servers on other machines can follow live runs.

use super::chart::{self, Chart};
use super::health::{self, WriteHealth};
use super::models::*;
use super::{DIED_TOO_OFTEN, MAX_CRASHES, NEXT_CRASHES, Result, StoreError};
use crate::evolution::GenerationRecord;
use crate::model::ModelConfig;
use futures_util::Stream;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    channel: String,
    health: Arc<WriteHealth>,
}

/// PostgreSQL refuses notification payloads of 8000 bytes or more.
pub const MAX_NOTIFY_PAYLOAD: usize = 7999;

/// The channel of the `public` schema; stores in other schemas use `sfnn_events_<schema>`, so
/// deployments (and tests) sharing one database do not hear each other.
pub const EVENTS_CHANNEL: &str = "sfnn_events";

impl PgStore {
    /// Connects to a `postgres://` URL and applies the migrations. The URL may choose a schema
    /// with `?options=-c%20search_path%3D<schema>` (the schema must exist).
    pub async fn open(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        // One connection first: an unreachable server or a refused login fails at once with
        // its own cause, where the pool would retry until its timeout and report only that.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .after_release(health::release_outside_transaction::<Postgres>)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let schema: String = sqlx::query_scalar("select current_schema()")
            .fetch_one(&pool)
            .await?;
        let channel = if schema == "public" {
            EVENTS_CHANNEL.to_string()
        } else {
            format!("{EVENTS_CHANNEL}_{schema}")
        };
        Ok(PgStore {
            pool,
            channel,
            health: Arc::default(),
        })
    }

    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    /// A committed write to the probe row: whether the database accepts writes. (PostgreSQL
    /// manages its own space; `_bytes` is what SQLite needs to check.)
    pub async fn probe_write(&self, _bytes: usize) -> Result<()> {
        sqlx::query(
            "insert into store_probe (probe_id, probed_at) values (1, sfnn_now_ms()) \
             on conflict (probe_id) do update set probed_at = excluded.probed_at",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The notification channel this store sends on and listens to.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    pub async fn healthy(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }

    // ---- live events ----------------------------------------------------------------------

    /// Sends `payload` to every listener of this store's channel, on any machine.
    pub async fn notify(&self, payload: &str) -> Result<()> {
        check_payload(payload)?;
        sqlx::query("select pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Payloads sent on this store's channel, from now on. After a lost connection the listener
    /// reconnects and yields [`StoreError::EventsMissed`] once: what was sent meanwhile is gone,
    /// so the consumer should resynchronise from the store.
    pub async fn listen(
        &self,
    ) -> Result<impl Stream<Item = Result<String>> + Send + Unpin + 'static> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(&self.channel).await?;
        Ok(Box::pin(futures_util::stream::unfold(
            listener,
            |mut listener| async move {
                let item = match listener.try_recv().await {
                    Ok(Some(notification)) => Ok(notification.payload().to_string()),
                    Ok(None) => Err(StoreError::EventsMissed),
                    Err(e) => Err(StoreError::Database(e)),
                };
                Some((item, listener))
            },
        )))
    }

    // ---- jobs -----------------------------------------------------------------------------

    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        let row = sqlx::query(
            "insert into job (job_id, kind, name, tags, spec, status, priority, generations, \
             created_at, updated_at) \
             values ($1, $2, $3, $4, $5, 'queued', $6, $7, sfnn_now_ms(), sfnn_now_ms()) \
             returning *",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(serde_json::to_string(&new.tags).expect("tags serialise"))
        .bind(new.spec.to_string())
        .bind(new.priority)
        .bind(new.generations as i64)
        .fetch_one(&self.pool)
        .await?;
        job_from_row(&row)
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query("select * from job where job_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Jobs newest first, `limit` per page, after `cursor`.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<JobPage> {
        let rows = sqlx::query(
            "select * from job \
             where ($1::text is null or status = $1) and ($2::text is null or kind = $2) \
               and ($3::text is null or tags::jsonb ? $3) \
               and ($4::bigint is null or (created_at, job_id) < ($4, $5::text)) \
             order by created_at desc, job_id desc limit $6",
        )
        .bind(filter.status.map(JobStatus::as_str))
        .bind(filter.kind.map(JobKind::as_str))
        .bind(filter.tag.as_deref())
        .bind(cursor.map(|c| c.created_at))
        .bind(cursor.map(|c| c.id.as_str()))
        .bind(i64::from(limit) + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = rows.iter().map(job_from_row).collect::<Result<Vec<_>>>()?;
        let next_cursor = if jobs.len() > limit as usize {
            jobs.truncate(limit as usize);
            jobs.last().map(|j| {
                Cursor {
                    created_at: j.created_at,
                    id: j.id.clone(),
                }
                .encode()
            })
        } else {
            None
        };
        Ok(JobPage { jobs, next_cursor })
    }

    /// Number of jobs per status.
    pub async fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>> {
        let rows = sqlx::query("select status, count(*) as n from job group by status")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status")?;
                let n: i64 = r.try_get("n")?;
                let status = JobStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?;
                Ok((status, n as u64))
            })
            .collect()
    }

    /// Cancels a queued job at once; asks a running one to stop at its next generation
    /// boundary. Finished jobs are left as they are.
    pub async fn request_cancel(&self, id: &str) -> Result<Job> {
        let row = sqlx::query(
            "update job set \
               status = case when status = 'queued' then 'cancelled' else status end, \
               finished_at = case when status = 'queued' then sfnn_now_ms() else finished_at end, \
               cancel_requested = case when status = 'running' then true else cancel_requested end, \
               updated_at = sfnn_now_ms() \
             where job_id = $1 returning *",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(job_from_row)
            .transpose()?
            .ok_or(StoreError::NotFound("job"))
    }

    /// Cancels every queued or running job that matches; returns how many.
    pub async fn cancel_matching(&self, filter: &JobFilter) -> Result<u64> {
        let done = sqlx::query(
            "update job set \
               status = case when status = 'queued' then 'cancelled' else status end, \
               finished_at = case when status = 'queued' then sfnn_now_ms() else finished_at end, \
               cancel_requested = case when status = 'running' then true else cancel_requested end, \
               updated_at = sfnn_now_ms() \
             where status in ('queued', 'running') \
               and ($1::text is null or status = $1) and ($2::text is null or kind = $2) \
               and ($3::text is null or tags::jsonb ? $3)",
        )
        .bind(filter.status.map(JobStatus::as_str))
        .bind(filter.kind.map(JobKind::as_str))
        .bind(filter.tag.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Queues a cancelled or failed job again; it continues from its last checkpoint.
    pub async fn resume_job(&self, id: &str) -> Result<Job> {
        let row = sqlx::query(
            "update job set status = 'queued', error = null, stop_reason = null, \
               cancel_requested = false, finished_at = null, updated_at = sfnn_now_ms() \
             where job_id = $1 and status in ('cancelled', 'failed') returning *",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => job_from_row(&row),
            None => match self.get_job(id).await? {
                Some(job) => Err(StoreError::Conflict(format!(
                    "job is {}; only cancelled or failed jobs can be resumed",
                    job.status.as_str()
                ))),
                None => Err(StoreError::NotFound("job")),
            },
        }
    }

    /// Deletes a job that is not running, with all its records, checkpoint and genomes.
    pub async fn delete_job(&self, id: &str) -> Result<()> {
        let done = sqlx::query("delete from job where job_id = $1 and status != 'running'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        match self.get_job(id).await? {
            Some(_) => Err(StoreError::Conflict(
                "job is running; cancel it first".into(),
            )),
            None => Err(StoreError::NotFound("job")),
        }
    }

    // ---- queue and leases -----------------------------------------------------------------

    /// Atomically claims the next queued job (highest priority, then oldest). `skip locked`
    /// lets concurrent claimers pass over a row another one is taking instead of waiting for
    /// it, and the row lock means no two of them can take the same job.
    pub async fn claim_job(&self, worker_id: &str, lease: Duration) -> Result<Option<Claim>> {
        let token = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(
            "update job set status = 'running', worker_id = $1, lease_token = $2, \
               lease_expires_at = sfnn_now_ms() + $3, attempts = attempts + 1, \
               started_at = coalesce(started_at, sfnn_now_ms()), updated_at = sfnn_now_ms() \
             where job_id = (select job_id from job where status = 'queued' \
                             order by priority desc, created_at, job_id limit 1 \
                             for update skip locked) \
             returning *",
        )
        .bind(worker_id)
        .bind(&token)
        .bind(lease_ms(lease))
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => Some(Claim {
                job: job_from_row(&row)?,
                lease_token: token,
            }),
            None => None,
        })
    }

    /// Extends a lease. `false`: the lease is gone and the worker must stop.
    pub async fn heartbeat(&self, id: &str, token: &str, lease: Duration) -> Result<bool> {
        let done = sqlx::query(
            "update job set lease_expires_at = sfnn_now_ms() + $1, updated_at = sfnn_now_ms() \
             where job_id = $2 and lease_token = $3 and status = 'running'",
        )
        .bind(lease_ms(lease))
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts running jobs whose lease expired back in the queue (or ends them as cancelled if a
    /// cancel was asked for); returns their ids.
    pub async fn requeue_expired(&self) -> Result<Vec<String>> {
        let rows = sqlx::query(crash_update(
            "status = 'running' and lease_expires_at < sfnn_now_ms() returning job_id",
        ))
        .bind(MAX_CRASHES)
        .bind(DIED_TOO_OFTEN)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("job_id")?))
            .collect()
    }

    /// Ends a run that crashed (its worker caught a panic): the job goes back to the queue, or
    /// fails with `reason` at its `MAX_CRASHES`th crash. Returns the job's new status.
    pub async fn record_crash(&self, id: &str, token: &str, reason: &str) -> Result<JobStatus> {
        let row = sqlx::query(crash_update(
            "job_id = $3 and lease_token = $4 returning status",
        ))
        .bind(MAX_CRASHES)
        .bind(reason)
        .bind(id)
        .bind(token)
        .fetch_optional(&self.pool)
        .await?;
        let status: String = row.ok_or(StoreError::LeaseLost)?.try_get("status")?;
        JobStatus::parse(&status).ok_or_else(|| corrupt("status", &status))
    }

    /// Whether a cancel was asked for, and whether the lease is still ours.
    pub async fn lease_state(&self, id: &str, token: &str) -> Result<LeaseState> {
        let row = sqlx::query("select lease_token, cancel_requested from job where job_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(LeaseState::Lost);
        };
        let owner: Option<String> = row.try_get("lease_token")?;
        if owner.as_deref() != Some(token) {
            return Ok(LeaseState::Lost);
        }
        let cancel: bool = row.try_get("cancel_requested")?;
        Ok(if cancel {
            LeaseState::CancelRequested
        } else {
            LeaseState::Held
        })
    }

    /// Records which executor and device run the job.
    pub async fn set_executor(
        &self,
        id: &str,
        token: &str,
        executor: &str,
        device: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "update job set executor = $1, device = $2, updated_at = sfnn_now_ms() \
             where job_id = $3 and lease_token = $4",
        )
        .bind(executor)
        .bind(device)
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected())
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
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update job set status = $1, error = $2, stop_reason = $3, \
               finished_at = sfnn_now_ms(), updated_at = sfnn_now_ms(), worker_id = null, \
               lease_token = null, lease_expires_at = null, cancel_requested = false \
             where job_id = $4 and lease_token = $5",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(stop_reason)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        // A succeeded job can never be resumed: its checkpoint is dead weight.
        if status == JobStatus::Succeeded {
            sqlx::query("delete from checkpoint where job_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives a claimed job back to the queue without counting its claim as an attempt: the
    /// store, not the job, failed.
    pub async fn hand_back_job(&self, id: &str, token: &str) -> Result<()> {
        let done = sqlx::query(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, attempts = greatest(attempts - 1, 0), \
               updated_at = sfnn_now_ms() \
             where job_id = $1 and lease_token = $2",
        )
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected())
    }

    /// Gives a claimed job back to the queue (graceful shutdown); it continues from its last
    /// checkpoint on the next claim.
    pub async fn release_job(&self, id: &str, token: &str) -> Result<()> {
        let done = sqlx::query(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, updated_at = sfnn_now_ms() \
             where job_id = $1 and lease_token = $2",
        )
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected())
    }

    // ---- generations and checkpoints ------------------------------------------------------

    /// The last checkpoint: (generations completed, serialised state).
    pub async fn load_checkpoint(&self, id: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let row = sqlx::query("select generation, state from checkpoint where job_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let generation: i64 = r.try_get("generation")?;
            Ok((generation as u64, r.try_get("state")?))
        })
        .transpose()
    }

    /// Forgets everything recorded from generation `from` on (work after the last checkpoint,
    /// which the resumed run recomputes identically).
    pub async fn truncate_from(
        &self,
        id: &str,
        token: &str,
        from: u64,
        best_fitness: Option<f64>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update job set generation = $1, best_fitness = $2, updated_at = sfnn_now_ms() \
             where job_id = $3 and lease_token = $4",
        )
        .bind(from as i64)
        .bind(best_fitness.and_then(real))
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        for statement in [
            "delete from generation where job_id = $1 and generation >= $2",
            "delete from generation_record where job_id = $1 and generation >= $2",
            "delete from genome where job_id = $1 \
             and (generation >= $2 or kind in ('final_best', 'final_mean'))",
        ] {
            sqlx::query(statement)
                .bind(id)
                .bind(from as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Writes one generation: its record, the job's progress, genomes to keep and, when given,
    /// the checkpoint, all in one transaction fenced by the lease token. Listeners are notified
    /// with `{"type":"generation","job_id",…,"generation":…}` when it commits; the record itself
    /// stays in the store (it may exceed a notification's size limit).
    pub async fn record_generation(
        &self,
        id: &str,
        token: &str,
        record: &GenerationRecord,
        genomes: &[NewGenome],
        checkpoint: Option<&[u8]>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let best_so_far = record.best_so_far.is_finite().then_some(record.best_so_far);
        let done = sqlx::query(
            "update job set generation = $1, best_fitness = $2, updated_at = sfnn_now_ms() \
             where job_id = $3 and lease_token = $4 and status = 'running'",
        )
        .bind(record.generation as i64 + 1)
        .bind(best_so_far)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        sqlx::query(
            "insert into generation (job_id, generation, best, mean, worst, best_so_far, \
             improved, ask_s, evaluate_s, tell_s, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, sfnn_now_ms())",
        )
        .bind(id)
        .bind(record.generation as i64)
        .bind(real(record.fitness.best))
        .bind(real(record.fitness.mean))
        .bind(real(record.fitness.worst))
        .bind(best_so_far)
        .bind(record.improved)
        .bind(real(record.timing.ask))
        .bind(real(record.timing.evaluate))
        .bind(real(record.timing.tell))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into generation_record (job_id, generation, record) values ($1, $2, $3)",
        )
        .bind(id)
        .bind(record.generation as i64)
        .bind(serde_json::to_string(record).expect("record serialises"))
        .execute(&mut *tx)
        .await?;
        for genome in genomes {
            insert_genome(&mut tx, genome).await?;
        }
        if let Some(state) = checkpoint {
            upsert_checkpoint(&mut tx, id, record.generation + 1, state).await?;
        }
        let event = serde_json::json!({
            "type": "generation",
            "job_id": id,
            "generation": record.generation,
        });
        sqlx::query("select pg_notify($1, $2)")
            .bind(&self.channel)
            .bind(event.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Saves a checkpoint outside a generation record (before handing a job back at shutdown).
    pub async fn save_checkpoint(
        &self,
        id: &str,
        token: &str,
        generation: u64,
        state: &[u8],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        check_lease(&mut tx, id, token).await?;
        upsert_checkpoint(&mut tx, id, generation, state).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the genomes that close a run, fenced by the lease.
    pub async fn record_final_genomes(
        &self,
        id: &str,
        token: &str,
        genomes: &[NewGenome],
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        check_lease(&mut tx, id, token).await?;
        for genome in genomes {
            insert_genome(&mut tx, genome).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records of generations after `after` (all if `None`), in order, at most `limit`.
    pub async fn history_page(
        &self,
        id: &str,
        after: Option<u64>,
        limit: i64,
    ) -> Result<Vec<GenerationRecord>> {
        let rows = sqlx::query(
            "select record from generation_record where job_id = $1 and generation > $2 \
             order by generation limit $3",
        )
        .bind(id)
        .bind(after.map_or(-1, |g| g as i64))
        .bind(if limit < 0 { i64::MAX } else { limit }) // SQLite: negative is no limit
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let text: String = r.try_get("record")?;
                serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
            })
            .collect()
    }

    /// The chart numbers of every generation, in order.
    pub async fn history_points(&self, id: &str) -> Result<Vec<HistoryPoint>> {
        let rows = sqlx::query(
            "select generation, best, mean, worst, best_so_far from generation \
             where job_id = $1 order by generation",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let generation: i64 = r.try_get("generation")?;
                let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
                Ok(HistoryPoint {
                    generation: generation as u64,
                    best: nan(r.try_get("best")?),
                    mean: nan(r.try_get("mean")?),
                    worst: nan(r.try_get("worst")?),
                    best_so_far: nan(r.try_get("best_so_far")?),
                })
            })
            .collect()
    }

    /// The chart of a history, bucketed and reduced in SQL, at most `max_points` bucket rows
    /// and the improvements back. Same result as [`chart::downsample`] on the full points.
    pub async fn history_chart(&self, id: &str, max_points: usize) -> Result<Chart> {
        let generations: i64 =
            sqlx::query_scalar("select count(*) from generation where job_id = $1")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        let bucket = chart::bucket_size(generations as usize, max_points);
        let rows = sqlx::query(
            "select min(generation) as generation, min(best) as best_min, max(best) as best_max, \
               min(mean) as mean_min, max(mean) as mean_max, \
               min(worst) as worst_min, max(worst) as worst_max \
             from generation where job_id = $1 group by generation / $2 order by 1",
        )
        .bind(id)
        .bind(bucket as i64)
        .fetch_all(&self.pool)
        .await?;
        // Best so far changes exactly where a generation improved it; keep the first and last
        // generation too, so the curve spans the whole history.
        let steps = sqlx::query(
            "select generation, best_so_far from generation \
             where job_id = $1 and (improved or generation = 0 or generation = $2) \
             order by generation",
        )
        .bind(id)
        .bind(generations - 1)
        .fetch_all(&self.pool)
        .await?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        let mut out = Chart {
            generations: generations as u64,
            bucket_size: bucket as u64,
            ..Chart::default()
        };
        for r in &rows {
            out.generation
                .push(r.try_get::<i64, _>("generation")? as u64);
            out.best_min.push(nan(r.try_get("best_min")?));
            out.best_max.push(nan(r.try_get("best_max")?));
            out.mean_min.push(nan(r.try_get("mean_min")?));
            out.mean_max.push(nan(r.try_get("mean_max")?));
            out.worst_min.push(nan(r.try_get("worst_min")?));
            out.worst_max.push(nan(r.try_get("worst_max")?));
        }
        for r in &steps {
            out.best_so_far
                .generation
                .push(r.try_get::<i64, _>("generation")? as u64);
            out.best_so_far.value.push(nan(r.try_get("best_so_far")?));
        }
        Ok(out)
    }

    // ---- genomes and evaluations ----------------------------------------------------------

    pub async fn insert_genome(&self, genome: &NewGenome) -> Result<GenomeMeta> {
        let mut tx = self.pool.begin().await?;
        let id = insert_genome(&mut tx, genome).await?;
        tx.commit().await?;
        self.genome_meta(&id)
            .await?
            .ok_or(StoreError::NotFound("genome"))
    }

    pub async fn genome_meta(&self, id: &str) -> Result<Option<GenomeMeta>> {
        let row = sqlx::query(
            "select genome_id, job_id, generation, kind, fitness, model, sha256, name, \
             (length(params) / 4)::bigint as param_count, created_at \
             from genome where genome_id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(genome_from_row).transpose()
    }

    /// A genome's values.
    pub async fn genome_values(&self, id: &str) -> Result<Option<Vec<f32>>> {
        let row = sqlx::query("select params from genome where genome_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let bytes: Vec<u8> = r.try_get("params")?;
            Ok(bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        })
        .transpose()
    }

    pub async fn job_genomes(&self, job_id: &str) -> Result<Vec<GenomeMeta>> {
        let rows = sqlx::query(
            "select genome_id, job_id, generation, kind, fitness, model, sha256, name, \
             (length(params) / 4)::bigint as param_count, created_at from genome \
             where job_id = $1 order by generation, created_at, genome_id",
        )
        .bind(job_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(genome_from_row).collect()
    }

    /// Stores an evaluation's result and ends its job, in one transaction.
    pub async fn finish_evaluation(
        &self,
        job_id: &str,
        token: &str,
        genome_id: &str,
        result: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "update job set status = 'succeeded', generation = generations, \
               finished_at = sfnn_now_ms(), updated_at = sfnn_now_ms(), worker_id = null, \
               lease_token = null, lease_expires_at = null \
             where job_id = $1 and lease_token = $2",
        )
        .bind(job_id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        sqlx::query(
            "insert into evaluation (job_id, genome_id, result, created_at, updated_at) \
             values ($1, $2, $3, sfnn_now_ms(), sfnn_now_ms())",
        )
        .bind(job_id)
        .bind(genome_id)
        .bind(result.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn evaluation(&self, job_id: &str) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query("select result from evaluation where job_id = $1")
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let text: String = r.try_get("result")?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .transpose()
    }
}

/// Refuses payloads PostgreSQL would reject, with a message that says why.
pub(super) fn check_payload(payload: &str) -> Result<()> {
    if payload.len() > MAX_NOTIFY_PAYLOAD {
        return Err(StoreError::Invalid(format!(
            "notification payload is {} bytes; PostgreSQL allows at most {MAX_NOTIFY_PAYLOAD}",
            payload.len()
        )));
    }
    Ok(())
}

/// SQLite stores NaN as NULL; do the same, so both backends read back and aggregate alike.
fn real(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

fn fenced(rows: u64) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

/// Fails with [`StoreError::LeaseLost`] unless `token` still holds the job's lease. The row is
/// locked until the transaction ends, so the lease cannot move to another worker before the
/// write commits.
async fn check_lease(tx: &mut Transaction<'static, Postgres>, id: &str, token: &str) -> Result<()> {
    let held = sqlx::query("select 1 from job where job_id = $1 and lease_token = $2 for update")
        .bind(id)
        .bind(token)
        .fetch_optional(&mut **tx)
        .await?;
    fenced(u64::from(held.is_some()))
}

/// The job's one checkpoint: the state after `generation` generations.
async fn upsert_checkpoint(
    tx: &mut Transaction<'static, Postgres>,
    id: &str,
    generation: u64,
    state: &[u8],
) -> Result<()> {
    sqlx::query(
        "insert into checkpoint (job_id, generation, state, created_at, updated_at) \
         values ($1, $2, $3, sfnn_now_ms(), sfnn_now_ms()) on conflict (job_id) do update set \
         generation = excluded.generation, state = excluded.state, \
         updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(generation as i64)
    .bind(state)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_genome(
    tx: &mut Transaction<'static, Postgres>,
    genome: &NewGenome,
) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let bytes: Vec<u8> = genome.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    sqlx::query(
        "insert into genome (genome_id, job_id, generation, kind, fitness, model, params, sha256, \
         name, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, sfnn_now_ms(), sfnn_now_ms())",
    )
    .bind(&id)
    .bind(genome.job_id.as_deref())
    .bind(genome.generation.map(|g| g as i64))
    .bind(genome.kind.as_str())
    .bind(genome.fitness.filter(|f| f.is_finite()))
    .bind(serde_json::to_string(&genome.model).expect("model serialises"))
    .bind(bytes)
    .bind(genome_sha256(&genome.values))
    .bind(genome.name.as_deref())
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Counts a crash on the jobs `filter` selects (binds: $1 `MAX_CRASHES`, $2 the error of a job
/// that fails by it): back to the queue, or failed at `MAX_CRASHES`.
fn crash_update(filter: &str) -> sqlx::AssertSqlSafe<String> {
    // Built from constants only; every value is bound.
    sqlx::AssertSqlSafe(format!(
        "update job set crashes = {NEXT_CRASHES}, crash_generation = generation, \
           status = case when cancel_requested then 'cancelled' \
                         when {NEXT_CRASHES} >= $1 then 'failed' else 'queued' end, \
           error = case when not cancel_requested and {NEXT_CRASHES} >= $1 then $2 \
                        else error end, \
           finished_at = case when cancel_requested or {NEXT_CRASHES} >= $1 \
                              then sfnn_now_ms() else null end, \
           worker_id = null, lease_token = null, lease_expires_at = null, \
           updated_at = sfnn_now_ms() \
         where {filter}"
    ))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn job_from_row(row: &PgRow) -> Result<Job> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let tags: String = row.try_get("tags")?;
    let spec: String = row.try_get("spec")?;
    let generation: i64 = row.try_get("generation")?;
    let generations: i64 = row.try_get("generations")?;
    let attempts: i32 = row.try_get("attempts")?;
    let crashes: i32 = row.try_get("crashes")?;
    Ok(Job {
        id: row.try_get("job_id")?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
        name: row.try_get("name")?,
        tags: serde_json::from_str(&tags).map_err(|_| corrupt("tags", &tags))?,
        spec: serde_json::from_str(&spec).map_err(|_| corrupt("spec", &spec))?,
        status: JobStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        priority: row.try_get("priority")?,
        generation: generation as u64,
        generations: generations as u64,
        best_fitness: row.try_get("best_fitness")?,
        cancel_requested: row.try_get("cancel_requested")?,
        worker_id: row.try_get("worker_id")?,
        lease_expires_at: row.try_get("lease_expires_at")?,
        attempts: attempts as u32,
        crashes: crashes as u32,
        error: row.try_get("error")?,
        stop_reason: row.try_get("stop_reason")?,
        executor: row.try_get("executor")?,
        device: row.try_get("device")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
    })
}

fn genome_from_row(row: &PgRow) -> Result<GenomeMeta> {
    let kind: String = row.try_get("kind")?;
    let model: String = row.try_get("model")?;
    let model: ModelConfig = serde_json::from_str(&model).map_err(|_| corrupt("model", &model))?;
    let generation: Option<i64> = row.try_get("generation")?;
    let count: i64 = row.try_get("param_count")?;
    Ok(GenomeMeta {
        id: row.try_get("genome_id")?,
        job_id: row.try_get("job_id")?,
        generation: generation.map(|g| g as u64),
        kind: GenomeKind::parse(&kind).ok_or_else(|| corrupt("genome kind", &kind))?,
        fitness: row.try_get("fitness")?,
        model,
        param_count: count as usize,
        sha256: row.try_get("sha256")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
    })
}
