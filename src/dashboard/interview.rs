//! One interview: schedule and people, the bot's timeline, the transcript (live while the call
//! runs), talk time per speaker, the note as posted with its Greenhouse status, and the recording.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use panelist_bots::recorder::{CallManifest, MANIFEST_FILE};

use super::describe::describe;
use super::guard::{admin_only, Principal};
use super::layout::{badge, clock, flash, fragment, when, when_opt, when_precise, Nav, Page};
use super::overview::MsgQuery;
use super::snake;
use crate::domain::Id;
use crate::http::AppState;
use crate::poster::{OutboxStatus, RequeueNote};
use crate::transcribe::TranscriptSegment;

pub async fn page(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
    q: web::Query<MsgQuery>,
) -> HttpResponse {
    let id = id.into_inner();
    let d = match describe(&state.store, id).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the interview");
            return store_unavailable();
        }
    };
    let run = state.store.get_bot_run(id).await.ok().flatten();
    let has_note = matches!(state.store.get_outbox_note(id).await, Ok(Some(_)));
    if d.interview.is_none() && run.is_none() && !has_note {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("No such interview.");
    }
    tracing::info!(user = %who.name(), interview_id = id, "viewed an interview");
    // The page shows the transcript and the note; its live refreshes are not counted again.
    crate::privacy::record_access(
        &state.store,
        who.name(),
        "transcript_viewed",
        "interview page",
        Some(format!("interview {id}")),
    )
    .await;
    let recordings = list_recordings(&state.settings.data_dir, id);
    let body = html! {
        h1 { (d.title) }
        (flash(q.msg.as_deref()))
        div.grid {
            section.panel aria-labelledby="sched-h" {
                h2 #sched-h { "Schedule" }
                dl.facts {
                    dt { "Candidate" } dd { (d.candidate.as_deref().unwrap_or("unknown")) }
                    @if let Some(j) = &d.job { dt { "Job" } dd { (j) } }
                    @if let Some(i) = &d.interview {
                        dt { "Starts" } dd { (when_opt(i.starts_at())) }
                        dt { "Ends" } dd { (when_opt(i.ends_at())) }
                        dt { "Status" } dd { (i.status.as_str()) }
                        dt { "Meeting" } dd { @match &i.video_conferencing_url { Some(u) => { code { (u) } }, None => { span.muted { "no link" } } } }
                        dt { "Interviewers" }
                        dd { @if i.interviewers.is_empty() { "none listed" } @else {
                            ul { @for p in &i.interviewers { li { (p.name.as_deref().unwrap_or("(no name)")) @if let Some(e) = &p.email { " " span.small.muted { (e) } } } } }
                        } }
                    }
                }
                @if who.is_admin() && state.supervisor.is_some() {
                    div.actions {
                        form method="post" action={"/interviews/" (id) "/bot/start"} {
                            input type="hidden" name="csrf" value=(who.csrf());
                            button.secondary type="submit" { "Send a bot now" }
                        }
                        form method="post" action={"/interviews/" (id) "/bot/stop"} {
                            input type="hidden" name="csrf" value=(who.csrf());
                            button.secondary type="submit" { "Stop the bot" }
                        }
                    }
                }
            }
            section.panel aria-labelledby="bot-h" {
                h2 #bot-h { "Bot" }
                div #bot-live data-live={"/live/interviews/" (id) "/bot"} { (bot_timeline(&state, id).await) }
            }
        }
        section.panel aria-labelledby="tr-h" {
            h2 #tr-h { "Transcript" }
            div #transcript-live data-live={"/live/interviews/" (id) "/transcript"} aria-live="polite" { (transcript(&state, id).await) }
        }
        section.panel aria-labelledby="note-h" {
            h2 #note-h { "Notes" }
            div data-live={"/live/interviews/" (id) "/note"} { (note(&state, id, &who).await) }
        }
        @if let Some(i) = &d.interview {
            section.panel aria-labelledby="consent-h" {
                h2 #consent-h { "Consent" }
                (super::consent::panel(&state, i, &who).await)
            }
        }
        @if who.is_admin() {
            section.panel aria-labelledby="purge-h" {
                h2 #purge-h { "Privacy" }
                p.small { "Removes everything Panelist holds about this candidate: every interview's records, transcripts, recordings and unposted or posted notes here (not in Greenhouse). It cannot be undone." }
                form method="post" action={"/interviews/" (id) "/purge"} {
                    input type="hidden" name="csrf" value=(who.csrf());
                    button.danger type="submit" { "Delete this candidate's data" }
                }
            }
        }
        section.panel aria-labelledby="rec-h" {
            h2 #rec-h { "Recording" }
            @if recordings.is_empty() {
                p.empty { "No recording kept for this interview." }
            }
            @for (attempt, track) in &recordings {
                figure {
                    figcaption { (track.display_name) span.small.muted { " · attempt " (attempt) } }
                    audio controls preload="none" src={"/interviews/" (id) "/recordings/" (attempt) "/" (track.file)} {}
                }
            }
        }
    };
    Page {
        title: &d.title,
        nav: Nav::None,
        who: &who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

async fn bot_timeline(state: &AppState, id: Id) -> Markup {
    let Some(run) = state.store.get_bot_run(id).await.ok().flatten() else {
        return html! { p.empty { "No bot has been scheduled for this interview." } };
    };
    html! {
        p { (badge(run.state.as_str())) @if let Some(r) = run.reason() { " " (r) } }
        p.small.muted {
            (run.figures.participants.len()) " participants · " (run.figures.audio_frames) " audio frames · "
            (run.figures.frames_lost) " lost"
            @if let Some(ms) = run.figures.join_latency_ms { " · joined " (format!("{:+.1}", ms as f64 / 1000.0)) " s from the start time" }
        }
        @if let Some(n) = &run.notice {
            p.notice {
                "In-call notice: "
                @if n.given { span.badge.ok { "given" } } @else { span.badge.warn { "not given" } }
                " " span.small { (n.detail) } " " span.small.muted { (when_precise(n.at)) }
            }
        }
        ol.timeline {
            @for c in &run.timeline {
                li { (when_precise(c.at)) " " (badge(c.state.as_str())) @if let Some(d) = &c.detail { " " span.small { (d) } } }
            }
        }
    }
}

pub async fn live_bot(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Id>,
) -> HttpResponse {
    fragment(&req, bot_timeline(&state, id.into_inner()).await)
}

async fn load_segments(state: &AppState, id: Id) -> Result<Vec<TranscriptSegment>, String> {
    let files = state.transcripts.clone();
    web::block(move || files.load(&id.to_string()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn transcript(state: &AppState, id: Id) -> Markup {
    let segments = match load_segments(state, id).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(interview_id = id, error = %e, "cannot read the transcript");
            return html! { p.empty role="alert" { "The transcript cannot be read right now." } };
        }
    };
    if segments.is_empty() {
        return html! { p.empty { "No transcript yet. Lines appear here while the call runs." } };
    }
    // Talk time per speaker, for the chart.
    let mut talk: BTreeMap<&str, f64> = BTreeMap::new();
    for s in &segments {
        *talk.entry(s.speaker.as_str()).or_default() += (s.end - s.start).max(0.0);
    }
    let total: f64 = talk.values().sum::<f64>().max(0.001);
    html! {
        figure aria-label="Talk time per speaker" {
            @for (who, secs) in &talk {
                div.bar {
                    span.label { (who) }
                    meter.talk min="0" max="100" value=(format!("{:.0}", secs / total * 100.0)) aria-label={"Talk time of " (who)} {}
                    span.small { (clock(*secs)) " (" (format!("{:.0}", secs / total * 100.0)) "%)" }
                }
            }
        }
        div.transcript tabindex="0" {
            @for s in &segments {
                p.line { span.ts { (clock(s.start)) } span.who { (s.speaker) ":" } (s.text) }
            }
        }
        p.small.muted { (segments.len()) " lines · " a href={"/api/interviews/" (id) "/transcript"} { "JSON" } }
    }
}

pub async fn live_transcript(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Id>,
) -> HttpResponse {
    fragment(&req, transcript(&state, id.into_inner()).await)
}

async fn note(state: &AppState, id: Id, who: &Principal) -> Markup {
    let note = match state.store.get_outbox_note(id).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the note");
            return html! { p.empty role="alert" { "The note cannot be read right now." } };
        }
    };
    let Some(n) = note else {
        return html! { p.empty { "No notes yet: they are written when the call ends." } };
    };
    html! {
        p {
            "Greenhouse post: " (badge(&snake(&n.status)))
            @if let Some(at) = n.posted_at { " " (when(at)) }
            " · " (n.attempts) " attempts"
            @if n.throttled > 0 { ", " (n.throttled) " rate-limited" }
            @if n.found_by_marker { " · confirmed by its marker after an unanswered post" }
        }
        @if let Some(e) = &n.last_error { p.small role="alert" { (e) } }
        @if n.status == OutboxStatus::Failed && who.is_admin() {
            form method="post" action={"/interviews/" (id) "/retry-post"} {
                input type="hidden" name="csrf" value=(who.csrf());
                button type="submit" { "Retry the post" }
            }
        }
        pre.note { (n.body) }
    }
}

