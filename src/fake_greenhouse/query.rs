//! Query handling for the fake's listings: parsing filters per API version, matching stored
//! objects, and the two pagination schemes (v1 `page`/`per_page` with Link next/prev/last; v3
//! opaque cursors ordered by id descending, where a cursor must travel alone).

use std::collections::HashSet;

use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::api::Reply;
use crate::domain::Id;

/// v3 `ids`-style filters take at most this many ids (documented).
pub(crate) const MAX_IDS: usize = 50;
const DEFAULT_PER_PAGE: usize = 100;
const MAX_PER_PAGE: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateField {
    Updated,
    Created,
    LastActivity,
    Starts,
    Ends,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdField {
    Own,
    Candidate,
    Application,
    User,
    /// `job_id`, or any of `jobs[].id` (applications).
    Job,
}

#[derive(Debug, Clone)]
pub(crate) enum Pred {
    Date(DateField, Op, DateTime<Utc>),
    Ids(IdField, HashSet<Id>),
    /// Address match, case-insensitive: primary only, or primary and secondary.
    Email {
        email: String,
        primary_only: bool,
    },
    /// Exact string field match (`external_event_id`).
    Eq(&'static str, String),
}

pub(crate) fn validation(field: &str, message: &str) -> Reply {
    Reply::json(
        422,
        json!({"message": "Validation error", "errors": [{"message": message, "field": field}]}),
    )
}

pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

pub(crate) fn parse_ids(
    field: &str,
    raw: &str,
    limit: Option<usize>,
) -> Result<HashSet<Id>, Reply> {
    let ids: Result<HashSet<Id>, _> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse::<Id>)
        .collect();
    let ids = ids.map_err(|_| validation(field, "Must be a comma-separated list of ids"))?;
    if limit.is_some_and(|l| ids.len() > l) {
        return Err(validation(
            field,
            &format!("At most {MAX_IDS} ids may be given"),
        ));
    }
    Ok(ids)
}

/// A v3 date filter value `op|timestamp`.
pub(crate) fn parse_v3_date(field: &str, raw: &str) -> Result<(Op, DateTime<Utc>), Reply> {
    let bad = || {
        validation(
            field,
            "Must be of the form gte|<ISO-8601 timestamp> (gt, gte, lt, lte)",
        )
    };
    let (op, at) = raw.split_once('|').ok_or_else(bad)?;
    let op = match op {
        "gt" => Op::Gt,
        "gte" => Op::Gte,
        "lt" => Op::Lt,
        "lte" => Op::Lte,
        _ => return Err(bad()),
    };
    Ok((op, parse_time(at).ok_or_else(bad)?))
}

pub(crate) fn parse_v1_date(field: &str, raw: &str) -> Result<DateTime<Utc>, Reply> {
    parse_time(raw).ok_or_else(|| validation(field, "Must be an ISO-8601 timestamp"))
}

fn time_of(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => parse_time(s),
        Value::Object(m) => m
            .get("date_time")
            .and_then(Value::as_str)
            .or_else(|| m.get("date").and_then(Value::as_str))
            .and_then(parse_time),
        _ => None,
    }
}

fn date_of(obj: &Value, field: DateField) -> Option<DateTime<Utc>> {
    let keys: &[&str] = match field {
        DateField::Updated => &["updated_at"],
        DateField::Created => &["created_at", "applied_at"],
        DateField::LastActivity => &["last_activity_at", "last_activity"],
        DateField::Starts => &["start"],
        DateField::Ends => &["end"],
    };
    keys.iter().find_map(|k| obj.get(*k).and_then(time_of))
}

fn ids_of(obj: &Value, field: IdField) -> Vec<Id> {
    let one = |k: &str| obj.get(k).and_then(Value::as_i64).into_iter().collect();
    match field {
        IdField::Own => one("id"),
        IdField::Candidate => one("candidate_id"),
        IdField::Application => one("application_id"),
        IdField::User => one("user_id"),
        IdField::Job => {
            let mut ids: Vec<Id> = one("job_id");
            if let Some(jobs) = obj.get("jobs").and_then(Value::as_array) {
                ids.extend(
                    jobs.iter()
                        .filter_map(|j| j.get("id").and_then(Value::as_i64)),
                );
            }
            ids
        }
    }
}

pub(crate) fn matches(obj: &Value, preds: &[Pred]) -> bool {
    preds.iter().all(|p| match p {
        Pred::Date(field, op, at) => date_of(obj, *field).is_some_and(|t| match op {
            Op::Gt => t > *at,
            Op::Gte => t >= *at,
            Op::Lt => t < *at,
            Op::Lte => t <= *at,
        }),
        Pred::Ids(field, set) => ids_of(obj, *field).iter().any(|id| set.contains(id)),
        Pred::Email {
            email,
            primary_only,
        } => {
            let primary = obj
                .get("primary_email_address")
                .and_then(Value::as_str)
                .into_iter();
            let eq = |e: &str| e.eq_ignore_ascii_case(email);
            if *primary_only {
                primary.into_iter().any(eq)
            } else {
                let others = obj
                    .get("emails")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str);
                primary.chain(others).any(eq)
                    || obj.get("email").and_then(Value::as_str).is_some_and(eq)
            }
        }
        Pred::Eq(key, value) => obj.get(*key).and_then(Value::as_str) == Some(value.as_str()),
    })
}

