//! Sweeps: one spec and a set of axes (spec fields, each with the values to try) expand into one
//! evolution job per combination. Jobs that differ only in their `seed` form a *variant*, the
//! unit a comparison averages over: "seeds × strategies" gives one variant per strategy, each
//! with one run per seed.
//!
//! Each combination is the spec with the axes' values written into it, read by the one spec
//! parser ([`JobPayload::evolve`]), so a sweep can set any field a spec has and nothing a spec
//! could not.

use super::JobPayload;
use crate::json::{self, JsonError};
use crate::limits::{FieldError, spec as spec_limits, sweep as limits};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The axis that repeats a variant rather than making a new one.
pub const SEED_AXIS: &str = "seed";

/// A sweep as submitted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepRequest {
    /// The sweep's name (default: the spec's name, else "sweep"); each job is named after it
    /// and its combination.
    #[serde(default)]
    pub name: Option<String>,
    /// The job spec every combination starts from.
    #[schema(value_type = Object)]
    pub spec: Value,
    /// Spec fields by dotted path (`seed`, `strategy.sigma0`, `lifetime.episodes`), each with
    /// the values to try; every combination becomes a job.
    #[schema(value_type = Object)]
    #[serde(deserialize_with = "axes_once_each")]
    pub axes: BTreeMap<String, Vec<Value>>,
}

/// The axes map, refusing a path given twice (a JSON object would keep the last silently, and
/// the sweep would not be the one the client wrote).
fn axes_once_each<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<Value>>, D::Error> {
    struct Axes;
    impl<'de> serde::de::Visitor<'de> for Axes {
        type Value = BTreeMap<String, Vec<Value>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object of spec field paths, each with a list of values")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut axes = BTreeMap::new();
            while let Some(path) = map.next_key::<String>()? {
                if axes.contains_key(&path) {
                    return Err(serde::de::Error::custom(format!(
                        "the axis {path:?} is given twice; list all its values once"
                    )));
                }
                let values = map.next_value::<Vec<Value>>()?;
                axes.insert(path, values);
            }
            Ok(axes)
        }
    }
    deserializer.deserialize_map(Axes)
}

/// One job of a sweep: its validated payload, the values its axes gave it, and the variant
/// (those values less the seed) it belongs to.
#[derive(Debug, Clone)]
pub struct SweepJob {
    pub payload: JobPayload,
    pub name: String,
    pub values: Map<String, Value>,
    pub variant: Map<String, Value>,
}

/// A validated sweep, ready to be queued.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub name: String,
    pub spec: Value,
    pub axes: BTreeMap<String, Vec<Value>>,
    pub jobs: Vec<SweepJob>,
}

/// `a=1, b=x`: a variant's (or a combination's) values in words, in axis order.
pub fn label(values: &Map<String, Value>) -> String {
    values
        .iter()
        .map(|(axis, value)| match value {
            Value::String(s) => format!("{axis}={s}"),
            other => format!("{axis}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl SweepPlan {
    /// Reads and expands a sweep request; every combination is checked as a job spec.
    pub fn parse(bytes: &[u8]) -> Result<SweepPlan, JsonError> {
        let request: SweepRequest = json::parse_object(bytes)?;
        Ok(SweepPlan::expand(request)?)
    }

    fn expand(request: SweepRequest) -> Result<SweepPlan, FieldError> {
        let SweepRequest { name, spec, axes } = request;
        if !spec.is_object() {
            return Err(FieldError::new(
                "spec",
                "must be a job spec (a JSON object)",
            ));
        }
        check_axes(&axes)?;
        let name = match name {
            Some(name) => name,
            None => match spec.get("name").and_then(Value::as_str) {
                Some(name) if !name.is_empty() => name.to_string(),
                _ => "sweep".to_string(),
            },
        };
        spec_limits::check_name(&name).map_err(|message| FieldError::new("name", message))?;
        let mut jobs = Vec::new();
        for values in combinations(&axes) {
            let mut job_spec = spec.clone();
            for (path, value) in &values {
                set_path(&mut job_spec, path, value.clone())?;
            }
            let combination = label(&values);
            let job_name = format!("{name} [{combination}]");
            job_spec["name"] = Value::String(job_name.clone());
            let bytes = serde_json::to_vec(&job_spec).expect("a JSON value serialises");
            let payload = JobPayload::evolve(&bytes).map_err(|e| {
                let e = FieldError::from(e);
                if e.field == "name" {
                    FieldError::new(
                        "name",
                        format!(
                            "the job names (sweep name plus combination, e.g. {job_name:?}) \
                             must be at most {} characters",
                            spec_limits::MAX_NAME_CHARS
                        ),
                    )
                } else {
                    let field = if e.field.is_empty() {
                        "spec".to_string()
                    } else {
                        format!("spec.{}", e.field)
                    };
                    FieldError::new(field, format!("with {combination}: {}", e.message))
                }
            })?;
            let mut variant = values.clone();
            variant.remove(SEED_AXIS);
            jobs.push(SweepJob {
                payload,
                name: job_name,
                values,
                variant,
            });
        }
        Ok(SweepPlan {
            name,
            spec,
            axes,
            jobs,
        })
    }
}

/// Whether two axis values set the field alike: equal JSON, with `1` and `1.0` the same number.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || ((x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64())
        }
        _ => a == b,
    }
}

