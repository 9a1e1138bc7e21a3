//! Generation history: full exports (JSON, CSV, NDJSON; streamed) and a downsampled chart view.

use super::AppState;
use super::error::Result;
use super::extract::{Path, Query};
use super::jobs::load_job;
use super::query::parsed;
use super::responses::{BadQuery, NoSuchJob};
use crate::evolution::GenerationRecord;
use crate::evolution::csv;
use crate::limits::http::{CHART_POINTS, DEFAULT_CHART_POINTS};
use crate::store::{Chart, ChartSeries};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::StreamExt;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/jobs/{id}/history", get(export))
        .route("/jobs/{id}/history/chart", get(chart))
}

/// An export's parameters.
#[derive(serde::Deserialize)]
struct ExportQuery {
    format: Option<HistoryFormat>,
}

/// The format of a history export.
#[derive(Clone, Copy, PartialEq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(super) enum HistoryFormat {
    Json,
    Csv,
    Ndjson,
}

/// Reads a query value with a type's serde names, so the OpenAPI schema lists what is accepted.
pub(super) fn parse_enum<T: serde::de::DeserializeOwned>(value: &str) -> Option<T> {
    use serde::de::IntoDeserializer;
    T::deserialize(IntoDeserializer::<serde::de::value::Error>::into_deserializer(value)).ok()
}

/// `?format=json|csv|ndjson` (default json). The body is streamed from the store in batches.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/history",
    tag = "history",
    params(
        ("id" = String, Path, description = "The job's id (a UUID)"),
        ("format" = inline(Option<HistoryFormat>), Query, description = "File format (default json)"),
    ),
    responses(
        (status = 200, description = "Every generation record, as a download \
            (`Content-Disposition: attachment`): a JSON array, CSV with a header row, or NDJSON \
            with one GenerationRecord per line",
            headers(("Content-Disposition" = String, description = "attachment; filename=...")),
            content(
                (Vec<GenerationRecord> = "application/json"),
                ("text/csv"),
                ("application/x-ndjson"),
            )),
        NoSuchJob,
        BadQuery,
    ),
)]
async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(ExportQuery { format }): Query<ExportQuery>,
) -> Result<Response> {
    let format = format.unwrap_or(HistoryFormat::Json);
    let job = load_job(&state, &id).await?;
    let env_names = job.spec.env_names();
    let mut first = true;
    let items = state
        .store
        .history_stream(job.id.clone())
        .map(move |record| {
            let record = record.map_err(std::io::Error::other)?;
            let text = match format {
                HistoryFormat::Json => {
                    let comma = if first { "" } else { "," };
                    format!(
                        "{comma}{}",
                        serde_json::to_string(&record).expect("record serialises")
                    )
                }
                HistoryFormat::Ndjson => {
                    format!(
                        "{}\n",
                        serde_json::to_string(&record).expect("record serialises")
                    )
                }
                HistoryFormat::Csv => csv::row(&record),
            };
            first = false;
            Ok::<_, std::io::Error>(text)
        });
    let (open, close) = match format {
        HistoryFormat::Json => ("[".to_string(), "]".to_string()),
        HistoryFormat::Csv => (csv::header(&env_names), String::new()),
        HistoryFormat::Ndjson => (String::new(), String::new()),
    };
    let stream = futures_util::stream::once(async move { Ok(open) })
        .chain(items)
        .chain(futures_util::stream::once(async move { Ok(close) }));
    let (content_type, extension) = match format {
        HistoryFormat::Json => ("application/json", "json"),
        HistoryFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        HistoryFormat::Ndjson => ("application/x-ndjson", "ndjson"),
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

/// Optional series of a chart, as `?series=` names them.
#[derive(Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum ChartSeriesName {
    Envs,
    Sigma,
}

/// The chart's parameters.
#[derive(serde::Deserialize)]
struct ChartQuery {
    max_points: Option<ChartPoints>,
    series: Option<SeriesList>,
}

/// `max_points`: within [`CHART_POINTS`].
struct ChartPoints(usize);

impl<'de> serde::Deserialize<'de> for ChartPoints {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        parsed(
            deserializer,
            |t| {
                t.parse()
                    .ok()
                    .filter(|n| CHART_POINTS.contains(n))
                    .map(ChartPoints)
            },
            || {
                format!(
                    "must be an integer from {} to {}",
                    CHART_POINTS.start(),
                    CHART_POINTS.end()
                )
            },
        )
    }
}

/// `series=envs,sigma`: a comma-separated list of [`ChartSeriesName`]s.
struct SeriesList(ChartSeries);

impl<'de> serde::Deserialize<'de> for SeriesList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut series = ChartSeries::default();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let flag = match parse_enum(name) {
                Some(ChartSeriesName::Envs) => &mut series.envs,
                Some(ChartSeriesName::Sigma) => &mut series.sigma,
                None => {
                    return Err(serde::de::Error::custom(format!(
                        "unknown series `{name}`: allowed are envs and sigma"
                    )));
                }
            };
            *flag = true;
        }
        Ok(SeriesList(series))
    }
}

/// At most `max_points` buckets (default 1000), see [`Chart`]. Fitness only by default, so a
/// job page's first paint stays small; `series=envs,sigma` adds each environment's returns
/// and σ over the same buckets.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/history/chart",
    tag = "history",
    params(
        ("id" = String, Path, description = "The job's id (a UUID)"),
        ("max_points" = Option<usize>, Query, description = "Most buckets (default 1000)",
            minimum = 2, maximum = 100000),
        ("series" = Option<String>, Query, description = "Extra series, comma-separated: \
            `envs` (each environment's returns), `sigma` (the strategy's step size)",
            example = "envs,sigma"),
    ),
    responses(
        (status = 200, description = "The downsampled history", body = Chart),
        NoSuchJob,
        BadQuery,
    ),
)]
async fn chart(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ChartQuery>,
) -> Result<Json<Chart>> {
    let max_points = query.max_points.map_or(DEFAULT_CHART_POINTS, |p| p.0);
    let series = query.series.map_or(ChartSeries::default(), |s| s.0);
    let job = load_job(&state, &id).await?;
    let env_names = job.spec.env_names();
    Ok(Json(
        state
            .store
            .history_chart(&job.id, max_points, series, &env_names)
            .await?,
    ))
}