pub(crate) fn parse_per_page(raw: Option<&str>) -> Result<usize, Reply> {
    match raw {
        None => Ok(DEFAULT_PER_PAGE),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_PER_PAGE).contains(&n) => Ok(n),
            _ => Err(validation(
                "per_page",
                "Must be an integer between 1 and 500",
            )),
        },
    }
}

fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// One v1 page of `ids` (ascending), with the Link header Greenhouse documents.
pub(crate) fn v1_page(
    ids: &[Id],
    params: &[(String, String)],
    origin: &str,
    path: &str,
) -> Result<(Vec<Id>, Option<String>), Reply> {
    let per_page = parse_per_page(param(params, "per_page"))?;
    let page = match param(params, "page") {
        None => 1,
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(validation("page", "Must be a positive integer")),
        },
    };
    let pages = ids.len().div_ceil(per_page).max(1);
    let start = (page - 1).saturating_mul(per_page).min(ids.len());
    let end = (start + per_page).min(ids.len());
    let slice = ids[start..end].to_vec();
    if pages == 1 {
        return Ok((slice, None));
    }
    let skip_count = param(params, "skip_count") == Some("true");
    let link_to = |n: usize| {
        let mut q = vec![("page".to_string(), n.to_string())];
        q.extend(params.iter().filter(|(k, _)| k != "page").cloned());
        format!("<{origin}{path}?{}>", encode_query(&q))
    };
    let mut links = Vec::new();
    if page < pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    if !skip_count {
        links.push(format!("{}; rel=\"last\"", link_to(pages)));
    }
    Ok((slice, Some(links.join(", "))))
}

/// What a v3 cursor carries: the listing it continues and where it stopped.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Cursor {
    pub path: String,
    pub params: Vec<(String, String)>,
    pub per_page: usize,
    /// The last id returned; the next page starts below it (ids descend).
    pub after: Id,
}

pub(crate) fn encode_cursor(c: &Cursor) -> String {
    let json = serde_json::to_vec(c).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

pub(crate) fn decode_cursor(raw: &str) -> Option<Cursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw.trim())
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What a v3 listing request asks for, whether spelled out or frozen into a cursor.
pub(crate) struct V3Request {
    pub filters: Vec<(String, String)>,
    pub per_page: usize,
    /// Continue below this id (from a cursor).
    pub after: Option<Id>,
}

/// The filter parameters and page size of a v3 request: either its own query, or, when it
/// carries a `cursor`, the ones frozen into the cursor (and then nothing else is allowed).
pub(crate) fn v3_request(params: &[(String, String)], path: &str) -> Result<V3Request, Reply> {
    if let Some(raw) = param(params, "cursor") {
        if params.len() > 1 {
            return Err(validation(
                "cursor",
                "A request with a cursor must not carry any other parameter",
            ));
        }
        let c = decode_cursor(raw).ok_or_else(|| validation("cursor", "Invalid cursor"))?;
        if c.path != path {
            return Err(validation("cursor", "Cursor belongs to another endpoint"));
        }
        return Ok(V3Request {
            filters: c.params,
            per_page: c.per_page,
            after: Some(c.after),
        });
    }
    let per_page = parse_per_page(param(params, "per_page"))?;
    let filters = params
        .iter()
        .filter(|(k, _)| k != "per_page")
        .cloned()
        .collect();
    Ok(V3Request {
        filters,
        per_page,
        after: None,
    })
}

/// One v3 page of `ids` (descending), and the next link when more remain.
pub(crate) fn v3_page(
    ids_desc: &[Id],
    filters: &[(String, String)],
    per_page: usize,
    after: Option<Id>,
    origin: &str,
    path: &str,
) -> (Vec<Id>, Option<String>) {
    let rest: Vec<Id> = ids_desc
        .iter()
        .copied()
        .filter(|id| after.is_none_or(|a| *id < a))
        .collect();
    let page: Vec<Id> = rest.iter().copied().take(per_page).collect();
    let link = match page.last() {
        Some(last) if rest.len() > page.len() => {
            let cursor = encode_cursor(&Cursor {
                path: path.to_string(),
                params: filters.to_vec(),
                per_page,
                after: *last,
            });
            Some(format!("<{origin}{path}?cursor={cursor}>; rel=\"next\""))
        }
        _ => None,
    };
    (page, link)
}

pub(crate) fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}
