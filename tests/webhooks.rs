//! Greenhouse webhooks end to end: a real HTTP server on port 0 running `webhooks::configure`,
//! a real store (embedded in a temp dir, and Redis under a unique prefix), the real
//! `WebhookActor`, and a fake `Refresher` that records what it was asked.
//!
//! Application is asynchronous (200 first, apply after), so tests wait for the event log to
//! show a finished status: a condition wait polled every 20 ms, never a fixed sleep.

// Helpers outside `#[test]` functions are test code too; a failed setup should panic loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::Actor;
use actix_web::{web, App, HttpServer};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::Value;

use panelist::config::WebhookSettings;
use panelist::domain::{
    Application, Candidate, EntityKind, Id, Interview, InterviewStatus, InterviewTime, Job, JobPost,
};
use panelist::settings::IntegrationSettings;
use panelist::store::{
    DynStore, EmbeddedStore, RedisStore, ScheduleChange, ScheduleChangeKind, Store, StoreError,
    StoreExt, StoreResult, SyncRun, WebhookEvent, WebhookEventStatus, WebhookPing,
};
use panelist::webhooks::{
    self, sign, try_apply, Refresher, StaticSecret, StepOutcome, WebhookActor, WebhookSecretSource,
    WebhookState, EVENT_ID_HEADER, ROUTE, SIGNATURE_HEADER,
};

const SECRET: &str = "test-webhook-secret";
const REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Small, so the oversize test sends little; every fixture fits.
const BODY_LIMIT: usize = 64 * 1024;

// ---------------------------------------------------------------- test doubles

#[derive(Debug, Clone, PartialEq)]
enum Refresh {
    Application(Id),
    Candidate(Id),
}

/// Records refreshes; fails the first `fail_first` calls, or every call when `always_fail`.
#[derive(Default)]
struct FakeRefresher {
    calls: Mutex<Vec<Refresh>>,
    fail_first: AtomicU32,
    always_fail: bool,
}

impl FakeRefresher {
    fn failing_first(n: u32) -> Self {
        FakeRefresher {
            fail_first: AtomicU32::new(n),
            ..Default::default()
        }
    }

    fn always_failing() -> Self {
        FakeRefresher {
            always_fail: true,
            ..Default::default()
        }
    }

    fn calls(&self) -> Vec<Refresh> {
        self.calls.lock().unwrap().clone()
    }

    fn answer(&self, call: Refresh) -> Result<String, String> {
        self.calls.lock().unwrap().push(call);
        let failing_first = self
            .fail_first
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if self.always_fail || failing_first {
            Err("Greenhouse answered 503".into())
        } else {
            Ok("2 interviews".into())
        }
    }
}

#[async_trait]
impl Refresher for FakeRefresher {
    async fn refresh_application(&self, application_id: Id) -> Result<String, String> {
        self.answer(Refresh::Application(application_id))
    }

    async fn refresh_candidate(&self, candidate_id: Id) -> Result<String, String> {
        self.answer(Refresh::Candidate(candidate_id))
    }

    async fn purge_candidate(
        &self,
        candidate_id: Id,
        _applications: &[Id],
        _reason: &str,
    ) -> Result<String, String> {
        Ok(format!("purged candidate {candidate_id}"))
    }
}

struct NoSecret;

#[async_trait]
impl WebhookSecretSource for NoSecret {
    async fn webhook_secret(&self) -> Result<Option<SecretString>, String> {
        Ok(None)
    }
}

// ---------------------------------------------------------------- the app under test

#[derive(Clone, Copy, Debug)]
enum Backend {
    Embedded,
    Redis,
}

struct Options {
    refresher: FakeRefresher,
    max_attempts: u32,
    secret: Arc<dyn WebhookSecretSource>,
    /// Wraps the store the handler sees, to inject failures.
    wrap_handler_store: Option<fn(DynStore) -> DynStore>,
    /// How often the actor rescans the log for unfinished events (`None`: only at start).
    rescan: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            refresher: FakeRefresher::default(),
            max_attempts: 5,
            secret: Arc::new(StaticSecret::new(SECRET)),
            wrap_handler_store: None,
            rescan: None,
        }
    }
}

struct TestApp {
    address: String,
    client: reqwest::Client,
    store: DynStore,
    refresher: Arc<FakeRefresher>,
    server: actix_web::dev::ServerHandle,
    redis: Option<Arc<RedisStore>>,
    _dir: Option<tempfile::TempDir>,
}

