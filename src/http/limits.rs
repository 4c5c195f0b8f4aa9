//! Limits on what one HTTP client may send: header count and size, body size per kind of body, and
//! JSON nesting depth. Every refusal is a clear JSON error with the limit in it, is logged, and is
//! counted for `/metrics` (`panelist_http_refused_total{reason}`), so a limit set too low shows up
//! instead of silently failing deliveries.
//!
//! Actix already caps the request head it will parse at all (96 headers, 128 KiB); these are the
//! tighter, configurable limits a deployment actually runs with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::{JsonPayloadError, PayloadError, UrlencodedError};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage, HttpRequest, HttpResponse};
use futures::StreamExt;

use crate::config::RequestLimitSettings;

/// Why a request was refused before any handler saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    HeadersTooLarge,
    BodyTooLarge,
    JsonTooDeep,
    BadBody,
}

impl Refused {
    pub const ALL: [Refused; 4] = [
        Refused::HeadersTooLarge,
        Refused::BodyTooLarge,
        Refused::JsonTooDeep,
        Refused::BadBody,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Refused::HeadersTooLarge => "headers_too_large",
            Refused::BodyTooLarge => "body_too_large",
            Refused::JsonTooDeep => "json_too_deep",
            Refused::BadBody => "bad_body",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refused::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refused::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::JsonTooDeep | Refused::BadBody => StatusCode::BAD_REQUEST,
        }
    }
}

/// Refusals since start, by reason (this replica).
#[derive(Debug, Default)]
pub struct RefusalCounters {
    counts: [AtomicU64; 4],
}

impl RefusalCounters {
    pub fn count(&self, why: Refused) {
        self.counts[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, why: Refused) -> u64 {
        self.counts[why as usize].load(Ordering::Relaxed)
    }
}

/// The limits in force and their counters, registered as app data.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    pub settings: RequestLimitSettings,
    pub refused: Arc<RefusalCounters>,
}

impl RequestLimits {
    pub fn new(settings: RequestLimitSettings) -> Self {
        RequestLimits {
            settings,
            refused: Arc::new(RefusalCounters::default()),
        }
    }

    /// Counts and logs a refusal and builds its response.
    pub fn refuse(&self, why: Refused, path: &str, detail: &str) -> HttpResponse {
        self.refused.count(why);
        tracing::warn!(reason = why.label(), path, detail, "request refused");
        HttpResponse::build(why.status()).json(serde_json::json!({ "error": detail }))
    }

    /// Size limits and error bodies for actix's JSON, form and raw-body extractors.
    pub fn extractor_configs(&self, cfg: &mut web::ServiceConfig) {
        let json = self.clone();
        let form = self.clone();
        let s = &self.settings;
        cfg.app_data(
            web::JsonConfig::default()
                .limit(s.json_body_bytes)
                .error_handler(move |e, req| json_error(&json, e, req)),
        )
        .app_data(
            web::FormConfig::default()
                .limit(s.form_body_bytes)
                .error_handler(move |e, req| form_error(&form, e, req)),
        )
        .app_data(web::PayloadConfig::new(s.json_body_bytes));
    }
}

fn json_error(limits: &RequestLimits, e: JsonPayloadError, req: &HttpRequest) -> Error {
    // No JSON at all is not a refusal: an `Option<Json<_>>` handler treats it as no body.
    if matches!(e, JsonPayloadError::ContentType) {
        return e.into();
    }
    let (why, detail) = match &e {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => (
            Refused::BodyTooLarge,
            format!(
                "JSON body is larger than the limit of {} bytes",
                limits.settings.json_body_bytes
            ),
        ),
        _ => (Refused::BadBody, format!("invalid JSON body: {e}")),
    };
    let res = limits.refuse(why, req.path(), &detail);
    actix_web::error::InternalError::from_response(e, res).into()
}

