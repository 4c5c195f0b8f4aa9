//! The store contract: one suite, run against both back ends.
//!
//! Each contract is an `async fn(DynStore)`; `contract!` turns it into one test per back end, so
//! the two stores cannot drift apart. The Redis half uses `PANELIST_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`), one fresh key prefix per test, purged afterwards even when the test
//! fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use panelist::domain::{
    Candidate, EntityKind, Id, Interview, InterviewStatus, InterviewTime, Job, User,
};
use panelist::settings::{ApiVersion, IntegrationSettings, Sealed};
use panelist::store::{
    DynStore, EmbeddedStore, RedisStore, ScheduleChange, ScheduleChangeKind, StoreExt, SyncRun,
    SyncRunStatus, WebhookEvent, WebhookEventStatus, WebhookPing,
};

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

/// How long a subscriber waits for a change before the test fails.
const CHANGE_WAIT: Duration = Duration::from_secs(5);

fn redis_url() -> String {
    std::env::var("PANELIST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn with_embedded<F, Fut>(test: F)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("nested/panelist.redb")).unwrap();
    test(Arc::new(store)).await;
}

/// For embedded, "two replicas" is one store shared within the process.
async fn with_embedded_pair<F, Fut>(test: F)
where
    F: FnOnce(DynStore, DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    with_embedded(|store| test(store.clone(), store)).await;
}

/// Deletes a test's Redis keys when dropped, so a failed assertion still cleans up. Uses a
/// blocking connection because Drop cannot await, and may run while the runtime unwinds.
struct PurgeOnDrop {
    prefix: String,
}

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        let Ok(mut con) = ::redis::Client::open(redis_url()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query(&mut con)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: ::redis::RedisResult<()> = ::redis::cmd("DEL").arg(&keys).query(&mut con);
        }
    }
}

async fn redis_store(prefix: &str) -> Arc<RedisStore> {
    let url = redis_url();
    match RedisStore::connect(&url, prefix).await {
        Ok(store) => Arc::new(store),
        Err(e) => {
            panic!("no Redis at {url} (set PANELIST_TEST_REDIS_URL, or run scripts/test.sh): {e}")
        }
    }
}

fn test_prefix() -> String {
    format!("panelist-test-{}", uuid::Uuid::new_v4())
}

async fn with_redis<F, Fut>(test: F)
where
    F: FnOnce(DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let prefix = test_prefix();
    let _purge = PurgeOnDrop {
        prefix: prefix.clone(),
    };
    let store = redis_store(&prefix).await;
    test(store.clone()).await;
    store.purge_prefix().await.unwrap();
}

/// Two store instances on one prefix: two replicas of a fleet.
async fn with_redis_pair<F, Fut>(test: F)
where
    F: FnOnce(DynStore, DynStore) -> Fut,
    Fut: Future<Output = ()>,
{
    let prefix = test_prefix();
    let _purge = PurgeOnDrop {
        prefix: prefix.clone(),
    };
    let (a, b) = (redis_store(&prefix).await, redis_store(&prefix).await);
    test(a.clone(), b).await;
    a.purge_prefix().await.unwrap();
}

