//! SFNN Lab: evolve Structurally Flexible Neural Networks (SFNNs) with evolution strategies and
//! track the experiments.
//!
//! Layers, from the bottom up (see `DESIGN.md`):
//! - [`envs`]: classic-control environments (gymnasium / gymnax dynamics).
//! - [`model`]: the SFNN genome layout, the wiring sampler and one network step.
//! - [`exec`]: executors that evaluate whole populations (the CPU executor is the reference).
//! - [`evolution`]: job specs, lifetime fitness, evolution strategies and the generation loop.

pub mod cli;
pub mod envs;
pub mod evolution;
pub mod exec;
pub mod model;
pub mod num;
