//! Evaluation jobs: a stored genome on chosen environments, episodes and seeds (meta-testing a
//! genome on environments it never saw), as [`crate::evolution::evaluation`] defines it.

use super::{Outcome, Worker, WorkerError, blocking};
use crate::evolution::JobPayload;
use crate::evolution::evaluation::evaluate_genome;
use crate::exec::ExecutorChoice;
use crate::store::Claim;

impl Worker {
    pub(super) async fn evaluate(&self, claim: &Claim) -> Result<Outcome, WorkerError> {
        let (id, token) = (claim.job.id.as_str(), claim.lease_token.as_str());
        let JobPayload::Evaluate(spec) = &claim.job.spec else {
            return Err(WorkerError::Invalid("not an evaluation job".into()));
        };
        // The payload was checked against the genome's model when it was queued; a genome's
        // model never changes, but the genome may have been deleted since.
        let meta = self
            .store
            .genome_meta(&spec.genome_id)
            .await?
            .ok_or_else(|| {
                WorkerError::Invalid(format!("genome {} does not exist", spec.genome_id))
            })?;
        let values = self
            .store
            .genome_values(&spec.genome_id)
            .await?
            .ok_or_else(|| WorkerError::Invalid("genome values missing".into()))?;
        let executor = self.config.executor.clone();
        self.place(id, token, ExecutorChoice::Auto).await?;
        let spec_for_thread = spec.clone();
        let result = blocking(move || {
            evaluate_genome(&spec_for_thread, meta.model, &values, executor.as_ref())
        })
        .await??;
        self.store
            .finish_evaluation(
                id,
                token,
                &spec.genome_id,
                &serde_json::to_value(&result).expect("result serialises"),
            )
            .await?;
        Ok(Outcome::Finished)
    }
}
