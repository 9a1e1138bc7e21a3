//! What a run cost: CPU seconds, wall seconds and steps, summed over its recorded generations,
//! and the machine it ran on. The store keeps these totals per job; `sfnn run` writes them to
//! its folder; reports and sweeps add them up.

use super::GenerationRecord;
use serde::{Deserialize, Serialize};

/// The compute a job (or a set of jobs) used: the sums over its recorded generations, so a
/// resumed job adds up its runs, and a generation a crash made it run twice counts once (its
/// record is written once). Executor and device are the job's own fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct JobCompute {
    /// CPU seconds, all threads (each thread's own clock, so other jobs in the process are not
    /// counted); 0 for generations recorded before this was measured.
    pub cpu_seconds: f64,
    /// Wall-clock seconds of the generations (ask + evaluate + tell).
    pub wall_seconds: f64,
    /// Environment steps simulated.
    pub env_steps: u64,
    /// SFNN network steps: one per environment step (each runs the network's three
    /// propagations and synapse updates once), so equal to `env_steps`.
    pub sfnn_steps: u64,
    /// The processor of the job's last run, and the threads its executor used
    /// (`"AMD EPYC 9B45 × 2 threads"`); null until a worker has run it.
    #[schema(required = true)]
    pub machine: Option<String>,
}

impl JobCompute {
    /// The totals of `records` (the machine left unknown).
    pub fn of_records(records: &[GenerationRecord]) -> JobCompute {
        let mut compute = JobCompute::default();
        for record in records {
            compute.cpu_seconds += record.timing.cpu;
            compute.wall_seconds += record.timing.wall();
            compute.env_steps += record.env_steps;
        }
        compute.sfnn_steps = compute.env_steps;
        compute
    }

    /// Adds another job's account (for a sweep's or a group's total); `machine` stays this
    /// one's where the two agree, and becomes "several" where they differ.
    pub fn add(&mut self, other: &JobCompute) {
        self.cpu_seconds += other.cpu_seconds;
        self.wall_seconds += other.wall_seconds;
        self.env_steps += other.env_steps;
        self.sfnn_steps += other.sfnn_steps;
        self.machine = match (self.machine.take(), &other.machine) {
            (None, theirs) => theirs.clone(),
            (Some(mine), None) => Some(mine),
            (Some(mine), Some(theirs)) if &mine == theirs => Some(mine),
            (Some(_), Some(_)) => Some("several".into()),
        };
    }
}
