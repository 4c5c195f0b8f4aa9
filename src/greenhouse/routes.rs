//! THE table of Harvest paths and query parameters, per API version, and THE one function that
//! encodes v3 date filters.
//!
//! Several v3 details are unverified (see `shared/greenhouse/GREENHOUSE.md`); each guess lives in
//! exactly one constant or match arm here, so correcting it is a one-line change. Nothing outside
//! this file spells a Harvest path or parameter name.

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::GreenhouseError;
use super::resource::{ListFilter, Resource};
use crate::domain::Id;
use crate::settings::ApiVersion;

/// A path below the Harvest base URL plus its query parameters, in sending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub path: String,
    pub query: Vec<(String, String)>,
}

impl Call {
    fn new(path: impl Into<String>) -> Self {
        Call {
            path: path.into(),
            query: Vec::new(),
        }
    }

    fn param(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_string(), value.to_string()));
        self
    }
}

/// One listable collection: its path per version and the name of its "changed since" filter.
struct ListRoute {
    resource: Resource,
    v1: &'static str,
    v3: &'static str,
    /// v1 query parameter taking an ISO-8601 timestamp.
    v1_changed_since: &'static str,
    /// v3 field given to [`v3_date_filter`].
    v3_changed_since: &'static str,
}

const LIST_ROUTES: [ListRoute; 7] = [
    ListRoute {
        resource: Resource::Users,
        v1: "/v1/users",
        v3: "/v3/users",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
    ListRoute {
        resource: Resource::Jobs,
        v1: "/v1/jobs",
        v3: "/v3/jobs",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
    ListRoute {
        resource: Resource::JobPosts,
        v1: "/v1/job_posts",
        v3: "/v3/job_posts",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
    ListRoute {
        resource: Resource::Candidates,
        v1: "/v1/candidates",
        v3: "/v3/candidates",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
    ListRoute {
        resource: Resource::Applications,
        v1: "/v1/applications",
        v3: "/v3/applications",
        // v1 applications have no updated_after (documented).
        v1_changed_since: "last_activity_after",
        // Unverified: mirrors v1's semantics; Prismatic's changelog names a last_activity_at filter.
        v3_changed_since: "last_activity_at",
    },
    ListRoute {
        resource: Resource::Interviews,
        v1: "/v1/scheduled_interviews",
        v3: "/v3/interviews",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
    ListRoute {
        resource: Resource::JobStages,
        v1: "/v1/job_stages",
        // Unverified: assumed to return the v1 stage objects with interviews and kits embedded.
        v3: "/v3/job_interview_stages",
        v1_changed_since: "updated_after",
        v3_changed_since: "updated_at",
    },
];

// Paths that take an id, and the single-purpose endpoints.
const V1_CANDIDATE: &str = "/v1/candidates/{id}";
const V1_INTERVIEWS_FOR_APPLICATION: &str = "/v1/applications/{id}/scheduled_interviews";
const V1_JOB_POSTS_FOR_JOB: &str = "/v1/jobs/{id}/job_posts";
const V1_STAGES_FOR_JOB: &str = "/v1/jobs/{id}/stages";
const V1_ACTIVITY_FEED: &str = "/v1/candidates/{id}/activity_feed";
const V1_CREATE_NOTE: &str = "/v1/candidates/{id}/activity_feed/notes";
const V3_USER_EMAILS: &str = "/v3/user_emails";
/// GET with `candidate_ids` is what Airbyte's connector does; POST is unverified.
const V3_NOTES: &str = "/v3/notes";

// Query parameter names.
const PER_PAGE: &str = "per_page";
const V1_EMAIL: &str = "email";
const V3_PRIMARY_EMAIL: &str = "primary_email";
const V3_USER_EMAILS_EMAIL: &str = "email";
const V1_STARTS_AFTER: &str = "starts_after";
const V1_STARTS_BEFORE: &str = "starts_before";
const V3_STARTS: &str = "starts_at";
const V1_CANDIDATE_IDS: &str = "candidate_ids";
const V1_JOB_ID: &str = "job_id";
const V3_IDS: &str = "ids";
const V3_APPLICATION_IDS: &str = "application_ids";
const V3_CANDIDATE_IDS: &str = "candidate_ids";
const V3_JOB_IDS: &str = "job_ids";

/// A comparison in a v3 date filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Gte,
    Lte,
}

/// THE encoding of a v3 date filter: `updated_at=gte|2026-01-01T00:00:00Z` (Airbyte's form).
/// Unverified; if Greenhouse wants `updated_at[gte]=...` instead, change only this function.
/// Seconds precision, truncated: for `gte` that can only widen the window, never lose a change.
pub fn v3_date_filter(field: &str, cmp: Cmp, at: DateTime<Utc>) -> (String, String) {
    let op = match cmp {
        Cmp::Gte => "gte",
        Cmp::Lte => "lte",
    };
    (field.to_string(), format!("{op}|{}", iso(at)))
}

/// v1 timestamps: ISO-8601 in UTC.
fn iso(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn with_id(template: &str, id: Id) -> String {
    template.replace("{id}", &id.to_string())
}

fn unsupported(version: ApiVersion, resource: Resource, filter: &str) -> GreenhouseError {
    GreenhouseError::Config(format!(
        "Harvest {} cannot filter {resource} by {filter}",
        version.as_str()
    ))
}

fn route(resource: Resource) -> &'static ListRoute {
    // The table has one row per variant; the fallback row is unreachable but avoids a panic path.
    LIST_ROUTES
        .iter()
        .find(|r| r.resource == resource)
        .unwrap_or(&LIST_ROUTES[0])
}

/// The first request of a listing: path, `per_page` and the filters. Later pages come from the
/// `Link` header, never from here.
pub(crate) fn list(
    version: ApiVersion,
    resource: Resource,
    filter: &ListFilter,
    per_page: u32,
) -> Result<Call, GreenhouseError> {
    let r = route(resource);
    let v1 = version == ApiVersion::V1;
    let mut call = Call::new(if v1 { r.v1 } else { r.v3 });

    // Filters that select a nested v1 path come first, so the path is final before params.
    if let Some(app) = filter.application_id {
        match (resource, version) {
            (Resource::Interviews, ApiVersion::V1) => {
                call.path = with_id(V1_INTERVIEWS_FOR_APPLICATION, app)
            }
            (Resource::Interviews, ApiVersion::V3) => call = call.param(V3_APPLICATION_IDS, app),
            _ => return Err(unsupported(version, resource, "application_id")),
        }
    }
    if let Some(job) = filter.job_id {
        call = match (resource, version) {
            (Resource::JobPosts, ApiVersion::V1) => Call::new(with_id(V1_JOB_POSTS_FOR_JOB, job)),
            (Resource::JobStages, ApiVersion::V1) => Call::new(with_id(V1_STAGES_FOR_JOB, job)),
            (Resource::Applications | Resource::Candidates, ApiVersion::V1) => {
                call.param(V1_JOB_ID, job)
            }
            (Resource::Applications | Resource::JobPosts | Resource::JobStages, ApiVersion::V3) => {
                call.param(V3_JOB_IDS, job)
            }
            _ => return Err(unsupported(version, resource, "job_id")),
        };
    }
    if let Some(cand) = filter.candidate_id {
        call = match (resource, version) {
            (Resource::Candidates, ApiVersion::V1) => call.param(V1_CANDIDATE_IDS, cand),
            (Resource::Candidates, ApiVersion::V3) => call.param(V3_IDS, cand),
            (Resource::Applications, ApiVersion::V3) => call.param(V3_CANDIDATE_IDS, cand),
            _ => return Err(unsupported(version, resource, "candidate_id")),
        };
    }
    if let Some(at) = filter.updated_after {
        call = if v1 {
            call.param(r.v1_changed_since, iso(at))
        } else {
            let (k, v) = v3_date_filter(r.v3_changed_since, Cmp::Gte, at);
            call.param(&k, v)
        };
    }
    for (bound, cmp, v1_name) in [
        (filter.starts_after, Cmp::Gte, V1_STARTS_AFTER),
        (filter.starts_before, Cmp::Lte, V1_STARTS_BEFORE),
    ] {
        let Some(at) = bound else { continue };
        if resource != Resource::Interviews || (v1 && filter.application_id.is_some()) {
            return Err(unsupported(version, resource, v1_name));
        }
        call = if v1 {
            call.param(v1_name, iso(at))
        } else {
            // Unverified: both bounds are sent as repeated `starts_at` parameters.
            let (k, v) = v3_date_filter(V3_STARTS, cmp, at);
            call.param(&k, v)
        };
    }
    Ok(call.param(PER_PAGE, per_page))
}

/// Users whose address is `email`: v1 matches primary and secondary addresses, v3 only the primary.
pub(crate) fn users_by_email(version: ApiVersion, email: &str, per_page: u32) -> Call {
    match version {
        ApiVersion::V1 => Call::new(route(Resource::Users).v1).param(V1_EMAIL, email),
        ApiVersion::V3 => Call::new(route(Resource::Users).v3).param(V3_PRIMARY_EMAIL, email),
    }
    .param(PER_PAGE, per_page)
}

/// v3 only: secondary addresses, each naming its `user_id` (shape unverified).
pub(crate) fn v3_user_emails(email: &str, per_page: u32) -> Call {
    Call::new(V3_USER_EMAILS)
        .param(V3_USER_EMAILS_EMAIL, email)
        .param(PER_PAGE, per_page)
}

/// v3 only: one user by id, as a one-element listing.
pub(crate) fn v3_user_by_id(id: Id) -> Call {
    Call::new(route(Resource::Users).v3)
        .param(V3_IDS, id)
        .param(PER_PAGE, 1)
}

/// One candidate: v1 has a retrieve endpoint (embedding applications); v3 is filtered by `ids`.
pub(crate) fn candidate(version: ApiVersion, id: Id) -> Call {
    match version {
        ApiVersion::V1 => Call::new(with_id(V1_CANDIDATE, id)),
        ApiVersion::V3 => Call::new(route(Resource::Candidates).v3)
            .param(V3_IDS, id)
            .param(PER_PAGE, 1),
    }
}

/// Where a note is created.
pub(crate) fn create_note(version: ApiVersion, candidate_id: Id) -> Call {
    match version {
        ApiVersion::V1 => Call::new(with_id(V1_CREATE_NOTE, candidate_id)),
        ApiVersion::V3 => Call::new(V3_NOTES),
    }
}

/// Where a candidate's notes are read: v1's activity feed (an object), v3's paginated notes.
pub(crate) fn notes_for_candidate(version: ApiVersion, candidate_id: Id, per_page: u32) -> Call {
    match version {
        ApiVersion::V1 => Call::new(with_id(V1_ACTIVITY_FEED, candidate_id)),
        ApiVersion::V3 => Call::new(V3_NOTES)
            .param(V3_CANDIDATE_IDS, candidate_id)
            .param(PER_PAGE, per_page),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn pairs(call: &Call) -> Vec<(&str, &str)> {
        call.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn v3_date_filter_encoding() {
        assert_eq!(
            v3_date_filter("updated_at", Cmp::Gte, at()),
            (
                "updated_at".to_string(),
                "gte|2026-01-01T00:00:00Z".to_string()
            )
        );
        let later = at() + chrono::Duration::milliseconds(1500);
        assert_eq!(
            v3_date_filter("starts_at", Cmp::Lte, later).1,
            "lte|2026-01-01T00:00:01Z"
        );
    }

    #[test]
    fn every_resource_has_a_route() {
        for r in Resource::ALL {
            assert_eq!(route(r).resource, r);
            for v in [ApiVersion::V1, ApiVersion::V3] {
                let call = list(v, r, &ListFilter::default(), 50).unwrap();
                assert!(call.path.starts_with(&format!("/{}/", v.as_str())));
                assert_eq!(pairs(&call), vec![("per_page", "50")]);
            }
        }
    }

    #[test]
    fn interview_filters_per_version() {
        let f = ListFilter {
            updated_after: Some(at()),
            starts_after: Some(at()),
            starts_before: Some(at()),
            ..ListFilter::default()
        };
        let v1 = list(ApiVersion::V1, Resource::Interviews, &f, 100).unwrap();
        assert_eq!(v1.path, "/v1/scheduled_interviews");
        assert_eq!(
            pairs(&v1),
            vec![
                ("updated_after", "2026-01-01T00:00:00Z"),
                ("starts_after", "2026-01-01T00:00:00Z"),
                ("starts_before", "2026-01-01T00:00:00Z"),
                ("per_page", "100"),
            ]
        );
        let v3 = list(ApiVersion::V3, Resource::Interviews, &f, 100).unwrap();
        assert_eq!(v3.path, "/v3/interviews");
        assert_eq!(
            pairs(&v3),
            vec![
                ("updated_at", "gte|2026-01-01T00:00:00Z"),
                ("starts_at", "gte|2026-01-01T00:00:00Z"),
                ("starts_at", "lte|2026-01-01T00:00:00Z"),
                ("per_page", "100"),
            ]
        );
    }

    #[test]
    fn applications_use_last_activity_and_nested_paths() {
        let f = ListFilter::updated_after(at());
        let v1 = list(ApiVersion::V1, Resource::Applications, &f, 10).unwrap();
        assert_eq!(
            pairs(&v1)[0],
            ("last_activity_after", "2026-01-01T00:00:00Z")
        );
        let by_app = ListFilter {
            application_id: Some(7),
            ..ListFilter::default()
        };
        let v1 = list(ApiVersion::V1, Resource::Interviews, &by_app, 10).unwrap();
        assert_eq!(v1.path, "/v1/applications/7/scheduled_interviews");
        let v3 = list(ApiVersion::V3, Resource::Interviews, &by_app, 10).unwrap();
        assert_eq!(pairs(&v3)[0], ("application_ids", "7"));
        let stages = ListFilter {
            job_id: Some(9),
            ..ListFilter::default()
        };
        let v1 = list(ApiVersion::V1, Resource::JobStages, &stages, 10).unwrap();
        assert_eq!(v1.path, "/v1/jobs/9/stages");
    }

    #[test]
    fn inexpressible_filters_are_errors() {
        let f = ListFilter {
            candidate_id: Some(1),
            ..ListFilter::default()
        };
        assert!(list(ApiVersion::V1, Resource::Applications, &f, 10).is_err());
        let f = ListFilter {
            starts_after: Some(at()),
            ..ListFilter::default()
        };
        assert!(list(ApiVersion::V3, Resource::Users, &f, 10).is_err());
    }
}
