//! MountainCarContinuous-v0, with gymnasium's dynamics.
//!
//! `force = clip(a, -1, 1)`, `v += force * 0.0015 - 0.0025 cos(3 p)`, `v` clipped to `±0.07`,
//! `p += v`, `p` clipped to `[-1.2, 0.6]`, and `v = 0` when `p == -1.2 && v < 0` (the car stops at
//! the left wall). The episode terminates when `p >= 0.45 && v >= 0`. The reward uses the
//! **unclipped** action: `100 [terminated] - 0.1 a^2`.
//!
//! Differences from the references, on purpose:
//! - gymnax 0.0.6 has a different wall rule: it zeroes a negative velocity when
//!   `p >= goal_position` (0.45) instead of at the left wall, so at a left-wall hit gymnax keeps
//!   the negative velocity (up to -0.07) where gymnasium (and this module) stops the car. We
//!   follow gymnasium.
//! - gymnasium stores the state as float32 after every step and, under numpy 2, mixes float32 and
//!   float64 arithmetic depending on whether the action was clipped. We do not copy that: the
//!   state stays in `F` throughout, so the `f64` instance agrees with gymnasium to about 1e-7
//!   (float32 rounding of the stored state), not bit for bit.
//!
//! Actions: `Continuous(a)`. A `Discrete(i)` action is taken as the force `i` (then clipped), so
//! `Discrete(0)` is no force and `Discrete(1)` full force to the right.
//!
//! `return_min` and `return_max` are our own choice (the SFNN reference did not use this
//! environment): -50 is a policy that pushes hard and never reaches the goal, 90 reaches it
//! quickly with moderate force.

use super::mountain_car::{GOAL_VELOCITY, GRAVITY, roll};
use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step, py_square};
use crate::num::Real;

pub static INFO: EnvInfo = EnvInfo {
    name: "MountainCarContinuous-v0",
    obs_dim: 2,
    action_space: ActionSpace::Continuous {
        low: MIN_ACTION,
        high: MAX_ACTION,
    },
    horizon: 999,
    return_min: -50.0,
    return_max: 90.0,
    solved_at: Some(90.0),
    // The velocity changes by at most 0.0015 + 0.0025 per step, so after n steps from rest the car
    // has moved at most 0.004 n (n + 1) / 2; reaching the goal (0.45) from the reset range
    // (p <= -0.4) needs at least 0.85 of that, i.e. n >= 21 steps (in practice ~70 or more).
    // Episodes are longer than 20 steps.
    max_dones_per_horizon: 999 / 20 + 1,
    state_dim: 2,
};

const MIN_ACTION: f64 = -1.0;
const MAX_ACTION: f64 = 1.0;
const POWER: f64 = 0.0015;
const GOAL_POSITION: f64 = 0.45;
const GOAL_REWARD: f64 = 100.0;

/// State `[position, velocity]`.
#[derive(Debug, Clone)]
pub struct MountainCarContinuous<F> {
    state: [F; 2],
    elapsed: usize,
}

physical_state!(MountainCarContinuous, 2);

impl<F: Real> Env<F> for MountainCarContinuous<F> {
    state_accessors!();

    fn observation(&self) -> Observation<F> {
        Observation::new(&self.state)
    }

    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]) {
        super::mountain_car::sample_reset(rng, out);
    }

    fn step(&mut self, action: Action<F>) -> Step<F> {
        let a = match action {
            Action::Continuous(a) => a,
            Action::Discrete(i) => F::of(i as f64),
        };
        let force = a.max(F::of(MIN_ACTION)).min(F::of(MAX_ACTION));
        let [position, velocity] = self.state;
        let velocity =
            velocity + (force * F::of(POWER) - F::of(GRAVITY) * (F::of(3.0) * position).cos_env());
        let (position, velocity) = roll(position, velocity);
        self.state = [position, velocity];
        self.elapsed += 1;

        let terminated = position >= F::of(GOAL_POSITION) && velocity >= F::of(GOAL_VELOCITY);
        let bonus = if terminated {
            F::of(GOAL_REWARD)
        } else {
            F::zero()
        };
        Step {
            obs: self.observation(),
            reward: bonus - py_square(a) * F::of(0.1),
            terminated,
            truncated: self.elapsed >= INFO.horizon,
        }
    }
}
