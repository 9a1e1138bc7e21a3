//! SFNN Lab: evolve Structurally Flexible Neural Networks (SFNNs) with evolution strategies and
//! track the experiments.
//!
//! Layers, from the bottom up (see `docs/architecture.md`):
//! - [`envs`]: classic-control environments (gymnasium / gymnax dynamics).
//! - [`model`]: the SFNN genome layout, the wiring sampler and one network step.
//! - [`exec`]: executors that evaluate whole populations (the CPU executor is the reference).
//! - [`evolution`]: job specs, lifetime fitness, evolution strategies and the generation loop.
//! - [`worker`]: claims queued jobs and runs them, recording into the [`store`].
//! - [`api`]: the REST API, live events and the dashboard, reading what workers record.

pub mod api;
pub mod cli;
pub mod envs;
pub mod events;
pub mod evolution;
pub mod exec;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod model;
pub mod num;
pub mod server;
pub mod store;
pub mod worker;
