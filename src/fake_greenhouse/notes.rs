//! The fake's notes: the v1 activity feed (`{notes, emails, activities}`) and note creation on
//! both versions, validated like Greenhouse (the documented 422 for a missing body, v1's
//! required `On-Behalf-Of`) and echoed in each version's shape (v1 keeps `visiblity`).

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use super::api::{Incoming, Reply};
use super::auth::Account;
use super::query::validation;
use super::state::{State, StoredNote};
use super::Note;
use crate::domain::Id;
use crate::greenhouse::Resource;
use crate::settings::ApiVersion;

fn render_v1_note(st: &State, n: &StoredNote) -> Value {
    let note = &n.note;
    let user = n
        .user
        .clone()
        .unwrap_or_else(|| st.user_ref(note.user_id.unwrap_or_default()));
    json!({
        "id": note.id,
        "created_at": note.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "body": note.body,
        "user": user,
        "private": note.visibility == "private",
        // Greenhouse keeps the misspelt key beside the right one.
        "visiblity": note.visibility,
        "visibility": note.visibility,
    })
}

pub(crate) fn render_v3_note(note: &Note) -> Value {
    let at = note.created_at.to_rfc3339_opts(SecondsFormat::Millis, true);
    json!({
        "id": note.id,
        "candidate_id": note.candidate_id,
        "application_id": null,
        "user_id": note.user_id,
        "body": note.body,
        "visibility": note.visibility,
        "type": "NOTE",
        "created_at": at,
        "updated_at": at,
    })
}

pub(crate) fn activity_feed(st: &State, candidate_id: Id) -> Result<Reply, Reply> {
    st.table(Resource::Candidates)
        .get(&candidate_id)
        .ok_or_else(Reply::not_found)?;
    let mut notes: Vec<&StoredNote> = st
        .notes
        .iter()
        .filter(|n| n.note.candidate_id == candidate_id)
        .collect();
    notes.sort_by_key(|n| std::cmp::Reverse((n.note.created_at, n.note.id)));
    let (emails, activities) = st
        .feed_extras
        .get(&candidate_id)
        .cloned()
        .unwrap_or_default();
    Ok(Reply::json(
        200,
        json!({
            "notes": notes.iter().map(|n| render_v1_note(st, n)).collect::<Vec<_>>(),
            "emails": emails,
            "activities": activities,
        }),
    ))
}

fn lenient_id(v: Option<&Value>) -> Option<Id> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The note fields both versions validate alike: user_id, body, visibility.
fn note_fields(body: &[u8]) -> Result<(serde_json::Map<String, Value>, Id, String, String), Reply> {
    let obj = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => m,
        _ => return Err(validation("body", "Request body must be a JSON object")),
    };
    let text = obj
        .get("body")
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty())
        // The recorded Greenhouse answer to a note without body, verbatim (no top-level message).
        .ok_or_else(|| {
            Reply::json(
                422,
                json!({"errors": [{"message": "Missing required field: body", "field": "body"}]}),
            )
        })?;
    let user_id = lenient_id(obj.get("user_id"))
        .ok_or_else(|| validation("user_id", "Missing required field: user_id"))?;
    let visibility = obj
        .get("visibility")
        .and_then(Value::as_str)
        .ok_or_else(|| validation("visibility", "Missing required field: visibility"))?
        .to_string();
    if !matches!(visibility.as_str(), "admin_only" | "private" | "public") {
        return Err(validation(
            "visibility",
            "Must be one of: admin_only, private, public",
        ));
    }
    Ok((obj, user_id, text, visibility))
}

fn store_note(
    st: &mut State,
    version: ApiVersion,
    candidate_id: Id,
    user_id: Id,
    body: String,
    visibility: String,
    on_behalf_of: Option<Id>,
) -> StoredNote {
    st.next_note_id += 1;
    let stored = StoredNote {
        note: Note {
            id: st.next_note_id,
            candidate_id,
            user_id: Some(user_id),
            body,
            visibility,
            on_behalf_of,
            created_at: Utc::now(),
            via: Some(version),
        },
        user: None,
    };
    st.notes.push(stored.clone());
    stored
}

/// v1: `POST /v1/candidates/{id}/activity_feed/notes`, `On-Behalf-Of` required.
pub(crate) fn create_note_v1(
    st: &mut State,
    inc: &Incoming,
    candidate_id: Id,
) -> Result<Reply, Reply> {
    st.table(Resource::Candidates)
        .get(&candidate_id)
        .ok_or_else(Reply::not_found)?;
    let on_behalf_of = inc
        .on_behalf_of
        .as_deref()
        .and_then(|v| v.trim().parse::<Id>().ok())
        .ok_or_else(|| validation("On-Behalf-Of", "Missing or invalid On-Behalf-Of header"))?;
    let (_, user_id, text, visibility) = note_fields(&inc.body)?;
    let stored = store_note(
        st,
        ApiVersion::V1,
        candidate_id,
        user_id,
        text,
        visibility,
        Some(on_behalf_of),
    );
    // 200 is what recorded traffic shows for this write.
    Ok(Reply::json(200, render_v1_note(st, &stored)))
}

/// v3: `POST /v3/notes` with `candidate_id` in the body (route unverified); acting user = `sub`.
pub(crate) fn create_note_v3(
    st: &mut State,
    inc: &Incoming,
    account: &Account,
) -> Result<Reply, Reply> {
    let (obj, user_id, text, visibility) = note_fields(&inc.body)?;
    let candidate_id = lenient_id(obj.get("candidate_id"))
        .ok_or_else(|| validation("candidate_id", "Missing required field: candidate_id"))?;
    if !st.table(Resource::Candidates).contains_key(&candidate_id) {
        return Err(validation("candidate_id", "Candidate not found"));
    }
    let stored = store_note(
        st,
        ApiVersion::V3,
        candidate_id,
        user_id,
        text,
        visibility,
        account.acting_user,
    );
    Ok(Reply::json(201, render_v3_note(&stored.note)))
}
