//! Persistence: one `Store` trait, a Redis implementation for fleets and an embedded single-file
//! implementation for one machine. Both pass the contract suite in `tests/store_contract.rs`.

mod embedded;
mod error;
mod records;
mod redis_store;
mod schedule;

pub use embedded::EmbeddedStore;
pub use error::StoreError;
pub use records::{SyncRun, SyncRunStatus, WebhookEvent, WebhookEventStatus, WebhookPing};
pub use redis_store::RedisStore;
pub use schedule::{diff_schedule, ScheduleChange, ScheduleChangeKind};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::domain::{Entity, EntityKind, Id, Interview};
use crate::poster::OutboxNote;
use crate::settings::IntegrationSettings;
use crate::supervisor::BotRun;

pub type StoreResult<T> = Result<T, StoreError>;

/// Shared handle to whichever store the configuration chose.
pub type DynStore = Arc<dyn Store>;

/// Everything Panelist persists. Entities travel as JSON so both back ends stay thin; typed
/// access goes through [`StoreExt`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which back end this is, for logs and the dashboard ("redis" or "embedded").
    fn backend(&self) -> &'static str;

    /// Checks that the store answers; `/readyz` uses it.
    async fn ping(&self) -> StoreResult<()>;

    // ---- entities (not interviews: those go through `upsert_interview`) ----
    async fn put_raw(&self, kind: EntityKind, items: Vec<(Id, Vec<u8>)>) -> StoreResult<()>;
    async fn get_raw(&self, kind: EntityKind, id: Id) -> StoreResult<Option<Vec<u8>>>;
    async fn delete_entity(&self, kind: EntityKind, id: Id) -> StoreResult<bool>;
    async fn list_ids(&self, kind: EntityKind) -> StoreResult<Vec<Id>>;
    async fn count(&self, kind: EntityKind) -> StoreResult<u64>;

    // ---- the schedule ----
    /// Stores an interview, keeps the schedule index in step, and emits the change (if any)
    /// to schedule subscribers. Returns the change it emitted.
    async fn upsert_interview(&self, interview: &Interview) -> StoreResult<Option<ScheduleChange>>;
    /// Marks an interview cancelled and takes it off the schedule. `None` if it was unknown or
    /// already cancelled.
    async fn cancel_interview(&self, id: Id) -> StoreResult<Option<ScheduleChange>>;
    /// Active interviews whose start lies in `[from, to)`, ordered by start time.
    async fn interviews_starting_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Interview>>;
    /// Interviews that belong to one application, in any state.
    async fn interviews_for_application(&self, application_id: Id) -> StoreResult<Vec<Interview>>;
    /// Receives every schedule change emitted from now on, by any process sharing the store.
    async fn subscribe_schedule(&self) -> StoreResult<BoxStream<'static, ScheduleChange>>;

    // ---- sync bookkeeping ----
    async fn high_water_mark(&self, resource: &str) -> StoreResult<Option<DateTime<Utc>>>;
    async fn set_high_water_mark(&self, resource: &str, at: DateTime<Utc>) -> StoreResult<()>;
    /// Inserts or replaces a run record, keyed by its id.
    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()>;
    /// Most recent runs first.
    async fn recent_sync_runs(&self, limit: usize) -> StoreResult<Vec<SyncRun>>;

    // ---- webhooks ----
    /// Claims `event.id` for `ttl` and logs the event, atomically. False (and nothing written)
    /// when the id was already claimed: a repeat delivery. Atomic, so a crash can never leave
    /// a claimed id without its event, and one round trip keeps ingest fast.
    async fn record_webhook_delivery(
        &self,
        event: &WebhookEvent,
        ttl: Duration,
    ) -> StoreResult<bool>;
    /// Inserts or replaces an event in the log, keyed by its id.
    async fn put_webhook_event(&self, event: &WebhookEvent) -> StoreResult<()>;
    async fn get_webhook_event(&self, id: &str) -> StoreResult<Option<WebhookEvent>>;
    /// Most recent events first.
    async fn recent_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>>;
    /// Events not yet applied (pending or failed-but-retrying), oldest first.
    async fn unfinished_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>>;
    async fn record_webhook_ping(&self, ping: &WebhookPing) -> StoreResult<()>;
    /// The last ping of each webhook, newest first.
    async fn webhook_pings(&self) -> StoreResult<Vec<WebhookPing>>;

    // ---- integration settings ----
    async fn integration_settings(&self) -> StoreResult<Option<IntegrationSettings>>;
    async fn put_integration_settings(&self, settings: &IntegrationSettings) -> StoreResult<()>;

    // ---- leases ----
    /// Takes `name` for `owner` unless another owner holds an unexpired lease.
    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool>;
    /// Extends a lease `owner` still holds. False if it expired and someone else took it.
    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool>;
    /// Gives a lease up. False if `owner` did not hold it.
    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<bool>;
    /// The current holder of an unexpired lease.
    async fn lease_owner(&self, name: &str) -> StoreResult<Option<String>>;

    // ---- notes outbox (src/poster), one entry per interview ----
    /// Adds a note unless its interview already has an entry; true when it was added.
    async fn enqueue_note(&self, note: &OutboxNote) -> StoreResult<bool>;
    /// Inserts or replaces an entry, keyed by interview id.
    async fn put_outbox_note(&self, note: &OutboxNote) -> StoreResult<()>;
    async fn get_outbox_note(&self, interview_id: Id) -> StoreResult<Option<OutboxNote>>;
    /// Pending entries, soonest `next_attempt_at` first.
    async fn pending_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>>;
    /// Every entry, most recently updated first (the dashboard).
    async fn recent_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>>;

    // ---- bots (src/supervisor), one record per interview ----
    /// Inserts or replaces the record of an interview's bot.
    async fn put_bot_run(&self, run: &BotRun) -> StoreResult<()>;
    async fn get_bot_run(&self, interview_id: Id) -> StoreResult<Option<BotRun>>;
    /// Every record, most recently updated first (the dashboard, resuming after a restart).
    async fn recent_bot_runs(&self, limit: usize) -> StoreResult<Vec<BotRun>>;

    // ---- privacy purges (src/privacy) ----
    /// Removes an interview's note from the outbox and its indexes. True when one was there.
    async fn delete_outbox_note(&self, interview_id: Id) -> StoreResult<bool>;
    /// Removes an interview's bot record (it names the participants). True when one was there.
    async fn delete_bot_run(&self, interview_id: Id) -> StoreResult<bool>;

    // ---- small documents (dashboard users and sessions, login throttling, bot settings) ----
    /// Stores `value` under `(ns, key)`, replacing any value there. With a `ttl` it expires then,
    /// and reads no longer see it.
    async fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<()>;
    async fn kv_get(&self, ns: &str, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// True when something was there.
    async fn kv_delete(&self, ns: &str, key: &str) -> StoreResult<bool>;
    /// Every unexpired `(key, value)` in `ns`, by key. Meant for small namespaces (users).
    async fn kv_list(&self, ns: &str) -> StoreResult<Vec<(String, Vec<u8>)>>;
}

