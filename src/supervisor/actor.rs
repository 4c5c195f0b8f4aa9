//! `SupervisorActor`: turns the schedule into bots. It keeps a timer per upcoming interview, claims
//! the interview's lease when the timer fires (so a fleet on one Redis sends one bot), starts a
//! [`BotActor`], renews the lease while it runs, restarts it after failures as [`restart_decision`]
//! says, and starts the transcript's end and the notes when the call is over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use panelist_bots::ConnectorRegistry;
use url::Url;

use super::bot::{
    BotActor, BotDeps, BotFinished, BotInCall, BotOutcome, BotSpec, NoticePlan, StopBot,
};
use super::policy::{self, LeaveRules, RestartDecision, RestartPolicy};
use super::preferences::BotPreferences;
use super::run::{BotRun, BotState};
use super::speakers::Expected;
use crate::config::BotSettings;
use crate::domain::{Application, Candidate, Id, Interview};
use crate::notes::{NotesRequested, Role};
use crate::store::{DynStore, ScheduleChange, ScheduleChangeKind, StoreExt};
use crate::transcribe::{CallEnded, TranscriptReady};

/// The lease an interview's bot holds in the store.
pub fn lease_name(interview_id: Id) -> String {
    format!("bot:{interview_id}")
}

/// Why a bot is stopped when another replica took its interview over.
/// Wait before subscribing to schedule changes again after the subscription failed or ended.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(5);
const LOST_LEASE: &str = "another replica holds this interview's lease";

/// Where the notes go once a call is over; `None` keeps transcripts only.
#[derive(Clone)]
pub struct NotesLink {
    pub summarizer: Recipient<NotesRequested>,
    /// The summarizer's `TranscriptReady`, for resuming after a restart.
    pub transcript_ready: Recipient<TranscriptReady>,
    pub public_url: String,
}

pub struct SupervisorSettings {
    pub bots: BotSettings,
    pub owner: String,
    pub data_dir: std::path::PathBuf,
    /// The configured consent policy (the dashboard's saved one wins).
    pub consent: crate::consent::ConsentPolicy,
    /// The espeak-ng voice that speaks the consent notice; `None` turns the spoken notice off.
    pub notice_voice: Option<String>,
    /// Seals recordings at rest; `None` writes them plain.
    pub record_key: Option<panelist_bots::recorder::RecordingKey>,
}

/// A running bot.
struct Running {
    addr: Addr<BotActor>,
    generation: u64,
    failures: u32,
    /// Set when the bot was told to stop: why (a cancellation, a lost lease, shutdown).
    stopping: Option<String>,
}

pub struct SupervisorActor {
    settings: SupervisorSettings,
    store: DynStore,
    registry: Arc<ConnectorRegistry>,
    deps: BotDeps,
    call_ended: Recipient<CallEnded>,
    notes: Option<NotesLink>,
    rules: tokio::sync::watch::Sender<LeaveRules>,
    timers: HashMap<Id, (DateTime<Utc>, SpawnHandle)>,
    running: HashMap<Id, Running>,
    /// Failures of bots waiting out a backoff.
    backoff: HashMap<Id, u32>,
    generation: u64,
    draining: bool,
    /// Answered when the last bot is gone during a drain.
    drained: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Bots that ended whose final record is still being written: until it is, a rescan must not
    /// mistake the interview for one without a bot and send another.
    finishing: std::collections::HashSet<Id>,
    /// What bots say when they join (Settings → Bots); empty says nothing.
    notice_text: String,
}

/// Leave rules from the configuration.
pub fn leave_rules(s: &BotSettings) -> LeaveRules {
    let d = Duration::from_secs;
    LeaveRules {
        overrun_grace: d(s.leave.overrun_grace_secs),
        alone: d(s.leave.alone_secs),
        nobody_joined: d(s.leave.nobody_joined_secs),
        silence: d(s.leave.silence_secs),
        max_duration: d(s.leave.max_duration_secs),
        silent_watchdog: d(s.leave.silent_watchdog_secs),
    }
}

