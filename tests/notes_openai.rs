//! The notes pipeline with the OpenAI-compatible engine against a fake chat server: success, 429,
//! 5xx, malformed replies (retried, then a clear failure), a transcript longer than the context
//! (chunked, with the summary carried forward), and the guard and grounding applied to whatever the
//! model says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod notes_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use notes_support::{questions, FakeChat, Reply, PROTECTED, TRANSCRIPT};
use panelist::config::NotesOpenAiSettings;
use panelist::notes::{
    self, prompt, DynSummarizer, NoteMeta, NotesError, OpenAiEngine, PipelineOptions,
};
use secrecy::SecretString;
use serde_json::{json, Value};

fn settings(base_url: &str, context_tokens: usize) -> NotesOpenAiSettings {
    NotesOpenAiSettings {
        base_url: base_url.to_string(),
        api_key: SecretString::from("sk-test-key".to_string()),
        model: "gpt-test".into(),
        json_response_format: true,
        context_tokens,
        request_timeout_secs: 10,
        max_retries: 3,
        retry_base_ms: 10,
    }
}

fn engine(fake: &FakeChat, context_tokens: usize) -> DynSummarizer {
    Arc::new(OpenAiEngine::new(&settings(&fake.base_url, context_tokens)).unwrap())
}

fn options(chunk_tokens: usize) -> PipelineOptions {
    PipelineOptions {
        chunk_tokens,
        max_output_tokens: 400,
        ..PipelineOptions::default()
    }
}

fn meta() -> NoteMeta {
    NoteMeta {
        interview_id: "4242".into(),
        interview_name: "Technical Screen".into(),
        candidate_name: Some("Daniel Okafor".into()),
        interviewers: vec!["Sarah Lindqvist".into()],
        questions: questions(),
        public_url: "https://panelist.example.com".into(),
        ..NoteMeta::default()
    }
}

fn fixture_turns() -> Vec<notes::Turn> {
    notes::load_transcript(&std::fs::read_to_string(TRANSCRIPT).unwrap(), None).unwrap()
}

/// Whether a request is the facts pass (else the assessment pass) over a chunk.
fn is_facts_pass(request: &Value) -> bool {
    request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .contains("Task: find the candidate's key facts")
}

/// The keys each pass asks for.
fn for_pass(full: &Value, facts: bool) -> String {
    let fact_keys = [
        "experience",
        "projects",
        "compensation",
        "notice_period",
        "start_date",
        "location",
        "competing_offers",
        "next_steps",
    ];
    let picked: serde_json::Map<String, Value> = full
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| fact_keys.contains(&k.as_str()) == facts)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(picked).to_string()
}

/// A model that answers each pass with its part of `good_reply`.
fn good_model(request: &Value) -> Reply {
    Reply::Content(for_pass(&good_reply(), is_facts_pass(request)))
}

/// What a good model would answer for the whole synthetic interview, plus one unsupported claim
/// and one protected remark that must not survive.
fn good_reply() -> Value {
    json!({
        "summary": "Daniel Okafor is a senior backend engineer with seven years of experience who led a Kafka pipeline at Fernwood Logistics.",
        "answers": [
            {"q": 1, "answer": "Designed the Kafka tracking pipeline at Fernwood, scaling from 2 million to 40 million events a day.", "at": "01:45"},
            {"q": 2, "answer": "Rolled back a bad deploy, then wrote an incident runbook; MTTR went from 45 to 12 minutes.", "at": "04:02"},
            {"q": 3, "answer": "Settled a design disagreement with Marco by building prototypes against agreed criteria.", "at": "05:39"},
            {"q": 4, "answer": "Wants to move toward a staff engineer role on company-wide event infrastructure.", "at": "06:51"}
        ],
        "strengths": [
            {"text": "Careful zero-downtime migration with a six week parallel run", "at": "02:35"},
            {"text": "Won a design debate with Google engineers", "at": "05:39"}
        ],
        "concerns": [
            {"text": "Admits difficulty delegating hard tickets", "at": "07:56"},
            {"text": "Goes to church on Sunday mornings", "at": "04:52"}
        ],
        "experience": {"text": "Seven years as a backend engineer, four at Fernwood Logistics", "at": "00:31"},
        "compensation": {"text": "Base of around $185,000, flexible on equity", "at": "08:32"},
        "notice_period": {"text": "Four weeks", "at": "08:47"},
        "start_date": {"text": "Could start on March 3rd", "at": "08:59"},
        "location": {"text": "Lives in Denver; two office days a week work", "at": "09:12"},
        "competing_offers": [{"text": "Offer from Brightline, answer due Friday the 14th", "at": "09:24"}],
        "next_steps": [{"text": "System design interview with Priya next week", "at": "10:31"}]
    })
}

