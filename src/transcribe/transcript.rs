//! Transcripts: the segment record, JSONL files under `{data_dir}/transcripts/`, and the output formats of
//! `panelist transcribe`.
//!
//! Files rather than store methods: a transcript is a large append-only artefact written a segment at a time
//! while the call runs, which is exactly what ARCHITECTURE.md puts under the data directory ("large
//! artefacts ... live as files, referenced from the store"). Both store back ends stay untouched, a
//! fleet's replica writes only the interviews it holds a lease on, and appending a line is crash-safe:
//! a torn last line is skipped on reading.

use std::io::Write;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

/// One stretch of one person's speech. Times are seconds on the call clock (from the bot's connection).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    /// The participant's stable id from the media plane.
    pub participant: String,
    /// Who is speaking, as shown in notes: the participant's display name.
    pub speaker: String,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

impl TranscriptSegment {
    pub fn new(participant: &str, speaker: &str, start_ms: u64, end_ms: u64, text: &str) -> Self {
        TranscriptSegment {
            participant: participant.to_string(),
            speaker: speaker.to_string(),
            start: start_ms as f64 / 1000.0,
            end: end_ms as f64 / 1000.0,
            text: text.to_string(),
        }
    }
}

/// Orders segments by start time (then speaker), the reading order of a conversation.
pub fn sort_segments(segments: &mut [TranscriptSegment]) {
    segments.sort_by(|a, b| {
        a.start
            .total_cmp(&b.start)
            .then_with(|| a.end.total_cmp(&b.end))
            .then_with(|| a.participant.cmp(&b.participant))
    });
}

#[derive(Debug, thiserror::Error)]
#[error("transcript {}: {source}", path.display())]
pub struct TranscriptIoError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// `{data_dir}/transcripts/{interview_id}.jsonl`, one segment per line, in the order they were produced.
/// With a key, each line is sealed (AES-256-GCM, `v1:` + base64, as stored secrets are); files may mix
/// sealed and plain lines (written before encryption was turned on), and both are read.
#[derive(Debug, Clone)]
pub struct TranscriptFiles {
    dir: PathBuf,
    key: Option<std::sync::Arc<crate::settings::DataKey>>,
    /// Whether new lines are sealed (the key may be there only to read older sealed lines).
    seal: bool,
}

impl TranscriptFiles {
    pub fn new(data_dir: &Path) -> TranscriptFiles {
        TranscriptFiles {
            dir: data_dir.join("transcripts"),
            key: None,
            seal: false,
        }
    }

    /// Seals what is written with `key`, and opens sealed lines with it (or a key it replaced).
    pub fn with_key(mut self, key: Option<crate::settings::DataKey>) -> TranscriptFiles {
        self.seal = key.is_some();
        self.key = key.map(std::sync::Arc::new);
        self
    }

    /// Opens sealed lines with `key` but writes plain ones (encryption at rest turned off after
    /// transcripts were sealed: those stay readable).
    pub fn reading_with(mut self, key: crate::settings::DataKey) -> TranscriptFiles {
        self.key = Some(std::sync::Arc::new(key));
        self.seal = false;
        self
    }

    pub fn path(&self, interview_id: &str) -> PathBuf {
        // Ids come from Greenhouse (digits) or the CLI; keep anything else from escaping the folder.
        let safe: String = interview_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.jsonl"))
    }

