//! The OpenAI-compatible HTTP engine against a local fake server: success, 429 honouring Retry-After, 5xx
//! with backoff, and malformed responses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use panelist::config::{Settings, TranscriptionHttpSettings};
use panelist::transcribe::{HttpEngine, TranscribeError, TranscriptionEngine};
use secrecy::SecretString;

/// What the fake answers, one entry per request (the last repeats).
#[derive(Clone)]
enum Reply {
    Ok,
    RateLimited { retry_after_secs: u64 },
    Unavailable,
    Garbage,
}

#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    bodies: Mutex<Vec<(Option<String>, Vec<u8>)>>,
}

struct Fake {
    base_url: String,
    seen: Arc<Seen>,
    server: actix_web::dev::ServerHandle,
}

const VERBOSE_JSON: &str = r#"{"task":"transcribe","language":"english","duration":2.5,"text":"Hello there. How are you?",
  "segments":[{"id":0,"seek":0,"start":0.0,"end":1.2,"text":" Hello there.","tokens":[1],"temperature":0.0,
  "avg_logprob":-0.2,"compression_ratio":1.0,"no_speech_prob":0.01},
  {"id":1,"seek":0,"start":1.2,"end":2.5,"text":" How are you?","tokens":[2],"temperature":0.0,
  "avg_logprob":-0.2,"compression_ratio":1.0,"no_speech_prob":0.01}]}"#;

fn start_fake(script: Vec<Reply>) -> Fake {
    let seen = Arc::new(Seen::default());
    let script = Arc::new(script);
    let state = (seen.clone(), script);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(web::PayloadConfig::new(16 << 20))
            .route(
                "/v1/audio/transcriptions",
                web::post().to(
                    |req: HttpRequest,
                     body: web::Bytes,
                     state: web::Data<(Arc<Seen>, Arc<Vec<Reply>>)>| async move {
                        let (seen, script) = state.get_ref();
                        let n = seen.requests.fetch_add(1, Ordering::SeqCst);
                        let auth = req
                            .headers()
                            .get("authorization")
                            .map(|v| v.to_str().unwrap().to_string());
                        seen.bodies.lock().unwrap().push((auth, body.to_vec()));
                        match &script[n.min(script.len() - 1)] {
                            Reply::Ok => HttpResponse::Ok()
                                .content_type("application/json")
                                .body(VERBOSE_JSON),
                            Reply::RateLimited { retry_after_secs } => {
                                HttpResponse::TooManyRequests()
                                    .insert_header(("Retry-After", retry_after_secs.to_string()))
                                    .body("{\"error\":{\"message\":\"Rate limit reached\"}}")
                            }
                            Reply::Unavailable => {
                                HttpResponse::ServiceUnavailable().body("upstream overloaded")
                            }
                            Reply::Garbage => HttpResponse::Ok()
                                .content_type("text/html")
                                .body("<html>gateway says hi</html>"),
                        }
                    },
                ),
            )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Fake {
        base_url: format!("http://127.0.0.1:{port}"),
        seen,
        server: handle,
    }
}

fn engine(base_url: &str, max_retries: u32) -> HttpEngine {
    let defaults: Settings = Settings::defaults().unwrap();
    let settings = TranscriptionHttpSettings {
        base_url: base_url.to_string(),
        api_key: SecretString::from("test-key".to_string()),
        max_retries,
        retry_base_ms: 20,
        request_timeout_secs: 10,
        ..defaults.transcription.http
    };
    HttpEngine::new(&settings, "en").unwrap()
}

fn one_second_of_audio() -> Vec<i16> {
    (0..16_000)
        .map(|i| ((i as f32 * 0.05).sin() * 3000.0) as i16)
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[actix_web::test]
async fn success_sends_a_wav_form_and_reads_segments() {
    let fake = start_fake(vec![Reply::Ok]);
    let segments = engine(&fake.base_url, 2)
        .transcribe(one_second_of_audio())
        .await
        .unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(segments[0].text, "Hello there.");
    assert_eq!((segments[1].start_ms, segments[1].end_ms), (1200, 2500));
    let bodies = fake.seen.bodies.lock().unwrap().clone();
    let (auth, body) = &bodies[0];
    assert_eq!(auth.as_deref(), Some("Bearer test-key"));
    for needle in [
        "name=\"file\"; filename=\"chunk.wav\"",
        "audio/wav",
        "RIFF",
        "WAVEfmt ",
        "name=\"response_format\"",
        "verbose_json",
        "name=\"model\"",
        "whisper-1",
        "name=\"language\"",
    ] {
        assert!(contains(body, needle), "request lacks {needle:?}");
    }
    fake.server.stop(false).await;
}

#[actix_web::test]
async fn a_429_is_retried_after_its_retry_after() {
    let fake = start_fake(vec![
        Reply::RateLimited {
            retry_after_secs: 1,
        },
        Reply::Ok,
    ]);
    let started = Instant::now();
    let segments = engine(&fake.base_url, 2)
        .transcribe(one_second_of_audio())
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(segments.len(), 2);
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 2);
    // The backoff alone would be ~20 ms: the wait is the server's.
    assert!(took >= Duration::from_millis(950), "retried after {took:?}");
    fake.server.stop(false).await;
}

#[actix_web::test]
async fn server_errors_are_retried_with_backoff_then_reported() {
    let fake = start_fake(vec![Reply::Unavailable, Reply::Ok]);
    let segments = engine(&fake.base_url, 3)
        .transcribe(one_second_of_audio())
        .await
        .unwrap();
    assert_eq!(segments.len(), 2);
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 2);
    fake.server.stop(false).await;

    let fake = start_fake(vec![Reply::Unavailable]);
    let err = engine(&fake.base_url, 2)
        .transcribe(one_second_of_audio())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TranscribeError::Http { status: 503, .. }),
        "{err}"
    );
    assert!(err.is_retryable());
    assert!(err.to_string().contains("upstream overloaded"), "{err}");
    assert_eq!(
        fake.seen.requests.load(Ordering::SeqCst),
        3,
        "1 try + 2 retries"
    );
    fake.server.stop(false).await;
}

#[actix_web::test]
async fn a_malformed_response_is_a_clear_error_and_not_retried() {
    let fake = start_fake(vec![Reply::Garbage, Reply::Ok]);
    let err = engine(&fake.base_url, 3)
        .transcribe(one_second_of_audio())
        .await
        .unwrap_err();
    assert!(
        matches!(err, TranscribeError::MalformedResponse(_)),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("malformed") && msg.contains("gateway says hi"),
        "{msg}"
    );
    assert!(!msg.contains("test-key"));
    assert_eq!(fake.seen.requests.load(Ordering::SeqCst), 1);
    fake.server.stop(false).await;
}

#[actix_web::test]
async fn an_unreachable_server_is_a_retryable_transport_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = engine(&format!("http://127.0.0.1:{port}"), 1)
        .transcribe(one_second_of_audio())
        .await
        .unwrap_err();
    assert!(matches!(err, TranscribeError::Transport(_)), "{err}");
    assert!(err.is_retryable());
}