impl SupervisorActor {
    pub fn new(
        settings: SupervisorSettings,
        store: DynStore,
        registry: Arc<ConnectorRegistry>,
        transcriber: Recipients,
        notes: Option<NotesLink>,
    ) -> SupervisorActor {
        let (rules, rules_rx) = tokio::sync::watch::channel(leave_rules(&settings.bots));
        SupervisorActor {
            deps: BotDeps {
                registry: registry.clone(),
                store: store.clone(),
                audio: transcriber.audio,
                speech: transcriber.speech,
                rules: rules_rx,
                voice: settings
                    .notice_voice
                    .as_deref()
                    .map(|v| Arc::new(crate::consent::NoticeVoice::new(v))),
                record_key: settings.record_key.clone(),
            },
            call_ended: transcriber.ended,
            settings,
            store,
            registry,
            notes,
            rules,
            timers: HashMap::new(),
            running: HashMap::new(),
            backoff: HashMap::new(),
            generation: 0,
            draining: false,
            drained: Vec::new(),
            finishing: std::collections::HashSet::new(),
            notice_text: super::preferences::DEFAULT_NOTICE.to_owned(),
        }
    }

    fn lease_ttl(&self) -> Duration {
        Duration::from_secs(self.settings.bots.lease_secs)
    }

    fn lead(&self) -> Duration {
        Duration::from_secs(self.settings.bots.join_lead_secs)
    }

    /// Reads the schedule window and sets or moves a timer for each interview in it.
    fn rescan(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let now = Utc::now();
        let back = chrono::Duration::seconds(self.settings.bots.leave.max_duration_secs as i64)
            + chrono::Duration::seconds(self.settings.bots.leave.overrun_grace_secs as i64);
        let ahead = chrono::Duration::hours(self.settings.bots.lookahead_hours as i64);
        let fut = async move {
            // Settings saved from the dashboard (on any replica) apply before the timers are set.
            let prefs = BotPreferences::load(&store).await;
            let found = store
                .interviews_starting_between(now - back, now + ahead)
                .await;
            (prefs, found)
        };
        ctx.spawn(fut.into_actor(self).map(|(prefs, found), act, ctx| {
            match prefs {
                Ok(Some(p)) => act.apply_preferences(&p),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "supervisor: cannot read the bot settings; keeping the current ones"),
            }
            match found {
                Ok(interviews) => {
                    for interview in interviews {
                        act.consider(interview, ctx);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "supervisor: cannot read the schedule"),
            }
        }));
    }

    fn apply_preferences(&mut self, p: &BotPreferences) {
        let mut bots = self.settings.bots.clone();
        p.apply_to(&mut bots);
        let rules = leave_rules(&bots);
        if bots.join_lead_secs != self.settings.bots.join_lead_secs || rules != *self.rules.borrow()
        {
            tracing::info!(join_lead_secs = bots.join_lead_secs, "bot settings changed");
        }
        self.settings.bots = bots;
        self.notice_text = p.consent_notice.clone();
        self.rules.send_if_modified(|r| {
            let changed = *r != rules;
            *r = rules;
            changed
        });
    }

    /// Reads one interview and reconsiders it (after a change notification).
    fn reload(&mut self, interview_id: Id, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let fut = async move { store.get::<Interview>(interview_id).await };
        ctx.spawn(fut.into_actor(self).map(move |found, act, ctx| match found {
            Ok(Some(interview)) => act.consider(interview, ctx),
            Ok(None) => act.cancel(interview_id, "the interview was deleted", ctx),
            Err(e) => tracing::warn!(interview_id, error = %e, "supervisor: cannot read the interview"),
        }));
    }

