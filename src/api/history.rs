//! Generation history: full exports (JSON, CSV, NDJSON; streamed) and a downsampled chart view.

use super::AppState;
use super::error::{ApiError, Result};
use super::jobs::load_job;
use crate::evolution::csv;
use crate::store::HistoryPoint;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/history", get(export))
        .route("/jobs/{id}/history/chart", get(chart))
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Json,
    Csv,
    Ndjson,
}

fn only_params(params: &HashMap<String, String>, allowed: &[&str]) -> Result<()> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(
            unknown.as_str(),
            format!("unknown parameter; allowed: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

/// `?format=json|csv|ndjson` (default json). The body is streamed from the store in batches.
async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response> {
    only_params(&params, &["format"])?;
    let format = match params.get("format").map(String::as_str) {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("ndjson") => Format::Ndjson,
        Some(_) => return Err(ApiError::invalid("format", "must be json, csv or ndjson")),
    };
    let job = load_job(&state, &id).await?;
    let env_names: Vec<String> =
        serde_json::from_value::<crate::evolution::JobSpec>(job.spec.clone())
            .map(|spec| spec.envs.iter().map(|e| e.name().to_string()).collect())
            .unwrap_or_default();
    let mut first = true;
    let items = state
        .store
        .history_stream(job.id.clone())
        .map(move |record| {
            let record = record.map_err(std::io::Error::other)?;
            let text = match format {
                Format::Json => {
                    let comma = if first { "" } else { "," };
                    format!(
                        "{comma}{}",
                        serde_json::to_string(&record).expect("record serialises")
                    )
                }
                Format::Ndjson => {
                    format!(
                        "{}\n",
                        serde_json::to_string(&record).expect("record serialises")
                    )
                }
                Format::Csv => csv::row(&record),
            };
            first = false;
            Ok::<_, std::io::Error>(text)
        });
    let (open, close) = match format {
        Format::Json => ("[".to_string(), "]".to_string()),
        Format::Csv => (csv::header(&env_names), String::new()),
        Format::Ndjson => (String::new(), String::new()),
    };
    let stream = futures_util::stream::once(async move { Ok(open) })
        .chain(items)
        .chain(futures_util::stream::once(async move { Ok(close) }));
    let (content_type, extension) = match format {
        Format::Json => ("application/json", "json"),
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Ndjson => ("application/x-ndjson", "ndjson"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"history-{}.{extension}\"", job.id),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Chart data: at most `max_points` buckets of consecutive generations, each keeping the
/// minimum and maximum of best, mean and worst fitness, plus the exact best-so-far curve (its
/// change points, which a step plot draws exactly).
#[derive(Debug, Serialize, PartialEq)]
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
}

#[derive(Debug, Serialize, PartialEq, Default)]
pub struct StepCurve {
    pub generation: Vec<u64>,
    pub value: Vec<f64>,
}

pub fn downsample(points: &[HistoryPoint], max_points: usize) -> Chart {
    let bucket = points.len().div_ceil(max_points.max(1)).max(1);
    let mut chart = Chart {
        generations: points.len() as u64,
        bucket_size: bucket as u64,
        generation: Vec::new(),
        best_min: Vec::new(),
        best_max: Vec::new(),
        mean_min: Vec::new(),
        mean_max: Vec::new(),
        worst_min: Vec::new(),
        worst_max: Vec::new(),
        best_so_far: StepCurve::default(),
    };
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

async fn chart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Chart>> {
    only_params(&params, &["max_points"])?;
    let max_points = match params.get("max_points") {
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (2..=100_000).contains(n))
            .ok_or_else(|| {
                ApiError::invalid("max_points", "must be an integer from 2 to 100000")
            })?,
        None => 1000,
    };
    let job = load_job(&state, &id).await?;
    let points = state.store.history_points(&job.id).await?;
    Ok(Json(downsample(&points, max_points)))
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
    }

    #[test]
    fn short_histories_are_not_bucketed() {
        let chart = downsample(&points(5), 1000);
        assert_eq!(chart.bucket_size, 1);
        assert_eq!(chart.generation, [0, 1, 2, 3, 4]);
    }
}
