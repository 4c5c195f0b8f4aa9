//! Single-purpose reads: a user by e-mail, one candidate, a candidate's applications, an
//! application's interviews. A 404 here means "not there" (`None` / empty), not an error.

use serde::Deserialize;

use super::client::GreenhouseClient;
use super::engine::ApiRequest;
use super::error::GreenhouseError;
use super::pagination::json_kind;
use super::resource::{ListFilter, Resource};
use super::routes;
use crate::domain::{Application, Candidate, Id, Interview, User};
use crate::settings::ApiVersion;

/// A v3 `user_emails` row (shape unverified): only the owning user's id is needed.
#[derive(Debug, Deserialize)]
struct UserEmail {
    #[serde(default)]
    user_id: Option<Id>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    value: Option<String>,
}

/// The part of a v1 candidate retrieve body that `applications_for_candidate` needs.
#[derive(Debug, Deserialize)]
struct CandidateApplications {
    #[serde(default, deserialize_with = "null_as_empty")]
    applications: Vec<Application>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Application>, D::Error> {
    Ok(Option::<Vec<Application>>::deserialize(d)?.unwrap_or_default())
}

fn not_found_as<T>(result: Result<T, GreenhouseError>, empty: T) -> Result<T, GreenhouseError> {
    match result {
        Err(GreenhouseError::NotFound { .. }) => Ok(empty),
        other => other,
    }
}

impl GreenhouseClient {
    /// The Greenhouse user with this address. v1 matches primary and secondary addresses;
    /// v3 tries `primary_email`, then the `user_emails` index for secondary addresses.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, GreenhouseError> {
        let email = email.trim();
        if email.is_empty() {
            return Ok(None);
        }
        let version = self.api_version();
        let users: Vec<User> = self
            .collect(routes::users_by_email(version, email, self.per_page()))
            .await?;
        let single = users.len() == 1;
        if let Some(u) = users.iter().find(|u| u.has_email(email)) {
            return Ok(Some(u.clone()));
        }
        if version == ApiVersion::V1 {
            return Ok(None);
        }
        // v3 user objects may name the address differently (unverified): a single answer to a
        // primary_email query is taken as the match.
        if single {
            return Ok(users.into_iter().next());
        }
        let rows: Vec<UserEmail> = self
            .collect(routes::v3_user_emails(email, self.per_page()))
            .await?;
        let owner = rows.iter().find_map(|r| {
            let addr = r.email.as_deref().or(r.value.as_deref());
            match addr {
                Some(a) if !a.eq_ignore_ascii_case(email) => None,
                _ => r.user_id,
            }
        });
        let Some(user_id) = owner else {
            return Ok(None);
        };
        let users: Vec<User> = self.collect(routes::v3_user_by_id(user_id)).await?;
        Ok(users.into_iter().find(|u| u.id == user_id))
    }

    /// One candidate, or `None` if Greenhouse does not know it.
    pub async fn candidate(&self, id: Id) -> Result<Option<Candidate>, GreenhouseError> {
        let call = routes::candidate(self.api_version(), id);
        match self.api_version() {
            ApiVersion::V1 => {
                let url = self.url(&call)?;
                let resp = not_found_as(self.execute(ApiRequest::get(url)).await.map(Some), None)?;
                let Some(resp) = resp else { return Ok(None) };
                let candidate = decode_object::<Candidate>(&resp.body, "candidate")?;
                Ok(Some(candidate))
            }
            ApiVersion::V3 => {
                let found: Vec<Candidate> = not_found_as(self.collect(call).await, Vec::new())?;
                Ok(found.into_iter().find(|c| c.id == id))
            }
        }
    }

    /// A candidate's applications. v1 has no candidate filter on `/applications`: they come
    /// embedded in the candidate retrieve body.
    pub async fn applications_for_candidate(
        &self,
        candidate_id: Id,
    ) -> Result<Vec<Application>, GreenhouseError> {
        match self.api_version() {
            ApiVersion::V1 => {
                let url = self.url(&routes::candidate(ApiVersion::V1, candidate_id))?;
                let resp = not_found_as(self.execute(ApiRequest::get(url)).await.map(Some), None)?;
                let Some(resp) = resp else {
                    return Ok(Vec::new());
                };
                let body = decode_object::<CandidateApplications>(&resp.body, "candidate")?;
                Ok(body
                    .applications
                    .into_iter()
                    .map(|mut a| {
                        a.candidate_id.get_or_insert(candidate_id);
                        a
                    })
                    .collect())
            }
            ApiVersion::V3 => {
                let filter = ListFilter {
                    candidate_id: Some(candidate_id),
                    ..ListFilter::default()
                };
                not_found_as(
                    self.list_all(Resource::Applications, filter).await,
                    Vec::new(),
                )
            }
        }
    }

    /// The scheduled interviews of one application (all pages).
    pub async fn interviews_for_application(
        &self,
        application_id: Id,
    ) -> Result<Vec<Interview>, GreenhouseError> {
        let filter = ListFilter {
            application_id: Some(application_id),
            ..ListFilter::default()
        };
        let mut interviews: Vec<Interview> = not_found_as(
            self.list_all(Resource::Interviews, filter).await,
            Vec::new(),
        )?;
        for i in &mut interviews {
            i.application_id.get_or_insert(application_id);
        }
        Ok(interviews)
    }
}

/// A retrieve body: one JSON object.
pub(crate) fn decode_object<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, GreenhouseError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| GreenhouseError::Decode(format!("{what}: not JSON: {e}")))?;
    if !value.is_object() {
        return Err(GreenhouseError::Decode(format!(
            "{what}: expected an object, got {}",
            json_kind(&value)
        )));
    }
    serde_json::from_value(value).map_err(|e| GreenhouseError::Decode(format!("{what}: {e}")))
}
