//! Settings → Integrations: Greenhouse credentials, the integration user, the webhook secret,
//! Update (check against Greenhouse), Sync with live progress, and what to paste into Greenhouse.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use secrecy::SecretString;
use serde::Deserialize;

use super::guard::{admin_only, Principal};
use super::layout::{badge, error_box, flash, fragment, when, Nav, Page};
use super::overview::MsgQuery;
use super::snake;
use crate::http::AppState;
use crate::settings::{ApiVersion, SettingsUpdate, SettingsView};
use crate::sync::{GetSyncStatus, StartSync, SyncKind};

fn back(msg: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/settings/integrations?msg={msg}"),
        ))
        .finish()
}

pub async fn page(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<MsgQuery>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    render(&state, &who, q.msg.as_deref(), &[]).await
}

async fn render(
    state: &AppState,
    who: &Principal,
    msg: Option<&str>,
    problems: &[String],
) -> HttpResponse {
    let view = match state.integration.view(false).await {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the integration settings");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The settings cannot be read right now; try again shortly.");
        }
    };
    let body = html! {
        h1 { "Integrations" }
        (flash(msg))
        (error_box(problems))
        div.grid {
            section.panel aria-labelledby="gh-h" {
                h2 #gh-h { "Greenhouse" }
                (status_line(&view))
                (form(&view, who.csrf()))
                div.actions {
                    form method="post" action="/settings/integrations/verify" {
                        input type="hidden" name="csrf" value=(who.csrf());
                        button.secondary type="submit" { "Update" }
                    }
                    form method="post" action="/settings/integrations/sync" {
                        input type="hidden" name="csrf" value=(who.csrf());
                        button.secondary type="submit" { "Sync" }
                    }
                }
                h3 { "Sync" }
                div #sync-progress data-live="/live/sync" aria-live="polite" { (sync_status(state).await) }
            }
            section.panel aria-labelledby="wh-h" {
                h2 #wh-h { "Webhooks" }
                (webhooks(&view))
            }
        }
    };
    Page {
        title: "Integrations",
        nav: Nav::Integrations,
        who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

fn status_line(v: &SettingsView) -> Markup {
    html! {
        p #gh-status {
            @if let (Some(name), Some(at)) = (&v.integration_user_name, v.verified_at) {
                (badge("succeeded")) " Connected. Notes are posted as "
                strong #resolved-user { (name) }
                @if let Some(id) = v.integration_user_id { " (user " (id) ")" }
                ", checked " (when(at)) "."
            } @else if let Some(err) = &v.last_error {
                (badge("failed")) " " span #gh-error { (err) }
            } @else {
                (badge("scheduled")) " Not checked yet: save the credentials, then press Update."
            }
        }
    }
}

fn form(v: &SettingsView, csrf: &str) -> Markup {
    let creds_locked = v.locked_by_config.contains(&"credentials");
    let email_locked = v.locked_by_config.contains(&"integration_user_email");
    let secret_locked = v.locked_by_config.contains(&"webhook_secret");
    let keep = "set · leave blank to keep";
    html! {
        form.stack method="post" action="/settings/integrations" {
            input type="hidden" name="csrf" value=(csrf);
            @if creds_locked { p.small.muted { "Credentials come from the configuration and cannot be changed here." } }
            fieldset disabled[creds_locked] {
                legend { "API" }
                label { input type="radio" name="api_version" value="v3" checked[v.api_version == ApiVersion::V3]; " Harvest v3 (OAuth client)" }
                label { input type="radio" name="api_version" value="v1" checked[v.api_version == ApiVersion::V1]; " Harvest v1 (legacy API key)" }
            }
            div {
                label for="client_id" { "Client ID" span.hint { "Greenhouse → Configure → Dev Center → API Credentials (Harvest v3)." } }
                input #client_id type="text" name="client_id" value=(v.client_id.as_deref().unwrap_or("")) autocomplete="off" disabled[creds_locked];
            }
            div {
                label for="client_secret" { "Client secret" }
                input #client_secret type="password" name="client_secret" autocomplete="new-password"
                    placeholder=(if v.client_secret_set { keep } else { "" }) disabled[creds_locked];
            }
            div {
                label for="api_key" { "Legacy API key" span.hint { "Only for Harvest v1." } }
                input #api_key type="password" name="api_key" autocomplete="new-password"
                    placeholder=(if v.api_key_set { keep } else { "" }) disabled[creds_locked];
            }
            div {
                label for="email" { "Post notes as" span.hint { "Email of the Greenhouse user the notes are posted on behalf of." } }
                input #email type="email" name="integration_user_email" value=(v.integration_user_email.as_deref().unwrap_or("")) disabled[email_locked];
            }
            div {
                label for="webhook_secret" { "Webhook secret" span.hint { "The Secret key you enter for each webhook in Greenhouse." } }
                input #webhook_secret type="password" name="webhook_secret" autocomplete="new-password"
                    placeholder=(if v.webhook_secret_set { keep } else { "" }) disabled[secret_locked];
            }
            div { button type="submit" { "Save" } }
        }
    }
}

