//! Reading `sfnn run` folders back: the spec, the history, the compute account and the
//! evaluations kept beside them. A folder committed to a repository may hold its history
//! gzip-compressed (`history.jsonl.gz`); it reads the same.

use super::output::RunCompute;
use crate::evolution::GenerationRecord;
use crate::evolution::evaluation::EvaluationResult;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where a run folder keeps evaluations of its genomes (`sfnn eval --json` files).
pub const EVALUATIONS: &str = "evaluations";

/// One run folder as written by `sfnn run` (and `sfnn eval --json` into `evaluations/`).
pub struct RunFolder {
    pub dir: PathBuf,
    pub spec: Option<serde_json::Value>,
    /// Empty for a folder that holds only evaluations (a baseline).
    pub history: Vec<GenerationRecord>,
    pub compute: Option<RunCompute>,
    /// The evaluations, by file stem, in name order.
    pub evaluations: Vec<(String, EvaluationResult)>,
}

impl RunFolder {
    /// Reads a folder; a history is required unless `history_optional`.
    pub fn read(dir: &Path, history_optional: bool) -> Result<RunFolder> {
        let history = match open_maybe_gz(&dir.join("history.jsonl"))? {
            Some(reader) => read_history(reader, &dir.join("history.jsonl"))?,
            None if history_optional => Vec::new(),
            None => bail!(
                "{}: not a run folder of `sfnn run` (no history.jsonl or history.jsonl.gz)",
                dir.display()
            ),
        };
        let spec = match open_maybe_gz(&dir.join("spec.json"))? {
            Some(reader) => serde_json::from_reader(reader).ok(),
            None => None,
        };
        let compute = match open_maybe_gz(&dir.join("compute.json"))? {
            Some(reader) => Some(
                serde_json::from_reader(reader)
                    .with_context(|| format!("reading {}/compute.json", dir.display()))?,
            ),
            None => None,
        };
        let mut evaluations = Vec::new();
        let folder = dir.join(EVALUATIONS);
        if folder.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            for path in files {
                let text =
                    std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
                let result: EvaluationResult = serde_json::from_slice(&text)
                    .with_context(|| format!("{}: not an evaluation result", path.display()))?;
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                evaluations.push((stem, result));
            }
        }
        Ok(RunFolder {
            dir: dir.to_path_buf(),
            spec,
            history,
            compute,
            evaluations,
        })
    }
}

/// `path`, or `path.gz` decompressed, or `None` where neither exists.
fn open_maybe_gz(path: &Path) -> Result<Option<Box<dyn Read>>> {
    if path.exists() {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        return Ok(Some(Box::new(file)));
    }
    let gz = path.with_extension(match path.extension() {
        Some(ext) => format!("{}.gz", ext.to_string_lossy()),
        None => "gz".into(),
    });
    if gz.exists() {
        let file = std::fs::File::open(&gz).with_context(|| format!("opening {}", gz.display()))?;
        return Ok(Some(Box::new(flate2::read::GzDecoder::new(file))));
    }
    Ok(None)
}

/// A JSON Lines history; a torn last line (a run killed mid-write, or still running) ends it.
fn read_history(reader: Box<dyn Read>, path: &Path) -> Result<Vec<GenerationRecord>> {
    let mut records = Vec::new();
    for (number, line) in BufReader::new(reader).lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        match serde_json::from_str(&line) {
            Ok(record) => records.push(record),
            Err(_) if line.trim_end().ends_with('}') => {
                bail!(
                    "{} line {}: not a generation record",
                    path.display(),
                    number + 1
                )
            }
            Err(_) => break,
        }
    }
    Ok(records)
}
