//! Request limits on a running server: oversized and deeply nested bodies, too many or too large
//! headers, oversized forms, a client that never finishes its request head, and a Redis that
//! accepts connections but never answers. Each is refused with a clear error (and counted in
//! `/metrics`), nothing is stored, and the server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{spawn_app_with, Backend};
use panelist::fake_greenhouse::FakeConfig;
use panelist::store::RedisStore;
use panelist::webhooks::{sign, SIGNATURE_HEADER};
use reqwest::Method;
use serde_json::{json, Value};

const SECRET: &str = "limits-webhook-secret";

fn nested(depth: usize) -> String {
    // {"a":{"a":...{"a":1}...}}
    let mut s = String::new();
    for _ in 0..depth {
        s.push_str("{\"a\":");
    }
    s.push('1');
    for _ in 0..depth {
        s.push('}');
    }
    s
}

async fn refused_count(app: &common::TestApp, reason: &str) -> u64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let needle = format!("panelist_http_refused_total{{reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&needle))
        .unwrap_or_else(|| panic!("no {needle} in /metrics:\n{text}"))
        .parse::<f64>()
        .unwrap() as u64
}

async fn error_of(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[actix_web::test]
async fn oversized_and_deeply_nested_bodies_are_refused_and_counted() {
    let app = spawn_app_with(Backend::Embedded, FakeConfig::default(), &[]).await;
    let res = app
        .api(Method::PUT, "/settings/integration")
        .json(&json!({"webhook_secret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // API: a body over server.limits.json_body_bytes (64 KiB).
    let big = json!({"client_id": "x".repeat(70_000)});
    let (status, error) = error_of(
        app.api(Method::PUT, "/settings/integration")
            .json(&big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 413, "{error}");
    assert!(error.contains("65536 bytes"), "{error}");

    // API: nesting past server.limits.json_depth (32), although tiny.
    let deep = format!(r#"{{"client_id": "c", "extra": {}}}"#, nested(40));
    let (status, error) = error_of(
        app.api(Method::PUT, "/settings/integration")
            .header("content-type", "application/json")
            .body(deep)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error.contains("nested deeper than the limit of 32"),
        "{error}"
    );
    // Neither changed the settings.
    let view: Value = app
        .api(Method::GET, "/settings/integration")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(view["client_id"], "c", "{view}");

    // Webhooks: a correctly signed but absurdly nested body is refused before parsing and is not
    // recorded; a body over webhooks.body_limit_bytes too.
    let body = format!(r#"{{"action": "ping", "payload": {}}}"#, nested(50));
    let res = app
        .http
        .post(format!("{}/webhooks/greenhouse", app.address))
        .header(SIGNATURE_HEADER, sign(SECRET.as_bytes(), body.as_bytes()))
        .header("Greenhouse-Event-ID", "deep-1")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(res).await;
    assert_eq!(status, 400, "{error}");
    assert!(error.contains("nested deeper"), "{error}");
    let huge = "x".repeat(app.settings.webhooks.body_limit_bytes + 1);
    let res = app
        .http
        .post(format!("{}/webhooks/greenhouse", app.address))
        .header(SIGNATURE_HEADER, sign(SECRET.as_bytes(), huge.as_bytes()))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let events: Value = app
        .api(Method::GET, "/webhooks/events")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events.as_array().map(Vec::len), Some(0), "{events}");

    // Dashboard forms (the public login form here): over server.limits.form_body_bytes.
    let res = app
        .http
        .post(format!("{}/login", app.address))
        .form(&[
            ("email", "a@b.example".to_string()),
            ("password", "p".repeat(20_000)),
        ])
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(res).await;
    assert_eq!(status, 413, "{error}");
    assert!(error.contains("16384 bytes"), "{error}");

    assert_eq!(refused_count(&app, "body_too_large").await, 3);
    assert_eq!(refused_count(&app, "json_too_deep").await, 2);

    // Still serving: a normal API call works.
    let res = app
        .api(Method::PUT, "/settings/integration")
        .json(&json!({"client_id": "ok-client"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

#[actix_web::test]
async fn too_many_or_too_large_headers_get_431() {
    let app = spawn_app_with(Backend::Embedded, FakeConfig::default(), &[]).await;
    let mut req = app.http.get(format!("{}/healthz", app.address));
    for i in 0..80 {
        req = req.header(format!("x-filler-{i}"), "1");
    }
    let (status, error) = error_of(req.send().await.unwrap()).await;
    assert_eq!(status, 431, "{error}");
    assert!(error.contains("the limits are 64 headers"), "{error}");

    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .header("x-big", "y".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 431);
    assert_eq!(refused_count(&app, "headers_too_large").await, 2);

    let res = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

/// A client that opens a connection and never finishes its request head is cut off after
/// `server.request_head_timeout_ms`, instead of holding the connection (and a slot) forever.
#[actix_web::test]
async fn a_request_head_that_never_ends_is_cut_off() {
    let app = spawn_app_with(
        Backend::Embedded,
        FakeConfig::default(),
        &[("PANELIST__SERVER__REQUEST_HEAD_TIMEOUT_MS", "1000")],
    )
    .await;
    let port = app.port;
    let answer = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // Far longer than the limit: the server must act first.
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = Vec::new();
        let read = conn.read_to_end(&mut buf);
        (
            read.map_err(|e| e.kind()),
            String::from_utf8_lossy(&buf).into_owned(),
        )
    })
    .await
    .unwrap();
    let (read, text) = answer;
    assert!(
        read.is_ok(),
        "the server kept the half-sent request open: {read:?}"
    );
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "unexpected answer to a half-sent request: {text}"
    );
    app.shutdown().await;
}

/// A Redis that accepts the connection and then says nothing (a hung server, a black-holed
/// network) gives an error after `store.redis_timeout_ms`, not a request that waits forever.
#[actix_web::test]
async fn a_redis_that_never_answers_gives_an_error_not_a_hang() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        listener.set_nonblocking(false).unwrap();
        while let Ok((c, _)) = listener.accept() {
            conns.push(c);
            if conns.len() > 20 {
                break;
            }
        }
    });
    let url = format!("redis://127.0.0.1:{port}");
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        RedisStore::connect_with_timeout(&url, "limits", Duration::from_millis(300)),
    )
    .await
    .expect("connect gave up by itself");
    let err = outcome.err().expect("a silent Redis is an error");
    assert!(!err.to_string().is_empty());
    drop(held);
}
