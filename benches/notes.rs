//! Notes benchmarks with the real local model (see BENCHMARKS.md):
//!
//! 1. Raw llama.cpp speed in the `panelist-llm` worker: prompt processing and generation tokens/s.
//! 2. Hang-up → notes ready for 30- and 60-minute two-speaker interviews fed at real-time pace.
//!    Feeding 60 minutes in real time would take an hour, so time is simulated: batches of turns
//!    arrive at their call time, each push is processed for as long as it really takes (measured),
//!    a push waits for the previous one, and the notes are ready when `finish` returns. The latency
//!    is ready time minus hang-up time. The engine runs for real; only the waiting is skipped.
//!    Hang-up is simulated too: a push still running at the call's end gets the pipeline's
//!    hang-up signal when it has run that long, as the summarizer actor sends it. The finish
//!    deadline is the configured default (`notes.finish_deadline_secs`).
//!
//! `cargo bench --bench notes` (needs `panelist models install notes`). Options (environment):
//! `PANELIST_BENCH_NOTES_MINUTES=30,60`, `PANELIST_BENCH_NOTES_THREADS` (default: all cores),
//! `PANELIST_MODEL_DIR`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/notes_support/mod.rs"]
mod notes_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use panelist::notes::llm_protocol::ChatMessage;
use panelist::notes::local::MODEL_FILE;
use panelist::notes::{
    ChatRequest, LocalEngine, LocalOptions, NotesPipeline, PipelineOptions, PromptContext, Role,
    SummarizerEngine, Turn,
};

/// How often the transcriber hands over new turns (its chunks are cut at pauses, so every few
/// seconds; 30 s is conservative and makes no difference to the result).
const BATCH_SECS: f64 = 30.0;
/// Speaking rate of the synthetic interviews.
const WORDS_PER_SEC: f64 = 2.5;

