//! The real local model (llama.cpp in `panelist-llm`, the GGUF installed by `panelist models
//! install notes`) summarising the checked-in synthetic interview: the kit questions are answered,
//! most known facts are in the note, grounding leaves no unsupported number, date or name, and no
//! protected remark reaches it. Slow (minutes on 2 cores): it runs the whole pipeline for real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod notes_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notes_support::{model_dir, questions, worker, FACTS, PROTECTED, TRANSCRIPT};
use panelist::notes::grounding::unsupported_anywhere;
use panelist::notes::local::MODEL_FILE;
use panelist::notes::{self, LocalEngine, LocalOptions, NoteMeta, PipelineOptions};

fn engine() -> LocalEngine {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    LocalEngine::new(LocalOptions {
        model: model_dir().join(MODEL_FILE),
        worker: worker(),
        threads,
        context_tokens: 8192,
        request_timeout: Duration::from_secs(1800),
        idle_shutdown: Duration::ZERO,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_model_writes_grounded_guarded_notes_for_the_synthetic_interview() {
    let turns =
        notes::load_transcript(&std::fs::read_to_string(TRANSCRIPT).unwrap(), None).unwrap();
    let meta = NoteMeta {
        interview_id: "12345".into(),
        interview_name: "Technical Screen".into(),
        candidate_name: Some("Daniel Okafor".into()),
        job_name: Some("Senior Backend Engineer".into()),
        interviewers: vec!["Sarah Lindqvist".into()],
        questions: questions(),
        public_url: "https://panelist.example.com".into(),
        ..NoteMeta::default()
    };
    let started = Instant::now();
    let (text, outcome) = notes::summarize_turns(
        Arc::new(engine()),
        PipelineOptions::default(),
        &meta,
        turns.clone(),
    )
    .await
    .unwrap();
    let took = started.elapsed();
    // Kept for a reader: what the model made of it.
    let out = concat!(env!("CARGO_TARGET_TMPDIR"), "/notes_local.txt");
    std::fs::write(out, &text).unwrap();
    eprintln!(
        "--- notes ({:.0}s, {} chunks, written to {out}) ---\n{text}",
        took.as_secs_f64(),
        outcome.chunks.len()
    );
    for c in &outcome.chunks {
        eprintln!(
            "chunk {}: {} turns, prompt {} ({} cached) in {} ms, {} tokens generated in {} ms, {} attempt(s){}",
            c.index,
            c.turns,
            c.usage.prompt_tokens,
            c.usage.cached_tokens,
            c.usage.prompt_ms,
            c.usage.completion_tokens,
            c.usage.generation_ms,
            c.attempts,
            c.error.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default()
        );
    }
    eprintln!(
        "grounding: {:?}\nguard: {:?}",
        outcome.grounding, outcome.guard
    );

    // The note's shape.
    assert!(text.starts_with("[Panelist notes · interview 12345]\n"));
    for header in [
        "SUMMARY",
        "INTERVIEW KIT QUESTIONS",
        "STRENGTHS",
        "CONCERNS",
        "KEY FACTS",
        "NEXT STEPS",
    ] {
        assert!(text.contains(&format!("\n{header}\n")), "{header} missing");
    }
    for markup in ["**", "<b>", "</", "```", "##"] {
        assert!(
            !text.contains(markup),
            "markup {markup:?} in plain-text notes"
        );
    }
    assert_eq!(outcome.failed_chunks, 0);

    // The kit questions the candidate answered (the fifth one was never answered).
    let kit = text
        .split("INTERVIEW KIT QUESTIONS\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let lines: Vec<&str> = kit.lines().collect();
    let answered: Vec<bool> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|(i, _)| {
            lines
                .get(i + 1)
                .is_some_and(|next| next.trim() != "- Not covered.")
        })
        .collect();
    assert_eq!(answered.len(), 5, "{kit}");
    assert!(
        answered[..4].iter().all(|a| *a),
        "kit questions 1-4 should be answered:\n{kit}"
    );

    // At least 80% of the known facts.
    let lower = text.to_lowercase();
    let found: Vec<&str> = FACTS
        .iter()
        .filter(|(_, spellings)| spellings.iter().any(|s| lower.contains(s)))
        .map(|(name, _)| *name)
        .collect();
    let missing: Vec<&str> = FACTS
        .iter()
        .map(|(name, _)| *name)
        .filter(|n| !found.contains(n))
        .collect();
    eprintln!(
        "facts: {}/{} found; missing: {missing:?}",
        found.len(),
        FACTS.len()
    );
    assert!(
        found.len() * 10 >= FACTS.len() * 8,
        "only {}/{} facts; missing {missing:?}",
        found.len(),
        FACTS.len()
    );

    // Grounding left no number, date or name the transcript does not have.
    let participants = vec!["Daniel Okafor".to_string(), "Sarah Lindqvist".to_string()];
    let body: Vec<&str> = text
        .lines()
        .skip_while(|l| *l != "SUMMARY")
        .filter(|l| !l.starts_with("Written by Panelist"))
        .collect();
    for line in body {
        // The renderer's own words: question texts, labels and times.
        let claim = line
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ' || c == '-')
            .split(" [")
            .next()
            .unwrap_or_default();
        // Section headers ("KEY FACTS") and question texts are the renderer's, not claims.
        let header = !line.is_empty() && line == line.to_uppercase();
        if header || questions().iter().any(|q| q == claim) {
            continue;
        }
        let claim = claim.split_once(": ").map(|(_, v)| v).unwrap_or(claim);
        let unsupported = unsupported_anywhere(claim, &turns, &participants);
        assert!(
            unsupported.is_empty(),
            "unsupported {unsupported:?} in {line:?}"
        );
    }

    // No protected remark.
    for word in PROTECTED {
        assert!(
            !lower.contains(word),
            "protected {word:?} in the note:\n{text}"
        );
    }
    assert!(outcome.guard.redacted_sentences >= 5, "{:?}", outcome.guard);
}

/// Hang-up stops the real worker mid-chat: the request ends as cancelled instead of running to its
/// token limit, the worker stays up, and what it had read before the cancel is reused by the next
/// request with the same beginning (the hang-up work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_chat_stops_the_worker_and_keeps_what_it_read() {
    use panelist::notes::llm_protocol::ChatMessage;
    use panelist::notes::{ChatRequest, NotesError, SummarizerEngine};
    use tokio_util::sync::CancellationToken;

    let engine = engine();
    engine.warm_up().await.unwrap();
    let transcript: String = std::fs::read_to_string(TRANSCRIPT)
        .unwrap()
        .chars()
        .take(6_000)
        .collect();
    let request = ChatRequest {
        messages: vec![
            ChatMessage {
                role: "system".into(),
                content: "You take notes on job interviews.".into(),
            },
            ChatMessage {
                role: "user".into(),
                content: format!("{transcript}\n\nRetell this interview in full detail."),
            },
        ],
        max_tokens: 2_000,
        temperature: 0.0,
        json: false,
    };
    let cancel = CancellationToken::new();
    let hang_up = cancel.clone();
    tokio::spawn(async move {
        // Mid-prompt even with free cores (about 1,500 prompt tokens at <= 100 tokens/s).
        tokio::time::sleep(Duration::from_secs(8)).await;
        hang_up.cancel();
    });
    let stopped = engine.complete_unless(&request, &cancel).await;
    assert!(
        matches!(stopped, Err(NotesError::Cancelled)),
        "expected a cancelled chat, got {stopped:?}"
    );

    let again = engine
        .complete(&ChatRequest {
            max_tokens: 4,
            ..request.clone()
        })
        .await
        .unwrap();
    assert!(
        again.usage.cached_tokens >= 128,
        "the prompt read before the cancel should be reused: {:?}",
        again.usage
    );
    assert!(again.usage.completion_tokens > 0);

    // A request whose call has already ended is not started.
    assert!(matches!(
        engine.complete_unless(&request, &cancel).await,
        Err(NotesError::Cancelled)
    ));
}
