//! The fake's listings: filters per version (v1 ignores unknown parameters, v3 rejects them),
//! ordering and pagination, and how objects are rendered per version.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::api::{Incoming, Reply};
use super::notes::render_v3_note;
use super::query::{
    matches, parse_ids, parse_v1_date, parse_v3_date, v1_page, v3_page, v3_request, validation,
    DateField, IdField, Op, Pred, V3Request, MAX_IDS,
};
use super::state::State;
use crate::domain::Id;
use crate::greenhouse::Resource;
use crate::settings::ApiVersion;

/// The v3 collections: stored resources, and the rows derived from users and notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum V3Kind {
    Res(Resource),
    UserEmails,
    Notes,
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

pub(crate) fn v1_list(
    st: &State,
    inc: &Incoming,
    r: Resource,
    mut scope: Vec<Pred>,
) -> Result<Reply, Reply> {
    scope.extend(v1_filters(st, r, &inc.params)?);
    let ids: Vec<Id> = st
        .table(r)
        .iter()
        .filter(|(_, v)| matches(v, &scope))
        .map(|(id, _)| *id)
        .collect();
    let (page, link) = v1_page(&ids, &inc.params, &inc.origin, &inc.path)?;
    let items = render_page(st, ApiVersion::V1, r, &page);
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

pub(crate) fn v3_list(st: &State, inc: &Incoming, kind: V3Kind) -> Result<Reply, Reply> {
    let V3Request {
        filters,
        per_page,
        after,
    } = v3_request(&inc.params, &inc.path)?;
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
        V3Kind::Res(r) => render_page(st, ApiVersion::V3, r, &page),
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

/// Each candidate's applications, ascending by id (one pass over the applications).
pub(crate) fn applications_by_candidate(st: &State) -> HashMap<Id, Vec<&Value>> {
    let mut index: HashMap<Id, Vec<&Value>> = HashMap::new();
    for app in st.table(Resource::Applications).values() {
        if let Some(c) = app.get("candidate_id").and_then(Value::as_i64) {
            index.entry(c).or_default().push(app);
        }
    }
    index
}

/// The objects of one page as a version returns them.
fn render_page(st: &State, version: ApiVersion, r: Resource, page: &[Id]) -> Vec<Value> {
    let index = (r == Resource::Candidates).then(|| applications_by_candidate(st));
    page.iter()
        .filter_map(|id| st.table(r).get(id))
        .map(|obj| render(version, r, obj, index.as_ref()))
        .collect()
}

/// An object as a version returns it. Candidates embed their applications on v1 (as the
/// documented candidate object does) and only list their ids on v3.
pub(crate) fn render(
    version: ApiVersion,
    r: Resource,
    obj: &Value,
    apps_index: Option<&HashMap<Id, Vec<&Value>>>,
) -> Value {
    let mut out = obj.clone();
    if r != Resource::Candidates {
        return out;
    }
    let id = obj.get("id").and_then(Value::as_i64).unwrap_or_default();
    let apps: &[&Value] = apps_index
        .and_then(|i| i.get(&id))
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let ids: Vec<Id> = apps
        .iter()
        .filter_map(|a| a.get("id").and_then(Value::as_i64))
        .collect();
    if let Some(map) = out.as_object_mut() {
        map.insert("application_ids".into(), json!(ids));
        match version {
            ApiVersion::V1 => {
                let embedded = apps.iter().map(|a| (*a).clone()).collect();
                map.insert("applications".into(), Value::Array(embedded));
            }
            ApiVersion::V3 => {
                map.remove("applications");
            }
        }
    }
    out
}
