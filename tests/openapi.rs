//! The OpenAPI document at `/api/v1/openapi.json`: every route the router serves is in it with
//! its methods, every `$ref` resolves, and (where installed) a real validator accepts it.

mod common;

use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Every (method, path) the router serves. A route added to the router but not to the document
/// (or the other way round) fails `document_lists_every_route`.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs/cancel"),
    ("post", "/api/v1/jobs/estimate"),
    ("get", "/api/v1/jobs/{id}"),
    ("delete", "/api/v1/jobs/{id}"),
    ("patch", "/api/v1/jobs/{id}"),
    ("post", "/api/v1/jobs/{id}/cancel"),
    ("post", "/api/v1/jobs/{id}/resume"),
    ("post", "/api/v1/jobs/{id}/clone"),
    ("get", "/api/v1/jobs/{id}/evaluation"),
    ("post", "/api/v1/sweeps"),
    ("get", "/api/v1/sweeps"),
    ("get", "/api/v1/sweeps/{id}"),
    ("delete", "/api/v1/sweeps/{id}"),
    ("post", "/api/v1/sweeps/{id}/cancel"),
    ("get", "/api/v1/jobs/{id}/history"),
    ("get", "/api/v1/jobs/{id}/history/chart"),
    ("get", "/api/v1/jobs/{id}/genomes"),
    ("get", "/api/v1/jobs/{id}/events"),
    ("post", "/api/v1/genomes"),
    ("get", "/api/v1/genomes/{id}"),
    ("get", "/api/v1/genomes/{id}/download"),
    ("post", "/api/v1/genomes/{id}/evaluate"),
    ("post", "/api/v1/imports"),
    ("post", "/api/v1/imports/{id}/generations"),
    ("post", "/api/v1/imports/{id}/genomes"),
    ("post", "/api/v1/imports/{id}/finish"),
    ("get", "/api/v1/genomes/{id}/replay"),
    ("get", "/api/v1/events"),
    ("get", "/api/v1/envs"),
    ("get", "/api/v1/executors"),
    ("get", "/api/v1/examples"),
    ("get", "/api/v1/healthz"),
    ("get", "/api/v1/openapi.json"),
    ("get", "/healthz"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn document_lists_every_route() {
    let s = common::start(0, None).await;
    let doc = s.get_json("/openapi.json").await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "openapi: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string());

    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (m.to_string(), path.clone()))
        })
        .collect();
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in the test's route list"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routes missing from the document"
    );

    // Every listed route is really served: none reaches the router's fallback or gets a 405.
    let id = "00000000-0000-4000-8000-000000000000";
    for (method, path) in ROUTES {
        let url = format!("{}{}", s.url, path.replace("{id}", id));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = s.client.request(method.clone(), &url).send().await.unwrap();
        let status = response.status();
        assert_ne!(status, 405, "{method} {path}: method not allowed");
        if status == 404 {
            let body: Value = response.json().await.unwrap();
            assert_ne!(
                body["error"]["message"], "route not found",
                "{method} {path} is documented but not served"
            );
        }
        // Event streams never end: dropping the response closes them.
    }

    // Each operation has an id, and the ids are unique.
    let mut ids = BTreeSet::new();
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        let id = op["operationId"].as_str().expect("operationId");
        assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
    }
    s.server.stop().await.unwrap();
}

