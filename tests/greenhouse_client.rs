//! The Greenhouse client against the fake Greenhouse, for both Harvest versions: pagination,
//! rate limits, token refresh, retries, error mapping, lookups and notes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::TryStreamExt;
use panelist::domain::{Application, Candidate, Id, Interview, Job, JobPost, JobStage, User};
use panelist::fake_greenhouse::{
    FakeConfig, FakeGreenhouse, FakeHandle, Fault, GenSpec, RateLimitCfg, ACTIVITY_FEED_CANDIDATE,
};
use panelist::greenhouse::{
    next_link, v3_date_filter, ClientConfig, Cmp, Credentials, GreenhouseClient, GreenhouseError,
    ListFilter, NewNote, Resource, Visibility,
};
use panelist::settings::ApiVersion;
use secrecy::SecretString;

const SECRET: &str = "test-secret";
const KEY: &str = "test-key";

fn start(cfg: FakeConfig) -> FakeHandle {
    FakeGreenhouse::start(cfg).expect("fake greenhouse starts")
}

fn fake() -> FakeHandle {
    start(FakeConfig::default())
}

fn credentials(v: ApiVersion, secret: &str) -> Credentials {
    match v {
        ApiVersion::V1 => Credentials::V1 {
            api_key: SecretString::from(secret.to_string()),
        },
        ApiVersion::V3 => Credentials::V3 {
            client_id: "test-client".into(),
            client_secret: SecretString::from(secret.to_string()),
        },
    }
}

fn config(fake: &FakeHandle, v: ApiVersion) -> ClientConfig {
    let secret = match v {
        ApiVersion::V1 => KEY,
        ApiVersion::V3 => SECRET,
    };
    ClientConfig {
        timeout: Duration::from_secs(5),
        max_retries: 3,
        per_page: 100,
        token_refresh_margin: Duration::from_secs(60),
        ..ClientConfig::new(fake.base_url(), fake.token_url(), credentials(v, secret))
    }
}

fn client(fake: &FakeHandle, v: ApiVersion) -> GreenhouseClient {
    GreenhouseClient::new(config(fake, v)).unwrap()
}

fn prefix(v: ApiVersion) -> &'static str {
    match v {
        ApiVersion::V1 => "/v1",
        ApiVersion::V3 => "/v3",
    }
}

/// The path of a collection per version, for counting the fake's requests.
fn path(v: ApiVersion, r: Resource) -> String {
    let name = match (v, r) {
        (ApiVersion::V1, Resource::Interviews) => "scheduled_interviews",
        (ApiVersion::V3, Resource::JobStages) => "job_interview_stages",
        (ApiVersion::V1, Resource::JobStages) => "job_stages",
        (_, r) => r.as_str(),
    };
    format!("{}/{name}", prefix(v))
}

fn statuses(fake: &FakeHandle, path: &str) -> Vec<u16> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect()
}

fn small_spec() -> GenSpec {
    GenSpec {
        users: 5,
        jobs: 2,
        stages_per_job: 2,
        candidates: 23,
        applications: 30,
        interviews: 40,
        // Anchored in the past, so nothing generated can look "updated just now".
        now: Some(Utc::now() - chrono::Duration::days(1)),
        ..GenSpec::default()
    }
}

/// Runs an `async fn(ApiVersion)` check as one test per Harvest version.
macro_rules! both_versions {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn v1() {
                super::$name(panelist::settings::ApiVersion::V1).await
            }
            #[tokio::test]
            async fn v3() {
                super::$name(panelist::settings::ApiVersion::V3).await
            }
        }
    )*};
}

both_versions!(
    pages_are_collected_completely_without_duplicates,
    retry_after_is_honoured,
    rate_budget_keeps_concurrent_callers_under_the_limit,
    server_errors_are_retried,
    dropped_connection_is_retried,
    client_errors_are_not_retried,
    bad_credentials_are_unauthorized_without_leaking_the_secret,
    user_by_email_finds_primary_and_secondary_addresses,
    note_round_trip_acts_on_behalf_of_the_user,
    note_write_is_not_retried_after_a_timeout,
    note_write_retried_only_when_not_processed,
    incremental_and_window_filters_are_applied_server_side,
    lookups_by_candidate_and_application,
    documented_fixtures_are_served_and_parse,
    a_generated_account_at_volume_lists_completely,
);

