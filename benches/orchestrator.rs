//! Orchestrator benchmark (issue 6): scheduled bots end to end, with only the orchestrator measured.
//!
//! For each interview count N (default `1,100`, the 1-interview run being the baseline of the same run):
//! N interviews, all starting at the same moment `--lead-in` seconds ahead, are seeded in the fake
//! Greenhouse and reach the store through a real full sync. The real supervisor starts each bot at
//! `start - bots.join_lead_secs`; the bot joins its interview's own WebRTC test room, where two participants
//! take turns talking (a synthetic voiced signal) for `--call-secs` and then leave. Transcription goes through
//! the HTTP (OpenAI-compatible) engine to a fake that answers at once, the notes through the OpenAI engine to
//! the fake chat model of the tests, and the poster posts to the fake Greenhouse.
//!
//! ```text
//! cargo bench --profile dev --bench orchestrator -- [--interviews 1,100] [--call-secs 40] [--lead-in 20]
//!     [--join-lead 1] [--alone 2] [--silence 20] [--store redis|embedded]
//! ```
//!
//! Processes: this driver runs each scenario in a child process of its own (`--scenario N`), so CPU time and
//! peak RSS belong to one scenario; each scenario starts its fixtures (the N rooms, the fake Greenhouse, the
//! fake transcription and chat servers) in a grandchild (`--fixtures N`), so the CPU and memory measured are
//! Panelist's alone (Redis, when used, is its own process too). One `bench=orchestrator ...` line is printed
//! per scenario, then one `bench=orchestrator compare=...` line with the largest count against the smallest.
//!
//! Figures: join latency is each bot record's `figures.join_latency_ms` (in the call minus scheduled start);
//! hang-up → note is from the last participant's leaving, as the bot saw it (its `participant left` event),
//! or, when the bot did not see both leave before a leave rule fired, as the room's schedule has it, to the
//! note's creation in the fake Greenhouse; CPU is user + system time of the scenario process
//! (/proc/self/stat), RSS its VmHWM. BENCHMARKS.md has the results and how to read them.
#![allow(clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/notes_support/mod.rs"]
mod notes_support;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use chrono::{DateTime, TimeZone, Utc};
use panelist::config;
use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer, User};
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse};
use panelist::startup;
use panelist::store::{DynStore, RedisStore};
use panelist::supervisor::{BotRun, BotState};
use panelist_bots::room::{AudioSource, RoomConfig, RoomParticipant, TestRoom};
use panelist_bots::rtc::NetworkSettings;
use serde_json::json;
use tokio::io::AsyncBufReadExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

const ADMIN_TOKEN: &str = "bench-admin-token-0123456789";
const EMAIL: &str = "notetaker@acme.example";
const CANDIDATE_BASE: i64 = 10_000;
const APPLICATION_BASE: i64 = 20_000;
const INTERVIEW_BASE: i64 = 30_000;
/// The room's clock: 48 kHz, 20 ms Opus frames; the bot delivers 50 PCM frames per second per participant.
const RATE: usize = 48_000;
const FRAMES_PER_SEC: u64 = 50;
/// The candidate hangs up this long before the interviewer, who is the last to leave.
const CANDIDATE_LEAVES_EARLY_SECS: u64 = 2;

#[derive(Clone, Debug)]
struct Args {
    interviews: Vec<usize>,
    call_secs: u64,
    lead_in: u64,
    join_lead: u64,
    alone: u64,
    silence: u64,
    redis: bool,
    scenario: Option<usize>,
    fixtures: Option<usize>,
}

