//! `BotRun`: the persisted record of one bot's life for one interview, so the dashboard, a restart
//! and other replicas all see the same state timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Id;

/// Where a bot is. Every change is persisted with the time it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotState {
    /// A timer is set; the bot starts at `join_at`.
    Scheduled,
    Joining,
    WaitingRoom,
    InCall,
    Leaving,
    /// A failure is being retried after a backoff.
    Retrying,
    /// The call is over and the transcript, notes and post follow.
    Done,
    Failed,
    /// The meeting URL is not served by any connector (or missing): no bot is sent.
    UnsupportedPlatform,
    /// The network policy (`bots.network`) refuses the meeting URL, an address its host resolved to or a
    /// redirect: the bot connects to nothing there and is not retried. The timeline says which host and why.
    UrlNotAllowed,
    /// Policy `opt_in` and no consent yet: re-checked at every rescan.
    ConsentPending,
    /// The candidate declined: no bot, unless they change their answer.
    ConsentDenied,
    /// The interview was cancelled or deleted before or during the call.
    Cancelled,
}

impl BotState {
    pub fn as_str(self) -> &'static str {
        match self {
            BotState::Scheduled => "scheduled",
            BotState::Joining => "joining",
            BotState::WaitingRoom => "waiting_room",
            BotState::InCall => "in_call",
            BotState::Leaving => "leaving",
            BotState::Retrying => "retrying",
            BotState::Done => "done",
            BotState::Failed => "failed",
            BotState::UnsupportedPlatform => "unsupported_platform",
            BotState::UrlNotAllowed => "url_not_allowed",
            BotState::ConsentPending => "consent_pending",
            BotState::ConsentDenied => "consent_denied",
            BotState::Cancelled => "cancelled",
        }
    }

    /// Whether the bot is running (holds a media session or is about to).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            BotState::Joining
                | BotState::WaitingRoom
                | BotState::InCall
                | BotState::Leaving
                | BotState::Retrying
        )
    }

    /// Whether nothing more will happen to this bot.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BotState::Done
                | BotState::Failed
                | BotState::UnsupportedPlatform
                | BotState::UrlNotAllowed
                | BotState::Cancelled
        )
    }
}

impl std::fmt::Display for BotState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a bot's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: BotState,
    pub at: DateTime<Utc>,
    /// Why (a leave rule, a join error, the platform nobody serves), never a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// What the bot saw of the call, updated while it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallFigures {
    /// Participants ever seen, by display name (the bot itself is never one).
    pub participants: Vec<String>,
    pub audio_frames: u64,
    pub frames_lost: u64,
    /// The bot is in the call, others are there, but no audio has arrived for a while.
    pub silent: bool,
    /// Seconds from the scheduled start to being in the call (negative: early).
    pub join_latency_ms: Option<i64>,
    /// Loudest speech level over the last few seconds, dBFS (0 is full scale, -90 silence): the
    /// dashboard's audio meter.
    #[serde(default)]
    pub audio_level_dbfs: Option<f32>,
}

/// The persisted record of a bot for one interview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotRun {
    pub interview_id: Id,
    pub state: BotState,
    /// The replica that runs (or last ran) the bot.
    pub owner: String,
    pub meeting_url: Option<String>,
    pub platform: Option<String>,
    pub scheduled_start: Option<DateTime<Utc>>,
    pub scheduled_end: Option<DateTime<Utc>>,
    pub attempts: u32,
    #[serde(default)]
    pub figures: CallFigures,
    pub timeline: Vec<StateChange>,
    pub updated_at: DateTime<Utc>,
    /// Whether the in-call notice was given on the latest join, and how (or why not).
    #[serde(default)]
    pub notice: Option<NoticeLog>,
}

/// The delivery log of the in-call notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeLog {
    pub given: bool,
    pub detail: String,
    pub at: DateTime<Utc>,
}

impl NoticeLog {
    pub fn not_given(why: String, at: DateTime<Utc>) -> NoticeLog {
        NoticeLog {
            given: false,
            detail: why,
            at,
        }
    }
}

impl BotRun {
    pub fn new(interview_id: Id, owner: &str, now: DateTime<Utc>) -> BotRun {
        BotRun {
            interview_id,
            state: BotState::Scheduled,
            owner: owner.to_string(),
            meeting_url: None,
            platform: None,
            scheduled_start: None,
            scheduled_end: None,
            attempts: 0,
            figures: CallFigures::default(),
            timeline: vec![StateChange {
                state: BotState::Scheduled,
                at: now,
                detail: None,
            }],
            updated_at: now,
            notice: None,
        }
    }

    /// Moves to `state` (a repeat of the current state with the same detail is not recorded twice).
    pub fn transition(&mut self, state: BotState, detail: Option<String>, now: DateTime<Utc>) {
        let same = self.state == state && self.timeline.last().map(|c| &c.detail) == Some(&detail);
        self.state = state;
        self.updated_at = now;
        if !same {
            self.timeline.push(StateChange {
                state,
                at: now,
                detail,
            });
        }
    }

    /// The detail of the latest change: why the bot is where it is.
    pub fn reason(&self) -> Option<&str> {
        self.timeline.last().and_then(|c| c.detail.as_deref())
    }

    /// When the bot first got into the call.
    pub fn joined_at(&self) -> Option<DateTime<Utc>> {
        self.timeline
            .iter()
            .find(|c| c.state == BotState::InCall)
            .map(|c| c.at)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_timeline_records_each_change_once() {
        let t0 = Utc::now();
        let mut run = BotRun::new(7, "replica-a", t0);
        run.transition(BotState::Joining, None, t0);
        run.transition(BotState::Joining, None, t0);
        run.transition(BotState::InCall, None, t0);
        run.transition(BotState::Done, Some("alone for 120 s".into()), t0);
        let states: Vec<BotState> = run.timeline.iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            [
                BotState::Scheduled,
                BotState::Joining,
                BotState::InCall,
                BotState::Done
            ]
        );
        assert_eq!(run.reason(), Some("alone for 120 s"));
        assert!(run.state.is_final() && !run.state.is_active());
        let json = serde_json::to_string(&run).unwrap();
        assert!(json.contains("\"in_call\""));
        assert_eq!(serde_json::from_str::<BotRun>(&json).unwrap(), run);
    }

    #[test]
    fn a_refused_url_is_a_final_state_with_its_own_name() {
        let s = BotState::UrlNotAllowed;
        assert_eq!(s.as_str(), "url_not_allowed");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"url_not_allowed\"");
        assert!(s.is_final() && !s.is_active());
    }
}
