//! The path and query extractors every handler uses: axum's, with each rejection answered as
//! our JSON error (axum's own are plain text) and query values checked for NUL characters,
//! which no parameter accepts and SQLite would read as the end of the string.

use super::error::ApiError;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

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

/// The query parameters: `T` a struct whose fields are the parameters (or a map of them all).
/// A malformed query string is a 400 `invalid_query`; a parameter `T` has no field for, a NUL
/// character, or a value its field's type refuses is a 422 naming the parameter (and, for an
/// unknown one, the parameters allowed).
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

/// A query string as [`Query`] reads it.
pub(super) fn parse_query<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
        .map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    if let Some((name, _)) = pairs
        .iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
    {
        return Err(ApiError::invalid(
            name.replace('\0', "\\0"),
            "must not contain a NUL character",
        ));
    }
    if let Some(allowed) = field_names::<T>()
        && let Some((unknown, _)) = pairs
            .iter()
            .find(|(name, _)| !allowed.contains(&name.as_str()))
    {
        let message = if allowed.is_empty() {
            "unknown parameter; this endpoint takes none".to_string()
        } else {
            format!("unknown parameter; allowed: {}", allowed.join(", "))
        };
        return Err(ApiError::invalid(unknown.as_str(), message));
    }
    let parameters = serde_urlencoded::Deserializer::new(form_urlencoded::parse(raw.as_bytes()));
    serde_path_to_error::deserialize(parameters)
        .map_err(|e| ApiError::invalid(e.path().to_string(), e.inner().to_string()))
}

/// The field names of struct `T`, as its `Deserialize` asks for them; `None` when `T` is not a
/// struct (a map takes any parameter).
fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{self, Visitor};

    /// A deserializer that only listens: the struct's field names are what `deserialize_struct`
    /// is told, and then it stops the deserialisation.
    struct Listen<'a>(&'a mut Option<&'static [&'static str]>);

    impl<'de> de::Deserializer<'de> for Listen<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = Some(fields);
            Err(de::Error::custom("listened"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(Listen(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use serde::Deserialize;
    use std::collections::HashMap;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Page {
        limit: Option<u32>,
        format: Option<String>,
    }

    async fn extract<T: DeserializeOwned + Send>(query: &str) -> Result<T, ApiError> {
        let request = Request::get(format!("/x?{query}")).body(()).unwrap();
        let (mut parts, ()) = request.into_parts();
        Query::<T>::from_request_parts(&mut parts, &())
            .await
            .map(|Query(t)| t)
    }

    fn field_of(error: ApiError) -> String {
        match error {
            ApiError::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn parameters_are_typed_and_every_bad_one_is_named() {
        assert_eq!(
            extract::<Page>("limit=5&format=csv").await.unwrap(),
            Page {
                limit: Some(5),
                format: Some("csv".into())
            }
        );
        assert_eq!(
            field_of(extract::<Page>("limit=x").await.unwrap_err()),
            "limit"
        );
        assert_eq!(
            field_of(extract::<Page>("colour=red").await.unwrap_err()),
            "colour"
        );
        assert_eq!(
            field_of(extract::<Page>("format=a%00b").await.unwrap_err()),
            "format"
        );
        assert_eq!(
            field_of(extract::<Page>("limit=-1").await.unwrap_err()),
            "limit"
        );
        // A map takes any parameter.
        let all: HashMap<String, String> = extract("a=1&b=2").await.unwrap();
        assert_eq!(all.len(), 2);
    }
}
