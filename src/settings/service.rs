//! The integration settings flow: save, "Update" (verify against Greenhouse), and the effective
//! credentials the rest of Panelist uses. Values set in config or the environment win over
//! what the dashboard saved.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::crypto::{CryptoError, DataKey};
use super::{ApiVersion, IntegrationSettings};
use crate::config::Settings;
use crate::greenhouse::{ClientConfig, Credentials, GreenhouseClient, GreenhouseError};
use crate::store::{DynStore, StoreError};
use crate::webhooks::WebhookSecretSource;

/// The webhooks to create in Greenhouse (Configure → Dev Center → Web Hooks), by their UI names.
pub const WEBHOOKS_TO_CREATE: &[(&str, &str, bool)] = &[
    ("Job post updated", "job_post_updated", true),
    ("Job created", "job_created", true),
    ("Candidate or prospect updated", "update_candidate", true),
    (
        "Candidate has changed stage",
        "candidate_stage_change",
        true,
    ),
    // Not in the vendor guide, but the only way Panelist hears of a cancelled interview at once.
    ("Interview deleted", "interview_deleted", false),
    // Privacy: Panelist purges everything about a candidate deleted or anonymized in Greenhouse.
    ("Delete candidate", "delete_candidate", false),
    ("Candidate anonymized", "candidate_anonymized", false),
];

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0}")]
    Invalid(String),
    #[error(
        "Greenhouse credentials are not set: enter a v3 client id and secret (or a v1 API key)"
    )]
    NoCredentials,
    #[error("the integration user's email is not set")]
    NoEmail,
    #[error("no Greenhouse user has the email {0}; check the address or the credentials' permissions on Users")]
    UnknownUser(String),
    #[error("Greenhouse rejected the request: {0}")]
    Greenhouse(#[from] GreenhouseError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SettingsError {
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            SettingsError::Invalid(_)
                | SettingsError::NoCredentials
                | SettingsError::NoEmail
                | SettingsError::UnknownUser(_)
        )
    }
}

/// A change from the settings form. `None` keeps the stored value; an empty string clears it.
#[derive(Debug, Default, Deserialize)]
pub struct SettingsUpdate {
    pub api_version: Option<ApiVersion>,
    pub client_id: Option<String>,
    pub client_secret: Option<SecretString>,
    pub api_key: Option<SecretString>,
    pub integration_user_email: Option<String>,
    pub webhook_secret: Option<SecretString>,
}

/// What the API and dashboard show. Secrets appear only as "set" flags, except the webhook
/// secret when an authenticated admin asks to reveal it (it must be pasted into Greenhouse).
#[derive(Debug, Serialize)]
pub struct SettingsView {
    pub api_version: ApiVersion,
    pub client_id: Option<String>,
    pub client_secret_set: bool,
    pub api_key_set: bool,
    pub integration_user_email: Option<String>,
    pub integration_user_id: Option<i64>,
    pub integration_user_name: Option<String>,
    pub verified_at: Option<chrono::DateTime<Utc>>,
    pub last_error: Option<String>,
    pub webhook_secret_set: bool,
    /// Which values come from config or the environment and cannot be changed here.
    pub locked_by_config: Vec<&'static str>,
    pub webhook: WebhookInfo,
}

#[derive(Debug, Serialize)]
pub struct WebhookInfo {
    pub endpoint_url: String,
    /// Present only when revealed; otherwise masked as "••••" + last 4 characters.
    pub secret: Option<String>,
    pub secret_masked: Option<String>,
    pub to_create: Vec<WebhookToCreate>,
    pub last_pings: Vec<crate::store::WebhookPing>,
}

#[derive(Debug, Serialize)]
pub struct WebhookToCreate {
    pub ui_name: &'static str,
    pub action: &'static str,
    pub in_setup_guide: bool,
}

/// A client and the fingerprint of the credentials it was built from.
type CachedClient = ([u8; 32], GreenhouseClient);

