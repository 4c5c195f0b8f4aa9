//! The service as a user meets it: health, the admin API, the integration settings flow against
//! the fake Greenhouse, and secrets that never leak.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{eventually, spawn_app, spawn_app_with, Backend, TestApp, V1_KEY, V3_CLIENT};
use panelist::domain::User;
use panelist::fake_greenhouse::FakeConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const EMAIL: &str = "notetaker@acme.example";
const WEBHOOK_SECRET: &str = "whsec-0123456789abcdef";

fn seed_integration_user(app: &TestApp) -> i64 {
    app.fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some(EMAIL.into()),
        ..Default::default()
    });
    777
}

async fn json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[actix_web::test]
async fn health_and_readiness_need_no_login() {
    let app = spawn_app(Backend::Embedded).await;
    let r = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = json(
        app.http
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["store"], "embedded");
    app.shutdown().await;
}

#[actix_web::test]
async fn every_api_route_refuses_a_missing_or_wrong_token() {
    let app = spawn_app(Backend::Embedded).await;
    let routes = [
        (Method::GET, "/settings/integration"),
        (Method::PUT, "/settings/integration"),
        (Method::POST, "/settings/integration/verify"),
        (Method::POST, "/sync"),
        (Method::GET, "/sync/status"),
        (Method::GET, "/sync/runs"),
        (Method::GET, "/webhooks/events"),
        (Method::GET, "/schedule"),
    ];
    for (method, path) in routes {
        let url = format!("{}/api{path}", app.address);
        let none = app.http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(
            none.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} without token"
        );
        let wrong = app
            .http
            .request(method.clone(), &url)
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
    }
    app.shutdown().await;
}

