//! Durable recording: each track's original Opus packets into its own Ogg/Opus file, plus a JSON manifest.
//!
//! All file I/O happens on one dedicated thread per call. The async side only sends messages on a bounded
//! std channel, and the thread writes whole pages and fsyncs them at least every `flush_interval`, so a
//! process killed with SIGKILL leaves files that play up to their last flushed page. Audio packets never block
//! the media tasks: when the disk is so slow that [`QUEUE_CAPACITY`] commands are waiting, further packets are
//! dropped, counted in [`RecordingSummary::dropped_packets`] and logged, instead of memory growing without
//! bound (live transcription is fed separately and keeps going).

pub mod manifest;
pub mod ogg;
pub mod opus_file;
pub mod sealed;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

pub use manifest::{CallManifest, TrackEntry, MANIFEST_FILE};
use opus_file::{OggOpusWriter, GRANULE_RATE};
pub use sealed::{RecordingKey, SealedWriter, UnsealError};

use crate::call::ParticipantId;

#[derive(Debug, Clone, Copy)]
pub struct RecorderSettings {
    /// Longest time a packet may sit unflushed. Below one second with room for the fsync itself, so a crash
    /// loses under a second of audio.
    pub flush_interval: Duration,
}

impl Default for RecorderSettings {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_millis(750),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    #[error("cannot prepare recording directory {dir}: {source}")]
    Prepare {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the recorder thread: {0}")]
    Spawn(std::io::Error),
    #[error("the recorder thread panicked")]
    Panicked,
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    pub dir: PathBuf,
    pub manifest: CallManifest,
    /// I/O errors met while recording (each was logged); tracks with errors may be incomplete.
    pub errors: u64,
    /// Packets dropped because the writer fell [`QUEUE_CAPACITY`] commands behind (a stalled disk).
    pub dropped_packets: u64,
}

/// Commands waiting for the writer thread: about 30 s of audio for 16 participants.
pub const QUEUE_CAPACITY: usize = 24_000;

enum Command {
    Track {
        track: u64,
        participant: ParticipantId,
        display_name: String,
        start_offset: Duration,
    },
    Packet {
        track: u64,
        offset: u64,
        payload: Bytes,
    },
    TrackEnded {
        track: u64,
    },
    Finish,
}

/// Cheap, cloneable sender side used by the media tasks. Sending a packet never blocks.
#[derive(Clone, Debug)]
pub struct RecorderHandle {
    tx: mpsc::SyncSender<Command>,
    dropped: Arc<AtomicU64>,
}

impl RecorderHandle {
    /// Opens a file for a new track. `track` is unique within the call; a participant who rejoins gets a new one.
    pub fn track(
        &self,
        track: u64,
        participant: ParticipantId,
        display_name: String,
        start_offset: Duration,
    ) {
        self.send(Command::Track {
            track,
            participant,
            display_name,
            start_offset,
        });
    }

    /// Appends an original Opus packet starting `offset` 48 kHz samples after the track's first packet.
    pub fn packet(&self, track: u64, offset: u64, payload: Bytes) {
        let cmd = Command::Packet {
            track,
            offset,
            payload,
        };
        if let Err(mpsc::TrySendError::Full(_)) = self.tx.try_send(cmd) {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            // Once at the start of a stall and then every 500 packets (10 s of one speaker).
            if n == 1 || n % 500 == 0 {
                tracing::warn!(
                    track,
                    dropped = n,
                    "recording queue full (the disk is not keeping up): audio packets are being dropped from the recording"
                );
            }
        }
    }

    pub fn track_ended(&self, track: u64) {
        self.send(Command::TrackEnded { track });
    }

