//! Dashboard accounts, keyed by lower-cased email.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::password::{hash_password, verify_password, MIN_PASSWORD_LEN};
use crate::store::{DynStore, StoreError};

const NS: &str = "users";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Changes settings and users, retries posts, starts and stops bots.
    Admin,
    /// Sees everything except secrets; changes nothing.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    pub email: String,
    pub role: Role,
    password_hash: String,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("enter an email address")]
    BadEmail,
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters")]
    WeakPassword,
    #[error("a user with that email already exists")]
    Exists,
    #[error("no such user")]
    NotFound,
    #[error("the last admin cannot be removed or demoted")]
    LastAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_ascii_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty() && domain.contains('.') && !e.chars().any(char::is_whitespace)).then_some(e)
}

#[derive(Clone)]
pub struct Users {
    store: DynStore,
}

impl Users {
    pub fn new(store: DynStore) -> Users {
        Users { store }
    }

    pub async fn create(
        &self,
        email: &str,
        password: SecretString,
        role: Role,
    ) -> Result<User, UserError> {
        let email = normalize_email(email).ok_or(UserError::BadEmail)?;
        if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
            return Err(UserError::WeakPassword);
        }
        if self.get(&email).await?.is_some() {
            return Err(UserError::Exists);
        }
        let password_hash = hash_password(password)
            .await
            .map_err(|e| UserError::Internal(e.to_string()))?;
        let user = User {
            email,
            role,
            password_hash,
            created_at: Utc::now(),
        };
        self.put(&user).await?;
        tracing::info!(user = %user.email, role = user.role.as_str(), "dashboard user created");
        Ok(user)
    }

    async fn put(&self, user: &User) -> Result<(), UserError> {
        let json = serde_json::to_vec(user).map_err(|e| UserError::Internal(e.to_string()))?;
        self.store.kv_put(NS, &user.email, &json, None).await?;
        Ok(())
    }

    pub async fn get(&self, email: &str) -> Result<Option<User>, UserError> {
        let Some(email) = normalize_email(email) else {
            return Ok(None);
        };
        match self.store.kv_get(NS, &email).await? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).map_err(|e| UserError::Internal(e.to_string()))?,
            )),
            None => Ok(None),
        }
    }

    pub async fn list(&self) -> Result<Vec<User>, UserError> {
        let mut users = Vec::new();
        for (key, bytes) in self.store.kv_list(NS).await? {
            match serde_json::from_slice(&bytes) {
                Ok(u) => users.push(u),
                Err(e) => {
                    tracing::error!(user = %key, error = %e, "a stored user record cannot be read")
                }
            }
        }
        Ok(users)
    }

    pub async fn any(&self) -> Result<bool, UserError> {
        Ok(!self.store.kv_list(NS).await?.is_empty())
    }

    /// The user when the password is theirs. Unknown emails cost a hash too, so timing does not
    /// tell which addresses have accounts.
    pub async fn authenticate(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<Option<User>, UserError> {
        match self.get(email).await? {
            Some(user) => Ok(verify_password(user.password_hash.clone(), password)
                .await
                .then_some(user)),
            None => {
                // Costs what a verification costs.
                let _ = hash_password(password).await;
                Ok(None)
            }
        }
    }

    pub async fn set_password(&self, email: &str, password: SecretString) -> Result<(), UserError> {
        if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
            return Err(UserError::WeakPassword);
        }
        let mut user = self.get(email).await?.ok_or(UserError::NotFound)?;
        user.password_hash = hash_password(password)
            .await
            .map_err(|e| UserError::Internal(e.to_string()))?;
        self.put(&user).await
    }

    pub async fn delete(&self, email: &str) -> Result<(), UserError> {
        let user = self.get(email).await?.ok_or(UserError::NotFound)?;
        if user.role == Role::Admin && self.admins().await? <= 1 {
            return Err(UserError::LastAdmin);
        }
        self.store.kv_delete(NS, &user.email).await?;
        tracing::info!(user = %user.email, "dashboard user removed");
        Ok(())
    }

    async fn admins(&self) -> Result<usize, UserError> {
        Ok(self
            .list()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_or_refused() {
        assert_eq!(
            normalize_email(" Ana@Acme.Example ").as_deref(),
            Some("ana@acme.example")
        );
        assert_eq!(normalize_email("ana"), None);
        assert_eq!(normalize_email("@acme.example"), None);
        assert_eq!(normalize_email("ana@localhost"), None);
        assert_eq!(normalize_email("a na@acme.example"), None);
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let u = User {
            email: "a@b.c".into(),
            role: Role::Viewer,
            password_hash: "$argon2id$secret".into(),
            created_at: Utc::now(),
        };
        assert!(!format!("{u:?}").contains("argon2"));
    }
}