async fn integration_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let user_id = seed_integration_user(&app);

    // Save: credentials, the integration user's email, the webhook secret.
    let (status, view) = json(
        app.api(Method::PUT, "/settings/integration")
            .json(&json!({
                "api_version": "v3",
                "client_id": V3_CLIENT.0,
                "client_secret": V3_CLIENT.1,
                "integration_user_email": EMAIL,
                "webhook_secret": WEBHOOK_SECRET,
            }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["client_secret_set"], true);
    assert_eq!(view["webhook_secret_set"], true);
    assert!(view["integration_user_id"].is_null(), "not verified yet");
    let text = view.to_string();
    assert!(
        !text.contains(V3_CLIENT.1) && !text.contains(WEBHOOK_SECRET),
        "secret in response: {text}"
    );

    // Update: verifies against Greenhouse and resolves the user.
    let (status, view) = json(
        app.api(Method::POST, "/settings/integration/verify")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["integration_user_id"], user_id);
    assert_eq!(view["integration_user_name"], "Panelist Notetaker");
    assert!(view["verified_at"].is_string());

    // The webhook endpoint, the secret only when asked for, and the webhooks to create.
    let (_, view) = json(
        app.api(Method::GET, "/settings/integration")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        view["webhook"]["endpoint_url"],
        "http://localhost:8080/webhooks/greenhouse"
    );
    assert!(view["webhook"]["secret"].is_null());
    assert_eq!(view["webhook"]["secret_masked"], "••••cdef");
    let names: Vec<&str> = view["webhook"]["to_create"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["ui_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Job post updated",
            "Job created",
            "Candidate or prospect updated",
            "Candidate has changed stage",
            "Interview deleted",
            "Delete candidate",
            "Candidate anonymized"
        ]
    );
    let (_, revealed) = json(
        app.api(Method::GET, "/settings/integration?reveal=webhook_secret")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(revealed["webhook"]["secret"], WEBHOOK_SECRET);

    // Sync: pulls everything the fake holds.
    app.fake.seed_fixtures();
    let (status, started) = json(app.api(Method::POST, "/sync").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let run_id = started["run_id"].as_str().unwrap().to_string();
    eventually(
        "the sync run to finish",
        Duration::from_secs(30),
        || async {
            let (_, runs) = json(app.api(Method::GET, "/sync/runs").send().await.unwrap()).await;
            runs.as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == run_id.as_str() && r["status"] != "running")
        },
    )
    .await;
    let (_, runs) = json(app.api(Method::GET, "/sync/runs").send().await.unwrap()).await;
    let run = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == run_id.as_str())
        .unwrap();
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(run["counts"]["candidates"].as_u64().unwrap() > 0, "{run}");
    assert!(run["requests"].as_u64().unwrap() >= 7, "{run}");

    // The secrets are sealed at rest: the stored settings hold no plaintext.
    let stored =
        serde_json::to_string(&app.store.integration_settings().await.unwrap().unwrap()).unwrap();
    assert!(
        !stored.contains(V3_CLIENT.1) && !stored.contains(WEBHOOK_SECRET),
        "{stored}"
    );
    app.shutdown().await;
}

#[actix_web::test]
async fn integration_settings_flow_on_the_embedded_store() {
    integration_flow(Backend::Embedded).await;
}

#[actix_web::test]
async fn integration_settings_flow_on_redis() {
    integration_flow(Backend::Redis).await;
}

#[actix_web::test]
async fn legacy_v1_key_verifies_too() {
    let app = spawn_app(Backend::Embedded).await;
    let user_id = seed_integration_user(&app);
    let r = app
        .api(Method::PUT, "/settings/integration")
        .json(&json!({"api_version": "v1", "api_key": V1_KEY, "integration_user_email": EMAIL}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, view) = json(
        app.api(Method::POST, "/settings/integration/verify")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["api_version"], "v1");
    assert_eq!(view["integration_user_id"], user_id);
    app.shutdown().await;
}

#[actix_web::test]
async fn update_explains_bad_credentials_and_unknown_emails_without_leaking() {
    let app = spawn_app(Backend::Embedded).await;
    seed_integration_user(&app);
    let wrong_secret = "definitely-wrong-secret-42";
    app.api(Method::PUT, "/settings/integration")
        .json(&json!({"client_id": V3_CLIENT.0, "client_secret": wrong_secret, "integration_user_email": EMAIL}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(
        app.api(Method::POST, "/settings/integration/verify")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(!msg.contains(wrong_secret), "{msg}");
    // The reason stays visible on the settings page.
    let (_, view) = json(
        app.api(Method::GET, "/settings/integration")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["last_error"].as_str(), Some(msg));

    app.api(Method::PUT, "/settings/integration")
        .json(
            &json!({"client_secret": V3_CLIENT.1, "integration_user_email": "nobody@acme.example"}),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json(
        app.api(Method::POST, "/settings/integration/verify")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("nobody@acme.example"),
        "{body}"
    );

    let (status, body) = json(
        app.api(Method::PUT, "/settings/integration")
            .json(&json!({"integration_user_email": "not-an-email"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    app.shutdown().await;
}

#[actix_web::test]
async fn sync_without_credentials_is_recorded_as_failed_with_the_reason() {
    let app = spawn_app(Backend::Embedded).await;
    let (_, started) = json(app.api(Method::POST, "/sync").send().await.unwrap()).await;
    let run_id = started["run_id"].as_str().unwrap().to_string();
    eventually("the run to fail", Duration::from_secs(10), || async {
        let runs = app.store.recent_sync_runs(10).await.unwrap();
        runs.iter()
            .any(|r| r.id == run_id && r.finished_at.is_some())
    })
    .await;
    let runs = app.store.recent_sync_runs(10).await.unwrap();
    let run = runs.iter().find(|r| r.id == run_id).unwrap();
    assert_eq!(run.status, panelist::store::SyncRunStatus::Failed);
    assert!(run.errors[0].contains("credentials"), "{:?}", run.errors);
    app.shutdown().await;
}

#[actix_web::test]
async fn environment_webhook_secret_wins_over_the_saved_one() {
    let env_secret = "env-secret-abcdefghijklmnop";
    let app = spawn_app_with(
        Backend::Embedded,
        FakeConfig::default(),
        &[("PANELIST__GREENHOUSE__WEBHOOK_SECRET", env_secret)],
    )
    .await;
    app.api(Method::PUT, "/settings/integration")
        .json(&json!({"webhook_secret": WEBHOOK_SECRET}))
        .send()
        .await
        .unwrap();
    let (_, view) = json(
        app.api(Method::GET, "/settings/integration?reveal=webhook_secret")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["webhook"]["secret"], env_secret);
    assert!(view["locked_by_config"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v == "webhook_secret"));

    let body = br#"{"action":"ping","payload":{"web_hook_id":5,"event":"Job created"}}"#;
    let post = |secret: &str| {
        app.http
            .post(format!("{}/webhooks/greenhouse", app.address))
            .header(
                "Signature",
                panelist::webhooks::sign(secret.as_bytes(), body),
            )
            .header("Greenhouse-Event-ID", uuid::Uuid::new_v4().to_string())
            .body(body.to_vec())
            .send()
    };
    assert_eq!(
        post(WEBHOOK_SECRET).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(post(env_secret).await.unwrap().status(), StatusCode::OK);
    app.shutdown().await;
}
