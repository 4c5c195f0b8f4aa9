//! `panelist-llm`: runs the local notes model (a GGUF file) with llama.cpp, one request at a time,
//! for the Panelist process that started it. It speaks the line protocol in
//! `src/notes/llm_protocol.rs` on stdin/stdout and links nothing else of Panelist: whisper.cpp,
//! which the main binary links, carries its own ggml, and the two cannot share one binary.
//!
//! Usage: `panelist-llm --model FILE [--threads N] [--ctx N] [--batch N]`.

use std::io::{BufRead, BufWriter, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;

// Only part of the protocol is used on this side.
#[allow(dead_code)]
#[path = "../notes/llm_protocol.rs"]
mod llm_protocol;

use llm_protocol::{ChatMessage, Usage, WorkerReply, WorkerRequest};

/// llama.cpp's `grammars/json.gbnf`, any one JSON object, except that whitespace is at most one
/// space: compact JSON takes about a fifth fewer tokens to generate than indented JSON, and
/// generation is the slow part on a CPU.
const JSON_GRAMMAR: &str = r#"
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F] | "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws
ws     ::= | " "
"#;

/// Repeat penalty over the last tokens: mild, as shared/llm/MODELS.md found best for filling a
/// schema (a strong one breaks the repetitive JSON punctuation).
const PENALTY_LAST_N: i32 = 64;
/// Prompt tokens decoded between checks for a cancel (about 1-2 s on 2 busy cores).
const CANCEL_GRANULE: usize = 128;
const PENALTY_REPEAT: f32 = 1.05;

struct Args {
    model: PathBuf,
    threads: i32,
    ctx: u32,
    batch: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut model = None;
    let mut threads = std::thread::available_parallelism()
        .map(|n| n.get() as i32)
        .unwrap_or(2);
    let mut ctx = 8192;
    let mut batch = 512;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--model" => model = Some(PathBuf::from(value()?)),
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--ctx" => ctx = value()?.parse().map_err(|e| format!("--ctx: {e}"))?,
            "--batch" => batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        model: model.ok_or("--model FILE is required")?,
        threads: threads.max(1),
        ctx: ctx.max(512),
        batch: batch.clamp(32, 4096),
    })
}

fn main() {
    let code = match run() {
        Ok(()) => 0,
        Err(message) => {
            let reply = WorkerReply::Error {
                id: 0,
                kind: "internal".into(),
                message: message.clone(),
            };
            let _ = send(&mut std::io::stdout().lock(), &reply);
            eprintln!("panelist-llm: {message}");
            1
        }
    };
    std::process::exit(code);
}

