//! Transcription benchmarks (harness = false):
//!
//!   cargo bench --bench transcribe -- [rtf] [streams] [long] [--max-streams N] [--long-minutes M] [--long-speed X]
//!   [--no-batch] [--fit-window] [--workers N] [--threads N]
//!
//! - rtf: real-time factor (engine seconds per audio second) of tiny.en and base at 1 and 2 threads per
//!   inference, one inference at a time, on the mock interview's speech chunks.
//! - streams: the most live speaker streams (pairs of interview tracks, fed in real time, phases staggered)
//!   one transcriber keeps within 5 s of lag, with the default settings (tiny.en, 2 workers x 1 thread),
//!   first with one chunk per inference (the baseline), then with `batch_chunks` (unless `--no-batch`).
//! - long: a 30-minute two-speaker call (the interview looped) fed at `--long-speed` x real time; the time
//!   from the end of the audio to `TranscriptReady`.
//!
//! Models come from PANELIST_MODEL_DIR (or /var/cache/panelist/models, target/models). The last line is
//! key=value pairs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

#[path = "../tests/transcribe_support/mod.rs"]
mod transcribe_support;

use std::time::{Duration, Instant};

use actix::Actor;
use panelist::config::Settings;
use panelist::models::{self, ModelName};
use panelist::transcribe::file::chunk_recording;
use panelist::transcribe::wer::word_error_rate;
use panelist::transcribe::{
    CallEnded, ChunkerSettings, GetTranscriberStats, LocalWhisper, TranscriberActor,
    TranscriptFiles, TranscriptionEngine, WhisperOptions,
};
use transcribe_support::{feed_call, render_call, Call, Track};

const LAG_LIMIT_MS: u64 = 5_000;

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let picked: Vec<&str> = ["rtf", "streams", "long"]
        .into_iter()
        .filter(|b| args.iter().any(|a| a == b))
        .collect();
    let run = |b: &str| picked.is_empty() || picked.contains(&b);
    let max_streams: usize = arg_value(&args, "--max-streams").map_or(32, |v| v.parse().unwrap());
    let long_minutes: f64 = arg_value(&args, "--long-minutes").map_or(30.0, |v| v.parse().unwrap());
    let mut long_speed: Option<f64> = arg_value(&args, "--long-speed").map(|v| v.parse().unwrap());

    let audio = tempfile::tempdir().unwrap();
    let call = render_call(audio.path());
    println!(
        "interview: {:.1}s, {} turns",
        call.duration_ms as f64 / 1000.0,
        call.turns.len()
    );
    let system = actix::System::new();
    let mut results: Vec<(String, String)> = vec![(
        "cores".into(),
        std::thread::available_parallelism()
            .map_or(0, |n| n.get())
            .to_string(),
    )];

    if run("rtf") {
        for model in [ModelName::TinyEn, ModelName::Base] {
            let Some(dir) = find_model(model) else {
                println!("rtf {model}: model not installed, skipped");
                results.push((format!("rtf_{model}"), "missing".into()));
                continue;
            };
            for threads in [1, 2] {
                // Baseline in the same run: the full 30 s encoder window for every chunk.
                for (fit, batched) in [(false, false), (true, false), (false, true)] {
                    let rtf = system
                        .block_on(real_time_factor(&call, model, &dir, threads, fit, batched));
                    let window = match (fit, batched) {
                        (_, true) => "batched",
                        (true, _) => "fitted",
                        _ => "full",
                    };
                    println!("rtf {model} threads={threads} window={window}: {rtf:.3}");
                    results.push((
                        format!(
                            "rtf_{}_t{threads}_{window}",
                            model.as_str().replace('.', "_")
                        ),
                        format!("{rtf:.3}"),
                    ));
                }
            }
        }
    }

    let mut best_streams = 0;
    if run("streams") {
        // The baseline in the same run: one chunk per inference (`batch_chunks = false`).
        let modes: &[bool] = if batching() { &[false, true] } else { &[false] };
        for &batch in modes {
            let mode = if batch {
                "batched"
            } else {
                "one chunk per inference"
            };
            let mut best = 0;
            let mut n = 4;
            while n <= max_streams {
                let (max_lag, wer) = system.block_on(live_streams(&call, n, batch));
                let ok = max_lag <= LAG_LIMIT_MS;
                println!(
                    "streams={n} ({mode}): max lag {:.1}s, WER {:.1}% {}",
                    max_lag as f64 / 1000.0,
                    wer * 100.0,
                    if ok { "ok" } else { "TOO SLOW" }
                );
                if !ok {
                    break;
                }
                best = n;
                n += 4;
            }
            let key = if batch {
                "max_live_streams"
            } else {
                "max_live_streams_unbatched"
            };
            results.push((key.into(), best.to_string()));
            best_streams = best;
        }
    }

    if run("long") {
        // Fast enough to finish, slow enough that the engine keeps up as it would live: two streams at
        // speed x are 2x streams' worth of work.
        let speed = *long_speed.get_or_insert_with(|| {
            if best_streams >= 4 {
                (best_streams as f64 / 2.0 * 0.6).clamp(1.0, 8.0)
            } else {
                3.0
            }
        });
        let (ready_secs, max_lag, wer, minutes) =
            system.block_on(long_call(&call, long_minutes, speed));
        println!("long call {minutes:.1} min at {speed:.1}x: TranscriptReady {ready_secs:.2}s after the audio ended; max lag {:.1}s; WER {:.1}%", max_lag as f64 / 1000.0, wer * 100.0);
        results.push(("long_call_minutes".into(), format!("{minutes:.1}")));
        results.push(("long_call_speed".into(), format!("{speed:.1}")));
        results.push(("end_to_ready_s".into(), format!("{ready_secs:.2}")));
        results.push(("long_call_wer_pct".into(), format!("{:.1}", wer * 100.0)));
    }
    let line: Vec<String> = results.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
}

