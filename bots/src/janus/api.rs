//! The Janus HTTP API: sessions, plugin handles, messages, keepalives and the long poll for events.
//!
//! Every request is a JSON POST carrying a `janus` verb and a transaction id; plugin requests that take time
//! (join, start, subscribe) are only acknowledged here and answered later on the long poll.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

use super::events::Jsep;
use crate::call::{BearerToken, JoinError, JoinStage};
use crate::netpolicy::{refusal_in, GuardedHttp, UrlRefused};

/// Janus answers a long poll with a keepalive after 30 s without events; wait a little longer than that.
const POLL_TIMEOUT: Duration = Duration::from_secs(45);
/// Events fetched per long poll, so a burst (renegotiation plus notifications) costs one round trip.
const POLL_BATCH: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("could not reach Janus: {0}")]
    Transport(String),
    #[error("Janus did not answer in time")]
    Timeout,
    #[error("Janus answered HTTP {0}")]
    Http(u16),
    /// A core or plugin error, with Janus's own code (458: no such session, 426: no such room, ...).
    #[error("Janus error {code}: {reason}")]
    Janus { code: i64, reason: String },
    #[error("unexpected reply from Janus: {0}")]
    BadReply(String),
    /// The network policy refused the request (the API URL or a redirect); nothing was sent there.
    #[error("not allowed: {0}")]
    UrlNotAllowed(#[from] UrlRefused),
}

/// Core error: the session expired or the server restarted.
pub const SESSION_NOT_FOUND: i64 = 458;
/// Core error: the server is shutting down and takes no new sessions.
const NOT_ACCEPTING_SESSIONS: i64 = 472;

impl ApiError {
    /// Whether the same request may work later.
    pub fn is_retryable(&self) -> bool {
        match self {
            ApiError::Transport(_) | ApiError::Timeout => true,
            ApiError::Http(s) => *s >= 500 || matches!(s, 408 | 429),
            ApiError::Janus { code, .. } => {
                matches!(*code, SESSION_NOT_FOUND | NOT_ACCEPTING_SESSIONS)
            }
            ApiError::BadReply(_) | ApiError::UrlNotAllowed(_) => false,
        }
    }

    pub fn into_join_error(self) -> JoinError {
        match self {
            ApiError::Transport(e) => JoinError::Transport(e),
            ApiError::Timeout => JoinError::Timeout {
                stage: JoinStage::Signalling,
            },
            ApiError::Http(s) => JoinError::from_status(s),
            ApiError::Janus { code, reason } => JoinError::Rejected {
                retryable: matches!(code, SESSION_NOT_FOUND | NOT_ACCEPTING_SESSIONS),
                reason: format!("Janus {code}: {reason}"),
            },
            ApiError::BadReply(e) => JoinError::BadAnswer(e),
            ApiError::UrlNotAllowed(e) => JoinError::UrlNotAllowed(e),
        }
    }

    fn from_reqwest(e: reqwest::Error) -> Self {
        if let Some(refused) = refusal_in(&e) {
            ApiError::UrlNotAllowed(refused)
        } else if e.is_timeout() {
            ApiError::Timeout
        } else {
            ApiError::Transport(e.to_string())
        }
    }
}

/// One Janus server as seen by one call: the API root, the token and the request limit.
#[derive(Debug, Clone)]
pub struct JanusApi {
    http: GuardedHttp,
    base: Url,
    token: Option<BearerToken>,
    timeout: Duration,
}

/// A created session; its id is the path segment every later request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId(pub u64);

/// A plugin handle within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandleId(pub u64);

