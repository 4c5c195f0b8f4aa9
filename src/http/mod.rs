//! The HTTP surface: health and readiness, the admin JSON API under `/api/`, and route wiring.
//! Webhooks live in `crate::webhooks`; this module only mounts them.

mod api;
mod auth;
mod error;
mod health;
pub mod limits;
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
    /// Opens sealed recordings for playback (current key first, then retired ones).
    pub recording_keys: Vec<panelist_bots::recorder::RecordingKey>,
    /// Seals the consent links' signing key in the store.
    pub data_key: crate::settings::DataKey,
    pub transcriber: Option<actix::Addr<crate::transcribe::TranscriberActor>>,
    pub poster: actix::Addr<crate::poster::GreenhousePosterActor>,
    pub settings: std::sync::Arc<crate::config::Settings>,
    pub users: crate::auth::Users,
    pub sessions: crate::auth::Sessions,
    pub throttle: crate::auth::LoginThrottle,
    pub setup: crate::auth::SetupLink,
    pub registry: std::sync::Arc<panelist_bots::ConnectorRegistry>,
    /// Why bots or notes are off on this replica (shown on the dashboard).
    pub bots_off: Option<String>,
    pub notes_off: Option<String>,
    /// Request limits and their refusal counters (for `/metrics`).
    pub limits: limits::RequestLimits,
}

/// Health, metrics and the JSON API. The dashboard's pages are mounted by `crate::dashboard`,
/// last, because its guarded scope catches every path not matched before it.
impl AppState {
    /// Deletes a candidate's data from the store and this replica's data directory.
    pub fn purger(&self) -> crate::privacy::Purger {
        crate::privacy::Purger::new(self.store.clone(), self.settings.data_dir.clone())
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    use crate::dashboard::guard;
    use actix_web::middleware::from_fn;
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .service(
            web::resource("/metrics")
                .wrap(from_fn(guard::any_principal))
                .route(web::get().to(metrics::metrics)),
        )
        .service(
            web::scope("/api")
                // Runs after the guard (wrap order is inside-out): strangers' bodies are not read.
                .wrap(from_fn(limits::json_within))
                .wrap(from_fn(guard::api))
                .configure(api::configure),
        );
}
