//! The generation loop, written once for every place a run is driven from: the store-backed
//! worker and `sfnn run`'s output folder each implement [`RunHost`], and [`drive`] decides the
//! order of things, which genomes a generation keeps, when a checkpoint is due, and what time the
//! wall-clock stop rule counts.
//!
//! One generation is: the host's early-end check (cancel, lease, shutdown, Ctrl-C) → the stop
//! rules → the host runs the step → the host records the generation with what it keeps. The
//! wall clock (`stop.max_wall_seconds`) counts the step and the recording, on both hosts; time
//! between runs (queued, crashed, resumed) does not count.

use super::{BestGenome, Evolution, GenerationRecord, StopReason};
use crate::exec::ExecError;
use std::time::Instant;

/// What a generation leaves behind besides its record.
pub struct Kept<'a> {
    pub record: &'a GenerationRecord,
    /// The best genome so far, when this generation improved it.
    pub new_best: Option<&'a BestGenome>,
    /// The strategy's mean, every `mean_genome_interval` generations.
    pub strategy_mean: Option<Vec<f32>>,
    /// Every `checkpoint_interval` generations and after the last one.
    pub checkpoint_due: bool,
}

impl<'a> Kept<'a> {
    fn of(evolution: &'a Evolution, record: &'a GenerationRecord) -> Self {
        let (spec, done) = (evolution.spec(), evolution.generation());
        Kept {
            record,
            new_best: evolution.best().filter(|_| record.improved),
            strategy_mean: done
                .is_multiple_of(spec.mean_genome_interval)
                .then(|| evolution.mean_genome()),
            checkpoint_due: done.is_multiple_of(spec.checkpoint_interval)
                || evolution.stop_reason().is_some(),
        }
    }
}

/// How a run ended.
pub enum Ending<H> {
    /// A stop rule ended it; the host's `finish` has run.
    Stopped(StopReason),
    /// The host ended it early (its `check` or `step` said so).
    Halted(H),
}

/// The result of a host's step: the generation, or an early end found while it ran.
pub enum Stepped<H> {
    Done(Box<Evolution>, GenerationRecord),
    Halted(H),
}

/// Where a run lives. Every method may fail with the host's own error; an executor error is
/// one of them.
#[allow(async_fn_in_trait)] // Hosts are used generically, never as trait objects or across threads.
pub trait RunHost {
    type Error: From<ExecError>;
    /// Why the host ended a run early (e.g. cancelled, lease lost, interrupted).
    type Halt;

    /// Called before every generation, and before the stop rules: `Some` ends the run.
    async fn check(&mut self, evolution: &Evolution) -> Result<Option<Self::Halt>, Self::Error>;

    /// Runs one generation. The evolution is moved in and handed back so a host can run it on
    /// another thread; one that halts mid-generation drops it (it is half-stepped).
    async fn step(&mut self, evolution: Evolution) -> Result<Stepped<Self::Halt>, Self::Error>;

    /// Records one finished generation with what it keeps.
    async fn record(&mut self, evolution: &Evolution, kept: Kept<'_>) -> Result<(), Self::Error>;

    /// The run is over by a stop rule: write the final genomes and status.
    async fn finish(
        &mut self,
        evolution: &Evolution,
        reason: StopReason,
    ) -> Result<(), Self::Error>;
}

/// Drives `evolution` until a stop rule or the host ends it. On a halt the evolution is given
/// back when it is still whole (halted before a step), so the host can checkpoint it.
pub async fn drive<H: RunHost>(
    mut evolution: Evolution,
    host: &mut H,
) -> Result<(Ending<H::Halt>, Option<Evolution>), H::Error> {
    loop {
        if let Some(halt) = host.check(&evolution).await? {
            return Ok((Ending::Halted(halt), Some(evolution)));
        }
        if let Some(reason) = evolution.stop_reason() {
            host.finish(&evolution, reason).await?;
            return Ok((Ending::Stopped(reason), Some(evolution)));
        }
        let record = match host.step(evolution).await? {
            Stepped::Done(stepped, record) => {
                evolution = *stepped;
                record
            }
            Stepped::Halted(halt) => return Ok((Ending::Halted(halt), None)),
        };
        let recording = Instant::now();
        host.record(&evolution, Kept::of(&evolution, &record))
            .await?;
        evolution.add_elapsed(recording.elapsed().as_secs_f64());
    }
}
