//! How long a spec would run here: its steps (from the cost model, `evolution::cost`) over the
//! throughput this server's executor measured on recent generations (`GET /executors`).

use super::AppState;
use super::error::{Checked, Result};
use super::meta::{ExecutorInfo, measured_executors};
use super::responses::JsonBody;
use crate::evolution::{JobCost, JobSpec};
use crate::exec::{EpisodeMode, ExecutorChoice};
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use serde::Serialize;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/jobs/estimate", post(estimate))
}

/// A spec's run time on this server, as far as it is known before the run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RunEstimate {
    pub generations: u64,
    /// SFNN steps of one generation with every episode run to its horizon.
    pub steps_per_generation: u64,
    /// `generations × steps_per_generation` (saturating).
    pub total_steps: u64,
    /// Whether `total_steps` is exact: in `fixed_horizon` mode every lifetime runs its full
    /// horizons; in `stop_on_done` episodes end early, so it is an upper bound.
    pub exact_steps: bool,
    /// The executor whose measured throughput the estimate uses (`null`: this server runs no
    /// worker that could take the job).
    pub executor: Option<ExecutorInfo>,
    /// `total_steps` at the executor's throughput (`throughput_source` says which), capped by
    /// `stop.max_wall_seconds`; `null` where neither figure is known. Target fitness and
    /// stagnation rules can end a run sooner.
    pub seconds_upper: Option<f64>,
    /// Where the throughput came from: `measured` on this server's recent generations, or
    /// `built_in` (the executor's figure, before anything ran here); `null` with no figure.
    pub throughput_source: Option<ThroughputSource>,
    /// Whether `stop.max_wall_seconds` caps `seconds_upper`.
    pub capped_by_wall_clock: bool,
}

/// Estimate a spec's run time (nothing is queued).
#[utoipa::path(
    post,
    path = "/api/v1/jobs/estimate",
    tag = "jobs",
    request_body(content = JobSpec, content_type = "application/json",
        description = "A job spec, as `POST /jobs` takes it; it is validated the same way"),
    responses(
        (status = 200, description = "The estimate", body = RunEstimate),
        JsonBody,
    ),
)]
async fn estimate(
    State(state): State<AppState>,
    Checked(spec): Checked<JobSpec>,
) -> Result<Json<RunEstimate>> {
    let cost = spec.cost()?;
    let executors = measured_executors(&state).await?;
    Ok(Json(RunEstimate::of(
        &spec,
        &cost,
        pick(executors, spec.executor),
    )))
}

/// The executor that would run a job asking for `choice`: one of those allowed, preferring a
/// measured one.
fn pick(executors: Vec<ExecutorInfo>, choice: ExecutorChoice) -> Option<ExecutorInfo> {
    let allowed: Vec<ExecutorInfo> = executors
        .into_iter()
        .filter(|e| choice.allows(&e.name))
        .collect();
    let measured = allowed.iter().position(|e| e.measured.is_some());
    allowed.into_iter().nth(measured.unwrap_or(0))
}

/// Where an estimate's throughput came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThroughputSource {
    Measured,
    BuiltIn,
}

impl RunEstimate {
    fn of(spec: &JobSpec, cost: &JobCost, executor: Option<ExecutorInfo>) -> RunEstimate {
        let total_steps = cost.steps_per_generation.saturating_mul(spec.generations);
        let throughput = executor.as_ref().and_then(|e| match e.measured {
            Some(m) => Some((m.steps_per_s, ThroughputSource::Measured)),
            None => e
                .built_in_steps_per_s
                .map(|s| (s, ThroughputSource::BuiltIn)),
        });
        let at_rate = throughput.map(|(steps_per_s, _)| total_steps as f64 / steps_per_s);
        let wall = spec.stop.max_wall_seconds;
        let capped = matches!((at_rate, wall), (Some(s), Some(w)) if w < s);
        RunEstimate {
            generations: spec.generations,
            steps_per_generation: cost.steps_per_generation,
            total_steps,
            exact_steps: spec.lifetime.episode_mode == EpisodeMode::FixedHorizon,
            executor,
            seconds_upper: if capped { wall } else { at_rate },
            throughput_source: throughput.map(|(_, source)| source),
            capped_by_wall_clock: capped,
        }
    }
}
