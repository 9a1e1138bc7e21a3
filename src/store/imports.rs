//! Imports: runs recorded elsewhere (`sfnn run` folders, sent by `sfnn push`), written piece by
//! piece into a job that then reads like any other. One body for both backends.
//!
//! While its upload is under way an imported job is `running`, held by the import (worker
//! [`IMPORT_WORKER`], no lease token, no lease expiry): no worker claims it, no lease check
//! requeues it, and a cancel ends it at once. Every write is guarded by that state and by the
//! job's progress, so two uploads racing on one import cannot interleave their generations.

use super::backend::{in_tx, on_pool};
use super::jobs::{Start, insert_job};
use super::models::*;
use super::notice::Notice;
use super::rows::JobRow;
use super::runs::{compute_of, insert_genome, insert_record};
use super::{Result, Store, StoreError};
use crate::evolution::GenerationRecord;

/// The `worker_id` of a job while its import is under way.
pub const IMPORT_WORKER: &str = "import";

/// Why a guarded import write changed nothing, once the race is lost: the import moved on.
fn moved_on() -> StoreError {
    StoreError::Conflict(
        "the import changed meanwhile (another upload, a cancel or its finish); read the job \
         and continue from its generation"
            .into(),
    )
}

impl Store {
    /// Creates an imported job, held by its import until [`Store::finish_import`]. Refused
    /// with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn create_import(&self, new: NewJob) -> Result<Job> {
        self.admit().await?;
        let mut tx = self.begin().await?;
        let held_by = IMPORT_WORKER;
        let row = insert_job(&mut tx, &new, Start::Imported { held_by }).await?;
        Ok(tx.commit_jobs(vec![row]).await?.remove(0))
    }

    /// Appends `records` (consecutive, validated by the caller) to an open import whose
    /// progress is exactly `records[0].generation`, in one transaction; the job as it is now.
    /// [`StoreError::Conflict`] when the import is no longer open or moved on meanwhile.
    pub async fn import_generations(&self, id: &str, records: &[GenerationRecord]) -> Result<Job> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Err(StoreError::Invalid("no records".into()));
        };
        self.admit().await?;
        let best = records
            .iter()
            .rev()
            .map(|r| r.best_so_far)
            .find(|b| b.is_finite());
        let (cpu, wall, steps) = compute_of(records);
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set generation = $1, best_fitness = coalesce($2, best_fitness), \
                   updated_at = {now}, cpu_seconds = cpu_seconds + $5, \
                   wall_seconds = wall_seconds + $6, env_steps = env_steps + $7 \
                 where job_id = $3 and imported and status = 'running' and generation = $4 \
                 returning *",
            )
            .bind(last.generation as i64 + 1)
            .bind(best)
            .bind(id)
            .bind(first.generation as i64)
            .bind(cpu)
            .bind(wall)
            .bind(steps)
            .fetch_optional(conn)
            .await)?;
        let row = row.ok_or_else(moved_on)?;
        // Each record announced, as a worker's are: live views follow an import like a run.
        for record in records {
            insert_record(&mut tx, id, record).await?;
            tx.announce(Notice::generation(id, record)).await?;
        }
        Ok(tx.commit_jobs(vec![row]).await?.remove(0))
    }

    /// Stores a genome of an open import. A genome equal to one it holds already (same kind,
    /// generation and values) is not stored twice: its metadata comes back, so an upload
    /// retried after a lost answer changes nothing.
    pub async fn import_genome(&self, id: &str, genome: &NewGenome) -> Result<GenomeMeta> {
        self.admit().await?;
        let sha256 = genome_sha256(&genome.values);
        let existing: Option<String> = on_pool!(self, |sql, pool| sql
            .query_scalar(
                "select genome_id from genome where job_id = $1 and kind = $2 \
                 and generation = $3 and sha256 = $4",
            )
            .bind(id)
            .bind(genome.kind.as_str())
            .bind(genome.generation.map(|g| g as i64))
            .bind(&sha256)
            .fetch_optional(pool)
            .await)?;
        let genome_id = match existing {
            Some(genome_id) => genome_id,
            None => {
                let mut tx = self.begin().await?;
                let open: Option<i32> = in_tx!(&mut tx, |sql, conn| sql
                    .query_scalar(
                        "select 1 from job where job_id = $1 and imported \
                         and status = 'running' {for_update}",
                    )
                    .bind(id)
                    .fetch_optional(conn)
                    .await)?;
                open.ok_or_else(moved_on)?;
                let genome_id = insert_genome(&mut tx, genome).await?;
                tx.commit().await?;
                genome_id
            }
        };
        self.genome_meta(&genome_id)
            .await?
            .ok_or(StoreError::NotFound("genome"))
    }

    /// Ends an open import as `succeeded` with `stop_reason`, provided it holds exactly
    /// `generations` generations and `genomes` genomes (what the client sent); the job.
    pub async fn finish_import(
        &self,
        id: &str,
        generations: u64,
        genomes: u64,
        stop_reason: &str,
    ) -> Result<Job> {
        self.admit().await?;
        let mut tx = self.begin().await?;
        let held: Option<i64> = in_tx!(&mut tx, |sql, conn| sql
            .query_scalar(
                "select generation from job where job_id = $1 and imported \
                 and status = 'running' {for_update}",
            )
            .bind(id)
            .fetch_optional(conn)
            .await)?;
        let held = held.ok_or_else(moved_on)?;
        let kept: i64 = in_tx!(&mut tx, |sql, conn| sql
            .query_scalar("select count(*) from genome where job_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await)?;
        if held as u64 != generations || kept as u64 != genomes {
            return Err(StoreError::Conflict(format!(
                "the import holds {held} generations and {kept} genomes, the run has \
                 {generations} and {genomes}; upload the rest, then finish"
            )));
        }
        let row: JobRow = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set status = 'succeeded', stop_reason = $1, worker_id = null, \
                   finished_at = {now}, updated_at = {now} \
                 where job_id = $2 returning *",
            )
            .bind(stop_reason)
            .bind(id)
            .fetch_one(conn)
            .await)?;
        Ok(tx.commit_jobs(vec![row]).await?.remove(0))
    }
}
