//! `BotActor`: one bot in one call. It owns the media-plane session (in a task of its own, so a
//! panic in the media path is reported as a failure instead of taking the actor's thread down),
//! persists every state change, forwards each participant's audio to the transcriber with the
//! participant's matched name, applies the leave rules once a second, and tells the supervisor how
//! the call ended. Retrying is the supervisor's decision, not the bot's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use panelist_bots::room::EncodedAudio;
use panelist_bots::{
    CallEvent, ConnectorRegistry, DisconnectReason, JoinError, JoinSpec, NoticeOutcome, PcmFrame,
};
use tokio::sync::watch;
use url::Url;

use super::policy::{leave_reason, silent_watchdog, CallObservation, LeaveReason, LeaveRules};
use super::run::{BotRun, BotState, NoticeLog};
use super::speakers::{match_speaker, Expected, Speaker};
use crate::domain::Id;
use crate::store::DynStore;
use crate::transcribe::{ParticipantAudio, ParticipantSpeech};

/// The multi-threaded runtime every bot's media session runs on, one worker per core. actix runs
/// each arbiter on a single thread; with tens of calls, ICE, DTLS and Opus decoding there starved
/// the supervisor's lease renewals (seen in the fleet test: leases lost under a burst of joins).
fn media_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("panelist-media")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            // Without threads the process cannot do anything useful anyway.
            Err(e) => panic!("cannot start the media runtime: {e}"),
        }
    })
}

/// How often leave rules are checked and call figures persisted.
const TICK: Duration = Duration::from_secs(1);
/// Persist the running figures at most this often (state changes are persisted at once).
const PERSIST_EVERY: Duration = Duration::from_secs(5);

/// What one bot is sent to.
#[derive(Debug, Clone)]
pub struct BotSpec {
    pub interview_id: Id,
    pub url: Url,
    pub scheduled_start: Option<DateTime<Utc>>,
    pub scheduled_end: Option<DateTime<Utc>>,
    /// The interviewers and candidate Greenhouse expects, for naming speakers.
    pub expected: Vec<Expected>,
    pub record_dir: Option<PathBuf>,
    /// Added to the session's call clock: on a rejoin, the time since the first join, so the
    /// transcript's timestamps keep counting instead of starting again at zero.
    pub clock_offset: Duration,
    pub join_timeout: Duration,
    /// Whether the bot speaks the consent notice when it joins.
    pub notice: NoticePlan,
}

/// The spoken consent notice for one join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticePlan {
    /// Speak this text.
    Speak(String),
    /// No notice; the words say why, for the dashboard.
    Off(&'static str),
}

impl NoticePlan {
    /// The notice text from Settings → Bots: empty says nothing.
    pub fn for_text(text: &str) -> NoticePlan {
        match text.trim() {
            "" => NoticePlan::Off("the consent notice is empty (Settings → Bots)"),
            t => NoticePlan::Speak(t.to_owned()),
        }
    }
}

/// What every bot of a process shares.
#[derive(Clone)]
pub struct BotDeps {
    pub registry: Arc<ConnectorRegistry>,
    pub store: DynStore,
    pub audio: Recipient<ParticipantAudio>,
    pub speech: Recipient<ParticipantSpeech>,
    /// Read at each tick, so rule changes take effect in running bots.
    pub rules: watch::Receiver<LeaveRules>,
    /// Speaks the consent notice; `None` when `consent.spoken_notice` is off.
    pub voice: Option<Arc<crate::consent::NoticeVoice>>,
    /// Seals recordings at rest (`privacy.encrypt_at_rest`).
    pub record_key: Option<panelist_bots::recorder::RecordingKey>,
}

/// How a bot's call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum BotOutcome {
    /// It was in the call and left (or the call ended).
    Left(LeaveReason),
    /// It never got in, or lost the call; `retryable` says whether another try may work.
    Failed { error: String, retryable: bool },
    /// Stopped before it got into the call.
    Stopped,
    /// The network policy refused the meeting URL (why, naming the host); never retried.
    UrlNotAllowed(String),
}

