//! Signed-in sessions. The cookie holds a random token; the store holds only its SHA-256, with the
//! user, role and the session's CSRF token, and expires it by TTL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{digest, random_token, Role, User};
use crate::store::{DynStore, StoreError};

const NS: &str = "sessions";
pub const SESSION_COOKIE: &str = "panelist_session";

#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub email: String,
    pub role: Role,
    /// Sent back with every form and state-changing API call from the dashboard.
    pub csrf: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Constant-time comparison of a presented CSRF token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[derive(Clone)]
pub struct Sessions {
    store: DynStore,
    ttl: Duration,
}

impl Sessions {
    pub fn new(store: DynStore, ttl: Duration) -> Sessions {
        Sessions { store, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session; the returned token goes into the cookie and nowhere else.
    pub async fn create(&self, user: &User) -> Result<(String, Session), StoreError> {
        let token = random_token();
        let session = Session {
            email: user.email.clone(),
            role: user.role,
            csrf: random_token(),
            created_at: Utc::now(),
        };
        let json = serde_json::to_vec(&session)?;
        self.store
            .kv_put(NS, &digest(&token), &json, Some(self.ttl))
            .await?;
        Ok((token, session))
    }

    pub async fn get(&self, token: &str) -> Result<Option<Session>, StoreError> {
        if token.is_empty() || token.len() > 128 {
            return Ok(None);
        }
        match self.store.kv_get(NS, &digest(token)).await? {
            Some(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            None => Ok(None),
        }
    }

    pub async fn end(&self, token: &str) -> Result<(), StoreError> {
        self.store.kv_delete(NS, &digest(token)).await?;
        Ok(())
    }

    /// Ends every session of a user (removed, demoted, or password changed).
    pub async fn end_all_for(&self, email: &str) -> Result<usize, StoreError> {
        let mut ended = 0;
        for (key, bytes) in self.store.kv_list(NS).await? {
            let owned = serde_json::from_slice::<Session>(&bytes).is_ok_and(|s| s.email == email);
            if owned && self.store.kv_delete(NS, &key).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }
}
