//! The embedded single-file store (redb), the zero-setup default for one machine.
//!
//! Every record lives in one redb file. Secondary indexes (the schedule by start time, interviews
//! by application, logs by time) are separate tables written in the same transaction as the
//! record, so they can never disagree with it after a crash. Schedule changes go to subscribers
//! over an in-process broadcast channel: one machine means one process shares the file.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableTable, ReadableTableMetadata,
    TableDefinition, WriteTransaction,
};
use tokio::sync::broadcast;

use super::{
    diff_schedule, ScheduleChange, ScheduleChangeKind, Store, StoreError, StoreResult, SyncRun,
    WebhookEvent, WebhookEventStatus, WebhookPing,
};
use crate::domain::{EntityKind, Id, Interview, InterviewStatus};
use crate::poster::{OutboxNote, OutboxStatus};
use crate::settings::IntegrationSettings;
use crate::supervisor::BotRun;

/// One table per entity kind, id → JSON, so listing and counting a kind is a plain table scan.
fn entity_table(kind: EntityKind) -> TableDefinition<'static, Id, &'static [u8]> {
    TableDefinition::new(match kind {
        EntityKind::User => "entity_user",
        EntityKind::Job => "entity_job",
        EntityKind::JobPost => "entity_job_post",
        EntityKind::Candidate => "entity_candidate",
        EntityKind::Application => "entity_application",
        EntityKind::JobStage => "entity_job_stage",
        EntityKind::Interview => "entity_interview",
    })
}

/// (start millis, interview id) of active interviews only, so a window query is one range scan.
const SCHEDULE: TableDefinition<(i64, Id), ()> = TableDefinition::new("schedule");
/// application id → interview ids.
const BY_APPLICATION: MultimapTableDefinition<Id, Id> =
    MultimapTableDefinition::new("interviews_by_application");
/// resource → JSON timestamp (JSON keeps full precision, unlike a millis column).
const HIGH_WATER: TableDefinition<&str, &[u8]> = TableDefinition::new("high_water_marks");
const SYNC_RUNS: TableDefinition<&str, &[u8]> = TableDefinition::new("sync_runs");
/// (started_at millis, run id), for newest-first listing.
const SYNC_RUNS_BY_START: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("sync_runs_by_start");
const EVENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("webhook_events");
/// (received_at millis, event id), for newest-first listing.
const EVENTS_BY_RECEIVED: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("webhook_events_by_received");
/// Same key, but only pending and retrying events, so a restart finds the backlog without a scan.
const EVENTS_UNFINISHED: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("webhook_events_unfinished");
/// event id → claim expiry (millis).
const DEDUP: TableDefinition<&str, i64> = TableDefinition::new("dedup_claims");
/// (expiry millis, event id), so expired claims can be pruned without a full scan.
const DEDUP_BY_EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("dedup_by_expiry");
const PINGS: TableDefinition<Id, &[u8]> = TableDefinition::new("webhook_pings");
const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");
/// lease name → (owner, expiry millis).
const LEASES: TableDefinition<&str, (&str, i64)> = TableDefinition::new("leases");
/// Notes outbox: interview id → JSON.
const OUTBOX: TableDefinition<Id, &[u8]> = TableDefinition::new("notes_outbox");
/// (next attempt millis, interview id) of pending entries only, so due notes are one range scan.
const OUTBOX_PENDING: TableDefinition<(i64, Id), ()> = TableDefinition::new("notes_outbox_pending");
/// (updated millis, interview id), for newest-first listing.
/// Bot records: interview id → JSON, and (updated ms, interview id) for newest-first listing.
const BOT_RUNS: TableDefinition<Id, &[u8]> = TableDefinition::new("bot_runs");
const BOT_RUNS_BY_UPDATED: TableDefinition<(i64, Id), ()> =
    TableDefinition::new("bot_runs_by_updated");
const OUTBOX_BY_UPDATED: TableDefinition<(i64, Id), ()> =
    TableDefinition::new("notes_outbox_by_updated");
