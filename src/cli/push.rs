//! `sfnn push DIR --server URL`: uploads a finished `sfnn run` folder (spec, history, final
//! genomes) to a server, where it becomes a job like any other, through the import endpoints
//! (`src/api/imports.rs`): open, generations in batches under the body limit, genomes, finish.
//!
//! A failed push loses nothing and can simply be run again: `DIR/push.json` remembers the
//! import, and the next push continues it from the generations the server holds (the server
//! stores each batch before answering, and stores a genome sent twice once). `--restart`
//! opens a new import instead; a run already pushed whole is not pushed twice.

use super::output::{OutputDir, PUSH_MARKER as MARKER};
use crate::evolution::{Checkpoint, Evolution, GenerationRecord, JobSpec, StopReason};
use crate::limits::import::{MAX_BATCH_RECORDS, PUSH_BATCH_BYTES};
use crate::model::GenomeFile;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The folder of a finished run (`sfnn run --out`).
    dir: PathBuf,
    /// The server, e.g. `http://127.0.0.1:8080` (plain HTTP).
    #[arg(long, env = "SFNN_SERVER")]
    server: String,
    /// The server's API token, where it has one.
    #[arg(long, env = "SFNN_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The job's name on the server (default: the spec's).
    #[arg(long)]
    name: Option<String>,
    /// Open a new import even where `DIR/push.json` names an unfinished one.
    #[arg(long)]
    restart: bool,
}

/// Attempts of one request that fails for want of the server (connection, 5xx, 429, 503).
const ATTEMPTS: u32 = 6;

pub fn push(args: PushArgs) -> Result<()> {
    let run = FinishedRun::read(&args.dir)?;
    let server = Server::new(&args.server, args.token.clone())?;
    let marker = args.dir.join(MARKER);

    let mut job = None;
    if !args.restart
        && let Some(id) = remembered_import(&marker, &server.base)
        && let Some(found) = server.get_optional(&format!("/jobs/{id}"))?
        && found["imported"] == true
        && found["spec"] == run.spec
    {
        if found["status"] == "succeeded" && found["generation"] == run.history.len() {
            eprintln!("already pushed");
            println!("{}", server.job_url(&id));
            return Ok(());
        }
        if found["status"] == "running" {
            eprintln!(
                "continuing import {id} from generation {}",
                found["generation"]
            );
            job = Some(found);
        }
    }
    let job = match job {
        Some(job) => job,
        None => {
            let mut body = json!({"spec": run.spec});
            if let Some(name) = &args.name {
                body["name"] = json!(name);
            }
            let job = server.send("opening the import", "/imports", &body, &[])?;
            let id = job_id(&job)?;
            let remembered = json!({"server": server.base, "job_id": id});
            if let Err(e) = std::fs::write(&marker, remembered.to_string()) {
                eprintln!(
                    "warning: cannot write {} ({e}); a failed push will start over",
                    marker.display()
                );
            }
            job
        }
    };
    let id = job_id(&job)?;
    upload_history(&server, &id, &run.history, held(&job))?;
    for genome in &run.genomes {
        let path = format!(
            "/imports/{id}/genomes?kind={}&generation={}",
            genome.kind, genome.generation
        );
        server.send_bytes(&format!("uploading {}", genome.file), &path, &genome.bytes)?;
    }
    let finish = json!({
        "generations": run.history.len(),
        "genomes": run.genomes.len(),
        "stop_reason": run.stop_reason,
    });
    if let Err(e) = server.send(
        "finishing the import",
        &format!("/imports/{id}/finish"),
        &finish,
        &[],
    ) {
        // A finish whose answer was lost, sent again, is refused: done if the job says so.
        if server.get(&format!("/jobs/{id}"))?["status"] != "succeeded" {
            return Err(e);
        }
    }
    eprintln!(
        "pushed {} generations and {} genomes",
        run.history.len(),
        run.genomes.len()
    );
    println!("{}", server.job_url(&id));
    Ok(())
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
) -> Result<()> {
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
    Ok(())
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

/// A run folder that `sfnn run` finished: everything an import needs, checked.
struct FinishedRun {
    /// The spec as the server will hold it (parsed and written back, defaults filled in).
    spec: Value,
    history: Vec<GenerationRecord>,
    stop_reason: StopReason,
    genomes: Vec<RunGenome>,
}

/// A genome file of the run and where it belongs.
struct RunGenome {
    file: &'static str,
    kind: &'static str,
    generation: u64,
    bytes: Vec<u8>,
}

impl FinishedRun {
    fn read(dir: &Path) -> Result<FinishedRun> {
        let out = OutputDir::open(dir)?;
        let spec_path = out.path("spec.json");
        let bytes = std::fs::read(&spec_path)
            .with_context(|| format!("{} is not a run folder", dir.display()))?;
        let spec = JobSpec::parse(&bytes)
            .map_err(|e| anyhow!("{}: invalid spec: {e}", spec_path.display()))?;
        let history = read_history(&out.path("history.jsonl"))?;
        let unfinished = |why: String| {
            anyhow!(
                "{} holds an unfinished run ({why}); finish it with `sfnn run {} --out {} \
                 --resume`, then push it",
                dir.display(),
                spec_path.display(),
                dir.display()
            )
        };
        let checkpoint: Checkpoint = out
            .read_checkpoint()?
            .ok_or_else(|| unfinished("no checkpoint.json".into()))?;
        if checkpoint.generation != history.len() as u64 {
            return Err(unfinished(format!(
                "its checkpoint is at generation {}, its history has {} records",
                checkpoint.generation,
                history.len()
            )));
        }
        let best = checkpoint.best.as_ref().map(|b| b.generation);
        let evolution = Evolution::from_checkpoint(spec.clone(), checkpoint);
        let stop_reason = evolution.stop_reason().ok_or_else(|| {
            unfinished(format!(
                "stopped after {} of {} generations",
                history.len(),
                spec.generations
            ))
        })?;
        let last = history.len() as u64 - 1;
        let mut genomes = Vec::new();
        let mut kept = vec![("mean_genome.safetensors", "final_mean", last)];
        if let Some(generation) = best {
            kept.push(("best_genome.safetensors", "final_best", generation));
        }
        for (file, kind, generation) in kept {
            let path = out.path(file);
            let genome = GenomeFile::load(&path)?;
            if genome.model != spec.model.config() {
                bail!(
                    "{}: the genome's model differs from the spec's",
                    path.display()
                );
            }
            genomes.push(RunGenome {
                file,
                kind,
                generation,
                bytes: std::fs::read(&path)?,
            });
        }
        Ok(FinishedRun {
            spec: serde_json::to_value(&spec)?,
            history,
            stop_reason,
            genomes,
        })
    }
}

/// Every record of `history.jsonl`, in order from generation 0; a torn or missing line is an
/// error here (`sfnn run` drops a torn last line only when it resumes).
fn read_history(path: &Path) -> Result<Vec<GenerationRecord>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut history = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let record: GenerationRecord = serde_json::from_str(line).with_context(|| {
            format!(
                "{} line {}: not a generation record (a run killed mid-write?)",
                path.display(),
                i + 1
            )
        })?;
        if record.generation != i as u64 {
            bail!(
                "{} line {}: generation {}, expected {i}",
                path.display(),
                i + 1,
                record.generation
            );
        }
        history.push(record);
    }
    if history.is_empty() {
        bail!("{} holds no generations", path.display());
    }
    Ok(history)
}

