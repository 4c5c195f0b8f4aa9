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
    /// Several chunks in one window (`transcribe_batch`).
    pub batch_chunks: bool,
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
            batch_chunks: t.batch_chunks,
        }
    }
}

/// One inference: one chunk, or several in one window.
struct Job {
    pieces: Vec<Vec<i16>>,
    reply: oneshot::Sender<Result<Vec<Vec<EngineSegment>>, TranscribeError>>,
}

/// Silence between chunks sharing a window: Whisper ends its words before it, and a word's
/// timestamps then tell which chunk it belongs to.
pub const BATCH_GAP_MS: u64 = 1_000;
/// Audio in one batched window, gaps included: Whisper's window is 30 s.
pub const BATCH_WINDOW_MS: u64 = 28_000;

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
        let mut out = self.infer(vec![samples]).await?;
        Ok(out.pop().unwrap_or_default())
    }

    fn batch_window_ms(&self) -> u64 {
        if self.options.batch_chunks {
            BATCH_WINDOW_MS
        } else {
            0
        }
    }

    async fn transcribe_batch(
        &self,
        pieces: Vec<Vec<i16>>,
    ) -> Result<Vec<Vec<EngineSegment>>, TranscribeError> {
        self.infer(pieces).await
    }
}

impl LocalWhisper {
    async fn infer(
        &self,
        pieces: Vec<Vec<i16>>,
    ) -> Result<Vec<Vec<EngineSegment>>, TranscribeError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { pieces, reply })
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
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| match job.pieces.as_slice() {
            [one] => run(&mut state, one, &options).map(|segments| vec![segments]),
            many => run_batch(&mut state, many, &options),
        }))
        .unwrap_or_else(|_| Err(TranscribeError::Inference("the inference panicked".into())));
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
    let mut params = params(options);
    if options.fit_audio_context {
        params.set_audio_ctx(audio_context(audio.len()));
    }
    state
        .full(params, &audio)
        .map_err(|e| TranscribeError::Inference(e.to_string()))?;
    segments(state, duration_ms)
}

/// Several chunks in one window, `BATCH_GAP_MS` of silence apart: one encoder pass and one decode
/// serve them all. Whisper's segments are cut at every word (with token timestamps), and each word
/// goes back to the chunk its time falls in.
fn run_batch(
    state: &mut WhisperState,
    pieces: &[Vec<i16>],
    options: &WhisperOptions,
) -> Result<Vec<Vec<EngineSegment>>, TranscribeError> {
    let gap = (BATCH_GAP_MS * SAMPLES_PER_MS) as usize;
    let mut audio: Vec<f32> = Vec::new();
    let mut spans = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if !audio.is_empty() {
            audio.resize(audio.len() + gap, 0.0);
        }
        let start = audio.len() as u64 / SAMPLES_PER_MS;
        audio.extend(piece.iter().map(|&s| f32::from(s) / 32768.0));
        spans.push((start, audio.len() as u64 / SAMPLES_PER_MS));
    }
    let duration_ms = audio.len() as u64 / SAMPLES_PER_MS;
    if audio.len() < MIN_SAMPLES {
        audio.resize(MIN_SAMPLES, 0.0);
    }
    let mut params = params(options);
    params.set_token_timestamps(true);
    params.set_max_len(1);
    params.set_split_on_word(true);
    if options.fit_audio_context {
        params.set_audio_ctx(audio_context(audio.len()));
    }
    state
        .full(params, &audio)
        .map_err(|e| TranscribeError::Inference(e.to_string()))?;
    let words = segments(state, duration_ms)?;
    Ok(assign_words(&spans, &words))
}

/// The decoding settings every inference shares.
fn params(options: &WhisperOptions) -> FullParams<'_, '_> {
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
    params
}

