//! Shared by the notes tests and benchmark: a fake OpenAI-compatible chat server, the checked-in
//! synthetic interview with its known facts and protected remarks, and where the local model is.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use panelist::models::{self, ModelName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const TRANSCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/transcripts/backend_interview.txt"
);
pub const QUESTIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/transcripts/backend_interview.questions"
);

pub fn questions() -> Vec<String> {
    std::fs::read_to_string(QUESTIONS)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The facts the synthetic interview states, each with the spellings that count as present.
pub const FACTS: &[(&str, &[&str])] = &[
    (
        "seven years of backend experience",
        &["7 years", "seven years", "7+ years"],
    ),
    ("works at Fernwood Logistics", &["fernwood"]),
    ("Kafka event pipeline", &["kafka"]),
    (
        "scaled to 40 million events a day",
        &["40 million", "forty million", "40m", "40,000,000"],
    ),
    (
        "salary expectation 185k base",
        &["185", "one hundred eighty-five"],
    ),
    (
        "notice period four weeks",
        &["4 weeks", "four weeks", "4-week", "four-week"],
    ),
    (
        "could start March 3rd",
        &["march 3", "3rd of march", "march third"],
    ),
    ("lives in Denver", &["denver"]),
    ("competing offer from Brightline", &["brightline"]),
    ("offer deadline Friday the 14th", &["14th", "friday"]),
    (
        "MTTR from 45 to 12 minutes",
        &["12 minutes", "twelve minutes"],
    ),
    (
        "tech lead of a team of five",
        &[
            "five engineers",
            "5 engineers",
            "team of five",
            "team of 5",
            "tech lead",
        ],
    ),
    (
        "next round: system design with Priya",
        &["priya", "system design"],
    ),
];

/// Remarks on protected topics in the transcript: none of these may appear in the note.
pub const PROTECTED: &[&str] = &[
    "41",
    "forty-one",
    "pregnant",
    "wife",
    "child",
    "parental",
    "church",
    "sunday",
    "nigeria",
    "adhd",
    "diagnosed",
    "religio",
    "originally from",
];

/// Where the tests look for the notes model: `PANELIST_MODEL_DIR`, else where scripts/test.sh
/// installs models.
pub fn model_dir() -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("PANELIST_MODEL_DIR") {
        candidates.push(PathBuf::from(dir));
    } else {
        candidates.push(PathBuf::from("/var/cache/panelist/models"));
        candidates.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/models"
        )));
    }
    for dir in &candidates {
        if models::model_status(dir, ModelName::Notes).is_ready() {
            return dir.clone();
        }
    }
    panic!(
        "the notes model is not installed in {candidates:?}. Install it with \
         `cargo run -- models install notes --model-dir DIR` and set PANELIST_MODEL_DIR=DIR \
         (scripts/test.sh and .ci/run do this before the tests)"
    );
}

/// The `panelist-llm` worker built for this test run.
pub fn worker() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_panelist-llm"))
}

/// One scripted answer of the fake chat server.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a chat completion whose message content is this text.
    Content(String),
    /// Any status with a raw body and extra headers.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// This reply after a wait: a slow model.
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    pub fn status(status: u16, headers: &[(&str, &str)]) -> Reply {
        Reply::Raw {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: json!({"error": {"message": format!("status {status}")}}).to_string(),
        }
    }
}

/// What the fake does when its script runs out.
type Fallback = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

struct FakeState {
    script: VecDeque<Reply>,
    fallback: Option<Fallback>,
    requests: Vec<Value>,
    headers: Vec<String>,
}

/// A fake OpenAI-compatible chat server on 127.0.0.1: answers `POST .../chat/completions` from a
/// script, then from a fallback, and records every request body.
#[derive(Clone)]
pub struct FakeChat {
    pub base_url: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeChat {
    pub async fn start(script: Vec<Reply>) -> FakeChat {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(FakeState {
            script: script.into(),
            fallback: None,
            requests: Vec::new(),
            headers: Vec::new(),
        }));
        let served = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let Some((head, body)) = read_request(&mut socket).await else {
                        return;
                    };
                    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let reply = {
                        let mut st = state.lock().unwrap();
                        st.requests.push(request.clone());
                        st.headers.push(head);
                        match st.script.pop_front() {
                            Some(r) => r,
                            None => match &st.fallback {
                                Some(f) => f(&request),
                                None => Reply::status(500, &[]),
                            },
                        }
                    };
                    let mut reply = reply;
                    while let Reply::Delayed(wait, then) = reply {
                        tokio::time::sleep(wait).await;
                        reply = *then;
                    }
                    let (status, headers, body) = match reply {
                        Reply::Content(text) => (200, Vec::new(), completion(&text)),
                        Reply::Raw {
                            status,
                            headers,
                            body,
                        } => (status, headers, body),
                        Reply::Delayed(..) => unreachable!("unwrapped above"),
                    };
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (k, v) in headers {
                        out.push_str(&format!("{k}: {v}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = socket.write_all(out.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        FakeChat {
            base_url: format!("http://{addr}/v1"),
            state,
        }
    }

    /// Answers every request the script does not cover with `f(request)`.
    pub fn set_fallback(&self, f: impl Fn(&Value) -> Reply + Send + Sync + 'static) {
        self.state.lock().unwrap().fallback = Some(Arc::new(f));
    }

    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The raw request heads (request line and headers).
    pub fn heads(&self) -> Vec<String> {
        self.state.lock().unwrap().headers.clone()
    }
}

/// An OpenAI chat completion carrying `text`.
pub fn completion(text: &str) -> String {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    })
    .to_string()
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..].to_vec()))
}

/// A chat model that answers from what it is shown, for whole-pipeline tests: the candidate's first
/// line in the part becomes a strength (so spoken words reach the note), the facts pass gets `{}`.
pub fn echo_candidate_model(request: &Value) -> Reply {
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    if user.contains("Task: find the candidate's key facts") {
        return Reply::Content("{}".into());
    }
    let part = user.split("Transcript part").nth(1).unwrap_or_default();
    let line = part
        .lines()
        .find(|l| l.contains("(candidate):"))
        .unwrap_or_default();
    let at = line
        .trim_start_matches('[')
        .split(']')
        .next()
        .unwrap_or("00:00")
        .to_string();
    let words: String = line
        .split("(candidate):")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .take(10)
        .collect::<Vec<_>>()
        .join(" ");
    Reply::Content(
        json!({
            "summary": "The candidate described their work.",
            "strengths": [{"text": words, "at": at}]
        })
        .to_string(),
    )
}