impl JanusApi {
    pub fn new(
        http: GuardedHttp,
        base: Url,
        token: Option<BearerToken>,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            base,
            token,
            timeout,
        }
    }

    /// The API root this talks to.
    pub fn base(&self) -> &Url {
        &self.base
    }

    pub async fn create_session(&self) -> Result<SessionId, ApiError> {
        let reply = self
            .post(self.base.clone(), json!({"janus": "create"}))
            .await?;
        id_in(&reply).map(SessionId)
    }

    pub async fn attach(&self, session: SessionId, plugin: &str) -> Result<HandleId, ApiError> {
        let reply = self
            .post(
                self.session_url(session),
                json!({"janus": "attach", "plugin": plugin}),
            )
            .await?;
        id_in(&reply).map(HandleId)
    }

    /// Sends a plugin request; returns the transaction id, which the answer on the long poll carries, and
    /// the plugin's data when it answered at once (synchronous requests such as `listparticipants`).
    pub async fn message(
        &self,
        session: SessionId,
        handle: HandleId,
        body: Value,
        jsep: Option<Jsep>,
    ) -> Result<(String, Option<Value>), ApiError> {
        let mut req = json!({"janus": "message", "body": body});
        if let Some(j) = jsep {
            req["jsep"] = json!({"type": j.kind, "sdp": j.sdp});
        }
        let transaction = next_transaction();
        req["transaction"] = Value::from(transaction.as_str());
        let reply = self.post_raw(self.handle_url(session, handle), req).await?;
        let data = reply.pointer("/plugindata/data").cloned();
        if let Some(d) = &data {
            if let Some(code) = d.get("error_code").and_then(Value::as_i64) {
                return Err(ApiError::Janus {
                    code,
                    reason: d
                        .get("error")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                });
            }
        }
        Ok((transaction, data))
    }

    /// Tells Janus the session is still in use; without a request for `session_timeout` (60 s by default)
    /// it is destroyed.
    pub async fn keepalive(&self, session: SessionId) -> Result<(), ApiError> {
        self.post(self.session_url(session), json!({"janus": "keepalive"}))
            .await
            .map(drop)
    }

    /// Ends the session: Janus detaches every handle, which leaves the room and closes the PeerConnection.
    pub async fn destroy(&self, session: SessionId) -> Result<(), ApiError> {
        self.post(self.session_url(session), json!({"janus": "destroy"}))
            .await
            .map(drop)
    }

    /// One long poll: waits for up to `POLL_BATCH` events (Janus sends a keepalive after 30 s of nothing).
    pub async fn poll(&self, session: SessionId) -> Result<Vec<Value>, ApiError> {
        let mut url = self.session_url(session);
        url.query_pairs_mut()
            .append_pair("maxev", &POLL_BATCH.to_string())
            // A fresh query each time keeps any cache between us and Janus out of the way.
            .append_pair("rid", &next_transaction());
        if let Some(t) = &self.token {
            url.query_pairs_mut().append_pair("token", t.expose());
        }
        let resp = self
            .http
            .request(Method::GET, url)?
            .timeout(POLL_TIMEOUT)
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        let value = read_json(resp).await?;
        let events = match value {
            Value::Array(a) => a,
            v => vec![v],
        };
        for e in &events {
            janus_error(e)?;
        }
        Ok(events)
    }

    fn session_url(&self, session: SessionId) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut seg) = u.path_segments_mut() {
            seg.pop_if_empty().push(&session.0.to_string());
        }
        u
    }

    fn handle_url(&self, session: SessionId, handle: HandleId) -> Url {
        let mut u = self.session_url(session);
        if let Ok(mut seg) = u.path_segments_mut() {
            seg.push(&handle.0.to_string());
        }
        u
    }

    async fn post(&self, url: Url, mut body: Value) -> Result<Value, ApiError> {
        body["transaction"] = Value::from(next_transaction());
        self.post_raw(url, body).await
    }

    async fn post_raw(&self, url: Url, mut body: Value) -> Result<Value, ApiError> {
        if let Some(t) = &self.token {
            body["token"] = Value::from(t.expose());
        }
        let resp = self
            .http
            .request(Method::POST, url)?
            .timeout(self.timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(ApiError::from_reqwest)?;
        let value = read_json(resp).await?;
        janus_error(&value)?;
        Ok(value)
    }
}

async fn read_json(resp: reqwest::Response) -> Result<Value, ApiError> {
    let status = resp.status();
    if !status.is_success() {
        return Err(ApiError::Http(status.as_u16()));
    }
    let bytes = resp.bytes().await.map_err(ApiError::from_reqwest)?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadReply(e.to_string()))
}

/// A core-level `{"janus": "error"}` reply as an error.
fn janus_error(v: &Value) -> Result<(), ApiError> {
    if v.get("janus").and_then(Value::as_str) != Some("error") {
        return Ok(());
    }
    Err(ApiError::Janus {
        code: v
            .pointer("/error/code")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        reason: v
            .pointer("/error/reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

fn id_in(reply: &Value) -> Result<u64, ApiError> {
    reply
        .pointer("/data/id")
        .and_then(Value::as_u64)
        .ok_or_else(|| ApiError::BadReply(format!("no data.id in {reply}")))
}

/// Transaction ids only need to be unique within a session; a process-wide counter is.
fn next_transaction() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("pnl{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_and_handle_urls_extend_the_base_path() {
        let api = JanusApi::new(
            GuardedHttp::new(crate::NetworkPolicy::default(), Duration::from_secs(1)).unwrap(),
            Url::parse("http://h:8088/janus").unwrap(),
            None,
            Duration::from_secs(1),
        );
        assert_eq!(
            api.session_url(SessionId(5)).as_str(),
            "http://h:8088/janus/5"
        );
        assert_eq!(
            api.handle_url(SessionId(5), HandleId(6)).as_str(),
            "http://h:8088/janus/5/6"
        );
    }

    #[test]
    fn only_transient_janus_errors_are_retryable() {
        let e = |code| ApiError::Janus {
            code,
            reason: String::new(),
        };
        assert!(e(SESSION_NOT_FOUND).is_retryable());
        assert!(!e(426).is_retryable());
        assert!(!e(403).is_retryable());
        assert!(ApiError::Http(503).is_retryable());
        assert!(!ApiError::Http(404).is_retryable());
        let join = e(426).into_join_error();
        assert!(!join.is_retryable(), "{join:?}");
        assert_eq!(join.code(), "rejected");
    }
}
