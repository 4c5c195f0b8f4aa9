//! Consent as a state of the bot, with real components (fake Greenhouse, WebRTC test room, tiny.en,
//! a fake chat model): under `opt_in` no bot joins until the candidate agrees on the signed consent
//! page, then one does; a candidate who declines mid-call has the bot stopped and everything
//! recorded deleted, and no note reaches Greenhouse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod notes_support;
mod transcribe_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{eventually, spawn_app_with, Backend, TestApp};
use notes_support::{echo_candidate_model, FakeChat};
use panelist::consent::{ConsentDecision, ConsentLinks, Consents};
use panelist::domain::{Application, Candidate, Interview, InterviewTime, User};
use panelist::fake_greenhouse::FakeConfig;
use panelist::models::ModelName;
use panelist::store::StoreExt;
use panelist::supervisor::BotState;
use panelist_bots::room::{AudioSource, RoomConfig, RoomHandle, RoomParticipant, TestRoom};
use reqwest::Method;
use serde_json::json;
use transcribe_support::{model_dir, render_call};

const CANDIDATE: i64 = 5_801;
const APPLICATION: i64 = 6_801;
const INTERVIEW: i64 = 7_801;

async fn room(dir: &std::path::Path) -> RoomHandle {
    let call = render_call(dir);
    let participants = call
        .tracks
        .iter()
        .zip(["Sarah Lindqvist", "Daniel Okafor"])
        .map(|(t, name)| {
            let pcm: Arc<Vec<i16>> =
                Arc::new(t.samples.iter().flat_map(|s| [*s, *s, *s]).collect());
            RoomParticipant::new(
                name.split(' ').next().unwrap().to_lowercase(),
                name,
                AudioSource::Pcm(pcm),
            )
        })
        .collect();
    TestRoom::start(RoomConfig::new(participants))
        .await
        .unwrap()
}

const WEBHOOK_SECRET: &str = "whsec-consent-0123456789";

async fn app(chat: &FakeChat, policy: &str) -> TestApp {
    app_with(chat, policy, &[]).await
}

async fn app_with(chat: &FakeChat, policy: &str, extra: &[(&str, &str)]) -> TestApp {
    let models = model_dir(ModelName::TinyEn).display().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("PANELIST__BOTS__ENABLED", "true"),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", "1"),
        ("PANELIST__BOTS__RESCAN_SECS", "1"),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", "2"),
        ("PANELIST__TRANSCRIPTION__MODEL_DIR", &models),
        ("PANELIST__NOTES__ENGINE", "openai"),
        ("PANELIST__NOTES__OPENAI__BASE_URL", &chat.base_url),
        ("PANELIST__POSTER__POLL_INTERVAL_SECS", "1"),
        ("PANELIST__CONSENT__POLICY", policy),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with(Backend::Redis, FakeConfig::default(), &env).await;
    app.fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some("notetaker@acme.example".into()),
        ..Default::default()
    });
    let saved = app
        .api(Method::PUT, "/settings/integration")
        .json(
            &json!({"api_version": "v3", "client_id": "test-client", "client_secret": "test-secret",
            "integration_user_email": "notetaker@acme.example", "webhook_secret": WEBHOOK_SECRET}),
        )
        .send()
        .await
        .unwrap();
    assert!(saved.status().is_success());
    assert!(app
        .api(Method::POST, "/settings/integration/verify")
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    app
}

async fn schedule(app: &TestApp, url: &str) {
    app.fake.upsert_candidate(
        &serde_json::from_value::<Candidate>(json!({"id": CANDIDATE, "first_name": "Daniel", "last_name": "Okafor", "updated_at": Utc::now()}))
            .unwrap(),
    );
    app.fake.upsert_application(
        &serde_json::from_value::<Application>(json!({"id": APPLICATION, "candidate_id": CANDIDATE, "status": "active",
            "jobs": [{"id": 4001, "name": "Senior Backend Engineer"}], "last_activity_at": Utc::now()}))
        .unwrap(),
    );
    let start = Utc::now() + chrono::Duration::seconds(2);
    app.fake.upsert_interview(&Interview {
        id: INTERVIEW,
        application_id: Some(APPLICATION),
        start: Some(InterviewTime::DateTime { date_time: start }),
        end: Some(InterviewTime::DateTime {
            date_time: start + chrono::Duration::minutes(30),
        }),
        video_conferencing_url: Some(url.to_string()),
        updated_at: Some(Utc::now()),
        ..Default::default()
    });
    sync(app).await;
}

