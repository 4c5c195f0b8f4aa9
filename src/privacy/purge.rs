//! Purging one candidate. Running bots are stopped first through the schedule (cancelling an
//! interview stops its bot on whichever replica runs it); a bot flushing its last audio may still
//! write after that, so the files are removed again after a grace period.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{Application, EntityKind, Id};
use crate::store::{DynStore, StoreError, StoreExt, WebhookEventStatus};
use crate::transcribe::TranscriptFiles;

use super::audit::record_audit;

/// What a purged webhook body becomes in the event log.
pub const REDACTED: &str = "{\"redacted\":\"the candidate's data was purged\"}";
/// How long after a purge its files are swept again, for bots that were flushing when it ran.
const SECOND_SWEEP: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeReport {
    pub applications: usize,
    pub interviews: usize,
    pub transcripts: usize,
    pub recordings: usize,
    pub notes: usize,
    pub bot_records: usize,
    /// Webhook bodies in the event log that named the candidate, replaced by a marker.
    pub webhook_bodies: usize,
}

#[derive(Clone)]
pub struct Purger {
    store: DynStore,
    data_dir: PathBuf,
}

impl Purger {
    pub fn new(store: DynStore, data_dir: PathBuf) -> Purger {
        Purger { store, data_dir }
    }

    /// Removes everything about `candidate_id`. `known_applications` are ids Greenhouse named (a
    /// deleted candidate's applications may already be gone from the synced records).
    pub async fn purge_candidate(
        &self,
        candidate_id: Id,
        known_applications: &[Id],
        reason: &str,
    ) -> Result<PurgeReport, StoreError> {
        let mut applications: Vec<Id> = known_applications.to_vec();
        for id in self.store.list_ids(EntityKind::Application).await? {
            if applications.contains(&id) {
                continue;
            }
            let owned = self
                .store
                .get::<Application>(id)
                .await?
                .is_some_and(|a| a.candidate_id == Some(candidate_id));
            if owned {
                applications.push(id);
            }
        }
        let mut interviews = Vec::new();
        for app in &applications {
            for iv in self.store.interviews_for_application(*app).await? {
                if !interviews.contains(&iv.id) {
                    interviews.push(iv.id);
                }
            }
        }
        let mut report = PurgeReport::default();
        for id in &interviews {
            // Cancelling first: the supervisor hears it and stops a bot in the call at once.
            self.store.cancel_interview(*id).await?;
        }
        for id in &interviews {
            report.notes += usize::from(self.store.delete_outbox_note(*id).await?);
            report.bot_records += usize::from(self.store.delete_bot_run(*id).await?);
            if self.store.delete_entity(EntityKind::Interview, *id).await? {
                report.interviews += 1;
            }
        }
        let (transcripts, recordings) = self.remove_files(&interviews).await;
        report.transcripts = transcripts;
        report.recordings = recordings;
        for app in &applications {
            if self
                .store
                .delete_entity(EntityKind::Application, *app)
                .await?
            {
                report.applications += 1;
            }
        }
        self.store
            .delete_entity(EntityKind::Candidate, candidate_id)
            .await?;
        report.webhook_bodies = self
            .redact_webhooks(candidate_id, &applications, &interviews)
            .await?;
        record_audit(&self.store, "purge_candidate", reason, &report).await?;
        tracing::info!(
            reason,
            interviews = report.interviews,
            transcripts = report.transcripts,
            recordings = report.recordings,
            notes = report.notes,
            "purged a candidate's data"
        );
        // A bot that was in the call may flush audio and transcript lines for a moment after it
        // was told to stop: sweep its files once more.
        if !interviews.is_empty() {
            let again = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(SECOND_SWEEP).await;
                let (t, r) = again.remove_files(&interviews).await;
                for id in &interviews {
                    let _ = again.store.delete_outbox_note(*id).await;
                    let _ = again.store.delete_bot_run(*id).await;
                }
                if t + r > 0 {
                    tracing::info!(
                        transcripts = t,
                        recordings = r,
                        "second purge sweep removed late files"
                    );
                }
            });
        }
        Ok(report)
    }

    /// Webhook bodies are kept in the event log for diagnosis; those about this candidate (their
    /// id, or one of their applications or interviews, appears in the body) are blanked.
    async fn redact_webhooks(
        &self,
        candidate_id: Id,
        applications: &[Id],
        interviews: &[Id],
    ) -> Result<usize, StoreError> {
        let needles: Vec<String> = std::iter::once(candidate_id)
            .chain(applications.iter().copied())
            .chain(interviews.iter().copied())
            .map(|id| id.to_string())
            .collect();
        let mentions = |body: &str| {
            needles.iter().any(|n| {
                body.match_indices(n.as_str()).any(|(at, _)| {
                    // Whole numbers only: 123 must not match inside 91234.
                    let before = body[..at].chars().next_back();
                    let after = body[at + n.len()..].chars().next();
                    !before.is_some_and(|c| c.is_ascii_digit())
                        && !after.is_some_and(|c| c.is_ascii_digit())
                })
            })
        };
        let mut redacted = 0;
        for mut event in self.store.recent_webhook_events(100_000).await? {
            let named = mentions(&event.body)
                || event.last_error.as_deref().is_some_and(mentions)
                || event.outcome.as_deref().is_some_and(mentions);
            if !named {
                continue;
            }
            event.body = REDACTED.to_string();
            event.last_error = event
                .last_error
                .map(|_| "(redacted: the candidate's data was purged)".into());
            event.outcome = event
                .outcome
                .map(|_| "(redacted: the candidate's data was purged)".into());
            // An event still waiting for a retry would write the candidate back: it is over.
            if matches!(
                event.status,
                WebhookEventStatus::Pending | WebhookEventStatus::Retrying
            ) {
                event.status = WebhookEventStatus::Failed;
                event.last_error = Some("superseded: the candidate's data was purged".into());
            }
            self.store.put_webhook_event(&event).await?;
            redacted += 1;
        }
        Ok(redacted)
    }

    /// Transcript files and recording directories of these interviews; counts of each removed.
    async fn remove_files(&self, interviews: &[Id]) -> (usize, usize) {
        let transcripts = TranscriptFiles::new(&self.data_dir);
        let recordings = self.data_dir.join("recordings");
        let ids = interviews.to_vec();
        tokio::task::spawn_blocking(move || {
            let (mut t, mut r) = (0, 0);
            for id in ids {
                let path = transcripts.path(&id.to_string());
                match std::fs::remove_file(&path) {
                    Ok(()) => t += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::error!(interview_id = id, error = %e, "cannot remove a transcript during a purge"),
                }
                let dir = recordings.join(id.to_string());
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => r += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => tracing::error!(interview_id = id, error = %e, "cannot remove recordings during a purge"),
                }
            }
            (t, r)
        })
        .await
        .unwrap_or((0, 0))
    }
}
