//! What the API reads, read one way everywhere: a clone's patch however the body is framed,
//! tags counted in characters, an evaluation's topology checked like a spec's, and integer
//! fields given as integer-valued floats (JSON Schema counts 1.0 as an integer).

mod common;

use common::{raw, start, tiny_spec};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_clone_body_is_applied_as_a_patch() {
    let s = start(0, None).await;
    let id = s.submit(&tiny_spec(1)).await;
    let patch = br#"{"seed": 77, "strategy": {"popsize": 8}}"#;
    let response = raw::send(
        s.server.address,
        &format!(
            "POST /api/v1/jobs/{id}/clone HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked"
        ),
        &raw::chunked(patch, 7),
    )
    .await;
    assert_eq!(
        response.status,
        201,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let clone = response.json();
    assert_eq!(clone["spec"]["seed"], 77);
    assert_eq!(clone["spec"]["strategy"]["popsize"], 8);

    // A chunked body that is not JSON is refused, not ignored.
    let response = raw::send(
        s.server.address,
        &format!(
            "POST /api/v1/jobs/{id}/clone HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked"
        ),
        &raw::chunked(b"{\"seed\": ", 4),
    )
    .await;
    assert_eq!(response.status, 400);
    assert_eq!(response.json()["error"]["code"], "invalid_json");

    // An empty chunked body clones the spec as it is.
    let response = raw::send(
        s.server.address,
        &format!(
            "POST /api/v1/jobs/{id}/clone HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Transfer-Encoding: chunked"
        ),
        &raw::chunked(b"", 1),
    )
    .await;
    assert_eq!(response.status, 201);
    assert_eq!(response.json()["spec"]["seed"], tiny_spec(1)["seed"]);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_counted_in_characters_in_specs_filters_and_bulk_cancel() {
    let s = start(0, None).await;
    // 64 characters, 128 bytes: one tag by the spec's rule, so by every rule.
    let long = "é".repeat(64);
    let mut spec = tiny_spec(1);
    spec["tags"] = json!([long]);
    let id = s.submit(&spec).await;

    let url = reqwest::Url::parse_with_params(&s.api("/jobs"), [("tag", long.as_str())]).unwrap();
    let response = s.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["jobs"][0]["id"], id.as_str());

    let too_long = "é".repeat(65);
    let url =
        reqwest::Url::parse_with_params(&s.api("/jobs"), [("tag", too_long.as_str())]).unwrap();
    let response = s.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "tag");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("64 characters")
    );

    let response = s
        .client
        .post(s.api("/jobs/cancel"))
        .json(&json!({"tag": long}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["cancelled"], 1);
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evaluation_topology_must_hold_probabilities() {
    let s = start(0, None).await;
    let values: Vec<f32> = vec![0.01; 565];
    let file = sfnn::model::GenomeFile::new(sfnn::model::ModelConfig::default(), values, None);
    let response = s
        .client
        .post(s.api("/genomes"))
        .header("content-type", "application/json")
        .body(file.to_json())
        .send()
        .await
        .unwrap();
    let genome: Value = response.json().await.unwrap();
    let url = s.api(&format!(
        "/genomes/{}/evaluate",
        genome["id"].as_str().unwrap()
    ));
    for (topology, field) in [
        (json!({"p_ih": -5}), "topology.p_ih"),
        (json!({"p_hh": 0.5, "p_oh": 1.5}), "topology.p_oh"),
        (json!({"preset": "layered", "p_io": 1e300}), "topology.p_io"),
    ] {
        let body = json!({"envs": ["CartPole-v1"], "topology": topology});
        let response = s.client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status(), 422, "{topology}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["field"], field);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("[0, 1]")
        );
    }
    let body = json!({"envs": ["CartPole-v1"], "topology": {"p_ih": 0, "p_hh": 1}});
    let response = s.client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    // Nothing invalid was queued.
    assert_eq!(
        s.get_json("/jobs").await["jobs"].as_array().unwrap().len(),
        1
    );
    s.server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integer_fields_take_integer_valued_floats() {
    let s = start(0, None).await;
    let mut spec = tiny_spec(3);
    spec["generations"] = json!(3.0);
    spec["seed"] = json!(7.0);
    spec["strategy"] = json!({"popsize": 6.0, "sigma0": 1.0});
    spec["lifetime"]["episodes"] = json!(2e0);
    spec["priority"] = json!(-5.0);
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["spec"]["generations"], 3);
    assert_eq!(job["spec"]["seed"], 7);
    assert_eq!(job["spec"]["strategy"]["popsize"], 6);
    assert_eq!(job["priority"], -5);
    // Float fields keep their values.
    assert_eq!(job["spec"]["strategy"]["sigma0"], 1.0);

    // A fraction is still no integer, and the error names the field.
    spec["generations"] = json!(2.5);
    let response = s
        .client
        .post(s.api("/jobs"))
        .json(&spec)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "generations");

    // The same in a clone's patch.
    let id = job["id"].as_str().unwrap();
    let response = s
        .client
        .post(s.api(&format!("/jobs/{id}/clone")))
        .json(&json!({"seed": 8.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let clone: Value = response.json().await.unwrap();
    assert_eq!(clone["spec"]["seed"], 8);
    s.server.stop().await.unwrap();
}

/// schemathesis found this: a genome whose model sizes multiply past `usize` panicked the
/// handler (the connection dropped with no answer) before the sizes were checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genome_of_overflowing_sizes_is_refused_not_a_panic() {
    let s = start(0, None).await;
    let body = json!({
        "format": "sfnn-genome", "version": 1, "tensors": [], "values": [],
        "model": {"nodes": 9026, "msg_dims": 1_220_248_562u64, "node_types": 928_089_734_972_571u64}
    });
    let response = s
        .client
        .post(s.api("/genomes"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_value");
    assert_eq!(s.get_json("/healthz").await["status"], "ok");
    s.server.stop().await.unwrap();
}
