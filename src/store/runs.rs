//! A run's generations, checkpoint and history: one body for both backends. Every write is
//! fenced by the job's lease token.

use super::backend::{WriteTx, in_tx, on_pool};
use super::chart::{self, Chart, ChartSeries};
use super::models::*;
use super::notice::Notice;
use super::rows::{JobRow, PointRow, genome_bytes, parse_json, real};
use super::{Result, Store, StoreError};
use crate::evolution::GenerationRecord;
use futures_util::Stream;
use std::sync::LazyLock;

/// Generation records per query of [`Store::history_stream`].
const HISTORY_BATCH: i64 = 2000;

/// The state of a [`Store::history_stream`].
struct HistoryExport {
    store: Store,
    id: String,
    /// Records still to deliver; `None` until counted.
    owed: Option<u64>,
    delivered: u64,
    /// The last generation delivered.
    after: Option<u64>,
    batch: std::vec::IntoIter<GenerationRecord>,
}

impl HistoryExport {
    async fn next(&mut self) -> Option<Result<GenerationRecord>> {
        let owed = match self.owed {
            Some(owed) => owed,
            None => match self.store.history_len(&self.id).await {
                Ok(count) => *self.owed.insert(count),
                Err(e) => return Some(Err(e)),
            },
        };
        if owed == 0 {
            return None;
        }
        if self.batch.len() == 0 {
            let limit = owed.min(HISTORY_BATCH as u64) as i64;
            match self.store.history_page(&self.id, self.after, limit).await {
                Ok(records) => self.batch = records.into_iter(),
                Err(e) => return Some(Err(e)),
            }
        }
        let Some(record) = self.batch.next() else {
            return Some(Err(StoreError::Conflict(format!(
                "the job's history lost records during the export: {} of {} were read",
                self.delivered,
                self.delivered + owed
            ))));
        };
        self.owed = Some(owed - 1);
        self.delivered += 1;
        self.after = Some(record.generation);
        Some(Ok(record))
    }
}

/// Recent jobs a throughput measurement reads.
const THROUGHPUT_JOBS: i64 = 5;
/// Last generations of each of them it reads.
const THROUGHPUT_GENERATIONS: i64 = 50;