pub async fn live_note(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Id>,
    who: Principal,
) -> HttpResponse {
    fragment(&req, note(&state, id.into_inner(), &who).await)
}

fn redirect(id: Id, msg: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/interviews/{id}?msg={msg}")))
        .finish()
}

/// A failed post goes back to the outbox. A post whose outcome was unknown keeps that flag, so
/// the poster still looks for the marker first: a retry never makes a second note.
pub async fn retry_post(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let id = id.into_inner();
    match state.poster.send(RequeueNote { interview_id: id }).await {
        Ok(Ok(true)) => {
            tracing::info!(user = %who.name(), interview_id = id, "note post retried from the dashboard");
            redirect(id, "retrying")
        }
        Ok(Ok(false)) => redirect(id, "nothing_to_retry"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot re-queue the note");
            store_unavailable()
        }
        Err(e) => {
            tracing::error!(error = %e, "the poster is not running");
            store_unavailable()
        }
    }
}

fn store_unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body("The store is unavailable; try again shortly.")
}

/// Admin action: remove everything about this interview's candidate (all their interviews), as a
/// Greenhouse deletion would. The audit entry records the purge without naming anyone.
pub async fn purge_candidate(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let id = id.into_inner();
    let (app_id, candidate_id) = match super::describe::candidate_of(&state.store, id).await {
        Ok(Some(ids)) => ids,
        Ok(None) => {
            return HttpResponse::NotFound()
                .content_type("text/plain; charset=utf-8")
                .body("This interview's candidate is not known here; nothing to purge.")
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot read the interview");
            return store_unavailable();
        }
    };
    match state
        .purger()
        .purge_candidate(candidate_id, &[app_id], "admin")
        .await
    {
        Ok(r) => {
            tracing::info!(user = %who.name(), interviews = r.interviews, "candidate purged from the dashboard");
            // Who asked; the purge's own entry (reason `admin`) has the counts.
            crate::privacy::record_access(
                &state.store,
                who.name(),
                "purge_requested",
                "admin",
                None,
            )
            .await;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/?msg=purged"))
                .finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "purge failed");
            HttpResponse::ServiceUnavailable()
                .body("The purge did not complete; try again (it is safe to repeat).")
        }
    }
}