async fn open_store(
    backend: Backend,
) -> (DynStore, Option<Arc<RedisStore>>, Option<tempfile::TempDir>) {
    match backend {
        Backend::Embedded => {
            let dir = tempfile::tempdir().unwrap();
            let store = EmbeddedStore::open(&dir.path().join("panelist.redb")).unwrap();
            (Arc::new(store), None, Some(dir))
        }
        Backend::Redis => {
            let prefix = format!("panelist-test-webhooks-{}", uuid::Uuid::new_v4());
            let store = Arc::new(RedisStore::connect(REDIS_URL, &prefix).await.unwrap());
            (store.clone(), Some(store), None)
        }
    }
}

async fn spawn_app(backend: Backend, options: Options) -> TestApp {
    let (store, redis, dir) = open_store(backend).await;
    spawn_app_on(store, redis, dir, options)
}

fn spawn_app_on(
    store: DynStore,
    redis: Option<Arc<RedisStore>>,
    dir: Option<tempfile::TempDir>,
    options: Options,
) -> TestApp {
    let refresher = Arc::new(options.refresher);
    let mut actor = WebhookActor::new(store.clone(), refresher.clone(), options.max_attempts)
        .with_retry_base(Duration::from_millis(10));
    if let Some(every) = options.rescan {
        actor = actor.with_rescan(every);
    }
    let actor = actor.start();
    let handler_store = match options.wrap_handler_store {
        Some(wrap) => wrap(store.clone()),
        None => store.clone(),
    };
    let state = WebhookState {
        store: handler_store,
        secret: options.secret,
        actor,
        deferred: Default::default(),
        settings: WebhookSettings {
            body_limit_bytes: BODY_LIMIT,
            dedup_ttl_secs: 3600,
            max_apply_attempts: options.max_attempts,
            rescan_secs: 60,
        },
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .configure(webhooks::configure)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    TestApp {
        address,
        client: reqwest::Client::new(),
        store,
        refresher,
        server: handle,
        redis,
        _dir: dir,
    }
}

impl TestApp {
    fn url(&self) -> String {
        format!("{}{ROUTE}", self.address)
    }

    /// Posts `body` as-is with the given headers.
    async fn post(
        &self,
        body: impl Into<reqwest::Body>,
        signature: Option<&str>,
        event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url())
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        if let Some(event_id) = event_id {
            request = request.header(EVENT_ID_HEADER, event_id);
        }
        request.send().await.unwrap()
    }

    /// Posts `body` with `Transfer-Encoding: chunked` (no Content-Length) over a plain socket,
    /// since the HTTP client here cannot stream a body. Returns the status and the raw response.
    async fn post_chunked(
        &self,
        body: &[u8],
        chunk_size: usize,
        signature: &str,
        event_id: Option<&str>,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = self.address.trim_start_matches("http://");
        let mut socket = tokio::net::TcpStream::connect(host).await.unwrap();
        let mut head = format!(
            "POST {ROUTE} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n{SIGNATURE_HEADER}: {signature}\r\n"
        );
        if let Some(event_id) = event_id {
            head.push_str(&format!("{EVENT_ID_HEADER}: {event_id}\r\n"));
        }
        head.push_str("\r\n");
        socket.write_all(head.as_bytes()).await.unwrap();
        for chunk in body.chunks(chunk_size) {
            // The server may answer 413 and close mid-body; later writes failing is expected.
            if socket
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .is_err()
                || socket.write_all(chunk).await.is_err()
                || socket.write_all(b"\r\n").await.is_err()
            {
                break;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response).await;
        let response = String::from_utf8_lossy(&response).to_string();
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {response:?}"));
        (status, response)
    }

    /// Posts `body` signed with the configured secret under a fresh event id, returning both.
    async fn post_signed(&self, body: &str) -> (String, reqwest::Response) {
        let event_id = uuid::Uuid::new_v4().to_string();
        let signature = sign(SECRET.as_bytes(), body.as_bytes());
        let response = self
            .post(body.to_string(), Some(&signature), Some(&event_id))
            .await;
        (event_id, response)
    }

    /// Posts a signed body, expects 200, and waits until the event is finished.
    async fn deliver(&self, body: &str) -> WebhookEvent {
        let (event_id, response) = self.post_signed(body).await;
        assert_eq!(
            response.status(),
            200,
            "{}",
            response.text().await.unwrap_or_default()
        );
        self.finished_event(&event_id).await
    }

    /// Waits until the event has a final status (applied, ignored or failed).
    async fn finished_event(&self, event_id: &str) -> WebhookEvent {
        wait_for(&format!("event {event_id} to finish"), || async {
            self.store
                .get_webhook_event(event_id)
                .await
                .unwrap()
                .filter(|e| {
                    matches!(
                        e.status,
                        WebhookEventStatus::Applied
                            | WebhookEventStatus::Ignored
                            | WebhookEventStatus::Failed
                    )
                })
        })
        .await
    }

    async fn shutdown(self) {
        self.server.stop(false).await;
        if let Some(redis) = &self.redis {
            redis.purge_prefix().await.unwrap();
        }
    }
}

/// Polls `probe` every 20 ms until it yields a value, for at most 5 s.
async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/greenhouse")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn webhook_fixtures() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greenhouse");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("webhook_") && n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

