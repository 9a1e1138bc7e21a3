//! A lifetime's trace: everything needed to replay it elsewhere (the wiring, the synapse
//! initial states, each step's observation, decision, action-node outputs and reward). Written by
//! `sfnn eval --trace`; the Python package replays it (`sfnn_genome.replay_trace`), and its
//! per-step records are the trajectory a replay view needs. The dashboard's replay
//! (`GET /api/v1/genomes/{id}/replay`) also records the synapse-state norms
//! ([`trace_lifetime_with_norms`]).

use super::lifetime::{StepObserver, readout_for, run_lifetime};
use super::{LifetimeInput, Protocol, Sampler};
use crate::envs::EnvInfo;
use crate::limits::{FieldError, trace::MAX_STEPS};
use crate::model::{Decision, ModelConfig, Network, Params, Readout, Topology, Wiring};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "sfnn-trace";
pub const VERSION: u32 = 1;

/// One traced lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Trace {
    pub format: String,
    pub version: u32,
    pub env: String,
    /// The lifetime's seed (its wiring, synapse states and resets).
    pub seed: u64,
    pub model: ModelConfig,
    pub readout: TraceReadout,
    pub wiring: Wiring,
    /// `msg_dims` values per wiring edge, in the wiring's edge order.
    pub synapse_init: Vec<f32>,
    pub episodes: Vec<TraceEpisode>,
}

/// How outputs became actions: `{"actions": n}` (argmax) or `{"low": .., "high": ..}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TraceReadout {
    Discrete { actions: usize },
    Continuous { low: f64, high: f64 },
}

/// One episode, step by step (`horizon` steps, or fewer with `stop_on_done`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TraceEpisode {
    /// The observation fed to each step (after a `done`, the auto-reset's).
    pub obs: Vec<Vec<f32>>,
    /// The action taken: an index, or the scaled continuous value.
    pub actions: Vec<f64>,
    /// Channel 0 of the output nodes after each step (what the action was read from).
    pub outputs: Vec<Vec<f32>>,
    /// The reward of each transition (fed to the next step).
    pub rewards: Vec<f32>,
    /// Whether each transition ended the (sub-)episode.
    pub dones: Vec<bool>,
    /// The episode's return (rewards up to the first `done`).
    pub episode_return: f64,
}

/// Checks that a traced lifetime stays within [`MAX_STEPS`] steps.
pub fn check_size(info: &EnvInfo, episodes: usize) -> Result<(), FieldError> {
    match episodes.checked_mul(info.horizon) {
        Some(steps) if steps <= MAX_STEPS => Ok(()),
        _ => Err(FieldError::new(
            "episodes",
            format!(
                "a trace holds at most {MAX_STEPS} steps; {} has {} steps per episode",
                info.name, info.horizon
            ),
        )),
    }
}

/// The lifetime an evaluation with seed `seed` runs (its first and only one for this seed):
/// the draws `sfnn eval --seed S` and an evaluation job's `"seeds": [S]` make, so a trace of it
/// is that lifetime, step by step.
pub fn evaluation_lifetime(
    model: &ModelConfig,
    topology: &Topology,
    info: &'static EnvInfo,
    protocol: Protocol,
    seed: u64,
) -> LifetimeInput {
    let sampler = Sampler {
        model,
        topology,
        envs: &[info],
        protocol,
        repeats: 1,
        seed,
    };
    // Drawn here rather than on the rayon pool, which a worker's evaluation may keep busy.
    sampler.lifetime(0, 0)
}

/// The synapse-state norm of every wired edge over a lifetime: the L2 norm of its `msg_dims`
/// channels after a step, a column every `every` steps (steps counted over the whole lifetime
/// from 0, episodes one after the other).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SynapseNorms {
    /// Steps between two columns (1: every step).
    pub every: usize,
    /// The lifetime step after which each column was taken (0, `every`, 2·`every`, …).
    pub steps: Vec<usize>,
    /// One column per entry of `steps`: the norm of each wiring edge, in the wiring's order.
    pub values: Vec<Vec<f32>>,
}

struct Recorder {
    episodes: Vec<TraceEpisode>,
    /// Norms to record, if any, and the lifetime steps seen so far.
    norms: Option<SynapseNorms>,
    step: usize,
    msg_dims: usize,
}

impl StepObserver<f32> for Recorder {
    fn step(
        &mut self,
        episode: usize,
        obs: &[f32],
        net: &Network<f32>,
        decision: Decision<f32>,
        reward: f32,
        done: bool,
    ) {
        if self.episodes.len() <= episode {
            self.episodes
                .resize_with(episode + 1, TraceEpisode::default);
        }
        let ep = &mut self.episodes[episode];
        ep.obs.push(obs.to_vec());
        ep.actions.push(match decision {
            Decision::Discrete(a) => a as f64,
            Decision::Continuous(a) => a as f64,
        });
        ep.outputs.push(net.action_outputs());
        ep.rewards.push(reward);
        ep.dones.push(done);
        if let Some(norms) = &mut self.norms
            && self.step.is_multiple_of(norms.every)
        {
            norms.steps.push(self.step);
            norms.values.push(edge_norms(net, self.msg_dims));
        }
        self.step += 1;
    }
}

