//! Genomes and evaluation results: one body for both backends.

use super::backend::{in_tx, on_pool};
use super::models::*;
use super::rows::{GENOME_COLUMNS, GenomeRow, JobRow, genome_values, parse_json};
use super::runs::insert_genome;
use super::{Result, Store, StoreError};
use std::sync::LazyLock;

impl Store {
    /// Refused with [`StoreError::Unavailable`] while the store cannot write.
    pub async fn insert_genome(&self, genome: &NewGenome) -> Result<GenomeMeta> {
        self.admit().await?;
        let mut tx = self.begin().await?;
        let id = insert_genome(&mut tx, genome).await?;
        tx.commit().await?;
        self.genome_meta(&id)
            .await?
            .ok_or(StoreError::NotFound("genome"))
    }

    pub async fn genome_meta(&self, id: &str) -> Result<Option<GenomeMeta>> {
        static ONE: LazyLock<String> =
            LazyLock::new(|| format!("select {GENOME_COLUMNS} from genome where genome_id = $1"));
        let row: Option<GenomeRow> = on_pool!(self, |sql, pool| sql
            .query_as(ONE.as_str())
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(GenomeRow::decode).transpose()
    }

    /// A genome's values.
    pub async fn genome_values(&self, id: &str) -> Result<Option<Vec<f32>>> {
        let bytes: Option<Vec<u8>> = on_pool!(self, |sql, pool| sql
            .query_scalar("select params from genome where genome_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(bytes.as_deref().map(genome_values))
    }

    pub async fn job_genomes(&self, job_id: &str) -> Result<Vec<GenomeMeta>> {
        static OF_JOB: LazyLock<String> = LazyLock::new(|| {
            format!(
                "select {GENOME_COLUMNS} from genome where job_id = $1 \
                 order by generation, created_at, genome_id"
            )
        });
        let rows: Vec<GenomeRow> = on_pool!(self, |sql, pool| sql
            .query_as(OF_JOB.as_str())
            .bind(job_id)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(GenomeRow::decode).collect()
    }

    /// Stores an evaluation's result and ends its job, in one transaction.
    pub async fn finish_evaluation(
        &self,
        job_id: &str,
        token: &str,
        genome_id: &str,
        result: &serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        let row: Option<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as(
                "update job set status = 'succeeded', generation = generations, \
                   finished_at = {now}, updated_at = {now}, worker_id = null, \
                   lease_token = null, lease_expires_at = null \
                 where job_id = $1 and lease_token = $2 returning *",
            )
            .bind(job_id)
            .bind(token)
            .fetch_optional(conn)
            .await)?;
        let (mut tx, _) = tx.fenced_job(row).await?;
        in_tx!(&mut tx, |sql, conn| sql
            .query(
                "insert into evaluation (job_id, genome_id, result, created_at, updated_at) \
                 values ($1, $2, $3, {now}, {now})",
            )
            .bind(job_id)
            .bind(genome_id)
            .bind(result.to_string())
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
        tx.commit().await
    }

    pub async fn evaluation(&self, job_id: &str) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = on_pool!(self, |sql, pool| sql
            .query_scalar("select result from evaluation where job_id = $1")
            .bind(job_id)
            .fetch_optional(pool)
            .await)?;
        text.as_deref().map(parse_json).transpose()
    }
}