async fn pages_are_collected_completely_without_duplicates(v: ApiVersion) {
    let fake = fake();
    let generated = fake.seed_generated(small_spec());
    let client = GreenhouseClient::new(ClientConfig {
        per_page: 5,
        ..config(&fake, v)
    })
    .unwrap();

    let pages: Vec<Vec<Candidate>> = client
        .list(Resource::Candidates, ListFilter::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 5, "23 candidates at 5 per page");
    assert!(pages.iter().all(|p| !p.is_empty() && p.len() <= 5));
    let ids: Vec<Id> = pages.iter().flatten().map(|c| c.id).collect();
    let unique: HashSet<Id> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no candidate twice");
    assert_eq!(
        unique,
        generated
            .candidates
            .iter()
            .copied()
            .collect::<HashSet<Id>>()
    );

    let reqs = fake.requests_to(&path(v, Resource::Candidates));
    assert_eq!(reqs.len(), 5);
    assert_eq!(reqs[0].query_pairs(), vec![("per_page".into(), "5".into())]);
    for later in &reqs[1..] {
        let keys: Vec<String> = later.query_pairs().into_iter().map(|(k, _)| k).collect();
        match v {
            // v3: the next link verbatim, a cursor and nothing else.
            ApiVersion::V3 => assert_eq!(keys, vec!["cursor".to_string()]),
            ApiVersion::V1 => assert!(keys.contains(&"page".to_string())),
        }
    }
    assert_eq!(client.stats().requests, 5);
}

async fn retry_after_is_honoured(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);
    fake.inject(Fault::Status(429), 1);

    let started = Instant::now();
    let users: Vec<User> = client
        .list_all(Resource::Users, ListFilter::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited Retry-After: 1"
    );
    assert_eq!(users.len(), 2);
    assert_eq!(statuses(&fake, &path(v, Resource::Users)), vec![429, 200]);
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 1);
    // The pause is counted from when the 429 was handled, a hair after it arrived.
    assert!(stats.throttled_ms >= 900, "{stats:?}");
}

async fn rate_budget_keeps_concurrent_callers_under_the_limit(v: ApiVersion) {
    let fake = start(FakeConfig {
        rate_limit: Some(RateLimitCfg {
            limit: 4,
            window: Duration::from_secs(1),
        }),
        ..FakeConfig::default()
    });
    fake.seed_generated(small_spec());
    let client = GreenhouseClient::new(ClientConfig {
        per_page: 8,
        ..config(&fake, v)
    })
    .unwrap();

    // Three listings at once on clones of one client: 3 + 5 + 4 pages against 4 per second.
    let (c2, c3) = (client.clone(), client.clone());
    let (a, b, c) = tokio::join!(
        client.list_all::<Candidate>(Resource::Candidates, ListFilter::default()),
        c2.list_all::<Interview>(Resource::Interviews, ListFilter::default()),
        c3.list_all::<Application>(Resource::Applications, ListFilter::default()),
    );
    assert_eq!(a.unwrap().len(), 23);
    assert_eq!(b.unwrap().len(), 40);
    assert_eq!(c.unwrap().len(), 30);

    let harvest: Vec<u16> = fake
        .requests_to(prefix(v))
        .into_iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(harvest.len(), 12);
    assert!(
        harvest.iter().all(|s| *s == 200),
        "no 429 at all: {harvest:?}"
    );
    let stats = client.stats();
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.rate_limit_limit, Some(4));
    assert!(stats.throttled_ms > 0, "the budget made callers wait");
}

async fn server_errors_are_retried(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);
    fake.inject(Fault::Status(500), 1);
    fake.inject(Fault::Status(502), 1);

    let jobs: Vec<Job> = client
        .list_all(Resource::Jobs, ListFilter::default())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        statuses(&fake, &path(v, Resource::Jobs)),
        vec![500, 502, 200]
    );
    assert_eq!(client.stats().retries, 2);
}

async fn dropped_connection_is_retried(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);
    fake.inject(Fault::DropConnection, 1);

    let posts: Vec<JobPost> = client
        .list_all(Resource::JobPosts, ListFilter::default())
        .await
        .unwrap();
    assert!(!posts.is_empty());
    assert_eq!(statuses(&fake, &path(v, Resource::JobPosts)), vec![0, 200]);
}

