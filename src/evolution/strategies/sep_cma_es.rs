//! Separable CMA-ES: CMA-ES restricted to a diagonal covariance matrix, as evosax 0.1.x
//! `Sep_CMA_ES` (itself following CyberAgentAILab/cmaes `_sepcma.py`).
//!
//! Reference: R. Ros, N. Hansen, "A Simple Modification in CMA-ES Achieving Linear Time and Space
//! Complexity", PPSN X (2008), https://hal.inria.fr/inria-00287367. The covariance learning rate
//! of the rank-μ update is scaled by `(n + 2) / 3`, which is what lets the diagonal adapt in
//! linear rather than quadratic time.
//!
//! Formulas (evosax): positive weights only, `w'_i = ln(mu + 1) - ln i` for `i <= mu`, normalised;
//! `mu_eff = 1 / Σ w²`; `c_1 = 2 / ((n+1.3)² + mu_eff)`;
//! `c_mu = (n+2)/3 · [2/mu_eff/(n+√2)² + (1 - 1/mu_eff) min(1, (2 mu_eff - 1)/((n+2)² + mu_eff))]`;
//! `c_sigma = (mu_eff + 2)/(n + mu_eff + 3)`; `d_sigma` as CMA-ES; `c_c = 4/(n + 4)`;
//! `D = sqrt(C)` with negative entries floored to 1e-20.
//!
//! Deviation: `c_mu` is capped at `1 - c_1` (Ros & Hansen's `min(1, (n+2)/3 · c_cov)`); evosax
//! leaves it uncapped, which makes the covariance factor `1 - c_1 - c_mu` negative once the
//! population is large relative to `n` (e.g. λ = 200, n = 10 gives `c_mu` ≈ 2), so `C` can lose
//! positivity. Below that the two agree exactly. Samples come from `ChaCha8Rng` + `StandardNormal`.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::shaping::{nan_safe_weights, rank_order};
use super::{Population, StrategyConfig, Telemetry, cma_paths, standard_normals};

/// Diagonal-covariance CMA-ES state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SepCmaEs {
    pub(super) popsize: usize,
    elite_popsize: usize,
    /// Positive recombination weights of the first `elite_popsize` ranks.
    weights: Vec<f64>,
    /// `1 / Σ w²` of those weights.
    mu_eff: f64,
    /// Rank-one learning rate of the diagonal, as full CMA-ES's.
    c_1: f64,
    /// Rank-μ learning rate of the diagonal: full CMA-ES's scaled by `(n + 2) / 3`, capped.
    c_mu: f64,
    /// Cumulation rate of `p_sigma`: `(mu_eff + 2) / (n + mu_eff + 3)`.
    c_sigma: f64,
    /// Damping of the step-size update, as full CMA-ES's.
    d_sigma: f64,
    /// Cumulation rate of `p_c`: `4 / (n + 4)`.
    c_c: f64,
    /// `E‖N(0, I)‖` in `n` dimensions, approximated.
    chi_n: f64,
    pub(super) mean: Vec<f64>,
    pub(super) sigma: f64,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    /// Diagonal of the covariance matrix.
    c: Vec<f64>,
    pub(super) generation: u64,
    rng: ChaCha8Rng,
}

