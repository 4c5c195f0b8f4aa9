//! The audit log: who viewed or exported which transcript or recording, who changed settings or
//! recorded consent, and every purge and retention sweep (counts only). Entries are time-ordered
//! documents in the store, kept for [`AUDIT_TTL`], and shown to admins on Settings → Audit log.
//!
//! Entries name the dashboard user (their sign-in email, or `api-token`) and the interview by id;
//! they never copy what was said or the candidate's name, so a purge leaves nothing personal here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::store::{DynStore, StoreError};

pub const AUDIT_NS: &str = "audit";
/// How long an entry is kept: a little over a year, so a yearly review sees a whole year.
pub const AUDIT_TTL: Duration = Duration::from_secs(400 * 24 * 3600);

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// `transcript_viewed`, `transcript_exported`, `recording_played`, `settings_changed`,
    /// `consent_recorded`, `purge_candidate` or `retention_sweep`.
    pub action: String,
    /// Why or which: the settings page, the purge's cause (`delete_candidate`, `admin`, …).
    pub reason: String,
    /// How much of each kind a purge or sweep removed.
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    /// Who: a dashboard user's email, `api-token`, or none for Panelist itself.
    #[serde(default)]
    pub actor: Option<String>,
    /// What it was about, e.g. `interview 7001`.
    #[serde(default)]
    pub subject: Option<String>,
}

async fn append(store: &DynStore, entry: &AuditEntry) -> Result<(), StoreError> {
    // Time-ordered keys, so a listing is chronological.
    let key = format!(
        "{}-{}",
        entry.at.format("%Y%m%dT%H%M%S%.6f"),
        uuid::Uuid::new_v4()
    );
    store
        .kv_put(AUDIT_NS, &key, &serde_json::to_vec(entry)?, Some(AUDIT_TTL))
        .await
}

/// Appends an entry for a purge or sweep; `counts` is any struct of counters.
pub(crate) async fn record_audit<T: Serialize>(
    store: &DynStore,
    action: &str,
    reason: &str,
    counts: &T,
) -> Result<(), StoreError> {
    let counts = match serde_json::to_value(counts)? {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| v.as_u64().map(|n| (k, n)))
            .collect(),
        _ => Default::default(),
    };
    append(
        store,
        &AuditEntry {
            at: Utc::now(),
            action: action.to_string(),
            reason: reason.to_string(),
            counts,
            actor: None,
            subject: None,
        },
    )
    .await
}

/// Records that `actor` did `action` to `subject`. An audit entry that cannot be written is logged
/// as an error, and the request it belongs to still succeeds: refusing to show a transcript
/// because the store hiccupped would help nobody, and the log line keeps the trace.
pub async fn record_access(
    store: &DynStore,
    actor: &str,
    action: &str,
    reason: &str,
    subject: Option<String>,
) {
    let entry = AuditEntry {
        at: Utc::now(),
        action: action.to_string(),
        reason: reason.to_string(),
        counts: Default::default(),
        actor: Some(actor.to_string()),
        subject,
    };
    if let Err(e) = append(store, &entry).await {
        tracing::error!(actor, action, reason, subject = entry.subject.as_deref().unwrap_or(""), error = %e, "cannot write an audit entry");
    }
}

/// The newest `limit` entries, newest first.
pub async fn recent_audit(store: &DynStore, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let mut all = store.kv_list(AUDIT_NS).await?;
    all.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(all
        .into_iter()
        .take(limit)
        .filter_map(|(key, v)| match serde_json::from_slice(&v) {
            Ok(entry) => Some(entry),
            Err(e) => {
                // Shown as missing on the page, so said here.
                tracing::warn!(key, error = %e, "an audit entry cannot be read");
                None
            }
        })
        .collect())
}
