//! Classic-control environments with the dynamics of gymnasium / gymnax.
//!
//! Each environment is generic over [`Real`]: executors simulate in `f32` (as gymnax, which the
//! reference trained on, does), and the `f64` instance reproduces the recorded gymnasium
//! transitions bit for bit (on Linux/glibc, see [`py_square`]), except MountainCarContinuous-v0,
//! which does not copy gymnasium's float32 state storage and agrees to about 1e-7. Environments draw nothing themselves during a step: reset states come
//! from [`Env::sample_reset_state`], which the host calls with its seeded RNG, so every executor
//! sees the same resets.

/// The part every environment shares: a physical state of `$dim` values and the time limit's
/// step counter, both zero until a reset. Defines `$name::new` and `Default`.
macro_rules! physical_state {
    ($name:ident, $dim:expr) => {
        impl<F: Real> $name<F> {
            pub fn new() -> Self {
                $name {
                    state: [F::zero(); $dim],
                    elapsed: 0,
                }
            }
        }

        impl<F: Real> Default for $name<F> {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}

/// The [`Env`] accessors of a [`physical_state!`] environment and its `INFO`, inside its
/// `impl Env<F>`.
macro_rules! state_accessors {
    () => {
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

        fn set_elapsed(&mut self, elapsed: usize) {
            self.elapsed = elapsed;
        }
    };
}

mod acrobot;
mod cartpole;
mod mountain_car;
mod mountain_car_continuous;
mod pendulum;

pub use acrobot::Acrobot;
pub use cartpole::CartPole;
pub use mountain_car::MountainCar;
pub use mountain_car_continuous::MountainCarContinuous;
pub use pendulum::Pendulum;

use crate::num::Real;
use serde::Serialize;

/// The largest observation of any environment here (Acrobot's 6).
pub const MAX_OBS: usize = 6;

/// What an agent may do in an environment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ActionSpace {
    /// Actions `0..n`.
    Discrete { n: usize },
    /// One real action in `[low, high]`; values outside are clipped by the environment.
    Continuous { low: f64, high: f64 },
}

impl ActionSpace {
    /// The number of output nodes an SFNN needs for this space.
    pub fn output_nodes(&self) -> usize {
        match *self {
            ActionSpace::Discrete { n } => n,
            ActionSpace::Continuous { .. } => 1,
        }
    }
}

/// The static description of an environment.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EnvInfo {
    /// The gymnasium id, e.g. `"CartPole-v1"`.
    pub name: &'static str,
    pub obs_dim: usize,
    pub action_space: ActionSpace,
    /// `max_episode_steps` of gymnasium's registration (gymnax's `max_steps_in_episode`).
    pub horizon: usize,
    /// Episode return mapped to a normalised score of 0 (docs/model.md, "Fitness"; our own
    /// choice for the environments the reference did not use).
    pub return_min: f64,
    /// Episode return mapped to a normalised score of 1.
    pub return_max: f64,
    /// The return at which gymnasium calls the task solved (its registration's
    /// `reward_threshold`); `None` where it names none (Pendulum).
    pub solved_at: Option<f64>,
    /// An upper bound on how many episodes can end within `horizon` steps (the shortest possible
    /// episode bounds it); sizes the pool of auto-reset states the host draws per episode.
    pub max_dones_per_horizon: usize,
    /// Length of the physical state vector ([`Env::state`]).
    pub state_dim: usize,
}

/// An action for [`Env::step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action<F> {
    Discrete(usize),
    Continuous(F),
}

/// An observation without heap allocation: the first `len` values of `values` are used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation<F> {
    values: [F; MAX_OBS],
    len: usize,
}

impl<F: Real> Observation<F> {
    pub fn new(values: &[F]) -> Self {
        let mut array = [F::zero(); MAX_OBS];
        array[..values.len()].copy_from_slice(values);
        Observation {
            values: array,
            len: values.len(),
        }
    }

    pub fn as_slice(&self) -> &[F] {
        &self.values[..self.len]
    }
}