/// Small documents: (namespace, key) → (expiry millis, 0 = never; value). Expired entries are
/// invisible to reads and removed by the next write to the same key or a list of the namespace.
const KV: TableDefinition<(&str, &str), (i64, &[u8])> = TableDefinition::new("kv");

const INTEGRATION_SETTINGS_KEY: &str = "integration";
/// How many expired dedup claims one claim prunes, to bound the work of a single write.
const DEDUP_PRUNE_BATCH: usize = 256;
/// Subscribers that fall further behind than this lose changes (and are told so by a warning).
const CHANGE_CHANNEL_CAPACITY: usize = 1024;

pub struct EmbeddedStore {
    db: Arc<Database>,
    changes: broadcast::Sender<ScheduleChange>,
    /// Held across "commit, then broadcast" for schedule writes, so subscribers see changes in
    /// commit order even when two writers race between their commits and their sends.
    schedule_writes: Arc<Mutex<()>>,
}

impl EmbeddedStore {
    /// Opens the file at `path`, creating it (and its parent directories) on first use.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let db = Database::create(path)?;
        // Create every table up front so read transactions never meet a missing table.
        let tx = db.begin_write()?;
        for kind in EntityKind::ALL {
            tx.open_table(entity_table(kind))?;
        }
        tx.open_table(SCHEDULE)?;
        tx.open_multimap_table(BY_APPLICATION)?;
        tx.open_table(HIGH_WATER)?;
        tx.open_table(SYNC_RUNS)?;
        tx.open_table(SYNC_RUNS_BY_START)?;
        tx.open_table(EVENTS)?;
        tx.open_table(EVENTS_BY_RECEIVED)?;
        tx.open_table(EVENTS_UNFINISHED)?;
        tx.open_table(DEDUP)?;
        tx.open_table(DEDUP_BY_EXPIRY)?;
        tx.open_table(PINGS)?;
        tx.open_table(SETTINGS)?;
        tx.open_table(LEASES)?;
        tx.open_table(OUTBOX)?;
        tx.open_table(OUTBOX_PENDING)?;
        tx.open_table(OUTBOX_BY_UPDATED)?;
        tx.open_table(BOT_RUNS)?;
        tx.open_table(BOT_RUNS_BY_UPDATED)?;
        tx.open_table(KV)?;
        tx.commit()?;
        let (changes, _) = broadcast::channel(CHANGE_CHANNEL_CAPACITY);
        Ok(Self {
            db: Arc::new(db),
            changes,
            schedule_writes: Arc::new(Mutex::new(())),
        })
    }

    /// Runs a read transaction on the blocking pool: redb does file I/O synchronously.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> StoreResult<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        blocking(move || f(&db.begin_read()?)).await
    }

    /// Runs a write transaction on the blocking pool and commits it if `f` succeeds.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        blocking(move || {
            let tx = db.begin_write()?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// A write that may change the schedule: commits, then broadcasts the changes `f` reports
    /// alongside its result.
    async fn write_schedule<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> StoreResult<(T, Vec<ScheduleChange>)> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        let lock = Arc::clone(&self.schedule_writes);
        let sender = self.changes.clone();
        blocking(move || {
            // The guard protects no data, so a poisoned lock is still fine to use.
            let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = db.begin_write()?;
            let (out, changes) = f(&tx)?;
            tx.commit()?;
            for change in changes {
                // An error only means nobody is subscribed right now.
                let _ = sender.send(change);
            }
            Ok(out)
        })
        .await
    }
}

/// Claims an event id unless an unexpired claim exists; prunes a batch of expired claims.
fn claim_in(tx: &WriteTransaction, event_id: &str, ttl: i64) -> StoreResult<bool> {
    let now = now_millis();
    let mut claims = tx.open_table(DEDUP)?;
    let mut by_expiry = tx.open_table(DEDUP_BY_EXPIRY)?;
    // Prune a bounded batch of expired claims so the table does not grow forever.
    let mut expired = Vec::new();
    for entry in by_expiry.range(..(now, ""))?.take(DEDUP_PRUNE_BATCH) {
        let (key, _) = entry?;
        let (at, id) = key.value();
        expired.push((at, id.to_string()));
    }
    for (at, id) in &expired {
        by_expiry.remove((*at, id.as_str()))?;
        let current = claims.get(id.as_str())?.map(|v| v.value());
        // A later claim of the same id has a newer expiry; leave that one alone.
        if current == Some(*at) {
            claims.remove(id.as_str())?;
        }
    }
    let current = claims.get(event_id)?.map(|v| v.value());
    if let Some(expires) = current {
        if expires > now {
            return Ok(false);
        }
        by_expiry.remove((expires, event_id))?;
    }
    let expires = now.saturating_add(ttl);
    claims.insert(event_id, expires)?;
    by_expiry.insert((expires, event_id), ())?;
    Ok(true)
}