async fn client_errors_are_not_retried(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);

    fake.inject(Fault::Status(403), 1);
    let err = client
        .list_all::<User>(Resource::Users, ListFilter::default())
        .await
        .unwrap_err();
    assert!(matches!(err, GreenhouseError::Forbidden { .. }), "{err:?}");
    assert_eq!(statuses(&fake, &path(v, Resource::Users)), vec![403]);

    // A note without body: Greenhouse's documented 422, answered once.
    fake.clear_requests();
    let err = client
        .create_note(
            ACTIVITY_FEED_CANDIDATE,
            &NewNote {
                user_id: 112,
                body: "   ".into(),
                visibility: Visibility::Public,
            },
        )
        .await
        .unwrap_err();
    match &err {
        GreenhouseError::Validation { errors, .. } => {
            assert_eq!(errors[0].field.as_deref(), Some("body"))
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    assert_eq!(fake.requests_to(prefix(v)).len(), 1);
    assert!(!err.is_retryable());

    // An unknown candidate: 404 on v1, 422 on v3; either way one request.
    fake.clear_requests();
    let err = client
        .create_note(
            4242,
            &NewNote {
                user_id: 112,
                body: "hello".into(),
                visibility: Visibility::Public,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err.status(), Some(404) | Some(422)), "{err:?}");
    assert_eq!(fake.requests_to(prefix(v)).len(), 1);
    assert_eq!(client.stats().retries, 0);
}

async fn bad_credentials_are_unauthorized_without_leaking_the_secret(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let wrong = "wrong-secret-5f1c9a";
    let client = GreenhouseClient::new(ClientConfig {
        credentials: credentials(v, wrong),
        ..config(&fake, v)
    })
    .unwrap();

    let err = client
        .user_by_email("juliet.burke@example.com")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenhouseError::Unauthorized { .. }),
        "{err:?}"
    );
    let text = format!("{err} {err:?} {client:?}");
    assert!(!text.contains(wrong), "secret leaked: {text}");
    assert!(
        !text.contains("d3Jvbmctc2VjcmV0"),
        "encoded secret leaked: {text}"
    );

    match v {
        // One 401, not retried.
        ApiVersion::V1 => assert_eq!(statuses(&fake, "/v1/users"), vec![401]),
        // The token endpoint refuses; Harvest is never called.
        ApiVersion::V3 => {
            assert_eq!(statuses(&fake, "/token"), vec![401]);
            assert!(fake.requests_to("/v3").is_empty());
        }
    }
}

async fn user_by_email_finds_primary_and_secondary_addresses(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);

    let juliet = client
        .user_by_email("juliet.burke@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(juliet.id, 112);
    let john = client
        .user_by_email(" JOHN.DOE@example.com ")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(john.id, 712);

    fake.clear_requests();
    let secondary = client
        .user_by_email("other.woman@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secondary.id, 112);
    if v == ApiVersion::V3 {
        // Not a primary address: found through the user_emails index.
        assert_eq!(statuses(&fake, "/v3/user_emails"), vec![200]);
    }
    assert!(client
        .user_by_email("nobody@example.com")
        .await
        .unwrap()
        .is_none());
}

async fn note_round_trip_acts_on_behalf_of_the_user(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v).with_on_behalf_of(712);
    let body = "Panelist interview notes\n- strong on systems design";

    let created = client
        .create_note(
            ACTIVITY_FEED_CANDIDATE,
            &NewNote {
                user_id: 112,
                body: body.into(),
                visibility: Visibility::Private,
            },
        )
        .await
        .unwrap();
    assert_eq!(created.body, body);
    assert_eq!(created.candidate_id, Some(ACTIVITY_FEED_CANDIDATE));
    assert_eq!(created.visibility, Some(Visibility::Private));
    assert!(created.id.is_some());

    let stored = fake.notes(ACTIVITY_FEED_CANDIDATE);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].user_id, Some(112));
    assert_eq!(stored[0].visibility, "private");
    // v1: the On-Behalf-Of header; v3: the token's `sub`.
    assert_eq!(stored[0].on_behalf_of, Some(712));
    assert_eq!(stored[0].via, Some(v));
    if v == ApiVersion::V1 {
        let post = fake
            .requests_to("/v1")
            .into_iter()
            .find(|r| r.method == "POST")
            .unwrap();
        assert_eq!(post.on_behalf_of.as_deref(), Some("712"));
    }

    let notes = client
        .notes_for_candidate(ACTIVITY_FEED_CANDIDATE)
        .await
        .unwrap();
    let mine: Vec<_> = notes.iter().filter(|n| n.body == body).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].id, created.id);
    // The documented activity-feed note is there too.
    assert!(notes.iter().any(|n| n.body == "Very mysterious."));
}

