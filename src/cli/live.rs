//! `sfnn run --server URL`: the run's generations go to an import on the server while the run
//! goes, so the dashboard follows it like any job. A thread of its own sends them (the run never
//! waits on the network); when the run finishes, `sfnn push`'s code sends what is left, the
//! genomes and the end. An interrupted run leaves its import open, and `--resume` continues it.

use super::import_client::Import;
use crate::evolution::GenerationRecord;
use anyhow::{Result, anyhow};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The thread that feeds an import the run's records as they come.
pub(super) struct LiveUpload {
    records: mpsc::Sender<GenerationRecord>,
    thread: JoinHandle<Result<Import>>,
}

impl LiveUpload {
    /// Starts feeding `import`, first with what `history` has and the server lacks.
    pub fn start(mut import: Import, history: Vec<GenerationRecord>) -> LiveUpload {
        let (records, incoming) = mpsc::channel::<GenerationRecord>();
        let thread = std::thread::spawn(move || {
            let mut history = history;
            import.upload(&history)?;
            // Each wake-up sends every record that arrived meanwhile, in as few requests as
            // the body limit allows.
            while let Ok(record) = incoming.recv() {
                history.push(record);
                history.extend(incoming.try_iter());
                import.upload(&history)?;
            }
            Ok(import)
        });
        LiveUpload { records, thread }
    }

    /// Queues a record for the server (a stopped uploader says why at [`LiveUpload::finish`]).
    pub fn send(&self, record: &GenerationRecord) {
        let _ = self.records.send(record.clone());
    }

    /// Waits until every queued record is on the server; the import, or why it is not.
    pub fn finish(self) -> Result<Import> {
        drop(self.records);
        self.thread
            .join()
            .map_err(|_| anyhow!("the upload thread panicked"))?
    }
}
