//! Dashboard users: accounts with argon2id password hashes, signed-in sessions with a CSRF token
//! each, login throttling, and the one-time link that creates the first admin. Everything lives in
//! the store's small-document space, so a fleet of replicas shares users and sessions.

mod password;
mod sessions;
mod setup;
mod throttle;
mod users;

pub use password::{hash_password, verify_password, MIN_PASSWORD_LEN};
pub use sessions::{Session, Sessions, SESSION_COOKIE};
pub use setup::SetupLink;
pub use throttle::{LoginThrottle, Throttled};
pub use users::{Role, User, UserError, Users};

/// A store key derived from a secret (a session token, a setup token): the store never holds the
/// secret itself, so a copy of the store cannot be replayed as a login.
pub fn digest(secret: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 32 random bytes, URL-safe base64: session and setup tokens.
pub fn random_token() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
