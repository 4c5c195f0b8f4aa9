//! A fleet: three `panelist serve` processes on one Redis share 20 interviews. Each interview gets
//! exactly one bot; `kill -9` of one replica mid-call hands its interviews to the others once the
//! leases expire, and every interview still ends with exactly one note in Greenhouse.
//!
//! Real processes, a real Redis, real WebRTC sessions into the test room; transcription goes to a
//! fast fake OpenAI-compatible server (this test measures the orchestration, not Whisper), notes to
//! the fake chat model.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod notes_support;
mod serve_support;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use common::{eventually, redis_url};
use notes_support::{echo_candidate_model, FakeChat};
use panelist::config;
use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer, User};
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse};
use panelist::settings::{ApiVersion, SettingsUpdate};
use panelist::startup::Core;
use panelist::store::{RedisStore, StoreExt};
use panelist::supervisor::BotState;
use panelist_bots::room::{AudioSource, RoomConfig, RoomParticipant, TestRoom};
use secrecy::SecretString;
use serde_json::json;
use serve_support::{bursts, fake_transcriber};

const INTERVIEWS: i64 = 20;
const REPLICAS: usize = 3;
const CALL_SECS: usize = 40;
/// 32 zero bytes, base64: every replica must read the secrets the others saved.
const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

struct Replica {
    name: String,
    child: Child,
}

fn spawn_replica(name: &str, env: &[(String, String)], dir: &std::path::Path) -> Replica {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_panelist"))
        .arg("serve")
        .envs(env.iter().cloned())
        .env("PANELIST__DATA_DIR", &data)
        .env("PANELIST__BOTS__REPLICA_ID", name)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    Replica {
        name: name.to_string(),
        child,
    }
}

