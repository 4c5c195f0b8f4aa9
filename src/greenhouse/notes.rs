//! Interview notes: creating one on a candidate and reading a candidate's notes back.
//!
//! Creation is a write: the engine never re-sends it once it may have reached Greenhouse
//! (timeout, broken connection, 5xx other than 503), so the caller can keep exactly-once
//! semantics, e.g. by checking `notes_for_candidate` for its own body before posting again.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::client::GreenhouseClient;
use super::engine::ApiRequest;
use super::error::GreenhouseError;
use super::lookups::decode_object;
use super::routes;
use crate::domain::{Id, UserRef};
use crate::settings::ApiVersion;

/// Who can see a note in Greenhouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    #[default]
    AdminOnly,
    Private,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::AdminOnly => "admin_only",
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    fn parse(s: &str) -> Option<Visibility> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin_only" => Some(Visibility::AdminOnly),
            "private" => Some(Visibility::Private),
            "public" => Some(Visibility::Public),
            _ => None,
        }
    }
}

/// A note to post. Bodies are plain text (Greenhouse documents no rendering).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewNote {
    /// The Greenhouse user the note is attributed to.
    pub user_id: Id,
    pub body: String,
    pub visibility: Visibility,
}

/// A note as Greenhouse returns it: v1 activity-feed notes (`user` object, `visibility` plus the
/// misspelt `visiblity`, sometimes no `id`) or v3 notes (`candidate_id`, `type`, flat ids).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub id: Option<Id>,
    pub candidate_id: Option<Id>,
    pub application_id: Option<Id>,
    pub body: String,
    pub user: Option<UserRef>,
    /// `user.id` on v1, `user_id` on v3.
    pub user_id: Option<Id>,
    pub visibility: Option<Visibility>,
    pub private: Option<bool>,
    /// v3 `type` (`NOTE`); absent on v1.
    pub kind: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The wire shape, every key optional; both spellings of visibility can be present at once,
/// which serde's `alias` would reject as a duplicate.
#[derive(Deserialize)]
struct RawNote {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_id")]
    candidate_id: Option<Id>,
    #[serde(default, deserialize_with = "lenient_id")]
    application_id: Option<Id>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<UserRef>,
    #[serde(default, deserialize_with = "lenient_id")]
    user_id: Option<Id>,
    #[serde(default)]
    visibility: Option<String>,
    #[serde(default)]
    visiblity: Option<String>,
    #[serde(default)]
    private: Option<bool>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    updated_at: Option<DateTime<Utc>>,
}

/// Ids as numbers or numeric strings (the documented create request sends `"user_id": "158108"`).
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Id>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

impl<'de> Deserialize<'de> for Note {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = RawNote::deserialize(d)?;
        let visibility = raw
            .visibility
            .as_deref()
            .and_then(Visibility::parse)
            .or_else(|| raw.visiblity.as_deref().and_then(Visibility::parse));
        Ok(Note {
            id: raw.id,
            candidate_id: raw.candidate_id,
            application_id: raw.application_id,
            body: raw.body.unwrap_or_default(),
            user_id: raw.user_id.or(raw.user.as_ref().map(|u| u.id)),
            user: raw.user,
            visibility,
            private: raw.private,
            kind: raw.kind,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
        })
    }
}

impl Note {
    /// Whether this activity-feed item is a note (v3 lists may carry other `type`s).
    pub fn is_note(&self) -> bool {
        self.kind
            .as_deref()
            .is_none_or(|k| k.eq_ignore_ascii_case("note"))
    }
}

/// v1 activity feed: only its notes are used.
#[derive(Deserialize)]
struct ActivityFeed {
    #[serde(default)]
    notes: Option<Vec<Note>>,
}