fn form_error(limits: &RequestLimits, e: UrlencodedError, req: &HttpRequest) -> Error {
    let (why, detail) = match &e {
        UrlencodedError::Overflow { .. } => (
            Refused::BodyTooLarge,
            format!(
                "form is larger than the limit of {} bytes",
                limits.settings.form_body_bytes
            ),
        ),
        _ => (Refused::BadBody, format!("invalid form: {e}")),
    };
    let res = limits.refuse(why, req.path(), &detail);
    actix_web::error::InternalError::from_response(e, res).into()
}

/// The deepest nesting of objects and arrays in `json`, stopping once it passes `max` (so a
/// hostile body costs one pass at most). Brackets inside strings do not count. The text need not be
/// valid JSON: this runs before the parser, which reports anything else.
pub fn json_depth(json: &[u8], max: usize) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > deepest {
                    deepest = depth;
                    if deepest > max {
                        return deepest;
                    }
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Middleware for the whole app: refuses a request with too many or too large headers (431).
pub async fn headers_within(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(limits) = req.app_data::<web::Data<RequestLimits>>() {
        let headers = req.headers();
        let count = headers.len();
        let bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum();
        let s = &limits.settings;
        if count > s.max_headers || bytes > s.header_bytes {
            let detail = format!(
                "request headers are too large ({count} headers, {bytes} bytes; the limits are {} headers and {} bytes)",
                s.max_headers, s.header_bytes
            );
            let res = limits.refuse(Refused::HeadersTooLarge, req.path(), &detail);
            return Ok(req.into_response(res));
        }
    }
    next.call(req).await.map(|res| res.map_into_boxed_body())
}

/// Middleware for JSON endpoints: reads a JSON body within the limit and refuses one nested
/// deeper than `json_depth`, then hands the body on to the handler's extractor.
pub async fn json_within(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("json"));
    let limits = req.app_data::<web::Data<RequestLimits>>().cloned();
    if let (true, Some(limits)) = (is_json, limits) {
        let s = &limits.settings;
        let body = match read_body(&mut req, s.json_body_bytes).await {
            Ok(body) => body,
            Err(why) => {
                let detail = match why {
                    Refused::BodyTooLarge => format!(
                        "JSON body is larger than the limit of {} bytes",
                        s.json_body_bytes
                    ),
                    _ => "could not read the request body".to_string(),
                };
                let res = limits.refuse(why, req.path(), &detail);
                return Ok(req.into_response(res));
            }
        };
        if json_depth(&body, s.json_depth) > s.json_depth {
            let detail = format!(
                "JSON is nested deeper than the limit of {} levels",
                s.json_depth
            );
            let res = limits.refuse(Refused::JsonTooDeep, req.path(), &detail);
            return Ok(req.into_response(res));
        }
        req.set_payload(Payload::from(body));
    }
    next.call(req).await.map(|res| res.map_into_boxed_body())
}

async fn read_body(req: &mut ServiceRequest, limit: usize) -> Result<bytes::Bytes, Refused> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(Refused::BodyTooLarge);
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(4096).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e: PayloadError| {
            tracing::debug!(error = %e, "request body read failed");
            Refused::BadBody
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Refused::BodyTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_nesting_not_brackets_in_strings() {
        assert_eq!(json_depth(b"1", 10), 0);
        assert_eq!(json_depth(br#"{"a": [1, {"b": 2}]}"#, 10), 3);
        assert_eq!(json_depth(br#"{"a": "[[[[{{{{"}"#, 10), 1);
        assert_eq!(json_depth(br#"{"a": "\"[[[["}"#, 10), 1);
        assert_eq!(json_depth(br#"[[],[],[[]]]"#, 10), 3);
    }

    #[test]
    fn depth_stops_early_past_the_limit() {
        let deep = "[".repeat(100_000);
        assert_eq!(json_depth(deep.as_bytes(), 32), 33);
    }

    #[test]
    fn unbalanced_closers_do_not_underflow() {
        assert_eq!(json_depth(b"]]]]{", 10), 1);
    }
}
