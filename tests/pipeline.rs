//! The whole product on one machine, with real components: the fake Greenhouse serves an
//! interview, the sync (or a webhook) puts it in the schedule, the supervisor sends a bot into the
//! WebRTC test room at the scheduled time, the real tiny.en model transcribes both speakers, a
//! fake OpenAI-compatible model writes the notes from the transcript it is shown, and the fake
//! Greenhouse receives exactly one note holding words spoken in the call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod notes_support;
mod transcribe_support;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{eventually, spawn_app_with, Backend, TestApp};
use notes_support::{echo_candidate_model, FakeChat};
use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer, User};
use panelist::fake_greenhouse::FakeConfig;
use panelist::models::ModelName;
use panelist::store::StoreExt;
use panelist::supervisor::BotState;
use panelist_bots::room::{AudioSource, RoomConfig, RoomHandle, RoomParticipant, TestRoom};
use reqwest::Method;
use serde_json::{json, Value};
use transcribe_support::{model_dir, render_call};

const EMAIL: &str = "notetaker@acme.example";
const CANDIDATE: i64 = 5_501;
const APPLICATION: i64 = 6_601;

/// 16 kHz to the room's 48 kHz (each sample three times; the bot's resampler filters the images).
fn to_48k(samples: &[i16]) -> Arc<Vec<i16>> {
    Arc::new(samples.iter().flat_map(|s| [*s, *s, *s]).collect())
}

/// The rendered two-voice interview as a room: the interviewer and the candidate join at once and
/// leave when their track ends.
async fn interview_room(dir: &std::path::Path) -> (RoomHandle, transcribe_support::Call) {
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
    let room = TestRoom::start(RoomConfig::new(participants))
        .await
        .unwrap();
    (room, call)
}

async fn app_with_bots(backend: Backend, chat: &FakeChat, extra: &[(&str, &str)]) -> TestApp {
    let models = model_dir(ModelName::TinyEn);
    let models = models.display().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("PANELIST__BOTS__ENABLED", "true"),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", "1"),
        ("PANELIST__BOTS__RESCAN_SECS", "1"),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", "2"),
        ("PANELIST__TRANSCRIPTION__MODEL_DIR", &models),
        ("PANELIST__TRANSCRIPTION__WORKERS", "2"),
        ("PANELIST__NOTES__ENGINE", "openai"),
        ("PANELIST__NOTES__OPENAI__BASE_URL", &chat.base_url),
        ("PANELIST__NOTES__OPENAI__RETRY_BASE_MS", "10"),
        ("PANELIST__POSTER__POLL_INTERVAL_SECS", "1"),
    ];
    env.extend_from_slice(extra);
    let app = spawn_app_with(backend, FakeConfig::default(), &env).await;
    // The integration user the notes are posted as, verified as the settings page does.
    app.fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some(EMAIL.into()),
        ..Default::default()
    });
    let saved = app
        .api(Method::PUT, "/settings/integration")
        .json(&json!({
            "api_version": "v3",
            "client_id": "test-client",
            "client_secret": "test-secret",
            "integration_user_email": EMAIL,
            "webhook_secret": "whsec-0123456789abcdef",
        }))
        .send()
        .await
        .unwrap();
    assert!(
        saved.status().is_success(),
        "{}",
        saved.text().await.unwrap()
    );
    let verified = app
        .api(Method::POST, "/settings/integration/verify")
        .send()
        .await
        .unwrap();
    assert!(
        verified.status().is_success(),
        "{}",
        verified.text().await.unwrap()
    );
    app
}