    /// Sets, moves or clears the timer of one interview.
    fn consider(&mut self, interview: Interview, ctx: &mut Context<Self>) {
        let id = interview.id;
        if self.draining {
            return;
        }
        if !interview.is_active() {
            let why = format!("the interview is {}", interview.status.as_str());
            self.cancel(id, &why, ctx);
            return;
        }
        if self.running.contains_key(&id)
            || self.backoff.contains_key(&id)
            || self.finishing.contains(&id)
        {
            return;
        }
        let Some(start) = interview.starts_at() else {
            return;
        };
        let now = Utc::now();
        let deadline = self.deadline(start, interview.ends_at());
        if now >= deadline {
            if let Some((_, h)) = self.timers.remove(&id) {
                ctx.cancel_future(h);
            }
            return;
        }
        let at = policy::join_at(start, self.lead());
        if let Some((when, handle)) = self.timers.get(&id) {
            if *when == at {
                return;
            }
            ctx.cancel_future(*handle);
        }
        let delay = (at - now).to_std().unwrap_or(Duration::ZERO);
        let handle = ctx.run_later(delay, move |act, ctx| {
            act.timers.remove(&id);
            act.try_start(id, 0, ctx);
        });
        self.timers.insert(id, (at, handle));
    }

    fn deadline(&self, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> DateTime<Utc> {
        let b = &self.settings.bots;
        policy::give_up_at(
            start,
            end,
            Duration::from_secs(b.leave.overrun_grace_secs),
            Duration::from_secs(b.leave.max_duration_secs),
        )
    }

    /// Stops the interview's bot (if any) and clears its timer.
    fn cancel(&mut self, id: Id, why: &str, ctx: &mut Context<Self>) {
        if let Some((_, h)) = self.timers.remove(&id) {
            ctx.cancel_future(h);
        }
        let waiting = self.backoff.remove(&id).is_some();
        if let Some(bot) = self.running.get_mut(&id) {
            tracing::info!(interview_id = id, why, "supervisor: stopping the bot");
            bot.stopping = Some(why.to_string());
            bot.addr.do_send(StopBot);
        } else {
            let store = self.store.clone();
            let owner = self.settings.owner.clone();
            let why = why.to_string();
            actix::spawn(async move {
                if let Ok(Some(mut run)) = store.get_bot_run(id).await {
                    if !run.state.is_final() && (waiting || run.owner == owner) {
                        run.transition(BotState::Cancelled, Some(why), Utc::now());
                        let _ = store.put_bot_run(&run).await;
                        let _ = store.release_lease(&lease_name(id), &owner).await;
                    }
                }
            });
        }
    }

    /// Claims the lease and starts the bot, unless the interview is done, gone, or another
    /// replica has it.
    fn try_start(&mut self, id: Id, failures: u32, ctx: &mut Context<Self>) {
        if self.draining || self.running.contains_key(&id) || self.finishing.contains(&id) {
            return;
        }
        let store = self.store.clone();
        let owner = self.settings.owner.clone();
        let ttl = self.lease_ttl();
        let registry = self.registry.clone();
        let consent = self.settings.consent;
        let fut = async move { prepare(&store, &registry, &owner, ttl, id, consent).await };
        ctx.spawn(fut.into_actor(self).map(move |prepared, act, ctx| match prepared {
            Ok(Prepared::Start(start)) => {
                let (spec, run) = *start;
                act.start_bot(spec, run, failures, ctx)
            }
            Ok(Prepared::Skip(why)) => {
                tracing::debug!(interview_id = id, why, "supervisor: no bot");
                act.backoff.remove(&id);
            }
            Err(e) => {
                tracing::warn!(interview_id = id, error = %e, "supervisor: cannot start the bot; retrying at the next rescan");
                act.backoff.remove(&id);
            }
        }));
    }

    fn start_bot(
        &mut self,
        mut spec: BotSpec,
        run: BotRun,
        failures: u32,
        ctx: &mut Context<Self>,
    ) {
        if self.draining {
            let store = self.store.clone();
            let owner = self.settings.owner.clone();
            actix::spawn(async move {
                let _ = store
                    .release_lease(&lease_name(run.interview_id), &owner)
                    .await;
            });
            return;
        }
        self.backoff.remove(&spec.interview_id);
        spec.join_timeout = Duration::from_secs(self.settings.bots.join_timeout_secs);
        spec.notice = NoticePlan::for_text(&self.notice_text);
        if self.settings.bots.record {
            spec.record_dir = Some(
                self.settings
                    .data_dir
                    .join("recordings")
                    .join(spec.interview_id.to_string())
                    .join(format!("{}", run.attempts + 1)),
            );
        }
        self.generation += 1;
        let id = spec.interview_id;
        let me = ctx.address();
        let addr = BotActor::new(
            spec,
            self.deps.clone(),
            run,
            self.generation,
            me.clone().recipient(),
            me.recipient(),
        )
        .start();
        self.running.insert(
            id,
            Running {
                addr,
                generation: self.generation,
                failures,
                stopping: None,
            },
        );
    }

    fn renew_leases(&mut self, ctx: &mut Context<Self>) {
        let ids: Vec<Id> = self
            .running
            .keys()
            .chain(self.backoff.keys())
            .copied()
            .collect();
        if ids.is_empty() {
            return;
        }
        let store = self.store.clone();
        let owner = self.settings.owner.clone();
        let ttl = self.lease_ttl();
        let fut = async move {
            let mut lost = Vec::new();
            for id in ids {
                match store.renew_lease(&lease_name(id), &owner, ttl).await {
                    Ok(true) => {}
                    Ok(false) => lost.push(id),
                    Err(e) => {
                        tracing::warn!(interview_id = id, error = %e, "supervisor: cannot renew a lease")
                    }
                }
            }
            lost
        };
        ctx.spawn(fut.into_actor(self).map(|lost, act, ctx| {
            for id in lost {
                // A bot that ended while the renewals were in flight released its lease itself:
                // nothing was lost.
                let still_ours = act.running.get(&id).is_some_and(|b| b.stopping.is_none())
                    || act.backoff.contains_key(&id);
                if !still_ours {
                    tracing::debug!(interview_id = id, "lease gone with its finished bot");
                    continue;
                }
                // Another replica holds it now (this one was cut off longer than the lease): only
                // one bot may be in the call.
                tracing::warn!(
                    interview_id = id,
                    "supervisor: lost the lease; stopping the bot"
                );
                act.backoff.remove(&id);
                if let Some(bot) = act.running.get_mut(&id) {
                    bot.stopping = Some(LOST_LEASE.into());
                    bot.addr.do_send(StopBot);
                }
            }
            let _ = ctx;
        }));
    }

    /// Listens for schedule changes (instant reactions to cancellations and new interviews); on
    /// failure tries again later, the rescan covering the meantime.
    fn subscribe(&mut self, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let sub = async move { store.subscribe_schedule().await };
        ctx.spawn(sub.into_actor(self).map(|stream, _act, ctx| match stream {
            Ok(s) => {
                ctx.add_stream(s.map(ScheduleNotice));
            }
            Err(e) => {
                tracing::warn!(error = %e, "supervisor: cannot subscribe to schedule changes; relying on the rescan and trying again");
                ctx.run_later(RESUBSCRIBE_AFTER, |act, ctx| act.subscribe(ctx));
            }
        }));
    }

    /// After a restart: calls that ended without notes get them now (the transcript is on disk).
    fn resume_notes(&mut self, ctx: &mut Context<Self>) {
        let Some(notes) = self.notes.clone() else {
            return;
        };
        let store = self.store.clone();
        let owner = self.settings.owner.clone();
        let dir = self.settings.data_dir.join("transcripts");
        let fut = async move {
            let runs = match store.recent_bot_runs(500).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "supervisor: cannot read bot records to resume notes");
                    return;
                }
            };
            for run in runs {
                if run.owner != owner || run.state != BotState::Done || run.joined_at().is_none() {
                    continue;
                }
                if matches!(store.get_outbox_note(run.interview_id).await, Ok(Some(_))) {
                    continue;
                }
                let Ok(Some((candidate_id, meta))) =
                    crate::notes::meta_from_store(&store, run.interview_id, &notes.public_url)
                        .await
                else {
                    continue;
                };
                let path = dir.join(format!("{}.jsonl", run.interview_id));
                if !path.exists() {
                    continue;
                }
                tracing::info!(
                    interview_id = run.interview_id,
                    "supervisor: resuming notes after a restart"
                );
                notes.summarizer.do_send(NotesRequested {
                    interview_id: run.interview_id,
                    candidate_id,
                    meta,
                });
                notes.transcript_ready.do_send(TranscriptReady {
                    interview_id: run.interview_id.to_string(),
                    path,
                    segments: 0,
                    failed_chunks: 0,
                });
            }
        };
        ctx.spawn(fut.into_actor(self));
    }
}

