//! A lifetime's trace: everything needed to replay it elsewhere (the wiring, the synapse
//! initial states, each step's observation, decision, action-node outputs and reward). Written by
//! `sfnn eval --trace`; the Python package replays it (`sfnn_genome.replay_trace`), and its
//! per-step records are the trajectory a replay view needs.

use super::lifetime::{StepObserver, readout_for, run_lifetime_observed};
use super::{LifetimeInput, Protocol};
use crate::envs::EnvInfo;
use crate::limits::{FieldError, trace::MAX_STEPS};
use crate::model::{Decision, ModelConfig, Network, Params, Readout, Wiring};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "sfnn-trace";
pub const VERSION: u32 = 1;

/// One traced lifetime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TraceReadout {
    Discrete { actions: usize },
    Continuous { low: f64, high: f64 },
}

/// One episode, step by step (`horizon` steps, or fewer with `stop_on_done`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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

struct Recorder {
    episodes: Vec<TraceEpisode>,
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
    }
}

/// Runs one lifetime on the CPU reference step (f32) and records it. The caller checks the size
/// with [`check_size`] first.
pub fn trace_lifetime(
    values: &[f32],
    model: &ModelConfig,
    info: &'static EnvInfo,
    input: &LifetimeInput,
    protocol: Protocol,
    seed: u64,
) -> Trace {
    let params = Params::<f32>::from_flat(&crate::model::GenomeLayout::new(*model), values);
    let mut returns = vec![0.0; protocol.episodes];
    let mut recorder = Recorder {
        episodes: Vec::new(),
    };
    run_lifetime_observed(
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
    Trace {
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
    }
}
