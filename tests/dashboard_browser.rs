//! The dashboard in a real browser (headless Debian Chromium through chromedriver): sign in, set up
//! the Greenhouse integration against the fake Greenhouse (save, Update shows the resolved user,
//! Sync shows its counts), watch a bot appear on the live board while a WebRTC test-room call runs,
//! and watch transcript lines arrive on its interview page, all without reloading. Screenshots of
//! each page are saved under `$CARGO_TARGET_TMPDIR/dashboard-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod notes_support;
mod transcribe_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{spawn_app_with, Backend, TestApp};
use fantoccini::{Client, ClientBuilder, Locator};
use notes_support::{echo_candidate_model, FakeChat};
use panelist::auth::{Role, Users};
use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer, User};
use panelist::fake_greenhouse::FakeConfig;
use panelist::models::ModelName;
use panelist_bots::room::{AudioSource, RoomConfig, RoomHandle, RoomParticipant, TestRoom};
use secrecy::SecretString;
use serde_json::json;
use transcribe_support::{model_dir, render_call};

const EMAIL: &str = "notetaker@acme.example";
const ADMIN: &str = "ana@acme.example";
const PASSWORD: &str = "correct horse battery staple";
const WEBHOOK_SECRET: &str = "whsec-browser-0123456789";
const CANDIDATE: i64 = 5_601;
const APPLICATION: i64 = 6_701;
const INTERVIEW: i64 = 7_301;

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian package chromium-driver; scripts/test.sh installs it)");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Driver { child, port };
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("chromedriver did not start listening");
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            // Root in a container: no sandbox; no GPU on these machines.
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a Chromium session")
}

fn shots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    let path = shots_dir().join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}

async fn wait_for(c: &Client, css: &str, limit: Duration) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(limit)
        .every(Duration::from_millis(200))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            shot(
                c,
                &format!(
                    "failed-waiting-{}",
                    css.replace(|ch: char| !ch.is_alphanumeric(), "_")
                ),
            )
            .await;
            panic!(
                "{css} did not appear within {limit:?}: {e}\n{}",
                c.source().await.unwrap_or_default()
            );
        }
    }
}

/// Polls until the element's text satisfies `ok`.
async fn wait_text(c: &Client, css: &str, limit: Duration, ok: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if ok(&t) {
                    return t;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            shot(c, "failed-text").await;
            panic!(
                "{css} never had the expected text\n{}",
                c.source().await.unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

fn to_48k(samples: &[i16]) -> Arc<Vec<i16>> {
    Arc::new(samples.iter().flat_map(|s| [*s, *s, *s]).collect())
}

async fn room(dir: &std::path::Path) -> RoomHandle {
    let call = render_call(dir);
    let names = ["Sarah Lindqvist (Acme)", "Daniel Okafor"];
    let participants = call
        .tracks
        .iter()
        .zip(names)
        .map(|(t, name)| {
            RoomParticipant::new(
                name.split(' ').next().unwrap().to_lowercase(),
                name,
                AudioSource::Pcm(to_48k(&t.samples)),
            )
        })
        .collect();
    TestRoom::start(RoomConfig::new(participants))
        .await
        .unwrap()
}

async fn app(chat: &FakeChat) -> TestApp {
    let models = model_dir(ModelName::TinyEn).display().to_string();
    let env: Vec<(&str, &str)> = vec![
        ("PANELIST__BOTS__ENABLED", "true"),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", "1"),
        ("PANELIST__BOTS__RESCAN_SECS", "1"),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", "2"),
        ("PANELIST__TRANSCRIPTION__MODEL_DIR", &models),
        ("PANELIST__TRANSCRIPTION__WORKERS", "2"),
        ("PANELIST__NOTES__ENGINE", "openai"),
        ("PANELIST__NOTES__OPENAI__BASE_URL", &chat.base_url),
        ("PANELIST__POSTER__POLL_INTERVAL_SECS", "1"),
        ("PANELIST__DASHBOARD__LIVE_REFRESH_MS", "500"),
    ];
    spawn_app_with(Backend::Redis, FakeConfig::default(), &env).await
}

fn seed(app: &TestApp, url: &str, starts_in: chrono::Duration) {
    app.fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some(EMAIL.into()),
        ..Default::default()
    });
    app.fake.upsert_candidate(
        &serde_json::from_value::<Candidate>(json!({
            "id": CANDIDATE, "first_name": "Daniel", "last_name": "Okafor", "updated_at": Utc::now(),
        }))
        .unwrap(),
    );
    app.fake.upsert_application(
        &serde_json::from_value::<Application>(json!({
            "id": APPLICATION, "candidate_id": CANDIDATE, "status": "active",
            "jobs": [{"id": 4001, "name": "Senior Backend Engineer"}], "last_activity_at": Utc::now(),
        }))
        .unwrap(),
    );
    let start = Utc::now() + starts_in;
    app.fake.upsert_interview(&Interview {
        id: INTERVIEW,
        application_id: Some(APPLICATION),
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::minutes(30),
        }),
        video_conferencing_url: Some(url.to_string()),
        interviewers: vec![Interviewer {
            id: 91,
            name: Some("Sarah Lindqvist".into()),
            email: Some("sarah.lindqvist@acme.example".into()),
            ..Default::default()
        }],
        updated_at: Some(Utc::now()),
        ..Default::default()
    });
}

