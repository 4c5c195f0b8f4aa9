//! Schedule changes: what the supervisor needs to hear when the store learns about an interview.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Id, Interview};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleChangeKind {
    Added,
    /// Start or end time changed.
    Moved,
    /// Meeting link, interviewers or other details changed, not the time.
    Updated,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleChange {
    pub interview_id: Id,
    pub kind: ScheduleChangeKind,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
}

/// Decides which change, if any, replacing `old` with `new` represents. Pure, so both stores
/// agree and it is tested once.
pub fn diff_schedule(old: Option<&Interview>, new: &Interview) -> Option<ScheduleChange> {
    let change = |kind| {
        Some(ScheduleChange {
            interview_id: new.id,
            kind,
            starts_at: new.starts_at(),
            ends_at: new.ends_at(),
        })
    };
    match old {
        None if new.is_active() => change(ScheduleChangeKind::Added),
        None => None,
        Some(old) if old.is_active() && !new.is_active() => change(ScheduleChangeKind::Cancelled),
        Some(old) if !old.is_active() && new.is_active() => change(ScheduleChangeKind::Added),
        Some(old) if !new.is_active() => {
            let _ = old;
            None
        }
        Some(old) if old.start != new.start || old.end != new.end => {
            change(ScheduleChangeKind::Moved)
        }
        Some(old) if old != new => change(ScheduleChangeKind::Updated),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InterviewStatus, InterviewTime};
    use chrono::TimeZone;

    fn at(h: u32) -> Option<InterviewTime> {
        Some(InterviewTime::DateTime {
            date_time: Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap(),
        })
    }

    fn iv(start: u32) -> Interview {
        Interview {
            id: 7,
            start: at(start),
            end: at(start + 1),
            ..Default::default()
        }
    }

    #[test]
    fn new_active_interview_is_added() {
        assert_eq!(
            diff_schedule(None, &iv(10)).unwrap().kind,
            ScheduleChangeKind::Added
        );
    }

    #[test]
    fn same_interview_is_no_change() {
        assert_eq!(diff_schedule(Some(&iv(10)), &iv(10)), None);
    }

    #[test]
    fn new_start_is_a_move() {
        let c = diff_schedule(Some(&iv(10)), &iv(11)).unwrap();
        assert_eq!(c.kind, ScheduleChangeKind::Moved);
        assert_eq!(c.starts_at, at(11).map(|t| t.instant()));
    }

    #[test]
    fn new_link_is_an_update() {
        let mut new = iv(10);
        new.video_conferencing_url = Some("https://meet.example/x".into());
        assert_eq!(
            diff_schedule(Some(&iv(10)), &new).unwrap().kind,
            ScheduleChangeKind::Updated
        );
    }

    #[test]
    fn status_leaving_scheduled_is_a_cancellation_and_back_is_an_add() {
        let mut done = iv(10);
        done.status = InterviewStatus::Complete;
        assert_eq!(
            diff_schedule(Some(&iv(10)), &done).unwrap().kind,
            ScheduleChangeKind::Cancelled
        );
        assert_eq!(
            diff_schedule(Some(&done), &iv(10)).unwrap().kind,
            ScheduleChangeKind::Added
        );
        assert_eq!(diff_schedule(None, &done), None);
        assert_eq!(diff_schedule(Some(&done), &done), None);
    }
}
