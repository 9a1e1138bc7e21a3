//! Ranking and fitness shaping shared by the strategies.
//!
//! This is the one place where the sign convention is settled: the crate *maximises* fitness,
//! evosax (whose formulas the strategies replicate) *minimises* it. Every strategy here is purely
//! rank based, so instead of negating fitness values the strategies receive a ranking whose
//! position 0 is the best member (highest fitness) — exactly the order evosax's
//! `fitness.argsort()` produces on the negated, minimised fitness.

use std::cmp::Ordering;

/// Indices of the members from best (highest fitness) to worst.
///
/// - NaN ranks below every number, `-inf` included, so it is never selected as elite while any
///   member has a real fitness.
/// - Ties (equal values, or several NaNs) keep the lower index first: the sort is stable, as is
///   `jnp.argsort`.
pub fn rank_order(fitness: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fitness.len()).collect();
    order.sort_by(|&a, &b| compare_best_first(fitness[a], fitness[b]));
    order
}

/// `Less` when `a` ranks before (is better than) `b`.
fn compare_best_first(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // Descending; `partial_cmp` cannot fail here, and treats -0.0 == 0.0.
        (false, false) => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

/// Rank-position weights made safe for NaN members: a member whose fitness is NaN never gets a
/// positive weight (it would pull the mean towards a point of unknown quality). This only changes
/// anything when more members are NaN than there are non-positive weights (e.g. more than half the
/// population for CMA-ES); otherwise the NaN members already sit in the non-positive tail.
///
/// `weights_by_rank[k]` is the weight of the member ranked `k`; returns the weights by rank with
/// the offending ones set to 0.
pub fn nan_safe_weights(weights_by_rank: &[f64], order: &[usize], fitness: &[f64]) -> Vec<f64> {
    weights_by_rank
        .iter()
        .zip(order)
        .map(|(&w, &i)| {
            if w > 0.0 && fitness[i].is_nan() {
                0.0
            } else {
                w
            }
        })
        .collect()
}

/// OpenAI-ES centred ranks by rank position: the best member gets +0.5, the worst -0.5, linearly
/// in between (evosax `centered_rank_trafo`, which maps the best of the *minimised* fitness to
/// -0.5; the sign flips with the direction of the update, see `open_es.rs`).
pub fn centered_ranks(popsize: usize) -> Vec<f64> {
    if popsize < 2 {
        return vec![0.0; popsize];
    }
    let denom = (popsize - 1) as f64;
    (0..popsize)
        .map(|k| (popsize - 1 - k) as f64 / denom - 0.5)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_ranks_last_and_ties_are_stable() {
        let f = [1.0, f64::NAN, 3.0, f64::NEG_INFINITY, 3.0, f64::NAN, 2.0];
        assert_eq!(rank_order(&f), vec![2, 4, 6, 0, 3, 1, 5]);
    }

    #[test]
    fn centered_ranks_span_half() {
        let u = centered_ranks(5);
        assert_eq!(u, vec![0.5, 0.25, 0.0, -0.25, -0.5]);
    }

    #[test]
    fn nan_members_lose_positive_weight() {
        let f = [f64::NAN, f64::NAN, f64::NAN, 1.0];
        let order = rank_order(&f);
        assert_eq!(order, vec![3, 0, 1, 2]);
        let w = nan_safe_weights(&[0.6, 0.4, -0.2, -0.3], &order, &f);
        assert_eq!(w, vec![0.6, 0.0, -0.2, -0.3]);
    }
}