fn find_model(model: ModelName) -> Option<std::path::PathBuf> {
    let mut dirs = vec![];
    if let Ok(d) = std::env::var("PANELIST_MODEL_DIR") {
        dirs.push(std::path::PathBuf::from(d));
    }
    dirs.push("/var/cache/panelist/models".into());
    dirs.push(concat!(env!("CARGO_MANIFEST_DIR"), "/target/models").into());
    dirs.into_iter()
        .find(|d| models::model_status(d, model).is_ready())
}

/// One inference at a time over the interview's chunks: engine seconds per audio second.
async fn real_time_factor(
    call: &Call,
    model: ModelName,
    dir: &std::path::Path,
    threads: usize,
    fit_audio_context: bool,
    batched: bool,
) -> f64 {
    let options = WhisperOptions {
        model,
        workers: 1,
        threads_per_inference: threads,
        beam_size: 1,
        language: "en".into(),
        fit_audio_context,
        batch_chunks: batched,
    };
    let path = models::model_path(dir, model);
    let engine = tokio::task::spawn_blocking(move || LocalWhisper::load(&path, options))
        .await
        .unwrap()
        .unwrap();
    let chunks: Vec<_> = call
        .tracks
        .iter()
        .flat_map(|t| chunk_recording(&t.samples, ChunkerSettings::default()))
        .collect();
    let audio_ms: u64 = chunks.iter().map(|c| c.duration_ms()).sum();
    // Warm-up: the first inference allocates buffers.
    engine.transcribe(chunks[0].samples.clone()).await.unwrap();
    let started = Instant::now();
    if batched {
        // As the transcriber packs a full queue: chunks in order, as many as fit one window.
        let mut batch: Vec<Vec<i16>> = Vec::new();
        let mut used = 0;
        for c in &chunks {
            let with = used + panelist::transcribe::whisper::BATCH_GAP_MS + c.duration_ms();
            if !batch.is_empty() && (with > engine.batch_window_ms() || batch.len() == 6) {
                engine
                    .transcribe_batch(std::mem::take(&mut batch))
                    .await
                    .unwrap();
                used = 0;
            }
            used += c.duration_ms() + panelist::transcribe::whisper::BATCH_GAP_MS;
            batch.push(c.samples.clone());
        }
        engine.transcribe_batch(batch).await.unwrap();
    } else {
        for c in &chunks {
            engine.transcribe(c.samples.clone()).await.unwrap();
        }
    }
    started.elapsed().as_secs_f64() / (audio_ms as f64 / 1000.0)
}

/// `--no-batch`: only one chunk per inference (the `transcription.batch_chunks = false` baseline).
fn batching() -> bool {
    !std::env::args().any(|a| a == "--no-batch")
}