/// The state's segments as speech, timed within the first `duration_ms` of its audio.
fn segments(state: &WhisperState, duration_ms: u64) -> Result<Vec<EngineSegment>, TranscribeError> {
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

/// Gives each word of a batched window to a chunk, and each chunk's words become segments, cut
/// after each sentence, timed from the chunk's own start.
///
/// A word whose middle falls in a chunk's span is that chunk's. Whisper's word timing (without
/// DTW) is loose at the edges of speech: the last word of an utterance often drifts into the
/// silence after it, sometimes past the middle of the gap. So a word in the gap between two chunks
/// finishes the earlier chunk's sentence when that one is still open, and otherwise starts the
/// later chunk (chunks are cut at pauses, so they mostly end on a full sentence).
fn assign_words(spans: &[(u64, u64)], words: &[EngineSegment]) -> Vec<Vec<EngineSegment>> {
    let mut out: Vec<Vec<EngineSegment>> = vec![Vec::new(); spans.len()];
    let mut open: Vec<Option<EngineSegment>> = vec![None; spans.len()];
    for word in words {
        let Some(i) = chunk_of(spans, word, &open) else {
            break;
        };
        let (s, e) = spans[i];
        let start = word.start_ms.clamp(s, e) - s;
        let end = word.end_ms.clamp(s, e) - s;
        let text = word.text.trim();
        let segment = open[i].get_or_insert_with(|| EngineSegment {
            start_ms: start,
            end_ms: end,
            text: String::new(),
        });
        if !segment.text.is_empty() {
            segment.text.push(' ');
        }
        segment.text.push_str(text);
        segment.end_ms = segment.end_ms.max(end);
        if text.ends_with(['.', '?', '!']) {
            if let Some(done) = open[i].take() {
                out[i].push(done);
            }
        }
    }
    for (i, rest) in open.into_iter().enumerate() {
        if let Some(segment) = rest {
            out[i].push(segment);
        }
    }
    out
}

/// Which chunk `word` belongs to (see `assign_words`); `open`: each chunk's unfinished sentence.
fn chunk_of(
    spans: &[(u64, u64)],
    word: &EngineSegment,
    open: &[Option<EngineSegment>],
) -> Option<usize> {
    let mid = (word.start_ms + word.end_ms) / 2;
    if let Some(i) = spans.iter().position(|&(s, e)| (s..=e).contains(&mid)) {
        return Some(i);
    }
    // In the gap after chunk `i` (or past the last one).
    match spans.iter().rposition(|&(_, e)| e < mid) {
        Some(i) if open[i].is_some() || i + 1 == spans.len() => Some(i),
        Some(i) => Some(i + 1),
        None => (!spans.is_empty()).then_some(0), // before the first chunk
    }
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

    fn word(start_ms: u64, end_ms: u64, text: &str) -> EngineSegment {
        EngineSegment {
            start_ms,
            end_ms,
            text: text.to_string(),
        }
    }

    #[test]
    fn batched_words_go_back_to_their_chunks_on_their_own_clocks() {
        // Two chunks: 0-3 s, then (after a 1 s gap) 4-6 s.
        let spans = [(0, 3_000), (4_000, 6_000)];
        let words = [
            word(100, 400, " Hello."),
            word(500, 900, " I"),
            word(900, 1_300, " led"),
            word(1_300, 2_950, " it."),
            // Whisper's timing can spill a little into the gap: the middle decides.
            word(3_800, 4_300, " Great,"),
            word(4_300, 5_000, " thanks!"),
            word(5_000, 6_300, " Next"),
        ];
        let out = assign_words(&spans, &words);
        assert_eq!(
            out[0],
            vec![word(100, 400, "Hello."), word(500, 2_950, "I led it.")]
        );
        assert_eq!(
            out[1],
            vec![word(0, 1_000, "Great, thanks!"), word(1_000, 2_000, "Next")]
        );
    }

    #[test]
    fn a_word_drifting_into_the_gap_finishes_the_open_sentence() {
        // Chunks 0-3 s and 4-6 s. "day." belongs to the first chunk's sentence, though Whisper
        // timed it late in the gap, nearer the second chunk; "Thanks." after a full stop, also in
        // the gap, starts the second chunk.
        let spans = [(0, 3_000), (4_000, 6_000)];
        let words = [
            word(100, 2_900, " The first"),
            word(3_600, 3_700, " day."),
            word(3_800, 3_900, " Thanks."),
            word(4_100, 4_500, " Next."),
        ];
        let out = assign_words(&spans, &words);
        assert_eq!(out[0], vec![word(100, 3_000, "The first day.")]);
        assert_eq!(out[1], vec![word(0, 0, "Thanks."), word(100, 500, "Next.")]);
    }

    #[test]
    fn a_chunk_with_no_words_gets_no_segments() {
        let out = assign_words(
            &[(0, 2_000), (3_000, 5_000)],
            &[word(3_100, 3_500, " Yes.")],
        );
        assert!(out[0].is_empty());
        assert_eq!(out[1], vec![word(100, 500, "Yes.")]);
    }

    #[test]
    fn markers_are_not_speech() {
        assert!(is_non_speech_marker("[BLANK_AUDIO]"));
        assert!(is_non_speech_marker(" (music) "));
        assert!(!is_non_speech_marker("Hello (there)."));
    }
}