fn send(out: &mut impl Write, reply: &WorkerReply) -> Result<(), String> {
    let line = serde_json::to_string(reply).map_err(|e| e.to_string())?;
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    // llama.cpp logs every tensor it loads; Panelist reports what matters from the replies.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default().with_logs_enabled(false));
    let started = Instant::now();
    let backend = LlamaBackend::init().map_err(|e| format!("llama.cpp backend: {e}"))?;
    let model = LlamaModel::load_from_file(&backend, &args.model, &LlamaModelParams::default())
        .map_err(|e| format!("cannot load {}: {e}", args.model.display()))?;
    let n_ctx = args.ctx.min(model.n_ctx_train().max(512));
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(args.batch)
        .with_n_ubatch(args.batch)
        .with_n_threads(args.threads)
        .with_n_threads_batch(args.threads);
    let ctx = model
        .new_context(&backend, params)
        .map_err(|e| format!("cannot create a llama.cpp context of {n_ctx} tokens: {e}"))?;
    let mut worker = Worker {
        model: &model,
        ctx,
        batch: args.batch as usize,
        cached: Vec::new(),
        cancel: Arc::new(AtomicU64::new(0)),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    send(
        &mut out,
        &WorkerReply::Ready {
            n_ctx_train: model.n_ctx_train(),
            n_ctx,
            load_ms: started.elapsed().as_millis() as u64,
        },
    )?;
    // Requests are read on their own thread so that a `Cancel` reaches a chat while it runs.
    let cancel = Arc::new(AtomicU64::new(0));
    let (requests, incoming) = mpsc::channel::<Result<WorkerRequest, String>>();
    {
        let cancel = cancel.clone();
        std::thread::Builder::new()
            .name("requests".into())
            .spawn(move || read_requests(&cancel, &requests))
            .map_err(|e| format!("cannot start the request reader: {e}"))?;
    }
    worker.cancel = cancel;
    for request in incoming {
        let reply = match request {
            Err(e) => WorkerReply::Error {
                id: 0,
                kind: "bad_request".into(),
                message: format!("not a request: {e}"),
            },
            // Only a cancel for a chat that is running means anything; it was handled on arrival.
            Ok(WorkerRequest::Cancel { .. }) => continue,
            Ok(WorkerRequest::Tokenize { id, text }) => WorkerReply::Tokens {
                id,
                count: worker.tokenize(&text).len() as u32,
            },
            Ok(WorkerRequest::Chat {
                id,
                messages,
                max_tokens,
                temperature,
                json,
            }) => match worker.chat(id, &messages, max_tokens, temperature, json) {
                Ok((text, finish_reason, usage)) => WorkerReply::Chat {
                    id,
                    text,
                    finish_reason,
                    usage,
                },
                Err((kind, message)) => WorkerReply::Error {
                    id,
                    kind: kind.into(),
                    message,
                },
            },
        };
        send(&mut out, &reply)?;
    }
    // stdin closed: Panelist is done with us.
    Ok(())
}

/// Reads stdin until it closes: cancels are applied at once (the id is stored where the running
/// chat checks it), everything else queues for the main loop in order.
fn read_requests(cancel: &AtomicU64, requests: &mpsc::Sender<Result<WorkerRequest, String>>) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            return;
        };
        if line.trim().is_empty() {
            continue;
        }
        let request = serde_json::from_str::<WorkerRequest>(&line).map_err(|e| e.to_string());
        if let Ok(WorkerRequest::Cancel { id }) = &request {
            cancel.store(*id, Ordering::SeqCst);
        }
        if requests.send(request).is_err() {
            return;
        }
    }
}

struct Worker<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    batch: usize,
    /// The tokens whose keys and values are in the KV cache, in order. A request that starts
    /// with the same tokens (the system prompt, the interview's kit) reuses them.
    cached: Vec<LlamaToken>,
    /// The id of the last chat asked to stop; ids only grow, so it never matches a later one.
    cancel: Arc<AtomicU64>,
}

