//! A small filesystem of its own (a tmpfs mount, which needs root) that a test can fill to the
//! last byte and free again: a real full disk, not a simulated error.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set (as CI does) when a tmpfs mount must work here: the test then fails instead of skipping.
pub const REQUIRE_VAR: &str = "REQUIRE_TMPFS";

/// A tmpfs of a given size mounted on a temporary directory; unmounted on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB, or `None` (with a SKIP line) where that is not possible,
    /// unless `REQUIRE_TMPFS=1`, which turns that into a panic.
    pub fn mount(mib: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
                    Err(e) => e.to_string(),
                };
                if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
                    panic!("{REQUIRE_VAR}=1 but mounting a tmpfs failed: {why}");
                }
                eprintln!("SKIP: cannot mount a tmpfs (needs root): {why}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a ballast file until the filesystem has not one byte left; returns its path.
    pub fn fill(&self) -> PathBuf {
        let path = self.path().join("ballast");
        let mut file = File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let block = vec![0xA5u8; chunk];
            while file.write_all(&block).is_ok() {}
        }
        let _ = file.sync_all();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process that still holds a file there (a server a failed test left) must not
        // keep the mount alive.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
