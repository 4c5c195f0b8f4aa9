//! What a sync fetches and with which filters: pure decisions, tested without I/O.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::greenhouse::{ListFilter, Resource};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncKind {
    /// Everything, ignoring high-water marks (interviews: the configured window).
    Full,
    /// Only what changed since each resource's high-water mark.
    Incremental,
    /// Full for resources never synced, incremental for the rest.
    Auto,
}

impl SyncKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncKind::Full => "full",
            SyncKind::Incremental => "incremental",
            SyncKind::Auto => "auto",
        }
    }
}

/// Resources in dependency order: who and what first, then the interviews that refer to them.
/// The name doubles as the high-water-mark key and the label in run records.
pub const RESOURCES: [(&str, Resource); 7] = [
    ("users", Resource::Users),
    ("jobs", Resource::Jobs),
    ("job_posts", Resource::JobPosts),
    ("job_stages", Resource::JobStages),
    ("candidates", Resource::Candidates),
    ("applications", Resource::Applications),
    ("interviews", Resource::Interviews),
];

/// The list filter for one resource in one run.
///
/// An incremental interview fetch deliberately has no start-time window: an interview moved
/// out of the window must still be seen, or the schedule would keep its old time.
pub fn filter_for(
    resource: Resource,
    high_water: Option<DateTime<Utc>>,
    kind: SyncKind,
    now: DateTime<Utc>,
    window_back: Duration,
    window_ahead: Duration,
) -> ListFilter {
    let incremental = match kind {
        SyncKind::Full => None,
        SyncKind::Incremental | SyncKind::Auto => high_water,
    };
    match (resource, incremental) {
        (_, Some(since)) => ListFilter {
            updated_after: Some(since),
            ..Default::default()
        },
        (Resource::Interviews, None) => ListFilter {
            starts_after: Some(now - window_back),
            starts_before: Some(now + window_ahead),
            ..Default::default()
        },
        (_, None) => ListFilter::default(),
    }
}

/// The high-water mark to keep after a resource finished: the newest change Greenhouse
/// reported (its clock, not ours), or, when nothing came back on a first sync, a point safely
/// before this run started so the next incremental run misses nothing.
pub fn next_high_water(
    previous: Option<DateTime<Utc>>,
    newest_seen: Option<DateTime<Utc>>,
    run_started: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match (previous, newest_seen) {
        (Some(p), Some(n)) => Some(p.max(n)),
        (None, Some(n)) => Some(n),
        (Some(p), None) => Some(p),
        (None, None) => Some(run_started - Duration::minutes(5)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0).unwrap()
    }

    #[test]
    fn full_interviews_use_the_window_and_incremental_uses_the_mark() {
        let f = filter_for(
            Resource::Interviews,
            Some(t(1)),
            SyncKind::Full,
            t(12),
            Duration::hours(24),
            Duration::days(14),
        );
        assert_eq!(f.starts_after, Some(t(12) - Duration::hours(24)));
        assert_eq!(f.starts_before, Some(t(12) + Duration::days(14)));
        assert_eq!(f.updated_after, None);
        let i = filter_for(
            Resource::Interviews,
            Some(t(1)),
            SyncKind::Incremental,
            t(12),
            Duration::hours(24),
            Duration::days(14),
        );
        assert_eq!(i.updated_after, Some(t(1)));
        assert_eq!(i.starts_after, None);
    }

    #[test]
    fn auto_without_a_mark_is_full() {
        let f = filter_for(
            Resource::Candidates,
            None,
            SyncKind::Auto,
            t(12),
            Duration::hours(1),
            Duration::days(1),
        );
        assert_eq!(f.updated_after, None);
    }

    #[test]
    fn high_water_never_goes_back() {
        assert_eq!(next_high_water(Some(t(5)), Some(t(3)), t(9)), Some(t(5)));
        assert_eq!(next_high_water(Some(t(5)), Some(t(7)), t(9)), Some(t(7)));
        assert_eq!(next_high_water(Some(t(5)), None, t(9)), Some(t(5)));
        assert_eq!(
            next_high_water(None, None, t(9)),
            Some(t(9) - Duration::minutes(5))
        );
    }
}
