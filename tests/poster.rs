//! The Greenhouse poster against the fake Greenhouse, on both Harvest versions: every scenario ends
//! with exactly one note on the candidate. Steps are driven directly with `try_post_next(now)`, and
//! retries are reached by passing the time they are due, so nothing sleeps for a backoff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use panelist::config::{PosterSettings, Settings};
use panelist::domain::{Candidate, Id};
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse, FakeHandle, Fault};
use panelist::greenhouse::{ClientConfig, Credentials, GreenhouseClient, Visibility};
use panelist::notes::marker;
use panelist::poster::{
    EnqueueNote, GreenhouseAccess, GreenhousePosterActor, OutboxStatus, Poster, RetryPolicy,
    StepOutcome,
};
use panelist::settings::ApiVersion;
use panelist::store::{DynStore, EmbeddedStore, RedisStore};
use secrecy::SecretString;

const CANDIDATE: Id = 42;
const INTERVIEW: Id = 9001;
const USER: Id = 712;

struct World {
    fake: FakeHandle,
    store: DynStore,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let fake = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    fake.upsert_candidate(&Candidate {
        id: CANDIDATE,
        first_name: Some("Daniel".into()),
        last_name: Some("Okafor".into()),
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(EmbeddedStore::open(&dir.path().join("p.redb")).unwrap());
    World {
        fake,
        store,
        _dir: dir,
    }
}

fn client(fake: &FakeHandle, v: ApiVersion, timeout: Duration) -> GreenhouseClient {
    let credentials = match v {
        ApiVersion::V1 => Credentials::V1 {
            api_key: SecretString::from("test-key".to_string()),
        },
        ApiVersion::V3 => Credentials::V3 {
            client_id: "test-client".into(),
            client_secret: SecretString::from("test-secret".to_string()),
        },
    };
    GreenhouseClient::new(ClientConfig {
        timeout,
        max_retries: 2,
        on_behalf_of: Some(USER),
        ..ClientConfig::new(fake.base_url(), fake.token_url(), credentials)
    })
    .unwrap()
}

fn poster_settings(lease_secs: u64) -> PosterSettings {
    PosterSettings {
        lease_secs,
        ..Settings::defaults().unwrap().poster
    }
}

fn poster(w: &World, v: ApiVersion, timeout: Duration) -> Poster {
    Poster::new(
        w.store.clone(),
        GreenhouseAccess::Fixed {
            client: client(&w.fake, v, timeout),
            user_id: USER,
        },
        &poster_settings(60),
    )
    .with_policy(RetryPolicy {
        max_attempts: 5,
        base: Duration::from_secs(5),
        max: Duration::from_secs(60),
    })
}

fn body() -> String {
    format!(
        "{}\nTechnical Screen with Daniel Okafor\n\nSUMMARY\nStrong backend engineer.\n",
        marker(&INTERVIEW.to_string())
    )
}

fn note_path(v: ApiVersion) -> &'static str {
    match v {
        ApiVersion::V1 => "/v1/candidates",
        ApiVersion::V3 => "/v3/notes",
    }
}

fn posts(fake: &FakeHandle, v: ApiVersion) -> usize {
    fake.requests_to(note_path(v))
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

async fn enqueue(p: &Poster, now: DateTime<Utc>) {
    assert!(p
        .enqueue(INTERVIEW, CANDIDATE, body(), Visibility::Private, now)
        .await
        .unwrap());
}

/// Runs steps, each at the time the previous one asked to retry, until the note is posted or
/// failed; returns every outcome.
async fn drive(p: &Poster, mut now: DateTime<Utc>) -> Vec<StepOutcome> {
    let mut outcomes = Vec::new();
    for _ in 0..20 {
        match p.try_post_next(now).await.unwrap() {
            Some(StepOutcome::Retrying {
                at,
                interview_id,
                reason,
            }) => {
                outcomes.push(StepOutcome::Retrying {
                    at,
                    interview_id,
                    reason,
                });
                now = at;
            }
            Some(done) => {
                outcomes.push(done);
                return outcomes;
            }
            None => return outcomes,
        }
    }
    panic!("never finished: {outcomes:?}");
}

fn assert_exactly_one_note(fake: &FakeHandle, v: ApiVersion) {
    let notes = fake.notes(CANDIDATE);
    assert_eq!(notes.len(), 1, "{notes:#?}");
    let n = &notes[0];
    assert!(
        n.body.starts_with("[Panelist notes · interview 9001]\n"),
        "{}",
        n.body
    );
    assert_eq!(n.visibility, "private");
    assert_eq!(n.user_id, Some(USER));
    assert_eq!(
        n.on_behalf_of,
        Some(USER),
        "posted on behalf of the integration user"
    );
    assert_eq!(n.via, Some(v));
}

async fn outbox_status(store: &DynStore) -> OutboxStatus {
    store
        .get_outbox_note(INTERVIEW)
        .await
        .unwrap()
        .unwrap()
        .status
}

const VERSIONS: [ApiVersion; 2] = [ApiVersion::V3, ApiVersion::V1];

#[tokio::test]
async fn posts_once_with_v3_and_v1() {
    for v in VERSIONS {
        let w = world();
        let p = poster(&w, v, Duration::from_secs(5));
        let now = Utc::now();
        enqueue(&p, now).await;
        // An interview gets one note.
        assert!(!p
            .enqueue(INTERVIEW, CANDIDATE, body(), Visibility::Private, now)
            .await
            .unwrap());
        let out = p.try_post_next(now).await.unwrap().unwrap();
        assert!(
            matches!(
                out,
                StepOutcome::Posted {
                    found_by_marker: false,
                    note_id: Some(_),
                    ..
                }
            ),
            "{out:?}"
        );
        assert_eq!(
            p.try_post_next(now).await.unwrap(),
            None,
            "nothing left to do"
        );
        assert_exactly_one_note(&w.fake, v);
        assert_eq!(posts(&w.fake, v), 1);
        let stored = w.store.get_outbox_note(INTERVIEW).await.unwrap().unwrap();
        assert_eq!(stored.status, OutboxStatus::Posted);
        assert!(!stored.in_flight && stored.note_id.is_some() && stored.posted_at.is_some());
        if v == ApiVersion::V1 {
            let post = w
                .fake
                .requests_to("/v1/candidates")
                .into_iter()
                .find(|r| r.method == "POST")
                .unwrap();
            assert_eq!(
                post.path,
                format!("/v1/candidates/{CANDIDATE}/activity_feed/notes")
            );
            assert_eq!(post.on_behalf_of.as_deref(), Some("712"));
        }
    }
}

#[tokio::test]
async fn a_note_without_its_marker_is_refused() {
    let w = world();
    let p = poster(&w, ApiVersion::V3, Duration::from_secs(5));
    let err = p
        .enqueue(
            INTERVIEW,
            CANDIDATE,
            "no marker".into(),
            Visibility::Private,
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("[Panelist notes · interview 9001]"),
        "{err}"
    );
}

#[tokio::test]
async fn a_429_storm_still_ends_with_exactly_one_note() {
    for v in VERSIONS {
        let w = world();
        let p = poster(&w, v, Duration::from_secs(5));
        w.fake
            .inject_where(Fault::Status(429), 3, Some("POST"), Some(note_path(v)));
        let started = Instant::now();
        enqueue(&p, Utc::now()).await;
        let outcomes = drive(&p, Utc::now()).await;
        assert!(
            matches!(outcomes.last(), Some(StepOutcome::Posted { .. })),
            "{outcomes:?}"
        );
        // Each 429 carries Retry-After: 1, and it is honoured.
        assert!(started.elapsed() >= Duration::from_secs(3));
        assert_exactly_one_note(&w.fake, v);
        let statuses: Vec<u16> = w
            .fake
            .requests_to(note_path(v))
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 429).count(),
            3,
            "{statuses:?}"
        );
    }
}