/// Sent to the supervisor when a bot ends; `run` is its record as last persisted.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BotFinished {
    pub interview_id: Id,
    pub generation: u64,
    pub outcome: BotOutcome,
    pub run: BotRun,
    /// Whether any audio reached the transcriber.
    pub heard: bool,
}

/// Leave the call now (a cancellation, a stop command, shutdown).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct StopBot;

/// A bot reached a state the supervisor acts on (in the call: start the notes).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BotInCall {
    pub interview_id: Id,
    pub generation: u64,
    /// Speakers as matched, for the notes.
    pub speakers: Vec<Speaker>,
}

pub struct BotActor {
    spec: BotSpec,
    deps: BotDeps,
    run: Option<BotRun>,
    generation: u64,
    supervisor: Recipient<BotFinished>,
    in_call: Recipient<BotInCall>,
    stop: watch::Sender<bool>,
}

impl BotActor {
    pub fn new(
        spec: BotSpec,
        deps: BotDeps,
        run: BotRun,
        generation: u64,
        supervisor: Recipient<BotFinished>,
        in_call: Recipient<BotInCall>,
    ) -> BotActor {
        BotActor {
            spec,
            deps,
            run: Some(run),
            generation,
            supervisor,
            in_call,
            stop: watch::channel(false).0,
        }
    }
}

impl Actor for BotActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let Some(run) = self.run.take() else {
            return;
        };
        let call = Call {
            spec: self.spec.clone(),
            deps: self.deps.clone(),
            run,
            generation: self.generation,
            in_call: self.in_call.clone(),
            stop: self.stop.subscribe(),
        };
        let interview_id = self.spec.interview_id;
        let generation = self.generation;
        let supervisor = self.supervisor.clone();
        // The media session lives in a task on the media runtime: a panic there is a failed bot,
        // not a dead arbiter, and WebRTC's work (ICE, DTLS, decoding) never delays the actors'
        // timers (lease renewals) on the actix thread.
        let task = media_runtime().spawn(call.run());
        let fut = async move {
            let finished = match task.await {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(interview_id, error = %e, "bot task panicked");
                    let run = BotRun::new(interview_id, "", Utc::now());
                    Finished {
                        outcome: BotOutcome::Failed {
                            error: "the bot crashed (panic in the media path)".into(),
                            retryable: true,
                        },
                        run,
                        heard: false,
                    }
                }
            };
            supervisor.do_send(BotFinished {
                interview_id,
                generation,
                outcome: finished.outcome,
                run: finished.run,
                heard: finished.heard,
            });
        };
        ctx.spawn(fut.into_actor(self).map(|_, _, ctx| ctx.stop()));
    }
}

impl Handler<StopBot> for BotActor {
    type Result = ();

    fn handle(&mut self, _: StopBot, _: &mut Context<Self>) {
        self.stop.send_replace(true);
    }
}

struct Finished {
    outcome: BotOutcome,
    run: BotRun,
    heard: bool,
}

/// One call, from join to disconnect.
struct Call {
    spec: BotSpec,
    deps: BotDeps,
    run: BotRun,
    generation: u64,
    in_call: Recipient<BotInCall>,
    stop: watch::Receiver<bool>,
}

/// What the bot has seen of the call.
struct Seen {
    joined_at: DateTime<Utc>,
    speakers: HashMap<String, Speaker>,
    present: usize,
    alone_since: Option<DateTime<Utc>>,
    anyone_joined: bool,
    last_speech: Option<DateTime<Utc>>,
    last_audio: Option<DateTime<Utc>>,
    heard: bool,
    /// Mean square of the loudest 20 ms frame since the figures were last persisted.
    peak_power: f64,
}