async fn note_write_is_not_retried_after_a_timeout(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = GreenhouseClient::new(ClientConfig {
        timeout: Duration::from_secs(1),
        ..config(&fake, v)
    })
    .unwrap();
    // Warm up (token, budget) so the fault hits the write.
    client.user_by_email("john.doe@example.com").await.unwrap();
    fake.inject_where(Fault::StoreThenTimeout, 1, Some("POST"), None);

    let err = client
        .create_note(
            ACTIVITY_FEED_CANDIDATE,
            &NewNote {
                user_id: 712,
                body: "exactly once".into(),
                visibility: Visibility::AdminOnly,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, GreenhouseError::Timeout(_)), "{err:?}");
    assert!(err.outcome_unknown());
    // Stored once, sent once: deciding to re-post is the caller's business.
    assert_eq!(fake.notes(ACTIVITY_FEED_CANDIDATE).len(), 1);
    let posts = fake
        .requests_to(prefix(v))
        .into_iter()
        .filter(|r| r.method == "POST")
        .count();
    assert_eq!(posts, 1);
}

async fn note_write_retried_only_when_not_processed(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, v);
    let note = NewNote {
        user_id: 712,
        body: "retry me".into(),
        visibility: Visibility::Public,
    };
    let posts = |fake: &FakeHandle| {
        fake.requests_to(prefix(v))
            .into_iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.status)
            .collect::<Vec<_>>()
    };

    // 503 = not processed: safe to send again.
    fake.inject_where(Fault::Status(503), 1, Some("POST"), None);
    client
        .create_note(ACTIVITY_FEED_CANDIDATE, &note)
        .await
        .unwrap();
    assert_eq!(
        posts(&fake)[..2],
        [503, if v == ApiVersion::V1 { 200 } else { 201 }]
    );

    // 500 = maybe processed: not re-sent.
    fake.clear_requests();
    fake.inject_where(Fault::Status(500), 1, Some("POST"), None);
    let err = client
        .create_note(ACTIVITY_FEED_CANDIDATE, &note)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(posts(&fake), vec![500]);
    assert_eq!(fake.notes(ACTIVITY_FEED_CANDIDATE).len(), 1);
}

async fn incremental_and_window_filters_are_applied_server_side(v: ApiVersion) {
    let fake = fake();
    let spec = small_spec();
    let anchor = spec.now.unwrap();
    let generated = fake.seed_generated(spec);
    let client = client(&fake, v);

    // Changed since: only what is touched after `since` comes back.
    let since = Utc::now();
    let all: Vec<Interview> = client
        .list_all(Resource::Interviews, ListFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), generated.interviews.len());
    let mut moved = all[7].clone();
    moved.location = Some("Moved to room 2".into());
    fake.upsert_interview(&moved).unwrap();
    let changed: Vec<Interview> = client
        .list_all(Resource::Interviews, ListFilter::updated_after(since))
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].id, moved.id);
    assert_eq!(changed[0].location.as_deref(), Some("Moved to room 2"));

    // Applications move by last activity (v1 has no updated_after there).
    let mut app: Application = serde_json::from_value(
        fake.get_json(Resource::Applications, generated.applications[3])
            .unwrap(),
    )
    .unwrap();
    app.status = Some("rejected".into());
    fake.upsert_application(&app).unwrap();
    let apps: Vec<Application> = client
        .list_all(Resource::Applications, ListFilter::updated_after(since))
        .await
        .unwrap();
    assert_eq!(apps.iter().map(|a| a.id).collect::<Vec<_>>(), vec![app.id]);

    // Start window; bounds off the quarter hours so "before" vs "at or before" can't differ.
    let after = anchor - chrono::Duration::hours(50) + chrono::Duration::minutes(7);
    let before = anchor + chrono::Duration::days(3) + chrono::Duration::minutes(7);
    let window: Vec<Interview> = client
        .list_all(
            Resource::Interviews,
            ListFilter::starting_between(after, before),
        )
        .await
        .unwrap();
    let expected: HashSet<Id> = all
        .iter()
        .filter(|i| i.starts_at().is_some_and(|s| s >= after && s < before))
        .map(|i| i.id)
        .collect();
    assert!(!expected.is_empty() && expected.len() < all.len());
    assert_eq!(
        window.iter().map(|i| i.id).collect::<HashSet<_>>(),
        expected
    );
}

