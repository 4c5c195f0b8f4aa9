//! argon2id password hashes in PHC string form (the parameters travel with each hash, so they can be
//! raised later without invalidating old ones). Hashing is deliberately slow: it runs on the
//! blocking pool, never on an async thread.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use secrecy::{ExposeSecret, SecretString};

pub const MIN_PASSWORD_LEN: usize = 10;

pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
    })
    .await?
}

/// False for a wrong password and for a hash that cannot be parsed (logged: it means a damaged
/// user record, not a wrong password).
pub async fn verify_password(hash: String, password: SecretString) -> bool {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash cannot be parsed");
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_accepts_only_its_password() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(!hash.contains("correct horse"));
        assert!(verify_password(hash.clone(), SecretString::from("correct horse battery")).await);
        assert!(!verify_password(hash.clone(), SecretString::from("correct horse batter")).await);
        assert!(!verify_password("not a hash".into(), SecretString::from("x")).await);
    }
}
