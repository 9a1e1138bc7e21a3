//! Jobs, the queue and leases: one body for both backends (see [`super::dialect`] for the
//! marks in the statements).

use super::backend::{WriteTx, in_tx, on_pool};
use super::models::*;
use super::rows::{JobRow, parse_status};
use super::{DIED_TOO_OFTEN, MAX_CRASHES, NEXT_CRASHES, Result, Store, StoreError};
use std::sync::LazyLock;
use std::time::Duration;

/// The filter of [`JobFilter`] on `$1` status, `$2` kind, `$3` tag.
const MATCHES_FILTER: &str = "(cast($1 as text) is null or status = $1) \
    and (cast($2 as text) is null or kind = $2) \
    and (cast($3 as text) is null or exists (select 1 from {tags} where value = $3)) \
    and (cast($4 as text) is null or sweep_id = $4)";

/// Inserts a job ([`insert_job`] binds it): `$1` id, `$2` kind, `$3` name, `$4` tags, `$5`
/// payload, `$6` priority, `$7` generations, `$8` requested executor, `$9` sweep, `$10` its axis
/// values, `$11` the import holding it (running from the start) or NULL (queued).
const INSERT_JOB: &str = "insert into job (job_id, kind, name, tags, spec, status, priority, \
    generations, requested_executor, sweep_id, sweep_values, imported, worker_id, started_at, \
    created_at, updated_at) \
    values ($1, $2, $3, $4, $5, \
      case when cast($11 as text) is null then 'queued' else 'running' end, $6, $7, $8, $9, $10, \
      cast($11 as text) is not null, $11, case when cast($11 as text) is null then null else {now} end, \
      {now}, {now}) returning *";

/// Where a new job starts.
pub(super) enum Start<'a> {
    /// Queued; with the sweep that queued it (its id and the values its axes gave the job).
    Queued { sweep: Option<(&'a str, &'a str)> },
    /// Running, held by the import that uploads it (worker `held_by`).
    Imported { held_by: &'a str },
}

/// Writes `new` as a job row in `tx` (its notice is the caller's, on commit).
pub(super) async fn insert_job(
    tx: &mut WriteTx<'_>,
    new: &NewJob,
    start: Start<'_>,
) -> Result<JobRow> {
    let (sweep, import) = match start {
        Start::Queued { sweep } => (sweep, None),
        Start::Imported { held_by } => (None, Some(held_by)),
    };
    in_tx!(tx, |sql, conn| sql
        .query_as(INSERT_JOB)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.payload.kind().as_str())
        .bind(&new.name)
        .bind(serde_json::to_string(&new.tags).expect("tags serialise"))
        .bind(new.payload.encode())
        .bind(new.priority)
        .bind(new.payload.generations() as i64)
        .bind(new.payload.executor().as_str())
        .bind(sweep.map(|(id, _)| id))
        .bind(sweep.map(|(_, values)| values))
        .bind(import)
        .fetch_one(conn)
        .await)
}

/// The job list in each order of [`list_statement`]: the filter, then `$5` a `like` pattern on
/// the lower-cased name, `$6` and `$7` the cursor's sort value and id, `$8` the row limit.
static LIST: LazyLock<Vec<String>> = LazyLock::new(|| {
    let keys = [
        (SortKey::Created, "created_at", "bigint"),
        (SortKey::Name, "lower(name) {bytewise}", "text"),
        (
            SortKey::Best,
            "coalesce(best_fitness, -1e308)",
            "double precision",
        ),
        (SortKey::Generation, "generation", "bigint"),
        (SortKey::Status, "status", "text"),
    ];
    let mut statements = vec![String::new(); keys.len() * 2];
    for (key, expr, ty) in keys {
        for descending in [false, true] {
            let (op, dir) = if descending {
                ("<", "desc")
            } else {
                (">", "asc")
            };
            statements[list_statement(JobSort { key, descending })] = format!(
                "select *, lower(name) as sort_name from job where {MATCHES_FILTER} \
                 and (cast($5 as text) is null or lower(name) like lower(cast($5 as text)) escape '\\') \
                 and (cast($6 as {ty}) is null \
                      or ({expr}, job_id) {op} (cast($6 as {ty}), cast($7 as text))) \
                 order by {expr} {dir}, job_id {dir} limit $8"
            );
        }
    }
    statements
});

