//! The candidate-facing consent page (`/consent/<token>`, no login: the signed token is the
//! credential) and the consent panel of the interview page, where admins copy the candidate's link
//! or record an answer given another way.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use chrono::Utc;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::guard::{admin_only, Principal};
use super::layout::{badge, html_response, when};
use crate::consent::{ConsentDecision, ConsentLinks, ConsentRecord, ConsentSettings, Consents};
use crate::domain::{Id, Interview};
use crate::http::AppState;
use crate::store::StoreExt;

/// How long a consent link works.
const LINK_DAYS: i64 = 30;

fn public_page(title: &str, body: Markup) -> HttpResponse {
    html_response(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/assets/app.css";
            }
            body { main #main.login { section.panel { (body) } } }
        }
    })
}

fn invalid() -> HttpResponse {
    let mut res = public_page(
        "Link not valid",
        html! { h1 { "This link is not valid" } p { "It may have expired. Ask your recruiter for a new one." } },
    );
    *res.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
    res
}

fn unavailable() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain; charset=utf-8")
        .body("This page is unavailable right now; please try again in a minute.")
}

pub async fn page(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let candidate = match ConsentLinks::new(state.store.clone(), state.data_key.clone())
        .verify(&token)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return invalid(),
        Err(_) => return unavailable(),
    };
    let current = Consents::new(state.store.clone())
        .get(candidate)
        .await
        .ok()
        .flatten();
    public_page(
        "Recording your interview",
        html! {
            h1 { "Recording your interview" }
            p { "Your interviewers use Panelist, a note-taker that joins the video call, records it and writes a "
                "transcript and notes for the hiring team, so they can listen to you instead of typing." }
            p { "You can say no: your interview goes ahead the same way, without the note-taker. "
                "If you say no after a recording was made, it is deleted with its transcript and notes." }
            @if let Some(r) = &current {
                p role="status" { "Your current answer: " strong { (if r.decision == ConsentDecision::Granted { "yes, you agreed" } else { "no, you declined" }) } " (" (when(r.at)) "). You can change it." }
            }
            div.actions {
                form method="post" action={"/consent/" (token.as_str())} {
                    input type="hidden" name="decision" value="accept";
                    button type="submit" { "I agree to the recording" }
                }
                form method="post" action={"/consent/" (token.as_str())} {
                    input type="hidden" name="decision" value="decline";
                    button.secondary type="submit" { "I do not agree" }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct DecisionForm {
    decision: String,
}

fn parse(decision: &str) -> Option<ConsentDecision> {
    match decision {
        "accept" | "granted" => Some(ConsentDecision::Granted),
        "decline" | "declined" => Some(ConsentDecision::Declined),
        _ => None,
    }
}

/// Records the answer; a decline stops the candidate's bots and deletes what they recorded.
async fn apply(
    state: &AppState,
    candidate: Id,
    decision: ConsentDecision,
    how: &str,
    by: Option<String>,
) -> Result<(), String> {
    let record = ConsentRecord {
        candidate_id: candidate,
        decision,
        at: Utc::now(),
        how: how.to_string(),
        by,
    };
    Consents::new(state.store.clone())
        .record(&record)
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(decision = ?decision, how, "consent recorded");
    if decision == ConsentDecision::Declined {
        state
            .purger()
            .purge_candidate(candidate, &[], "consent_declined")
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

pub async fn submit(
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<DecisionForm>,
) -> HttpResponse {
    let candidate = match ConsentLinks::new(state.store.clone(), state.data_key.clone())
        .verify(&token)
        .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return invalid(),
        Err(_) => return unavailable(),
    };
    let Some(decision) = parse(&form.decision) else {
        return HttpResponse::BadRequest().body("Choose yes or no.");
    };
    if let Err(e) = apply(&state, candidate, decision, "link", None).await {
        tracing::error!(error = %e, "cannot record consent");
        return unavailable();
    }
    public_page(
        "Thank you",
        html! {
            h1 { "Thank you" }
            @if decision == ConsentDecision::Granted {
                p { "The note-taker will join your interview. You can change your answer with the same link." }
            } @else {
                p { "The note-taker will not record your interview, and anything already recorded has been deleted." }
            }
        },
    )
}

/// The interview page's consent panel.
pub async fn panel(state: &AppState, interview: &Interview, who: &Principal) -> Markup {
    let application = state.store.application_of(interview).await.ok().flatten();
    let Some(candidate) = application.as_ref().and_then(|a| a.candidate_id) else {
        return html! { p.empty { "The candidate is not known, so no consent can be asked." } };
    };
    let job = application
        .as_ref()
        .and_then(|a| a.jobs.first())
        .map(|j| j.id);
    let policy = ConsentSettings::load(&state.store, state.settings.consent.policy)
        .await
        .map(|s| s.for_job(job))
        .unwrap_or(state.settings.consent.policy);
    let record = Consents::new(state.store.clone())
        .get(candidate)
        .await
        .ok()
        .flatten();
    let link = if who.is_admin() {
        ConsentLinks::new(state.store.clone(), state.data_key.clone())
            .token(candidate, Utc::now() + chrono::Duration::days(LINK_DAYS))
            .await
            .ok()
            .map(|t| {
                format!(
                    "{}/consent/{t}",
                    state.settings.public_url.trim_end_matches('/')
                )
            })
    } else {
        None
    };
    let status = match record.as_ref().map(|r| r.decision) {
        Some(ConsentDecision::Granted) => "consent_granted",
        Some(ConsentDecision::Declined) => "consent_denied",
        None if policy == crate::consent::ConsentPolicy::OptIn => "consent_pending",
        None => "not asked",
    };
    html! {
        p { "Policy for this job: " code { (policy.as_str()) } " · " (badge(status))
            @if let Some(r) = &record { " " span.small { (r.how) " " (when(r.at)) } } }
        @if let Some(link) = &link {
            p.small { "The candidate's consent page (valid " (LINK_DAYS) " days; put it in the interview invitation):" }
            div.copy { code #consent-link { (link) } button.secondary type="button" data-copy=(link) { "Copy" } }
            div.actions {
                form method="post" action={"/interviews/" (interview.id) "/consent"} {
                    input type="hidden" name="csrf" value=(who.csrf());
                    input type="hidden" name="decision" value="granted";
                    button.secondary type="submit" { "Record: candidate agreed" }
                }
                form method="post" action={"/interviews/" (interview.id) "/consent"} {
                    input type="hidden" name="csrf" value=(who.csrf());
                    input type="hidden" name="decision" value="declined";
                    button.danger type="submit" { "Record: candidate declined (deletes recordings)" }
                }
            }
        }
    }
}

/// An admin records an answer given by email or phone.
pub async fn record(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<Id>,
    form: web::Form<DecisionForm>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let id = id.into_inner();
    let Some(decision) = parse(&form.decision) else {
        return HttpResponse::BadRequest().body("Choose granted or declined.");
    };
    let candidate = super::describe::candidate_of(&state.store, id)
        .await
        .ok()
        .flatten()
        .map(|(_, c)| c);
    let Some(candidate) = candidate else {
        return HttpResponse::NotFound().body("This interview's candidate is not known.");
    };
    if let Err(e) = apply(
        &state,
        candidate,
        decision,
        "dashboard",
        Some(who.name().to_string()),
    )
    .await
    {
        tracing::error!(error = %e, "cannot record consent");
        return unavailable();
    }
    crate::privacy::record_access(
        &state.store,
        who.name(),
        "consent_recorded",
        if decision == ConsentDecision::Granted {
            "granted"
        } else {
            "declined"
        },
        Some(format!("interview {id}")),
    )
    .await;
    let to = if decision == ConsentDecision::Declined {
        "/?msg=purged".to_string()
    } else {
        format!("/interviews/{id}?msg=saved")
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}
