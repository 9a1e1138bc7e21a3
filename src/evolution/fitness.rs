//! Lifetime fitness: from episode returns to one number per genome (docs/model.md, "Fitness").

use crate::exec::EpisodeMode;
use serde::{Deserialize, Serialize};

/// How the episodes of one lifetime are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeWeighting {
    /// The reference: w_k = k / Σk, so the first episode counts 0 and the last the most
    /// (rewards learning within the lifetime). With one episode, that episode counts fully.
    #[default]
    Linear,
    /// Every episode counts the same.
    Uniform,
    /// Only the last episode counts.
    Last,
}

/// How per-environment scores combine into the fitness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The reference: the product of the scores (zero until every environment beats its minimum;
    /// two negative scores give a positive product).
    #[default]
    Product,
    Mean,
    Min,
}

/// The `lifetime` section of a job spec. Defaults are the reference protocol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
#[schema(default)]
pub struct LifetimeConfig {
    /// Episodes per environment per lifetime; the network state is carried across them.
    pub episodes: usize,
    pub episode_weighting: EpisodeWeighting,
    pub episode_mode: EpisodeMode,
    /// Clip each normalised episode score to [0, 1] (the reference does not).
    pub clip: bool,
    pub combine: Combine,
    /// Independent lifetimes (fresh wiring each) averaged per genome. Reference: 1.
    pub eval_repeats: usize,
}

impl Default for LifetimeConfig {
    fn default() -> Self {
        LifetimeConfig {
            episodes: 8,
            episode_weighting: EpisodeWeighting::Linear,
            episode_mode: EpisodeMode::FixedHorizon,
            clip: false,
            combine: Combine::Product,
            eval_repeats: 1,
        }
    }
}

/// The returns that map to normalised scores 0 and 1 in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReturnBounds {
    pub min: f64,
    pub max: f64,
}

/// One genome's evaluation, averaged over its repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub fitness: f64,
    /// Weighted, normalised score per environment.
    pub env_scores: Vec<f64>,
    /// Weighted raw return per environment (Σ w_k R_k, what the reference logs).
    pub env_returns: Vec<f64>,
}

impl LifetimeConfig {
    /// The episode weights, summing to 1.
    pub fn weights(&self) -> Vec<f64> {
        let k = self.episodes;
        match self.episode_weighting {
            EpisodeWeighting::Linear if k > 1 => {
                let total = (k * (k - 1) / 2) as f64;
                (0..k).map(|i| i as f64 / total).collect()
            }
            EpisodeWeighting::Uniform => vec![1.0 / k as f64; k],
            EpisodeWeighting::Linear | EpisodeWeighting::Last => {
                let mut w = vec![0.0; k];
                w[k - 1] = 1.0;
                w
            }
        }
    }

    /// Scores one genome from its returns, ordered `[repeat][env][episode]`.
    pub fn score(&self, bounds: &[ReturnBounds], returns: &[f64]) -> Score {
        let weights = self.weights();
        let (envs, episodes) = (bounds.len(), self.episodes);
        let repeats = returns.len() / (envs * episodes);
        let mut fitness = 0.0;
        let mut env_scores = vec![0.0; envs];
        let mut env_returns = vec![0.0; envs];
        for lifetime in returns.chunks_exact(envs * episodes) {
            let mut scores = Vec::with_capacity(envs);
            for (env, (episode_returns, b)) in
                lifetime.chunks_exact(episodes).zip(bounds).enumerate()
            {
                let mut score = 0.0;
                let mut weighted_return = 0.0;
                for (&r, &w) in episode_returns.iter().zip(&weights) {
                    let mut normalised = (r - b.min) / (b.max - b.min);
                    if self.clip {
                        normalised = normalised.clamp(0.0, 1.0);
                    }
                    score += w * normalised;
                    weighted_return += w * r;
                }
                env_scores[env] += score / repeats as f64;
                env_returns[env] += weighted_return / repeats as f64;
                scores.push(score);
            }
            fitness += self.combine(&scores) / repeats as f64;
        }
        Score {
            fitness,
            env_scores,
            env_returns,
        }
    }

    fn combine(&self, scores: &[f64]) -> f64 {
        match self.combine {
            Combine::Product => scores.iter().product(),
            Combine::Mean => scores.iter().sum::<f64>() / scores.len() as f64,
            Combine::Min => scores.iter().copied().fold(f64::INFINITY, f64::min),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARTPOLE: ReturnBounds = ReturnBounds {
        min: 8.0,
        max: 500.0,
    };

    #[test]
    fn reference_weights_are_arange_over_28() {
        let w = LifetimeConfig::default().weights();
        let expected: Vec<f64> = (0..8).map(|k| k as f64 / 28.0).collect();
        assert_eq!(w, expected);
    }

    #[test]
    fn closed_loop_fixture_fitness_is_reproduced() {
        // closedloop_index.json: returns [10, 10, 9, 9, 10, 9, 10, 10], weighted mean 9.642857.
        let returns = [10.0, 10.0, 9.0, 9.0, 10.0, 9.0, 10.0, 10.0];
        let score = LifetimeConfig::default().score(&[CARTPOLE], &returns);
        assert!((score.env_returns[0] - 9.642857142857142).abs() < 1e-12);
        let expected = (9.642857142857142 - 8.0) / 492.0;
        assert!((score.fitness - expected).abs() < 1e-12);
    }

    #[test]
    fn product_is_zero_when_one_env_stays_at_its_minimum() {
        let bounds = [
            CARTPOLE,
            ReturnBounds {
                min: -200.0,
                max: -110.0,
            },
        ];
        let mut returns = vec![100.0; 8];
        returns.extend([-200.0; 8]);
        let score = LifetimeConfig::default().score(&bounds, &returns);
        assert_eq!(score.fitness, 0.0);
        let mean = LifetimeConfig {
            combine: Combine::Mean,
            ..LifetimeConfig::default()
        };
        assert!(mean.score(&bounds, &returns).fitness > 0.0);
    }

    #[test]
    fn clipping_bounds_each_episode_score() {
        let config = LifetimeConfig {
            clip: true,
            episodes: 2,
            ..LifetimeConfig::default()
        };
        let score = config.score(&[CARTPOLE], &[0.0, 1000.0]);
        assert_eq!(score.fitness, 1.0);
        let unclipped = LifetimeConfig {
            episodes: 2,
            ..LifetimeConfig::default()
        };
        assert!(unclipped.score(&[CARTPOLE], &[0.0, 1000.0]).fitness > 1.0);
    }

    #[test]
    fn repeats_are_averaged() {
        let config = LifetimeConfig {
            episodes: 1,
            eval_repeats: 2,
            ..LifetimeConfig::default()
        };
        let score = config.score(&[CARTPOLE], &[8.0, 500.0]);
        assert_eq!(score.fitness, 0.5);
        assert_eq!(score.env_returns, [254.0]);
    }
}
