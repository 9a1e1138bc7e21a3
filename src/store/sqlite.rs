//! The SQLite store: one file, WAL journal, foreign keys on.

use super::chart::{self, Chart};
use super::health::{self, WriteHealth};
use super::models::*;
use super::{DIED_TOO_OFTEN, MAX_CRASHES, NEXT_CRASHES, Result, StoreError, now_ms};
use crate::evolution::GenerationRecord;
use crate::model::ModelConfig;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    health: Arc<WriteHealth>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Conflict(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL with synchronous=NORMAL survives a process crash (kill -9) without loss; only a
            // power failure can drop the last transactions.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // 64 MiB of page cache per connection (negative: KiB), for long histories.
            .pragma("cache_size", "-65536");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .after_release(health::release_outside_transaction::<Sqlite>)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            health: Arc::default(),
        })
    }

    pub fn write_health(&self) -> &WriteHealth {
        &self.health
    }

    /// Commits `bytes` bytes (zeros) to the probe row, then commits their removal: whether the
    /// store has room for a generation's worth of writes. Each statement is its own transaction.
    pub async fn probe_write(&self, bytes: usize) -> Result<()> {
        sqlx::query(
            "insert into store_probe (probe_id, filler, probed_at) values (1, zeroblob(?1), ?2) \
             on conflict (probe_id) do update set filler = excluded.filler, \
             probed_at = excluded.probed_at",
        )
        .bind(bytes as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        sqlx::query("update store_probe set filler = x'' where probe_id = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A transaction that takes the write lock at once. A deferred one would read first and
    /// then fail with "database is locked" when another process wrote in between, without
    /// waiting: SQLite cannot upgrade a stale read snapshot. Taken up front, the lock is waited
    /// for (busy timeout) like any single write.
    async fn write_transaction(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("begin immediate").await?)
    }

    pub async fn healthy(&self) -> bool {
        sqlx::query("select 1").execute(&self.pool).await.is_ok()
    }

    // ---- jobs -----------------------------------------------------------------------------

    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        let now = now_ms();
        // `returning *` answers with the row as inserted: a worker may claim it at once, and
        // the submitter must still see it as queued.
        let row = sqlx::query(
            "insert into job (job_id, kind, name, tags, spec, status, priority, generations, \
             created_at, updated_at) values (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) returning *",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.kind.as_str())
        .bind(&new.name)
        .bind(serde_json::to_string(&new.tags).expect("tags serialise"))
        .bind(new.spec.to_string())
        .bind(new.priority)
        .bind(new.generations as i64)
        .bind(now)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        job_from_row(&row)
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query("select * from job where job_id = ?")
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
             where (?1 is null or status = ?1) and (?2 is null or kind = ?2) \
               and (?3 is null or exists (select 1 from json_each(job.tags) where value = ?3)) \
               and (?4 is null or (created_at, job_id) < (?4, ?5)) \
             order by created_at desc, job_id desc limit ?6",
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
        let now = now_ms();
        let row = sqlx::query(
            "update job set \
               status = case when status = 'queued' then 'cancelled' else status end, \
               finished_at = case when status = 'queued' then ?1 else finished_at end, \
               cancel_requested = case when status = 'running' then 1 else cancel_requested end, \
               updated_at = ?1 \
             where job_id = ?2 returning *",
        )
        .bind(now)
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
        let now = now_ms();
        let done = sqlx::query(
            "update job set \
               status = case when status = 'queued' then 'cancelled' else status end, \
               finished_at = case when status = 'queued' then ?1 else finished_at end, \
               cancel_requested = case when status = 'running' then 1 else cancel_requested end, \
               updated_at = ?1 \
             where status in ('queued', 'running') \
               and (?2 is null or status = ?2) and (?3 is null or kind = ?3) \
               and (?4 is null or exists (select 1 from json_each(job.tags) where value = ?4))",
        )
        .bind(now)
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
               cancel_requested = 0, finished_at = null, updated_at = ?1 \
             where job_id = ?2 and status in ('cancelled', 'failed') returning *",
        )
        .bind(now_ms())
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
        let done = sqlx::query("delete from job where job_id = ? and status != 'running'")
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

    /// Atomically claims the next queued job (highest priority, then oldest). SQLite has one
    /// writer, so a single `update … returning` cannot hand one job to two workers.
    pub async fn claim_job(&self, worker_id: &str, lease: Duration) -> Result<Option<Claim>> {
        let now = now_ms();
        let token = uuid::Uuid::new_v4().to_string();
        let row = sqlx::query(
            "update job set status = 'running', worker_id = ?1, lease_token = ?2, \
               lease_expires_at = ?3, attempts = attempts + 1, \
               started_at = coalesce(started_at, ?4), updated_at = ?4 \
             where job_id = (select job_id from job where status = 'queued' \
                             order by priority desc, created_at, job_id limit 1) \
             returning *",
        )
        .bind(worker_id)
        .bind(&token)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
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
        let now = now_ms();
        let done = sqlx::query(
            "update job set lease_expires_at = ?1, updated_at = ?2 \
             where job_id = ?3 and lease_token = ?4 and status = 'running'",
        )
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts running jobs whose lease expired back in the queue (or ends them as cancelled if a
    /// cancel was asked for); returns their ids. An expired lease means the worker died
    /// mid-run: that counts as a crash, and the crash that reaches `MAX_CRASHES` fails the job.
    pub async fn requeue_expired(&self) -> Result<Vec<String>> {
        let now = now_ms();
        let rows = sqlx::query(crash_update(
            "status = 'running' and lease_expires_at < ?1 returning job_id",
        ))
        .bind(now)
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
        let now = now_ms();
        let row = sqlx::query(crash_update(
            "job_id = ?4 and lease_token = ?5 returning status",
        ))
        .bind(now)
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
        let row = sqlx::query("select lease_token, cancel_requested from job where job_id = ?")
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
        let cancel: i64 = row.try_get("cancel_requested")?;
        Ok(if cancel != 0 {
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
            "update job set executor = ?1, device = ?2, updated_at = ?3 \
             where job_id = ?4 and lease_token = ?5",
        )
        .bind(executor)
        .bind(device)
        .bind(now_ms())
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
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "update job set status = ?1, error = ?2, stop_reason = ?3, finished_at = ?4, \
               updated_at = ?4, worker_id = null, lease_token = null, lease_expires_at = null, \
               cancel_requested = 0 \
             where job_id = ?5 and lease_token = ?6",
        )
        .bind(status.as_str())
        .bind(error)
        .bind(stop_reason)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        // A succeeded job can never be resumed: its checkpoint is dead weight.
        if status == JobStatus::Succeeded {
            sqlx::query("delete from checkpoint where job_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Gives a claimed job back to the queue (graceful shutdown); it continues from its last
    /// checkpoint on the next claim.
    pub async fn release_job(&self, id: &str, token: &str) -> Result<()> {
        let done = sqlx::query(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, updated_at = ?1 \
             where job_id = ?2 and lease_token = ?3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected())
    }

    /// Gives a claimed job back to the queue without counting its claim as an attempt: the
    /// store, not the job, failed.
    pub async fn hand_back_job(&self, id: &str, token: &str) -> Result<()> {
        let done = sqlx::query(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, attempts = max(attempts - 1, 0), updated_at = ?1 \
             where job_id = ?2 and lease_token = ?3",
        )
        .bind(now_ms())
        .bind(id)
        .bind(token)
        .execute(&self.pool)
        .await?;
        fenced(done.rows_affected())
    }

    // ---- generations and checkpoints ------------------------------------------------------

    /// The last checkpoint: (generations completed, serialised state).
    pub async fn load_checkpoint(&self, id: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let row = sqlx::query("select generation, state from checkpoint where job_id = ?")
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
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "update job set generation = ?1, best_fitness = ?2, updated_at = ?3 \
             where job_id = ?4 and lease_token = ?5",
        )
        .bind(from as i64)
        .bind(best_fitness)
        .bind(now_ms())
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        for statement in [
            "delete from generation where job_id = ? and generation >= ?",
            "delete from generation_record where job_id = ? and generation >= ?",
        ] {
            sqlx::query(statement)
                .bind(id)
                .bind(from as i64)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "delete from genome where job_id = ? and (generation >= ? or kind in ('final_best', 'final_mean'))",
        )
        .bind(id)
        .bind(from as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes one generation: its record, the job's progress, genomes to keep and, when given,
    /// the checkpoint, all in one transaction fenced by the lease token.
    pub async fn record_generation(
        &self,
        id: &str,
        token: &str,
        record: &GenerationRecord,
        genomes: &[NewGenome],
        checkpoint: Option<&[u8]>,
    ) -> Result<()> {
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        let best_so_far = record.best_so_far.is_finite().then_some(record.best_so_far);
        let done = sqlx::query(
            "update job set generation = ?1, best_fitness = ?2, updated_at = ?3 \
             where job_id = ?4 and lease_token = ?5 and status = 'running'",
        )
        .bind(record.generation as i64 + 1)
        .bind(best_so_far)
        .bind(now)
        .bind(id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        sqlx::query(
            "insert into generation (job_id, generation, best, mean, worst, best_so_far, \
             improved, ask_s, evaluate_s, tell_s, created_at) \
             values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(record.generation as i64)
        .bind(record.fitness.best)
        .bind(record.fitness.mean)
        .bind(record.fitness.worst)
        .bind(best_so_far)
        .bind(record.improved)
        .bind(record.timing.ask)
        .bind(record.timing.evaluate)
        .bind(record.timing.tell)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("insert into generation_record (job_id, generation, record) values (?, ?, ?)")
            .bind(id)
            .bind(record.generation as i64)
            .bind(serde_json::to_string(record).expect("record serialises"))
            .execute(&mut *tx)
            .await?;
        for genome in genomes {
            insert_genome(&mut tx, genome, now).await?;
        }
        if let Some(state) = checkpoint {
            upsert_checkpoint(&mut tx, id, record.generation + 1, state, now).await?;
        }
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
        let mut tx = self.write_transaction().await?;
        check_lease(&mut tx, id, token).await?;
        upsert_checkpoint(&mut tx, id, generation, state, now_ms()).await?;
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
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        check_lease(&mut tx, id, token).await?;
        for genome in genomes {
            insert_genome(&mut tx, genome, now).await?;
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
            "select record from generation_record where job_id = ?1 and generation > ?2 \
             order by generation limit ?3",
        )
        .bind(id)
        .bind(after.map_or(-1, |g| g as i64))
        .bind(limit)
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
             where job_id = ? order by generation",
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

    /// The chart of a history, bucketed and reduced in SQL: one pass of SQLite over the
    /// compact generation table, at most `max_points` bucket rows and the improvements back.
    /// Same result as [`chart::downsample`] on the full points.
    pub async fn history_chart(&self, id: &str, max_points: usize) -> Result<Chart> {
        let generations: i64 =
            sqlx::query_scalar("select count(*) from generation where job_id = ?")
                .bind(id)
                .fetch_one(&self.pool)
                .await?;
        let bucket = chart::bucket_size(generations as usize, max_points);
        let rows = sqlx::query(
            "select min(generation) as generation, min(best) as best_min, max(best) as best_max, \
               min(mean) as mean_min, max(mean) as mean_max, \
               min(worst) as worst_min, max(worst) as worst_max \
             from generation where job_id = ?1 group by generation / ?2 order by 1",
        )
        .bind(id)
        .bind(bucket as i64)
        .fetch_all(&self.pool)
        .await?;
        // Best so far changes exactly where a generation improved it; keep the first and last
        // generation too, so the curve spans the whole history.
        let steps = sqlx::query(
            "select generation, best_so_far from generation \
             where job_id = ?1 and (improved = 1 or generation = 0 or generation = ?2) \
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
        let mut tx = self.write_transaction().await?;
        let id = insert_genome(&mut tx, genome, now_ms()).await?;
        tx.commit().await?;
        self.genome_meta(&id)
            .await?
            .ok_or(StoreError::NotFound("genome"))
    }

    pub async fn genome_meta(&self, id: &str) -> Result<Option<GenomeMeta>> {
        let row = sqlx::query(
            "select genome_id, job_id, generation, kind, fitness, model, sha256, name, \
             length(params) / 4 as param_count, created_at from genome where genome_id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(genome_from_row).transpose()
    }

    /// A genome's values.
    pub async fn genome_values(&self, id: &str) -> Result<Option<Vec<f32>>> {
        let row = sqlx::query("select params from genome where genome_id = ?")
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
             length(params) / 4 as param_count, created_at from genome where job_id = ? \
             order by generation, created_at, genome_id",
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
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        let done = sqlx::query(
            "update job set status = 'succeeded', generation = generations, finished_at = ?1, \
               updated_at = ?1, worker_id = null, lease_token = null, lease_expires_at = null \
             where job_id = ?2 and lease_token = ?3",
        )
        .bind(now)
        .bind(job_id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
        fenced(done.rows_affected())?;
        sqlx::query(
            "insert into evaluation (job_id, genome_id, result, created_at, updated_at) \
             values (?1, ?2, ?3, ?4, ?4)",
        )
        .bind(job_id)
        .bind(genome_id)
        .bind(result.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn evaluation(&self, job_id: &str) -> Result<Option<serde_json::Value>> {
        let row = sqlx::query("select result from evaluation where job_id = ?")
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

fn fenced(rows: u64) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost)
    }
}

/// Fails with [`StoreError::LeaseLost`] unless `token` still holds the job's lease.
async fn check_lease(tx: &mut Transaction<'static, Sqlite>, id: &str, token: &str) -> Result<()> {
    let held = sqlx::query("select 1 from job where job_id = ? and lease_token = ?")
        .bind(id)
        .bind(token)
        .fetch_optional(&mut **tx)
        .await?;
    fenced(u64::from(held.is_some()))
}

/// The job's one checkpoint: the state after `generation` generations.
async fn upsert_checkpoint(
    tx: &mut Transaction<'static, Sqlite>,
    id: &str,
    generation: u64,
    state: &[u8],
    now: i64,
) -> Result<()> {
    sqlx::query(
        "insert into checkpoint (job_id, generation, state, created_at, updated_at) \
         values (?1, ?2, ?3, ?4, ?4) on conflict (job_id) do update set \
         generation = excluded.generation, state = excluded.state, \
         updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(generation as i64)
    .bind(state)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_genome(
    tx: &mut Transaction<'static, Sqlite>,
    genome: &NewGenome,
    now: i64,
) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let bytes: Vec<u8> = genome.values.iter().flat_map(|v| v.to_le_bytes()).collect();
    sqlx::query(
        "insert into genome (genome_id, job_id, generation, kind, fitness, model, params, sha256, \
         name, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(id)
}

/// Counts a crash on the jobs `filter` selects (binds: ?1 now, ?2 `MAX_CRASHES`, ?3 the error
/// of a job that fails by it): back to the queue, or failed at `MAX_CRASHES`.
fn crash_update(filter: &str) -> sqlx::AssertSqlSafe<String> {
    // Built from constants only; every value is bound.
    sqlx::AssertSqlSafe(format!(
        "update job set crashes = {NEXT_CRASHES}, crash_generation = generation, \
           status = case when cancel_requested = 1 then 'cancelled' \
                         when {NEXT_CRASHES} >= ?2 then 'failed' else 'queued' end, \
           error = case when cancel_requested = 0 and {NEXT_CRASHES} >= ?2 then ?3 \
                        else error end, \
           finished_at = case when cancel_requested = 1 or {NEXT_CRASHES} >= ?2 then ?1 \
                              else null end, \
           worker_id = null, lease_token = null, lease_expires_at = null, updated_at = ?1 \
         where {filter}"
    ))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

fn job_from_row(row: &SqliteRow) -> Result<Job> {
    let kind: String = row.try_get("kind")?;
    let status: String = row.try_get("status")?;
    let tags: String = row.try_get("tags")?;
    let spec: String = row.try_get("spec")?;
    let generation: i64 = row.try_get("generation")?;
    let generations: i64 = row.try_get("generations")?;
    let attempts: i64 = row.try_get("attempts")?;
    let crashes: i64 = row.try_get("crashes")?;
    let cancel: i64 = row.try_get("cancel_requested")?;
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
        cancel_requested: cancel != 0,
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

fn genome_from_row(row: &SqliteRow) -> Result<GenomeMeta> {
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