/// Where [`LIST`] keeps the statement of `sort`.
fn list_statement(sort: JobSort) -> usize {
    let key = match sort.key {
        SortKey::Created => 0,
        SortKey::Name => 1,
        SortKey::Best => 2,
        SortKey::Generation => 3,
        SortKey::Status => 4,
    };
    key * 2 + usize::from(sort.descending)
}

/// A `like` pattern (escape character `\`) that matches names containing `text` as it is: its own
/// wildcards match only themselves.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Cancels the queued jobs of the rows it updates at once and asks the running ones to stop;
/// an import under way (running, held by no worker) is cancelled at once too.
const CANCEL: &str = "update job set \
    status = case when status = 'queued' or (status = 'running' and imported) \
                  then 'cancelled' else status end, \
    finished_at = case when status = 'queued' or (status = 'running' and imported) \
                       then {now} else finished_at end, \
    worker_id = case when status = 'running' and imported then null else worker_id end, \
    cancel_requested = case when status = 'running' and not imported then true \
                            else cancel_requested end, \
    updated_at = {now}";

/// Puts running jobs whose lease expired back in the queue; binds `$1` `MAX_CRASHES`, `$2` the
/// error of a job that fails by it.
static REQUEUE_EXPIRED: LazyLock<String> =
    LazyLock::new(|| crash_update("status = 'running' and lease_expires_at < {now} returning *"));

/// Counts a crash of the run holding a lease; binds `$1` `MAX_CRASHES`, `$2` the error,
/// `$3` the job, `$4` the lease token.
static RECORD_CRASH: LazyLock<String> =
    LazyLock::new(|| crash_update("job_id = $3 and lease_token = $4 returning *"));

/// Counts a crash on the jobs `filter` selects (binds: `$1` `MAX_CRASHES`, `$2` the error of a
/// job that fails by it): back to the queue, or failed at `MAX_CRASHES`. Built from constants
/// only; every value is bound.
fn crash_update(filter: &str) -> String {
    format!(
        "update job set crashes = {NEXT_CRASHES}, crash_generation = generation, \
           status = case when cancel_requested then 'cancelled' \
                         when {NEXT_CRASHES} >= $1 then 'failed' else 'queued' end, \
           error = case when not cancel_requested and {NEXT_CRASHES} >= $1 then $2 \
                        else error end, \
           finished_at = case when cancel_requested or {NEXT_CRASHES} >= $1 then {{now}} \
                              else null end, \
           worker_id = null, lease_token = null, lease_expires_at = null, updated_at = {{now}} \
         where {filter}"
    )
}

