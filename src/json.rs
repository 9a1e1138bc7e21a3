//! JSON in, typed values out, with errors a user can act on: a syntax error says where (line
//! and column), a value error names the field by its path (`lifetime.episodes`, `envs[0]`).
//! Every JSON document a user writes (API bodies, spec files) is read through here.

use crate::limits::FieldError;
use serde::de::DeserializeOwned;

/// Why a JSON document was refused.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all (or trailing characters after the value).
    #[error("malformed JSON at line {line} column {column}: {message}")]
    Syntax {
        message: String,
        line: usize,
        column: usize,
    },
    /// JSON, but not an object.
    #[error("the document must be a JSON object")]
    NotAnObject,
    /// An object whose value at `field` is wrong (a type, a missing field, or a range).
    #[error("{0}")]
    Value(#[from] FieldError),
}

impl From<JsonError> for FieldError {
    fn from(e: JsonError) -> Self {
        match e {
            JsonError::Value(e) => e,
            other => FieldError::new("", other.to_string()),
        }
    }
}

/// Parses a JSON object into `T`. Syntax is checked first (including trailing characters), so a
/// malformed document is never reported as a missing field of its first value. JSON Schema
/// counts `1.0` as an integer, so a client that follows our OpenAPI document may send one for
/// an integer field: those are read as the integers they are.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| JsonError::Syntax {
        message: strip_position(&e.to_string()),
        line: e.line(),
        column: e.column(),
    })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JsonError::NotAnObject);
    }
    match parse_named(bytes) {
        Ok(value) => Ok(value),
        Err(error) => {
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).expect("syntax was checked");
            if integral_floats_to_integers(&mut value) {
                let normalised = serde_json::to_vec(&value).expect("a value serialises");
                Ok(parse_named(&normalised)?)
            } else {
                Err(error.into())
            }
        }
    }
}

/// Deserialises JSON into `T`; an error names the path of the offending field (`lifetime.episodes`,
/// `envs[0]`, or the missing field itself), empty for the document as a whole.
pub fn parse_named<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FieldError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = strip_position(&e.into_inner().to_string());
        // A missing field is reported at its parent; name the field itself.
        let missing = message.starts_with("missing field");
        let field = match message.split('`').nth(1) {
            Some(name) if missing && path == "." => name.to_string(),
            Some(name) if missing => format!("{path}.{name}"),
            _ if path == "." => String::new(),
            _ => path,
        };
        FieldError::new(field, message)
    })
}

/// serde_json appends " at line L column C"; the field path says more.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Rewrites every float with an integer value (`7.0`, `1e3`) that fits an i64 or u64 as that
/// integer; says whether any was. Float fields read integers as well, so nothing else changes.
fn integral_floats_to_integers(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().expect("an f64");
            let integer = if f.fract() != 0.0 || !f.is_finite() {
                None
            } else if f < 0.0 && f >= i64::MIN as f64 {
                Some(Value::from(f as i64))
            } else if f >= 0.0 && f < u64::MAX as f64 {
                Some(Value::from(f as u64))
            } else {
                None
            };
            integer.map(|i| *value = i).is_some()
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |any, v| integral_floats_to_integers(v) | any),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |any, v| integral_floats_to_integers(v) | any),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Spec {
        #[allow(dead_code)]
        episodes: u32,
    }

    #[test]
    fn syntax_errors_say_where() {
        match parse_object::<Spec>(b"{\n  \"episodes\": 3,\n}") {
            Err(JsonError::Syntax { line, column, .. }) => assert_eq!((line, column), (3, 1)),
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn value_errors_name_the_field_and_integral_floats_are_integers() {
        match parse_object::<Spec>(br#"{"episodes": -1}"#) {
            Err(JsonError::Value(e)) => assert_eq!(e.field, "episodes"),
            other => panic!("expected a value error, got {other:?}"),
        }
        assert!(parse_object::<Spec>(br#"{"episodes": 3.0}"#).is_ok());
        assert!(matches!(
            parse_object::<Spec>(b"[1]"),
            Err(JsonError::NotAnObject)
        ));
    }
}
