//! Settings → Bots: the join lead, the leave rules and the consent notice. Saved to the store; this
//! server applies them at once and every other replica at its next schedule rescan.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::guard::{admin_only, Principal};
use super::layout::{error_box, flash, Nav, Page};
use super::overview::MsgQuery;
use crate::http::AppState;
use crate::supervisor::{ApplyBotPreferences, BotPreferences};

async fn current(state: &AppState) -> BotPreferences {
    match BotPreferences::load(&state.store).await {
        Ok(Some(p)) => p,
        Ok(None) => BotPreferences::from_config(&state.settings.bots),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the bot settings; showing the configured ones");
            BotPreferences::from_config(&state.settings.bots)
        }
    }
}

pub async fn page(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<MsgQuery>,
) -> HttpResponse {
    let prefs = current(&state).await;
    render(&state, &who, &prefs, q.msg.as_deref(), &[])
}

fn number(id: &str, label: &str, hint: &str, value: u64, disabled: bool) -> Markup {
    html! {
        div {
            label for=(id) { (label) span.hint { (hint) } }
            input id=(id) type="number" name=(id) min="0" step="1" value=(value) required disabled[disabled];
        }
    }
}

fn render(
    state: &AppState,
    who: &Principal,
    p: &BotPreferences,
    msg: Option<&str>,
    problems: &[String],
) -> HttpResponse {
    let ro = !who.is_admin();
    let body = html! {
        h1 { "Bot settings" }
        (flash(msg))
        (error_box(problems))
        section.panel {
            p.small.muted { "Changes apply to bots already in calls at their next check, and to every server within "
                (state.settings.bots.rescan_secs) " seconds, without a restart. Any rule at 0 is off." }
            @if ro { p.small { "Only admins can change these." } }
            form.stack method="post" action="/settings/bots" {
                input type="hidden" name="csrf" value=(who.csrf());
                (number("join_lead_secs", "Join lead (seconds)", "How long before the start time the bot joins.", p.join_lead_secs, ro))
                fieldset {
                    legend { "Leave the call" }
                    (number("overrun_grace_secs", "After the scheduled end (seconds)", "Overrun allowed past the end time.", p.overrun_grace_secs, ro))
                    (number("alone_secs", "When alone for (seconds)", "After everyone else has left.", p.alone_secs, ro))
                    (number("nobody_joined_secs", "When nobody joined within (seconds)", "", p.nobody_joined_secs, ro))
                    (number("silence_secs", "After silence of (seconds)", "Nobody has spoken for this long.", p.silence_secs, ro))
                    (number("max_duration_secs", "Maximum time in a call (seconds)", "", p.max_duration_secs, ro))
                }
                (number("silent_watchdog_secs", "Flag a bot hearing nothing after (seconds)", "It stays in the call; the board shows a warning.", p.silent_watchdog_secs, ro))
                div {
                    label for="consent_notice" { "Consent notice" span.hint { "What a bot tells the room when it joins." } }
                    textarea #consent_notice name="consent_notice" maxlength="1000" disabled[ro] { (p.consent_notice) }
                }
                @if !ro { div { button type="submit" { "Save" } } }
            }
        }
    };
    Page {
        title: "Bot settings",
        nav: Nav::Bots,
        who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

#[derive(Deserialize)]
pub struct BotForm {
    join_lead_secs: u64,
    overrun_grace_secs: u64,
    alone_secs: u64,
    nobody_joined_secs: u64,
    silence_secs: u64,
    max_duration_secs: u64,
    silent_watchdog_secs: u64,
    #[serde(default)]
    consent_notice: String,
}

pub async fn save(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<BotForm>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let f = form.into_inner();
    let prefs = BotPreferences {
        join_lead_secs: f.join_lead_secs,
        overrun_grace_secs: f.overrun_grace_secs,
        alone_secs: f.alone_secs,
        nobody_joined_secs: f.nobody_joined_secs,
        silence_secs: f.silence_secs,
        max_duration_secs: f.max_duration_secs,
        silent_watchdog_secs: f.silent_watchdog_secs,
        consent_notice: f.consent_notice.trim().to_string(),
    };
    let problems = prefs.problems();
    if !problems.is_empty() {
        return render(&state, &who, &prefs, None, &problems);
    }
    if let Err(e) = prefs.save(&state.store).await {
        tracing::error!(error = %e, "cannot save the bot settings");
        return render(
            &state,
            &who,
            &prefs,
            None,
            &["The settings could not be saved; try again.".into()],
        );
    }
    tracing::info!(user = %who.name(), join_lead_secs = prefs.join_lead_secs, "bot settings saved");
    crate::privacy::record_access(&state.store, who.name(), "settings_changed", "bots", None).await;
    if let Some(s) = &state.supervisor {
        s.do_send(ApplyBotPreferences(prefs));
    }
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/settings/bots?msg=saved"))
        .finish()
}