/// Recipients of the transcriber's messages.
pub struct Recipients {
    pub audio: Recipient<crate::transcribe::ParticipantAudio>,
    pub speech: Recipient<crate::transcribe::ParticipantSpeech>,
    pub ended: Recipient<CallEnded>,
}

enum Prepared {
    Start(Box<(BotSpec, BotRun)>),
    Skip(&'static str),
}

/// Everything before a bot starts that needs the store: the interview as it is now, its record,
/// the lease.
async fn prepare(
    store: &DynStore,
    registry: &ConnectorRegistry,
    owner: &str,
    ttl: Duration,
    id: Id,
    consent: crate::consent::ConsentPolicy,
) -> Result<Prepared, crate::store::StoreError> {
    let Some(interview) = store.get::<Interview>(id).await? else {
        return Ok(Prepared::Skip("the interview is gone"));
    };
    if !interview.is_active() {
        return Ok(Prepared::Skip("the interview is not scheduled"));
    }
    let existing = store.get_bot_run(id).await?;
    if existing.as_ref().is_some_and(|r| r.state.is_final()) {
        return Ok(Prepared::Skip("this interview's bot has finished"));
    }
    let now = Utc::now();
    let mut run = existing.unwrap_or_else(|| BotRun::new(id, owner, now));
    run.scheduled_start = interview.starts_at();
    run.scheduled_end = interview.ends_at();
    let url = interview.meeting_url();
    run.meeting_url = url.clone();
    let parsed = url.as_deref().map(Url::parse);
    let url = match parsed {
        Some(Ok(u)) => u,
        other => {
            let why = match other {
                None => "the interview has no meeting URL".to_string(),
                _ => "the meeting URL is not a valid URL".to_string(),
            };
            if run.state != BotState::UnsupportedPlatform {
                run.transition(BotState::UnsupportedPlatform, Some(why), now);
                store.put_bot_run(&run).await?;
            }
            return Ok(Prepared::Skip("no usable meeting URL"));
        }
    };
    let platform = panelist_bots::platform::Platform::of(&url);
    run.platform = Some(platform.to_string());
    if let Err(e) = registry.connector_for(&url) {
        run.transition(BotState::UnsupportedPlatform, Some(e.to_string()), now);
        store.put_bot_run(&run).await?;
        return Ok(Prepared::Skip("unsupported platform"));
    }
    // Host patterns and IP literals are refused here, before a bot exists; names resolving somewhere
    // refused are caught by the connector at connect time and end the same way.
    if let Err(e) = registry.check_url(&url) {
        tracing::warn!(interview_id = id, refused = %e, "meeting URL not allowed by bots.network");
        run.transition(BotState::UrlNotAllowed, Some(e.to_string()), now);
        store.put_bot_run(&run).await?;
        return Ok(Prepared::Skip("meeting URL not allowed"));
    }
    // Consent is a state of the bot: no bot joins a call its policy forbids.
    match crate::consent::decide(store, consent, &interview).await? {
        crate::consent::Decision::Record(why) => {
            if matches!(
                run.state,
                BotState::ConsentPending | BotState::ConsentDenied
            ) {
                run.transition(BotState::Scheduled, Some(why), now);
            }
        }
        crate::consent::Decision::Pending(why) => {
            if run.state != BotState::ConsentPending {
                run.transition(BotState::ConsentPending, Some(why), now);
                store.put_bot_run(&run).await?;
            }
            return Ok(Prepared::Skip("waiting for consent"));
        }
        crate::consent::Decision::Denied(why) => {
            if run.state != BotState::ConsentDenied {
                run.transition(BotState::ConsentDenied, Some(why), now);
                store.put_bot_run(&run).await?;
            }
            return Ok(Prepared::Skip("consent declined"));
        }
    }
    if !store.acquire_lease(&lease_name(id), owner, ttl).await? {
        return Ok(Prepared::Skip("another replica runs this bot"));
    }
    // Another replica may have finished it between the read above and the lease.
    if store
        .get_bot_run(id)
        .await?
        .is_some_and(|r| r.state.is_final())
    {
        store.release_lease(&lease_name(id), owner).await?;
        return Ok(Prepared::Skip("this interview's bot has finished"));
    }
    let clock_offset = run
        .joined_at()
        .map(|first| (now - first).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(Duration::ZERO);
    run.owner = owner.to_string();
    let expected = expected_people(store, &interview).await?;
    let spec = BotSpec {
        interview_id: id,
        url,
        scheduled_start: interview.starts_at(),
        scheduled_end: interview.ends_at(),
        expected,
        record_dir: None,
        clock_offset,
        join_timeout: Duration::from_secs(60),
        notice: NoticePlan::Off("no notice was planned"),
    };
    Ok(Prepared::Start(Box::new((spec, run))))
}

/// The interviewers and the candidate, as Greenhouse names them.
pub async fn expected_people(
    store: &DynStore,
    interview: &Interview,
) -> Result<Vec<Expected>, crate::store::StoreError> {
    let mut people: Vec<Expected> = interview
        .interviewers
        .iter()
        .filter_map(|i| {
            let name = i.name.clone().or_else(|| i.email.clone())?;
            Some(Expected {
                name,
                email: i.email.clone(),
                role: Role::Interviewer,
            })
        })
        .collect();
    if let Some(app_id) = interview.application_id {
        if let Some(app) = store.get::<Application>(app_id).await? {
            if let Some(cid) = app.candidate_id {
                if let Some(c) = store.get::<Candidate>(cid).await? {
                    people.push(Expected {
                        name: c.display_name(),
                        email: c.email_addresses.first().map(|e| e.value.clone()),
                        role: Role::Candidate,
                    });
                }
            }
        }
    }
    Ok(people)
}

impl Actor for SupervisorActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        tracing::info!(owner = %self.settings.owner, "supervisor started");
        self.subscribe(ctx);
        self.rescan(ctx);
        self.resume_notes(ctx);
        ctx.run_interval(
            Duration::from_secs(self.settings.bots.rescan_secs),
            |act, ctx| act.rescan(ctx),
        );
        // Four renewals per lease: a replica whose thread is busy for a while keeps its leases.
        let renew = (self.lease_ttl() / 4).max(Duration::from_secs(1));
        ctx.run_interval(renew, |act, ctx| act.renew_leases(ctx));
    }
}

