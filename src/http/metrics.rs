//! `GET /metrics`: Prometheus text exposition. Live figures come from this replica's actors
//! (transcriber queue and lag, poster counters, bots running here); fleet-wide figures (bots by
//! state, join latency, hang-up to note, webhook and sync outcomes) from the recent records every
//! replica shares in the store, so any replica's scrape shows the fleet.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use actix_web::{web, HttpResponse};

use super::limits::Refused;
use super::{ApiError, AppState};
use crate::poster::{GetPosterStats, OutboxStatus};
use crate::supervisor::{BotState, GetSupervisorStats};
use crate::transcribe::GetTranscriberStats;

/// Records read for the fleet-wide figures.
const RECENT: usize = 1_000;
const LATENCY_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0];

#[derive(Default)]
struct Out(String);

impl Out {
    fn metric(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &str, v: f64) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {v}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {v}");
        }
    }

    fn gauge(&mut self, name: &str, help: &str, v: f64) {
        self.metric(name, "gauge", help);
        self.value(name, "", v);
    }

    fn histogram(&mut self, name: &str, help: &str, samples: &[f64]) {
        self.metric(name, "histogram", help);
        for le in LATENCY_BUCKETS {
            let n = samples.iter().filter(|s| **s <= le).count();
            self.value(&format!("{name}_bucket"), &format!("le=\"{le}\""), n as f64);
        }
        self.value(
            &format!("{name}_bucket"),
            "le=\"+Inf\"",
            samples.len() as f64,
        );
        self.value(&format!("{name}_sum"), "", samples.iter().sum());
        self.value(&format!("{name}_count"), "", samples.len() as f64);
    }
}

/// A status enum as it is written in JSON (`"applied"`, `"partial"`), for a label value.
fn label<T: serde::Serialize>(status: &T) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