#[tokio::test]
async fn success_posts_the_schema_request_and_renders_grounded_guarded_notes() {
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(good_model);
    let (text, outcome) = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();

    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "one chunk, two passes: {requests:#?}");
    assert!(is_facts_pass(&requests[0]) && !is_facts_pass(&requests[1]));
    let r = &requests[0];
    assert_eq!(r["model"], "gpt-test");
    assert_eq!(r["response_format"], json!({"type": "json_object"}));
    assert_eq!(r["max_tokens"], 400);
    assert_eq!(r["messages"][0]["role"], "system");
    assert!(requests[1]["messages"][1]["content"]
        .as_str()
        .unwrap()
        .contains("1. Tell me about a system you designed end to end."));
    // Both passes share everything up to the task: a local model reads the chunk once.
    let (a, b) = (
        requests[0]["messages"][1]["content"].as_str().unwrap(),
        requests[1]["messages"][1]["content"].as_str().unwrap(),
    );
    let shared = a.split("\nTask:").next().unwrap();
    assert!(b.starts_with(shared) && shared.len() > 5_000);
    assert!(fake.heads()[0]
        .to_lowercase()
        .contains("authorization: bearer sk-test-key"));
    // Protected remarks never reach the model.
    let sent = r["messages"][1]["content"].as_str().unwrap().to_lowercase();
    for word in ["church", "nigeria", "adhd", "pregnant", "forty-one"] {
        assert!(!sent.contains(word), "{word} was sent to the model");
    }

    assert!(
        text.starts_with("[Panelist notes · interview 4242]\n"),
        "{text}"
    );
    assert!(text.contains("Full transcript: https://panelist.example.com/interviews/4242"));
    assert!(
        text.contains("- Compensation: Base of around $185,000, flexible on equity [08:32]"),
        "{text}"
    );
    assert!(
        text.contains("5. How do you approach mentoring junior engineers?\n   - Not covered."),
        "{text}"
    );
    // "Google" is not in the transcript; the church remark is protected.
    assert!(!text.contains("Google"), "{text}");
    let lower = text.to_lowercase();
    for word in PROTECTED {
        assert!(
            !lower.contains(word),
            "protected {word:?} in the note:\n{text}"
        );
    }
    assert_eq!(outcome.grounding.unsupported, 1, "{:?}", outcome.grounding);
    assert!(outcome.guard.dropped_claims >= 1);
    assert!(outcome.guard.redacted_sentences >= 5, "{:?}", outcome.guard);
    assert!(text.contains("1 statement(s) the transcript does not support were left out"));
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after() {
    let fake = FakeChat::start(vec![Reply::status(429, &[("retry-after", "1")])]).await;
    fake.set_fallback(good_model);
    let started = Instant::now();
    let (text, _) = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    assert_eq!(fake.requests().len(), 3, "429, then both passes");
    assert!(text.contains("Brightline"));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_given_up() {
    let fake = FakeChat::start(vec![Reply::status(500, &[]), Reply::status(502, &[])]).await;
    fake.set_fallback(good_model);
    notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    assert_eq!(fake.requests().len(), 4, "500, 502, then both passes");

    // Always 503: max_retries (3) retries, then the error, retried once more at the end.
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|_| Reply::status(503, &[]));
    let err = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, NotesError::Http { status: 503, .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(fake.requests().len(), 8);

    // A 4xx is not retried.
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|_| Reply::status(401, &[]));
    let err = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, NotesError::Http { status: 401, .. }), "{err}");
    assert_eq!(
        fake.requests().len(),
        2,
        "once during the call, once at the end"
    );
}