impl GreenhouseClient {
    /// Posts a note on a candidate. v1 sends `On-Behalf-Of` (the client's acting user, else the
    /// note's author); v3 acts as the token's `sub`. Never re-sent once it may have been applied:
    /// on `Timeout`/`Transport` errors ([`GreenhouseError::outcome_unknown`]) the caller decides.
    pub async fn create_note(
        &self,
        candidate_id: Id,
        note: &NewNote,
    ) -> Result<Note, GreenhouseError> {
        let version = self.api_version();
        let url = self.url(&routes::create_note(version, candidate_id))?;
        let body = match version {
            ApiVersion::V1 => json!({
                "user_id": note.user_id,
                "body": note.body,
                "visibility": note.visibility.as_str(),
            }),
            ApiVersion::V3 => json!({
                "candidate_id": candidate_id,
                "user_id": note.user_id,
                "body": note.body,
                "visibility": note.visibility.as_str(),
            }),
        };
        let resp = self
            .execute(ApiRequest {
                method: Method::POST,
                url,
                body: Some(body),
                write: true,
                on_behalf_of: Some(self.on_behalf_of().unwrap_or(note.user_id)),
            })
            .await?;
        // Success status and body are loosely documented: an empty 2xx still means created.
        let mut created = if resp.body.iter().all(u8::is_ascii_whitespace) {
            Note {
                id: None,
                candidate_id: None,
                application_id: None,
                body: note.body.clone(),
                user: None,
                user_id: Some(note.user_id),
                visibility: Some(note.visibility),
                private: None,
                kind: None,
                created_at: None,
                updated_at: None,
            }
        } else {
            decode_object::<Note>(&resp.body, "created note")?
        };
        created.candidate_id.get_or_insert(candidate_id);
        Ok(created)
    }

    /// The candidate's notes: v1 from the activity feed, v3 from `/v3/notes` (all pages, notes
    /// only). A candidate Greenhouse doesn't know has none.
    pub async fn notes_for_candidate(
        &self,
        candidate_id: Id,
    ) -> Result<Vec<Note>, GreenhouseError> {
        let version = self.api_version();
        let call = routes::notes_for_candidate(version, candidate_id, self.per_page());
        let result = match version {
            ApiVersion::V1 => {
                let url = self.url(&call)?;
                match self.execute(ApiRequest::get(url)).await {
                    Ok(resp) => decode_object::<ActivityFeed>(&resp.body, "activity feed")
                        .map(|f| f.notes.unwrap_or_default()),
                    Err(e) => Err(e),
                }
            }
            ApiVersion::V3 => self.collect::<Note>(call).await,
        };
        let notes = match result {
            Err(GreenhouseError::NotFound { .. }) => Vec::new(),
            other => other?,
        };
        Ok(notes
            .into_iter()
            .filter(Note::is_note)
            .filter(|n| n.candidate_id.is_none_or(|c| c == candidate_id))
            .map(|mut n| {
                n.candidate_id.get_or_insert(candidate_id);
                n
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/greenhouse")
            .join(name);
        std::fs::read_to_string(&path).unwrap()
    }

    #[test]
    fn parses_documented_create_response_with_both_spellings() {
        let n: Note =
            serde_json::from_str(&fixture("harvest_activity_feed_note_create_response.json"))
                .unwrap();
        assert_eq!(n.id, Some(226809052));
        assert_eq!(n.user_id, Some(214));
        assert_eq!(n.visibility, Some(Visibility::AdminOnly));
        let old: Note = serde_json::from_str(&fixture(
            "harvest_activity_feed_note_create_response_cassette_2016.json",
        ))
        .unwrap();
        assert_eq!(old.id, None);
        assert_eq!(old.visibility, Some(Visibility::Public));
    }

    #[test]
    fn parses_v3_note_and_string_ids() {
        let n: Note = serde_json::from_str(
            r#"{"id": 1, "candidate_id": "42", "application_id": null, "body": "b", "type": "NOTE", "updated_at": "2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(n.candidate_id, Some(42));
        assert!(n.is_note());
        let e: Note = serde_json::from_str(r#"{"id": 2, "type": "EMAIL"}"#).unwrap();
        assert!(!e.is_note());
    }

    #[test]
    fn activity_feed_notes() {
        let f: ActivityFeed =
            serde_json::from_str(&fixture("harvest_activity_feed_retrieve.json")).unwrap();
        let notes = f.notes.unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].body, "Very mysterious.");
    }
}