/// A sync now, as the Sync button starts one.
async fn sync(app: &TestApp) {
    assert!(app
        .api(Method::POST, "/sync")
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
}

/// Waits (up to a minute) until the interview's bot is in the call.
async fn bot_joins(app: &TestApp, what: &str) {
    let store = app.store.clone();
    eventually(what, Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            matches!(store.get_bot_run(INTERVIEW).await, Ok(Some(r)) if r.joined_at().is_some())
        }
    })
    .await;
}

async fn state_is(app: &TestApp, state: BotState, limit: Duration) {
    let store = app.store.clone();
    eventually(&format!("bot state {state}"), limit, || {
        let store = store.clone();
        async move { matches!(store.get_bot_run(INTERVIEW).await, Ok(Some(r)) if r.state == state) }
    })
    .await;
}

async fn answer(app: &TestApp, decision: &str) {
    let token = ConsentLinks::new(app.store.clone(), app.data_key())
        .token(CANDIDATE, Utc::now() + chrono::Duration::days(1))
        .await
        .unwrap();
    let page = app
        .http
        .get(format!("{}/consent/{token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("I agree to the recording"));
    // A tampered link is refused.
    let forged = token.replace(&CANDIDATE.to_string(), "5802");
    let res = app
        .http
        .get(format!("{}/consent/{forged}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .post(format!("{}/consent/{token}", app.address))
        .form(&[("decision", decision)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

#[actix_web::test]
async fn with_opt_in_no_bot_joins_until_the_candidate_agrees() {
    let audio = tempfile::tempdir().unwrap();
    let room = room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app(&chat, "opt_in").await;
    schedule(&app, room.whep_url().as_str()).await;
    state_is(&app, BotState::ConsentPending, Duration::from_secs(30)).await;
    // Past the start time, several rescans later: still no session in the room.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(room.stats().created, 0, "a bot joined without consent");
    let run = app.store.get_bot_run(INTERVIEW).await.unwrap().unwrap();
    assert_eq!(run.state, BotState::ConsentPending);
    assert!(run.reason().unwrap().contains("opt_in"), "{run:?}");

    answer(&app, "accept").await;
    let record = Consents::new(app.store.clone())
        .get(CANDIDATE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.decision, record.how.as_str()),
        (ConsentDecision::Granted, "link")
    );
    bot_joins(&app, "the bot joins after consent").await;
    assert_eq!(room.stats().created, 1);
    let run = app.store.get_bot_run(INTERVIEW).await.unwrap().unwrap();
    assert!(
        run.timeline
            .iter()
            .any(|c| c.detail.as_deref() == Some("consent granted")),
        "{run:?}"
    );
    room.shutdown().await;
    app.shutdown().await;
}

#[actix_web::test]
async fn a_decline_mid_call_stops_the_bot_and_deletes_the_recording() {
    let audio = tempfile::tempdir().unwrap();
    let room = room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app(&chat, "notify").await;
    schedule(&app, room.whep_url().as_str()).await;
    state_is(&app, BotState::InCall, Duration::from_secs(60)).await;
    let transcript = panelist::transcribe::TranscriptFiles::new(app.data_dir.path())
        .path(&INTERVIEW.to_string());
    let recordings = app
        .data_dir
        .path()
        .join("recordings")
        .join(INTERVIEW.to_string());
    eventually("words are transcribed", Duration::from_secs(60), || {
        let t = transcript.clone();
        async move { t.exists() }
    })
    .await;
    assert!(recordings.exists());

    answer(&app, "decline").await;
    // The bot leaves the room at once.
    assert!(
        room.wait_for(Duration::from_secs(15), |s| s.active() == 0)
            .await,
        "{:?}",
        room.stats()
    );
    // After the purge's second sweep, nothing recorded is left and no note was posted.
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(!transcript.exists(), "the transcript is still there");
    assert!(!recordings.exists(), "recordings are still there");
    assert!(app.store.get_bot_run(INTERVIEW).await.unwrap().is_none());
    assert!(app
        .store
        .get::<Candidate>(CANDIDATE)
        .await
        .unwrap()
        .is_none());
    assert!(
        app.fake.notes(CANDIDATE).is_empty(),
        "a note was posted after the decline"
    );
    // The answer itself is kept, so the next sync does not send a bot again.
    let record = Consents::new(app.store.clone())
        .get(CANDIDATE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.decision, ConsentDecision::Declined);
    room.shutdown().await;
    app.shutdown().await;
}

/// Consent recorded in Greenhouse: under `opt_in`, a candidate tag set there (picked up by the sync)
/// lets the bot join; a custom field set to "No" afterwards (arriving by webhook) stops the bot
/// and deletes what it recorded, as a decline on the consent page does.
#[actix_web::test]
async fn consent_set_in_greenhouse_by_tag_or_custom_field_is_honoured() {
    let audio = tempfile::tempdir().unwrap();
    let room = room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app_with(
        &chat,
        "opt_in",
        &[
            ("PANELIST__CONSENT__GREENHOUSE__GRANTED_TAG", "Recording OK"),
            (
                "PANELIST__CONSENT__GREENHOUSE__CUSTOM_FIELD",
                "recording_consent",
            ),
        ],
    )
    .await;
    schedule(&app, room.whep_url().as_str()).await;
    state_is(&app, BotState::ConsentPending, Duration::from_secs(30)).await;

    // The recruiter tags the candidate in Greenhouse; the next sync brings the tag.
    app.fake.upsert_candidate(
        &serde_json::from_value::<Candidate>(json!({"id": CANDIDATE, "first_name": "Daniel",
            "last_name": "Okafor", "tags": ["recording ok"], "updated_at": Utc::now()}))
        .unwrap(),
    );
    sync(&app).await;
    bot_joins(&app, "the bot joins after the tag").await;
    let record = Consents::new(app.store.clone())
        .get(CANDIDATE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.decision, record.how.as_str()),
        (ConsentDecision::Granted, "greenhouse_tag")
    );
    let recordings = app
        .data_dir
        .path()
        .join("recordings")
        .join(INTERVIEW.to_string());
    eventually("something is recorded", Duration::from_secs(30), || {
        let exists = recordings.exists();
        async move { exists }
    })
    .await;

    // Then the candidate says no, recorded in a custom field; Greenhouse sends the update.
    let body = json!({
        "action": "update_candidate",
        "payload": {"candidate": {"id": CANDIDATE, "first_name": "Daniel", "last_name": "Okafor",
            "tags": ["recording ok"], "updated_at": Utc::now(),
            "custom_fields": {"recording_consent": {"name": "Recording consent",
                "type": "single_select", "value": "No"}}}}
    })
    .to_string();
    let signature = panelist::webhooks::sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes());
    let res = app
        .http
        .post(format!("{}/webhooks/greenhouse", app.address))
        .header("Content-Type", "application/json")
        .header(panelist::webhooks::SIGNATURE_HEADER, signature)
        .header("Greenhouse-Event-ID", uuid::Uuid::new_v4().to_string())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    eventually(
        "the declined candidate's recordings are gone",
        Duration::from_secs(60),
        || {
            let gone = !recordings.exists();
            async move { gone }
        },
    )
    .await;
    let record = Consents::new(app.store.clone())
        .get(CANDIDATE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.decision, record.how.as_str()),
        (ConsentDecision::Declined, "greenhouse_field")
    );
    eventually("the bot has left", Duration::from_secs(30), || {
        let active = room.stats().active();
        async move { active == 0 }
    })
    .await;
    // The custom field itself was never stored.
    let stored = app.store.get::<Candidate>(CANDIDATE).await.unwrap();
    assert!(stored.is_none_or(|c| c.custom_fields.is_empty()));
    room.shutdown().await;
    app.shutdown().await;
}
