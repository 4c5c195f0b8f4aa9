//! The admin API token: `Authorization: Bearer <token>` on `/api/`, for scripts. People sign in
//! to the dashboard instead (`crate::auth`); `crate::dashboard::guard` accepts either.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

const TOKEN_FILE: &str = "admin-token";

/// The token, compared in constant time and never printed.
#[derive(Clone)]
pub struct AdminToken(Arc<SecretString>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    pub fn new(token: SecretString) -> Self {
        AdminToken(Arc::new(token))
    }

    /// The configured token, else `{data_dir}/admin-token`, generated on first start.
    pub fn load_or_create(configured: &SecretString, data_dir: &Path) -> std::io::Result<Self> {
        if !configured.expose_secret().trim().is_empty() {
            return Ok(Self::new(SecretString::from(
                configured.expose_secret().trim().to_string(),
            )));
        }
        let path = data_dir.join(TOKEN_FILE);
        match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => {
                Ok(Self::new(SecretString::from(t.trim().to_string())))
            }
            // A file that exists but cannot be read (permissions, I/O) is an error: replacing it
            // would silently lock out every script using the token.
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(std::io::Error::new(
                e.kind(),
                format!("cannot read the admin token file {}: {e}", path.display()),
            )),
            Ok(_) | Err(_) => {
                std::fs::create_dir_all(data_dir)?;
                let mut bytes = [0u8; 24];
                rand::thread_rng().fill_bytes(&mut bytes);
                let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
                crate::settings::crypto::write_private(&path, token.as_bytes())?;
                tracing::info!(path = %path.display(), "generated the admin API token (read it from this file)");
                Ok(Self::new(SecretString::from(token)))
            }
        }
    }

    pub fn matches(&self, presented: &str) -> bool {
        let expected = self.0.expose_secret().as_bytes();
        expected.ct_eq(presented.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison_is_exact() {
        let t = AdminToken::new(SecretString::from("abc123"));
        assert!(t.matches("abc123"));
        assert!(!t.matches("abc12"));
        assert!(!t.matches("abc1234"));
        assert!(!format!("{t:?}").contains("abc"));
    }

    #[test]
    fn a_token_file_that_cannot_be_read_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let made = AdminToken::load_or_create(&SecretString::from(""), dir.path()).unwrap();
        let again = AdminToken::load_or_create(&SecretString::from(""), dir.path()).unwrap();
        assert!(again.matches(made.0.expose_secret()));
        // A directory where the file should be cannot be read as one (as a permission error
        // would): the error names the file, and nothing is overwritten.
        let odd = tempfile::tempdir().unwrap();
        std::fs::create_dir(odd.path().join(TOKEN_FILE)).unwrap();
        let err = AdminToken::load_or_create(&SecretString::from(""), odd.path()).unwrap_err();
        assert!(err.to_string().contains(TOKEN_FILE), "{err}");
        assert!(odd.path().join(TOKEN_FILE).is_dir());
    }
}
