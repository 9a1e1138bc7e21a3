//! `sfnn run <spec.json>`: one job, start to finish, with a progress bar.

use super::import_client::{Import, Server};
use super::live::LiveUpload;
use super::output::{OutputDir, RunCompute};
use super::push;
use crate::evolution::compute::JobCompute;
use crate::evolution::{
    Evolution, GenerationRecord, JobSpec, Kept, RunHost, Stepped, StopReason, drive,
};
use crate::exec::{self, Executor};
use crate::json::JsonError;
use crate::model::GenomeFile;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The job spec (JSON). Only `envs` is required; everything else defaults to the reference.
    spec: PathBuf,
    /// Folder for the history, genomes and checkpoint. A folder that holds an earlier run is
    /// refused unless `--resume` or `--force` says what to do with it.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
    /// Continue from the checkpoint in `--out` instead of starting over.
    #[arg(long)]
    resume: bool,
    /// Start over in an `--out` that holds an earlier run, deleting that run's files.
    #[arg(long, conflicts_with = "resume")]
    force: bool,
    /// Override the spec's generation count.
    #[arg(long)]
    generations: Option<u64>,
    /// Override the spec's seed (one spec file, several runs of it).
    #[arg(long)]
    seed: Option<u64>,
    /// CPU threads (0: one per core).
    #[arg(long, default_value_t = 0, env = "SFNN_THREADS")]
    threads: usize,
    /// Executor (`auto`, `cpu` or `cuda`), overriding the spec's `executor`.
    #[arg(long, value_parser = ["auto", "cpu", "cuda"])]
    executor: Option<String>,
    /// Start the strategy mean from this genome file (JSON or safetensors).
    #[arg(long)]
    init_genome: Option<PathBuf>,
    /// No progress bar; one log line per generation instead.
    #[arg(long)]
    quiet: bool,
    /// Also record the run on this server as it goes (e.g. `http://127.0.0.1:8080`), where the
    /// dashboard follows it like a job; `--resume` continues the same record.
    #[arg(long)]
    server: Option<String>,
    /// The server's API token, where it has one.
    #[arg(
        long,
        env = "SFNN_API_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    token: Option<String>,
    /// The job's name on the server (default: the spec's).
    #[arg(long, requires = "server")]
    name: Option<String>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let mut spec = read_spec(&args.spec)?;
    if let Some(g) = args.generations {
        spec.generations = g;
    }
    if let Some(seed) = args.seed {
        spec.seed = seed;
    }
    // The flags change a validated spec: validate the result.
    spec.validate().map_err(|e| {
        anyhow::anyhow!(
            "{}: with the command line's changes, {e}",
            args.spec.display()
        )
    })?;
    if !args.resume
        && !args.force
        && let Some(file) = OutputDir::earlier_run(&args.out)
    {
        bail!(
            "{} already holds a run ({file}); pass --resume to continue it, --force to start \
             over and delete it, or --out for another folder",
            args.out.display()
        );
    }
    let out = OutputDir::create(&args.out)?;
    if args.force {
        out.remove_run()?;
    }
    let choice = match &args.executor {
        Some(name) => serde_json::from_value(name.clone().into())?,
        None => spec.executor,
    };
    let executor = exec::select(choice, args.threads)?;

    if args.resume
        && let Some(earlier) = out.read_spec()?
        && earlier.seed != spec.seed
    {
        bail!(
            "--resume: the run in {} has seed {}, the spec says {}: pass --seed {}",
            args.out.display(),
            earlier.seed,
            spec.seed,
            earlier.seed
        );
    }
    let evolution = match (args.resume, out.read_checkpoint()?) {
        (true, Some(checkpoint)) => Evolution::from_checkpoint(spec.clone(), checkpoint),
        (true, None) => bail!("--resume: no checkpoint in {}", args.out.display()),
        (false, _) => {
            let init = match &args.init_genome {
                Some(path) => {
                    let genome = GenomeFile::load(path)?;
                    if genome.model != spec.model.config() {
                        bail!("--init-genome: the genome's model differs from the spec's");
                    }
                    Some(
                        genome
                            .values
                            .iter()
                            .map(|&v| f64::from(v))
                            .collect::<Vec<_>>(),
                    )
                }
                None => None,
            };
            Evolution::new(spec.clone(), init.as_deref())
                .map_err(|e| anyhow::anyhow!("invalid spec: {e}"))?
        }
    };
    let history = out.read_history(evolution.generation())?;
    out.reset_history(&history)?;
    // Where this run's generations are computed, with the machines of the runs before it.
    let machine = {
        let mut machines = JobCompute {
            machine: match (args.resume, out.read_compute()?) {
                (true, Some(earlier)) => earlier.totals.machine,
                _ => None,
            },
            ..JobCompute::default()
        };
        machines.add(&JobCompute {
            machine: Some(executor.machine()),
            ..JobCompute::default()
        });
        machines.machine
    };
    out.write_spec(&spec)?;
    eprintln!(
        "{}: {} parameters, {} × {} on {} ({})",
        spec.display_name(),
        evolution.layout().len(),
        spec.strategy.popsize,
        spec.envs
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(" + "),
        executor.name(),
        executor.device()
    );

    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C means "now".
                std::process::exit(130);
            }
            eprintln!("\nstopping after this generation (Ctrl-C again to quit at once)");
        })
        .context("installing the Ctrl-C handler")?;
    }

    let live = match &args.server {
        Some(url) => {
            let server = Server::new(url, args.token.clone())?;
            let spec_value = serde_json::to_value(&spec)?;
            let mut import = Import::open_or_continue(
                server,
                &args.out,
                &spec_value,
                args.name.as_deref(),
                !args.resume,
            )?;
            if !import.is_open() {
                // Finished, cancelled or failed on the server meanwhile: a new record.
                let server = import.server;
                import = Import::open_or_continue(
                    server,
                    &args.out,
                    &spec_value,
                    args.name.as_deref(),
                    true,
                )?;
            }
            eprintln!("recording on the server: {}", import.url());
            Some(LiveUpload::start(import, history.clone()))
        }
        None => None,
    };

    let started = Instant::now();
    let mut host = FolderRun {
        out: &out,
        executor: executor.as_ref(),
        interrupted,
        bar: progress_bar(&spec, evolution.generation(), args.quiet),
        quiet: args.quiet,
        history,
        machine,
        live: live.as_ref(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the run's event loop")?;
    // A halt (Ctrl-C) comes between generations, so the evolution is always whole here.
    let (_, evolution) = runtime.block_on(drive(evolution, &mut host))?;
    let evolution = evolution.context("the run ended half-way through a generation")?;
    save(&out, &evolution)?;
    let compute = host.compute();
    out.write_compute(&compute)?;
    out.write_history_tables(&host.history)?;
    host.bar.finish_and_clear();
    if let Some(live) = live {
        finish_record(live, &args, &evolution)?;
    }
    let reason = match evolution.stop_reason() {
        Some(StopReason::Generations) => "all generations done",
        Some(StopReason::TargetFitness) => "target fitness reached",
        Some(StopReason::Stagnation) => "stagnated",
        Some(StopReason::WallClock) => "wall-clock budget spent",
        None => "interrupted",
    };
    let best = evolution.best().map_or(f64::NAN, |b| b.fitness);
    eprintln!(
        "stopped after {} generations ({reason}): best fitness {best:.6}, {:.1} s; results in {}",
        evolution.generation(),
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    eprintln!("compute: {}", describe(&compute));
    Ok(())
}

/// Brings the server's record of the run up to date: finished (genomes and end state, as
/// `sfnn push` sends them) when the run is, else left open for `--resume`.
fn finish_record(live: LiveUpload, args: &RunArgs, evolution: &Evolution) -> Result<()> {
    let out = args.out.display();
    let import = live.finish().map_err(|e| {
        anyhow::anyhow!(
            "the run is saved in {out}, but its record on the server is incomplete ({e}); \
             `sfnn push {out} --server URL` completes a finished run"
        )
    })?;
    if evolution.stop_reason().is_some() {
        push::push_dir(&args.out, import.server, args.name.as_deref(), false)?;
    } else {
        eprintln!(
            "the server's record stays open at generation {}; `--resume` continues it",
            import.held()
        );
    }
    Ok(())
}

/// A run's compute in one line.
fn describe(compute: &RunCompute) -> String {
    let totals = &compute.totals;
    format!(
        "{:.1} CPU s, {:.1} wall s, {:.3} M SFNN (= environment) steps in {} generations on {} \
         ({}; {})",
        totals.cpu_seconds,
        totals.wall_seconds,
        totals.sfnn_steps as f64 / 1e6,
        compute.generations,
        compute.executor,
        compute.device,
        totals.machine.as_deref().unwrap_or("machine unknown"),
    )
}

/// Reads a spec file through the API's parser; an error names the file and the line and column
/// of a syntax error, or the field of a value error.
fn read_spec(path: &Path) -> Result<JobSpec> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    JobSpec::parse(&bytes).map_err(|e| match e {
        JsonError::Syntax {
            message,
            line,
            column,
        } => anyhow::anyhow!(
            "{}:{line}:{column}: malformed JSON: {message}",
            path.display()
        ),
        other => anyhow::anyhow!("{}: invalid spec: {other}", path.display()),
    })
}

/// A run whose results go to an output folder, stopped early by Ctrl-C.
struct FolderRun<'a> {
    out: &'a OutputDir,
    executor: &'a dyn Executor,
    interrupted: Arc<AtomicBool>,
    bar: ProgressBar,
    quiet: bool,
    history: Vec<GenerationRecord>,
    /// The machine of this run and those before it (see [`RunCompute`]).
    machine: Option<String>,
    /// Where the records also go, with `--server`.
    live: Option<&'a LiveUpload>,
}

