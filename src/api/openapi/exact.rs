//! What the derives cannot say, written into the generated document so that it describes
//! exactly what the server accepts: a client generated from it (or a fuzzer such as
//! schemathesis) must not be told that a value the server refuses is fine.
//!
//! Each step names the schema it changes and panics when that schema is missing, so a renamed
//! type fails the OpenAPI tests instead of silently loosening the document.

use crate::limits::spec::{MAX_NAME_CHARS, MAX_NOTES_CHARS, MAX_TAG_CHARS, MAX_TAGS};
use serde_json::{Value, json};

pub fn apply(doc: &mut Value) {
    environment_names(doc);
    replay_environment(doc);
    tags_and_name(doc);
    job_patch(doc);
    spec_ranges(doc);
    strategy_options(doc);
    sweep_limits(doc);
    clone_patch(doc);
    genome_file_tag(doc);
    telemetry_pairs(doc);
    parameters_are_never_null(doc);
}

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("the OpenAPI document has no {pointer}"))
}

fn schemas(doc: &mut Value) -> &mut serde_json::Map<String, Value> {
    at(doc, "/components/schemas")
        .as_object_mut()
        .expect("components.schemas is an object")
}

/// `EnvName`: the environments of the registry, referenced wherever a name is given.
fn environment_names(doc: &mut Value) {
    schemas(doc).insert(
        "EnvName".into(),
        json!({
            "type": "string",
            "enum": crate::envs::names(),
            "description": "An environment of this server (`GET /api/v1/envs`)",
        }),
    );
    let name = json!({"$ref": "#/components/schemas/EnvName"});
    // A spec's entry is a name or an object with one.
    let variants = at(doc, "/components/schemas/EnvEntry/oneOf")
        .as_array_mut()
        .expect("EnvEntry is a oneOf");
    let plain = variants
        .iter_mut()
        .find(|v| v["type"] == "string")
        .expect("EnvEntry has a string variant");
    *plain = name.clone();
    *at(doc, "/components/schemas/EnvOverride/properties/name") = name.clone();
    *at(
        doc,
        "/components/schemas/EvaluateRequest/properties/envs/items",
    ) = name.clone();
    *at(
        doc,
        "/components/schemas/EvaluationSpec/properties/envs/items",
    ) = name;
}

/// The replay's `env` parameter names an environment (of those the genome has the nodes for).
fn replay_environment(doc: &mut Value) {
    let parameters = at(
        doc,
        "/paths/~1api~1v1~1genomes~1{id}~1replay/get/parameters",
    )
    .as_array_mut()
    .expect("parameters are a list");
    let env = parameters
        .iter_mut()
        .find(|p| p["name"] == "env")
        .expect("the replay has an env parameter");
    env["schema"] = json!({"$ref": "#/components/schemas/EnvName"});
}

