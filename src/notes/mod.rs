//! Interview notes: from transcript turns to the plain-text note posted to Greenhouse.
//!
//! - `engine`: the summarizer boundary; `openai` (any OpenAI-compatible chat API) and `local`
//!   (llama.cpp in the `panelist-llm` worker process, protocol in `llm_protocol`).
//! - `pipeline`: incremental, chunk-by-chunk summarising while the call runs, merged at hang-up.
//! - `prompt` and `schema`: the same prompts and fixed JSON schema for every engine.
//! - `guard`: protected topics kept out; `grounding`: numbers, dates and names checked against
//!   the transcript; `render`: the note text with its marker line.
//! - `transcript`: reading transcripts (the transcriber's segments, JSON or plain text).

pub mod actor;
pub mod engine;
pub mod grounding;
pub mod guard;
pub mod llm_protocol;
pub mod local;
pub mod openai;
pub mod pipeline;
pub mod prompt;
pub mod render;
pub mod schema;
pub mod transcript;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use actor::{meta_from_store, NotesRequested, NotesWritten, SummarizerActor};
pub use engine::{ChatRequest, Completion, DynSummarizer, SummarizerEngine};
pub use local::{LocalEngine, LocalOptions};
pub use openai::OpenAiEngine;
pub use pipeline::{ChunkReport, NotesOutcome, NotesPipeline, PipelineOptions};
pub use prompt::PromptContext;
pub use render::{marker, render, NoteMeta, Omissions};
pub use schema::{Claim, FactKind, NotesDraft};
pub use transcript::{Role, Turn};

use crate::config::{NotesEngineKind, NotesSettings, Settings};

#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error(
        "the notes model is not installed (looked for {}): run `panelist models install notes`",
        path.display()
    )]
    ModelNotInstalled { path: PathBuf },
    #[error(
        "the local model worker `panelist-llm` was not found (looked for {}): build it with \
         `cargo build --release --bin panelist-llm` and keep it next to `panelist`, or set \
         notes.local.worker_path",
        path.display()
    )]
    WorkerMissing { path: PathBuf },
    #[error("cannot start the local model: {0}")]
    WorkerStart(String),
    #[error("the local model worker failed: {0}")]
    WorkerDied(String),
    #[error("the local model could not answer: {0}")]
    WorkerFailed(String),
    #[error("the prompt does not fit the model's context: {0}")]
    ContextOverflow(String),
    #[error("chat API answered {status}: {body}")]
    Http { status: u16, body: String },
    #[error("chat API request failed: {0}")]
    Transport(String),
    #[error("the model did not answer in time: {0}")]
    Timeout(String),
    #[error("chat API sent a response that is not a chat completion: {0}")]
    MalformedResponse(String),
    #[error("the model's reply was not the notes JSON after {attempts} attempt(s): {detail}")]
    MalformedReply { attempts: u32, detail: String },
    #[error("the transcript has no speech to summarise")]
    EmptyTranscript,
    #[error("notes configuration: {0}")]
    Config(String),
    /// The call ended while this chunk was being summarised; its turns go to the hang-up work.
    #[error("interrupted: the call ended, and the notes are being finished")]
    Cancelled,
}

impl NotesError {
    /// Rate limits, server errors, timeouts and a crashed worker may pass; the rest would fail
    /// the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            NotesError::Http { status, .. } => *status == 429 || *status >= 500,
            NotesError::Transport(_) | NotesError::Timeout(_) | NotesError::WorkerDied(_) => true,
            _ => false,
        }
    }
}

/// The GGUF file of the local notes model under the models directory.
pub fn local_model_path(settings: &Settings) -> PathBuf {
    crate::models::model_dir(settings).join(local::MODEL_FILE)
}

/// The configured engine. The local one checks the model and the worker are installed; the
/// worker process itself starts on first use.
pub fn build_engine(settings: &Settings) -> Result<DynSummarizer, NotesError> {
    let n = &settings.notes;
    match n.engine {
        NotesEngineKind::Openai => Ok(Arc::new(OpenAiEngine::new(&n.openai)?)),
        NotesEngineKind::Local => Ok(Arc::new(LocalEngine::new(local_options(settings)?)?)),
    }
}

/// Where the local engine's model and worker are, and how to run them.
pub fn local_options(settings: &Settings) -> Result<LocalOptions, NotesError> {
    let l = &settings.notes.local;
    let model = local_model_path(settings);
    if !local::is_gguf(&model) {
        return Err(NotesError::ModelNotInstalled { path: model });
    }
    let threads = if l.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    } else {
        l.threads
    };
    Ok(LocalOptions {
        model,
        worker: local::find_worker(&l.worker_path)?,
        threads,
        context_tokens: l.context_tokens,
        request_timeout: Duration::from_secs(l.request_timeout_secs.max(1)),
        idle_shutdown: Duration::from_secs(l.idle_shutdown_secs),
    })
}