    /// Control commands (rare) wait for room rather than being dropped.
    fn send(&self, cmd: Command) {
        // The thread only goes away after `finish` or a panic; audio arriving then has nowhere to go anyway.
        let _ = self.tx.send(cmd);
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// The recording of one call: owns the writer thread.
#[derive(Debug)]
pub struct CallRecorder {
    handle: RecorderHandle,
    thread: JoinHandle<RecordingSummary>,
    /// Cuts the writer's batching sleep short when the call ends.
    finishing: Arc<AtomicBool>,
}

impl CallRecorder {
    /// Starts recording into `dir`; with a `key`, every track file is sealed (`.opus.sealed`).
    pub fn start(
        dir: &Path,
        settings: RecorderSettings,
        key: Option<RecordingKey>,
    ) -> Result<Self, RecorderError> {
        let prepare = |source| RecorderError::Prepare {
            dir: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(prepare)?;
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let manifest = CallManifest::new(started);
        manifest.write_atomic(dir).map_err(prepare)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE_CAPACITY);
        let worker = Worker {
            dir: dir.to_path_buf(),
            settings,
            manifest,
            tracks: HashMap::new(),
            dirty_since: None,
            errors: 0,
            key,
        };
        let finishing = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&finishing);
        let thread = std::thread::Builder::new()
            .name("call-recorder".into())
            .spawn(move || worker.run(rx, &flag))
            .map_err(RecorderError::Spawn)?;
        Ok(Self {
            handle: RecorderHandle {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            thread,
            finishing,
        })
    }

    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// Flushes and closes every file and writes the final manifest. Blocks: call it from `spawn_blocking`.
    pub fn finish(self) -> Result<RecordingSummary, RecorderError> {
        self.handle.send(Command::Finish);
        self.finishing.store(true, Ordering::Release);
        self.thread.thread().unpark();
        let mut summary = self.thread.join().map_err(|_| RecorderError::Panicked)?;
        summary.dropped_packets = self.handle.dropped.load(Ordering::Relaxed);
        Ok(summary)
    }
}

/// A track's file: plain Ogg/Opus, or sealed at rest.
enum TrackSink {
    Plain(File),
    Sealed(SealedWriter<File>),
}

impl TrackSink {
    fn sync_data(&self) -> std::io::Result<()> {
        match self {
            TrackSink::Plain(f) => f.sync_data(),
            TrackSink::Sealed(w) => w.get_ref().sync_data(),
        }
    }
}

impl Write for TrackSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            TrackSink::Plain(f) => f.write(buf),
            TrackSink::Sealed(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            TrackSink::Plain(f) => f.flush(),
            TrackSink::Sealed(w) => w.flush(),
        }
    }
}

/// The suffix a sealed track file gets after `.opus`.
pub const SEALED_SUFFIX: &str = ".sealed";

struct TrackFile {
    writer: OggOpusWriter<TrackSink>,
    /// Index into the manifest's tracks.
    entry: usize,
    /// Written since the last fsync.
    unsynced: bool,
}

struct Worker {
    dir: PathBuf,
    settings: RecorderSettings,
    manifest: CallManifest,
    tracks: HashMap<u64, TrackFile>,
    /// When the oldest unflushed packet arrived; the flush deadline runs from it.
    dirty_since: Option<Instant>,
    errors: u64,
    key: Option<RecordingKey>,
}

impl Worker {
    /// Blocks for the first message, then sleeps until that message's flush deadline and takes everything
    /// queued meanwhile in one batch. Senders never wake a sleeping thread, so a call costs about one
    /// wake-up per flush instead of one per packet; `finish` unparks it early.
    fn run(mut self, rx: mpsc::Receiver<Command>, finishing: &AtomicBool) -> RecordingSummary {
        'outer: while let Ok(first) = rx.recv() {
            if !self.handle(first) {
                break;
            }
            if let Some(since) = self.dirty_since {
                let deadline = since + self.settings.flush_interval;
                while !finishing.load(Ordering::Acquire) {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    std::thread::park_timeout(left);
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(cmd) => {
                        if !self.handle(cmd) {
                            break 'outer;
                        }
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break 'outer,
                }
            }
            if self
                .dirty_since
                .is_some_and(|t| t.elapsed() >= self.settings.flush_interval)
            {
                self.flush_all();
            }
        }
        self.finish_all();
        RecordingSummary {
            dir: self.dir,
            manifest: self.manifest,
            errors: self.errors,
            dropped_packets: 0,
        }
    }

    /// Applies one command; false for `Finish`.
    fn handle(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Track {
                track,
                participant,
                display_name,
                start_offset,
            } => self.open(track, participant, display_name, start_offset),
            Command::Packet {
                track,
                offset,
                payload,
            } => {
                let Some(t) = self.tracks.get_mut(&track) else {
                    return true;
                };
                match t.writer.push(offset, &payload) {
                    Ok(()) => {
                        t.unsynced = true;
                        self.dirty_since.get_or_insert_with(Instant::now);
                    }
                    Err(e) => self.error("write", &e),
                }
            }
            Command::TrackEnded { track } => {
                if let Some(t) = self.tracks.remove(&track) {
                    self.close(t);
                    self.write_manifest();
                }
            }
            Command::Finish => return false,
        }
        true
    }