async fn lookups_by_candidate_and_application(v: ApiVersion) {
    let fake = fake();
    fake.seed_fixtures();
    let generated = fake.seed_generated(small_spec());
    let client = client(&fake, v);

    let john = client
        .candidate(ACTIVITY_FEED_CANDIDATE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(john.first_name.as_deref(), Some("John"));
    assert!(client.candidate(12345).await.unwrap().is_none());

    let apps = client
        .applications_for_candidate(ACTIVITY_FEED_CANDIDATE)
        .await
        .unwrap();
    let ids: HashSet<Id> = apps.iter().map(|a| a.id).collect();
    // The documented list and retrieve examples of this candidate embed different applications;
    // the fake keeps all three.
    assert_eq!(ids, HashSet::from([69102626, 69103370, 65153308]));
    assert!(apps
        .iter()
        .all(|a| a.candidate_id == Some(ACTIVITY_FEED_CANDIDATE)));
    assert!(client
        .applications_for_candidate(12345)
        .await
        .unwrap()
        .is_empty());

    let all: Vec<Interview> = client
        .list_all(Resource::Interviews, ListFilter::default())
        .await
        .unwrap();
    let app_id = all
        .iter()
        .find(|i| generated.interviews.contains(&i.id))
        .and_then(|i| i.application_id)
        .unwrap();
    let expected: HashSet<Id> = all
        .iter()
        .filter(|i| i.application_id == Some(app_id))
        .map(|i| i.id)
        .collect();
    let got = client.interviews_for_application(app_id).await.unwrap();
    assert_eq!(got.iter().map(|i| i.id).collect::<HashSet<_>>(), expected);
    assert!(got
        .iter()
        .all(|i| !i.interviewers.is_empty() && i.interviewers.iter().all(|p| p.email.is_some())));
}

async fn documented_fixtures_are_served_and_parse(v: ApiVersion) {
    let fake = fake();
    assert!(fake.seed_fixtures() > 10);
    let client = client(&fake, v);

    let users: Vec<User> = client
        .list_all(Resource::Users, ListFilter::default())
        .await
        .unwrap();
    assert_eq!(users.len(), 2);
    let jobs: Vec<Job> = client
        .list_all(Resource::Jobs, ListFilter::default())
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    let posts: Vec<JobPost> = client
        .list_all(Resource::JobPosts, ListFilter::default())
        .await
        .unwrap();
    assert!(!posts.is_empty());
    let candidates: Vec<Candidate> = client
        .list_all(Resource::Candidates, ListFilter::default())
        .await
        .unwrap();
    assert!(candidates.iter().any(|c| c.id == ACTIVITY_FEED_CANDIDATE));
    let apps: Vec<Application> = client
        .list_all(Resource::Applications, ListFilter::default())
        .await
        .unwrap();
    assert!(apps.len() >= 4);
    let stages: Vec<JobStage> = client
        .list_all(Resource::JobStages, ListFilter::default())
        .await
        .unwrap();
    assert!(stages
        .iter()
        .any(|s| s.kit_for(7890).is_some_and(|k| !k.questions.is_empty())));
    let interviews: Vec<Interview> = client
        .list_all(Resource::Interviews, ListFilter::default())
        .await
        .unwrap();
    let all_day = interviews.iter().find(|i| i.id == 9128482).unwrap();
    assert!(all_day.start.unwrap().is_all_day());
    // v1 lists ascend by id, v3 descends.
    let order: Vec<Id> = interviews.iter().map(|i| i.id).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    if v == ApiVersion::V3 {
        sorted.reverse();
    }
    assert_eq!(order, sorted);
}

async fn a_generated_account_at_volume_lists_completely(v: ApiVersion) {
    let fake = fake();
    let generated = fake.seed_generated(GenSpec {
        candidates: 5_000,
        applications: 6_000,
        interviews: 2_000,
        ..GenSpec::default()
    });
    let client = GreenhouseClient::new(ClientConfig {
        per_page: 500,
        ..config(&fake, v)
    })
    .unwrap();
    let candidates: Vec<Candidate> = client
        .list_all(Resource::Candidates, ListFilter::default())
        .await
        .unwrap();
    assert_eq!(candidates.len(), 5_000);
    assert!(candidates.iter().all(|c| !c.application_ids.is_empty()));
    let interviews: Vec<Interview> = client
        .list_all(Resource::Interviews, ListFilter::default())
        .await
        .unwrap();
    let ids: HashSet<Id> = interviews.iter().map(|i| i.id).collect();
    assert_eq!(
        ids,
        generated
            .interviews
            .iter()
            .copied()
            .collect::<HashSet<Id>>()
    );
    // Spread around now, with interviewer e-mails and a meeting link most of the time.
    let now = Utc::now();
    assert!(interviews.iter().any(|i| i.starts_at().unwrap() > now));
    assert!(interviews.iter().any(|i| i.starts_at().unwrap() < now));
    assert!(interviews
        .iter()
        .all(|i| i.interviewers.iter().all(|p| p.email.is_some())));
    let with_link = interviews
        .iter()
        .filter(|i| i.meeting_url().is_some())
        .count();
    assert!(with_link > interviews.len() / 2);
    assert_eq!(client.stats().requests, 10 + 4);
}

#[tokio::test]
async fn v3_expired_token_is_refreshed_once_after_401() {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, ApiVersion::V3);
    client.user_by_email("john.doe@example.com").await.unwrap();
    fake.expire_tokens();

    let john = client.user_by_email("john.doe@example.com").await.unwrap();
    assert_eq!(john.map(|u| u.id), Some(712));
    assert_eq!(statuses(&fake, "/v3/users"), vec![200, 401, 200]);
    assert_eq!(statuses(&fake, "/token"), vec![200, 200]);
    assert_eq!(client.stats().token_fetches, 2);
}

