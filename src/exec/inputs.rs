//! Host-drawn randomness for a generation: wiring, synapse initial states and reset states.
//!
//! Each lifetime gets its own ChaCha8 stream keyed by (job seed, generation, member·repeats +
//! repeat, environment), so the draws do not depend on how many threads sample or evaluate them,
//! and a resumed job redraws exactly what the interrupted one would have.

use super::{EpisodeMode, Protocol};
use crate::envs::{self, EnvInfo};
use crate::model::{ModelConfig, Topology, Wiring};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Everything random about one lifetime of one network in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct LifetimeInput {
    pub wiring: Wiring,
    /// `msg_dims` values per wiring edge, Uniform(−0.1, 0.1) as the reference.
    pub synapse_init: Vec<f32>,
    /// Reset states, `state_dim` values each: state k starts episode k (k < episodes), the rest
    /// serve the auto-resets in the order they happen.
    pub resets: Vec<f32>,
}

impl LifetimeInput {
    /// Number of reset states in the pool.
    pub fn reset_count(&self, info: &EnvInfo) -> usize {
        self.resets.len() / info.state_dim
    }
}

/// The RNG of one lifetime.
pub fn lifetime_rng(seed: u64, generation: u64, slot: u64, env: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    for (chunk, value) in key.chunks_exact_mut(8).zip([seed, generation, slot, env]) {
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    ChaCha8Rng::from_seed(key)
}

/// How many reset states a lifetime needs: one per episode, plus, with auto-reset, one for every
/// episode end that can happen within the horizon.
pub fn reset_pool_size(info: &EnvInfo, protocol: Protocol) -> usize {
    match protocol.mode {
        EpisodeMode::FixedHorizon => protocol.episodes * (1 + info.max_dones_per_horizon),
        EpisodeMode::StopOnDone => protocol.episodes,
    }
}

/// Draws one lifetime.
pub fn sample_lifetime(
    model: &ModelConfig,
    topology: &Topology,
    info: &'static EnvInfo,
    protocol: Protocol,
    rng: &mut ChaCha8Rng,
) -> LifetimeInput {
    let outputs = info.action_space.output_nodes();
    let wiring = Wiring::sample(
        model.nodes,
        info.obs_dim,
        outputs,
        model.node_types,
        topology,
        rng,
    );
    let synapse_init = (0..wiring.edges.len() * model.msg_dims)
        .map(|_| rng.random_range(-0.1f32..0.1))
        .collect();
    let env = envs::make::<f32>(info.name).expect("registered environment");
    let mut resets = vec![0.0f32; reset_pool_size(info, protocol) * info.state_dim];
    for state in resets.chunks_exact_mut(info.state_dim) {
        env.sample_reset_state(rng, state);
    }
    LifetimeInput {
        wiring,
        synapse_init,
        resets,
    }
}

/// Draws the lifetimes of whole generations for one job.
#[derive(Debug, Clone, Copy)]
pub struct Sampler<'a> {
    pub model: &'a ModelConfig,
    pub topology: &'a Topology,
    pub envs: &'a [&'static EnvInfo],
    pub protocol: Protocol,
    pub repeats: usize,
    pub seed: u64,
}

impl Sampler<'_> {
    /// Every lifetime of generation `generation`, ordered `[member][repeat][env]`.
    pub fn generation(&self, generation: u64, members: usize) -> Vec<LifetimeInput> {
        (0..members * self.repeats * self.envs.len())
            .into_par_iter()
            .map(|index| self.lifetime(generation, index))
            .collect()
    }

    /// Lifetime `index` of generation `generation`, in [`Sampler::generation`]'s order, drawn
    /// on the calling thread.
    pub fn lifetime(&self, generation: u64, index: usize) -> LifetimeInput {
        let envs = self.envs.len();
        let slot = (index / envs) as u64;
        let env = index % envs;
        let mut rng = lifetime_rng(self.seed, generation, slot, env as u64);
        sample_lifetime(
            self.model,
            self.topology,
            self.envs[env],
            self.protocol,
            &mut rng,
        )
    }
}
