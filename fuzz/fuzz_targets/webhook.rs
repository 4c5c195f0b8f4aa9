//! Greenhouse webhook deliveries: the `Signature` check on the raw bytes, then the body parser and the
//! mapping to commands, as `webhooks::handler` and the `WebhookActor` run them.
//!
//! Input: `[secret len][secret][header len][header][body...]` (lengths one byte each). The body is checked
//! against the fuzzed header, then signed with the secret so that every body, valid or not, also goes the
//! way a correctly signed delivery goes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panelist::webhooks::{commands_for, sign, verify, SignatureError, Webhook};

fn take(data: &[u8]) -> (&[u8], &[u8]) {
    match data.split_first() {
        Some((&n, rest)) => rest.split_at(usize::from(n).min(rest.len())),
        None => (&[], &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let (secret, rest) = take(data);
    let (header, body) = take(rest);
    // The handler hands `verify` the header only when it is visible ASCII; arbitrary bytes still must
    // never panic the parser, so lossy text goes in too.
    let header = String::from_utf8_lossy(header);
    let fuzzed = verify(secret, body, Some(&header));
    assert_ne!(verify(secret, body, None), Ok(()));
    let signed = sign(secret, body);
    assert_eq!(verify(secret, body, Some(&signed)), Ok(()));
    if fuzzed.is_ok() {
        // Only the right digest verifies (the fuzzer cannot forge HMAC-SHA256, so this is the real one).
        assert!(header.to_ascii_lowercase().contains(&signed[7..]));
    } else {
        assert!(matches!(
            fuzzed,
            Err(SignatureError::Malformed | SignatureError::Mismatch)
        ));
    }
    // A validly signed delivery: UTF-8 check, parse, then the actor's mapping.
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if let Ok(webhook) = Webhook::parse(text) {
        assert!(!webhook.action.trim().is_empty());
        let _ = commands_for(&webhook);
    }
});