/// Typed access on top of the raw entity operations.
#[async_trait]
pub trait StoreExt {
    async fn put<T: Entity>(&self, items: &[T]) -> StoreResult<()>;
    async fn get<T: Entity>(&self, id: Id) -> StoreResult<Option<T>>;
    /// The synced application an interview belongs to (it names the candidate and the job).
    async fn application_of(
        &self,
        interview: &Interview,
    ) -> StoreResult<Option<crate::domain::Application>>;
}

#[async_trait]
impl<S: Store + ?Sized> StoreExt for S {
    async fn put<T: Entity>(&self, items: &[T]) -> StoreResult<()> {
        debug_assert!(T::KIND != EntityKind::Interview, "use upsert_interview");
        let raw = items
            .iter()
            .map(|i| Ok((i.id(), serde_json::to_vec(i)?)))
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        self.put_raw(T::KIND, raw).await
    }

    async fn get<T: Entity>(&self, id: Id) -> StoreResult<Option<T>> {
        match self.get_raw(T::KIND, id).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    async fn application_of(
        &self,
        interview: &Interview,
    ) -> StoreResult<Option<crate::domain::Application>> {
        match interview.application_id {
            Some(a) => self.get(a).await,
            None => Ok(None),
        }
    }
}

/// Opens the store the configuration asks for: Redis when a URL is set, else the embedded file.
pub async fn open(
    settings: &crate::config::StoreSettings,
    data_dir: &std::path::Path,
) -> StoreResult<DynStore> {
    if settings.redis_url.is_empty() {
        let path = if settings.embedded_path.is_empty() {
            data_dir.join("panelist.redb")
        } else {
            std::path::PathBuf::from(&settings.embedded_path)
        };
        Ok(Arc::new(EmbeddedStore::open(&path)?))
    } else {
        Ok(Arc::new(
            RedisStore::connect_with_timeout(
                &settings.redis_url,
                &settings.key_prefix,
                std::time::Duration::from_millis(settings.redis_timeout_ms),
            )
            .await?,
        ))
    }
}
