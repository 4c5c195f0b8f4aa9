//! Shared test harness: every test gets its own app on port 0, its own data directory, its own
//! store (embedded, or Redis under a unique prefix that is purged afterwards) and its own fake
//! Greenhouse.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use panelist::config::{self, Settings};
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse, FakeHandle};
use panelist::startup::Application;
use panelist::store::{DynStore, RedisStore};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
pub const V3_CLIENT: (&str, &str) = ("test-client", "test-secret");
pub const V1_KEY: &str = "test-key";

pub fn redis_url() -> String {
    std::env::var("PANELIST_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Embedded,
    Redis,
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub store: DynStore,
    pub fake: FakeHandle,
    pub settings: Settings,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    redis_prefix: Option<String>,
    server: actix_web::dev::ServerHandle,
}

/// Settings for a test: port 0, a temp data dir, the fake Greenhouse, no timer syncs.
pub fn test_settings(
    backend: Backend,
    data_dir: &std::path::Path,
    fake: &FakeHandle,
    extra: &[(&str, &str)],
) -> (Settings, Option<String>) {
    let prefix = format!("panelist-test-{}", uuid::Uuid::new_v4());
    let mut env: Vec<(String, String)> = vec![
        ("PANELIST__SERVER__PORT".into(), "0".into()),
        ("PANELIST__SERVER__HOST".into(), "127.0.0.1".into()),
        ("PANELIST__SERVER__SHUTDOWN_GRACE_SECS".into(), "1".into()),
        ("PANELIST__SERVER__ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        ("PANELIST__DATA_DIR".into(), data_dir.display().to_string()),
        ("PANELIST__SYNC__ENABLED".into(), "false".into()),
        // Tests that want bots turn them on (loading a speech model for every API test is waste).
        ("PANELIST__BOTS__ENABLED".into(), "false".into()),
        (
            "PANELIST__GREENHOUSE__HARVEST_BASE_URL".into(),
            fake.base_url(),
        ),
        ("PANELIST__GREENHOUSE__TOKEN_URL".into(), fake.token_url()),
        (
            "PANELIST__GREENHOUSE__REQUEST_TIMEOUT_SECS".into(),
            "5".into(),
        ),
        ("PANELIST__GREENHOUSE__MAX_RETRIES".into(), "2".into()),
        ("PANELIST__LOG__LEVEL".into(), "warn".into()),
    ];
    // Test rooms listen on 127.0.0.1. A test of the network policy itself says otherwise in `extra`
    // (layering sorts entries, so a second value for the key would not reliably win).
    const LOOPBACK: &str = "PANELIST__BOTS__NETWORK__ALLOW_LOOPBACK";
    if !extra.iter().any(|(k, _)| *k == LOOPBACK) {
        env.push((LOOPBACK.into(), "true".into()));
    }
    if backend == Backend::Redis {
        env.push(("PANELIST__STORE__REDIS_URL".into(), redis_url()));
        env.push(("PANELIST__STORE__KEY_PREFIX".into(), prefix.clone()));
    }
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    let settings = config::load(None, env).expect("test settings are valid");
    (settings, (backend == Backend::Redis).then_some(prefix))
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, FakeConfig::default(), &[]).await
}

pub async fn spawn_app_with(backend: Backend, fake: FakeConfig, extra: &[(&str, &str)]) -> TestApp {
    let fake = FakeGreenhouse::start(fake).expect("fake Greenhouse starts");
    let data_dir = tempfile::tempdir().unwrap();
    let (settings, redis_prefix) = test_settings(backend, data_dir.path(), &fake, extra);
    let app = Application::build(settings.clone())
        .await
        .expect("app builds");
    let port = app.port();
    let store = app.state().store.clone();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        store,
        fake,
        settings,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        data_dir,
        redis_prefix,
        server,
    }
}

impl TestApp {
    /// The data key the app seals with (generated into its data directory).
    pub fn data_key(&self) -> panelist::settings::DataKey {
        panelist::settings::DataKey::load_or_create(
            &self.settings.security.encryption_key,
            self.data_dir.path(),
        )
        .unwrap()
    }

    /// The app's transcripts, opened with its data key as the dashboard opens them.
    pub fn transcripts(&self) -> panelist::transcribe::TranscriptFiles {
        panelist::transcribe::TranscriptFiles::new(self.data_dir.path())
            .with_key(Some(self.data_key()))
    }

    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api{path}", self.address))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// Stops the server and removes this test's Redis keys.
    pub async fn shutdown(self) {
        self.server.stop(false).await;
        if let Some(prefix) = &self.redis_prefix {
            let store = RedisStore::connect(&redis_url(), prefix).await.unwrap();
            store.purge_prefix().await.unwrap();
        }
    }
}

/// Waits for a condition, polling; panics with `what` if it does not hold within `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