/// The result of one [`Env::step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step<F> {
    pub obs: Observation<F>,
    pub reward: F,
    /// The episode ended inside the MDP (pole fell, goal reached).
    pub terminated: bool,
    /// The episode reached the time limit (`horizon` steps since the last reset).
    pub truncated: bool,
}

/// An environment instance: physical state plus the step counter of the time limit.
pub trait Env<F: Real>: Send {
    fn info(&self) -> &'static EnvInfo;

    /// The physical state (layouts as in gymnasium's `env.unwrapped.state`).
    fn state(&self) -> &[F];

    /// Overwrites the physical state; the step counter is left alone.
    fn set_state(&mut self, state: &[F]);

    /// Steps taken since the last reset.
    fn elapsed(&self) -> usize;

    /// Overwrites the step counter of the time limit (for replaying recorded transitions); the
    /// physical state is left alone.
    fn set_elapsed(&mut self, elapsed: usize);

    /// The observation of the current state.
    fn observation(&self) -> Observation<F>;

    /// Draws a state from the reset distribution into `out` (length `info().state_dim`).
    fn sample_reset_state(&self, rng: &mut dyn rand::Rng, out: &mut [F]);

    /// Starts an episode from `state` (a draw of [`Env::sample_reset_state`]).
    fn reset_to(&mut self, state: &[F]) -> Observation<F> {
        self.set_state(state);
        self.set_elapsed(0);
        self.observation()
    }

    /// Advances one step. Continuous actions outside the bounds are clipped, as gymnasium does.
    fn step(&mut self, action: Action<F>) -> Step<F>;

    /// Draws a reset state and starts an episode from it.
    fn reset(&mut self, rng: &mut dyn rand::Rng) -> Observation<F> {
        let mut state = [F::zero(); MAX_OBS];
        let dim = self.info().state_dim;
        self.sample_reset_state(rng, &mut state[..dim]);
        self.reset_to(&state[..dim])
    }
}

/// `x**2` as CPython and numpy evaluate it for a float64: a call to the C library's `pow`, which
/// glibc does not always round correctly (Acrobot's `d2**2` hits a case where it is 1 ulp from the
/// correctly rounded `x * x`). The `f64` instances use it wherever gymnasium writes `**2`, so they
/// stay bit-exact on Linux/glibc (other C libraries may differ by an ulp); `f32` simply multiplies.
#[inline(always)]
pub fn py_square<F: Real>(x: F) -> F {
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<f64>() {
        // `black_box` hides the constant exponent, or LLVM would rewrite `pow(x, 2.0)` to `x * x`.
        F::of(x.to_f64_exact().powf(std::hint::black_box(2.0)))
    } else {
        x * x
    }
}

/// The descriptions of every environment, in a stable order.
pub fn all() -> [&'static EnvInfo; 5] {
    [
        &cartpole::INFO,
        &acrobot::INFO,
        &mountain_car::INFO,
        &pendulum::INFO,
        &mountain_car_continuous::INFO,
    ]
}

/// The description of the environment called `name`.
pub fn info(name: &str) -> Option<&'static EnvInfo> {
    all().into_iter().find(|info| info.name == name)
}

/// The names `make` accepts, for error messages.
pub fn names() -> Vec<&'static str> {
    all().iter().map(|info| info.name).collect()
}

/// Builds the environment called `name` (a gymnasium id such as `"CartPole-v1"`).
pub fn make<F: Real>(name: &str) -> Option<Box<dyn Env<F>>> {
    Some(match name {
        "CartPole-v1" => Box::new(CartPole::<F>::new()),
        "Acrobot-v1" => Box::new(Acrobot::<F>::new()),
        "MountainCar-v0" => Box::new(MountainCar::<F>::new()),
        "Pendulum-v1" => Box::new(Pendulum::<F>::new()),
        "MountainCarContinuous-v0" => Box::new(MountainCarContinuous::<F>::new()),
        _ => return None,
    })
}
