//! The admin JSON API: integration settings, syncs, the webhook log and the schedule.

use actix_web::{web, HttpResponse};
use chrono::{Duration, Utc};
use serde::Deserialize;

use super::{ApiError, AppState};
use crate::settings::SettingsUpdate;
use crate::supervisor::{StartNow, StopInterview, SupervisorActor};
use crate::sync::{GetSyncStatus, StartSync, SyncKind};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/settings/integration", web::get().to(get_integration))
        .route("/settings/integration", web::put().to(save_integration))
        .route(
            "/settings/integration/verify",
            web::post().to(verify_integration),
        )
        .route("/sync", web::post().to(start_sync))
        .route("/sync/status", web::get().to(sync_status))
        .route("/sync/runs", web::get().to(sync_runs))
        .route("/webhooks/events", web::get().to(webhook_events))
        .route("/schedule", web::get().to(schedule))
        .route("/bots", web::get().to(bots))
        .route("/bots/{interview_id}", web::get().to(bot))
        .route("/bots/{interview_id}/stop", web::post().to(stop_bot))
        .route("/bots/{interview_id}/start", web::post().to(start_bot))
        .route(
            "/interviews/{interview_id}/transcript",
            web::get().to(transcript),
        )
        .route("/notes", web::get().to(notes));
}

#[derive(Deserialize)]
struct RevealQuery {
    /// `reveal=webhook_secret` shows the webhook secret so it can be pasted into Greenhouse.
    reveal: Option<String>,
}

async fn get_integration(
    state: web::Data<AppState>,
    q: web::Query<RevealQuery>,
    who: crate::dashboard::guard::Principal,
) -> Result<HttpResponse, ApiError> {
    let reveal = q.reveal.as_deref() == Some("webhook_secret");
    if reveal {
        if !who.is_admin() {
            return Ok(HttpResponse::Forbidden()
                .json(serde_json::json!({ "error": "only admins can see the webhook secret" })));
        }
        tracing::info!(user = %who.name(), "webhook secret revealed");
    }
    Ok(HttpResponse::Ok().json(state.integration.view(reveal).await?))
}

async fn save_integration(
    state: web::Data<AppState>,
    body: web::Json<SettingsUpdate>,
) -> Result<HttpResponse, ApiError> {
    state.integration.save(body.into_inner()).await?;
    crate::privacy::record_access(
        &state.store,
        "api-token",
        "settings_changed",
        "integration",
        None,
    )
    .await;
    Ok(HttpResponse::Ok().json(state.integration.view(false).await?))
}

/// "Update": checks the credentials against Greenhouse and resolves the integration user.
async fn verify_integration(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.integration.verify().await?))
}

#[derive(Deserialize, Default)]
struct SyncRequest {
    kind: Option<SyncKind>,
}

/// "Sync": starts a sync (full unless asked otherwise) or reports the one in progress.
async fn start_sync(
    state: web::Data<AppState>,
    body: Option<web::Json<SyncRequest>>,
) -> Result<HttpResponse, ApiError> {
    let kind = body
        .and_then(|b| b.into_inner().kind)
        .unwrap_or(SyncKind::Full);
    let started = state
        .sync
        .send(StartSync { kind })
        .await
        .map_err(|_| ApiError::Unavailable("the sync service is not running".into()))?;
    Ok(HttpResponse::Accepted().json(started))
}

async fn sync_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let status = state
        .sync
        .send(GetSyncStatus)
        .await
        .map_err(|_| ApiError::Unavailable("the sync service is not running".into()))?;
    Ok(HttpResponse::Ok().json(status))
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<usize>,
}

impl LimitQuery {
    fn get(&self) -> usize {
        self.limit.unwrap_or(50).clamp(1, 500)
    }
}

async fn sync_runs(
    state: web::Data<AppState>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.recent_sync_runs(q.get()).await?))
}

async fn webhook_events(
    state: web::Data<AppState>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.recent_webhook_events(q.get()).await?))
}

#[derive(Deserialize)]
struct ScheduleQuery {
    hours: Option<i64>,
}

async fn schedule(
    state: web::Data<AppState>,
    q: web::Query<ScheduleQuery>,
) -> Result<HttpResponse, ApiError> {
    let hours = q.hours.unwrap_or(24).clamp(1, 24 * 31);
    let now = Utc::now();
    let interviews = state
        .store
        .interviews_starting_between(now - Duration::hours(1), now + Duration::hours(hours))
        .await?;
    Ok(HttpResponse::Ok().json(interviews))
}

async fn bots(
    state: web::Data<AppState>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.recent_bot_runs(q.get()).await?))
}

async fn bot(state: web::Data<AppState>, id: web::Path<i64>) -> Result<HttpResponse, ApiError> {
    match state.store.get_bot_run(*id).await? {
        Some(run) => Ok(HttpResponse::Ok().json(run)),
        None => Err(ApiError::NotFound(format!("no bot for interview {id}"))),
    }
}

fn supervisor(state: &AppState) -> Result<&actix::Addr<SupervisorActor>, ApiError> {
    state.supervisor.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "bots are off on this replica (bots.enabled = false, or transcription cannot run: see the log)".into(),
        )
    })
}

async fn stop_bot(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    supervisor(&state)?.do_send(StopInterview {
        interview_id: *id,
        why: "stopped by an operator".into(),
    });
    Ok(HttpResponse::Accepted().json(serde_json::json!({"stopping": *id})))
}

async fn start_bot(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    supervisor(&state)?.do_send(StartNow { interview_id: *id });
    Ok(HttpResponse::Accepted().json(serde_json::json!({"starting": *id})))
}

async fn transcript(
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let files = state.transcripts.clone();
    let key = id.to_string();
    // The API is reached with the admin token only.
    crate::privacy::record_access(
        &state.store,
        "api-token",
        "transcript_exported",
        "GET /api/interviews/{id}/transcript",
        Some(format!("interview {key}")),
    )
    .await;
    let segments = web::block(move || files.load(&key))
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .map_err(|e| ApiError::Unavailable(format!("cannot read the transcript: {e}")))?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "segments": segments })))
}

async fn notes(
    state: web::Data<AppState>,
    q: web::Query<LimitQuery>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.store.recent_outbox_notes(q.get()).await?))
}
