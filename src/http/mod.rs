//! The HTTP surface: health and readiness, the admin JSON API under `/api/`, and route wiring.
//! Webhooks live in `crate::webhooks`; this module only mounts them.

mod api;
mod auth;
mod error;
mod health;
mod metrics;

pub use auth::AdminToken;
pub use error::ApiError;

use actix_web::web;

/// Everything the handlers share, cloned into each worker.
#[derive(Clone)]
pub struct AppState {
    pub store: crate::store::DynStore,
    pub integration: crate::settings::IntegrationService,
    pub sync: actix::Addr<crate::sync::SyncActor>,
    pub admin_token: AdminToken,
    /// `None` when bots are off on this replica.
    pub supervisor: Option<actix::Addr<crate::supervisor::SupervisorActor>>,
    pub transcripts: crate::transcribe::TranscriptFiles,
    pub transcriber: Option<actix::Addr<crate::transcribe::TranscriberActor>>,
    pub poster: actix::Addr<crate::poster::GreenhousePosterActor>,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(metrics::metrics))
        .service(
            web::scope("/api")
                .wrap(actix_web::middleware::from_fn(auth::require_admin))
                .configure(api::configure),
        );
}