#[tokio::test]
async fn a_malformed_reply_is_retried_and_then_fails_clearly() {
    // Once malformed, then good: the retry tells the model what was wrong.
    let fake = FakeChat::start(vec![Reply::Content(
        "Sure! Here are the notes: the candidate was great.".into(),
    )])
    .await;
    fake.set_fallback(good_model);
    notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    let requests = fake.requests();
    assert_eq!(
        requests.len(),
        3,
        "bad facts reply, its retry, the assessment"
    );
    let retry = requests[1]["messages"].as_array().unwrap();
    assert_eq!(
        retry.len(),
        4,
        "system, user, the bad reply, the correction"
    );
    assert!(retry[3]["content"]
        .as_str()
        .unwrap()
        .contains("could not be used"));

    // Never valid: max_attempts per try, then a clear error.
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|_| Reply::Content("{\"oops\": true".into()));
    let err = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, NotesError::MalformedReply { attempts: 3, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("not the notes JSON after 3 attempt(s)"),
        "{msg}"
    );
    assert!(!err.is_retryable());
    // 3 attempts during the call, 3 more when the failed chunk is retried at the end.
    assert_eq!(fake.requests().len(), 6);

    // A reply that is not a chat completion at all.
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|_| Reply::Raw {
        status: 200,
        headers: vec![],
        body: "<html>proxy error</html>".into(),
    });
    let err = notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, NotesError::MalformedResponse(_)), "{err}");
}

fn letter(i: usize) -> char {
    (b'a' + i as u8) as char
}

