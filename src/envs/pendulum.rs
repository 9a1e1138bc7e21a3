//! Pendulum-v1 (placeholder: dynamics not written yet).

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step};
use crate::num::Real;

pub static INFO: EnvInfo = EnvInfo {
    name: "Pendulum-v1",
    obs_dim: 3,
    action_space: ActionSpace::Continuous {
        low: -1.0,
        high: 1.0,
    },
    horizon: 200,
    return_min: 0.0,
    return_max: 1.0,
    max_dones_per_horizon: 200,
    state_dim: 2,
};

#[derive(Debug, Clone)]
pub struct Pendulum<F> {
    state: [F; 2],
    elapsed: usize,
}

impl<F: Real> Pendulum<F> {
    pub fn new() -> Self {
        Pendulum {
            state: [F::zero(); 2],
            elapsed: 0,
        }
    }
}

impl<F: Real> Default for Pendulum<F> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Real> Env<F> for Pendulum<F> {
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
