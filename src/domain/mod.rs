//! The Greenhouse entities Panelist keeps, parsed leniently.
//!
//! Greenhouse only ever adds fields, and documents several as sometimes absent or null, so every
//! type here ignores unknown keys and tolerates missing optional ones. The shapes follow the
//! documented Harvest examples in `shared/greenhouse/fixtures/`.

mod de;
mod interview;

pub use interview::{Interview, InterviewStatus, InterviewTime, Interviewer, StageInterviewRef};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Greenhouse ids are 64-bit integers in every documented payload.
pub type Id = i64;

/// The kinds of entity the store keeps, one key space each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    User,
    Job,
    JobPost,
    Candidate,
    Application,
    JobStage,
    Interview,
}

impl EntityKind {
    pub const ALL: [EntityKind; 7] = [
        EntityKind::User,
        EntityKind::Job,
        EntityKind::JobPost,
        EntityKind::Candidate,
        EntityKind::Application,
        EntityKind::JobStage,
        EntityKind::Interview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Job => "job",
            EntityKind::JobPost => "job_post",
            EntityKind::Candidate => "candidate",
            EntityKind::Application => "application",
            EntityKind::JobStage => "job_stage",
            EntityKind::Interview => "interview",
        }
    }
}

/// A record the store can keep under `{kind}:{id}`.
pub trait Entity: Serialize + for<'de> Deserialize<'de> + Send + Sync + Clone + 'static {
    const KIND: EntityKind;
    fn id(&self) -> Id;
}

macro_rules! entity {
    ($ty:ty, $kind:expr) => {
        impl Entity for $ty {
            const KIND: EntityKind = $kind;
            fn id(&self) -> Id {
                self.id
            }
        }
    };
}

/// A reference to a Greenhouse user as it appears inside other objects (organizer, recruiter...).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserRef {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
}

/// An `{id, name}` pair, as jobs, departments and offices appear inside other objects.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Named {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
}

/// A typed value such as an email address or phone number on a candidate.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TypedValue {
    #[serde(default)]
    pub value: String,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub primary_email_address: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub emails: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub site_admin: bool,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
entity!(User, EntityKind::User);

impl User {
    /// Whether `email` is one of this user's addresses, compared case-insensitively.
    pub fn has_email(&self, email: &str) -> bool {
        self.primary_email_address
            .iter()
            .chain(self.emails.iter())
            .any(|e| e.eq_ignore_ascii_case(email.trim()))
    }

    pub fn display_name(&self) -> String {
        de::display_name(&self.name, &self.first_name, &self.last_name, self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Job {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub requisition_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub confidential: bool,
    #[serde(default, deserialize_with = "de::null_default")]
    pub departments: Vec<Option<Named>>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub offices: Vec<Option<Named>>,
    #[serde(default)]
    pub opened_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
entity!(Job, EntityKind::Job);

/// Harvest sends a job post's location as `{"name": ...}`; the `job_post_updated` webhook sends a
/// plain string. Both read into this.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(from = "de::LocationRepr")]
pub struct JobPostLocation {
    #[serde(default)]
    pub name: Option<String>,
}

impl From<de::LocationRepr> for JobPostLocation {
    fn from(r: de::LocationRepr) -> Self {
        match r {
            de::LocationRepr::Plain(name) => JobPostLocation { name: Some(name) },
            de::LocationRepr::Object { name } => JobPostLocation { name },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobPost {
    pub id: Id,
    #[serde(default)]
    pub title: Option<String>,
    /// Absent on a prospect post, which belongs to no job.
    #[serde(default)]
    pub job_id: Option<Id>,
    #[serde(default)]
    pub live: bool,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub external: bool,
    #[serde(default)]
    pub location: Option<JobPostLocation>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
entity!(JobPost, EntityKind::JobPost);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Candidate {
    pub id: Id,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub is_private: bool,
    #[serde(default, deserialize_with = "de::null_default")]
    pub application_ids: Vec<Id>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub email_addresses: Vec<TypedValue>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub tags: Vec<String>,
    /// Custom field values by key: the value itself (Harvest) or `{name, type, value}` (webhooks).
    /// Read from Greenhouse for the consent field only and never stored (`skip_serializing`):
    /// custom fields hold things like desired salary that Panelist has no business keeping.
    #[serde(default, deserialize_with = "de::null_default", skip_serializing)]
    pub custom_fields: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default, deserialize_with = "de::null_default", skip_serializing)]
    pub keyed_custom_fields: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity: Option<DateTime<Utc>>,
}
entity!(Candidate, EntityKind::Candidate);

impl Candidate {
    pub fn display_name(&self) -> String {
        de::display_name(&None, &self.first_name, &self.last_name, self.id)
    }
}

/// The stage an application is in. In a `candidate_stage_change` webhook it carries the stage's
/// interviews with their kits; in Harvest responses only `id` and `name`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ApplicationStage {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub interviews: Vec<StageInterview>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Application {
    pub id: Id,
    #[serde(default)]
    pub candidate_id: Option<Id>,
    #[serde(default)]
    pub prospect: bool,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub jobs: Vec<Named>,
    #[serde(default)]
    pub current_stage: Option<ApplicationStage>,
    #[serde(default)]
    pub applied_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub rejected_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_activity_at: Option<DateTime<Utc>>,
}
entity!(Application, EntityKind::Application);

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KitQuestion {
    #[serde(default)]
    pub id: Option<Id>,
    #[serde(default)]
    pub question: String,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InterviewKit {
    #[serde(default)]
    pub id: Option<Id>,
    /// HTML guidance for the interviewer, as Greenhouse stores it.
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub questions: Vec<KitQuestion>,
}

/// An interview defined on a job stage (not a scheduled occurrence), with its kit.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StageInterview {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub schedulable: Option<bool>,
    #[serde(default)]
    pub estimated_minutes: Option<i64>,
    #[serde(default)]
    pub interview_kit: Option<InterviewKit>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub default_interviewer_users: Vec<UserRef>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct JobStage {
    pub id: Id,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub job_id: Option<Id>,
    #[serde(default)]
    pub priority: Option<i64>,
    #[serde(default, deserialize_with = "de::null_default")]
    pub interviews: Vec<StageInterview>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}
entity!(JobStage, EntityKind::JobStage);

impl JobStage {
    /// The kit of the stage interview with `interview_id`, if this stage defines it.
    pub fn kit_for(&self, interview_id: Id) -> Option<&InterviewKit> {
        self.interviews
            .iter()
            .find(|i| i.id == interview_id)
            .and_then(|i| i.interview_kit.as_ref())
    }
}

entity!(Interview, EntityKind::Interview);

/// A date used where Greenhouse sends an all-day value.
pub type Day = NaiveDate;

#[cfg(test)]
mod tests;
