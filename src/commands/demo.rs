//! `panelist demo`: the whole product on one machine. It starts the fake Greenhouse (a job, a
//! candidate with an interview kit, an interview starting in about 30 s), a WebRTC test room
//! playing a two-voice interview spoken by espeak-ng, and `serve` against both with embedded
//! defaults. The sync finds the interview, a bot joins at its start, the transcript grows, and the
//! note appears in the fake Greenhouse's activity feed.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::Utc;
use panelist_bots::room::{AudioSource, RoomConfig, RoomParticipant, TestRoom};
use secrecy::SecretString;
use serde_json::json;

use crate::config::Settings;
use crate::domain::{Application, Candidate, Interview, Job, JobStage, User};
use crate::fake_greenhouse::{FakeConfig, FakeGreenhouse};
use crate::settings::ApiVersion;
use crate::settings::SettingsUpdate;
use crate::startup::Application as Server;

const SCRIPT: &str = include_str!("demo_interview.txt");
const CANDIDATE: i64 = 3_001;
const INTERVIEW: i64 = 9_001;
const EMAIL: &str = "notetaker@example.com";
const STARTS_IN: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Run headless: print the note the fake Greenhouse received and exit 0, or exit non-zero with
    /// the reason if none arrived within `--timeout-secs`.
    #[arg(long)]
    pub exit_after_note: bool,
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
}

/// The script's turns: (speaker, words).
fn turns() -> Vec<(&'static str, &'static str)> {
    SCRIPT
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(": "))
        .collect()
}

/// Speaks each turn with espeak-ng and lays them on two 48 kHz tracks (interviewer, candidate),
/// each silent while the other talks.
fn render(dir: &std::path::Path) -> anyhow::Result<[Vec<i16>; 2]> {
    let mut tracks: [Vec<i16>; 2] = [vec![0; 48_000], vec![0; 48_000]];
    for (i, (speaker, words)) in turns().into_iter().enumerate() {
        let who = usize::from(speaker == "Candidate");
        let voice = if who == 1 { "en-gb+f3" } else { "en-us+m3" };
        let wav = dir.join(format!("turn{i}.wav"));
        let status = std::process::Command::new("espeak-ng")
            .args(["-v", voice, "-s", "160", "-w"])
            .arg(&wav)
            .arg(words)
            .status()
            .context("cannot run espeak-ng, which speaks the demo interview: install it (Debian: apt-get install espeak-ng; scripts/run.sh does)")?;
        anyhow::ensure!(status.success(), "espeak-ng failed on turn {i}");
        let audio = crate::transcribe::decode::decode_file(&wav)
            .with_context(|| format!("cannot read {}", wav.display()))?;
        // 16 kHz to the room's 48 kHz; the bot's resampler filters the images.
        let speech: Vec<i16> = audio.samples.iter().flat_map(|s| [*s, *s, *s]).collect();
        let gap = vec![0i16; 48_000 * 6 / 10];
        for (t, track) in tracks.iter_mut().enumerate() {
            if t == who {
                track.extend_from_slice(&speech);
            } else {
                track.resize(track.len() + speech.len(), 0);
            }
            track.extend_from_slice(&gap);
        }
    }
    Ok(tracks)
}

/// Greenhouse as the demo sees it.
fn seed(fake: &crate::fake_greenhouse::FakeHandle, room_url: &str) -> anyhow::Result<()> {
    let now = Utc::now();
    let start = now + chrono::Duration::from_std(STARTS_IN)?;
    fake.upsert_user(&serde_json::from_value::<User>(json!({
        "id": 700, "name": "Panelist Notetaker", "first_name": "Panelist", "last_name": "Notetaker",
        "primary_email_address": EMAIL, "updated_at": now,
    }))?);
    fake.upsert_user(&serde_json::from_value::<User>(json!({
        "id": 701, "name": "Sarah Lindqvist", "first_name": "Sarah", "last_name": "Lindqvist",
        "primary_email_address": "sarah.lindqvist@example.com", "updated_at": now,
    }))?);
    fake.upsert_job(&serde_json::from_value::<Job>(json!({
        "id": 4_001, "name": "Senior Backend Engineer", "updated_at": now,
    }))?);
    fake.upsert_job_stage(&serde_json::from_value::<JobStage>(json!({
        "id": 5_001, "name": "Technical Screen", "job_id": 4_001, "updated_at": now,
        "interviews": [{
            "id": 6_001, "name": "Technical Interview", "schedulable": true, "estimated_minutes": 30,
            "interview_kit": {"id": 1, "content": "<p>Backend screen</p>", "questions": [
                {"id": 1, "question": "Tell me about a system you designed end to end."},
                {"id": 2, "question": "How do you handle an incident in production?"},
                {"id": 3, "question": "Why are you interested in this role?"},
            ]}
        }]
    }))?);
    fake.upsert_candidate(&serde_json::from_value::<Candidate>(json!({
        "id": CANDIDATE, "first_name": "Daniel", "last_name": "Okafor", "updated_at": now,
        "email_addresses": [{"value": "daniel.okafor@example.com", "type": "personal"}],
    }))?);
    fake.upsert_application(&serde_json::from_value::<Application>(json!({
        "id": 8_001, "candidate_id": CANDIDATE, "status": "active", "last_activity_at": now,
        "jobs": [{"id": 4_001, "name": "Senior Backend Engineer"}],
        "current_stage": {"id": 5_001, "name": "Technical Screen"},
    }))?);
    fake.upsert_interview(&serde_json::from_value::<Interview>(json!({
        "id": INTERVIEW, "application_id": 8_001, "status": "scheduled",
        "start": {"date_time": start}, "end": {"date_time": start + chrono::Duration::minutes(30)},
        "video_conferencing_url": room_url,
        "interview": {"id": 6_001, "name": "Technical Interview"},
        "interviewers": [{"id": 701, "name": "Sarah Lindqvist", "email": "sarah.lindqvist@example.com"}],
        "updated_at": now,
    }))?);
    Ok(())
}

