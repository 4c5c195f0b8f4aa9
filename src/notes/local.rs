//! The local engine: llama.cpp in `panelist-llm`, a child process Panelist starts on first use and
//! talks to over pipes (protocol in `llm_protocol`; why a process, see there). One dedicated thread
//! owns the child and serves requests one at a time; the async side only waits on a oneshot, so no
//! runtime thread ever blocks on inference. A child that crashes or hangs past the request timeout
//! is killed and started afresh for the next request; one idle for `idle_shutdown` exits, to give
//! its memory back.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::engine::{ChatRequest, Completion, SummarizerEngine};
use super::llm_protocol::{WorkerReply, WorkerRequest};
use super::NotesError;

/// How long the worker may take to load the model and say it is ready.
const LOAD_TIMEOUT: Duration = Duration::from_secs(180);
/// How often a waiting chat checks whether it was cancelled.
const CANCEL_POLL: Duration = Duration::from_millis(50);
/// Lines of the worker's stderr kept for error messages.
const STDERR_LINES: usize = 20;

/// The GGUF file the notes model is installed as (see `panelist models install notes`; the same
/// name as `models::ModelName::Notes.file_name()`).
pub const MODEL_FILE: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// The worker binary's name, looked for beside the running executable.
pub const WORKER_BIN: &str = "panelist-llm";

#[derive(Debug, Clone)]
pub struct LocalOptions {
    pub model: PathBuf,
    pub worker: PathBuf,
    /// Inference threads (prompt and generation).
    pub threads: usize,
    /// Context the worker allocates: prompt plus completion.
    pub context_tokens: usize,
    pub request_timeout: Duration,
    /// The worker exits after this long without a request; zero keeps it.
    pub idle_shutdown: Duration,
}

/// Whether `path` is a GGUF file (magic `GGUF`).
pub fn is_gguf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|()| &magic == b"GGUF")
        .unwrap_or(false)
}

/// `configured`, else `panelist-llm` beside the running executable (for test and bench binaries,
/// which live in `target/*/deps`, also one folder up).
pub fn find_worker(configured: &Path) -> Result<PathBuf, NotesError> {
    if !configured.as_os_str().is_empty() {
        return if configured.is_file() {
            Ok(configured.to_path_buf())
        } else {
            Err(NotesError::WorkerMissing {
                path: configured.to_path_buf(),
            })
        };
    }
    let exe = std::env::current_exe().map_err(|e| NotesError::WorkerStart(e.to_string()))?;
    let dir = exe.parent().unwrap_or(Path::new("."));
    let name = format!("{WORKER_BIN}{}", std::env::consts::EXE_SUFFIX);
    let candidates = [dir.join(&name), dir.join("..").join(&name)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| NotesError::WorkerMissing {
            path: candidates[0].clone(),
        })
}

struct Job {
    request: WorkerRequest,
    reply: oneshot::Sender<Result<WorkerReply, NotesError>>,
    /// When fired, the worker is told to stop this chat (see `WorkerRequest::Cancel`).
    cancel: Option<CancellationToken>,
}

pub struct LocalEngine {
    jobs: Mutex<mpsc::Sender<Job>>,
    options: LocalOptions,
    next_id: std::sync::atomic::AtomicU64,
    /// The context the worker reported (it may be smaller than asked: the model's own limit).
    context: Arc<std::sync::atomic::AtomicUsize>,
}

