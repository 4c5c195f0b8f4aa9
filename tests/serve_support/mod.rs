//! Real `panelist serve` processes for the fleet and chaos tests: spawned with an environment,
//! logging to a file, killed with SIGKILL or stopped with SIGTERM, and driven over HTTP like an
//! operator would. Also the fast fakes they run against: a transcription server that answers at
//! once, and speech-like test audio.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};

pub const ADMIN_TOKEN: &str = "serve-admin-token-0123456789";
pub const WEBHOOK_SECRET: &str = "whsec-chaos-0123456789";
pub const EMAIL: &str = "notetaker@acme.example";

/// Speech-like bursts at 48 kHz for `secs` seconds: 1.5 s of a warbling tone, 1 s of silence.
pub fn bursts(freq: f32, secs: usize) -> Arc<Vec<i16>> {
    let mut out = Vec::new();
    for _ in 0..(secs * 10 / 25) {
        for i in 0..72_000 {
            let t = i as f32 / 48_000.0;
            let f = freq * (1.0 + 0.05 * (t * 6.0).sin());
            out.push(((t * f * std::f32::consts::TAU).sin() * 8_000.0) as i16);
        }
        out.extend(std::iter::repeat_n(0, 48_000));
    }
    Arc::new(out)
}

/// A transcription server that answers every chunk at once with one segment (these tests measure
/// the orchestration, not Whisper).
pub fn fake_transcriber() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(|| {
        App::new()
            .app_data(web::PayloadConfig::new(32 << 20))
            .route(
                "/v1/audio/transcriptions",
                web::post().to(|| async {
                    HttpResponse::Ok().content_type("application/json").body(
                        json!({"text": "We built the payment service.", "segments": [
                            {"id": 0, "start": 0.0, "end": 1.2, "text": " We built the payment service."}
                        ]})
                        .to_string(),
                    )
                }),
            )
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// A port nobody listens on now (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The environment of a bot-running replica: fast timers, the fakes, loopback rooms allowed.
pub fn bot_env(
    fake: &panelist::fake_greenhouse::FakeHandle,
    transcriber: &str,
    chat_url: &str,
) -> Vec<(String, String)> {
    [
        ("PANELIST__SERVER__HOST", "127.0.0.1"),
        ("PANELIST__SERVER__SHUTDOWN_GRACE_SECS", "2"),
        ("PANELIST__SERVER__ADMIN_TOKEN", ADMIN_TOKEN),
        ("PANELIST__GREENHOUSE__HARVEST_BASE_URL", &fake.base_url()),
        ("PANELIST__GREENHOUSE__TOKEN_URL", &fake.token_url()),
        ("PANELIST__GREENHOUSE__REQUEST_TIMEOUT_SECS", "5"),
        ("PANELIST__SYNC__ENABLED", "false"),
        ("PANELIST__BOTS__ENABLED", "true"),
        // The test room listens on 127.0.0.1.
        ("PANELIST__BOTS__NETWORK__ALLOW_LOOPBACK", "true"),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", "1"),
        ("PANELIST__BOTS__RESCAN_SECS", "1"),
        ("PANELIST__BOTS__LEASE_SECS", "10"),
        ("PANELIST__BOTS__RETRY_BASE_SECS", "1"),
        ("PANELIST__BOTS__RETRY_MAX_SECS", "4"),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", "2"),
        // A call whose media went quiet without a goodbye (a BYE lost under load) still ends.
        ("PANELIST__BOTS__LEAVE__SILENCE_SECS", "20"),
        ("PANELIST__TRANSCRIPTION__ENGINE", "http"),
        ("PANELIST__TRANSCRIPTION__HTTP__BASE_URL", transcriber),
        ("PANELIST__NOTES__ENGINE", "openai"),
        ("PANELIST__NOTES__OPENAI__BASE_URL", chat_url),
        ("PANELIST__NOTES__OPENAI__RETRY_BASE_MS", "10"),
        ("PANELIST__POSTER__POLL_INTERVAL_SECS", "1"),
        ("PANELIST__WEBHOOKS__RESCAN_SECS", "2"),
        ("PANELIST__LOG__LEVEL", "info"),
        ("PANELIST__LOG__FORMAT", "json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Sets `key` in `env`, replacing an earlier value.
pub fn set(env: &mut Vec<(String, String)>, key: &str, value: &str) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_string(), value.to_string()));
}

/// One `panelist serve` process with a fixed port and data directory, so a restart is the same
/// replica as an operator's restart would be.
pub struct Serve {
    pub name: String,
    pub port: u16,
    pub data_dir: PathBuf,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    starts: u32,
    pub http: reqwest::Client,
}

impl Serve {
    pub fn new(name: &str, env: &[(String, String)], dir: &Path) -> Serve {
        let data_dir = dir.join(name);
        std::fs::create_dir_all(&data_dir).unwrap();
        Serve {
            name: name.to_string(),
            port: free_port(),
            data_dir,
            log_dir: dir.to_path_buf(),
            env: env.to_vec(),
            child: None,
            starts: 0,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
        }
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the process (again) and waits until it answers `/healthz`.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.starts += 1;
        let log = std::fs::File::create(
            self.log_dir
                .join(format!("{}-{}.log", self.name, self.starts)),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_panelist"))
            .arg("serve")
            .envs(self.env.iter().cloned())
            .env("PANELIST__SERVER__PORT", self.port.to_string())
            .env("PANELIST__DATA_DIR", &self.data_dir)
            .env("PANELIST__BOTS__REPLICA_ID", &self.name)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let up = self
                .http
                .get(format!("{}/healthz", self.address()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "{} exited at start ({status}); log in {}",
                    self.name,
                    self.log_dir.display()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} did not come up; log in {}",
                self.name,
                self.log_dir.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    pub fn api(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/api{path}", self.address()))
            .bearer_auth(ADMIN_TOKEN)
    }

    /// An API GET as JSON; `None` while the replica cannot answer (restarting, store down).
    pub async fn get_json(&self, path: &str) -> Option<Value> {
        let r = self.api(reqwest::Method::GET, path).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// Saves and verifies the v3 integration and the webhook secret, as an admin would.
    pub async fn connect_greenhouse(&self, fake: &panelist::fake_greenhouse::FakeHandle) {
        fake.upsert_user(&panelist::domain::User {
            id: 777,
            name: Some("Panelist Notetaker".into()),
            primary_email_address: Some(EMAIL.into()),
            ..Default::default()
        });
        let saved = self
            .api(reqwest::Method::PUT, "/settings/integration")
            .json(&json!({
                "api_version": "v3",
                "client_id": "test-client",
                "client_secret": "test-secret",
                "integration_user_email": EMAIL,
                "webhook_secret": WEBHOOK_SECRET,
            }))
            .send()
            .await
            .unwrap();
        assert!(
            saved.status().is_success(),
            "{}",
            saved.text().await.unwrap()
        );
        let verified = self
            .api(reqwest::Method::POST, "/settings/integration/verify")
            .send()
            .await
            .unwrap();
        assert!(
            verified.status().is_success(),
            "{}",
            verified.text().await.unwrap()
        );
    }

    /// Starts a full sync and waits for it to finish.
    pub async fn sync(&self) {
        let r = self
            .api(reqwest::Method::POST, "/sync")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Posts a signed webhook with this delivery id to the replica at `address`, as Greenhouse does:
/// anything but a 200 is retried (here every 500 ms, up to `patience`). Returns the tries it took.
pub async fn deliver_until_accepted(
    address: &str,
    event_id: &str,
    body: &str,
    patience: Duration,
) -> u32 {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let signature = panelist::webhooks::sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes());
    let deadline = tokio::time::Instant::now() + patience;
    let mut tries = 0;
    loop {
        tries += 1;
        let r = http
            .post(format!("{address}/webhooks/greenhouse"))
            .header("Content-Type", "application/json")
            .header(panelist::webhooks::SIGNATURE_HEADER, &signature)
            .header("Greenhouse-Event-ID", event_id)
            .body(body.to_string())
            .send()
            .await;
        if r.is_ok_and(|r| r.status().is_success()) {
            return tries;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhook {event_id} was never accepted ({tries} tries)"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Seeds the fake Greenhouse with candidate `10_000 + n`, application `20_000 + n` and interview
/// `30_000 + n` in `url`, starting at `start` and scheduled for 30 minutes.
pub fn seed_interview(
    fake: &panelist::fake_greenhouse::FakeHandle,
    n: i64,
    url: &str,
    start: chrono::DateTime<chrono::Utc>,
) {
    use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer};
    let candidate: Candidate = serde_json::from_value(json!({
        "id": 10_000 + n, "first_name": "Cand", "last_name": format!("Number{n}"),
        "updated_at": chrono::Utc::now(),
    }))
    .unwrap();
    let application: Application = serde_json::from_value(json!({
        "id": 20_000 + n, "candidate_id": 10_000 + n, "status": "active",
        "last_activity_at": chrono::Utc::now(),
    }))
    .unwrap();
    fake.upsert_candidate(&candidate);
    fake.upsert_application(&application);
    fake.upsert_interview(&Interview {
        id: 30_000 + n,
        application_id: Some(20_000 + n),
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::minutes(30),
        }),
        video_conferencing_url: Some(url.to_string()),
        interviewers: vec![Interviewer {
            id: 91,
            name: Some("Sarah Lindqvist".into()),
            ..Default::default()
        }],
        updated_at: Some(chrono::Utc::now()),
        ..Default::default()
    });
}

/// A Redis server of the test's own (so it can be stopped and restarted), persisting to `dir`
/// with an append-only file fsynced on every write, as a production Redis is configured.
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnRedis {
    pub fn start(dir: &Path) -> OwnRedis {
        let mut r = OwnRedis {
            port: free_port(),
            dir: dir.to_path_buf(),
            child: None,
        };
        std::fs::create_dir_all(dir).unwrap();
        r.restart();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port and data, and waits until it answers.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/test.sh installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Stops the server (SIGTERM: Redis finishes its append-only file and exits).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
