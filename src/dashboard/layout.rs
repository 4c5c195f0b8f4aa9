//! The page shell (navigation, who is signed in, sign-out form), the embedded assets, and small
//! formatting helpers shared by every page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};

use super::guard::Principal;

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");

/// Which navigation entry is current.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Overview,
    Integrations,
    Bots,
    Users,
    Consent,
    Audit,
    None,
}

pub struct Page<'a> {
    pub title: &'a str,
    pub nav: Nav,
    pub who: &'a Principal,
    pub refresh_ms: u64,
}

impl Page<'_> {
    pub fn render(&self, body: Markup) -> HttpResponse {
        let items = [
            (Nav::Overview, "/", "Overview"),
            (Nav::Integrations, "/settings/integrations", "Integrations"),
            (Nav::Bots, "/settings/bots", "Bot settings"),
            (Nav::Users, "/settings/users", "Users"),
            (Nav::Consent, "/settings/consent", "Consent"),
        ];
        // The audit log is for admins; viewers are not shown a link they cannot open.
        let audit = self
            .who
            .is_admin()
            .then_some((Nav::Audit, "/settings/audit", "Audit log"));
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · Panelist" }
                    link rel="stylesheet" href="/assets/app.css";
                }
                body data-refresh=(self.refresh_ms) {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        a.brand href="/" { "Panelist" }
                        nav aria-label="Main" {
                            ul {
                                @for (nav, href, label) in items.into_iter().chain(audit) {
                                    li { a href=(href) aria-current=[(nav == self.nav).then_some("page")] { (label) } }
                                }
                            }
                        }
                        div.who {
                            span { (self.who.name()) " · " (if self.who.is_admin() { "admin" } else { "viewer" }) }
                            @if let Some(s) = self.who.session() {
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                    main #main { (body) }
                    script src="/assets/app.js" defer {}
                }
            }
        };
        html_response(markup)
    }
}

pub fn html_response(markup: Markup) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("x-frame-options", "DENY"))
        .insert_header((
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ))
        .body(markup.into_string())
}

/// A live fragment with an ETag of its content: an unchanged fragment costs a 304 and no body.
pub fn fragment(req: &HttpRequest, markup: Markup) -> HttpResponse {
    let body = markup.into_string();
    let etag = format!("\"{}\"", &crate::auth::digest(&body)[..16]);
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    if unchanged {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .body(body)
}

pub async fn css() -> HttpResponse {
    asset(CSS, "text/css; charset=utf-8")
}

pub async fn js() -> HttpResponse {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

/// A fixed message chosen by a query parameter: nothing from the URL is echoed into the page.
pub fn flash(code: Option<&str>) -> Markup {
    let (text, error) = match code.unwrap_or_default() {
        "saved" => ("Saved.", false),
        "verified" => ("Greenhouse accepted the credentials.", false),
        "verify_failed" => (
            "Greenhouse did not accept the credentials: see the error below.",
            true,
        ),
        "sync_started" => ("Sync started.", false),
        "sync_running" => ("A sync is already running.", false),
        "retrying" => ("The note will be posted again.", false),
        "nothing_to_retry" => ("There is no failed note to retry.", false),
        "user_added" => ("User added.", false),
        "user_removed" => ("User removed.", false),
        "bot_stopped" => ("The bot was told to leave.", false),
        "bot_started" => ("A bot is being sent now.", false),
        "purged" => ("The candidate's data was deleted.", false),
        _ => return html! {},
    };
    html! { div.flash.error[error] role="status" { (text) } }
}

pub fn error_box(problems: &[String]) -> Markup {
    html! {
        @if !problems.is_empty() {
            div.flash.error role="alert" {
                @for p in problems { div { (p) } }
            }
        }
    }
}

pub fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M UTC")) } }
}

/// With seconds, for timelines.
pub fn when_precise(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%H:%M:%S UTC")) } }
}

/// Date and time to the second: for records read weeks later (the audit log).
pub fn when_full(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } }
}

pub fn when_opt(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        Some(t) => when(t),
        None => html! { span.muted { "—" } },
    }
}

/// "3 min ago", "in 2 h": relative to now.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs > 0);
    let span = if n < 60 {
        format!("{n} s")
    } else if n < 3600 {
        format!("{} min", n / 60)
    } else if n < 48 * 3600 {
        format!("{} h {} min", n / 3600, (n % 3600) / 60)
    } else {
        format!("{} days", n / 86400)
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// "mm:ss" or "h:mm:ss" for a call offset in seconds.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// A colour class for a state name.
pub fn badge(state: &str) -> Markup {
    let class = match state {
        "in_call" | "joining" | "waiting_room" | "leaving" | "running" | "pending" => "live",
        "done" | "posted" | "succeeded" | "applied" | "consent_granted" => "ok",
        "retrying" | "scheduled" | "retrying_later" | "consent_pending" => "warn",
        "failed"
        | "unsupported_platform"
        | "url_not_allowed"
        | "cancelled"
        | "rejected"
        | "consent_denied" => "bad",
        _ => "",
    };
    html! { span class={"badge " (class)} { (state.replace('_', " ")) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_read_naturally() {
        let now = Utc::now();
        assert_eq!(
            relative(now + chrono::Duration::seconds(30), now),
            "in 30 s"
        );
        assert_eq!(
            relative(now - chrono::Duration::minutes(5), now),
            "5 min ago"
        );
        assert_eq!(
            relative(now + chrono::Duration::minutes(125), now),
            "in 2 h 5 min"
        );
        assert_eq!(clock(65.4), "01:05");
        assert_eq!(clock(3725.0), "1:02:05");
    }
}
