//! The HTTP engine: any server speaking OpenAI's `POST /v1/audio/transcriptions` (OpenAI itself, Groq,
//! a local faster-whisper or whisper.cpp server...). Each chunk goes up as a WAV in a multipart form with
//! `response_format=verbose_json`, which returns timed segments.
//!
//! 429s are retried after the server's `Retry-After`; 5xx, timeouts and dropped connections after a jittered
//! exponential backoff. Anything else, and a body that is not the expected JSON, is an error at once.

use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::wav::encode_wav;
use super::{EngineSegment, TranscribeError, TranscriptionEngine};
use crate::config::TranscriptionHttpSettings;

/// Longest wait between attempts, whatever the server or the backoff says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error body to keep in the error (bodies can be HTML pages).
const BODY_SNIPPET: usize = 300;

pub struct HttpEngine {
    client: reqwest::Client,
    endpoint: String,
    /// Never logged: `SecretString` prints as `[REDACTED]`.
    api_key: SecretString,
    model: String,
    language: Option<String>,
    max_retries: u32,
    retry_base: Duration,
    concurrency: usize,
}

impl std::fmt::Debug for HttpEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEngine")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl HttpEngine {
    pub fn new(
        settings: &TranscriptionHttpSettings,
        language: &str,
    ) -> Result<HttpEngine, TranscribeError> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.request_timeout_secs))
            .build()
            .map_err(|e| TranscribeError::Transport(e.to_string()))?;
        Ok(HttpEngine {
            client,
            endpoint: format!(
                "{}/v1/audio/transcriptions",
                settings.base_url.trim_end_matches('/')
            ),
            api_key: settings.api_key.clone(),
            model: settings.model.clone(),
            language: (language != "auto").then(|| language.to_string()),
            max_retries: settings.max_retries,
            retry_base: Duration::from_millis(settings.retry_base_ms),
            concurrency: settings.max_concurrent_requests.max(1),
        })
    }

    async fn attempt(&self, wav: &[u8]) -> Result<Vec<EngineSegment>, Attempt> {
        let mut form = Form::new()
            .part(
                "file",
                Part::bytes(wav.to_vec())
                    .file_name("chunk.wav")
                    .mime_str("audio/wav")
                    .map_err(|e| Attempt::fatal(TranscribeError::Transport(e.to_string())))?,
            )
            .text("model", self.model.clone())
            .text("response_format", "verbose_json")
            .text("temperature", "0");
        if let Some(lang) = &self.language {
            form = form.text("language", lang.clone());
        }
        let mut request = self.client.post(&self.endpoint).multipart(form);
        let key = self.api_key.expose_secret();
        if !key.is_empty() {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| Attempt {
            // Drop the URL from the message: it is configuration, not news, and keeps errors short.
            error: TranscribeError::Transport(e.without_url().to_string()),
            retry_after: None,
        })?;
        let status = response.status();
        if status.is_success() {
            let body = response
                .bytes()
                .await
                .map_err(|e| Attempt::retry(TranscribeError::Transport(e.to_string())))?;
            return parse_verbose_json(&body).map_err(Attempt::fatal);
        }
        let retry_after = retry_after(response.headers());
        let body = response.text().await.unwrap_or_default();
        Err(Attempt {
            error: TranscribeError::Http {
                status: status.as_u16(),
                body: snippet(&body),
            },
            retry_after,
        })
    }

    /// The wait before retry number `retry` (1-based): the server's word for a 429, else backoff.
    fn backoff(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(MAX_BACKOFF);
        }
        let exp = self
            .retry_base
            .saturating_mul(1u32 << (retry - 1).min(16))
            .min(MAX_BACKOFF);
        // Up to 25% jitter, so parallel chunks that failed together do not retry together.
        let jitter = rand::thread_rng().gen_range(0.0..0.25);
        exp.mul_f64(1.0 + jitter).min(MAX_BACKOFF)
    }
}

struct Attempt {
    error: TranscribeError,
    retry_after: Option<Duration>,
}

impl Attempt {
    fn fatal(error: TranscribeError) -> Attempt {
        Attempt {
            error,
            retry_after: None,
        }
    }

    fn retry(error: TranscribeError) -> Attempt {
        Attempt {
            error,
            retry_after: None,
        }
    }
}

#[async_trait]
impl TranscriptionEngine for HttpEngine {
    fn describe(&self) -> String {
        format!("http {}", self.model)
    }