const HANDLED: [&str; 8] = [
    "webhook_job_created.json",
    "webhook_job_post_updated.json",
    "webhook_candidate_or_prospect_updated.json",
    "webhook_candidate_stage_change.json",
    "webhook_interview_deleted.json",
    "webhook_ping.json",
    // Purges: tests/privacy.rs covers them against the real purger.
    "webhook_candidate_deleted.json",
    "webhook_candidate_anonymized.json",
];

/// Runs a scenario once per store back end.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn embedded() {
                super::$name(super::Backend::Embedded).await;
            }

            #[actix_web::test]
            async fn redis() {
                super::$name(super::Backend::Redis).await;
            }
        }
    )*};
}

on_both_stores!(
    handled_fixtures_are_applied,
    interview_deleted_cancels_the_interview,
    unhandled_actions_are_ignored,
    forged_signature_is_refused_and_changes_nothing,
    duplicate_delivery_is_applied_once,
    refresher_failing_twice_then_succeeding_ends_applied,
    refresher_always_failing_ends_failed,
    unfinished_events_are_resumed_on_start,
    events_left_in_the_log_are_applied_by_the_rescan,
);

// ---------------------------------------------------------------- scenarios on both stores

async fn handled_fixtures_are_applied(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;

    let event = app.deliver(&fixture("webhook_job_created.json")).await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    assert_eq!(event.action, "job_created");
    assert_eq!(event.attempts, 1);
    let job: Job = app.store.get(371417).await.unwrap().unwrap();
    assert_eq!(job.name.as_deref(), Some("Software Engineer"));

    let event = app.deliver(&fixture("webhook_job_post_updated.json")).await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    let post: JobPost = app.store.get(1813002).await.unwrap().unwrap();
    assert_eq!(post.job_id, Some(1842002));
    assert_eq!(post.title.as_deref(), Some("A Cool Job"));

    let event = app
        .deliver(&fixture("webhook_candidate_or_prospect_updated.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    let candidate: Candidate = app.store.get(15696179).await.unwrap().unwrap();
    assert_eq!(candidate.last_name.as_deref(), Some("Ronnie"));
    assert_eq!(app.refresher.calls(), vec![Refresh::Candidate(15696179)]);
    let outcome = event.outcome.unwrap();
    assert!(
        outcome.contains("refreshed candidate 15696179: 2 interviews"),
        "{outcome}"
    );

    let event = app
        .deliver(&fixture("webhook_candidate_stage_change.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    let application: Application = app.store.get(265277).await.unwrap().unwrap();
    assert_eq!(application.candidate_id, Some(265772));
    let stage = application.current_stage.unwrap();
    assert_eq!(stage.name.as_deref(), Some("Assessment"));
    assert_eq!(
        stage.interviews[0]
            .interview_kit
            .as_ref()
            .unwrap()
            .content
            .as_deref(),
        Some("Assess their skills")
    );
    let candidate: Candidate = app.store.get(265772).await.unwrap().unwrap();
    assert_eq!(candidate.first_name.as_deref(), Some("Giuseppe"));
    assert_eq!(
        app.refresher.calls(),
        vec![Refresh::Candidate(15696179), Refresh::Application(265277)]
    );

    let event = app.deliver(&fixture("webhook_ping.json")).await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    let pings = app.store.webhook_pings().await.unwrap();
    assert_eq!(pings.len(), 1, "{pings:?}");
    assert_eq!(pings[0].web_hook_id, 9590);
    assert_eq!(pings[0].event, "Candidate has been hired");

    // Nothing else was touched: no interview, no extra entities.
    assert_eq!(app.store.count(EntityKind::Job).await.unwrap(), 1);
    assert_eq!(app.store.count(EntityKind::Candidate).await.unwrap(), 2);
    app.shutdown().await;
}

async fn interview_deleted_cancels_the_interview(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;
    let now = Utc::now();
    let start = now + chrono::Duration::days(1);
    let interview = Interview {
        id: 31087450,
        application_id: Some(4242),
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::hours(1),
        }),
        status: InterviewStatus::Scheduled,
        video_conferencing_url: Some("https://meet.example.com/abc".into()),
        ..Default::default()
    };
    let mut changes = app.store.subscribe_schedule().await.unwrap();
    app.store.upsert_interview(&interview).await.unwrap();
    let window = (now, now + chrono::Duration::days(2));
    let scheduled = app
        .store
        .interviews_starting_between(window.0, window.1)
        .await
        .unwrap();
    assert_eq!(
        scheduled.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![31087450]
    );

    let event = app
        .deliver(&fixture("webhook_interview_deleted.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    assert_eq!(
        event.outcome.as_deref(),
        Some("cancelled interview 31087450")
    );

    let scheduled = app
        .store
        .interviews_starting_between(window.0, window.1)
        .await
        .unwrap();
    assert!(scheduled.is_empty(), "still scheduled: {scheduled:?}");
    let stored = app.store.interviews_for_application(4242).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, InterviewStatus::Cancelled);
    let cancelled = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(change) = changes.next().await {
            if change.interview_id == 31087450 && change.kind == ScheduleChangeKind::Cancelled {
                return Some(change);
            }
        }
        None
    })
    .await
    .expect("no Cancelled change within 5 s");
    assert!(
        cancelled.is_some(),
        "schedule stream ended without a Cancelled change"
    );

    // The same deletion again (a new delivery) is harmless and says so.
    let event = app
        .deliver(&fixture("webhook_interview_deleted.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    let outcome = event.outcome.unwrap();
    assert!(outcome.contains("nothing to cancel"), "{outcome}");
    app.shutdown().await;
}

async fn unhandled_actions_are_ignored(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;
    let mut ignored = 0;
    for name in webhook_fixtures() {
        if HANDLED.contains(&name.as_str()) {
            continue;
        }
        let body = fixture(&name);
        let event = app.deliver(&body).await;
        assert_eq!(
            event.status,
            WebhookEventStatus::Ignored,
            "{name}: {event:?}"
        );
        let action: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(event.action, action["action"].as_str().unwrap(), "{name}");
        ignored += 1;
    }
    assert!(ignored >= 15, "only {ignored} unhandled fixtures");
    assert!(app.refresher.calls().is_empty());
    for kind in [
        EntityKind::Job,
        EntityKind::Candidate,
        EntityKind::Application,
        EntityKind::JobPost,
    ] {
        assert_eq!(app.store.count(kind).await.unwrap(), 0, "{kind:?}");
    }
    app.shutdown().await;
}

async fn forged_signature_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;
    let body = fixture("webhook_job_created.json");
    let event_id = uuid::Uuid::new_v4().to_string();

    let forged = sign(b"not the secret", body.as_bytes());
    let response = app.post(body.clone(), Some(&forged), Some(&event_id)).await;
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "the signature does not match the body");

    let response = app
        .post(body.clone(), Some("sha256 zz"), Some(&event_id))
        .await;
    assert_eq!(response.status(), 401);

    let response = app.post(body.clone(), None, Some(&event_id)).await;
    assert_eq!(response.status(), 401);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["error"], "the Signature header is missing");

    assert_eq!(app.store.get_webhook_event(&event_id).await.unwrap(), None);
    assert!(app
        .store
        .recent_webhook_events(10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(app.store.get::<Job>(371417).await.unwrap(), None);

    // The refused deliveries did not use up the event id: the genuine one is accepted.
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let response = app
        .post(body.clone(), Some(&signature), Some(&event_id))
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "accepted");
    assert_eq!(
        app.finished_event(&event_id).await.status,
        WebhookEventStatus::Applied
    );
    app.shutdown().await;
}

