//! The local engine: whisper.cpp (through whisper-rs) on a fixed pool of dedicated worker threads.
//!
//! One model is loaded once and shared; each worker owns its own decoding state (KV caches, ~tens of MB), so
//! `workers` inferences run in parallel without locks. Jobs arrive on a bounded channel and answers go back on
//! a oneshot, so async callers only ever await: inference never touches an async or actor thread.
//! whisper.cpp's threads busy-wait, which on a shared 2-core machine made 2 threads per inference 5-10x
//! slower than 1 (shared/asr/MODELS.md); parallelism therefore comes from workers, not threads.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use super::{EngineSegment, TranscribeError, TranscriptionEngine, SAMPLES_PER_MS, SAMPLE_RATE};
use crate::config::TranscriptionSettings;
use crate::models::ModelName;

/// whisper.cpp refuses input under a second; shorter chunks are padded with silence up to this.
const MIN_SAMPLES: usize = SAMPLE_RATE as usize * 1100 / 1000;

#[derive(Debug, Clone)]
pub struct WhisperOptions {
    /// For logs only; the file decides what is loaded.
    pub model: ModelName,
    pub workers: usize,
    pub threads_per_inference: usize,
    /// 1 = greedy.
    pub beam_size: usize,
    /// ISO 639-1 code, or "auto".
    pub language: String,
    /// Encode only as much of Whisper's 30 s window as the chunk fills.
    pub fit_audio_context: bool,
}

impl WhisperOptions {
    pub fn from_settings(t: &TranscriptionSettings) -> WhisperOptions {
        WhisperOptions {
            model: t.model,
            workers: t.workers.max(1),
            threads_per_inference: t.threads_per_inference.max(1),
            beam_size: t.beam_size.max(1),
            language: t.language.clone(),
            fit_audio_context: t.fit_audio_context,
        }
    }
}

struct Job {
    samples: Vec<i16>,
    reply: oneshot::Sender<Result<Vec<EngineSegment>, TranscribeError>>,
}

/// Cheap to share behind an `Arc`; dropping the last handle lets the workers finish and exit.
pub struct LocalWhisper {
    jobs: mpsc::Sender<Job>,
    options: WhisperOptions,
}

impl LocalWhisper {
    /// Loads the model and starts the workers. Blocking: call it from `spawn_blocking` in async code.
    pub fn load(path: &Path, options: WhisperOptions) -> Result<LocalWhisper, TranscribeError> {
        whisper_rs::install_logging_hooks();
        let load_err = |detail: String| TranscribeError::Load {
            path: path.to_path_buf(),
            detail,
        };
        let mut params = WhisperContextParameters::default();
        // CPU build; the flag is explicit so a future `cuda` feature is a deliberate choice.
        params.use_gpu(false);
        let ctx = WhisperContext::new_with_params(path, params).map_err(|e| {
            load_err(format!(
                "{e} (is it a ggml Whisper model? reinstall with `panelist models install {}`)",
                options.model
            ))
        })?;
        let ctx = Arc::new(ctx);
        // A job waits here only while every worker is busy; the transcriber's own queue is the real buffer.
        let (tx, rx) = mpsc::channel::<Job>(options.workers);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..options.workers {
            let state = ctx
                .create_state()
                .map_err(|e| load_err(format!("cannot create a decoding state: {e}")))?;
            let rx = rx.clone();
            let ctx = ctx.clone();
            let opts = options.clone();
            std::thread::Builder::new()
                .name(format!("whisper-{i}"))
                .spawn(move || worker(ctx, state, rx, opts))
                .map_err(|e| load_err(format!("cannot start a worker thread: {e}")))?;
        }
        tracing::info!(
            model = %options.model,
            workers = options.workers,
            threads_per_inference = options.threads_per_inference,
            beam_size = options.beam_size,
            "Whisper model loaded"
        );
        Ok(LocalWhisper { jobs: tx, options })
    }
}

#[async_trait]
impl TranscriptionEngine for LocalWhisper {
    fn describe(&self) -> String {
        format!("whisper {}", self.options.model)
    }

    fn concurrency(&self) -> usize {
        self.options.workers
    }

