//! Fitness charts of long histories: consecutive generations grouped into at most `max_points`
//! buckets, each keeping its minimum and maximum of best, mean and worst fitness, plus the
//! exact best-so-far curve as its change points (a step plot of them is exact). On request,
//! the same buckets also carry each environment's returns and the strategy's σ.

use super::HistoryPoint;
use super::rows::nan;
use serde::Serialize;

/// A downsampled history.
#[derive(Debug, Serialize, PartialEq, Default, utoipa::ToSchema)]
pub struct Chart {
    pub generations: u64,
    pub bucket_size: u64,
    /// First generation of each bucket.
    pub generation: Vec<u64>,
    pub best_min: Vec<f64>,
    pub best_max: Vec<f64>,
    pub mean_min: Vec<f64>,
    pub mean_max: Vec<f64>,
    pub worst_min: Vec<f64>,
    pub worst_max: Vec<f64>,
    pub best_so_far: StepCurve,
    /// Environment steps recorded up to the end of each bucket (an x axis besides generation).
    pub steps: Vec<u64>,
    /// Seconds of the recorded generations (ask, evaluate, tell) up to the end of each bucket.
    pub wall_seconds: Vec<f64>,
    /// Per environment (the spec's order), over the same buckets; only with `series=envs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub envs: Option<Vec<EnvCurves>>,
    /// The strategy's step size σ over the same buckets; only with `series=sigma`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sigma: Option<SigmaCurves>,
}

/// Which optional series a chart carries (fitness is always there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChartSeries {
    pub envs: bool,
    pub sigma: bool,
}

/// One environment's raw returns, bucketed like the fitness: the highest population mean
/// return and the highest best return in each bucket (`null` where none was a number).
#[derive(Debug, Serialize, PartialEq, Default, utoipa::ToSchema)]
pub struct EnvCurves {
    pub env: String,
    #[schema(value_type = Vec<Option<f64>>)]
    pub mean_return_max: Vec<f64>,
    #[schema(value_type = Vec<Option<f64>>)]
    pub best_return_max: Vec<f64>,
}

/// σ in each bucket: its smallest and largest value.
#[derive(Debug, Serialize, PartialEq, Default, utoipa::ToSchema)]
pub struct SigmaCurves {
    #[schema(value_type = Vec<Option<f64>>)]
    pub min: Vec<f64>,
    #[schema(value_type = Vec<Option<f64>>)]
    pub max: Vec<f64>,
}

#[derive(Debug, Serialize, PartialEq, Default, utoipa::ToSchema)]
pub struct StepCurve {
    pub generation: Vec<u64>,
    pub value: Vec<f64>,
}

/// The reference computation, on all points in memory (the store computes the same in SQL).
pub fn downsample(points: &[HistoryPoint], max_points: usize) -> Chart {
    let bucket = bucket_size(points.len(), max_points);
    let mut chart = Chart {
        generations: points.len() as u64,
        bucket_size: bucket as u64,
        ..Chart::default()
    };
    let (mut steps, mut wall_seconds) = (0, 0.0);
    let min = |a: f64, b: f64| if b < a || a.is_nan() { b } else { a };
    let max = |a: f64, b: f64| if b > a || a.is_nan() { b } else { a };
    for chunk in points.chunks(bucket) {
        chart.generation.push(chunk[0].generation);
        let fold = |f: &dyn Fn(&HistoryPoint) -> f64, op: &dyn Fn(f64, f64) -> f64| {
            chunk.iter().map(f).fold(f64::NAN, op)
        };
        chart.best_min.push(fold(&|p| p.best, &min));
        chart.best_max.push(fold(&|p| p.best, &max));
        chart.mean_min.push(fold(&|p| p.mean, &min));
        chart.mean_max.push(fold(&|p| p.mean, &max));
        chart.worst_min.push(fold(&|p| p.worst, &min));
        chart.worst_max.push(fold(&|p| p.worst, &max));
        steps += chunk.iter().map(|p| p.env_steps).sum::<u64>();
        wall_seconds += chunk.iter().map(|p| p.wall_seconds).sum::<f64>();
        chart.steps.push(steps);
        chart.wall_seconds.push(wall_seconds);
    }
    let mut last = None;
    for p in points {
        if last != Some(p.best_so_far.to_bits()) {
            chart.best_so_far.generation.push(p.generation);
            chart.best_so_far.value.push(p.best_so_far);
            last = Some(p.best_so_far.to_bits());
        }
    }
    if let Some(p) = points.last()
        && chart.best_so_far.generation.last() != Some(&p.generation)
    {
        chart.best_so_far.generation.push(p.generation);
        chart.best_so_far.value.push(p.best_so_far);
    }
    chart
}

/// One bucket as the store's SQL reduces it (NULL where all were NaN): its first generation,
/// the extremes of best, mean, worst and σ, and the sums of its steps and seconds.
#[derive(sqlx::FromRow)]
pub(super) struct BucketRow {
    generation: i64,
    best_min: Option<f64>,
    best_max: Option<f64>,
    mean_min: Option<f64>,
    mean_max: Option<f64>,
    worst_min: Option<f64>,
    worst_max: Option<f64>,
    sigma_min: Option<f64>,
    sigma_max: Option<f64>,
    env_steps: Option<i64>,
    wall_seconds: Option<f64>,
}

