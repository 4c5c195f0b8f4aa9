//! Greenhouse webhooks: signature check, event log, and the WebhookActor that applies events.
//!
//! A delivery goes: [`handler`] (size limit, signature on the raw bytes, de-duplication by
//! `Greenhouse-Event-ID`, persisted as a pending [`WebhookEvent`](crate::store::WebhookEvent),
//! answered 200) → [`WebhookActor`] (maps it with the pure [`commands_for`] and carries the
//! commands out, retrying with backoff). An event is persisted before Greenhouse hears 200, so
//! a crash or a failure never loses it: it stays in the event log until applied or failed.

mod actor;
mod apply;
mod handler;
mod signature;

pub use actor::{
    apply_loaded, retry_delay, try_apply, ApplyEvent, StepError, StepOutcome, WebhookActor,
};
pub use apply::{commands_for, Command, MapError, ParseError, Webhook};
pub use handler::{
    configure, recent_refusals, IngestError, Refusal, WebhookState, EVENT_ID_HEADER, ROUTE,
};
pub use signature::{sign, verify, SignatureError, SIGNATURE_HEADER};

use async_trait::async_trait;
use secrecy::SecretString;

use crate::domain::Id;

/// Where the handler gets the signing secret. Asked on every delivery, so a secret changed in
/// the dashboard takes effect without a restart.
#[async_trait]
pub trait WebhookSecretSource: Send + Sync {
    /// The secret, or `None` when none is configured. The implementor decides precedence (the
    /// environment wins over the stored settings); an empty secret counts as none. An error (the
    /// store is down) is a reason Greenhouse should retry, not a missing secret.
    async fn webhook_secret(&self) -> Result<Option<SecretString>, String>;
}

/// Targeted refetches from Greenhouse, implemented by the sync module. Webhooks cannot tell
/// Panelist that an interview was scheduled or moved, so a candidate or stage change triggers
/// a refetch of the affected interviews.
#[async_trait]
pub trait Refresher: Send + Sync {
    /// `Ok(summary)` for the event log, or `Err(readable reason)`; an error is retried.
    async fn refresh_application(&self, application_id: Id) -> Result<String, String>;
    async fn refresh_candidate(&self, candidate_id: Id) -> Result<String, String>;
    /// A candidate as a webhook carried it (with the custom fields that are not stored), for
    /// consent recorded in Greenhouse. The default does nothing.
    async fn candidates_seen(&self, _candidates: &[crate::domain::Candidate]) {}
    /// Removes everything about a candidate (`Ok(summary)`, counts only). The default refuses, so
    /// an applier without access to the data directory never half-purges.
    async fn purge_candidate(
        &self,
        _candidate_id: Id,
        _applications: &[Id],
        _reason: &str,
    ) -> Result<String, String> {
        Err("purging is not available in this process".into())
    }
}

/// A fixed secret, for tests and tools.
pub struct StaticSecret(pub SecretString);

impl StaticSecret {
    pub fn new(secret: impl Into<String>) -> Self {
        StaticSecret(SecretString::from(secret.into()))
    }
}

#[async_trait]
impl WebhookSecretSource for StaticSecret {
    async fn webhook_secret(&self) -> Result<Option<SecretString>, String> {
        Ok(Some(self.0.clone()))
    }
}
