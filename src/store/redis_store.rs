//! The Redis store, for production and fleets.
//!
//! Every key lives under `{prefix}:` so tenants and test runs can share one server, and
//! `purge_prefix` can remove exactly one of them. Replicas share the store, so schedule changes go
//! out over pub/sub to every replica's subscribers, not just the writer's.
//!
//! Needs Redis 6.2 or later (`SET ... GET`, used to read an interview's previous version in the
//! same atomic step that replaces it).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::{BoxStream, StreamExt};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, Script};
use serde::de::DeserializeOwned;

use super::{
    diff_schedule, ScheduleChange, ScheduleChangeKind, Store, StoreResult, SyncRun, WebhookEvent,
    WebhookEventStatus, WebhookPing,
};
use crate::domain::{EntityKind, Id, Interview, InterviewStatus};
use crate::poster::{OutboxNote, OutboxStatus};
use crate::settings::IntegrationSettings;
use crate::supervisor::BotRun;

/// Extends a lease only if `ARGV[1]` still owns it; atomic, so it cannot extend someone else's.
const RENEW_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0";

/// Deletes a lease only if `ARGV[1]` still owns it.
const RELEASE_LEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Claims a delivery id and logs its event in one step (see `record_webhook_delivery`).
/// KEYS: dedup claim, event, event index, unfinished index. ARGV: ttl ms, event JSON, id, score.
const RECORD_DELIVERY: &str = r"
if redis.call('SET', KEYS[1], 1, 'NX', 'PX', ARGV[1]) then
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
  return 1
end
return 0";

/// Adds an outbox entry only if its interview has none, with its index entries, atomically.
/// KEYS: entry, by-updated index, pending index. ARGV: JSON, interview id, updated ms, next ms
/// (empty when not pending).
const ENQUEUE_NOTE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  if ARGV[4] ~= '' then
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
  end
  return 1
end
return 0";

/// How many keys one SCAN step asks for while purging.
const PURGE_BATCH: usize = 500;

pub struct RedisStore {
    client: Client,
    con: ConnectionManager,
    prefix: String,
    renew_lease: Script,
    release_lease: Script,
    record_delivery: Script,
    enqueue_note: Script,
}

