//! One WHEP session in the test room: answers the bot's offer and plays every participant in real time.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtcp::goodbye::Goodbye;
use webrtc::rtp::header::Header;
use webrtc::rtp::packet::Packet;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::RTCRtpTransceiverInit;
use webrtc::track::track_local::track_local_static_rtp::TrackLocalStaticRTP;
use webrtc::track::track_local::TrackLocalWriter;

use super::config::RoomParticipant;
use super::source::{EncodedAudio, FRAME_SAMPLES};
use crate::rtc::{self, NetworkSettings, OPUS_PAYLOAD_TYPE};

const FRAME: Duration = Duration::from_millis(20);
/// A session whose bot never connects is given up after this long.
const CONNECT_LIMIT: Duration = Duration::from_secs(20);

/// A participant with its audio already encoded.
#[derive(Debug, Clone)]
pub struct Cast {
    pub spec: RoomParticipant,
    pub audio: Arc<EncodedAudio>,
}

pub struct RoomSession {
    pub pc: Arc<RTCPeerConnection>,
    playback: JoinHandle<()>,
}

impl RoomSession {
    /// Stops playback and closes the connection (what a cut or a DELETE does).
    pub async fn close(self) {
        self.playback.abort();
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing a room session");
        }
    }
}

/// Answers `offer`; playback starts once the bot connects.
pub async fn answer(
    network: &NetworkSettings,
    cast: &[Cast],
    offer: String,
) -> Result<(RoomSession, String), webrtc::Error> {
    let pc = rtc::new_peer_connection(network).await?;
    match negotiate(&pc, cast, offer).await {
        Ok((playback, answer)) => Ok((RoomSession { pc, playback }, answer)),
        Err(e) => {
            let _ = pc.close().await;
            Err(e)
        }
    }
}

async fn negotiate(
    pc: &Arc<RTCPeerConnection>,
    cast: &[Cast],
    offer: String,
) -> Result<(JoinHandle<()>, String), webrtc::Error> {
    // Send-only transceivers added before the offer is applied take the offer's receive-only m-lines in
    // order, so every participant (even one joining later) is named in this one answer.
    let mut voices = Vec::with_capacity(cast.len());
    for (i, c) in cast.iter().enumerate() {
        let track = Arc::new(TrackLocalStaticRTP::new(
            rtc::opus_codec(),
            utf8_percent_encode(&c.spec.display_name, NON_ALPHANUMERIC).to_string(),
            c.spec.id.clone(),
        ));
        let transceiver = pc
            .add_transceiver_from_track(
                Arc::clone(&track) as _,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Sendonly,
                    send_encodings: vec![],
                }),
            )
            .await?;
        voices.push(Voice {
            cast: c.clone(),
            track,
            sender: transceiver.sender().await,
            seq: (i as u16).wrapping_mul(7919),
            ts_base: (i as u32).wrapping_mul(104_729),
            state: VoiceState::Waiting,
        });
    }

    let (connected_tx, connected_rx) = watch::channel(RTCPeerConnectionState::New);
    pc.on_peer_connection_state_change(Box::new(move |s| {
        connected_tx.send_replace(s);
        Box::pin(async {})
    }));
    let sdp = rtc::gathered_answer(pc, offer, Duration::from_secs(5)).await?;
    let weak = Arc::downgrade(pc);
    let playback = tokio::spawn(async move {
        if wait_connected(connected_rx).await {
            play(voices, weak).await;
        }
    });
    Ok((playback, sdp))
}

async fn wait_connected(mut state: watch::Receiver<RTCPeerConnectionState>) -> bool {
    let reached = state.wait_for(|s| {
        matches!(
            s,
            RTCPeerConnectionState::Connected
                | RTCPeerConnectionState::Failed
                | RTCPeerConnectionState::Closed
        )
    });
    matches!(
        tokio::time::timeout(CONNECT_LIMIT, reached).await,
        Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VoiceState {
    Waiting,
    Speaking,
    Gone,
}

struct Voice {
    cast: Cast,
    track: Arc<TrackLocalStaticRTP>,
    sender: Arc<webrtc::rtp_transceiver::rtp_sender::RTCRtpSender>,
    seq: u16,
    ts_base: u32,
    state: VoiceState,
}

impl Voice {
    /// The packet for frame `i` of this participant's time in the call, or `None` once they should leave.
    fn packet(&self, i: usize) -> Option<Bytes> {
        let audio = &self.cast.audio;
        let spec = &self.cast.spec;
        let elapsed = FRAME * i as u32;
        if let Some(leave) = spec.leave_at {
            if spec.join_at + elapsed >= leave {
                return None;
            }
        }
        if spec.loop_source && !audio.packets.is_empty() {
            return Some(audio.packets[i % audio.packets.len()].clone());
        }
        match audio.packets.get(i) {
            Some(p) => Some(p.clone()),
            None if spec.leave_at.is_some() => Some(audio.silence.clone()),
            None => None,
        }
    }

    async fn say_goodbye(&mut self, pc: &RTCPeerConnection) {
        self.state = VoiceState::Gone;
        if self.cast.spec.vanish {
            return;
        }
        let ssrc = self
            .sender
            .get_parameters()
            .await
            .encodings
            .first()
            .map(|e| e.ssrc);
        if let Some(ssrc) = ssrc {
            let bye = Goodbye {
                sources: vec![ssrc],
                reason: Bytes::from_static(b"left"),
            };
            if let Err(e) = pc.write_rtcp(&[Box::new(bye)]).await {
                tracing::debug!(error = %e, "room could not send BYE");
            }
        }
    }
}

/// Plays the call on a 20 ms clock. Late ticks burst to catch up, so the long-run rate is exact.
async fn play(mut voices: Vec<Voice>, pc: std::sync::Weak<RTCPeerConnection>) {
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(start, FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut frame = 0u64;
    while voices.iter().any(|v| v.state != VoiceState::Gone) {
        tick.tick().await;
        let Some(pc) = pc.upgrade() else { return };
        let now = FRAME * frame as u32;
        for v in &mut voices {
            if v.state == VoiceState::Gone || now < v.cast.spec.join_at {
                continue;
            }
            v.state = VoiceState::Speaking;
            let i = ((now - v.cast.spec.join_at).as_millis() / FRAME.as_millis()) as usize;
            let Some(payload) = v.packet(i) else {
                v.say_goodbye(&pc).await;
                continue;
            };
            let seq = v.seq;
            v.seq = v.seq.wrapping_add(1);
            if v.cast
                .spec
                .drop_every
                .is_some_and(|n| (i + 1) % n as usize == 0)
            {
                continue;
            }
            let packet = Packet {
                header: Header {
                    version: 2,
                    marker: i == 0,
                    payload_type: OPUS_PAYLOAD_TYPE,
                    sequence_number: seq,
                    timestamp: v.ts_base.wrapping_add((i * FRAME_SAMPLES) as u32),
                    ..Default::default()
                },
                payload,
            };
            if let Err(e) = v.track.write_rtp(&packet).await {
                tracing::debug!(error = %e, "room write failed");
            }
        }
        frame += 1;
    }
}
