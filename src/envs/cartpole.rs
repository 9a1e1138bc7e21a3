//! CartPole-v1 (Barto, Sutton & Anderson 1983), as gymnasium and gymnax implement it.

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step};
use crate::num::Real;
use rand::RngExt;

pub static INFO: EnvInfo = EnvInfo {
    name: "CartPole-v1",
    obs_dim: 4,
    action_space: ActionSpace::Discrete { n: 2 },
    horizon: 500,
    return_min: 8.0,
    return_max: 500.0,
    solved_at: Some(475.0),
    // Full force from the most favourable reset state topples the pole in no fewer than 7 steps.
    max_dones_per_horizon: 500 / 7 + 1,
    state_dim: 4,
};

const GRAVITY: f64 = 9.8;
const MASS_CART: f64 = 1.0;
const MASS_POLE: f64 = 0.1;
const TOTAL_MASS: f64 = MASS_POLE + MASS_CART;
const LENGTH: f64 = 0.5;
const POLE_MASS_LENGTH: f64 = MASS_POLE * LENGTH;
const FORCE_MAG: f64 = 10.0;
const TAU: f64 = 0.02;
const THETA_THRESHOLD: f64 = 12.0 * 2.0 * std::f64::consts::PI / 360.0;
const X_THRESHOLD: f64 = 2.4;

/// State `[x, x_dot, theta, theta_dot]`.
#[derive(Debug, Clone)]
pub struct CartPole<F> {
    state: [F; 4],
    elapsed: usize,
}

physical_state!(CartPole, 4);

impl<F: Real> Env<F> for CartPole<F> {
    state_accessors!();

    fn observation(&self) -> Observation<F> {
        Observation::new(&self.state)
    }

    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]) {
        for value in out.iter_mut() {
            *value = F::of(rng.random_range(-0.05..0.05));
        }
    }

    fn step(&mut self, action: Action<F>) -> Step<F> {
        let push_right = match action {
            Action::Discrete(a) => a == 1,
            Action::Continuous(a) => a > F::zero(),
        };
        let [x, x_dot, theta, theta_dot] = self.state;
        let force = if push_right {
            F::of(FORCE_MAG)
        } else {
            -F::of(FORCE_MAG)
        };
        let (sin, cos) = (theta.sin_env(), theta.cos_env());
        // Groupings as in gymnasium: `(thd*thd)` and `(cos*cos)` keep the f64 instance bit-exact.
        let temp =
            (force + F::of(POLE_MASS_LENGTH) * (theta_dot * theta_dot) * sin) / F::of(TOTAL_MASS);
        let theta_acc = (F::of(GRAVITY) * sin - cos * temp)
            / (F::of(LENGTH)
                * (F::of(4.0 / 3.0) - F::of(MASS_POLE) * (cos * cos) / F::of(TOTAL_MASS)));
        let x_acc = temp - F::of(POLE_MASS_LENGTH) * theta_acc * cos / F::of(TOTAL_MASS);
        let tau = F::of(TAU);
        self.state = [
            x + tau * x_dot,
            x_dot + tau * x_acc,
            theta + tau * theta_dot,
            theta_dot + tau * theta_acc,
        ];
        self.elapsed += 1;
        let [x, _, theta, _] = self.state;
        let terminated = x < -F::of(X_THRESHOLD)
            || x > F::of(X_THRESHOLD)
            || theta < -F::of(THETA_THRESHOLD)
            || theta > F::of(THETA_THRESHOLD);
        Step {
            obs: self.observation(),
            reward: F::one(),
            terminated,
            truncated: self.elapsed >= INFO.horizon,
        }
    }
}
