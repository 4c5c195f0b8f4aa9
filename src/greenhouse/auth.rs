//! Authentication: the v1 Basic header, and the v3 OAuth2 client-credentials token cache.
//!
//! v3 tokens live about an hour. The cache refreshes `token_refresh_margin` before expiry under a
//! tokio mutex, so concurrent callers wait for one refresh instead of stampeding the token
//! endpoint; a 401 from Harvest invalidates exactly the token that was rejected (by generation),
//! so a burst of 401s from one expired token causes one refresh, not one per caller.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::error::GreenhouseError;
use super::ratelimit::parse_retry_after;
use crate::domain::Id;

/// The `Authorization` value for a v1 API key: Basic with the key as user and no password.
pub(crate) fn v1_basic_header(api_key: &SecretString) -> SecretString {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", api_key.expose_secret()));
    SecretString::from(format!("Basic {encoded}"))
}

/// A bearer token and the number that identifies it for invalidation.
#[derive(Clone)]
pub(crate) struct Bearer {
    pub header: SecretString,
    pub generation: u64,
}

struct Cached {
    header: SecretString,
    refresh_at: DateTime<Utc>,
    generation: u64,
}

struct CacheState {
    token: Option<Cached>,
    generation: u64,
}

/// The token endpoint's answer. `expires_at` is what Greenhouse documents; `expires_in` is
/// accepted as well in case the endpoint follows plain OAuth2 there.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    expires_in: Option<f64>,
}

/// Lifetime assumed when the token endpoint states none (Greenhouse documents about an hour).
const DEFAULT_TTL: Duration = Duration::from_secs(3600);

pub(crate) struct TokenCache {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    sub: Option<Id>,
    margin: Duration,
    timeout: Duration,
    max_retries: u32,
    state: Mutex<CacheState>,
}

/// What a token fetch did, for the client's counters.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FetchReport {
    pub fetched: bool,
}