    async fn transcribe(&self, samples: Vec<i16>) -> Result<Vec<EngineSegment>, TranscribeError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { samples, reply })
            .await
            .map_err(|_| TranscribeError::EngineStopped)?;
        answer.await.map_err(|_| TranscribeError::EngineStopped)?
    }
}

fn worker(
    // Held so the model outlives every state made from it.
    _ctx: Arc<WhisperContext>,
    mut state: WhisperState,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    options: WhisperOptions,
) {
    loop {
        let job = match jobs.lock() {
            Ok(mut rx) => rx.blocking_recv(),
            Err(_) => None,
        };
        let Some(job) = job else {
            return; // every handle dropped: shut down
        };
        // A panic in one job (bindings or a bug here) answers that job with an error; the worker goes on.
        let result =
            std::panic::catch_unwind(AssertUnwindSafe(|| run(&mut state, &job.samples, &options)))
                .unwrap_or_else(|_| {
                    Err(TranscribeError::Inference("the inference panicked".into()))
                });
        // The caller may have given up (call ended, shutdown); nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn run(
    state: &mut WhisperState,
    samples: &[i16],
    options: &WhisperOptions,
) -> Result<Vec<EngineSegment>, TranscribeError> {
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let duration_ms = samples.len() as u64 / SAMPLES_PER_MS;
    let mut audio: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    if audio.len() < MIN_SAMPLES {
        audio.resize(MIN_SAMPLES, 0.0);
    }
    let strategy = if options.beam_size > 1 {
        SamplingStrategy::BeamSearch {
            beam_size: options.beam_size as i32,
            patience: -1.0,
        }
    } else {
        SamplingStrategy::Greedy { best_of: 1 }
    };
    let mut params = FullParams::new(strategy);
    params.set_n_threads(options.threads_per_inference as i32);
    let language = (options.language != "auto").then_some(options.language.as_str());
    params.set_language(language);
    params.set_detect_language(false);
    // Chunks from different people share states: never carry one chunk's text into the next.
    params.set_no_context(true);
    params.set_suppress_blank(true);
    params.set_suppress_nst(true);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    if options.fit_audio_context {
        params.set_audio_ctx(audio_context(audio.len()));
    }
    state
        .full(params, &audio)
        .map_err(|e| TranscribeError::Inference(e.to_string()))?;
    let mut out = Vec::new();
    for segment in state.as_iter() {
        let text = segment
            .to_str_lossy()
            .map_err(|e| TranscribeError::Inference(e.to_string()))?;
        let text = text.trim();
        if text.is_empty() || is_non_speech_marker(text) {
            continue;
        }
        // whisper.cpp counts in centiseconds; padding can push the end past the real audio.
        let start_ms = (segment.start_timestamp().max(0) as u64 * 10).min(duration_ms);
        let end_ms = (segment.end_timestamp().max(0) as u64 * 10).clamp(start_ms, duration_ms);
        out.push(EngineSegment {
            start_ms,
            end_ms,
            text: text.to_string(),
        });
    }
    Ok(out)
}

/// Whisper's encoder sees 30 s as 1500 positions (50 per second). A shorter window, sized to the
/// chunk with a margin, skips encoding silence: the encoder's cost falls with the window (its
/// attention quadratically), which is most of an inference for short turns.
fn audio_context(samples: usize) -> i32 {
    const FULL: usize = 1500;
    const MARGIN: usize = 64;
    let positions = samples.div_ceil(SAMPLE_RATE as usize / 50);
    (positions + MARGIN).min(FULL) as i32
}

/// "[BLANK_AUDIO]", "(music)", "[ Silence ]": descriptions, not speech.
pub fn is_non_speech_marker(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('(') && t.ends_with(')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encoder_window_fits_the_chunk() {
        let rate = SAMPLE_RATE as usize;
        assert_eq!(audio_context(rate), 50 + 64);
        assert_eq!(audio_context(rate * 10), 500 + 64);
        assert_eq!(audio_context(rate * 30), 1500);
        assert_eq!(audio_context(rate * 40), 1500);
    }

    #[test]
    fn markers_are_not_speech() {
        assert!(is_non_speech_marker("[BLANK_AUDIO]"));
        assert!(is_non_speech_marker(" (music) "));
        assert!(!is_non_speech_marker("Hello (there)."));
    }
}