/// Owns the integration settings. Cheap to clone.
#[derive(Clone)]
pub struct IntegrationService {
    store: DynStore,
    /// Boxed in an Arc: the AES key schedule is large, and this service is cloned freely.
    key: Arc<DataKey>,
    config: Arc<Settings>,
    /// One client per account, reused while the credentials stay the same, so every caller
    /// shares its token cache and its rate budget.
    cached: Arc<tokio::sync::Mutex<Option<CachedClient>>>,
}

impl IntegrationService {
    pub fn new(store: DynStore, key: DataKey, config: Arc<Settings>) -> Self {
        IntegrationService {
            store,
            key: Arc::new(key),
            config,
            cached: Default::default(),
        }
    }

    async fn stored(&self) -> Result<IntegrationSettings, SettingsError> {
        Ok(self.store.integration_settings().await?.unwrap_or_default())
    }

    pub async fn view(&self, reveal_webhook_secret: bool) -> Result<SettingsView, SettingsError> {
        let s = self.stored().await?;
        let gh = &self.config.greenhouse;
        let mut locked = Vec::new();
        if !gh.client_id.is_empty()
            || !gh.client_secret.expose_secret().is_empty()
            || !gh.api_key.expose_secret().is_empty()
        {
            locked.push("credentials");
        }
        if !gh.integration_user_email.is_empty() {
            locked.push("integration_user_email");
        }
        if !gh.webhook_secret.expose_secret().is_empty() {
            locked.push("webhook_secret");
        }
        let secret = self.effective_webhook_secret(&s)?;
        let creds = self.effective_credentials(&s)?;
        Ok(SettingsView {
            api_version: creds
                .as_ref()
                .map(credentials_version)
                .unwrap_or(s.api_version),
            client_id: match &creds {
                Some(Credentials::V3 { client_id, .. }) => Some(client_id.clone()),
                _ => s.client_id.clone(),
            },
            client_secret_set: matches!(creds, Some(Credentials::V3 { .. })),
            api_key_set: matches!(creds, Some(Credentials::V1 { .. })),
            integration_user_email: self.effective_email(&s),
            integration_user_id: s.integration_user_id,
            integration_user_name: s.integration_user_name.clone(),
            verified_at: s.verified_at,
            last_error: s.last_error.clone(),
            webhook_secret_set: secret.is_some(),
            locked_by_config: locked,
            webhook: WebhookInfo {
                endpoint_url: self.config.webhook_endpoint(),
                secret: secret
                    .as_ref()
                    .filter(|_| reveal_webhook_secret)
                    .map(|s| s.expose_secret().to_string()),
                secret_masked: secret.as_ref().map(|s| mask(s.expose_secret())),
                to_create: WEBHOOKS_TO_CREATE
                    .iter()
                    .map(|&(ui_name, action, in_setup_guide)| WebhookToCreate {
                        ui_name,
                        action,
                        in_setup_guide,
                    })
                    .collect(),
                last_pings: self.store.webhook_pings().await?,
            },
        })
    }

    /// Saves the form. Changing credentials or the email clears the previous verification.
    pub async fn save(&self, update: SettingsUpdate) -> Result<(), SettingsError> {
        let mut s = self.stored().await?;
        let before = (
            s.api_version,
            s.client_id.clone(),
            s.client_secret.clone(),
            s.api_key.clone(),
            s.integration_user_email.clone(),
        );
        if let Some(v) = update.api_version {
            s.api_version = v;
        }
        if let Some(id) = update.client_id {
            s.client_id = Some(id.trim().to_string()).filter(|v| !v.is_empty());
        }
        if let Some(secret) = update.client_secret {
            s.client_secret = self.seal_optional(&secret);
        }
        if let Some(key) = update.api_key {
            s.api_key = self.seal_optional(&key);
        }
        if let Some(email) = update.integration_user_email {
            let email = email.trim().to_string();
            if !email.is_empty() && !looks_like_email(&email) {
                return Err(SettingsError::Invalid(format!(
                    "{email:?} is not an email address"
                )));
            }
            s.integration_user_email = Some(email).filter(|v| !v.is_empty());
        }
        if let Some(secret) = update.webhook_secret {
            let trimmed = secret.expose_secret().trim();
            if !trimmed.is_empty() && trimmed.len() < 16 {
                return Err(SettingsError::Invalid(
                    "the webhook secret must be at least 16 characters".into(),
                ));
            }
            s.webhook_secret = self.seal_optional(&secret);
        }
        let after = (
            s.api_version,
            s.client_id.clone(),
            s.client_secret.clone(),
            s.api_key.clone(),
            s.integration_user_email.clone(),
        );
        if before != after {
            s.integration_user_id = None;
            s.integration_user_name = None;
            s.verified_at = None;
            s.last_error = None;
        }
        s.updated_at = Some(Utc::now());
        self.store.put_integration_settings(&s).await?;
        Ok(())
    }

