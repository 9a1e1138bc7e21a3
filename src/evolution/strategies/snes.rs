//! Separable Natural Evolution Strategy (SNES).
//!
//! Reference: T. Schaul, T. Glasmachers, J. Schmidhuber, "High Dimensions and Heavy Tails for
//! Natural Evolution Strategies", GECCO 2011 (also Wierstra et al., JMLR 15, 2014, Algorithm 6).
//!
//! Replicates evosax 0.1.4 `SNES` (with `temperature = 0`, i.e. the NES utilities):
//! - utilities by rank `k = 1..λ`: `max(0, ln(λ/2 + 1) - ln k)`, normalised to sum 1, minus `1/λ`;
//! - `ask`: `x_i = m + σ ∘ s_i`, `s_i ~ N(0, I)`;
//! - `tell`: `∇_m = Σ u_k s_k`, `∇_σ = Σ u_k (s_k² - 1)`, `m ← m + η_m σ ∘ ∇_m`,
//!   `σ ← σ ∘ exp(η_σ / 2 · ∇_σ)`, with `η_m = 1` and `η_σ = (3 + ln n) / (5 √n)` by default.
//!
//! Deviations: samples come from `ChaCha8Rng` + `StandardNormal`; NaN fitness ranks worst and
//! never receives a positive utility.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::shaping::{nan_safe_weights, rank_order};
use super::{Population, StrategyConfig, Telemetry, standard_normals};

/// SNES state: mean, per-coordinate std, RNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snes {
    pub(super) popsize: usize,
    /// Utilities by rank (best first); they sum to 0.
    weights: Vec<f64>,
    lr_mean: f64,
    lr_sigma: f64,
    pub(super) mean: Vec<f64>,
    /// Per-coordinate standard deviations.
    sigma: Vec<f64>,
    pub(super) generation: u64,
    rng: ChaCha8Rng,
}

/// evosax `get_snes_weights(popsize, use_baseline=True)`.
fn snes_weights(popsize: usize) -> Vec<f64> {
    let lambda = popsize as f64;
    let raw: Vec<f64> = (1..=popsize)
        .map(|k| ((lambda / 2.0 + 1.0).ln() - (k as f64).ln()).max(0.0))
        .collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total - 1.0 / lambda).collect()
}

impl Snes {
    pub(super) fn new(config: &StrategyConfig, mean: Vec<f64>, seed: u64) -> Self {
        let dim = mean.len();
        let n = dim as f64;
        Snes {
            popsize: config.popsize,
            weights: snes_weights(config.popsize),
            lr_mean: config.lr_mean,
            lr_sigma: config
                .lr_sigma
                .unwrap_or_else(|| (3.0 + n.ln()) / (5.0 * n.sqrt())),
            mean,
            sigma: vec![config.sigma0; dim],
            generation: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Mean of the per-coordinate stds.
    pub(super) fn mean_sigma(&self) -> f64 {
        self.sigma.iter().sum::<f64>() / self.sigma.len() as f64
    }

    /// Per-coordinate standard deviations.
    pub fn sigmas(&self) -> &[f64] {
        &self.sigma
    }

    pub(super) fn ask(&mut self) -> Population {
        let n = self.mean.len();
        let mut members = standard_normals(&mut self.rng, self.popsize * n);
        for xi in members.chunks_exact_mut(n) {
            for ((x, m), s) in xi.iter_mut().zip(&self.mean).zip(&self.sigma) {
                *x = m + *x * s;
            }
        }
        Population { dim: n, members }
    }

    pub(super) fn tell(&mut self, population: &Population, fitness: &[f64]) -> Telemetry {
        let n = self.mean.len();
        let order = rank_order(fitness);
        let weights = nan_safe_weights(&self.weights, &order, fitness);
        let mut grad_mean = vec![0.0; n];
        let mut grad_sigma = vec![0.0; n];
        for (&i, w) in order.iter().zip(&weights) {
            for (((gm, gs), (x, m)), s) in grad_mean
                .iter_mut()
                .zip(&mut grad_sigma)
                .zip(population.member(i).iter().zip(&self.mean))
                .zip(&self.sigma)
            {
                let z = (x - m) / s;
                *gm += w * z;
                *gs += w * (z * z - 1.0);
            }
        }
        for (((m, s), gm), gs) in self
            .mean
            .iter_mut()
            .zip(&mut self.sigma)
            .zip(&grad_mean)
            .zip(&grad_sigma)
        {
            *m += self.lr_mean * *s * gm;
            *s *= (self.lr_sigma / 2.0 * gs).exp();
        }
        self.generation += 1;
        let (lo, hi) = self
            .sigma
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        Telemetry {
            sigma: self.mean_sigma(),
            extra: vec![("min_std".into(), lo), ("max_std".into(), hi)],
        }
    }
}
