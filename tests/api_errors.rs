//! Bad requests get a clear JSON error naming the field, with the right status; none gets a
//! 500 and the server keeps serving.

mod common;

use common::{start, tiny_spec};
use serde_json::{Value, json};

struct Case {
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    method: &'static str,
    path: impl Into<String>,
    body: Option<Value>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        method,
        path: path.into(),
        content_type: body.as_ref().map(|_| "application/json"),
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        status,
        code,
        field,
    }
}

fn raw(
    method: &'static str,
    path: impl Into<String>,
    content_type: Option<&'static str>,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        method,
        path: path.into(),
        content_type,
        body: body.to_vec(),
        status,
        code,
        field: None,
    }
}

fn spec_with(patch: Value) -> Value {
    let mut spec = tiny_spec(1);
    for (k, v) in patch.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_gets_a_clear_error() {
    let s = start(0, None).await;
    let job = s.submit(&tiny_spec(1)).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    let big = vec![b' '; 5 << 20];
    let cases = vec![
        // Malformed bodies and content types.
        raw(
            "POST",
            "/jobs",
            Some("application/json"),
            b"{",
            400,
            "invalid_json",
        ),
        raw(
            "POST",
            "/jobs",
            Some("application/json"),
            b"{} {}",
            400,
            "invalid_json",
        ),
        raw(
            "POST",
            "/jobs",
            Some("application/json"),
            b"",
            400,
            "invalid_json",
        ),
        raw(
            "POST",
            "/jobs",
            Some("text/plain"),
            b"{}",
            415,
            "unsupported_media_type",
        ),
        raw("POST", "/jobs", None, b"{}", 415, "unsupported_media_type"),
        raw(
            "POST",
            "/jobs",
            Some("application/json"),
            &big,
            413,
            "payload_too_large",
        ),
        raw(
            "POST",
            "/genomes",
            Some("text/csv"),
            b"1,2",
            415,
            "unsupported_media_type",
        ),
        raw(
            "POST",
            "/genomes",
            Some("application/octet-stream"),
            b"not safetensors",
            422,
            "invalid_value",
        ),
        // Spec values, each naming its field.
        case(
            "POST",
            "/jobs",
            Some(json!({})),
            422,
            "invalid_value",
            Some("envs"),
        ),
        case(
            "POST",
            "/jobs",
            Some(json!([1])),
            422,
            "invalid_value",
            None,
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"envs": []}))),
            422,
            "invalid_value",
            Some("envs"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"envs": ["Nope-v0"]}))),
            422,
            "invalid_value",
            Some("envs[0]"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"envs": ["CartPole-v1", "CartPole-v1"]}))),
            422,
            "invalid_value",
            Some("envs[1]"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"bogus": 1}))),
            422,
            "invalid_value",
            Some("bogus"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"generations": 0}))),
            422,
            "invalid_value",
            Some("generations"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"generations": -5}))),
            422,
            "invalid_value",
            Some("generations"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"seed": "x"}))),
            422,
            "invalid_value",
            Some("seed"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"lifetime": {"episodes": 0}}))),
            422,
            "invalid_value",
            Some("lifetime.episodes"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(
                json!({"lifetime": {"episode_mode": "sometimes"}}),
            )),
            422,
            "invalid_value",
            Some("lifetime.episode_mode"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"lifetime": {"eval_repeats": 1000}}))),
            422,
            "invalid_value",
            Some("lifetime.eval_repeats"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"model": {"nodes": 3}}))),
            422,
            "invalid_value",
            Some("model.nodes"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"model": {"nodes": 100000}}))),
            422,
            "invalid_value",
            Some("model.nodes"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"model": {"msg_dims": 0}}))),
            422,
            "invalid_value",
            Some("model.msg_dims"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(
                json!({"model": {"topology": {"preset": "ring"}}}),
            )),
            422,
            "invalid_value",
            Some("model.topology.preset"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"model": {"topology": {"p_ih": 2.0}}}))),
            422,
            "invalid_value",
            Some("model.topology.p_ih"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"strategy": {"name": "pso"}}))),
            422,
            "invalid_value",
            Some("strategy.name"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"strategy": {"popsize": 1}}))),
            422,
            "invalid_value",
            Some("strategy.popsize"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"strategy": {"popsize": 10000000}}))),
            422,
            "invalid_value",
            Some("strategy.popsize"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"strategy": {"sigma0": -1.0}}))),
            422,
            "invalid_value",
            Some("strategy.sigma0"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"stop": {"max_wall_seconds": 0}}))),
            422,
            "invalid_value",
            Some("stop.max_wall_seconds"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"priority": 5000}))),
            422,
            "invalid_value",
            Some("priority"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"executor": "tpu"}))),
            422,
            "invalid_value",
            Some("executor"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"init_genome": missing}))),
            422,
            "invalid_value",
            Some("init_genome"),
        ),
        case(
            "POST",
            "/jobs",
            Some(spec_with(json!({"tags": [""]}))),
            422,
            "invalid_value",
            Some("tags[0]"),
        ),
        // Ids and query parameters.
        case("GET", "/jobs/not-a-uuid", None, 404, "not_found", None),
        case(
            "GET",
            format!("/jobs/{missing}"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "POST",
            format!("/jobs/{missing}/cancel"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "DELETE",
            format!("/jobs/{missing}"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "GET",
            "/jobs?status=sleeping",
            None,
            422,
            "invalid_value",
            Some("status"),
        ),
        case(
            "GET",
            "/jobs?limit=0",
            None,
            422,
            "invalid_value",
            Some("limit"),
        ),
        case(
            "GET",
            "/jobs?limit=abc",
            None,
            422,
            "invalid_value",
            Some("limit"),
        ),
        case(
            "GET",
            "/jobs?cursor=%%%",
            None,
            422,
            "invalid_value",
            Some("cursor"),
        ),
        case(
            "GET",
            "/jobs?colour=red",
            None,
            422,
            "invalid_value",
            Some("colour"),
        ),
        case(
            "GET",
            format!("/jobs/{job}/history?format=xml"),
            None,
            422,
            "invalid_value",
            Some("format"),
        ),
        case(
            "GET",
            format!("/jobs/{job}/history/chart?max_points=1"),
            None,
            422,
            "invalid_value",
            Some("max_points"),
        ),
        case(
            "GET",
            format!("/jobs/{job}/events?after=x"),
            None,
            422,
            "invalid_value",
            Some("after"),
        ),
        case(
            "GET",
            format!("/jobs/{job}/evaluation"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "GET",
            format!("/genomes/{missing}"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "GET",
            format!("/genomes/{missing}/download?format=json"),
            None,
            404,
            "not_found",
            None,
        ),
        case(
            "POST",
            format!("/genomes/{missing}/evaluate"),
            Some(json!({"envs": ["CartPole-v1"]})),
            404,
            "not_found",
            None,
        ),
        // State conflicts and bulk operations.
        case(
            "POST",
            format!("/jobs/{job}/resume"),
            None,
            409,
            "conflict",
            None,
        ),
        case(
            "POST",
            "/jobs/cancel",
            Some(json!({"status": "succeeded"})),
            422,
            "invalid_value",
            Some("status"),
        ),
        case(
            "POST",
            "/jobs/cancel",
            Some(json!({"colour": "red"})),
            422,
            "invalid_value",
            Some("colour"),
        ),
        case(
            "POST",
            format!("/jobs/{job}/clone"),
            Some(json!({"strategy": {"popsize": 0}})),
            422,
            "invalid_value",
            Some("strategy.popsize"),
        ),
        case(
            "POST",
            format!("/jobs/{job}/clone"),
            Some(json!(3)),
            422,
            "invalid_value",
            None,
        ),
        case("GET", "/no/such/route", None, 404, "not_found", None),
    ];
    assert!(cases.len() >= 30);
    // A connection per request: the server answers an oversized body with 413 before reading
    // it and then closes the connection, which a pooled client could otherwise reuse for the
    // next case and fail with an incomplete message.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    for c in &cases {
        let url = s.api(&c.path);
        let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
        let mut request = client.request(method, &url);
        if let Some(ct) = c.content_type {
            request = request.header("content-type", ct);
        }
        if !c.body.is_empty() || c.content_type.is_some() {
            request = request.body(c.body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let label = format!("{} {}", c.method, c.path);
        assert_eq!(status, c.status, "{label}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{label}: {text}"));
        assert_eq!(body["error"]["code"], c.code, "{label}: {text}");
        // A value error also lists every one found (at least itself); no other error does.
        assert_eq!(
            body["error"]["errors"].is_array(),
            c.code == "invalid_value",
            "{label}: {text}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        match c.field {
            Some(field) => assert_eq!(body["error"]["field"], field, "{label}: {text}"),
            None => assert!(
                body["error"].get("field").is_none() || body["error"]["field"] == "",
                "{label}: {text}"
            ),
        }
    }
    // Every invalid value of a spec is listed, in the spec's order, the first as `field`.
    let spec = spec_with(json!({
        "generations": 0,
        "strategy": {"popsize": 1, "sigma0": -1.0},
        "lifetime": {"episodes": 0},
    }));
    let response = client
        .post(s.api("/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let fields: Vec<&str> = body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "lifetime.episodes",
            "strategy.popsize",
            "strategy.sigma0",
            "generations"
        ],
        "{body}"
    );
    assert_eq!(body["error"]["field"], "lifetime.episodes");
    assert_eq!(
        body["error"]["errors"][0]["message"],
        body["error"]["message"]
    );
    // Still healthy, and the good job is still there.
    let health = s
        .client
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    s.get_json(&format!("/jobs/{job}")).await;
    s.server.stop().await.unwrap();
}

/// A JSON string with a bad escape or bytes that are not UTF-8 is malformed JSON on every
/// endpoint that reads a body: 400 `invalid_json` with the position, never a dropped connection
/// (the syntax check once skipped strings unread and the typed parse then panicked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_escapes_and_bytes_in_strings_are_malformed_json_everywhere() {
    let s = start(0, None).await;
    let job = s.submit(&tiny_spec(1)).await;
    let missing = "00000000-0000-4000-8000-000000000000";
    let bodies: [&[u8]; 3] = [
        br#"{"envs":["CartPole-v1"],"name":"\ud800"}"#,
        b"{\"envs\":[\"CartPole-v1\"],\"name\":\"\xff\"}",
        br#"{"envs":["CartPole-v1"],"\udfff\ud800":1}"#,
    ];
    let endpoints = [
        ("POST", "/jobs".to_string()),
        ("POST", "/jobs/estimate".to_string()),
        ("POST", "/sweeps".to_string()),
        ("POST", "/imports".to_string()),
        ("POST", "/jobs/cancel".to_string()),
        ("POST", format!("/jobs/{job}/clone")),
        ("PATCH", format!("/jobs/{job}")),
        ("POST", format!("/genomes/{missing}/evaluate")),
    ];
    for (method, path) in &endpoints {
        for body in bodies {
            let response = s
                .client
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    s.api(path),
                )
                .header("content-type", "application/json")
                .body(body.to_vec())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {path}: no response ({e})"));
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            assert_eq!(status, 400, "{method} {path}: {text}");
            let error: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                error["error"]["code"], "invalid_json",
                "{method} {path}: {text}"
            );
            assert!(
                error["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("at line 1 column"),
                "{text}"
            );
        }
    }
    s.get_json(&format!("/jobs/{job}")).await;
    s.server.stop().await.unwrap();
}

/// What axum would answer in plain text (a path that is not UTF-8, a malformed query) is our
/// JSON error too; a NUL in a query value is a bad value of that parameter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_paths_and_queries_get_json_errors() {
    let s = start(0, None).await;
    s.submit(&tiny_spec(1)).await;
    for (path, status, code, field) in [
        ("/jobs/%ff", 400, "invalid_path", None),
        ("/genomes/%ff%fe/download", 400, "invalid_path", None),
        ("/jobs?q=%00", 422, "invalid_value", Some("q")),
        ("/jobs?tag=a%00b", 422, "invalid_value", Some("tag")),
        ("/sweeps?limit=%00", 422, "invalid_value", Some("limit")),
    ] {
        let response = s.client.get(s.api(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{path}: {error}");
        if let Some(field) = field {
            assert_eq!(error["error"]["field"], field, "{path}: {error}");
        }
    }
    // A sweep that lists a value twice, or names an axis twice, is refused by the field's path.
    for (body, field) in [
        (
            r#"{"spec": {"envs": ["CartPole-v1"], "generations": 1}, "axes": {"seed": [1, 1, 1]}}"#,
            "axes.seed[1]",
        ),
        (
            r#"{"spec": {"envs": ["CartPole-v1"], "generations": 1}, "axes": {"seed": [1], "seed": [2]}}"#,
            "axes",
        ),
    ] {
        let response = s
            .client
            .post(s.api("/sweeps"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 422, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{body}: {error}");
    }
    s.server.stop().await.unwrap();
}