impl Call {
    async fn persist(&self) {
        if let Err(e) = self.deps.store.put_bot_run(&self.run).await {
            // The call goes on: the record is rewritten at the next change.
            tracing::warn!(interview_id = self.spec.interview_id, error = %e, "cannot persist the bot's state");
        }
    }

    async fn transition(&mut self, state: BotState, detail: Option<String>) {
        tracing::info!(interview_id = self.spec.interview_id, %state, detail = detail.as_deref().unwrap_or(""), "bot state");
        self.run.transition(state, detail, Utc::now());
        self.persist().await;
    }

    fn finished(self, outcome: BotOutcome, heard: bool) -> Finished {
        Finished {
            outcome,
            run: self.run,
            heard,
        }
    }

    async fn run(mut self) -> Finished {
        self.run.attempts += 1;
        self.transition(BotState::Joining, None).await;
        let mut join = JoinSpec::new(self.spec.url.clone());
        join.record_dir = self.spec.record_dir.clone();
        join.record_key = self.deps.record_key.clone();
        join.notice = self.notice_audio().await;
        let registry = self.deps.registry.clone();
        let mut stop = self.stop.clone();
        let joined = tokio::select! {
            r = tokio::time::timeout(self.spec.join_timeout, registry.join(join)) => r,
            _ = wait_stop(&mut stop) => return self.finished(BotOutcome::Stopped, false),
        };
        let mut session = match joined {
            Ok(Ok(s)) => s,
            Ok(Err(JoinError::UrlNotAllowed(refused))) => {
                return self.finished(BotOutcome::UrlNotAllowed(refused.to_string()), false);
            }
            Ok(Err(e)) => {
                let retryable = e.is_retryable();
                return self.finished(
                    BotOutcome::Failed {
                        error: format!("cannot join: {e}"),
                        retryable,
                    },
                    false,
                );
            }
            Err(_) => {
                let error = format!(
                    "cannot join: no answer within {} s",
                    self.spec.join_timeout.as_secs()
                );
                return self.finished(
                    BotOutcome::Failed {
                        error,
                        retryable: true,
                    },
                    false,
                );
            }
        };
        let now = Utc::now();
        let mut seen = Seen {
            joined_at: now,
            speakers: HashMap::new(),
            present: 0,
            alone_since: None,
            anyone_joined: false,
            last_speech: None,
            last_audio: None,
            heard: false,
            peak_power: 0.0,
        };
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut leaving: Option<LeaveReason> = None;
        let mut no_media: Option<String> = None;
        let mut last_persist = std::time::Instant::now();
        let mut stop_requested = false;
        let reason = loop {
            tokio::select! {
                event = session.next_event() => {
                    let Some(event) = event else { break DisconnectReason::RemoteClosed };
                    match event {
                        CallEvent::Disconnected { reason } => break reason,
                        other => self.on_event(other, &mut seen).await,
                    }
                }
                _ = tick.tick() => {
                    let rules = self.deps.rules.borrow().clone();
                    let obs = CallObservation {
                        now: Utc::now(),
                        joined_at: seen.joined_at,
                        scheduled_end: self.spec.scheduled_end,
                        participants: seen.present,
                        alone_since: seen.alone_since,
                        anyone_joined: seen.anyone_joined,
                        last_speech: seen.last_speech,
                        last_audio: seen.last_audio,
                        stop_requested,
                    };
                    let silent = self.run.state == BotState::InCall && silent_watchdog(&rules, &obs);
                    if silent != self.run.figures.silent {
                        if silent {
                            tracing::warn!(interview_id = self.spec.interview_id, "bot is in the call with others but receives no audio");
                        }
                        self.run.figures.silent = silent;
                        self.persist().await;
                    }
                    // Joined, others are there, yet not one frame came in twice the watchdog's
                    // period: the media path never came up (DTLS or RTP lost). Rejoining is the
                    // remedy; the supervisor does it with its usual backoff.
                    let never_heard = seen.last_audio.is_none()
                        && seen.present > 0
                        && !rules.silent_watchdog.is_zero()
                        && (obs.now - seen.joined_at).to_std().unwrap_or_default() >= rules.silent_watchdog * 2;
                    if leaving.is_none() && no_media.is_none() && never_heard {
                        let why = format!(
                            "joined, but no audio arrived in {} s",
                            (rules.silent_watchdog * 2).as_secs()
                        );
                        tracing::warn!(interview_id = self.spec.interview_id, %why, "bot rejoins");
                        self.transition(BotState::Leaving, Some(why.clone())).await;
                        no_media = Some(why);
                        if let Err(e) = session.leave().await {
                            tracing::warn!(interview_id = self.spec.interview_id, error = %e, "leaving the call failed");
                            break DisconnectReason::Left;
                        }
                    }
                    if leaving.is_none() && no_media.is_none() {
                        if let Some(why) = leave_reason(&rules, &obs) {
                            self.transition(BotState::Leaving, Some(why.to_string())).await;
                            leaving = Some(why);
                            if let Err(e) = session.leave().await {
                                tracing::warn!(interview_id = self.spec.interview_id, error = %e, "leaving the call failed");
                                break DisconnectReason::Left;
                            }
                        }
                    }
                    if last_persist.elapsed() >= PERSIST_EVERY {
                        last_persist = std::time::Instant::now();
                        self.run.figures.audio_level_dbfs =
                            seen.last_audio.map(|_| dbfs(std::mem::take(&mut seen.peak_power)));
                        self.update_figures(&session.stats());
                        self.persist().await;
                    }
                }
                _ = wait_stop(&mut stop), if !stop_requested => {
                    stop_requested = true;
                    // Applied at once rather than at the next tick.
                    tick.reset_immediately();
                }
            }
        };
        self.update_figures(&session.stats());
        let heard = seen.heard;
        let outcome = match (reason, leaving) {
            _ if no_media.is_some() => BotOutcome::Failed {
                error: no_media.unwrap_or_default(),
                retryable: true,
            },
            (DisconnectReason::ConnectionLost, None) => BotOutcome::Failed {
                error: "the connection to the call was lost".into(),
                retryable: true,
            },
            (_, Some(why)) => BotOutcome::Left(why),
            (DisconnectReason::Left, None) => BotOutcome::Left(LeaveReason::StopCommand),
            (DisconnectReason::RemoteClosed, None) => BotOutcome::Left(LeaveReason::CallEnded),
        };
        self.persist().await;
        self.finished(outcome, heard)
    }

