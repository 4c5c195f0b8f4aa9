//! Bookkeeping records: sync runs, the webhook event log and webhook pings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncRunStatus {
    Running,
    Succeeded,
    /// Finished, but some resources failed; see `errors`.
    Partial,
    Failed,
}

/// One sync run, kept for the dashboard and for debugging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRun {
    pub id: String,
    /// "full", "incremental", "application:<id>" or "candidate:<id>".
    pub kind: String,
    pub status: SyncRunStatus,
    pub started_at: DateTime<Utc>,
    #[serde(default)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Records fetched per resource, e.g. {"candidates": 5000}.
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    #[serde(default)]
    pub errors: Vec<String>,
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub rate_limited: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventStatus {
    /// Persisted and answered 200; not yet applied.
    Pending,
    Applied,
    /// An action Panelist does not act on; kept for the log.
    Ignored,
    /// Applying failed; it will be retried until `attempts` reaches the limit.
    Retrying,
    /// Gave up after the retry limit; visible in the log with `last_error`.
    Failed,
}

/// One accepted webhook delivery, persisted before it is answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The `Greenhouse-Event-ID` header, or a generated id when it was absent.
    pub id: String,
    pub action: String,
    pub received_at: DateTime<Utc>,
    /// The body exactly as received, so it can be re-applied after a failure or a restart.
    pub body: String,
    pub status: WebhookEventStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub applied_at: Option<DateTime<Utc>>,
    /// What applying did, in words, for the dashboard ("cancelled interview 42").
    #[serde(default)]
    pub outcome: Option<String>,
}

/// The last ping a Greenhouse webhook sent, which proves it is configured and enabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookPing {
    pub web_hook_id: i64,
    /// The UI label of the webhook's event, e.g. "Candidate has changed stage".
    pub event: String,
    pub received_at: DateTime<Utc>,
}
