//! Where a bot may connect. Meeting URLs come from customer data (Greenhouse), so a URL alone must never
//! make a bot reach into the network it runs in: the cloud metadata service, an internal admin API, Redis.
//!
//! A `NetworkPolicy` is checked three times for every HTTP request a connector makes: the URL before the
//! request (scheme, host pattern, IP literal), every resolved address at connect time (so a name that
//! resolves, or later re-resolves, to a private address is refused: DNS rebinding), and every redirect
//! hop. `http::GuardedHttp` is the only client connectors use, and it does all three.

pub mod candidates;
pub mod http;
pub mod ip;

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

pub use candidates::FilteredSdp;
pub use http::{refusal_in, GuardedHttp, Lookup, SystemLookup};
pub use ip::IpClass;

/// Which hosts and address ranges bots may connect to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// When not empty, only these hosts; empty allows any host (whose addresses the range rules allow).
    pub allowed_hosts: Vec<HostPattern>,
    /// 127.0.0.0/8 and ::1: the demo's and tests' rooms run there, a production bot never should.
    pub allow_loopback: bool,
    /// RFC 1918, CGNAT and IPv6 ULA: for media servers on the same private network as the bots.
    pub allow_private: bool,
}

impl NetworkPolicy {
    /// Any public host, and loopback: the demo and tests, whose rooms listen on 127.0.0.1.
    pub fn loopback() -> Self {
        Self {
            allow_loopback: true,
            ..Self::default()
        }
    }

    /// Any public host, loopback and private networks: lab tools and tests that talk to a Janus in a
    /// private network namespace. Link-local and special ranges stay refused.
    pub fn local() -> Self {
        Self {
            allow_loopback: true,
            allow_private: true,
            ..Self::default()
        }
    }

    /// From configuration: patterns as written (`sfu.example.com`, `*.example.com`, `10.0.0.5`).
    pub fn new(
        allowed_hosts: &[String],
        allow_loopback: bool,
        allow_private: bool,
    ) -> Result<Self, PatternError> {
        let allowed_hosts = allowed_hosts
            .iter()
            .map(|p| HostPattern::parse(p))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            allowed_hosts,
            allow_loopback,
            allow_private,
        })
    }

    /// Whether a bot may be sent to this meeting URL at all, before any connection: the host must match
    /// the allowed patterns and an IP literal must be in an allowed range. Any scheme; the connector that
    /// serves it decides what it means.
    pub fn check_target(&self, url: &Url) -> Result<(), UrlRefused> {
        match normalized_host(url) {
            None => Err(UrlRefused::new("", Refusal::NoHost)),
            Some(Host::Domain(name)) => self.check_name(&name),
            Some(Host::Ipv4(v4)) => self.check_literal(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_literal(IpAddr::V6(v6)),
        }
    }

    /// What a connector's HTTP request must pass before it is sent (and each redirect before it is
    /// followed): plain http or https, and `check_target`.
    pub fn check_request(&self, url: &Url) -> Result<(), UrlRefused> {
        match url.scheme() {
            "http" | "https" => self.check_target(url),
            other => Err(UrlRefused::new(
                url.host_str().unwrap_or_default(),
                Refusal::Scheme(other.to_owned()),
            )),
        }
    }

    /// A host name, before it is resolved.
    pub fn check_name(&self, name: &str) -> Result<(), UrlRefused> {
        let name = normalize_name(name);
        if self.allowed_hosts.is_empty() || self.allowed_hosts.iter().any(|p| p.matches(&name)) {
            Ok(())
        } else {
            Err(UrlRefused::new(&name, Refusal::NotAllowedHost))
        }
    }

    /// An address a name resolved to, or a literal in a URL.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), IpClass> {
        let class = ip::classify(ip);
        let allowed = match class {
            IpClass::Public => true,
            IpClass::Loopback => self.allow_loopback,
            IpClass::Private => self.allow_private,
            IpClass::LinkLocal | IpClass::Special => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(class)
        }
    }

    fn check_literal(&self, ip: IpAddr) -> Result<(), UrlRefused> {
        let shown = ip.to_string();
        self.check_name(&shown)?;
        self.check_ip(ip)
            .map_err(|class| UrlRefused::new(&shown, Refusal::Address { ip, class }))
    }
}

