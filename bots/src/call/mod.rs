//! The connector-neutral call API: `CallConnector`, `CallSession` and the `CallEvent`s a session yields.
//!
//! Everything the control plane sees of a call goes through these types, so a new platform is a new
//! `CallConnector` and nothing else changes upstream.

mod error;
mod session;

pub use error::{JoinError, JoinStage, LeaveError, UnsupportedPlatform};
pub use session::{CallSession, SessionControl};

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use url::Url;

use crate::platform::Platform;

/// Joins calls on one platform.
///
/// Object-safe (through `async_trait`) so a `ConnectorRegistry` can hold one per platform behind `Arc<dyn _>`.
#[async_trait]
pub trait CallConnector: Send + Sync {
    /// The platform whose meeting URLs this connector serves.
    fn platform(&self) -> Platform;

    /// Joins the call; returns once media can flow (connected) or with a typed reason it cannot.
    async fn join(&self, spec: JoinSpec) -> Result<CallSession, JoinError>;
}

/// What a connector needs to join one call.
#[derive(Debug, Clone)]
pub struct JoinSpec {
    /// The meeting URL; for WHEP, the endpoint to POST the offer to.
    pub url: Url,
    /// Sent as `Authorization: Bearer ...` where the platform uses one.
    pub bearer_token: Option<BearerToken>,
    /// Directory for this call's recording (one Ogg/Opus file per track plus `manifest.json`); `None` records
    /// nothing.
    pub record_dir: Option<PathBuf>,
    /// Seals the recording at rest; `None` writes plain Ogg/Opus.
    pub record_key: Option<crate::recorder::RecordingKey>,
    /// A spoken notice to play into the call once, as soon as the bot has joined (the consent notice).
    /// Connectors that cannot publish audio say so with `CallEvent::Notice(NoticeOutcome::Unsupported)`.
    pub notice: Option<Arc<crate::room::EncodedAudio>>,
}

impl JoinSpec {
    pub fn new(url: Url) -> Self {
        Self {
            url,
            bearer_token: None,
            record_dir: None,
            record_key: None,
            notice: None,
        }
    }
}

/// What became of the spoken notice a join asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// Every packet of the notice was sent into the call.
    Delivered {
        /// Length of the notice as played.
        duration: Duration,
        /// What the other participants see as its speaker.
        speaker: String,
    },
    /// This connector cannot publish audio into the call; the words say why.
    Unsupported(String),
    /// Publishing was tried and failed; the words say why. The call itself goes on.
    Failed(String),
}

/// A bearer token that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct BearerToken(String);

impl BearerToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// A remote participant as the media names them (for WHEP: the track's stream id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub String);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 16 kHz mono PCM, the rate the transcription models take.
pub const PCM_SAMPLE_RATE: u32 = 16_000;

/// A run of 16 kHz mono samples and where it starts on the call clock.
#[derive(Debug, Clone, PartialEq)]
pub struct PcmFrame {
    /// Offset from the moment the session connected. Every track of a session shares this clock, so frames
    /// from different participants line up.
    pub at: Duration,
    pub samples: Vec<i16>,
    /// True when packet-loss concealment made this frame up.
    pub concealed: bool,
}

impl PcmFrame {
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(PCM_SAMPLE_RATE))
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// We called `leave()`.
    Left,
    /// The far end closed the session.
    RemoteClosed,
    /// Connectivity was lost (ICE consent failed); rejoining may work.
    ConnectionLost,
}

impl DisconnectReason {
    /// Whether the bot should try to rejoin.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DisconnectReason::ConnectionLost)
    }
}

/// What a session reports, in order. `Disconnected` is always the last event.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    Joined,
    /// Held in a lobby; platforms without one (WHEP) never send it.
    WaitingRoom,
    ParticipantJoined {
        id: ParticipantId,
        display_name: String,
    },
    ParticipantLeft {
        id: ParticipantId,
    },
    Audio {
        participant: ParticipantId,
        frames: Vec<PcmFrame>,
    },
    SpeechStarted {
        participant: ParticipantId,
        at: Duration,
    },
    SpeechEnded {
        participant: ParticipantId,
        at: Duration,
    },
    /// The outcome of the spoken notice the join asked for (at most one per session).
    Notice(NoticeOutcome),
    Disconnected {
        reason: DisconnectReason,
    },
}

/// Per-participant media counters, for metrics and the benchmark.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParticipantStats {
    pub participant: Option<ParticipantId>,
    /// RTP packets that arrived (including late and duplicate ones).
    pub received: u64,
    /// Frames made up by Opus packet-loss concealment.
    pub concealed: u64,
    /// Packets that never arrived in time to be played.
    pub lost: u64,
    /// Packets that arrived after they had been given up as lost.
    pub late: u64,
}