async fn duplicate_delivery_is_applied_once(backend: Backend) {
    let app = spawn_app(backend, Options::default()).await;
    let body = fixture("webhook_candidate_or_prospect_updated.json");
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let event_id = uuid::Uuid::new_v4().to_string();

    let first = app
        .post(body.clone(), Some(&signature), Some(&event_id))
        .await;
    assert_eq!(first.status(), 200);
    app.finished_event(&event_id).await;

    let second = app
        .post(body.clone(), Some(&signature), Some(&event_id))
        .await;
    assert_eq!(
        second.status(),
        200,
        "a repeat must still get 200 or Greenhouse retries"
    );
    let answer: Value = second.json().await.unwrap();
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(answer["event_id"], event_id.as_str());

    let event = app.finished_event(&event_id).await;
    assert_eq!(event.attempts, 1);
    assert_eq!(app.refresher.calls(), vec![Refresh::Candidate(15696179)]);
    assert_eq!(app.store.recent_webhook_events(10).await.unwrap().len(), 1);
    app.shutdown().await;
}

async fn refresher_failing_twice_then_succeeding_ends_applied(backend: Backend) {
    let options = Options {
        refresher: FakeRefresher::failing_first(2),
        max_attempts: 5,
        ..Default::default()
    };
    let app = spawn_app(backend, options).await;
    let event = app
        .deliver(&fixture("webhook_candidate_stage_change.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    assert_eq!(event.attempts, 3);
    let last_error = event.last_error.unwrap();
    assert!(
        last_error.contains("refreshing application 265277 failed: Greenhouse answered 503"),
        "{last_error}"
    );
    assert_eq!(app.refresher.calls(), vec![Refresh::Application(265277); 3]);
    assert!(app
        .store
        .get::<Application>(265277)
        .await
        .unwrap()
        .is_some());
    app.shutdown().await;
}

async fn refresher_always_failing_ends_failed(backend: Backend) {
    let options = Options {
        refresher: FakeRefresher::always_failing(),
        max_attempts: 3,
        ..Default::default()
    };
    let app = spawn_app(backend, options).await;
    let event = app
        .deliver(&fixture("webhook_candidate_or_prospect_updated.json"))
        .await;
    assert_eq!(event.status, WebhookEventStatus::Failed, "{event:?}");
    assert_eq!(event.attempts, 3);
    assert_eq!(
        event.last_error.as_deref(),
        Some("refreshing candidate 15696179 failed: Greenhouse answered 503")
    );
    assert_eq!(app.refresher.calls().len(), 3);
    // Failed, not lost: it is in the log for the dashboard.
    let log = app.store.recent_webhook_events(10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, WebhookEventStatus::Failed);
    assert!(app
        .store
        .unfinished_webhook_events(10)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}

async fn unfinished_events_are_resumed_on_start(backend: Backend) {
    // A previous run accepted these but stopped before applying them.
    let (store, redis, dir) = open_store(backend).await;
    let received_at = Utc::now() - chrono::Duration::minutes(5);
    for (id, status, file) in [
        (
            "resume-pending",
            WebhookEventStatus::Pending,
            "webhook_job_created.json",
        ),
        (
            "resume-retrying",
            WebhookEventStatus::Retrying,
            "webhook_interview_deleted.json",
        ),
    ] {
        let event = pending_event(id, &fixture(file), received_at);
        store
            .put_webhook_event(&WebhookEvent {
                status,
                attempts: u32::from(id == "resume-retrying"),
                ..event
            })
            .await
            .unwrap();
    }
    let app = spawn_app_on(store, redis, dir, Options::default());
    let event = app.finished_event("resume-pending").await;
    assert_eq!(event.status, WebhookEventStatus::Applied);
    assert!(app.store.get::<Job>(371417).await.unwrap().is_some());
    let event = app.finished_event("resume-retrying").await;
    assert_eq!(event.status, WebhookEventStatus::Applied);
    assert_eq!(event.attempts, 2);
    app.shutdown().await;
}

async fn events_left_in_the_log_are_applied_by_the_rescan(backend: Backend) {
    // Running, with a rescan every second: an event that is in the log but never reached the
    // actor (its mailbox was full, or its store writes failed past the retry limit) is applied
    // without waiting for a restart.
    let app = spawn_app(
        backend,
        Options {
            rescan: Some(Duration::from_secs(1)),
            ..Options::default()
        },
    )
    .await;
    let event = pending_event(
        "left-in-log",
        &fixture("webhook_job_created.json"),
        Utc::now() - chrono::Duration::minutes(1),
    );
    app.store.put_webhook_event(&event).await.unwrap();
    let event = app.finished_event("left-in-log").await;
    assert_eq!(event.status, WebhookEventStatus::Applied);
    assert_eq!(event.attempts, 1, "applied once: {event:?}");
    assert!(app.store.get::<Job>(371417).await.unwrap().is_some());
    app.shutdown().await;
}

// ---------------------------------------------------------------- handler edge cases (embedded)

#[actix_web::test]
async fn unicode_escaped_body_is_verified_on_the_raw_bytes() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    // Literal backslash-u escapes: re-serialising would turn them into "é" and break the HMAC.
    let body = r#"{"action":"update_candidate","payload":{"candidate":{"id":1,"first_name":"Jos\u00e9"}}}"#;
    let (event_id, response) = app.post_signed(body).await;
    assert_eq!(response.status(), 200);
    let event = app.finished_event(&event_id).await;
    assert_eq!(event.status, WebhookEventStatus::Applied, "{event:?}");
    assert_eq!(event.body, body, "the log keeps the body byte for byte");
    let candidate: Candidate = app.store.get(1).await.unwrap().unwrap();
    assert_eq!(candidate.first_name.as_deref(), Some("José"));
    app.shutdown().await;
}

#[actix_web::test]
async fn a_signed_body_replayed_without_an_event_id_is_a_duplicate() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    let body = fixture("webhook_job_created.json");
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let first = app.post(body.clone(), Some(&signature), None).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "accepted", "{first}");
    let replay = app.post(body.clone(), Some(&signature), None).await;
    assert_eq!(replay.status(), 200);
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["status"], "duplicate", "{replay}");
    assert_eq!(replay["event_id"], first["event_id"]);
    assert_eq!(app.store.recent_webhook_events(10).await.unwrap().len(), 1);
    app.shutdown().await;
}

