//! One lifetime: a freshly wired network living through `episodes` episodes of one environment,
//! its state carried across episodes (docs/model.md, "Lifetime"). This is the reference
//! semantics every executor must reproduce.

use super::{Digest, EpisodeMode, LifetimeInput, Protocol};
use crate::envs::{self, Action, ActionSpace, EnvInfo};
use crate::model::{Decision, ModelConfig, Network, Params, Readout};
use crate::num::{FlushDenormals, Real};

/// The readout that fits an environment's action space.
pub fn readout_for(info: &EnvInfo) -> Readout {
    match info.action_space {
        ActionSpace::Discrete { n } => Readout::Discrete { actions: n },
        ActionSpace::Continuous { low, high } => Readout::Continuous { low, high },
    }
}

/// What a lifetime did besides its returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifetimeRun {
    /// Environment steps taken.
    pub env_steps: u64,
    /// Its actions and final synapse states ([`Digest`]).
    pub digest: u64,
}

/// Sees every step of a lifetime, e.g. to record a trace ([`super::trace`]). The unit type
/// observes nothing; being a type parameter, it costs the plain run nothing.
pub trait StepObserver<F> {
    /// Called once per environment step, after the environment stepped: the observation the
    /// network was fed, the network after its step, its decision, and the transition's outcome.
    fn step(
        &mut self,
        episode: usize,
        obs: &[F],
        net: &Network<F>,
        decision: Decision<F>,
        reward: F,
        done: bool,
    );
}

impl<F> StepObserver<F> for () {
    #[inline(always)]
    fn step(&mut self, _: usize, _: &[F], _: &Network<F>, _: Decision<F>, _: F, _: bool) {}
}

/// Runs one lifetime, writes each episode's return into `returns` (length `episodes`) and
/// shows every step to `observer` (`&mut ()` to watch nothing).
pub fn run_lifetime<F: Real, O: StepObserver<F>>(
    params: &Params<F>,
    model: &ModelConfig,
    info: &'static EnvInfo,
    input: &LifetimeInput,
    protocol: Protocol,
    returns: &mut [f64],
    observer: &mut O,
) -> LifetimeRun {
    debug_assert_eq!(returns.len(), protocol.episodes);
    let _flush = FlushDenormals::new();
    let synapse_init: Vec<F> = input
        .synapse_init
        .iter()
        .map(|&v| F::of(v.into()))
        .collect();
    let mut net = Network::new(
        &input.wiring,
        readout_for(info),
        model.msg_dims,
        model.node_types,
        &synapse_init,
    );
    let mut env = envs::make::<F>(info.name).expect("registered environment");
    let dim = info.state_dim;
    let resets: Vec<F> = input.resets.iter().map(|&v| F::of(v.into())).collect();
    let pool = resets.len() / dim;
    // Auto-reset states follow the `episodes` episode-start states; should a lifetime ever end
    // more episodes than the pool holds, it cycles through the auto-reset part again.
    let mut next_auto_reset = protocol.episodes;
    let mut take_auto_reset = || {
        let index = if pool > protocol.episodes {
            protocol.episodes + (next_auto_reset - protocol.episodes) % (pool - protocol.episodes)
        } else {
            next_auto_reset % pool
        };
        next_auto_reset += 1;
        index
    };

    let mut steps = 0u64;
    let mut digest = Digest::default();
    // What a meta-test variant feeds the input nodes instead of the observation (see
    // `InputFeed`); unused by the reference.
    let mut fed: Vec<F> = Vec::new();
    for (episode, episode_return) in returns.iter_mut().enumerate() {
        let mut obs = env.reset_to(&resets[episode * dim..(episode + 1) * dim]);
        let mut total = 0.0f64;
        let mut ended = false;
        for _ in 0..info.horizon {
            let decision = match &input.feed {
                None => net.step(params, obs.as_slice()),
                Some(feed) => {
                    feed.feed(obs.as_slice(), steps, &mut fed);
                    net.step(params, &fed)
                }
            };
            let action = match decision {
                Decision::Discrete(a) => {
                    digest.discrete(a);
                    Action::Discrete(a)
                }
                Decision::Continuous(a) => {
                    digest.continuous(a);
                    Action::Continuous(a)
                }
            };
            let step = env.step(action);
            observer.step(
                episode,
                obs.as_slice(),
                &net,
                decision,
                step.reward,
                step.terminated || step.truncated,
            );
            steps += 1;
            if !ended {
                total += step.reward.to_f64_exact();
            }
            // The reward is fed unmasked, also after the first `done` (docs/model.md, "Lifetime").
            net.set_reward(step.reward);
            if step.terminated || step.truncated {
                ended = true;
                if protocol.mode == EpisodeMode::StopOnDone {
                    break;
                }
                let state = take_auto_reset();
                obs = env.reset_to(&resets[state * dim..(state + 1) * dim]);
            } else {
                obs = step.obs;
            }
        }
        *episode_return = total;
    }
    for value in net.synapse_states() {
        digest.state(value);
    }
    LifetimeRun {
        env_steps: steps,
        digest: digest.finish(),
    }
}
