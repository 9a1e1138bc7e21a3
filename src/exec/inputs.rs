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
    /// How the observation reaches the input nodes, where a meta-test changes it; `None`: the
    /// reference (input node i reads observation i).
    pub feed: Option<InputFeed>,
}

/// A meta-test's input variant: what the input nodes read instead of the observation as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFeed {
    /// Input node i reads observation `order[i]` (a permutation of `0..obs_dim`).
    pub order: Vec<usize>,
    /// Input nodes after the observation's, wired like the others.
    pub extra: usize,
    /// What they read: rows of `extra` values, row t at the lifetime's step t (cycling through
    /// the rows); a constant is one row.
    pub extra_values: Vec<f32>,
}

impl InputFeed {
    /// Writes what the input nodes read at lifetime step `step` into `fed`.
    pub fn feed<F: crate::num::Real>(&self, obs: &[F], step: u64, fed: &mut Vec<F>) {
        fed.clear();
        fed.extend(self.order.iter().map(|&i| obs[i]));
        if let Some(rows) = self.extra_values.len().checked_div(self.extra) {
            let row = (step % rows as u64) as usize * self.extra;
            fed.extend(
                self.extra_values[row..row + self.extra]
                    .iter()
                    .map(|&v| F::of(v.into())),
            );
        }
    }
}

/// What extra input nodes read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ExtraFeed {
    /// Standard normal noise, fresh every step (drawn from the lifetime's seed).
    Noise,
    /// The same value at every step.
    Constant(f32),
}

/// A lifetime's structural variant (meta-testing): a network size, a permutation of the
/// observation, extra input nodes. The default changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StructureVariant {
    /// Seed of a fixed permutation of the observation (the same for every lifetime).
    pub permute_inputs: Option<u64>,
    /// Extra input nodes and what they read.
    pub extra_inputs: usize,
    pub extra_feed: Option<ExtraFeed>,
}

impl StructureVariant {
    pub fn is_reference(&self) -> bool {
        self.permute_inputs.is_none() && self.extra_inputs == 0
    }

    /// The permutation of an `obs_dim` observation: input node i reads `order[i]`.
    pub fn input_order(&self, obs_dim: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..obs_dim).collect();
        if let Some(seed) = self.permute_inputs {
            // Fisher-Yates from its own stream, so a permutation never depends on the lifetime.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            for i in (1..obs_dim).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
        }
        order
    }
}

/// Draws one lifetime of a structural variant. With the reference variant it is
/// [`sample_lifetime`]; with a permutation only, the same wiring and draws, fed in the other
/// order; with extra inputs, a wiring with `obs_dim + extra` input nodes sampled by the same rule
/// as the real ones (so nothing tells them apart but what they read), then the extra nodes'
/// values (noise: one row per step of the horizon; drawn after everything else).
pub fn sample_variant_lifetime(
    model: &ModelConfig,
    topology: &Topology,
    info: &'static EnvInfo,
    protocol: Protocol,
    variant: &StructureVariant,
    rng: &mut ChaCha8Rng,
) -> LifetimeInput {
    let mut input =
        sample_lifetime_inputs(model, topology, info, protocol, variant.extra_inputs, rng);
    if variant.is_reference() {
        return input;
    }
    let extra = variant.extra_inputs;
    let extra_values = match variant.extra_feed.unwrap_or(ExtraFeed::Noise) {
        _ if extra == 0 => Vec::new(),
        ExtraFeed::Constant(value) => vec![value; extra],
        ExtraFeed::Noise => {
            let steps = protocol.episodes * info.horizon;
            (0..steps * extra)
                .map(|_| rng.sample::<f32, _>(rand_distr::StandardNormal))
                .collect()
        }
    };
    input.feed = Some(InputFeed {
        order: variant.input_order(info.obs_dim),
        extra,
        extra_values,
    });
    input
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
    sample_lifetime_inputs(model, topology, info, protocol, 0, rng)
}

