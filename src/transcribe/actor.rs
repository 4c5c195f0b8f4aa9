//! `TranscriberActor`: live, per-participant transcription of a call.
//!
//! Audio and voice-activity events arrive per participant (the media plane separates speakers, so
//! attribution comes from the track, not from guessing). A pure [`Chunker`] per participant cuts speech
//! chunks; they go into a bounded queue served by a dispatcher task that keeps the engine's concurrency busy,
//! appends each chunk's segments to the interview's transcript file as soon as they exist, and reports back.
//! When the queue is full the actor stops reading its mailbox until a slot frees up, so a sender using
//! `send().await` is slowed (or sees `try_send` fail) instead of memory growing without bound. On
//! `CallEnded` every participant's open chunk is flushed, and once the last one is stored the actor emits
//! `TranscriptReady`. No inference or file I/O happens on the actor's thread.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::chunker::{Chunk, Chunker, ChunkerSettings, Cut};
use super::transcript::{TranscriptFiles, TranscriptSegment};
use super::{DynEngine, EngineSegment, TranscribeError};
use crate::config::TranscriptionSettings;

/// How often open chunks are checked against the (estimated) call clock, for speakers whose frames stopped.
const TICK: Duration = Duration::from_millis(200);
/// A participant whose frames are this far behind the call clock is treated as silent (muted, DTX).
const STALE_MS: u64 = 2_000;
/// Enough for bursts of 20 ms frames from several participants while a handler runs.
const MAILBOX: usize = 1_024;

/// A run of one participant's 16 kHz mono PCM, timed on the call clock.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ParticipantAudio {
    pub interview_id: String,
    pub participant_id: String,
    pub display_name: String,
    pub start_ms: u64,
    pub samples: Vec<i16>,
}

/// The media plane's voice-activity detector says a participant started (`speaking`) or stopped talking.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ParticipantSpeech {
    pub interview_id: String,
    pub participant_id: String,
    pub display_name: String,
    pub at_ms: u64,
    pub speaking: bool,
}

/// The call is over: flush everything, then emit `TranscriptReady`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct CallEnded {
    pub interview_id: String,
}

/// Every chunk of an ended call has been transcribed and stored.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TranscriptReady {
    pub interview_id: String,
    /// The JSONL transcript (read it with `TranscriptFiles::load`).
    pub path: PathBuf,
    pub segments: usize,
    /// Chunks the engine failed on (each was logged); their speech is missing from the transcript.
    pub failed_chunks: usize,
}

#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "TranscriberStats")]
pub struct GetTranscriberStats;

/// Counters and gauges for metrics and the dashboard.
#[derive(Debug, Clone, Default, PartialEq, MessageResponse)]
pub struct TranscriberStats {
    /// Chunks waiting for the engine (including one held back by backpressure).
    pub queue_depth: usize,
    pub queue_capacity: usize,
    /// Chunks the engine is working on.
    pub in_flight: usize,
    /// Age of the oldest chunk not yet stored: how far transcription is behind the speech it has been given.
    pub lag_ms: u64,
    /// Worst and latest time from a chunk being cut to its segments being stored.
    pub max_lag_ms: u64,
    pub last_lag_ms: u64,
    pub chunks_queued: u64,
    pub chunks_done: u64,
    pub chunks_failed: u64,
    /// Chunks with too little speech to send (clicks, coughs).
    pub chunks_dropped: u64,
    /// Times the queue was full and the actor paused its mailbox.
    pub backpressure_waits: u64,
    pub segments: u64,
    /// Audio transcribed, and engine time spent on it: their ratio is the real-time factor.
    pub audio_ms: u64,
    pub engine_ms: u64,
    /// Engine runs, a batch counting once: fewer than chunks done when chunks share a window.
    pub inferences: u64,
    /// Audio held in open chunks, not yet cut.
    pub buffered_ms: u64,
    pub active_interviews: usize,
    /// Per interview: age of its oldest chunk not yet stored, ms (absent when caught up).
    pub lag_by_interview: BTreeMap<String, u64>,
}

impl TranscriberStats {
    /// Engine seconds per second of audio (below 1 is faster than real time).
    pub fn real_time_factor(&self) -> f64 {
        if self.audio_ms == 0 {
            0.0
        } else {
            self.engine_ms as f64 / self.audio_ms as f64
        }
    }
}

