//! CMA-ES with active covariance update, exactly as evosax 0.1.4 `CMA_ES` with its defaults.
//!
//! References:
//! - N. Hansen, "The CMA Evolution Strategy: A Tutorial", arXiv:1604.00772 (2016): all formulas
//!   below, including the negative ("active") recombination weights of its Table 1 / Eq. (53).
//! - evosax 0.1.4 `evosax/strategies/cma_es.py` (R. T. Lange), whose choices this file replicates:
//!   - weights `w'_i = ln((λ+1)/2) - ln i` for all `λ` ranks; `mu_eff` from the first
//!     `mu = max(1, floor(λ · elite_ratio))`; `mu_eff^-` from the rest;
//!   - `c_1 = 2 / ((n+1.3)² + mu_eff)`, `c_mu = min(1 - c_1 - 1e-8,
//!     2 (mu_eff - 2 + 1/mu_eff) / ((n+2)² + mu_eff))` with `n` capped at 40000 as evosax does
//!     (an int32 guard there; irrelevant below 40000 dims);
//!   - negative weights rescaled by `min(α_mu^-, α_mueff^-, α_posdef^-) / Σ|w'^-|`, positive ones
//!     by `1 / Σ w'^+`; the mean uses only the first `mu` weights (`weights_truncated`), the
//!     covariance uses all of them, the negative ones multiplied by `n / ‖C^{-1/2} y_i‖²`;
//!   - `c_sigma = (mu_eff + 2) / (n + mu_eff + 5)`,
//!     `d_sigma = 1 + 2 max(0, sqrt((mu_eff - 1)/(n + 1)) - 1) + c_sigma`,
//!     `c_c = (4 + mu_eff/n) / (n + 4 + 2 mu_eff/n)`, `c_m = 1`,
//!     `chi_n = sqrt(n) (1 - 1/(4n) + 1/(21 n²))`;
//!   - `h_sigma = ‖p_sigma‖ / sqrt(1 - (1 - c_sigma)^(2(g+1))) < (1.4 + 2/(n+1)) chi_n`;
//!   - `C ← (1 + c_1 δ(h_sigma) - c_1 - c_mu Σ w_j) C + c_1 p_c p_cᵀ + c_mu Σ w°_i y_i y_iᵀ`;
//!   - `sigma ← sigma exp(c_sigma/d_sigma (‖p_sigma‖/chi_n - 1))`, no clipping, no mean decay;
//!   - a full eigendecomposition of `C` every generation (in `ask`), eigenvalues below 0 floored
//!     to 1e-20.
//!
//! Deviations, all numerical or for robustness:
//! - Samples come from `ChaCha8Rng` + `StandardNormal`, not JAX's PRNG.
//! - `C^{-1/2} v` is computed as `B (D^{-1} (Bᵀ v))` instead of forming `B D^{-1} Bᵀ`, and the
//!   norm `‖C^{-1/2} y‖` as `‖D^{-1} Bᵀ y‖` (equal in exact arithmetic since `B` is orthogonal).
//! - evosax replaces `C` by `B diag(D²) Bᵀ` after every eigendecomposition; here that only happens
//!   when an eigenvalue had to be floored (otherwise it only adds rounding noise).
//! - NaN fitness ranks last and never receives a positive weight (see [`super::shaping`]).
//! - With `elite_ratio = 1` there is no non-elite half, `mu_eff^-` is undefined (evosax produces
//!   NaN weights); the `α_mueff^-` bound is then dropped. Note that evosax, and so this code, puts
//!   *negative* weights into the mean update when `elite_ratio > 0.5`.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::shaping::{nan_safe_weights, rank_order};
use super::{
    Population, StrategyConfig, Telemetry,
    cma_paths::{cumulate_p_c, ranked_steps, step_size_damping},
    dot, standard_normals,
};

/// Eigenvalues below this are floored (evosax `full_eigen_decomp`: `where(D2 < 0, 1e-20, D2)`).
const EIGEN_FLOOR: f64 = 1e-20;

/// Eigendecomposition `C = B diag(d²) Bᵀ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Eigen {
    /// Eigenvectors, column-major: column `k` (`b[k*n..(k+1)*n]`) is eigenvector `k`.
    b: Vec<f64>,
    /// Square roots of the eigenvalues.
    d: Vec<f64>,
}