/// A lease's length in milliseconds, as stored.
fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    // ---- jobs -----------------------------------------------------------------------------

    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        self.admit().await?;
        // `returning *` answers with the row as inserted: a worker may claim it at once, and
        // the submitter must still see it as queued.
        let mut tx = self.begin().await?;
        let row = insert_job(&mut tx, &new, Start::Queued { sweep: None }).await?;
        let mut jobs = tx.commit_jobs(vec![row]).await?;
        Ok(jobs.remove(0))
    }

    pub async fn get_job(&self, id: &str) -> Result<Option<Job>> {
        let row: Option<JobRow> = on_pool!(self, |sql, pool| sql
            .query_as("select * from job where job_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(JobRow::decode).transpose()
    }

    /// Jobs newest first, `limit` per page, after `cursor`.
    pub async fn list_jobs(
        &self,
        filter: &JobFilter,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<JobPage> {
        self.list_jobs_sorted(filter, JobSort::default(), limit, cursor)
            .await
    }

    /// Jobs in `sort` order (ties by id), `limit` per page, after `cursor` (which was made
    /// for the same sort: the caller checks).
    pub async fn list_jobs_sorted(
        &self,
        filter: &JobFilter,
        sort: JobSort,
        limit: u32,
        cursor: Option<&Cursor>,
    ) -> Result<JobPage> {
        let pattern = filter.name_contains.as_deref().map(like_pattern);
        let after = cursor.map(|c| (&c.value, c.id.as_str()));
        let text = LIST[list_statement(sort)].as_str();
        let mut rows: Vec<JobRow> = on_pool!(self, |sql, pool| {
            let query = sql
                .query_as(text)
                .bind(filter.status.map(JobStatus::as_str))
                .bind(filter.kind.map(JobKind::as_str))
                .bind(filter.tag.as_deref())
                .bind(filter.sweep.as_deref())
                .bind(pattern.as_deref());
            // The cursor's value, typed as the sort key's column (NULL: the first page).
            let query = match (sort.key, after.map(|(v, _)| v)) {
                (SortKey::Created | SortKey::Generation, value) => query.bind(match value {
                    Some(SortValue::Int(v)) => Some(*v),
                    _ => None,
                }),
                (SortKey::Best, value) => query.bind(match value {
                    Some(SortValue::Real(v)) => Some(*v),
                    Some(SortValue::Int(v)) => Some(*v as f64),
                    _ => None,
                }),
                (SortKey::Name | SortKey::Status, value) => query.bind(match value {
                    Some(SortValue::Text(v)) => Some(v.clone()),
                    _ => None,
                }),
            };
            query
                .bind(after.map(|(_, id)| id))
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
        })?;
        let jobs = rows
            .iter_mut()
            .map(|row| row.sort_value(sort.key))
            .collect::<Vec<_>>();
        let jobs = rows
            .into_iter()
            .zip(jobs)
            .map(|(row, value)| Ok((row.decode()?, value)))
            .collect::<Result<_>>()?;
        Ok(JobPage::of(jobs, sort, limit))
    }

    /// Changes a job's name, tags or notes (those given); the job as it is now.
    pub async fn update_job(&self, id: &str, update: &JobUpdate) -> Result<Job> {
        let tags = update
            .tags
            .as_ref()
            .map(|tags| serde_json::to_string(tags).expect("tags serialise"));
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set name = coalesce($1, name), tags = coalesce($2, tags), \
                   notes = coalesce($3, notes), updated_at = {now} \
                 where job_id = $4 returning *",
            )
            .bind(update.name.as_deref())
            .bind(tags.as_deref())
            .bind(update.notes.as_deref())
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        one_job(tx.commit_jobs(row.into_iter().collect()).await?)
    }

    /// Number of jobs per status.
    pub async fn count_by_status(&self) -> Result<Vec<(JobStatus, u64)>> {
        let rows: Vec<(String, i64)> = on_pool!(self, |sql, pool| sql
            .query_as("select status, count(*) as n from job group by status")
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(status, n)| Ok((parse_status(&status)?, n as u64)))
            .collect()
    }

    /// Cancels a queued job at once; asks a running one to stop at its next generation
    /// boundary. Finished jobs are left as they are.
    pub async fn request_cancel(&self, id: &str) -> Result<Job> {
        static CANCEL_ONE: LazyLock<String> =
            LazyLock::new(|| format!("{CANCEL} where job_id = $1 returning *"));
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(CANCEL_ONE.as_str())
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        one_job(tx.commit_jobs(row.into_iter().collect()).await?)
    }

    /// Cancels every queued or running job that matches; returns how many.
    pub async fn cancel_matching(&self, filter: &JobFilter) -> Result<u64> {
        static CANCEL_MATCHING: LazyLock<String> = LazyLock::new(|| {
            format!(
                "{CANCEL} where status in ('queued', 'running') and {MATCHES_FILTER} returning *"
            )
        });
        let mut tx = self.begin().await?;
        let rows: Vec<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(CANCEL_MATCHING.as_str())
            .bind(filter.status.map(JobStatus::as_str))
            .bind(filter.kind.map(JobKind::as_str))
            .bind(filter.tag.as_deref())
            .bind(filter.sweep.as_deref())
            .fetch_all(conn)
            .await)?;
        Ok(tx.commit_jobs(rows).await?.len() as u64)
    }

    /// Queues a cancelled or failed job again; it continues from its last checkpoint.
    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn resume_job(&self, id: &str) -> Result<Job> {
        self.admit().await?;
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set status = 'queued', error = null, stop_reason = null, \
                   cancel_requested = false, finished_at = null, updated_at = {now} \
                 where job_id = $1 and status in ('cancelled', 'failed') and not imported \
                 returning *",
            )
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        match tx.commit_jobs(row.into_iter().collect()).await?.pop() {
            Some(job) => Ok(job),
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
    /// Its notice carries the job's last state.
    pub async fn delete_job(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as("delete from job where job_id = $1 and status != 'running' returning *")
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        if !tx
            .commit_deleted(row.into_iter().collect())
            .await?
            .is_empty()
        {
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

    /// Atomically claims the next queued job (highest priority, then oldest, then id). No two
    /// claimers can take the same job: SQLite has one writer, and on PostgreSQL `skip locked`
    /// lets concurrent claimers pass over a row another one is taking instead of waiting for
    /// it, while the row lock keeps it theirs.
    pub async fn claim_job(&self, worker_id: &str, lease: Duration) -> Result<Option<Claim>> {
        self.claim_job_for(worker_id, lease, None).await
    }

    /// [`Store::claim_job`], of the jobs an executor called `executor` (`"cpu"`, `"cuda"`) may
    /// run: those that ask for it or for `auto`. `None`: any job.
    pub async fn claim_job_for(
        &self,
        worker_id: &str,
        lease: Duration,
        executor: Option<&str>,
    ) -> Result<Option<Claim>> {
        let token = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set status = 'running', worker_id = $1, lease_token = $2, \
                   lease_expires_at = {now} + $3, attempts = attempts + 1, \
                   started_at = coalesce(started_at, {now}), updated_at = {now} \
                 where job_id = (select job_id from job where status = 'queued' \
                                 and (cast($4 as text) is null \
                                      or requested_executor in ('auto', cast($4 as text))) \
                                 order by priority desc, created_at, job_id limit 1 \
                                 {skip_locked}) \
                 returning *",
            )
            .bind(worker_id)
            .bind(&token)
            .bind(lease_ms(lease))
            .bind(executor)
            .fetch_optional(conn)
            .await)?;
        let job = tx.commit_jobs(row.into_iter().collect()).await?.pop();
        Ok(job.map(|job| Claim {
            job,
            lease_token: token,
        }))
    }

    /// Extends a lease. `false`: the lease is gone and the worker must stop. Announces nothing:
    /// a renewal changes no state a client follows.
    pub async fn heartbeat(&self, id: &str, token: &str, lease: Duration) -> Result<bool> {
        let extended = on_pool!(self, |sql, pool| sql
            .query(
                "update job set lease_expires_at = {now} + $1, updated_at = {now} \
                 where job_id = $2 and lease_token = $3 and status = 'running'",
            )
            .bind(lease_ms(lease))
            .bind(id)
            .bind(token)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))?;
        Ok(extended == 1)
    }

    /// Puts running jobs whose lease expired back in the queue (or ends them as cancelled if a
    /// cancel was asked for); returns their ids. An expired lease means the worker died
    /// mid-run: that counts as a crash, and the crash that reaches `MAX_CRASHES` fails the job.
    pub async fn requeue_expired(&self) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let rows: Vec<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(REQUEUE_EXPIRED.as_str())
            .bind(MAX_CRASHES)
            .bind(DIED_TOO_OFTEN)
            .fetch_all(conn)
            .await)?;
        let jobs = tx.commit_jobs(rows).await?;
        Ok(jobs.into_iter().map(|job| job.id).collect())
    }

    /// Ends a run that crashed (its worker caught a panic): the job goes back to the queue, or
    /// fails with `reason` at its `MAX_CRASHES`th crash. Returns the job's new status.
    pub async fn record_crash(&self, id: &str, token: &str, reason: &str) -> Result<JobStatus> {
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(RECORD_CRASH.as_str())
            .bind(MAX_CRASHES)
            .bind(reason)
            .bind(id)
            .bind(token)
            .fetch_optional(conn)
            .await)?;
        let (tx, job) = tx.fenced_job(row).await?;
        tx.commit().await?;
        Ok(job.status)
    }

    /// Whether a cancel was asked for, and whether the lease is still ours.
    pub async fn lease_state(&self, id: &str, token: &str) -> Result<LeaseState> {
        let row: Option<(Option<String>, bool)> = on_pool!(self, |sql, pool| sql
            .query_as("select lease_token, cancel_requested from job where job_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(match row {
            Some((Some(owner), cancel)) if owner == token => {
                if cancel {
                    LeaseState::CancelRequested
                } else {
                    LeaseState::Held
                }
            }
            _ => LeaseState::Lost,
        })
    }

    /// Records which executor, device and machine run the job, and why there.
    pub async fn set_executor(
        &self,
        id: &str,
        token: &str,
        placement: &RunPlacement<'_>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set executor = $1, device = $2, placement = $5, machine = $6, \
                 updated_at = {now} where job_id = $3 and lease_token = $4 returning *",
            )
            .bind(placement.executor)
            .bind(placement.device)
            .bind(id)
            .bind(token)
            .bind(placement.reason)
            .bind(placement.machine)
            .fetch_optional(conn)
            .await)?;
        tx.fenced_job(row).await?.0.commit().await
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
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set status = $1, error = $2, stop_reason = $3, \
                   finished_at = {now}, updated_at = {now}, worker_id = null, \
                   lease_token = null, lease_expires_at = null, cancel_requested = false \
                 where job_id = $4 and lease_token = $5 returning *",
            )
            .bind(status.as_str())
            .bind(error)
            .bind(stop_reason)
            .bind(id)
            .bind(token)
            .fetch_optional(conn)
            .await)?;
        let (mut tx, _) = tx.fenced_job(row).await?;
        // A succeeded job can never be resumed: its checkpoint is dead weight.
        if status == JobStatus::Succeeded {
            in_tx!(&mut tx, |sql, conn| sql
                .query("delete from checkpoint where job_id = $1")
                .bind(id)
                .execute(conn)
                .await
                .map(|done| done.rows_affected()))?;
        }
        tx.commit().await
    }

    /// Gives a claimed job back to the queue (graceful shutdown); it continues from its last
    /// checkpoint on the next claim.
    pub async fn release_job(&self, id: &str, token: &str) -> Result<()> {
        self.requeue_held(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, updated_at = {now} \
             where job_id = $1 and lease_token = $2 returning *",
            id,
            token,
        )
        .await
    }

    /// Gives a claimed job back to the queue without counting its claim as an attempt (the
    /// store failed, not the job); it continues from its last checkpoint.
    pub async fn hand_back_job(&self, id: &str, token: &str) -> Result<()> {
        self.requeue_held(
            "update job set status = 'queued', worker_id = null, lease_token = null, \
               lease_expires_at = null, \
               attempts = case when attempts > 0 then attempts - 1 else 0 end, \
               updated_at = {now} \
             where job_id = $1 and lease_token = $2 returning *",
            id,
            token,
        )
        .await
    }

    /// Runs `statement`, a fenced update of job `$1` under lease `$2` that returns the job.
    async fn requeue_held(&self, statement: &'static str, id: &str, token: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(statement)
            .bind(id)
            .bind(token)
            .fetch_optional(conn)
            .await)?;
        tx.fenced_job(row).await?.0.commit().await
    }
}

/// The one job a write that names its job changed, or [`StoreError::NotFound`].
fn one_job(mut jobs: Vec<Job>) -> Result<Job> {
    jobs.pop().ok_or(StoreError::NotFound("job"))
}