fn parse_args() -> Args {
    let mut a = Args {
        interviews: vec![1, 100],
        call_secs: 40,
        lead_in: 20,
        join_lead: 1,
        alone: 2,
        silence: 20,
        redis: true,
        scenario: None,
        fixtures: None,
    };
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> u64 {
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{what} needs a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--interviews" => {
                a.interviews = it
                    .next()
                    .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
                    .unwrap_or_default();
                assert!(!a.interviews.is_empty(), "--interviews 1,100");
            }
            "--call-secs" => a.call_secs = num(it.next(), "--call-secs").max(20),
            "--lead-in" => a.lead_in = num(it.next(), "--lead-in"),
            "--join-lead" => a.join_lead = num(it.next(), "--join-lead"),
            "--alone" => a.alone = num(it.next(), "--alone"),
            "--silence" => a.silence = num(it.next(), "--silence"),
            "--store" => a.redis = it.next().as_deref() != Some("embedded"),
            "--scenario" => a.scenario = Some(num(it.next(), "--scenario") as usize),
            "--fixtures" => a.fixtures = Some(num(it.next(), "--fixtures") as usize),
            // cargo passes --bench to harness = false benches; anything else is ignored too.
            _ => {}
        }
    }
    a
}

/// The options a child needs, as arguments.
fn child_args(a: &Args) -> Vec<String> {
    vec![
        "--call-secs".into(),
        a.call_secs.to_string(),
        "--lead-in".into(),
        a.lead_in.to_string(),
        "--join-lead".into(),
        a.join_lead.to_string(),
        "--alone".into(),
        a.alone.to_string(),
        "--silence".into(),
        a.silence.to_string(),
        "--store".into(),
        if a.redis { "redis" } else { "embedded" }.into(),
    ]
}

fn main() {
    let a = parse_args();
    if let Some(n) = a.fixtures {
        fixtures(&a, n);
    } else if let Some(n) = a.scenario {
        // The same runtime as `panelist serve` (`#[actix_web::main]`): one actix system on this thread.
        actix_web::rt::System::new().block_on(scenario(&a, n));
    } else {
        driver(&a);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Driver

fn driver(a: &Args) {
    let exe = std::env::current_exe().expect("the bench's own path");
    let mut results: Vec<(usize, BTreeMap<String, String>)> = Vec::new();
    for &n in &a.interviews {
        let mut child = Command::new(&exe)
            .arg("--scenario")
            .arg(n.to_string())
            .args(child_args(a))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the scenario process starts");
        let out = child.stdout.take().expect("the scenario's stdout");
        let mut line_of_figures = None;
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if line.starts_with("bench=orchestrator ") {
                line_of_figures = Some(line);
            }
        }
        let status = child.wait().expect("the scenario process ends");
        match line_of_figures {
            Some(l) => results.push((n, key_values(&l))),
            None => println!("scenario with {n} interviews printed no figures ({status})"),
        }
    }
    let (Some(base), Some(top)) = (results.first(), results.last()) else {
        return;
    };
    if base.0 == top.0 {
        return;
    }
    let f = |m: &BTreeMap<String, String>, k: &str| -> f64 {
        m.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
    };
    let (b, t) = (&base.1, &top.1);
    let ratio = |k: &str| f(t, k) / f(b, k);
    println!(
        "bench=orchestrator compare={}vs{} joined={}/{} join_p50_delta_ms={:.0} join_p95_delta_ms={:.0} \
         join_max_delta_ms={:.0} hangup_to_note_p50_ratio={:.2} hangup_to_note_p95_ratio={:.2} \
         cpu_call_pct_per_interview_ratio={:.2} cpu_s_per_interview_ratio={:.2} rss_peak_ratio={:.2} \
         frames_delivered_pct={:.1}/{:.1}",
        top.0,
        base.0,
        t.get("joined").map_or("?", String::as_str),
        top.0,
        f(t, "join_p50_ms") - f(b, "join_p50_ms"),
        f(t, "join_p95_ms") - f(b, "join_p95_ms"),
        f(t, "join_max_ms") - f(b, "join_max_ms"),
        ratio("hangup_to_note_p50_ms"),
        ratio("hangup_to_note_p95_ms"),
        (f(t, "cpu_call_pct") / top.0 as f64) / (f(b, "cpu_call_pct") / base.0 as f64),
        (f(t, "cpu_s") / top.0 as f64) / (f(b, "cpu_s") / base.0 as f64),
        ratio("rss_peak_mb"),
        f(t, "frames_delivered_pct"),
        f(b, "frames_delivered_pct"),
    );
}

fn key_values(line: &str) -> BTreeMap<String, String> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures (grandchild): rooms, fake Greenhouse, fake transcription, fake chat.
//
// Protocol on stdout: `ready gh=URL token=URL transcribe=URL chat=URL`, then after the parent writes
// `seed START_UNIX_MS` on stdin: `seeded`, then `note INTERVIEW_ID CREATED_UNIX_MS` for each posted note.
// It exits when its stdin closes (the scenario ended or died).

/// A voiced, speech-like signal: harmonics of a gliding pitch, in syllables of ~200 ms (4 Hz), with a little
/// noise. An energy VAD sees speech in it, as in a real turn.
fn voice(f0: f32, secs: f32, seed: u32) -> Vec<i16> {
    let n = (secs * RATE as f32) as usize;
    let mut noise = seed;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let pitch = f0 * (1.0 + 0.08 * (t * 2.3).sin());
            let phase = t * pitch * std::f32::consts::TAU;
            let voiced = phase.sin() + 0.5 * (2.0 * phase).sin() + 0.25 * (3.0 * phase).sin();
            let syllable = (t * 4.0 * std::f32::consts::PI).sin().abs().sqrt();
            noise = noise.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let hiss = (noise >> 16) as f32 / 65_536.0 - 0.5;
            ((voiced * syllable * 0.8 + hiss * 0.05) * 6_000.0) as i16
        })
        .collect()
}

