//! Client configuration: `Credentials` (never printed), `ClientConfig` with defaults and the
//! mapping from the `[greenhouse]` settings, and the `ClientStats` counters' public shape.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use super::error::GreenhouseError;
use crate::domain::Id;
use crate::settings::ApiVersion;

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
    pub(super) fn secrets(&self) -> Vec<SecretString> {
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

pub(super) fn normalize_base(raw: &str) -> Result<String, GreenhouseError> {
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    use secrecy::SecretString;

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
}
