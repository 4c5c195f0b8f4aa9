//! The one-time setup link: while no dashboard user exists, each start of `panelist serve` makes a
//! fresh link that creates the first admin. It works once, for 24 hours; the store keeps only its
//! digest.

use std::time::Duration;

use super::{digest, random_token};
use crate::store::{DynStore, StoreError};

const NS: &str = "setup";
const KEY: &str = "first_admin";
const TTL: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone)]
pub struct SetupLink {
    store: DynStore,
    /// One use at a time on this replica, from the token check to its removal: two submits of the
    /// same link racing must not create two admins.
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl SetupLink {
    pub fn new(store: DynStore) -> SetupLink {
        SetupLink {
            store,
            turn: Default::default(),
        }
    }

    /// Hold this from [`Self::is_valid`] until [`Self::consume`].
    pub async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn.clone().lock_owned().await
    }

    /// A new token (replacing any earlier one).
    pub async fn issue(&self) -> Result<String, StoreError> {
        let token = random_token();
        self.store
            .kv_put(NS, KEY, digest(&token).as_bytes(), Some(TTL))
            .await?;
        Ok(token)
    }

    pub async fn is_valid(&self, token: &str) -> Result<bool, StoreError> {
        use subtle::ConstantTimeEq;
        Ok(match self.store.kv_get(NS, KEY).await? {
            Some(stored) => bool::from(stored.ct_eq(digest(token).as_bytes())),
            None => false,
        })
    }

    /// Used up: the first admin exists.
    pub async fn consume(&self) -> Result<(), StoreError> {
        self.store.kv_delete(NS, KEY).await?;
        Ok(())
    }
}
