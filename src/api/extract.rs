//! The path and query extractors every handler uses: axum's, with each rejection answered as
//! our JSON error (axum's own are plain text) and query values checked for NUL characters,
//! which no parameter accepts and SQLite would read as the end of the string.

use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// A path parameter (`/jobs/{id}`); one that is not UTF-8 once percent-decoded is a 400
/// `invalid_path`.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))
    }
}

/// The query parameters by name. A malformed query string is a 400 `invalid_query`; a NUL
/// in a name or a value is a 422 naming the parameter, like any other bad value.
pub struct Query<T>(pub T);

impl<S: Send + Sync> FromRequestParts<S> for Query<HashMap<String, String>> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(params) =
            axum::extract::Query::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|rejection| {
                    ApiError::bad_request("invalid_query", rejection.body_text())
                })?;
        if let Some((name, _)) = params
            .iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(ApiError::invalid(
                name.replace('\0', "\\0"),
                "must not contain a NUL character",
            ));
        }
        Ok(Query(params))
    }
}