#[tokio::test]
async fn v3_token_rejected_twice_is_unauthorized() {
    let fake = fake();
    fake.seed_fixtures();
    // Every token is dead on arrival: one refresh, then give up.
    fake.set_token_ttl(Duration::ZERO);
    let client = client(&fake, ApiVersion::V3);
    let err = client
        .list_all::<User>(Resource::Users, ListFilter::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GreenhouseError::Unauthorized { .. }),
        "{err:?}"
    );
    assert_eq!(statuses(&fake, "/v3/users"), vec![401, 401]);
    assert_eq!(statuses(&fake, "/token").len(), 2);
}

#[tokio::test]
async fn v3_token_is_refreshed_ahead_of_expiry() {
    let fake = fake();
    fake.seed_fixtures();
    fake.set_token_ttl(Duration::from_secs(3));
    // A margin longer than the lifetime: refresh halfway through it instead.
    let client = GreenhouseClient::new(ClientConfig {
        token_refresh_margin: Duration::from_secs(300),
        ..config(&fake, ApiVersion::V3)
    })
    .unwrap();
    client.user_by_email("john.doe@example.com").await.unwrap();
    client.user_by_email("john.doe@example.com").await.unwrap();
    assert_eq!(
        statuses(&fake, "/token").len(),
        1,
        "token reused while fresh"
    );

    // Past half the 3 s lifetime, well before expiry.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    client.user_by_email("john.doe@example.com").await.unwrap();
    assert_eq!(
        statuses(&fake, "/token").len(),
        2,
        "refreshed before expiry"
    );
    assert!(
        !statuses(&fake, "/v3/users").contains(&401),
        "no request was made with an expired token"
    );
}