type ChatError = (&'static str, String);

impl Worker<'_> {
    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), false, true)
    }

    fn prompt(&self, messages: &[ChatMessage]) -> Result<String, ChatError> {
        let template = self
            .model
            .chat_template(None)
            .map_err(|e| ("internal", format!("the model has no chat template: {e}")))?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.clone(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ("bad_request", format!("message: {e}")))?;
        self.model
            .apply_chat_template(&template, &chat, true)
            .map_err(|e| ("internal", format!("chat template: {e}")))
    }

    fn cancelled(&self, id: u64) -> Result<(), ChatError> {
        if self.cancel.load(Ordering::SeqCst) == id {
            return Err((
                "cancelled",
                "cancelled: the call it was for has ended".into(),
            ));
        }
        Ok(())
    }

    fn chat(
        &mut self,
        id: u64,
        messages: &[ChatMessage],
        max_tokens: u32,
        temperature: f32,
        json: bool,
    ) -> Result<(String, String, Usage), ChatError> {
        let prompt = self.prompt(messages)?;
        let tokens = self.tokenize(&prompt);
        let n_ctx = self.ctx.n_ctx() as usize;
        if tokens.is_empty() {
            return Err(("bad_request", "empty prompt".into()));
        }
        if tokens.len() + max_tokens as usize > n_ctx {
            return Err((
                "context_overflow",
                format!(
                    "prompt of {} tokens plus {max_tokens} to generate exceeds the context of {n_ctx}",
                    tokens.len()
                ),
            ));
        }
        let started = Instant::now();
        // Reuse the shared prefix; at least the last prompt token is decoded again for its logits.
        let reuse = common_prefix(&self.cached, &tokens).min(tokens.len() - 1);
        let reuse = if self
            .ctx
            .clear_kv_cache_seq(Some(0), Some(reuse as u32), None)
            .unwrap_or(false)
        {
            reuse
        } else {
            self.ctx.clear_kv_cache();
            0
        };
        self.cached.truncate(reuse);
        let mut batch = LlamaBatch::new(self.batch, 1);
        let mut pos = reuse;
        // Pieces of at most CANCEL_GRANULE tokens, so that a cancel waits a second or two, not a
        // whole 512-token batch; each piece decoded stays cached for the request that follows.
        for piece in tokens[reuse..].chunks(self.batch.min(CANCEL_GRANULE)) {
            self.cancelled(id)?;
            batch.clear();
            for (i, &t) in piece.iter().enumerate() {
                let last = pos + i + 1 == tokens.len();
                batch
                    .add(t, (pos + i) as i32, &[0], last)
                    .map_err(|e| ("internal", format!("batch: {e}")))?;
            }
            self.ctx
                .decode(&mut batch)
                .map_err(|e| ("internal", format!("prompt decode: {e}")))?;
            pos += piece.len();
            self.cached.extend_from_slice(piece);
        }
        let prompt_ms = started.elapsed().as_millis() as u64;

        let generating = Instant::now();
        let mut sampler = if temperature > 0.0 {
            LlamaSampler::chain_simple([
                LlamaSampler::penalties(
                    self.model.n_vocab(),
                    PENALTY_LAST_N,
                    PENALTY_REPEAT,
                    0.0,
                    0.0,
                ),
                LlamaSampler::top_k(40),
                LlamaSampler::temp(temperature),
                LlamaSampler::dist(0x5eed),
            ])
        } else {
            LlamaSampler::chain_simple([
                LlamaSampler::penalties(
                    self.model.n_vocab(),
                    PENALTY_LAST_N,
                    PENALTY_REPEAT,
                    0.0,
                    0.0,
                ),
                LlamaSampler::greedy(),
            ])
        };
        let mut grammar = if json {
            Some(
                LlamaSampler::grammar(self.model, JSON_GRAMMAR, "root")
                    .map_err(|e| ("internal", format!("JSON grammar: {e}")))?,
            )
        } else {
            None
        };
        let vocab = self.model.vocab();
        let mut bytes = Vec::new();
        let mut generated = 0u32;
        let mut finish = "length";
        let mut logits_at = batch.n_tokens() - 1;
        while generated < max_tokens {
            self.cancelled(id)?;
            let token = self.sample(&mut sampler, grammar.as_mut(), logits_at);
            if vocab.is_eog(token) {
                finish = "stop";
                break;
            }
            sampler.accept(token);
            if let Some(g) = grammar.as_mut() {
                g.accept(token);
            }
            vocab.token_to_piece_into(token, &mut bytes, false, None);
            generated += 1;
            batch.clear();
            batch
                .add(token, pos as i32, &[0], true)
                .map_err(|e| ("internal", format!("batch: {e}")))?;
            self.ctx
                .decode(&mut batch)
                .map_err(|e| ("internal", format!("decode: {e}")))?;
            self.cached.push(token);
            pos += 1;
            logits_at = 0;
        }
        let usage = Usage {
            prompt_tokens: tokens.len() as u32,
            cached_tokens: reuse as u32,
            completion_tokens: generated,
            prompt_ms,
            generation_ms: generating.elapsed().as_millis() as u64,
        };
        Ok((
            String::from_utf8_lossy(&bytes).into_owned(),
            finish.into(),
            usage,
        ))
    }

    /// Samples without the grammar first and checks the pick against it, resampling under the
    /// grammar only when the pick is not allowed: what llama.cpp's own sampler does, because
    /// checking the grammar against all 150k candidates at every step is slow.
    fn sample(
        &self,
        chain: &mut LlamaSampler,
        grammar: Option<&mut LlamaSampler>,
        idx: i32,
    ) -> LlamaToken {
        let mut candidates = self.ctx.token_data_array_ith(idx);
        candidates.apply_sampler(chain);
        let picked = candidates
            .selected_token()
            .unwrap_or_else(|| self.model.vocab().eos());
        let Some(grammar) = grammar else {
            return picked;
        };
        let mut single =
            LlamaTokenDataArray::new(vec![LlamaTokenData::new(picked, 1.0, 0.0)], false);
        single.apply_sampler(grammar);
        if single.data.first().is_some_and(|d| d.logit().is_finite()) {
            return picked;
        }
        let mut candidates = self.ctx.token_data_array_ith(idx);
        candidates.apply_sampler(grammar);
        candidates.apply_sampler(chain);
        candidates
            .selected_token()
            .unwrap_or_else(|| self.model.vocab().eos())
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
