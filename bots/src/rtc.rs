//! Builds webrtc-rs peer connections with the network policy both the bot and the test room use, and runs
//! the two halves of a non-trickle SDP exchange: offering (WHEP bot, Janus publishers) and answering (Janus
//! bot, test room).
//!
//! Kept in one place because the pitfalls are shared (INTEROP.md): loopback candidates are skipped by default,
//! mDNS is on by default and opens a multicast socket per connection, and without trickle ICE every candidate
//! must be gathered before the description is sent.

use std::net::IpAddr;
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
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
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
    /// When not empty, gather host candidates on these addresses only (IPv4 only when all of them are).
    /// For a private network namespace (the Janus interop test) or a host with interfaces a call must not
    /// use. Ignored when `loopback_only` is set.
    pub allowed_ips: Vec<IpAddr>,
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
            allowed_ips: Vec::new(),
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

    /// Like `loopback`, but on the given addresses: Janus never offers loopback candidates (INTEROP.md), so
    /// tests against it run in a network namespace with one non-loopback address.
    pub fn only(ips: Vec<IpAddr>) -> Self {
        Self {
            loopback_only: false,
            allowed_ips: ips,
            ..Self::loopback()
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
    } else if !net.allowed_ips.is_empty() {
        let allowed = net.allowed_ips.clone();
        if allowed.iter().all(IpAddr::is_ipv4) {
            settings.set_network_types(vec![NetworkType::Udp4]);
        }
        settings.set_include_loopback_candidate(allowed.iter().any(IpAddr::is_loopback));
        settings.set_ip_filter(Box::new(move |ip| allowed.contains(&ip)));
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

/// Offerer half: creates the offer and returns it with every host candidate in it (no trickle).
/// An incomplete gathering after `gather_timeout` is logged and the candidates found so far are offered.
pub async fn gathered_offer(
    pc: &RTCPeerConnection,
    gather_timeout: Duration,
) -> Result<String, webrtc::Error> {
    let offer = pc.create_offer(None).await?;
    set_local_and_gather(pc, offer, gather_timeout).await
}

/// Answerer half: applies the remote offer and returns the answer with every candidate in it. Also serves
/// renegotiation (a new offer on a connected session), where gathering is already complete.
pub async fn gathered_answer(
    pc: &RTCPeerConnection,
    offer: String,
    gather_timeout: Duration,
) -> Result<String, webrtc::Error> {
    pc.set_remote_description(RTCSessionDescription::offer(offer)?)
        .await?;
    let answer = pc.create_answer(None).await?;
    set_local_and_gather(pc, answer, gather_timeout).await
}

async fn set_local_and_gather(
    pc: &RTCPeerConnection,
    desc: RTCSessionDescription,
    gather_timeout: Duration,
) -> Result<String, webrtc::Error> {
    // The promise is taken before gathering starts; on a renegotiation it resolves at once (gathering done).
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(desc).await?;
    if tokio::time::timeout(gather_timeout, gathered.recv())
        .await
        .is_err()
    {
        tracing::warn!("ICE gathering incomplete; sending the candidates found so far");
    }
    pc.local_description()
        .await
        .map(|d| d.sdp)
        .ok_or_else(|| webrtc::Error::new("no local description after gathering".to_owned()))
}
