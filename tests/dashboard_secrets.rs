//! Secrets never leave Panelist: a real `panelist serve` process, with debug logging captured to a
//! file, is set up through the dashboard with Greenhouse credentials, a webhook secret and an admin
//! password; signed and forged webhooks arrive; then every page, live fragment and API response,
//! and the whole log, are searched for each secret.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use panelist::domain::User;
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse};
use reqwest::blocking::Client;
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::redirect::Policy;

const CLIENT_ID: &str = "gh-client-7f3a";
const CLIENT_SECRET: &str = "gh-client-secret-Zq81vX4mW2";
const API_KEY: &str = "gh-legacy-key-Hy62pLr0Q";
const WEBHOOK_SECRET: &str = "whsec-Kd93nB7vT5xQ";
const ADMIN_PASSWORD: &str = "Admin-Passw0rd-Ux4!kz";
const API_TOKEN: &str = "api-token-Rt55yq0LmN3";
const EMAIL: &str = "notetaker@acme.example";

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env(
    cmd: &mut Command,
    data: &std::path::Path,
    port: u16,
    fake: &panelist::fake_greenhouse::FakeHandle,
) {
    cmd.env("PANELIST__DATA_DIR", data)
        .env("PANELIST__SERVER__HOST", "127.0.0.1")
        .env("PANELIST__SERVER__PORT", port.to_string())
        .env("PANELIST__SERVER__ADMIN_TOKEN", API_TOKEN)
        .env("PANELIST__PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("PANELIST__SYNC__ENABLED", "false")
        .env("PANELIST__BOTS__ENABLED", "false")
        .env("PANELIST__GREENHOUSE__HARVEST_BASE_URL", fake.base_url())
        .env("PANELIST__GREENHOUSE__TOKEN_URL", fake.token_url())
        // Everything that could be logged, is.
        .env("PANELIST__LOG__LEVEL", "debug")
        .env("PANELIST__LOG__FORMAT", "json")
        .env_remove("RUST_LOG");
}

#[test]
fn no_secret_reaches_pages_api_responses_or_logs() {
    let fake = FakeGreenhouse::start(FakeConfig {
        v3_clients: vec![(CLIENT_ID.into(), CLIENT_SECRET.into())],
        v1_api_keys: vec![API_KEY.into()],
        ..FakeConfig::default()
    })
    .unwrap();
    fake.upsert_user(&User {
        id: 777,
        name: Some("Panelist Notetaker".into()),
        primary_email_address: Some(EMAIL.into()),
        ..Default::default()
    });
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = data.path().join("serve.log");

    // The first admin, from the command line, with the password on stdin.
    let mut create = Command::new(env!("CARGO_BIN_EXE_panelist"));
    env(&mut create, data.path(), port, &fake);
    let mut child = create
        .args([
            "admin",
            "create",
            "--email",
            "ana@acme.example",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{ADMIN_PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut captured =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);

    let log = std::fs::File::create(&log_path).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_panelist"));
    env(&mut serve, data.path(), port, &fake);
    let server = Serve(
        serve
            .arg("serve")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = Client::builder()
        .redirect(Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while http.get(format!("{base}/healthz")).send().is_err() {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Sign in, and a wrong password too (its text must not be logged either).
    let wrong = http
        .post(format!("{base}/login"))
        .form(&[
            ("email", "ana@acme.example"),
            ("password", "Wrong-Guess-Pz01"),
        ])
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let res = http
        .post(format!("{base}/login"))
        .form(&[("email", "ana@acme.example"), ("password", ADMIN_PASSWORD)])
        .send()
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let session_token = cookie.split('=').nth(1).unwrap().to_string();
    let page = http
        .get(format!("{base}/settings/bots"))
        .header(COOKIE, &cookie)
        .send()
        .unwrap()
        .text()
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();

    let post = |path: &str, fields: &[(&str, &str)]| {
        let mut f = fields.to_vec();
        f.push(("csrf", &csrf));
        let res = http
            .post(format!("{base}{path}"))
            .header(COOKIE, &cookie)
            .form(&f)
            .send()
            .unwrap();
        assert!(
            res.status().is_redirection() || res.status().is_success(),
            "{path}: {}",
            res.status()
        );
    };
    // v1 first (the key is stored, sealed), then v3, which Update checks against the fake.
    post(
        "/settings/integrations",
        &[
            ("api_version", "v1"),
            ("api_key", API_KEY),
            ("integration_user_email", EMAIL),
        ],
    );
    post(
        "/settings/integrations",
        &[
            ("api_version", "v3"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("webhook_secret", WEBHOOK_SECRET),
        ],
    );
    post("/settings/integrations/verify", &[]);
    post("/settings/integrations/sync", &[]);
    // A wrong client secret makes Update fail: the error shown must not echo what was typed.
    post(
        "/settings/integrations",
        &[("client_secret", "Typo-Secret-Vv0")],
    );
    post("/settings/integrations/verify", &[]);
    post(
        "/settings/integrations",
        &[("client_secret", CLIENT_SECRET)],
    );
    post("/settings/integrations/verify", &[]);

    // Webhooks: one signed, one forged.
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/greenhouse/webhook_candidate_stage_change.json"
    ))
    .unwrap();
    let signed = http
        .post(format!("{base}/webhooks/greenhouse"))
        .header(
            "Signature",
            panelist::webhooks::sign(WEBHOOK_SECRET.as_bytes(), &body),
        )
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .unwrap();
    assert!(signed.status().is_success(), "{}", signed.status());
    let forged = http
        .post(format!("{base}/webhooks/greenhouse"))
        .header("Signature", "sha256 0000")
        .body(body)
        .send()
        .unwrap();
    assert_eq!(forged.status(), 401);
    std::thread::sleep(Duration::from_secs(2));

    // Every page, fragment and API answer.
    let mut seen = String::new();
    for path in panelist::dashboard::GUARDED_GETS {
        let res = http
            .get(format!("{base}{path}"))
            .header(COOKIE, &cookie)
            .send()
            .unwrap();
        seen += &res.text().unwrap();
    }
    for path in [
        "/sync/status",
        "/sync/runs",
        "/webhooks/events",
        "/schedule",
        "/bots",
        "/notes",
    ] {
        let res = http
            .get(format!("{base}/api{path}"))
            .bearer_auth(API_TOKEN)
            .send()
            .unwrap();
        seen += &res.text().unwrap();
    }
    let integration = http
        .get(format!("{base}/api/settings/integration"))
        .bearer_auth(API_TOKEN)
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(integration.contains("Panelist Notetaker"), "{integration}");
    seen += &integration;
    seen += &http
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(seen.contains("Overview") && seen.contains("/webhooks/greenhouse"));

    drop(server);
    captured += &std::fs::read_to_string(&log_path).unwrap();
    assert!(
        captured.contains("integration settings saved"),
        "the log was captured"
    );
    for (what, secret) in [
        ("client secret", CLIENT_SECRET),
        ("mistyped client secret", "Typo-Secret-Vv0"),
        ("legacy API key", API_KEY),
        ("webhook secret", WEBHOOK_SECRET),
        ("admin password", ADMIN_PASSWORD),
        ("wrong password", "Wrong-Guess-Pz01"),
        ("API token", API_TOKEN),
        ("session token", session_token.as_str()),
        ("CSRF token", csrf.as_str()),
    ] {
        assert!(!captured.contains(secret), "the {what} is in the logs");
        if what != "CSRF token" {
            assert!(
                !seen.contains(secret),
                "the {what} is in a page or API response"
            );
        }
    }
}