    /// Appends segments. Blocking file I/O, so it runs on tokio's blocking pool.
    pub async fn append(
        &self,
        interview_id: &str,
        segments: Vec<TranscriptSegment>,
    ) -> Result<(), TranscriptIoError> {
        if segments.is_empty() {
            return Ok(());
        }
        let path = self.path(interview_id);
        let dir = self.dir.clone();
        let task_path = path.clone();
        let key = self.key.clone().filter(|_| self.seal);
        tokio::task::spawn_blocking(move || {
            append_lines(&dir, &task_path, &segments, key.as_deref())
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|source| TranscriptIoError { path, source })
    }

    /// Every segment stored for an interview, in conversation order. A missing file is an empty transcript.
    pub fn load(&self, interview_id: &str) -> Result<Vec<TranscriptSegment>, TranscriptIoError> {
        let path = self.path(interview_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(TranscriptIoError { path, source }),
        };
        let mut segments = Vec::new();
        let (mut opened, mut unopened) = (0usize, 0usize);
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let json = match line.strip_prefix(SEALED_PREFIX) {
                None => Some(line.to_owned()),
                Some(_) => {
                    let Some(key) = &self.key else {
                        return Err(TranscriptIoError {
                            path,
                            source: std::io::Error::other(
                                "the transcript is encrypted and no data key was given",
                            ),
                        });
                    };
                    match key.open(&crate::settings::Sealed(line.to_owned())) {
                        Ok(plain) => {
                            opened += 1;
                            Some(plain.expose_secret().to_owned())
                        }
                        Err(_) => {
                            unopened += 1;
                            None
                        }
                    }
                }
            };
            // A crash can leave a torn line (later appends start on a fresh line after it).
            segments.extend(json.and_then(|j| serde_json::from_str(&j).ok()));
        }
        if unopened > 0 && opened == 0 {
            // Not one sealed line opens: the wrong key, which an empty transcript would hide.
            return Err(TranscriptIoError {
                path,
                source: std::io::Error::other(
                    "the transcript cannot be decrypted with the configured data key (or any in security.previous_encryption_keys)",
                ),
            });
        }
        if unopened > 0 {
            tracing::warn!(path = %path.display(), lines = unopened, "transcript lines that cannot be opened were skipped (torn by a crash, or sealed with a key no longer configured)");
        }
        sort_segments(&mut segments);
        Ok(segments)
    }
}

/// How a sealed line starts (the sealed-value format's version tag).
const SEALED_PREFIX: &str = "v1:";

fn append_lines(
    dir: &Path,
    path: &Path,
    segments: &[TranscriptSegment],
    key: Option<&crate::settings::DataKey>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut buf = Vec::new();
    for s in segments {
        let json = serde_json::to_string(s)?;
        match key {
            Some(key) => buf.extend_from_slice(key.seal(&json).0.as_bytes()),
            None => buf.extend_from_slice(json.as_bytes()),
        }
        buf.push(b'\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    // After a crash mid-line, start on a fresh line so only the torn one is lost.
    if ends_mid_line(&mut file)? {
        buf.insert(0, b'\n');
    }
    // One write per batch: with O_APPEND, concurrent writers never interleave inside it.
    file.write_all(&buf)?;
    file.sync_data()
}

fn ends_mid_line(file: &mut std::fs::File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

/// Output formats of `panelist transcribe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// `[00:01.20 - 00:04.00] Speaker: text`, one line per segment.
    Text,
    /// `{"segments":[{"speaker":..,"start":s,"end":s,"text":..}]}`.
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    segments: Vec<JsonSegment<'a>>,
}

#[derive(Serialize)]
struct JsonSegment<'a> {
    speaker: &'a str,
    start: f64,
    end: f64,
    text: &'a str,
}

/// Renders segments (already in order) in `format`.
pub fn render(segments: &[TranscriptSegment], format: OutputFormat) -> String {
    match format {
        OutputFormat::Json => {
            let out = JsonOut {
                segments: segments
                    .iter()
                    .map(|s| JsonSegment {
                        speaker: &s.speaker,
                        start: s.start,
                        end: s.end,
                        text: &s.text,
                    })
                    .collect(),
            };
            let mut json =
                serde_json::to_string(&out).unwrap_or_else(|_| "{\"segments\":[]}".into());
            json.push('\n');
            json
        }
        OutputFormat::Text => segments
            .iter()
            .map(|s| {
                format!(
                    "[{} - {}] {}: {}\n",
                    clock(s.start, '.', false),
                    clock(s.end, '.', false),
                    s.speaker,
                    s.text
                )
            })
            .collect(),
        OutputFormat::Srt => segments
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "{}\n{} --> {}\n{}: {}\n\n",
                    i + 1,
                    clock(s.start, ',', true),
                    clock(s.end, ',', true),
                    s.speaker,
                    s.text
                )
            })
            .collect(),
        OutputFormat::Vtt => {
            let mut out = String::from("WEBVTT\n\n");
            for s in segments {
                out.push_str(&format!(
                    "{} --> {}\n<v {}>{}\n\n",
                    clock(s.start, '.', true),
                    clock(s.end, '.', true),
                    s.speaker.replace('>', ""),
                    s.text
                ));
            }
            out
        }
    }
}