/// Generates `embedded::<name>` and `redis::<name>` for each contract. `single` contracts take
/// one store; `pair` contracts take two handles on the same data.
macro_rules! contract {
    (single: [$($single:ident),* $(,)?], pair: [$($pair:ident),* $(,)?] $(,)?) => {
        mod embedded {
            $(#[tokio::test] async fn $single() { super::with_embedded(super::$single).await; })*
            $(#[tokio::test] async fn $pair() { super::with_embedded_pair(super::$pair).await; })*
        }
        mod redis {
            $(#[tokio::test] async fn $single() { super::with_redis(super::$single).await; })*
            $(#[tokio::test] async fn $pair() { super::with_redis_pair(super::$pair).await; })*
        }
    };
}

contract! {
    single: [
        answers_ping,
        entities_round_trip,
        entities_of_different_kinds_are_separate,
        schedule_is_ordered_and_windowed,
        window_bounds_are_exact_below_a_millisecond,
        all_day_interviews_count_from_midnight_utc,
        moved_interview_moves_in_the_window,
        inactive_interviews_are_not_scheduled,
        interviews_for_application_in_any_state,
        subscriber_hears_every_change_and_nothing_for_a_no_op,
        cancel_of_unknown_or_cancelled_is_none,
        deleting_an_active_interview_cancels_it,
        high_water_marks_round_trip,
        sync_runs_newest_first_and_replaced_by_id,
        deliveries_are_recorded_once_per_id_until_the_claim_expires,
        webhook_events_log,
        pings_keep_the_last_per_webhook,
        settings_round_trip_with_sealed_secrets,
        leases_belong_to_one_owner,
        expired_lease_is_handed_over,
        outbox_holds_one_note_per_interview,
        outbox_lists_due_notes_first_and_drops_finished_ones,
        bot_runs_keep_one_record_per_interview_newest_first,
        kv_documents_round_trip_per_namespace,
        kv_documents_expire,
        notes_and_bot_records_can_be_purged,
    ],
    pair: [
        second_subscriber_and_replica_receive_changes,
    ],
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 3, 4, h, m, 0).unwrap()
}

fn interview(id: Id, start: DateTime<Utc>) -> Interview {
    Interview {
        id,
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::hours(1),
        }),
        ..Default::default()
    }
}

fn for_app(mut iv: Interview, application_id: Id) -> Interview {
    iv.application_id = Some(application_id);
    iv
}

fn with_status(mut iv: Interview, status: InterviewStatus) -> Interview {
    iv.status = status;
    iv
}

fn ids(interviews: &[Interview]) -> Vec<Id> {
    interviews.iter().map(|i| i.id).collect()
}

async fn window(store: &DynStore, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Id> {
    ids(&store.interviews_starting_between(from, to).await.unwrap())
}

async fn next_change(changes: &mut BoxStream<'static, ScheduleChange>) -> ScheduleChange {
    tokio::time::timeout(CHANGE_WAIT, changes.next())
        .await
        .expect("no schedule change arrived in time")
        .expect("the change stream ended")
}

async fn upsert(store: &DynStore, iv: &Interview) -> Option<ScheduleChange> {
    store.upsert_interview(iv).await.unwrap()
}

fn sync_run(id: &str, started_at: DateTime<Utc>) -> SyncRun {
    SyncRun {
        id: id.into(),
        kind: "incremental".into(),
        status: SyncRunStatus::Running,
        started_at,
        finished_at: None,
        counts: Default::default(),
        errors: vec![],
        requests: 0,
        rate_limited: 0,
    }
}

fn event(id: &str, received_at: DateTime<Utc>, status: WebhookEventStatus) -> WebhookEvent {
    WebhookEvent {
        id: id.into(),
        action: "interview_deleted".into(),
        received_at,
        body: format!(r#"{{"action":"interview_deleted","id":"{id}"}}"#),
        status,
        attempts: 0,
        last_error: None,
        applied_at: None,
        outcome: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Contracts
// ---------------------------------------------------------------------------------------------

async fn answers_ping(store: DynStore) {
    store.ping().await.unwrap();
    assert!(["redis", "embedded"].contains(&store.backend()));
}

async fn entities_round_trip(store: DynStore) {
    let ada = User {
        id: 1,
        name: Some("Ada".into()),
        ..Default::default()
    };
    let bob = User {
        id: 2,
        name: Some("Bob".into()),
        ..Default::default()
    };
    store.put(&[ada.clone(), bob.clone()]).await.unwrap();
    store.put::<User>(&[]).await.unwrap();

    assert_eq!(store.get::<User>(1).await.unwrap(), Some(ada));
    assert_eq!(store.get::<User>(3).await.unwrap(), None);
    assert_eq!(store.list_ids(EntityKind::User).await.unwrap(), vec![1, 2]);
    assert_eq!(store.count(EntityKind::User).await.unwrap(), 2);

    // Re-putting replaces, and does not count twice.
    let bob2 = User {
        name: Some("Robert".into()),
        ..bob
    };
    store.put(std::slice::from_ref(&bob2)).await.unwrap();
    assert_eq!(store.get::<User>(2).await.unwrap(), Some(bob2));
    assert_eq!(store.count(EntityKind::User).await.unwrap(), 2);

    assert!(store.delete_entity(EntityKind::User, 1).await.unwrap());
    assert!(!store.delete_entity(EntityKind::User, 1).await.unwrap());
    assert_eq!(store.get::<User>(1).await.unwrap(), None);
    assert_eq!(store.list_ids(EntityKind::User).await.unwrap(), vec![2]);
    assert_eq!(store.count(EntityKind::User).await.unwrap(), 1);
}

async fn entities_of_different_kinds_are_separate(store: DynStore) {
    let candidate = Candidate {
        id: 7,
        first_name: Some("Cleo".into()),
        application_ids: vec![70, 71],
        ..Default::default()
    };
    let job = Job {
        id: 7,
        name: Some("Engineer".into()),
        ..Default::default()
    };
    store.put(std::slice::from_ref(&candidate)).await.unwrap();
    store.put(std::slice::from_ref(&job)).await.unwrap();

    assert_eq!(store.get::<Candidate>(7).await.unwrap(), Some(candidate));
    assert_eq!(store.get::<Job>(7).await.unwrap(), Some(job));
    assert_eq!(store.get::<User>(7).await.unwrap(), None);
    assert_eq!(store.count(EntityKind::Candidate).await.unwrap(), 1);
    assert_eq!(store.count(EntityKind::Job).await.unwrap(), 1);
    assert_eq!(store.count(EntityKind::Application).await.unwrap(), 0);
    assert!(store
        .list_ids(EntityKind::JobStage)
        .await
        .unwrap()
        .is_empty());

    assert!(store.delete_entity(EntityKind::Job, 7).await.unwrap());
    assert!(store.get::<Candidate>(7).await.unwrap().is_some());
}

async fn schedule_is_ordered_and_windowed(store: DynStore) {
    for iv in [
        interview(1, at(10, 0)),
        interview(2, at(9, 0)),
        interview(3, at(11, 0)),
        // Same start as 1: ties order by id, numerically (9 before 10).
        interview(10, at(10, 0)),
        interview(9, at(10, 0)),
    ] {
        upsert(&store, &iv).await;
    }

    assert_eq!(
        window(&store, at(0, 0), at(23, 0)).await,
        vec![2, 1, 9, 10, 3]
    );
    // `from` is inclusive, `to` exclusive.
    assert_eq!(window(&store, at(9, 0), at(11, 0)).await, vec![2, 1, 9, 10]);
    assert_eq!(window(&store, at(9, 1), at(11, 1)).await, vec![1, 9, 10, 3]);
    assert!(window(&store, at(12, 0), at(13, 0)).await.is_empty());
    // An empty or inverted window is empty, not an error.
    assert!(window(&store, at(10, 0), at(10, 0)).await.is_empty());
    assert!(window(&store, at(11, 0), at(9, 0)).await.is_empty());

    // Whole records come back.
    let found = store
        .interviews_starting_between(at(8, 0), at(9, 30))
        .await
        .unwrap();
    assert_eq!(found, vec![interview(2, at(9, 0))]);
}

async fn window_bounds_are_exact_below_a_millisecond(store: DynStore) {
    let start = at(12, 0) + chrono::Duration::microseconds(500);
    upsert(&store, &interview(1, start)).await;
    let us = chrono::Duration::microseconds;
    assert_eq!(
        window(&store, at(12, 0) + us(400), at(12, 0) + us(600)).await,
        vec![1]
    );
    assert_eq!(window(&store, start, start + us(1)).await, vec![1]);
    assert!(window(&store, at(12, 0) + us(600), at(13, 0))
        .await
        .is_empty());
    assert!(window(&store, at(11, 0), at(12, 0) + us(400))
        .await
        .is_empty());
    assert!(window(&store, at(11, 0), start).await.is_empty());
}

async fn all_day_interviews_count_from_midnight_utc(store: DynStore) {
    let day = NaiveDate::from_ymd_opt(2030, 3, 5).unwrap();
    let all_day = Interview {
        id: 5,
        start: Some(InterviewTime::Date { date: day }),
        end: Some(InterviewTime::Date {
            date: day.succ_opt().unwrap(),
        }),
        ..Default::default()
    };
    upsert(&store, &all_day).await;
    upsert(&store, &interview(6, at(23, 0))).await;

    let midnight = Utc.with_ymd_and_hms(2030, 3, 5, 0, 0, 0).unwrap();
    assert_eq!(
        window(&store, midnight, midnight + chrono::Duration::hours(1)).await,
        vec![5]
    );
    assert_eq!(window(&store, at(12, 0), midnight).await, vec![6]);
    assert_eq!(
        window(&store, at(12, 0), midnight + chrono::Duration::seconds(1)).await,
        vec![6, 5]
    );
    let found = store
        .interviews_starting_between(midnight, midnight + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(found, vec![all_day]);
}

async fn moved_interview_moves_in_the_window(store: DynStore) {
    upsert(&store, &interview(1, at(10, 0))).await;
    upsert(&store, &interview(2, at(10, 30))).await;
    assert_eq!(window(&store, at(10, 0), at(11, 0)).await, vec![1, 2]);

    upsert(&store, &interview(1, at(15, 0))).await;
    assert_eq!(window(&store, at(10, 0), at(11, 0)).await, vec![2]);
    assert_eq!(window(&store, at(14, 0), at(16, 0)).await, vec![1]);

    // Moving it back earlier than the other reorders.
    upsert(&store, &interview(1, at(9, 0))).await;
    assert_eq!(window(&store, at(0, 0), at(23, 0)).await, vec![1, 2]);
}

async fn inactive_interviews_are_not_scheduled(store: DynStore) {
    upsert(&store, &interview(1, at(10, 0))).await;
    for (id, status) in [
        (2, InterviewStatus::Complete),
        (3, InterviewStatus::AwaitingFeedback),
        (4, InterviewStatus::Cancelled),
        (5, InterviewStatus::Other("postponed".into())),
    ] {
        assert_eq!(
            upsert(&store, &with_status(interview(id, at(10, 0)), status)).await,
            None
        );
    }
    // Active, but with no start time: stored, never in a window.
    let unscheduled = Interview {
        id: 6,
        ..Default::default()
    };
    upsert(&store, &unscheduled).await;

    assert_eq!(window(&store, at(0, 0), at(23, 0)).await, vec![1]);
    assert_eq!(store.count(EntityKind::Interview).await.unwrap(), 6);
    assert_eq!(store.get::<Interview>(6).await.unwrap(), Some(unscheduled));

    // Going inactive leaves the schedule; coming back returns to it.
    upsert(
        &store,
        &with_status(interview(1, at(10, 0)), InterviewStatus::Complete),
    )
    .await;
    assert!(window(&store, at(0, 0), at(23, 0)).await.is_empty());
    upsert(&store, &interview(2, at(10, 0))).await;
    assert_eq!(window(&store, at(0, 0), at(23, 0)).await, vec![2]);
    store.cancel_interview(2).await.unwrap();
    assert!(window(&store, at(0, 0), at(23, 0)).await.is_empty());
}

async fn interviews_for_application_in_any_state(store: DynStore) {
    upsert(&store, &for_app(interview(1, at(10, 0)), 100)).await;
    upsert(&store, &for_app(interview(2, at(11, 0)), 100)).await;
    let done = with_status(
        for_app(interview(3, at(9, 0)), 100),
        InterviewStatus::Complete,
    );
    upsert(&store, &done).await;
    upsert(&store, &for_app(interview(4, at(10, 0)), 200)).await;
    upsert(&store, &interview(5, at(10, 0))).await;
    store.cancel_interview(2).await.unwrap();

    let mut found = store.interviews_for_application(100).await.unwrap();
    found.sort_by_key(|i| i.id);
    assert_eq!(ids(&found), vec![1, 2, 3]);
    assert_eq!(found[1].status, InterviewStatus::Cancelled);
    assert_eq!(found[2], done);
    assert_eq!(
        ids(&store.interviews_for_application(200).await.unwrap()),
        vec![4]
    );
    assert!(store
        .interviews_for_application(300)
        .await
        .unwrap()
        .is_empty());

    // An interview that moves to another application leaves the old one's list.
    upsert(&store, &for_app(interview(1, at(10, 0)), 200)).await;
    let mut found = ids(&store.interviews_for_application(100).await.unwrap());
    found.sort_unstable();
    assert_eq!(found, vec![2, 3]);
    let mut found = ids(&store.interviews_for_application(200).await.unwrap());
    found.sort_unstable();
    assert_eq!(found, vec![1, 4]);
}

async fn subscriber_hears_every_change_and_nothing_for_a_no_op(store: DynStore) {
    let mut changes = store.subscribe_schedule().await.unwrap();

    let added = upsert(&store, &interview(1, at(10, 0))).await.unwrap();
    assert_eq!(added.kind, ScheduleChangeKind::Added);
    assert_eq!(added.interview_id, 1);
    assert_eq!(added.starts_at, Some(at(10, 0)));
    assert_eq!(added.ends_at, Some(at(11, 0)));
    assert_eq!(next_change(&mut changes).await, added);

    // A no-op re-upsert and an inactive newcomer emit nothing: the next change to arrive is the
    // move that follows them.
    assert_eq!(upsert(&store, &interview(1, at(10, 0))).await, None);
    let done = with_status(interview(2, at(10, 0)), InterviewStatus::Complete);
    assert_eq!(upsert(&store, &done).await, None);
    let moved = upsert(&store, &interview(1, at(12, 0))).await.unwrap();
    assert_eq!(moved.kind, ScheduleChangeKind::Moved);
    assert_eq!(moved.starts_at, Some(at(12, 0)));
    assert_eq!(next_change(&mut changes).await, moved);

    let mut relinked = interview(1, at(12, 0));
    relinked.video_conferencing_url = Some("https://meet.example/abc".into());
    let updated = upsert(&store, &relinked).await.unwrap();
    assert_eq!(updated.kind, ScheduleChangeKind::Updated);
    assert_eq!(next_change(&mut changes).await, updated);

    let cancelled = store.cancel_interview(1).await.unwrap().unwrap();
    assert_eq!(cancelled.kind, ScheduleChangeKind::Cancelled);
    assert_eq!(cancelled.interview_id, 1);
    assert_eq!(cancelled.starts_at, Some(at(12, 0)));
    assert_eq!(next_change(&mut changes).await, cancelled);

    // Coming back from cancelled is an add.
    let back = upsert(&store, &relinked).await.unwrap();
    assert_eq!(back.kind, ScheduleChangeKind::Added);
    assert_eq!(next_change(&mut changes).await, back);
}

async fn second_subscriber_and_replica_receive_changes(a: DynStore, b: DynStore) {
    let mut on_a = a.subscribe_schedule().await.unwrap();
    let mut on_b = b.subscribe_schedule().await.unwrap();
    let mut second_on_b = b.subscribe_schedule().await.unwrap();

    let added = upsert(&a, &interview(1, at(10, 0))).await.unwrap();
    assert_eq!(next_change(&mut on_a).await, added);
    assert_eq!(next_change(&mut on_b).await, added);
    assert_eq!(next_change(&mut second_on_b).await, added);

    // The other way round, and the replica sees the data too.
    let cancelled = b.cancel_interview(1).await.unwrap().unwrap();
    assert_eq!(next_change(&mut on_a).await, cancelled);
    assert_eq!(next_change(&mut on_b).await, cancelled);
    let stored = a.get::<Interview>(1).await.unwrap().unwrap();
    assert_eq!(stored.status, InterviewStatus::Cancelled);
}

async fn cancel_of_unknown_or_cancelled_is_none(store: DynStore) {
    assert_eq!(store.cancel_interview(999).await.unwrap(), None);
    assert_eq!(store.get::<Interview>(999).await.unwrap(), None);

    let original = for_app(interview(1, at(10, 0)), 100);
    upsert(&store, &original).await;
    assert!(store.cancel_interview(1).await.unwrap().is_some());
    assert_eq!(store.cancel_interview(1).await.unwrap(), None);

    // Only the status changed.
    let stored = store.get::<Interview>(1).await.unwrap().unwrap();
    assert_eq!(stored, with_status(original, InterviewStatus::Cancelled));
}

async fn deleting_an_active_interview_cancels_it(store: DynStore) {
    upsert(&store, &for_app(interview(1, at(10, 0)), 100)).await;
    let mut changes = store.subscribe_schedule().await.unwrap();

    assert!(store.delete_entity(EntityKind::Interview, 1).await.unwrap());
    assert!(!store.delete_entity(EntityKind::Interview, 1).await.unwrap());
    let change = next_change(&mut changes).await;
    assert_eq!(
        (change.interview_id, change.kind),
        (1, ScheduleChangeKind::Cancelled)
    );
    assert!(window(&store, at(0, 0), at(23, 0)).await.is_empty());
    assert!(store
        .interviews_for_application(100)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.count(EntityKind::Interview).await.unwrap(), 0);
}

async fn high_water_marks_round_trip(store: DynStore) {
    assert_eq!(store.high_water_mark("candidates").await.unwrap(), None);
    // Sub-millisecond precision survives.
    let t = at(10, 0) + chrono::Duration::nanoseconds(123_456_789);
    store.set_high_water_mark("candidates", t).await.unwrap();
    store.set_high_water_mark("jobs", at(9, 0)).await.unwrap();
    assert_eq!(store.high_water_mark("candidates").await.unwrap(), Some(t));
    assert_eq!(store.high_water_mark("jobs").await.unwrap(), Some(at(9, 0)));

    store
        .set_high_water_mark("candidates", at(11, 0))
        .await
        .unwrap();
    assert_eq!(
        store.high_water_mark("candidates").await.unwrap(),
        Some(at(11, 0))
    );
}

async fn sync_runs_newest_first_and_replaced_by_id(store: DynStore) {
    assert!(store.recent_sync_runs(10).await.unwrap().is_empty());
    for (id, start) in [("b", at(10, 0)), ("a", at(9, 0)), ("c", at(11, 0))] {
        store.record_sync_run(&sync_run(id, start)).await.unwrap();
    }
    let recent = |n| {
        let store = store.clone();
        async move {
            let runs = store.recent_sync_runs(n).await.unwrap();
            runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(recent(10).await, ["c", "b", "a"]);
    assert_eq!(recent(2).await, ["c", "b"]);
    assert!(recent(0).await.is_empty());

    // Replacing by id updates in place.
    let mut finished = sync_run("b", at(10, 0));
    finished.status = SyncRunStatus::Succeeded;
    finished.finished_at = Some(at(10, 5));
    finished.counts.insert("candidates".into(), 5000);
    store.record_sync_run(&finished).await.unwrap();
    let runs = store.recent_sync_runs(10).await.unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[1], finished);

    // A replacement with a new start time moves in the order, not duplicated.
    store
        .record_sync_run(&sync_run("a", at(12, 0)))
        .await
        .unwrap();
    assert_eq!(recent(10).await, ["a", "c", "b"]);
}

async fn deliveries_are_recorded_once_per_id_until_the_claim_expires(store: DynStore) {
    let ttl = Duration::from_secs(3600);
    let pending = |id: &str| event(id, at(9, 0), WebhookEventStatus::Pending);
    assert!(store
        .record_webhook_delivery(&pending("evt-1"), ttl)
        .await
        .unwrap());
    assert_eq!(
        store.get_webhook_event("evt-1").await.unwrap(),
        Some(pending("evt-1"))
    );
    assert_eq!(
        store.unfinished_webhook_events(10).await.unwrap(),
        vec![pending("evt-1")]
    );

    // A repeat delivery writes nothing, even with a different body.
    let mut repeat = pending("evt-1");
    repeat.body = "changed".into();
    assert!(!store.record_webhook_delivery(&repeat, ttl).await.unwrap());
    assert_eq!(
        store.get_webhook_event("evt-1").await.unwrap(),
        Some(pending("evt-1"))
    );
    assert!(store
        .record_webhook_delivery(&pending("evt-2"), ttl)
        .await
        .unwrap());
    assert_eq!(store.recent_webhook_events(10).await.unwrap().len(), 2);

    // After the TTL the id may be delivered again (Greenhouse retries for ~15 h).
    let short = Duration::from_secs(1);
    assert!(store
        .record_webhook_delivery(&pending("evt-short"), short)
        .await
        .unwrap());
    assert!(!store
        .record_webhook_delivery(&pending("evt-short"), short)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(store
        .record_webhook_delivery(&pending("evt-short"), ttl)
        .await
        .unwrap());
    assert!(!store
        .record_webhook_delivery(&pending("evt-short"), ttl)
        .await
        .unwrap());
    assert!(!store
        .record_webhook_delivery(&pending("evt-2"), ttl)
        .await
        .unwrap());
}

async fn webhook_events_log(store: DynStore) {
    assert_eq!(store.get_webhook_event("e1").await.unwrap(), None);
    let events = [
        event("e1", at(10, 0), WebhookEventStatus::Pending),
        event("e2", at(10, 1), WebhookEventStatus::Applied),
        event("e3", at(10, 2), WebhookEventStatus::Retrying),
        event("e4", at(10, 3), WebhookEventStatus::Ignored),
        event("e5", at(10, 4), WebhookEventStatus::Failed),
        event("e6", at(9, 0), WebhookEventStatus::Pending),
    ];
    for e in &events {
        store.put_webhook_event(e).await.unwrap();
    }
    assert_eq!(
        store.get_webhook_event("e3").await.unwrap().as_ref(),
        Some(&events[2])
    );

    let recent = |n| {
        let store = store.clone();
        async move {
            let log = store.recent_webhook_events(n).await.unwrap();
            log.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    let unfinished = |n| {
        let store = store.clone();
        async move {
            let log = store.unfinished_webhook_events(n).await.unwrap();
            log.into_iter().map(|e| e.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(recent(10).await, ["e5", "e4", "e3", "e2", "e1", "e6"]);
    assert_eq!(recent(2).await, ["e5", "e4"]);
    assert!(recent(0).await.is_empty());
    // Oldest first, only pending and retrying.
    assert_eq!(unfinished(10).await, ["e6", "e1", "e3"]);
    assert_eq!(unfinished(1).await, ["e6"]);

    // Replacing by id: applying e1 takes it out of the backlog, and a retry puts e2 back in.
    let mut applied = events[0].clone();
    applied.status = WebhookEventStatus::Applied;
    applied.attempts = 1;
    applied.applied_at = Some(at(10, 10));
    applied.outcome = Some("cancelled interview 42".into());
    store.put_webhook_event(&applied).await.unwrap();
    let mut retry = events[1].clone();
    retry.status = WebhookEventStatus::Retrying;
    retry.last_error = Some("greenhouse 503".into());
    store.put_webhook_event(&retry).await.unwrap();

    assert_eq!(store.get_webhook_event("e1").await.unwrap(), Some(applied));
    assert_eq!(unfinished(10).await, ["e6", "e2", "e3"]);
    assert_eq!(recent(10).await.len(), 6);
}

async fn pings_keep_the_last_per_webhook(store: DynStore) {
    assert!(store.webhook_pings().await.unwrap().is_empty());
    let ping = |id, event: &str, t| WebhookPing {
        web_hook_id: id,
        event: event.into(),
        received_at: t,
    };
    store
        .record_webhook_ping(&ping(1, "Candidate has changed stage", at(9, 0)))
        .await
        .unwrap();
    store
        .record_webhook_ping(&ping(2, "Interview deleted", at(10, 0)))
        .await
        .unwrap();
    store
        .record_webhook_ping(&ping(1, "Candidate has changed stage", at(11, 0)))
        .await
        .unwrap();

    let pings = store.webhook_pings().await.unwrap();
    assert_eq!(
        pings,
        vec![
            ping(1, "Candidate has changed stage", at(11, 0)),
            ping(2, "Interview deleted", at(10, 0)),
        ]
    );
}

async fn settings_round_trip_with_sealed_secrets(store: DynStore) {
    assert_eq!(store.integration_settings().await.unwrap(), None);
    let settings = IntegrationSettings {
        api_version: ApiVersion::V1,
        client_id: Some("client".into()),
        client_secret: Some(Sealed("v1:nonce:ciphertext".into())),
        api_key: Some(Sealed("v1:other:ciphertext".into())),
        integration_user_email: Some("notes@example.com".into()),
        webhook_secret: Some(Sealed("v1:hook:ciphertext".into())),
        integration_user_id: Some(4_000_000_001),
        integration_user_name: Some("Notes Bot".into()),
        verified_at: Some(at(8, 0)),
        last_error: None,
        updated_at: Some(at(8, 1)),
    };
    store.put_integration_settings(&settings).await.unwrap();
    assert_eq!(
        store.integration_settings().await.unwrap().as_ref(),
        Some(&settings)
    );

    let replaced = IntegrationSettings {
        last_error: Some("invalid client secret".into()),
        ..Default::default()
    };
    store.put_integration_settings(&replaced).await.unwrap();
    assert_eq!(store.integration_settings().await.unwrap(), Some(replaced));
}

async fn leases_belong_to_one_owner(store: DynStore) {
    let ttl = Duration::from_secs(60);
    assert_eq!(store.lease_owner("bot:1").await.unwrap(), None);
    assert!(store
        .acquire_lease("bot:1", "replica-a", ttl)
        .await
        .unwrap());
    assert!(!store
        .acquire_lease("bot:1", "replica-b", ttl)
        .await
        .unwrap());
    // Re-acquiring your own lease is fine; other names are independent.
    assert!(store
        .acquire_lease("bot:1", "replica-a", ttl)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("bot:2", "replica-b", ttl)
        .await
        .unwrap());
    assert_eq!(
        store.lease_owner("bot:1").await.unwrap().as_deref(),
        Some("replica-a")
    );

    assert!(store.renew_lease("bot:1", "replica-a", ttl).await.unwrap());
    assert!(!store.renew_lease("bot:1", "replica-b", ttl).await.unwrap());
    assert!(!store.renew_lease("bot:3", "replica-a", ttl).await.unwrap());
    assert!(!store.release_lease("bot:1", "replica-b").await.unwrap());
    assert_eq!(
        store.lease_owner("bot:1").await.unwrap().as_deref(),
        Some("replica-a")
    );

    assert!(store.release_lease("bot:1", "replica-a").await.unwrap());
    assert!(!store.release_lease("bot:1", "replica-a").await.unwrap());
    assert_eq!(store.lease_owner("bot:1").await.unwrap(), None);
    assert!(store
        .acquire_lease("bot:1", "replica-b", ttl)
        .await
        .unwrap());
    assert_eq!(
        store.lease_owner("bot:1").await.unwrap().as_deref(),
        Some("replica-b")
    );
    assert_eq!(
        store.lease_owner("bot:2").await.unwrap().as_deref(),
        Some("replica-b")
    );
}

async fn expired_lease_is_handed_over(store: DynStore) {
    let short = Duration::from_millis(300);
    assert!(store
        .acquire_lease("bot:9", "replica-a", short)
        .await
        .unwrap());
    assert!(!store
        .acquire_lease("bot:9", "replica-b", short)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(store.lease_owner("bot:9").await.unwrap(), None);
    // The old owner cannot renew what expired.
    assert!(!store
        .renew_lease("bot:9", "replica-a", short)
        .await
        .unwrap());
    assert!(store
        .acquire_lease("bot:9", "replica-b", Duration::from_secs(60))
        .await
        .unwrap());
    assert!(!store
        .renew_lease("bot:9", "replica-a", short)
        .await
        .unwrap());
    assert!(!store.release_lease("bot:9", "replica-a").await.unwrap());
    assert_eq!(
        store.lease_owner("bot:9").await.unwrap().as_deref(),
        Some("replica-b")
    );
}

fn outbox_note(interview_id: Id, next: DateTime<Utc>) -> panelist::poster::OutboxNote {
    let mut n = panelist::poster::OutboxNote::new(
        interview_id,
        42,
        format!("[Panelist notes · interview {interview_id}]\nbody"),
        panelist::greenhouse::Visibility::Private,
        at(9, 0),
    );
    n.next_attempt_at = next;
    n
}

async fn outbox_holds_one_note_per_interview(store: DynStore) {
    use panelist::poster::OutboxStatus;
    assert_eq!(store.get_outbox_note(7).await.unwrap(), None);
    let first = outbox_note(7, at(9, 0));
    assert!(store.enqueue_note(&first).await.unwrap());
    let mut second = outbox_note(7, at(8, 0));
    second.body = "another body".into();
    assert!(
        !store.enqueue_note(&second).await.unwrap(),
        "a second note for one interview"
    );
    assert_eq!(store.get_outbox_note(7).await.unwrap(), Some(first.clone()));
    let mut updated = first.clone();
    updated.attempts = 2;
    updated.in_flight = true;
    updated.last_error = Some("timed out".into());
    updated.status = OutboxStatus::Posted;
    updated.note_id = Some(99);
    store.put_outbox_note(&updated).await.unwrap();
    assert_eq!(store.get_outbox_note(7).await.unwrap(), Some(updated));
    // Posted entries still block a second enqueue.
    assert!(!store.enqueue_note(&first).await.unwrap());
}

async fn outbox_lists_due_notes_first_and_drops_finished_ones(store: DynStore) {
    use panelist::poster::OutboxStatus;
    for (id, next) in [(1, at(10, 0)), (2, at(9, 0)), (3, at(11, 0))] {
        assert!(store.enqueue_note(&outbox_note(id, next)).await.unwrap());
    }
    let ids = |notes: Vec<panelist::poster::OutboxNote>| -> Vec<Id> {
        notes.iter().map(|n| n.interview_id).collect()
    };
    assert_eq!(
        ids(store.pending_outbox_notes(10).await.unwrap()),
        vec![2, 1, 3]
    );
    assert_eq!(
        ids(store.pending_outbox_notes(2).await.unwrap()),
        vec![2, 1]
    );
    // A retry moves a note in the order; finishing takes it out of the queue.
    let mut two = store.get_outbox_note(2).await.unwrap().unwrap();
    two.next_attempt_at = at(12, 0);
    two.updated_at = at(9, 30);
    store.put_outbox_note(&two).await.unwrap();
    assert_eq!(
        ids(store.pending_outbox_notes(10).await.unwrap()),
        vec![1, 3, 2]
    );
    let mut one = store.get_outbox_note(1).await.unwrap().unwrap();
    one.status = OutboxStatus::Posted;
    one.updated_at = at(9, 45);
    store.put_outbox_note(&one).await.unwrap();
    let mut three = store.get_outbox_note(3).await.unwrap().unwrap();
    three.status = OutboxStatus::Failed;
    three.updated_at = at(9, 15);
    store.put_outbox_note(&three).await.unwrap();
    assert_eq!(ids(store.pending_outbox_notes(10).await.unwrap()), vec![2]);
    // Everything, most recently updated first, for the dashboard.
    assert_eq!(
        ids(store.recent_outbox_notes(10).await.unwrap()),
        vec![1, 2, 3]
    );
    assert_eq!(ids(store.recent_outbox_notes(1).await.unwrap()), vec![1]);
}

// ---------------------------------------------------------------------------------------------
// One back end only
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn embedded_store_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("panelist.redb");
    let settings = IntegrationSettings {
        client_secret: Some(Sealed("sealed".into())),
        ..Default::default()
    };
    {
        let store: DynStore = Arc::new(EmbeddedStore::open(&path).unwrap());
        store
            .put(&[User {
                id: 1,
                name: Some("Ada".into()),
                ..Default::default()
            }])
            .await
            .unwrap();
        upsert(&store, &for_app(interview(5, at(10, 0)), 100)).await;
        store.set_high_water_mark("users", at(9, 0)).await.unwrap();
        store
            .record_sync_run(&sync_run("r1", at(9, 0)))
            .await
            .unwrap();
        store
            .put_webhook_event(&event("e1", at(9, 0), WebhookEventStatus::Pending))
            .await
            .unwrap();
        store.put_integration_settings(&settings).await.unwrap();
        assert!(store
            .record_webhook_delivery(
                &event("evt", at(9, 0), WebhookEventStatus::Pending),
                Duration::from_secs(3600)
            )
            .await
            .unwrap());
        assert!(store
            .acquire_lease("bot:5", "me", Duration::from_secs(3600))
            .await
            .unwrap());
    }

    let store: DynStore = Arc::new(EmbeddedStore::open(&path).unwrap());
    assert_eq!(
        store.get::<User>(1).await.unwrap().unwrap().name.as_deref(),
        Some("Ada")
    );
    assert_eq!(window(&store, at(0, 0), at(23, 0)).await, vec![5]);
    assert_eq!(
        ids(&store.interviews_for_application(100).await.unwrap()),
        vec![5]
    );
    assert_eq!(
        store.high_water_mark("users").await.unwrap(),
        Some(at(9, 0))
    );
    assert_eq!(store.recent_sync_runs(5).await.unwrap().len(), 1);
    assert_eq!(store.unfinished_webhook_events(5).await.unwrap().len(), 2);
    assert_eq!(store.integration_settings().await.unwrap(), Some(settings));
    assert!(!store
        .record_webhook_delivery(
            &event("evt", at(9, 0), WebhookEventStatus::Pending),
            Duration::from_secs(3600)
        )
        .await
        .unwrap());
    assert_eq!(
        store.lease_owner("bot:5").await.unwrap().as_deref(),
        Some("me")
    );
    // Reopening changed nothing, so re-upserting the same interview is still a no-op.
    assert_eq!(
        upsert(&store, &for_app(interview(5, at(10, 0)), 100)).await,
        None
    );
}

#[tokio::test]
async fn redis_keys_stay_under_the_prefix() {
    let unique = uuid::Uuid::new_v4().to_string();
    let prefix = format!("panelist-test-{unique}");
    let _purge = PurgeOnDrop {
        prefix: prefix.clone(),
    };
    let redis_store = redis_store(&prefix).await;
    let store: DynStore = redis_store.clone();

    // One write of every kind, with names that carry the unique id so any stray key shows.
    store
        .put(&[User {
            id: 1,
            ..Default::default()
        }])
        .await
        .unwrap();
    let _changes = store.subscribe_schedule().await.unwrap();
    upsert(&store, &for_app(interview(2, at(10, 0)), 3)).await;
    store.cancel_interview(2).await.unwrap();
    // Keeps the schedule non-empty: Redis deletes an emptied sorted set.
    upsert(&store, &interview(4, at(11, 0))).await;
    store
        .set_high_water_mark(&format!("res-{unique}"), at(9, 0))
        .await
        .unwrap();
    store
        .record_sync_run(&sync_run(&format!("run-{unique}"), at(9, 0)))
        .await
        .unwrap();
    let ttl = Duration::from_secs(60);
    store
        .record_webhook_delivery(
            &event(
                &format!("evt-{unique}"),
                at(9, 0),
                WebhookEventStatus::Pending,
            ),
            ttl,
        )
        .await
        .unwrap();
    store
        .put_webhook_event(&event(
            &format!("hook-{unique}"),
            at(9, 0),
            WebhookEventStatus::Pending,
        ))
        .await
        .unwrap();
    store
        .record_webhook_ping(&WebhookPing {
            web_hook_id: 1,
            event: "x".into(),
            received_at: at(9, 0),
        })
        .await
        .unwrap();
    store
        .put_integration_settings(&IntegrationSettings::default())
        .await
        .unwrap();
    store
        .acquire_lease(&format!("lease-{unique}"), "me", ttl)
        .await
        .unwrap();

    let scan = |pattern: String| async move {
        let client = ::redis::Client::open(redis_url()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut con)
            .await
            .unwrap();
        keys.sort();
        keys
    };
    let ours = scan(format!("*{unique}*")).await;
    let stray: Vec<_> = ours
        .iter()
        .filter(|k| !k.starts_with(&format!("{prefix}:")))
        .collect();
    assert!(stray.is_empty(), "keys outside the prefix: {stray:?}");
    // Every family of key is there, under the prefix.
    for family in [
        "user:1",
        "user:ids",
        "interview:2",
        "interview:ids",
        "schedule",
        "interviews_by_application:3",
        "high_water_marks",
        "sync_runs",
        "webhook_events",
        "webhook_pings",
        "settings:integration",
    ] {
        let key = format!("{prefix}:{family}");
        assert!(ours.contains(&key), "{key} missing from {ours:?}");
    }
    for family in [
        "sync_run:run-",
        "dedup:evt-",
        "webhook_event:hook-",
        "lease:lease-",
    ] {
        let key = format!("{prefix}:{family}{unique}");
        assert!(ours.contains(&key), "{key} missing from {ours:?}");
    }

    redis_store.purge_prefix().await.unwrap();
    assert!(scan(format!("*{unique}*")).await.is_empty());
}

async fn bot_runs_keep_one_record_per_interview_newest_first(store: DynStore) {
    use panelist::supervisor::{BotRun, BotState};
    assert_eq!(store.get_bot_run(1).await.unwrap(), None);
    assert!(store.recent_bot_runs(10).await.unwrap().is_empty());
    let mut a = BotRun::new(1, "replica-a", at(9, 0));
    store.put_bot_run(&a).await.unwrap();
    let b = BotRun::new(2, "replica-b", at(9, 5));
    store.put_bot_run(&b).await.unwrap();
    // Updating the first moves it to the front, and it is still one record.
    a.transition(BotState::InCall, None, at(9, 10));
    store.put_bot_run(&a).await.unwrap();
    assert_eq!(store.get_bot_run(1).await.unwrap(), Some(a.clone()));
    let recent = store.recent_bot_runs(10).await.unwrap();
    assert_eq!(recent, vec![a.clone(), b]);
    assert_eq!(store.recent_bot_runs(1).await.unwrap(), vec![a]);
}

async fn kv_documents_round_trip_per_namespace(store: DynStore) {
    assert_eq!(store.kv_get("users", "a@x").await.unwrap(), None);
    assert!(store.kv_list("users").await.unwrap().is_empty());
    store.kv_put("users", "b@x", b"B", None).await.unwrap();
    store.kv_put("users", "a@x", b"A", None).await.unwrap();
    store
        .kv_put("sessions", "a@x", b"other", None)
        .await
        .unwrap();
    store.kv_put("users", "a@x", b"A2", None).await.unwrap();
    assert_eq!(
        store.kv_get("users", "a@x").await.unwrap(),
        Some(b"A2".to_vec())
    );
    assert_eq!(
        store.kv_list("users").await.unwrap(),
        vec![
            ("a@x".to_string(), b"A2".to_vec()),
            ("b@x".to_string(), b"B".to_vec())
        ]
    );
    // A namespace that is a prefix of another shares nothing with it.
    assert!(store.kv_list("user").await.unwrap().is_empty());
    assert!(store.kv_delete("users", "a@x").await.unwrap());
    assert!(!store.kv_delete("users", "a@x").await.unwrap());
    assert_eq!(store.kv_get("users", "a@x").await.unwrap(), None);
    assert_eq!(
        store.kv_get("sessions", "a@x").await.unwrap(),
        Some(b"other".to_vec())
    );
    assert_eq!(store.kv_list("users").await.unwrap().len(), 1);
}

async fn kv_documents_expire(store: DynStore) {
    let short = Some(std::time::Duration::from_millis(300));
    store
        .kv_put("sessions", "s1", b"short", short)
        .await
        .unwrap();
    store
        .kv_put(
            "sessions",
            "s2",
            b"long",
            Some(std::time::Duration::from_secs(60)),
        )
        .await
        .unwrap();
    assert_eq!(
        store.kv_get("sessions", "s1").await.unwrap(),
        Some(b"short".to_vec())
    );
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    assert_eq!(store.kv_get("sessions", "s1").await.unwrap(), None);
    assert_eq!(
        store.kv_list("sessions").await.unwrap(),
        vec![("s2".to_string(), b"long".to_vec())]
    );
    assert!(!store.kv_delete("sessions", "s1").await.unwrap());
}

async fn notes_and_bot_records_can_be_purged(store: DynStore) {
    use panelist::poster::OutboxNote;
    use panelist::supervisor::BotRun;
    let note = OutboxNote::new(
        31,
        7,
        "[Panelist notes · interview 31]".into(),
        panelist::greenhouse::Visibility::Private,
        at(9, 0),
    );
    store.put_outbox_note(&note).await.unwrap();
    store
        .put_bot_run(&BotRun::new(31, "replica-a", at(9, 0)))
        .await
        .unwrap();
    assert!(store.delete_outbox_note(31).await.unwrap());
    assert!(!store.delete_outbox_note(31).await.unwrap());
    assert!(store.delete_bot_run(31).await.unwrap());
    assert!(!store.delete_bot_run(31).await.unwrap());
    assert_eq!(store.get_outbox_note(31).await.unwrap(), None);
    assert_eq!(store.get_bot_run(31).await.unwrap(), None);
    // Gone from every index too.
    assert!(store.pending_outbox_notes(10).await.unwrap().is_empty());
    assert!(store.recent_outbox_notes(10).await.unwrap().is_empty());
    assert!(store.recent_bot_runs(10).await.unwrap().is_empty());
}
