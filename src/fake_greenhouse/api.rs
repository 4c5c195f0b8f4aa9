//! The fake's Harvest and token endpoints: authentication, the per-account rate limit, routing,
//! listings, retrieves, the activity feed and note creation, in Greenhouse's documented shapes.
//! Pure functions of the state and the request, so the server stays a thin async shell.

use std::collections::HashMap;

use base64::Engine;
use chrono::{SecondsFormat, Utc};
use rand::RngCore;
use serde_json::{json, Value};

use super::query::{
    matches, parse_ids, parse_v1_date, parse_v3_date, v1_page, v3_page, v3_request, validation,
    DateField, IdField, Op, Pred, MAX_IDS,
};
use super::state::{Admission, State, StoredNote, TokenInfo};
use super::Note;
use crate::domain::Id;
use crate::greenhouse::Resource;
use crate::settings::ApiVersion;

/// The token endpoint's path on the fake (Greenhouse's is `https://auth.greenhouse.io/token`).
pub(crate) const TOKEN_PATH: &str = "/token";

/// A request as the API logic sees it.
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub on_behalf_of: Option<String>,
    pub body: Vec<u8>,
    /// `scheme://host:port` as the client addressed us, for Link URLs.
    pub origin: String,
}

#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    fn not_found() -> Reply {
        Reply::json(404, json!({"message": "Resource not found"}))
    }

    fn header(mut self, k: &str, v: impl ToString) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    fn link(self, link: Option<String>) -> Reply {
        match link {
            Some(l) => self.header("Link", l),
            None => self,
        }
    }
}

struct Account {
    key: String,
    acting_user: Option<Id>,
}

/// Entry point: token endpoint, or auth → rate limit → route for Harvest paths.
pub(crate) fn dispatch(st: &mut State, inc: &Incoming) -> Reply {
    if inc.path == TOKEN_PATH {
        return token(st, inc);
    }
    let version = if inc.path.starts_with("/v1/") {
        ApiVersion::V1
    } else if inc.path.starts_with("/v3/") {
        ApiVersion::V3
    } else {
        return Reply::not_found();
    };
    let account = match authenticate(st, version, inc) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let rate_headers = match st.admit(&account.key) {
        Admission::Unlimited => Vec::new(),
        Admission::Allowed {
            limit,
            remaining,
            reset_epoch,
        } => vec![
            ("X-RateLimit-Limit".to_string(), limit.to_string()),
            ("X-RateLimit-Remaining".to_string(), remaining.to_string()),
            ("X-RateLimit-Reset".to_string(), reset_epoch.to_string()),
        ],
        Admission::Throttled {
            retry_after_secs,
            reset_epoch,
        } => {
            // Documented: a 429 carries Retry-After but not Limit/Remaining.
            return Reply::json(429, json!({"message": "Rate limit exceeded"}))
                .header("Retry-After", retry_after_secs)
                .header("X-RateLimit-Reset", reset_epoch);
        }
    };
    let mut reply = match route(st, version, &account, inc) {
        Ok(r) | Err(r) => r,
    };
    reply.headers.extend(rate_headers);
    reply
}

fn basic_credentials(inc: &Incoming) -> Option<(String, String)> {
    let value = inc.authorization.as_deref()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

fn authenticate(st: &State, version: ApiVersion, inc: &Incoming) -> Result<Account, Reply> {
    match version {
        ApiVersion::V1 => match basic_credentials(inc) {
            Some((key, _)) if st.cfg.v1_api_keys.iter().any(|k| *k == key) => Ok(Account {
                key: format!("v1:{key}"),
                acting_user: None,
            }),
            _ => Err(Reply::json(
                401,
                json!({"message": "Invalid Basic Auth credentials"}),
            )),
        },
        ApiVersion::V3 => {
            let token = inc
                .authorization
                .as_deref()
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim);
            match token.and_then(|t| st.tokens.get(t)) {
                Some(info) if info.expires_at > Utc::now() => Ok(Account {
                    key: format!("v3:{}", info.client_id),
                    acting_user: info.sub,
                }),
                _ => Err(
                    Reply::json(401, json!({"message": "Invalid or expired access token"}))
                        .header("WWW-Authenticate", "Bearer error=\"invalid_token\""),
                ),
            }
        }
    }
}

