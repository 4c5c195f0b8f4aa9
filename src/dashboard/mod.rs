//! The ops dashboard: server-rendered pages (maud) with live fragments, behind sign-in.
//! Pages: overview (live bot board, next 24 h, notes, sync, webhooks), an interview page,
//! Settings → Integrations, Bots, Users, Consent and the audit log. Assets are compiled into the
//! binary.

mod audit;
mod bot_settings;
mod consent;
mod consent_settings;
mod describe;
pub mod guard;
mod integrations;
mod interview;
mod layout;
mod login;
mod overview;
mod users;

use actix_web::middleware::from_fn;
use actix_web::web;
use serde::Serialize;

/// A serde enum's wire name ("retrying_later"), for badges.
pub(crate) fn snake<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

/// Open routes: sign-in, setup, assets. Everything else goes through `guard::pages`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/login", web::get().to(login::show))
        .route("/login", web::post().to(login::submit))
        .route("/setup/{token}", web::get().to(login::setup_show))
        .route("/setup/{token}", web::post().to(login::setup_submit))
        .route("/consent/{token}", web::get().to(consent::page))
        .route("/consent/{token}", web::post().to(consent::submit))
        .route("/assets/app.css", web::get().to(layout::css))
        .route("/assets/app.js", web::get().to(layout::js))
        .service(
            web::scope("")
                .wrap(from_fn(guard::pages))
                // HTML compresses ~10x: the live board of a busy fleet is tens of kB per refresh.
                .wrap(actix_web::middleware::Compress::default())
                .route("/", web::get().to(overview::page))
                .route("/logout", web::post().to(login::logout))
                .route("/live/board", web::get().to(overview::live_board))
                .route("/live/upcoming", web::get().to(overview::live_upcoming))
                .route("/live/notes", web::get().to(overview::live_notes))
                .route("/live/webhooks", web::get().to(overview::live_webhooks))
                .route("/live/sync", web::get().to(integrations::live_sync))
                .route(
                    "/live/interviews/{id}/bot",
                    web::get().to(interview::live_bot),
                )
                .route(
                    "/live/interviews/{id}/transcript",
                    web::get().to(interview::live_transcript),
                )
                .route(
                    "/live/interviews/{id}/note",
                    web::get().to(interview::live_note),
                )
                .route("/interviews/{id}", web::get().to(interview::page))
                .route(
                    "/interviews/{id}/retry-post",
                    web::post().to(interview::retry_post),
                )
                .route(
                    "/interviews/{id}/bot/start",
                    web::post().to(interview::start_bot),
                )
                .route(
                    "/interviews/{id}/bot/stop",
                    web::post().to(interview::stop_bot),
                )
                .route(
                    "/interviews/{id}/purge",
                    web::post().to(interview::purge_candidate),
                )
                .route("/interviews/{id}/consent", web::post().to(consent::record))
                .route(
                    "/interviews/{id}/recordings/{attempt}/{file}",
                    web::get().to(interview::recording),
                )
                .route("/settings/integrations", web::get().to(integrations::page))
                .route("/settings/integrations", web::post().to(integrations::save))
                .route(
                    "/settings/integrations/verify",
                    web::post().to(integrations::verify),
                )
                .route(
                    "/settings/integrations/sync",
                    web::post().to(integrations::sync),
                )
                .route("/settings/bots", web::get().to(bot_settings::page))
                .route("/settings/bots", web::post().to(bot_settings::save))
                .route("/settings/users", web::get().to(users::page))
                .route("/settings/users", web::post().to(users::add))
                .route("/settings/users/remove", web::post().to(users::remove))
                .route("/settings/consent", web::get().to(consent_settings::page))
                .route("/settings/consent", web::post().to(consent_settings::save))
                .route(
                    "/settings/consent/jobs",
                    web::post().to(consent_settings::add_job),
                )
                .route(
                    "/settings/consent/jobs/remove",
                    web::post().to(consent_settings::remove_job),
                )
                .route("/settings/audit", web::get().to(audit::page)),
        );
}

/// Every page and fragment behind sign-in, for the security tests (`{id}` stands for a number).
pub const GUARDED_GETS: &[&str] = &[
    "/",
    "/live/board",
    "/live/upcoming",
    "/live/notes",
    "/live/webhooks",
    "/live/sync",
    "/live/interviews/1/bot",
    "/live/interviews/1/transcript",
    "/live/interviews/1/note",
    "/interviews/1",
    "/interviews/1/recordings/1/a.ogg",
    "/settings/integrations",
    "/settings/bots",
    "/settings/users",
    "/settings/consent",
    "/settings/audit",
];

pub const GUARDED_POSTS: &[&str] = &[
    "/logout",
    "/interviews/1/retry-post",
    "/interviews/1/bot/start",
    "/interviews/1/bot/stop",
    "/interviews/1/purge",
    "/interviews/1/consent",
    "/settings/integrations",
    "/settings/integrations/verify",
    "/settings/integrations/sync",
    "/settings/bots",
    "/settings/users",
    "/settings/users/remove",
];
