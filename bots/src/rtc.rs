//! Builds webrtc-rs peer connections with the network policy both the bot and the test room use.
//!
//! Kept in one place because the pitfalls are shared (INTEROP.md): loopback candidates are skipped by default,
//! and mDNS is on by default and opens a multicast socket per connection.

use std::sync::Arc;
use std::time::Duration;

use webrtc::api::interceptor_registry::configure_rtcp_reports;
use webrtc::api::media_engine::{MediaEngine, MIME_TYPE_OPUS};
use webrtc::api::setting_engine::SettingEngine;
use webrtc::api::APIBuilder;
use webrtc::ice::mdns::MulticastDnsMode;
use webrtc::ice::network_type::NetworkType;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::interceptor::registry::Registry;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::{
    RTCRtpCodecCapability, RTCRtpCodecParameters, RTPCodecType,
};

use crate::call::BearerToken;

/// The payload type WebRTC stacks conventionally give Opus.
pub const OPUS_PAYLOAD_TYPE: u8 = 111;

/// A STUN or TURN server.
#[derive(Debug, Clone)]
pub struct IceServer {
    pub urls: Vec<String>,
    pub username: Option<String>,
    /// TURN credential; wrapped so it never prints.
    pub credential: Option<BearerToken>,
}

/// Network behaviour of a peer connection.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    pub ice_servers: Vec<IceServer>,
    /// Offer only 127.0.0.1 host candidates. For tests and the local demo; never in production.
    pub loopback_only: bool,
    /// No consent response for this long: ICE "disconnected" (may recover).
    pub ice_disconnected_timeout: Duration,
    /// No consent response for this long: ICE "failed"; the session is over.
    pub ice_failed_timeout: Duration,
    /// How often to send consent checks.
    pub ice_keepalive: Duration,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        Self {
            ice_servers: Vec::new(),
            loopback_only: false,
            ice_disconnected_timeout: Duration::from_secs(5),
            ice_failed_timeout: Duration::from_secs(15),
            ice_keepalive: Duration::from_secs(2),
        }
    }
}

impl NetworkSettings {
    /// For tests on one machine: loopback only, quick failure detection.
    pub fn loopback() -> Self {
        Self {
            loopback_only: true,
            ice_disconnected_timeout: Duration::from_secs(2),
            ice_failed_timeout: Duration::from_secs(4),
            ice_keepalive: Duration::from_millis(500),
            ..Self::default()
        }
    }
}

/// Opus only, the one codec a speech bot needs; a smaller SDP and no codec surprises.
pub fn opus_codec() -> RTCRtpCodecCapability {
    RTCRtpCodecCapability {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: 48_000,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A new peer connection. The API (media engine, interceptors) is built per connection because webrtc-rs
/// keeps negotiated codec state in the media engine, which must not be shared between connections.
pub async fn new_peer_connection(
    net: &NetworkSettings,
) -> Result<Arc<RTCPeerConnection>, webrtc::Error> {
    let mut media = MediaEngine::default();
    media.register_codec(
        RTCRtpCodecParameters {
            capability: opus_codec(),
            payload_type: OPUS_PAYLOAD_TYPE,
            ..Default::default()
        },
        RTPCodecType::Audio,
    )?;
    // Receiver reports only: SFUs expect them, while NACK and TWCC do nothing for a receive-only Opus bot.
    let registry = configure_rtcp_reports(Registry::new());

    let mut settings = SettingEngine::default();
    settings.set_ice_multicast_dns_mode(MulticastDnsMode::Disabled);
    settings.set_ice_timeouts(
        Some(net.ice_disconnected_timeout),
        Some(net.ice_failed_timeout),
        Some(net.ice_keepalive),
    );
    if net.loopback_only {
        settings.set_include_loopback_candidate(true);
        settings.set_network_types(vec![NetworkType::Udp4]);
        settings.set_ip_filter(Box::new(|ip| ip.is_loopback()));
    }

    let api = APIBuilder::new()
        .with_media_engine(media)
        .with_interceptor_registry(registry)
        .with_setting_engine(settings)
        .build();
    let config = RTCConfiguration {
        ice_servers: net
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s
                    .credential
                    .as_ref()
                    .map(|c| c.expose().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        ..Default::default()
    };
    Ok(Arc::new(api.new_peer_connection(config).await?))
}