/// The URL's host as an http URL would read it. Non-special schemes (`janus+http`) keep the host as
/// written, so `janus+http://2130706433/` would otherwise hide 127.0.0.1 behind a "name".
fn normalized_host(url: &Url) -> Option<Host<String>> {
    let host = url.host()?.to_owned();
    match (&host, url.scheme()) {
        (Host::Domain(d), scheme) if !matches!(scheme, "http" | "https") => {
            Url::parse(&format!("http://{d}/"))
                .ok()
                .and_then(|u| u.host().map(|h| h.to_owned()))
                .or(Some(host))
        }
        _ => Some(host),
    }
}

fn normalize_name(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// An allowed host: exact (`sfu.example.com`, `10.0.0.5`) or every subdomain (`*.example.com`, which does
/// not match `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    Exact(String),
    /// The suffix with its leading dot: `.example.com`.
    Subdomains(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pattern:?} is not a host pattern (use `host.example.com` or `*.example.com`, no scheme, port or path)")]
pub struct PatternError {
    pub pattern: String,
}

impl HostPattern {
    pub fn parse(raw: &str) -> Result<Self, PatternError> {
        let err = || PatternError {
            pattern: raw.to_owned(),
        };
        let p = normalize_name(raw.trim());
        let (wildcard, host) = match p.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, p.as_str()),
        };
        let is_ip = host.parse::<IpAddr>().is_ok();
        let is_name = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        let valid = if wildcard { is_name } else { is_ip || is_name };
        if !valid {
            return Err(err());
        }
        Ok(if wildcard {
            HostPattern::Subdomains(format!(".{host}"))
        } else {
            HostPattern::Exact(host.to_owned())
        })
    }

    /// `name` must already be lower case without a trailing dot.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            HostPattern::Exact(h) => name == h,
            HostPattern::Subdomains(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        }
    }
}

/// Why a URL was refused. Names the host only, never the whole URL: meeting URLs carry PINs and tokens.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{host}: {reason}")]
pub struct UrlRefused {
    pub host: String,
    pub reason: Refusal,
}

