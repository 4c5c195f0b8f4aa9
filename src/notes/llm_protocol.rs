//! The wire protocol between Panelist and `panelist-llm`, the process that runs llama.cpp.
//!
//! Why a separate process: whisper.cpp (transcription) and llama.cpp each link their own static
//! copy of ggml, at different versions, and the two cannot share one binary (duplicate symbols, or
//! one silently calling the other's ggml). The worker also keeps a llama.cpp abort (`GGML_ASSERT`)
//! from taking the server down, and gives the model's 2 GiB back when it exits.
//!
//! One JSON object per line in each direction. After loading the model the worker writes one
//! [`WorkerReply::Ready`] (or an `Error` with id 0 and exits); then it answers each
//! [`WorkerRequest`] in order with one reply carrying the request's id, except `Cancel`, which is
//! read while a chat runs and answered by that chat's reply.
//!
//! This file is compiled twice: as `panelist::notes::llm_protocol`, and by `#[path]` into the
//! worker binary, which links nothing else of Panelist. It may use only `serde`.

use serde::{Deserialize, Serialize};

/// One chat turn, as in the OpenAI chat API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// "system", "user" or "assistant".
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WorkerRequest {
    /// Complete a chat with the model's own chat template.
    Chat {
        id: u64,
        messages: Vec<ChatMessage>,
        max_tokens: u32,
        /// 0 = greedy.
        temperature: f32,
        /// Constrain the output to one JSON object (a grammar), like `response_format: json_object`.
        json: bool,
    },
    /// Count the tokens of a text, for callers that budget the context exactly.
    Tokenize { id: u64, text: String },
    /// Stop the chat with this id as soon as possible (between prompt batches or generated
    /// tokens): the call it was for has ended. It is answered by that chat's reply, an `Error`
    /// of kind "cancelled" (or its normal reply if it had already finished); a cancel for an id
    /// not running is ignored. What was decoded stays in the KV cache for the next request.
    Cancel { id: u64 },
}

/// Timings and sizes of one completion, for logs and BENCHMARKS.md.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was reused from the previous request (a shared prefix).
    pub cached_tokens: u32,
    pub completion_tokens: u32,
    pub prompt_ms: u64,
    pub generation_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum WorkerReply {
    Ready {
        /// The model's context length, from its GGUF metadata.
        n_ctx_train: u32,
        /// The context the worker allocated: prompt plus completion must fit in it.
        n_ctx: u32,
        load_ms: u64,
    },
    Chat {
        id: u64,
        text: String,
        /// "stop" (end of turn) or "length" (hit max_tokens), as in the OpenAI API.
        finish_reason: String,
        usage: Usage,
    },
    Tokens {
        id: u64,
        count: u32,
    },
    Error {
        id: u64,
        /// "context_overflow", "bad_request", "cancelled" or "internal".
        kind: String,
        message: String,
    },
}

impl WorkerReply {
    pub fn id(&self) -> u64 {
        match self {
            WorkerReply::Ready { .. } => 0,
            WorkerReply::Chat { id, .. }
            | WorkerReply::Tokens { id, .. }
            | WorkerReply::Error { id, .. } => *id,
        }
    }
}