    fn update_figures(&mut self, stats: &[panelist_bots::ParticipantStats]) {
        self.run.figures.frames_lost = stats.iter().map(|s| s.lost).sum();
    }

    fn call_ms(&self, at: Duration) -> u64 {
        (self.spec.clock_offset + at).as_millis() as u64
    }

    fn speaker(&self, seen: &Seen, id: &str) -> String {
        seen.speakers
            .get(id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.to_string())
    }

    async fn on_event(&mut self, event: CallEvent, seen: &mut Seen) {
        let id = self.spec.interview_id;
        match event {
            CallEvent::Joined => {
                let now = Utc::now();
                seen.joined_at = now;
                self.run.figures.join_latency_ms = self
                    .spec
                    .scheduled_start
                    .map(|s| (now - s).num_milliseconds());
                self.transition(BotState::InCall, None).await;
                self.in_call.do_send(BotInCall {
                    interview_id: id,
                    generation: self.generation,
                    speakers: seen.speakers.values().cloned().collect(),
                });
            }
            CallEvent::WaitingRoom => {
                self.transition(BotState::WaitingRoom, None).await;
            }
            CallEvent::ParticipantJoined {
                id: pid,
                display_name,
            } => {
                let speaker = match_speaker(&display_name, &self.spec.expected);
                tracing::info!(interview_id = id, participant = %pid, speaker = %speaker.name, "participant joined");
                if !self.run.figures.participants.contains(&speaker.name) {
                    self.run.figures.participants.push(speaker.name.clone());
                    self.persist().await;
                }
                seen.speakers.insert(pid.0, speaker);
                seen.present += 1;
                seen.anyone_joined = true;
                seen.alone_since = None;
            }
            CallEvent::ParticipantLeft { id: pid } => {
                tracing::info!(interview_id = id, participant = %pid, "participant left");
                seen.present = seen.present.saturating_sub(1);
                if seen.present == 0 {
                    seen.alone_since = Some(Utc::now());
                }
            }
            CallEvent::Audio {
                participant,
                frames,
            } => {
                seen.last_audio = Some(Utc::now());
                seen.heard = true;
                self.run.figures.audio_frames += frames.len() as u64;
                for f in frames.iter().filter(|f| !f.concealed) {
                    seen.peak_power = seen.peak_power.max(mean_square(&f.samples));
                }
                let name = self.speaker(seen, &participant.0);
                for (start, samples) in contiguous(frames) {
                    let msg = ParticipantAudio {
                        interview_id: id.to_string(),
                        participant_id: participant.0.clone(),
                        display_name: name.clone(),
                        start_ms: self.call_ms(start),
                        samples,
                    };
                    // `send` waits while the transcriber's queue is full: back-pressure, not loss.
                    if let Err(e) = self.deps.audio.send(msg).await {
                        tracing::error!(interview_id = id, error = %e, "the transcriber is gone; audio is not transcribed");
                    }
                }
            }
            CallEvent::SpeechStarted { participant, at } => {
                self.speech(seen, participant.0, at, true).await;
            }
            CallEvent::SpeechEnded { participant, at } => {
                self.speech(seen, participant.0, at, false).await;
            }
            CallEvent::Notice(outcome) => {
                let log = notice_log(outcome, Utc::now());
                if log.given {
                    tracing::info!(interview_id = id, detail = %log.detail, "in-call notice given");
                } else {
                    tracing::warn!(interview_id = id, why = %log.detail, "no in-call notice was given");
                }
                self.run.notice = Some(log);
                self.persist().await;
            }
            CallEvent::Disconnected { .. } => {}
        }
    }

