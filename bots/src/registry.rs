//! Picks the connector that serves a meeting URL.

use std::sync::Arc;

use url::Url;

use crate::call::{CallConnector, CallSession, JoinError, JoinSpec, UnsupportedPlatform};
use crate::janus::{JanusConnector, JanusSettings};
use crate::netpolicy::{NetworkPolicy, UrlRefused};
use crate::platform::Platform;
use crate::whep::{WhepConnector, WhepSettings};

/// The connectors this process can use, chosen by the meeting URL's platform.
#[derive(Default, Clone)]
pub struct ConnectorRegistry {
    connectors: Vec<Arc<dyn CallConnector>>,
    /// Checked before a join is handed to a connector, and by `check_url` for the supervisor and dashboard.
    /// Connectors enforce their own policy on every request whether or not this is set.
    policy: Option<Arc<NetworkPolicy>>,
}

/// Participants listened to per call unless configured (`bots.max_participants`).
pub const DEFAULT_MAX_PARTICIPANTS: usize = 16;

impl ConnectorRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every connector this crate has, with default settings and the default (public hosts only) network
    /// policy: WHEP (`.../whep/...` URLs) and Janus VideoRoom (`janus+http(s)://...?room=...`).
    pub fn standard() -> Self {
        Self::standard_with(NetworkPolicy::default())
    }

    /// `standard`, with bots allowed to connect where `policy` says.
    pub fn standard_with(policy: NetworkPolicy) -> Self {
        Self::standard_limited(policy, DEFAULT_MAX_PARTICIPANTS)
    }

    /// [`Self::standard_with`], listening to at most `max_participants` audio streams per call.
    pub fn standard_limited(policy: NetworkPolicy, max_participants: usize) -> Self {
        let max_participants = max_participants.max(1);
        Self::new()
            .with(Arc::new(WhepConnector::new(WhepSettings {
                policy: policy.clone(),
                max_tracks: max_participants,
                ..WhepSettings::default()
            })))
            .with(Arc::new(JanusConnector::new(JanusSettings {
                policy: policy.clone(),
                max_streams: max_participants,
                ..JanusSettings::default()
            })))
            .with_policy(policy)
    }

    /// Refuses meeting URLs outside `policy` before any connector sees them.
    pub fn with_policy(mut self, policy: NetworkPolicy) -> Self {
        self.policy = Some(Arc::new(policy));
        self
    }

    /// Whether the registry's policy lets a bot go to `url` (host and IP literal; names are resolved and
    /// checked again at connect time). Always `Ok` without a policy.
    pub fn check_url(&self, url: &Url) -> Result<(), UrlRefused> {
        match &self.policy {
            Some(p) => p.check_target(url),
            None => Ok(()),
        }
    }

    /// Adds a connector; a later one for the same platform replaces the earlier.
    pub fn with(mut self, connector: Arc<dyn CallConnector>) -> Self {
        self.connectors
            .retain(|c| c.platform() != connector.platform());
        self.connectors.push(connector);
        self
    }

    /// The connector for `url`, or which platform it was that nobody serves.
    pub fn connector_for(&self, url: &Url) -> Result<Arc<dyn CallConnector>, UnsupportedPlatform> {
        let platform = Platform::of(url);
        self.connectors
            .iter()
            .find(|c| c.platform() == platform)
            .cloned()
            .ok_or(UnsupportedPlatform { platform })
    }

    pub async fn join(&self, spec: JoinSpec) -> Result<CallSession, JoinError> {
        let connector = self.connector_for(&spec.url)?;
        self.check_url(&spec.url)?;
        connector.join(spec).await
    }
}

impl std::fmt::Debug for ConnectorRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let platforms: Vec<Platform> = self.connectors.iter().map(|c| c.platform()).collect();
        f.debug_struct("ConnectorRegistry")
            .field("platforms", &platforms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;

    struct Fake(Platform);

    #[async_trait]
    impl CallConnector for Fake {
        fn platform(&self) -> Platform {
            self.0
        }
        async fn join(&self, _spec: JoinSpec) -> Result<CallSession, JoinError> {
            Err(JoinError::ServerError { status: 503 })
        }
    }

    #[tokio::test]
    async fn urls_nobody_serves_name_their_platform() {
        let registry = ConnectorRegistry::new().with(Arc::new(Fake(Platform::Whep)));
        let cases = [
            ("https://acme.zoom.us/j/1", Platform::Zoom),
            ("https://meet.google.com/abc-defg-hij", Platform::GoogleMeet),
            ("https://teams.microsoft.com/l/x", Platform::MicrosoftTeams),
            ("https://example.com/call", Platform::Unknown),
        ];
        for (raw, platform) in cases {
            let err = registry
                .join(JoinSpec::new(Url::parse(raw).unwrap()))
                .await
                .unwrap_err();
            assert!(
                matches!(err, JoinError::UnsupportedPlatform { platform: p } if p == platform),
                "{raw}: {err:?}"
            );
        }
        let whep = Url::parse("http://127.0.0.1:1/whep/x").unwrap();
        assert_eq!(
            registry.connector_for(&whep).unwrap().platform(),
            Platform::Whep
        );
    }

    #[test]
    fn the_standard_registry_serves_whep_and_janus() {
        let registry = ConnectorRegistry::standard();
        for (raw, platform) in [
            ("https://sfu.example.com/whep/abc", Platform::Whep),
            (
                "janus+https://sfu.example.com/janus?room=1234",
                Platform::Janus,
            ),
        ] {
            let url = Url::parse(raw).unwrap();
            assert_eq!(registry.connector_for(&url).unwrap().platform(), platform);
        }
        let zoom = Url::parse("https://acme.zoom.us/j/1").unwrap();
        assert!(registry.connector_for(&zoom).is_err());
    }

    #[tokio::test]
    async fn the_standard_registry_refuses_private_meeting_urls_before_joining() {
        let registry = ConnectorRegistry::standard();
        for raw in [
            "http://169.254.169.254/whep/x",
            "http://127.0.0.1:9/whep/x",
            "janus+http://10.0.0.5:8088/janus?room=1",
        ] {
            let url = Url::parse(raw).unwrap();
            assert!(registry.check_url(&url).is_err(), "{raw}");
            let err = registry.join(JoinSpec::new(url)).await.unwrap_err();
            assert_eq!(err.code(), "url_not_allowed", "{raw}: {err:?}");
            assert!(!err.is_retryable());
        }
        let local = ConnectorRegistry::standard_with(NetworkPolicy::loopback());
        let url = Url::parse("http://127.0.0.1:9/whep/x").unwrap();
        assert!(local.check_url(&url).is_ok());
    }
}