/// Shared between the actor and its dispatcher; never held across an await.
#[derive(Debug, Default)]
struct Counters {
    stats: TranscriberStats,
    /// When each chunk not yet stored was cut, by sequence number (so the first is the oldest).
    pending: BTreeMap<u64, (Instant, String)>,
}

#[derive(Debug, Clone, Default)]
struct SharedCounters(Arc<Mutex<Counters>>);

impl SharedCounters {
    fn lock(&self) -> MutexGuard<'_, Counters> {
        // A poisoned lock only means a panic elsewhere mid-update; counters are still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Job {
    seq: u64,
    interview_id: String,
    participant_id: String,
    display_name: String,
    chunk: Chunk,
}

/// Internal: the dispatcher stored (or failed) a chunk.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct ChunkDone {
    interview_id: String,
    segments: usize,
    failed: bool,
}

struct Participant {
    display_name: String,
    chunker: Chunker,
}

#[derive(Default)]
struct Interview {
    participants: HashMap<String, Participant>,
    /// Chunks queued or in flight.
    pending: usize,
    segments: usize,
    failed: usize,
    ending: bool,
    /// The furthest call-clock time any participant's audio reached, and when: the tick's clock estimate.
    clock: Option<(u64, Instant)>,
}

pub struct TranscriberActor {
    engine: DynEngine,
    chunking: ChunkerSettings,
    files: TranscriptFiles,
    queue_capacity: usize,
    jobs: Option<mpsc::Sender<Job>>,
    interviews: HashMap<String, Interview>,
    listeners: Vec<Recipient<TranscriptReady>>,
    counters: SharedCounters,
    next_seq: u64,
}

impl TranscriberActor {
    pub fn new(
        engine: DynEngine,
        settings: &TranscriptionSettings,
        files: TranscriptFiles,
    ) -> TranscriberActor {
        TranscriberActor {
            engine,
            chunking: ChunkerSettings::from_settings(settings),
            files,
            queue_capacity: settings.queue_capacity.max(1),
            jobs: None,
            interviews: HashMap::new(),
            listeners: Vec::new(),
            counters: SharedCounters::default(),
            next_seq: 0,
        }
    }

    /// Who hears `TranscriptReady` (the summarizer; tests).
    pub fn with_listener(mut self, listener: Recipient<TranscriptReady>) -> Self {
        self.listeners.push(listener);
        self
    }

    pub fn with_chunking(mut self, chunking: ChunkerSettings) -> Self {
        self.chunking = chunking;
        self
    }

    fn interview(&mut self, id: &str) -> &mut Interview {
        self.interviews.entry(id.to_string()).or_default()
    }