    fn concurrency(&self) -> usize {
        self.concurrency
    }

    async fn transcribe(&self, samples: Vec<i16>) -> Result<Vec<EngineSegment>, TranscribeError> {
        if samples.is_empty() {
            return Ok(Vec::new());
        }
        let wav = encode_wav(&samples);
        let mut retry = 0;
        loop {
            match self.attempt(&wav).await {
                Ok(segments) => return Ok(segments),
                Err(a) if a.error.is_retryable() && retry < self.max_retries => {
                    retry += 1;
                    let wait = self.backoff(retry, a.retry_after);
                    tracing::warn!(error = %a.error, retry, wait_ms = wait.as_millis() as u64, "transcription request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(a) => return Err(a.error),
            }
        }
    }
}

/// `Retry-After` as seconds (what rate limiters send) or an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct VerboseJson {
    segments: Option<Vec<VerboseSegment>>,
    text: Option<String>,
    duration: Option<f64>,
}

#[derive(Deserialize)]
struct VerboseSegment {
    start: f64,
    end: f64,
    text: String,
}

/// Reads a `verbose_json` body into segments. A body with text but no segments (some servers) becomes one
/// segment spanning the audio.
pub fn parse_verbose_json(body: &[u8]) -> Result<Vec<EngineSegment>, TranscribeError> {
    let parsed: VerboseJson = serde_json::from_slice(body).map_err(|e| {
        TranscribeError::MalformedResponse(format!(
            "expected verbose_json with segments ({e}); body starts {:?}",
            snippet(&String::from_utf8_lossy(body))
        ))
    })?;
    let to_ms = |s: f64| -> Result<u64, TranscribeError> {
        if s.is_finite() && s >= 0.0 {
            Ok((s * 1000.0).round() as u64)
        } else {
            Err(TranscribeError::MalformedResponse(format!(
                "segment time {s} is not a non-negative number of seconds"
            )))
        }
    };
    match parsed.segments {
        Some(segments) => segments
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .map(|s| {
                let start_ms = to_ms(s.start)?;
                let end_ms = to_ms(s.end)?.max(start_ms);
                Ok(EngineSegment {
                    start_ms,
                    end_ms,
                    text: s.text.trim().to_string(),
                })
            })
            .collect(),
        None => match parsed.text {
            Some(text) if !text.trim().is_empty() => Ok(vec![EngineSegment {
                start_ms: 0,
                end_ms: to_ms(parsed.duration.unwrap_or(0.0))?,
                text: text.trim().to_string(),
            }]),
            Some(_) => Ok(Vec::new()),
            None => Err(TranscribeError::MalformedResponse(
                "the response has neither segments nor text (is response_format=verbose_json supported by this model?)"
                    .into(),
            )),
        },
    }
}

fn snippet(body: &str) -> String {
    let mut s: String = body.chars().take(BODY_SNIPPET).collect();
    if body.chars().count() > BODY_SNIPPET {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_json_segments_are_read_and_trimmed() {
        let body = br#"{"task":"transcribe","language":"english","duration":3.2,"text":"Hi. Bye.",
            "segments":[{"id":0,"start":0.0,"end":1.5,"text":" Hi."},{"id":1,"start":1.5,"end":3.2,"text":" Bye."}]}"#;
        let s = parse_verbose_json(body).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1],
            EngineSegment {
                start_ms: 1500,
                end_ms: 3200,
                text: "Bye.".into()
            }
        );
    }

    #[test]
    fn text_only_and_malformed_bodies() {
        let s = parse_verbose_json(br#"{"text":"hello","duration":2.0}"#).unwrap();
        assert_eq!(
            s,
            vec![EngineSegment {
                start_ms: 0,
                end_ms: 2000,
                text: "hello".into()
            }]
        );
        for bad in [
            &b"<html>502</html>"[..],
            br#"{"segments":[{"start":"x"}]}"#,
            br#"{"foo":1}"#,
        ] {
            let err = parse_verbose_json(bad).unwrap_err();
            assert!(
                matches!(err, TranscribeError::MalformedResponse(_)),
                "{err}"
            );
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(
            RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let mut s = crate::config::Settings::defaults()
            .unwrap()
            .transcription
            .http;
        s.api_key = SecretString::from("sk-live-123".to_string());
        let e = HttpEngine::new(&s, "en").unwrap();
        assert!(!format!("{e:?}").contains("sk-live"));
    }
}