impl FolderRun<'_> {
    /// What the recorded generations cost so far.
    fn compute(&self) -> RunCompute {
        RunCompute {
            totals: JobCompute {
                machine: self.machine.clone(),
                ..JobCompute::of_records(&self.history)
            },
            generations: self.history.len() as u64,
            executor: self.executor.name().to_string(),
            device: self.executor.device(),
        }
    }
}

impl RunHost for FolderRun<'_> {
    type Error = anyhow::Error;
    /// Ctrl-C.
    type Halt = ();

    async fn check(&mut self, _: &Evolution) -> Result<Option<()>> {
        Ok(self.interrupted.load(Ordering::SeqCst).then_some(()))
    }

    async fn step(&mut self, mut evolution: Evolution) -> Result<Stepped<()>> {
        let record = evolution.step(self.executor)?;
        Ok(Stepped::Done(Box::new(evolution), record))
    }

    async fn record(&mut self, evolution: &Evolution, kept: Kept<'_>) -> Result<()> {
        // The folder keeps the best and mean genomes as of the last checkpoint.
        self.out.append_record(kept.record)?;
        report(&self.bar, kept.record, evolution.spec(), self.quiet);
        self.history.push(kept.record.clone());
        if let Some(live) = self.live {
            live.send(kept.record);
        }
        if kept.checkpoint_due {
            save(self.out, evolution)?;
            self.out.write_compute(&self.compute())?;
        }
        Ok(())
    }

    async fn finish(&mut self, _: &Evolution, _: StopReason) -> Result<()> {
        // Saved by the caller, as after a halt.
        Ok(())
    }
}