pub async fn demo(mut settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    // The demo keeps its own store and files ({data_dir}/demo), so it never touches a real
    // installation's settings; models stay where they were installed.
    settings.transcription.model_dir = crate::models::model_dir(&settings);
    settings.data_dir = settings.data_dir.join("demo");
    // Each demo starts afresh: a bot record left by the last run would say interview 9001 is done.
    if settings.data_dir.exists() {
        std::fs::remove_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot clear {}", settings.data_dir.display()))?;
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    settings.store.redis_url = String::new();
    let fake =
        FakeGreenhouse::start(FakeConfig::default()).context("cannot start the fake Greenhouse")?;
    let dir = settings.data_dir.join("demo-audio");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tracks = tokio::task::spawn_blocking(move || render(&dir)).await??;
    let [interviewer, candidate] = tracks;
    let room = TestRoom::start(RoomConfig::new(vec![
        RoomParticipant::new(
            "sarah",
            "Sarah Lindqvist",
            AudioSource::Pcm(Arc::new(interviewer)),
        ),
        RoomParticipant::new(
            "daniel",
            "Daniel Okafor",
            AudioSource::Pcm(Arc::new(candidate)),
        ),
    ]))
    .await
    .context("cannot start the test room")?;
    seed(&fake, room.whep_url().as_str())?;

    // Serve against the fake, with the demo's own data directory and fast timers.
    settings.greenhouse.harvest_base_url = fake.base_url();
    settings.greenhouse.token_url = fake.token_url();
    settings.sync.enabled = true;
    settings.sync.interval_secs = 10;
    settings.bots.enabled = true;
    // The demo's test room listens on 127.0.0.1, which bots.network refuses by default.
    settings.bots.network.allow_loopback = true;
    settings.bots.join_lead_secs = 1;
    settings.bots.leave.alone_secs = 3;
    settings.poster.poll_interval_secs = 1;
    if args.exit_after_note {
        settings.server.port = 0;
    }
    let server = Server::build(settings.clone()).await?;
    let integration = server.state().integration.clone();
    integration
        .save(SettingsUpdate {
            api_version: Some(ApiVersion::V3),
            client_id: Some("test-client".into()),
            client_secret: Some(SecretString::from("test-secret".to_string())),
            api_key: None,
            integration_user_email: Some(EMAIL.into()),
            webhook_secret: Some(SecretString::from("demo-webhook-secret".to_string())),
        })
        .await?;
    integration
        .verify()
        .await
        .context("the demo could not connect to its fake Greenhouse")?;
    let port = server.port();
    let handle = server.handle();
    let serving = actix_web::rt::spawn(server.run_until_stopped());

    println!("Panelist demo");
    println!("  fake Greenhouse   {}", fake.base_url());
    println!("  test room (WHEP)  {}", room.whep_url());
    println!(
        "  Panelist          http://127.0.0.1:{port}  (API token in {}/admin-token)",
        settings.data_dir.display()
    );
    println!(
        "  interview {INTERVIEW}: Daniel Okafor, Technical Interview, starts in {} s",
        STARTS_IN.as_secs()
    );
    println!(
        "The sync picks the interview up, a bot joins at its start, transcribes both speakers,"
    );
    println!("and posts the note to the candidate's activity feed in the fake Greenhouse.");
    println!(
        "Follow along: GET /api/bots, GET /api/interviews/{INTERVIEW}/transcript (bearer token)."
    );

    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let note = loop {
        if let Some(n) = fake.notes(CANDIDATE).into_iter().next() {
            break Some(n);
        }
        if tokio::time::Instant::now() > deadline {
            break None;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = crate::shutdown::signal(), if !args.exit_after_note => break None,
        }
    };
    match note {
        Some(note) => {
            println!(
                "\nThe note in Greenhouse (candidate {CANDIDATE}, as user {:?}):\n",
                note.on_behalf_of
            );
            println!("{}", note.body);
        }
        None if args.exit_after_note => {
            handle.stop(true).await;
            room.shutdown().await;
            anyhow::bail!(
                "no note reached the fake Greenhouse within {} s: see the log above (is the Whisper model installed? `panelist models install tiny.en`; and the notes model? `panelist models install notes`)",
                args.timeout_secs
            );
        }
        None => {}
    }
    if !args.exit_after_note {
        println!("\nStill serving; Ctrl-C stops the demo.");
        crate::shutdown::signal().await;
    }
    handle.stop(true).await;
    let _ = serving.await;
    room.shutdown().await;
    Ok(())
}
