//! WebhookActor: applies persisted webhook events, retries failures with backoff, and resumes
//! unfinished events after a restart.
//!
//! The work of one attempt is [`try_apply`], a plain async function the actor runs off its
//! thread (`ctx.spawn`) and tests call directly. The actor only decides *when* to try again.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use thiserror::Error;
use tracing::Instrument;

use super::apply::{commands_for, Command, Webhook};
use super::Refresher;
use crate::store::{DynStore, StoreError, StoreExt, WebhookEvent, WebhookEventStatus, WebhookPing};

/// How many unfinished events one restart picks up. Events beyond it stay in the log and are
/// picked up by the next restart; a backlog that large means something else is badly wrong.
const RESUME_LIMIT: usize = 10_000;

/// Default first retry delay: long enough for a Greenhouse rate-limit window to pass.
const DEFAULT_RETRY_BASE: Duration = Duration::from_secs(5);

/// Messages the actor's mailbox holds before the HTTP handler leaves new events to the rescan.
pub const MAILBOX_CAPACITY: usize = 1024;

/// Longest wait between two attempts, so a high attempt count never parks an event for hours.
const DEFAULT_RETRY_CAP: Duration = Duration::from_secs(15 * 60);

/// Apply the persisted event with this id. Sent by the HTTP handler after it answered 200.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ApplyEvent {
    pub event_id: String,
    /// The event exactly as the handler just recorded it, which saves reading it back on the
    /// hot path. `None` (restart recovery, retries) reads it from the log.
    pub recorded: Option<Box<WebhookEvent>>,
}

/// What one [`try_apply`] step did. The event log holds the same, this is for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// All commands ran; `outcome` is what was written to the event log.
    Applied { outcome: String },
    /// The action is one Panelist does not act on.
    Ignored { action: String },
    /// This attempt failed and another is due.
    Retrying { attempts: u32, error: String },
    /// Gave up: the attempt limit is reached, or the body can never be applied.
    Failed { attempts: u32, error: String },
    /// Nothing to do: the event is unknown or already finished (a duplicate nudge).
    Skipped { reason: String },
}

