//! The overview: the live bot board, the next 24 hours, recent notes, the last sync and the webhook
//! log. Each part is also a live fragment under `/live/`, re-fetched by the page's script.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use super::describe::{describe, describe_interview};
use super::guard::Principal;
use super::layout::{badge, flash, fragment, relative, when, when_opt, Nav, Page};
use super::snake;
use crate::http::AppState;
use crate::supervisor::{BotRun, BotState};
use crate::transcribe::GetTranscriberStats;

/// Bot records read for the board: more than any one replica runs at once.
const BOARD_READ: usize = 500;

#[derive(Deserialize)]
pub struct MsgQuery {
    pub msg: Option<String>,
}

pub async fn page(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<MsgQuery>,
) -> HttpResponse {
    let body = html! {
        h1 { "Overview" }
        (flash(q.msg.as_deref()))
        @if let Some(why) = &state.bots_off {
            div.flash.error role="alert" { "No bot joins any interview on this server: " (why) }
        }
        @if let Some(why) = &state.notes_off {
            div.flash.error role="alert" { "Calls get no notes: " (why) }
        }
        section.panel aria-labelledby="board-h" {
            h2 #board-h { "Live bots" }
            div #board data-live="/live/board" aria-live="polite" { (board(&state).await) }
        }
        div.grid {
            section.panel aria-labelledby="upcoming-h" {
                h2 #upcoming-h { "Next 24 hours" }
                div data-live="/live/upcoming" { (upcoming(&state).await) }
            }
            section.panel aria-labelledby="notes-h" {
                h2 #notes-h { "Recent notes" }
                div data-live="/live/notes" { (notes(&state).await) }
            }
        }
        div.grid {
            section.panel aria-labelledby="sync-h" {
                h2 #sync-h { "Last sync" }
                div data-live="/live/sync" { (super::integrations::sync_status(&state).await) }
            }
            section.panel aria-labelledby="webhooks-h" {
                h2 #webhooks-h { "Webhook log" }
                div data-live="/live/webhooks" { (webhooks(&state).await) }
            }
        }
    };
    Page {
        title: "Overview",
        nav: Nav::Overview,
        who: &who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

pub async fn live_board(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    fragment(&req, board(&state).await)
}

pub async fn live_upcoming(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    fragment(&req, upcoming(&state).await)
}

pub async fn live_notes(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    fragment(&req, notes(&state).await)
}

pub async fn live_webhooks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    fragment(&req, webhooks(&state).await)
}

fn unavailable(what: &str, e: &dyn std::fmt::Display) -> Markup {
    tracing::warn!(error = %e, "dashboard: cannot read {what}");
    html! { p.empty role="alert" { "Cannot read " (what) " right now; retrying." } }
}

/// One card per bot that is joining, in a call, leaving or about to retry, on any replica.
pub async fn board(state: &AppState) -> Markup {
    let runs = match state.store.recent_bot_runs(BOARD_READ).await {
        Ok(r) => r,
        Err(e) => return unavailable("the bots", &e),
    };
    let active: Vec<BotRun> = runs.into_iter().filter(|r| r.state.is_active()).collect();
    if active.is_empty() {
        return html! { p.empty { "No bot is in a call right now." } };
    }
    let lags = match &state.transcriber {
        Some(t) => t
            .send(GetTranscriberStats)
            .await
            .ok()
            .map(|s| s.lag_by_interview),
        None => None,
    };
    let now = Utc::now();
    // Concurrently: each description is a few store reads, and a fleet may have hundreds of bots.
    let described = futures::future::join_all(
        active
            .iter()
            .map(|r| describe(&state.store, r.interview_id)),
    )
    .await;
    let mut cards = Vec::with_capacity(active.len());
    for (run, d) in active.iter().zip(described) {
        let d = d.unwrap_or_default();
        let in_call = run
            .joined_at()
            .filter(|_| run.state == BotState::InCall)
            .map(|t| relative(t, now).trim_end_matches(" ago").to_string());
        let level = run.figures.audio_level_dbfs.unwrap_or(-90.0);
        // -60 dBFS and below reads as empty, 0 dBFS as full.
        let pct = (((level + 60.0) / 60.0).clamp(0.0, 1.0) * 100.0).round() as u32;
        let lag = lags
            .as_ref()
            .and_then(|l| l.get(&run.interview_id.to_string()).copied());
        cards.push(html! {
            article.card data-interview=(run.interview_id) {
                h3 { a href={"/interviews/" (run.interview_id)} { (d.title) } }
                div.small.muted { (d.candidate.as_deref().unwrap_or("Candidate unknown")) @if let Some(j) = &d.job { " · " (j) } }
                p { (badge(run.state.as_str())) @if let Some(r) = run.reason() { " " span.small.muted { (r) } } }
                dl.small {
                    dt.muted { "In call" } dd { (in_call.as_deref().unwrap_or("—")) }
                    dt.muted { "Participants" }
                    dd { @if run.figures.participants.is_empty() { "nobody yet" } @else { (run.figures.participants.join(", ")) } }
                    dt.muted { "Audio level" }
                    dd {
                        meter.level min="0" max="100" low="10" value=(pct) aria-label="Audio level" title={(format!("{level:.0}")) " dBFS"} { (pct) "%" }
                        @if run.figures.silent { span.badge.warn { "in the call but hearing nothing" } }
                    }
                    dt.muted { "In-call notice" }
                    dd {
                        @match &run.notice {
                            Some(n) if n.given => { "given" }
                            Some(n) => { span.badge.warn title=(n.detail) { "not given" } " " span.muted { (n.detail) } }
                            None => { "—" }
                        }
                    }
                    dt.muted { "Transcript lag" }
                    dd { @match lag { Some(ms) => { (format!("{:.1} s", ms as f64 / 1000.0)) }, None => { "caught up" } } }
                }
                div.small.muted { "Replica " (run.owner) " · attempt " (run.attempts.max(1)) }
            }
        });
    }
    html! { div.cards { @for c in cards { (c) } } }
}

/// Interviews in the next 24 hours, with when their bot joins or why it will not.
pub async fn upcoming(state: &AppState) -> Markup {
    let now = Utc::now();
    let interviews = match state
        .store
        .interviews_starting_between(now - Duration::minutes(5), now + Duration::hours(24))
        .await
    {
        Ok(i) => i,
        Err(e) => return unavailable("the schedule", &e),
    };
    if interviews.is_empty() {
        return html! { p.empty { "No interview in the next 24 hours. Run a sync if you expected some." } };
    }
    let lead = Duration::seconds(state.settings.bots.join_lead_secs as i64);
    let store = &state.store;
    let loaded = futures::future::join_all(interviews.into_iter().take(100).map(|i| async move {
        let run = store.get_bot_run(i.id).await.ok().flatten();
        let (id, start, url) = (i.id, i.starts_at(), i.video_conferencing_url.clone());
        (id, start, url, run, describe_interview(store, i).await)
    }))
    .await;
    let mut rows = Vec::new();
    for (id, start, url, run, d) in loaded {
        let d = d.unwrap_or_default();
        let status = match (&run, &state.bots_off) {
            (Some(r), _) if r.state != BotState::Scheduled => {
                html! { (badge(r.state.as_str())) @if let Some(why) = r.reason() { " " span.small { (why) } } }
            }
            (_, Some(off)) => html! { (badge("failed")) " " span.small { "no bot: " (off) } },
            _ => match url.as_deref().map(url::Url::parse) {
                None => {
                    html! { (badge("failed")) " " span.small { "no meeting link in Greenhouse" } }
                }
                Some(Err(_)) => {
                    html! { (badge("failed")) " " span.small { "the meeting link is not a valid URL" } }
                }
                Some(Ok(u)) => match state.registry.connector_for(&u) {
                    Err(e) => {
                        html! { (badge("unsupported_platform")) " " span.small { (e.platform.name()) " is not supported yet" } }
                    }
                    Ok(_) => match (state.registry.check_url(&u), start) {
                        (Err(e), _) => {
                            html! { (badge("url_not_allowed")) " " span.small { (e) } }
                        }
                        (Ok(()), Some(s)) => {
                            html! { (badge("scheduled")) " " span.small { "joins " (relative(s - lead, now)) } }
                        }
                        (Ok(()), None) => {
                            html! { (badge("failed")) " " span.small { "no start time" } }
                        }
                    },
                },
            },
        };
        rows.push(html! {
            tr {
                td { (when_opt(start)) }
                td { a href={"/interviews/" (id)} { (d.title) } div.small.muted { (d.candidate.as_deref().unwrap_or("")) } }
                td { (status) }
            }
        });
    }
    html! {
        div.table-wrap { table {
            thead { tr { th scope="col" { "Starts" } th scope="col" { "Interview" } th scope="col" { "Bot" } } }
            tbody { @for r in rows { (r) } }
        } }
    }
}

pub async fn notes(state: &AppState) -> Markup {
    let notes = match state.store.recent_outbox_notes(10).await {
        Ok(n) => n,
        Err(e) => return unavailable("the notes", &e),
    };
    if notes.is_empty() {
        return html! { p.empty { "No notes yet. They appear here when a call with a bot ends." } };
    }
    let mut rows = Vec::new();
    let described =
        futures::future::join_all(notes.iter().map(|n| describe(&state.store, n.interview_id)))
            .await;
    for (n, d) in notes.iter().zip(described) {
        let d = d.unwrap_or_default();
        rows.push(html! {
            tr {
                td { a href={"/interviews/" (n.interview_id)} { (d.title) } div.small.muted { (d.candidate.as_deref().unwrap_or("")) } }
                td { (badge(&snake(&n.status))) @if let Some(e) = &n.last_error { div.small { (e) } } }
                td { (when_opt(n.posted_at.or(Some(n.updated_at)))) }
            }
        });
    }
    html! {
        div.table-wrap { table {
            thead { tr { th scope="col" { "Interview" } th scope="col" { "Greenhouse post" } th scope="col" { "When" } } }
            tbody { @for r in rows { (r) } }
        } }
    }
}

pub async fn webhooks(state: &AppState) -> Markup {
    let events = match state.store.recent_webhook_events(15).await {
        Ok(e) => e,
        Err(e) => return unavailable("the webhook log", &e),
    };
    let refused = crate::webhooks::recent_refusals(&state.store)
        .await
        .unwrap_or_default();
    if events.is_empty() && refused.is_empty() {
        return html! { p.empty { "No webhook received yet. Integrations shows what to set up in Greenhouse." } };
    }
    html! {
        div.table-wrap { table {
            thead { tr { th scope="col" { "Received" } th scope="col" { "Event" } th scope="col" { "Outcome" } } }
            tbody {
                @for e in &events {
                    tr {
                        td { (when(e.received_at)) }
                        td { code { (e.action) } }
                        td { (badge(&snake(&e.status))) @if let Some(o) = &e.outcome { " " span.small { (o) } } @if let Some(err) = &e.last_error { div.small { (err) } } }
                    }
                }
            }
        } }
        @if !refused.is_empty() {
            h3.small { "Refused deliveries" }
            div.table-wrap { table {
                tbody {
                    @for r in refused.iter().take(5) {
                        tr { td { (when(r.at)) } td { (badge("rejected")) " HTTP " (r.status) } td.small { (r.reason) } }
                    }
                }
            } }
        }
    }
}