    fn send_cut(
        &mut self,
        ctx: &mut Context<Self>,
        interview_id: &str,
        participant_id: &str,
        display_name: &str,
        cut: Cut,
    ) {
        if cut.dropped > 0 {
            self.counters.lock().stats.chunks_dropped += cut.dropped as u64;
        }
        for chunk in cut.chunks {
            let Some(jobs) = self.jobs.clone() else {
                tracing::error!(interview_id, "transcriber not started; chunk lost");
                continue;
            };
            let seq = self.next_seq;
            self.next_seq += 1;
            self.interview(interview_id).pending += 1;
            {
                let mut c = self.counters.lock();
                c.pending
                    .insert(seq, (Instant::now(), interview_id.to_string()));
                c.stats.chunks_queued += 1;
                c.stats.queue_depth += 1;
            }
            let job = Job {
                seq,
                interview_id: interview_id.to_string(),
                participant_id: participant_id.to_string(),
                display_name: display_name.to_string(),
                chunk,
            };
            match jobs.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => {
                    self.counters.lock().stats.backpressure_waits += 1;
                    tracing::debug!(
                        interview_id,
                        "transcription queue full: pausing the mailbox"
                    );
                    // The dispatcher frees slots on its own, so waiting here cannot deadlock.
                    ctx.wait(
                        async move {
                            let _ = jobs.send(job).await;
                        }
                        .into_actor(self),
                    );
                }
                Err(TrySendError::Closed(_)) => {
                    tracing::error!(
                        interview_id,
                        "transcription dispatcher has stopped; chunk lost"
                    );
                    self.interview(interview_id).pending -= 1;
                    let mut c = self.counters.lock();
                    c.pending.remove(&seq);
                    c.stats.queue_depth = c.stats.queue_depth.saturating_sub(1);
                    c.stats.chunks_failed += 1;
                }
            }
        }
    }

    fn maybe_ready(&mut self, interview_id: &str) {
        let done = self
            .interviews
            .get(interview_id)
            .is_some_and(|i| i.ending && i.pending == 0);
        if !done {
            return;
        }
        let Some(interview) = self.interviews.remove(interview_id) else {
            return;
        };
        let ready = TranscriptReady {
            interview_id: interview_id.to_string(),
            path: self.files.path(interview_id),
            segments: interview.segments,
            failed_chunks: interview.failed,
        };
        tracing::info!(interview_id, segments = ready.segments, failed_chunks = ready.failed_chunks, path = %ready.path.display(), "transcript ready");
        for l in &self.listeners {
            l.do_send(ready.clone());
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let mut cuts = Vec::new();
        for (id, interview) in &mut self.interviews {
            let Some((call_ms, at)) = interview.clock else {
                continue;
            };
            let call_now = call_ms + now.duration_since(at).as_millis() as u64;
            for (pid, p) in &mut interview.participants {
                let behind = call_now.saturating_sub(p.chunker.audio_end_ms());
                if behind > STALE_MS {
                    let cut = p.chunker.poll(call_now - STALE_MS);
                    if !cut.chunks.is_empty() || cut.dropped > 0 {
                        cuts.push((id.clone(), pid.clone(), p.display_name.clone(), cut));
                    }
                }
            }
        }
        for (id, pid, name, cut) in cuts {
            self.send_cut(ctx, &id, &pid, &name, cut);
        }
        let buffered: u64 = self
            .interviews
            .values()
            .flat_map(|i| i.participants.values())
            .map(|p| p.chunker.buffered_ms())
            .sum();
        let mut c = self.counters.lock();
        c.stats.buffered_ms = buffered;
        c.stats.active_interviews = self.interviews.len();
    }
}

impl Actor for TranscriberActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(MAILBOX);
        let (tx, rx) = mpsc::channel(self.queue_capacity);
        self.jobs = Some(tx);
        self.counters.lock().stats.queue_capacity = self.queue_capacity;
        actix::spawn(dispatch(
            rx,
            self.engine.clone(),
            self.files.clone(),
            self.counters.clone(),
            ctx.address().recipient(),
        ));
        ctx.run_interval(TICK, |actor, ctx| actor.tick(ctx));
        tracing::info!(engine = %self.engine.describe(), concurrency = self.engine.concurrency(), queue_capacity = self.queue_capacity, "transcriber started");
    }
}

impl Handler<ParticipantAudio> for TranscriberActor {
    type Result = ();

    fn handle(&mut self, msg: ParticipantAudio, ctx: &mut Self::Context) {
        let chunking = self.chunking;
        let interview = self.interview(&msg.interview_id);
        let end_ms = msg.start_ms + msg.samples.len() as u64 / super::SAMPLES_PER_MS;
        if interview.clock.is_none_or(|(ms, _)| end_ms > ms) {
            interview.clock = Some((end_ms, Instant::now()));
        }
        let p = interview
            .participants
            .entry(msg.participant_id.clone())
            .or_insert_with(|| Participant {
                display_name: msg.display_name.clone(),
                chunker: Chunker::new(chunking),
            });
        let cut = p.chunker.push_audio(msg.start_ms, &msg.samples);
        let name = p.display_name.clone();
        self.send_cut(ctx, &msg.interview_id, &msg.participant_id, &name, cut);
    }
}

impl Handler<ParticipantSpeech> for TranscriberActor {
    type Result = ();

