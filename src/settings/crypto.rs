//! Sealing secrets at rest with AES-256-GCM. The key comes from config, or is generated once
//! into the data directory with owner-only permissions.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use panelist_bots::recorder::RecordingKey;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::Sealed;

/// Version tag in front of every sealed value, so a future format or key rotation can coexist.
const PREFIX: &str = "v1:";
const KEY_FILE: &str = "data.key";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("security.encryption_key is not 32 base64-encoded bytes")]
    BadKey,
    #[error("cannot read or create the data key at {path}: {source}")]
    KeyFile {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Deliberately vague: the cause is a wrong key or a tampered value, and neither is printed.
    #[error("a stored secret cannot be decrypted with this key (was the data key changed?)")]
    Open,
}

/// One key: the cipher for sealed values and transcripts, and the same bytes as the recorder's key.
#[derive(Clone)]
struct KeyMaterial {
    cipher: Aes256Gcm,
    recording: RecordingKey,
}

impl KeyMaterial {
    fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let raw: &[u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(KeyMaterial {
            cipher: Aes256Gcm::new_from_slice(raw).map_err(|_| CryptoError::BadKey)?,
            recording: RecordingKey::new(raw),
        })
    }

    fn from_base64(text: &str) -> Result<Self, CryptoError> {
        Self::from_bytes(&B64.decode(text.trim()).map_err(|_| CryptoError::BadKey)?)
    }
}

/// The data-encryption key, with the keys it replaced (kept to read what they sealed). New data is
/// always sealed with the current key. `Debug` never shows any of them.
#[derive(Clone)]
pub struct DataKey {
    current: KeyMaterial,
    previous: Vec<KeyMaterial>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DataKey({}, {} previous)",
            self.current.recording.id_hex(),
            self.previous.len()
        )
    }
}

impl DataKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        Ok(DataKey {
            current: KeyMaterial::from_bytes(bytes)?,
            previous: Vec::new(),
        })
    }

    /// The configured key if there is one, else `{data_dir}/data.key`, created on first use.
    pub fn load_or_create(configured: &SecretString, data_dir: &Path) -> Result<Self, CryptoError> {
        let configured = configured.expose_secret().trim();
        if !configured.is_empty() {
            return Ok(DataKey {
                current: KeyMaterial::from_base64(configured)?,
                previous: Vec::new(),
            });
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| CryptoError::KeyFile {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Self::from_bytes(&B64.decode(text.trim()).map_err(|_| CryptoError::BadKey)?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let mut bytes = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut bytes);
                write_private(&path, B64.encode(bytes).as_bytes()).map_err(io)?;
                Self::from_bytes(&bytes)
            }
            Err(e) => Err(io(e)),
        }
    }

    /// `load_or_create`, plus the keys a rotation retired (`security.previous_encryption_keys`),
    /// which still open what they sealed.
    pub fn load_with_previous(
        configured: &SecretString,
        previous: &[SecretString],
        data_dir: &Path,
    ) -> Result<Self, CryptoError> {
        let mut key = Self::load_or_create(configured, data_dir)?;
        for p in previous {
            let p = p.expose_secret().trim();
            if !p.is_empty() {
                key.previous.push(KeyMaterial::from_base64(p)?);
            }
        }
        Ok(key)
    }

    pub fn seal(&self, plaintext: &str) -> Sealed {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail for inputs under 64 GiB.
        let ciphertext = self
            .current
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Sealed(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Opens a value sealed with the current key or any previous one.
    pub fn open(&self, sealed: &Sealed) -> Result<SecretString, CryptoError> {
        let raw = sealed.0.strip_prefix(PREFIX).ok_or(CryptoError::Open)?;
        let bytes = B64.decode(raw).map_err(|_| CryptoError::Open)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = std::iter::once(&self.current)
            .chain(&self.previous)
            .find_map(|k| k.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok())
            .ok_or(CryptoError::Open)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Open)
    }

    /// What new recordings are sealed with.
    pub fn recording_key(&self) -> RecordingKey {
        self.current.recording.clone()
    }

    /// Every key a recording may be sealed with, the current one first.
    pub fn recording_keys(&self) -> Vec<RecordingKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| k.recording.clone())
            .collect()
    }
}

/// Writes a file only its owner can read, since it holds key material.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open_round_trips_and_hides_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let key = DataKey::load_or_create(&SecretString::from(""), dir.path()).unwrap();
        let sealed = key.seal("client-secret-123");
        assert!(!sealed.0.contains("client-secret-123"));
        assert_eq!(
            key.open(&sealed).unwrap().expose_secret(),
            "client-secret-123"
        );
        // The generated key is reused on the next start.
        let again = DataKey::load_or_create(&SecretString::from(""), dir.path()).unwrap();
        assert_eq!(
            again.open(&sealed).unwrap().expose_secret(),
            "client-secret-123"
        );
    }

    #[test]
    fn wrong_key_or_tampering_fails_without_revealing_anything() {
        let a = DataKey::from_bytes(&[1u8; 32]).unwrap();
        let b = DataKey::from_bytes(&[2u8; 32]).unwrap();
        let sealed = a.seal("s3cret");
        let err = b.open(&sealed).unwrap_err().to_string();
        assert!(!err.contains("s3cret"));
        let mut tampered = sealed.0.clone();
        tampered.pop();
        tampered.push(if sealed.0.ends_with('A') { 'B' } else { 'A' });
        assert!(a.open(&Sealed(tampered)).is_err());
    }

    #[test]
    fn a_rotated_key_still_opens_what_it_sealed_and_new_values_use_the_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let old_b64 = B64.encode([7u8; 32]);
        let new_b64 = B64.encode([8u8; 32]);
        let old =
            DataKey::load_or_create(&SecretString::from(old_b64.clone()), dir.path()).unwrap();
        let sealed_before = old.seal("webhook-secret");
        let rotated = DataKey::load_with_previous(
            &SecretString::from(new_b64.clone()),
            &[SecretString::from(old_b64)],
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            rotated.open(&sealed_before).unwrap().expose_secret(),
            "webhook-secret"
        );
        let sealed_after = rotated.seal("webhook-secret");
        let only_new = DataKey::load_or_create(&SecretString::from(new_b64), dir.path()).unwrap();
        assert!(only_new.open(&sealed_after).is_ok());
        assert!(only_new.open(&sealed_before).is_err());
        assert_eq!(rotated.recording_keys().len(), 2);
        assert_eq!(
            rotated.recording_key().id_hex(),
            only_new.recording_key().id_hex()
        );
        // Debug names key ids, never key bytes.
        assert!(!format!("{rotated:?}").contains("CAgI"));
    }

    #[cfg(unix)]
    #[test]
    fn generated_key_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        DataKey::load_or_create(&SecretString::from(""), dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }
}