#[actix_web::test]
async fn an_admin_sets_up_greenhouse_and_watches_a_call_live() {
    let audio = tempfile::tempdir().unwrap();
    let room = room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app(&chat).await;
    // Starts once the integration is set up: the sync below is what puts it on the schedule.
    seed(
        &app,
        room.whep_url().as_str(),
        chrono::Duration::seconds(40),
    );
    Users::new(app.store.clone())
        .create(ADMIN, SecretString::from(PASSWORD), Role::Admin)
        .await
        .unwrap();
    let driver = start_driver();
    let c = browser(&driver).await;
    let base = &app.address;

    // Signing in: the dashboard sends a stranger to the login page.
    c.goto(&format!("{base}/")).await.unwrap();
    wait_for(&c, "form[action='/login']", Duration::from_secs(10)).await;
    shot(&c, "01-login").await;
    fill(&c, "#email", ADMIN).await;
    fill(&c, "#password", PASSWORD).await;
    c.find(Locator::Css("form[action='/login'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, "h1", Duration::from_secs(10), |t| t == "Overview").await;
    shot(&c, "02-overview-empty").await;

    // Settings → Integrations: save, Update, Sync.
    c.goto(&format!("{base}/settings/integrations"))
        .await
        .unwrap();
    wait_for(&c, "#client_id", Duration::from_secs(10)).await;
    fill(&c, "#client_id", common::V3_CLIENT.0).await;
    fill(&c, "#client_secret", common::V3_CLIENT.1).await;
    fill(&c, "#email", EMAIL).await;
    fill(&c, "#webhook_secret", WEBHOOK_SECRET).await;
    c.find(Locator::Css("form.stack button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_text(&c, ".flash", Duration::from_secs(10), |t| {
        t.contains("Saved")
    })
    .await;
    c.find(Locator::Css(
        "form[action='/settings/integrations/verify'] button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let resolved = wait_text(&c, "#resolved-user", Duration::from_secs(20), |t| {
        !t.is_empty()
    })
    .await;
    assert_eq!(resolved, "Panelist Notetaker");
    let page = c.source().await.unwrap();
    assert!(
        !page.contains(WEBHOOK_SECRET) && !page.contains(common::V3_CLIENT.1),
        "no secret in the page"
    );
    shot(&c, "03-integrations-verified").await;
    c.find(Locator::Css(
        "form[action='/settings/integrations/sync'] button",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let counts = wait_text(&c, "#sync-counts", Duration::from_secs(30), |t| {
        t.contains("interviews")
    })
    .await;
    assert!(
        counts.contains("users") && counts.contains("candidates"),
        "{counts}"
    );
    shot(&c, "04-integrations-synced").await;

    // The overview, left open: the bot's card appears by itself when it joins.
    c.goto(&format!("{base}/")).await.unwrap();
    let upcoming = wait_text(
        &c,
        "[data-live='/live/upcoming']",
        Duration::from_secs(10),
        |t| t.contains("Okafor"),
    )
    .await;
    assert!(
        upcoming.contains("joins in")
            || upcoming.contains("in call")
            || upcoming.contains("joining"),
        "{upcoming}"
    );
    shot(&c, "05-overview-upcoming").await;
    let card = format!("article.card[data-interview='{INTERVIEW}']");
    wait_for(&c, &card, Duration::from_secs(90)).await;
    let text = wait_text(&c, &card, Duration::from_secs(30), |t| {
        t.contains("in call") && t.contains("Daniel Okafor")
    })
    .await;
    assert!(text.contains("Sarah Lindqvist"), "{text}");
    shot(&c, "06-board-bot-in-call").await;

    // Its interview page: transcript lines arrive while the call runs.
    // The board re-renders twice a second, so an element found now may be replaced before a click
    // lands: follow the card's link instead of clicking it.
    let href = loop {
        if let Ok(link) = c.find(Locator::Css(&format!("{card} h3 a"))).await {
            if let Ok(Some(h)) = link.attr("href").await {
                break h;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(href, format!("/interviews/{INTERVIEW}"));
    c.goto(&format!("{base}{href}")).await.unwrap();
    wait_for(
        &c,
        "#transcript-live .transcript p.line",
        Duration::from_secs(90),
    )
    .await;
    let first = c
        .find_all(Locator::Css("#transcript-live p.line"))
        .await
        .unwrap()
        .len();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let now = c
            .find_all(Locator::Css("#transcript-live p.line"))
            .await
            .unwrap()
            .len();
        if now > first {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new transcript line arrived"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Both speakers, named after the Greenhouse interviewer and candidate.
    wait_text(&c, "#transcript-live", Duration::from_secs(60), |t| {
        t.contains("Daniel Okafor:") && t.contains("Sarah Lindqvist:")
    })
    .await;
    assert!(c
        .find(Locator::Css(
            "figure[aria-label='Talk time per speaker'] .bar"
        ))
        .await
        .is_ok());
    shot(&c, "07-interview-live-transcript").await;
    // WHEP cannot carry the spoken notice; the page says so.
    wait_text(&c, "#bot-live", Duration::from_secs(30), |t| {
        t.contains("In-call notice: not given") && t.contains("receive-only")
    })
    .await;

    // Settings → Consent: the policy is chosen from a list and saved.
    c.goto(&format!("{base}/settings/consent")).await.unwrap();
    wait_text(&c, "h1", Duration::from_secs(10), |t| t == "Consent").await;
    c.find(Locator::Css("select#policy"))
        .await
        .unwrap()
        .select_by_value("opt_out")
        .await
        .unwrap();
    c.find(Locator::Css(
        "form[action='/settings/consent'] button[type=submit]",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_text(&c, ".flash", Duration::from_secs(10), |t| {
        t.contains("Saved")
    })
    .await;
    let chosen = c
        .find(Locator::Css("select#policy option[selected]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("opt_out"));
    shot(&c, "09-consent-settings").await;

    // The audit log names who changed it and who looked at the transcript.
    c.goto(&format!("{base}/settings/audit")).await.unwrap();
    let log = wait_text(&c, "table#audit", Duration::from_secs(10), |t| {
        t.contains("changed settings") && t.contains("viewed a transcript")
    })
    .await;
    assert!(log.contains(ADMIN), "{log}");
    shot(&c, "10-audit-log").await;

    // Readable at phone width.
    c.set_window_size(390, 844).await.unwrap();
    c.goto(&format!("{base}/")).await.unwrap();
    wait_text(&c, "h1", Duration::from_secs(10), |t| t == "Overview").await;
    shot(&c, "08-overview-phone").await;
    c.close().await.unwrap();
    drop(room);
    app.shutdown().await;
}
