//! The responses that many endpoints share: [`Created`], and the error sets declared once for
//! the OpenAPI document (a handler lists the sets that apply beside its own responses,
//! `responses(JsonBody, …)`). What each error status means is [`super::error::ApiError`]'s to
//! decide; these only describe it.

use super::error::ErrorBody;
use crate::store::{GenomeMeta, Job, Sweep};
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `201 Created` with the new resource's `Location` and the resource as JSON.
pub struct Created<T>(pub T);

/// A resource with an address of its own.
pub trait Located {
    fn location(&self) -> String;
}

impl Located for Job {
    fn location(&self) -> String {
        format!("/api/v1/jobs/{}", self.id)
    }
}

impl Located for Sweep {
    fn location(&self) -> String {
        format!("/api/v1/sweeps/{}", self.id)
    }
}

impl Located for GenomeMeta {
    fn location(&self) -> String {
        format!("/api/v1/genomes/{}", self.id)
    }
}

impl<T: Serialize + Located> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let location = self.0.location();
        (
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(self.0),
        )
            .into_response()
    }
}

// What a JSON request body can be refused with.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // Only described, never built: the responses are ApiError's.
pub enum JsonBody {
    /// Malformed JSON (`invalid_json`)
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// The body is larger than the limit
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Content-Type is not application/json
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// A value is invalid; `field` names it
    #[response(status = 422)]
    Invalid(ErrorBody),
}

// A request with query parameters (`Query<T>`, [`super::extract::Query`]).
#[derive(utoipa::IntoResponses)]
#[response(status = 422)]
#[allow(dead_code)]
/// A query parameter is unknown or invalid; `field` names it
pub struct BadQuery(ErrorBody);

// A request that queues a job (admission control).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
/// Over a limit on queued jobs (`queue_full`) or on submissions per second (`rate_limited`)
pub struct Admission(ErrorBody);

/// A 404 response set, for an endpoint whose path names something that may not exist.
macro_rules! not_found {
    ($name:ident, $description:literal) => {
        #[derive(utoipa::IntoResponses)]
        #[response(status = 404)]
        #[allow(dead_code)] // Only described, never built: the responses are ApiError's.
        #[doc = $description]
        pub struct $name(ErrorBody);
    };
}

not_found!(NoSuchJob, "No such job");
not_found!(NoSuchGenome, "No such genome");
not_found!(NoSuchSweep, "No such sweep");

// An import that is not one, or no longer takes records.
#[derive(utoipa::IntoResponses)]
#[response(status = 409)]
#[allow(dead_code)]
/// Not an import, or no longer open
pub struct ClosedImport(ErrorBody);