/// The distinct chunks the model was shown, in order (both passes over a chunk show the same).
fn chunks_sent(requests: &[Value]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for r in requests {
        let part = part_of(r);
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    parts.iter().map(|p| format!("{p}\n")).collect()
}

/// The transcript lines of a chunk's request (without the context lines).
fn part_of(request: &Value) -> String {
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let after = user.split("Transcript part (").nth(1).unwrap_or_default();
    let lines = after.split_once("):\n").map(|(_, l)| l).unwrap_or_default();
    lines.split("\n\n").next().unwrap_or_default().to_string()
}

/// Answers each chunk's assessment with its first candidate line as a strength and "Candidate
/// summary x." as the summary, and its facts pass with nothing.
fn echo_first_candidate_line(request: &Value) -> Reply {
    if is_facts_pass(request) {
        return Reply::Content("{}".into());
    }
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    let part = part_of(request);
    let line = part
        .lines()
        .find(|l| l.contains("(candidate):"))
        .unwrap_or_default();
    let at = line
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or("00:00");
    let text: String = line
        .split("(candidate):")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    // Summaries are lettered: a number the transcript never says would be dropped by grounding.
    // The summary so far names the previous chunk's letter; this one is the next.
    let before = user
        .split("Candidate summary ")
        .nth(1)
        .and_then(|rest| rest.chars().next())
        .map(|c| (c as u8 - b'a') as usize + 1)
        .unwrap_or(0);
    Reply::Content(
        json!({
            "summary": format!("Candidate summary {}.", letter(before)),
            "strengths": [{"text": text, "at": at}]
        })
        .to_string(),
    )
}

#[tokio::test]
async fn a_transcript_longer_than_the_context_is_summarised_in_chunks() {
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(echo_first_candidate_line);
    let context = 2_048;
    let (text, outcome) = notes::summarize_turns(
        engine(&fake, context),
        options(50_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    let requests = fake.requests();
    let assessments: Vec<&Value> = requests.iter().filter(|r| !is_facts_pass(r)).collect();
    let chunks = outcome.chunks.len();
    assert!(chunks >= 4, "{chunks} chunks");
    // Chunks that mention no key fact get no facts pass; the last, short one may get only that.
    assert!(assessments.len() + 1 >= chunks && assessments.len() <= chunks);
    for r in &requests {
        let messages: Vec<panelist::notes::llm_protocol::ChatMessage> =
            serde_json::from_value(r["messages"].clone()).unwrap();
        let prompt_tokens = prompt::estimate_messages(&messages);
        assert!(
            prompt_tokens + 400 <= context,
            "a request of ~{prompt_tokens} tokens plus 400 to generate exceeds the context of {context}"
        );
    }
    // Each chunk saw the summary of the ones before it; the note has the last one.
    let second = assessments[1]["messages"][1]["content"].as_str().unwrap();
    assert!(
        second.contains("Summary of the interview before this part: Candidate summary a."),
        "{second}"
    );
    assert!(
        text.contains(&format!(
            "SUMMARY\nCandidate summary {}.",
            letter(assessments.len() - 1)
        )),
        "{text}"
    );
    // Strengths came from several chunks, each at its own time.
    let strengths = text
        .split("STRENGTHS\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    assert!(strengths.lines().count() >= 4, "{strengths}");
    // Every line of the transcript went to the model in exactly one chunk (context lines aside).
    let sent = chunks_sent(&requests);
    assert_eq!(sent.matches("[10:57] Daniel Okafor (candidate)").count(), 1);
    assert_eq!(
        sent.matches("[00:04] Sarah Lindqvist (interviewer)")
            .count(),
        1
    );
    assert_eq!(sent.lines().count(), fixture_turns().len());
}

#[tokio::test]
async fn json_mode_is_dropped_when_the_server_refuses_it() {
    let fake = FakeChat::start(vec![Reply::Raw {
        status: 400,
        headers: vec![],
        body: json!({"error": {"message": "response_format is not supported by this model"}})
            .to_string(),
    }])
    .await;
    fake.set_fallback(good_model);
    notes::summarize_turns(
        engine(&fake, 16_384),
        options(20_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert!(requests[0].get("response_format").is_some());
    assert!(requests[1].get("response_format").is_none());
    assert!(requests[2].get("response_format").is_none());
}

/// Collects `NotesWritten` for the actor test.
struct Collector(std::sync::Arc<std::sync::Mutex<Vec<notes::NotesWritten>>>);

impl actix::Actor for Collector {
    type Context = actix::Context<Self>;
}

impl actix::Handler<notes::NotesWritten> for Collector {
    type Result = ();
    fn handle(&mut self, msg: notes::NotesWritten, _: &mut Self::Context) {
        self.0.lock().unwrap().push(msg);
    }
}

#[actix_web::test]
async fn the_summarizer_follows_the_call_and_hands_the_note_to_the_poster() {
    use actix::Actor;
    use panelist::domain::Candidate;
    use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse};
    use panelist::greenhouse::{ClientConfig, Credentials, GreenhouseClient, Visibility};
    use panelist::poster::{GreenhouseAccess, GreenhousePosterActor, Poster};
    use panelist::transcribe::{TranscriptFiles, TranscriptReady, TranscriptSegment};

    let chat = FakeChat::start(vec![]).await;
    chat.set_fallback(echo_first_candidate_line);
    let greenhouse = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    greenhouse
        .upsert_candidate(&Candidate {
            id: 42,
            ..Default::default()
        })
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: panelist::store::DynStore =
        Arc::new(panelist::store::EmbeddedStore::open(&dir.path().join("s.redb")).unwrap());
    let client = GreenhouseClient::new(ClientConfig {
        on_behalf_of: Some(712),
        ..ClientConfig::new(
            greenhouse.base_url(),
            greenhouse.token_url(),
            Credentials::V3 {
                client_id: "test-client".into(),
                client_secret: SecretString::from("test-secret".to_string()),
            },
        )
    })
    .unwrap();
    let settings = panelist::config::Settings::defaults().unwrap();
    let poster = GreenhousePosterActor::new(
        Poster::new(
            store,
            GreenhouseAccess::Fixed {
                client,
                user_id: 712,
            },
            &settings.poster,
        ),
        Duration::from_secs(3600),
    )
    .start();
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let collector = Collector(written.clone()).start();
    let files = TranscriptFiles::new(dir.path());
    let summarizer = notes::SummarizerActor::new(
        engine(&chat, 2_048),
        options(50_000),
        files.clone(),
        poster.recipient(),
        Visibility::Private,
        Duration::from_millis(50),
    )
    .with_listener(collector.recipient())
    .start();
    summarizer
        .send(notes::NotesRequested {
            interview_id: 777,
            candidate_id: 42,
            meta: NoteMeta {
                interview_id: "777".into(),
                ..meta()
            },
        })
        .await
        .unwrap();

    // The transcriber appends segments while the call goes on; chunks are summarised meanwhile.
    let segments: Vec<TranscriptSegment> = fixture_turns()
        .iter()
        .map(|t| {
            TranscriptSegment::new(
                &t.speaker,
                &t.speaker,
                (t.start * 1000.0) as u64,
                (t.end * 1000.0) as u64,
                &t.text,
            )
        })
        .collect();
    let half = segments.len() / 2;
    files
        .append("777", segments[..half].to_vec())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while chat.requests().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no chunk was summarised during the call"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    files
        .append("777", segments[half..].to_vec())
        .await
        .unwrap();
    summarizer
        .send(TranscriptReady {
            interview_id: "777".into(),
            path: files.path("777"),
            segments: segments.len(),
            failed_chunks: 0,
        })
        .await
        .unwrap();
    while greenhouse.notes(42).is_empty() {
        assert!(
            Instant::now() < deadline + Duration::from_secs(10),
            "the note was never posted"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let posted = greenhouse.notes(42);
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]
            .body
            .starts_with("[Panelist notes · interview 777]\n"),
        "{}",
        posted[0].body
    );
    assert_eq!(posted[0].visibility, "private");
    let w = written.lock().unwrap().clone();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].result.as_deref().ok(), Some(posted[0].body.as_str()));
    // Every line of the transcript was in exactly one chunk.
    let sent = chunks_sent(&chat.requests());
    assert_eq!(sent.matches("[10:57] Daniel Okafor (candidate)").count(), 1);
    assert_eq!(sent.matches("[00:11] Daniel Okafor (candidate)").count(), 1);
}

/// A pipeline for `meta()`'s interview on `fake`, whose finish cuts the assessment at `deadline`.
fn pipeline_with_deadline(
    fake: &FakeChat,
    context: usize,
    deadline: Duration,
) -> notes::NotesPipeline {
    let meta = meta();
    let ctx = notes::PromptContext {
        candidate: "Daniel Okafor".into(),
        interviewers: meta.interviewers,
        questions: meta.questions,
        job: meta.job_name,
    };
    let options = PipelineOptions {
        finish_deadline: Some(deadline),
        ..options(50_000)
    };
    notes::NotesPipeline::new(engine(fake, context), options, ctx)
}

/// Hang-up pre-empts the model: a chunk it is still assessing during the call is stopped, keeps
/// the facts it already has (they are not asked for twice), and at hang-up the facts of what is
/// left always come through while only the assessments are cut at the finish deadline, which the
/// note then says; what was assessed during the call stays.
#[tokio::test]
async fn hang_up_stops_the_chunk_in_progress_and_the_deadline_cuts_only_the_assessment() {
    let fake = FakeChat::start(vec![]).await;
    let meta = meta();
    // A small context: the interview takes several chunks.
    let mut pipeline = pipeline_with_deadline(&fake, 2_048, Duration::from_millis(500));
    let hang_up = pipeline.hang_up_signal();
    // Facts come at once, and so does the first chunk's assessment; the next assessment takes
    // the slow model a minute, and the call ends while it is being written.
    let assessments = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    fake.set_fallback(move |r| {
        if is_facts_pass(r) {
            return good_model(r);
        }
        if assessments.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            return good_model(r);
        }
        hang_up.cancel();
        Reply::Delayed(Duration::from_secs(60), Box::new(good_model(r)))
    });
    let during = pipeline.push(fixture_turns()).await.unwrap();
    assert_eq!(during.len(), 2, "{during:?}");
    assert_eq!(during[0].error, None, "{during:?}");
    assert!(
        during[1]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("interrupted")),
        "{during:?}"
    );
    let cut_from = during[1].from;
    let interrupted_part = part_of(fake.requests().iter().rfind(|r| !is_facts_pass(r)).unwrap());
    // After hang-up, turns are only queued.
    let asked = fake.requests().len();
    assert!(pipeline.push(Vec::new()).await.unwrap().is_empty());
    assert_eq!(fake.requests().len(), asked);

    let outcome = pipeline.finish().await.unwrap();
    assert_eq!(outcome.failed_chunks, 0, "{:?}", outcome.chunks);
    // The facts of the whole call, the interrupted chunk's included...
    let facts: Vec<String> = outcome
        .notes
        .facts
        .iter()
        .map(|(_, c)| c.text.clone())
        .collect();
    assert!(
        facts.iter().any(|f| f.contains("185,000")),
        "compensation missing: {facts:?}"
    );
    assert!(
        facts.iter().any(|f| f.contains("Four weeks")),
        "notice period missing: {facts:?}"
    );
    assert!(!outcome.notes.next_steps.is_empty());
    // ...the first chunk's assessment (done during the call, above), and the rest cut by the
    // deadline from the interrupted chunk's first turn on.
    assert_eq!(outcome.assessed_until, Some(cut_from));
    let text = notes::render(
        &outcome.notes,
        &meta,
        notes::Omissions {
            unsupported: outcome.grounding.unsupported,
            protected: outcome.guard.total(),
            assessed_until: outcome.assessed_until,
        },
    );
    let at = format!(
        "cover the call up to {:02}:{:02}",
        cut_from as u64 / 60,
        cut_from as u64 % 60
    );
    assert!(text.contains(&at), "{at} not in {text}");
    assert!(text.contains("Four weeks"), "{text}");
    // The interrupted chunk's facts came through during the call and were not asked for again.
    let facts_asked = fake
        .requests()
        .iter()
        .filter(|r| is_facts_pass(r) && part_of(r) == interrupted_part)
        .count();
    assert_eq!(facts_asked, 1);
}

/// A chunk whose assessment hang-up stopped during the call is assessed at the end when the
/// deadline leaves time for it, without its facts being asked for again.
#[tokio::test]
async fn an_interrupted_assessment_is_finished_at_hang_up_when_there_is_time() {
    let fake = FakeChat::start(vec![]).await;
    let mut pipeline = pipeline_with_deadline(&fake, 2_048, Duration::from_secs(30));
    let hang_up = pipeline.hang_up_signal();
    let assessments = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    fake.set_fallback(move |r| {
        if is_facts_pass(r) {
            return good_model(r);
        }
        // The second assessment is the one the call's end interrupts; at hang-up it comes at once.
        if assessments.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            hang_up.cancel();
            return Reply::Delayed(Duration::from_secs(60), Box::new(good_model(r)));
        }
        good_model(r)
    });
    let during = pipeline.push(fixture_turns()).await.unwrap();
    assert_eq!(during.len(), 2, "{during:?}");
    let interrupted_part = part_of(fake.requests().iter().rfind(|r| !is_facts_pass(r)).unwrap());
    let outcome = pipeline.finish().await.unwrap();
    assert_eq!(outcome.failed_chunks, 0, "{:?}", outcome.chunks);
    // Everything was assessed in the end, nothing cut.
    assert_eq!(outcome.assessed_until, None, "{:?}", outcome.chunks);
    let requests = fake.requests();
    let asked = |facts: bool| {
        requests
            .iter()
            .filter(|r| is_facts_pass(r) == facts && part_of(r) == interrupted_part)
            .count()
    };
    assert_eq!(
        asked(true),
        1,
        "the interrupted chunk's facts were asked again"
    );
    assert_eq!(
        asked(false),
        2,
        "its assessment: interrupted, then at the end"
    );
    assert!(!outcome.notes.answers.is_empty());
}

