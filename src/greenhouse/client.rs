//! `GreenhouseClient`: configuration, the request engine (authentication, the shared rate budget,
//! timeouts and retries) and paginated listing. Lookups and notes build on `execute`/`collect`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, LINK, RETRY_AFTER};
use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use super::auth::{v1_basic_header, TokenCache};
use super::error::{excerpt, ErrorBody, GreenhouseError};
use super::pagination::{decode_page, next_link, resolve_next};
use super::ratelimit::{parse_reset, parse_retry_after, RateBudget};
use super::resource::{ListFilter, Resource};
use super::routes::{self, Call};
use crate::domain::Id;
use crate::settings::ApiVersion;

/// 429s are retried on their own bound, apart from `max_retries`: being throttled is expected
/// during a full sync and says nothing about Greenhouse being broken.
const MAX_429_RETRIES: u32 = 20;
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_CAP: Duration = Duration::from_secs(8);
/// How much of an error body goes into `GreenhouseError::Server` and friends.
const EXCERPT_CHARS: usize = 300;

/// How the client authenticates. `Debug` never prints the secrets.
#[derive(Clone)]
pub enum Credentials {
    /// Harvest v3: OAuth2 client credentials.
    V3 {
        client_id: String,
        client_secret: SecretString,
    },
    /// Harvest v1 (legacy): Basic auth with the API key as user name.
    V1 { api_key: SecretString },
}

impl Credentials {
    pub fn api_version(&self) -> ApiVersion {
        match self {
            Credentials::V3 { .. } => ApiVersion::V3,
            Credentials::V1 { .. } => ApiVersion::V1,
        }
    }

    /// The secret strings, for scrubbing them out of anything quoted from a response.
    fn secrets(&self) -> Vec<SecretString> {
        match self {
            Credentials::V3 { client_secret, .. } => vec![client_secret.clone()],
            Credentials::V1 { api_key } => vec![api_key.clone()],
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::V3 { client_id, .. } => f
                .debug_struct("V3")
                .field("client_id", client_id)
                .field("client_secret", &"[redacted]")
                .finish(),
            Credentials::V1 { .. } => f
                .debug_struct("V1")
                .field("api_key", &"[redacted]")
                .finish(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Must match `credentials` (see [`Credentials::api_version`]); checked by `new`.
    pub api_version: ApiVersion,
    /// Harvest base without version, e.g. `https://harvest.greenhouse.io`; `/v1` or `/v3` is
    /// appended per call (a trailing `/v1` or `/v3` here is tolerated and dropped).
    pub harvest_base_url: String,
    /// v3 token endpoint, e.g. `https://auth.greenhouse.io/token`. Unused on v1.
    pub token_url: String,
    pub credentials: Credentials,
    /// The acting Greenhouse user: v3 token `sub`, v1 `On-Behalf-Of` header on writes.
    pub on_behalf_of: Option<Id>,
    /// Whole-request timeout (connect to last body byte), for every request.
    pub timeout: Duration,
    /// Retries for timeouts, connection failures and 5xx (429s are bounded separately).
    pub max_retries: u32,
    /// Page size for listings, 1..=500.
    pub per_page: u32,
    /// Refresh a v3 token this long before it expires.
    pub token_refresh_margin: Duration,
}

impl ClientConfig {
    /// A configuration with the documented endpoints' usual defaults.
    pub fn new(
        harvest_base_url: impl Into<String>,
        token_url: impl Into<String>,
        credentials: Credentials,
    ) -> Self {
        ClientConfig {
            api_version: credentials.api_version(),
            harvest_base_url: harvest_base_url.into(),
            token_url: token_url.into(),
            credentials,
            on_behalf_of: None,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            per_page: 500,
            token_refresh_margin: Duration::from_secs(300),
        }
    }

    /// From the `[greenhouse]` section of the configuration, picking the credentials of its
    /// `api_version`.
    pub fn from_settings(s: &crate::config::GreenhouseSettings) -> Self {
        let credentials = match s.api_version {
            ApiVersion::V3 => Credentials::V3 {
                client_id: s.client_id.clone(),
                client_secret: s.client_secret.clone(),
            },
            ApiVersion::V1 => Credentials::V1 {
                api_key: s.api_key.clone(),
            },
        };
        ClientConfig {
            timeout: Duration::from_secs(s.request_timeout_secs.max(1)),
            max_retries: s.max_retries,
            per_page: s.per_page,
            token_refresh_margin: Duration::from_secs(s.token_refresh_margin_secs),
            ..ClientConfig::new(&s.harvest_base_url, &s.token_url, credentials)
        }
    }
}

/// Counters for dashboards and sync run records. Shared by all clones of a client (and by
/// `with_on_behalf_of` derivatives), like the rate budget.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// HTTP requests sent to Harvest (token requests not included).
    pub requests: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Requests re-sent after an error (5xx, timeout, connection, the 401 token refresh).
    pub retries: u64,
    /// v3 tokens fetched.
    pub token_fetches: u64,
    /// Last `X-RateLimit-Limit` seen.
    pub rate_limit_limit: Option<u32>,
    /// Last `X-RateLimit-Remaining` seen.
    pub rate_limit_remaining: Option<u32>,
    /// Time callers spent waiting for the rate budget (including Retry-After pauses).
    pub throttled_ms: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    token_fetches: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Everything one Greenhouse account's clients share.
struct Shared {
    http: reqwest::Client,
    base: String,
    version: ApiVersion,
    token_url: String,
    credentials: Credentials,
    timeout: Duration,
    max_retries: u32,
    per_page: u32,
    token_refresh_margin: Duration,
    budget: RateBudget,
    counters: Counters,
}

enum Auth {
    V1(SecretString),
    V3(TokenCache),
}

/// The Harvest client for one account. Cheap to clone; clones share one rate budget.
#[derive(Clone)]
pub struct GreenhouseClient {
    shared: Arc<Shared>,
    auth: Arc<Auth>,
    on_behalf_of: Option<Id>,
}

impl std::fmt::Debug for GreenhouseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GreenhouseClient")
            .field("api_version", &self.shared.version)
            .field("base", &self.shared.base)
            .field("on_behalf_of", &self.on_behalf_of)
            .finish()
    }
}

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

fn normalize_base(raw: &str) -> Result<String, GreenhouseError> {
    let mut base = raw.trim().trim_end_matches('/').to_string();
    for suffix in ["/v1", "/v3"] {
        if let Some(stripped) = base.strip_suffix(suffix) {
            base = stripped.to_string();
        }
    }
    let url = Url::parse(&base)
        .map_err(|e| GreenhouseError::Config(format!("harvest_base_url {raw:?}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(GreenhouseError::Config(format!(
            "harvest_base_url {raw:?} is not an http(s) URL"
        )));
    }
    Ok(base)
}

