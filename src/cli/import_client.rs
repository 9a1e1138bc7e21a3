//! The import endpoints (`src/api/imports.rs`) from the command line: a run recorded here
//! becomes a job on a server, opened once, then fed generations in batches under the body limit,
//! then genomes, then finished. `sfnn push` sends a finished folder; `sfnn run --server` feeds
//! the import while the run goes ([`super::live`]).
//!
//! A folder's `push.json` remembers its import, so an upload that failed, or a run resumed,
//! continues the same job from the generations the server holds (the server stores each batch
//! before answering, and stores a genome sent twice once).

use super::output::PUSH_MARKER as MARKER;
use crate::evolution::GenerationRecord;
use crate::limits::import::{MAX_BATCH_RECORDS, PUSH_BATCH_BYTES};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Attempts of one request that fails for want of the server (connection, 5xx, 429, 503).
const ATTEMPTS: u32 = 6;

/// An open import: the job on the server that a run's records go to.
pub(super) struct Import {
    pub server: Server,
    pub id: String,
    /// The job as the server last answered.
    pub job: Value,
}

impl Import {
    /// The import `dir`'s marker names on this server when it is still open for `spec` (and
    /// `restart` is not asked), else a new one named `name`, remembered in the marker.
    pub fn open_or_continue(
        server: Server,
        dir: &Path,
        spec: &Value,
        name: Option<&str>,
        restart: bool,
    ) -> Result<Import> {
        let marker = dir.join(MARKER);
        if !restart
            && let Some(id) = remembered_import(&marker, &server.base)
            && let Some(job) = server.get_optional(&format!("/jobs/{id}"))?
            && job["imported"] == true
            && job["spec"] == *spec
        {
            return Ok(Import { server, id, job });
        }
        let mut body = json!({"spec": spec});
        if let Some(name) = name {
            body["name"] = json!(name);
        }
        let job = server.send("opening the import", "/imports", &body, &[])?;
        let id = job_id(&job)?;
        let remembered = json!({"server": server.base, "job_id": id});
        if let Err(e) = std::fs::write(&marker, remembered.to_string()) {
            eprintln!(
                "warning: cannot write {} ({e}); a failed upload will start over",
                marker.display()
            );
        }
        Ok(Import { server, id, job })
    }

    /// Generations the server holds.
    pub fn held(&self) -> usize {
        held(&self.job)
    }

    /// Whether the import still takes records (not finished, cancelled or failed).
    pub fn is_open(&self) -> bool {
        self.job["status"] == "running"
    }

    /// The job's page on the server's dashboard.
    pub fn url(&self) -> String {
        format!("{}/#/jobs/{}", self.server.base, self.id)
    }

    /// Sends the records of `history` the import lacks; see [`upload_history`].
    pub fn upload(&mut self, history: &[GenerationRecord]) -> Result<()> {
        let held = upload_history(&self.server, &self.id, history, self.held())?;
        self.job["generation"] = json!(held);
        Ok(())
    }
}

/// The import a folder's marker names on this server, if any.
fn remembered_import(marker: &Path, base: &str) -> Option<String> {
    let text = std::fs::read_to_string(marker).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    (value["server"] == base)
        .then(|| value["job_id"].as_str().map(String::from))
        .flatten()
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
}

fn job_id(job: &Value) -> Result<String> {
    job["id"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| anyhow!("the server answered without a job id: {job}"))
}

/// Generations a job holds.
fn held(job: &Value) -> usize {
    job["generation"].as_u64().unwrap_or(0) as usize
}

