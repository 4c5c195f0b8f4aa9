//! The dashboard over HTTP: sign-in, sessions, CSRF, roles, login throttling, the setup link, and
//! the pages' forms (Integrations, Bot settings, a post retry), against both stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{spawn_app, spawn_app_with, Backend, TestApp};
use panelist::auth::{Role, SetupLink, Users};
use panelist::domain::User;
use panelist::fake_greenhouse::FakeConfig;
use panelist::poster::{OutboxNote, OutboxStatus};
use panelist::supervisor::BotPreferences;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use secrecy::SecretString;

const PASSWORD: &str = "correct horse battery staple";

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

struct Browser {
    http: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
    }

    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut fields: Vec<(&str, &str)> = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(&fields)
    }
}

/// A candidate, their application and one interview of it, in the store as a sync leaves them.
async fn seed_interview(
    app: &TestApp,
    candidate: serde_json::Value,
    application: serde_json::Value,
    interview_id: i64,
) -> panelist::domain::Interview {
    use panelist::domain::{Application, Candidate, Interview};
    use panelist::store::StoreExt;
    let application: Application = serde_json::from_value(application).unwrap();
    let interview = Interview {
        id: interview_id,
        application_id: Some(application.id),
        ..Default::default()
    };
    app.store
        .put(&[serde_json::from_value::<Candidate>(candidate).unwrap()])
        .await
        .unwrap();
    app.store.put(&[application]).await.unwrap();
    app.store.upsert_interview(&interview).await.unwrap();
    interview
}

async fn add_user(app: &TestApp, email: &str, role: Role) {
    Users::new(app.store.clone())
        .create(email, SecretString::from(PASSWORD), role)
        .await
        .unwrap();
}

