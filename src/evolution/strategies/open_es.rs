//! OpenAI-ES: a search-gradient estimate from Gaussian perturbations, followed by Adam.
//!
//! Reference: T. Salimans, J. Ho, X. Chen, S. Sidor, I. Sutskever, "Evolution Strategies as a
//! Scalable Alternative to Reinforcement Learning", arXiv:1703.03864 (2017): mirrored sampling,
//! centred-rank fitness shaping, Adam on the mean, L2 weight decay.
//!
//! Replicates evosax 0.1.4 `OpenES` (with `FitnessShaper(centered_rank=True, maximize=True)`) and
//! its `Adam` (beta_1 = 0.99, beta_2 = 0.999, eps = 1e-8, bias-corrected):
//! - `ask`: `z_1..z_{λ/2} ~ N(0, I)`, members `m + σ z_i` then `m - σ z_i` (antithetic), or λ
//!   independent draws;
//! - `tell`: `u_i` = centred rank (+0.5 best ... -0.5 worst), gradient
//!   `g = 1/(λ σ) Σ u_i (x_i - m)/σ`, Adam step on `m` along `+g`, then
//!   `lr ← max(lr · lr_decay, lr_limit)` and `σ ← max(σ · σ_decay, σ_limit)`.
//!
//! evosax descends `g' = -g` (it minimises the negated fitness, whose best member has centred rank
//! -0.5); Adam is odd in the gradient, so ascending `g` gives bit-identical means.
//!
//! Deviations:
//! - The decay floors never *raise* a value: with evosax's defaults (`sigma_limit = 0.01`), a
//!   `sigma_init` below 0.01 jumps up to 0.01 after the first generation even with no decay.
//! - Weight decay subtracts `weight_decay · mean(x_i²)` from the (maximised) shaped fitness, i.e.
//!   it penalises large parameters. evosax 0.1.x's `FitnessShaper` with `maximize=True` adds the
//!   penalty with the wrong sign (it negates the already-negated fitness reduction), rewarding
//!   large parameters instead.
//! - NaN fitness ranks worst and never receives a positive utility.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::shaping::{centered_ranks, rank_order};
use super::{Population, StrategyConfig, Telemetry, norm, standard_normals};

const BETA_1: f64 = 0.99;
const BETA_2: f64 = 0.999;
const EPS: f64 = 1e-8;

/// OpenAI-ES state: mean, noise std, Adam moments, RNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenEs {
    pub(super) popsize: usize,
    antithetic: bool,
    learning_rate: f64,
    learning_rate_decay: f64,
    learning_rate_limit: f64,
    sigma_decay: f64,
    sigma_limit: f64,
    weight_decay: f64,
    pub(super) mean: Vec<f64>,
    pub(super) sigma: f64,
    /// Adam first and second moments.
    m: Vec<f64>,
    v: Vec<f64>,
    pub(super) generation: u64,
    rng: ChaCha8Rng,
}

/// `max(x · decay, limit)`, but never above `x` (evosax `exp_decay`, without raising).
fn decay(x: f64, decay: f64, limit: f64) -> f64 {
    if x > limit { (x * decay).max(limit) } else { x }
}

impl OpenEs {
    pub(super) fn new(config: &StrategyConfig, mean: Vec<f64>, seed: u64) -> Self {
        let dim = mean.len();
        OpenEs {
            popsize: config.popsize,
            antithetic: config.antithetic,
            learning_rate: config.learning_rate,
            learning_rate_decay: config.learning_rate_decay,
            learning_rate_limit: config.learning_rate_limit,
            sigma_decay: config.sigma_decay,
            sigma_limit: config.sigma_limit,
            weight_decay: config.weight_decay,
            mean,
            sigma: config.sigma0,
            m: vec![0.0; dim],
            v: vec![0.0; dim],
            generation: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub(super) fn ask(&mut self) -> Population {
        let n = self.mean.len();
        let z = if self.antithetic {
            let half = standard_normals(&mut self.rng, self.popsize / 2 * n);
            let mut z = half.clone();
            z.extend(half.iter().map(|v| -v));
            z
        } else {
            standard_normals(&mut self.rng, self.popsize * n)
        };
        let members = z
            .chunks_exact(n)
            .flat_map(|zi| zi.iter().zip(&self.mean).map(|(z, m)| m + self.sigma * z))
            .collect();
        Population { dim: n, members }
    }

    pub(super) fn tell(&mut self, population: &Population, fitness: &[f64]) -> Telemetry {
        let n = self.mean.len();
        let order = rank_order(fitness);
        let ranks = centered_ranks(self.popsize);
        let mut utility = vec![0.0; self.popsize];
        for (&i, &u) in order.iter().zip(&ranks) {
            utility[i] = if u > 0.0 && fitness[i].is_nan() {
                0.0
            } else {
                u
            };
        }
        if self.weight_decay > 0.0 {
            for (u, x) in utility.iter_mut().zip(population.iter()) {
                *u -= self.weight_decay * (x.iter().map(|v| v * v).sum::<f64>() / n as f64);
            }
        }
        let mut grad = vec![0.0; n];
        for (u, x) in utility.iter().zip(population.iter()) {
            for ((g, xj), mj) in grad.iter_mut().zip(x).zip(&self.mean) {
                *g += ((xj - mj) / self.sigma) * u;
            }
        }
        let scale = 1.0 / (self.popsize as f64 * self.sigma);
        for g in &mut grad {
            *g *= scale;
        }

        let t = (self.generation + 1).min(1 << 30) as i32;
        let (bc1, bc2) = (1.0 - BETA_1.powi(t), 1.0 - BETA_2.powi(t));
        for (((mean, m), v), g) in self
            .mean
            .iter_mut()
            .zip(&mut self.m)
            .zip(&mut self.v)
            .zip(&grad)
        {
            *m = (1.0 - BETA_1) * g + BETA_1 * *m;
            *v = (1.0 - BETA_2) * (g * g) + BETA_2 * *v;
            let mhat = *m / bc1;
            let vhat = *v / bc2;
            *mean += self.learning_rate * mhat / (vhat.sqrt() + EPS);
        }
        self.learning_rate = decay(
            self.learning_rate,
            self.learning_rate_decay,
            self.learning_rate_limit,
        );
        self.sigma = decay(self.sigma, self.sigma_decay, self.sigma_limit);
        self.generation += 1;
        Telemetry {
            sigma: self.sigma,
            extra: vec![
                ("learning_rate".into(), self.learning_rate),
                ("grad_norm".into(), norm(&grad)),
            ],
        }
    }
}