/// Sends the records the import lacks, in batches within the server's limits. Where an answer
/// was lost, the job says how far the server got, and the upload continues from there.
fn upload_history(
    server: &Server,
    id: &str,
    history: &[GenerationRecord],
    mut next: usize,
) -> Result<usize> {
    let path = format!("/imports/{id}/generations");
    let mut resyncs = 0;
    while next < history.len() {
        let batch = batch_from(history, next)?;
        let body = json!({"records": batch});
        match server.send(
            "uploading generations",
            &path,
            &body,
            &["records[0].generation"],
        ) {
            Ok(job) => next = held(&job),
            Err(e) if e.downcast_ref::<OutOfStep>().is_some() && resyncs < ATTEMPTS => {
                // The server holds other generations than this batch assumed (an answer lost
                // after the batch was stored): continue from what it holds.
                resyncs += 1;
                next = held(&server.get(&format!("/jobs/{id}"))?);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(next)
}

/// Records from `start` on, as many as one request may carry.
fn batch_from(history: &[GenerationRecord], start: usize) -> Result<&[GenerationRecord]> {
    let mut bytes = 0;
    let mut end = start;
    while end < history.len() && end - start < MAX_BATCH_RECORDS {
        let record = serde_json::to_string(&history[end])?.len() + 1;
        if bytes + record > PUSH_BATCH_BYTES {
            if end == start {
                bail!(
                    "generation {start}'s record is {record} bytes of JSON, more than one \
                     request may carry"
                );
            }
            // The batch is full; this record starts the next one.
            break;
        }
        bytes += record;
        end += 1;
    }
    Ok(&history[start..end])
}

/// A request the server refused because the import holds other generations than it assumed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct OutOfStep(String);

/// The server's API, with retries where the server is briefly away.
pub(super) struct Server {
    pub base: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
}

impl Server {
    pub fn new(url: &str, token: Option<String>) -> Result<Server> {
        let base = url.trim_end_matches('/').to_string();
        if base.starts_with("https://") {
            bail!(
                "--server {url}: sfnn speaks plain HTTP only to a server; reach the server on its \
                 http:// address or through a tunnel (ssh -L)"
            );
        }
        if !base.starts_with("http://") {
            bail!("--server {url}: give the server's address, e.g. http://127.0.0.1:8080");
        }
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .context("starting the HTTP client")?;
        Ok(Server {
            base,
            token,
            client,
        })
    }

    pub fn get(&self, path: &str) -> Result<Value> {
        self.get_optional(path)?
            .ok_or_else(|| anyhow!("{}{path}: not found", self.base))
    }

    /// `None` for a 404.
    pub fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        let url = format!("{}/api/v1{path}", self.base);
        self.retrying(&format!("reading {path}"), &[], || self.client.get(&url))
            .map(Some)
            .or_else(|e| match e.downcast_ref::<NotFound>() {
                Some(_) => Ok(None),
                None => Err(e),
            })
    }

    /// POSTs JSON; `out_of_step` lists error fields that mean [`OutOfStep`].
    pub fn send(
        &self,
        what: &str,
        path: &str,
        body: &Value,
        out_of_step: &[&str],
    ) -> Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        self.retrying(what, out_of_step, || {
            self.authorised(self.client.post(&url)).json(body)
        })
    }

    /// POSTs a safetensors file.
    pub fn send_bytes(&self, what: &str, path: &str, bytes: &[u8]) -> Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        self.retrying(what, &[], || {
            self.authorised(self.client.post(&url))
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec())
        })
    }

    fn authorised(
        &self,
        request: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends the request `make` builds, again after a pause where the server was away or busy
    /// (no answer, 5xx, 429), honouring `Retry-After`; a refusal is an error with the server's
    /// reason and the field it names.
    fn retrying(
        &self,
        what: &str,
        out_of_step: &[&str],
        make: impl Fn() -> reqwest::blocking::RequestBuilder,
    ) -> Result<Value> {
        let mut pause = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let last = attempt == ATTEMPTS;
            let response = match make().send() {
                Ok(response) => response,
                Err(e) if !last => {
                    eprintln!("{what}: {e}; trying again in {pause:?}");
                    std::thread::sleep(pause);
                    pause *= 2;
                    continue;
                }
                Err(e) => return Err(anyhow!("{what}: {} did not answer: {e}", self.base)),
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json()
                    .with_context(|| format!("{what}: the server's answer is not JSON"));
            }
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(60)));
            let body: Value = response.json().unwrap_or(Value::Null);
            let error = &body["error"];
            let message = match (error["field"].as_str(), error["message"].as_str()) {
                (Some(field), Some(message)) => format!("{field}: {message}"),
                (None, Some(message)) => message.to_string(),
                _ => status.to_string(),
            };
            let transient = status.is_server_error() || status.as_u16() == 429;
            if transient && !last {
                let wait = retry_after.unwrap_or(pause);
                eprintln!("{what}: {status} {message}; trying again in {wait:?}");
                std::thread::sleep(wait);
                pause *= 2;
                continue;
            }
            if status.as_u16() == 404 {
                return Err(NotFound.into());
            }
            if error["field"]
                .as_str()
                .is_some_and(|f| out_of_step.contains(&f))
            {
                return Err(OutOfStep(message).into());
            }
            if status.as_u16() == 401 {
                bail!("{what}: the server needs its API token (--token or SFNN_API_TOKEN)");
            }
            bail!("{what}: the server refused ({status}): {message}");
        }
        unreachable!("the last attempt returns")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("not found")]
struct NotFound;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolution::run::{FitnessStats, Timing};

    /// A record of about `bytes` bytes of JSON.
    fn record(generation: u64, bytes: usize) -> GenerationRecord {
        GenerationRecord {
            generation,
            fitness: FitnessStats {
                best: 0.0,
                mean: 0.0,
                worst: 0.0,
                std: 0.0,
                q25: 0.0,
                median: 0.0,
                q75: 0.0,
            },
            best_so_far: 0.0,
            improved: false,
            envs: vec![],
            sigma: 1.0,
            telemetry: vec![("x".repeat(bytes), 0.0)],
            env_steps: 1,
            timing: Timing::default(),
        }
    }

    #[test]
    fn batches_are_cut_by_size_and_a_record_too_large_for_any_is_refused() {
        let third = PUSH_BATCH_BYTES / 3;
        let history: Vec<_> = (0..7).map(|g| record(g, third)).collect();
        let mut start = 0;
        let mut sizes = Vec::new();
        while start < history.len() {
            let batch = batch_from(&history, start).unwrap();
            let bytes: usize = batch
                .iter()
                .map(|r| serde_json::to_string(r).unwrap().len() + 1)
                .sum();
            assert!(bytes <= PUSH_BATCH_BYTES, "{bytes}");
            sizes.push(batch.len());
            start += batch.len();
        }
        assert_eq!(sizes, [2, 2, 2, 1]);
        let huge = [record(0, PUSH_BATCH_BYTES)];
        let error = batch_from(&huge, 0).unwrap_err().to_string();
        assert!(error.contains("more than one request may carry"), "{error}");
    }
}