/// Signs in through the form and reads the CSRF token from a page, as a browser would.
async fn sign_in(app: &TestApp, email: &str) -> Browser {
    let http = client();
    let res = http
        .post(format!("{}/login", app.address))
        .form(&[("email", email), ("password", PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let set = res
        .headers()
        .get(SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attr), "cookie lacks {attr}: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let page = http
        .get(format!("{}/settings/bots", app.address))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a csrf field on the page")
        .to_string();
    Browser {
        http,
        base: app.address.clone(),
        cookie,
        csrf,
    }
}

#[actix_web::test]
async fn every_page_and_api_route_needs_a_session() {
    let app = spawn_app(Backend::Embedded).await;
    let http = client();
    for path in panelist::dashboard::GUARDED_GETS {
        let res = http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let s = res.status();
        if path.starts_with("/live/") {
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        } else {
            assert_eq!(s, StatusCode::SEE_OTHER, "{path}");
            let to = res.headers().get(LOCATION).unwrap().to_str().unwrap();
            assert!(to.starts_with("/login?next="), "{path} → {to}");
        }
    }
    for path in panelist::dashboard::GUARDED_POSTS {
        let res = http
            .post(format!("{}{path}", app.address))
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "POST {path}");
    }
    for path in [
        "/api/schedule",
        "/api/bots",
        "/api/settings/integration",
        "/api/notes",
    ] {
        let res = http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    // A forged cookie is no session.
    let res = http
        .get(format!("{}/", app.address))
        .header(COOKIE, "panelist_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // What stays open: health, metrics (configured public), sign-in, assets.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/login",
        "/assets/app.css",
        "/assets/app.js",
    ] {
        let res = http
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }
    app.shutdown().await;
}

#[actix_web::test]
async fn metrics_can_require_a_session() {
    let app = spawn_app_with(
        Backend::Embedded,
        FakeConfig::default(),
        &[("PANELIST__DASHBOARD__METRICS_PUBLIC", "false")],
    )
    .await;
    let res = client()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app
        .http
        .get(format!("{}/metrics", app.address))
        .bearer_auth(common::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.shutdown().await;
}

async fn sign_in_out_and_csrf(backend: Backend) {
    let app = spawn_app(backend).await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    let b = sign_in(&app, "Ana@Acme.example").await;
    let page = b.get("/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Live bots") && html.contains("ana@acme.example"),
        "{html}"
    );

    // A form without the CSRF token is refused, and changes nothing.
    let res = b
        .http
        .post(format!("{}/settings/bots", app.address))
        .header(COOKIE, &b.cookie)
        .form(&[("join_lead_secs", "120")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(BotPreferences::load(&app.store).await.unwrap(), None);
    // A wrong token too.
    let res = b
        .http
        .post(format!("{}/settings/bots", app.address))
        .header(COOKIE, &b.cookie)
        .form(&[("join_lead_secs", "120"), ("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // The API with a session cookie needs the token as a header.
    let res = b
        .http
        .post(format!("{}/api/sync", app.address))
        .header(COOKIE, &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b
        .http
        .get(format!("{}/api/bots", app.address))
        .header(COOKIE, &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // With the token, the bot settings are saved to the store.
    let fields = [
        ("join_lead_secs", "120"),
        ("overrun_grace_secs", "600"),
        ("alone_secs", "30"),
        ("nobody_joined_secs", "300"),
        ("silence_secs", "600"),
        ("max_duration_secs", "7200"),
        ("silent_watchdog_secs", "45"),
        ("consent_notice", "Panelist is recording this call."),
    ];
    let res = b.post_form("/settings/bots", &fields).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let saved = BotPreferences::load(&app.store).await.unwrap().unwrap();
    assert_eq!((saved.join_lead_secs, saved.alone_secs), (120, 30));
    assert_eq!(saved.consent_notice, "Panelist is recording this call.");
    let page = b
        .get("/settings/bots")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"120\""), "{page}");
    // Out of range: explained, not saved.
    let mut bad = fields;
    bad[0] = ("join_lead_secs", "99999");
    let res = b.post_form("/settings/bots", &bad).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Join lead must be at most"));
    assert_eq!(
        BotPreferences::load(&app.store)
            .await
            .unwrap()
            .unwrap()
            .join_lead_secs,
        120
    );

    // Signing out ends the session in the store, not just in the browser.
    let res = b.post_form("/logout", &[]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = b.get("/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    app.shutdown().await;
}

#[actix_web::test]
async fn sign_in_out_and_csrf_embedded() {
    sign_in_out_and_csrf(Backend::Embedded).await;
}

#[actix_web::test]
async fn sign_in_out_and_csrf_redis() {
    sign_in_out_and_csrf(Backend::Redis).await;
}

#[actix_web::test]
async fn the_sixth_wrong_password_within_a_minute_is_refused() {
    let app = spawn_app(Backend::Redis).await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    let http = client();
    let login = |password: &'static str| {
        http.post(format!("{}/login", app.address))
            .form(&[("email", "ana@acme.example"), ("password", password)])
            .send()
    };
    for attempt in 1..=5 {
        let res = login("wrong password!").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("Wrong email or password"));
    }
    let res = login("wrong password!").await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many wrong passwords"));
    // Even the right password waits out the minute: no guessing by racing.
    let res = login(PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    app.shutdown().await;
}

#[actix_web::test]
async fn parallel_guesses_do_not_slip_past_the_throttle() {
    let app = spawn_app(Backend::Embedded).await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    let http = client();
    let guesses = (0..20).map(|i| {
        http.post(format!("{}/login", app.address))
            .form(&[
                ("email", "ana@acme.example".to_string()),
                ("password", format!("guess number {i}")),
            ])
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    app.shutdown().await;
}

#[actix_web::test]
async fn viewers_see_but_cannot_change_or_reveal() {
    let app = spawn_app(Backend::Embedded).await;
    add_user(&app, "vic@acme.example", Role::Viewer).await;
    let b = sign_in(&app, "vic@acme.example").await;
    assert_eq!(b.get("/").send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        b.get("/settings/integrations")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.get("/settings/users").send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let res = b
        .post_form("/settings/integrations", &[("client_id", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b
        .get("/api/settings/integration?reveal=webhook_secret")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = b
        .http
        .post(format!("{}/api/sync", app.address))
        .header(COOKIE, &b.cookie)
        .header("x-csrf-token", &b.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.shutdown().await;
}

#[actix_web::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app(Backend::Embedded).await;
    let token = SetupLink::new(app.store.clone()).issue().await.unwrap();
    let http = client();
    let page = http
        .get(format!("{}/setup/{token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let res = http
        .post(format!("{}/setup/{token}", app.address))
        .form(&[
            ("email", "first@acme.example"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res.headers().get(SET_COOKIE).is_some());
    let user = Users::new(app.store.clone())
        .get("first@acme.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, Role::Admin);
    // Used up.
    let again = http
        .get(format!("{}/setup/{token}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let forged = http
        .post(format!("{}/setup/not-the-token", app.address))
        .form(&[
            ("email", "evil@acme.example"),
            ("password", PASSWORD),
            ("confirm", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);
    assert!(Users::new(app.store.clone())
        .get("evil@acme.example")
        .await
        .unwrap()
        .is_none());
    app.shutdown().await;
}

#[actix_web::test]
async fn integrations_page_saves_updates_and_syncs() {
    let app = spawn_app(Backend::Redis).await;
    app.fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some("notetaker@acme.example".into()),
        ..Default::default()
    });
    add_user(&app, "ana@acme.example", Role::Admin).await;
    let b = sign_in(&app, "ana@acme.example").await;
    let res = b
        .post_form(
            "/settings/integrations",
            &[
                ("api_version", "v3"),
                ("client_id", common::V3_CLIENT.0),
                ("client_secret", common::V3_CLIENT.1),
                ("api_key", ""),
                ("integration_user_email", "notetaker@acme.example"),
                ("webhook_secret", "whsec-dashboard-0123456789"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let res = b
        .post_form("/settings/integrations/verify", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers().get(LOCATION).unwrap(),
        "/settings/integrations?msg=verified"
    );
    let page = b
        .get("/settings/integrations")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Panelist Notetaker"), "{page}");
    assert!(page.contains("/webhooks/greenhouse"));
    assert!(page.contains("Candidate has changed stage"));
    assert!(
        !page.contains("whsec-dashboard-0123456789"),
        "the secret is never in the page"
    );
    assert!(!page.contains(common::V3_CLIENT.1));
    // The secret is revealed to an admin on request only.
    let revealed: serde_json::Value = b
        .get("/api/settings/integration?reveal=webhook_secret")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revealed["webhook"]["secret"], "whsec-dashboard-0123456789");
    // Blank secret fields keep the stored secret.
    let res = b
        .post_form(
            "/settings/integrations",
            &[
                ("client_id", common::V3_CLIENT.0),
                ("client_secret", ""),
                ("integration_user_email", "notetaker@acme.example"),
                ("webhook_secret", ""),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: serde_json::Value = b
        .get("/api/settings/integration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["client_secret_set"], true);
    assert_eq!(view["webhook_secret_set"], true);

    let res = b
        .post_form("/settings/integrations/sync", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let store = app.store.clone();
    common::eventually(
        "the sync finishes",
        std::time::Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                store
                    .recent_sync_runs(1)
                    .await
                    .unwrap()
                    .first()
                    .is_some_and(|r| r.finished_at.is_some())
            }
        },
    )
    .await;
    let frag = b.get("/live/sync").send().await.unwrap();
    assert_eq!(frag.status(), StatusCode::OK);
    let etag = frag
        .headers()
        .get("etag")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let html = frag.text().await.unwrap();
    assert!(
        html.contains("sync-counts") && html.contains("users"),
        "{html}"
    );
    // Unchanged: a 304 without a body.
    let again = b
        .get("/live/sync")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    app.shutdown().await;
}

#[actix_web::test]
async fn a_failed_post_can_be_retried_from_the_interview_page() {
    let app = spawn_app_with(
        Backend::Embedded,
        FakeConfig::default(),
        &[("PANELIST__POSTER__ENABLED", "false")],
    )
    .await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    let now = chrono::Utc::now();
    let mut note = OutboxNote::new(
        4242,
        99,
        "[Panelist notes · interview 4242]\nSummary".into(),
        panelist::greenhouse::Visibility::Private,
        now,
    );
    note.status = OutboxStatus::Failed;
    note.attempts = 5;
    note.last_error = Some("Greenhouse refused the note (403): missing permission".into());
    app.store.put_outbox_note(&note).await.unwrap();
    let b = sign_in(&app, "ana@acme.example").await;
    let page = b
        .get("/interviews/4242")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("missing permission") && page.contains("Retry the post"),
        "{page}"
    );
    let res = b
        .post_form("/interviews/4242/retry-post", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let note = app.store.get_outbox_note(4242).await.unwrap().unwrap();
    assert_eq!(note.status, OutboxStatus::Pending);
    assert_eq!(note.attempts, 0);
    assert_eq!(
        b.get("/interviews/999999").send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    app.shutdown().await;
}

#[actix_web::test]
async fn an_admin_can_delete_a_candidates_data_from_the_interview_page() {
    use panelist::domain::Candidate;
    use panelist::store::StoreExt;
    let app = spawn_app(Backend::Embedded).await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    add_user(&app, "vic@acme.example", Role::Viewer).await;
    seed_interview(
        &app,
        serde_json::json!({"id": 71, "first_name": "Jo", "last_name": "Gone"}),
        serde_json::json!({"id": 72, "candidate_id": 71}),
        73,
    )
    .await;
    panelist::transcribe::TranscriptFiles::new(app.data_dir.path())
        .append(
            "73",
            vec![panelist::transcribe::TranscriptSegment::new(
                "p", "Jo Gone", 0, 1000, "hi",
            )],
        )
        .await
        .unwrap();
    let viewer = sign_in(&app, "vic@acme.example").await;
    let res = viewer
        .post_form("/interviews/73/purge", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = sign_in(&app, "ana@acme.example").await;
    let page = admin
        .get("/interviews/73")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Delete this candidate"));
    let res = admin
        .post_form("/interviews/73/purge", &[])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(app.store.get::<Candidate>(71).await.unwrap().is_none());
    assert!(
        !panelist::transcribe::TranscriptFiles::new(app.data_dir.path())
            .path("73")
            .exists()
    );
    let audit = app
        .store
        .kv_list(panelist::privacy::AUDIT_NS)
        .await
        .unwrap();
    let entries: Vec<panelist::privacy::AuditEntry> = audit
        .iter()
        .map(|(_, v)| serde_json::from_slice(v).unwrap())
        .collect();
    let purge = entries
        .iter()
        .find(|e| e.action == "purge_candidate")
        .expect("no purge entry");
    assert_eq!(
        (purge.reason.as_str(), purge.counts["transcripts"]),
        ("admin", 1)
    );
    // Who asked, and who had looked at the page before: named, with no candidate data.
    assert!(entries
        .iter()
        .any(|e| e.action == "purge_requested" && e.actor.as_deref() == Some("ana@acme.example")));
    assert!(entries.iter().any(|e| e.action == "transcript_viewed"
        && e.actor.as_deref() == Some("ana@acme.example")
        && e.subject.as_deref() == Some("interview 73")));
    for e in &entries {
        let json = serde_json::to_string(e).unwrap();
        assert!(
            !json.contains("Jo Gone") && !json.contains("hi\""),
            "{json}"
        );
    }
    app.shutdown().await;
}

/// Settings → Consent sets the policy and per-job overrides that the bots decide with; every
/// change, transcript export and view lands in the audit log, which only admins can read.
#[actix_web::test]
async fn consent_settings_and_the_audit_log() {
    use panelist::consent::{decide, ConsentPolicy, ConsentSettings, Decision};
    use panelist::domain::Job;
    use panelist::store::StoreExt;
    let app = spawn_app(Backend::Redis).await;
    add_user(&app, "ana@acme.example", Role::Admin).await;
    add_user(&app, "vic@acme.example", Role::Viewer).await;
    let job: Job =
        serde_json::from_value(serde_json::json!({"id": 81, "name": "Staff Engineer"})).unwrap();
    app.store.put(&[job]).await.unwrap();
    let interview = seed_interview(
        &app,
        serde_json::json!({"id": 82, "first_name": "Kim"}),
        serde_json::json!({"id": 83, "candidate_id": 82, "jobs": [{"id": 81, "name": "Staff Engineer"}]}),
        84,
    )
    .await;

    let admin = sign_in(&app, "ana@acme.example").await;
    let page = admin
        .get("/settings/consent")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Staff Engineer"),
        "the job picker lists synced jobs"
    );
    let res = admin
        .post_form("/settings/consent", &[("policy", "opt_out")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = admin
        .post_form(
            "/settings/consent/jobs",
            &[("job_id", "81"), ("policy", "opt_in")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let saved = ConsentSettings::load(&app.store, ConsentPolicy::Notify)
        .await
        .unwrap();
    assert_eq!(saved.policy, ConsentPolicy::OptOut);
    assert_eq!(saved.jobs.get(&81), Some(&ConsentPolicy::OptIn));
    // The bot for this job's interview now waits for the candidate's consent.
    assert!(matches!(
        decide(&app.store, ConsentPolicy::Notify, &interview)
            .await
            .unwrap(),
        Decision::Pending(_)
    ));
    let res = admin
        .post_form("/settings/consent", &[("policy", "sometimes")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a bad policy is shown, not saved"
    );
    let res = admin
        .post_form("/settings/consent/jobs/remove", &[("job_id", "81")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(matches!(
        decide(&app.store, ConsentPolicy::Notify, &interview)
            .await
            .unwrap(),
        Decision::Record(_)
    ));

    // Viewers see the policy but cannot change it, and cannot open the audit log.
    let viewer = sign_in(&app, "vic@acme.example").await;
    let res = viewer
        .post_form("/settings/consent", &[("policy", "notify")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        viewer.get("/settings/audit").send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let viewer_page = viewer.get("/").send().await.unwrap().text().await.unwrap();
    assert!(!viewer_page.contains("/settings/audit"));
    assert_eq!(
        viewer.get("/interviews/84").send().await.unwrap().status(),
        StatusCode::OK
    );
    let export = app
        .api(reqwest::Method::GET, "/interviews/84/transcript")
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);

    let log = admin
        .get("/settings/audit")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = log.split("<tr data-action=").skip(1).collect();
    let row = |action: &str, who: &str, needle: &str| {
        rows.iter().any(|r| {
            r.starts_with(&format!("\"{action}\"")) && r.contains(who) && r.contains(needle)
        })
    };
    assert!(
        row("settings_changed", "ana@acme.example", "policy opt_out"),
        "{log}"
    );
    assert!(
        row("settings_changed", "ana@acme.example", "job 81 opt_in"),
        "{log}"
    );
    assert!(
        row("settings_changed", "ana@acme.example", "job 81 removed"),
        "{log}"
    );
    assert!(
        row("transcript_viewed", "vic@acme.example", "interview 84"),
        "{log}"
    );
    assert!(
        row("transcript_exported", "api-token", "interview 84"),
        "{log}"
    );
    // Newest first: the export came last.
    assert!(rows[0].starts_with("\"transcript_exported\""), "{log}");
    app.shutdown().await;
}
