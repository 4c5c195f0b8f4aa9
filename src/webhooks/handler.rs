//! `POST /webhooks/greenhouse`: take a delivery, prove it came from Greenhouse, drop repeats,
//! persist it, hand it to the actor and answer 200, quickly: Greenhouse documents no timeout and
//! retries anything but a 200.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::StreamExt;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::actor::{ApplyEvent, WebhookActor};
use super::apply::{ParseError, Webhook};
use super::signature::{verify, SignatureError, SIGNATURE_HEADER};
use super::WebhookSecretSource;
use crate::config::WebhookSettings;
use crate::store::{DynStore, StoreError, WebhookEvent, WebhookEventStatus};

/// Where Greenhouse posts; the URL to paste into its webhook form ends with this.
pub const ROUTE: &str = "/webhooks/greenhouse";

/// Unique per delivery; a retry of the same delivery repeats it.
pub const EVENT_ID_HEADER: &str = "Greenhouse-Event-ID";

/// A longer `Greenhouse-Event-ID` is not one Greenhouse sent; it is not used as a store key.
const MAX_EVENT_ID_LEN: usize = 256;

/// What the handler needs, registered as `web::Data<WebhookState>`.
#[derive(Clone)]
pub struct WebhookState {
    /// The event log and de-duplication claims.
    pub store: DynStore,
    /// Asked per delivery, so a secret changed in the dashboard applies at once.
    pub secret: Arc<dyn WebhookSecretSource>,
    /// Applies events after the 200 has gone out.
    pub actor: Addr<WebhookActor>,
    /// Accepted events the actor's bounded mailbox could not take (left for its rescan).
    pub deferred: Arc<std::sync::atomic::AtomicU64>,
    pub settings: WebhookSettings,
}

/// Mounts the webhook route. The app must also register `web::Data<WebhookState>`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(ROUTE).route(web::post().to(receive)));
}

/// Why a delivery was refused. Each maps to the status Greenhouse should see: 4xx for a
/// delivery that is wrong, 503 for trouble on this side (Greenhouse retries those).
/// Messages never contain the secret or the signature.
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("could not read the body: {0}")]
    BodyRead(String),
    #[error("no webhook secret is configured in Panelist; enter the secret set in Greenhouse")]
    SecretNotConfigured,
    #[error("the webhook secret cannot be read now ({0}); retry later")]
    SecretUnavailable(String),
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("body is not UTF-8")]
    NotUtf8,
    #[error("JSON is nested deeper than the limit of {limit} levels")]
    TooDeep { limit: usize },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the event could not be recorded; retry later")]
    Store(#[source] StoreError),
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BodyRead(_)
            | IngestError::NotUtf8
            | IngestError::TooDeep { .. }
            | IngestError::Parse(_) => StatusCode::BAD_REQUEST,
            IngestError::SecretNotConfigured
            | IngestError::SecretUnavailable(_)
            | IngestError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::Signature(_) => StatusCode::UNAUTHORIZED,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

async fn receive(
    state: web::Data<WebhookState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, IngestError> {
    let result = ingest(&state, &req, payload).await;
    match &result {
        Ok(_) => {}
        Err(IngestError::Store(e)) => {
            tracing::error!(error = %e, "webhook refused: event log unavailable")
        }
        Err(e) => {
            if let (IngestError::TooLarge { .. }, Some(limits)) = (
                e,
                req.app_data::<web::Data<crate::http::limits::RequestLimits>>(),
            ) {
                limits
                    .refused
                    .count(crate::http::limits::Refused::BodyTooLarge);
            }
            tracing::warn!(reason = %e, status = e.status_code().as_u16(), "webhook refused");
            let refusal = Refusal {
                at: chrono::Utc::now(),
                status: e.status_code().as_u16(),
                reason: e.to_string(),
            };
            if let Err(e) = record_refusal(&state.store, refusal).await {
                tracing::warn!(error = %e, "cannot record the refused webhook for the dashboard");
            }
        }
    }
    result
}

/// A delivery refused before it reached the event log (bad signature, malformed body, too large),
/// kept for the dashboard's webhook log. Only the reason, never the body or headers.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub at: chrono::DateTime<chrono::Utc>,
    pub status: u16,
    pub reason: String,
}

const REFUSALS_KEPT: usize = 20;

async fn record_refusal(
    store: &crate::store::DynStore,
    refusal: Refusal,
) -> Result<(), crate::store::StoreError> {
    // Read-modify-write without a lock: two refusals at the same instant may keep only one here;
    // the log and the counter in /metrics still have both.
    let mut list = recent_refusals(store).await?;
    list.insert(0, refusal);
    list.truncate(REFUSALS_KEPT);
    store
        .kv_put("webhooks", "refused", &serde_json::to_vec(&list)?, None)
        .await
}

/// The last refused deliveries, newest first.
pub async fn recent_refusals(
    store: &crate::store::DynStore,
) -> Result<Vec<Refusal>, crate::store::StoreError> {
    Ok(match store.kv_get("webhooks", "refused").await? {
        Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        None => Vec::new(),
    })
}

async fn ingest(
    state: &WebhookState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, IngestError> {
    let body = read_limited(req, payload, state.settings.body_limit_bytes).await?;
    authenticate(state, req, &body).await?;

    // Greenhouse sends JSON, hence UTF-8; the log keeps the body as text, byte for byte.
    let text = std::str::from_utf8(&body).map_err(|_| IngestError::NotUtf8)?;
    if let Some(limits) = req.app_data::<web::Data<crate::http::limits::RequestLimits>>() {
        let limit = limits.settings.json_depth;
        if crate::http::limits::json_depth(&body, limit) > limit {
            limits
                .refused
                .count(crate::http::limits::Refused::JsonTooDeep);
            return Err(IngestError::TooDeep { limit });
        }
    }
    let webhook = Webhook::parse(text)?;

    let event_id = delivery_id(req).unwrap_or_else(|| {
        // Named by its content: the same signed body sent again without an id (a replay, or a
        // sender that omits the header) is then a duplicate rather than a second event.
        let id = format!("body-{}", hex::encode(Sha256::digest(&body)));
        tracing::info!(event_id = %id, action = %webhook.action, "webhook without {EVENT_ID_HEADER}; named by its body's hash");
        id
    });
    let event = WebhookEvent {
        id: event_id.clone(),
        action: webhook.action.clone(),
        received_at: Utc::now(),
        body: text.to_string(),
        status: WebhookEventStatus::Pending,
        attempts: 0,
        last_error: None,
        applied_at: None,
        outcome: None,
    };
    let ttl = Duration::from_secs(state.settings.dedup_ttl_secs);
    // Claim and log in one atomic step: a failure leaves nothing claimed, so Greenhouse's
    // retry of this delivery is accepted, and a repeat delivery changes nothing.
    let fresh = state
        .store
        .record_webhook_delivery(&event, ttl)
        .await
        .map_err(IngestError::Store)?;
    if !fresh {
        tracing::info!(event_id = %event_id, action = %webhook.action, "duplicate webhook delivery dropped");
        return Ok(HttpResponse::Ok().json(serde_json::json!({
            "status": "duplicate",
            "event_id": event_id,
        })));
    }

    let bytes = event.body.len();
    notify_actor(state, event);
    tracing::info!(event_id = %event_id, action = %webhook.action, bytes, "webhook accepted");
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "status": "accepted",
        "event_id": event_id,
    })))
}

