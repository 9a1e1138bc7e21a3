//! The error responses that many endpoints share, declared once for the OpenAPI document:
//! a handler lists the sets that apply beside its own responses (`responses(JsonBody, …)`).
//! What each status means is [`super::error::ApiError`]'s to decide; these only describe it.

use super::error::ErrorBody;

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

// A request that needs the bearer token when one is configured.
#[derive(utoipa::IntoResponses)]
#[response(status = 401)]
#[allow(dead_code)]
/// A token is configured and the request lacks it
pub struct Unauthorized(ErrorBody);

// A request that queues a job (admission control).
#[derive(utoipa::IntoResponses)]
#[response(
    status = 429,
    headers(("Retry-After" = u64, description = "Seconds to wait"))
)]
#[allow(dead_code)]
/// Over a limit on queued jobs (`queue_full`) or on submissions per second (`rate_limited`)
pub struct Admission(ErrorBody);

// An endpoint whose path names a job.
#[derive(utoipa::IntoResponses)]
#[response(status = 404)]
#[allow(dead_code)]
/// No such job
pub struct NoSuchJob(ErrorBody);