impl GreenhouseClient {
    pub fn new(cfg: ClientConfig) -> Result<Self, GreenhouseError> {
        if cfg.api_version != cfg.credentials.api_version() {
            return Err(GreenhouseError::Config(format!(
                "api_version is {} but the credentials are for {}",
                cfg.api_version.as_str(),
                cfg.credentials.api_version().as_str()
            )));
        }
        if !(1..=500).contains(&cfg.per_page) {
            return Err(GreenhouseError::Config(format!(
                "per_page must be 1..=500, got {}",
                cfg.per_page
            )));
        }
        if cfg.timeout.is_zero() {
            return Err(GreenhouseError::Config("timeout must be positive".into()));
        }
        match &cfg.credentials {
            Credentials::V1 { api_key } if api_key.expose_secret().trim().is_empty() => {
                return Err(GreenhouseError::Config("the v1 API key is empty".into()))
            }
            Credentials::V3 {
                client_id,
                client_secret,
            } => {
                if client_id.trim().is_empty() || client_secret.expose_secret().trim().is_empty() {
                    return Err(GreenhouseError::Config(
                        "the v3 client id or secret is empty".into(),
                    ));
                }
                let token = Url::parse(&cfg.token_url).map_err(|e| {
                    GreenhouseError::Config(format!("token_url {:?}: {e}", cfg.token_url))
                })?;
                if !matches!(token.scheme(), "http" | "https") {
                    return Err(GreenhouseError::Config(format!(
                        "token_url {:?} is not an http(s) URL",
                        cfg.token_url
                    )));
                }
            }
            Credentials::V1 { .. } => {}
        }
        let base = normalize_base(&cfg.harvest_base_url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("panelist/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .timeout(cfg.timeout)
            .build()
            .map_err(|e| GreenhouseError::Config(format!("HTTP client: {e}")))?;
        let shared = Arc::new(Shared {
            http,
            base,
            version: cfg.api_version,
            token_url: cfg.token_url,
            credentials: cfg.credentials,
            timeout: cfg.timeout,
            max_retries: cfg.max_retries,
            per_page: cfg.per_page,
            token_refresh_margin: cfg.token_refresh_margin,
            budget: RateBudget::new(),
            counters: Counters::default(),
        });
        let auth = Arc::new(Self::make_auth(&shared, cfg.on_behalf_of));
        Ok(GreenhouseClient {
            shared,
            auth,
            on_behalf_of: cfg.on_behalf_of,
        })
    }

    fn make_auth(shared: &Shared, on_behalf_of: Option<Id>) -> Auth {
        match &shared.credentials {
            Credentials::V1 { api_key } => Auth::V1(v1_basic_header(api_key)),
            Credentials::V3 {
                client_id,
                client_secret,
            } => Auth::V3(TokenCache::new(
                shared.http.clone(),
                shared.token_url.clone(),
                client_id.clone(),
                client_secret.clone(),
                on_behalf_of,
                shared.token_refresh_margin,
                shared.timeout,
                shared.max_retries,
            )),
        }
    }

    /// The same account acting as another Greenhouse user: same rate budget and counters; on v3
    /// a separate token cache, since the acting user is baked into the token (`sub`).
    pub fn with_on_behalf_of(&self, user_id: Id) -> Self {
        if self.on_behalf_of == Some(user_id) {
            return self.clone();
        }
        let auth = match &*self.auth {
            Auth::V1(_) => self.auth.clone(),
            Auth::V3(_) => Arc::new(Self::make_auth(&self.shared, Some(user_id))),
        };
        GreenhouseClient {
            shared: self.shared.clone(),
            auth,
            on_behalf_of: Some(user_id),
        }
    }

    pub fn api_version(&self) -> ApiVersion {
        self.shared.version
    }

    pub fn on_behalf_of(&self) -> Option<Id> {
        self.on_behalf_of
    }

    pub(crate) fn per_page(&self) -> u32 {
        self.shared.per_page
    }

    pub fn stats(&self) -> ClientStats {
        let c = &self.shared.counters;
        let budget = self.shared.budget.snapshot();
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            token_fetches: c.token_fetches.load(Ordering::Relaxed),
            rate_limit_limit: budget.limit,
            rate_limit_remaining: budget.remaining,
            throttled_ms: budget.waited.as_millis().min(u128::from(u64::MAX)) as u64,
        }
    }

    /// The absolute URL of a routes `Call`.
    pub(crate) fn url(&self, call: &Call) -> Result<Url, GreenhouseError> {
        let mut url = Url::parse(&format!("{}{}", self.shared.base, call.path)).map_err(|e| {
            GreenhouseError::Config(format!("bad Harvest URL for {}: {e}", call.path))
        })?;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query.iter());
        }
        Ok(url)
    }

    /// Lists a collection, one stream item per page, following `Link: rel="next"` to the end.
    /// The stream ends after the first error.
    pub fn list<T>(
        &self,
        resource: Resource,
        filter: ListFilter,
    ) -> BoxStream<'static, Result<Vec<T>, GreenhouseError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        match routes::list(self.shared.version, resource, &filter, self.shared.per_page) {
            Ok(call) => self.paginate(call),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Every item of a listing, all pages collected.
    pub async fn list_all<T>(
        &self,
        resource: Resource,
        filter: ListFilter,
    ) -> Result<Vec<T>, GreenhouseError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        collect_pages(self.list(resource, filter)).await
    }

    pub(crate) async fn collect<T>(&self, call: Call) -> Result<Vec<T>, GreenhouseError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        collect_pages(self.paginate(call)).await
    }

    pub(crate) fn paginate<T>(
        &self,
        call: Call,
    ) -> BoxStream<'static, Result<Vec<T>, GreenhouseError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let first = match self.url(&call) {
            Ok(u) => u,
            Err(e) => return stream::once(async move { Err(e) }).boxed(),
        };
        let client = self.clone();
        let init = (Some(first), HashSet::<String>::new());
        stream::try_unfold(init, move |(next, mut seen)| {
            let client = client.clone();
            async move {
                let Some(url) = next else { return Ok(None) };
                if !seen.insert(url.as_str().to_string()) {
                    return Err(GreenhouseError::Decode(format!(
                        "pagination loop: {} was already fetched",
                        url.path()
                    )));
                }
                let resp = client.execute(ApiRequest::get(url)).await?;
                let items = decode_page::<T>(&resp.body)?;
                let link = next_link(
                    resp.headers
                        .get_all(LINK)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                );
                let next = match link {
                    Some(l) => Some(resolve_next(&resp.url, &l)?),
                    None => None,
                };
                Ok(Some((items, (next, seen))))
            }
        })
        .boxed()
    }

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

