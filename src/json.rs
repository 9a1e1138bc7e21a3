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
    check_syntax(bytes)?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(JsonError::NotAnObject);
    }
    match parse_named(bytes) {
        Ok(value) => Ok(value),
        Err(error) => {
            // The syntax pass read every string, so this parse fails only where that pass
            // would have; an error here is still an error, never a panic.
            let mut value: serde_json::Value =
                serde_json::from_slice(bytes).map_err(syntax_error)?;
            if integral_floats_to_integers(&mut value) {
                let normalised = serde_json::to_vec(&value).expect("a value serialises");
                Ok(parse_named(&normalised)?)
            } else {
                Err(error.into())
            }
        }
    }
}

/// Checks that `bytes` is one JSON value and nothing after it, reading every string and key as
/// the typed parse will (UTF-8, escapes, surrogate pairs) without building anything.
/// `serde::de::IgnoredAny` would skip strings unread, so `"\ud800"` or a byte `0xff` inside a
/// string would pass here and fail only in the typed parse, reported as the wrong kind of error.
fn check_syntax(bytes: &[u8]) -> Result<(), JsonError> {
    serde_json::from_slice::<StringsRead>(bytes)
        .map(|_| ())
        .map_err(syntax_error)
}

fn syntax_error(e: serde_json::Error) -> JsonError {
    JsonError::Syntax {
        message: strip_position(&e.to_string()),
        line: e.line(),
        column: e.column(),
    }
}

/// A JSON value read and dropped, strings included (see [`check_syntax`]).
struct StringsRead;

impl<'de> serde::Deserialize<'de> for StringsRead {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StringsRead)
    }
}

impl<'de> serde::de::Visitor<'de> for StringsRead {
    type Value = StringsRead;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(StringsRead)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<StringsRead>()?.is_some() {}
        Ok(StringsRead)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        while map.next_entry::<StringsRead, StringsRead>()?.is_some() {}
        Ok(StringsRead)
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

    #[test]
    fn strings_with_bad_escapes_or_bytes_are_syntax_errors() {
        let documents: [&[u8]; 5] = [
            br#"{"episodes": 3, "name": "\ud800"}"#,
            b"{\"episodes\": 3, \"name\": \"\xff\"}",
            br#"{"episodes": 3, "name": "\udc00\ud800"}"#,
            br#"{"episodes": 3, "\ud800": 1}"#,
            br#"{"episodes": 3, "name": "\x41"}"#,
        ];
        for bytes in documents {
            match parse_object::<Spec>(bytes) {
                Err(JsonError::Syntax { line, column, .. }) => {
                    assert_eq!(line, 1);
                    assert!(column > 14, "{column}: the position of the string");
                }
                other => panic!("{:?}: expected a syntax error, got {other:?}", bytes),
            }
        }
    }

    /// A target with strings at every depth, so the typed parse reads whatever the generator
    /// puts in them.
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Deep {
        name: Option<String>,
        tags: Option<Vec<String>>,
        episodes: Option<u32>,
        sigma: Option<f64>,
        nested: Option<std::collections::BTreeMap<String, Vec<String>>>,
    }

    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// A string body: plain characters, valid escapes, and the escapes and bytes a hostile
        /// client sends (lone surrogates, reversed pairs, short or non-hex `\u`, raw bytes that
        /// are not UTF-8, control characters).
        fn string_body() -> impl Strategy<Value = Vec<u8>> {
            let piece = prop_oneof![
                any::<char>().prop_map(|c| c.to_string().into_bytes()),
                Just(b"\\n".to_vec()),
                Just(br"\\".to_vec()),
                Just(br#"\""#.to_vec()),
                (0u32..=0xffff).prop_map(|u| format!("\\u{u:04x}").into_bytes()),
                (0xd800u32..=0xdfff, 0u32..=0xffff)
                    .prop_map(|(a, b)| format!("\\u{a:04X}\\u{b:04x}").into_bytes()),
                Just(br"\u12".to_vec()),
                Just(br"\uzzzz".to_vec()),
                Just(br"\q".to_vec()),
                any::<u8>().prop_map(|b| vec![b]),
                (0x80u8..=0xff).prop_map(|b| vec![b]),
            ];
            prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
        }

        /// A document shaped like [`Deep`], with hostile strings in keys and values.
        fn document() -> impl Strategy<Value = Vec<u8>> {
            (
                string_body(),
                string_body(),
                string_body(),
                prop::sample::select(vec!["3", "3.0", "-1", "1e3", "null", "\"x\""]),
            )
                .prop_map(|(name, tag, key, number)| {
                    let mut doc = b"{\"name\": \"".to_vec();
                    doc.extend(name);
                    doc.extend(b"\", \"tags\": [\"");
                    doc.extend(tag.clone());
                    doc.extend(b"\"], \"episodes\": ");
                    doc.extend(number.as_bytes());
                    doc.extend(b", \"nested\": {\"");
                    doc.extend(key);
                    doc.extend(b"\": [\"");
                    doc.extend(tag);
                    doc.extend(b"\"]}}");
                    doc
                })
        }

        /// Whatever `parse_object` answers, it answers: a value, or a syntax, shape or field
        /// error, and a syntax error exactly when serde_json refuses the document.
        fn answers(bytes: &[u8]) -> Result<(), TestCaseError> {
            let result = parse_object::<Deep>(bytes);
            let valid = serde_json::from_slice::<serde_json::Value>(bytes).is_ok();
            prop_assert_eq!(
                matches!(result, Err(JsonError::Syntax { .. })),
                !valid,
                "{:?}",
                result
            );
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: std::env::var("SFNN_JSON_FUZZ_CASES")
                    .ok()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(4096),
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn arbitrary_bytes_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
                answers(&bytes)?;
            }

            #[test]
            fn hostile_strings_get_an_answer(doc in document()) {
                answers(&doc)?;
            }

            #[test]
            fn mutated_documents_get_an_answer(
                doc in document(),
                at in any::<prop::sample::Index>(),
                byte in any::<u8>(),
            ) {
                let mut doc = doc;
                let i = at.index(doc.len());
                doc[i] = byte;
                answers(&doc)?;
            }
        }
    }
}
