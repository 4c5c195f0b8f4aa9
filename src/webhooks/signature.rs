//! The `Signature: sha256 <hex>` header: HMAC-SHA256 of the raw body under the shared secret.
//!
//! Greenhouse signs the body bytes exactly as it sent them, so callers must pass the bytes as
//! received: parsing and re-serialising would change escapes (`\u00e9` vs `é`) and spacing.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// The header Greenhouse puts the signature in.
pub const SIGNATURE_HEADER: &str = "Signature";

/// The only scheme Greenhouse documents.
const SCHEME: &str = "sha256";

/// Why a delivery's signature was refused. The messages never contain the header value, so they
/// are safe to log and to send back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    #[error("the Signature header is missing")]
    Missing,
    #[error("the Signature header is not of the form `sha256 <hex>`")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks `header` (the `Signature` header value, if any) against `body` in constant time.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let expected = parse_header(header)?;
    let mut mac = keyed(secret);
    mac.update(body);
    // `verify_slice` compares in constant time, so response timing leaks nothing about the digest.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Greenhouse would send for `body`: `sha256 <lowercase hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(body);
    format!("{SCHEME} {}", hex::encode(mac.finalize().into_bytes()))
}

/// Splits `sha256 <hex>` and decodes the digest. Also takes `sha256=<hex>` and any case of the
/// scheme, since neither costs anything and a proxy may normalise the header.
fn parse_header(header: &str) -> Result<Vec<u8>, SignatureError> {
    let header = header.trim();
    let (scheme, digest) = header
        .split_once(|c: char| c == '=' || c.is_whitespace())
        .ok_or(SignatureError::Malformed)?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(SignatureError::Malformed);
    }
    let digest = hex::decode(digest.trim()).map_err(|_| SignatureError::Malformed)?;
    if digest.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    Ok(digest)
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length (long ones are hashed first), so this never fails. The
    // fallback exists only so there is no panic path; it could never verify a real signature.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| HmacSha256::new(&Default::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"s3cr3t";

    #[test]
    fn signed_body_verifies() {
        let body = br#"{"action":"ping","payload":{}}"#;
        let header = sign(SECRET, body);
        assert!(header.starts_with("sha256 "));
        assert_eq!(verify(SECRET, body, Some(&header)), Ok(()));
    }

    #[test]
    fn known_vector_matches_rfc_4231_case_2() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn missing_malformed_and_mismatched_headers_are_told_apart() {
        let body = b"{}";
        assert_eq!(verify(SECRET, body, None), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, body, Some("")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, body, Some("sha1 abcd")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, body, Some("sha256 not-hex")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(SECRET, body, Some("sha256 abcd")),
            Err(SignatureError::Malformed)
        );
        let other = sign(b"other secret", body);
        assert_eq!(
            verify(SECRET, body, Some(&other)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_change_to_the_raw_bytes_breaks_the_signature() {
        // The same JSON value, escaped differently: only the bytes as sent verify.
        let sent = br#"{"first_name":"Jos\u00e9"}"#;
        let reserialised = r#"{"first_name":"José"}"#.as_bytes();
        let header = sign(SECRET, sent);
        assert_eq!(verify(SECRET, sent, Some(&header)), Ok(()));
        assert_eq!(
            verify(SECRET, reserialised, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn lenient_header_forms_are_accepted() {
        let body = b"{}";
        let hex = sign(SECRET, body).trim_start_matches("sha256 ").to_string();
        assert_eq!(verify(SECRET, body, Some(&format!("SHA256 {hex}"))), Ok(()));
        assert_eq!(verify(SECRET, body, Some(&format!("sha256={hex}"))), Ok(()));
        assert_eq!(
            verify(
                SECRET,
                body,
                Some(&format!("  sha256 {}  ", hex.to_uppercase()))
            ),
            Ok(())
        );
    }
}