/// A request the server refused because the import holds other generations than it assumed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct OutOfStep(String);

/// The server's API, with retries where the server is briefly away.
struct Server {
    base: String,
    token: Option<String>,
    client: reqwest::blocking::Client,
}

impl Server {
    fn new(url: &str, token: Option<String>) -> Result<Server> {
        let base = url.trim_end_matches('/').to_string();
        if base.starts_with("https://") {
            bail!(
                "--server {url}: sfnn push speaks plain HTTP only; reach the server on its \
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

    fn job_url(&self, id: &str) -> String {
        format!("{}/#/jobs/{id}", self.base)
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.get_optional(path)?
            .ok_or_else(|| anyhow!("{}{path}: not found", self.base))
    }

    /// `None` for a 404.
    fn get_optional(&self, path: &str) -> Result<Option<Value>> {
        let url = format!("{}/api/v1{path}", self.base);
        self.retrying(&format!("reading {path}"), &[], || self.client.get(&url))
            .map(Some)
            .or_else(|e| match e.downcast_ref::<NotFound>() {
                Some(_) => Ok(None),
                None => Err(e),
            })
    }

    /// POSTs JSON; `out_of_step` lists error fields that mean [`OutOfStep`].
    fn send(&self, what: &str, path: &str, body: &Value, out_of_step: &[&str]) -> Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        self.retrying(what, out_of_step, || {
            self.authorised(self.client.post(&url)).json(body)
        })
    }

    /// POSTs a safetensors file.
    fn send_bytes(&self, what: &str, path: &str, bytes: &[u8]) -> Result<Value> {
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