/// `HH:MM:SS{sep}mmm` (subtitles) or `MM:SS.cc` (text; hours only when needed).
fn clock(secs: f64, sep: char, subtitle: bool) -> String {
    let ms = (secs.max(0.0) * 1000.0).round() as u64;
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    if subtitle {
        format!("{h:02}:{m:02}:{s:02}{sep}{milli:03}")
    } else if h > 0 {
        format!("{h}:{m:02}:{s:02}{sep}{:02}", milli / 10)
    } else {
        format!("{m:02}:{s:02}{sep}{:02}", milli / 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two() -> Vec<TranscriptSegment> {
        vec![
            TranscriptSegment::new("p1", "Alice", 0, 1_200, "Hello there."),
            TranscriptSegment::new("p2", "Bob", 3_661_500, 3_663_000, "Hi."),
        ]
    }

    #[test]
    fn json_has_exactly_the_documented_shape() {
        let json = render(&two(), OutputFormat::Json);
        assert_eq!(
            json.trim(),
            r#"{"segments":[{"speaker":"Alice","start":0.0,"end":1.2,"text":"Hello there."},{"speaker":"Bob","start":3661.5,"end":3663.0,"text":"Hi."}]}"#
        );
    }

    #[test]
    fn text_srt_and_vtt() {
        let text = render(&two(), OutputFormat::Text);
        assert!(
            text.starts_with("[00:00.00 - 00:01.20] Alice: Hello there.\n"),
            "{text}"
        );
        assert!(
            text.contains("[1:01:01.50 - 1:01:03.00] Bob: Hi."),
            "{text}"
        );
        let srt = render(&two(), OutputFormat::Srt);
        assert!(
            srt.starts_with("1\n00:00:00,000 --> 00:00:01,200\nAlice: Hello there.\n\n2\n"),
            "{srt}"
        );
        let vtt = render(&two(), OutputFormat::Vtt);
        assert!(
            vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:01.200\n<v Alice>Hello there.\n"),
            "{vtt}"
        );
    }

    #[tokio::test]
    async fn files_append_and_load_in_conversation_order_skipping_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let files = TranscriptFiles::new(dir.path());
        let mut segs = two();
        segs.reverse();
        files.append("42", segs).await.unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(files.path("42"))
            .unwrap()
            .write_all(b"{\"participant\":\"p1\",\"spea")
            .unwrap();
        files
            .append(
                "42",
                vec![TranscriptSegment::new(
                    "p1", "Alice", 7_000_000, 7_001_000, "Later.",
                )],
            )
            .await
            .unwrap();
        let loaded = files.load("42").unwrap();
        assert_eq!(loaded.len(), 3);
        assert_eq!(loaded[..2], two()[..]);
        assert_eq!(loaded[2].text, "Later.");
        assert!(files.load("nope").unwrap().is_empty());
        assert!(files
            .path("../etc/passwd")
            .starts_with(dir.path().join("transcripts")));
    }

    #[tokio::test]
    async fn sealed_transcripts_hide_their_words_and_need_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::settings::DataKey::from_bytes(&[5u8; 32]).unwrap();
        let files = TranscriptFiles::new(dir.path()).with_key(Some(key.clone()));
        files.append("7", two()).await.unwrap();
        // A torn write, then more: the torn line alone is lost.
        std::fs::OpenOptions::new()
            .append(true)
            .open(files.path("7"))
            .unwrap()
            .write_all(b"v1:AAAA")
            .unwrap();
        files
            .append(
                "7",
                vec![TranscriptSegment::new("p1", "Alice", 9_000, 9_500, "Bye.")],
            )
            .await
            .unwrap();
        let raw = std::fs::read_to_string(files.path("7")).unwrap();
        assert!(!raw.contains("Hello") && !raw.contains("Alice"), "{raw}");
        assert_eq!(files.load("7").unwrap().len(), 3);
        let wrong = TranscriptFiles::new(dir.path()).with_key(Some(
            crate::settings::DataKey::from_bytes(&[6u8; 32]).unwrap(),
        ));
        assert!(wrong.load("7").unwrap_err().to_string().contains("decrypt"));
        let none = TranscriptFiles::new(dir.path());
        assert!(none
            .load("7")
            .unwrap_err()
            .to_string()
            .contains("encrypted"));
        // Encryption turned off later: new lines are plain, the sealed ones still open.
        let off = TranscriptFiles::new(dir.path()).reading_with(key);
        off.append(
            "7",
            vec![TranscriptSegment::new(
                "p2", "Bob", 10_000, 10_500, "Plain.",
            )],
        )
        .await
        .unwrap();
        let raw = std::fs::read_to_string(off.path("7")).unwrap();
        assert!(raw.contains("Plain."));
        assert_eq!(off.load("7").unwrap().len(), 4);
    }
}
