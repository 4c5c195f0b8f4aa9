//! Posting notes to Greenhouse exactly once: an outbox in the store, worked one step at a time.
//!
//! - `outbox`: the record and the pure retry/verify/give-up rules.
//! - [`Poster`]: one step, [`Poster::try_post_next`], that tests call directly (no sleeping).
//! - `actor`: [`GreenhousePosterActor`], which runs steps on a timer and when a note is queued.
//!
//! Exactly once: before a note is sent, its record is marked `in_flight` in the store. If the
//! answer never comes (a timeout after Greenhouse stored it, a dropped connection, a crash or a
//! restart mid-post), the next step finds `in_flight` set and reads the candidate's notes for the
//! note's marker line before posting again. A lease per note keeps two replicas from posting it
//! at the same moment.

pub mod actor;
pub mod outbox;

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

pub use actor::{
    EnqueueNote, GetPosterStats, GreenhousePosterActor, NoteQueued, PosterStats, RequeueNote,
};
pub use outbox::{after_error, backoff, Decision, OutboxNote, OutboxStatus, RetryPolicy};

use crate::config::PosterSettings;
use crate::domain::Id;
use crate::greenhouse::{GreenhouseClient, GreenhouseError, NewNote, Visibility};
use crate::notes::marker;
use crate::settings::IntegrationService;
use crate::store::{DynStore, StoreError};

/// Pending notes looked at per step.
const SCAN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the note does not start with its marker line {expected:?}")]
    MissingMarker { expected: String },
}

impl PosterError {
    pub fn is_retryable(&self) -> bool {
        match self {
            PosterError::Store(e) => e.is_retryable(),
            PosterError::MissingMarker { .. } => false,
        }
    }
}

/// How the poster reaches Greenhouse: a fixed client (tests, tools) or whatever the settings
/// service currently holds (the server: credentials can change while it runs).
#[derive(Clone)]
pub enum GreenhouseAccess {
    Fixed {
        /// Acting as `user_id` (v3 token `sub`, v1 `On-Behalf-Of`).
        client: GreenhouseClient,
        user_id: Id,
    },
    Integration(IntegrationService),
}

