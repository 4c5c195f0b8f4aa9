//! Sync against the fake Greenhouse at volume: a full sync makes the store match Greenhouse,
//! and an incremental sync fetches only what changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use common::{redis_url, test_settings, Backend, V3_CLIENT};
use futures::StreamExt;
use panelist::domain::{Candidate, EntityKind, Interview, InterviewTime, User};
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse, GenSpec};
use panelist::settings::SettingsUpdate;
use panelist::startup::Core;
use panelist::store::{RedisStore, ScheduleChangeKind, StoreExt};
use panelist::sync::{SyncKind, Syncer};
use secrecy::SecretString;

const EMAIL: &str = "sync-user@acme.example";

async fn core_against_fake(
    backend: Backend,
) -> (
    Core,
    panelist::fake_greenhouse::FakeHandle,
    tempfile::TempDir,
    Option<String>,
) {
    let fake = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (settings, prefix) = test_settings(
        backend,
        dir.path(),
        &fake,
        &[("PANELIST__GREENHOUSE__PER_PAGE", "500")],
    );
    let core = Core::build(settings).await.unwrap();
    fake.upsert_user(&User {
        id: 9,
        primary_email_address: Some(EMAIL.into()),
        ..Default::default()
    });
    core.integration
        .save(SettingsUpdate {
            client_id: Some(V3_CLIENT.0.into()),
            client_secret: Some(SecretString::from(V3_CLIENT.1)),
            integration_user_email: Some(EMAIL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    core.integration.verify().await.unwrap();
    (core, fake, dir, prefix)
}

async fn ids(core: &Core, kind: EntityKind) -> HashSet<i64> {
    core.store
        .list_ids(kind)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn full_then_incremental(backend: Backend) {
    let (core, fake, _dir, prefix) = core_against_fake(backend).await;
    let generated = fake.seed_generated(GenSpec {
        users: 300,
        jobs: 40,
        candidates: 5_000,
        applications: 5_000,
        interviews: 2_000,
        // Inside the default window (1 day back, 14 days ahead).
        spread: Duration::from_secs(20 * 3600),
        ..Default::default()
    });

    let full = core
        .syncer
        .run(Syncer::new_run_id(), SyncKind::Auto, &|_| {})
        .await;
    assert!(full.errors.is_empty(), "{:?}", full.errors);
    assert_eq!(full.counts["candidates"], 5_000);
    // The store matches Greenhouse, id for id.
    assert_eq!(
        ids(&core, EntityKind::Candidate).await,
        generated
            .candidates
            .iter()
            .copied()
            .collect::<HashSet<i64>>()
    );
    assert_eq!(
        ids(&core, EntityKind::Application).await,
        generated
            .applications
            .iter()
            .copied()
            .collect::<HashSet<i64>>()
    );
    assert_eq!(
        ids(&core, EntityKind::Interview).await,
        generated
            .interviews
            .iter()
            .copied()
            .collect::<HashSet<i64>>()
    );
    assert_eq!(
        ids(&core, EntityKind::JobStage).await,
        generated
            .job_stages
            .iter()
            .copied()
            .collect::<HashSet<i64>>()
    );
    assert!(ids(&core, EntityKind::User)
        .await
        .is_superset(&generated.users.iter().copied().collect::<HashSet<i64>>()));
    // And record for record.
    let sample = generated.candidates[1234];
    let ours: Candidate = core.store.get(sample).await.unwrap().unwrap();
    let client = core.integration.client().await.unwrap();
    let theirs = client.candidate(sample).await.unwrap().unwrap();
    assert_eq!(ours, theirs);
    let soon = core
        .store
        .interviews_starting_between(
            Utc::now() - chrono::Duration::days(2),
            Utc::now() + chrono::Duration::days(15),
        )
        .await
        .unwrap();
    assert!(
        soon.windows(2)
            .all(|w| w[0].starts_at() <= w[1].starts_at()),
        "schedule is ordered"
    );

    // Change a few things in Greenhouse.
    let mut changes = core.store.subscribe_schedule().await.unwrap();
    for id in &generated.candidates[..3] {
        let mut c: Candidate = core.store.get(*id).await.unwrap().unwrap();
        c.title = Some("Staff Engineer".into());
        fake.upsert_candidate(&c);
    }
    let moved_id = generated.interviews[7];
    let mut moved: Interview = core.store.get(moved_id).await.unwrap().unwrap();
    let new_start = Utc::now() + chrono::Duration::hours(3);
    moved.start = Some(InterviewTime::DateTime {
        date_time: new_start,
    });
    moved.end = Some(InterviewTime::DateTime {
        date_time: new_start + chrono::Duration::hours(1),
    });
    moved.status = panelist::domain::InterviewStatus::Scheduled;
    fake.upsert_interview(&moved);
    fake.clear_requests();

    let inc = core
        .syncer
        .run(Syncer::new_run_id(), SyncKind::Auto, &|_| {})
        .await;
    assert!(inc.errors.is_empty(), "{:?}", inc.errors);
    assert_eq!(inc.kind, "auto");
    // Only the changes (plus at most the one record sitting exactly on each high-water mark).
    assert!(
        (3..=4).contains(&inc.counts["candidates"]),
        "{:?}",
        inc.counts
    );
    assert!(
        (1..=2).contains(&inc.counts["interviews"]),
        "{:?}",
        inc.counts
    );
    let total: u64 = inc.counts.values().sum();
    assert!(
        total <= 4 + 2 + 7 * 40,
        "incremental fetched too much: {:?}",
        inc.counts
    );
    // One page per resource: nothing was re-listed.
    let harvest_requests = fake.requests_to("/v3/").len();
    assert_eq!(harvest_requests, 7, "{:?}", fake.requests());
    assert_eq!(inc.requests, 7);

    let c: Candidate = core
        .store
        .get(generated.candidates[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.title.as_deref(), Some("Staff Engineer"));
    let m: Interview = core.store.get(moved_id).await.unwrap().unwrap();
    assert_eq!(m.starts_at(), Some(new_start));
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(change.interview_id, moved_id);
    assert!(
        matches!(
            change.kind,
            ScheduleChangeKind::Moved | ScheduleChangeKind::Added
        ),
        "{change:?}"
    );

    if let Some(prefix) = prefix {
        RedisStore::connect(&redis_url(), &prefix)
            .await
            .unwrap()
            .purge_prefix()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn full_then_incremental_sync_on_the_embedded_store() {
    full_then_incremental(Backend::Embedded).await;
}

#[tokio::test]
async fn full_then_incremental_sync_on_redis() {
    full_then_incremental(Backend::Redis).await;
}

#[tokio::test]
async fn targeted_refresh_adds_new_interviews_and_cancels_deleted_ones() {
    let (core, fake, _dir, _) = core_against_fake(Backend::Embedded).await;
    let generated = fake.seed_generated(GenSpec {
        candidates: 20,
        applications: 20,
        interviews: 20,
        ..Default::default()
    });
    core.syncer
        .run(Syncer::new_run_id(), SyncKind::Full, &|_| {})
        .await;

    let existing: Interview = core
        .store
        .get(generated.interviews[0])
        .await
        .unwrap()
        .unwrap();
    let app_id = existing.application_id.unwrap();
    let start = Utc::now() + chrono::Duration::hours(2);
    let fresh = Interview {
        id: 9_999_001,
        application_id: Some(app_id),
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::hours(1),
        }),
        video_conferencing_url: Some("https://meet.example/abc".into()),
        ..Default::default()
    };
    fake.upsert_interview(&fresh);
    fake.delete_interview(existing.id);

    let summary = core.syncer.refresh_application(app_id).await.unwrap();
    assert!(summary.contains("1 cancelled"), "{summary}");
    let added: Interview = core.store.get(fresh.id).await.unwrap().unwrap();
    assert_eq!(added.starts_at(), Some(start));
    let gone: Interview = core.store.get(existing.id).await.unwrap().unwrap();
    assert_eq!(gone.status, panelist::domain::InterviewStatus::Cancelled);

    let candidate = generated.candidates[0];
    let summary = core.syncer.refresh_candidate(candidate).await.unwrap();
    assert!(
        summary.starts_with(&format!("candidate {candidate}: ")),
        "{summary}"
    );
}

#[tokio::test]
async fn a_failing_resource_does_not_stop_the_others_and_keeps_its_mark() {
    let (core, fake, _dir, _) = core_against_fake(Backend::Embedded).await;
    fake.seed_generated(GenSpec {
        candidates: 30,
        applications: 30,
        interviews: 10,
        spread: Duration::from_secs(12 * 3600),
        ..Default::default()
    });
    // Every candidates request fails with 404: not retried, recorded, the rest goes on.
    fake.inject_where(
        panelist::fake_greenhouse::Fault::Status(404),
        100,
        Some("GET"),
        Some("/v3/candidates"),
    );
    let run = core
        .syncer
        .run(Syncer::new_run_id(), SyncKind::Full, &|_| {})
        .await;
    assert_eq!(run.status, panelist::store::SyncRunStatus::Partial);
    assert_eq!(run.errors.len(), 1, "{:?}", run.errors);
    assert!(run.errors[0].starts_with("candidates:"), "{:?}", run.errors);
    assert_eq!(run.counts["interviews"], 10);
    assert_eq!(
        core.store.high_water_mark("candidates").await.unwrap(),
        None
    );
    assert!(core
        .store
        .high_water_mark("interviews")
        .await
        .unwrap()
        .is_some());
}