/// One 10-second turn cycle, looped by the room: the interviewer talks for 3.5 s, then the candidate for 5 s.
fn turns() -> (Arc<Vec<i16>>, Arc<Vec<i16>>) {
    let silence = |secs: f32| vec![0i16; (secs * RATE as f32) as usize];
    let mut interviewer = voice(130.0, 3.5, 7);
    interviewer.extend(silence(6.5));
    let mut candidate = silence(4.5);
    candidate.extend(voice(210.0, 5.0, 11));
    candidate.extend(silence(0.5));
    (Arc::new(interviewer), Arc::new(candidate))
}

/// A transcription server that answers every chunk at once with one segment, after reading the upload.
fn fake_transcriber() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake transcriber");
    let port = listener.local_addr().expect("its port").port();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(|| {
                App::new()
                    .app_data(web::PayloadConfig::new(32 << 20))
                    .route(
                        "/v1/audio/transcriptions",
                        web::post().to(|_upload: web::Bytes| async {
                            HttpResponse::Ok().content_type("application/json").body(
                                json!({"text": "We built the payment service.", "segments": [
                                    {"id": 0, "start": 0.0, "end": 1.2, "text": " We built the payment service."}
                                ]})
                                .to_string(),
                            )
                        }),
                    )
            })
            .workers(1)
            .listen(listener)
            .expect("serve the fake transcriber")
            .run();
            let _ = server.await;
        })
    });
    format!("http://127.0.0.1:{port}")
}