impl GreenhouseAccess {
    async fn resolve(&self) -> Result<(GreenhouseClient, Id), String> {
        match self {
            GreenhouseAccess::Fixed { client, user_id } => Ok((client.clone(), *user_id)),
            GreenhouseAccess::Integration(service) => {
                let user = service
                    .integration_user_id()
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| {
                        "the integration user is not verified yet: open the settings page and press Update"
                            .to_string()
                    })?;
                let client = service.client().await.map_err(|e| e.to_string())?;
                Ok((client, user))
            }
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum StepOutcome {
    Posted {
        interview_id: Id,
        note_id: Option<Id>,
        /// Found already in Greenhouse by its marker (an earlier attempt had gone through).
        found_by_marker: bool,
    },
    Retrying {
        interview_id: Id,
        at: DateTime<Utc>,
        reason: String,
    },
    Failed {
        interview_id: Id,
        reason: String,
    },
}

impl StepOutcome {
    pub fn interview_id(&self) -> Id {
        match self {
            StepOutcome::Posted { interview_id, .. }
            | StepOutcome::Retrying { interview_id, .. }
            | StepOutcome::Failed { interview_id, .. } => *interview_id,
        }
    }
}

/// Works the outbox. Cheap to clone; clones share the store and the lease identity.
#[derive(Clone)]
pub struct Poster {
    store: DynStore,
    access: GreenhouseAccess,
    policy: RetryPolicy,
    lease: Duration,
    /// This poster's lease owner name; unique per process so replicas exclude each other.
    owner: String,
}

impl Poster {
    pub fn new(store: DynStore, access: GreenhouseAccess, settings: &PosterSettings) -> Poster {
        Poster {
            store,
            access,
            policy: RetryPolicy {
                max_attempts: settings.max_attempts,
                base: Duration::from_secs(settings.retry_base_secs),
                max: Duration::from_secs(settings.retry_max_secs),
            },
            lease: Duration::from_secs(settings.lease_secs),
            owner: format!("poster-{}", uuid::Uuid::new_v4()),
        }
    }

    /// Overrides the retry rules (tests use short backoffs).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Poster {
        self.policy = policy;
        self
    }

    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// Queues a note for an interview. False when the interview already has one in the outbox
    /// (posted or not): an interview gets one note.
    pub async fn enqueue(
        &self,
        interview_id: Id,
        candidate_id: Id,
        body: String,
        visibility: Visibility,
        now: DateTime<Utc>,
    ) -> Result<bool, PosterError> {
        let expected = marker(&interview_id.to_string());
        if !body.starts_with(&expected) {
            return Err(PosterError::MissingMarker { expected });
        }
        if self.declined(candidate_id).await? {
            tracing::info!(
                interview_id,
                "the candidate declined recording: the note is discarded"
            );
            return Ok(false);
        }
        let note = OutboxNote::new(interview_id, candidate_id, body, visibility, now);
        Ok(self.store.enqueue_note(&note).await?)
    }

    /// The candidate said no: nothing from their interview may reach Greenhouse, even a note
    /// written from what was heard before they declined.
    async fn declined(&self, candidate_id: Id) -> Result<bool, PosterError> {
        Ok(crate::consent::Consents::new(self.store.clone())
            .get(candidate_id)
            .await?
            .is_some_and(|r| r.decision == crate::consent::ConsentDecision::Declined))
    }

    /// When the next pending note is due, if any (for the actor's timer).
    pub async fn next_due(&self) -> Result<Option<DateTime<Utc>>, PosterError> {
        Ok(self
            .store
            .pending_outbox_notes(1)
            .await?
            .first()
            .map(|n| n.next_attempt_at))
    }

    /// One step: takes the most overdue pending note (due at `now`) that no other poster holds,
    /// makes one attempt at it, and records the result. `None` when nothing is due.
    pub async fn try_post_next(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Option<StepOutcome>, PosterError> {
        let pending = self.store.pending_outbox_notes(SCAN).await?;
        for note in pending.into_iter().filter(|n| n.is_due(now)) {
            let lease = format!("outbox:{}", note.interview_id);
            if !self
                .store
                .acquire_lease(&lease, &self.owner, self.lease)
                .await?
            {
                continue;
            }
            let result = self.attempt(note.interview_id, now).await;
            // Released even on error; a crash leaves it to expire.
            let _ = self.store.release_lease(&lease, &self.owner).await;
            match result? {
                Some(outcome) => return Ok(Some(outcome)),
                None => continue,
            }
        }
        Ok(None)
    }

    async fn attempt(
        &self,
        interview_id: Id,
        now: DateTime<Utc>,
    ) -> Result<Option<StepOutcome>, PosterError> {
        // Re-read under the lease: another replica may have finished it meanwhile.
        let Some(mut note) = self.store.get_outbox_note(interview_id).await? else {
            return Ok(None);
        };
        if !note.is_due(now) {
            return Ok(None);
        }
        if self.declined(note.candidate_id).await? {
            tracing::info!(
                interview_id,
                "the candidate declined recording: the queued note is discarded"
            );
            self.store.delete_outbox_note(interview_id).await?;
            return Ok(None);
        }
        let (client, user_id) = match self.access.resolve().await {
            Ok(access) => access,
            Err(reason) => {
                // Not configured yet: keep the note and look again later, without counting.
                let wait = backoff(&self.policy, note.attempts.max(1), jitter());
                let in_flight = note.in_flight;
                return self
                    .record_retry(
                        &mut note,
                        now,
                        wait,
                        in_flight,
                        format!("Greenhouse is not ready: {reason}"),
                    )
                    .await
                    .map(Some);
            }
        };

        if note.in_flight {
            let wanted = marker(&interview_id.to_string());
            match client.notes_for_candidate(note.candidate_id).await {
                Ok(existing) => {
                    if let Some(found) = existing.iter().find(|n| n.body.contains(&wanted)) {
                        tracing::info!(
                            interview_id,
                            candidate_id = note.candidate_id,
                            "note found in Greenhouse by its marker; not posting again"
                        );
                        return self
                            .record_posted(&mut note, now, found.id, true)
                            .await
                            .map(Some);
                    }
                    // Not there: the earlier attempt never landed, so posting is safe.
                }
                Err(e) => {
                    return self.record_error(&mut note, &e, now, false).await.map(Some);
                }
            }
        }

        note.attempts += 1;
        note.in_flight = true;
        note.updated_at = now;
        self.store.put_outbox_note(&note).await?;
        let new = NewNote {
            user_id,
            body: note.body.clone(),
            visibility: note.visibility,
        };
        match client.create_note(note.candidate_id, &new).await {
            Ok(created) => self
                .record_posted(&mut note, now, created.id, false)
                .await
                .map(Some),
            Err(e) => self.record_error(&mut note, &e, now, true).await.map(Some),
        }
    }

    async fn record_posted(
        &self,
        note: &mut OutboxNote,
        now: DateTime<Utc>,
        note_id: Option<Id>,
        found_by_marker: bool,
    ) -> Result<StepOutcome, PosterError> {
        note.status = OutboxStatus::Posted;
        note.in_flight = false;
        note.posted_at = Some(now);
        note.updated_at = now;
        note.note_id = note_id;
        note.found_by_marker = found_by_marker;
        note.last_error = None;
        self.store.put_outbox_note(note).await?;
        tracing::info!(
            interview_id = note.interview_id,
            candidate_id = note.candidate_id,
            ?note_id,
            "note posted to Greenhouse"
        );
        Ok(StepOutcome::Posted {
            interview_id: note.interview_id,
            note_id,
            found_by_marker,
        })
    }

    /// Records a failed attempt. `from_post`: the error came from the create request (else from
    /// the marker lookup, which leaves the question "was it posted?" open).
    async fn record_error(
        &self,
        note: &mut OutboxNote,
        err: &GreenhouseError,
        now: DateTime<Utc>,
        from_post: bool,
    ) -> Result<StepOutcome, PosterError> {
        if matches!(err, GreenhouseError::RateLimited { .. }) {
            note.throttled += 1;
        }
        match after_error(note, err, now, &self.policy, jitter()) {
            Decision::Retry {
                at,
                maybe_posted,
                counts,
                reason,
            } => {
                if from_post && !counts {
                    // A throttled post was not applied and does not count.
                    note.attempts = note.attempts.saturating_sub(1);
                }
                let in_flight = if from_post {
                    maybe_posted
                } else {
                    note.in_flight
                };
                let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
                self.record_retry(note, now, wait, in_flight, reason).await
            }
            Decision::Fail { reason } => {
                tracing::warn!(interview_id = note.interview_id, candidate_id = note.candidate_id, %reason, "note failed");
                note.status = OutboxStatus::Failed;
                if from_post {
                    note.in_flight = err.outcome_unknown();
                }
                note.last_error = Some(reason.clone());
                note.updated_at = now;
                self.store.put_outbox_note(note).await?;
                Ok(StepOutcome::Failed {
                    interview_id: note.interview_id,
                    reason,
                })
            }
        }
    }

    async fn record_retry(
        &self,
        note: &mut OutboxNote,
        now: DateTime<Utc>,
        wait: Duration,
        in_flight: bool,
        reason: String,
    ) -> Result<StepOutcome, PosterError> {
        let at = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        note.in_flight = in_flight;
        note.next_attempt_at = at;
        note.updated_at = now;
        note.last_error = Some(reason.clone());
        self.store.put_outbox_note(note).await?;
        tracing::info!(interview_id = note.interview_id, attempts = note.attempts, retry_at = %at, %reason, "note not posted yet; will retry");
        Ok(StepOutcome::Retrying {
            interview_id: note.interview_id,
            at,
            reason,
        })
    }

    /// Puts a failed note back in the queue (the dashboard's "retry"). It is looked for by its
    /// marker first if its last attempt may have gone through.
    pub async fn requeue(&self, interview_id: Id, now: DateTime<Utc>) -> Result<bool, PosterError> {
        let Some(mut note) = self.store.get_outbox_note(interview_id).await? else {
            return Ok(false);
        };
        if note.status != OutboxStatus::Failed {
            return Ok(false);
        }
        note.status = OutboxStatus::Pending;
        note.attempts = 0;
        note.next_attempt_at = now;
        note.updated_at = now;
        self.store.put_outbox_note(&note).await?;
        Ok(true)
    }
}

fn jitter() -> f64 {
    rand::thread_rng().gen_range(0.0..=1.0)
}
