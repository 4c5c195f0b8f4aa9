//! The outbox record and the pure decisions about it: when to try again, whether to look for the
//! note before posting again, when to give up and with what reason. Time and jitter are inputs,
//! so every rule is tested without a clock or a server.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Id;
use crate::greenhouse::{GreenhouseError, Visibility};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for its first attempt or for a retry at `next_attempt_at`.
    Pending,
    Posted,
    /// Given up: `last_error` says why, in words for the dashboard.
    Failed,
}

/// One note to post, keyed by interview: an interview gets at most one note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxNote {
    pub interview_id: Id,
    pub candidate_id: Id,
    /// The full note text; its first line is the marker (`notes::marker`).
    pub body: String,
    pub visibility: Visibility,
    pub status: OutboxStatus,
    /// Attempts that count towards the limit (429s do not).
    #[serde(default)]
    pub attempts: u32,
    /// 429 answers seen.
    #[serde(default)]
    pub throttled: u32,
    /// A post may have reached Greenhouse without an answer (a timeout, a dropped connection, a
    /// crash mid-post): the candidate's notes are searched for the marker before posting again.
    #[serde(default)]
    pub in_flight: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub posted_at: Option<DateTime<Utc>>,
    /// Greenhouse's id for the note, when it told us.
    #[serde(default)]
    pub note_id: Option<Id>,
    /// Posted was learnt by finding the marker, not from a create response.
    #[serde(default)]
    pub found_by_marker: bool,
}

impl OutboxNote {
    pub fn new(
        interview_id: Id,
        candidate_id: Id,
        body: String,
        visibility: Visibility,
        now: DateTime<Utc>,
    ) -> OutboxNote {
        OutboxNote {
            interview_id,
            candidate_id,
            body,
            visibility,
            status: OutboxStatus::Pending,
            attempts: 0,
            throttled: 0,
            in_flight: false,
            created_at: now,
            updated_at: now,
            next_attempt_at: now,
            last_error: None,
            posted_at: None,
            note_id: None,
            found_by_marker: false,
        }
    }

    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.status == OutboxStatus::Pending && self.next_attempt_at <= now
    }
}

/// The retry rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Retry {
        at: DateTime<Utc>,
        /// The failed post may have been applied: look for the marker first next time.
        maybe_posted: bool,
        /// Counts towards `max_attempts` (429s and "not configured yet" do not).
        counts: bool,
        reason: String,
    },
    Fail {
        reason: String,
    },
}

