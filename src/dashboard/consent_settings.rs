//! Settings → Consent: the organisation's recording policy and its per-job overrides. Saved to the
//! store (`ConsentSettings`); every replica's supervisor decides with it at its next rescan.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use maud::html;
use serde::Deserialize;

use super::guard::{admin_only, Principal};
use super::layout::{error_box, flash, Nav, Page};
use super::overview::MsgQuery;
use crate::consent::{ConsentPolicy, ConsentSettings};
use crate::domain::{EntityKind, Id, Job};
use crate::http::AppState;
use crate::store::StoreExt;

const POLICIES: [(ConsentPolicy, &str); 3] = [
    (
        ConsentPolicy::Notify,
        "Notify: record, and the bot announces itself",
    ),
    (
        ConsentPolicy::OptOut,
        "Opt-out: record unless the candidate declined",
    ),
    (
        ConsentPolicy::OptIn,
        "Opt-in: record only once the candidate agreed",
    ),
];

fn label(p: ConsentPolicy) -> &'static str {
    POLICIES
        .iter()
        .find(|(q, _)| *q == p)
        .map_or("", |(_, l)| l)
}

/// Synced jobs by name, for the override picker and the overrides table.
async fn jobs(state: &AppState) -> Vec<(Id, String)> {
    let ids = state
        .store
        .list_ids(EntityKind::Job)
        .await
        .unwrap_or_default();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Ok(Some(job)) = state.store.get::<Job>(id).await {
            out.push((id, job.name.unwrap_or_else(|| format!("Job {id}"))));
        }
    }
    out.sort_by_key(|a| a.1.to_lowercase());
    out
}

async fn load(state: &AppState) -> Result<ConsentSettings, String> {
    ConsentSettings::load(&state.store, state.settings.consent.policy)
        .await
        .map_err(|e| e.to_string())
}

pub async fn page(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<MsgQuery>,
) -> HttpResponse {
    match load(&state).await {
        Ok(s) => render(&state, &who, &s, q.msg.as_deref(), &[]).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the consent settings");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The consent settings cannot be read right now; try again in a minute.")
        }
    }
}

