//! `sfnn push DIR --server URL`: uploads a finished `sfnn run` folder (spec, history, final
//! genomes) to a server, where it becomes a job like any other, through the import endpoints
//! (`src/api/imports.rs`): open, generations in batches under the body limit, genomes, finish.
//!
//! A failed push loses nothing and can simply be run again: `DIR/push.json` remembers the
//! import, and the next push continues it from the generations the server holds
//! ([`super::import_client`]). `--restart` opens a new import instead; a run already pushed
//! whole is not pushed twice. A run recorded live (`sfnn run --server`) is finished this way.

use super::import_client::{Import, Server};
use super::output::OutputDir;
use crate::evolution::{Checkpoint, Evolution, GenerationRecord, JobSpec, StopReason};
use crate::model::GenomeFile;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

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

pub fn push(args: PushArgs) -> Result<()> {
    let server = Server::new(&args.server, args.token.clone())?;
    push_dir(&args.dir, server, args.name.as_deref(), args.restart)
}

/// Pushes the finished run in `dir` to `server`, continuing its import where there is one.
pub(super) fn push_dir(
    dir: &Path,
    server: Server,
    name: Option<&str>,
    restart: bool,
) -> Result<()> {
    let run = FinishedRun::read(dir)?;
    let mut import = Import::open_or_continue(server, dir, &run.spec, name, restart)?;
    if import.job["status"] == "succeeded" && import.held() == run.history.len() {
        eprintln!("already pushed");
        println!("{}", import.url());
        return Ok(());
    }
    if !import.is_open() {
        // Cancelled or failed on the server: a new import takes the whole run.
        import = Import::open_or_continue(import.server, dir, &run.spec, name, true)?;
    } else if import.held() > 0 {
        eprintln!(
            "continuing import {} from generation {}",
            import.id,
            import.held()
        );
    }
    import.upload(&run.history)?;
    let Import { server, id, .. } = &import;
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
    println!("{}", import.url());
    Ok(())
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