#[actix_web::test]
async fn three_replicas_send_one_bot_per_interview_and_survive_a_kill() {
    let prefix = format!("panelist-fleet-{}", uuid::Uuid::new_v4());
    let fake = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_candidate_model);
    let transcriber = fake_transcriber();
    let room = TestRoom::start(RoomConfig::new(vec![
        RoomParticipant::new(
            "sarah",
            "Sarah Lindqvist",
            AudioSource::Pcm(bursts(220.0, CALL_SECS)),
        ),
        RoomParticipant::new(
            "cand",
            "Candidate",
            AudioSource::Pcm(bursts(330.0, CALL_SECS)),
        ),
    ]))
    .await
    .unwrap();
    // Kept when the test fails (removed at the end of a passing run), for the replicas' logs.
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(&prefix);
    std::fs::create_dir_all(&dir).unwrap();
    eprintln!("replica logs in {}", dir.display());
    let env: Vec<(String, String)> = [
        ("PANELIST__SERVER__PORT", "0"),
        ("PANELIST__SERVER__SHUTDOWN_GRACE_SECS", "2"),
        ("PANELIST__STORE__REDIS_URL", &redis_url()),
        ("PANELIST__STORE__KEY_PREFIX", &prefix),
        ("PANELIST__SECURITY__ENCRYPTION_KEY", KEY),
        ("PANELIST__GREENHOUSE__HARVEST_BASE_URL", &fake.base_url()),
        ("PANELIST__GREENHOUSE__TOKEN_URL", &fake.token_url()),
        ("PANELIST__SYNC__ENABLED", "false"),
        ("PANELIST__BOTS__ENABLED", "true"),
        // The test room listens on 127.0.0.1.
        ("PANELIST__BOTS__NETWORK__ALLOW_LOOPBACK", "true"),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", "1"),
        ("PANELIST__BOTS__RESCAN_SECS", "1"),
        ("PANELIST__BOTS__LEASE_SECS", "10"),
        ("PANELIST__BOTS__RECORD", "false"),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", "2"),
        // A call whose media went quiet without a goodbye (a BYE lost under load) still ends.
        ("PANELIST__BOTS__LEAVE__SILENCE_SECS", "20"),
        ("PANELIST__TRANSCRIPTION__ENGINE", "http"),
        ("PANELIST__TRANSCRIPTION__HTTP__BASE_URL", &transcriber),
        ("PANELIST__NOTES__ENGINE", "openai"),
        ("PANELIST__NOTES__OPENAI__BASE_URL", &chat.base_url),
        ("PANELIST__NOTES__OPENAI__RETRY_BASE_MS", "10"),
        ("PANELIST__POSTER__POLL_INTERVAL_SECS", "1"),
        ("PANELIST__LOG__LEVEL", "info"),
        ("PANELIST__LOG__FORMAT", "json"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    // The integration, saved once in the shared store, as an admin would on any replica.
    let settings = config::load(
        None,
        env.clone().into_iter().chain([(
            "PANELIST__DATA_DIR".to_string(),
            dir.join("setup").display().to_string(),
        )]),
    )
    .unwrap();
    fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some("notetaker@acme.example".into()),
        ..Default::default()
    });
    let core = Core::build(settings).await.unwrap();
    core.integration
        .save(SettingsUpdate {
            api_version: Some(ApiVersion::V3),
            client_id: Some("test-client".into()),
            client_secret: Some(SecretString::from("test-secret".to_string())),
            api_key: None,
            integration_user_email: Some("notetaker@acme.example".into()),
            webhook_secret: None,
        })
        .await
        .unwrap();
    core.integration.verify().await.unwrap();

    // 20 interviews, each with its own candidate, all starting in a few seconds.
    let store = core.store.clone();
    let start = Utc::now() + chrono::Duration::seconds(6);
    let url = room.whep_url().to_string();
    for n in 0..INTERVIEWS {
        let candidate: Candidate = serde_json::from_value(json!({
            "id": 10_000 + n, "first_name": "Cand", "last_name": format!("Number{n}")
        }))
        .unwrap();
        let application: Application = serde_json::from_value(json!({
            "id": 20_000 + n, "candidate_id": 10_000 + n, "status": "active"
        }))
        .unwrap();
        // Greenhouse has them (notes are posted to the candidate), and so has the store, as a
        // sync would have left it.
        fake.upsert_candidate(&candidate);
        fake.upsert_application(&application);
        store.put(&[candidate]).await.unwrap();
        store.put(&[application]).await.unwrap();
    }
    let replicas: Vec<Replica> = (0..REPLICAS)
        .map(|i| spawn_replica(&format!("replica-{i}"), &env, &dir))
        .collect();
    for n in 0..INTERVIEWS {
        let interview = Interview {
            id: 30_000 + n,
            application_id: Some(20_000 + n),
            start: Some(InterviewTime::DateTime { date_time: start }),
            end: Some(InterviewTime::DateTime {
                date_time: start + chrono::Duration::minutes(30),
            }),
            video_conferencing_url: Some(url.clone()),
            interviewers: vec![Interviewer {
                id: 91,
                name: Some("Sarah Lindqvist".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        store.upsert_interview(&interview).await.unwrap();
    }

    let runs = |store: panelist::store::DynStore| async move {
        let mut out = HashMap::new();
        for n in 0..INTERVIEWS {
            if let Some(r) = store.get_bot_run(30_000 + n).await.unwrap() {
                out.insert(30_000 + n, r);
            }
        }
        out
    };
    eventually(
        "every interview has a bot in its call",
        Duration::from_secs(90),
        || {
            let store = store.clone();
            async move {
                let r = runs(store).await;
                r.len() == INTERVIEWS as usize && r.values().all(|r| r.state == BotState::InCall)
            }
        },
    )
    .await;
    // Exactly one bot each: the room saw one session per interview, no more.
    assert_eq!(
        room.stats().created,
        INTERVIEWS as u64,
        "{:?}",
        room.stats()
    );
    let before = runs(store.clone()).await;
    let mut per_owner: HashMap<String, usize> = HashMap::new();
    for r in before.values() {
        *per_owner.entry(r.owner.clone()).or_default() += 1;
    }
    eprintln!("bots per replica: {per_owner:?}");

    // kill -9 the replica with the most bots, mid-call.
    let (victim, victim_bots) = per_owner
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(o, n)| (o.clone(), *n))
        .unwrap();
    let mut replicas = replicas;
    let idx = replicas.iter().position(|r| r.name == victim).unwrap();
    let mut killed = replicas.remove(idx);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    eprintln!("killed {victim} with {victim_bots} bots");

    // Every interview ends with exactly one note, the killed replica's ones too.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !(0..INTERVIEWS).all(|n| !fake.notes(10_000 + n).is_empty()) {
        if tokio::time::Instant::now() > deadline {
            let runs = runs(store.clone()).await;
            panic!(
                "not every interview got its note; logs in {}; bot records: {runs:#?}",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    for n in 0..INTERVIEWS {
        let notes = fake.notes(10_000 + n);
        assert_eq!(notes.len(), 1, "interview {}: {notes:?}", 30_000 + n);
        assert!(notes[0]
            .body
            .starts_with(&format!("[Panelist notes · interview {}]", 30_000 + n)));
    }
    let after = runs(store.clone()).await;
    for (id, r) in &after {
        assert_eq!(r.state, BotState::Done, "{id}: {r:?}");
        if before[id].owner == victim {
            assert_ne!(r.owner, victim, "{id} was not taken over: {r:?}");
        }
    }
    // The killed replica's calls were all joined again (a bot may rejoin once more if its media
    // never came up under the load of a mass takeover; the notes above are still exactly one each).
    let sessions = room.stats().created;
    assert!(
        sessions >= INTERVIEWS as u64 + victim_bots as u64
            && sessions <= INTERVIEWS as u64 + 2 * victim_bots as u64,
        "{:?}",
        room.stats()
    );

    for mut r in replicas {
        let _ = Command::new("kill").arg(r.child.id().to_string()).status();
        let _ = r.child.wait();
    }
    room.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    RedisStore::connect(&redis_url(), &prefix)
        .await
        .unwrap()
        .purge_prefix()
        .await
        .unwrap();
}
