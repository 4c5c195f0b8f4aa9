//! Recordings encrypted at rest: AES-256-GCM over each write of the Ogg stream (one Ogg page), so a
//! file stays append-only and crash-safe, and a process killed mid-write loses at most the record it
//! was writing, as a plain Ogg file loses its last page.
//!
//! Layout: a 24-byte header, `PANELIST-SEALED1` then the key's 8-byte id (so a reader knows which
//! key a file needs after a rotation); then records, each `u32 LE` ciphertext length, a 12-byte
//! random nonce, and the ciphertext with its 16-byte tag. Each record is authenticated together with
//! the header and its index, so records cannot be reordered, dropped from the middle, or moved
//! between files under the same key without the reader noticing.

use std::io::{self, Write};
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

const MAGIC: &[u8; 16] = b"PANELIST-SEALED1";
const HEADER_LEN: usize = 24;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Larger than any Ogg page (at most 65 307 bytes): a longer length is corruption, not a record.
const MAX_RECORD: usize = 1 << 20;

/// The key recordings are sealed with. `Debug` never shows it.
#[derive(Clone)]
pub struct RecordingKey {
    cipher: Arc<Aes256Gcm>,
    id: [u8; 8],
}

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordingKey({})", self.id_hex())
    }
}

impl RecordingKey {
    /// A key from 32 bytes. Its id is a hash of it, safe to print and store.
    pub fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::digest([b"panelist-recording-key-id:".as_slice(), bytes].concat());
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest[..8]);
        Self {
            cipher: Arc::new(Aes256Gcm::new(bytes.into())),
            id,
        }
    }

    /// The key's public id, in hex (as `panelist` reports which key a file needs).
    pub fn id_hex(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn header(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..16].copy_from_slice(MAGIC);
        h[16..].copy_from_slice(&self.id);
        h
    }
}

fn aad(header: &[u8], index: u64) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&index.to_le_bytes());
    aad
}

/// Whether `bytes` start like a sealed recording.
pub fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Seals every `write` as one record. `write` takes the whole buffer or fails, so each Ogg page
/// (written with one `write_all`) is one record.
pub struct SealedWriter<W: Write> {
    inner: W,
    key: RecordingKey,
    index: u64,
}

impl<W: Write> SealedWriter<W> {
    /// Writes the header at once, so even an empty recording names its key.
    pub fn new(mut inner: W, key: RecordingKey) -> io::Result<Self> {
        inner.write_all(&key.header())?;
        Ok(Self {
            inner,
            key,
            index: 0,
        })
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let header = self.key.header();
        let sealed = self
            .key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: buf,
                    aad: &aad(&header, self.index),
                },
            )
            .map_err(|_| io::Error::other("cannot seal a recording page"))?;
        let mut record = Vec::with_capacity(4 + NONCE_LEN + sealed.len());
        record.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&sealed);
        self.inner.write_all(&record)?;
        self.index += 1;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnsealError {
    #[error("not a sealed recording")]
    NotSealed,
    #[error("the recording is sealed with key {file}, not with the configured key {ours} (after a key rotation, keep the old key in security.previous_encryption_keys)")]
    WrongKey { file: String, ours: String },
    #[error("the recording is damaged or was tampered with at record {0}")]
    Damaged(u64),
}

/// The plaintext of a sealed recording, opened with whichever of `keys` sealed it. A record cut
/// short at the end (a crash mid-write) ends the file there, as a torn last Ogg page would.
pub fn unseal(bytes: &[u8], keys: &[RecordingKey]) -> Result<Vec<u8>, UnsealError> {
    if bytes.len() < HEADER_LEN || !is_sealed(bytes) {
        return Err(UnsealError::NotSealed);
    }
    let header = &bytes[..HEADER_LEN];
    let key = keys
        .iter()
        .find(|k| k.id[..] == header[16..])
        .ok_or_else(|| UnsealError::WrongKey {
            file: header[16..].iter().map(|b| format!("{b:02x}")).collect(),
            ours: keys.first().map(RecordingKey::id_hex).unwrap_or_default(),
        })?;
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = HEADER_LEN;
    let mut index = 0u64;
    while at + 4 + NONCE_LEN <= bytes.len() {
        let len =
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if !(TAG_LEN..=MAX_RECORD).contains(&len) {
            return Err(UnsealError::Damaged(index));
        }
        let body = at + 4 + NONCE_LEN;
        let Some(ciphertext) = bytes.get(body..body + len) else {
            break; // torn last record
        };
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(&bytes[at + 4..body]),
                Payload {
                    msg: ciphertext,
                    aad: &aad(header, index),
                },
            )
            .map_err(|_| UnsealError::Damaged(index))?;
        out.extend_from_slice(&plain);
        at = body + len;
        index += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> RecordingKey {
        RecordingKey::new(&[b; 32])
    }

    fn sealed(pages: &[&[u8]]) -> Vec<u8> {
        let mut w = SealedWriter::new(Vec::new(), key(1)).unwrap();
        for p in pages {
            w.write_all(p).unwrap();
        }
        w.into_inner()
    }

    #[test]
    fn pages_round_trip_and_the_plaintext_is_not_in_the_file() {
        let file = sealed(&[
            b"OggS first page PANELIST_DISPLAY_NAME=Kate",
            b"OggS second",
        ]);
        assert!(is_sealed(&file));
        assert!(!file.windows(4).any(|w| w == b"OggS"));
        assert!(!file.windows(4).any(|w| w == b"Kate"));
        assert_eq!(
            unseal(&file, &[key(1)]).unwrap(),
            b"OggS first page PANELIST_DISPLAY_NAME=KateOggS second"
        );
    }

    #[test]
    fn the_wrong_key_is_named_and_an_old_key_still_opens() {
        let file = sealed(&[b"page"]);
        let err = unseal(&file, &[key(2)]).unwrap_err();
        assert!(matches!(err, UnsealError::WrongKey { .. }), "{err:?}");
        assert!(!format!("{:?}", key(2)).contains("0202"));
        // After a rotation: the new key first, the old one kept to read old files.
        assert_eq!(unseal(&file, &[key(2), key(1)]).unwrap(), b"page");
    }

    #[test]
    fn a_torn_last_record_ends_the_file_and_tampering_is_refused() {
        let file = sealed(&[b"one", b"two"]);
        let torn = &file[..file.len() - 5];
        assert_eq!(unseal(torn, &[key(1)]).unwrap(), b"one");
        let mut flipped = file.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(unseal(&flipped, &[key(1)]), Err(UnsealError::Damaged(1)));
        // Records swapped: each is bound to its place.
        let first_len = 4 + NONCE_LEN + 3 + TAG_LEN;
        let (a, b) = file[HEADER_LEN..].split_at(first_len);
        let swapped = [&file[..HEADER_LEN], b, a].concat();
        assert_eq!(unseal(&swapped, &[key(1)]), Err(UnsealError::Damaged(0)));
        assert_eq!(unseal(b"OggS", &[key(1)]), Err(UnsealError::NotSealed));
    }
}