impl PipelineOptions {
    pub fn from_settings(n: &NotesSettings) -> PipelineOptions {
        PipelineOptions {
            chunk_tokens: n.chunk_tokens,
            max_output_tokens: n.max_output_tokens,
            max_attempts: n.max_attempts,
            temperature: n.temperature,
            finish_deadline: (n.finish_deadline_secs > 0)
                .then(|| Duration::from_secs(n.finish_deadline_secs)),
            ..PipelineOptions::default()
        }
    }
}

/// Problems with `[notes]` and `[poster]` values, for the start-up report of every bad key.
pub fn validate_settings(s: &Settings, problems: &mut Vec<String>) {
    let n = &s.notes;
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg);
        }
    };
    check(
        (200..=100_000).contains(&n.chunk_tokens),
        format!(
            "notes.chunk_tokens: must be 200..=100000, got {}",
            n.chunk_tokens
        ),
    );
    check(
        (100..=8192).contains(&n.max_output_tokens),
        format!(
            "notes.max_output_tokens: must be 100..=8192, got {}",
            n.max_output_tokens
        ),
    );
    check(
        (1..=10).contains(&n.max_attempts),
        format!("notes.max_attempts: must be 1..=10, got {}", n.max_attempts),
    );
    check(
        (0.0..=2.0).contains(&n.temperature),
        format!("notes.temperature: must be 0..=2, got {}", n.temperature),
    );
    check(
        n.local.threads <= 256,
        format!(
            "notes.local.threads: must be 0 (all cores) to 256, got {}",
            n.local.threads
        ),
    );
    check(
        (1024..=32_768).contains(&n.local.context_tokens),
        format!(
            "notes.local.context_tokens: must be 1024..=32768 (the model's limit), got {}",
            n.local.context_tokens
        ),
    );
    check(
        n.local.request_timeout_secs >= 1,
        "notes.local.request_timeout_secs: must be at least 1".into(),
    );
    let url_ok = url::Url::parse(&n.openai.base_url)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .unwrap_or(false);
    check(
        url_ok,
        format!(
            "notes.openai.base_url: expected an http(s) URL, got {:?}",
            n.openai.base_url
        ),
    );
    check(
        !n.openai.model.trim().is_empty(),
        "notes.openai.model: must not be empty".into(),
    );
    check(
        n.openai.context_tokens >= 1024,
        "notes.openai.context_tokens: must be at least 1024".into(),
    );
    check(
        n.openai.request_timeout_secs >= 1,
        "notes.openai.request_timeout_secs: must be at least 1".into(),
    );
    check(
        n.openai.max_retries <= 20,
        "notes.openai.max_retries: must be at most 20".into(),
    );
    let p = &s.poster;
    check(
        p.poll_interval_secs >= 1,
        "poster.poll_interval_secs: must be at least 1".into(),
    );
    check(
        (1..=100).contains(&p.max_attempts),
        format!(
            "poster.max_attempts: must be 1..=100, got {}",
            p.max_attempts
        ),
    );
    check(
        p.retry_base_secs >= 1 && p.retry_base_secs <= p.retry_max_secs,
        "poster.retry_base_secs: must be at least 1 and at most retry_max_secs".into(),
    );
    check(
        p.lease_secs >= 10,
        "poster.lease_secs: must be at least 10".into(),
    );
}

/// Reads a transcript file's turns and fills in roles (`candidate` names the candidate).
pub fn load_transcript(
    text: &str,
    candidate: Option<&str>,
) -> Result<Vec<Turn>, transcript::TranscriptParseError> {
    let mut turns = transcript::parse(text)?;
    transcript::assign_roles(&mut turns, candidate);
    Ok(turns)
}

/// Summarises a whole transcript at once (the CLI, tests): pushes every turn, then finishes.
pub async fn summarize_turns(
    engine: DynSummarizer,
    options: PipelineOptions,
    meta: &NoteMeta,
    turns: Vec<Turn>,
) -> Result<(String, NotesOutcome), NotesError> {
    if turns.is_empty() {
        return Err(NotesError::EmptyTranscript);
    }
    let ctx = PromptContext {
        candidate: meta
            .candidate_name
            .clone()
            .or_else(|| transcript::candidate_name(&turns))
            .unwrap_or_else(|| "the candidate".into()),
        interviewers: if meta.interviewers.is_empty() {
            transcript::interviewer_names(&turns)
        } else {
            meta.interviewers.clone()
        },
        questions: meta.questions.clone(),
        job: meta.job_name.clone(),
    };
    let mut pipeline = NotesPipeline::new(engine, options, ctx);
    pipeline.push(turns).await?;
    let outcome = pipeline.finish().await?;
    let text = render(
        &outcome.notes,
        meta,
        Omissions {
            unsupported: outcome.grounding.unsupported,
            protected: outcome.guard.total(),
            assessed_until: outcome.assessed_until,
        },
    );
    Ok((text, outcome))
}