    fn open(
        &mut self,
        track: u64,
        participant: ParticipantId,
        display_name: String,
        start_offset: Duration,
    ) {
        let file = format!(
            "{:02}-{}.opus{}",
            self.manifest.tracks.len(),
            file_stem(&participant.0),
            if self.key.is_some() {
                SEALED_SUFFIX
            } else {
                ""
            }
        );
        let path = self.dir.join(&file);
        let key = self.key.clone();
        let opened = File::create(&path).and_then(|f| {
            let sink = match key {
                Some(key) => TrackSink::Sealed(SealedWriter::new(f, key)?),
                None => TrackSink::Plain(f),
            };
            OggOpusWriter::new(
                sink,
                track as u32 + 1,
                &[
                    ("PANELIST_PARTICIPANT", participant.0.as_str()),
                    ("PANELIST_DISPLAY_NAME", display_name.as_str()),
                ],
            )
        });
        let writer = match opened {
            Ok(w) => w,
            Err(e) => return self.error("create", &e),
        };
        if let Err(e) = writer.get_ref().sync_data() {
            self.error("sync", &e);
        }
        self.manifest.tracks.push(TrackEntry {
            participant: participant.0,
            display_name,
            file,
            start_offset_ms: start_offset.as_millis() as u64,
            duration_ms: None,
        });
        self.tracks.insert(
            track,
            TrackFile {
                writer,
                entry: self.manifest.tracks.len() - 1,
                unsynced: false,
            },
        );
        // Also makes the new file's directory entry durable.
        self.write_manifest();
    }

    fn flush_all(&mut self) {
        let mut failures = Vec::new();
        for t in self.tracks.values_mut() {
            if !t.unsynced {
                continue;
            }
            let res = t
                .writer
                .flush_page()
                .and_then(|()| t.writer.get_ref().sync_data());
            match res {
                Ok(()) => t.unsynced = false,
                Err(e) => failures.push(e),
            }
        }
        for e in failures {
            self.error("flush", &e);
        }
        self.dirty_since = None;
    }

    fn close(&mut self, t: TrackFile) {
        let granule = t.writer.granule();
        self.manifest.tracks[t.entry].duration_ms = Some(granule * 1000 / GRANULE_RATE);
        let res = t.writer.finish().and_then(|f| f.sync_data());
        if let Err(e) = res {
            self.error("close", &e);
        }
    }

    fn finish_all(&mut self) {
        let tracks: Vec<TrackFile> = self.tracks.drain().map(|(_, t)| t).collect();
        for t in tracks {
            self.close(t);
        }
        self.manifest.finished = true;
        self.write_manifest();
    }

    fn write_manifest(&mut self) {
        if let Err(e) = self.manifest.write_atomic(&self.dir) {
            self.error("manifest", &e);
        }
    }

    fn error(&mut self, what: &str, e: &std::io::Error) {
        self.errors += 1;
        tracing::warn!(dir = %self.dir.display(), error = %e, "recorder {what} failed");
    }
}

/// A participant id made safe as a file name.
fn file_stem(id: &str) -> String {
    let s: String = id
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "track".to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_tracks_and_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let rec = CallRecorder::start(dir.path(), RecorderSettings::default(), None).unwrap();
        let h = rec.handle();
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut buf = vec![0u8; 1500];
        let len = enc.encode(&[0i16; 960], &mut buf).unwrap();
        let packet = Bytes::copy_from_slice(&buf[..len]);
        h.track(
            1,
            ParticipantId("alice/../x".into()),
            "Alice".into(),
            Duration::from_millis(1500),
        );
        h.track(
            2,
            ParticipantId("bob".into()),
            "Bob".into(),
            Duration::from_millis(3000),
        );
        for i in 0..50u64 {
            h.packet(1, i * 960, packet.clone());
            h.packet(2, i * 960, packet.clone());
        }
        h.track_ended(2);
        let summary = rec.finish().unwrap();
        assert_eq!(summary.errors, 0);
        let m = CallManifest::read(dir.path()).unwrap();
        assert_eq!(m, summary.manifest);
        assert!(m.finished);
        assert_eq!(m.tracks.len(), 2);
        assert_eq!(m.tracks[0].file, "00-alice____x.opus");
        assert_eq!(m.tracks[0].start_offset_ms, 1500);
        assert_eq!(m.tracks[1].display_name, "Bob");
        assert_eq!(m.tracks[1].duration_ms, Some(1000));
        let bytes = fs::read(dir.path().join(&m.tracks[0].file)).unwrap();
        let parsed = ogg::parse_pages(&bytes).unwrap();
        assert_eq!(parsed.pages.last().unwrap().granule, 48_000);
        assert_eq!(parsed.pages.last().unwrap().header_type, ogg::HEADER_EOS);
    }
}