/// [`sample_lifetime`] with `extra` input nodes beyond the observation's.
fn sample_lifetime_inputs(
    model: &ModelConfig,
    topology: &Topology,
    info: &'static EnvInfo,
    protocol: Protocol,
    extra: usize,
    rng: &mut ChaCha8Rng,
) -> LifetimeInput {
    let outputs = info.action_space.output_nodes();
    let wiring = Wiring::sample(
        model.nodes,
        info.obs_dim + extra,
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
        feed: None,
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

#[cfg(test)]
mod variant_tests {
    use super::*;

    fn draw(variant: &StructureVariant, nodes: usize) -> LifetimeInput {
        let model = ModelConfig {
            nodes,
            ..ModelConfig::default()
        };
        let protocol = Protocol {
            episodes: 2,
            mode: EpisodeMode::FixedHorizon,
        };
        let info = envs::info("Acrobot-v1").unwrap();
        let mut rng = lifetime_rng(5, 0, 0, 0);
        sample_variant_lifetime(
            &model,
            &Topology::default(),
            info,
            protocol,
            variant,
            &mut rng,
        )
    }

    #[test]
    fn the_reference_variant_draws_what_the_sampler_draws() {
        let info = envs::info("Acrobot-v1").unwrap();
        let sampler = Sampler {
            model: &ModelConfig::default(),
            topology: &Topology::default(),
            envs: &[info],
            protocol: Protocol {
                episodes: 2,
                mode: EpisodeMode::FixedHorizon,
            },
            repeats: 1,
            seed: 5,
        };
        assert_eq!(
            draw(&StructureVariant::default(), 32),
            sampler.lifetime(0, 0)
        );
    }

    #[test]
    fn a_permutation_keeps_the_wiring_and_reorders_what_the_inputs_read() {
        let plain = draw(&StructureVariant::default(), 32);
        let variant = StructureVariant {
            permute_inputs: Some(7),
            ..StructureVariant::default()
        };
        let permuted = draw(&variant, 32);
        assert_eq!(permuted.wiring, plain.wiring);
        assert_eq!(permuted.resets, plain.resets);
        let feed = permuted.feed.unwrap();
        let mut sorted = feed.order.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            (0..6).collect::<Vec<_>>(),
            "a permutation of Acrobot's 6"
        );
        assert_ne!(feed.order, sorted, "seed 7 moves something");
        assert_eq!(feed.order, variant.input_order(6), "fixed by its seed");
        let mut fed = Vec::new();
        feed.feed(&[0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], 0, &mut fed);
        let expected: Vec<f32> = feed.order.iter().map(|&i| i as f32).collect();
        assert_eq!(fed, expected);
    }

    #[test]
    fn extra_inputs_are_wired_as_inputs_and_read_noise_or_a_constant() {
        let noisy = draw(
            &StructureVariant {
                extra_inputs: 3,
                extra_feed: Some(ExtraFeed::Noise),
                ..StructureVariant::default()
            },
            32,
        );
        let w = &noisy.wiring;
        assert_eq!((w.nodes, w.inputs), (32, 9));
        assert!(w.node_types[..9].iter().all(|&t| t == w.node_types[0]));
        assert!(
            w.edges.iter().all(|&[_, post]| post as usize >= 9),
            "nothing feeds an input"
        );
        for extra in 6..9 {
            assert!(
                w.edges.iter().any(|&[pre, _]| pre as usize == extra),
                "input {extra} sends like the others"
            );
        }
        let feed = noisy.feed.unwrap();
        assert_eq!(feed.order, (0..6).collect::<Vec<_>>());
        assert_eq!(
            feed.extra_values.len(),
            2 * 500 * 3,
            "a row per step of the horizon"
        );
        let mut fed = Vec::new();
        feed.feed(&[0.0f32; 6], 1, &mut fed);
        assert_eq!(&fed[6..], &feed.extra_values[3..6]);

        let constant = draw(
            &StructureVariant {
                extra_inputs: 2,
                extra_feed: Some(ExtraFeed::Constant(0.5)),
                ..StructureVariant::default()
            },
            64,
        );
        assert_eq!((constant.wiring.nodes, constant.wiring.inputs), (64, 8));
        let mut fed = Vec::new();
        constant.feed.unwrap().feed(&[1.0f64; 6], 999, &mut fed);
        assert_eq!(fed, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5]);
    }
}