    fn handle(&mut self, msg: ParticipantSpeech, ctx: &mut Self::Context) {
        let chunking = self.chunking;
        let p = self
            .interview(&msg.interview_id)
            .participants
            .entry(msg.participant_id.clone())
            .or_insert_with(|| Participant {
                display_name: msg.display_name.clone(),
                chunker: Chunker::new(chunking),
            });
        if msg.speaking {
            p.chunker.speech_started(msg.at_ms);
        } else {
            p.chunker.speech_ended(msg.at_ms);
        }
        let cut = p.chunker.poll(p.chunker.audio_end_ms());
        let name = p.display_name.clone();
        self.send_cut(ctx, &msg.interview_id, &msg.participant_id, &name, cut);
    }
}

impl Handler<CallEnded> for TranscriberActor {
    type Result = ();

    fn handle(&mut self, msg: CallEnded, ctx: &mut Self::Context) {
        let id = msg.interview_id;
        let interview = self.interview(&id);
        interview.ending = true;
        let cuts: Vec<_> = interview
            .participants
            .drain()
            .map(|(pid, mut p)| (pid, p.display_name, p.chunker.finish()))
            .collect();
        tracing::info!(interview_id = %id, participants = cuts.len(), "call ended: flushing the transcript");
        for (pid, name, cut) in cuts {
            self.send_cut(ctx, &id, &pid, &name, cut);
        }
        self.maybe_ready(&id);
    }
}

impl Handler<ChunkDone> for TranscriberActor {
    type Result = ();

    fn handle(&mut self, msg: ChunkDone, _ctx: &mut Self::Context) {
        if let Some(i) = self.interviews.get_mut(&msg.interview_id) {
            i.pending = i.pending.saturating_sub(1);
            i.segments += msg.segments;
            i.failed += usize::from(msg.failed);
        }
        self.maybe_ready(&msg.interview_id);
    }
}

impl Handler<GetTranscriberStats> for TranscriberActor {
    type Result = TranscriberStats;

    fn handle(&mut self, _: GetTranscriberStats, _ctx: &mut Self::Context) -> TranscriberStats {
        let c = self.counters.lock();
        let mut stats = c.stats.clone();
        stats.lag_ms = c
            .pending
            .values()
            .next()
            .map_or(0, |(t, _)| t.elapsed().as_millis() as u64);
        for (t, interview) in c.pending.values() {
            // Sequence order: the first seen per interview is its oldest.
            stats
                .lag_by_interview
                .entry(interview.clone())
                .or_insert_with(|| t.elapsed().as_millis() as u64);
        }
        stats
    }
}

/// Serves the queue: up to the engine's concurrency of chunks at once; stores each chunk's segments as soon
/// as they arrive, then tells the actor. Ends when the actor (the only sender) is gone and work is drained.
async fn dispatch(
    mut jobs: mpsc::Receiver<Job>,
    engine: DynEngine,
    files: TranscriptFiles,
    counters: SharedCounters,
    done: Recipient<ChunkDone>,
) {
    let limit = engine.concurrency().max(1);
    let window = engine.batch_window_ms();
    let mut running = FuturesUnordered::new();
    let mut open = true;
    // A job taken from the queue that did not fit the batch being made: first in the next one.
    let mut held: Option<Job> = None;
    loop {
        tokio::select! {
            job = async {
                match held.take() {
                    Some(job) => Some(job),
                    None => jobs.recv().await,
                }
            }, if (open || held.is_some()) && running.len() < limit => match job {
                Some(first) => {
                    // Waiting chunks are shared out among the idle workers rather than all
                    // going to the first one: two half batches come back sooner than one full one.
                    let idle = limit - running.len();
                    let waiting = 1 + jobs.len();
                    let share = waiting.div_ceil(idle);
                    let batch = fill_batch(first, &mut jobs, &mut held, window, share);
                    {
                        let mut c = counters.lock();
                        c.stats.queue_depth = c.stats.queue_depth.saturating_sub(batch.len());
                        c.stats.in_flight += batch.len();
                    }
                    running.push(transcribe_batch(engine.clone(), batch));
                }
                None => open = false,
            },
            Some((batch, results, took)) = running.next(), if !running.is_empty() => {
                {
                    let s = &mut counters.lock().stats;
                    s.engine_ms += took.as_millis() as u64;
                    s.inferences += 1;
                }
                for (job, result) in batch.into_iter().zip(results) {
                    let (segments, failed) = store(&files, &job, result).await;
                    let mut c = counters.lock();
                    let cut_at = c.pending.remove(&job.seq);
                    let s = &mut c.stats;
                    s.in_flight = s.in_flight.saturating_sub(1);
                    s.audio_ms += job.chunk.duration_ms();
                    s.segments += segments as u64;
                    if failed {
                        s.chunks_failed += 1;
                    } else {
                        s.chunks_done += 1;
                    }
                    if let Some((at, _)) = cut_at {
                        let lag = at.elapsed().as_millis() as u64;
                        s.last_lag_ms = lag;
                        s.max_lag_ms = s.max_lag_ms.max(lag);
                    }
                    drop(c);
                    done.do_send(ChunkDone { interview_id: job.interview_id, segments, failed });
                }
            },
            else => break,
        }
    }
}