/// Connection and per-command timeout when none is configured (`store.redis_timeout_ms`).
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl RedisStore {
    /// Connects to `url` and keeps every key under `{prefix}:`. The connection manager
    /// reconnects on its own after a dropped connection.
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        Self::connect_with_timeout(url, prefix, DEFAULT_TIMEOUT).await
    }

    /// [`Self::connect`] where connecting, and every command, fails after `timeout` instead of
    /// waiting forever on a Redis that accepted the connection but stopped answering.
    pub async fn connect_with_timeout(
        url: &str,
        prefix: &str,
        timeout: std::time::Duration,
    ) -> StoreResult<Self> {
        let client = Client::open(url)?;
        // Reconnection after a dropped connection: the library's default backoff multiplies a 1 s
        // delay by its factor (100) per attempt, up to 60 s, and every command waits for it, so a
        // Redis restart froze the process for two minutes (seen in tests/chaos.rs). Short, bounded
        // retries instead; callers retry on their own schedules after an error.
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout)
            .set_factor(2)
            .set_max_delay(2_000)
            .set_number_of_retries(3);
        // The manager's own timeouts cover the TCP connect and later commands, not the handshake
        // it sends first; a server that accepts and never answers would hold start-up forever.
        let con = tokio::time::timeout(
            timeout.saturating_mul(2),
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("Redis accepted the connection but did not answer within {timeout:?}"),
            )
        })??;
        Ok(Self {
            client,
            con,
            prefix: prefix.to_string(),
            renew_lease: Script::new(RENEW_LEASE),
            release_lease: Script::new(RELEASE_LEASE),
            record_delivery: Script::new(RECORD_DELIVERY),
            enqueue_note: Script::new(ENQUEUE_NOTE),
        })
    }

    /// Deletes every key under this store's prefix. Tests use it to clean up after themselves.
    pub async fn purge_prefix(&self) -> StoreResult<()> {
        let mut con = self.con.clone();
        let pattern = format!("{}:*", glob_escape(&self.prefix));
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(PURGE_BATCH)
                .query_async(&mut con)
                .await?;
            if !keys.is_empty() {
                redis::cmd("DEL")
                    .arg(&keys)
                    .query_async::<()>(&mut con)
                    .await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.prefix)
    }

    fn entity_key(&self, kind: EntityKind, id: Id) -> String {
        self.key(&format!("{}:{id}", kind.as_str()))
    }

    fn ids_key(&self, kind: EntityKind) -> String {
        self.key(&format!("{}:ids", kind.as_str()))
    }

    fn schedule_key(&self) -> String {
        self.key("schedule")
    }

    fn application_key(&self, application_id: Id) -> String {
        self.key(&format!("interviews_by_application:{application_id}"))
    }

    fn channel(&self) -> String {
        self.key("schedule:changes")
    }

    fn sync_run_key(&self, id: &str) -> String {
        self.key(&format!("sync_run:{id}"))
    }

    fn event_key(&self, id: &str) -> String {
        self.key(&format!("webhook_event:{id}"))
    }

    fn outbox_key(&self, interview_id: Id) -> String {
        self.key(&format!("outbox:{interview_id}"))
    }

    /// The outbox as sorted sets (scored by time) rather than a stream: entries are retried at
    /// their own due times, so the poster needs "due first", not "oldest first".
    fn outbox_index_keys(&self) -> (String, String) {
        (self.key("outbox"), self.key("outbox:pending"))
    }

    async fn load_interview(&self, id: Id) -> StoreResult<Option<Interview>> {
        let mut con = self.con.clone();
        let raw: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.entity_key(EntityKind::Interview, id))
            .query_async(&mut con)
            .await?;
        Ok(raw.map(|b| serde_json::from_slice(&b)).transpose()?)
    }

    /// Writes `new` and its index entries in one transaction, and returns the version it replaced.
    async fn swap_interview(&self, new: &Interview) -> StoreResult<Option<Interview>> {
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.entity_key(EntityKind::Interview, new.id))
            .arg(serde_json::to_vec(new)?)
            .arg("GET");
        pipe.sadd(self.ids_key(EntityKind::Interview), new.id)
            .ignore();
        match schedule_score(new) {
            Some(score) => pipe.zadd(self.schedule_key(), new.id, score).ignore(),
            None => pipe.zrem(self.schedule_key(), new.id).ignore(),
        };
        if let Some(app) = new.application_id {
            pipe.sadd(self.application_key(app), new.id).ignore();
        }
        let (old,): (Option<Vec<u8>>,) = pipe.query_async(&mut con).await?;
        let old = old.and_then(|bytes| match serde_json::from_slice::<Interview>(&bytes) {
            Ok(old) => Some(old),
            Err(e) => {
                // Already replaced; treat the unreadable version as absent rather than fail.
                tracing::warn!(interview_id = new.id, error = %e, "unreadable stored interview");
                None
            }
        });
        if let Some(old_app) = old.as_ref().and_then(|o| o.application_id) {
            if Some(old_app) != new.application_id {
                // Best effort: `interviews_for_application` re-checks, so a stale entry is harmless.
                redis::cmd("SREM")
                    .arg(self.application_key(old_app))
                    .arg(new.id)
                    .query_async::<()>(&mut con)
                    .await?;
            }
        }
        Ok(old)
    }

    async fn publish(&self, change: &ScheduleChange) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::cmd("PUBLISH")
            .arg(self.channel())
            .arg(serde_json::to_vec(change)?)
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    /// Loads the JSON records at `keys`, in order, skipping any that vanished meanwhile.
    async fn load_many<T: DeserializeOwned>(&self, keys: &[String]) -> StoreResult<Vec<T>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut con = self.con.clone();
        let raw: Vec<Option<Vec<u8>>> = redis::cmd("MGET").arg(keys).query_async(&mut con).await?;
        raw.into_iter()
            .flatten()
            .map(|bytes| Ok(serde_json::from_slice(&bytes)?))
            .collect()
    }

    async fn load_interviews(&self, ids: &[Id]) -> StoreResult<Vec<Interview>> {
        let keys: Vec<String> = ids
            .iter()
            .map(|id| self.entity_key(EntityKind::Interview, *id))
            .collect();
        self.load_many(&keys).await
    }

    /// Ids from a sorted set, by rank: newest first when `newest_first`, else oldest first.
    async fn zset_ids(
        &self,
        key: &str,
        limit: usize,
        newest_first: bool,
    ) -> StoreResult<Vec<String>> {
        if limit == 0 {
            // A stop of -1 would mean "to the end".
            return Ok(Vec::new());
        }
        let stop = isize::try_from(limit)
            .unwrap_or(isize::MAX)
            .saturating_sub(1);
        let mut con = self.con.clone();
        let cmd = if newest_first { "ZREVRANGE" } else { "ZRANGE" };
        Ok(redis::cmd(cmd)
            .arg(key)
            .arg(0)
            .arg(stop)
            .query_async(&mut con)
            .await?)
    }
}

