//! What full and separable CMA-ES share: the ranked steps of a generation and the cumulation of
//! the covariance path (Hansen 2016, Eqs. 24 and 45; evosax's `update_p_c` and `h_sigma`).

use super::{Population, norm};

/// `(x - m) / σ` of the members in rank order `ranks`: the steps taken, each ~ N(0, C).
pub(super) fn ranked_steps(
    population: &Population,
    ranks: &[usize],
    mean: &[f64],
    sigma: f64,
) -> Vec<Vec<f64>> {
    ranks
        .iter()
        .map(|&i| {
            population
                .member(i)
                .iter()
                .zip(mean)
                .map(|(x, m)| (x - m) / sigma)
                .collect()
        })
        .collect()
}

/// The damping of the step-size update (Hansen 2016, Eq. 46): both variants use it.
pub(super) fn step_size_damping(mu_eff: f64, n: f64, c_sigma: f64) -> f64 {
    1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma
}

/// [`update_covariance_path`] on a strategy's own fields (`p_c`, `p_sigma`, the rates of the
/// same names, `generation`) with the weighted step `y_w`.
macro_rules! cumulate_p_c {
    ($strategy:expr, $y_w:expr) => {
        $crate::evolution::strategies::cma_paths::update_covariance_path(
            &mut $strategy.p_c,
            &$strategy.p_sigma,
            $y_w,
            $crate::evolution::strategies::cma_paths::PathRates {
                c_sigma: $strategy.c_sigma,
                c_c: $strategy.c_c,
                mu_eff: $strategy.mu_eff,
                chi_n: $strategy.chi_n,
            },
            $strategy.generation,
        )
    };
}
pub(super) use cumulate_p_c;

/// The rates the covariance path's update reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct PathRates {
    pub c_sigma: f64,
    pub c_c: f64,
    pub mu_eff: f64,
    pub chi_n: f64,
}

/// Moves `p_c` towards the weighted step `y_w`, after `p_sigma` was updated for generation
/// `generation`: `h_sigma` stalls the path while `‖p_sigma‖` is too long (a step size that is
/// still growing). Returns `(h_sigma, ‖p_sigma‖)`.
pub(super) fn update_covariance_path(
    p_c: &mut [f64],
    p_sigma: &[f64],
    y_w: &[f64],
    rates: PathRates,
    generation: u64,
) -> (f64, f64) {
    let n = p_c.len();
    let norm_p_sigma = norm(p_sigma);
    let g1 = (generation + 1).min(1 << 30) as i32;
    let h_left = norm_p_sigma / (1.0 - (1.0 - rates.c_sigma).powi(2 * g1)).sqrt();
    let h_right = (1.4 + 2.0 / (n as f64 + 1.0)) * rates.chi_n;
    let h_sigma = if h_left < h_right { 1.0 } else { 0.0 };
    let pc_coef = h_sigma * (rates.c_c * (2.0 - rates.c_c) * rates.mu_eff).sqrt();
    for (p, y) in p_c.iter_mut().zip(y_w) {
        *p = (1.0 - rates.c_c) * *p + pc_coef * y;
    }
    (h_sigma, norm_p_sigma)
}