/// Most chunks sharing one window: past this, Whisper's decoder (448 tokens a window) could run
/// out of room for their words.
const MAX_BATCH: usize = 6;

/// `first`, plus whatever else is already waiting that fits the engine's window with it (`window`
/// 0: no batching), `share` chunks at most. Nothing waits for a batch to fill: under light load
/// chunks go alone.
fn fill_batch(
    first: Job,
    jobs: &mut mpsc::Receiver<Job>,
    held: &mut Option<Job>,
    window: u64,
    share: usize,
) -> Vec<Job> {
    let mut used = first.chunk.duration_ms();
    let mut batch = vec![first];
    while window > 0 && batch.len() < MAX_BATCH.min(share) {
        let Ok(next) = jobs.try_recv() else {
            break;
        };
        let with = used + crate::transcribe::whisper::BATCH_GAP_MS + next.chunk.duration_ms();
        if with > window {
            *held = Some(next);
            break;
        }
        used = with;
        batch.push(next);
    }
    batch
}

/// Runs one inference over `batch`; a batch that fails is tried again one chunk at a time, so
/// one bad chunk does not take the others with it.
async fn transcribe_batch(
    engine: DynEngine,
    batch: Vec<Job>,
) -> (
    Vec<Job>,
    Vec<Result<Vec<EngineSegment>, TranscribeError>>,
    Duration,
) {
    let started = Instant::now();
    let samples = |batch: &[Job]| -> Vec<Vec<i16>> {
        batch.iter().map(|j| j.chunk.samples.clone()).collect()
    };
    let results = match batch.as_slice() {
        [one] => vec![engine.transcribe(one.chunk.samples.clone()).await],
        many => match engine.transcribe_batch(samples(many)).await {
            Ok(all) if all.len() == many.len() => all.into_iter().map(Ok).collect(),
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(all) => format!("{} answers for {} chunks", all.len(), many.len()),
                };
                tracing::warn!(chunks = many.len(), error = %why, "batched transcription failed; one chunk at a time");
                // Copied again only on this rare path, so a batch's audio is not kept twice.
                let mut one_by_one = Vec::with_capacity(many.len());
                for piece in samples(many) {
                    one_by_one.push(engine.transcribe(piece).await);
                }
                one_by_one
            }
        },
    };
    (batch, results, started.elapsed())
}

/// Writes a chunk's segments on the call clock; (segments stored, whether the chunk failed).
async fn store(
    files: &TranscriptFiles,
    job: &Job,
    result: Result<Vec<EngineSegment>, TranscribeError>,
) -> (usize, bool) {
    let parts = match result {
        Ok(parts) => parts,
        Err(e) => {
            tracing::error!(interview_id = %job.interview_id, participant = %job.participant_id, start_ms = job.chunk.start_ms, error = %e, "chunk transcription failed");
            return (0, true);
        }
    };
    let start = job.chunk.start_ms;
    let end = job.chunk.end_ms();
    let segments: Vec<TranscriptSegment> = parts
        .into_iter()
        .map(|p| {
            TranscriptSegment::new(
                &job.participant_id,
                &job.display_name,
                (start + p.start_ms).min(end),
                (start + p.end_ms).min(end),
                &p.text,
            )
        })
        .collect();
    let n = segments.len();
    match files.append(&job.interview_id, segments).await {
        Ok(()) => (n, false),
        Err(e) => {
            tracing::error!(interview_id = %job.interview_id, error = %e, "cannot store transcript segments");
            (0, true)
        }
    }
}