/// Escapes glob characters so a prefix like `a*b` matches only itself in SCAN.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The schedule score of an interview (start in epoch millis), if it belongs on the schedule.
fn schedule_score(iv: &Interview) -> Option<i64> {
    iv.starts_at()
        .filter(|_| iv.is_active())
        .map(|s| s.timestamp_millis())
}

fn cancelled(iv: &Interview) -> ScheduleChange {
    ScheduleChange {
        interview_id: iv.id,
        kind: ScheduleChangeKind::Cancelled,
        starts_at: iv.starts_at(),
        ends_at: iv.ends_at(),
    }
}

fn ttl_millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn is_unfinished(status: &WebhookEventStatus) -> bool {
    matches!(
        status,
        WebhookEventStatus::Pending | WebhookEventStatus::Retrying
    )
}

#[async_trait]
impl Store for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::cmd("PING").query_async::<String>(&mut con).await?;
        Ok(())
    }

    async fn put_raw(&self, kind: EntityKind, items: Vec<(Id, Vec<u8>)>) -> StoreResult<()> {
        if kind == EntityKind::Interview {
            // Interviews must keep their indexes and notify, so route them through the upsert.
            for (_, bytes) in &items {
                self.upsert_interview(&serde_json::from_slice(bytes)?)
                    .await?;
            }
            return Ok(());
        }
        if items.is_empty() {
            return Ok(());
        }
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (id, bytes) in &items {
            pipe.set(self.entity_key(kind, *id), bytes.as_slice())
                .ignore();
        }
        let ids: Vec<Id> = items.iter().map(|(id, _)| *id).collect();
        pipe.sadd(self.ids_key(kind), ids).ignore();
        pipe.query_async::<()>(&mut con).await?;
        Ok(())
    }

    async fn get_raw(&self, kind: EntityKind, id: Id) -> StoreResult<Option<Vec<u8>>> {
        let mut con = self.con.clone();
        Ok(redis::cmd("GET")
            .arg(self.entity_key(kind, id))
            .query_async(&mut con)
            .await?)
    }

    async fn delete_entity(&self, kind: EntityKind, id: Id) -> StoreResult<bool> {
        let old = match kind {
            EntityKind::Interview => self.load_interview(id).await?,
            _ => None,
        };
        let mut con = self.con.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().del(self.entity_key(kind, id));
        pipe.srem(self.ids_key(kind), id).ignore();
        if kind == EntityKind::Interview {
            pipe.zrem(self.schedule_key(), id).ignore();
            if let Some(app) = old.as_ref().and_then(|o| o.application_id) {
                pipe.srem(self.application_key(app), id).ignore();
            }
        }
        let (deleted,): (u64,) = pipe.query_async(&mut con).await?;
        // Deleting an active interview takes it off the schedule, which subscribers must hear.
        if let Some(old) = old.filter(|o| deleted > 0 && o.is_active()) {
            self.publish(&cancelled(&old)).await?;
        }
        Ok(deleted > 0)
    }

    async fn list_ids(&self, kind: EntityKind) -> StoreResult<Vec<Id>> {
        let mut con = self.con.clone();
        let mut ids: Vec<Id> = redis::cmd("SMEMBERS")
            .arg(self.ids_key(kind))
            .query_async(&mut con)
            .await?;
        // Sets are unordered; sort so both stores list ids the same way.
        ids.sort_unstable();
        Ok(ids)
    }

    async fn count(&self, kind: EntityKind) -> StoreResult<u64> {
        let mut con = self.con.clone();
        Ok(redis::cmd("SCARD")
            .arg(self.ids_key(kind))
            .query_async(&mut con)
            .await?)
    }

    async fn upsert_interview(&self, interview: &Interview) -> StoreResult<Option<ScheduleChange>> {
        let old = self.swap_interview(interview).await?;
        let change = diff_schedule(old.as_ref(), interview);
        if let Some(change) = &change {
            self.publish(change).await?;
        }
        Ok(change)
    }

    async fn cancel_interview(&self, id: Id) -> StoreResult<Option<ScheduleChange>> {
        let Some(mut interview) = self.load_interview(id).await? else {
            return Ok(None);
        };
        if interview.status == InterviewStatus::Cancelled {
            return Ok(None);
        }
        interview.status = InterviewStatus::Cancelled;
        // The swap also takes it off the schedule, since a cancelled interview is not active.
        // Not atomic with the load: an update landing in between is overwritten, which is
        // acceptable because cancellation is final and a later sync re-reads Greenhouse anyway.
        self.swap_interview(&interview).await?;
        let change = cancelled(&interview);
        self.publish(&change).await?;
        Ok(Some(change))
    }

    async fn interviews_starting_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Interview>> {
        if from >= to {
            return Ok(Vec::new());
        }
        let mut con = self.con.clone();
        // Scores hold whole milliseconds, so fetch the covering millisecond range and apply the
        // exact [from, to) bounds on the records themselves.
        let ids: Vec<Id> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.schedule_key())
            .arg(from.timestamp_millis())
            .arg(to.timestamp_millis())
            .query_async(&mut con)
            .await?;
        let mut out: Vec<Interview> = self
            .load_interviews(&ids)
            .await?
            .into_iter()
            .filter(|iv| iv.is_active() && iv.starts_at().is_some_and(|s| s >= from && s < to))
            .collect();
        // Members with equal scores come back in string order ("10" before "9"); sort properly.
        out.sort_by_key(|iv| (iv.starts_at(), iv.id));
        Ok(out)
    }

    async fn interviews_for_application(&self, application_id: Id) -> StoreResult<Vec<Interview>> {
        let mut con = self.con.clone();
        let mut ids: Vec<Id> = redis::cmd("SMEMBERS")
            .arg(self.application_key(application_id))
            .query_async(&mut con)
            .await?;
        ids.sort_unstable();
        let interviews = self.load_interviews(&ids).await?;
        // The index is cleaned up after the fact when an interview changes application.
        Ok(interviews
            .into_iter()
            .filter(|iv| iv.application_id == Some(application_id))
            .collect())
    }

    async fn subscribe_schedule(&self) -> StoreResult<BoxStream<'static, ScheduleChange>> {
        // A dedicated connection: a subscribed connection can do nothing else. The stream ends
        // if that connection drops; subscribers resubscribe and re-read the schedule.
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        let stream = pubsub.into_on_message().filter_map(|msg| async move {
            let payload: Vec<u8> = match msg.get_payload() {
                Ok(payload) => payload,
                Err(e) => {
                    tracing::warn!(error = %e, "unreadable schedule change message");
                    return None;
                }
            };
            match serde_json::from_slice::<ScheduleChange>(&payload) {
                Ok(change) => Some(change),
                Err(e) => {
                    tracing::warn!(error = %e, "schedule change message is not valid JSON");
                    None
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn high_water_mark(&self, resource: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let mut con = self.con.clone();
        let raw: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.key("high_water_marks"))
            .arg(resource)
            .query_async(&mut con)
            .await?;
        Ok(raw.map(|b| serde_json::from_slice(&b)).transpose()?)
    }

    async fn set_high_water_mark(&self, resource: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let mut con = self.con.clone();
        // JSON keeps the timestamp's full precision.
        redis::cmd("HSET")
            .arg(self.key("high_water_marks"))
            .arg(resource)
            .arg(serde_json::to_vec(&at)?)
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::pipe()
            .atomic()
            .set(self.sync_run_key(&run.id), serde_json::to_vec(run)?)
            .ignore()
            .zadd(
                self.key("sync_runs"),
                &run.id,
                run.started_at.timestamp_millis(),
            )
            .ignore()
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn recent_sync_runs(&self, limit: usize) -> StoreResult<Vec<SyncRun>> {
        let ids = self.zset_ids(&self.key("sync_runs"), limit, true).await?;
        let keys: Vec<String> = ids.iter().map(|id| self.sync_run_key(id)).collect();
        self.load_many(&keys).await
    }

    async fn record_webhook_delivery(
        &self,
        event: &WebhookEvent,
        ttl: Duration,
    ) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let recorded: i64 = self
            .record_delivery
            .key(self.key(&format!("dedup:{}", event.id)))
            .key(self.event_key(&event.id))
            .key(self.key("webhook_events"))
            .key(self.key("webhook_events:unfinished"))
            .arg(ttl_millis(ttl))
            .arg(serde_json::to_vec(event)?)
            .arg(&event.id)
            .arg(event.received_at.timestamp_millis())
            .invoke_async(&mut con)
            .await?;
        Ok(recorded == 1)
    }

    async fn put_webhook_event(&self, event: &WebhookEvent) -> StoreResult<()> {
        let mut con = self.con.clone();
        let received = event.received_at.timestamp_millis();
        let unfinished = self.key("webhook_events:unfinished");
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set(self.event_key(&event.id), serde_json::to_vec(event)?)
            .ignore()
            .zadd(self.key("webhook_events"), &event.id, received)
            .ignore();
        if is_unfinished(&event.status) {
            pipe.zadd(unfinished, &event.id, received).ignore();
        } else {
            pipe.zrem(unfinished, &event.id).ignore();
        }
        pipe.query_async::<()>(&mut con).await?;
        Ok(())
    }

    async fn get_webhook_event(&self, id: &str) -> StoreResult<Option<WebhookEvent>> {
        Ok(self.load_many(&[self.event_key(id)]).await?.pop())
    }

    async fn recent_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        let ids = self
            .zset_ids(&self.key("webhook_events"), limit, true)
            .await?;
        let keys: Vec<String> = ids.iter().map(|id| self.event_key(id)).collect();
        self.load_many(&keys).await
    }

    async fn unfinished_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        let ids = self
            .zset_ids(&self.key("webhook_events:unfinished"), limit, false)
            .await?;
        let keys: Vec<String> = ids.iter().map(|id| self.event_key(id)).collect();
        let events: Vec<WebhookEvent> = self.load_many(&keys).await?;
        Ok(events
            .into_iter()
            .filter(|e| is_unfinished(&e.status))
            .collect())
    }

    async fn record_webhook_ping(&self, ping: &WebhookPing) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::cmd("HSET")
            .arg(self.key("webhook_pings"))
            .arg(ping.web_hook_id)
            .arg(serde_json::to_vec(ping)?)
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn webhook_pings(&self) -> StoreResult<Vec<WebhookPing>> {
        let mut con = self.con.clone();
        let raw: Vec<Vec<u8>> = redis::cmd("HVALS")
            .arg(self.key("webhook_pings"))
            .query_async(&mut con)
            .await?;
        let mut pings = raw
            .iter()
            .map(|b| serde_json::from_slice::<WebhookPing>(b))
            .collect::<Result<Vec<_>, _>>()?;
        pings.sort_by_key(|p| std::cmp::Reverse(p.received_at));
        Ok(pings)
    }

    async fn integration_settings(&self) -> StoreResult<Option<IntegrationSettings>> {
        Ok(self
            .load_many(&[self.key("settings:integration")])
            .await?
            .pop())
    }

    async fn put_integration_settings(&self, settings: &IntegrationSettings) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::cmd("SET")
            .arg(self.key("settings:integration"))
            .arg(serde_json::to_vec(settings)?)
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let taken: Option<String> = redis::cmd("SET")
            .arg(self.key(&format!("lease:{name}")))
            .arg(owner)
            .arg("NX")
            .arg("PX")
            .arg(ttl_millis(ttl))
            .query_async(&mut con)
            .await?;
        if taken.is_some() {
            return Ok(true);
        }
        // Taken already: fine if by `owner` itself, which then just extends it.
        self.renew_lease(name, owner, ttl).await
    }

    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let renewed: i64 = self
            .renew_lease
            .key(self.key(&format!("lease:{name}")))
            .arg(owner)
            .arg(ttl_millis(ttl))
            .invoke_async(&mut con)
            .await?;
        Ok(renewed == 1)
    }

    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let released: i64 = self
            .release_lease
            .key(self.key(&format!("lease:{name}")))
            .arg(owner)
            .invoke_async(&mut con)
            .await?;
        Ok(released == 1)
    }

    async fn lease_owner(&self, name: &str) -> StoreResult<Option<String>> {
        let mut con = self.con.clone();
        Ok(redis::cmd("GET")
            .arg(self.key(&format!("lease:{name}")))
            .query_async(&mut con)
            .await?)
    }

    async fn enqueue_note(&self, note: &OutboxNote) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let (by_updated, pending) = self.outbox_index_keys();
        let next = if note.status == OutboxStatus::Pending {
            note.next_attempt_at.timestamp_millis().to_string()
        } else {
            String::new()
        };
        let added: i64 = self
            .enqueue_note
            .key(self.outbox_key(note.interview_id))
            .key(by_updated)
            .key(pending)
            .arg(serde_json::to_vec(note)?)
            .arg(note.interview_id)
            .arg(note.updated_at.timestamp_millis())
            .arg(next)
            .invoke_async(&mut con)
            .await?;
        Ok(added == 1)
    }

    async fn put_outbox_note(&self, note: &OutboxNote) -> StoreResult<()> {
        let mut con = self.con.clone();
        let (by_updated, pending) = self.outbox_index_keys();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set(
                self.outbox_key(note.interview_id),
                serde_json::to_vec(note)?,
            )
            .ignore()
            .zadd(
                by_updated,
                note.interview_id,
                note.updated_at.timestamp_millis(),
            )
            .ignore();
        if note.status == OutboxStatus::Pending {
            pipe.zadd(
                pending,
                note.interview_id,
                note.next_attempt_at.timestamp_millis(),
            )
            .ignore();
        } else {
            pipe.zrem(pending, note.interview_id).ignore();
        }
        pipe.query_async::<()>(&mut con).await?;
        Ok(())
    }

    async fn get_outbox_note(&self, interview_id: Id) -> StoreResult<Option<OutboxNote>> {
        Ok(self
            .load_many(&[self.outbox_key(interview_id)])
            .await?
            .pop())
    }

    async fn pending_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>> {
        let (_, pending) = self.outbox_index_keys();
        let ids = self.zset_ids(&pending, limit, false).await?;
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| id.parse::<Id>().ok())
            .map(|id| self.outbox_key(id))
            .collect();
        let notes: Vec<OutboxNote> = self.load_many(&keys).await?;
        Ok(notes
            .into_iter()
            .filter(|n| n.status == OutboxStatus::Pending)
            .collect())
    }

    async fn recent_outbox_notes(&self, limit: usize) -> StoreResult<Vec<OutboxNote>> {
        let (by_updated, _) = self.outbox_index_keys();
        let ids = self.zset_ids(&by_updated, limit, true).await?;
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| id.parse::<Id>().ok())
            .map(|id| self.outbox_key(id))
            .collect();
        self.load_many(&keys).await
    }

    async fn put_bot_run(&self, run: &BotRun) -> StoreResult<()> {
        let mut con = self.con.clone();
        redis::pipe()
            .atomic()
            .set(
                self.key(&format!("bot:{}", run.interview_id)),
                serde_json::to_vec(run)?,
            )
            .ignore()
            .zadd(
                self.key("bots"),
                run.interview_id,
                run.updated_at.timestamp_millis(),
            )
            .ignore()
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn get_bot_run(&self, interview_id: Id) -> StoreResult<Option<BotRun>> {
        Ok(self
            .load_many(&[self.key(&format!("bot:{interview_id}"))])
            .await?
            .pop())
    }

    async fn recent_bot_runs(&self, limit: usize) -> StoreResult<Vec<BotRun>> {
        let ids = self.zset_ids(&self.key("bots"), limit, true).await?;
        let keys: Vec<String> = ids
            .iter()
            .filter_map(|id| id.parse::<Id>().ok())
            .map(|id| self.key(&format!("bot:{id}")))
            .collect();
        self.load_many(&keys).await
    }

    async fn delete_outbox_note(&self, interview_id: Id) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let (by_updated, pending) = self.outbox_index_keys();
        let (removed, _, _): (u64, u64, u64) = redis::pipe()
            .atomic()
            .del(self.outbox_key(interview_id))
            .zrem(by_updated, interview_id)
            .zrem(pending, interview_id)
            .query_async(&mut con)
            .await?;
        Ok(removed > 0)
    }

    async fn delete_bot_run(&self, interview_id: Id) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let (removed, _): (u64, u64) = redis::pipe()
            .atomic()
            .del(self.key(&format!("bot:{interview_id}")))
            .zrem(self.key("bots"), interview_id)
            .query_async(&mut con)
            .await?;
        Ok(removed > 0)
    }

    async fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        let mut con = self.con.clone();
        let k = self.kv_key(ns, key);
        let mut pipe = redis::pipe();
        pipe.atomic();
        match ttl {
            Some(t) => pipe.pset_ex(&k, value, (t.as_millis() as u64).max(1)),
            None => pipe.set(&k, value),
        };
        pipe.ignore()
            .sadd(self.kv_index(ns), key)
            .ignore()
            .query_async::<()>(&mut con)
            .await?;
        Ok(())
    }

    async fn kv_get(&self, ns: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let mut con = self.con.clone();
        Ok(con.get(self.kv_key(ns, key)).await?)
    }

    async fn kv_delete(&self, ns: &str, key: &str) -> StoreResult<bool> {
        let mut con = self.con.clone();
        let (removed, _): (u64, u64) = redis::pipe()
            .atomic()
            .del(self.kv_key(ns, key))
            .srem(self.kv_index(ns), key)
            .query_async(&mut con)
            .await?;
        Ok(removed > 0)
    }

    async fn kv_list(&self, ns: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut con = self.con.clone();
        let mut keys: Vec<String> = con.smembers(self.kv_index(ns)).await?;
        keys.sort();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let full: Vec<String> = keys.iter().map(|k| self.kv_key(ns, k)).collect();
        let values: Vec<Option<Vec<u8>>> = con.mget(&full).await?;
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for (key, value) in keys.into_iter().zip(values) {
            match value {
                Some(v) => out.push((key, v)),
                // Expired by its TTL: drop it from the index too.
                None => expired.push(key),
            }
        }
        if !expired.is_empty() {
            let _: u64 = con.srem(self.kv_index(ns), &expired).await?;
        }
        Ok(out)
    }
}

impl RedisStore {
    fn kv_key(&self, ns: &str, key: &str) -> String {
        self.key(&format!("kv:{ns}:{key}"))
    }

    /// The set of keys in a namespace, so listing needs no SCAN.
    fn kv_index(&self, ns: &str) -> String {
        self.key(&format!("kvindex:{ns}"))
    }
}