struct ScheduleNotice(ScheduleChange);

impl StreamHandler<ScheduleNotice> for SupervisorActor {
    fn handle(&mut self, ScheduleNotice(change): ScheduleNotice, ctx: &mut Context<Self>) {
        match change.kind {
            ScheduleChangeKind::Cancelled => {
                self.cancel(change.interview_id, "the interview was cancelled", ctx)
            }
            _ => self.reload(change.interview_id, ctx),
        }
    }

    fn finished(&mut self, ctx: &mut Context<Self>) {
        // The store connection behind them dropped (a Redis restart): the rescan covers the gap.
        tracing::warn!(
            "supervisor: schedule notifications ended; relying on the rescan and resubscribing"
        );
        ctx.run_later(RESUBSCRIBE_AFTER, |act, ctx| act.subscribe(ctx));
    }
}

impl Handler<BotInCall> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: BotInCall, ctx: &mut Context<Self>) {
        let Some(notes) = self.notes.clone() else {
            return;
        };
        let store = self.store.clone();
        let id = msg.interview_id;
        let fut = async move {
            match crate::notes::meta_from_store(&store, id, &notes.public_url).await {
                Ok(Some((candidate_id, meta))) => notes.summarizer.do_send(NotesRequested {
                    interview_id: id,
                    candidate_id,
                    meta,
                }),
                Ok(None) => tracing::info!(
                    interview_id = id,
                    "no candidate for this interview: transcript only, no notes"
                ),
                Err(e) => {
                    tracing::warn!(interview_id = id, error = %e, "cannot read the interview for notes")
                }
            }
        };
        ctx.spawn(fut.into_actor(self));
    }
}