#[tokio::test]
async fn server_errors_back_off_verify_and_post_exactly_once() {
    for v in VERSIONS {
        let w = world();
        let p = poster(&w, v, Duration::from_secs(5));
        w.fake
            .inject_where(Fault::Status(500), 2, Some("POST"), Some(note_path(v)));
        let now = Utc::now();
        enqueue(&p, now).await;
        let first = p.try_post_next(now).await.unwrap().unwrap();
        let StepOutcome::Retrying { at, .. } = first else {
            panic!("{first:?}")
        };
        // Backoff with jitter: between half and all of the 5 s base.
        let wait = (at - now).num_milliseconds();
        assert!((2_500..=5_000).contains(&wait), "{wait} ms");
        // Not due yet: nothing happens.
        assert_eq!(p.try_post_next(now).await.unwrap(), None);
        // A 500 may come after the note was stored: it is looked for before posting again.
        let stored = w.store.get_outbox_note(INTERVIEW).await.unwrap().unwrap();
        assert!(stored.in_flight);
        assert!(stored.last_error.unwrap().contains("500"));
        let outcomes = drive(&p, at).await;
        assert!(
            matches!(outcomes.last(), Some(StepOutcome::Posted { .. })),
            "{outcomes:?}"
        );
        assert_exactly_one_note(&w.fake, v);
        assert_eq!(posts(&w.fake, v), 3);
        let reads = match v {
            ApiVersion::V1 => w
                .fake
                .requests_to("/v1/candidates")
                .iter()
                .filter(|r| r.method == "GET")
                .count(),
            ApiVersion::V3 => w
                .fake
                .requests_to("/v3/notes")
                .iter()
                .filter(|r| r.method == "GET")
                .count(),
        };
        assert_eq!(reads, 2, "one marker lookup before each repeat");
    }
}

