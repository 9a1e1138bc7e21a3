//! Blocking HTTP helpers for tests that drive `sfnn` processes over real sockets.

use serde_json::Value;
use std::net::TcpListener;
use std::time::Duration;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub fn get(url: &str) -> Option<Value> {
    let response = client().get(url).send().ok()?;
    response
        .status()
        .is_success()
        .then(|| response.json().ok())?
}

pub fn submit(base: &str, spec: &Value) -> String {
    let job: Value = client()
        .post(format!("{base}/api/v1/jobs"))
        .json(spec)
        .send()
        .unwrap()
        .json()
        .unwrap();
    job["id"].as_str().unwrap().to_string()
}

/// A kept genome: kind, generation, fitness and SHA-256 of its values.
pub type GenomeKey = (String, Option<u64>, Value, String);

/// History without wall-clock timings, and genomes by (kind, generation) with fitness and hash.
pub fn outcome(base: &str, id: &str) -> (Vec<Value>, Vec<GenomeKey>) {
    let mut history: Vec<Value> = get(&format!("{base}/api/v1/jobs/{id}/history"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    for record in &mut history {
        record.as_object_mut().unwrap().remove("timing");
    }
    let mut genomes: Vec<_> = get(&format!("{base}/api/v1/jobs/{id}/genomes"))
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["kind"].as_str().unwrap().to_string(),
                g["generation"].as_u64(),
                g["fitness"].clone(),
                g["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    genomes.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    (history, genomes)
}
