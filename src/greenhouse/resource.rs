//! What can be listed (`Resource`) and how a listing is narrowed (`ListFilter`), independent of
//! the API version; `routes` turns them into each version's paths and parameters.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{EntityKind, Id};

/// The Harvest collections the sync reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resource {
    Users,
    Jobs,
    JobPosts,
    Candidates,
    Applications,
    Interviews,
    JobStages,
}

impl Resource {
    pub const ALL: [Resource; 7] = [
        Resource::Users,
        Resource::Jobs,
        Resource::JobPosts,
        Resource::Candidates,
        Resource::Applications,
        Resource::Interviews,
        Resource::JobStages,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Users => "users",
            Resource::Jobs => "jobs",
            Resource::JobPosts => "job_posts",
            Resource::Candidates => "candidates",
            Resource::Applications => "applications",
            Resource::Interviews => "interviews",
            Resource::JobStages => "job_stages",
        }
    }

    /// The store's entity kind this collection fills.
    pub fn entity_kind(self) -> EntityKind {
        match self {
            Resource::Users => EntityKind::User,
            Resource::Jobs => EntityKind::Job,
            Resource::JobPosts => EntityKind::JobPost,
            Resource::Candidates => EntityKind::Candidate,
            Resource::Applications => EntityKind::Application,
            Resource::Interviews => EntityKind::Interview,
            Resource::JobStages => EntityKind::JobStage,
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Server-side filters for a listing. Unset fields are not sent. A filter a resource/version
/// cannot express makes `list` fail with `GreenhouseError::Config` instead of silently returning
/// unfiltered data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Changed at or after this moment (`updated_after`; `last_activity_after` for v1
    /// applications; `updated_at=gte|...` on v3).
    pub updated_after: Option<DateTime<Utc>>,
    /// Interviews only: starting at or after.
    pub starts_after: Option<DateTime<Utc>>,
    /// Interviews only: starting before (v1) / at or before (v3).
    pub starts_before: Option<DateTime<Utc>>,
    /// Interviews of one application.
    pub application_id: Option<Id>,
    /// Applications of one candidate (v3), or one candidate.
    pub candidate_id: Option<Id>,
    /// Applications, job posts, job stages (and v1 candidates) of one job.
    pub job_id: Option<Id>,
}

impl ListFilter {
    pub fn updated_after(at: DateTime<Utc>) -> Self {
        ListFilter {
            updated_after: Some(at),
            ..ListFilter::default()
        }
    }

    pub fn starting_between(after: DateTime<Utc>, before: DateTime<Utc>) -> Self {
        ListFilter {
            starts_after: Some(after),
            starts_before: Some(before),
            ..ListFilter::default()
        }
    }
}
