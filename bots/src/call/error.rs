//! Why joining or leaving a call failed, and whether trying again can help.

use std::fmt;

use crate::netpolicy::UrlRefused;
use crate::platform::Platform;

/// A meeting URL that no registered connector serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{platform} meetings are not supported")]
pub struct UnsupportedPlatform {
    pub platform: Platform,
}

/// The step of a join that timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinStage {
    /// Sending the offer and waiting for the answer.
    Signalling,
    /// ICE and DTLS after the answer.
    Connecting,
}

impl fmt::Display for JoinStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JoinStage::Signalling => "signalling",
            JoinStage::Connecting => "connecting",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("{platform} meetings are not supported")]
    UnsupportedPlatform { platform: Platform },
    /// 4xx: the server will say the same thing next time (except 408 and 429).
    #[error("the server refused the join with HTTP {status}")]
    Refused { status: u16 },
    #[error("the server failed with HTTP {status}")]
    ServerError { status: u16 },
    #[error("timed out while {stage}")]
    Timeout { stage: JoinStage },
    #[error("ICE connectivity failed")]
    IceFailed,
    /// The server could not be reached at all (connection refused, reset, DNS).
    #[error("could not reach the server: {0}")]
    Transport(String),
    /// The server answered, but not with something we can use (no SDP, no Location, bad SDP).
    #[error("unusable answer: {0}")]
    BadAnswer(String),
    /// Local WebRTC setup failed; a bug or resource exhaustion, not the server's fault.
    #[error("WebRTC setup failed: {0}")]
    WebRtc(String),
    /// The platform's own signalling refused the join (not HTTP): no such room, wrong PIN, room full. The
    /// reason carries the platform's code; `retryable` is the platform's word on whether it is transient.
    #[error("the server refused the join: {reason}")]
    Rejected { reason: String, retryable: bool },
    /// The network policy (`bots.network`) does not let bots connect there: the meeting URL, a redirect or
    /// an address its name resolved to. Nothing was sent to the refused address; retrying cannot help.
    #[error("the meeting URL is not allowed: {0}")]
    UrlNotAllowed(UrlRefused),
}

impl JoinError {
    /// Whether a later attempt at the same join may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            JoinError::Refused { status } => matches!(status, 408 | 429),
            JoinError::ServerError { .. }
            | JoinError::Timeout { .. }
            | JoinError::IceFailed
            | JoinError::Transport(_) => true,
            JoinError::Rejected { retryable, .. } => *retryable,
            JoinError::UnsupportedPlatform { .. }
            | JoinError::BadAnswer(_)
            | JoinError::WebRtc(_)
            | JoinError::UrlNotAllowed(_) => false,
        }
    }

    /// A stable snake_case code for the dashboard and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            JoinError::UnsupportedPlatform { .. } => "unsupported_platform",
            JoinError::Refused { .. } => "refused",
            JoinError::ServerError { .. } => "server_error",
            JoinError::Timeout { .. } => "timeout",
            JoinError::IceFailed => "ice_failed",
            JoinError::Transport(_) => "transport",
            JoinError::BadAnswer(_) => "bad_answer",
            JoinError::WebRtc(_) => "webrtc",
            JoinError::Rejected { .. } => "rejected",
            JoinError::UrlNotAllowed(_) => "url_not_allowed",
        }
    }

    /// Maps an HTTP status that is not success.
    pub(crate) fn from_status(status: u16) -> Self {
        if status >= 500 {
            JoinError::ServerError { status }
        } else {
            JoinError::Refused { status }
        }
    }
}

impl From<UrlRefused> for JoinError {
    fn from(e: UrlRefused) -> Self {
        JoinError::UrlNotAllowed(e)
    }
}

impl From<UnsupportedPlatform> for JoinError {
    fn from(e: UnsupportedPlatform) -> Self {
        JoinError::UnsupportedPlatform {
            platform: e.platform,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaveError {
    /// The session had already ended; nothing to do.
    #[error("the session has already ended")]
    AlreadyEnded,
    /// We left locally, but the server did not confirm the DELETE.
    #[error("the server did not confirm leaving: {0}")]
    NotConfirmed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_final_and_server_errors_are_not() {
        assert!(!JoinError::from_status(403).is_retryable());
        assert!(!JoinError::from_status(404).is_retryable());
        assert!(JoinError::from_status(429).is_retryable());
        assert!(JoinError::from_status(503).is_retryable());
        assert!(JoinError::IceFailed.is_retryable());
        assert!(JoinError::Timeout {
            stage: JoinStage::Signalling
        }
        .is_retryable());
        assert!(!JoinError::from(UnsupportedPlatform {
            platform: Platform::Zoom
        })
        .is_retryable());
    }

    #[test]
    fn unsupported_platform_names_the_platform() {
        let e = JoinError::from(UnsupportedPlatform {
            platform: Platform::MicrosoftTeams,
        });
        assert_eq!(e.to_string(), "Microsoft Teams meetings are not supported");
        assert_eq!(e.code(), "unsupported_platform");
    }
}