/// Writes an event and keeps its time indexes in step.
fn put_event_in(tx: &WriteTransaction, event: &WebhookEvent, json: &[u8]) -> StoreResult<()> {
    let mut events = tx.open_table(EVENTS)?;
    let mut by_received = tx.open_table(EVENTS_BY_RECEIVED)?;
    let mut unfinished = tx.open_table(EVENTS_UNFINISHED)?;
    let old: Option<WebhookEvent> = events
        .get(event.id.as_str())?
        .map(|bytes| serde_json::from_slice(bytes.value()))
        .transpose()?;
    if let Some(old) = old {
        let key = (old.received_at.timestamp_millis(), old.id.as_str());
        by_received.remove(key)?;
        unfinished.remove(key)?;
    }
    events.insert(event.id.as_str(), json)?;
    let key = (event.received_at.timestamp_millis(), event.id.as_str());
    by_received.insert(key, ())?;
    if is_unfinished(&event.status) {
        unfinished.insert(key, ())?;
    }
    Ok(())
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Embedded(format!("store task failed: {e}")))?
}

fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn load_interview(tx: &WriteTransaction, id: Id) -> StoreResult<Option<Interview>> {
    let table = tx.open_table(entity_table(EntityKind::Interview))?;
    let found = table.get(id)?;
    match found {
        None => Ok(None),
        Some(bytes) => match serde_json::from_slice(bytes.value()) {
            Ok(iv) => Ok(Some(iv)),
            Err(e) => {
                // Treat an unreadable old version as absent, so a fresh copy can replace it.
                tracing::warn!(interview_id = id, error = %e, "unreadable stored interview");
                Ok(None)
            }
        },
    }
}

/// The schedule key of an interview, if it belongs on the schedule at all.
fn schedule_key(iv: &Interview) -> Option<(i64, Id)> {
    match iv.starts_at() {
        Some(start) if iv.is_active() => Some((start.timestamp_millis(), iv.id)),
        _ => None,
    }
}

/// Removes an interview version's index entries (schedule and application).
fn unindex(tx: &WriteTransaction, iv: &Interview) -> StoreResult<()> {
    if let Some(key) = schedule_key(iv) {
        tx.open_table(SCHEDULE)?.remove(key)?;
    }
    if let Some(app) = iv.application_id {
        tx.open_multimap_table(BY_APPLICATION)?.remove(app, iv.id)?;
    }
    Ok(())
}

/// Writes an interview and its index entries, replacing those of `old`.
fn write_interview(
    tx: &WriteTransaction,
    old: Option<&Interview>,
    new: &Interview,
) -> StoreResult<()> {
    if let Some(old) = old {
        unindex(tx, old)?;
    }
    let json = serde_json::to_vec(new)?;
    tx.open_table(entity_table(EntityKind::Interview))?
        .insert(new.id, json.as_slice())?;
    if let Some(key) = schedule_key(new) {
        tx.open_table(SCHEDULE)?.insert(key, ())?;
    }
    if let Some(app) = new.application_id {
        tx.open_multimap_table(BY_APPLICATION)?
            .insert(app, new.id)?;
    }
    Ok(())
}

fn upsert_in(tx: &WriteTransaction, new: &Interview) -> StoreResult<Option<ScheduleChange>> {
    let old = load_interview(tx, new.id)?;
    let change = diff_schedule(old.as_ref(), new);
    write_interview(tx, old.as_ref(), new)?;
    Ok(change)
}

