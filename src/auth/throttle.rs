//! Login throttling: at most N wrong passwords per minute per email and per client address; the
//! next attempt is refused without checking the password. Failures live in the store, so every
//! replica behind a load balancer counts the same attempts.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::digest;
use crate::store::{DynStore, StoreError};

const NS: &str = "login_failures";
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct LoginThrottle {
    store: DynStore,
    per_minute: u32,
    /// One sign-in attempt at a time on this replica, from check to recorded result: otherwise
    /// parallel requests would all pass the check before any failure is counted. Across replicas
    /// the store is shared but unlocked, so a fleet of N lets at most N attempts through at once.
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after: Duration,
}

impl LoginThrottle {
    pub fn new(store: DynStore, per_minute: u32) -> LoginThrottle {
        LoginThrottle {
            store,
            per_minute,
            turn: Default::default(),
        }
    }

    /// Hold this from [`Self::check`] until the failure or success is recorded.
    pub async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn.clone().lock_owned().await
    }

    fn keys(email: &str, client: &str) -> [String; 2] {
        // Hashed: the store keeps no email addresses or IPs in key names.
        [
            digest(&format!("email:{}", email.trim().to_ascii_lowercase())),
            digest(&format!("client:{client}")),
        ]
    }

    /// Whether another attempt may be made now.
    pub async fn check(&self, email: &str, client: &str) -> Result<Option<Throttled>, StoreError> {
        let now = Utc::now();
        let mut worst: Option<Throttled> = None;
        for key in Self::keys(email, client) {
            let failures = self.recent(&key, now).await?;
            if failures.len() >= self.per_minute as usize {
                let oldest = failures.iter().min().copied().unwrap_or(now);
                let free_at = oldest + chrono::Duration::from_std(WINDOW).unwrap_or_default();
                let wait = (free_at - now)
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_secs(1));
                if worst.is_none_or(|w| wait > w.retry_after) {
                    worst = Some(Throttled { retry_after: wait });
                }
            }
        }
        Ok(worst)
    }

    pub async fn record_failure(&self, email: &str, client: &str) -> Result<(), StoreError> {
        let now = Utc::now();
        for key in Self::keys(email, client) {
            let mut failures = self.recent(&key, now).await?;
            failures.push(now);
            let json = serde_json::to_vec(&failures)?;
            self.store.kv_put(NS, &key, &json, Some(WINDOW)).await?;
        }
        Ok(())
    }

    /// A successful login clears the email's count (not the client's: one client guessing many
    /// accounts stays throttled).
    pub async fn record_success(&self, email: &str, client: &str) -> Result<(), StoreError> {
        let [email_key, _] = Self::keys(email, client);
        self.store.kv_delete(NS, &email_key).await?;
        Ok(())
    }

    async fn recent(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let window = chrono::Duration::from_std(WINDOW).unwrap_or_default();
        let failures: Vec<DateTime<Utc>> = match self.store.kv_get(NS, key).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(failures.into_iter().filter(|t| now - *t < window).collect())
    }
}