impl BucketRow {
    /// The select list of a [`BucketRow`] over table `generation`, grouped by the caller.
    pub(super) const COLUMNS: &str = "min(generation) as generation, \
        min(best) as best_min, max(best) as best_max, \
        min(mean) as mean_min, max(mean) as mean_max, \
        min(worst) as worst_min, max(worst) as worst_max, \
        min(sigma) as sigma_min, max(sigma) as sigma_max, \
        cast(sum(env_steps) as bigint) as env_steps, \
        sum(ask_s + evaluate_s + tell_s) as wall_seconds";
}

impl Chart {
    /// The chart of `generations` generations from the store's `buckets` (of `bucket_size`)
    /// and best-so-far `steps` (generation, value); equals [`downsample`] on the full points.
    /// With `sigma`, σ too.
    pub(super) fn from_sql(
        generations: u64,
        bucket_size: u64,
        buckets: Vec<BucketRow>,
        best_so_far: Vec<(i64, Option<f64>)>,
        sigma: bool,
    ) -> Chart {
        let mut chart = Chart {
            generations,
            bucket_size,
            ..Chart::default()
        };
        let mut sigmas = SigmaCurves::default();
        let (mut steps, mut wall_seconds) = (0, 0.0);
        for row in buckets {
            chart.generation.push(row.generation as u64);
            chart.best_min.push(nan(row.best_min));
            chart.best_max.push(nan(row.best_max));
            chart.mean_min.push(nan(row.mean_min));
            chart.mean_max.push(nan(row.mean_max));
            chart.worst_min.push(nan(row.worst_min));
            chart.worst_max.push(nan(row.worst_max));
            sigmas.min.push(nan(row.sigma_min));
            sigmas.max.push(nan(row.sigma_max));
            steps += row.env_steps.unwrap_or(0).max(0) as u64;
            wall_seconds += row.wall_seconds.unwrap_or(0.0);
            chart.steps.push(steps);
            chart.wall_seconds.push(wall_seconds);
        }
        for (generation, value) in best_so_far {
            chart.best_so_far.generation.push(generation as u64);
            chart.best_so_far.value.push(nan(value));
        }
        chart.sigma = sigma.then_some(sigmas);
        chart
    }
}

/// One environment's bucket as the store's SQL reduces it: environment index, the bucket's
/// first generation, highest mean return, highest best return.
pub(super) type EnvBucketRow = (i32, i64, Option<f64>, Option<f64>);

impl Chart {
    /// Adds the environments' curves from `rows` (ordered by environment, then generation),
    /// aligned to the fitness buckets by first generation: a bucket an environment has no
    /// row for reads `null`. `names` are the spec's environments, in order.
    pub(super) fn set_envs(&mut self, names: &[String], rows: Vec<EnvBucketRow>) {
        let blank = || vec![f64::NAN; self.generation.len()];
        let mut envs: Vec<EnvCurves> = names
            .iter()
            .map(|env| EnvCurves {
                env: env.clone(),
                mean_return_max: blank(),
                best_return_max: blank(),
            })
            .collect();
        for (index, generation, mean, best) in rows {
            let Some(curves) = usize::try_from(index).ok().and_then(|i| envs.get_mut(i)) else {
                continue;
            };
            if let Ok(at) = self.generation.binary_search(&(generation as u64)) {
                curves.mean_return_max[at] = nan(mean);
                curves.best_return_max[at] = nan(best);
            }
        }
        self.envs = Some(envs);
    }
}

/// Generations per bucket so that `generations` fit in `max_points` buckets.
pub fn bucket_size(generations: usize, max_points: usize) -> usize {
    generations.div_ceil(max_points.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: u64) -> Vec<HistoryPoint> {
        let mut best_so_far = f64::NEG_INFINITY;
        (0..n)
            .map(|g| {
                let best = ((g * 7919) % 101) as f64;
                best_so_far = best_so_far.max(best);
                HistoryPoint {
                    generation: g,
                    best,
                    mean: best / 2.0,
                    worst: -best,
                    best_so_far,
                    env_steps: 500 + g,
                    wall_seconds: 0.25,
                }
            })
            .collect()
    }

    #[test]
    fn buckets_keep_extremes_and_the_exact_best_so_far() {
        let p = points(10_000);
        let chart = downsample(&p, 300);
        assert!(chart.generation.len() <= 300);
        let overall_max = p.iter().map(|x| x.best).fold(f64::MIN, f64::max);
        assert_eq!(
            chart.best_max.iter().copied().fold(f64::MIN, f64::max),
            overall_max
        );
        let overall_min = p.iter().map(|x| x.worst).fold(f64::MAX, f64::min);
        assert_eq!(
            chart.worst_min.iter().copied().fold(f64::MAX, f64::min),
            overall_min
        );
        // Replaying the step curve gives best-so-far at every generation.
        for point in &p {
            let i = chart
                .best_so_far
                .generation
                .partition_point(|&g| g <= point.generation)
                - 1;
            assert_eq!(chart.best_so_far.value[i], point.best_so_far);
        }
        // The x axes end at the whole history's steps and seconds, and only grow.
        let total: u64 = p.iter().map(|x| x.env_steps).sum();
        assert_eq!(chart.steps.last(), Some(&total));
        assert_eq!(chart.wall_seconds.last(), Some(&(0.25 * p.len() as f64)));
        assert!(chart.steps.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(chart.steps.len(), chart.generation.len());
    }

    #[test]
    fn short_histories_are_not_bucketed() {
        let chart = downsample(&points(5), 1000);
        assert_eq!(chart.bucket_size, 1);
        assert_eq!(chart.generation, [0, 1, 2, 3, 4]);
    }
}
