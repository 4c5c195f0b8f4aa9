//! Speech to text: the engine boundary (local Whisper or an OpenAI-compatible HTTP API), the
//! `TranscriberActor` that turns each participant's live PCM into speaker-attributed transcript segments,
//! and the pieces `panelist transcribe FILE` shares with it (decoding, chunking, output formats).

pub mod actor;
pub mod chunker;
pub mod decode;
pub mod file;
pub mod http;
pub mod transcript;
pub mod wav;
pub mod wer;
pub mod whisper;

use std::sync::Arc;

use async_trait::async_trait;

pub use actor::{
    CallEnded, GetTranscriberStats, ParticipantAudio, ParticipantSpeech, TranscriberActor,
    TranscriberStats, TranscriptReady,
};
pub use chunker::{Chunk, Chunker, ChunkerSettings};
pub use http::HttpEngine;
pub use transcript::{OutputFormat, TranscriptFiles, TranscriptSegment};
pub use whisper::{LocalWhisper, WhisperOptions};

use crate::config::{Settings, TranscriptionEngineKind};
use crate::models::{self, ModelError, ModelStatus};

/// Every engine takes 16 kHz mono PCM, the rate the media plane delivers and Whisper was trained on.
pub const SAMPLE_RATE: u32 = 16_000;
pub const SAMPLES_PER_MS: u64 = SAMPLE_RATE as u64 / 1000;

/// A stretch of recognised speech, timed from the start of the audio the engine was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineSegment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

/// The boundary between Panelist and whatever does speech recognition. Object-safe, so the transcriber holds
/// an `Arc<dyn TranscriptionEngine>` chosen by configuration.
#[async_trait]
pub trait TranscriptionEngine: Send + Sync + 'static {
    /// Names the engine and model for logs and metrics, e.g. "whisper tiny.en".
    fn describe(&self) -> String;

    /// How many `transcribe` calls it serves at once; callers keep at most this many in flight.
    fn concurrency(&self) -> usize;

    /// Transcribes 16 kHz mono samples (at most 30 s is what callers send). Must not block the calling
    /// (async) thread: CPU work belongs on the engine's own threads.
    async fn transcribe(&self, samples: Vec<i16>) -> Result<Vec<EngineSegment>, TranscribeError>;

    /// How much audio (ms, gaps included) `transcribe_batch` takes in one inference; 0 = it has no
    /// batching, and callers send one chunk at a time.
    fn batch_window_ms(&self) -> u64 {
        0
    }

    /// Transcribes several chunks (of any speakers) at once, each answered on its own clock. The
    /// default runs them one after another.
    async fn transcribe_batch(
        &self,
        pieces: Vec<Vec<i16>>,
    ) -> Result<Vec<Vec<EngineSegment>>, TranscribeError> {
        let mut out = Vec::with_capacity(pieces.len());
        for samples in pieces {
            out.push(self.transcribe(samples).await?);
        }
        Ok(out)
    }
}

pub type DynEngine = Arc<dyn TranscriptionEngine>;

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot load the Whisper model {}: {detail}", path.display())]
    Load {
        path: std::path::PathBuf,
        detail: String,
    },
    #[error("Whisper inference failed: {0}")]
    Inference(String),
    #[error("the transcription workers have stopped")]
    EngineStopped,
    #[error("transcription API answered {status}: {body}")]
    Http { status: u16, body: String },
    #[error("transcription API request failed: {0}")]
    Transport(String),
    #[error("transcription API sent a malformed response: {0}")]
    MalformedResponse(String),
}

impl TranscribeError {
    /// Rate limits, server errors and network trouble may pass; the rest would fail the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            TranscribeError::Http { status, .. } => *status == 429 || *status >= 500,
            TranscribeError::Transport(_) => true,
            _ => false,
        }
    }
}

/// Builds the configured engine. Loading a local model reads ~75-150 MB, so it runs on a blocking thread.
pub async fn build_engine(settings: &Settings) -> Result<DynEngine, TranscribeError> {
    let t = &settings.transcription;
    match t.engine {
        TranscriptionEngineKind::Http => Ok(Arc::new(HttpEngine::new(&t.http, &t.language)?)),
        TranscriptionEngineKind::Local => {
            let path = models::require_model(&models::model_dir(settings), t.model)?;
            let options = WhisperOptions::from_settings(t);
            let engine = tokio::task::spawn_blocking(move || LocalWhisper::load(&path, options))
                .await
                .map_err(|e| TranscribeError::Inference(format!("model loader panicked: {e}")))??;
            Ok(Arc::new(engine))
        }
    }
}

/// Whether the configured engine can run. `Err` carries the operator-facing reason.
pub fn availability(settings: &Settings) -> Result<(), ModelError> {
    let t = &settings.transcription;
    match t.engine {
        TranscriptionEngineKind::Http => Ok(()),
        TranscriptionEngineKind::Local => {
            models::require_model(&models::model_dir(settings), t.model).map(|_| ())
        }
    }
}

/// Logs loudly at start-up when the local model is missing, so nobody finds out at the end of an interview.
pub fn warn_if_unavailable(settings: &Settings) {
    let t = &settings.transcription;
    if t.engine != TranscriptionEngineKind::Local {
        tracing::info!(engine = "http", base_url = %t.http.base_url, model = %t.http.model, "transcription engine");
        return;
    }
    match models::model_status(&models::model_dir(settings), t.model) {
        ModelStatus::Ready { path, bytes } => {
            tracing::info!(model = %t.model, path = %path.display(), bytes, "transcription model ready")
        }
        ModelStatus::Missing { path } => tracing::error!(
            model = %t.model,
            path = %path.display(),
            "TRANSCRIPTION IS UNAVAILABLE: the Whisper model {} is not installed. Run `panelist models install {}` \
             (or set transcription.model_dir / PANELIST__TRANSCRIPTION__MODEL_DIR to where it is)",
            t.model,
            t.model
        ),
    }
}
