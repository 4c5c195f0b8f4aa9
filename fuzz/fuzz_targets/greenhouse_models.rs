//! Greenhouse Harvest (v1 and v3) JSON models and paging, as `greenhouse::client` decodes them: one page
//! body through `decode_page` into every entity type Panelist keeps, a retrieve body straight into each
//! type, and the `Link` header parser with the next-URL resolution that follows it.
//!
//! Input: the first byte picks the check's flavour, the rest is the body (or the header).
#![no_main]

use libfuzzer_sys::fuzz_target;
use panelist::domain::{Application, Candidate, Entity, Interview, Job, JobPost, JobStage, User};
use panelist::greenhouse::pagination::{decode_page, resolve_next};
use panelist::greenhouse::{next_link, parse_link_header, Note};
use url::Url;

/// Decodes `body` as a page and as a single object, then round-trips what decoded through the store's
/// serialisation, as the sync does when it keeps an entity.
fn entity<T: Entity>(body: &[u8]) {
    if let Ok(items) = decode_page::<T>(body) {
        for item in items {
            let _ = item.id();
            let stored = serde_json::to_vec(&item).unwrap_or_default();
            let _ = serde_json::from_slice::<T>(&stored);
        }
    }
    if let Ok(item) = serde_json::from_slice::<T>(body) {
        let _ = item.id();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flavour, body)) = data.split_first() else {
        return;
    };
    if flavour & 1 == 0 {
        entity::<User>(body);
        entity::<Job>(body);
        entity::<JobPost>(body);
        entity::<Candidate>(body);
        entity::<Application>(body);
        entity::<JobStage>(body);
        if let Ok(interviews) = decode_page::<Interview>(body) {
            for i in &interviews {
                let _ = (
                    i.starts_at(),
                    i.ends_at(),
                    i.is_active(),
                    i.meeting_url(),
                    i.title(),
                );
            }
        }
        entity::<Interview>(body);
        if let Ok(users) = decode_page::<User>(body) {
            for u in &users {
                let _ = (u.display_name(), u.has_email("someone@example.com"));
            }
        }
        if let Ok(candidates) = decode_page::<Candidate>(body) {
            for c in &candidates {
                let _ = c.display_name();
            }
        }
        if let Ok(stages) = decode_page::<JobStage>(body) {
            for s in &stages {
                let _ = s.kit_for(1);
            }
        }
        let _ = decode_page::<Note>(body);
        let _ = serde_json::from_slice::<Note>(body);
    } else {
        let header = String::from_utf8_lossy(body);
        let links = parse_link_header(&header);
        for l in &links {
            assert!(l.rels.iter().all(|r| *r == r.to_ascii_lowercase()));
        }
        let current = Url::parse("https://harvest.greenhouse.io/v1/candidates?per_page=100")
            .unwrap_or_else(|_| unreachable!());
        if let Some(next) = next_link([header.as_ref()]) {
            if let Ok(url) = resolve_next(&current, &next) {
                assert_eq!(url.origin(), current.origin());
            }
        }
    }
});