/// Bounds the axes before anything is expanded: their number, each path, each value count, and
/// the number of combinations (a checked product).
fn check_axes(axes: &BTreeMap<String, Vec<Value>>) -> Result<(), FieldError> {
    if axes.is_empty() || axes.len() > limits::MAX_AXES {
        return Err(FieldError::new(
            "axes",
            format!("must name 1..={} spec fields", limits::MAX_AXES),
        ));
    }
    let mut combinations: usize = 1;
    for (path, values) in axes {
        let field = format!("axes.{path}");
        let segments: Vec<&str> = path.split('.').collect();
        let well_formed = path.len() <= limits::MAX_AXIS_PATH_CHARS
            && segments.len() <= limits::MAX_AXIS_DEPTH
            && segments
                .iter()
                .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !well_formed {
            return Err(FieldError::new(
                field,
                format!(
                    "an axis is a spec field's dotted path (e.g. strategy.sigma0): at most {} \
                     names of letters, digits and _, {} characters in all",
                    limits::MAX_AXIS_DEPTH,
                    limits::MAX_AXIS_PATH_CHARS
                ),
            ));
        }
        if ["name", "tags", "priority"].contains(&segments[0]) {
            return Err(FieldError::new(
                field,
                "name, tags and priority are the sweep's own; sweep the run's settings",
            ));
        }
        if let Some(clash) = axes
            .keys()
            .find(|other| other.len() > path.len() && other.starts_with(&format!("{path}.")))
        {
            return Err(FieldError::new(
                field,
                format!("overlaps the axis {clash:?}; sweep one or the other"),
            ));
        }
        if values.is_empty() || values.len() > limits::MAX_AXIS_VALUES {
            return Err(FieldError::new(
                field,
                format!("must list 1..={} values", limits::MAX_AXIS_VALUES),
            ));
        }
        for (i, value) in values.iter().enumerate() {
            if let Some(first) = values[..i].iter().position(|v| same_value(v, value)) {
                return Err(FieldError::new(
                    format!("{field}[{i}]"),
                    format!(
                        "repeats {field}[{first}] ({value}): each value makes one job, so list \
                         it once (more runs of a setting are more seeds)"
                    ),
                ));
            }
        }
        combinations = combinations
            .checked_mul(values.len())
            .filter(|&n| n <= limits::MAX_JOBS)
            .ok_or_else(|| {
                FieldError::new(
                    "axes",
                    format!(
                        "the axes give more than {} combinations (one job each)",
                        limits::MAX_JOBS
                    ),
                )
            })?;
    }
    Ok(())
}

/// Every combination of the axes' values, the last axis varying fastest.
fn combinations(axes: &BTreeMap<String, Vec<Value>>) -> Vec<Map<String, Value>> {
    let mut all = vec![Map::new()];
    for (path, values) in axes {
        all = all
            .into_iter()
            .flat_map(|partial| {
                values.iter().map(move |value| {
                    let mut next = partial.clone();
                    next.insert(path.clone(), value.clone());
                    next
                })
            })
            .collect();
    }
    all
}