    /// The notice to speak on joining, spoken now (or taken from the voice's cache); when there is
    /// none, the bot's record says why.
    async fn notice_audio(&mut self) -> Option<Arc<EncodedAudio>> {
        let not_given = |why: String| Some(NoticeLog::not_given(why, Utc::now()));
        let text = match &self.spec.notice {
            NoticePlan::Off(why) => {
                self.run.notice = not_given((*why).to_owned());
                return None;
            }
            NoticePlan::Speak(text) => text.clone(),
        };
        let Some(voice) = self.deps.voice.clone() else {
            self.run.notice = not_given("the spoken notice is off (consent.spoken_notice)".into());
            return None;
        };
        match tokio::task::spawn_blocking(move || voice.speak(&text)).await {
            Ok(Ok(audio)) => Some(audio),
            Ok(Err(e)) => {
                tracing::warn!(interview_id = self.spec.interview_id, error = %e, "cannot speak the consent notice; joining without it");
                self.run.notice = not_given(e.to_string());
                None
            }
            Err(e) => {
                self.run.notice = not_given(format!("the notice's synthesis stopped: {e}"));
                None
            }
        }
    }
}

/// The bot record's account of a notice outcome.
fn notice_log(outcome: NoticeOutcome, at: DateTime<Utc>) -> NoticeLog {
    match outcome {
        NoticeOutcome::Delivered { duration, speaker } => NoticeLog {
            given: true,
            detail: format!(
                "spoken into the call as {speaker} ({:.1} s)",
                duration.as_secs_f32()
            ),
            at,
        },
        NoticeOutcome::Unsupported(why) | NoticeOutcome::Failed(why) => {
            NoticeLog::not_given(why, at)
        }
    }
}