/// The L2 norm of each wired edge's state channels, in the wiring's edge order.
fn edge_norms(net: &Network<f32>, msg_dims: usize) -> Vec<f32> {
    net.synapse_states()
        .chunks_exact(msg_dims)
        .map(|edge| {
            edge.iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum::<f64>()
                .sqrt() as f32
        })
        .collect()
}

/// Runs one lifetime on the CPU reference step (f32) and records it; with `norms_every`, also
/// the synapse-state norms every that many steps (at least 1). The caller checks the size with
/// [`check_size`] first, and bounds steps × edges when it asks for norms.
pub fn trace_lifetime(
    values: &[f32],
    model: &ModelConfig,
    info: &'static EnvInfo,
    input: &LifetimeInput,
    protocol: Protocol,
    seed: u64,
    norms_every: Option<usize>,
) -> (Trace, Option<SynapseNorms>) {
    let norms = norms_every.map(|every| SynapseNorms {
        every: every.max(1),
        ..SynapseNorms::default()
    });
    let params = Params::<f32>::from_flat(&crate::model::GenomeLayout::new(*model), values);
    let mut returns = vec![0.0; protocol.episodes];
    let mut recorder = Recorder {
        episodes: Vec::new(),
        norms,
        step: 0,
        msg_dims: model.msg_dims,
    };
    run_lifetime(
        &params,
        model,
        info,
        input,
        protocol,
        &mut returns,
        &mut recorder,
    );
    for (ep, r) in recorder.episodes.iter_mut().zip(&returns) {
        ep.episode_return = *r;
    }
    let trace = Trace {
        format: FORMAT.into(),
        version: VERSION,
        env: info.name.into(),
        seed,
        model: *model,
        readout: match readout_for(info) {
            Readout::Discrete { actions } => TraceReadout::Discrete { actions },
            Readout::Continuous { low, high } => TraceReadout::Continuous { low, high },
        },
        wiring: input.wiring.clone(),
        synapse_init: input.synapse_init.clone(),
        episodes: recorder.episodes,
    };
    (trace, recorder.norms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envs;
    use crate::exec::EpisodeMode;

    /// Every step's synapse states, as the network holds them.
    struct AllStates(Vec<Vec<f32>>);

    impl StepObserver<f32> for AllStates {
        fn step(
            &mut self,
            _: usize,
            _: &[f32],
            net: &Network<f32>,
            _: Decision<f32>,
            _: f32,
            _: bool,
        ) {
            self.0.push(net.synapse_states());
        }
    }

    #[test]
    fn norms_are_the_l2_norms_of_the_states_at_the_sampled_steps() {
        let model = ModelConfig::default();
        let info = envs::info("Acrobot-v1").unwrap();
        let protocol = Protocol {
            episodes: 2,
            mode: EpisodeMode::FixedHorizon,
        };
        let values: Vec<f32> = (0..model.param_count())
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.6)
            .collect();
        let input = evaluation_lifetime(&model, &Topology::default(), info, protocol, 11);
        let params = Params::<f32>::from_flat(&crate::model::GenomeLayout::new(model), &values);
        let mut all = AllStates(Vec::new());
        let mut returns = vec![0.0; protocol.episodes];
        run_lifetime(
            &params,
            &model,
            info,
            &input,
            protocol,
            &mut returns,
            &mut all,
        );

        let (plain, none) = trace_lifetime(&values, &model, info, &input, protocol, 11, None);
        assert!(none.is_none());
        for every in [1, 7] {
            let (trace, norms) =
                trace_lifetime(&values, &model, info, &input, protocol, 11, Some(every));
            let norms = norms.unwrap();
            assert_eq!(trace, plain, "recording norms changes nothing else");
            assert_eq!(norms.every, every);
            assert_eq!(norms.steps.len(), all.0.len().div_ceil(every));
            for (column, &step) in norms.values.iter().zip(&norms.steps) {
                assert!(step.is_multiple_of(every));
                let states = &all.0[step];
                assert_eq!(column.len(), input.wiring.edges.len());
                for (e, &norm) in column.iter().enumerate() {
                    let d = model.msg_dims;
                    let expected = states[e * d..(e + 1) * d]
                        .iter()
                        .map(|v| v * v)
                        .sum::<f32>()
                        .sqrt();
                    assert!(
                        (norm - expected).abs() <= 1e-5 * expected.max(1.0),
                        "{norm} vs {expected}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_evaluation_lifetime_is_the_samplers_first() {
        let model = ModelConfig::default();
        let info = envs::info("CartPole-v1").unwrap();
        let topology = Topology::default();
        let protocol = Protocol {
            episodes: 3,
            mode: EpisodeMode::StopOnDone,
        };
        let sampler = Sampler {
            model: &model,
            topology: &topology,
            envs: &[info],
            protocol,
            repeats: 1,
            seed: 42,
        };
        assert_eq!(
            evaluation_lifetime(&model, &topology, info, protocol, 42),
            sampler.generation(0, 1)[0]
        );
    }
}
