//! The fake's request pipeline and routing: a request is authenticated, counted against its
//! account's rate window, then routed to a listing, a retrieve, the activity feed or a note
//! write. Pure functions of the state and the request, so the server stays a thin async shell.

use serde_json::{json, Value};

use super::auth::{authenticate, token, Account};
use super::listing::{applications_by_candidate, render, v1_list, v3_list, V3Kind};
use super::notes::{activity_feed, create_note_v1, create_note_v3};
use super::query::{IdField, Pred};
use super::state::{Admission, State};
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

    pub(crate) fn not_found() -> Reply {
        Reply::json(404, json!({"message": "Resource not found"}))
    }

    pub(crate) fn header(mut self, k: &str, v: impl ToString) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub(crate) fn link(self, link: Option<String>) -> Reply {
        match link {
            Some(l) => self.header("Link", l),
            None => self,
        }
    }
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
                let index = (r == Resource::Candidates).then(|| applications_by_candidate(st));
                Ok(Reply::json(
                    200,
                    render(ApiVersion::V1, r, obj, index.as_ref()),
                ))
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

/// For the handle: query parameters as pairs.
pub(crate) fn parse_query(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}