pub async fn metrics(
    state: web::Data<AppState>,
    webhooks: Option<web::Data<crate::webhooks::WebhookState>>,
) -> Result<HttpResponse, ApiError> {
    let mut out = Out::default();

    // Bots, fleet-wide.
    let runs = state.store.recent_bot_runs(RECENT).await?;
    let mut by_state: BTreeMap<&'static str, usize> = BTreeMap::new();
    for s in [
        BotState::Scheduled,
        BotState::Joining,
        BotState::WaitingRoom,
        BotState::InCall,
        BotState::Leaving,
        BotState::Retrying,
        BotState::Done,
        BotState::Failed,
        BotState::UnsupportedPlatform,
        BotState::UrlNotAllowed,
        BotState::ConsentPending,
        BotState::ConsentDenied,
        BotState::Cancelled,
    ] {
        by_state.insert(s.as_str(), 0);
    }
    for r in &runs {
        *by_state.entry(r.state.as_str()).or_default() += 1;
    }
    out.metric(
        "panelist_bots",
        "gauge",
        "Bots by state (recent records, all replicas).",
    );
    for (s, n) in &by_state {
        out.value("panelist_bots", &format!("state=\"{s}\""), *n as f64);
    }
    let silent = runs
        .iter()
        .filter(|r| r.state == BotState::InCall && r.figures.silent)
        .count();
    out.gauge(
        "panelist_bots_silent",
        "Bots in a call with others that receive no audio (the watchdog's flag).",
        silent as f64,
    );
    let joins: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.figures.join_latency_ms)
        .map(|ms| (ms as f64 / 1000.0).abs())
        .collect();
    out.histogram(
        "panelist_bot_join_offset_seconds",
        "How far from the scheduled start bots got into their calls.",
        &joins,
    );
    let frames: u64 = runs.iter().map(|r| r.figures.audio_frames).sum();
    let lost: u64 = runs.iter().map(|r| r.figures.frames_lost).sum();
    out.gauge(
        "panelist_audio_frames_received",
        "Audio frames received by recent bots.",
        frames as f64,
    );
    out.gauge(
        "panelist_audio_frames_lost",
        "Audio frames lost (never arrived in time) by recent bots.",
        lost as f64,
    );

    // Hang-up to note, from the bot's end to the post.
    let notes = state.store.recent_outbox_notes(RECENT).await?;
    let ended: BTreeMap<i64, chrono::DateTime<chrono::Utc>> = runs
        .iter()
        .filter(|r| r.state == BotState::Done)
        .filter_map(|r| r.timeline.last().map(|c| (r.interview_id, c.at)))
        .collect();
    let to_note: Vec<f64> = notes
        .iter()
        .filter_map(|n| {
            let end = ended.get(&n.interview_id)?;
            let posted = n.posted_at?;
            Some((posted - *end).num_milliseconds().max(0) as f64 / 1000.0)
        })
        .collect();
    out.histogram(
        "panelist_hangup_to_note_seconds",
        "From the bot leaving the call to the note being posted in Greenhouse.",
        &to_note,
    );
    out.metric("panelist_notes", "gauge", "Notes in the outbox by status.");
    for (label, status) in [
        ("pending", OutboxStatus::Pending),
        ("posted", OutboxStatus::Posted),
        ("failed", OutboxStatus::Failed),
    ] {
        let n = notes.iter().filter(|n| n.status == status).count();
        out.value("panelist_notes", &format!("status=\"{label}\""), n as f64);
    }

    // Webhooks and syncs.
    let events = state.store.recent_webhook_events(RECENT).await?;
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *by_status.entry(label(&e.status)).or_default() += 1;
    }
    out.metric(
        "panelist_webhook_events",
        "gauge",
        "Recent webhook events by status.",
    );
    for (s, n) in &by_status {
        out.value(
            "panelist_webhook_events",
            &format!("status=\"{s}\""),
            *n as f64,
        );
    }
    let syncs = state.store.recent_sync_runs(100).await?;
    let mut sync_status: BTreeMap<String, usize> = BTreeMap::new();
    for r in &syncs {
        *sync_status.entry(label(&r.status)).or_default() += 1;
    }
    out.metric("panelist_sync_runs", "gauge", "Recent sync runs by status.");
    for (s, n) in &sync_status {
        out.value("panelist_sync_runs", &format!("status=\"{s}\""), *n as f64);
    }
    if let Some(last) = syncs.first() {
        out.gauge(
            "panelist_sync_last_rate_limited",
            "429 answers in the last sync run.",
            last.rate_limited as f64,
        );
    }

    // This replica's actors.
    if let Some(sup) = &state.supervisor {
        if let Ok(s) = sup.send(GetSupervisorStats).await {
            out.gauge(
                "panelist_replica_bots_running",
                "Bots this replica runs now.",
                s.running as f64,
            );
            out.gauge(
                "panelist_replica_bot_timers",
                "Interviews this replica has a join timer for.",
                s.timers as f64,
            );
            out.gauge(
                "panelist_replica_bots_retrying",
                "Bots waiting out a retry backoff here.",
                s.retrying as f64,
            );
        }
    }
    if let Some(t) = &state.transcriber {
        if let Ok(s) = t.send(GetTranscriberStats).await {
            out.gauge(
                "panelist_transcription_queue_depth",
                "Speech chunks waiting for the engine.",
                s.queue_depth as f64,
            );
            out.gauge(
                "panelist_transcription_lag_seconds",
                "Age of the oldest chunk not yet transcribed.",
                s.lag_ms as f64 / 1000.0,
            );
            out.gauge(
                "panelist_transcription_max_lag_seconds",
                "Worst cut-to-stored time of any chunk so far.",
                s.max_lag_ms as f64 / 1000.0,
            );
            out.gauge(
                "panelist_transcription_chunks_done",
                "Chunks transcribed since start.",
                s.chunks_done as f64,
            );
            out.gauge(
                "panelist_transcription_chunks_failed",
                "Chunks the engine failed on since start.",
                s.chunks_failed as f64,
            );
            out.gauge(
                "panelist_transcription_inferences",
                "Engine runs since start; below chunks done when waiting chunks share a window (batch_chunks).",
                s.inferences as f64,
            );
            out.gauge(
                "panelist_transcription_real_time_factor",
                "Engine seconds per second of audio.",
                s.real_time_factor(),
            );
        }
    }
    if let Ok(s) = state.poster.send(GetPosterStats).await {
        out.gauge(
            "panelist_poster_posted",
            "Notes posted since start.",
            s.posted as f64,
        );
        out.gauge(
            "panelist_poster_retries",
            "Post attempts retried since start.",
            s.retries as f64,
        );
        out.gauge(
            "panelist_poster_failed",
            "Notes given up on since start.",
            s.failed as f64,
        );
    }
    out.metric(
        "panelist_http_refused_total",
        "counter",
        "Requests refused by a request limit (server.limits, webhooks.body_limit_bytes), by reason.",
    );
    for why in Refused::ALL {
        out.value(
            "panelist_http_refused_total",
            &format!("reason=\"{}\"", why.label()),
            state.limits.refused.get(why) as f64,
        );
    }
    if let Some(w) = webhooks {
        out.metric(
            "panelist_webhook_mailbox_deferred_total",
            "counter",
            "Accepted webhook events the apply queue was too full to take; they wait in the event log for the next rescan.",
        );
        out.value(
            "panelist_webhook_mailbox_deferred_total",
            "",
            w.deferred.load(std::sync::atomic::Ordering::Relaxed) as f64,
        );
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(out.0))
}
