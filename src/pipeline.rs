//! The actors of a call's life, wired in one place so `serve`, the demo and tests start the same
//! thing: supervisor → bot → transcriber → summarizer → poster. Each hand-over is a message, and
//! each step's result is persisted (bot records, transcript files, the outbox), so a restart
//! resumes where it stopped.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use panelist_bots::ConnectorRegistry;

use crate::config::Settings;
use crate::notes::{self, PipelineOptions, SummarizerActor};
use crate::poster::{GreenhouseAccess, GreenhousePosterActor, Poster};
use crate::startup::Core;
use crate::supervisor::{self, NotesLink, Recipients, SupervisorActor, SupervisorSettings};
use crate::transcribe::{self, TranscriberActor};

/// The running pipeline; `supervisor` is `None` when bots are off (and the log said why).
pub struct Pipeline {
    pub supervisor: Option<Addr<SupervisorActor>>,
    pub transcriber: Option<Addr<TranscriberActor>>,
    pub summarizer: Option<Addr<SummarizerActor>>,
    pub poster: Addr<GreenhousePosterActor>,
    pub replica: String,
    /// Why no bot joins anything on this replica, in words for the dashboard; `None` when bots run.
    pub bots_off: Option<String>,
    /// Why calls get no notes, when the notes engine cannot run.
    pub notes_off: Option<String>,
}

/// Every connector, bound to `bots.network`: the one place a process's bots get their network policy, so
/// `serve`, `join` and the demo enforce the same rules.
pub fn connectors(settings: &Settings) -> anyhow::Result<ConnectorRegistry> {
    let policy = settings
        .bots
        .network
        .policy()
        .map_err(|e| anyhow::anyhow!("bots.network.allowed_hosts: {e}"))?;
    Ok(ConnectorRegistry::standard_limited(
        policy,
        settings.bots.max_participants,
    ))
}

/// Starts the poster, and, when bots are on and transcription can run, the transcriber, the
/// summarizer (when its engine can run) and the supervisor. Must run inside an actix system.
pub async fn start(core: &Core, registry: Arc<ConnectorRegistry>) -> Pipeline {
    let settings: &Settings = &core.settings;
    let replica = supervisor::replica_id(&settings.bots.replica_id);
    let poster = GreenhousePosterActor::new(
        Poster::new(
            core.store.clone(),
            GreenhouseAccess::Integration(core.integration.clone()),
            &settings.poster,
        ),
        Duration::from_secs(settings.poster.poll_interval_secs),
    )
    .paused(!settings.poster.enabled)
    .start();
    let mut pipeline = Pipeline {
        supervisor: None,
        transcriber: None,
        summarizer: None,
        poster: poster.clone(),
        replica: replica.clone(),
        bots_off: None,
        notes_off: None,
    };
    if !settings.bots.enabled {
        tracing::info!("bots are off (bots.enabled = false): no bot joins any interview");
        pipeline.bots_off = Some("bots are turned off (bots.enabled = false)".into());
        return pipeline;
    }
    let engine = match transcribe::build_engine(settings).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "bots are OFF: transcription cannot run, so no bot joins any interview. Fix the transcription settings (for the local engine: `panelist models install tiny.en`) and restart");
            pipeline.bots_off = Some(format!("transcription cannot run: {e}"));
            return pipeline;
        }
    };
    let files = core.transcripts();
    let summarizer = match notes::build_engine(settings) {
        Ok(engine) => Some(
            SummarizerActor::new(
                engine,
                PipelineOptions::from_settings(&settings.notes),
                files.clone(),
                poster.clone().recipient(),
                settings.poster.visibility,
                Duration::from_secs(5),
            )
            .start(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "notes are OFF: bots will join and transcribe, but no notes are written until this is fixed");
            pipeline.notes_off = Some(format!("the notes engine cannot run: {e}"));
            None
        }
    };
    let mut transcriber = TranscriberActor::new(engine, &settings.transcription, files);
    if let Some(s) = &summarizer {
        transcriber = transcriber.with_listener(s.clone().recipient());
    }
    let transcriber = transcriber.start();
    let notes = summarizer.as_ref().map(|s| NotesLink {
        summarizer: s.clone().recipient(),
        transcript_ready: s.clone().recipient(),
        public_url: settings.public_url.clone(),
    });
    let supervisor = SupervisorActor::new(
        SupervisorSettings {
            bots: settings.bots.clone(),
            owner: replica,
            data_dir: settings.data_dir.clone(),
            consent: settings.consent.policy,
            notice_voice: settings
                .consent
                .spoken_notice
                .then(|| settings.consent.notice_voice.clone()),
            record_key: core.at_rest_key().map(|k| k.recording_key()),
        },
        core.store.clone(),
        registry,
        Recipients {
            audio: transcriber.clone().recipient(),
            speech: transcriber.clone().recipient(),
            ended: transcriber.clone().recipient(),
        },
        notes,
    )
    .start();
    pipeline.supervisor = Some(supervisor);
    pipeline.transcriber = Some(transcriber);
    pipeline.summarizer = summarizer;
    pipeline
}
