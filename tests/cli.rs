//! The `panelist` binary as an operator runs it: zero-config `serve`, graceful shutdown on
//! SIGTERM, every bad config key reported, and `panelist sync` against the fake Greenhouse.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panelist::domain::User;
use panelist::fake_greenhouse::{FakeConfig, FakeGreenhouse, GenSpec};

fn panelist() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_panelist"));
    // Start from a clean environment: nothing of the developer's PANELIST__* leaks in.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PANELIST")) {
        cmd.env_remove(k);
    }
    cmd.env("PANELIST__LOG__FORMAT", "json");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_with_nothing_configured_answers_health_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = panelist()
        .current_dir(dir.path())
        .env("PANELIST__SERVER__PORT", port.to_string())
        .env("PANELIST__SERVER__HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthy = loop {
        if let Ok(r) = reqwest::blocking::get(&url) {
            break r.status().is_success();
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(healthy, "/healthz never answered");
    // The embedded store and the generated files land in ./data by default.
    assert!(dir.path().join("data/panelist.redb").exists());
    assert!(dir.path().join("data/admin-token").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(35);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    let logs =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(exit.success(), "exit {exit:?}\n{logs}");
    assert!(logs.contains("shutting down"), "{logs}");
    // The generated admin token is never logged.
    let token = std::fs::read_to_string(dir.path().join("data/admin-token")).unwrap();
    assert!(!logs.contains(token.trim()), "token leaked into logs");
}

#[test]
fn every_bad_setting_is_reported_before_exit() {
    let out = panelist()
        .env("PANELIST__SERVER__PROT", "80")
        .env("PANELIST__SYNC__INTERVAL_SECS", "often")
        .env("PANELIST__GREENHOUSE__API_VERSION", "v2")
        .env("PANELIST__PUBLIC_URL", "nope")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in [
        "PANELIST__SERVER__PROT",
        "PANELIST__SYNC__INTERVAL_SECS",
        "api_version",
        "public_url",
    ] {
        assert!(err.contains(key), "{key} missing from:\n{err}");
    }
}

#[test]
fn sync_command_pulls_greenhouse_and_prints_a_summary() {
    let fake = FakeGreenhouse::start(FakeConfig::default()).unwrap();
    fake.upsert_user(&User {
        id: 3,
        primary_email_address: Some("ops@acme.example".into()),
        ..Default::default()
    });
    let generated = fake.seed_generated(GenSpec {
        candidates: 120,
        applications: 120,
        interviews: 30,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = panelist()
        .arg("sync")
        .env("PANELIST__DATA_DIR", dir.path())
        .env("PANELIST__GREENHOUSE__HARVEST_BASE_URL", fake.base_url())
        .env("PANELIST__GREENHOUSE__TOKEN_URL", fake.token_url())
        .env("PANELIST__GREENHOUSE__CLIENT_ID", "test-client")
        .env("PANELIST__GREENHOUSE__CLIENT_SECRET", "test-secret")
        .env(
            "PANELIST__GREENHOUSE__INTEGRATION_USER_EMAIL",
            "ops@acme.example",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Succeeded"), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("candidates"))
        .unwrap();
    assert!(
        line.ends_with(&generated.candidates.len().to_string()),
        "{line}"
    );
    assert!(!stdout.contains("test-secret"));

    // Greenhouse down: a clear failure and a non-zero exit.
    drop(fake);
    let out = panelist()
        .arg("sync")
        .env("PANELIST__DATA_DIR", dir.path())
        .env(
            "PANELIST__GREENHOUSE__HARVEST_BASE_URL",
            "http://127.0.0.1:9",
        )
        .env(
            "PANELIST__GREENHOUSE__TOKEN_URL",
            "http://127.0.0.1:9/token",
        )
        .env("PANELIST__GREENHOUSE__CLIENT_ID", "test-client")
        .env("PANELIST__GREENHOUSE__CLIENT_SECRET", "test-secret")
        .env("PANELIST__GREENHOUSE__MAX_RETRIES", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("error:"), "{stdout}");
}