#[actix_web::test]
async fn body_over_the_limit_is_refused() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    let padding = "x".repeat(BODY_LIMIT);
    let body = format!(r#"{{"action":"ping","payload":{{"web_hook_id":1,"event":"{padding}"}}}}"#);
    let signature = sign(SECRET.as_bytes(), body.as_bytes());

    // Refused on Content-Length, before reading.
    let response = app.post(body.clone(), Some(&signature), None).await;
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["error"],
        format!("body is larger than the limit of {BODY_LIMIT} bytes")
    );

    // Chunked, so no Content-Length: refused while streaming.
    let (status, _) = app
        .post_chunked(body.as_bytes(), 8 * 1024, &signature, None)
        .await;
    assert_eq!(status, 413);

    assert!(app
        .store
        .recent_webhook_events(10)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}

#[actix_web::test]
async fn chunked_body_within_the_limit_is_accepted() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    let body = fixture("webhook_job_created.json");
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let event_id = uuid::Uuid::new_v4().to_string();
    let (status, _) = app
        .post_chunked(body.as_bytes(), 100, &signature, Some(&event_id))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.finished_event(&event_id).await.status,
        WebhookEventStatus::Applied
    );
    app.shutdown().await;
}

#[actix_web::test]
async fn malformed_bodies_are_refused_with_400() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    for body in [
        r#"{"action": "job_created", "payload": {"#.as_bytes().to_vec(),
        br#"{"payload": {}}"#.to_vec(),
        br#"["not", "an", "object"]"#.to_vec(),
        b"{\"action\":\"ping\",\"payload\":{\"event\":\"\xff\"}}".to_vec(),
    ] {
        let signature = sign(SECRET.as_bytes(), &body);
        let response = app.post(body.clone(), Some(&signature), None).await;
        assert_eq!(response.status(), 400, "{}", String::from_utf8_lossy(&body));
        let error: Value = response.json().await.unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{error}"
        );
    }
    assert!(app
        .store
        .recent_webhook_events(10)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}

