//! Greenhouse's `delete_candidate` and `candidate_anonymized` webhooks purge everything Panelist
//! holds about the candidate: synced records, bot records, transcripts, recordings, notes, and the
//! webhook bodies that named them. Afterwards every Redis key of the app and every file in its data
//! directory are searched for anything that identified them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{eventually, spawn_app_with, Backend, TestApp};
use panelist::domain::{Application, Candidate, EntityKind, Interview, InterviewTime};
use panelist::fake_greenhouse::FakeConfig;
use panelist::poster::OutboxNote;
use panelist::store::StoreExt;
use panelist::supervisor::BotRun;
use panelist::transcribe::{TranscriptFiles, TranscriptSegment};
use serde_json::json;

const SECRET: &str = "whsec-privacy-0123456789";
const CANDIDATE: i64 = 37_031_511;
const APPLICATIONS: [i64; 2] = [46_196_263, 46_196_258];
const INTERVIEWS: [i64; 2] = [88_101, 88_102];
/// Things only this candidate's data contains.
const NEEDLES: &[&str] = &[
    "Sparrow",
    "Pirate Shipping",
    "Tortuga",
    "37031511",
    "46196263",
    "88101",
];

async fn app() -> TestApp {
    spawn_app_with(
        Backend::Redis,
        FakeConfig::default(),
        &[("PANELIST__GREENHOUSE__WEBHOOK_SECRET", SECRET)],
    )
    .await
}

