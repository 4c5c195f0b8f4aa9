//! Webhook ingest: signed Greenhouse fixtures posted to a running Panelist whose store is Redis.
//! Baseline in the same run: `GET /healthz` through the same client, server and concurrency,
//! so the ratio shows what verification, de-duplication and persistence cost.
//!
//! cargo bench --bench webhook_ingest -- [--requests N] [--concurrency C] [--store redis|embedded]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use panelist::config;
use panelist::startup::Application;
use panelist::store::RedisStore;

const SECRET: &str = "bench-webhook-secret-0123456789";
/// Fixtures whose application needs no Greenhouse call, so only ingest is measured.
const FIXTURES: &[&str] = &[
    "webhook_job_created.json",
    "webhook_job_post_updated.json",
    "webhook_interview_deleted.json",
    "webhook_ping.json",
    "webhook_offer_created.json",
    "webhook_job_approved.json",
];

struct Args {
    requests: usize,
    concurrency: usize,
    redis: bool,
}

fn args() -> Args {
    let mut a = Args {
        requests: 20_000,
        concurrency: 64,
        redis: true,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--requests" => a.requests = value.parse().unwrap(),
            "--concurrency" => a.concurrency = value.parse().unwrap(),
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

struct Outcome {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failures: usize,
}

/// Fires `n` requests built by `make` with `concurrency` in flight; latencies per request.
async fn load<F>(n: usize, concurrency: usize, make: F) -> Outcome
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failures = 0;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                match make(i).send().await {
                    Ok(r) if r.status().is_success() => {}
                    _ => failures += 1,
                }
                lat.push(t.elapsed());
            }
            (lat, failures)
        }));
    }
    let mut all = Vec::with_capacity(n);
    let mut failures = 0;
    for w in workers {
        let (lat, f) = w.await.unwrap();
        all.extend(lat);
        failures += f;
    }
    let elapsed = started.elapsed();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Outcome {
        rps: n as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        failures,
    }
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
        ("PANELIST__GREENHOUSE__WEBHOOK_SECRET".into(), SECRET.into()),
        ("PANELIST__LOG__LEVEL".into(), "error".into()),
    ];
    if a.redis {
        env.push(("PANELIST__STORE__REDIS_URL".into(), redis_url.clone()));
        env.push(("PANELIST__STORE__KEY_PREFIX".into(), prefix.clone()));
    }
    let settings = config::load(None, env).unwrap();

    // The server runs in its own actix system on its own thread, the load in a tokio runtime here.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(settings).await.unwrap();
            tx.send((app.port(), app.state().store.clone())).unwrap();
            app.run_until_stopped().await.unwrap();
        })
    });
    let (port, store) = rx.recv().unwrap();
    let bodies: Vec<Vec<u8>> = FIXTURES
        .iter()
        .map(|f| {
            std::fs::read(format!(
                "{}/tests/fixtures/greenhouse/{f}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap()
        })
        .collect();
    let signatures: Vec<String> = bodies
        .iter()
        .map(|b| panelist::webhooks::sign(SECRET.as_bytes(), b))
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(a.concurrency).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // Warm-up: connections, Redis pool, allocator.
        let h = http.clone();
        let u = format!("{base}/healthz");
        load(2_000, a.concurrency, move |_| h.get(&u)).await;

        let h = http.clone();
        let u = format!("{base}/healthz");
        let baseline = load(a.requests, a.concurrency, move |_| h.get(&u)).await;

        let h = http.clone();
        let u = format!("{base}/webhooks/greenhouse");
        let run_id = uuid::Uuid::new_v4();
        let ingest = load(a.requests, a.concurrency, move |i| {
            let k = i % bodies.len();
            h.post(&u)
                .header("Signature", &signatures[k])
                .header("Greenhouse-Event-ID", format!("{run_id}-{i}"))
                .header("Content-Type", "application/json")
                .body(bodies[k].clone())
        })
        .await;

        // Every accepted event must also be applied: wait for the log to drain.
        let drain_start = Instant::now();
        loop {
            let left = store.unfinished_webhook_events(10).await.unwrap().len();
            if left == 0 || drain_start.elapsed() > Duration::from_secs(120) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let drained_s = drain_start.elapsed().as_secs_f64();
        let backend = if a.redis { "redis" } else { "embedded" };
        println!("webhook ingest, store={backend}, {} requests, concurrency {}", a.requests, a.concurrency);
        println!("  baseline GET /healthz : {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms", baseline.rps, baseline.p50_ms, baseline.p99_ms);
        println!("  POST signed webhooks  : {:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  failures {}", ingest.rps, ingest.p50_ms, ingest.p99_ms, ingest.failures);
        println!("  all events applied {drained_s:.2} s after the last response");
        println!(
            "bench=webhook_ingest store={backend} requests={} concurrency={} rps={:.0} p50_ms={:.2} p99_ms={:.2} failures={} baseline_rps={:.0} ratio={:.2} drain_s={drained_s:.2}",
            a.requests, a.concurrency, ingest.rps, ingest.p50_ms, ingest.p99_ms, ingest.failures, baseline.rps,
            ingest.rps / baseline.rps
        );
        if a.redis {
            RedisStore::connect(&redis_url, &prefix).await.unwrap().purge_prefix().await.unwrap();
        }
    });
}