    /// "Update": checks the credentials against Greenhouse and resolves the integration user.
    /// The outcome, success or a readable reason, is kept for the dashboard.
    pub async fn verify(&self) -> Result<SettingsView, SettingsError> {
        let mut s = self.stored().await?;
        let result = self.resolve_user(&s).await;
        match &result {
            Ok(user) => {
                s.integration_user_id = Some(user.id);
                s.integration_user_name = Some(user.display_name());
                s.verified_at = Some(Utc::now());
                s.last_error = None;
            }
            Err(e) => {
                s.integration_user_id = None;
                s.integration_user_name = None;
                s.verified_at = None;
                s.last_error = Some(e.to_string());
            }
        }
        self.store.put_integration_settings(&s).await?;
        result?;
        self.view(false).await
    }

    async fn resolve_user(
        &self,
        s: &IntegrationSettings,
    ) -> Result<crate::domain::User, SettingsError> {
        let email = self.effective_email(s).ok_or(SettingsError::NoEmail)?;
        let creds = self
            .effective_credentials(s)?
            .ok_or(SettingsError::NoCredentials)?;
        // The lookup runs before the user id is known, so the token carries no `sub` yet.
        let client = GreenhouseClient::new(self.client_config(creds, None))?;
        client
            .user_by_email(&email)
            .await?
            .ok_or(SettingsError::UnknownUser(email))
    }

    /// A client acting as the verified integration user, or why there is none yet.
    pub async fn client(&self) -> Result<GreenhouseClient, SettingsError> {
        let s = self.stored().await?;
        let creds = self
            .effective_credentials(&s)?
            .ok_or(SettingsError::NoCredentials)?;
        let fingerprint = fingerprint(&creds, s.integration_user_id);
        let mut cached = self.cached.lock().await;
        if let Some((fp, client)) = cached.as_ref() {
            if *fp == fingerprint {
                return Ok(client.clone());
            }
        }
        let client = GreenhouseClient::new(self.client_config(creds, s.integration_user_id))?;
        *cached = Some((fingerprint, client.clone()));
        Ok(client)
    }

    /// The verified integration user's id, needed to post notes on their behalf.
    pub async fn integration_user_id(&self) -> Result<Option<i64>, SettingsError> {
        Ok(self.stored().await?.integration_user_id)
    }

    fn client_config(&self, credentials: Credentials, on_behalf_of: Option<i64>) -> ClientConfig {
        let gh = &self.config.greenhouse;
        ClientConfig {
            api_version: credentials_version(&credentials),
            harvest_base_url: gh.harvest_base_url.clone(),
            token_url: gh.token_url.clone(),
            credentials,
            on_behalf_of,
            timeout: Duration::from_secs(gh.request_timeout_secs),
            max_retries: gh.max_retries,
            per_page: gh.per_page,
            token_refresh_margin: Duration::from_secs(gh.token_refresh_margin_secs),
        }
    }

    fn effective_email(&self, s: &IntegrationSettings) -> Option<String> {
        let configured = self.config.greenhouse.integration_user_email.trim();
        if configured.is_empty() {
            s.integration_user_email.clone()
        } else {
            Some(configured.to_string())
        }
    }