async fn collect_pages<T: Send>(
    pages: BoxStream<'static, Result<Vec<T>, GreenhouseError>>,
) -> Result<Vec<T>, GreenhouseError> {
    pages
        .try_fold(Vec::new(), |mut all, page| async move {
            all.extend(page);
            Ok(all)
        })
        .await
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
    fn base_url_normalization() {
        assert_eq!(
            normalize_base("https://harvest.greenhouse.io/").unwrap(),
            "https://harvest.greenhouse.io"
        );
        assert_eq!(
            normalize_base("https://harvest.greenhouse.io/v3/").unwrap(),
            "https://harvest.greenhouse.io"
        );
        assert!(normalize_base("ftp://x").is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert!(backoff(1) <= BACKOFF_BASE && backoff(1) >= BACKOFF_BASE / 2);
        assert!(backoff(30) <= BACKOFF_CAP);
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials::V3 {
            client_id: "cid".into(),
            client_secret: SecretString::from("s3cr3t-value"),
        };
        let text = format!("{c:?}");
        assert!(text.contains("cid") && !text.contains("s3cr3t-value"));
        let cfg = ClientConfig::new("https://h", "https://a/token", c);
        assert!(!format!("{cfg:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn mismatched_version_is_rejected() {
        let mut cfg = ClientConfig::new(
            "https://h",
            "https://a/token",
            Credentials::V1 {
                api_key: SecretString::from("k"),
            },
        );
        cfg.api_version = ApiVersion::V3;
        assert!(matches!(
            GreenhouseClient::new(cfg),
            Err(GreenhouseError::Config(_))
        ));
    }
}
