//! What a test room plays and how it misbehaves.

use std::net::SocketAddr;
use std::time::Duration;

use super::source::AudioSource;
use crate::rtc::NetworkSettings;

#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Path segment after `/whep/`.
    pub name: String,
    pub bind: SocketAddr,
    pub participants: Vec<RoomParticipant>,
    /// When set, POST and DELETE must carry `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Refuse every join with this HTTP status (403, 404, 503, ...). Changeable at run time.
    pub refuse_with: Option<u16>,
    /// Hold every answer this long. Changeable at run time.
    pub answer_delay: Duration,
    pub network: NetworkSettings,
}

impl RoomConfig {
    pub fn new(participants: Vec<RoomParticipant>) -> Self {
        Self {
            name: "room".to_owned(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            participants,
            token: None,
            refuse_with: None,
            answer_delay: Duration::ZERO,
            network: NetworkSettings::loopback(),
        }
    }
}

/// One simulated participant. Times are from the moment each session connects, so every session hears the
/// same call.
#[derive(Debug, Clone)]
pub struct RoomParticipant {
    /// Stream id (msid): the name the bot sees. Must be an SDP token (no spaces).
    pub id: String,
    /// Sent percent-encoded as the track id.
    pub display_name: String,
    pub source: AudioSource,
    pub join_at: Duration,
    /// When to leave (RTCP BYE). `None`: at the end of the source, or never with `loop_source`. Later than the
    /// source's end: silence until then.
    pub leave_at: Option<Duration>,
    /// Play the source again and again (load tests).
    pub loop_source: bool,
    /// Skip sending every n-th packet (sequence numbers still advance), to exercise loss concealment.
    pub drop_every: Option<u32>,
    /// Stop sending at `leave_at` without an RTCP BYE, as when the BYE packet is lost.
    pub vanish: bool,
}

impl RoomParticipant {
    pub fn new(
        id: impl Into<String>,
        display_name: impl Into<String>,
        source: AudioSource,
    ) -> Self {
        Self {
            id: id.into(),
            display_name: display_name.into(),
            source,
            join_at: Duration::ZERO,
            leave_at: None,
            loop_source: false,
            drop_every: None,
            vanish: false,
        }
    }

    pub fn joining_at(mut self, at: Duration) -> Self {
        self.join_at = at;
        self
    }

    pub fn leaving_at(mut self, at: Duration) -> Self {
        self.leave_at = Some(at);
        self
    }

    /// Stops sending at `at` without saying goodbye (its RTCP BYE lost on the way).
    pub fn vanishing_at(mut self, at: Duration) -> Self {
        self.leave_at = Some(at);
        self.vanish = true;
        self
    }

    pub fn looping(mut self) -> Self {
        self.loop_source = true;
        self
    }

    pub fn dropping_every(mut self, n: u32) -> Self {
        self.drop_every = Some(n.max(2));
        self
    }
}
