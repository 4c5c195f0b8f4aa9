//! Any server speaking OpenAI's `POST {base_url}/chat/completions` (OpenAI, Azure-style proxies,
//! vLLM, llama.cpp's server, Ollama...). Asks for `response_format: {"type": "json_object"}`
//! unless configured off, and stops asking once a server rejects it.
//!
//! 429s wait the server's `Retry-After`; 5xx, timeouts and dropped connections back off
//! exponentially with jitter; both up to `max_retries`. Other statuses fail at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rand::Rng;
use reqwest::header::RETRY_AFTER;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::engine::{ChatRequest, Completion, SummarizerEngine};
use super::llm_protocol::Usage;
use super::NotesError;
use crate::config::NotesOpenAiSettings;

/// Longest single wait, whatever `Retry-After` or the backoff says.
const MAX_WAIT: Duration = Duration::from_secs(60);
const BODY_SNIPPET: usize = 300;

pub struct OpenAiEngine {
    client: reqwest::Client,
    endpoint: String,
    /// Never printed: `SecretString`'s Debug is redacted.
    api_key: SecretString,
    model: String,
    max_retries: u32,
    retry_base: Duration,
    context_tokens: usize,
    /// Cleared when the server refuses `response_format`, so later requests do not ask again.
    json_mode: AtomicBool,
}

impl std::fmt::Debug for OpenAiEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEngine")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ChatResponse {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<ApiUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct ApiUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}

/// What one HTTP attempt came to.
enum Attempt {
    Done(Completion),
    /// Worth another try, after at least this long.
    Retry(NotesError, Option<Duration>),
    Fatal(NotesError),
}

impl OpenAiEngine {
    pub fn new(settings: &NotesOpenAiSettings) -> Result<OpenAiEngine, NotesError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_secs.max(1)))
            .build()
            .map_err(|e| NotesError::Config(format!("HTTP client: {e}")))?;
        Ok(OpenAiEngine {
            client,
            endpoint: format!(
                "{}/chat/completions",
                settings.base_url.trim_end_matches('/')
            ),
            api_key: settings.api_key.clone(),
            model: settings.model.clone(),
            max_retries: settings.max_retries,
            retry_base: Duration::from_millis(settings.retry_base_ms.max(1)),
            context_tokens: settings.context_tokens,
            json_mode: AtomicBool::new(settings.json_response_format),
        })
    }

    async fn attempt(&self, request: &ChatRequest) -> Attempt {
        let json_mode = request.json && self.json_mode.load(Ordering::Relaxed);
        let mut body = json!({
            "model": self.model,
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        });
        if json_mode {
            body["response_format"] = json!({"type": "json_object"});
        }
        let mut rb = self.client.post(&self.endpoint).json(&body);
        let key = self.api_key.expose_secret();
        if !key.is_empty() {
            rb = rb.bearer_auth(key);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(NotesError::Timeout(describe(&e)), None)
            }
            Err(e) => return Attempt::Retry(NotesError::Transport(describe(&e)), None),
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(NotesError::Timeout(describe(&e)), None)
            }
            Err(e) => return Attempt::Retry(NotesError::Transport(describe(&e)), None),
        };
        if !(200..300).contains(&status) {
            let text = snippet(&bytes);
            let err = NotesError::Http {
                status,
                body: text.clone(),
            };
            if status == 400 && json_mode && text.contains("response_format") {
                tracing::info!(endpoint = %self.endpoint, "the chat API refuses response_format; asking for JSON in the prompt only");
                self.json_mode.store(false, Ordering::Relaxed);
                return Attempt::Retry(err, Some(Duration::ZERO));
            }
            return if err.is_retryable() {
                Attempt::Retry(err, retry_after)
            } else {
                Attempt::Fatal(err)
            };
        }
        let parsed: ChatResponse = match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            Err(e) => {
                return Attempt::Fatal(NotesError::MalformedResponse(format!(
                    "{e}: {}",
                    snippet(&bytes)
                )))
            }
        };
        let Some(choice) = parsed.choices.into_iter().next() else {
            return Attempt::Fatal(NotesError::MalformedResponse("no choices".into()));
        };
        let usage = parsed.usage.map(|u| Usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            ..Usage::default()
        });
        Attempt::Done(Completion {
            text: choice.message.content.unwrap_or_default(),
            finish_reason: choice.finish_reason.unwrap_or_else(|| "stop".into()),
            usage: usage.unwrap_or_default(),
        })
    }

    fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .retry_base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let factor: f64 = rand::thread_rng().gen_range(0.5..=1.0);
        exp.min(Duration::from_secs(30)).mul_f64(factor)
    }
}

#[async_trait]
impl SummarizerEngine for OpenAiEngine {
    fn describe(&self) -> String {
        format!("openai-compatible {} at {}", self.model, self.endpoint)
    }

    fn context_tokens(&self) -> usize {
        self.context_tokens
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, NotesError> {
        let started = Instant::now();
        let mut retries = 0u32;
        loop {
            match self.attempt(request).await {
                Attempt::Done(mut c) => {
                    c.usage.generation_ms = started.elapsed().as_millis() as u64;
                    return Ok(c);
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry(e, wait) => {
                    if retries >= self.max_retries {
                        return Err(e);
                    }
                    retries += 1;
                    let wait = wait.unwrap_or_else(|| self.backoff(retries)).min(MAX_WAIT);
                    tracing::warn!(error = %e, retry = retries, wait_ms = wait.as_millis() as u64, "chat API: retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// `Retry-After` in seconds (an HTTP date counts as "soon": one second).
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    match v.parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => Some(Duration::from_secs_f64(s)),
        Ok(_) => None,
        Err(_) => chrono::DateTime::parse_from_rfc2822(v).ok().map(|at| {
            (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
        }),
    }
}

fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.trim().chars().take(BODY_SNIPPET).collect()
}

/// A reqwest error with its causes, naming only the URL's host and path (never its query).
fn describe(e: &reqwest::Error) -> String {
    let mut text = match e.url() {
        Some(u) => format!(
            "request to {}{} failed",
            u.host_str().unwrap_or(""),
            u.path()
        ),
        None => "request failed".into(),
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
    }
}