/// Jittered exponential backoff for the `attempt`-th counted attempt (1-based); `jitter` in
/// [0, 1] picks a point between half and all of the step, spreading a fleet's retries.
pub fn backoff(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let step = policy
        .base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(policy.max);
    step.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The decision after `err` on `note`'s latest attempt (already counted in `note.attempts`).
pub fn after_error(
    note: &OutboxNote,
    err: &GreenhouseError,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    jitter: f64,
) -> Decision {
    let retry = |maybe_posted: bool, counts: bool, wait: Duration, reason: String| {
        if counts && note.attempts >= policy.max_attempts {
            Decision::Fail {
                reason: format!(
                    "gave up after {} attempts; the last one failed: {reason}",
                    note.attempts
                ),
            }
        } else {
            Decision::Retry {
                at: after(now, wait),
                maybe_posted,
                counts,
                reason,
            }
        }
    };
    let step = backoff(policy, note.attempts.max(1), jitter);
    match err {
        // Throttled: Greenhouse did not apply it; wait exactly as long as it asks.
        GreenhouseError::RateLimited { retry_after } => retry(
            false,
            false,
            (*retry_after).max(Duration::from_secs(1)),
            format!(
                "rate limited by Greenhouse; retrying in {}s",
                retry_after.as_secs().max(1)
            ),
        ),
        // Sent, but no answer: it may be there.
        e if e.outcome_unknown() => retry(true, true, step, e.to_string()),
        // Never sent, or refused before processing.
        GreenhouseError::Connect(_) | GreenhouseError::Server { status: 503, .. } => {
            retry(false, true, step, err.to_string())
        }
        // A 5xx may come after the note was stored.
        GreenhouseError::Server { .. } => retry(true, true, step, err.to_string()),
        // A 2xx whose body could not be read: it was created; confirm by the marker at once.
        GreenhouseError::Decode(_) => Decision::Retry {
            at: now,
            maybe_posted: true,
            counts: false,
            reason: err.to_string(),
        },
        _ => Decision::Fail {
            reason: readable_reason(err, note.candidate_id),
        },
    }
}

/// Why a note was refused, in words an operator can act on (shown on the dashboard).
pub fn readable_reason(err: &GreenhouseError, candidate_id: Id) -> String {
    match err {
        GreenhouseError::Forbidden { message } => format!(
            "Greenhouse refused the note (403 Forbidden: {message}). The integration user must be \
             allowed to add notes to candidates, and the API credentials must include the notes \
             endpoint."
        ),
        GreenhouseError::NotFound { .. } => format!(
            "Greenhouse does not know candidate {candidate_id} (404 Not Found): the candidate may \
             have been deleted or merged into another."
        ),
        GreenhouseError::Unauthorized { message } => format!(
            "Greenhouse rejected the credentials (401: {message}). Check them on the settings page."
        ),
        GreenhouseError::Validation { .. } => {
            format!("Greenhouse rejected the note as invalid (422): {err}.")
        }
        GreenhouseError::UnexpectedStatus { status, body } => {
            format!("Greenhouse answered {status} to the note: {body}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 3, 4, 12, 0, 0).unwrap()
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(5),
            max: Duration::from_secs(60),
        }
    }

    fn note(attempts: u32) -> OutboxNote {
        let mut n = OutboxNote::new(1, 2, "body".into(), Visibility::Private, now());
        n.attempts = attempts;
        n
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 1.0), Duration::from_secs(5));
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(2500));
        assert_eq!(backoff(&p, 3, 1.0), Duration::from_secs(20));
        assert_eq!(backoff(&p, 30, 1.0), Duration::from_secs(60));
    }

    #[test]
    fn rate_limits_wait_retry_after_and_do_not_count() {
        let d = after_error(
            &note(3),
            &GreenhouseError::RateLimited {
                retry_after: Duration::from_secs(7),
            },
            now(),
            &policy(),
            1.0,
        );
        assert_eq!(
            d,
            Decision::Retry {
                at: now() + chrono::Duration::seconds(7),
                maybe_posted: false,
                counts: false,
                reason: "rate limited by Greenhouse; retrying in 7s".into()
            }
        );
    }

    #[test]
    fn timeouts_and_500s_may_have_posted_but_503_and_connect_did_not() {
        let unknown = |e: GreenhouseError| match after_error(&note(1), &e, now(), &policy(), 1.0) {
            Decision::Retry {
                maybe_posted, at, ..
            } => {
                assert_eq!(at, now() + chrono::Duration::seconds(5));
                maybe_posted
            }
            other => panic!("{other:?}"),
        };
        assert!(unknown(GreenhouseError::Timeout("t".into())));
        assert!(unknown(GreenhouseError::Transport("reset".into())));
        assert!(unknown(GreenhouseError::Server {
            status: 500,
            body: String::new()
        }));
        assert!(!unknown(GreenhouseError::Server {
            status: 503,
            body: String::new()
        }));
        assert!(!unknown(GreenhouseError::Connect("refused".into())));
    }

    #[test]
    fn client_errors_fail_at_once_with_a_readable_reason() {
        for (err, needle) in [
            (
                GreenhouseError::Forbidden {
                    message: "no".into(),
                },
                "403 Forbidden",
            ),
            (
                GreenhouseError::NotFound {
                    path: "/v1/x".into(),
                },
                "does not know candidate 2",
            ),
            (
                GreenhouseError::Unauthorized {
                    message: "bad key".into(),
                },
                "settings page",
            ),
        ] {
            match after_error(&note(1), &err, now(), &policy(), 0.5) {
                Decision::Fail { reason } => assert!(reason.contains(needle), "{reason}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_last_counted_attempt_fails_for_good() {
        match after_error(
            &note(3),
            &GreenhouseError::Timeout("t".into()),
            now(),
            &policy(),
            0.5,
        ) {
            Decision::Fail { reason } => {
                assert!(reason.starts_with("gave up after 3 attempts"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }
}