impl SepCmaEs {
    pub(super) fn new(config: &StrategyConfig, mean: Vec<f64>, seed: u64) -> Self {
        let dim = mean.len();
        let n = dim as f64;
        let popsize = config.popsize;
        let mu = ((popsize as f64 * config.elite_ratio) as usize).clamp(1, popsize);
        let weights_prime: Vec<f64> = (0..mu)
            .map(|i| ((mu + 1) as f64).ln() - ((i + 1) as f64).ln())
            .collect();
        let total: f64 = weights_prime.iter().sum();
        let weights: Vec<f64> = weights_prime.iter().map(|w| w / total).collect();
        let mu_eff = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();

        let c_1 = 2.0 / ((n + 1.3).powi(2) + mu_eff);
        let c_mu_full = 2.0 / mu_eff / (n + 2f64.sqrt()).powi(2)
            + (1.0 - 1.0 / mu_eff) * ((2.0 * mu_eff - 1.0) / ((n + 2.0).powi(2) + mu_eff)).min(1.0);
        let c_mu = ((n + 2.0) / 3.0 * c_mu_full).min(1.0 - c_1);
        let c_sigma = (mu_eff + 2.0) / (n + mu_eff + 3.0);
        let c_c = 4.0 / (n + 4.0);
        let chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
        SepCmaEs {
            popsize,
            elite_popsize: mu,
            weights,
            mu_eff,
            c_1,
            c_mu,
            c_sigma,
            d_sigma: cma_paths::step_size_damping(mu_eff, n, c_sigma),
            c_c,
            chi_n,
            mean,
            sigma: config.sigma0,
            p_sigma: vec![0.0; dim],
            p_c: vec![0.0; dim],
            c: vec![1.0; dim],
            generation: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Per-coordinate std of `N(0, C)` (evosax `diag_eigen_decomp`).
    fn d(&self) -> Vec<f64> {
        self.c
            .iter()
            .map(|&c| if c < 0.0 { 1e-20f64.sqrt() } else { c.sqrt() })
            .collect()
    }

    pub(super) fn ask(&mut self) -> Population {
        let n = self.mean.len();
        let d = self.d();
        let mut members = standard_normals(&mut self.rng, self.popsize * n);
        for xi in members.chunks_exact_mut(n) {
            for ((x, m), dj) in xi.iter_mut().zip(&self.mean).zip(&d) {
                *x = m + self.sigma * (dj * *x);
            }
        }
        Population { dim: n, members }
    }

    /// Moves the mean, the paths, the diagonal covariance (elite weights only) and σ from the
    /// ranked population.
    pub(super) fn tell(&mut self, population: &Population, fitness: &[f64]) -> Telemetry {
        let n = self.mean.len();
        let d = self.d();
        let order = rank_order(fitness);
        let weights = nan_safe_weights(&self.weights, &order[..self.elite_popsize], fitness);
        let ys = cma_paths::ranked_steps(
            population,
            &order[..self.elite_popsize],
            &self.mean,
            self.sigma,
        );
        let mut y_w = vec![0.0; n];
        for (w, y) in weights.iter().zip(&ys) {
            for (a, b) in y_w.iter_mut().zip(y) {
                *a += w * b;
            }
        }
        for (m, y) in self.mean.iter_mut().zip(&y_w) {
            *m += self.sigma * y;
        }

        let ps_coef = (self.c_sigma * (2.0 - self.c_sigma) * self.mu_eff).sqrt();
        for ((p, y), dj) in self.p_sigma.iter_mut().zip(&y_w).zip(&d) {
            *p = (1.0 - self.c_sigma) * *p + ps_coef * (y / dj);
        }
        let (h_sigma, norm_p_sigma) = cma_paths::cumulate_p_c!(self, &y_w);

        let delta_h_sigma = (1.0 - h_sigma) * self.c_c * (2.0 - self.c_c);
        let sum_weights: f64 = self.weights.iter().sum();
        let factor = 1.0 + self.c_1 * delta_h_sigma - self.c_1 - self.c_mu * sum_weights;
        let mut rank_mu = vec![0.0; n];
        for (w, y) in weights.iter().zip(&ys) {
            for (r, yj) in rank_mu.iter_mut().zip(y) {
                *r += w * (yj * yj);
            }
        }
        for ((c, pc), r) in self.c.iter_mut().zip(&self.p_c).zip(&rank_mu) {
            *c = factor * *c + self.c_1 * (pc * pc) + self.c_mu * r;
        }
        self.sigma *= ((self.c_sigma / self.d_sigma) * (norm_p_sigma / self.chi_n - 1.0)).exp();
        self.generation += 1;

        let (c_min, c_max) = self
            .c
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        let (c_min, c_max) = (c_min.max(0.0), c_max.max(0.0));
        Telemetry {
            sigma: self.sigma,
            extra: vec![
                ("axis_ratio".into(), (c_max / c_min).sqrt()),
                ("min_std".into(), self.sigma * c_min.sqrt()),
                ("max_std".into(), self.sigma * c_max.sqrt()),
                ("norm_p_sigma".into(), norm_p_sigma),
                ("h_sigma".into(), h_sigma),
            ],
        }
    }
}