/// Every track file of an interview's recordings, all attempts.
fn recorded_tracks(data_dir: &std::path::Path, id: i64) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let root = data_dir.join("recordings").join(id.to_string());
    for attempt in std::fs::read_dir(root).unwrap().flatten() {
        for f in std::fs::read_dir(attempt.path()).unwrap().flatten() {
            if f.file_name() != "manifest.json" {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

/// The candidate and application an interview belongs to, in the fake Greenhouse.
fn seed_candidate(app: &TestApp) {
    app.fake.upsert_candidate(
        &serde_json::from_value::<Candidate>(json!({
            "id": CANDIDATE, "first_name": "Daniel", "last_name": "Okafor",
            "updated_at": Utc::now(),
        }))
        .unwrap(),
    );
    app.fake.upsert_application(
        &serde_json::from_value::<Application>(json!({
            "id": APPLICATION, "candidate_id": CANDIDATE, "status": "active",
            "jobs": [{"id": 4001, "name": "Senior Backend Engineer"}],
            "last_activity_at": Utc::now(),
        }))
        .unwrap(),
    );
}

fn interview(id: i64, url: &str, starts_in: Duration) -> Interview {
    let start = Utc::now() + chrono::Duration::from_std(starts_in).unwrap();
    Interview {
        id,
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
    }
}

async fn sync_now(app: &TestApp) {
    let r = app.api(Method::POST, "/sync").send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[actix_web::test]
async fn a_scheduled_interview_gets_one_bot_and_its_notes_land_in_greenhouse() {
    let audio = tempfile::tempdir().unwrap();
    let (room, call) = interview_room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app_with_bots(Backend::Redis, &chat, &[]).await;
    seed_candidate(&app);
    let id = 7_001;
    app.fake.upsert_interview(&interview(
        id,
        room.whep_url().as_str(),
        Duration::from_secs(4),
    ));
    sync_now(&app).await;

    // The bot joins at the scheduled time, stays for the call, and leaves once alone.
    let store = app.store.clone();
    eventually("the bot is in the call", Duration::from_secs(60), || {
        let store = store.clone();
        async move { matches!(store.get_bot_run(id).await, Ok(Some(r)) if r.joined_at().is_some()) }
    })
    .await;
    let limit = Duration::from_millis(call.duration_ms) + Duration::from_secs(240);
    let fake = app.fake.clone();
    eventually("a note in Greenhouse", limit, || {
        let n = fake.notes(CANDIDATE).len();
        async move { n > 0 }
    })
    .await;
    // Give a duplicate time to show up, then check there is exactly one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let notes = app.fake.notes(CANDIDATE);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let body = &notes[0].body;
    assert!(
        body.starts_with(&format!("[Panelist notes · interview {id}]")),
        "{body}"
    );
    // Words the candidate spoke, transcribed from the call and carried into the note.
    let lower = body.to_lowercase();
    assert!(
        ["lead", "payment", "team", "service"]
            .iter()
            .any(|w| lower.contains(w)),
        "no spoken words in the note:\n{body}"
    );
    assert!(body.contains("Sarah Lindqvist"), "{body}");

    // The bot's record: the full timeline, the matched speakers, and why it left.
    let run = app.store.get_bot_run(id).await.unwrap().unwrap();
    let states: Vec<BotState> = run.timeline.iter().map(|c| c.state).collect();
    assert_eq!(
        states,
        [
            BotState::Scheduled,
            BotState::Joining,
            BotState::InCall,
            BotState::Leaving,
            BotState::Done
        ],
        "{run:?}"
    );
    assert!(run.reason().unwrap().contains("alone"), "{run:?}");
    let mut people = run.figures.participants.clone();
    people.sort();
    assert_eq!(people, ["Daniel Okafor", "Sarah Lindqvist"]);
    assert!(run.figures.audio_frames > 1000, "{run:?}");
    let latency = run.figures.join_latency_ms.unwrap();
    assert!(latency.abs() < 10_000, "joined {latency} ms from the start");

    // The transcript names each speaker as Greenhouse does.
    let segments = app.transcripts().load(&id.to_string()).unwrap();
    assert!(segments.len() >= 5, "{segments:?}");
    for s in &segments {
        assert!(
            s.speaker == "Daniel Okafor" || s.speaker == "Sarah Lindqvist",
            "{s:?}"
        );
    }
    // One bot joined: the room saw one session.
    assert_eq!(room.stats().created, 1, "{:?}", room.stats());
    // WHEP is receive-only: the record says no spoken notice was given, and why.
    let notice = run.notice.clone().expect("no notice outcome recorded");
    assert!(
        !notice.given && notice.detail.contains("receive-only"),
        "{notice:?}"
    );

    // At rest, neither the transcript nor the recording can be read without the key.
    let raw = std::fs::read_to_string(app.transcripts().path(&id.to_string())).unwrap();
    assert!(
        !raw.contains("Sarah Lindqvist") && !raw.contains(&segments[0].text),
        "plain words in the transcript file:\n{raw}"
    );
    let tracks = recorded_tracks(app.data_dir.path(), id);
    assert_eq!(tracks.len(), 2, "{tracks:?}");
    for track in &tracks {
        assert!(
            track.to_string_lossy().ends_with(".opus.sealed"),
            "{}",
            track.display()
        );
        let bytes = std::fs::read(track).unwrap();
        assert!(
            !bytes.windows(4).any(|w| w == b"OggS"),
            "an Ogg page in the clear"
        );
        assert!(!bytes.windows(5).any(|w| w == b"Sarah" || w == b"Okafo"));
        let without_key = panelist::transcribe::decode::decode_file(track).unwrap_err();
        assert!(
            without_key.to_string().contains("encrypted at rest"),
            "{without_key}"
        );
        let wrong = panelist::settings::DataKey::from_bytes(&[9u8; 32]).unwrap();
        assert!(panelist::transcribe::decode::decode_file_with_keys(
            track,
            &wrong.recording_keys()
        )
        .is_err());
        let opened = panelist::transcribe::decode::decode_file_with_keys(
            track,
            &app.data_key().recording_keys(),
        )
        .unwrap();
        assert!(opened.duration_secs() > 5.0, "{}", opened.duration_secs());
        assert!(opened.speaker.is_some(), "the track names its speaker");
    }

    // Operators see the same through the API and the metrics.
    let bots: Value = app
        .api(Method::GET, "/bots")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bots[0]["interview_id"], id, "{bots}");
    assert_eq!(bots[0]["state"], "done", "{bots}");
    let transcript: Value = app
        .api(Method::GET, &format!("/interviews/{id}/transcript"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        transcript["segments"].as_array().unwrap().len(),
        segments.len()
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("panelist_bots{state=\"done\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("panelist_hangup_to_note_seconds_count 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("panelist_notes{status=\"posted\"} 1"),
        "{metrics}"
    );
    room.shutdown().await;
    app.shutdown().await;
}

#[actix_web::test]
async fn a_cancelled_interview_stops_its_bot_before_and_during_the_call() {
    let audio = tempfile::tempdir().unwrap();
    let (room, _call) = interview_room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app_with_bots(Backend::Embedded, &chat, &[]).await;
    seed_candidate(&app);
    let url = room.whep_url().to_string();
    let soon = 7_101;
    let later = 7_102;
    app.fake
        .upsert_interview(&interview(soon, &url, Duration::from_secs(3)));
    app.fake
        .upsert_interview(&interview(later, &url, Duration::from_secs(3600)));
    sync_now(&app).await;
    let store = app.store.clone();
    eventually(
        "the first bot is in the call",
        Duration::from_secs(60),
        || {
            let store = store.clone();
            async move {
                matches!(store.get_bot_run(soon).await, Ok(Some(r)) if r.state == BotState::InCall)
            }
        },
    )
    .await;

    // Greenhouse deletes both; the store applies it as a webhook would.
    for id in [soon, later] {
        app.store.cancel_interview(id).await.unwrap();
    }
    eventually("the bot in the call is cancelled", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            matches!(store.get_bot_run(soon).await, Ok(Some(r)) if r.state.is_final())
        }
    })
    .await;
    let run = app.store.get_bot_run(soon).await.unwrap().unwrap();
    assert_eq!(run.state, BotState::Cancelled, "{run:?}");
    eventually("the room session is gone", Duration::from_secs(10), || {
        let active = room.stats().active();
        async move { active == 0 }
    })
    .await;
    // The later one never gets a bot.
    assert!(app.store.get_bot_run(later).await.unwrap().is_none());
    room.shutdown().await;
    app.shutdown().await;
}

#[actix_web::test]
async fn a_meeting_no_connector_serves_is_recorded_as_unsupported() {
    let chat = FakeChat::start(vec![]).await;
    let app = app_with_bots(Backend::Redis, &chat, &[]).await;
    seed_candidate(&app);
    let id = 7_201;
    app.fake.upsert_interview(&interview(
        id,
        "https://acme.zoom.us/j/123456789",
        Duration::from_secs(2),
    ));
    sync_now(&app).await;
    let store = app.store.clone();
    eventually("the bot record", Duration::from_secs(30), || {
        let store = store.clone();
        async move { matches!(store.get_bot_run(id).await, Ok(Some(_))) }
    })
    .await;
    let run = app.store.get_bot_run(id).await.unwrap().unwrap();
    assert_eq!(run.state, BotState::UnsupportedPlatform);
    assert!(
        run.reason().unwrap().to_lowercase().contains("zoom"),
        "{run:?}"
    );
    app.shutdown().await;
}

/// Posts a Greenhouse webhook signed with the secret the settings hold.
async fn deliver(app: &TestApp, body: &str) {
    let signature = panelist::webhooks::sign(b"whsec-0123456789abcdef", body.as_bytes());
    let r = app
        .http
        .post(format!("{}/webhooks/greenhouse", app.address))
        .header("Content-Type", "application/json")
        .header(panelist::webhooks::SIGNATURE_HEADER, signature)
        .header("Greenhouse-Event-ID", uuid::Uuid::new_v4().to_string())
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

/// Greenhouse's `candidate_stage_change` example, moved onto this test's candidate.
fn stage_change() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/greenhouse/webhook_candidate_stage_change.json"
    ))
    .unwrap()
    .replace("265277", &APPLICATION.to_string())
    .replace("265772", &CANDIDATE.to_string())
}

fn interview_deleted(id: i64) -> String {
    json!({"action": "interview_deleted", "payload": {"interview": {"id": id}}}).to_string()
}

#[actix_web::test]
async fn webhooks_bring_a_new_interview_a_bot_and_deletions_stop_bots() {
    let audio = tempfile::tempdir().unwrap();
    let (room, _call) = interview_room(audio.path()).await;
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let app = app_with_bots(Backend::Redis, &chat, &[]).await;
    seed_candidate(&app);
    let url = room.whep_url().to_string();
    // Greenhouse has two new interviews the store has not seen: no sync runs in this test.
    let now_id = 7_301;
    let later_id = 7_302;
    app.fake
        .upsert_interview(&interview(now_id, &url, Duration::from_secs(3)));
    app.fake
        .upsert_interview(&interview(later_id, &url, Duration::from_secs(3600)));

    // The stage change makes Panelist refresh the application's interviews and find both.
    deliver(&app, &stage_change()).await;
    let store = app.store.clone();
    eventually("the new interview's bot is in the call", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            matches!(store.get_bot_run(now_id).await, Ok(Some(r)) if r.state == BotState::InCall)
        }
    })
    .await;
    let later: Option<Interview> = app.store.get(later_id).await.unwrap();
    assert!(
        later.is_some(),
        "the refresh stored the later interview too"
    );

    // Deleting the later one clears its timer: it never gets a bot.
    deliver(&app, &interview_deleted(later_id)).await;
    // Deleting the one in the call stops its bot.
    deliver(&app, &interview_deleted(now_id)).await;
    eventually("the bot in the call stops", Duration::from_secs(20), || {
        let store = store.clone();
        async move {
            matches!(store.get_bot_run(now_id).await, Ok(Some(r)) if r.state == BotState::Cancelled)
        }
    })
    .await;
    eventually("the room session is gone", Duration::from_secs(10), || {
        let active = room.stats().active();
        async move { active == 0 }
    })
    .await;
    assert!(app.store.get_bot_run(later_id).await.unwrap().is_none());
    assert_eq!(room.stats().created, 1, "{:?}", room.stats());
    room.shutdown().await;
    app.shutdown().await;
}