/// What a finished interview leaves: records, a bot record, a transcript, a recording, a note,
/// and a webhook in the event log that named the candidate. Plus someone else's, which must stay.
async fn seed(app: &TestApp) {
    let store = &app.store;
    let candidate: Candidate = serde_json::from_value(json!({
        "id": CANDIDATE, "first_name": "Jack", "last_name": "Sparrow", "company": "Pirate Shipping",
    }))
    .unwrap();
    store.put(&[candidate]).await.unwrap();
    let other: Candidate =
        serde_json::from_value(json!({"id": 5, "first_name": "Ada", "last_name": "Keep"})).unwrap();
    store.put(&[other]).await.unwrap();
    for (app_id, iv) in APPLICATIONS.iter().zip(INTERVIEWS) {
        let a: Application =
            serde_json::from_value(json!({"id": app_id, "candidate_id": CANDIDATE})).unwrap();
        store.put(&[a]).await.unwrap();
        let start = Utc::now() - chrono::Duration::hours(2);
        store
            .upsert_interview(&Interview {
                id: iv,
                application_id: Some(*app_id),
                start: Some(InterviewTime::DateTime { date_time: start }),
                end: Some(InterviewTime::DateTime {
                    date_time: start + chrono::Duration::hours(1),
                }),
                video_conferencing_url: Some("http://127.0.0.1:9/whep/x".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut run = BotRun::new(iv, "replica-a", start);
        run.figures.participants = vec!["Jack Sparrow".into()];
        store.put_bot_run(&run).await.unwrap();
        store
            .put_outbox_note(&OutboxNote::new(
                iv,
                CANDIDATE,
                format!("[Panelist notes · interview {iv}]\nJack Sparrow sails from Tortuga."),
                panelist::greenhouse::Visibility::Private,
                Utc::now(),
            ))
            .await
            .unwrap();
        TranscriptFiles::new(app.data_dir.path())
            .append(
                &iv.to_string(),
                vec![TranscriptSegment::new(
                    "p1",
                    "Jack Sparrow",
                    0,
                    2000,
                    "I sail from Tortuga.",
                )],
            )
            .await
            .unwrap();
        let rec = app
            .data_dir
            .path()
            .join("recordings")
            .join(iv.to_string())
            .join("1");
        std::fs::create_dir_all(&rec).unwrap();
        std::fs::write(rec.join("p1.ogg"), b"OggS...Jack Sparrow audio").unwrap();
    }
    // Someone else's transcript stays.
    TranscriptFiles::new(app.data_dir.path())
        .append(
            "99",
            vec![TranscriptSegment::new("p2", "Ada Keep", 0, 1000, "Hello.")],
        )
        .await
        .unwrap();
}

async fn post_webhook(app: &TestApp, body: &[u8]) {
    let res = app
        .http
        .post(format!("{}/webhooks/greenhouse", app.address))
        .header(
            "Signature",
            panelist::webhooks::sign(SECRET.as_bytes(), body),
        )
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
}

/// Every value under the app's Redis prefix, as text.
async fn redis_dump(app: &TestApp) -> String {
    let client = redis::Client::open(common::redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let prefix = &app.settings.store.key_prefix;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut con)
        .await
        .unwrap();
    let mut out = String::new();
    for k in keys {
        out += &k;
        let kind: String = redis::cmd("TYPE")
            .arg(&k)
            .query_async(&mut con)
            .await
            .unwrap();
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![redis::cmd("GET")
                .arg(&k)
                .query_async(&mut con)
                .await
                .unwrap()],
            "set" => redis::cmd("SMEMBERS")
                .arg(&k)
                .query_async(&mut con)
                .await
                .unwrap(),
            "zset" => redis::cmd("ZRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query_async(&mut con)
                .await
                .unwrap(),
            "hash" => redis::cmd("HGETALL")
                .arg(&k)
                .query_async(&mut con)
                .await
                .unwrap(),
            "list" => redis::cmd("LRANGE")
                .arg(&k)
                .arg(0)
                .arg(-1)
                .query_async(&mut con)
                .await
                .unwrap(),
            "stream" => Vec::new(),
            other => panic!("unexpected key type {other} for {k}"),
        };
        for v in values {
            out += &String::from_utf8_lossy(&v);
            out.push('\n');
        }
    }
    out
}

fn files_dump(dir: &std::path::Path) -> String {
    let mut out = String::new();
    for entry in walk(dir) {
        out += &entry.display().to_string();
        out += &String::from_utf8_lossy(&std::fs::read(&entry).unwrap_or_default());
    }
    out
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

async fn purges_everything(body: serde_json::Value) {
    let app = app().await;
    seed(&app).await;
    // A webhook that named the candidate, kept in the event log.
    let stage = json!({"action": "update_candidate", "payload": {"candidate": {
        "id": CANDIDATE, "first_name": "Jack", "last_name": "Sparrow", "company": "Pirate Shipping"}}});
    post_webhook(&app, stage.to_string().as_bytes()).await;
    let before = redis_dump(&app).await + &files_dump(app.data_dir.path());
    for n in NEEDLES {
        assert!(before.contains(n), "the seed holds {n}");
    }

    post_webhook(&app, body.to_string().as_bytes()).await;
    let store = app.store.clone();
    eventually("the purge is applied", Duration::from_secs(30), || {
        let store = store.clone();
        async move {
            store
                .recent_webhook_events(10)
                .await
                .unwrap()
                .iter()
                .any(|e| {
                    e.outcome
                        .as_deref()
                        .is_some_and(|o| o.starts_with("purged a candidate"))
                })
        }
    })
    .await;
    // Let the update_candidate's refresh settle (it may fail: the fake has no such candidate).
    tokio::time::sleep(Duration::from_secs(1)).await;

    let after = redis_dump(&app).await + &files_dump(app.data_dir.path());
    for n in NEEDLES {
        assert!(
            !after.contains(n),
            "{n} is still stored after the purge:\n{after}"
        );
    }
    assert!(app
        .store
        .get::<Candidate>(CANDIDATE)
        .await
        .unwrap()
        .is_none());
    for iv in INTERVIEWS {
        assert!(app.store.get_outbox_note(iv).await.unwrap().is_none());
        assert!(app.store.get_bot_run(iv).await.unwrap().is_none());
        assert!(app
            .store
            .get_raw(EntityKind::Interview, iv)
            .await
            .unwrap()
            .is_none());
    }
    // Someone else's data is untouched.
    assert!(app.store.get::<Candidate>(5).await.unwrap().is_some());
    assert!(after.contains("Ada Keep"));
    // The audit entry says what was removed, and nothing about whom.
    let audit = app
        .store
        .kv_list(panelist::privacy::AUDIT_NS)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    let entry: panelist::privacy::AuditEntry = serde_json::from_slice(&audit[0].1).unwrap();
    assert_eq!(entry.action, "purge_candidate");
    for kind in [
        "interviews",
        "transcripts",
        "recordings",
        "notes",
        "bot_records",
    ] {
        assert_eq!(entry.counts[kind], 2, "{kind}");
    }
    let text = String::from_utf8_lossy(&audit[0].1);
    assert!(NEEDLES.iter().all(|n| !text.contains(n)), "{text}");
    app.shutdown().await;
}

#[actix_web::test]
async fn delete_candidate_purges_everything_about_them() {
    let mut body: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/greenhouse/webhook_candidate_deleted.json"
    ))
    .unwrap();
    body["payload"]["person"]["company"] = json!("Pirate Shipping");
    purges_everything(body).await;
}

#[actix_web::test]
async fn candidate_anonymized_purges_everything_about_them() {
    let body: serde_json::Value = serde_json::from_str(include_str!(
        "fixtures/greenhouse/webhook_candidate_anonymized.json"
    ))
    .unwrap();
    assert_eq!(body["payload"]["candidate_id"], CANDIDATE);
    purges_everything(body).await;
}

fn age(path: &std::path::Path, days: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    if path.is_dir() {
        for p in walk(path) {
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(when)
                .unwrap();
        }
    } else {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
}

#[actix_web::test]
async fn retention_expires_what_is_old_and_only_that() {
    use panelist::poster::OutboxStatus;
    use panelist::supervisor::BotState;
    let app = spawn_app_with(Backend::Embedded, FakeConfig::default(), &[]).await;
    let store = &app.store;
    let dir = app.data_dir.path();
    let files = TranscriptFiles::new(dir);
    let now = Utc::now();
    let seg = |t: &str| vec![TranscriptSegment::new("p", "Someone", 0, 1000, t)];
    for id in ["1", "2", "5", "6"] {
        files.append(id, seg("words")).await.unwrap();
    }
    age(&files.path("1"), 400);
    for (id, old) in [(1, true), (2, false), (5, false), (6, false)] {
        let rec = dir.join("recordings").join(id.to_string()).join("1");
        std::fs::create_dir_all(&rec).unwrap();
        std::fs::write(rec.join("a.ogg"), b"OggS").unwrap();
        if old {
            age(&dir.join("recordings").join(id.to_string()), 40);
        }
    }
    let note = |id: i64, status: OutboxStatus, days_old: i64| {
        let mut n = OutboxNote::new(
            id,
            9,
            format!("[Panelist notes · interview {id}]"),
            panelist::greenhouse::Visibility::Private,
            now,
        );
        n.status = status;
        n.updated_at = now - chrono::Duration::days(days_old);
        n
    };
    store
        .put_outbox_note(&note(1, OutboxStatus::Posted, 400))
        .await
        .unwrap();
    store
        .put_outbox_note(&note(2, OutboxStatus::Pending, 400))
        .await
        .unwrap();
    store
        .put_outbox_note(&note(3, OutboxStatus::Posted, 10))
        .await
        .unwrap();
    let run = |id: i64, state: BotState, days_old: i64| {
        let t = now - chrono::Duration::days(days_old);
        let mut r = BotRun::new(id, "replica-a", t);
        r.transition(state, None, t);
        r
    };
    store
        .put_bot_run(&run(1, BotState::Done, 400))
        .await
        .unwrap();
    store.put_bot_run(&run(5, BotState::Done, 1)).await.unwrap();
    store
        .put_bot_run(&run(6, BotState::InCall, 1))
        .await
        .unwrap();

    let mut policy = app.settings.privacy.clone();
    policy.transcripts_days = 365;
    policy.recordings_days = 30;
    policy.notes_days = 365;
    policy.delete_recordings_after_transcript = false;
    let report = panelist::privacy::sweep(store, dir, &policy, now)
        .await
        .unwrap();
    assert_eq!(
        (
            report.transcripts,
            report.recordings,
            report.notes,
            report.bot_records
        ),
        (1, 1, 1, 1),
        "{report:?}"
    );
    assert!(!files.path("1").exists() && files.path("2").exists());
    assert!(!dir.join("recordings/1").exists() && dir.join("recordings/2").exists());
    assert!(store.get_outbox_note(1).await.unwrap().is_none());
    assert!(
        store.get_outbox_note(2).await.unwrap().is_some(),
        "a pending note is never expired"
    );
    assert!(store.get_outbox_note(3).await.unwrap().is_some());
    assert!(store.get_bot_run(1).await.unwrap().is_none());
    assert!(store.get_bot_run(5).await.unwrap().is_some());

    // Recordings kept only until the transcript is done: the finished call's go, the live call's stay.
    policy.delete_recordings_after_transcript = true;
    let report = panelist::privacy::sweep(store, dir, &policy, now)
        .await
        .unwrap();
    assert_eq!(report.recordings, 1, "{report:?}");
    assert!(!dir.join("recordings/5").exists());
    assert!(dir.join("recordings/6").exists() && dir.join("recordings/2").exists());
    // Nothing left to expire: a second sweep removes nothing.
    assert!(panelist::privacy::sweep(store, dir, &policy, now)
        .await
        .unwrap()
        .is_empty());
    app.shutdown().await;
}
