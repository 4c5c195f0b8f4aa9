//! The WHEP connector: a receive-only WebRTC client for the IETF WebRTC-HTTP egress protocol.
//!
//! The bot offers `max_tracks` receive-only audio transceivers (gathering every candidate first: no trickle),
//! POSTs the offer, applies the 201 answer, and keeps the `Location` to DELETE on leave. Each remote track's
//! stream id (msid) names the participant. WHEP itself has no renegotiation, so a server announces everyone
//! who will ever send in its answer and starts a track's RTP when that person joins; a participant is
//! "joined" at their first packet and "left" at RTCP BYE or when their track ends.

mod session;
mod signal;

pub use signal::{parse_answer, WhepResource};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_codec::RTPCodecType;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::RTCRtpTransceiverInit;
use webrtc::track::track_remote::TrackRemote;

use crate::audio::PipelineSettings;
use crate::call::ParticipantId;
use crate::call::{CallConnector, CallSession, JoinError, JoinSpec, JoinStage};
use crate::netpolicy::{GuardedHttp, NetworkPolicy};
use crate::platform::Platform;
use crate::recorder::RecorderSettings;
use crate::rtc::{self, NetworkSettings};
use crate::track::{start_recording, TrackOwner};
use session::{Driver, Internal, WhepControl};

#[derive(Debug, Clone)]
pub struct WhepSettings {
    pub network: NetworkSettings,
    /// Where signalling may go: the endpoint, its redirects and the session URL it hands back.
    pub policy: NetworkPolicy,
    /// Audio transceivers offered; the most participants one session can hear.
    pub max_tracks: usize,
    /// Limit for each HTTP exchange (POST offer, DELETE).
    pub signalling_timeout: Duration,
    /// Limit for candidate gathering before the offer is sent anyway.
    pub gather_timeout: Duration,
    /// Limit for ICE + DTLS after the answer.
    pub connect_timeout: Duration,
    pub pipeline: PipelineSettings,
    pub recorder: RecorderSettings,
    /// Events buffered for a slow consumer before track tasks wait (and the network buffers instead).
    pub event_buffer: usize,
    /// A participant whose audio packets stop for this long is treated as gone. WHEP has no roster,
    /// so an RTCP BYE lost on the way would otherwise keep them "present" until the silence rule.
    pub idle_timeout: Option<Duration>,
}

impl Default for WhepSettings {
    fn default() -> Self {
        Self {
            network: NetworkSettings::default(),
            policy: NetworkPolicy::default(),
            max_tracks: 8,
            signalling_timeout: Duration::from_secs(10),
            gather_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(15),
            pipeline: PipelineSettings::default(),
            recorder: RecorderSettings::default(),
            event_buffer: 1024,
            idle_timeout: Some(Duration::from_secs(60)),
        }
    }
}

impl WhepSettings {
    /// For tests and the local demo: loopback candidates only, fast failure detection.
    pub fn loopback() -> Self {
        Self {
            network: NetworkSettings::loopback(),
            policy: NetworkPolicy::loopback(),
            connect_timeout: Duration::from_secs(5),
            ..Self::default()
        }
    }
}

pub struct WhepConnector {
    settings: Arc<WhepSettings>,
    /// An error only if the TLS stack could not start; every join then fails with it.
    http: Result<GuardedHttp, String>,
}

impl WhepConnector {
    pub fn new(settings: WhepSettings) -> Self {
        let http = GuardedHttp::new(settings.policy.clone(), settings.signalling_timeout)
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        Self {
            settings: Arc::new(settings),
            http,
        }
    }
}

#[async_trait]
impl CallConnector for WhepConnector {
    fn platform(&self) -> Platform {
        Platform::Whep
    }

    async fn join(&self, spec: JoinSpec) -> Result<CallSession, JoinError> {
        let platform = Platform::of(&spec.url);
        if platform != Platform::Whep {
            return Err(JoinError::UnsupportedPlatform { platform });
        }
        let http = self.http.clone().map_err(JoinError::WebRtc)?;
        // Before any local setup: a refused URL costs nothing and touches nothing.
        http.policy().check_request(&spec.url)?;
        let pc = rtc::new_peer_connection(&self.settings.network)
            .await
            .map_err(webrtc_error)?;
        match self.negotiate(&http, &pc, spec).await {
            Ok(session) => Ok(session),
            Err(e) => {
                let _ = pc.close().await;
                Err(e)
            }
        }
    }
}

