//! The request engine: sends one Harvest request with authentication, the shared rate budget,
//! the timeout and the retry rules, and maps failures to `GreenhouseError` with any secret
//! scrubbed out of quoted response text.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::client::{bump, Auth, GreenhouseClient};
use super::error::{excerpt, ErrorBody, GreenhouseError};
use super::ratelimit::{parse_reset, parse_retry_after};
use crate::domain::Id;
use crate::settings::ApiVersion;

/// 429s are retried on their own bound, apart from `max_retries`: being throttled is expected
/// during a full sync and says nothing about Greenhouse being broken.
const MAX_429_RETRIES: u32 = 20;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// How much of an error body goes into `GreenhouseError::Server` and friends.
const EXCERPT_CHARS: usize = 300;

/// One Harvest request as the engine sends it.
pub(crate) struct ApiRequest {
    pub method: Method,
    pub url: Url,
    pub body: Option<serde_json::Value>,
    /// Not idempotent: never re-sent when it may have reached Greenhouse.
    pub write: bool,
    /// v1 `On-Behalf-Of` value for this write.
    pub on_behalf_of: Option<Id>,
}

impl ApiRequest {
    pub(crate) fn get(url: Url) -> Self {
        ApiRequest {
            method: Method::GET,
            url,
            body: None,
            write: false,
            on_behalf_of: None,
        }
    }
}

pub(crate) struct ApiResponse {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub url: Url,
}

/// Jittered exponential backoff for the `attempt`-th retry (1-based).
pub(crate) fn backoff(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.saturating_sub(1).min(10));
    let capped = exp.min(BACKOFF_CAP);
    // Full range would allow ~0 waits; half-to-full keeps the growth while spreading callers.
    let factor: f64 = rand::thread_rng().gen_range(0.5..=1.0);
    capped.mul_f64(factor)
}

