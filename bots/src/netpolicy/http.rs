//! The HTTP client every connector uses: the policy is applied to each request's URL, to each address a
//! name resolves to (at connect time, so DNS rebinding does not help), and to each redirect hop.
//!
//! Environment proxies are off: through a proxy the resolver would judge the proxy's address instead of the
//! meeting server's, and the proxy would connect wherever the URL said.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Method, RequestBuilder};
use url::Url;

use super::{NetworkPolicy, Refusal, UrlRefused};

/// A real meeting server redirects once or twice at most (load balancer, region).
const MAX_REDIRECTS: usize = 5;

/// Turns a host name into addresses. The system resolver in production; tests put in their own to play a
/// name that resolves to a private address.
pub trait Lookup: Send + Sync {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// A `reqwest` client bound to a policy. Requests are only made through `request`, which checks the URL
/// first; the client inside cannot be reached.
#[derive(Clone)]
pub struct GuardedHttp {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

impl std::fmt::Debug for GuardedHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedHttp")
            .field("policy", &self.policy)
            .finish()
    }
}

impl GuardedHttp {
    /// `timeout` bounds each whole request unless the request sets its own (the Janus long poll does);
    /// connecting is bounded by it too.
    pub fn new(policy: NetworkPolicy, timeout: Duration) -> Result<Self, reqwest::Error> {
        Self::with_lookup(policy, timeout, Arc::new(SystemLookup))
    }

    pub fn with_lookup(
        policy: NetworkPolicy,
        timeout: Duration,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy);
        let resolver = PolicyResolver {
            policy: Arc::clone(&policy),
            lookup,
        };
        let hops = Arc::clone(&policy);
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                let host = attempt.url().host_str().unwrap_or_default().to_owned();
                return attempt.error(UrlRefused::new(&host, Refusal::TooManyRedirects));
            }
            // IP literals never reach the resolver, so this is where a redirect to one is stopped.
            match hops.check_request(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .redirect(redirect)
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Self { client, policy })
    }

    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// A request to `url`, or why the policy refuses it (no connection is attempted then).
    pub fn request(&self, method: Method, url: Url) -> Result<RequestBuilder, UrlRefused> {
        self.policy.check_request(&url)?;
        Ok(self.client.request(method, url))
    }
}

/// The refusal behind a failed request, when the policy was the reason: at resolve time or on a redirect
/// the policy's error travels inside reqwest's.
pub fn refusal_in(e: &reqwest::Error) -> Option<UrlRefused> {
    let mut source: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<UrlRefused>() {
            return Some(r.clone());
        }
        source = s.source();
    }
    None
}

struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let lookup = Arc::clone(&self.lookup);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Already checked with the URL; checked again so no path to a connection skips it.
            policy.check_name(&host)?;
            let resolved = lookup.lookup(&host).await?;
            if resolved.is_empty() {
                let e = io::Error::new(io::ErrorKind::NotFound, format!("{host} has no address"));
                return Err(Box::new(e) as _);
            }
            // Only allowed addresses are handed to the connector; a name with none is refused outright.
            let mut refused = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|ip| match policy.check_ip(*ip) {
                    Ok(()) => true,
                    Err(class) => {
                        refused.get_or_insert(Refusal::Resolved { ip: *ip, class });
                        false
                    }
                })
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            match refused {
                Some(reason) if allowed.is_empty() => {
                    return Err(Box::new(UrlRefused::new(&host, reason)) as _);
                }
                _ => {}
            }
            if let Some(r) = refused {
                tracing::warn!(host = %host, refused = %r, "some addresses of a meeting host are not allowed; using the others");
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}
