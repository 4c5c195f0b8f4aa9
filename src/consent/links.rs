//! Signed consent links: `{candidate}.{expiry}.{signature}`, HMAC-SHA256 under a key kept in the
//! store (made once, shared by every replica). Usable without login, by whoever has the link, until
//! it expires; nothing else about the candidate is in it.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Id;
use crate::store::{DynStore, StoreError};

const NS: &str = "secrets";
const KEY: &str = "consent_link_key";

#[derive(Clone)]
pub struct ConsentLinks {
    store: DynStore,
}

impl ConsentLinks {
    pub fn new(store: DynStore) -> ConsentLinks {
        ConsentLinks { store }
    }

    async fn key(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(k) = self.store.kv_get(NS, KEY).await? {
            return Ok(k);
        }
        let key = crate::auth::random_token().into_bytes();
        self.store.kv_put(NS, KEY, &key, None).await?;
        // Two replicas racing here: the last write wins, and re-reading makes both sign with it.
        Ok(self.store.kv_get(NS, KEY).await?.unwrap_or(key))
    }

    fn sign(key: &[u8], payload: &str) -> Option<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
        mac.update(payload.as_bytes());
        Some(hex::encode(mac.finalize().into_bytes()))
    }

    /// A token for the candidate's consent page, valid until `expires`.
    pub async fn token(
        &self,
        candidate_id: Id,
        expires: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let payload = format!("{candidate_id}.{}", expires.timestamp());
        let key = self.key().await?;
        let sig = Self::sign(&key, &payload).unwrap_or_default();
        Ok(format!("{payload}.{sig}"))
    }

    /// The candidate the token is for, when it is genuine and unexpired.
    pub async fn verify(&self, token: &str) -> Result<Option<Id>, StoreError> {
        use subtle::ConstantTimeEq;
        let mut parts = token.rsplitn(2, '.');
        let (Some(sig), Some(payload)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        let Some((candidate, expires)) = payload.split_once('.') else {
            return Ok(None);
        };
        let (Ok(candidate), Ok(expires)) = (candidate.parse::<Id>(), expires.parse::<i64>()) else {
            return Ok(None);
        };
        if expires < Utc::now().timestamp() {
            return Ok(None);
        }
        let key = self.key().await?;
        let Some(expected) = Self::sign(&key, payload) else {
            return Ok(None);
        };
        Ok(bool::from(expected.as_bytes().ct_eq(sig.as_bytes())).then_some(candidate))
    }
}