/// The event log itself could not be read or written, so the step's result is not recorded.
/// The event stays unfinished in the store and is tried again.
#[derive(Debug, Error)]
pub enum StepError {
    #[error("webhook event log: {0}")]
    Store(#[from] StoreError),
}

/// One attempt at applying event `event_id`: map it, carry the commands out, and record the
/// result (status, attempts, outcome or last error) in the event log.
///
/// Every effect is idempotent (upserts, cancel, refetch), so re-running a partly applied event
/// after a failure is safe.
pub async fn try_apply(
    store: &DynStore,
    refresher: &dyn Refresher,
    event_id: &str,
    max_attempts: u32,
) -> Result<StepOutcome, StepError> {
    let Some(event) = store.get_webhook_event(event_id).await? else {
        return Ok(StepOutcome::Skipped {
            reason: format!("event {event_id} is not in the log"),
        });
    };
    apply_loaded(store, refresher, event, max_attempts).await
}

/// [`try_apply`] for an event already in hand.
pub async fn apply_loaded(
    store: &DynStore,
    refresher: &dyn Refresher,
    mut event: WebhookEvent,
    max_attempts: u32,
) -> Result<StepOutcome, StepError> {
    let event_id = event.id.clone();
    let finished = match event.status {
        WebhookEventStatus::Applied => Some("applied"),
        WebhookEventStatus::Ignored => Some("ignored"),
        WebhookEventStatus::Failed => Some("failed"),
        WebhookEventStatus::Pending | WebhookEventStatus::Retrying => None,
    };
    if let Some(status) = finished {
        return Ok(StepOutcome::Skipped {
            reason: format!("event {event_id} is already {status}"),
        });
    }

    event.attempts = event.attempts.saturating_add(1);
    let planned = Webhook::parse(&event.body)
        .map_err(|e| e.to_string())
        .and_then(|webhook| commands_for(&webhook).map_err(|e| e.to_string()));
    let ping_time = event.received_at;
    let mut purges = false;
    let result = match planned {
        // The body can never map differently, so retrying would only delay the verdict.
        Err(error) => Err((error, false)),
        Ok(commands) => {
            purges = commands
                .iter()
                .any(|c| matches!(c, Command::PurgeCandidate { .. }));
            execute(store, refresher, &commands, ping_time)
                .await
                .map_err(|error| (error, true))
        }
    };
    if purges && result.is_ok() {
        // The request to forget someone must not itself keep their name in the log.
        event.body = crate::privacy::REDACTED.to_string();
    }

    let outcome = match result {
        Ok(Executed::Ignored(action)) => {
            event.status = WebhookEventStatus::Ignored;
            event.applied_at = Some(Utc::now());
            event.outcome = Some(format!("`{action}` is not acted on"));
            StepOutcome::Ignored { action }
        }
        Ok(Executed::Applied(outcome)) => {
            event.status = WebhookEventStatus::Applied;
            event.applied_at = Some(Utc::now());
            event.outcome = Some(outcome.clone());
            StepOutcome::Applied { outcome }
        }
        Err((error, retryable)) => {
            event.last_error = Some(error.clone());
            if retryable && event.attempts < max_attempts.max(1) {
                event.status = WebhookEventStatus::Retrying;
                StepOutcome::Retrying {
                    attempts: event.attempts,
                    error,
                }
            } else {
                event.status = WebhookEventStatus::Failed;
                StepOutcome::Failed {
                    attempts: event.attempts,
                    error,
                }
            }
        }
    };
    store.put_webhook_event(&event).await?;
    Ok(outcome)
}

enum Executed {
    Applied(String),
    Ignored(String),
}

/// Runs the commands in order and describes what they did, or says readably which one failed.
async fn execute(
    store: &DynStore,
    refresher: &dyn Refresher,
    commands: &[Command],
    received_at: chrono::DateTime<Utc>,
) -> Result<Executed, String> {
    let mut done = Vec::with_capacity(commands.len());
    for command in commands {
        let line = match command {
            Command::Ignore(action) => return Ok(Executed::Ignored(action.clone())),
            Command::UpsertJob(job) => {
                put(store, std::slice::from_ref(job), "job", job.id).await?;
                format!("upserted job {}", job.id)
            }
            Command::UpsertJobPost(post) => {
                put(store, std::slice::from_ref(post), "job post", post.id).await?;
                format!("upserted job post {}", post.id)
            }
            Command::UpsertCandidate(candidate) => {
                put(
                    store,
                    std::slice::from_ref(candidate),
                    "candidate",
                    candidate.id,
                )
                .await?;
                refresher
                    .candidates_seen(std::slice::from_ref(candidate))
                    .await;
                format!("upserted candidate {}", candidate.id)
            }
            Command::UpsertApplication(application) => {
                let application = application.as_ref();
                put(
                    store,
                    std::slice::from_ref(application),
                    "application",
                    application.id,
                )
                .await?;
                format!("upserted application {}", application.id)
            }
            Command::RefreshCandidate(id) => {
                let summary = refresher
                    .refresh_candidate(*id)
                    .await
                    .map_err(|e| format!("refreshing candidate {id} failed: {e}"))?;
                format!("refreshed candidate {id}: {summary}")
            }
            Command::RefreshApplication(id) => {
                let summary = refresher
                    .refresh_application(*id)
                    .await
                    .map_err(|e| format!("refreshing application {id} failed: {e}"))?;
                format!("refreshed application {id}: {summary}")
            }
            Command::CancelInterview(id) => match store.cancel_interview(*id).await {
                Ok(Some(_)) => format!("cancelled interview {id}"),
                Ok(None) => {
                    format!("interview {id} unknown or already cancelled — nothing to cancel")
                }
                Err(e) => return Err(format!("cancelling interview {id} failed: {e}")),
            },
            Command::PurgeCandidate {
                candidate_id,
                applications,
                reason,
            } => refresher
                .purge_candidate(*candidate_id, applications, reason)
                .await
                .map_err(|e| format!("purging a candidate failed: {e}"))?,
            Command::RecordPing { web_hook_id, event } => {
                let ping = WebhookPing {
                    web_hook_id: *web_hook_id,
                    event: event.clone(),
                    received_at,
                };
                store
                    .record_webhook_ping(&ping)
                    .await
                    .map_err(|e| format!("recording ping of webhook {web_hook_id} failed: {e}"))?;
                format!("recorded ping of webhook {web_hook_id} ({event})")
            }
        };
        done.push(line);
    }
    Ok(Executed::Applied(done.join("; ")))
}

async fn put<T: crate::domain::Entity>(
    store: &DynStore,
    items: &[T],
    what: &str,
    id: crate::domain::Id,
) -> Result<(), String> {
    store
        .put(items)
        .await
        .map_err(|e| format!("storing {what} {id} failed: {e}"))
}

/// Exponential backoff: `base`, `2·base`, `4·base`... after attempt 1, 2, 3..., at most `cap`.
pub fn retry_delay(base: Duration, attempts: u32, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

/// Applies webhook events one message at a time, each attempt off the actor thread.
pub struct WebhookActor {
    /// Where events, entities and the schedule live.
    store: DynStore,
    /// Targeted Greenhouse refetches for candidate and stage changes.
    refresher: Arc<dyn Refresher>,
    /// Attempts before an event is marked failed (from `webhooks.max_apply_attempts`).
    max_attempts: u32,
    /// First retry delay; doubles with each attempt. Tests set it to milliseconds.
    retry_base: Duration,
    /// Upper bound on one retry delay.
    retry_cap: Duration,
    /// Events being applied or waiting for their retry. A second nudge for one of them (the
    /// restart scan racing a fresh delivery) is dropped, so an event never runs twice at once.
    busy: HashSet<String>,
    /// Consecutive attempts whose result could not be written to the event log, per event. The
    /// log is the source of truth, so these back off like failed attempts and then stop,
    /// leaving the event unfinished for the next rescan.
    log_failures: HashMap<String, u32>,
    /// How often the log is scanned for unfinished events (`None`: only at start).
    rescan: Option<Duration>,
}

impl WebhookActor {
    pub fn new(store: DynStore, refresher: Arc<dyn Refresher>, max_attempts: u32) -> Self {
        WebhookActor {
            store,
            refresher,
            max_attempts: max_attempts.max(1),
            retry_base: DEFAULT_RETRY_BASE,
            retry_cap: DEFAULT_RETRY_CAP,
            busy: HashSet::new(),
            log_failures: HashMap::new(),
            rescan: None,
        }
    }

    /// Rescans the event log this often for accepted events that are not being applied: ones a
    /// full mailbox could not take, and ones whose store writes failed past the retry limit.
    pub fn with_rescan(mut self, every: Duration) -> Self {
        self.rescan = Some(every.max(Duration::from_secs(1)));
        self
    }

    /// Sets the first retry delay (it doubles per attempt).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// Sets the longest delay between two attempts.
    pub fn with_retry_cap(mut self, cap: Duration) -> Self {
        self.retry_cap = cap;
        self
    }

    fn start_step(
        &mut self,
        event_id: String,
        recorded: Option<Box<WebhookEvent>>,
        ctx: &mut Context<Self>,
    ) {
        if !self.busy.insert(event_id.clone()) {
            tracing::debug!(event_id = %event_id, "webhook event already in progress");
            return;
        }
        let store = self.store.clone();
        let refresher = self.refresher.clone();
        let max_attempts = self.max_attempts;
        let span = tracing::info_span!("webhook_event", event_id = %event_id);
        let step = async move {
            let result = match recorded {
                Some(event) => apply_loaded(&store, refresher.as_ref(), *event, max_attempts).await,
                None => try_apply(&store, refresher.as_ref(), &event_id, max_attempts).await,
            };
            (event_id, result)
        }
        .instrument(span);
        ctx.spawn(
            step.into_actor(self)
                .map(|(event_id, result), act, ctx| act.after_step(event_id, result, ctx)),
        );
    }

    fn after_step(
        &mut self,
        event_id: String,
        result: Result<StepOutcome, StepError>,
        ctx: &mut Context<Self>,
    ) {
        if result.is_ok() {
            self.log_failures.remove(&event_id);
        }
        let retry_after = match result {
            Ok(StepOutcome::Applied { outcome }) => {
                tracing::info!(event_id = %event_id, outcome = %outcome, "webhook event applied");
                None
            }
            Ok(StepOutcome::Ignored { action }) => {
                tracing::info!(event_id = %event_id, action = %action, "webhook event ignored");
                None
            }
            Ok(StepOutcome::Skipped { reason }) => {
                tracing::debug!(event_id = %event_id, reason = %reason, "webhook event skipped");
                None
            }
            Ok(StepOutcome::Retrying { attempts, error }) => {
                let delay = retry_delay(self.retry_base, attempts, self.retry_cap);
                tracing::warn!(
                    event_id = %event_id, attempts, error = %error, retry_in_ms = delay.as_millis() as u64,
                    "applying webhook event failed; will retry"
                );
                Some(delay)
            }
            Ok(StepOutcome::Failed { attempts, error }) => {
                tracing::error!(
                    event_id = %event_id, attempts, error = %error,
                    "applying webhook event failed; giving up"
                );
                None
            }
            Err(error) => {
                let failures = self.log_failures.entry(event_id.clone()).or_insert(0);
                *failures += 1;
                if *failures < self.max_attempts {
                    let delay = retry_delay(self.retry_base, *failures, self.retry_cap);
                    tracing::warn!(
                        event_id = %event_id, error = %error, retry_in_ms = delay.as_millis() as u64,
                        "webhook event log unavailable; will retry"
                    );
                    Some(delay)
                } else {
                    tracing::error!(
                        event_id = %event_id, error = %error,
                        "webhook event log unavailable; leaving the event for the next rescan"
                    );
                    None
                }
            }
        };
        match retry_after {
            // Stays `busy` while it waits, so no other nudge starts it early.
            Some(delay) => {
                ctx.run_later(delay, move |act, ctx| {
                    act.busy.remove(&event_id);
                    act.start_step(event_id, None, ctx);
                });
            }
            None => {
                self.busy.remove(&event_id);
                self.log_failures.remove(&event_id);
            }
        }
    }

    /// Picks up events a previous run accepted but did not finish.
    fn resume_unfinished(&mut self, ctx: &mut Context<Self>) {
        self.scan_unfinished(ctx, None);
    }

    /// Like [`Self::resume_unfinished`], but skips events accepted within the last `min_age`:
    /// those are most likely still on their way through the mailbox, and the scan would only race
    /// their message.
    fn scan_unfinished(&mut self, ctx: &mut Context<Self>, min_age: Option<Duration>) {
        let store = self.store.clone();
        let scan = async move { store.unfinished_webhook_events(RESUME_LIMIT).await };
        ctx.spawn(
            scan.into_actor(self)
                .map(move |result, act, ctx| match result {
                    Ok(mut events) => {
                        if let Some(age) = min_age.and_then(|a| chrono::Duration::from_std(a).ok())
                        {
                            let cutoff = Utc::now() - age;
                            events.retain(|e| e.received_at <= cutoff);
                        }
                        events.retain(|e| !act.busy.contains(&e.id));
                        if !events.is_empty() {
                            tracing::info!(
                                count = events.len(),
                                "resuming unfinished webhook events"
                            );
                        }
                        for event in events {
                            act.start_step(event.id, None, ctx);
                        }
                    }
                    Err(error) => {
                        let delay = act.retry_cap.min(act.retry_base.saturating_mul(4));
                        tracing::warn!(
                            error = %error, retry_in_ms = delay.as_millis() as u64,
                            "could not list unfinished webhook events; will retry"
                        );
                        ctx.run_later(delay, |act, ctx| act.resume_unfinished(ctx));
                    }
                }),
        );
    }
}

impl Actor for WebhookActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
        self.resume_unfinished(ctx);
        if let Some(every) = self.rescan {
            // Events already running or waiting for a retry are in `busy` and are skipped.
            ctx.run_interval(every, move |act, ctx| {
                act.scan_unfinished(ctx, Some(every.min(Duration::from_secs(10))))
            });
        }
    }
}

impl Handler<ApplyEvent> for WebhookActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyEvent, ctx: &mut Self::Context) {
        self.start_step(msg.event_id, msg.recorded, ctx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_and_is_capped() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        let delays: Vec<u64> = (1..=6)
            .map(|a| retry_delay(base, a, cap).as_secs())
            .collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(
            retry_delay(base, 0, cap),
            base,
            "attempt 0 is treated as the first"
        );
        assert_eq!(
            retry_delay(base, 200, cap),
            cap,
            "huge attempt counts do not overflow"
        );
    }
}