impl GreenhouseClient {
    /// Sends one request with authentication, the rate budget, the timeout and the retry rules:
    /// 429 waits `Retry-After` and retries (bounded separately); v3 401 refreshes the token once;
    /// 5xx, timeouts and connection failures back off and retry up to `max_retries`, except that
    /// a write is re-sent only when it cannot have been applied (connection never made, 503).
    pub(crate) async fn execute(&self, req: ApiRequest) -> Result<ApiResponse, GreenhouseError> {
        let shared = &*self.shared;
        let mut error_retries = 0u32;
        let mut throttled = 0u32;
        let mut refreshed = false;
        loop {
            let (authorization, generation) = match &*self.auth {
                Auth::V1(header) => (header.clone(), None),
                Auth::V3(cache) => {
                    let (bearer, report) = cache.bearer().await?;
                    if report.fetched {
                        bump(&shared.counters.token_fetches);
                    }
                    (bearer.header, Some(bearer.generation))
                }
            };
            let permit = shared.budget.acquire().await;
            let mut auth_value =
                HeaderValue::from_str(authorization.expose_secret()).map_err(|_| {
                    GreenhouseError::Config("credentials contain invalid characters".into())
                })?;
            auth_value.set_sensitive(true);
            let mut rb = shared
                .http
                .request(req.method.clone(), req.url.clone())
                .timeout(shared.timeout)
                .header(AUTHORIZATION, auth_value)
                .header(ACCEPT, "application/json");
            if shared.version == ApiVersion::V1 {
                if let Some(user) = req.on_behalf_of {
                    rb = rb.header("On-Behalf-Of", user.to_string());
                }
            }
            if let Some(body) = &req.body {
                rb = rb.json(body);
            }
            bump(&shared.counters.requests);
            tracing::debug!(
                method = %req.method,
                path = req.url.path(),
                error_retries,
                throttled,
                "greenhouse request"
            );
            let outcome = match rb.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    permit.complete(&headers, status);
                    match resp.bytes().await {
                        Ok(body) => Ok((status, headers, body)),
                        Err(e) => Err(GreenhouseError::from_reqwest(e)),
                    }
                }
                Err(e) => {
                    drop(permit);
                    Err(GreenhouseError::from_reqwest(e))
                }
            };
            let err = match outcome {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    tracing::debug!(status, path = req.url.path(), "greenhouse response");
                    return Ok(ApiResponse {
                        headers,
                        body,
                        url: req.url,
                    });
                }
                Ok((429, headers, _)) => {
                    bump(&shared.counters.rate_limited);
                    let wait = retry_delay(&headers);
                    if throttled >= MAX_429_RETRIES {
                        return Err(GreenhouseError::RateLimited { retry_after: wait });
                    }
                    throttled += 1;
                    tracing::debug!(wait_ms = wait.as_millis() as u64, "greenhouse 429: waiting");
                    shared.budget.block_for(wait);
                    continue;
                }
                Ok((401, _, _)) if generation.is_some() && !refreshed => {
                    refreshed = true;
                    bump(&shared.counters.retries);
                    tracing::debug!("greenhouse 401: refreshing the v3 token once");
                    if let (Auth::V3(cache), Some(generation)) = (&*self.auth, generation) {
                        cache.invalidate(generation).await;
                    }
                    continue;
                }
                Ok((status, _, body)) => self.status_error(status, &req.url, &body, &authorization),
                Err(e) => e,
            };
            let may_retry = err.is_retryable()
                && (!req.write
                    || matches!(
                        err,
                        GreenhouseError::Connect(_) | GreenhouseError::Server { status: 503, .. }
                    ));
            if may_retry && error_retries < shared.max_retries {
                error_retries += 1;
                bump(&shared.counters.retries);
                let wait = backoff(error_retries);
                tracing::debug!(error = %err, wait_ms = wait.as_millis() as u64, "greenhouse: retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            tracing::debug!(error = %err, path = req.url.path(), "greenhouse request failed");
            return Err(err);
        }
    }

    fn status_error(
        &self,
        status: u16,
        url: &Url,
        body: &[u8],
        authorization: &SecretString,
    ) -> GreenhouseError {
        let parsed = ErrorBody::parse(body);
        let message = |fallback: &str| {
            self.scrub(
                parsed
                    .message
                    .clone()
                    .unwrap_or_else(|| fallback.to_string()),
                authorization,
            )
        };
        match status {
            401 => GreenhouseError::Unauthorized {
                message: message("HTTP 401"),
            },
            403 => GreenhouseError::Forbidden {
                message: message("HTTP 403"),
            },
            404 => GreenhouseError::NotFound {
                path: url.path().to_string(),
            },
            422 => GreenhouseError::Validation {
                message: message("Validation error"),
                errors: parsed
                    .errors
                    .iter()
                    .map(|e| super::error::FieldError {
                        field: e.field.clone(),
                        message: self.scrub(e.message.clone(), authorization),
                    })
                    .collect(),
            },
            s if s >= 500 => GreenhouseError::Server {
                status: s,
                body: self.scrub(excerpt(body, EXCERPT_CHARS), authorization),
            },
            s => GreenhouseError::UnexpectedStatus {
                status: s,
                body: self.scrub(excerpt(body, EXCERPT_CHARS), authorization),
            },
        }
    }

    /// Removes any credential or token from text quoted out of a response.
    fn scrub(&self, mut text: String, authorization: &SecretString) -> String {
        let header = authorization.expose_secret();
        let token = header
            .split_once(' ')
            .map(|(_, t)| t)
            .unwrap_or(header)
            .to_string();
        let mut secrets: Vec<String> = self
            .shared
            .credentials
            .secrets()
            .iter()
            .map(|s| s.expose_secret().to_string())
            .collect();
        secrets.push(token);
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "[redacted]");
            }
        }
        text
    }
}

/// How long a 429 asks us to wait: `Retry-After`, else the window reset, else one second.
fn retry_delay(headers: &HeaderMap) -> Duration {
    let now = SystemTime::now();
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now))
        .or_else(|| {
            headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_reset(v, now))
        })
        .unwrap_or(Duration::from_secs(1))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= BACKOFF_BASE && backoff(1) >= BACKOFF_BASE / 2);
        assert!(backoff(30) <= BACKOFF_CAP);
    }
}