/// The checkpoint and the genomes it implies. The JSON Lines history is written as it goes; the
/// CSV and JSON tables once at the end, since rewriting them at every checkpoint would cost time
/// quadratic in the run length.
fn save(out: &OutputDir, evolution: &Evolution) -> Result<()> {
    out.write_checkpoint(evolution.checkpoint())?;
    let model = evolution.spec().model.config();
    let topology = evolution.spec().model.topology;
    let spec = serde_json::to_value(evolution.spec()).expect("a spec serialises");
    if let Some(best) = evolution.best() {
        let genome = GenomeFile::new(model, best.values.clone(), Some(best.fitness))
            .with_job(topology, spec.clone())
            .with_metadata("kind", "best_so_far")
            .with_metadata("generation", best.generation);
        out.write_genome("best_genome", &genome)?;
    }
    let mean = GenomeFile::new(model, evolution.mean_genome(), None)
        .with_job(topology, spec)
        .with_metadata("kind", "strategy_mean")
        .with_metadata("generation", evolution.generation());
    out.write_genome("mean_genome", &mean)
}

fn progress_bar(spec: &JobSpec, done: u64, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(spec.generations).with_position(done);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} gen · {msg} · ETA {eta}")
            .expect("valid template"),
    );
    bar
}

fn report(bar: &ProgressBar, record: &GenerationRecord, spec: &JobSpec, quiet: bool) {
    let seconds = record.timing.ask + record.timing.evaluate + record.timing.tell;
    let evaluations = (spec.strategy.popsize * spec.lifetime.eval_repeats) as f64 / seconds;
    let line = format!(
        "best {:.4} (so far {:.4}) · mean {:.4} · σ {:.3} · {:.1} evals/s · {:.0} steps/s",
        record.fitness.best,
        record.best_so_far,
        record.fitness.mean,
        record.sigma,
        evaluations,
        record.env_steps as f64 / seconds
    );
    if quiet {
        eprintln!("gen {} · {line}", record.generation);
    } else {
        bar.set_message(line);
        bar.inc(1);
    }
}
