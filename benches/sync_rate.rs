//! A full sync against the fake Greenhouse with a rate limit: the request rate achieved as a
//! fraction of the ceiling, and the 429s seen. Baseline in the same run: the same sync with no
//! limit, which shows the ceiling (not the client or the store) is what bounds the run.
//!
//! cargo bench --bench sync_rate -- [--limit L] [--window-secs W] [--candidates N] [--per-page P]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use panelist::config;
use panelist::domain::User;
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse, FakeHandle, GenSpec, RateLimitCfg};
use panelist::settings::SettingsUpdate;
use panelist::startup::Core;
use panelist::sync::{SyncKind, Syncer};
use secrecy::SecretString;

struct Args {
    limit: u32,
    window_secs: u64,
    candidates: usize,
    per_page: u32,
}

fn args() -> Args {
    let mut a = Args {
        limit: 50,
        window_secs: 10,
        candidates: 10_000,
        per_page: 100,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let v = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--limit" => a.limit = v.parse().unwrap(),
            "--window-secs" => a.window_secs = v.parse().unwrap(),
            "--candidates" => a.candidates = v.parse().unwrap(),
            "--per-page" => a.per_page = v.parse().unwrap(),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

struct Measured {
    requests: u64,
    rate_limited: u64,
    seconds: f64,
}

async fn full_sync(fake: &FakeHandle, per_page: u32) -> Measured {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        (
            "PANELIST__DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        (
            "PANELIST__GREENHOUSE__HARVEST_BASE_URL".into(),
            fake.base_url(),
        ),
        ("PANELIST__GREENHOUSE__TOKEN_URL".into(), fake.token_url()),
        (
            "PANELIST__GREENHOUSE__PER_PAGE".into(),
            per_page.to_string(),
        ),
        ("PANELIST__LOG__LEVEL".into(), "error".into()),
    ];
    let core = Core::build(config::load(None, env).unwrap()).await.unwrap();
    core.integration
        .save(SettingsUpdate {
            client_id: Some("test-client".into()),
            client_secret: Some(SecretString::from("test-secret")),
            integration_user_email: Some("bench@acme.example".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    core.integration.verify().await.unwrap();
    // A fresh client, so the verification's requests do not count against this run's window.
    fake.clear_requests();
    let started = Instant::now();
    let run = core
        .syncer
        .run(Syncer::new_run_id(), SyncKind::Full, &|_| {})
        .await;
    assert!(run.errors.is_empty(), "{:?}", run.errors);
    Measured {
        requests: run.requests,
        rate_limited: run.rate_limited,
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let fake = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    fake.upsert_user(&User {
        id: 1,
        primary_email_address: Some("bench@acme.example".into()),
        ..Default::default()
    });
    fake.seed_generated(GenSpec {
        users: 500,
        jobs: 100,
        candidates: a.candidates,
        applications: a.candidates,
        interviews: a.candidates / 4,
        spread: Duration::from_secs(12 * 3600),
        ..Default::default()
    });

    let baseline = full_sync(&fake, a.per_page).await;
    let window = Duration::from_secs(a.window_secs);
    fake.set_rate_limit(Some(RateLimitCfg {
        limit: a.limit,
        window,
    }));
    // Let the limiter start from an empty window.
    tokio::time::sleep(window).await;
    let limited = full_sync(&fake, a.per_page).await;

    let ceiling = a.limit as f64 / a.window_secs as f64;
    let achieved = limited.requests as f64 / limited.seconds;
    let baseline_rate = baseline.requests as f64 / baseline.seconds;
    // The fake's windows are aligned to the clock. Count Harvest requests per window and judge
    // the windows the sync used in full (all but the last, where the work simply ran out).
    let mut per_window = std::collections::BTreeMap::<i64, u64>::new();
    for r in fake.requests_to("/v3/") {
        *per_window
            .entry(r.at.timestamp() / a.window_secs as i64)
            .or_default() += 1;
    }
    let counts: Vec<u64> = per_window.values().copied().collect();
    let full = &counts[..counts.len().saturating_sub(1)];
    let fraction = full.iter().sum::<u64>() as f64 / (full.len().max(1) as f64 * a.limit as f64);
    println!(
        "full sync, {} candidates, per_page {}",
        a.candidates, a.per_page
    );
    println!(
        "  baseline, no limit : {:>5} requests in {:>6.2} s = {:>7.1} req/s, 429s {}",
        baseline.requests, baseline.seconds, baseline_rate, baseline.rate_limited
    );
    println!(
        "  limited {}/{}s    : {:>5} requests in {:>6.2} s = {:>7.1} req/s, 429s {}",
        a.limit, a.window_secs, limited.requests, limited.seconds, achieved, limited.rate_limited
    );
    println!("  requests per {}s window: {counts:?}", a.window_secs);
    println!(
        "  ceiling {ceiling:.1} req/s; full windows used at {:.1}% of the limit",
        100.0 * fraction
    );
    println!(
        "bench=sync_rate requests={} seconds={:.2} achieved_rps={achieved:.2} ceiling_rps={ceiling:.2} fraction={fraction:.3} rate_limited={} baseline_rps={baseline_rate:.1}",
        limited.requests, limited.seconds, limited.rate_limited
    );
}
