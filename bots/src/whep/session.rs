//! The task that owns a joined WHEP session: spawns track tasks, watches the connection, and leaves.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_receiver::RTCRtpReceiver;
use webrtc::track::track_remote::TrackRemote;

use super::{participant_of, signal, WhepSettings};
use crate::call::{
    BearerToken, CallEvent, DisconnectReason, LeaveError, NoticeOutcome, ParticipantStats,
    SessionControl,
};
use crate::netpolicy::GuardedHttp;
use crate::recorder::CallRecorder;
use crate::track::{self, run_track, StatsList, TrackContext, TrackStats};

pub enum Internal {
    Track(Arc<TrackRemote>, Arc<RTCRtpReceiver>),
    State(RTCPeerConnectionState),
    Leave(oneshot::Sender<Result<(), LeaveError>>),
}

/// `SessionControl` for WHEP: talks to the driver task.
pub struct WhepControl {
    pub internal: mpsc::UnboundedSender<Internal>,
    pub stats: StatsList,
}

#[async_trait]
impl SessionControl for WhepControl {
    async fn leave(&self) -> Result<(), LeaveError> {
        let (tx, rx) = oneshot::channel();
        self.internal
            .send(Internal::Leave(tx))
            .map_err(|_| LeaveError::AlreadyEnded)?;
        rx.await.map_err(|_| LeaveError::AlreadyEnded)?
    }

    fn stats(&self) -> Vec<ParticipantStats> {
        track::snapshot_all(&self.stats)
    }
}

pub struct Driver {
    pub pc: Arc<RTCPeerConnection>,
    pub events: mpsc::Sender<CallEvent>,
    pub internal: mpsc::UnboundedReceiver<Internal>,
    pub http: GuardedHttp,
    pub location: Url,
    pub token: Option<BearerToken>,
    pub recorder: Option<CallRecorder>,
    pub call_start: Instant,
    pub stats: StatsList,
    pub settings: Arc<WhepSettings>,
    /// The join asked for a spoken notice, which WHEP cannot deliver.
    pub notice_asked: bool,
}

/// Why a WHEP bot gives no spoken notice: shown on the dashboard beside the call.
pub const WHEP_NOTICE_UNSUPPORTED: &str =
    "WHEP egress is receive-only: the bot cannot speak into this call";

impl Driver {
    pub async fn run(mut self) {
        let mut tracks = JoinSet::new();
        let mut next_key = 0u64;
        if self.events.send(CallEvent::Joined).await.is_err() {
            // Nobody listens: leave at once rather than hold a seat in the call.
            // A failed DELETE was logged in `end`; nothing more to do about it here.
            let _ = self.end(&mut tracks, DisconnectReason::Left).await;
            return;
        }
        if self.notice_asked {
            let unsupported = NoticeOutcome::Unsupported(WHEP_NOTICE_UNSUPPORTED.to_owned());
            // Only fails once nobody reads the session, which the loop below notices.
            let _ = self.events.send(CallEvent::Notice(unsupported)).await;
        }
        loop {
            let msg = tokio::select! {
                m = self.internal.recv() => m,
                Some(_) = tracks.join_next(), if !tracks.is_empty() => continue,
            };
            match msg {
                Some(Internal::Track(track, receiver)) => {
                    next_key += 1;
                    let stats = Arc::new(TrackStats::default());
                    if let Ok(mut list) = self.stats.lock() {
                        list.push(Arc::clone(&stats));
                    }
                    let ctx = TrackContext {
                        key: next_key,
                        call_start: self.call_start,
                        events: self.events.clone(),
                        recorder: self.recorder.as_ref().map(CallRecorder::handle),
                        stats,
                        pipeline: self.settings.pipeline,
                        stop: None,
                        idle_timeout: self.settings.idle_timeout,
                    };
                    let owner = participant_of(&track);
                    tracks.spawn(run_track(track, receiver, owner, ctx));
                }
                Some(Internal::State(RTCPeerConnectionState::Failed)) => {
                    // Consent lost: the server is gone or unreachable. Still try DELETE so it frees the seat.
                    // A failed DELETE was logged in `end`; nothing more to do about it here.
                    let _ = self
                        .end(&mut tracks, DisconnectReason::ConnectionLost)
                        .await;
                    return;
                }
                Some(Internal::State(RTCPeerConnectionState::Closed)) => {
                    // A failed DELETE was logged in `end`; nothing more to do about it here.
                    let _ = self.end(&mut tracks, DisconnectReason::RemoteClosed).await;
                    return;
                }
                Some(Internal::State(_)) => {}
                Some(Internal::Leave(reply)) => {
                    let res = self.end(&mut tracks, DisconnectReason::Left).await;
                    let _ = reply.send(res);
                    return;
                }
                None => {
                    // A failed DELETE was logged in `end`; nothing more to do about it here.
                    let _ = self.end(&mut tracks, DisconnectReason::Left).await;
                    return;
                }
            }
        }
    }

    /// Closes everything in order: server session, connection, track tasks, recording; `Disconnected` last.
    /// DELETE is sent whatever the reason: after a lost connection the server may still hold our seat.
    async fn end(
        &mut self,
        tracks: &mut JoinSet<()>,
        reason: DisconnectReason,
    ) -> Result<(), LeaveError> {
        let deleted = signal::delete_session(
            &self.http,
            &self.location,
            self.token.as_ref(),
            self.settings.signalling_timeout,
        )
        .await;
        if let Err(e) = &deleted {
            tracing::info!(location = %self.location, error = %e, "WHEP DELETE not confirmed");
        }
        if let Err(e) = self.pc.close().await {
            tracing::debug!(error = %e, "closing the peer connection");
        }
        track::drain(tracks).await;
        track::finish_recording(self.recorder.take()).await;
        let _ = self.events.send(CallEvent::Disconnected { reason }).await;
        deleted
    }
}
