//! Running an evolution job: resume from the last checkpoint, then let the generation driver
//! ([`crate::evolution::driver`]) run it with the store as its host ([`StoreRun`]): the lease
//! and cancel checks, the step on the blocking pool (interruptible), and each generation's
//! record, genomes and checkpoint in one transaction.

use super::{AbortOnDrop, Outcome, Worker, WorkerError, blocking};
use crate::evolution::{
    Checkpoint, Ending, Evolution, JobPayload, JobSpec, Kept, RunHost, Stepped, StopReason, drive,
};
use crate::exec::{ExecError, Executor, Interrupt};
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
        let JobPayload::Evolve(spec) = &claim.job.spec else {
            return Err(WorkerError::Invalid("not an evolution job".into()));
        };
        let executor = self.config.executor.clone();
        // Workers claim only jobs their executor may run; this guards against a job claimed by
        // something else (a test, an older worker).
        if !spec.executor.allows(executor.name()) {
            return Err(WorkerError::Invalid(format!(
                "the job asks for the {} executor, but this worker runs on {} ({})",
                spec.executor.as_str(),
                executor.name(),
                executor.device()
            )));
        }
        let evolution = self.start_or_resume(id, spec).await?;
        // Whatever was recorded after the checkpoint is recomputed, identically.
        self.store
            .truncate_from(
                id,
                token,
                evolution.generation(),
                evolution.best().map(|b| b.fitness),
            )
            .await?;
        self.place(id, token, spec.executor).await?;
        let mut host = StoreRun {
            worker: self,
            id,
            token,
            lost,
            executor,
        };
        Ok(match drive(evolution, &mut host).await?.0 {
            Ending::Stopped(_) => Outcome::Finished,
            Ending::Halted(outcome) => outcome,
        })
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
}

/// One evolution job run by a worker: recorded in the store, fenced by the job's lease.
struct StoreRun<'a> {
    worker: &'a Worker,
    id: &'a str,
    token: &'a str,
    lost: &'a Arc<AtomicBool>,
    executor: Arc<dyn Executor>,
}

impl StoreRun<'_> {
    async fn cancelled(&self) -> Result<Outcome, WorkerError> {
        self.worker
            .store
            .finish_job(
                self.id,
                self.token,
                JobStatus::Cancelled,
                None,
                Some("cancelled"),
            )
            .await?;
        Ok(Outcome::Finished)
    }
}

impl RunHost for StoreRun<'_> {
    type Error = WorkerError;
    type Halt = Outcome;

    async fn check(&mut self, evolution: &Evolution) -> Result<Option<Outcome>, WorkerError> {
        let (id, token) = (self.id, self.token);
        if self.lost.load(Ordering::SeqCst) {
            return Ok(Some(Outcome::LeaseLost));
        }
        match self.worker.store.lease_state(id, token).await? {
            LeaseState::Lost => return Ok(Some(Outcome::LeaseLost)),
            LeaseState::CancelRequested => return self.cancelled().await.map(Some),
            LeaseState::Held => {}
        }
        // A run that a stop rule has ended is finished, not handed over.
        if self.worker.stopping() && evolution.stop_reason().is_none() {
            // Hand the job back with its state as of now, so nothing is recomputed.
            let state = evolution.checkpoint().to_bytes();
            self.worker
                .store
                .save_checkpoint(id, token, evolution.generation(), &state)
                .await?;
            return Ok(Some(Outcome::Released));
        }
        Ok(None)
    }

    async fn step(&mut self, mut evolution: Evolution) -> Result<Stepped<Outcome>, WorkerError> {
        let executor = self.executor.clone();
        let interrupt = Arc::new(Interrupt::new(false));
        let watcher = AbortOnDrop(tokio::spawn(interrupt_on_cancel(
            self.worker.store.clone(),
            self.id.to_string(),
            self.token.to_string(),
            interrupt.clone(),
        )));
        let (evolution, result) = blocking(move || {
            let result = evolution.step_interruptible(executor.as_ref(), &interrupt);
            (evolution, result)
        })
        .await?;
        drop(watcher);
        match result {
            Ok(record) => Ok(Stepped::Done(Box::new(evolution), record)),
            // Cancelled or taken over mid-generation: the half-stepped evolution is dropped,
            // and the store says which.
            Err(ExecError::Interrupted) => {
                let outcome = match self.worker.store.lease_state(self.id, self.token).await? {
                    LeaseState::CancelRequested => self.cancelled().await?,
                    LeaseState::Lost | LeaseState::Held => Outcome::LeaseLost,
                };
                Ok(Stepped::Halted(outcome))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn record(&mut self, evolution: &Evolution, kept: Kept<'_>) -> Result<(), WorkerError> {
        let (id, record) = (self.id, kept.record);
        let model = evolution.spec().model.config();
        let mut genomes = Vec::new();
        if let Some(best) = kept.new_best {
            genomes.push(NewGenome {
                job_id: Some(id.to_string()),
                generation: Some(record.generation),
                kind: GenomeKind::GenerationBest,
                fitness: Some(best.fitness),
                model,
                values: best.values.clone(),
                name: None,
                topology: None,
            });
        }
        if let Some(values) = kept.strategy_mean {
            genomes.push(NewGenome {
                job_id: Some(id.to_string()),
                generation: Some(record.generation),
                kind: GenomeKind::StrategyMean,
                fitness: None,
                model,
                values,
                name: None,
                topology: None,
            });
        }
        let checkpoint = kept
            .checkpoint_due
            .then(|| evolution.checkpoint().to_bytes());
        self.worker
            .store
            .record_generation(id, self.token, record, &genomes, checkpoint.as_deref())
            .await?;
        let config = &self.worker.config;
        config
            .metrics
            .record_generation(&config.id, self.executor.name(), record);
        Ok(())
    }

    async fn finish(
        &mut self,
        evolution: &Evolution,
        reason: StopReason,
    ) -> Result<(), WorkerError> {
        let (id, token) = (self.id, self.token);
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
            topology: None,
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
                topology: None,
            });
        }
        let store = &self.worker.store;
        store.record_final_genomes(id, token, &genomes).await?;
        let reason = serde_json::to_value(reason)
            .ok()
            .and_then(|v| v.as_str().map(String::from));
        store
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
