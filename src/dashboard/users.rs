//! Settings → Users: who can sign in, and as what. Admins only.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use maud::html;
use secrecy::SecretString;
use serde::Deserialize;

use super::guard::{admin_only, Principal};
use super::layout::{error_box, flash, when, Nav, Page};
use super::overview::MsgQuery;
use crate::auth::Role;
use crate::http::AppState;

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
    let users = state.users.list().await.unwrap_or_default();
    let body = html! {
        h1 { "Users" }
        (flash(msg))
        (error_box(problems))
        section.panel {
            div.table-wrap { table {
                thead { tr { th scope="col" { "Email" } th scope="col" { "Role" } th scope="col" { "Since" } th scope="col" { span.skip { "Actions" } } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.email) } td { (u.role.as_str()) } td { (when(u.created_at)) }
                            td {
                                form method="post" action="/settings/users/remove" {
                                    input type="hidden" name="csrf" value=(who.csrf());
                                    input type="hidden" name="email" value=(u.email);
                                    button.danger type="submit" aria-label={"Remove " (u.email)} { "Remove" }
                                }
                            }
                        }
                    }
                }
            } }
        }
        section.panel {
            h2 { "Add a user" }
            form.stack method="post" action="/settings/users" {
                input type="hidden" name="csrf" value=(who.csrf());
                div { label for="new-email" { "Email" } input #new-email type="email" name="email" required; }
                div { label for="new-role" { "Role" } select #new-role name="role" { option value="viewer" { "Viewer: sees everything, changes nothing" } option value="admin" { "Admin" } } }
                div { label for="new-password" { "Initial password" span.hint { "At least " (crate::auth::MIN_PASSWORD_LEN) " characters; share it privately." } } input #new-password type="password" name="password" autocomplete="new-password" required; }
                div { button type="submit" { "Add user" } }
            }
        }
    };
    Page {
        title: "Users",
        nav: Nav::Users,
        who,
        refresh_ms: state.settings.dashboard.live_refresh_ms,
    }
    .render(body)
}

#[derive(Deserialize)]
pub struct AddForm {
    email: String,
    role: String,
    password: SecretString,
}

pub async fn add(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<AddForm>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    let f = form.into_inner();
    let Some(role) = Role::parse(&f.role) else {
        return render(&state, &who, None, &["Choose a role.".into()]).await;
    };
    match state.users.create(&f.email, f.password, role).await {
        Ok(u) => {
            tracing::info!(by = %who.name(), user = %u.email, "user added from the dashboard");
            crate::privacy::record_access(
                &state.store,
                who.name(),
                "settings_changed",
                "users: added",
                Some(format!("{} ({})", u.email, f.role)),
            )
            .await;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/settings/users?msg=user_added"))
                .finish()
        }
        Err(e) => render(&state, &who, None, &[e.to_string()]).await,
    }
}

#[derive(Deserialize)]
pub struct RemoveForm {
    email: String,
}

pub async fn remove(
    state: web::Data<AppState>,
    who: Principal,
    form: web::Form<RemoveForm>,
) -> HttpResponse {
    if let Some(res) = admin_only(&who) {
        return res;
    }
    match state.users.delete(&form.email).await {
        Ok(()) => {
            if let Err(e) = state
                .sessions
                .end_all_for(&form.email.trim().to_ascii_lowercase())
                .await
            {
                tracing::warn!(error = %e, "cannot end the removed user's sessions; they expire by themselves");
            }
            tracing::info!(by = %who.name(), user = %form.email, "user removed from the dashboard");
            crate::privacy::record_access(
                &state.store,
                who.name(),
                "settings_changed",
                "users: removed",
                Some(form.email.trim().to_ascii_lowercase()),
            )
            .await;
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/settings/users?msg=user_removed"))
                .finish()
        }
        Err(e) => render(&state, &who, None, &[e.to_string()]).await,
    }
}
