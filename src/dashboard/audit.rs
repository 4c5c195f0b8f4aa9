//! Settings → Audit log (admins only): who viewed or exported transcripts and recordings, who
//! changed settings or recorded consent, and every purge and retention sweep.

use actix_web::{web, HttpResponse};
use maud::html;

use super::guard::{admin_only, Principal};
use super::layout::{when_full, Nav, Page};
use crate::http::AppState;

/// Entries on the page: the newest first.
const SHOWN: usize = 500;

fn action_label(action: &str) -> &str {
    match action {
        "transcript_viewed" => "viewed a transcript",
        "transcript_exported" => "exported a transcript",
        "recording_played" => "played a recording",
        "settings_changed" => "changed settings",
        "consent_recorded" => "recorded consent",
        "purge_candidate" => "deleted a candidate's data",
        "purge_requested" => "asked to delete a candidate's data",
        "retention_sweep" => "expired old data",
        other => other,
    }
}

pub async fn page(state: web::Data<AppState>, who: Principal) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let entries = match crate::privacy::recent_audit(&state.store, SHOWN).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the audit log");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The audit log cannot be read right now; try again in a minute.");
        }
    };
    let body = html! {
        h1 { "Audit log" }
        section.panel {
            p.small.muted { "The newest " (SHOWN) " entries. Entries are kept for 400 days. They name who acted and the interview, never what was said." }
            @if entries.is_empty() {
                p.empty { "Nothing recorded yet." }
            } @else {
                table #audit {
                    thead { tr { th { "When" } th { "Who" } th { "What" } th { "Detail" } th { "About" } } }
                    tbody {
                        @for e in &entries {
                            tr data-action=(e.action) {
                                td { (when_full(e.at)) }
                                td { (e.actor.as_deref().unwrap_or("Panelist")) }
                                td { (action_label(&e.action)) }
                                td {
                                    (e.reason)
                                    @if !e.counts.is_empty() {
                                        span.small.muted {
                                            " · " (e.counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect::<Vec<_>>().join(", "))
                                        }
                                    }
                                }
                                td { (e.subject.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Page {
        title: "Audit log",
        nav: Nav::Audit,
        who: &who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}
