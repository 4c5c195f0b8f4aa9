//! Signed consent links: `{candidate}.{expiry}.{signature}`, HMAC-SHA256 under a key kept in the
//! store (made once, shared by every replica) sealed with the data key, so reading the store is not
//! enough to forge a link. Usable without login, by whoever has the link, until it expires; nothing
//! else about the candidate is in it.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use secrecy::ExposeSecret;

use crate::domain::Id;
use crate::settings::{DataKey, Sealed};
use crate::store::{DynStore, StoreError};

const NS: &str = "secrets";
const KEY: &str = "consent_link_key";

#[derive(Clone)]
pub struct ConsentLinks {
    store: DynStore,
    data_key: DataKey,
}

impl ConsentLinks {
    pub fn new(store: DynStore, data_key: DataKey) -> ConsentLinks {
        ConsentLinks { store, data_key }
    }

    /// The stored value as the signing key: sealed (`v1:`), or a key stored in the clear by an
    /// earlier version, which is then sealed in place (links already sent keep working).
    async fn open(&self, stored: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let text = String::from_utf8_lossy(&stored).into_owned();
        if text.starts_with("v1:") {
            return self
                .data_key
                .open(&Sealed(text))
                .map(|k| k.expose_secret().as_bytes().to_vec())
                .map_err(|e| {
                    StoreError::Io(std::io::Error::other(format!("the consent link key: {e}")))
                });
        }
        let sealed = self.data_key.seal(&text);
        self.store
            .kv_put(NS, KEY, sealed.0.as_bytes(), None)
            .await?;
        Ok(stored)
    }

    async fn key(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(k) = self.store.kv_get(NS, KEY).await? {
            return self.open(k).await;
        }
        let key = crate::auth::random_token();
        let sealed = self.data_key.seal(&key);
        self.store
            .kv_put(NS, KEY, sealed.0.as_bytes(), None)
            .await?;
        // Two replicas racing here: the last write wins, and re-reading makes both sign with it.
        match self.store.kv_get(NS, KEY).await? {
            Some(k) => self.open(k).await,
            None => Ok(key.into_bytes()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    async fn store() -> (DynStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::EmbeddedStore::open(&dir.path().join("t.redb")).unwrap();
        (std::sync::Arc::new(store), dir)
    }

    #[tokio::test]
    async fn the_signing_key_is_sealed_and_a_plain_one_is_sealed_in_place() {
        let (store, _dir) = store().await;
        let key = DataKey::from_bytes(&[3u8; 32]).unwrap();
        let links = ConsentLinks::new(store.clone(), key.clone());
        let token = links
            .token(42, Utc::now() + Duration::days(1))
            .await
            .unwrap();
        assert_eq!(links.verify(&token).await.unwrap(), Some(42));
        let stored = store.kv_get(NS, KEY).await.unwrap().unwrap();
        assert!(stored.starts_with(b"v1:"), "stored in the clear");
        // Another data key cannot use the stored signing key.
        let other = ConsentLinks::new(store.clone(), DataKey::from_bytes(&[4u8; 32]).unwrap());
        assert!(other.verify(&token).await.is_err());

        // A key an earlier version stored in the clear: links signed with it still verify, and
        // the key is sealed from then on.
        store
            .kv_put(NS, KEY, b"legacy-plain-key", None)
            .await
            .unwrap();
        let old = ConsentLinks::sign(b"legacy-plain-key", "42.4102444800").unwrap();
        assert_eq!(
            links.verify(&format!("42.4102444800.{old}")).await.unwrap(),
            Some(42)
        );
        let stored = store.kv_get(NS, KEY).await.unwrap().unwrap();
        assert!(stored.starts_with(b"v1:"));
        assert!(!String::from_utf8_lossy(&stored).contains("legacy-plain-key"));
        assert_eq!(
            links.verify(&format!("42.4102444800.{old}")).await.unwrap(),
            Some(42)
        );
    }
}
