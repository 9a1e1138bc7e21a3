//! Bearer-token check for mutating requests (when a token is configured).

use super::{AppState, error::ApiError};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// Whether a request with `method` needs the token: every one that can change something.
pub fn is_guarded(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let (true, Some(expected)) = (is_guarded(request.method()), &state.config.token) {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Constant-time: the comparison takes as long for a near miss as for a far one.
        let ok: bool = given.as_bytes().ct_eq(expected.as_bytes()).into();
        if !ok {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}