fn cancelled(iv: &Interview) -> ScheduleChange {
    ScheduleChange {
        interview_id: iv.id,
        kind: ScheduleChangeKind::Cancelled,
        starts_at: iv.starts_at(),
        ends_at: iv.ends_at(),
    }
}

/// Reads the JSON records named by `keys` from `table`, skipping any that vanished.
fn read_json<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    keys: &[String],
) -> StoreResult<Vec<T>> {
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(bytes) = table.get(key.as_str())? {
            out.push(serde_json::from_slice(bytes.value())?);
        }
    }
    Ok(out)
}

/// Writes an outbox entry and moves its index keys, in the caller's transaction.
fn put_outbox_in(tx: &WriteTransaction, note: &OutboxNote, json: &[u8]) -> StoreResult<()> {
    let mut notes = tx.open_table(OUTBOX)?;
    let mut pending = tx.open_table(OUTBOX_PENDING)?;
    let mut by_updated = tx.open_table(OUTBOX_BY_UPDATED)?;
    let old: Option<OutboxNote> = notes
        .get(note.interview_id)?
        .map(|bytes| serde_json::from_slice(bytes.value()))
        .transpose()?;
    if let Some(old) = old {
        pending.remove((old.next_attempt_at.timestamp_millis(), old.interview_id))?;
        by_updated.remove((old.updated_at.timestamp_millis(), old.interview_id))?;
    }
    notes.insert(note.interview_id, json)?;
    by_updated.insert((note.updated_at.timestamp_millis(), note.interview_id), ())?;
    if note.status == OutboxStatus::Pending {
        pending.insert(
            (note.next_attempt_at.timestamp_millis(), note.interview_id),
            (),
        )?;
    }
    Ok(())
}

fn read_outbox(tx: &ReadTransaction, ids: &[Id]) -> StoreResult<Vec<OutboxNote>> {
    let notes = tx.open_table(OUTBOX)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(bytes) = notes.get(*id)? {
            out.push(serde_json::from_slice(bytes.value())?);
        }
    }
    Ok(out)
}

fn is_unfinished(status: &WebhookEventStatus) -> bool {
    matches!(
        status,
        WebhookEventStatus::Pending | WebhookEventStatus::Retrying
    )
}

