//! Running an evolution job: resume from the last checkpoint, then ask → evaluate → tell →
//! record, one generation at a time.

use super::{Outcome, Worker, WorkerError};
use crate::events::Event;
use crate::evolution::{Checkpoint, Evolution, GenerationRecord, JobSpec, StopReason};
use crate::exec::ExecutorChoice;
use crate::store::{Claim, GenomeKind, JobStatus, LeaseState, NewGenome};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

impl Worker {
    pub(super) async fn evolve(
        &self,
        claim: &Claim,
        lost: &Arc<AtomicBool>,
    ) -> Result<Outcome, WorkerError> {
        let (id, token) = (claim.job.id.as_str(), claim.lease_token.as_str());
        let spec: JobSpec = serde_json::from_value(claim.job.spec.clone())
            .map_err(|e| WorkerError::Invalid(e.to_string()))?;
        spec.validate()
            .map_err(|e| WorkerError::Invalid(e.to_string()))?;
        let executor = self.config.executor.clone();
        if spec.executor == ExecutorChoice::Cuda && executor.name() != "cuda" {
            return Err(WorkerError::Invalid(format!(
                "the job asks for the cuda executor, but this worker runs on {} ({})",
                executor.name(),
                executor.device()
            )));
        }
        let executor_name = executor.name();
        let mut evolution = self.start_or_resume(id, &spec).await?;
        // Whatever was recorded after the checkpoint is recomputed, identically.
        self.store
            .truncate_from(
                id,
                token,
                evolution.generation(),
                evolution.best().map(|b| b.fitness),
            )
            .await?;
        self.store
            .set_executor(id, token, executor.name(), &executor.device())
            .await?;

        loop {
            if lost.load(Ordering::SeqCst) {
                return Ok(Outcome::LeaseLost);
            }
            match self.store.lease_state(id, token).await? {
                LeaseState::Lost => return Ok(Outcome::LeaseLost),
                LeaseState::CancelRequested => {
                    self.store
                        .finish_job(id, token, JobStatus::Cancelled, None, Some("cancelled"))
                        .await?;
                    return Ok(Outcome::Finished);
                }
                LeaseState::Held => {}
            }
            if let Some(reason) = evolution.stop_reason() {
                self.finish(id, token, &evolution, reason).await?;
                return Ok(Outcome::Finished);
            }
            if self.stopping() {
                // Hand the job back with its state as of now, so nothing is recomputed.
                let state = evolution.checkpoint().to_bytes();
                self.store
                    .save_checkpoint(id, token, evolution.generation(), &state)
                    .await?;
                return Ok(Outcome::Released);
            }

            let executor = executor.clone();
            let (returned, result) = tokio::task::spawn_blocking(move || {
                let result = evolution.step(executor.as_ref());
                (evolution, result)
            })
            .await
            .map_err(|_| WorkerError::Panicked)?;
            evolution = returned;
            let record = result?;
            self.record(id, token, &spec, &evolution, &record).await?;
            self.config
                .metrics
                .record_generation(&self.config.id, executor_name, &record);
            self.events
                .publish(Event::Generation {
                    job_id: id.to_string(),
                    record: Box::new(record),
                })
                .await;
        }
    }

    /// The evolution as of the last checkpoint, or a fresh one.
    async fn start_or_resume(&self, id: &str, spec: &JobSpec) -> Result<Evolution, WorkerError> {
        if let Some((_, state)) = self.store.load_checkpoint(id).await? {
            let checkpoint = Checkpoint::from_bytes(&state)
                .map_err(|e| WorkerError::Invalid(format!("unreadable checkpoint: {e}")))?;
            return Ok(Evolution::from_checkpoint(spec.clone(), checkpoint));
        }
        let initial_mean = match &spec.init_genome {
            Some(genome_id) => {
                let values = self.store.genome_values(genome_id).await?.ok_or_else(|| {
                    WorkerError::Invalid(format!("init_genome {genome_id} does not exist"))
                })?;
                Some(values.iter().map(|&v| f64::from(v)).collect::<Vec<_>>())
            }
            None => None,
        };
        Evolution::new(spec.clone(), initial_mean.as_deref())
            .map_err(|e| WorkerError::Invalid(e.to_string()))
    }

    /// Writes one generation with the genomes it keeps and, at the checkpoint interval or when
    /// the run is about to end, the checkpoint.
    async fn record(
        &self,
        id: &str,
        token: &str,
        spec: &JobSpec,
        evolution: &Evolution,
        record: &GenerationRecord,
    ) -> Result<(), WorkerError> {
        let done = evolution.generation();
        let model = spec.model.config();
        let mut genomes = Vec::new();
        if record.improved
            && let Some(best) = evolution.best()
        {
            genomes.push(NewGenome {
                job_id: Some(id.to_string()),
                generation: Some(record.generation),
                kind: GenomeKind::GenerationBest,
                fitness: Some(best.fitness),
                model,
                values: best.values.clone(),
                name: None,
            });
        }
        if done.is_multiple_of(spec.mean_genome_interval) {
            genomes.push(NewGenome {
                job_id: Some(id.to_string()),
                generation: Some(record.generation),
                kind: GenomeKind::StrategyMean,
                fitness: None,
                model,
                values: evolution.mean_genome(),
                name: None,
            });
        }
        let checkpoint = (done.is_multiple_of(spec.checkpoint_interval)
            || evolution.stop_reason().is_some())
        .then(|| evolution.checkpoint().to_bytes());
        self.store
            .record_generation(id, token, record, &genomes, checkpoint.as_deref())
            .await?;
        Ok(())
    }

    async fn finish(
        &self,
        id: &str,
        token: &str,
        evolution: &Evolution,
        reason: StopReason,
    ) -> Result<(), WorkerError> {
        let model = evolution.spec().model.config();
        let generation = evolution.generation().checked_sub(1);
        let mut genomes = vec![NewGenome {
            job_id: Some(id.to_string()),
            generation,
            kind: GenomeKind::FinalMean,
            fitness: None,
            model,
            values: evolution.mean_genome(),
            name: None,
        }];
        if let Some(best) = evolution.best() {
            genomes.push(NewGenome {
                job_id: Some(id.to_string()),
                generation: Some(best.generation),
                kind: GenomeKind::FinalBest,
                fitness: Some(best.fitness),
                model,
                values: best.values.clone(),
                name: None,
            });
        }
        self.store.record_final_genomes(id, token, &genomes).await?;
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(String::from));
        self.store
            .finish_job(id, token, JobStatus::Succeeded, None, reason.as_deref())
            .await?;
        Ok(())
    }
}