impl UrlRefused {
    pub fn new(host: &str, reason: Refusal) -> Self {
        Self {
            host: host.to_owned(),
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoHost,
    Scheme(String),
    /// Not in `allowed_hosts`.
    NotAllowedHost,
    /// An IP literal in a range the policy refuses.
    Address {
        ip: IpAddr,
        class: IpClass,
    },
    /// The name resolved only to addresses the policy refuses.
    Resolved {
        ip: IpAddr,
        class: IpClass,
    },
    /// A redirect chain longer than a real server needs.
    TooManyRedirects,
    /// The media server offered only ICE candidates the policy refuses.
    Candidates(Vec<String>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoHost => f.write_str("the URL has no host"),
            Refusal::Scheme(s) => write!(f, "scheme {s:?} is not http or https"),
            Refusal::NotAllowedHost => f.write_str("not in bots.network.allowed_hosts"),
            Refusal::Address { class, .. } => write!(f, "{} is not allowed", class.describe()),
            Refusal::Resolved { ip, class } => {
                write!(
                    f,
                    "resolves to {ip}, {}, which is not allowed",
                    class.describe()
                )
            }
            Refusal::TooManyRedirects => f.write_str("too many redirects"),
            Refusal::Candidates(refused) => write!(
                f,
                "every media address the server offered is refused: {}",
                refused.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn the_default_policy_allows_public_hosts_only() {
        let p = NetworkPolicy::default();
        assert!(p
            .check_request(&url("https://sfu.example.com/whep/1"))
            .is_ok());
        assert!(p.check_request(&url("http://8.8.8.8/whep/1")).is_ok());
        for bad in [
            "http://127.0.0.1:8080/whep/1",
            "http://[::1]/whep/1",
            "http://[::ffff:127.0.0.1]/whep/1",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:a9fe:a9fe]/",
            "http://10.0.0.5/whep/1",
            "http://100.64.1.1/whep/1",
            "http://[fd00::1]/whep/1",
            "http://[fe80::1]/whep/1",
            "http://0.0.0.0:6379/",
            // Odd IPv4 spellings are normalized by the URL parser, and judged as what they are.
            "http://2130706433/whep/1",
            "http://0x7f.1/whep/1",
            "janus+http://127.0.0.1:8088/janus?room=1",
            "janus+http://2130706433:8088/janus?room=1",
            "janus+http://[::1]:8088/janus?room=1",
        ] {
            assert!(p.check_target(&url(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn loopback_and_private_are_opt_in_but_link_local_never_is() {
        let p = NetworkPolicy::local();
        assert!(p
            .check_request(&url("http://127.0.0.1:8080/whep/1"))
            .is_ok());
        assert!(p.check_request(&url("http://10.0.0.5/whep/1")).is_ok());
        assert!(p.check_request(&url("http://[fd00::1]/whep/1")).is_ok());
        let metadata = p
            .check_request(&url("http://169.254.169.254/latest/meta-data"))
            .unwrap_err();
        assert_eq!(metadata.host, "169.254.169.254");
        assert!(metadata.to_string().contains("link-local"), "{metadata}");
        assert!(p.check_request(&url("http://0.0.0.0/")).is_err());
        let only_loopback = NetworkPolicy::loopback();
        assert!(only_loopback
            .check_request(&url("http://10.0.0.5/whep/1"))
            .is_err());
    }

    #[test]
    fn allowed_hosts_are_exact_or_subdomain_patterns() {
        let p = NetworkPolicy::new(
            &["sfu.example.com".into(), "*.calls.example.org".into()],
            false,
            false,
        )
        .unwrap();
        for ok in [
            "https://sfu.example.com/whep/1",
            "https://SFU.Example.com./whep/1",
            "https://eu.calls.example.org/whep/1",
            "https://a.b.calls.example.org/whep/1",
            "janus+https://x.calls.example.org/janus?room=1",
        ] {
            assert!(p.check_target(&url(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "https://calls.example.org/whep/1",
            "https://evil.com/whep/1",
            "https://sfu.example.com.evil.com/whep/1",
            "https://evilcalls.example.org/whep/1",
            "http://93.184.216.34/whep/1",
        ] {
            let e = p.check_target(&url(bad)).unwrap_err();
            assert_eq!(e.reason, Refusal::NotAllowedHost, "{bad}");
        }
        // An allowed name still has to resolve to an allowed range (checked at connect time), and an allowed
        // IP literal still has to be in one.
        let p = NetworkPolicy::new(&["10.0.0.5".into()], false, false).unwrap();
        assert!(matches!(
            p.check_target(&url("http://10.0.0.5/whep/1"))
                .unwrap_err()
                .reason,
            Refusal::Address {
                class: IpClass::Private,
                ..
            }
        ));
    }

    #[test]
    fn requests_must_be_http_and_patterns_must_be_hosts() {
        let p = NetworkPolicy::default();
        assert!(matches!(
            p.check_request(&url("file:///etc/passwd"))
                .unwrap_err()
                .reason,
            Refusal::Scheme(_)
        ));
        assert!(p.check_request(&url("gopher://example.com/")).is_err());
        for bad in [
            "",
            "*",
            "https://x.com",
            "x.com/path",
            "*.",
            "a..b",
            "x.com:443",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            HostPattern::parse("*.Example.COM").unwrap(),
            HostPattern::Subdomains(".example.com".into())
        );
    }
}
