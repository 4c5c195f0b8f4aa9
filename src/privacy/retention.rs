//! Retention: transcripts, recordings, finished notes and bot records older than their configured
//! number of days are deleted by a periodic sweep on every replica (each sweeps its own data
//! directory; store deletions are idempotent). Optionally, a call's recordings go as soon as its
//! bot has finished and its transcript exists. Pending notes are never expired: that would lose a
//! note nobody has seen.

use std::path::{Path, PathBuf};
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::PrivacySettings;
use crate::poster::OutboxStatus;
use crate::store::{DynStore, StoreError};

/// Records read per sweep; more than any deployment keeps.
const SCAN: usize = 1_000_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    pub transcripts: usize,
    pub recordings: usize,
    pub notes: usize,
    pub bot_records: usize,
}

impl SweepReport {
    pub fn is_empty(&self) -> bool {
        *self == SweepReport::default()
    }
}

fn days(n: u64) -> Option<chrono::Duration> {
    (n > 0).then(|| chrono::Duration::days(n as i64))
}

fn modified(path: &Path) -> Option<DateTime<Utc>> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .map(DateTime::<Utc>::from)
}

/// The newest modification time of the files under `dir` (a directory's own time changes when
/// anything is added, so it says nothing about the age of the audio); the directory's own when it
/// holds no file.
fn newest(dir: &Path) -> Option<DateTime<Utc>> {
    fn files(dir: &Path) -> Option<DateTime<Utc>> {
        let mut best = None;
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let t = if e.path().is_dir() {
                files(&e.path())
            } else {
                modified(&e.path())
            };
            best = best.max(t);
        }
        best
    }
    files(dir).or_else(|| modified(dir))
}

/// One sweep at `now`.
pub async fn sweep(
    store: &DynStore,
    data_dir: &Path,
    policy: &PrivacySettings,
    now: DateTime<Utc>,
) -> Result<SweepReport, StoreError> {
    let mut report = SweepReport::default();
    let runs = store.recent_bot_runs(SCAN).await?;
    let transcripts = data_dir.join("transcripts");
    let recordings = data_dir.join("recordings");

    // Recordings whose call is over and transcribed, when asked to keep none beyond that.
    let mut early: Vec<PathBuf> = Vec::new();
    if policy.delete_recordings_after_transcript {
        for r in runs.iter().filter(|r| r.state.is_final()) {
            let transcript =
                crate::transcribe::TranscriptFiles::new(data_dir).path(&r.interview_id.to_string());
            if transcript.exists() {
                early.push(recordings.join(r.interview_id.to_string()));
            }
        }
    }
    let (rec_limit, tr_limit) = (days(policy.recordings_days), days(policy.transcripts_days));
    let (t, r) = tokio::task::spawn_blocking({
        let (transcripts, recordings) = (transcripts.clone(), recordings.clone());
        move || {
            let mut removed = (0, 0);
            if let Some(limit) = tr_limit {
                for e in std::fs::read_dir(&transcripts)
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    if modified(&e.path()).is_some_and(|t| now - t > limit)
                        && std::fs::remove_file(e.path()).is_ok()
                    {
                        removed.0 += 1;
                    }
                }
            }
            for e in std::fs::read_dir(&recordings)
                .into_iter()
                .flatten()
                .flatten()
            {
                let dir = e.path();
                let expired =
                    rec_limit.is_some_and(|limit| newest(&dir).is_some_and(|t| now - t > limit));
                if (expired || early.contains(&dir)) && std::fs::remove_dir_all(&dir).is_ok() {
                    removed.1 += 1;
                }
            }
            removed
        }
    })
    .await
    .unwrap_or((0, 0));
    report.transcripts = t;
    report.recordings = r;

    if let Some(limit) = days(policy.notes_days) {
        for note in store.recent_outbox_notes(SCAN).await? {
            let finished = matches!(note.status, OutboxStatus::Posted | OutboxStatus::Failed);
            if finished
                && now - note.updated_at > limit
                && store.delete_outbox_note(note.interview_id).await?
            {
                report.notes += 1;
            }
        }
    }
    // Bot records name the participants: they go with the transcripts.
    if let Some(limit) = tr_limit {
        for run in runs
            .iter()
            .filter(|r| r.state.is_final() && now - r.updated_at > limit)
        {
            if store.delete_bot_run(run.interview_id).await? {
                report.bot_records += 1;
            }
        }
    }
    Ok(report)
}

/// Runs [`sweep`] every `sweep_interval_secs`.
pub struct RetentionActor {
    store: DynStore,
    data_dir: PathBuf,
    policy: PrivacySettings,
}

impl RetentionActor {
    pub fn new(store: DynStore, data_dir: PathBuf, policy: PrivacySettings) -> Self {
        RetentionActor {
            store,
            data_dir,
            policy,
        }
    }

    fn run_sweep(&mut self, ctx: &mut Context<Self>) {
        let (store, dir, policy) = (
            self.store.clone(),
            self.data_dir.clone(),
            self.policy.clone(),
        );
        ctx.spawn(
            async move {
                match sweep(&store, &dir, &policy, Utc::now()).await {
                    Ok(r) if r.is_empty() => {}
                    Ok(r) => {
                        tracing::info!(transcripts = r.transcripts, recordings = r.recordings, notes = r.notes, bot_records = r.bot_records, "retention sweep removed expired data");
                        if let Err(e) = super::audit::record_audit(&store, "retention_sweep", "retention", &r).await {
                            tracing::warn!(error = %e, "cannot write the retention audit entry");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "retention sweep failed; it runs again at the next interval"),
                }
            }
            .into_actor(self),
        );
    }
}

impl Actor for RetentionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.run_sweep(ctx);
        let every = Duration::from_secs(self.policy.sweep_interval_secs.max(10));
        ctx.run_interval(every, |act, ctx| act.run_sweep(ctx));
    }
}