#[tokio::test]
async fn v3_concurrent_callers_share_one_token_fetch() {
    let fake = fake();
    fake.seed_fixtures();
    let client = client(&fake, ApiVersion::V3);
    let calls = (0..8).map(|_| {
        let c = client.clone();
        async move { c.user_by_email("john.doe@example.com").await }
    });
    for r in futures::future::join_all(calls).await {
        assert_eq!(r.unwrap().map(|u| u.id), Some(712));
    }
    assert_eq!(statuses(&fake, "/token").len(), 1);
}

/// Talks to the fake directly: the documented v3 rules the client must live with.
#[tokio::test]
async fn fake_v3_enforces_cursor_alone_and_per_page_bounds() {
    let fake = fake();
    fake.seed_generated(small_spec());
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .post(fake.token_url())
        .basic_auth("test-client", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    assert!(token["expires_at"].as_str().is_some());
    let get = |url: String| http.get(url).header("Authorization", bearer.clone()).send();

    let first = get(format!("{}/v3/candidates?per_page=5", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let links: Vec<&str> = first
        .headers()
        .get_all("link")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let next = next_link(links).unwrap();
    assert!(next.contains("cursor="));

    let mixed = get(format!("{next}&per_page=5")).await.unwrap();
    assert_eq!(mixed.status(), 422);
    let body: serde_json::Value = mixed.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "cursor");
    assert_eq!(get(next).await.unwrap().status(), 200);

    for bad in [
        "per_page=0",
        "per_page=501",
        "updated_after=2026-01-01T00:00:00Z",
    ] {
        let r = get(format!("{}/v3/candidates?{bad}", fake.base_url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 422, "{bad}");
    }
    let (k, v) = v3_date_filter("updated_at", Cmp::Gte, Utc::now());
    let ok = get(format!("{}/v3/candidates?{k}={v}", fake.base_url()))
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let r = http
        .get(format!("{}/v3/candidates", fake.base_url()))
        .header("Authorization", "Bearer not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn fake_v1_requires_on_behalf_of_for_notes() {
    let fake = fake();
    fake.seed_fixtures();
    let url = format!(
        "{}/v1/candidates/{ACTIVITY_FEED_CANDIDATE}/activity_feed/notes",
        fake.base_url()
    );
    let body = serde_json::json!({"user_id": 712, "body": "hi", "visibility": "public"});
    let http = reqwest::Client::new();
    let without = http
        .post(&url)
        .basic_auth(KEY, Some(""))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), 422);
    let with = http
        .post(&url)
        .basic_auth(KEY, Some(""))
        .header("On-Behalf-Of", "712")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(with.status().is_success());
    let note: serde_json::Value = with.json().await.unwrap();
    assert_eq!(
        note["visiblity"], "public",
        "the documented misspelling is kept"
    );
    assert_eq!(note["user"]["name"], "John Doe");
}

#[tokio::test]
async fn fake_v1_pages_carry_documented_links() {
    let fake = fake();
    fake.seed_generated(small_spec());
    let r = reqwest::Client::new()
        .get(format!(
            "{}/v1/candidates?per_page=10&page=2",
            fake.base_url()
        ))
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap();
    let link = r.headers()["link"].to_str().unwrap().to_string();
    let links = panelist::greenhouse::parse_link_header(&link);
    let rels: Vec<&str> = links.iter().map(|l| l.rels[0].as_str()).collect();
    assert_eq!(rels, vec!["next", "prev", "last"]);
    assert!(links[2].url.contains("page=3"));
    let items: Vec<serde_json::Value> = r.json().await.unwrap();
    assert_eq!(items.len(), 10);
    // v1 candidates embed their applications, as documented.
    assert!(items[0]["applications"].is_array());
}

#[test]
fn link_header_and_v3_filter_encoding() {
    let h = "<https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2>; rel=\"next\",\n<https://harvest.greenhouse.io/v1/candidates?page=474&per_page=2>; rel=\"last\"";
    assert_eq!(
        next_link([h]).as_deref(),
        Some("https://harvest.greenhouse.io/v1/candidates?page=2&per_page=2")
    );
    assert_eq!(next_link(["<https://x/v1/a?page=9>; rel=\"last\""]), None);
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        v3_date_filter("updated_at", Cmp::Gte, at),
        ("updated_at".into(), "gte|2026-01-01T00:00:00Z".into())
    );
}