fn settings(data_dir: &std::path::Path, batch: bool) -> Settings {
    let mut s = Settings::defaults().unwrap();
    s.data_dir = data_dir.to_path_buf();
    s.transcription.model_dir =
        find_model(ModelName::TinyEn).expect("tiny.en installed (panelist models install tiny.en)");
    // `--fit-window`: encode only as much of Whisper's window as each chunk fills.
    s.transcription.fit_audio_context = std::env::args().any(|a| a == "--fit-window");
    s.transcription.batch_chunks = batch;
    // `--workers N`, `--threads N`: another split of the cores than the defaults (2 workers x 1 thread).
    let args: Vec<String> = std::env::args().collect();
    if let Some(n) = arg_value(&args, "--workers") {
        s.transcription.workers = n.parse().expect("--workers N");
    }
    if let Some(n) = arg_value(&args, "--threads") {
        s.transcription.threads_per_inference = n.parse().expect("--threads N");
    }
    s
}

/// The call cyclically shifted by `shift_ms`, so parallel interviews do not all talk at once.
fn rotated(call: &Call, shift_ms: u64) -> Call {
    let n = (shift_ms * 16) as usize;
    Call {
        tracks: call
            .tracks
            .iter()
            .map(|t| {
                let k = n % t.samples.len().max(1);
                let mut samples = t.samples[k..].to_vec();
                samples.extend_from_slice(&t.samples[..k]);
                Track {
                    samples,
                    ..t.clone()
                }
            })
            .collect(),
        turns: call.turns.clone(),
        duration_ms: call.duration_ms,
    }
}

async fn run_calls(
    calls: Vec<(String, Call)>,
    speed: f64,
    batch: bool,
) -> (
    Vec<f64>,
    panelist::transcribe::TranscriberStats,
    Vec<(String, String)>,
) {
    let data = tempfile::tempdir().unwrap();
    let settings = settings(data.path(), batch);
    let engine = panelist::transcribe::build_engine(&settings).await.unwrap();
    let files = TranscriptFiles::new(data.path());
    let addr = TranscriberActor::new(engine, &settings.transcription, files.clone()).start();
    let feeds: Vec<_> = calls
        .iter()
        .map(|(id, call)| {
            let addr = addr.clone();
            let (id, call) = (id.clone(), call.clone());
            actix::spawn(async move {
                feed_call(&addr, &id, &call, Some(speed)).await;
                addr.send(CallEnded {
                    interview_id: id.clone(),
                })
                .await
                .unwrap();
                Instant::now()
            })
        })
        .collect();
    let mut ended = Vec::new();
    for f in feeds {
        ended.push(f.await.unwrap());
    }
    let last_end = ended.iter().max().copied().unwrap();
    // An interview leaves the transcriber when its TranscriptReady goes out.
    loop {
        let stats = addr.send(GetTranscriberStats).await.unwrap();
        if stats.active_interviews == 0 && stats.queue_depth == 0 && stats.in_flight == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ready_after = last_end.elapsed().as_secs_f64();
    let stats = addr.send(GetTranscriberStats).await.unwrap();
    let texts = calls
        .iter()
        .map(|(id, call)| {
            let segs = files.load(id).unwrap();
            let h: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
            (call.reference_text(), h.join(" "))
        })
        .collect();
    (vec![ready_after], stats, texts)
}

async fn live_streams(call: &Call, streams: usize, batch: bool) -> (u64, f64) {
    let interviews = streams.div_ceil(2);
    let calls: Vec<_> = (0..interviews)
        .map(|i| {
            (
                format!("live-{i}"),
                rotated(call, call.duration_ms * i as u64 / interviews as u64),
            )
        })
        .collect();
    let (_, stats, texts) = run_calls(calls, 1.0, batch).await;
    let (r, h) = &texts[0];
    (stats.max_lag_ms, word_error_rate(r, h))
}

async fn long_call(call: &Call, minutes: f64, speed: f64) -> (f64, u64, f64, f64) {
    let times = ((minutes * 60_000.0) / call.duration_ms as f64).ceil() as usize;
    let long = call.looped(times.max(1));
    let minutes = long.duration_ms as f64 / 60_000.0;
    let (ready, stats, texts) =
        run_calls(vec![("long-call".into(), long)], speed, batching()).await;
    let (r, h) = &texts[0];
    (ready[0], stats.max_lag_ms, word_error_rate(r, h), minutes)
}