#[tokio::test]
async fn a_timeout_after_the_note_was_stored_is_found_by_its_marker() {
    for v in VERSIONS {
        let w = world();
        // Short client timeout: the fake stores the note, then stalls for 30 s.
        let p = poster(&w, v, Duration::from_secs(1));
        w.fake
            .inject_where(Fault::StoreThenTimeout, 1, Some("POST"), Some(note_path(v)));
        let now = Utc::now();
        enqueue(&p, now).await;
        let first = p.try_post_next(now).await.unwrap().unwrap();
        let StepOutcome::Retrying { at, reason, .. } = first else {
            panic!("{first:?}")
        };
        assert!(reason.contains("timed out"), "{reason}");
        assert_eq!(w.fake.notes(CANDIDATE).len(), 1, "the fake stored it");
        let second = p.try_post_next(at).await.unwrap().unwrap();
        assert!(
            matches!(
                second,
                StepOutcome::Posted {
                    found_by_marker: true,
                    ..
                }
            ),
            "{second:?}"
        );
        assert_exactly_one_note(&w.fake, v);
        assert_eq!(posts(&w.fake, v), 1, "never posted again");
        let stored = w.store.get_outbox_note(INTERVIEW).await.unwrap().unwrap();
        assert_eq!(stored.status, OutboxStatus::Posted);
        assert!(stored.found_by_marker);
        assert_eq!(stored.note_id, Some(w.fake.notes(CANDIDATE)[0].id));
    }
}

