//! Acrobot-v1 (Sutton 1996; Sutton & Barto's "book" dynamics), as gymnasium and gymnax implement
//! it.
//!
//! One step integrates the equations of motion over `dt = 0.2` with a single classic RK4 step; the
//! torque rides along as a fifth state component whose derivative is zero. The angles are then
//! wrapped into `[-pi, pi]` (with gymnasium's while-loops, which leave exactly `pi` unchanged;
//! gymnax maps it to `-pi`) and the velocities clipped to `±4 pi` and `±9 pi`. Every operation
//! keeps gymnasium's grouping, so the `f64` instance reproduces it bit for bit.
//!
//! Resets draw the four state values from U(-0.1, 0.1), rounded to float32 as gymnasium does.
//!
//! Actions: `Discrete(0 | 1 | 2)` applies the torque `-1, 0, +1` (an index above 2 counts as 2).
//! `Continuous(u)` applies the torque `u` clipped to `[-1, 1]`, which agrees with the discrete
//! actions at `-1, 0, 1`.

use super::{Action, ActionSpace, Env, EnvInfo, Observation, Step, py_square};
use crate::num::Real;
use rand::RngExt;

pub static INFO: EnvInfo = EnvInfo {
    name: "Acrobot-v1",
    obs_dim: 6,
    action_space: ActionSpace::Discrete { n: 3 },
    horizon: 500,
    return_min: -500.0,
    return_max: -80.0,
    solved_at: Some(-100.0),
    // Raising the tip above the bar from rest near the bottom takes a swing-up of many steps: the
    // best controllers need about 60 steps, and random play hundreds. The first termination seen
    // in the scripted fixtures comes after ~70 steps. 20 steps (4 simulated seconds) is far below
    // anything reachable from the reset distribution (|state| <= 0.1, the torque is at most 1),
    // so at most 500 / 20 + 1 episodes end within a horizon.
    max_dones_per_horizon: 500 / 20 + 1,
    state_dim: 4,
};

const DT: f64 = 0.2;
const LINK_LENGTH_1: f64 = 1.0;
const LINK_MASS_1: f64 = 1.0;
const LINK_MASS_2: f64 = 1.0;
const LINK_COM_POS_1: f64 = 0.5;
const LINK_COM_POS_2: f64 = 0.5;
const LINK_MOI: f64 = 1.0;
const GRAVITY: f64 = 9.8;
const MAX_VEL_1: f64 = 4.0 * std::f64::consts::PI;
const MAX_VEL_2: f64 = 9.0 * std::f64::consts::PI;
const AVAIL_TORQUE: [f64; 3] = [-1.0, 0.0, 1.0];
const RESET_HIGH: f64 = 0.1;

/// State `[theta1, theta2, dtheta1, dtheta2]`.
#[derive(Debug, Clone)]
pub struct Acrobot<F> {
    state: [F; 4],
    elapsed: usize,
}

physical_state!(Acrobot, 4);

/// The time derivative of the augmented state `[theta1, theta2, dtheta1, dtheta2, torque]`
/// (gymnasium's `_dsdt`, "book" variant). Constant sub-expressions are grouped exactly as Python
/// evaluates them (left to right), so they fold to the same doubles.
#[inline(always)]
fn dsdt<F: Real>(s: [F; 5]) -> [F; 5] {
    let m1 = F::of(LINK_MASS_1);
    let m2 = F::of(LINK_MASS_2);
    let l1 = F::of(LINK_LENGTH_1);
    let lc1 = F::of(LINK_COM_POS_1);
    let lc2 = F::of(LINK_COM_POS_2);
    let i1 = F::of(LINK_MOI);
    let i2 = F::of(LINK_MOI);
    let g = F::of(GRAVITY);
    let two = F::of(2.0);
    let half_pi = F::PI() / two;
    let [theta1, theta2, dtheta1, dtheta2, a] = s;
    let (sin2, cos2) = (theta2.sin_env(), theta2.cos_env());
    // d1 = m1*lc1**2 + m2*(l1**2 + lc2**2 + 2*l1*lc2*cos(theta2)) + I1 + I2
    let d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + two * l1 * lc2 * cos2) + i1 + i2;
    // d2 = m2*(lc2**2 + l1*lc2*cos(theta2)) + I2
    let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos2) + i2;
    // phi2 = m2*lc2*g*cos(theta1 + theta2 - pi/2)
    let phi2 = m2 * lc2 * g * (theta1 + theta2 - half_pi).cos_env();
    // phi1 = -m2*l1*lc2*dtheta2**2*sin(theta2) - 2*m2*l1*lc2*dtheta2*dtheta1*sin(theta2)
    //        + (m1*lc1 + m2*l1)*g*cos(theta1 - pi/2) + phi2
    let phi1 = -m2 * l1 * lc2 * py_square(dtheta2) * sin2
        - two * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
        + (m1 * lc1 + m2 * l1) * g * (theta1 - half_pi).cos_env()
        + phi2;
    // ddtheta2 = (a + d2/d1*phi1 - m2*l1*lc2*dtheta1**2*sin(theta2) - phi2)
    //            / (m2*lc2**2 + I2 - d2**2/d1)
    let ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * py_square(dtheta1) * sin2 - phi2)
        / (m2 * (lc2 * lc2) + i2 - py_square(d2) / d1);
    let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
    [dtheta1, dtheta2, ddtheta1, ddtheta2, F::zero()]
}