fn threads() -> usize {
    std::env::var("PANELIST_BENCH_NOTES_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
}

fn engine() -> LocalEngine {
    LocalEngine::new(LocalOptions {
        model: notes_support::model_dir().join(MODEL_FILE),
        worker: notes_support::worker(),
        threads: threads(),
        context_tokens: 8192,
        request_timeout: Duration::from_secs(3600),
        idle_shutdown: Duration::ZERO,
    })
    .unwrap()
}

/// Question/answer blocks the synthetic interviews cycle through, with `{n}` varied per round.
const BLOCKS: &[(&str, &str)] = &[
    ("Tell me about a system you designed recently.", "At my last job I designed an order routing service that handled about {n} thousand requests a second. I split it into a stateless API tier and a set of workers reading from a queue, which let us scale each side on its own. The hardest part was idempotency, because upstream partners retried aggressively, so every request carried a key and we kept the last {n} minutes of keys in Redis. We measured everything, and the p99 latency went down by about half after the rewrite."),
    ("How do you handle production incidents?", "I try to stabilise first and understand second. In one incident a deploy doubled our database connections, so I rolled back within {n} minutes and then we spent the afternoon on the root cause. Afterwards I wrote a checklist for connection pool changes and we added a canary stage. I care a lot about blameless reviews, because people only report problems early when they are not afraid of being blamed."),
    ("Tell me about a disagreement with a colleague.", "A colleague wanted to adopt a new message broker and I thought we should stay with what we had. Instead of arguing in meetings, we agreed on criteria and each built a small prototype over {n} days. His prototype was faster but harder to operate, so we kept our broker and borrowed two of his ideas for batching. We still work together well, and I think writing the criteria down first is what made it easy."),
    ("What do you want to learn next?", "I want to get better at running systems across regions. So far I have mostly worked in a single region, with backups in a second one, and I know that active active setups bring a different class of problems. I have been reading about conflict free data types and I built a small prototype at home with {n} nodes to understand the failure modes."),
    ("How do you mentor less experienced engineers?", "I pair with them on real tickets rather than giving lectures. I let them drive and I ask questions, and every {n} weeks we look back at what they shipped and what they found hard. Two of the people I mentored became tech leads, which I am proud of. I also try to hand over the interesting work, not only the boring parts."),
    ("How do you approach testing?", "I like a pyramid with many fast unit tests, a smaller set of integration tests against real dependencies in containers, and a handful of end to end checks. On my current team the suite runs in about {n} minutes, and we treat a flaky test as a bug with an owner. I also write property tests for parsers and anything with tricky edge cases."),
];

/// A two-speaker interview of about `minutes` minutes: interviewer questions and candidate answers.
fn interview(minutes: u64) -> Vec<Turn> {
    let mut turns = Vec::new();
    let mut t = 5.0;
    let end = minutes as f64 * 60.0;
    let mut round = 0usize;
    while t < end {
        let (q, a) = BLOCKS[round % BLOCKS.len()];
        let n = 3 + round * 7 % 40;
        for (speaker, role, text) in [
            ("Sarah Lindqvist", Role::Interviewer, q.to_string()),
            ("Daniel Okafor", Role::Candidate, a.replace("{n}", &n.to_string())),
            ("Sarah Lindqvist", Role::Interviewer, "Interesting. Can you say a bit more about what you would do differently next time?".to_string()),
            ("Daniel Okafor", Role::Candidate, format!("Mostly I would involve the other teams earlier. In round {round} of that project we found out late that operations had different expectations, and it cost us about {n} days. Since then I write a one page plan and share it before any code exists.")),
        ] {
            let words = text.split_whitespace().count() as f64;
            let duration = words / WORDS_PER_SEC;
            turns.push(Turn {
                start: t,
                end: t + duration,
                speaker: speaker.into(),
                role: Some(role),
                text,
            });
            t += duration + 1.0;
        }
        round += 1;
    }
    turns
}

async fn raw_speed(engine: &LocalEngine) {
    engine.warm_up().await.unwrap();
    let text: String = interview(10)
        .iter()
        .map(|t| format!("[{}] {}: {}\n", t.label(), t.speaker, t.text))
        .collect();
    let user = ChatMessage {
        role: "user".into(),
        content: format!("{text}\nSummarise this interview in one sentence."),
    };
    // Prompt processing: a long prompt, one token out. Twice, fresh each time (no shared prefix
    // beyond the template).
    let mut pp = Vec::new();
    for salt in ["A", "B"] {
        let c = engine
            .complete(&ChatRequest {
                messages: vec![
                    ChatMessage {
                        role: "system".into(),
                        content: format!("{salt}. You are a note taker."),
                    },
                    user.clone(),
                ],
                max_tokens: 1,
                temperature: 0.0,
                json: false,
            })
            .await
            .unwrap();
        let n = c.usage.prompt_tokens - c.usage.cached_tokens;
        pp.push((n, c.usage.prompt_ms));
    }
    // Generation: a short prompt, 256 tokens out, with and without the JSON grammar.
    let mut gen = Vec::new();
    for json in [false, true] {
        let c = engine
            .complete(&ChatRequest {
                messages: vec![ChatMessage {
                    role: "user".into(),
                    content: "Write a long JSON object describing ten fictional software projects, each with name, language, team size and a two-sentence description.".into(),
                }],
                max_tokens: 256,
                temperature: 0.0,
                json,
            })
            .await
            .unwrap();
        gen.push((json, c.usage.completion_tokens, c.usage.generation_ms));
    }
    println!("| measurement | tokens | ms | tokens/s |");
    println!("|---|---:|---:|---:|");
    for (n, ms) in pp {
        println!(
            "| prompt processing | {n} | {ms} | {:.1} |",
            n as f64 * 1000.0 / ms.max(1) as f64
        );
    }
    for (json, n, ms) in gen {
        let what = if json {
            "generation (JSON grammar)"
        } else {
            "generation (free text)"
        };
        println!(
            "| {what} | {n} | {ms} | {:.1} |",
            n as f64 * 1000.0 / ms.max(1) as f64
        );
    }
}

async fn hang_up_latency(engine: Arc<LocalEngine>, minutes: u64) {
    let turns = interview(minutes);
    let hang_up = turns.last().map(|t| t.end).unwrap_or_default();
    let words: usize = turns
        .iter()
        .map(|t| t.text.split_whitespace().count())
        .sum();
    let ctx = PromptContext {
        candidate: "Daniel Okafor".into(),
        interviewers: vec!["Sarah Lindqvist".into()],
        questions: BLOCKS.iter().map(|(q, _)| q.to_string()).collect(),
        job: Some("Senior Backend Engineer".into()),
    };
    let settings = panelist::config::Settings::defaults().unwrap();
    let options = PipelineOptions::from_settings(&settings.notes);
    let mut pipeline = NotesPipeline::new(engine, options.clone(), ctx);
    let hang_up_signal = pipeline.hang_up_signal();
    // Simulated clock: when the worker is free again, in call seconds.
    let mut busy_until = 0.0f64;
    let mut worked = 0.0f64;
    let mut batch = Vec::new();
    let mut batch_end = BATCH_SECS;
    let mut max_lag = 0.0f64;
    for t in turns {
        if t.end > batch_end && !batch.is_empty() {
            let start = busy_until.max(batch_end);
            // The call ends while this push may still run: signal it when it gets there.
            let signal = hang_up_signal.clone();
            let until_hang_up = Duration::from_secs_f64((hang_up - start).max(0.0));
            let timer = tokio::spawn(async move {
                tokio::time::sleep(until_hang_up).await;
                signal.cancel();
            });
            let started = Instant::now();
            pipeline.push(std::mem::take(&mut batch)).await.unwrap();
            timer.abort();
            let took = started.elapsed().as_secs_f64();
            busy_until = start + took;
            worked += took;
            max_lag = max_lag.max(busy_until - batch_end);
            batch_end += BATCH_SECS;
        }
        while t.end > batch_end {
            batch_end += BATCH_SECS;
        }
        batch.push(t);
    }
    hang_up_signal.cancel();
    let started = Instant::now();
    pipeline.push(batch).await.unwrap();
    let outcome = pipeline.finish().await.unwrap();
    let finish = started.elapsed().as_secs_f64();
    let ready = busy_until.max(hang_up) + finish;
    let latency = ready - hang_up;
    let (prompt, cached, generated) = outcome.chunks.iter().fold((0, 0, 0), |(p, c, g), r| {
        (
            p + r.usage.prompt_tokens,
            c + r.usage.cached_tokens,
            g + r.usage.completion_tokens,
        )
    });
    let last = outcome.chunks.last().cloned().unwrap_or_default();
    let interrupted = outcome
        .chunks
        .iter()
        .filter(|c| {
            c.error
                .as_deref()
                .is_some_and(|e| e.starts_with("interrupted"))
        })
        .count();
    let assessed = match outcome.assessed_until {
        Some(t) => format!("to {:.0} of {:.0} min", t / 60.0, hang_up / 60.0),
        None => "all".into(),
    };
    println!(
        "| {minutes} min | {words} | {} | {:.0} s ({:.0}%) | {:.0} s | {:.1} s | {} | {prompt} ({cached} cached) / {generated} | {} turns, {} prompt tokens, {} generated | {interrupted} | {assessed} |",
        outcome.chunks.len(),
        worked,
        100.0 * worked / hang_up,
        max_lag,
        latency,
        if latency <= 30.0 { "yes" } else { "no" },
        last.turns,
        last.usage.prompt_tokens,
        last.usage.completion_tokens,
    );
}

fn main() {
    let minutes: Vec<u64> = std::env::var("PANELIST_BENCH_NOTES_MINUTES")
        .unwrap_or_else(|_| "30,60".into())
        .split(',')
        .filter_map(|m| m.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = Arc::new(engine());
        println!("notes benchmark: {} ({} threads), load average {}", engine.describe(), threads(),
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "));
        println!();
        raw_speed(&engine).await;
        println!();
        println!("| interview | words | chunks | model busy during the call | worst lag behind the call | hang-up → notes | ≤ 30 s | prompt / generated tokens | last chunk | chunks interrupted by hang-up | assessment covers |");
        println!("|---|---:|---:|---:|---:|---:|---|---|---|---:|---|");
        for m in minutes {
            hang_up_latency(engine.clone(), m).await;
        }
    });
}
