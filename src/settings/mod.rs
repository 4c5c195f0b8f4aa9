//! Integration settings: the stored model, secret sealing, and the service behind
//! Settings → Integrations.

pub mod crypto;
mod model;
mod service;

pub use crypto::DataKey;
pub use model::{ApiVersion, IntegrationSettings, Sealed};
pub use service::{
    IntegrationService, SettingsError, SettingsUpdate, SettingsView, WEBHOOKS_TO_CREATE,
};
