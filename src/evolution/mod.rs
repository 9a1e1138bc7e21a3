//! Evolution: job specs, lifetime fitness, evolution strategies and the generation loop.

pub mod strategies;