/// Full-covariance CMA-ES state (parameters, distribution, RNG).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CmaEs {
    pub(super) popsize: usize,
    elite_popsize: usize,
    /// Recombination weights by rank (best first), negative tail included.
    weights: Vec<f64>,
    /// `weights` with every rank from `elite_popsize` on set to 0 (the mean update).
    weights_truncated: Vec<f64>,
    /// Variance-effective selection mass of the first `elite_popsize` weights.
    mu_eff: f64,
    /// Learning rate of the rank-one covariance update (from `p_c`).
    c_1: f64,
    /// Learning rate of the rank-μ covariance update (from the whole ranked population).
    c_mu: f64,
    /// Cumulation rate of the step-size path `p_sigma`.
    c_sigma: f64,
    /// Damping of the step-size update.
    d_sigma: f64,
    /// Cumulation rate of the covariance path `p_c`.
    c_c: f64,
    /// `E‖N(0, I)‖` in `n` dimensions, as evosax approximates it.
    chi_n: f64,
    /// Learning rate of the mean (1, as evosax).
    c_m: f64,
    pub(super) mean: Vec<f64>,
    pub(super) sigma: f64,
    p_sigma: Vec<f64>,
    p_c: Vec<f64>,
    /// Covariance matrix, `n*n`, exactly symmetric (so row- and column-major agree).
    #[serde(with = "symmetric")]
    c: Vec<f64>,
    /// Decomposition of `c` made by the last `ask`, consumed by the next `tell`.
    eigen: Option<Eigen>,
    pub(super) generation: u64,
    rng: ChaCha8Rng,
}