impl Handler<BotFinished> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: BotFinished, ctx: &mut Context<Self>) {
        let id = msg.interview_id;
        let Some(bot) = self.running.remove(&id) else {
            return;
        };
        if bot.generation != msg.generation {
            self.running.insert(id, bot);
            return;
        }
        if bot.stopping.as_deref() == Some(LOST_LEASE) {
            // The record and the call are the other replica's now: write nothing, and start no
            // notes from the part this replica heard (the outbox keeps the first note).
            return;
        }
        let mut run = msg.run;
        let now = Utc::now();
        let joined = run.joined_at().is_some();
        let mut finished = true;
        match msg.outcome {
            // Stopped for shutdown: the call resumes after the restart or on another replica.
            _ if self.draining => {
                run.transition(
                    BotState::Retrying,
                    Some("this replica shut down".into()),
                    now,
                );
                finished = false;
            }
            _ if bot.stopping.is_some() => {
                run.transition(BotState::Cancelled, bot.stopping.clone(), now);
            }
            BotOutcome::Left(why) => {
                run.transition(BotState::Done, Some(why.to_string()), now);
            }
            BotOutcome::Stopped => {
                run.transition(
                    BotState::Cancelled,
                    Some("stopped before joining".into()),
                    now,
                );
            }
            // Retrying cannot change what the policy says about the URL.
            BotOutcome::UrlNotAllowed(why) => {
                tracing::warn!(interview_id = id, refused = %why, "meeting URL not allowed by bots.network");
                run.transition(BotState::UrlNotAllowed, Some(why), now);
            }
            BotOutcome::Failed { error, retryable } => {
                let failures = bot.failures + 1;
                let deadline = run
                    .scheduled_start
                    .map(|s| self.deadline(s, run.scheduled_end))
                    .unwrap_or(now);
                let policy = RestartPolicy {
                    base: Duration::from_secs(self.settings.bots.retry_base_secs),
                    max: Duration::from_secs(self.settings.bots.retry_max_secs),
                };
                let retry = if retryable {
                    Ok(())
                } else {
                    Err(error.clone())
                };
                match policy::restart_decision(
                    &policy,
                    failures,
                    retry,
                    now,
                    deadline,
                    rand::random(),
                ) {
                    RestartDecision::RetryAfter(delay) => {
                        tracing::warn!(interview_id = id, %error, failures, delay_ms = delay.as_millis() as u64, "bot failed; retrying");
                        run.transition(
                            BotState::Retrying,
                            Some(format!(
                                "{error}; retry {failures} in {} s",
                                delay.as_secs().max(1)
                            )),
                            now,
                        );
                        self.backoff.insert(id, failures);
                        ctx.run_later(delay, move |act, ctx| {
                            if act.backoff.contains_key(&id) {
                                act.try_start(id, failures, ctx);
                            }
                        });
                        finished = false;
                    }
                    RestartDecision::GiveUp(reason) => {
                        tracing::warn!(interview_id = id, %error, %reason, "bot failed; giving up");
                        run.transition(BotState::Failed, Some(format!("{error} ({reason})")), now);
                    }
                }
            }
        }
        let store = self.store.clone();
        let owner = self.settings.owner.clone();
        let call_ended = self.call_ended.clone();
        let draining = self.draining;
        let last = draining && self.running.is_empty();
        self.finishing.insert(id);
        let fut = async move {
            if let Err(e) = store.put_bot_run(&run).await {
                tracing::warn!(interview_id = id, error = %e, "cannot persist the bot's state");
            }
            // On a drain an unfinished call keeps its lease until it expires: another replica
            // (or this one, restarted) takes the call over then.
            if finished {
                let _ = store.release_lease(&lease_name(id), &owner).await;
            }
            if finished && joined {
                // The transcript is flushed; the summarizer follows `TranscriptReady`.
                let _ = call_ended
                    .send(CallEnded {
                        interview_id: id.to_string(),
                    })
                    .await;
            } else if draining && msg.heard {
                // Flush what was heard; the call resumes elsewhere or after the restart.
                let _ = call_ended
                    .send(CallEnded {
                        interview_id: id.to_string(),
                    })
                    .await;
            }
        };
        ctx.spawn(fut.into_actor(self).map(move |_, act, _| {
            act.finishing.remove(&id);
            if last && act.running.is_empty() {
                for tx in act.drained.drain(..) {
                    let _ = tx.send(());
                }
            }
        }));
    }
}