fn token(st: &mut State, inc: &Incoming) -> Reply {
    if inc.method != "POST" {
        return Reply::json(405, json!({"error": "invalid_request"}));
    }
    let client = basic_credentials(inc).filter(|(id, secret)| {
        st.cfg
            .v3_clients
            .iter()
            .any(|(i, s)| i == id && s == secret)
    });
    let Some((client_id, _)) = client else {
        return Reply::json(401, json!({"error": "invalid_client"}));
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(&inc.body)
        .into_owned()
        .collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return Reply::json(400, json!({"error": "unsupported_grant_type"}));
    }
    let sub = match form.get("sub").map(|s| s.trim().parse::<Id>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return Reply::json(400, json!({"error": "invalid_request"})),
    };
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let access_token = hex::encode(raw);
    let ttl = chrono::Duration::from_std(st.cfg.token_ttl).unwrap_or(chrono::Duration::hours(1));
    let expires_at = Utc::now() + ttl;
    st.tokens.insert(
        access_token.clone(),
        TokenInfo {
            client_id,
            sub,
            expires_at,
        },
    );
    Reply::json(
        200,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_at": expires_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        }),
    )
}

fn segments(path: &str) -> Vec<&str> {
    path.split('/').filter(|s| !s.is_empty()).skip(1).collect()
}

fn id_seg(s: &str) -> Result<Id, Reply> {
    s.parse().map_err(|_| Reply::not_found())
}

fn route(
    st: &mut State,
    version: ApiVersion,
    account: &Account,
    inc: &Incoming,
) -> Result<Reply, Reply> {
    let segs = segments(&inc.path);
    let get = inc.method == "GET";
    let post = inc.method == "POST";
    match version {
        ApiVersion::V1 => match segs.as_slice() {
            [coll] if get => {
                let r = v1_collection(coll).ok_or_else(Reply::not_found)?;
                v1_list(st, inc, r, Vec::new())
            }
            [coll, id] if get => {
                let r = v1_collection(coll).ok_or_else(Reply::not_found)?;
                let id = id_seg(id)?;
                let obj = st.table(r).get(&id).ok_or_else(Reply::not_found)?;
                Ok(Reply::json(200, render(st, ApiVersion::V1, r, obj)))
            }
            ["jobs", id, sub] if get => {
                let id = id_seg(id)?;
                st.table(Resource::Jobs)
                    .get(&id)
                    .ok_or_else(Reply::not_found)?;
                let r = match *sub {
                    "stages" => Resource::JobStages,
                    "job_posts" => Resource::JobPosts,
                    _ => return Err(Reply::not_found()),
                };
                v1_list(st, inc, r, vec![Pred::Ids(IdField::Job, [id].into())])
            }
            ["applications", id, "scheduled_interviews"] if get => {
                let id = id_seg(id)?;
                st.table(Resource::Applications)
                    .get(&id)
                    .ok_or_else(Reply::not_found)?;
                v1_list(
                    st,
                    inc,
                    Resource::Interviews,
                    vec![Pred::Ids(IdField::Application, [id].into())],
                )
            }
            ["candidates", id, "activity_feed"] if get => activity_feed(st, id_seg(id)?),
            ["candidates", id, "activity_feed", "notes"] if post => {
                create_note_v1(st, inc, id_seg(id)?)
            }
            _ => Err(Reply::not_found()),
        },
        ApiVersion::V3 => match segs.as_slice() {
            ["notes"] if post => create_note_v3(st, inc, account),
            [coll] if get => {
                let kind = v3_collection(coll).ok_or_else(Reply::not_found)?;
                v3_list(st, inc, kind)
            }
            _ => Err(Reply::not_found()),
        },
    }
}