impl TokenCache {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        http: reqwest::Client,
        token_url: String,
        client_id: String,
        client_secret: SecretString,
        sub: Option<Id>,
        margin: Duration,
        timeout: Duration,
        max_retries: u32,
    ) -> Self {
        TokenCache {
            http,
            token_url,
            client_id,
            client_secret,
            sub,
            margin,
            timeout,
            max_retries,
            state: Mutex::new(CacheState {
                token: None,
                generation: 0,
            }),
        }
    }

    /// A token valid for at least the refresh margin, fetching one if needed.
    pub(crate) async fn bearer(&self) -> Result<(Bearer, FetchReport), GreenhouseError> {
        let mut state = self.state.lock().await;
        if let Some(t) = &state.token {
            if Utc::now() < t.refresh_at {
                return Ok((
                    Bearer {
                        header: t.header.clone(),
                        generation: t.generation,
                    },
                    FetchReport::default(),
                ));
            }
        }
        let (header, refresh_at) = self.fetch().await?;
        state.generation += 1;
        let generation = state.generation;
        state.token = Some(Cached {
            header: header.clone(),
            refresh_at,
            generation,
        });
        Ok((Bearer { header, generation }, FetchReport { fetched: true }))
    }

    /// Drops the cached token if it is still the one Harvest rejected.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().map(|t| t.generation) == Some(generation) {
            state.token = None;
        }
    }

    async fn fetch(&self) -> Result<(SecretString, DateTime<Utc>), GreenhouseError> {
        let mut attempt = 0u32;
        loop {
            match self.fetch_once().await {
                Ok(t) => return Ok(t),
                Err(TokenFailure::RetryAfter(wait, err)) if attempt < self.max_retries => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %err, "greenhouse token fetch: retrying");
                    tokio::time::sleep(wait.unwrap_or_else(|| super::engine::backoff(attempt)))
                        .await;
                }
                Err(TokenFailure::RetryAfter(_, err)) | Err(TokenFailure::Fatal(err)) => {
                    return Err(err)
                }
            }
        }
    }

    async fn fetch_once(&self) -> Result<(SecretString, DateTime<Utc>), TokenFailure> {
        let mut form: Vec<(&str, String)> = vec![("grant_type", "client_credentials".into())];
        if let Some(sub) = self.sub {
            form.push(("sub", sub.to_string()));
        }
        tracing::debug!(sub = ?self.sub, "greenhouse: requesting v3 access token");
        let resp = self
            .http
            .post(&self.token_url)
            .basic_auth(&self.client_id, Some(self.client_secret.expose_secret()))
            .form(&form)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| {
                let err = GreenhouseError::from_reqwest(e);
                if err.is_retryable() {
                    TokenFailure::RetryAfter(None, err)
                } else {
                    TokenFailure::Fatal(err)
                }
            })?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let body = resp
            .bytes()
            .await
            .map_err(|e| TokenFailure::RetryAfter(None, GreenhouseError::from_reqwest(e)))?;
        if status.is_success() {
            return self.parse(&body).map_err(TokenFailure::Fatal);
        }
        // The token endpoint's body is never quoted into errors: an OAuth server may echo
        // parts of the request. Only OAuth's short `error` code is kept.
        let code = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .filter(|c| {
                c.len() <= 64 && c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            })
            .unwrap_or_default();
        let detail = if code.is_empty() {
            format!("token endpoint answered HTTP {}", status.as_u16())
        } else {
            format!("token endpoint answered HTTP {} ({code})", status.as_u16())
        };
        let err = match status {
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(TokenFailure::Fatal(GreenhouseError::Unauthorized {
                    message: format!("{detail}: check the v3 client id and secret"),
                }))
            }
            StatusCode::TOO_MANY_REQUESTS => GreenhouseError::RateLimited {
                retry_after: retry_after.unwrap_or(Duration::from_secs(1)),
            },
            s if s.is_server_error() => GreenhouseError::Server {
                status: s.as_u16(),
                body: detail,
            },
            s => {
                return Err(TokenFailure::Fatal(GreenhouseError::UnexpectedStatus {
                    status: s.as_u16(),
                    body: detail,
                }))
            }
        };
        Err(TokenFailure::RetryAfter(retry_after, err))
    }

    fn parse(&self, body: &[u8]) -> Result<(SecretString, DateTime<Utc>), GreenhouseError> {
        let t: TokenResponse = serde_json::from_slice(body).map_err(|e| {
            // serde's message names the field, never the value, for these types.
            GreenhouseError::Decode(format!("token response: {e}"))
        })?;
        if let Some(kind) = &t.token_type {
            if !kind.eq_ignore_ascii_case("bearer") {
                return Err(GreenhouseError::Decode(format!(
                    "token response: unsupported token_type {kind:?}"
                )));
            }
        }
        let now = Utc::now();
        let expires_at = t
            .expires_at
            .or_else(|| {
                t.expires_in
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .and_then(|s| chrono::Duration::from_std(Duration::from_secs_f64(s)).ok())
                    .map(|d| now + d)
            })
            .unwrap_or_else(|| now + chrono::Duration::seconds(DEFAULT_TTL.as_secs() as i64));
        Ok((
            SecretString::from(format!("Bearer {}", t.access_token)),
            refresh_point(now, expires_at, self.margin),
        ))
    }
}

/// When to stop using a token: `margin` before expiry, but never later than halfway through a
/// lifetime shorter than twice the margin (or every call would refresh).
fn refresh_point(now: DateTime<Utc>, expires_at: DateTime<Utc>, margin: Duration) -> DateTime<Utc> {
    let lifetime = expires_at - now;
    let margin = chrono::Duration::from_std(margin).unwrap_or(chrono::Duration::zero());
    let margin = margin.min(lifetime / 2).max(chrono::Duration::zero());
    expires_at - margin
}

enum TokenFailure {
    /// Transient: may be retried after the given delay (or backoff).
    RetryAfter(Option<Duration>, GreenhouseError),
    Fatal(GreenhouseError),
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_matches_docs() {
        // The documented example: key a7183e1b7e9ab09b8a5cfa87d1934c3c.
        let h = v1_basic_header(&SecretString::from("a7183e1b7e9ab09b8a5cfa87d1934c3c"));
        assert_eq!(
            h.expose_secret(),
            "Basic YTcxODNlMWI3ZTlhYjA5YjhhNWNmYTg3ZDE5MzRjM2M6"
        );
    }

    #[test]
    fn refresh_point_respects_margin_and_short_lifetimes() {
        let now = Utc::now();
        let hour = now + chrono::Duration::seconds(3600);
        assert_eq!(
            refresh_point(now, hour, Duration::from_secs(300)),
            hour - chrono::Duration::seconds(300)
        );
        let short = now + chrono::Duration::seconds(4);
        assert_eq!(
            refresh_point(now, short, Duration::from_secs(300)),
            now + chrono::Duration::seconds(2)
        );
    }
}