#[actix_web::test]
async fn missing_secret_answers_503_so_greenhouse_retries() {
    let options = Options {
        secret: Arc::new(NoSecret),
        ..Default::default()
    };
    let app = spawn_app(Backend::Embedded, options).await;
    let (event_id, response) = app.post_signed(&fixture("webhook_job_created.json")).await;
    assert_eq!(response.status(), 503);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("no webhook secret is configured"),
        "{error}"
    );
    assert_eq!(app.store.get_webhook_event(&event_id).await.unwrap(), None);
    app.shutdown().await;
}

#[actix_web::test]
async fn unsigned_ping_is_accepted_but_nothing_else_is() {
    // Greenhouse does not document whether it signs the ping; refusing it would create the
    // webhook disabled. Its only effect is a ping record.
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    let response = app.post(fixture("webhook_ping.json"), None, None).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let event_id = answer["event_id"].as_str().unwrap().to_string();
    assert!(
        event_id.starts_with("body-"),
        "an id named by the body's hash: {event_id}"
    );
    assert_eq!(
        app.finished_event(&event_id).await.status,
        WebhookEventStatus::Applied
    );
    assert_eq!(
        app.store.webhook_pings().await.unwrap()[0].web_hook_id,
        9590
    );

    let response = app
        .post(
            fixture("webhook_candidate_or_prospect_updated.json"),
            None,
            None,
        )
        .await;
    assert_eq!(response.status(), 401);
    app.shutdown().await;
}

#[actix_web::test]
async fn every_webhook_fixture_is_answered_200() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    for name in webhook_fixtures() {
        let (event_id, response) = app.post_signed(&fixture(&name)).await;
        assert_eq!(response.status(), 200, "{name}");
        let event = app.finished_event(&event_id).await;
        assert_ne!(
            event.status,
            WebhookEventStatus::Failed,
            "{name}: {event:?}"
        );
    }
    app.shutdown().await;
}

