//! Evolution: job specs, lifetime fitness, evolution strategies and the generation loop.

pub mod checkpoint;
pub mod compute;
pub mod cost;
pub mod csv;
pub mod driver;
pub mod evaluation;
pub mod fitness;
pub mod payload;
pub mod run;
pub mod spec;
pub mod strategies;
pub mod sweep;

pub use checkpoint::CheckpointError;
pub use cost::JobCost;
pub use driver::{Ending, Kept, RunHost, Stepped, drive};
pub use fitness::{LifetimeConfig, ReturnBounds, Score};
pub use payload::{JobKind, JobPayload};
pub use run::{BestGenome, Checkpoint, Evolution, GenerationRecord, StopReason};
pub use spec::JobSpec;
