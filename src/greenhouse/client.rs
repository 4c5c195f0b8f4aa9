//! `GreenhouseClient`: construction, the state shared by one account's clients (HTTP pool, rate
//! budget, counters), acting users, and paginated listing. Sending itself lives in `engine`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use reqwest::header::LINK;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{v1_basic_header, TokenCache};
use super::config::{normalize_base, ClientConfig, ClientStats, Credentials};
use super::engine::ApiRequest;
use super::error::GreenhouseError;
use super::pagination::{decode_page, next_link, resolve_next};
use super::ratelimit::RateBudget;
use super::resource::{ListFilter, Resource};
use super::routes::{self, Call};
use crate::domain::Id;
use crate::settings::ApiVersion;

/// The atomics behind `ClientStats`.
#[derive(Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) retries: AtomicU64,
    pub(super) token_fetches: AtomicU64,
}

pub(super) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Everything one Greenhouse account's clients share.
pub(super) struct Shared {
    pub(super) http: reqwest::Client,
    pub(super) base: String,
    pub(super) version: ApiVersion,
    pub(super) token_url: String,
    pub(super) credentials: Credentials,
    pub(super) timeout: Duration,
    pub(super) max_retries: u32,
    pub(super) per_page: u32,
    pub(super) token_refresh_margin: Duration,
    pub(super) budget: RateBudget,
    pub(super) counters: Counters,
}

/// How requests are authorised: a fixed v1 header, or v3 tokens for one acting user.
pub(super) enum Auth {
    V1(SecretString),
    V3(TokenCache),
}

/// The Harvest client for one account. Cheap to clone; clones share one rate budget.
#[derive(Clone)]
pub struct GreenhouseClient {
    pub(super) shared: Arc<Shared>,
    pub(super) auth: Arc<Auth>,
    pub(super) on_behalf_of: Option<Id>,
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

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