pub async fn start_bot(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let id = id.into_inner();
    if let Some(s) = &state.supervisor {
        s.do_send(crate::supervisor::StartNow { interview_id: id });
        tracing::info!(user = %who.name(), interview_id = id, "bot sent from the dashboard");
    }
    redirect(id, "bot_started")
}

pub async fn stop_bot(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let id = id.into_inner();
    if let Some(s) = &state.supervisor {
        s.do_send(crate::supervisor::StopInterview {
            interview_id: id,
            why: format!("stopped from the dashboard by {}", who.name()),
        });
    }
    redirect(id, "bot_stopped")
}

/// Every recorded track, by attempt, from each call directory's manifest.
fn list_recordings(data_dir: &Path, id: Id) -> Vec<(u32, panelist_bots::recorder::TrackEntry)> {
    let dir = data_dir.join("recordings").join(id.to_string());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(attempt) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let manifest = std::fs::read(e.path().join(MANIFEST_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice::<CallManifest>(&b).ok());
        if let Some(m) = manifest {
            out.extend(m.tracks.into_iter().map(|t| (attempt, t)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.file.cmp(&b.1.file)));
    out
}

/// Only names the manifest lists, so no path from the URL reaches the file system unchecked.
pub async fn recording(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<(Id, u32, String)>,
    req: HttpRequest,
) -> HttpResponse {
    let (id, attempt, file) = path.into_inner();
    let listed = list_recordings(&state.settings.data_dir, id)
        .into_iter()
        .any(|(a, t)| a == attempt && t.file == file);
    if !listed {
        return HttpResponse::NotFound().body("No such recording.");
    }
    let full: PathBuf = state
        .settings
        .data_dir
        .join("recordings")
        .join(id.to_string())
        .join(attempt.to_string())
        .join(&file);
    tracing::info!(user = %who.name(), interview_id = id, "recording played");
    // Browsers ask for an audio file in several range requests; the first (no Range) or a
    // request from the start counts as one play.
    let from_start = req
        .headers()
        .get(actix_web::http::header::RANGE)
        .and_then(|r| r.to_str().ok())
        .is_none_or(|r| r.trim() == "bytes=0-");
    if from_start {
        crate::privacy::record_access(
            &state.store,
            who.name(),
            "recording_played",
            &format!("attempt {attempt}"),
            Some(format!("interview {id}")),
        )
        .await;
    }
    let audio_ogg = "audio/ogg"
        .parse()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    if !file.ends_with(panelist_bots::recorder::SEALED_SUFFIX) {
        return match actix_files::NamedFile::open_async(&full).await {
            Ok(f) => f.set_content_type(audio_ogg).into_response(&req),
            Err(_) => HttpResponse::NotFound().body("The recording file is gone."),
        };
    }
    // Sealed at rest: opened in memory for this response only (a track is a few MB per hour).
    let keys = state.recording_keys.clone();
    let opened = web::block(move || {
        std::fs::read(&full)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                panelist_bots::recorder::sealed::unseal(&b, &keys).map_err(|e| e.to_string())
            })
    })
    .await;
    match opened {
        Ok(Ok(plain)) => HttpResponse::Ok().content_type("audio/ogg").body(plain),
        Ok(Err(e)) => {
            tracing::error!(interview_id = id, error = %e, "cannot open a sealed recording");
            HttpResponse::InternalServerError().body(format!("The recording cannot be opened: {e}"))
        }
        Err(_) => {
            HttpResponse::InternalServerError().body("The recording cannot be read right now.")
        }
    }
}