impl WhepConnector {
    async fn negotiate(
        &self,
        http: &GuardedHttp,
        pc: &Arc<RTCPeerConnection>,
        spec: JoinSpec,
    ) -> Result<CallSession, JoinError> {
        let s = &self.settings;
        for _ in 0..s.max_tracks.max(1) {
            pc.add_transceiver_from_kind(
                RTPCodecType::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    send_encodings: vec![],
                }),
            )
            .await
            .map_err(webrtc_error)?;
        }

        // Handlers only hold channel senders, never the connection, so no reference cycle keeps it alive.
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (state_tx, mut state_rx) = watch::channel(RTCPeerConnectionState::New);
        let tx = internal_tx.clone();
        pc.on_track(Box::new(move |track, receiver, _| {
            let _ = tx.send(Internal::Track(track, receiver));
            Box::pin(async {})
        }));
        let tx = internal_tx.clone();
        pc.on_peer_connection_state_change(Box::new(move |state| {
            state_tx.send_replace(state);
            let _ = tx.send(Internal::State(state));
            Box::pin(async {})
        }));

        let offer = rtc::gathered_offer(pc, s.gather_timeout)
            .await
            .map_err(webrtc_error)?;

        let resource = signal::post_offer(
            http,
            &spec.url,
            spec.bearer_token.as_ref(),
            offer,
            s.signalling_timeout,
        )
        .await?;

        // From here on the server holds a session for us: any failure must DELETE it.
        let connected = async {
            let answer = signal::parse_answer(&media_within_policy(
                &s.policy,
                spec.url.host_str().unwrap_or_default(),
                &resource.answer,
            )?)?;
            pc.set_remote_description(answer)
                .await
                .map_err(|e| JoinError::BadAnswer(e.to_string()))?;
            wait_connected(&mut state_rx, s.connect_timeout).await
        }
        .await;
        let recorder = match &connected {
            Ok(()) => start_recording(
                spec.record_dir.as_deref(),
                s.recorder,
                spec.record_key.clone(),
            ),
            Err(_) => None,
        };
        if let Err(e) = connected {
            let _ = signal::delete_session(
                http,
                &resource.location,
                spec.bearer_token.as_ref(),
                s.signalling_timeout,
            )
            .await;
            return Err(e);
        }

        let (events_tx, events_rx) = mpsc::channel(s.event_buffer.max(16));
        let stats = Arc::new(Mutex::new(Vec::new()));
        let driver = Driver {
            pc: Arc::clone(pc),
            events: events_tx,
            internal: internal_rx,
            http: http.clone(),
            location: resource.location,
            token: spec.bearer_token,
            recorder,
            call_start: Instant::now(),
            stats: Arc::clone(&stats),
            settings: Arc::clone(&self.settings),
            notice_asked: spec.notice.is_some(),
        };
        tokio::spawn(driver.run());
        Ok(CallSession::new(
            events_rx,
            Box::new(WhepControl {
                internal: internal_tx,
                stats,
            }),
        ))
    }
}

async fn wait_connected(
    state: &mut watch::Receiver<RTCPeerConnectionState>,
    timeout: Duration,
) -> Result<(), JoinError> {
    let reached = state.wait_for(|s| {
        matches!(
            s,
            RTCPeerConnectionState::Connected
                | RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
        )
    });
    match tokio::time::timeout(timeout, reached).await {
        Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected => Ok(()),
        Ok(_) => Err(JoinError::IceFailed),
        Err(_) => Err(JoinError::Timeout {
            stage: JoinStage::Connecting,
        }),
    }
}

/// The participant a WHEP track names: stream id (msid) is who, the track id (percent-encoded) their name.
pub fn participant_of(track: &TrackRemote) -> TrackOwner {
    let id = track.stream_id();
    let raw = track.id();
    let name = percent_encoding::percent_decode_str(&raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .unwrap_or_default();
    let display_name = if name.is_empty() || name == id {
        id.clone()
    } else {
        name
    };
    TrackOwner {
        id: ParticipantId(id),
        display_name,
    }
}

fn webrtc_error(e: webrtc::Error) -> JoinError {
    JoinError::WebRtc(e.to_string())
}

/// The server's SDP with the ICE candidates `policy` refuses taken out (each is logged); refused as a
/// whole when none is left, since the bot's media could only go where it must not.
pub(crate) fn media_within_policy(
    policy: &crate::NetworkPolicy,
    host: &str,
    sdp: &str,
) -> Result<String, JoinError> {
    let filtered = policy.filter_candidates(sdp);
    for why in &filtered.refused {
        tracing::warn!(candidate = %why, "ignoring a media address the network policy refuses");
    }
    if filtered.kept == 0 && !filtered.refused.is_empty() {
        return Err(JoinError::UrlNotAllowed(crate::netpolicy::UrlRefused::new(
            host,
            crate::netpolicy::Refusal::Candidates(filtered.refused),
        )));
    }
    Ok(filtered.sdp)
}
