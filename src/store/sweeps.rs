//! Sweeps: a sweep and all its jobs are written in one transaction, so a sweep is never half
//! queued; one body for both backends.

use super::backend::{in_tx, on_pool};
use super::jobs::{Start, insert_job};
use super::models::*;
use super::rows::{JobRow, corrupt};
use super::{Result, Store, StoreError};
use crate::evolution::sweep::{SweepPlan, label};
use std::collections::BTreeMap;

/// A `sweep` row.
#[derive(sqlx::FromRow)]
struct SweepRow {
    sweep_id: String,
    name: String,
    spec: String,
    axes: String,
    created_at: i64,
}

impl Store {
    /// Queues every job of `plan` under a new sweep, atomically; answers the sweep.
    /// Refused with [`super::StoreError::Unavailable`] while the store cannot write.
    pub async fn create_sweep(&self, plan: &SweepPlan) -> Result<Sweep> {
        self.admit().await?;
        let sweep_id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin().await?;
        in_tx!(&mut tx, |sql, conn| sql
            .query(
                "insert into sweep (sweep_id, name, spec, axes, created_at) \
                 values ($1, $2, $3, $4, {now})"
            )
            .bind(&sweep_id)
            .bind(&plan.name)
            .bind(plan.spec.to_string())
            .bind(serde_json::to_string(&plan.axes).expect("axes serialise"))
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
        for job in &plan.jobs {
            let values = serde_json::Value::Object(job.values.clone()).to_string();
            let priority = match &job.payload {
                crate::evolution::JobPayload::Evolve(spec) => spec.priority,
                crate::evolution::JobPayload::Evaluate(_) => 0,
            };
            let new = NewJob {
                name: job.name.clone(),
                ..NewJob::new(job.payload.clone(), priority)
            };
            let sweep = Some((sweep_id.as_str(), values.as_str()));
            let row = insert_job(&mut tx, &new, Start::Queued { sweep }).await?;
            tx.job_changed(&row.decode()?).await?;
        }
        tx.commit().await?;
        self.sweep(&sweep_id)
            .await?
            .ok_or_else(|| corrupt("sweep", &sweep_id))
    }

    /// Deletes a sweep and every job of it, with their records, or nothing: refused with
    /// [`StoreError::Conflict`] while one of its jobs is running. Each job's notice carries
    /// its last state.
    pub async fn delete_sweep(&self, id: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        let rows: Vec<JobRow> = in_tx!(&mut tx, |sql, conn| sql
            .query_as("delete from job where sweep_id = $1 and status != 'running' returning *")
            .bind(id)
            .fetch_all(conn)
            .await)?;
        let running: i64 = in_tx!(&mut tx, |sql, conn| sql
            .query_scalar("select count(*) from job where sweep_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await)?;
        if running > 0 {
            // Dropping the transaction rolls the deletions back.
            return Err(StoreError::Conflict(format!(
                "{running} job(s) of the sweep are running; cancel the sweep first"
            )));
        }
        let deleted = in_tx!(&mut tx, |sql, conn| sql
            .query("delete from sweep where sweep_id = $1")
            .bind(id)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))?;
        if deleted == 0 {
            return Err(StoreError::NotFound("sweep"));
        }
        tx.commit_deleted(rows).await?;
        Ok(())
    }

    /// A sweep with its jobs, or `None` if there is none with that id.
    pub async fn sweep(&self, id: &str) -> Result<Option<Sweep>> {
        let row: Option<SweepRow> = on_pool!(self, |sql, pool| sql
            .query_as("select * from sweep where sweep_id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        let Some(row) = row else { return Ok(None) };
        let axes: BTreeMap<String, Vec<serde_json::Value>> =
            serde_json::from_str(&row.axes).map_err(|_| corrupt("axes", &row.axes))?;
        let rows: Vec<JobRow> = on_pool!(self, |sql, pool| sql
            .query_as("select * from job where sweep_id = $1")
            .bind(id)
            .fetch_all(pool)
            .await)?;
        let mut jobs: Vec<Job> = rows
            .into_iter()
            .map(JobRow::decode)
            .collect::<Result<_>>()?;
        // The jobs share one time stamp; their order is the order of expansion, which their
        // values give back.
        jobs.sort_by_key(|job| expansion_index(&axes, job));
        let mut variants: Vec<SweepVariant> = Vec::new();
        let mut compute = JobCompute::default();
        for job in &jobs {
            compute.add(&job.compute);
            let variant = job
                .sweep
                .as_ref()
                .map(|s| s.variant.clone())
                .unwrap_or_default();
            match variants.iter_mut().find(|v| v.variant == variant) {
                Some(group) => {
                    group.job_ids.push(job.id.clone());
                    group.compute.add(&job.compute);
                }
                None => variants.push(SweepVariant {
                    label: if variant.is_empty() {
                        "all".into()
                    } else {
                        label(&variant)
                    },
                    variant,
                    job_ids: vec![job.id.clone()],
                    compute: job.compute.clone(),
                }),
            }
        }
        Ok(Some(Sweep {
            spec: serde_json::from_str(&row.spec).map_err(|_| corrupt("spec", &row.spec))?,
            axes,
            id: row.sweep_id,
            name: row.name,
            created_at: row.created_at,
            jobs,
            variants,
            compute,
        }))
    }

    /// The newest `limit` sweeps, with their job counts.
    pub async fn list_sweeps(&self, limit: u32) -> Result<Vec<SweepSummary>> {
        let rows: Vec<(String, String, String, i64, i64)> = on_pool!(self, |sql, pool| sql
            .query_as(
                "select s.sweep_id, s.name, s.axes, s.created_at, \
                   (select count(*) from job j where j.sweep_id = s.sweep_id) as jobs \
                 from sweep s order by s.created_at desc, s.sweep_id desc limit $1"
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)?;
        rows.into_iter()
            .map(|(id, name, axes, created_at, jobs)| {
                Ok(SweepSummary {
                    axes: serde_json::from_str(&axes).map_err(|_| corrupt("axes", &axes))?,
                    id,
                    name,
                    jobs: jobs as u64,
                    created_at,
                })
            })
            .collect()
    }
}

/// Where `job` came in its sweep's expansion: its values' positions on the axes, read as one
/// mixed-radix number (the last axis varies fastest, as in [`SweepPlan`]).
fn expansion_index(axes: &BTreeMap<String, Vec<serde_json::Value>>, job: &Job) -> usize {
    let values = job.sweep.as_ref().map(|s| &s.values);
    axes.iter().fold(0, |index, (path, axis_values)| {
        let position = values
            .and_then(|v| v.get(path))
            .and_then(|value| axis_values.iter().position(|x| x == value))
            .unwrap_or(0);
        index * axis_values.len() + position
    })
}
