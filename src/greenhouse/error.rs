//! `GreenhouseError`: every way a Harvest call can fail, and which of them are worth retrying.
//!
//! Messages are built only from status codes, Greenhouse's own error bodies (scrubbed of known
//! secrets by the caller) and static text, so no credential or token can end up in a log line or
//! on the settings page that shows `last_error`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One field Greenhouse rejected in a 422 body (`{"message": ..., "field": ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: Option<String>,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum GreenhouseError {
    /// 401 from Harvest (after one token refresh on v3), or the token endpoint refusing the
    /// client credentials.
    #[error("Greenhouse rejected the credentials: {message}")]
    Unauthorized { message: String },
    #[error("Greenhouse denied access: {message}")]
    Forbidden { message: String },
    #[error("Greenhouse resource not found: {path}")]
    NotFound { path: String },
    #[error("Greenhouse validation error: {message}{}", fmt_field_errors(errors))]
    Validation {
        message: String,
        errors: Vec<FieldError>,
    },
    /// Still throttled after the bounded number of 429 retries.
    #[error(
        "Greenhouse rate limit still exceeded after retrying (last Retry-After {retry_after:?})"
    )]
    RateLimited { retry_after: Duration },
    #[error("Greenhouse server error {status}: {body}")]
    Server { status: u16, body: String },
    /// A status the client has no specific meaning for (400, 405, 409...).
    #[error("unexpected Greenhouse response {status}: {body}")]
    UnexpectedStatus { status: u16, body: String },
    /// The request ran past the configured timeout. For a write the outcome is unknown.
    #[error("Greenhouse request timed out: {0}")]
    Timeout(String),
    /// The connection could not be established: the request never reached Greenhouse.
    #[error("could not connect to Greenhouse: {0}")]
    Connect(String),
    /// The connection broke after the request was sent. For a write the outcome is unknown.
    #[error("connection to Greenhouse failed mid-request: {0}")]
    Transport(String),
    #[error("could not decode Greenhouse response: {0}")]
    Decode(String),
    #[error("Greenhouse client misconfigured: {0}")]
    Config(String),
}

fn fmt_field_errors(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|e| match &e.field {
            Some(f) => format!("{f}: {}", e.message),
            None => e.message.clone(),
        })
        .collect();
    format!(" ({})", parts.join("; "))
}

impl GreenhouseError {
    /// Whether trying the same request again later can succeed. Callers deciding about a write
    /// must also consider that `Timeout`/`Transport` leave its outcome unknown.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            GreenhouseError::RateLimited { .. }
                | GreenhouseError::Server { .. }
                | GreenhouseError::Timeout(_)
                | GreenhouseError::Connect(_)
                | GreenhouseError::Transport(_)
        )
    }

    /// Whether the request may have been applied by Greenhouse although no answer came back.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            GreenhouseError::Timeout(_) | GreenhouseError::Transport(_)
        )
    }

    /// The HTTP status Greenhouse answered with, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            GreenhouseError::Unauthorized { .. } => Some(401),
            GreenhouseError::Forbidden { .. } => Some(403),
            GreenhouseError::NotFound { .. } => Some(404),
            GreenhouseError::Validation { .. } => Some(422),
            GreenhouseError::RateLimited { .. } => Some(429),
            GreenhouseError::Server { status, .. }
            | GreenhouseError::UnexpectedStatus { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Maps a reqwest failure without its URL's query (which may carry e-mail addresses).
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let text = describe(&err);
        if err.is_timeout() {
            GreenhouseError::Timeout(text)
        } else if err.is_connect() {
            GreenhouseError::Connect(text)
        } else if err.is_decode() {
            GreenhouseError::Decode(text)
        } else if err.is_builder() {
            GreenhouseError::Config(text)
        } else {
            GreenhouseError::Transport(text)
        }
    }
}

/// The reqwest error and its sources, with the URL reduced to its path.
fn describe(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    if let Some(url) = err.url() {
        parts.push(format!("{} {}", url.host_str().unwrap_or(""), url.path()));
    }
    let mut source: Option<&dyn std::error::Error> = Some(err);
    let mut first = true;
    while let Some(e) = source {
        let text = if first {
            // reqwest's own Display repeats the full URL: use the inner sources instead.
            first = false;
            match err.url() {
                Some(_) => None,
                None => Some(e.to_string()),
            }
        } else {
            Some(e.to_string())
        };
        if let Some(t) = text {
            if !parts.contains(&t) {
                parts.push(t);
            }
        }
        source = e.source();
    }
    if parts.is_empty() {
        "request failed".to_string()
    } else {
        parts.join(": ")
    }
}

/// Greenhouse's error body: `{"message": ..., "errors": [...]}`, either part optional.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

impl ErrorBody {
    pub(crate) fn parse(body: &[u8]) -> ErrorBody {
        serde_json::from_slice(body).unwrap_or_default()
    }
}

/// At most `max` characters of a response body, for error messages.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(max).collect();
    if trimmed.chars().count() > max {
        out.push('…');
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn retryability() {
        assert!(GreenhouseError::Server {
            status: 502,
            body: String::new()
        }
        .is_retryable());
        assert!(GreenhouseError::Timeout("t".into()).is_retryable());
        assert!(!GreenhouseError::NotFound { path: "/x".into() }.is_retryable());
        assert!(!GreenhouseError::Validation {
            message: "m".into(),
            errors: vec![]
        }
        .is_retryable());
    }

    #[test]
    fn validation_message_lists_fields() {
        let body = ErrorBody::parse(
            br#"{"errors":[{"message":"Missing required field: body","field":"body"}]}"#,
        );
        let err = GreenhouseError::Validation {
            message: body.message.unwrap_or_else(|| "Validation error".into()),
            errors: body.errors,
        };
        assert_eq!(
            err.to_string(),
            "Greenhouse validation error: Validation error (body: Missing required field: body)"
        );
    }

    #[test]
    fn excerpt_truncates() {
        assert_eq!(excerpt(b"  abcdef ", 3), "abc…");
        assert_eq!(excerpt(b"ab", 3), "ab");
    }
}
