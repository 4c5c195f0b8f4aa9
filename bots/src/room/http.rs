//! The room's two WHEP routes on a bare hyper server: POST an offer, DELETE a session.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use hyper::{Method, Request, Response, StatusCode};

use super::Shared;

type Reply = Response<Full<Bytes>>;

pub async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    Ok(route(&shared, req).await)
}

async fn route(shared: &Arc<Shared>, req: Request<Incoming>) -> Reply {
    let base = format!("/whep/{}", shared.config.name);
    let path = req.uri().path().to_owned();
    if !authorized(shared, &req) {
        return status(StatusCode::UNAUTHORIZED);
    }
    match (req.method(), path.strip_prefix(&base)) {
        (&Method::POST, Some("")) => post(shared, req, &base).await,
        (&Method::DELETE, Some(rest)) => match rest
            .strip_prefix("/sessions/")
            .and_then(|id| id.parse().ok())
        {
            Some(id) if shared.delete(id).await => status(StatusCode::OK),
            _ => status(StatusCode::NOT_FOUND),
        },
        (_, Some(_)) => status(StatusCode::METHOD_NOT_ALLOWED),
        _ => status(StatusCode::NOT_FOUND),
    }
}

async fn post(shared: &Arc<Shared>, req: Request<Incoming>, base: &str) -> Reply {
    let (refuse, delay) = shared.behaviour();
    if let Some(code) = refuse {
        shared.update_stats(|s| s.refused += 1);
        return status(StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE));
    }
    let is_sdp = req
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/sdp"));
    if !is_sdp {
        return status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let offer = match req.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match shared.create(offer).await {
        Ok((id, answer)) => Response::builder()
            .status(StatusCode::CREATED)
            .header(CONTENT_TYPE, "application/sdp")
            .header(LOCATION, format!("{base}/sessions/{id}"))
            .body(Full::new(Bytes::from(answer)))
            .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR)),
        Err(e) => {
            tracing::warn!(error = %e, "room could not answer");
            status(StatusCode::BAD_REQUEST)
        }
    }
}

fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(token) = &shared.config.token else {
        return true;
    };
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t == token)
}

fn status(code: StatusCode) -> Reply {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}
