//! MountainCar-v0 (Moore 1990), as gymnasium and gymnax implement it.
//!
//! `v += (a - 1) * 0.001 + cos(3 p) * (-0.0025)` (right-hand side summed first, as gymnasium's
//! `+=` does; gymnax adds the terms one by one, which only differs by f32 rounding), then `v` is
//! clipped to `±0.07`, `p += v`, `p` is clipped to `[-1.2, 0.6]`, and hitting the left wall with a
//! negative velocity stops the car. The episode terminates when `p >= 0.5 && v >= 0`; every step
//! costs -1.
//!
//! Actions: `Discrete(0 | 1 | 2)` pushes left, not at all, right (an index above 2 counts as 2).
//! `Continuous(u)` pushes with `u` clipped to `[-1, 1]` in place of `a - 1`, which agrees with the
//! discrete actions at `-1, 0, 1`.

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step};
use crate::num::Real;
use rand::RngExt;

pub static INFO: EnvInfo = EnvInfo {
    name: "MountainCar-v0",
    obs_dim: 2,
    action_space: ActionSpace::Discrete { n: 3 },
    horizon: 200,
    return_min: -200.0,
    return_max: -110.0,
    solved_at: Some(-110.0),
    // The velocity changes by at most 0.001 + 0.0025 per step, so after n steps from rest the car
    // has moved at most 0.0035 n (n + 1) / 2; reaching the goal (0.5) from the reset range
    // (p <= -0.4) needs at least 0.9 of that, i.e. n >= 23 steps (in practice far more: the car
    // must swing back and forth, the best policies need ~85). Episodes are longer than 20 steps.
    max_dones_per_horizon: 200 / 20 + 1,
    state_dim: 2,
};

const FORCE: f64 = 0.001;
// The hill, shared with the continuous variant.
pub(super) const GRAVITY: f64 = 0.0025;
const MAX_SPEED: f64 = 0.07;
const MIN_POSITION: f64 = -1.2;
const MAX_POSITION: f64 = 0.6;
const GOAL_POSITION: f64 = 0.5;
pub(super) const GOAL_VELOCITY: f64 = 0.0;

/// State `[position, velocity]`.
#[derive(Debug, Clone)]
pub struct MountainCar<F> {
    state: [F; 2],
    elapsed: usize,
}

physical_state!(MountainCar, 2);

/// The car rolls: the new velocity, clipped, moves it along the hill, and the left wall stops
/// it (both variants, in gymnasium's order of operations).
pub(super) fn roll<F: Real>(position: F, velocity: F) -> (F, F) {
    let velocity = velocity.max(-F::of(MAX_SPEED)).min(F::of(MAX_SPEED));
    let position = position + velocity;
    let position = position.max(F::of(MIN_POSITION)).min(F::of(MAX_POSITION));
    let velocity = if position == F::of(MIN_POSITION) && velocity < F::zero() {
        F::zero()
    } else {
        velocity
    };
    (position, velocity)
}

/// Draws a MountainCar reset state: position U(-0.6, -0.4), velocity 0 (shared with
/// MountainCarContinuous-v0).
pub(super) fn sample_reset<F: Real>(rng: &mut dyn rand::Rng, out: &mut [F]) {
    out[0] = F::of(rng.random_range(-0.6..-0.4));
    out[1] = F::zero();
}

impl<F: Real> Env<F> for MountainCar<F> {
    state_accessors!();

    fn observation(&self) -> Observation<F> {
        Observation::new(&self.state)
    }

    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]) {
        sample_reset(rng, out);
    }

    fn step(&mut self, action: Action<F>) -> Step<F> {
        // `(action - 1) * force`, with the integer `action - 1` exact in any float type.
        let push = match action {
            Action::Discrete(a) => F::of(a.min(2) as f64 - 1.0),
            Action::Continuous(u) => u.max(-F::one()).min(F::one()),
        };
        let [position, velocity] = self.state;
        let velocity =
            velocity + (push * F::of(FORCE) + (F::of(3.0) * position).cos_env() * -F::of(GRAVITY));
        let (position, velocity) = roll(position, velocity);
        self.state = [position, velocity];
        self.elapsed += 1;
        let terminated = position >= F::of(GOAL_POSITION) && velocity >= F::of(GOAL_VELOCITY);
        Step {
            obs: self.observation(),
            reward: -F::one(),
            terminated,
            truncated: self.elapsed >= INFO.horizon,
        }
    }
}
