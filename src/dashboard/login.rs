//! Signing in and out, and the one-time setup link that creates the first admin.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};
use secrecy::SecretString;
use serde::Deserialize;

use super::layout::{error_box, html_response};
use crate::auth::{Role, User, SESSION_COOKIE};
use crate::http::AppState;

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: SecretString,
    next: Option<String>,
}

/// Only a path on this site: never `//host` or `https://host` (no open redirect). Control
/// characters and whitespace are refused too: browsers strip a tab or newline from a `Location`,
/// which would turn `/\t/evil.example` into `//evil.example`.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

fn bare(title: &str, body: Markup) -> HttpResponse {
    html_response(html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Panelist" }
                link rel="stylesheet" href="/assets/app.css";
            }
            body { main #main.login { (body) } }
        }
    })
}

fn login_page(next: &str, problems: &[String], email: &str) -> HttpResponse {
    bare(
        "Sign in",
        html! {
            section.panel {
                h1 { "Sign in to Panelist" }
                (error_box(problems))
                form.stack method="post" action="/login" {
                    input type="hidden" name="next" value=(next);
                    div { label for="email" { "Email" } input #email type="email" name="email" value=(email) autocomplete="username" required autofocus; }
                    div { label for="password" { "Password" } input #password type="password" name="password" autocomplete="current-password" required; }
                    div { button type="submit" { "Sign in" } }
                }
            }
        },
    )
}

pub async fn show(q: web::Query<LoginQuery>) -> HttpResponse {
    login_page(&safe_next(q.next.as_deref()), &[], "")
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref());
    // The TCP peer, not X-Forwarded-For: a header anyone can set must not reset the count.
    let client = req
        .peer_addr()
        .map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    // Check and record as one step (see `LoginThrottle::turn`); argon2 keeps each turn short.
    let _turn = state.throttle.turn().await;
    match state.throttle.check(&form.email, &client).await {
        Ok(Some(t)) => {
            tracing::warn!(client = %client, "login refused: too many wrong passwords");
            let secs = t.retry_after.as_secs().max(1);
            let mut res = login_page(
                &next,
                &[format!("Too many wrong passwords. Try again in {secs} s.")],
                &form.email,
            );
            *res.status_mut() = actix_web::http::StatusCode::TOO_MANY_REQUESTS;
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return res;
        }
        Ok(None) => {}
        Err(e) => return unavailable(&e.to_string()),
    }
    match state.users.authenticate(&form.email, form.password).await {
        Ok(Some(user)) => {
            if let Err(e) = state.throttle.record_success(&user.email, &client).await {
                tracing::warn!(error = %e, "cannot clear the login failure count");
            }
            tracing::info!(user = %user.email, "signed in");
            start_session(&state, &user, &next).await
        }
        Ok(None) => {
            if let Err(e) = state.throttle.record_failure(&form.email, &client).await {
                tracing::warn!(error = %e, "cannot record a failed login");
            }
            tracing::info!(client = %client, "wrong email or password");
            let mut res = login_page(&next, &["Wrong email or password.".into()], &form.email);
            *res.status_mut() = actix_web::http::StatusCode::UNAUTHORIZED;
            res
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

fn unavailable(why: &str) -> HttpResponse {
    tracing::error!(error = %why, "sign-in failed");
    let mut res = login_page(
        "/",
        &["Signing in is unavailable right now; try again shortly.".into()],
        "",
    );
    *res.status_mut() = actix_web::http::StatusCode::SERVICE_UNAVAILABLE;
    res
}

async fn start_session(state: &AppState, user: &User, next: &str) -> HttpResponse {
    match state.sessions.create(user).await {
        Ok((token, _)) => {
            let cookie = Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .secure(state.settings.secure_cookies())
                .same_site(SameSite::Lax)
                .max_age(CookieDuration::seconds(
                    state.sessions.ttl().as_secs() as i64
                ))
                .finish();
            HttpResponse::SeeOther()
                .cookie(cookie)
                .insert_header((header::LOCATION, next.to_string()))
                .finish()
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

/// POST /logout (CSRF-checked by the guard): ends the session and clears the cookie.
pub async fn logout(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        if let Err(e) = state.sessions.end(c.value()).await {
            tracing::warn!(error = %e, "cannot end the session in the store; it expires by itself");
        }
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .secure(state.settings.secure_cookies())
        .same_site(SameSite::Lax)
        .finish();
    gone.make_removal();
    HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header((header::LOCATION, "/login"))
        .finish()
}

#[derive(Deserialize)]
pub struct SetupForm {
    email: String,
    password: SecretString,
    confirm: SecretString,
}

fn setup_page(token: &str, problems: &[String], email: &str) -> HttpResponse {
    bare(
        "Create the first admin",
        html! {
            section.panel {
                h1 { "Welcome to Panelist" }
                p { "Create the first admin account. This link works once." }
                (error_box(problems))
                form.stack method="post" action={"/setup/" (token)} {
                    div { label for="email" { "Email" } input #email type="email" name="email" value=(email) autocomplete="username" required; }
                    div { label for="password" { "Password" span.hint { "At least " (crate::auth::MIN_PASSWORD_LEN) " characters." } } input #password type="password" name="password" autocomplete="new-password" required; }
                    div { label for="confirm" { "Repeat the password" } input #confirm type="password" name="confirm" autocomplete="new-password" required; }
                    div { button type="submit" { "Create admin" } }
                }
            }
        },
    )
}

fn setup_gone() -> HttpResponse {
    let mut res = bare(
        "Setup link",
        html! { section.panel { h1 { "This setup link is not valid" } p { "It was used already or has expired. Sign in, or create an admin with " code { "panelist admin create" } "." } a href="/login" { "Sign in" } } },
    );
    *res.status_mut() = actix_web::http::StatusCode::NOT_FOUND;
    res
}

pub async fn setup_show(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    match state.setup.is_valid(&token).await {
        Ok(true) => setup_page(&token, &[], ""),
        Ok(false) => setup_gone(),
        Err(e) => unavailable(&e.to_string()),
    }
}

pub async fn setup_submit(
    state: web::Data<AppState>,
    token: web::Path<String>,
    form: web::Form<SetupForm>,
) -> HttpResponse {
    use secrecy::ExposeSecret;
    let _turn = state.setup.turn().await;
    match state.setup.is_valid(&token).await {
        Ok(true) => {}
        Ok(false) => return setup_gone(),
        Err(e) => return unavailable(&e.to_string()),
    }
    let form = form.into_inner();
    if form.password.expose_secret() != form.confirm.expose_secret() {
        return setup_page(&token, &["The passwords differ.".into()], &form.email);
    }
    match state
        .users
        .create(&form.email, form.password, Role::Admin)
        .await
    {
        Ok(user) => {
            if let Err(e) = state.setup.consume().await {
                tracing::warn!(error = %e, "cannot retire the setup link; it expires within 24 h");
            }
            start_session(&state, &user, "/settings/integrations").await
        }
        Err(e) => setup_page(&token, &[e.to_string()], &form.email),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/interviews/4")), "/interviews/4");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        // Browsers drop tabs and newlines from a Location, making these `//evil.example`.
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/ /evil.example")), "/");
    }
}
