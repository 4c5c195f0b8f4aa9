//! The boundary between the notes pipeline and whatever runs the language model: an
//! OpenAI-compatible chat API ([`super::openai::OpenAiEngine`]) or llama.cpp on this machine
//! ([`super::local::LocalEngine`]). Both get the same prompts and must return the same schema.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::llm_protocol::{ChatMessage, Usage};
use super::NotesError;

/// One chat completion to run.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    pub max_tokens: u32,
    pub temperature: f32,
    /// Ask for a single JSON object (`response_format: json_object`, or a grammar locally).
    pub json: bool,
}

/// The model's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub text: String,
    /// "stop", or "length" when the token limit cut it off.
    pub finish_reason: String,
    pub usage: Usage,
}

#[async_trait]
pub trait SummarizerEngine: Send + Sync + 'static {
    /// Names the engine and model for logs, e.g. "local qwen2.5-coder-1.5b (2 threads)".
    fn describe(&self) -> String;

    /// Tokens one request may use, prompt and completion together.
    fn context_tokens(&self) -> usize;

    /// Runs one completion. Must not block the calling (async) thread. Retries of rate limits
    /// and server errors happen inside; what comes back is final for this request.
    async fn complete(&self, request: &ChatRequest) -> Result<Completion, NotesError>;

    /// As `complete`, but gives up with `NotesError::Cancelled` once `cancel` fires: the call
    /// has ended and the model is wanted for the notes. Dropping the request (an HTTP call)
    /// is enough by default; an engine that computes in another process overrides it to stop
    /// the computation too.
    async fn complete_unless(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<Completion, NotesError> {
        tokio::select! {
            biased;
            () = cancel.cancelled() => Err(NotesError::Cancelled),
            done = self.complete(request) => done,
        }
    }
}

pub type DynSummarizer = Arc<dyn SummarizerEngine>;