    /// Credentials from config when any are set there, else the stored ones.
    pub fn effective_credentials(
        &self,
        s: &IntegrationSettings,
    ) -> Result<Option<Credentials>, SettingsError> {
        let gh = &self.config.greenhouse;
        let from_config = match gh.api_version {
            ApiVersion::V3
                if !gh.client_id.is_empty() && !gh.client_secret.expose_secret().is_empty() =>
            {
                Some(Credentials::V3 {
                    client_id: gh.client_id.clone(),
                    client_secret: gh.client_secret.clone(),
                })
            }
            ApiVersion::V1 if !gh.api_key.expose_secret().is_empty() => Some(Credentials::V1 {
                api_key: gh.api_key.clone(),
            }),
            _ => None,
        };
        if from_config.is_some() {
            return Ok(from_config);
        }
        Ok(match s.api_version {
            ApiVersion::V3 => match (&s.client_id, &s.client_secret) {
                (Some(id), Some(secret)) => Some(Credentials::V3 {
                    client_id: id.clone(),
                    client_secret: self.key.open(secret)?,
                }),
                _ => None,
            },
            ApiVersion::V1 => match &s.api_key {
                Some(key) => Some(Credentials::V1 {
                    api_key: self.key.open(key)?,
                }),
                None => None,
            },
        })
    }

    fn effective_webhook_secret(
        &self,
        s: &IntegrationSettings,
    ) -> Result<Option<SecretString>, SettingsError> {
        let configured = &self.config.greenhouse.webhook_secret;
        if !configured.expose_secret().is_empty() {
            return Ok(Some(configured.clone()));
        }
        Ok(match &s.webhook_secret {
            Some(sealed) => Some(self.key.open(sealed)?),
            None => None,
        })
    }

    fn seal_optional(&self, secret: &SecretString) -> Option<super::Sealed> {
        let v = secret.expose_secret().trim();
        (!v.is_empty()).then(|| self.key.seal(v))
    }
}

#[async_trait]
impl WebhookSecretSource for IntegrationService {
    async fn webhook_secret(&self) -> Result<Option<SecretString>, String> {
        // Checked first so a configured secret costs no store read per delivery.
        let configured = &self.config.greenhouse.webhook_secret;
        if !configured.expose_secret().is_empty() {
            return Ok(Some(configured.clone()));
        }
        let stored = self.stored().await.map_err(|e| {
            tracing::error!(error = %e, "cannot read integration settings");
            format!("the settings store is unavailable: {e}")
        })?;
        self.effective_webhook_secret(&stored).map_err(|e| {
            tracing::error!(error = %e, "stored webhook secret cannot be opened");
            "the stored webhook secret cannot be opened (was the data key changed?)".to_string()
        })
    }
}

/// Identifies an account and acting user without keeping the secret itself around.
fn fingerprint(c: &Credentials, user: Option<i64>) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    match c {
        Credentials::V3 {
            client_id,
            client_secret,
        } => {
            h.update(b"v3\0");
            h.update(client_id.as_bytes());
            h.update(b"\0");
            h.update(client_secret.expose_secret().as_bytes());
        }
        Credentials::V1 { api_key } => {
            h.update(b"v1\0");
            h.update(api_key.expose_secret().as_bytes());
        }
    }
    h.update(user.unwrap_or_default().to_le_bytes());
    h.finalize().into()
}

fn credentials_version(c: &Credentials) -> ApiVersion {
    match c {
        Credentials::V3 { .. } => ApiVersion::V3,
        Credentials::V1 { .. } => ApiVersion::V1,
    }
}

fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
}

/// Shows only the last four characters, enough to tell two secrets apart.
fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_keeps_only_the_tail() {
        assert_eq!(mask("abcdefgh1234"), "••••1234");
        assert!(!mask("abcdefgh1234").contains("abcd"));
    }

    #[test]
    fn email_shape() {
        assert!(looks_like_email("a@b.co"));
        assert!(!looks_like_email("a@b"));
        assert!(!looks_like_email("nobody"));
    }
}