/// `y + h * k`, componentwise.
#[inline(always)]
fn offset<F: Real>(y: [F; 5], h: F, k: [F; 5]) -> [F; 5] {
    std::array::from_fn(|i| y[i] + h * k[i])
}

/// gymnasium's `wrap`: shifts `x` by whole turns into `[low, high]`.
#[inline(always)]
fn wrap<F: Real>(mut x: F, low: F, high: F) -> F {
    let diff = high - low;
    while x > high {
        x -= diff;
    }
    while x < low {
        x += diff;
    }
    x
}

/// gymnasium's `bound`: `min(max(x, low), high)`.
#[inline(always)]
fn bound<F: Real>(x: F, low: F, high: F) -> F {
    let x = if x < low { low } else { x };
    if x > high { high } else { x }
}

impl<F: Real> Env<F> for Acrobot<F> {
    state_accessors!();

    fn observation(&self) -> Observation<F> {
        let [theta1, theta2, dtheta1, dtheta2] = self.state;
        Observation::new(&[
            theta1.cos_env(),
            theta1.sin_env(),
            theta2.cos_env(),
            theta2.sin_env(),
            dtheta1,
            dtheta2,
        ])
    }

    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]) {
        for value in out.iter_mut() {
            // gymnasium casts its reset draw to float32 (`.astype(np.float32)`); so do we.
            let draw = rng.random_range(-RESET_HIGH..RESET_HIGH) as f32;
            *value = F::of(f64::from(draw));
        }
    }

    fn step(&mut self, action: Action<F>) -> Step<F> {
        let torque = match action {
            Action::Discrete(a) => F::of(AVAIL_TORQUE[a.min(2)]),
            Action::Continuous(u) => u.max(-F::one()).min(F::one()),
        };
        let [theta1, theta2, dtheta1, dtheta2] = self.state;
        let y0 = [theta1, theta2, dtheta1, dtheta2, torque];

        // gymnasium's rk4 over t = [0, dt]: h = t[1] - t[0], h2 = h / 2.
        let h = F::of(DT) - F::zero();
        let h2 = h / F::of(2.0);
        let k1 = dsdt(y0);
        let k2 = dsdt(offset(y0, h2, k1));
        let k3 = dsdt(offset(y0, h2, k2));
        let k4 = dsdt(offset(y0, h, k3));
        let two = F::of(2.0);
        let scale = h / F::of(6.0);
        let ns: [F; 4] =
            std::array::from_fn(|i| y0[i] + scale * (k1[i] + two * k2[i] + two * k3[i] + k4[i]));

        let pi = F::PI();
        self.state = [
            wrap(ns[0], -pi, pi),
            wrap(ns[1], -pi, pi),
            bound(ns[2], -F::of(MAX_VEL_1), F::of(MAX_VEL_1)),
            bound(ns[3], -F::of(MAX_VEL_2), F::of(MAX_VEL_2)),
        ];
        self.elapsed += 1;

        let [theta1, theta2, _, _] = self.state;
        let terminated = -theta1.cos_env() - (theta2 + theta1).cos_env() > F::one();
        Step {
            obs: self.observation(),
            reward: if terminated { F::zero() } else { -F::one() },
            terminated,
            truncated: self.elapsed >= INFO.horizon,
        }
    }
}