/// A poster is killed while its post hangs (after Greenhouse stored the note); a new poster over
/// the same store (a restarted process) picks the note up once the dead one's lease expires, and
/// finds it by its marker instead of posting it twice.
async fn killed_mid_post_then_restarted(store: DynStore, fake: &FakeHandle, v: ApiVersion) {
    let short_lease = || {
        Poster::new(
            store.clone(),
            GreenhouseAccess::Fixed {
                client: client(fake, v, Duration::from_secs(20)),
                user_id: USER,
            },
            &poster_settings(1),
        )
    };
    fake.inject_where(Fault::StoreThenTimeout, 1, Some("POST"), Some(note_path(v)));
    let first = short_lease();
    enqueue(&first, Utc::now()).await;
    let task = tokio::spawn({
        let first = first.clone();
        async move { first.try_post_next(Utc::now()).await }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.notes(CANDIDATE).is_empty() {
        assert!(Instant::now() < deadline, "the post never reached the fake");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Kill: the step never finishes, the lease is never released.
    task.abort();
    let _ = task.await;
    drop(first);
    assert!(
        store
            .get_outbox_note(INTERVIEW)
            .await
            .unwrap()
            .unwrap()
            .in_flight
    );
    assert_eq!(outbox_status(&store).await, OutboxStatus::Pending);

    let second = short_lease();
    let deadline = Instant::now() + Duration::from_secs(10);
    let outcome = loop {
        if let Some(o) = second.try_post_next(Utc::now()).await.unwrap() {
            break o;
        }
        assert!(
            Instant::now() < deadline,
            "the dead poster's lease never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        matches!(
            outcome,
            StepOutcome::Posted {
                found_by_marker: true,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_exactly_one_note(fake, v);
    assert_eq!(posts(fake, v), 1);
}

#[tokio::test]
async fn a_poster_killed_mid_post_is_resumed_without_a_second_note() {
    for v in VERSIONS {
        let w = world();
        killed_mid_post_then_restarted(w.store.clone(), &w.fake, v).await;
    }
}

#[tokio::test]
async fn a_poster_killed_mid_post_is_resumed_without_a_second_note_on_redis() {
    let url = std::env::var("PANELIST_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let prefix = format!("panelist-test-{}", uuid::Uuid::new_v4());
    let redis = Arc::new(RedisStore::connect(&url, &prefix).await.unwrap());
    let w = world();
    killed_mid_post_then_restarted(redis.clone(), &w.fake, ApiVersion::V3).await;
    redis.purge_prefix().await.unwrap();
}

#[tokio::test]
async fn a_crash_before_sending_is_resumed_by_posting() {
    // The record says "in flight" but the request never left: the lookup finds nothing, so it posts.
    let w = world();
    let p = poster(&w, ApiVersion::V3, Duration::from_secs(5));
    let now = Utc::now();
    enqueue(&p, now).await;
    let mut note = w.store.get_outbox_note(INTERVIEW).await.unwrap().unwrap();
    note.in_flight = true;
    note.attempts = 1;
    w.store.put_outbox_note(&note).await.unwrap();
    let restarted = poster(&w, ApiVersion::V3, Duration::from_secs(5));
    let out = restarted.try_post_next(now).await.unwrap().unwrap();
    assert!(
        matches!(
            out,
            StepOutcome::Posted {
                found_by_marker: false,
                ..
            }
        ),
        "{out:?}"
    );
    assert_exactly_one_note(&w.fake, ApiVersion::V3);
}

#[tokio::test]
async fn refusals_fail_with_a_readable_reason_kept_for_the_dashboard() {
    for v in VERSIONS {
        for (status, needle) in [(403, "403 Forbidden"), (404, "does not know candidate 42")] {
            let w = world();
            let p = poster(&w, v, Duration::from_secs(5));
            w.fake
                .inject_where(Fault::Status(status), 1, Some("POST"), Some(note_path(v)));
            let now = Utc::now();
            enqueue(&p, now).await;
            let out = p.try_post_next(now).await.unwrap().unwrap();
            let StepOutcome::Failed { reason, .. } = out else {
                panic!("{v:?} {status}: {out:?}")
            };
            assert!(reason.contains(needle), "{reason}");
            let stored = w.store.get_outbox_note(INTERVIEW).await.unwrap().unwrap();
            assert_eq!(stored.status, OutboxStatus::Failed);
            assert_eq!(stored.last_error.as_deref(), Some(reason.as_str()));
            assert!(!stored.in_flight);
            assert!(w.fake.notes(CANDIDATE).is_empty());
            // Failed notes stay out of the queue until someone asks again.
            assert_eq!(
                p.try_post_next(now + chrono::Duration::days(1))
                    .await
                    .unwrap(),
                None
            );
            let recent = w.store.recent_outbox_notes(10).await.unwrap();
            assert_eq!(recent[0].last_error.as_deref(), Some(reason.as_str()));
            assert!(p.requeue(INTERVIEW, now).await.unwrap());
            assert!(matches!(
                p.try_post_next(now).await.unwrap(),
                Some(StepOutcome::Posted { .. })
            ));
            assert_exactly_one_note(&w.fake, v);
        }
    }
}

#[actix_web::test]
async fn the_actor_posts_queued_notes_and_resumes_the_outbox_on_start() {
    use actix::Actor;
    let w = world();
    // A note left pending by an earlier run is posted when the actor starts.
    let earlier = poster(&w, ApiVersion::V3, Duration::from_secs(5));
    enqueue(&earlier, Utc::now()).await;
    let actor = GreenhousePosterActor::new(
        poster(&w, ApiVersion::V3, Duration::from_secs(5)),
        Duration::from_secs(3600),
    )
    .start();
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.fake.notes(CANDIDATE).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the pending note was not resumed"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    // A new note is posted as soon as it is queued, not at the next tick.
    let added = actor
        .send(EnqueueNote {
            interview_id: INTERVIEW + 1,
            candidate_id: CANDIDATE,
            body: format!(
                "{}\nSecond interview.\n",
                marker(&(INTERVIEW + 1).to_string())
            ),
            visibility: Visibility::Private,
        })
        .await
        .unwrap()
        .unwrap();
    assert!(added);
    while w.fake.notes(CANDIDATE).len() < 2 {
        assert!(Instant::now() < deadline, "the queued note was not posted");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = actor.send(panelist::poster::GetPosterStats).await.unwrap();
    assert_eq!(stats.posted, 2);
    assert_eq!(w.fake.notes(CANDIDATE).len(), 2);
}