impl Call {
    async fn speech(&mut self, seen: &mut Seen, participant: String, at: Duration, speaking: bool) {
        let id = self.spec.interview_id;
        seen.last_speech = Some(Utc::now());
        let msg = ParticipantSpeech {
            interview_id: id.to_string(),
            display_name: self.speaker(seen, &participant),
            participant_id: participant,
            at_ms: self.call_ms(at),
            speaking,
        };
        if let Err(e) = self.deps.speech.send(msg).await {
            tracing::error!(interview_id = id, error = %e, "the transcriber is gone");
        }
    }
}

async fn wait_stop(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            // The actor is gone: nobody can ask to stop any more.
            std::future::pending::<()>().await;
        }
    }
}

/// Joins frames that follow each other without a gap into one run, so the transcriber gets few,
/// larger messages.
fn mean_square(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    sum / samples.len() as f64
}

/// Power relative to a full-scale square wave, in dB, floored at -90.
fn dbfs(mean_square: f64) -> f32 {
    let full = f64::from(i16::MAX).powi(2);
    if mean_square <= 0.0 {
        return -90.0;
    }
    (10.0 * (mean_square / full).log10()).max(-90.0) as f32
}

fn contiguous(frames: Vec<PcmFrame>) -> Vec<(Duration, Vec<i16>)> {
    let mut out: Vec<(Duration, Vec<i16>)> = Vec::new();
    for f in frames {
        if let Some((start, samples)) = out.last_mut() {
            let end = *start
                + Duration::from_micros(
                    samples.len() as u64 * 1_000_000
                        / u64::from(panelist_bots::call::PCM_SAMPLE_RATE),
                );
            let gap = f.at.abs_diff(end);
            if gap < Duration::from_millis(2) {
                samples.extend_from_slice(&f.samples);
                continue;
            }
        }
        out.push((f.at, f.samples));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn audio_levels_are_dbfs() {
        assert_eq!(dbfs(mean_square(&[])), -90.0);
        assert_eq!(dbfs(mean_square(&[0; 320])), -90.0);
        assert!(dbfs(mean_square(&[i16::MAX; 320])).abs() < 0.01);
        let half = dbfs(mean_square(&[i16::MAX / 2; 320]));
        assert!((half + 6.02).abs() < 0.05, "{half}");
    }

    #[test]
    fn adjacent_frames_are_joined_and_gaps_kept() {
        let frame = |ms: u64| PcmFrame {
            at: Duration::from_millis(ms),
            samples: vec![1; 320],
            concealed: false,
        };
        let runs = contiguous(vec![frame(0), frame(20), frame(40), frame(100), frame(120)]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].0, Duration::ZERO);
        assert_eq!(runs[0].1.len(), 960);
        assert_eq!(runs[1].0, Duration::from_millis(100));
        assert_eq!(runs[1].1.len(), 640);
    }

    #[test]
    fn notice_outcomes_say_whether_and_how_the_room_was_told() {
        let at = Utc::now();
        let given = notice_log(
            NoticeOutcome::Delivered {
                duration: Duration::from_millis(9_840),
                speaker: "Panelist Notetaker".into(),
            },
            at,
        );
        assert!(given.given);
        assert_eq!(
            given.detail,
            "spoken into the call as Panelist Notetaker (9.8 s)"
        );
        for outcome in [
            NoticeOutcome::Unsupported("WHEP egress is receive-only".into()),
            NoticeOutcome::Failed("cannot publish the notice: 403".into()),
        ] {
            let log = notice_log(outcome.clone(), at);
            assert!(!log.given, "{outcome:?}");
            assert!(log.detail.contains("receive-only") || log.detail.contains("403"));
        }
    }
}