#[actix_web::test]
async fn unmappable_payload_fails_at_once_with_a_readable_error() {
    let app = spawn_app(Backend::Embedded, Options::default()).await;
    let event = app
        .deliver(r#"{"action":"interview_deleted","payload":{"interview":{}}}"#)
        .await;
    assert_eq!(event.status, WebhookEventStatus::Failed, "{event:?}");
    assert_eq!(
        event.attempts, 1,
        "the same body can never map, so no retries"
    );
    assert_eq!(
        event.last_error.as_deref(),
        Some("interview_deleted: payload has no `payload.interview.id`")
    );
    app.shutdown().await;
}

#[actix_web::test]
async fn event_log_failure_answers_503_and_leaves_the_event_id_unclaimed() {
    let options = Options {
        wrap_handler_store: Some(|inner| Arc::new(EventLogDown { inner })),
        ..Default::default()
    };
    let app = spawn_app(Backend::Embedded, options).await;
    let body = fixture("webhook_job_created.json");
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let event_id = uuid::Uuid::new_v4().to_string();
    let response = app
        .post(body.clone(), Some(&signature), Some(&event_id))
        .await;
    assert_eq!(response.status(), 503);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error["error"],
        "the event could not be recorded; retry later"
    );
    // Nothing was claimed: Greenhouse's retry of this delivery is not mistaken for a duplicate.
    let retry = app.post(body, Some(&signature), Some(&event_id)).await;
    assert_eq!(
        retry.status(),
        503,
        "still down for the wrapped handler store"
    );
    let event = WebhookEvent {
        id: event_id.clone(),
        action: "job_created".into(),
        received_at: chrono::Utc::now(),
        body: "{}".into(),
        status: WebhookEventStatus::Pending,
        attempts: 0,
        last_error: None,
        applied_at: None,
        outcome: None,
    };
    assert!(app
        .store
        .record_webhook_delivery(&event, Duration::from_secs(60))
        .await
        .unwrap());
    app.shutdown().await;
}

#[actix_web::test]
async fn try_apply_steps_through_retrying_to_failed() {
    let dir = tempfile::tempdir().unwrap();
    let store: DynStore = Arc::new(EmbeddedStore::open(&dir.path().join("s.redb")).unwrap());
    let refresher = FakeRefresher::always_failing();
    let body = fixture("webhook_candidate_or_prospect_updated.json");
    store
        .put_webhook_event(&pending_event("step", &body, Utc::now()))
        .await
        .unwrap();

    let first = try_apply(&store, &refresher, "step", 2).await.unwrap();
    assert!(
        matches!(first, StepOutcome::Retrying { attempts: 1, .. }),
        "{first:?}"
    );
    let logged = store.get_webhook_event("step").await.unwrap().unwrap();
    assert_eq!(logged.status, WebhookEventStatus::Retrying);
    assert_eq!(store.unfinished_webhook_events(10).await.unwrap().len(), 1);

    let second = try_apply(&store, &refresher, "step", 2).await.unwrap();
    assert!(
        matches!(second, StepOutcome::Failed { attempts: 2, .. }),
        "{second:?}"
    );

    // A finished event is left alone.
    let third = try_apply(&store, &refresher, "step", 2).await.unwrap();
    assert!(matches!(third, StepOutcome::Skipped { .. }), "{third:?}");
    assert_eq!(refresher.calls().len(), 2);

    let missing = try_apply(&store, &refresher, "nope", 2).await.unwrap();
    assert!(
        matches!(missing, StepOutcome::Skipped { .. }),
        "{missing:?}"
    );
}

fn pending_event(id: &str, body: &str, received_at: DateTime<Utc>) -> WebhookEvent {
    let action: Value = serde_json::from_str(body).unwrap();
    WebhookEvent {
        id: id.to_string(),
        action: action["action"].as_str().unwrap().to_string(),
        received_at,
        body: body.to_string(),
        status: WebhookEventStatus::Pending,
        attempts: 0,
        last_error: None,
        applied_at: None,
        outcome: None,
    }
}

/// A store whose event log refuses writes; everything else goes to `inner`.
struct EventLogDown {
    inner: DynStore,
}

