//! Pendulum-v1 (inverted pendulum swing-up), as gymnasium and gymnax implement it.
//!
//! The reward is computed from the state *before* the step:
//! `-(angle_normalize(th)^2 + 0.1 thdot^2 + 0.001 u^2)`, with
//! `angle_normalize(x) = ((x + pi) mod 2 pi) - pi` and a floored modulo (Python's `%`, i.e.
//! [`f64::rem_euclid`] for the positive divisor, not Rust's `%`). Then
//! `thdot' = clip(thdot + (3 g / (2 l) sin th + 3 / (m l^2) u) dt, ±8)` and `th' = th + thdot' dt`;
//! `th` itself is never wrapped. `g = 10`, `m = l = 1`, `dt = 0.05`, torque clipped to `±2`.
//! The episode never terminates; the 200-step time limit ends it.
//!
//! Actions: `Continuous(u)`, clipped to `[-2, 2]`. A `Discrete(i)` action is taken as the torque
//! `i` (then clipped), so `Discrete(0)` is no torque.
//!
//! `return_min` and `return_max` are our own choice (the SFNN reference did not use this
//! environment): a random policy scores about -1200 to -1600, a good swing-up controller about
//! -150 to -200.

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step, py_square};
use crate::num::Real;
use rand::RngExt;

pub static INFO: EnvInfo = EnvInfo {
    name: "Pendulum-v1",
    obs_dim: 3,
    action_space: ActionSpace::Continuous {
        low: -MAX_TORQUE,
        high: MAX_TORQUE,
    },
    horizon: 200,
    return_min: -1600.0,
    return_max: -200.0,
    solved_at: None,
    // The pendulum never terminates: only the time limit ends an episode.
    max_dones_per_horizon: 1,
    state_dim: 2,
};

const MAX_SPEED: f64 = 8.0;
const MAX_TORQUE: f64 = 2.0;
const DT: f64 = 0.05;
const G: f64 = 10.0;
const M: f64 = 1.0;
const L: f64 = 1.0;
const RESET_THETA: f64 = std::f64::consts::PI;
const RESET_THETA_DOT: f64 = 1.0;

/// State `[theta, theta_dot]`.
#[derive(Debug, Clone)]
pub struct Pendulum<F> {
    state: [F; 2],
    elapsed: usize,
}

physical_state!(Pendulum, 2);

/// `((x + pi) mod 2 pi) - pi` with a floored modulo, as numpy computes it.
#[inline(always)]
pub fn angle_normalize<F: Real>(x: F) -> F {
    let two_pi = F::of(2.0) * F::PI();
    let r = (x + F::PI()) % two_pi;
    // Floored modulo for a positive divisor: shift a negative remainder up by one period (numpy
    // additionally maps -0 to +0, which the following `- pi` makes irrelevant).
    let r = if r < F::zero() { r + two_pi } else { r };
    r - F::PI()
}

impl<F: Real> Env<F> for Pendulum<F> {
    state_accessors!();

    fn observation(&self) -> Observation<F> {
        let [theta, theta_dot] = self.state;
        Observation::new(&[theta.cos_env(), theta.sin_env(), theta_dot])
    }

    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]) {
        out[0] = F::of(rng.random_range(-RESET_THETA..RESET_THETA));
        out[1] = F::of(rng.random_range(-RESET_THETA_DOT..RESET_THETA_DOT));
    }

    fn step(&mut self, action: Action<F>) -> Step<F> {
        let u = match action {
            Action::Continuous(u) => u,
            Action::Discrete(i) => F::of(i as f64),
        };
        let u = u.max(-F::of(MAX_TORQUE)).min(F::of(MAX_TORQUE));
        let [th, thdot] = self.state;
        let an = angle_normalize(th);
        let costs = py_square(an) + F::of(0.1) * py_square(thdot) + F::of(0.001) * py_square(u);

        // 3 * g / (2 * l) and 3.0 / (m * l**2), folded as Python does.
        let gravity_term = F::of(3.0 * G / (2.0 * L));
        let torque_term = F::of(3.0 / (M * (L * L)));
        let dt = F::of(DT);
        let newthdot = thdot + (gravity_term * th.sin_env() + torque_term * u) * dt;
        let newthdot = newthdot.max(-F::of(MAX_SPEED)).min(F::of(MAX_SPEED));
        let newth = th + newthdot * dt;

        self.state = [newth, newthdot];
        self.elapsed += 1;
        Step {
            obs: self.observation(),
            reward: -costs,
            terminated: false,
            truncated: self.elapsed >= INFO.horizon,
        }
    }
}