/// Start a bot for an interview now (an operator's command, `panelist join`).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct StartNow {
    pub interview_id: Id,
}

impl Handler<StartNow> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: StartNow, ctx: &mut Context<Self>) {
        self.try_start(msg.interview_id, 0, ctx);
    }
}

/// Stop an interview's bot (an operator's command).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct StopInterview {
    pub interview_id: Id,
    pub why: String,
}

impl Handler<StopInterview> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: StopInterview, ctx: &mut Context<Self>) {
        self.cancel(msg.interview_id, &msg.why, ctx);
    }
}

/// Replace the leave rules; running bots apply them at their next tick.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct SetLeaveRules(pub LeaveRules);

impl Handler<SetLeaveRules> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: SetLeaveRules, _: &mut Context<Self>) {
        self.rules.send_replace(msg.0);
    }
}

/// New bot settings, saved to the store by the dashboard: applied now, and timers that have not
/// fired yet move to the new join lead.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct ApplyBotPreferences(pub BotPreferences);

impl Handler<ApplyBotPreferences> for SupervisorActor {
    type Result = ();

    fn handle(&mut self, msg: ApplyBotPreferences, ctx: &mut Context<Self>) {
        self.apply_preferences(&msg.0);
        self.rescan(ctx);
    }
}