#[async_trait]
impl Store for EventLogDown {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn put_raw(&self, kind: EntityKind, items: Vec<(Id, Vec<u8>)>) -> StoreResult<()> {
        self.inner.put_raw(kind, items).await
    }
    async fn get_raw(&self, kind: EntityKind, id: Id) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get_raw(kind, id).await
    }
    async fn delete_entity(&self, kind: EntityKind, id: Id) -> StoreResult<bool> {
        self.inner.delete_entity(kind, id).await
    }
    async fn list_ids(&self, kind: EntityKind) -> StoreResult<Vec<Id>> {
        self.inner.list_ids(kind).await
    }
    async fn count(&self, kind: EntityKind) -> StoreResult<u64> {
        self.inner.count(kind).await
    }
    async fn upsert_interview(&self, interview: &Interview) -> StoreResult<Option<ScheduleChange>> {
        self.inner.upsert_interview(interview).await
    }
    async fn cancel_interview(&self, id: Id) -> StoreResult<Option<ScheduleChange>> {
        self.inner.cancel_interview(id).await
    }
    async fn interviews_starting_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<Interview>> {
        self.inner.interviews_starting_between(from, to).await
    }
    async fn interviews_for_application(&self, application_id: Id) -> StoreResult<Vec<Interview>> {
        self.inner.interviews_for_application(application_id).await
    }
    async fn subscribe_schedule(&self) -> StoreResult<BoxStream<'static, ScheduleChange>> {
        self.inner.subscribe_schedule().await
    }
    async fn high_water_mark(&self, resource: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.inner.high_water_mark(resource).await
    }
    async fn set_high_water_mark(&self, resource: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.inner.set_high_water_mark(resource, at).await
    }
    async fn record_sync_run(&self, run: &SyncRun) -> StoreResult<()> {
        self.inner.record_sync_run(run).await
    }
    async fn recent_sync_runs(&self, limit: usize) -> StoreResult<Vec<SyncRun>> {
        self.inner.recent_sync_runs(limit).await
    }
    async fn record_webhook_delivery(
        &self,
        _event: &WebhookEvent,
        _ttl: Duration,
    ) -> StoreResult<bool> {
        Err(StoreError::Io(std::io::Error::other("disk full")))
    }
    async fn put_webhook_event(&self, _event: &WebhookEvent) -> StoreResult<()> {
        Err(StoreError::Io(std::io::Error::other("disk full")))
    }
    async fn get_webhook_event(&self, id: &str) -> StoreResult<Option<WebhookEvent>> {
        self.inner.get_webhook_event(id).await
    }
    async fn recent_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        self.inner.recent_webhook_events(limit).await
    }
    async fn unfinished_webhook_events(&self, limit: usize) -> StoreResult<Vec<WebhookEvent>> {
        self.inner.unfinished_webhook_events(limit).await
    }
    async fn record_webhook_ping(&self, ping: &WebhookPing) -> StoreResult<()> {
        self.inner.record_webhook_ping(ping).await
    }
    async fn webhook_pings(&self) -> StoreResult<Vec<WebhookPing>> {
        self.inner.webhook_pings().await
    }
    async fn integration_settings(&self) -> StoreResult<Option<IntegrationSettings>> {
        self.inner.integration_settings().await
    }
    async fn put_integration_settings(&self, settings: &IntegrationSettings) -> StoreResult<()> {
        self.inner.put_integration_settings(settings).await
    }
    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        self.inner.acquire_lease(name, owner, ttl).await
    }
    async fn renew_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        self.inner.renew_lease(name, owner, ttl).await
    }
    async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<bool> {
        self.inner.release_lease(name, owner).await
    }
    async fn lease_owner(&self, name: &str) -> StoreResult<Option<String>> {
        self.inner.lease_owner(name).await
    }
    async fn enqueue_note(&self, note: &panelist::poster::OutboxNote) -> StoreResult<bool> {
        self.inner.enqueue_note(note).await
    }
    async fn put_outbox_note(&self, note: &panelist::poster::OutboxNote) -> StoreResult<()> {
        self.inner.put_outbox_note(note).await
    }
    async fn get_outbox_note(
        &self,
        interview_id: Id,
    ) -> StoreResult<Option<panelist::poster::OutboxNote>> {
        self.inner.get_outbox_note(interview_id).await
    }
    async fn pending_outbox_notes(
        &self,
        limit: usize,
    ) -> StoreResult<Vec<panelist::poster::OutboxNote>> {
        self.inner.pending_outbox_notes(limit).await
    }
    async fn recent_outbox_notes(
        &self,
        limit: usize,
    ) -> StoreResult<Vec<panelist::poster::OutboxNote>> {
        self.inner.recent_outbox_notes(limit).await
    }
    async fn put_bot_run(&self, run: &panelist::supervisor::BotRun) -> StoreResult<()> {
        self.inner.put_bot_run(run).await
    }
    async fn get_bot_run(&self, id: Id) -> StoreResult<Option<panelist::supervisor::BotRun>> {
        self.inner.get_bot_run(id).await
    }
    async fn recent_bot_runs(
        &self,
        limit: usize,
    ) -> StoreResult<Vec<panelist::supervisor::BotRun>> {
        self.inner.recent_bot_runs(limit).await
    }
    async fn delete_outbox_note(&self, interview_id: Id) -> StoreResult<bool> {
        self.inner.delete_outbox_note(interview_id).await
    }
    async fn delete_bot_run(&self, interview_id: Id) -> StoreResult<bool> {
        self.inner.delete_bot_run(interview_id).await
    }
    async fn kv_put(
        &self,
        ns: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<()> {
        self.inner.kv_put(ns, key, value, ttl).await
    }
    async fn kv_get(&self, ns: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.inner.kv_get(ns, key).await
    }
    async fn kv_delete(&self, ns: &str, key: &str) -> StoreResult<bool> {
        self.inner.kv_delete(ns, key).await
    }
    async fn kv_list(&self, ns: &str) -> StoreResult<Vec<(String, Vec<u8>)>> {
        self.inner.kv_list(ns).await
    }
}