fn v1_collection(name: &str) -> Option<Resource> {
    Some(match name {
        "users" => Resource::Users,
        "jobs" => Resource::Jobs,
        "job_posts" => Resource::JobPosts,
        "candidates" => Resource::Candidates,
        "applications" => Resource::Applications,
        "scheduled_interviews" => Resource::Interviews,
        "job_stages" => Resource::JobStages,
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum V3Kind {
    Res(Resource),
    UserEmails,
    Notes,
}

fn v3_collection(name: &str) -> Option<V3Kind> {
    Some(match name {
        "users" => V3Kind::Res(Resource::Users),
        "jobs" => V3Kind::Res(Resource::Jobs),
        "job_posts" => V3Kind::Res(Resource::JobPosts),
        "candidates" => V3Kind::Res(Resource::Candidates),
        "applications" => V3Kind::Res(Resource::Applications),
        "interviews" => V3Kind::Res(Resource::Interviews),
        "job_interview_stages" => V3Kind::Res(Resource::JobStages),
        "user_emails" => V3Kind::UserEmails,
        "notes" => V3Kind::Notes,
        _ => return None,
    })
}

/// v1 list filters. Unknown parameters are ignored, as Harvest does; notably `updated_after`
/// on applications, which v1 does not have (so a client relying on it gets everything back).
fn v1_filters(st: &State, r: Resource, params: &[(String, String)]) -> Result<Vec<Pred>, Reply> {
    let mut preds = Vec::new();
    for (k, v) in params {
        let date =
            |field, op| -> Result<Pred, Reply> { Ok(Pred::Date(field, op, parse_v1_date(k, v)?)) };
        let pred = match (r, k.as_str()) {
            (_, "created_before") => date(DateField::Created, Op::Lt)?,
            (_, "created_after") => date(DateField::Created, Op::Gte)?,
            (Resource::Applications, "updated_before" | "updated_after") => continue,
            (_, "updated_before") => date(DateField::Updated, Op::Lt)?,
            (_, "updated_after") => date(DateField::Updated, Op::Gte)?,
            (Resource::Users, "email") => Pred::Email {
                email: v.trim().to_string(),
                primary_only: false,
            },
            (Resource::Candidates, "candidate_ids") => {
                Pred::Ids(IdField::Own, parse_ids(k, v, Some(MAX_IDS))?)
            }
            (Resource::Candidates, "job_id") => {
                let jobs = parse_ids(k, v, Some(1))?;
                let job_pred = [Pred::Ids(IdField::Job, jobs)];
                let cands = st
                    .table(Resource::Applications)
                    .values()
                    .filter(|a| matches(a, &job_pred))
                    .filter_map(|a| a.get("candidate_id").and_then(Value::as_i64))
                    .collect();
                Pred::Ids(IdField::Own, cands)
            }
            (Resource::Applications, "last_activity_after") => {
                date(DateField::LastActivity, Op::Gte)?
            }
            (Resource::Applications, "job_id") => {
                Pred::Ids(IdField::Job, parse_ids(k, v, Some(1))?)
            }
            (Resource::Interviews, "starts_before") => date(DateField::Starts, Op::Lt)?,
            (Resource::Interviews, "starts_after") => date(DateField::Starts, Op::Gte)?,
            (Resource::Interviews, "ends_before") => date(DateField::Ends, Op::Lt)?,
            (Resource::Interviews, "ends_after") => date(DateField::Ends, Op::Gte)?,
            (Resource::Interviews, "external_event_id") => Pred::Eq("external_event_id", v.clone()),
            _ => continue,
        };
        preds.push(pred);
    }
    Ok(preds)
}

fn v1_list(st: &State, inc: &Incoming, r: Resource, mut scope: Vec<Pred>) -> Result<Reply, Reply> {
    scope.extend(v1_filters(st, r, &inc.params)?);
    let ids: Vec<Id> = st
        .table(r)
        .iter()
        .filter(|(_, v)| matches(v, &scope))
        .map(|(id, _)| *id)
        .collect();
    let (page, link) = v1_page(&ids, &inc.params, &inc.origin, &inc.path)?;
    let items = page
        .iter()
        .filter_map(|id| st.table(r).get(id))
        .map(|obj| render(st, ApiVersion::V1, r, obj))
        .collect();
    Ok(Reply::json(200, Value::Array(items)).link(link))
}

/// v3 filters: unknown parameters are rejected with 422, which keeps clients honest about a
/// version whose parameter names are partly unverified.
fn v3_filters(kind: V3Kind, filters: &[(String, String)]) -> Result<Vec<Pred>, Reply> {
    use Resource as R;
    let mut preds = Vec::new();
    for (k, v) in filters {
        let date = |field| -> Result<Pred, Reply> {
            let (op, at) = parse_v3_date(k, v)?;
            Ok(Pred::Date(field, op, at))
        };
        let ids = |field| -> Result<Pred, Reply> {
            Ok(Pred::Ids(field, parse_ids(k, v, Some(MAX_IDS))?))
        };
        let pred = match (kind, k.as_str()) {
            (_, "ids") => ids(IdField::Own)?,
            (_, "created_at") => date(DateField::Created)?,
            (_, "updated_at") => date(DateField::Updated)?,
            (V3Kind::Res(R::Users), "primary_email") => Pred::Email {
                email: v.trim().to_string(),
                primary_only: true,
            },
            (V3Kind::Res(R::Users), "show_service_accounts") => continue,
            (V3Kind::UserEmails, "email") => Pred::Email {
                email: v.trim().to_string(),
                primary_only: false,
            },
            (V3Kind::UserEmails, "user_ids") => ids(IdField::User)?,
            (V3Kind::Res(R::Applications), "last_activity_at") => date(DateField::LastActivity)?,
            (V3Kind::Res(R::Applications) | V3Kind::Notes, "candidate_ids") => {
                ids(IdField::Candidate)?
            }
            (V3Kind::Res(R::Interviews) | V3Kind::Notes, "application_ids") => {
                ids(IdField::Application)?
            }
            (V3Kind::Res(R::Interviews), "starts_at") => date(DateField::Starts)?,
            (V3Kind::Res(R::Interviews), "ends_at") => date(DateField::Ends)?,
            (V3Kind::Res(R::Applications | R::JobPosts | R::JobStages), "job_ids") => {
                ids(IdField::Job)?
            }
            _ => return Err(validation(k, &format!("Unknown parameter: {k}"))),
        };
        preds.push(pred);
    }
    Ok(preds)
}

fn v3_list(st: &State, inc: &Incoming, kind: V3Kind) -> Result<Reply, Reply> {
    let (filters, per_page, after) = v3_request(&inc.params, &inc.path)?;
    let preds = v3_filters(kind, &filters)?;
    // Resources are filtered in place; notes and user e-mails are derived rows.
    let derived: Vec<(Id, Value)> = match kind {
        V3Kind::Res(_) => Vec::new(),
        V3Kind::Notes => st
            .notes
            .iter()
            .map(|n| (n.note.id, render_v3_note(&n.note)))
            .collect(),
        V3Kind::UserEmails => user_email_rows(st),
    };
    let mut ids: Vec<Id> = match kind {
        V3Kind::Res(r) => st
            .table(r)
            .iter()
            .filter(|(_, v)| matches(v, &preds))
            .map(|(id, _)| *id)
            .collect(),
        _ => derived
            .iter()
            .filter(|(_, v)| matches(v, &preds))
            .map(|(id, _)| *id)
            .collect(),
    };
    ids.sort_unstable_by(|a, b| b.cmp(a));
    let (page, link) = v3_page(&ids, &filters, per_page, after, &inc.origin, &inc.path);
    let items: Vec<Value> = match kind {
        V3Kind::Res(r) => page
            .iter()
            .filter_map(|id| st.table(r).get(id))
            .map(|obj| render(st, ApiVersion::V3, r, obj))
            .collect(),
        _ => {
            let by_id: HashMap<Id, &Value> = derived.iter().map(|(id, v)| (*id, v)).collect();
            page.iter()
                .filter_map(|id| by_id.get(id))
                .map(|v| (*v).clone())
                .collect()
        }
    };
    Ok(Reply::json(200, Value::Array(items)).link(link))
}

/// v3 `user_emails` rows (shape unverified): one per address of each user.
fn user_email_rows(st: &State) -> Vec<(Id, Value)> {
    let mut rows = Vec::new();
    for (uid, u) in st.table(Resource::Users) {
        let primary = u.get("primary_email_address").and_then(Value::as_str);
        let mut emails: Vec<&str> = u
            .get("emails")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(p) = primary {
            if !emails.contains(&p) {
                emails.insert(0, p);
            }
        }
        for (i, e) in emails.into_iter().enumerate() {
            let id = uid * 1000 + i as Id;
            rows.push((
                id,
                json!({"id": id, "user_id": uid, "email": e, "primary": Some(e) == primary}),
            ));
        }
    }
    rows
}

/// An object as a version returns it. Candidates embed their applications on v1 (as the
/// documented candidate object does) and only list their ids on v3.
fn render(st: &State, version: ApiVersion, r: Resource, obj: &Value) -> Value {
    let mut out = obj.clone();
    if r == Resource::Candidates {
        let id = obj.get("id").and_then(Value::as_i64).unwrap_or_default();
        let apps: Vec<&Value> = st
            .table(Resource::Applications)
            .values()
            .filter(|a| a.get("candidate_id").and_then(Value::as_i64) == Some(id))
            .collect();
        let ids: Vec<Id> = apps
            .iter()
            .filter_map(|a| a.get("id").and_then(Value::as_i64))
            .collect();
        if let Some(map) = out.as_object_mut() {
            map.insert("application_ids".into(), json!(ids));
            match version {
                ApiVersion::V1 => {
                    map.insert(
                        "applications".into(),
                        Value::Array(apps.into_iter().cloned().collect()),
                    );
                }
                ApiVersion::V3 => {
                    map.remove("applications");
                }
            }
        }
    }
    out
}

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

fn render_v3_note(note: &Note) -> Value {
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

fn activity_feed(st: &State, candidate_id: Id) -> Result<Reply, Reply> {
    st.table(Resource::Candidates)
        .get(&candidate_id)
        .ok_or_else(Reply::not_found)?;
    let mut notes: Vec<&StoredNote> = st
        .notes
        .iter()
        .filter(|n| n.note.candidate_id == candidate_id)
        .collect();
    notes.sort_by(|a, b| (b.note.created_at, b.note.id).cmp(&(a.note.created_at, a.note.id)));
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
fn create_note_v1(st: &mut State, inc: &Incoming, candidate_id: Id) -> Result<Reply, Reply> {
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
fn create_note_v3(st: &mut State, inc: &Incoming, account: &Account) -> Result<Reply, Reply> {
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

/// For the handle: query parameters as pairs.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}