fn fixtures(a: &Args, n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the fixtures' runtime");
    rt.block_on(async move {
        let began = Instant::now();
        let fake =
            FakeGreenhouse::start(FakeConfig::default()).expect("the fake Greenhouse starts");
        fake.upsert_user(&User {
            id: 777,
            name: Some("Panelist Notetaker".into()),
            primary_email_address: Some(EMAIL.into()),
            ..Default::default()
        });
        let chat = notes_support::FakeChat::start(vec![]).await;
        chat.set_fallback(notes_support::echo_candidate_model);
        let transcribe = fake_transcriber();
        let (interviewer, candidate) = turns();
        let leave = Duration::from_secs(a.call_secs);
        let mut rooms = Vec::with_capacity(n);
        for _ in 0..n {
            let mut config = RoomConfig::new(vec![
                RoomParticipant::new(
                    "sarah",
                    "Sarah Lindqvist (Acme)",
                    AudioSource::Pcm(interviewer.clone()),
                )
                .looping()
                .leaving_at(leave),
                RoomParticipant::new(
                    "daniel",
                    "Daniel Okafor",
                    AudioSource::Pcm(candidate.clone()),
                )
                .looping()
                .leaving_at(leave - Duration::from_secs(CANDIDATE_LEAVES_EARLY_SECS)),
            ]);
            // Production ICE timeouts, as in the media-plane bench: a loaded 2-core box must not mistake slow
            // consent checks for a dead peer.
            config.network = NetworkSettings {
                loopback_only: true,
                ..NetworkSettings::default()
            };
            rooms.push(TestRoom::start(config).await.expect("a test room starts"));
        }
        eprintln!(
            "fixtures: {n} rooms, fake Greenhouse, transcription and chat up in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        println!(
            "ready gh={} token={} transcribe={transcribe} chat={}",
            fake.base_url(),
            fake.token_url(),
            chat.base_url
        );

        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
        let mut line = String::new();
        stdin.read_line(&mut line).await.expect("the seed command");
        let start_ms: i64 = line
            .trim()
            .strip_prefix("seed ")
            .and_then(|v| v.parse().ok())
            .expect("`seed START_UNIX_MS`");
        let start = Utc
            .timestamp_millis_opt(start_ms)
            .single()
            .expect("a valid start time");
        for (i, room) in rooms.iter().enumerate() {
            seed_interview(&fake, i as i64, start, room.whep_url().as_str());
        }
        println!("seeded");
        // Exit when the scenario closes stdin; meanwhile report each note as it lands.
        tokio::spawn(async move {
            let mut rest = String::new();
            while stdin.read_line(&mut rest).await.is_ok_and(|read| read > 0) {
                rest.clear();
            }
            std::process::exit(0);
        });
        let mut seen = 0;
        loop {
            let notes = fake.all_created_notes();
            for note in notes.iter().skip(seen) {
                println!(
                    "note {} {}",
                    note.candidate_id - CANDIDATE_BASE + INTERVIEW_BASE,
                    note.created_at.timestamp_millis()
                );
            }
            seen = seen.max(notes.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

/// Interview `i`: its own candidate and application, Sarah interviewing, 30 minutes from `start`.
fn seed_interview(
    fake: &panelist::fake_greenhouse::FakeHandle,
    i: i64,
    start: DateTime<Utc>,
    url: &str,
) {
    let candidate: Candidate = serde_json::from_value(json!({
        "id": CANDIDATE_BASE + i, "first_name": "Daniel", "last_name": "Okafor", "updated_at": Utc::now(),
    }))
    .expect("a candidate");
    let application: Application = serde_json::from_value(json!({
        "id": APPLICATION_BASE + i, "candidate_id": CANDIDATE_BASE + i, "status": "active",
        "jobs": [{"id": 4001, "name": "Senior Backend Engineer"}], "last_activity_at": Utc::now(),
    }))
    .expect("an application");
    fake.upsert_candidate(&candidate);
    fake.upsert_application(&application);
    fake.upsert_interview(&Interview {
        id: INTERVIEW_BASE + i,
        application_id: Some(APPLICATION_BASE + i),
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

// ---------------------------------------------------------------------------------------------------------
// Scenario (child): Panelist itself, measured.

/// When each interview's participants left, as its bot saw it: the bot's `participant left` events
/// (src/supervisor/bot.rs), caught by a tracing layer, so the hang-up is the media plane's, not a guess.
/// Per interview: how many left, and when the last one did.
#[derive(Clone, Default)]
struct Hangups(Arc<Mutex<HashMap<i64, Leaves>>>);

/// Participants seen leaving one call, and when the last one did.
type Leaves = (u32, DateTime<Utc>);

impl<S: tracing::Subscriber> Layer<S> for Hangups {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            left: bool,
            interview: Option<i64>,
        }
        impl tracing::field::Visit for Fields {
            fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
                if field.name() == "interview_id" {
                    self.interview = Some(value);
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "participant left" {
                    self.left = true;
                }
            }
        }
        let mut f = Fields::default();
        event.record(&mut f);
        if let (true, Some(id)) = (f.left, f.interview) {
            if let Ok(mut m) = self.0.lock() {
                let e = m.entry(id).or_insert((0, Utc::now()));
                *e = (e.0 + 1, Utc::now());
            }
        }
    }
}

#[derive(Default)]
struct FixtureState {
    ready: Option<BTreeMap<String, String>>,
    seeded: bool,
    notes: HashMap<i64, DateTime<Utc>>,
}

fn spawn_fixtures(a: &Args, n: usize) -> (Child, Arc<Mutex<FixtureState>>) {
    let mut child = Command::new(std::env::current_exe().expect("the bench's own path"))
        .arg("--fixtures")
        .arg(n.to_string())
        .args(child_args(a))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the fixtures process starts");
    let state = Arc::new(Mutex::new(FixtureState::default()));
    let out = child.stdout.take().expect("the fixtures' stdout");
    let shared = state.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let Ok(mut st) = shared.lock() else { return };
            if let Some(rest) = line.strip_prefix("ready ") {
                st.ready = Some(key_values(rest));
            } else if line == "seeded" {
                st.seeded = true;
            } else if let Some(rest) = line.strip_prefix("note ") {
                let mut parts = rest
                    .split_whitespace()
                    .filter_map(|p| p.parse::<i64>().ok());
                if let (Some(id), Some(ms)) = (parts.next(), parts.next()) {
                    if let Some(at) = Utc.timestamp_millis_opt(ms).single() {
                        st.notes.entry(id).or_insert(at);
                    }
                }
            }
        }
    });
    (child, state)
}

async fn wait_until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sleep_until(at: DateTime<Utc>) {
    if let Ok(d) = (at - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

async fn bot_runs(store: &DynStore, n: usize) -> Vec<BotRun> {
    let mut runs = Vec::with_capacity(n);
    for i in 0..n as i64 {
        if let Ok(Some(r)) = store.get_bot_run(INTERVIEW_BASE + i).await {
            runs.push(r);
        }
    }
    runs
}

async fn scenario(a: &Args, n: usize) {
    let hangups = Hangups::default();
    // Warnings and errors on stderr, as `panelist serve` logs them; the layer above sees only the bots' events.
    let subscriber = tracing_subscriber::registry()
        .with(
            hangups.clone().with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("panelist::supervisor::bot", tracing::Level::INFO),
            ),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
        );
    tracing::subscriber::set_global_default(subscriber).expect("the bench's tracing subscriber");
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let (mut child, fx) = spawn_fixtures(a, n);
    wait_until("the fixtures", Duration::from_secs(600), || {
        fx.lock().is_ok_and(|s| s.ready.is_some())
    })
    .await;
    let urls = fx
        .lock()
        .ok()
        .and_then(|s| s.ready.clone())
        .expect("the fixtures' URLs");
    let url = |k: &str| urls.get(k).cloned().expect("a fixture URL");

    let cpu_start = cpu_seconds();
    let dir = tempfile::tempdir().expect("a data directory");
    let prefix = format!("panelist-bench-orchestrator-{}", uuid::Uuid::new_v4());
    let redis_url = std::env::var("PANELIST_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut env: Vec<(String, String)> = [
        ("PANELIST__SERVER__PORT", "0".to_string()),
        ("PANELIST__SERVER__HOST", "127.0.0.1".into()),
        ("PANELIST__SERVER__SHUTDOWN_GRACE_SECS", "2".into()),
        ("PANELIST__SERVER__ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ("PANELIST__DATA_DIR", dir.path().display().to_string()),
        ("PANELIST__GREENHOUSE__HARVEST_BASE_URL", url("gh")),
        ("PANELIST__GREENHOUSE__TOKEN_URL", url("token")),
        // The bench triggers the one full sync itself, when the interviews are in the fake.
        ("PANELIST__SYNC__ENABLED", "false".into()),
        ("PANELIST__BOTS__ENABLED", "true".into()),
        // Every interview's test room listens on 127.0.0.1.
        ("PANELIST__BOTS__NETWORK__ALLOW_LOOPBACK", "true".into()),
        ("PANELIST__BOTS__JOIN_LEAD_SECS", a.join_lead.to_string()),
        ("PANELIST__BOTS__LEAVE__ALONE_SECS", a.alone.to_string()),
        ("PANELIST__BOTS__LEAVE__SILENCE_SECS", a.silence.to_string()),
        ("PANELIST__TRANSCRIPTION__ENGINE", "http".into()),
        ("PANELIST__TRANSCRIPTION__HTTP__BASE_URL", url("transcribe")),
        ("PANELIST__NOTES__ENGINE", "openai".into()),
        ("PANELIST__NOTES__OPENAI__BASE_URL", url("chat")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if a.redis {
        env.push(("PANELIST__STORE__REDIS_URL".into(), redis_url.clone()));
        env.push(("PANELIST__STORE__KEY_PREFIX".into(), prefix.clone()));
    }
    let settings = config::load(None, env).expect("bench settings are valid");
    let app = startup::Application::build(settings)
        .await
        .expect("Panelist builds");
    let base = format!("http://127.0.0.1:{}/api", app.port());
    let store = app.state().store.clone();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let rss_base = status_mb("VmRSS:");

    // The integration, saved and verified as on the settings page.
    let http = reqwest::Client::new();
    for (path, body) in [
        (
            "/settings/integration",
            Some(json!({
                "api_version": "v3", "client_id": "test-client", "client_secret": "test-secret",
                "integration_user_email": EMAIL, "webhook_secret": "whsec-0123456789abcdef",
            })),
        ),
        ("/settings/integration/verify", None),
    ] {
        let req = match &body {
            Some(b) => http.put(format!("{base}{path}")).json(b),
            None => http.post(format!("{base}{path}")),
        };
        let r = req
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("the settings API answers");
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }

    // N interviews, all at the same moment, reach the store through a real sync.
    let start = Utc::now() + chrono::Duration::seconds(a.lead_in as i64);
    {
        let stdin = child.stdin.as_mut().expect("the fixtures' stdin");
        writeln!(stdin, "seed {}", start.timestamp_millis()).expect("seed the fake Greenhouse");
        stdin.flush().expect("seed the fake Greenhouse");
    }
    wait_until("the seeding", Duration::from_secs(60), || {
        fx.lock().is_ok_and(|s| s.seeded)
    })
    .await;
    let synced_at = Instant::now();
    let r = http
        .post(format!("{base}/sync"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("the sync API answers");
    assert!(
        r.status().is_success(),
        "sync: {}",
        r.text().await.unwrap_or_default()
    );
    let deadline = Instant::now() + Duration::from_secs(a.lead_in);
    loop {
        let found = store
            .interviews_starting_between(
                start - chrono::Duration::seconds(1),
                start + chrono::Duration::seconds(1),
            )
            .await
            .map(|v| v.len())
            .unwrap_or(0);
        if found >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {found} of {n} interviews synced before their start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sync_s = synced_at.elapsed().as_secs_f64();
    let to_start = (start - Utc::now()).num_milliseconds() as f64 / 1000.0;
    eprintln!(
        "scenario {n}: synced {n} interviews in {sync_s:.1} s; they start in {to_start:.1} s"
    );

    // CPU in the steady part of the calls: every bot in, nobody gone yet.
    sleep_until(start + chrono::Duration::seconds(5)).await;
    let fixtures_pid = child.id().to_string();
    let (cpu_a, wall_a) = (cpu_seconds(), Instant::now());
    let (fixtures_a, host_a) = (cpu_seconds_of(&fixtures_pid), host_ticks());
    sleep_until(start + chrono::Duration::seconds(a.call_secs as i64 - 5)).await;
    let window = wall_a.elapsed().as_secs_f64();
    let cpu_call_pct = (cpu_seconds() - cpu_a) / window * 100.0;
    // The rest of the box in the same window: the fixtures (rooms and fakes) and every core's busy share, to
    // tell a saturated machine from a slow orchestrator.
    let fixtures_call_pct = (cpu_seconds_of(&fixtures_pid) - fixtures_a) / window * 100.0;
    let host_b = host_ticks();
    let host_busy_pct = (host_b.0 - host_a.0) / (host_b.1 - host_a.1).max(1.0) * 100.0;

    // Then every call ends, and its note arrives. The wait reads only what the fixtures report, so it adds
    // no load here while hang-up → note is measured; bot records are read only once the notes are overdue.
    let limit = Duration::from_secs(180);
    let waited = Instant::now();
    let mut checked = Instant::now();
    loop {
        let notes = fx.lock().map(|s| s.notes.len()).unwrap_or(0);
        if notes >= n || waited.elapsed() > limit {
            break;
        }
        if waited.elapsed() > Duration::from_secs(60) && checked.elapsed() > Duration::from_secs(5)
        {
            checked = Instant::now();
            let runs = bot_runs(&store, n).await;
            // Every bot is over and a minute has passed: a missing note is not coming.
            if runs.len() == n && runs.iter().all(|r| r.state.is_final()) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_s = cpu_seconds() - cpu_start;
    let rss_peak = status_mb("VmHWM:");
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let runs = bot_runs(&store, n).await;
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    // Why each bot left, from the `leaving` entry of its timeline (the leave rule that fired).
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &runs {
        *states.entry(r.state.as_str()).or_default() += 1;
        let why = r
            .timeline
            .iter()
            .rev()
            .find(|c| c.state == BotState::Leaving)
            .and_then(|c| c.detail.clone())
            .unwrap_or_else(|| "-".into());
        *reasons.entry(why).or_default() += 1;
    }
    let joined = runs.iter().filter(|r| r.joined_at().is_some()).count();
    let mut joins: Vec<i64> = runs
        .iter()
        .filter_map(|r| r.figures.join_latency_ms)
        .collect();
    joins.sort_unstable();
    let within_2s = joins.iter().filter(|ms| ms.abs() <= 2_000).count();
    let frames: u64 = runs.iter().map(|r| r.figures.audio_frames).sum();
    // Per bot, to tell loss spread over every call from some calls going quiet.
    let mut per_bot: Vec<i64> = runs.iter().map(|r| r.figures.audio_frames as i64).collect();
    per_bot.sort_unstable();
    let lost: u64 = runs.iter().map(|r| r.figures.frames_lost).sum();
    let expected = n as u64 * (2 * a.call_secs - CANDIDATE_LEAVES_EARLY_SECS) * FRAMES_PER_SEC;
    let rejoins: u32 = runs.iter().map(|r| r.attempts.saturating_sub(1)).sum();
    let notes = fx.lock().map(|s| s.notes.clone()).unwrap_or_default();
    let left = hangups.0.lock().map(|m| m.clone()).unwrap_or_default();
    // A participant's leaving is an RTCP BYE, sent once over UDP. It marks the hang-up when the bot saw both
    // and left by the alone rule. Otherwise (a BYE lost, or audio that stalled so the silence rule ended the
    // call first and the `participant left` events came from the bot's own teardown) the hang-up is taken
    // from the room's schedule, in the call + the interviewer's `leave_at`, and counted.
    let mut hangups_from_schedule = 0;
    let mut to_note: Vec<i64> = runs
        .iter()
        .filter_map(|r| {
            let by_alone = r.timeline.iter().any(|c| {
                c.state == BotState::Leaving
                    && c.detail.as_deref().is_some_and(|d| d.starts_with("alone"))
            });
            let hangup = match left.get(&r.interview_id) {
                Some((2.., at)) if by_alone => *at,
                _ => {
                    hangups_from_schedule += 1;
                    r.joined_at()? + chrono::Duration::seconds(a.call_secs as i64)
                }
            };
            Some((*notes.get(&r.interview_id)? - hangup).num_milliseconds())
        })
        .collect();
    to_note.sort_unstable();
    // The part after the bot left (the leave rule's wait excluded): transcript flush, notes, post.
    let mut leave_to_note: Vec<i64> = runs
        .iter()
        .filter_map(|r| {
            let left = r
                .timeline
                .iter()
                .rev()
                .find(|c| c.state == BotState::Leaving)?
                .at;
            Some((*notes.get(&r.interview_id)? - left).num_milliseconds())
        })
        .collect();
    leave_to_note.sort_unstable();

    println!(
        "{n} interviews at {start}; bots: {states:?}, left because {reasons:?}; {rejoins} rejoins; load before {} after {}",
        load_before.trim(),
        load_after.trim()
    );
    for r in runs
        .iter()
        .filter(|r| r.state != BotState::Done || r.attempts > 1)
    {
        println!(
            "  interview {}: {} after {} attempt(s), {} frames, {} lost, reason {:?}",
            r.interview_id,
            r.state,
            r.attempts,
            r.figures.audio_frames,
            r.figures.frames_lost,
            r.reason()
        );
    }
    if hangups_from_schedule > 0 {
        println!("  {hangups_from_schedule} bot(s) did not see both participants leave before their leave rule fired (hang-up taken from the room's schedule)");
    }
    println!(
        "  join latency (in call - scheduled start, join_lead {} s): p50 {} ms, p95 {} ms, min {} ms, max {} ms; {within_2s}/{} within ±2 s",
        a.join_lead,
        pct(&joins, 0.50),
        pct(&joins, 0.95),
        joins.first().copied().unwrap_or(0),
        joins.last().copied().unwrap_or(0),
        joins.len()
    );
    println!(
        "  audio: {frames} of {expected} frames delivered ({:.1}%), {lost} lost; per bot min {} p50 {} max {} of {}",
        frames as f64 * 100.0 / expected.max(1) as f64,
        per_bot.first().copied().unwrap_or(0),
        pct(&per_bot, 0.5),
        per_bot.last().copied().unwrap_or(0),
        expected / n.max(1) as u64
    );
    println!(
        "  hang-up → note (last participant left → note in Greenhouse; alone_secs {}, silence_secs {}): p50 {} ms, p95 {} ms, max {} ms; {} notes",
        a.alone,
        a.silence,
        pct(&to_note, 0.50),
        pct(&to_note, 0.95),
        to_note.last().copied().unwrap_or(0),
        notes.len()
    );
    println!(
        "  bot leaves → note (transcript flush, notes, post): p50 {} ms, p95 {} ms",
        pct(&leave_to_note, 0.50),
        pct(&leave_to_note, 0.95)
    );
    println!(
        "  CPU {cpu_s:.1} s in all ({:.2} s per interview), {cpu_call_pct:.1}% of one core mid-call; RSS {rss_base:.1} MB before the calls, peak {rss_peak:.1} MB",
        cpu_s / n as f64
    );
    println!(
        "  mid-call, the fixtures (rooms, fakes) used {fixtures_call_pct:.1}% of one core; all cores were {host_busy_pct:.0}% busy"
    );
    println!(
        "bench=orchestrator interviews={n} store={} joined={joined} join_p50_ms={} join_p95_ms={} join_max_ms={} join_min_ms={} \
         join_within_2s={within_2s} frames={frames} frames_expected={expected} frames_delivered_pct={:.1} frames_lost={lost} \
         rejoins={rejoins} cpu_s={cpu_s:.1} cpu_call_pct={cpu_call_pct:.1} rss_base_mb={rss_base:.1} rss_peak_mb={rss_peak:.1} fixtures_call_pct={fixtures_call_pct:.1} host_busy_pct={host_busy_pct:.0} \
         hangup_to_note_p50_ms={} hangup_to_note_p95_ms={} hangup_to_note_max_ms={} leave_to_note_p50_ms={} leave_to_note_p95_ms={} hangups_from_schedule={hangups_from_schedule} notes={} sync_s={sync_s:.1}",
        if a.redis { "redis" } else { "embedded" },
        pct(&joins, 0.50),
        pct(&joins, 0.95),
        joins.last().copied().unwrap_or(0),
        joins.first().copied().unwrap_or(0),
        frames as f64 * 100.0 / expected.max(1) as f64,
        pct(&to_note, 0.50),
        pct(&to_note, 0.95),
        to_note.last().copied().unwrap_or(0),
        pct(&leave_to_note, 0.50),
        pct(&leave_to_note, 0.95),
        notes.len(),
    );

    server.stop(false).await;
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    if a.redis {
        if let Ok(s) = RedisStore::connect(&redis_url, &prefix).await {
            let _ = s.purge_prefix().await;
        }
    }
    // Bots may still be winding down on the media runtime; nothing more is measured.
    std::process::exit(0);
}

/// Nearest-rank percentile of sorted values (0 when empty).
fn pct(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// A memory line of /proc/self/status in MB (VmRSS: now, VmHWM: peak).
fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU time of this process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

/// (busy, total) clock ticks of all cores, from the first line of /proc/stat.
fn host_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = ticks.iter().take(8).sum();
    // idle and iowait are the 4th and 5th.
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// User + system CPU time of a process (all threads), from /proc/<pid>/stat.
fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