impl CmaEs {
    pub(super) fn new(config: &StrategyConfig, mean: Vec<f64>, seed: u64) -> Self {
        let dim = mean.len();
        let popsize = config.popsize;
        let elite_popsize = ((popsize as f64 * config.elite_ratio) as usize).clamp(1, popsize);
        // The fixed parameters evosax computes in `get_cma_elite_weights` and `params_strategy`.
        let lambda = popsize as f64;
        let n = dim as f64;
        // evosax: max_dims_sq = min(num_dims, 40000), used where n is squared.
        let n_sq = dim.min(40_000) as f64;
        let weights_prime: Vec<f64> = (0..popsize)
            .map(|i| ((lambda + 1.0) / 2.0).ln() - ((i + 1) as f64).ln())
            .collect();
        let mu_eff_of = |w: &[f64]| {
            let s: f64 = w.iter().sum();
            s * s / w.iter().map(|x| x * x).sum::<f64>()
        };
        let mu_eff = mu_eff_of(&weights_prime[..elite_popsize]);
        let mu_eff_minus =
            (elite_popsize < popsize).then(|| mu_eff_of(&weights_prime[elite_popsize..]));

        let alpha_cov = 2.0;
        let c_1 = alpha_cov / ((n_sq + 1.3).powi(2) + mu_eff);
        let c_mu = (1.0 - c_1 - 1e-8).min(
            alpha_cov * (mu_eff - 2.0 + 1.0 / mu_eff)
                / ((n_sq + 2.0).powi(2) + alpha_cov * mu_eff / 2.0),
        );
        let mut min_alpha = 1.0 + c_1 / c_mu;
        if let Some(mu_eff_minus) = mu_eff_minus {
            min_alpha = min_alpha.min(1.0 + (2.0 * mu_eff_minus) / (mu_eff + 2.0));
        }
        min_alpha = min_alpha.min((1.0 - c_1 - c_mu) / (n * c_mu));
        if !min_alpha.is_finite() {
            // Only reachable with c_mu = 0 and no non-elite half; keep the weights finite.
            min_alpha = 1.0;
        }
        let positive_sum: f64 = weights_prime.iter().filter(|&&w| w > 0.0).sum();
        let negative_sum: f64 = weights_prime
            .iter()
            .filter(|&&w| w < 0.0)
            .map(|w| w.abs())
            .sum();
        let weights: Vec<f64> = weights_prime
            .iter()
            .map(|&w| {
                if w >= 0.0 {
                    1.0 / positive_sum * w
                } else {
                    min_alpha / negative_sum * w
                }
            })
            .collect();
        let mut weights_truncated = weights.clone();
        for w in &mut weights_truncated[elite_popsize..] {
            *w = 0.0;
        }

        let c_sigma = (mu_eff + 2.0) / (n + mu_eff + 5.0);
        let c_c = (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n);
        let chi_n = n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n_sq * n_sq));
        let mut c = vec![0.0; dim * dim];
        for i in 0..dim {
            c[i * dim + i] = 1.0;
        }
        CmaEs {
            popsize,
            elite_popsize,
            weights,
            weights_truncated,
            mu_eff,
            c_1,
            c_mu,
            c_sigma,
            d_sigma: step_size_damping(mu_eff, n, c_sigma),
            c_c,
            chi_n,
            c_m: 1.0,
            mean,
            sigma: config.sigma0,
            p_sigma: vec![0.0; dim],
            p_c: vec![0.0; dim],
            c,
            eigen: None,
            generation: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Decomposes `C` unless the last `ask` already did (evosax `full_eigen_decomp`).
    fn ensure_eigen(&mut self) {
        if self.eigen.is_some() {
            return;
        }
        let n = self.dim();
        // Symmetrise (C is kept exactly symmetric, so this is normally a no-op).
        for i in 0..n {
            for j in 0..i {
                let s = (self.c[i * n + j] + self.c[j * n + i]) / 2.0;
                self.c[i * n + j] = s;
                self.c[j * n + i] = s;
            }
        }
        assert!(
            self.c.iter().all(|v| v.is_finite()),
            "CMA-ES covariance matrix is not finite (was a population member NaN or infinite?)"
        );
        let m = DMatrix::from_column_slice(n, n, &self.c);
        let eig = SymmetricEigen::try_new(m, f64::EPSILON, 1_000_000)
            .expect("CMA-ES eigendecomposition did not converge");
        let mut clamped = false;
        let d: Vec<f64> = eig
            .eigenvalues
            .iter()
            .map(|&d2| {
                if d2 < 0.0 {
                    clamped = true;
                    EIGEN_FLOOR.sqrt()
                } else {
                    d2.sqrt()
                }
            })
            .collect();
        let b = eig.eigenvectors.as_slice().to_vec();
        if clamped {
            // C = B diag(d²) Bᵀ, lower triangle mirrored.
            for i in 0..n {
                for j in 0..=i {
                    let s = (0..n).fold(0.0, |acc, k| {
                        acc + b[k * n + i] * d[k] * d[k] * b[k * n + j]
                    });
                    self.c[i * n + j] = s;
                    self.c[j * n + i] = s;
                }
            }
        }
        self.eigen = Some(Eigen { b, d });
    }

    pub(super) fn ask(&mut self) -> Population {
        self.ensure_eigen();
        let n = self.dim();
        let z = standard_normals(&mut self.rng, self.popsize * n);
        let eigen = self.eigen.as_ref().expect("decomposed above");
        let mut members = vec![0.0; self.popsize * n];
        let mut y = vec![0.0; n];
        for (zi, xi) in z.chunks_exact(n).zip(members.chunks_exact_mut(n)) {
            // y = B (D z) ~ N(0, C)
            y.fill(0.0);
            for ((dk, zk), bk) in eigen.d.iter().zip(zi).zip(eigen.b.chunks_exact(n)) {
                let a = dk * zk;
                for (yj, bjk) in y.iter_mut().zip(bk) {
                    *yj += bjk * a;
                }
            }
            for ((x, m), yj) in xi.iter_mut().zip(&self.mean).zip(&y) {
                *x = m + self.sigma * yj;
            }
        }
        Population { dim: n, members }
    }

    /// Moves the mean, the paths, the full covariance (active: negative weights too) and σ
    /// from the ranked population.
    pub(super) fn tell(&mut self, population: &Population, fitness: &[f64]) -> Telemetry {
        self.ensure_eigen();
        let n = self.dim();
        let order = rank_order(fitness);
        let w_mean = nan_safe_weights(&self.weights_truncated, &order, fitness);
        let w_cov = nan_safe_weights(&self.weights, &order, fitness);

        // y_k = (x_k - m) / sigma by rank, ~ N(0, C)
        let ys = ranked_steps(population, &order, &self.mean, self.sigma);
        let mut y_w = vec![0.0; n];
        for (w, y) in w_mean.iter().zip(&ys) {
            if *w != 0.0 {
                for (a, b) in y_w.iter_mut().zip(y) {
                    *a += w * b;
                }
            }
        }
        for (m, y) in self.mean.iter_mut().zip(&y_w) {
            *m += self.c_m * self.sigma * y;
        }

        let eigen = self.eigen.take().expect("decomposed above");
        // D^{-1} Bᵀ v, whose norm is ‖C^{-1/2} v‖ and which B maps to C^{-1/2} v.
        let whiten = |v: &[f64]| -> Vec<f64> {
            (0..n)
                .map(|k| dot(&eigen.b[k * n..(k + 1) * n], v) / eigen.d[k])
                .collect()
        };
        let yw_white = whiten(&y_w);
        let mut c_inv_sqrt_yw = vec![0.0; n];
        for (k, a) in yw_white.iter().enumerate() {
            for (o, bjk) in c_inv_sqrt_yw.iter_mut().zip(&eigen.b[k * n..(k + 1) * n]) {
                *o += bjk * a;
            }
        }
        let ps_coef = (self.c_sigma * (2.0 - self.c_sigma) * self.mu_eff).sqrt();
        for (p, v) in self.p_sigma.iter_mut().zip(&c_inv_sqrt_yw) {
            *p = (1.0 - self.c_sigma) * *p + ps_coef * v;
        }
        let (h_sigma, norm_p_sigma) = cumulate_p_c!(self, &y_w);

        // Active weights: negative ones rescaled by n / ‖C^{-1/2} y‖².
        let w_io: Vec<f64> = self
            .weights
            .iter()
            .zip(&w_cov)
            .zip(&ys)
            .map(|((&w_raw, &w), y)| {
                if w_raw >= 0.0 || w == 0.0 {
                    w
                } else {
                    let white = whiten(y);
                    w * n as f64 / (dot(&white, &white) + 1e-20)
                }
            })
            .collect();
        let delta_h_sigma = (1.0 - h_sigma) * self.c_c * (2.0 - self.c_c);
        let sum_weights: f64 = self.weights.iter().sum();
        let factor = 1.0 + self.c_1 * delta_h_sigma - self.c_1 - self.c_mu * sum_weights;

        // Rank-μ sum, lower triangle.
        let mut rank_mu = vec![0.0; n * n];
        for (w, y) in w_io.iter().zip(&ys) {
            if *w == 0.0 {
                continue;
            }
            for i in 0..n {
                let a = w * y[i];
                let row = &mut rank_mu[i * n..i * n + i + 1];
                for (r, yj) in row.iter_mut().zip(&y[..=i]) {
                    *r += a * yj;
                }
            }
        }
        for i in 0..n {
            for j in 0..=i {
                let v = factor * self.c[i * n + j]
                    + self.c_1 * (self.p_c[i] * self.p_c[j])
                    + self.c_mu * rank_mu[i * n + j];
                self.c[i * n + j] = v;
                self.c[j * n + i] = v;
            }
        }

        self.sigma *= ((self.c_sigma / self.d_sigma) * (norm_p_sigma / self.chi_n - 1.0)).exp();
        self.generation += 1;

        let (d_min, d_max) = min_max(&eigen.d);
        let diag: Vec<f64> = (0..n).map(|i| self.c[i * n + i]).collect();
        let (c_min, c_max) = min_max(&diag);
        Telemetry {
            sigma: self.sigma,
            extra: vec![
                ("axis_ratio".into(), d_max / d_min),
                ("min_std".into(), self.sigma * c_min.max(0.0).sqrt()),
                ("max_std".into(), self.sigma * c_max.max(0.0).sqrt()),
                ("norm_p_sigma".into(), norm_p_sigma),
                ("h_sigma".into(), h_sigma),
            ],
        }
    }

    /// Number of members that recombine into the mean.
    pub fn elite_popsize(&self) -> usize {
        self.elite_popsize
    }

    /// Recombination weights by rank (best first), for inspection.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// `(mu_eff, c_1, c_mu, c_sigma, d_sigma, c_c, chi_n)`, for inspection and tests.
    pub fn learning_rates(&self) -> [f64; 7] {
        [
            self.mu_eff,
            self.c_1,
            self.c_mu,
            self.c_sigma,
            self.d_sigma,
            self.c_c,
            self.chi_n,
        ]
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-computed defaults for λ = 10, n = 10 (Hansen 2016, Table 1).
    #[test]
    fn default_parameters_match_the_tutorial() {
        let config = StrategyConfig {
            popsize: 10,
            elite_ratio: 0.5,
            ..StrategyConfig::default()
        };
        let p = CmaEs::new(&config, vec![0.0; 10], 0);
        let wp: Vec<f64> = (1..=5).map(|i| (5.5f64).ln() - (i as f64).ln()).collect();
        let s: f64 = wp.iter().sum();
        let mu_eff = s * s / wp.iter().map(|w| w * w).sum::<f64>();
        assert!((p.mu_eff - mu_eff).abs() < 1e-12);
        assert!((p.c_1 - 2.0 / (11.3f64.powi(2) + mu_eff)).abs() < 1e-15);
        let pos: f64 = p.weights.iter().filter(|w| **w > 0.0).sum();
        assert!((pos - 1.0).abs() < 1e-12);
        // Negative weights sum to -min_alpha; here α_mu^- = 1 + c_1/c_mu binds or one of the others.
        let neg: f64 = p.weights.iter().filter(|w| **w < 0.0).sum();
        assert!(neg < 0.0 && neg >= -(1.0 + p.c_1 / p.c_mu) - 1e-12);
        assert!(p.weights_truncated[5..].iter().all(|w| *w == 0.0));
        assert!((p.c_sigma - (mu_eff + 2.0) / (15.0 + mu_eff)).abs() < 1e-15);
    }

    #[test]
    fn eigendecomposition_at_reference_size_is_fast_enough() {
        // The SFNN reference runs CMA-ES on 565 parameters with λ = 128.
        let config = StrategyConfig::default();
        let mut es = CmaEs::new(&config, vec![0.0; 565], 1);
        let start = std::time::Instant::now();
        for _ in 0..2 {
            let pop = es.ask();
            let f: Vec<f64> = pop
                .iter()
                .map(|x| -x.iter().map(|v| v * v).sum::<f64>())
                .collect();
            es.tell(&pop, &f);
        }
        eprintln!(
            "CMA-ES n=565 λ=128: {:.3} s per generation (ask + tell, eigendecomposition included)",
            start.elapsed().as_secs_f64() / 2.0
        );
        assert!(es.sigma.is_finite());
    }
}

/// The covariance matrix in checkpoints. JSON holds every value. Binary formats hold the lower
/// triangle when the matrix is exactly symmetric, bit for bit (as `tell` keeps it), which halves
/// a checkpoint; any other matrix is stored whole, so reading back is always exact.
mod symmetric {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    enum Packed {
        Lower(Vec<f64>),
        Full(Vec<f64>),
    }

    /// Row `i`, columns `0..=i`, for every row in order.
    struct Lower<'a> {
        c: &'a [f64],
        n: usize,
    }

    impl Serialize for Lower<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(self.n * (self.n + 1) / 2))?;
            for i in 0..self.n {
                for value in &self.c[i * self.n..=i * self.n + i] {
                    seq.serialize_element(value)?;
                }
            }
            seq.end()
        }
    }

    fn side(len: usize) -> Option<usize> {
        let n = (len as f64).sqrt().round() as usize;
        (n * n == len).then_some(n)
    }

    fn is_symmetric(c: &[f64], n: usize) -> bool {
        (0..n).all(|i| (0..i).all(|j| c[i * n + j].to_bits() == c[j * n + i].to_bits()))
    }

    pub fn serialize<S: Serializer>(c: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        match side(c.len()) {
            Some(n) if !serializer.is_human_readable() && is_symmetric(c, n) => {
                serializer.serialize_newtype_variant("Packed", 0, "Lower", &Lower { c, n })
            }
            _ if !serializer.is_human_readable() => {
                serializer.serialize_newtype_variant("Packed", 1, "Full", c)
            }
            _ => c.serialize(serializer),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        if deserializer.is_human_readable() {
            return Vec::deserialize(deserializer);
        }
        match Packed::deserialize(deserializer)? {
            Packed::Full(c) => Ok(c),
            Packed::Lower(lower) => {
                // n (n + 1) / 2 values.
                let n = ((((8 * lower.len() + 1) as f64).sqrt() - 1.0) / 2.0).round() as usize;
                if n * (n + 1) / 2 != lower.len() {
                    return Err(serde::de::Error::custom(format!(
                        "{} values are no triangle of a square matrix",
                        lower.len()
                    )));
                }
                let mut c = vec![0.0; n * n];
                let mut values = lower.into_iter();
                for i in 0..n {
                    for j in 0..=i {
                        let v = values.next().expect("counted above");
                        c[i * n + j] = v;
                        c[j * n + i] = v;
                    }
                }
                Ok(c)
            }
        }
    }
}
