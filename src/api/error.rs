//! One error type for every handler, always answered as
//! `{ "error": { "code", "message", "field"? } }` with a fitting status. Internal details are
//! logged, never sent.

use crate::evolution::strategies::FieldError;
use crate::json::{self, JsonError};
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A value a field does not allow; `also`: the same document's other such values.
    #[error("{field}: {message}")]
    Invalid {
        field: String,
        message: String,
        also: Vec<FieldError>,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("the request body is larger than the limit")]
    PayloadTooLarge,
    #[error("expected Content-Type {0}")]
    UnsupportedMediaType(&'static str),
    /// The store cannot work right now (a full disk, say): 503 with `Retry-After`.
    #[error("the server cannot store anything right now ({0}); try again later")]
    Unavailable(String),
    /// Over an admission limit (`code` names it); answered with `Retry-After`.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after: std::time::Duration,
    },
    /// The `Host` header names a host this server does not answer for (DNS rebinding).
    #[error("{0}")]
    HostNotAllowed(String),
    #[error("internal error")]
    Internal(String),
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// The body of every error response (this type is what is serialised, and what the OpenAPI
/// document describes).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `invalid_value`, `invalid_json`, `invalid_path`, `invalid_query`,
    /// `unreadable_body`, `not_found`,
    /// `conflict`, `unauthorized`, `payload_too_large`, `unsupported_media_type`, `queue_full`,
    /// `rate_limited`, `busy`, `host_not_allowed`, `unavailable`, `internal`.
    #[schema(value_type = String)]
    pub code: &'static str,
    pub message: String,
    /// The offending field's path (`lifetime.episodes`, `envs[1]`), on `invalid_value` errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub field: Option<String>,
    /// On `invalid_value` errors: every invalid value of the request found, this one first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldProblem>>,
}

/// One invalid value: its field's path (empty for the whole document) and what is allowed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::HostNotAllowed(_) => StatusCode::MISDIRECTED_REQUEST,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Invalid { .. } => "invalid_value",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unauthorized => "unauthorized",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooManyRequests { code, .. } => code,
            ApiError::HostNotAllowed(_) => "host_not_allowed",
            ApiError::Internal(_) => "internal",
        }
    }

    /// How long a client should wait before trying again, for the errors that pass.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        match self {
            ApiError::Unavailable(_) => Some(crate::limits::storage::RETRY_AFTER),
            ApiError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            field: field.into(),
            message: message.into(),
            also: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!("internal error: {detail}");
        }
        let field = match &self {
            ApiError::Invalid { field, .. } if !field.is_empty() => Some(field.clone()),
            _ => None,
        };
        let message = match &self {
            ApiError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let errors = match &self {
            ApiError::Invalid {
                field,
                message,
                also,
            } => Some(
                std::iter::once(FieldProblem {
                    field: field.clone(),
                    message: message.clone(),
                })
                .chain(also.iter().map(|e| FieldProblem {
                    field: e.field.clone(),
                    message: e.message.clone(),
                }))
                .collect(),
            ),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code(),
                message,
                field,
                errors,
            },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(wait) = self.retry_after() {
            // Whole seconds, rounded up: retrying at the given second finds room.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.max(1).into());
        }
        response
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::Invalid {
            field: e.field,
            message: e.message,
            also: e.also,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(what.to_string()),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Unavailable(reason) => ApiError::Unavailable(reason),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(e: BytesRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request("unreadable_body", e.body_text())
        }
    }
}

/// Parses a JSON object with the path of the offending field: syntax errors are 400
/// `invalid_json`, anything but an object and type errors 422 `invalid_value` naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    Ok(json::parse_object(bytes)?)
}

impl From<JsonError> for ApiError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Syntax {
                message,
                line,
                column,
            } => ApiError::bad_request(
                "invalid_json",
                format!("malformed JSON at line {line} column {column}: {message}"),
            ),
            JsonError::NotAnObject => ApiError::invalid("", "the body must be a JSON object"),
            JsonError::Value(e) => e.into(),
        }
    }
}

/// The answer to a request whose handler panicked (`CatchPanicLayer`): our JSON 500, with the
/// panic's message in the log (one line; the panic hook adds its location) and never in the body.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into());
    ApiError::Internal(format!("a request handler panicked: {message}")).into_response()
}

/// Checks that a request declares `Content-Type: application/json`.
pub fn require_json(request: &Request) -> Result<()> {
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType("application/json"))
    }
}

/// The body of a request that must declare JSON.
async fn json_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes> {
    require_json(&request)?;
    Ok(Bytes::from_request(request, state).await?)
}

/// A JSON body whose every rejection is an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        Ok(ApiJson(parse_json(&json_body(request, state).await?)?))
    }
}

/// A JSON document with a parser of its own, which checks every value and names the field of
/// each error: a job spec, a sweep.
pub trait Document: Sized {
    fn parse(bytes: &[u8]) -> Result<Self, JsonError>;
}

impl Document for crate::evolution::JobSpec {
    fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
        crate::evolution::JobSpec::parse(bytes)
    }
}

impl Document for crate::evolution::sweep::SweepPlan {
    fn parse(bytes: &[u8]) -> Result<Self, JsonError> {
        crate::evolution::sweep::SweepPlan::parse(bytes)
    }
}

/// A [`Document`] body, parsed and checked.
pub struct Checked<T>(pub T);

impl<T: Document, S: Send + Sync> FromRequest<S> for Checked<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        Ok(Checked(T::parse(&json_body(request, state).await?)?))
    }
}