fn webhooks(v: &SettingsView) -> Markup {
    html! {
        p { "In Greenhouse: Configure → Dev Center → Web Hooks → Create a new web hook, once per event below, with:" }
        dl.facts {
            dt { "Endpoint URL" }
            dd.copy { code #endpoint { (v.webhook.endpoint_url) } button.secondary type="button" data-copy=(v.webhook.endpoint_url) { "Copy" } }
            dt { "Secret key" }
            dd.copy {
                @if v.webhook_secret_set {
                    code #webhook-secret { (v.webhook.secret_masked.as_deref().unwrap_or("set")) }
                    button.secondary type="button" data-reveal="/api/settings/integration?reveal=webhook_secret" data-target="webhook-secret" { "Reveal and copy" }
                } @else {
                    span.muted { "Not set: enter one in the form." }
                }
            }
        }
        h3 { "Webhooks to create" }
        ul {
            @for w in &v.webhook.to_create {
                li { strong { (w.ui_name) } " " span.small.muted { "(" code { (w.action) } ")" } }
            }
        }
        h3 { "Last ping from Greenhouse" }
        @if v.webhook.last_pings.is_empty() {
            p.empty { "No ping yet. Greenhouse pings a web hook when you save it." }
        } @else {
            ul { @for p in &v.webhook.last_pings { li { "Web hook " (p.web_hook_id) " · " code { (p.event) } " · " (when(p.received_at)) } } }
        }
    }
}

/// The sync running on this server, else the last run in the store.
pub async fn sync_status(state: &AppState) -> Markup {
    let live = state.sync.send(GetSyncStatus).await.ok();
    let last = state
        .store
        .recent_sync_runs(1)
        .await
        .ok()
        .and_then(|mut r| r.pop());
    html! {
        @if let Some(s) = live.as_ref().filter(|s| s.running.is_some()) {
            p #sync-running { (badge("running")) " Syncing "
                (s.resource.as_deref().unwrap_or("…")) ": "
                (s.resources_done) " of " (s.resources_total) " resources, " (s.fetched) " records fetched." }
            progress max=(s.resources_total.max(1)) value=(s.resources_done) aria-label="Sync progress" {}
        }
        @match &last {
            None => { p.empty { "No sync has run yet." } },
            Some(run) => {
                p #sync-last { (badge(&snake(&run.status))) " " (run.kind) " sync started " (when(run.started_at))
                    @if let Some(f) = run.finished_at { ", finished " (when(f)) } "." }
                @if !run.counts.is_empty() {
                    ul.small #sync-counts { @for (k, n) in &run.counts { li { (k) ": " strong { (n) } } } }
                }
                p.small.muted { (run.requests) " requests to Greenhouse, " (run.rate_limited) " rate-limited." }
                @for e in run.errors.iter().take(5) { p.small role="alert" { (e) } }
            }
        }
    }
}

pub async fn live_sync(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    fragment(&req, sync_status(&state).await)
}

#[derive(Deserialize)]
pub struct SettingsForm {
    api_version: Option<ApiVersion>,
    client_id: Option<String>,
    client_secret: Option<String>,
    api_key: Option<String>,
    integration_user_email: Option<String>,
    webhook_secret: Option<String>,
}

/// Blank secret fields keep what is stored: the page never shows secrets, so it cannot send them back.
fn secret(field: Option<String>) -> Option<SecretString> {
    field
        .filter(|s| !s.trim().is_empty())
        .map(|s| SecretString::from(s.trim().to_string()))
}

pub async fn save(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<SettingsForm>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let f = form.into_inner();
    let update = SettingsUpdate {
        api_version: f.api_version,
        client_id: f.client_id.map(|s| s.trim().to_string()),
        client_secret: secret(f.client_secret),
        api_key: secret(f.api_key),
        integration_user_email: f.integration_user_email.map(|s| s.trim().to_string()),
        webhook_secret: secret(f.webhook_secret),
    };
    match state.integration.save(update).await {
        Ok(()) => {
            tracing::info!(user = %who.name(), "integration settings saved");
            crate::privacy::record_access(
                &state.store,
                who.name(),
                "settings_changed",
                "integration",
                None,
            )
            .await;
            back("saved")
        }
        Err(e) => render(&state, &who, None, &[e.to_string()]).await,
    }
}

pub async fn verify(state: web::Data<AppState>, who: Principal) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    match state.integration.verify().await {
        Ok(_) => back("verified"),
        Err(e) => {
            // The error is stored with the settings and shown in the status line.
            tracing::info!(error = %e, "Update: Greenhouse did not accept the credentials");
            back("verify_failed")
        }
    }
}

pub async fn sync(state: web::Data<AppState>, who: Principal) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    match state
        .sync
        .send(StartSync {
            kind: SyncKind::Full,
        })
        .await
    {
        Ok(s) if s.started => back("sync_started"),
        Ok(_) => back("sync_running"),
        Err(e) => {
            tracing::error!(error = %e, "the sync service is not running");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The sync service is not running.")
        }
    }
}