/// Reads the body, refusing it once it passes `limit`: up front from `Content-Length`, and
/// while streaming for chunked bodies or a lying header.
async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, IngestError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(IngestError::TooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(8 * 1024).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| IngestError::BodyRead(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Checks the signature on the raw bytes.
///
/// Greenhouse does not document whether its `ping` is signed, and a failed ping creates the
/// webhook disabled. So an unsigned body is let through only when it is a ping, whose sole
/// effect is a ping record; everything else needs a valid signature.
async fn authenticate(
    state: &WebhookState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(), IngestError> {
    let Some(header) = req.headers().get(SIGNATURE_HEADER) else {
        let is_ping = std::str::from_utf8(body)
            .ok()
            .and_then(|text| Webhook::parse(text).ok())
            .is_some_and(|webhook| webhook.action == "ping");
        if is_ping {
            tracing::warn!("accepting an unsigned ping (Greenhouse may not sign pings)");
            return Ok(());
        }
        return Err(SignatureError::Missing.into());
    };
    let secret = state
        .secret
        .webhook_secret()
        .await
        .map_err(IngestError::SecretUnavailable)?
        .filter(|s| !s.expose_secret().is_empty())
        .ok_or(IngestError::SecretNotConfigured)?;
    let header = header.to_str().map_err(|_| SignatureError::Malformed)?;
    verify(secret.expose_secret().as_bytes(), body, Some(header))?;
    Ok(())
}

fn delivery_id(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(EVENT_ID_HEADER)?;
    match value.to_str().map(str::trim) {
        Ok(id) if !id.is_empty() && id.len() <= MAX_EVENT_ID_LEN => Some(id.to_string()),
        _ => {
            tracing::warn!("ignoring an unusable {EVENT_ID_HEADER} header");
            None
        }
    }
}

fn notify_actor(state: &WebhookState, event: WebhookEvent) {
    let event_id = event.id.clone();
    let message = ApplyEvent {
        event_id: event.id.clone(),
        recorded: Some(Box::new(event)),
    };
    match state.actor.try_send(message) {
        Ok(()) => {}
        // The event is already in the log, so a full mailbox (a burst larger than it) only delays
        // it until the actor's next rescan; memory stays bounded and the delay is counted.
        Err(actix::dev::SendError::Full(_)) => {
            state
                .deferred
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(event_id = %event_id, "webhook apply queue full; the event waits in the log for the next rescan");
        }
        Err(actix::dev::SendError::Closed(_)) => {
            tracing::error!(event_id = %event_id, "webhook actor is not running; event left for recovery")
        }
    }
}