/// Tags and names as `JobSpec::validate` counts them: characters, not bytes.
fn tags_and_name(doc: &mut Value) {
    let tags = at(doc, "/components/schemas/JobSpec/properties/tags");
    tags["maxItems"] = json!(MAX_TAGS);
    tags["items"] = json!({"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS});
    at(doc, "/components/schemas/JobSpec/properties/name")["maxLength"] = json!(MAX_NAME_CHARS);
}

/// `JobPatch` as `JobPatch::validate` checks it: the spec's rules for tags, a name that is not
/// all blank, notes up to their limit; and the job list's sort values and search length.
fn job_patch(doc: &mut Value) {
    let tags = json!({
        "type": ["array", "null"],
        "maxItems": MAX_TAGS,
        "items": {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS},
        "description": "Replaces every tag",
    });
    let patch = at(doc, "/components/schemas/JobPatch/properties");
    patch["tags"] = tags;
    patch["name"]["maxLength"] = json!(MAX_NAME_CHARS);
    patch["name"]["pattern"] = json!("\\S");
    patch["notes"]["maxLength"] = json!(MAX_NOTES_CHARS);
    let list = at(doc, "/paths/~1api~1v1~1jobs/get/parameters")
        .as_array_mut()
        .expect("the job list's parameters are a list");
    for parameter in list.iter_mut() {
        match parameter["name"].as_str() {
            Some("sort") => {
                parameter["schema"]["enum"] = json!(crate::store::JobSort::allowed());
            }
            Some("q") => {
                parameter["schema"]["maxLength"] = json!(crate::limits::http::MAX_SEARCH_CHARS);
            }
            _ => {}
        }
    }
}

/// The ranges `JobSpec::validate` checks one field at a time (those that depend on other fields,
/// such as the nodes an environment needs, stay with the server's 422).
fn spec_ranges(doc: &mut Value) {
    use crate::limits::spec::*;
    for range in RANGES {
        // The schema of the spec's section the field is in.
        let (schema, field) = match range.field.split_once('.') {
            None => ("JobSpec", range.field),
            Some(("model", field)) => ("ModelSpec", field),
            Some(("lifetime", field)) => ("LifetimeConfig", field),
            Some(("strategy", field)) => ("StrategyConfig", field),
            Some(("stop", field)) => ("StopRules", field),
            Some((section, _)) => panic!("no schema for the spec's section {section}"),
        };
        let property = at(
            doc,
            &format!("/components/schemas/{schema}/properties/{field}"),
        );
        property["minimum"] = json!(range.min);
        property["maximum"] = json!(range.max);
    }
    let envs = at(doc, "/components/schemas/JobSpec/properties/envs");
    envs["minItems"] = json!(1);
    envs["maxItems"] = json!(MAX_ENVS);
    let init = at(doc, "/components/schemas/JobSpec/properties/init_genome");
    init["minLength"] = json!(1);
    init["maxLength"] = json!(MAX_ID_CHARS);
}

/// Each strategy option's bound, and the strategies that read it (`x-strategies`).
fn strategy_options(doc: &mut Value) {
    use crate::evolution::strategies::{RealBound, STRATEGY_OPTIONS};
    for option in STRATEGY_OPTIONS {
        let property = at(
            doc,
            &format!(
                "/components/schemas/StrategyConfig/properties/{}",
                option.field
            ),
        );
        let used_by: Vec<&str> = option.used_by.iter().map(|s| s.as_str()).collect();
        property["x-strategies"] = json!(used_by);
        match option.real.map(|(bound, _)| bound) {
            Some(RealBound::Positive) => property["exclusiveMinimum"] = json!(0),
            Some(RealBound::NonNegative) => property["minimum"] = json!(0),
            Some(RealBound::UnitInterval) => {
                property["exclusiveMinimum"] = json!(0);
                property["maximum"] = json!(1);
            }
            None => {}
        }
    }
}

/// A sweep's size: its jobs (`x-max-jobs`), axes and values per axis.
fn sweep_limits(doc: &mut Value) {
    use crate::limits::sweep::{MAX_AXES, MAX_AXIS_VALUES, MAX_JOBS};
    let request = at(doc, "/components/schemas/SweepRequest");
    request["x-max-jobs"] = json!(MAX_JOBS);
    let axes = &mut request["properties"]["axes"];
    axes["maxProperties"] = json!(MAX_AXES);
    axes["additionalProperties"] = json!({"type": "array", "maxItems": MAX_AXIS_VALUES});
}

/// The clone body: a merge patch of a spec, i.e. any of the spec's fields, none required, no
/// others (an unknown field is refused when the patched spec is read).
fn clone_patch(doc: &mut Value) {
    let mut patch = at(doc, "/components/schemas/JobSpec").clone();
    let object = patch.as_object_mut().expect("JobSpec is an object schema");
    object.remove("required");
    object.insert(
        "description".into(),
        json!(
            "A JSON merge patch (RFC 7386) of the job's spec: objects merge, anything else \
             replaces, `null` removes (the default applies)"
        ),
    );
    for property in object["properties"]
        .as_object_mut()
        .expect("JobSpec has properties")
        .values_mut()
    {
        // A field left out of a patch keeps the job's value, not the default.
        if let Some(p) = property.as_object_mut() {
            p.remove("default");
        }
    }
    schemas(doc).insert("JobSpecPatch".into(), patch);
    *at(
        doc,
        "/paths/~1api~1v1~1jobs~1{id}~1clone/post/requestBody/content/application~1json/schema",
    ) = json!({"$ref": "#/components/schemas/JobSpecPatch"});
}

/// A genome file names its format and version; any other tag (`"format": ""`) is refused.
fn genome_file_tag(doc: &mut Value) {
    let tagged = crate::model::GenomeFile::new(Default::default(), Vec::new(), None);
    let properties = at(doc, "/components/schemas/GenomeFile/properties");
    properties["format"] = json!({"type": "string", "enum": [tagged.format]});
    properties["version"] = json!({"type": "integer", "enum": [tagged.version]});
}

/// `GenerationRecord.telemetry`: `[name, value]` pairs. The derive says it with `prefixItems`
/// and `items: false` (nothing after the two), which RapiDoc (`/api/docs`) cannot render: it
/// needs an `items` schema for every array. `maxItems: 2` says "nothing after the two" instead,
/// which leaves `items` free to describe the elements for RapiDoc without admitting anything
/// more (it applies only after the prefix).
fn telemetry_pairs(doc: &mut Value) {
    let pair = at(
        doc,
        "/components/schemas/GenerationRecord/properties/telemetry/items",
    );
    let pair = pair
        .as_object_mut()
        .expect("a telemetry pair is a schema object");
    assert_eq!(
        pair.get("items"),
        Some(&json!(false)),
        "telemetry pairs changed shape"
    );
    pair.insert("minItems".into(), json!(2));
    pair.insert("maxItems".into(), json!(2));
    pair.insert(
        "items".into(),
        json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
    );
}

/// A parameter (query or header) is absent or text: `null` is not one of its values (an
/// `Option` type says "may be absent", which `required: false` already says), and a client
/// that sends one sends `?format=`, which is refused.
fn parameters_are_never_null(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut() {
            let Some(parameters) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            for parameter in parameters.iter_mut() {
                strip_null(&mut parameter["schema"]);
            }
        }
    }
}

fn strip_null(schema: &mut Value) {
    if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            schema["type"] = types[0].clone();
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get_mut(key).and_then(Value::as_array_mut) {
            variants.retain(|v| v["type"] != "null");
            if variants.len() == 1 {
                let only = variants[0].clone();
                let object = schema.as_object_mut().expect("a schema object");
                object.remove(key);
                if let Value::Object(fields) = only {
                    object.extend(fields);
                }
            }
        }
    }
}