#[async_trait]
impl Store for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|_| Ok(())).await
    }

    async fn put_raw(&self, kind: EntityKind, items: Vec<(Id, Vec<u8>)>) -> StoreResult<()> {
        if kind == EntityKind::Interview {
            // Interviews must keep their indexes and notify, so route them through the upsert.
            let interviews = items
                .iter()
                .map(|(_, bytes)| serde_json::from_slice::<Interview>(bytes))
                .collect::<Result<Vec<_>, _>>()?;
            return self
                .write_schedule(move |tx| {
                    let mut changes = Vec::new();
                    for iv in &interviews {
                        changes.extend(upsert_in(tx, iv)?);
                    }
                    Ok(((), changes))
                })
                .await;
        }
        self.write(move |tx| {
            let mut table = tx.open_table(entity_table(kind))?;
            for (id, bytes) in &items {
                table.insert(*id, bytes.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn get_raw(&self, kind: EntityKind, id: Id) -> StoreResult<Option<Vec<u8>>> {
        self.read(move |tx| {
            let table = tx.open_table(entity_table(kind))?;
            let found = table.get(id)?;
            Ok(found.map(|bytes| bytes.value().to_vec()))
        })
        .await
    }

    async fn delete_entity(&self, kind: EntityKind, id: Id) -> StoreResult<bool> {
        if kind == EntityKind::Interview {
            // Deleting an active interview takes it off the schedule, which subscribers must hear.
            return self
                .write_schedule(move |tx| {
                    let old = load_interview(tx, id)?;
                    let removed = tx
                        .open_table(entity_table(EntityKind::Interview))?
                        .remove(id)?
                        .is_some();
                    let mut changes = Vec::new();
                    if let Some(old) = old.filter(|_| removed) {
                        unindex(tx, &old)?;
                        if old.is_active() {
                            changes.push(cancelled(&old));
                        }
                    }
                    Ok((removed, changes))
                })
                .await;
        }
        self.write(move |tx| Ok(tx.open_table(entity_table(kind))?.remove(id)?.is_some()))
            .await
    }

    async fn list_ids(&self, kind: EntityKind) -> StoreResult<Vec<Id>> {
        self.read(move |tx| {
            let table = tx.open_table(entity_table(kind))?;
            let mut ids = Vec::new();
            for entry in table.iter()? {
                ids.push(entry?.0.value());
            }
            Ok(ids)
        })
        .await
    }

    async fn count(&self, kind: EntityKind) -> StoreResult<u64> {
        self.read(move |tx| Ok(tx.open_table(entity_table(kind))?.len()?))
            .await
    }

    async fn upsert_interview(&self, interview: &Interview) -> StoreResult<Option<ScheduleChange>> {
        let interview = interview.clone();
        self.write_schedule(move |tx| {
            let change = upsert_in(tx, &interview)?;
            Ok((change.clone(), change.into_iter().collect()))
        })
        .await
    }

    async fn cancel_interview(&self, id: Id) -> StoreResult<Option<ScheduleChange>> {
        self.write_schedule(move |tx| {
            let Some(old) = load_interview(tx, id)? else {
                return Ok((None, Vec::new()));
            };
            if old.status == InterviewStatus::Cancelled {
                return Ok((None, Vec::new()));
            }
            let mut new = old.clone();
            new.status = InterviewStatus::Cancelled;
            write_interview(tx, Some(&old), &new)?;
            let change = cancelled(&new);
            Ok((Some(change.clone()), vec![change]))
        })
        .await
    }

    async fn interviews_starting_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Interview>> {
        if from >= to {
            return Ok(Vec::new());
        }
        self.read(move |tx| {
            let schedule = tx.open_table(SCHEDULE)?;
            let entities = tx.open_table(entity_table(EntityKind::Interview))?;
            // Keys hold whole milliseconds, so scan the covering millisecond range and apply the
            // exact [from, to) bounds on the records themselves.
            let range = (from.timestamp_millis(), Id::MIN)..=(to.timestamp_millis(), Id::MAX);
            let mut out = Vec::new();
            for entry in schedule.range(range)? {
                let id = entry?.0.value().1;
                let Some(bytes) = entities.get(id)? else {
                    continue;
                };
                let iv: Interview = serde_json::from_slice(bytes.value())?;
                let in_window = iv.starts_at().is_some_and(|s| s >= from && s < to);
                if iv.is_active() && in_window {
                    out.push(iv);
                }
            }
            out.sort_by_key(|iv| (iv.starts_at(), iv.id));
            Ok(out)
        })
        .await
    }

    async fn interviews_for_application(&self, application_id: Id) -> StoreResult<Vec<Interview>> {
        self.read(move |tx| {
            let index = tx.open_multimap_table(BY_APPLICATION)?;
            let entities = tx.open_table(entity_table(EntityKind::Interview))?;
            let mut out = Vec::new();
            for id in index.get(application_id)? {
                if let Some(bytes) = entities.get(id?.value())? {
                    out.push(serde_json::from_slice::<Interview>(bytes.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn subscribe_schedule(&self) -> StoreResult<BoxStream<'static, ScheduleChange>> {
        let rx = self.changes.subscribe();
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(change) => return Some((change, rx)),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "schedule subscriber fell behind; changes lost");
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn high_water_mark(&self, resource: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let resource = resource.to_string();
        self.read(move |tx| {
            let table = tx.open_table(HIGH_WATER)?;
            let found = table.get(resource.as_str())?;
            match found {
                Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_high_water_mark(&self, resource: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let resource = resource.to_string();
        let json = serde_json::to_vec(&at)?;
        self.write(move |tx| {
            tx.open_table(HIGH_WATER)?
                .insert(resource.as_str(), json.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        let run = run.clone();
        let json = serde_json::to_vec(&run)?;
        self.write(move |tx| {
            let mut runs = tx.open_table(SYNC_RUNS)?;
            let mut order = tx.open_table(SYNC_RUNS_BY_START)?;
            let old: Option<SyncRun> = runs
                .get(run.id.as_str())?
                .map(|bytes| serde_json::from_slice(bytes.value()))
                .transpose()?;
            if let Some(old) = old {
                order.remove((old.started_at.timestamp_millis(), old.id.as_str()))?;
            }
            runs.insert(run.id.as_str(), json.as_slice())?;
            order.insert((run.started_at.timestamp_millis(), run.id.as_str()), ())?;
            Ok(())
        })
        .await
    }

    async fn recent_sync_runs(&self, limit: usize) -> StoreResult<Vec<SyncRun>> {
        self.read(move |tx| {
            let order = tx.open_table(SYNC_RUNS_BY_START)?;
            let mut ids = Vec::new();
            for entry in order.iter()?.rev().take(limit) {
                ids.push(entry?.0.value().1.to_string());
            }
            read_json(&tx.open_table(SYNC_RUNS)?, &ids)
        })
        .await
    }

    async fn put_webhook_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        let event = event.clone();
        let json = serde_json::to_vec(&event)?;
        self.write(move |tx| put_event_in(tx, &event, &json)).await
    }

    async fn record_webhook_delivery(
        &self,
        event: &WebhookEvent,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let event = event.clone();
        let json = serde_json::to_vec(&event)?;
        let ttl = millis(ttl).max(1);
        // One transaction: a delivery is either claimed and logged, or neither.
        self.write(move |tx| {
            if !claim_in(tx, &event.id, ttl)? {
                return Ok(false);
            }
            put_event_in(tx, &event, &json)?;
            Ok(true)
        })
        .await
    }

    async fn get_webhook_event(&self, id: &str) -> StoreResult<Option<WebhookEvent>> {
        let id = id.to_string();
        self.read(move |tx| Ok(read_json(&tx.open_table(EVENTS)?, &[id])?.pop()))
            .await
    }

    async fn recent_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        self.read(move |tx| {
            let order = tx.open_table(EVENTS_BY_RECEIVED)?;
            let mut ids = Vec::new();
            for entry in order.iter()?.rev().take(limit) {
                ids.push(entry?.0.value().1.to_string());
            }
            read_json(&tx.open_table(EVENTS)?, &ids)
        })
        .await
    }

    async fn unfinished_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        self.read(move |tx| {
            let order = tx.open_table(EVENTS_UNFINISHED)?;
            let mut ids = Vec::new();
            for entry in order.iter()?.take(limit) {
                ids.push(entry?.0.value().1.to_string());
            }
            read_json(&tx.open_table(EVENTS)?, &ids)
        })
        .await
    }

    async fn record_webhook_ping(&self, ping: &WebhookPing) -> StoreResult<()> {
        let id = ping.web_hook_id;
        let json = serde_json::to_vec(ping)?;
        self.write(move |tx| {
            tx.open_table(PINGS)?.insert(id, json.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn webhook_pings(&self) -> StoreResult<Vec<WebhookPing>> {
        self.read(|tx| {
            let mut pings = Vec::new();
            for entry in tx.open_table(PINGS)?.iter()? {
                pings.push(serde_json::from_slice::<WebhookPing>(entry?.1.value())?);
            }
            pings.sort_by_key(|p| std::cmp::Reverse(p.received_at));
            Ok(pings)
        })
        .await
    }

    async fn integration_settings(&self) -> StoreResult<Option<IntegrationSettings>> {
        self.read(|tx| {
            let table = tx.open_table(SETTINGS)?;
            let found = table.get(INTEGRATION_SETTINGS_KEY)?;
            match found {
                Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn put_integration_settings(&self, settings: &IntegrationSettings) -> StoreResult<()> {
        let json = serde_json::to_vec(settings)?;
        self.write(move |tx| {
            tx.open_table(SETTINGS)?
                .insert(INTEGRATION_SETTINGS_KEY, json.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        let ttl = millis(ttl).max(1);
        self.write(move |tx| {
            let mut leases = tx.open_table(LEASES)?;
            let now = now_millis();
            let held_by_other = leases.get(name.as_str())?.is_some_and(|v| {
                let (holder, expires) = v.value();
                expires > now && holder != owner
            });
            if held_by_other {
                return Ok(false);
            }
            leases.insert(name.as_str(), (owner.as_str(), now.saturating_add(ttl)))?;
            Ok(true)
        })
        .await
    }

    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        let ttl = millis(ttl).max(1);
        self.write(move |tx| {
            let mut leases = tx.open_table(LEASES)?;
            let now = now_millis();
            // Like Redis, an expired lease is gone: renewing it fails even if nobody took it.
            let held = leases.get(name.as_str())?.is_some_and(|v| {
                let (holder, expires) = v.value();
                expires > now && holder == owner
            });
            if held {
                leases.insert(name.as_str(), (owner.as_str(), now.saturating_add(ttl)))?;
            }
            Ok(held)
        })
        .await
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<bool> {
        let (name, owner) = (name.to_string(), owner.to_string());
        self.write(move |tx| {
            let mut leases = tx.open_table(LEASES)?;
            let now = now_millis();
            let held = leases.get(name.as_str())?.is_some_and(|v| {
                let (holder, expires) = v.value();
                expires > now && holder == owner
            });
            if held {
                leases.remove(name.as_str())?;
            }
            Ok(held)
        })
        .await
    }

    async fn lease_owner(&self, name: &str) -> StoreResult<Option<String>> {
        let name = name.to_string();
        self.read(move |tx| {
            let leases = tx.open_table(LEASES)?;
            let now = now_millis();
            let found = leases.get(name.as_str())?;
            Ok(found.and_then(|v| {
                let (holder, expires) = v.value();
                (expires > now).then(|| holder.to_string())
            }))
        })
        .await
    }

    async fn enqueue_note(&self, note: &OutboxNote) -> StoreResult<bool> {
        let note = note.clone();
        let json = serde_json::to_vec(&note)?;
        self.write(move |tx| {
            if tx.open_table(OUTBOX)?.get(note.interview_id)?.is_some() {
                return Ok(false);
            }
            put_outbox_in(tx, &note, &json)?;
            Ok(true)
        })
        .await
    }

    async fn put_outbox_note(&self, note: &OutboxNote) -> StoreResult<()> {
        let note = note.clone();
        let json = serde_json::to_vec(&note)?;
        self.write(move |tx| put_outbox_in(tx, &note, &json)).await
    }

    async fn get_outbox_note(&self, interview_id: Id) -> StoreResult<Option<OutboxNote>> {
        self.read(move |tx| Ok(read_outbox(tx, &[interview_id])?.pop()))
            .await
    }

    async fn pending_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>> {
        self.read(move |tx| {
            let mut ids = Vec::new();
            for entry in tx.open_table(OUTBOX_PENDING)?.iter()?.take(limit) {
                ids.push(entry?.0.value().1);
            }
            read_outbox(tx, &ids)
        })
        .await
    }

    async fn recent_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>> {
        self.read(move |tx| {
            let mut ids = Vec::new();
            for entry in tx.open_table(OUTBOX_BY_UPDATED)?.iter()?.rev().take(limit) {
                ids.push(entry?.0.value().1);
            }
            read_outbox(tx, &ids)
        })
        .await
    }

    async fn put_bot_run(&self, run: &BotRun) -> StoreResult<()> {
        let run = run.clone();
        let json = serde_json::to_vec(&run)?;
        self.write(move |tx| {
            let mut runs = tx.open_table(BOT_RUNS)?;
            let mut by_updated = tx.open_table(BOT_RUNS_BY_UPDATED)?;
            let old: Option<BotRun> = runs
                .get(run.interview_id)?
                .map(|bytes| serde_json::from_slice(bytes.value()))
                .transpose()?;
            if let Some(old) = old {
                by_updated.remove((old.updated_at.timestamp_millis(), old.interview_id))?;
            }
            runs.insert(run.interview_id, json.as_slice())?;
            by_updated.insert((run.updated_at.timestamp_millis(), run.interview_id), ())?;
            Ok(())
        })
        .await
    }

    async fn get_bot_run(&self, interview_id: Id) -> StoreResult<Option<BotRun>> {
        self.read(move |tx| {
            Ok(tx
                .open_table(BOT_RUNS)?
                .get(interview_id)?
                .map(|bytes| serde_json::from_slice(bytes.value()))
                .transpose()?)
        })
        .await
    }

    async fn recent_bot_runs(&self, limit: usize) -> StoreResult<Vec<BotRun>> {
        self.read(move |tx| {
            let runs = tx.open_table(BOT_RUNS)?;
            let mut out = Vec::new();
            for entry in tx
                .open_table(BOT_RUNS_BY_UPDATED)?
                .iter()?
                .rev()
                .take(limit)
            {
                if let Some(bytes) = runs.get(entry?.0.value().1)? {
                    out.push(serde_json::from_slice(bytes.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn delete_outbox_note(&self, interview_id: Id) -> StoreResult<bool> {
        self.write(move |tx| {
            let mut notes = tx.open_table(OUTBOX)?;
            let old: Option<OutboxNote> = notes
                .remove(interview_id)?
                .map(|bytes| serde_json::from_slice(bytes.value()))
                .transpose()?;
            let Some(old) = old else { return Ok(false) };
            tx.open_table(OUTBOX_PENDING)?
                .remove((old.next_attempt_at.timestamp_millis(), interview_id))?;
            tx.open_table(OUTBOX_BY_UPDATED)?
                .remove((old.updated_at.timestamp_millis(), interview_id))?;
            Ok(true)
        })
        .await
    }

    async fn delete_bot_run(&self, interview_id: Id) -> StoreResult<bool> {
        self.write(move |tx| {
            let mut runs = tx.open_table(BOT_RUNS)?;
            let old: Option<BotRun> = runs
                .remove(interview_id)?
                .map(|bytes| serde_json::from_slice(bytes.value()))
                .transpose()?;
            let Some(old) = old else { return Ok(false) };
            tx.open_table(BOT_RUNS_BY_UPDATED)?
                .remove((old.updated_at.timestamp_millis(), interview_id))?;
            Ok(true)
        })
        .await
    }

    async fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        let (ns, key, value) = (ns.to_string(), key.to_string(), value.to_vec());
        let expires = ttl.map_or(0, |t| now_millis() + millis(t).max(1));
        self.write(move |tx| {
            tx.open_table(KV)?
                .insert((ns.as_str(), key.as_str()), (expires, value.as_slice()))?;
            Ok(())
        })
        .await
    }

    async fn kv_get(&self, ns: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let (ns, key) = (ns.to_string(), key.to_string());
        self.read(move |tx| {
            let table = tx.open_table(KV)?;
            let found = table.get((ns.as_str(), key.as_str()))?;
            Ok(found.and_then(|v| {
                let (expires, bytes) = v.value();
                live(expires).then(|| bytes.to_vec())
            }))
        })
        .await
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> StoreResult<bool> {
        let (ns, key) = (ns.to_string(), key.to_string());
        self.write(move |tx| {
            let mut table = tx.open_table(KV)?;
            let old = table.remove((ns.as_str(), key.as_str()))?;
            Ok(old.is_some_and(|v| live(v.value().0)))
        })
        .await
    }

    async fn kv_list(&self, ns: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let ns = ns.to_string();
        self.write(move |tx| {
            let mut table = tx.open_table(KV)?;
            let mut out = Vec::new();
            let mut expired = Vec::new();
            for entry in table.range((ns.as_str(), "")..)? {
                let (k, v) = entry?;
                let (entry_ns, key) = k.value();
                if entry_ns != ns {
                    break;
                }
                let (expires, bytes) = v.value();
                if live(expires) {
                    out.push((key.to_string(), bytes.to_vec()));
                } else {
                    expired.push(key.to_string());
                }
            }
            for key in expired {
                table.remove((ns.as_str(), key.as_str()))?;
            }
            Ok(out)
        })
        .await
    }
}

/// Whether a KV entry with this expiry (0 = never) is still visible.
fn live(expires_ms: i64) -> bool {
    expires_ms == 0 || expires_ms > now_millis()
}