/// A short call is summarised whole at hang-up: the deadline never leaves its note with no
/// assessment at all, so finish waits for it.
#[tokio::test]
async fn a_short_call_waits_for_its_assessment_past_the_deadline() {
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|r| {
        if is_facts_pass(r) {
            good_model(r)
        } else {
            Reply::Delayed(Duration::from_millis(700), Box::new(good_model(r)))
        }
    });
    let mut pipeline = pipeline_with_deadline(&fake, 8_192, Duration::from_millis(100));
    pipeline.hang_up_signal().cancel();
    assert!(pipeline.push(fixture_turns()).await.unwrap().is_empty());
    let outcome = pipeline.finish().await.unwrap();
    assert_eq!(outcome.assessed_until, None);
    assert!(!outcome.notes.answers.is_empty());
    assert!(!outcome.notes.strengths.is_empty());
}

/// Without a deadline (`panelist notes FILE`), finish waits for the whole assessment.
#[tokio::test]
async fn without_a_deadline_finish_waits_for_the_assessment() {
    let fake = FakeChat::start(vec![]).await;
    fake.set_fallback(|r| {
        if is_facts_pass(r) {
            good_model(r)
        } else {
            Reply::Delayed(Duration::from_millis(700), Box::new(good_model(r)))
        }
    });
    let (text, outcome) = notes::summarize_turns(
        engine(&fake, 8_192),
        options(50_000),
        &meta(),
        fixture_turns(),
    )
    .await
    .unwrap();
    assert_eq!(outcome.assessed_until, None);
    assert!(!outcome.notes.answers.is_empty());
    assert!(!text.contains("cover the call up to"), "{text}");
}