/// Shutdown: every bot leaves and transcripts are flushed. Answers true once every bot is gone,
/// false if some were still running after `grace`.
#[derive(Debug, Clone, Message)]
#[rtype(result = "bool")]
pub struct Drain {
    pub grace: Duration,
}

impl Handler<Drain> for SupervisorActor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) -> Self::Result {
        self.draining = true;
        for (_, (_, h)) in self.timers.drain() {
            ctx.cancel_future(h);
        }
        self.backoff.clear();
        for bot in self.running.values_mut() {
            bot.stopping = Some("shutting down".into());
            bot.addr.do_send(StopBot);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.running.is_empty() {
            let _ = tx.send(());
        } else {
            self.drained.push(tx);
        }
        tracing::info!(bots = self.running.len(), "supervisor: draining");
        Box::pin(async move { matches!(tokio::time::timeout(msg.grace, rx).await, Ok(Ok(()))) })
    }
}

/// Bots running in this process, for metrics and the dashboard.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "SupervisorStats")]
pub struct GetSupervisorStats;

#[derive(Debug, Clone, Default, PartialEq, Eq, MessageResponse)]
pub struct SupervisorStats {
    pub running: usize,
    pub timers: usize,
    pub retrying: usize,
}

impl Handler<GetSupervisorStats> for SupervisorActor {
    type Result = SupervisorStats;

    fn handle(&mut self, _: GetSupervisorStats, _: &mut Context<Self>) -> SupervisorStats {
        SupervisorStats {
            running: self.running.len(),
            timers: self.timers.len(),
            retrying: self.backoff.len(),
        }
    }
}