#[tokio::test]
async fn every_ref_resolves_and_schemas_match_the_code() {
    let s = common::start(0, None).await;
    let doc = s.get_json("/openapi.json").await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20, "suspiciously few $refs: {}", refs.len());
    for r in &refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected $ref {r}"));
        assert!(schemas.contains_key(name), "$ref {r} does not resolve");
    }

    // The spec's top-level fields, with only `envs` required and unknown fields refused.
    let spec = &schemas["JobSpec"];
    let fields: BTreeSet<&str> = spec["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "name",
        "tags",
        "envs",
        "model",
        "lifetime",
        "strategy",
        "generations",
        "stop",
        "seed",
        "executor",
        "init_genome",
        "checkpoint_interval",
        "mean_genome_interval",
        "priority",
    ]
    .into();
    assert_eq!(fields, expected);
    assert_eq!(spec["required"], serde_json::json!(["envs"]));
    assert_eq!(spec["additionalProperties"], false);
    assert_eq!(spec["properties"]["generations"]["default"], 10_000);

    // Query parameters list their allowed values.
    let params = |path: &str| -> Vec<Value> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .clone()
    };
    let param = |path: &str, name: &str| -> Value {
        params(path)
            .into_iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    };
    let enum_of = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()]["enum"].clone(),
            None => schema["enum"].clone(),
        }
    };
    assert_eq!(
        enum_of(&param("/api/v1/jobs", "status")["schema"]),
        serde_json::json!(["queued", "running", "succeeded", "failed", "cancelled"])
    );
    assert_eq!(
        enum_of(&param("/api/v1/jobs", "kind")["schema"]),
        serde_json::json!(["evolve", "evaluate"])
    );
    assert_eq!(param("/api/v1/jobs", "limit")["schema"]["maximum"], 500);
    assert!(param("/api/v1/jobs", "cursor")["schema"].is_object());
    assert_eq!(
        enum_of(&param("/api/v1/jobs/{id}/history", "format")["schema"]),
        serde_json::json!(["json", "csv", "ndjson"])
    );
    assert_eq!(
        enum_of(&param("/api/v1/genomes/{id}/download", "format")["schema"]),
        serde_json::json!(["json", "safetensors", "raw"])
    );
    assert_eq!(
        param("/api/v1/jobs/{id}/history/chart", "max_points")["schema"]["minimum"],
        2
    );
    assert!(param("/api/v1/jobs/{id}/events", "after")["schema"].is_object());

    // Content types.
    let content = |path: &str, method: &str, status: &str| -> BTreeSet<String> {
        doc["paths"][path][method]["responses"][status]["content"]
            .as_object()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert!(content("/api/v1/jobs/{id}/events", "get", "200").contains("text/event-stream"));
    assert!(content("/api/v1/events", "get", "200").contains("text/event-stream"));
    assert!(content("/api/v1/jobs/{id}/history", "get", "200").contains("text/csv"));
    let upload: BTreeSet<String> =
        doc["paths"]["/api/v1/genomes"]["post"]["requestBody"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
    assert!(upload.contains("application/json") && upload.contains("application/octet-stream"));
    let clone = &doc["paths"]["/api/v1/jobs/{id}/clone"]["post"]["requestBody"];
    let patch = clone["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .expect("a typed patch");
    assert_eq!(schemas[patch.rsplit('/').next().unwrap()]["type"], "object");
    assert_ne!(clone["required"], true, "a clone without a body is allowed");

    // A real error body has exactly the documented shape.
    let response = s.client.get(s.api("/jobs?limit=0")).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let error_ref = doc["paths"]["/api/v1/jobs"]["get"]["responses"]["422"]["content"]
        ["application/json"]["schema"]["$ref"]
        .as_str()
        .unwrap();
    assert_eq!(error_ref, "#/components/schemas/ErrorBody");
    let detail = &schemas["ErrorDetail"];
    for key in body["error"].as_object().unwrap().keys() {
        assert!(
            detail["properties"].get(key).is_some(),
            "error body field {key} is not in the schema"
        );
    }
    for key in detail["required"].as_array().unwrap() {
        assert!(body["error"].get(key.as_str().unwrap()).is_some());
    }
    s.server.stop().await.unwrap();
}

/// CI installs openapi-spec-validator and sets REQUIRE_OPENAPI_VALIDATOR=1, so there this check
/// must run; elsewhere it runs when python3 can import it.
#[tokio::test]
async fn a_real_validator_accepts_the_document() {
    let required = std::env::var("REQUIRE_OPENAPI_VALIDATOR").is_ok_and(|v| v == "1");
    let available = std::process::Command::new("python3")
        .args(["-c", "import openapi_spec_validator"])
        .status()
        .is_ok_and(|s| s.success());
    if !available {
        assert!(
            !required,
            "REQUIRE_OPENAPI_VALIDATOR=1 but python3 cannot import openapi_spec_validator"
        );
        eprintln!("SKIP OpenAPI validator check: openapi-spec-validator is not installed");
        return;
    }
    let s = common::start(0, None).await;
    let doc = s.get_json("/openapi.json").await;
    let path = s.dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             validate(json.load(open(sys.argv[1])))\n\
             print('valid')",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openapi-spec-validator rejects the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    s.server.stop().await.unwrap();
}

/// The drift the document had from the server, item by item: each schema now says what the
/// server accepts, and the server does accept what the schema allows at its edges.
#[tokio::test]
async fn the_document_says_what_the_server_accepts() {
    let s = common::start(0, None).await;
    let doc = s.get_json("/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let query = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))["schema"]
            .clone()
    };

    // An empty cursor is no cursor.
    let cursor = query("/api/v1/jobs", "cursor");
    assert_eq!(cursor["minLength"], 1, "{cursor}");
    assert_eq!(cursor["type"], "string");

    // Parameters are absent or one of their values: never null, so never `?format=`.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let text = p["schema"].to_string();
                assert!(
                    !text.contains("null"),
                    "{method} {path} ?{}: {text}",
                    p["name"]
                );
            }
        }
    }
    for (path, values) in [
        (
            "/api/v1/genomes/{id}/download",
            json!(["json", "safetensors", "raw"]),
        ),
        (
            "/api/v1/jobs/{id}/history",
            json!(["json", "csv", "ndjson"]),
        ),
    ] {
        let format = query(path, "format");
        assert_eq!(format["enum"], values, "{path}: {format}");
        assert_eq!(format["type"], "string");
    }

    // A genome file's tag is the one the server reads.
    let genome = &schemas["GenomeFile"]["properties"];
    assert_eq!(genome["format"]["enum"], json!(["sfnn-genome"]));
    assert_eq!(genome["version"]["enum"], json!([1]));

    // Tags: 1 to MAX_TAG_CHARS characters, at most MAX_TAGS of them.
    let tags = &schemas["JobSpec"]["properties"]["tags"];
    assert_eq!(tags["items"]["minLength"], 1, "{tags}");
    assert_eq!(
        tags["items"]["maxLength"],
        sfnn::limits::spec::MAX_TAG_CHARS
    );
    assert_eq!(tags["maxItems"], sfnn::limits::spec::MAX_TAGS);
    assert_eq!(
        query("/api/v1/jobs", "tag")["maxLength"],
        sfnn::limits::spec::MAX_TAG_CHARS
    );

    // The job list's order and search, and a job's patch, as the server checks them.
    let sort = query("/api/v1/jobs", "sort");
    assert_eq!(
        sort["enum"],
        json!(sfnn::store::JobSort::allowed()),
        "{sort}"
    );
    assert_eq!(
        query("/api/v1/jobs", "q")["maxLength"],
        sfnn::limits::http::MAX_SEARCH_CHARS
    );
    let patch = &schemas["JobPatch"]["properties"];
    assert_eq!(
        patch["notes"]["maxLength"],
        sfnn::limits::spec::MAX_NOTES_CHARS
    );
    assert_eq!(
        patch["name"]["maxLength"],
        sfnn::limits::spec::MAX_NAME_CHARS
    );
    assert_eq!(patch["tags"]["maxItems"], sfnn::limits::spec::MAX_TAGS);

    // Single-field ranges of the spec, from the same constants the server checks.
    let lifetime = &schemas["LifetimeConfig"]["properties"];
    assert_eq!(
        lifetime["episodes"]["maximum"],
        sfnn::limits::spec::MAX_EPISODES
    );
    assert_eq!(
        schemas["JobSpec"]["properties"]["envs"]["maxItems"],
        sfnn::limits::spec::MAX_ENVS
    );
    assert_eq!(
        schemas["JobSpec"]["properties"]["generations"]["minimum"],
        1
    );

    // The clone body: the spec's fields, none required, no others.
    let clone = &doc["paths"]["/api/v1/jobs/{id}/clone"]["post"]["requestBody"];
    assert_eq!(
        clone["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/JobSpecPatch"
    );
    let patch = &schemas["JobSpecPatch"];
    assert_eq!(patch["additionalProperties"], false);
    assert!(patch.get("required").is_none(), "{patch}");
    let keys = |schema: &Value| -> BTreeSet<String> {
        schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(keys(patch), keys(&schemas["JobSpec"]));
    assert!(patch["properties"]["generations"].get("default").is_none());

    // Environment names: an enum of the registry, wherever a name goes.
    let names: Vec<&str> = sfnn::envs::names();
    assert_eq!(schemas["EnvName"]["enum"], json!(names));
    let env_name = json!({"$ref": "#/components/schemas/EnvName"});
    assert!(
        schemas["EnvEntry"]["oneOf"]
            .as_array()
            .unwrap()
            .contains(&env_name)
    );
    assert_eq!(schemas["EnvOverride"]["properties"]["name"], env_name);
    assert_eq!(
        schemas["EvaluateRequest"]["properties"]["envs"]["items"],
        env_name
    );
    assert_eq!(
        schemas["EvaluationSpec"]["properties"]["envs"]["items"],
        env_name
    );

    // Topology probabilities are probabilities (the server refuses others, spec or evaluation).
    for p in ["p_ih", "p_hh", "p_ho", "p_oh", "p_io"] {
        let schema = &schemas["Topology"]["properties"][p];
        assert_eq!(
            (&schema["minimum"], &schema["maximum"]),
            (&json!(0), &json!(1)),
            "{p}"
        );
    }

    // Integer fields are `integer`, which JSON Schema says 1.0 is; the server takes it so.
    assert_eq!(
        schemas["JobSpec"]["properties"]["generations"]["type"],
        "integer"
    );
    let mut spec = common::tiny_spec(2);
    spec["generations"] = json!(2.0);
    spec["tags"] = json!(["ü".repeat(sfnn::limits::spec::MAX_TAG_CHARS)]);
    spec["envs"] = json!(names.iter().take(2).collect::<Vec<_>>());
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let job: Value = response.json().await.unwrap();
    let id = job["id"].as_str().unwrap();
    // A patch of the documented shape is applied.
    let response = s
        .client
        .post(s.api(&format!("/jobs/{id}/clone")))
        .json(&json!({"seed": 5.0, "tags": ["x"], "model": {"topology": {"p_hh": 0.25}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let clone: Value = response.json().await.unwrap();
    assert_eq!(clone["spec"]["seed"], 5);
    assert_eq!(clone["spec"]["model"]["topology"]["p_hh"], 0.25);

    // Job-creating operations document the admission limits.
    for (path, method) in [
        ("/api/v1/jobs", "post"),
        ("/api/v1/jobs/{id}/clone", "post"),
        ("/api/v1/genomes/{id}/evaluate", "post"),
        ("/api/v1/sweeps", "post"),
    ] {
        let limited = &doc["paths"][path][method]["responses"]["429"];
        assert!(
            limited["headers"]["Retry-After"].is_object(),
            "{method} {path}: {limited}"
        );
    }
    s.server.stop().await.unwrap();
}

/// The token guards every request that can change something, and the document says so for each
/// such operation and no other; strategy options and sweep sizes are stated where the form reads
/// them.
#[tokio::test]
async fn guarded_operations_and_declared_limits_are_documented() {
    let s = common::start(0, None).await;
    let doc = s.get_json("/openapi.json").await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let guarded = !matches!(method.as_str(), "get" | "head" | "options");
            let security = &operation["security"];
            assert_eq!(
                security
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())),
                guarded,
                "{method} {path}: {security}"
            );
            assert_eq!(
                operation["responses"].get("401").is_some(),
                guarded,
                "{method} {path}"
            );
        }
    }
    let options = &doc["components"]["schemas"]["StrategyConfig"]["properties"];
    assert_eq!(
        options["elite_ratio"]["x-strategies"],
        json!(["cma_es", "sep_cma_es"])
    );
    assert_eq!(options["elite_ratio"]["maximum"], 1);
    assert_eq!(options["lr_sigma"]["x-strategies"], json!(["snes"]));
    assert_eq!(options["sigma0"]["exclusiveMinimum"], 0);
    let sweep = &doc["components"]["schemas"]["SweepRequest"];
    assert_eq!(sweep["x-max-jobs"], sfnn::limits::sweep::MAX_JOBS);
    assert_eq!(
        sweep["properties"]["axes"]["additionalProperties"]["maxItems"],
        sfnn::limits::sweep::MAX_AXIS_VALUES
    );
    s.server.stop().await.unwrap();
}
