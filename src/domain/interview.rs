//! The scheduled interview: the record a bot is sent to.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::{de, Id, UserRef};

/// When an interview starts or ends: a moment, or a whole day for all-day calendar events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InterviewTime {
    DateTime { date_time: DateTime<Utc> },
    Date { date: NaiveDate },
}

impl InterviewTime {
    /// The instant used to order the schedule. An all-day event counts from midnight UTC,
    /// because Greenhouse gives no time zone for it.
    pub fn instant(&self) -> DateTime<Utc> {
        match *self {
            InterviewTime::DateTime { date_time } => date_time,
            InterviewTime::Date { date } => {
                Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
            }
        }
    }

    pub fn is_all_day(&self) -> bool {
        matches!(self, InterviewTime::Date { .. })
    }
}

/// Greenhouse's interview status, plus Panelist's own `cancelled` for `interview_deleted`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum InterviewStatus {
    #[default]
    Scheduled,
    AwaitingFeedback,
    Complete,
    Cancelled,
    /// A status Greenhouse added after this code was written; kept verbatim.
    Other(String),
}

impl From<String> for InterviewStatus {
    fn from(s: String) -> Self {
        match s.as_str() {
            "scheduled" => InterviewStatus::Scheduled,
            "awaiting_feedback" => InterviewStatus::AwaitingFeedback,
            "complete" => InterviewStatus::Complete,
            "cancelled" => InterviewStatus::Cancelled,
            _ => InterviewStatus::Other(s),
        }
    }
}

impl From<InterviewStatus> for String {
    fn from(s: InterviewStatus) -> Self {
        s.as_str().to_string()
    }
}

impl InterviewStatus {
    pub fn as_str(&self) -> &str {
        match self {
            InterviewStatus::Scheduled => "scheduled",
            InterviewStatus::AwaitingFeedback => "awaiting_feedback",
            InterviewStatus::Complete => "complete",
            InterviewStatus::Cancelled => "cancelled",
            InterviewStatus::Other(s) => s,
        }
    }
}

/// The stage interview a scheduled interview belongs to; its kit holds the questions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageInterviewRef {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interviewer {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub response_status: Option<String>,
    #[serde(default)]
    pub scorecard_id: Option<Id>,
}

/// A scheduled interview (Harvest `scheduled_interviews`, v3 `interviews`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interview {
    pub id: Id,
    #[serde(default)]
    pub application_id: Option<Id>,
    #[serde(default)]
    pub external_event_id: Option<String>,
    #[serde(default)]
    pub start: Option<InterviewTime>,
    #[serde(default)]
    pub end: Option<InterviewTime>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub video_conferencing_url: Option<String>,
    #[serde(default)]
    pub status: InterviewStatus,
    #[serde(default)]
    pub interview: Option<StageInterviewRef>,
    #[serde(default)]
    pub organizer: Option<UserRef>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub interviewers: Vec<Interviewer>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Interview {
    pub fn starts_at(&self) -> Option<DateTime<Utc>> {
        self.start.as_ref().map(InterviewTime::instant)
    }

    pub fn ends_at(&self) -> Option<DateTime<Utc>> {
        self.end.as_ref().map(InterviewTime::instant)
    }

    /// Whether a bot should still be sent: not cancelled and not already over in Greenhouse.
    pub fn is_active(&self) -> bool {
        matches!(self.status, InterviewStatus::Scheduled)
    }

    /// The meeting link: `video_conferencing_url`, or the first URL inside `location`, since
    /// Greenhouse leaves the former null when the calendar invite only put the link in the location.
    pub fn meeting_url(&self) -> Option<String> {
        if let Some(url) = self
            .video_conferencing_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            return Some(url.to_string());
        }
        let location = self.location.as_deref()?;
        location
            .split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
            .find(|w| w.starts_with("https://") || w.starts_with("http://"))
            .map(|w| w.trim_end_matches([',', ';', '.', ')']).to_string())
    }

    pub fn title(&self) -> String {
        self.interview
            .as_ref()
            .and_then(|i| i.name.clone())
            .unwrap_or_else(|| format!("Interview #{}", self.id))
    }
}