/// Writes `value` at the dotted `path` of `spec`, creating the objects on the way (a spec
/// omits what it leaves at the defaults).
fn set_path(spec: &mut Value, path: &str, value: Value) -> Result<(), FieldError> {
    let mut node = spec;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let Value::Object(object) = node else {
            return Err(FieldError::new(
                format!("axes.{path}"),
                "goes through a spec field that is not an object",
            ));
        };
        if segments.peek().is_none() {
            object.insert(segment.to_string(), value);
            return Ok(());
        }
        node = object
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    unreachable!("a path has at least one segment")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(request: Value) -> Result<SweepPlan, FieldError> {
        SweepPlan::parse(&serde_json::to_vec(&request).unwrap()).map_err(FieldError::from)
    }

    #[test]
    fn seeds_times_strategies_give_one_job_each_and_a_variant_per_strategy() {
        let plan = plan(json!({
            "spec": {"name": "cp", "envs": ["CartPole-v1"], "generations": 3,
                     "strategy": {"popsize": 8}},
            "axes": {"seed": [1, 2, 3], "strategy.sigma0": [0.1, 0.5]},
        }))
        .unwrap();
        assert_eq!(plan.name, "cp");
        assert_eq!(plan.jobs.len(), 6);
        let mut variants: Vec<String> = plan.jobs.iter().map(|j| label(&j.variant)).collect();
        variants.sort();
        variants.dedup();
        assert_eq!(variants, ["strategy.sigma0=0.1", "strategy.sigma0=0.5"]);
        let JobPayload::Evolve(spec) = &plan.jobs[4].payload else {
            panic!("an evolution job")
        };
        // The last axis varies fastest: job 4 is seed 3, σ0 = 0.1.
        assert_eq!(spec.seed, 3);
        assert_eq!(spec.strategy.sigma0, 0.1);
        assert_eq!(spec.strategy.popsize, 8, "the spec's own fields stay");
        assert_eq!(spec.name, "cp [seed=3, strategy.sigma0=0.1]");
    }

    #[test]
    fn a_value_listed_twice_or_an_axis_given_twice_is_refused_by_its_path() {
        for (values, field) in [
            (json!([1, 1, 1]), "axes.seed[1]"),
            (json!([1, 2, 1.0]), "axes.seed[2]"),
        ] {
            let e = plan(json!({"spec": {"envs": ["CartPole-v1"]}, "axes": {"seed": values}}))
                .unwrap_err();
            assert_eq!(e.field, field);
            assert!(e.message.contains("repeats axes.seed[0]"), "{}", e.message);
        }
        assert_eq!(
            plan(json!({"spec": {"envs": ["CartPole-v1"]}, "axes": {"seed": [1, 2, 3]}}))
                .unwrap()
                .jobs
                .len(),
            3
        );
        // Big seeds that one f64 cannot tell apart are still two seeds.
        let big = json!({"spec": {"envs": ["CartPole-v1"]},
                         "axes": {"seed": [1_u64 << 60, (1_u64 << 60) + 1]}});
        assert_eq!(plan(big).unwrap().jobs.len(), 2);

        let twice = br#"{"spec": {"envs": ["CartPole-v1"]},
                         "axes": {"seed": [1, 2], "seed": [3]}}"#;
        let e = FieldError::from(SweepPlan::parse(twice).unwrap_err());
        assert_eq!(e.field, "axes");
        assert!(
            e.message.contains("\"seed\" is given twice"),
            "{}",
            e.message
        );
    }

    #[test]
    fn the_example_sweeps_are_valid() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweeps");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let plan = SweepPlan::parse(&std::fs::read(&path).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(plan.jobs.len() > 1, "{}", path.display());
            seen += 1;
        }
        assert!(seen > 0);
    }

    #[test]
    fn a_bad_combination_names_the_spec_field_and_the_combination() {
        let e = plan(json!({
            "spec": {"envs": ["CartPole-v1"]},
            "axes": {"lifetime.episodes": [4, 0]},
        }))
        .unwrap_err();
        assert_eq!(e.field, "spec.lifetime.episodes");
        assert!(e.message.contains("lifetime.episodes=0"), "{}", e.message);
    }

    #[test]
    fn the_number_of_jobs_is_bounded_before_anything_is_expanded() {
        let many: Vec<Value> = (0..limits::MAX_AXIS_VALUES as u64)
            .map(Value::from)
            .collect();
        let e = plan(json!({
            "spec": {"envs": ["CartPole-v1"]},
            "axes": {"seed": many, "lifetime.episodes": many, "generations": many},
        }))
        .unwrap_err();
        assert_eq!(e.field, "axes");
        for (axes, field) in [
            (json!({}), "axes"),
            (json!({"seed": []}), "axes.seed"),
            (json!({"strategy..x": [1]}), "axes.strategy..x"),
            (json!({"name": ["a"]}), "axes.name"),
            (
                json!({"strategy": [{}], "strategy.sigma0": [1]}),
                "axes.strategy",
            ),
            // A path through a number: the spec parser refuses the object it would write.
            (json!({"seed.x": [1]}), "spec.seed"),
        ] {
            let e = plan(json!({"spec": {"envs": ["CartPole-v1"]}, "axes": axes})).unwrap_err();
            assert_eq!(e.field, field, "{axes}: {}", e.message);
        }
    }
}