impl Store {
    /// The last checkpoint: (generations completed, serialised state).
    pub async fn load_checkpoint(&self, id: &str) -> Result<Option<(u64, Vec<u8>)>> {
        let row: Option<(i64, Vec<u8>)> = on_pool!(self, |sql, pool| sql
            .query_as("select generation, state from checkpoint where job_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(row.map(|(generation, state)| (generation as u64, state)))
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
        let mut tx = self.begin().await?;
        let rows = in_tx!(&mut tx, |sql, conn| sql
            .query(
                "update job set generation = $1, best_fitness = $2, updated_at = {now} \
                 where job_id = $3 and lease_token = $4",
            )
            .bind(from as i64)
            .bind(best_fitness.and_then(real))
            .bind(id)
            .bind(token)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
        let mut tx = tx.fenced(rows).await?;
        for statement in [
            "delete from generation where job_id = $1 and generation >= $2",
            "delete from generation_record where job_id = $1 and generation >= $2",
            "delete from generation_env where job_id = $1 and generation >= $2",
            "delete from genome where job_id = $1 \
             and (generation >= $2 or kind in ('final_best', 'final_mean'))",
        ] {
            in_tx!(&mut tx, |sql, conn| sql
                .query(statement)
                .bind(id)
                .bind(from as i64)
                .execute(conn)
                .await
                .map(|done| done.rows_affected()))?;
        }
        // The compute totals are the sums over the records kept.
        let job: JobRow = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set \
                 cpu_seconds = coalesce((select sum(cpu_s) from generation g \
                                         where g.job_id = $1 and g.generation < $2), 0), \
                 wall_seconds = coalesce((select sum(ask_s + evaluate_s + tell_s) \
                                          from generation g \
                                          where g.job_id = $1 and g.generation < $2), 0), \
                 env_steps = coalesce((select sum(env_steps) from generation g \
                                       where g.job_id = $1 and g.generation < $2), 0) \
                 where job_id = $1 returning *",
            )
            .bind(id)
            .bind(from as i64)
            .fetch_one(conn)
            .await)?;
        tx.commit_jobs(vec![job]).await?;
        Ok(())
    }

    /// Writes one generation: its record, the job's progress, genomes to keep and, when given,
    /// the checkpoint, all in one transaction fenced by the lease token, which announces a
    /// [`Notice::Generation`] (the job's progress is the record's).
    pub async fn record_generation(
        &self,
        id: &str,
        token: &str,
        record: &GenerationRecord,
        genomes: &[NewGenome],
        checkpoint: Option<&[u8]>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let best_so_far = record.best_so_far.is_finite().then_some(record.best_so_far);
        let (cpu, wall, steps) = compute_of(std::slice::from_ref(record));
        let rows = in_tx!(&mut tx, |sql, conn| sql
            .query(
                "update job set generation = $1, best_fitness = $2, updated_at = {now}, \
                   cpu_seconds = cpu_seconds + $5, wall_seconds = wall_seconds + $6, \
                   env_steps = env_steps + $7 \
                 where job_id = $3 and lease_token = $4 and status = 'running'",
            )
            .bind(record.generation as i64 + 1)
            .bind(best_so_far)
            .bind(id)
            .bind(token)
            .bind(cpu)
            .bind(wall)
            .bind(steps)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
        let mut tx = tx.fenced(rows).await?;
        insert_record(&mut tx, id, record).await?;
        for genome in genomes {
            insert_genome(&mut tx, genome).await?;
        }
        if let Some(state) = checkpoint {
            upsert_checkpoint(&mut tx, id, record.generation + 1, state).await?;
        }
        tx.announce(Notice::generation(id, record)).await?;
        tx.commit().await
    }

    /// Saves a checkpoint outside a generation record (before handing a job back at shutdown).
    pub async fn save_checkpoint(
        &self,
        id: &str,
        token: &str,
        generation: u64,
        state: &[u8],
    ) -> Result<()> {
        let mut tx = check_lease(self.begin().await?, id, token).await?;
        upsert_checkpoint(&mut tx, id, generation, state).await?;
        tx.commit().await
    }

    /// Stores the genomes that close a run, fenced by the lease.
    pub async fn record_final_genomes(
        &self,
        id: &str,
        token: &str,
        genomes: &[NewGenome],
    ) -> Result<()> {
        let mut tx = check_lease(self.begin().await?, id, token).await?;
        for genome in genomes {
            insert_genome(&mut tx, genome).await?;
        }
        tx.commit().await
    }

    /// How many generation records the job has.
    pub async fn history_len(&self, id: &str) -> Result<u64> {
        let count: i64 = on_pool!(self, |sql, pool| sql
            .query_scalar("select count(*) from generation_record where job_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await)?;
        Ok(count as u64)
    }

    /// Records of generations after `after` (all if `None`), in order, at most `limit` (all if
    /// negative).
    pub async fn history_page(
        &self,
        id: &str,
        after: Option<u64>,
        limit: i64,
    ) -> Result<Vec<GenerationRecord>> {
        let records: Vec<String> = on_pool!(self, |sql, pool| sql
            .query_scalar(
                "select record from generation_record where job_id = $1 and generation > $2 \
                 order by generation limit $3",
            )
            .bind(id)
            .bind(after.map_or(-1, |g| g as i64))
            .bind(if limit < 0 { i64::MAX } else { limit })
            .fetch_all(pool)
            .await)?;
        records.iter().map(|text| parse_json(text)).collect()
    }

    /// The whole history as it was when the stream started, read in batches, so exporting a
    /// long run costs no more memory than one batch. The records are counted first and exactly
    /// that many are delivered (generations a running job adds meanwhile are left out); if the
    /// job loses records on the way (deleted, or truncated to its checkpoint after a crash),
    /// the stream ends with an error instead of looking complete.
    pub fn history_stream(
        &self,
        id: String,
    ) -> impl Stream<Item = Result<GenerationRecord>> + Send + 'static {
        let export = HistoryExport {
            store: self.clone(),
            id,
            owed: None,
            delivered: 0,
            after: None,
            batch: Vec::new().into_iter(),
        };
        futures_util::stream::unfold(export, |mut export| async move {
            let item = export.next().await?;
            if item.is_err() {
                // Nothing follows an error.
                export.owed = Some(0);
            }
            Some((item, export))
        })
    }

    /// The chart numbers of every generation, in order.
    pub async fn history_points(&self, id: &str) -> Result<Vec<HistoryPoint>> {
        static POINTS: LazyLock<String> = LazyLock::new(|| {
            format!(
                "select {} from generation where job_id = $1 order by generation",
                PointRow::COLUMNS
            )
        });
        let rows: Vec<PointRow> = on_pool!(self, |sql, pool| sql
            .query_as(POINTS.as_str())
            .bind(id)
            .fetch_all(pool)
            .await)?;
        Ok(rows.into_iter().map(PointRow::decode).collect())
    }

    /// The chart of a history, bucketed and reduced in SQL: one pass over the compact
    /// generation table, at most `max_points` bucket rows and the improvements back. Same
    /// result as [`chart::downsample`] on the full points. `series` adds the environments'
    /// curves (named `env_names`, the spec's order) and σ over the same buckets.
    pub async fn history_chart(
        &self,
        id: &str,
        max_points: usize,
        series: ChartSeries,
        env_names: &[String],
    ) -> Result<Chart> {
        let generations: i64 = on_pool!(self, |sql, pool| sql
            .query_scalar("select count(*) from generation where job_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await)?;
        let bucket = chart::bucket_size(generations as usize, max_points);
        // σ, steps and seconds come in the same pass (more aggregates cost less than a scan).
        static BUCKETS: LazyLock<String> = LazyLock::new(|| {
            format!(
                "select {} from generation where job_id = $1 group by generation / $2 order by 1",
                chart::BucketRow::COLUMNS
            )
        });
        let buckets: Vec<chart::BucketRow> = on_pool!(self, |sql, pool| sql
            .query_as(BUCKETS.as_str())
            .bind(id)
            .bind(bucket as i64)
            .fetch_all(pool)
            .await)?;
        // Best so far changes exactly where a generation improved it; keep the first and last
        // generation too, so the curve spans the whole history.
        let best_so_far: Vec<(i64, Option<f64>)> = on_pool!(self, |sql, pool| sql
            .query_as(
                "select generation, best_so_far from generation \
                 where job_id = $1 and (improved or generation = 0 or generation = $2) \
                 order by generation",
            )
            .bind(id)
            .bind(generations - 1)
            .fetch_all(pool)
            .await)?;
        let mut chart = Chart::from_sql(
            generations as u64,
            bucket as u64,
            buckets,
            best_so_far,
            series.sigma,
        );
        if series.envs {
            let rows: Vec<chart::EnvBucketRow> = on_pool!(self, |sql, pool| sql
                .query_as(
                    "select env_index, min(generation) as generation, \
                       max(mean_return) as mean_return_max, max(best_return) as best_return_max \
                     from generation_env where job_id = $1 \
                     group by env_index, generation / $2 order by 1, 2",
                )
                .bind(id)
                .bind(bucket as i64)
                .fetch_all(pool)
                .await)?;
            chart.set_envs(env_names, rows);
        }
        Ok(chart)
    }

    /// Throughput of recent runs on `executor` at `device`: SFNN steps (one per environment
    /// step of every lifetime) over whole generations' seconds (ask, evaluate, tell; what a
    /// run-time estimate needs), summed over the last
    /// [`THROUGHPUT_GENERATIONS`] generations of the [`THROUGHPUT_JOBS`] most recently updated
    /// jobs that ran there. `None` before any such generation.
    pub async fn measured_throughput(
        &self,
        executor: &str,
        device: &str,
    ) -> Result<Option<Throughput>> {
        let row: (Option<i64>, Option<f64>, i64) = on_pool!(self, |sql, pool| sql
            .query_as(
                "select cast(sum(g.env_steps) as bigint), \
                   sum(g.ask_s + g.evaluate_s + g.tell_s), count(*) \
                 from generation g join (select job_id, generation from job \
                   where kind = 'evolve' and executor = $1 and device = $2 and generation > 0 \
                   order by updated_at desc limit $3) j \
                 on g.job_id = j.job_id and g.generation >= j.generation - $4 \
                 where g.env_steps is not null and g.evaluate_s > 0",
            )
            .bind(executor)
            .bind(device)
            .bind(THROUGHPUT_JOBS)
            .bind(THROUGHPUT_GENERATIONS)
            .fetch_one(pool)
            .await)?;
        Ok(match row {
            (Some(steps), Some(seconds), generations) if steps > 0 && seconds > 0.0 => {
                Some(Throughput {
                    steps_per_s: steps as f64 / seconds,
                    generations: generations as u64,
                })
            }
            _ => None,
        })
    }
}

/// Fails with [`super::StoreError::LeaseLost`] unless `token` still holds the job's lease. On
/// PostgreSQL the row stays locked until the transaction ends, so the lease cannot move to
/// another worker before the write commits (SQLite's write transaction holds the whole
/// database already).
async fn check_lease<'a>(mut tx: WriteTx<'a>, id: &str, token: &str) -> Result<WriteTx<'a>> {
    let held: Option<i32> = in_tx!(&mut tx, |sql, conn| sql
        .query_scalar("select 1 from job where job_id = $1 and lease_token = $2 {for_update}")
        .bind(id)
        .bind(token)
        .fetch_optional(conn)
        .await)?;
    tx.fenced(u64::from(held.is_some())).await
}

/// The job's one checkpoint: the state after `generation` generations.
async fn upsert_checkpoint(
    tx: &mut WriteTx<'_>,
    id: &str,
    generation: u64,
    state: &[u8],
) -> Result<()> {
    in_tx!(tx, |sql, conn| sql
        .query(
            "insert into checkpoint (job_id, generation, state, created_at, updated_at) \
             values ($1, $2, $3, {now}, {now}) on conflict (job_id) do update set \
             generation = excluded.generation, state = excluded.state, \
             updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(generation as i64)
        .bind(state)
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(())
}

/// Stores one generation's numbers (the chart's row) and its full record.
/// A duration as stored: finite and not negative (a clock read backwards counts nothing).
fn seconds(value: f64) -> f64 {
    if value.is_finite() {
        value.max(0.0)
    } else {
        0.0
    }
}

/// What `records` add to their job's compute totals (CPU s, wall s, steps), as the job row's
/// update binds them: every write of records moves the totals with them, in the same
/// statement that moves the job's progress (see `truncate_from` for the way back).
pub(super) fn compute_of(records: &[GenerationRecord]) -> (f64, f64, i64) {
    records
        .iter()
        .fold((0.0, 0.0, 0i64), |(cpu, wall, steps), r| {
            (
                cpu + seconds(r.timing.cpu),
                wall + seconds(r.timing.wall()),
                steps.saturating_add(i64::try_from(r.env_steps).unwrap_or(i64::MAX)),
            )
        })
}

pub(super) async fn insert_record(
    tx: &mut WriteTx<'_>,
    id: &str,
    record: &GenerationRecord,
) -> Result<()> {
    let best_so_far = record.best_so_far.is_finite().then_some(record.best_so_far);
    in_tx!(tx, |sql, conn| sql
        .query(
            "insert into generation (job_id, generation, best, mean, worst, best_so_far, \
             improved, ask_s, evaluate_s, tell_s, sigma, env_steps, cpu_s, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, {now})",
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
        .bind(real(record.sigma))
        .bind(i64::try_from(record.env_steps).unwrap_or(i64::MAX))
        .bind(seconds(record.timing.cpu))
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))?;
    for (index, env) in record.envs.iter().enumerate() {
        in_tx!(tx, |sql, conn| sql
            .query(
                "insert into generation_env (job_id, env_index, generation, mean_return, \
                 best_return, mean_score) values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(index as i32)
            .bind(record.generation as i64)
            .bind(real(env.mean_return))
            .bind(real(env.best_return))
            .bind(real(env.mean_score))
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
    }
    in_tx!(tx, |sql, conn| {
        sql.query("insert into generation_record (job_id, generation, record) values ($1, $2, $3)")
            .bind(id)
            .bind(record.generation as i64)
            .bind(serde_json::to_string(record).expect("record serialises"))
            .execute(conn)
            .await
            .map(|done| done.rows_affected())
    })?;
    Ok(())
}

/// Stores `genome`; returns its id.
pub(super) async fn insert_genome(tx: &mut WriteTx<'_>, genome: &NewGenome) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    in_tx!(tx, |sql, conn| sql
        .query(
            "insert into genome (genome_id, job_id, generation, kind, fitness, model, params, \
             sha256, name, topology, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {now}, {now})",
        )
        .bind(&id)
        .bind(genome.job_id.as_deref())
        .bind(genome.generation.map(|g| g as i64))
        .bind(genome.kind.as_str())
        .bind(genome.fitness.filter(|f| f.is_finite()))
        .bind(serde_json::to_string(&genome.model).expect("model serialises"))
        .bind(genome_bytes(&genome.values))
        .bind(genome_sha256(&genome.values))
        .bind(genome.name.as_deref())
        .bind(
            genome
                .topology
                .map(|t| serde_json::to_string(&t).expect("topology serialises")),
        )
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))?;
    Ok(id)
}