async fn render(
    state: &AppState,
    who: &Principal,
    s: &ConsentSettings,
    msg: Option<&str>,
    problems: &[String],
) -> HttpResponse {
    let ro = !who.is_admin();
    let jobs = jobs(state).await;
    let name_of = |id: Id| {
        jobs.iter()
            .find(|(j, _)| *j == id)
            .map_or_else(|| format!("Job {id} (not synced)"), |(_, n)| n.clone())
    };
    let body = html! {
        h1 { "Consent" }
        (flash(msg))
        (error_box(problems))
        section.panel aria-labelledby="policy-h" {
            h2 #policy-h { "Recording policy" }
            p.small.muted { "Whether bots may record an interview. A candidate's decline is honoured under every policy. "
                "Changes apply to every server within " (state.settings.bots.rescan_secs) " s (bots.rescan_secs). See docs/privacy.md." }
            @if ro { p.small { "Only admins can change these." } }
            form.stack method="post" action="/settings/consent" {
                input type="hidden" name="csrf" value=(who.csrf());
                div {
                    label for="policy" { "Policy for every job without an override" }
                    select #policy name="policy" disabled[ro] {
                        @for (p, l) in POLICIES {
                            option value=(p.as_str()) selected[p == s.policy] { (l) }
                        }
                    }
                }
                @if !ro { div { button type="submit" { "Save" } } }
            }
        }
        section.panel aria-labelledby="jobs-h" {
            h2 #jobs-h { "Per-job overrides" }
            @if s.jobs.is_empty() {
                p.empty { "No overrides: every job uses the policy above." }
            } @else {
                table {
                    thead { tr { th { "Job" } th { "Policy" } @if !ro { th { span.sr-only { "Remove" } } } } }
                    tbody {
                        @for (job, policy) in &s.jobs {
                            tr {
                                td { (name_of(*job)) }
                                td { (label(*policy)) }
                                @if !ro {
                                    td {
                                        form method="post" action="/settings/consent/jobs/remove" {
                                            input type="hidden" name="csrf" value=(who.csrf());
                                            input type="hidden" name="job_id" value=(job);
                                            button.secondary type="submit" aria-label={"Remove the override for " (name_of(*job))} { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !ro {
                @if jobs.is_empty() {
                    p.small.muted { "Jobs appear here after a sync (Settings → Integrations → Sync)." }
                } @else {
                    form.stack method="post" action="/settings/consent/jobs" {
                        input type="hidden" name="csrf" value=(who.csrf());
                        div {
                            label for="job_id" { "Job" }
                            select #job_id name="job_id" {
                                @for (id, name) in &jobs { option value=(id) { (name) } }
                            }
                        }
                        div {
                            label for="job_policy" { "Policy for this job" }
                            select #job_policy name="policy" {
                                @for (p, l) in POLICIES { option value=(p.as_str()) { (l) } }
                            }
                        }
                        div { button type="submit" { "Add override" } }
                    }
                }
            }
        }
    };
    Page {
        title: "Consent",
        nav: Nav::Consent,
        who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

#[derive(Deserialize)]
pub struct PolicyForm {
    policy: String,
}

#[derive(Deserialize)]
pub struct JobForm {
    job_id: Id,
    #[serde(default)]
    policy: Option<String>,
}

/// Loads, changes and saves the settings, audits the change, and goes back to the page.
async fn change(
    state: &AppState,
    who: &Principal,
    what: &str,
    edit: impl FnOnce(&mut ConsentSettings) -> Result<(), String>,
) -> HttpResponse {
    if let Some(res) = admin_only(who) {
        return res;
    }
    let mut settings = match load(state).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the consent settings");
            return HttpResponse::ServiceUnavailable()
                .content_type("text/plain; charset=utf-8")
                .body("The consent settings cannot be read right now; try again in a minute.");
        }
    };
    if let Err(problem) = edit(&mut settings) {
        return render(state, who, &settings, None, &[problem]).await;
    }
    if let Err(e) = settings.save(&state.store).await {
        tracing::error!(error = %e, "cannot save the consent settings");
        return render(
            state,
            who,
            &settings,
            None,
            &["The settings could not be saved; try again.".into()],
        )
        .await;
    }
    tracing::info!(user = %who.name(), change = what, policy = settings.policy.as_str(), overrides = settings.jobs.len(), "consent settings saved");
    crate::privacy::record_access(
        &state.store,
        who.name(),
        "settings_changed",
        "consent",
        Some(what.to_string()),
    )
    .await;
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/settings/consent?msg=saved"))
        .finish()
}

fn policy(raw: &str) -> Result<ConsentPolicy, String> {
    ConsentPolicy::parse(raw).ok_or_else(|| "Choose notify, opt_out or opt_in.".to_string())
}

pub async fn save(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<PolicyForm>,
) -> HttpResponse {
    let raw = form.into_inner().policy;
    let what = format!("policy {raw}");
    change(&state, &who, &what, |s| {
        s.policy = policy(&raw)?;
        Ok(())
    })
    .await
}

pub async fn add_job(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<JobForm>,
) -> HttpResponse {
    let f = form.into_inner();
    let raw = f.policy.unwrap_or_default();
    let what = format!("job {} {raw}", f.job_id);
    change(&state, &who, &what, |s| {
        s.jobs.insert(f.job_id, policy(&raw)?);
        Ok(())
    })
    .await
}

pub async fn remove_job(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<JobForm>,
) -> HttpResponse {
    let job = form.into_inner().job_id;
    change(&state, &who, &format!("job {job} removed"), |s| {
        s.jobs.remove(&job);
        Ok(())
    })
    .await
}
