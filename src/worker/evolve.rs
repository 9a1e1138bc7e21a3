//! Running an evolution job: resume from the last checkpoint, then ask → evaluate → tell →
//! record, one generation at a time.

use super::{AbortOnDrop, Outcome, Worker, WorkerError, blocking};
use crate::events::Event;
use crate::evolution::{Checkpoint, Evolution, GenerationRecord, JobSpec, StopReason};
use crate::exec::{ExecError, ExecutorChoice, Interrupt};
use crate::limits::worker::CANCEL_POLL;
use crate::store::{Claim, GenomeKind, JobStatus, LeaseState, NewGenome, Store};
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
            let interrupt = Arc::new(Interrupt::new(false));
            let watcher = AbortOnDrop(tokio::spawn(interrupt_on_cancel(
                self.store.clone(),
                id.to_string(),
                token.to_string(),
                interrupt.clone(),
            )));
            let (returned, result) = blocking(move || {
                let result = evolution.step_interruptible(executor.as_ref(), &interrupt);
                (evolution, result)
            })
            .await?;
            drop(watcher);
            evolution = returned;
            let record = match result {
                // Cancelled or taken over mid-generation: the half-stepped evolution is
                // dropped, and the store says which.
                Err(ExecError::Interrupted) => {
                    return match self.store.lease_state(id, token).await? {
                        LeaseState::CancelRequested => {
                            self.store
                                .finish_job(
                                    id,
                                    token,
                                    JobStatus::Cancelled,
                                    None,
                                    Some("cancelled"),
                                )
                                .await?;
                            Ok(Outcome::Finished)
                        }
                        LeaseState::Lost | LeaseState::Held => Ok(Outcome::LeaseLost),
                    };
                }
                other => other?,
            };
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
            let spec = spec.clone();
            return blocking(move || {
                let checkpoint = Checkpoint::from_bytes(&state)
                    .map_err(|e| WorkerError::Invalid(format!("unreadable checkpoint: {e}")))?;
                Ok(Evolution::from_checkpoint(spec, checkpoint))
            })
            .await?;
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
        // Building the strategy allocates and decomposes its covariance: not on the async task.
        let spec = spec.clone();
        blocking(move || {
            Evolution::new(spec, initial_mean.as_deref())
                .map_err(|e| WorkerError::Invalid(e.to_string()))
        })
        .await?
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

/// Raises `interrupt` as soon as the job is cancelled or its lease is lost, checking the store
/// every `CANCEL_POLL` while a generation runs (until aborted). A failed read is retried: the
/// generation then simply runs to its end.
async fn interrupt_on_cancel(store: Store, id: String, token: String, interrupt: Arc<Interrupt>) {
    let mut poll = tokio::time::interval(CANCEL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        poll.tick().await;
        if let Ok(LeaseState::CancelRequested | LeaseState::Lost) =
            store.lease_state(&id, &token).await
        {
            interrupt.store(true, Ordering::Relaxed);
            return;
        }
    }
}
