//! Acrobot-v1 (placeholder: dynamics not written yet).

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step};
use crate::num::Real;

pub static INFO: EnvInfo = EnvInfo {
    name: "Acrobot-v1",
    obs_dim: 6,
    action_space: ActionSpace::Discrete { n: 3 },
    horizon: 500,
    return_min: 0.0,
    return_max: 1.0,
    max_dones_per_horizon: 500,
    state_dim: 4,
};

#[derive(Debug, Clone)]
pub struct Acrobot<F> {
    state: [F; 4],
    elapsed: usize,
}

impl<F: Real> Acrobot<F> {
    pub fn new() -> Self {
        Acrobot {
            state: [F::zero(); 4],
            elapsed: 0,
        }
    }
}

impl<F: Real> Default for Acrobot<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Real> Env<F> for Acrobot<F> {
    fn info(&self) -> &'static EnvInfo {
        &INFO
    }
    fn state(&self) -> &[F] {
        &self.state
    }
    fn set_state(&mut self, state: &[F]) {
        self.state.copy_from_slice(state);
    }
    fn elapsed(&self) -> usize {
        self.elapsed
    }
    fn observation(&self) -> Observation<F> {
        todo!()
    }
    fn sample_reset_state(&self, _rng: &mut dyn rand::Rng, _out: &mut [F]) {
        todo!()
    }
    fn reset_to(&mut self, _state: &[F]) -> Observation<F> {
        todo!()
    }
    fn step(&mut self, _action: Action<F>) -> Step<F> {
        todo!()
    }
}
