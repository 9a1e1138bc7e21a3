//! The output folder of `sfnn run`: history (JSON Lines while running, CSV and JSON), genomes
//! and the checkpoint. Every file that is rewritten is replaced atomically (write, then rename),
//! so an interrupted run never leaves a torn file behind.

use crate::evolution::compute::JobCompute;
use crate::evolution::{Checkpoint, GenerationRecord, JobSpec};
use crate::model::GenomeFile;
use anyhow::{Context, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub struct OutputDir {
    root: PathBuf,
}

const HISTORY_JSONL: &str = "history.jsonl";
const CHECKPOINT: &str = "checkpoint.json";
const COMPUTE: &str = "compute.json";

/// `compute.json`: what the run's recorded generations cost and where they ran (the machine
/// of every run of it: "several" where a resumed run moved).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunCompute {
    #[serde(flatten)]
    pub totals: JobCompute,
    /// Generations recorded.
    pub generations: u64,
    pub executor: String,
    pub device: String,
}

/// What `sfnn push` writes into a run folder it imported (the import's id, to continue a failed
/// push and refuse a second one).
pub const PUSH_MARKER: &str = "push.json";

/// Every file a run writes: where one of them is, a run has been.
const RUN_FILES: [&str; 11] = [
    HISTORY_JSONL,
    CHECKPOINT,
    COMPUTE,
    "spec.json",
    "history.json",
    "history.csv",
    "best_genome.json",
    "best_genome.safetensors",
    "mean_genome.json",
    "mean_genome.safetensors",
    // The import `sfnn push` made of the run: an earlier run's must not be continued.
    PUSH_MARKER,
];

impl OutputDir {
    /// The first file of an earlier run in folder `root`, if any.
    pub fn earlier_run(root: &Path) -> Option<&'static str> {
        RUN_FILES.into_iter().find(|name| root.join(name).exists())
    }

    /// Removes an earlier run's files, so that nothing of it is mistaken for the new run's.
    pub fn remove_run(&self) -> Result<()> {
        for name in RUN_FILES {
            let path = self.path(name);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    pub fn create(root: &Path) -> Result<Self> {
        fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        Ok(OutputDir {
            root: root.to_path_buf(),
        })
    }

    /// A folder that exists already (`sfnn push` reads a run's).
    pub fn open(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            anyhow::bail!("{} is not a folder", root.display());
        }
        Ok(OutputDir {
            root: root.to_path_buf(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let target = self.path(name);
        let tmp = self.path(&format!(".{name}.tmp"));
        let mut f = File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &target).with_context(|| format!("writing {}", target.display()))?;
        Ok(())
    }

    pub fn write_spec(&self, spec: &JobSpec) -> Result<()> {
        self.write_atomic("spec.json", serde_json::to_string_pretty(spec)?.as_bytes())
    }

    /// The spec an earlier run in this folder ran with, if it wrote one.
    pub fn read_spec(&self) -> Result<Option<JobSpec>> {
        let path = self.path("spec.json");
        if !path.exists() {
            return Ok(None);
        }
        let bytes = fs::read(&path)?;
        Ok(Some(
            JobSpec::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        ))
    }

    pub fn read_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let path = self.path(CHECKPOINT);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path)?;
        Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("reading checkpoint {}", path.display())
        })?))
    }

    pub fn write_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()> {
        self.write_atomic(CHECKPOINT, serde_json::to_string(checkpoint)?.as_bytes())
    }

    /// The recorded history, cut to the first `generations` records (a run resumed from a
    /// checkpoint redoes the generations after it).
    pub fn read_history(&self, generations: u64) -> Result<Vec<GenerationRecord>> {
        let path = self.path(HISTORY_JSONL);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let mut records = Vec::new();
        for line in BufReader::new(File::open(&path)?).lines() {
            let line = line?;
            // A torn last line (killed mid-write) is simply dropped.
            let Ok(record) = serde_json::from_str::<GenerationRecord>(&line) else {
                break;
            };
            if record.generation >= generations {
                break;
            }
            records.push(record);
        }
        Ok(records)
    }

    /// Rewrites the JSON Lines history to exactly `records` (used on resume).
    pub fn reset_history(&self, records: &[GenerationRecord]) -> Result<()> {
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        self.write_atomic(HISTORY_JSONL, text.as_bytes())
    }

    pub fn append_record(&self, record: &GenerationRecord) -> Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(HISTORY_JSONL))?;
        writeln!(f, "{}", serde_json::to_string(record)?)?;
        Ok(())
    }

    /// `history.json` (an array) and `history.csv` (one row per generation).
    pub fn write_history_tables(&self, records: &[GenerationRecord]) -> Result<()> {
        self.write_atomic(
            "history.json",
            serde_json::to_string_pretty(records)?.as_bytes(),
        )?;
        self.write_atomic(
            "history.csv",
            crate::evolution::csv::table(records).as_bytes(),
        )
    }

    pub fn read_compute(&self) -> Result<Option<RunCompute>> {
        let path = self.path(COMPUTE);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read_to_string(&path)?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
        ))
    }

    pub fn write_compute(&self, compute: &RunCompute) -> Result<()> {
        self.write_atomic(COMPUTE, serde_json::to_string_pretty(compute)?.as_bytes())
    }

    pub fn write_genome(&self, stem: &str, genome: &GenomeFile) -> Result<()> {
        self.write_atomic(&format!("{stem}.json"), genome.to_json().as_bytes())?;
        self.write_atomic(&format!("{stem}.safetensors"), &genome.to_safetensors())
    }
}
