//! The integration settings as stored: secrets only ever as ciphertext.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Id;

/// Which Harvest API the account uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiVersion {
    /// Harvest v3: OAuth2 client credentials. The default.
    #[default]
    V3,
    /// Harvest v1: a Basic-auth API key. Greenhouse removed it on 2026-08-31; kept for accounts
    /// that still have it.
    V1,
}

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V3 => "v3",
            ApiVersion::V1 => "v1",
        }
    }
}

/// A secret sealed with the data key (see `settings::crypto`). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed(pub String);

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealed(..)")
    }
}

/// What the admin entered on Settings → Integrations, plus what "Update" verified.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct IntegrationSettings {
    #[serde(default)]
    pub api_version: ApiVersion,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Sealed>,
    #[serde(default)]
    pub api_key: Option<Sealed>,
    /// The Greenhouse user that notes are posted on behalf of.
    #[serde(default)]
    pub integration_user_email: Option<String>,
    #[serde(default)]
    pub webhook_secret: Option<Sealed>,
    /// Filled by a successful "Update".
    #[serde(default)]
    pub integration_user_id: Option<Id>,
    #[serde(default)]
    pub integration_user_name: Option<String>,
    #[serde(default)]
    pub verified_at: Option<DateTime<Utc>>,
    /// The readable reason the last "Update" failed, shown until the next success.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
