//! `/healthz` (the process serves) and `/readyz` (and its store answers).

use actix_web::{web, HttpResponse};

use super::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready", "store": state.store.backend() })),
        Err(e) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "not ready", "store": state.store.backend(), "error": e.to_string() })),
    }
}
