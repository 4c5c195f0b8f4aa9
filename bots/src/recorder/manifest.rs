//! The per-call `manifest.json`: which file holds whom, and where each track starts on the call clock.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallManifest {
    pub version: u32,
    /// Wall-clock time of the call clock's zero, so offsets can be turned into real times.
    pub started_at_unix_ms: u64,
    /// False while recording; a manifest left `false` means the writer died and files end at their last page.
    pub finished: bool,
    pub tracks: Vec<TrackEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackEntry {
    pub participant: String,
    pub display_name: String,
    /// File name inside the call's directory.
    pub file: String,
    /// Where the file's first sample sits on the call clock.
    pub start_offset_ms: u64,
    /// Length of the recorded audio, set when the track or the call ends.
    pub duration_ms: Option<u64>,
}

impl CallManifest {
    pub fn new(started_at_unix_ms: u64) -> Self {
        Self {
            version: 1,
            started_at_unix_ms,
            finished: false,
            tracks: Vec::new(),
        }
    }

    /// Replaces the manifest atomically (write, fsync, rename), so a crash leaves the old or the new one.
    pub fn write_atomic(&self, dir: &Path) -> io::Result<()> {
        let tmp = dir.join(format!("{MANIFEST_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        let mut f = File::create(&tmp)?;
        f.write_all(&json)?;
        f.sync_data()?;
        fs::rename(&tmp, dir.join(MANIFEST_FILE))?;
        sync_dir(dir)
    }

    pub fn read(dir: &Path) -> io::Result<Self> {
        let bytes = fs::read(dir.join(MANIFEST_FILE))?;
        serde_json::from_slice(&bytes).map_err(io::Error::other)
    }
}

/// Makes new and renamed directory entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