impl LocalEngine {
    /// Checks the model and the worker binary are there and starts the serving thread. The worker
    /// process itself starts on the first request (or `warm_up`).
    pub fn new(options: LocalOptions) -> Result<LocalEngine, NotesError> {
        if !is_gguf(&options.model) {
            return Err(NotesError::ModelNotInstalled {
                path: options.model.clone(),
            });
        }
        if !options.worker.is_file() {
            return Err(NotesError::WorkerMissing {
                path: options.worker.clone(),
            });
        }
        let (tx, rx) = mpsc::channel::<Job>();
        let context = Arc::new(std::sync::atomic::AtomicUsize::new(options.context_tokens));
        let serve = Server {
            options: options.clone(),
            child: None,
            context: context.clone(),
        };
        std::thread::Builder::new()
            .name("notes-llm".into())
            .spawn(move || serve.run(rx))
            .map_err(|e| NotesError::WorkerStart(format!("cannot start a thread: {e}")))?;
        Ok(LocalEngine {
            jobs: Mutex::new(tx),
            options,
            next_id: std::sync::atomic::AtomicU64::new(1),
            context,
        })
    }

    async fn call(
        &self,
        request: WorkerRequest,
        cancel: Option<CancellationToken>,
    ) -> Result<WorkerReply, NotesError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Job {
                request,
                reply: tx,
                cancel,
            })
            .map_err(|_| NotesError::WorkerDied("the notes-llm thread has stopped".into()))?;
        rx.await
            .map_err(|_| NotesError::WorkerDied("the notes-llm thread has stopped".into()))?
    }

    async fn call_now(&self, request: WorkerRequest) -> Result<WorkerReply, NotesError> {
        self.call(request, None).await
    }

    async fn chat(
        &self,
        request: &ChatRequest,
        cancel: Option<CancellationToken>,
    ) -> Result<Completion, NotesError> {
        let id = self.id();
        let reply = self
            .call(
                WorkerRequest::Chat {
                    id,
                    messages: request.messages.clone(),
                    max_tokens: request.max_tokens,
                    temperature: request.temperature,
                    json: request.json,
                },
                cancel,
            )
            .await?;
        match reply {
            WorkerReply::Chat {
                text,
                finish_reason,
                usage,
                ..
            } => Ok(Completion {
                text,
                finish_reason,
                usage,
            }),
            WorkerReply::Error { kind, message, .. } if kind == "context_overflow" => {
                Err(NotesError::ContextOverflow(message))
            }
            WorkerReply::Error { kind, .. } if kind == "cancelled" => Err(NotesError::Cancelled),
            WorkerReply::Error { message, .. } => Err(NotesError::WorkerFailed(message)),
            other => Err(NotesError::WorkerDied(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }

    fn id(&self) -> u64 {
        self.next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Starts the worker and loads the model now, so the first chunk does not pay for it.
    pub async fn warm_up(&self) -> Result<(), NotesError> {
        let id = self.id();
        self.call_now(WorkerRequest::Tokenize {
            id,
            text: String::new(),
        })
        .await
        .map(|_| ())
    }

    /// Exact token count of `text` with the model's tokenizer.
    pub async fn count_tokens(&self, text: &str) -> Result<usize, NotesError> {
        let id = self.id();
        match self
            .call_now(WorkerRequest::Tokenize {
                id,
                text: text.to_string(),
            })
            .await?
        {
            WorkerReply::Tokens { count, .. } => Ok(count as usize),
            other => Err(NotesError::WorkerDied(format!(
                "unexpected reply {other:?}"
            ))),
        }
    }
}

#[async_trait]
impl SummarizerEngine for LocalEngine {
    fn describe(&self) -> String {
        format!(
            "local {} ({} threads)",
            self.options
                .model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            self.options.threads
        )
    }

    fn context_tokens(&self) -> usize {
        self.context.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn complete(&self, request: &ChatRequest) -> Result<Completion, NotesError> {
        self.chat(request, None).await
    }

    /// Stops the worker mid-chat (within a prompt piece or a token), keeping what it decoded
    /// cached, rather than only dropping the wait as the default does: the model is free for
    /// the next request at once.
    async fn complete_unless(
        &self,
        request: &ChatRequest,
        cancel: &CancellationToken,
    ) -> Result<Completion, NotesError> {
        if cancel.is_cancelled() {
            return Err(NotesError::Cancelled);
        }
        self.chat(request, Some(cancel.clone())).await
    }
}

/// The running worker process and the ends of its pipes.
struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn stderr_tail(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .join(" | ")
    }

    fn stop(mut self) {
        // Closing stdin asks it to exit; kill in case it does not.
        drop(self.stdin);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dedicated thread's state.
struct Server {
    options: LocalOptions,
    child: Option<Running>,
    context: Arc<std::sync::atomic::AtomicUsize>,
}

impl Server {
    fn run(mut self, jobs: mpsc::Receiver<Job>) {
        loop {
            let job = if self.child.is_some() && !self.options.idle_shutdown.is_zero() {
                match jobs.recv_timeout(self.options.idle_shutdown) {
                    Ok(job) => job,
                    Err(RecvTimeoutError::Timeout) => {
                        tracing::debug!("notes model idle: stopping panelist-llm");
                        if let Some(c) = self.child.take() {
                            c.stop();
                        }
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match jobs.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            };
            if job
                .cancel
                .as_ref()
                .is_some_and(CancellationToken::is_cancelled)
            {
                let _ = job.reply.send(Err(NotesError::Cancelled));
                continue;
            }
            let result = self.serve(job.request, job.cancel.as_ref());
            let _ = job.reply.send(result);
        }
        if let Some(c) = self.child.take() {
            c.stop();
        }
    }

    fn serve(
        &mut self,
        request: WorkerRequest,
        cancel: Option<&CancellationToken>,
    ) -> Result<WorkerReply, NotesError> {
        if self.child.is_none() {
            self.child = Some(self.start()?);
        }
        let Some(running) = self.child.as_mut() else {
            return Err(NotesError::WorkerDied("no worker".into()));
        };
        let line = serde_json::to_string(&request)
            .map_err(|e| NotesError::WorkerFailed(format!("cannot encode the request: {e}")))?;
        let wanted = match &request {
            WorkerRequest::Chat { id, .. }
            | WorkerRequest::Tokenize { id, .. }
            | WorkerRequest::Cancel { id } => *id,
        };
        if writeln!(running.stdin, "{line}")
            .and_then(|()| running.stdin.flush())
            .is_err()
        {
            return Err(self.died("it stopped reading requests"));
        }
        let deadline = Instant::now() + self.options.request_timeout;
        let mut cancel_sent = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(running) = self.child.as_mut() else {
                return Err(NotesError::WorkerDied("no worker".into()));
            };
            // Wake up now and then to pass a cancel on; the chat's reply still ends the wait.
            let wait = match cancel {
                Some(_) if !cancel_sent => left.min(CANCEL_POLL),
                _ => left,
            };
            if !cancel_sent && cancel.is_some_and(CancellationToken::is_cancelled) {
                cancel_sent = true;
                let line = serde_json::to_string(&WorkerRequest::Cancel { id: wanted })
                    .unwrap_or_default();
                if writeln!(running.stdin, "{line}")
                    .and_then(|()| running.stdin.flush())
                    .is_err()
                {
                    return Err(self.died("it stopped reading requests"));
                }
            }
            match running.lines.recv_timeout(wait) {
                Ok(line) => match serde_json::from_str::<WorkerReply>(&line) {
                    Ok(reply) if reply.id() == wanted => return Ok(reply),
                    // A stray line (an answer to a request that timed out earlier): skip it.
                    Ok(_) | Err(_) => continue,
                },
                Err(RecvTimeoutError::Timeout) if !left.is_zero() && wait < left => continue,
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(c) = self.child.take() {
                        c.kill();
                    }
                    return Err(NotesError::Timeout(format!(
                        "the local model took longer than {}s; the worker was restarted",
                        self.options.request_timeout.as_secs()
                    )));
                }
                Err(RecvTimeoutError::Disconnected) => return Err(self.died("it exited")),
            }
        }
    }

    fn died(&mut self, what: &str) -> NotesError {
        let tail = self
            .child
            .as_ref()
            .map(Running::stderr_tail)
            .unwrap_or_default();
        if let Some(c) = self.child.take() {
            c.kill();
        }
        NotesError::WorkerDied(format!("panelist-llm {what}: {tail}"))
    }

    fn start(&self) -> Result<Running, NotesError> {
        let o = &self.options;
        let started = Instant::now();
        // llama.cpp's OpenMP threads spin while they wait for each other; on a shared 2-core machine
        // a descheduled thread makes its partner spin for a whole time slice (10x slower, measured).
        let wait_policy = std::env::var("OMP_WAIT_POLICY").unwrap_or_else(|_| "PASSIVE".into());
        let mut child = Command::new(&o.worker)
            .env("OMP_WAIT_POLICY", wait_policy)
            .arg("--model")
            .arg(&o.model)
            .arg("--threads")
            .arg(o.threads.max(1).to_string())
            .arg("--ctx")
            .arg(o.context_tokens.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                NotesError::WorkerStart(format!("cannot run {}: {e}", o.worker.display()))
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(NotesError::WorkerStart("no pipes to the worker".into()));
        };
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("notes-llm-out".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| NotesError::WorkerStart(e.to_string()))?;
        let tail = Arc::new(Mutex::new(Vec::new()));
        let tail_writer = tail.clone();
        std::thread::Builder::new()
            .name("notes-llm-err".into())
            .spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    let mut t = tail_writer.lock().unwrap_or_else(PoisonError::into_inner);
                    if t.len() >= STDERR_LINES {
                        t.remove(0);
                    }
                    t.push(line);
                }
            })
            .map_err(|e| NotesError::WorkerStart(e.to_string()))?;
        let running = Running {
            child,
            stdin,
            lines,
            stderr: tail,
        };
        match running.lines.recv_timeout(LOAD_TIMEOUT) {
            Ok(line) => match serde_json::from_str::<WorkerReply>(&line) {
                Ok(WorkerReply::Ready { n_ctx, load_ms, .. }) => {
                    self.context
                        .store(n_ctx as usize, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(
                        model = %o.model.display(),
                        threads = o.threads,
                        n_ctx,
                        load_ms,
                        spawn_ms = started.elapsed().as_millis() as u64,
                        "notes model loaded"
                    );
                    Ok(running)
                }
                Ok(WorkerReply::Error { message, .. }) => {
                    running.kill();
                    Err(NotesError::WorkerStart(message))
                }
                _ => {
                    let tail = running.stderr_tail();
                    running.kill();
                    Err(NotesError::WorkerStart(format!(
                        "unexpected first line {line:?}: {tail}"
                    )))
                }
            },
            Err(_) => {
                // Give the stderr reader a moment to collect why.
                std::thread::sleep(Duration::from_millis(100));
                let tail = running.stderr_tail();
                running.kill();
                Err(NotesError::WorkerStart(format!(
                    "it did not load the model: {tail}"
                )))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_model_names_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = LocalEngine::new(LocalOptions {
            model: dir.path().join(MODEL_FILE),
            worker: dir.path().join("panelist-llm"),
            threads: 1,
            context_tokens: 2048,
            request_timeout: Duration::from_secs(1),
            idle_shutdown: Duration::ZERO,
        })
        .err()
        .unwrap();
        let msg = err.to_string();
        assert!(msg.contains("panelist models install notes"), "{msg}");
        assert!(msg.contains(MODEL_FILE), "{msg}");
        assert!(!err.is_retryable());
    }

    #[test]
    fn the_model_file_is_the_one_the_installer_writes() {
        assert_eq!(MODEL_FILE, crate::models::ModelName::Notes.file_name());
    }

    #[test]
    fn gguf_magic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.gguf");
        std::fs::write(&p, b"GGUF\x03\x00").unwrap();
        assert!(is_gguf(&p));
        std::fs::write(&p, b"<html>").unwrap();
        assert!(!is_gguf(&p));
    }
}
