//! The overview page under many live bots: server time per render of the page and of the live bot
//! board, and the bytes a browser left open on the overview receives per second of live updates
//! (every live region polled at `dashboard.live_refresh_ms` with ETags, while every bot's figures
//! change every 5 s as real bots persist them). Baseline in the same run: one bot.
//!
//! cargo bench --bench dashboard -- [--bots N] [--seconds S] [--renders R] [--store redis|embedded]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use chrono::Utc;
use panelist::auth::{Role, Users};
use panelist::config;
use panelist::domain::{Application, Candidate, Interview, InterviewTime, Interviewer};
use panelist::startup::Application as App;
use panelist::store::{DynStore, RedisStore, StoreExt};
use panelist::supervisor::{BotRun, BotState};
use reqwest::header::{COOKIE, ETAG, IF_NONE_MATCH, SET_COOKIE};
use secrecy::SecretString;

const PASSWORD: &str = "bench-password-0123";
const LIVE: &[&str] = &[
    "/live/board",
    "/live/upcoming",
    "/live/notes",
    "/live/sync",
    "/live/webhooks",
];

struct Args {
    bots: usize,
    seconds: u64,
    renders: usize,
    redis: bool,
}

fn args() -> Args {
    let mut a = Args {
        bots: 100,
        seconds: 30,
        renders: 100,
        redis: true,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--bots" => a.bots = value.parse().unwrap(),
            "--seconds" => a.seconds = value.parse().unwrap(),
            "--renders" => a.renders = value.parse().unwrap(),
            "--store" => a.redis = value == "redis",
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

/// One interview with its candidate and application, and a bot in its call.
async fn seed_bot(store: &DynStore, n: usize) {
    let id = 100_000 + n as i64;
    let start = Utc::now() - chrono::Duration::minutes(10);
    store
        .put(&[serde_json::from_value::<Candidate>(serde_json::json!({
            "id": id, "first_name": format!("Candidate{n}"), "last_name": "Bench", "updated_at": Utc::now()
        }))
        .unwrap()])
        .await
        .unwrap();
    store
        .put(&[serde_json::from_value::<Application>(serde_json::json!({
            "id": id, "candidate_id": id, "status": "active", "jobs": [{"id": 1, "name": "Backend Engineer"}]
        }))
        .unwrap()])
        .await
        .unwrap();
    store
        .upsert_interview(&Interview {
            id,
            application_id: Some(id),
            start: Some(InterviewTime::DateTime { date_time: start }),
            end: Some(InterviewTime::DateTime {
                date_time: start + chrono::Duration::minutes(45),
            }),
            video_conferencing_url: Some(format!("http://127.0.0.1:9/whep/{n}")),
            interviewers: vec![Interviewer {
                id: 1,
                name: Some("Sarah Lindqvist".into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let mut run = BotRun::new(id, "bench", start);
    run.transition(BotState::Joining, None, start);
    run.transition(BotState::InCall, None, start + chrono::Duration::seconds(2));
    run.figures.participants = vec!["Sarah Lindqvist".into(), format!("Candidate{n} Bench")];
    store.put_bot_run(&run).await.unwrap();
}

/// What real bots do every 5 s: new figures (frames, level) for every bot in a call.
async fn tick_figures(store: &DynStore, tick: u64) {
    for run in store.recent_bot_runs(10_000).await.unwrap() {
        let mut run = run;
        run.figures.audio_frames += 250;
        run.figures.audio_level_dbfs = Some(-20.0 - (tick % 7) as f32);
        run.updated_at = Utc::now();
        store.put_bot_run(&run).await.unwrap();
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn render_times(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    n: usize,
) -> (f64, f64, usize) {
    let mut lat = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let t = Instant::now();
        let body = http
            .get(url)
            .header(COOKIE, cookie)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    lat.sort_by(f64::total_cmp);
    (pct(&lat, 0.5), pct(&lat, 0.99), bytes)
}

/// A browser left on the overview: bytes received per second (bodies and headers).
async fn live_traffic(
    http: &reqwest::Client,
    base: &str,
    cookie: &str,
    store: &DynStore,
    seconds: u64,
    every: Duration,
) -> (f64, usize, usize) {
    let mut etags: Vec<Option<String>> = vec![None; LIVE.len()];
    let started = Instant::now();
    let mut bytes = 0usize;
    let (mut full, mut not_modified) = (0, 0);
    let mut next_tick = Instant::now();
    let mut tick = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        if Instant::now() >= next_tick {
            tick_figures(store, tick).await;
            tick += 1;
            next_tick += Duration::from_secs(5);
        }
        for (i, path) in LIVE.iter().enumerate() {
            // As a browser does: the bytes counted are what crosses the wire, compressed.
            let mut req = http
                .get(format!("{base}{path}"))
                .header(COOKIE, cookie)
                .header("accept-encoding", "gzip");
            if let Some(e) = &etags[i] {
                req = req.header(IF_NONE_MATCH, e);
            }
            let res = req.send().await.unwrap();
            let head: usize = res
                .headers()
                .iter()
                .map(|(k, v)| k.as_str().len() + v.len() + 4)
                .sum::<usize>()
                + 17;
            if res.status() == 304 {
                not_modified += 1;
            } else {
                full += 1;
                etags[i] = res
                    .headers()
                    .get(ETAG)
                    .map(|v| v.to_str().unwrap().to_string());
            }
            bytes += head + res.bytes().await.unwrap().len();
        }
        tokio::time::sleep(every).await;
    }
    (
        bytes as f64 / started.elapsed().as_secs_f64(),
        full,
        not_modified,
    )
}

fn main() {
    let a = args();
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("panelist-bench-{}", uuid::Uuid::new_v4());
    let redis_url = std::env::var("PANELIST_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let mut env = vec![
        ("PANELIST__SERVER__PORT".to_string(), "0".to_string()),
        ("PANELIST__SERVER__HOST".into(), "127.0.0.1".into()),
        (
            "PANELIST__DATA_DIR".into(),
            dir.path().display().to_string(),
        ),
        ("PANELIST__SYNC__ENABLED".into(), "false".into()),
        ("PANELIST__BOTS__ENABLED".into(), "false".into()),
        ("PANELIST__LOG__LEVEL".into(), "error".into()),
    ];
    if a.redis {
        env.push(("PANELIST__STORE__REDIS_URL".into(), redis_url.clone()));
        env.push(("PANELIST__STORE__KEY_PREFIX".into(), prefix.clone()));
    }
    let settings = config::load(None, env).unwrap();
    let every = Duration::from_millis(settings.dashboard.live_refresh_ms);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = App::build(settings).await.unwrap();
            tx.send((app.port(), app.state().store.clone())).unwrap();
            app.run_until_stopped().await.unwrap();
        })
    });
    let (port, store) = rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Users::new(store.clone()).create("bench@acme.example", SecretString::from(PASSWORD), Role::Admin).await.unwrap();
        let res = http
            .post(format!("{base}/login"))
            .form(&[("email", "bench@acme.example"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let cookie = res.headers()[SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
        let backend = if a.redis { "redis" } else { "embedded" };
        let mut seeded = 0;
        for bots in [1, a.bots] {
            while seeded < bots {
                seed_bot(&store, seeded).await;
                seeded += 1;
            }
            // Warm-up.
            render_times(&http, &format!("{base}/"), &cookie, 5).await;
            let (page_p50, page_p99, page_bytes) = render_times(&http, &format!("{base}/"), &cookie, a.renders).await;
            let (board_p50, board_p99, board_bytes) =
                render_times(&http, &format!("{base}/live/board"), &cookie, a.renders).await;
            let (bps, full, nm) = live_traffic(&http, &base, &cookie, &store, a.seconds, every).await;
            println!(
                "bench=dashboard store={backend} bots={bots} overview_p50_ms={page_p50:.1} overview_p99_ms={page_p99:.1} overview_bytes={page_bytes} board_p50_ms={board_p50:.1} board_p99_ms={board_p99:.1} board_bytes={board_bytes} live_bytes_per_s={bps:.0} live_full={full} live_304={nm} refresh_ms={}",
                every.as_millis()
            );
        }
        if a.redis {
            RedisStore::connect(&redis_url, &prefix).await.unwrap().purge_prefix().await.unwrap();
        }
    });
}
