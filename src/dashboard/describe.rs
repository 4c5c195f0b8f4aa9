//! What the dashboard says about an interview: its kit name, the candidate, the job and the
//! interviewers, read from the synced Greenhouse records.

use crate::domain::{Candidate, Id, Interview};
use crate::store::{DynStore, StoreError, StoreExt};

#[derive(Debug, Clone, Default)]
pub struct Described {
    pub interview: Option<Interview>,
    /// "Technical Interview", or "Interview 42" when Greenhouse gave no name.
    pub title: String,
    pub candidate: Option<String>,
    pub job: Option<String>,
}

pub async fn describe(store: &DynStore, id: Id) -> Result<Described, StoreError> {
    let Some(interview) = store.get::<Interview>(id).await? else {
        return Ok(Described {
            title: format!("Interview {id}"),
            ..Described::default()
        });
    };
    describe_interview(store, interview).await
}

pub async fn describe_interview(
    store: &DynStore,
    interview: Interview,
) -> Result<Described, StoreError> {
    let title = interview
        .interview
        .as_ref()
        .and_then(|k| k.name.clone())
        .unwrap_or_else(|| format!("Interview {}", interview.id));
    let application = store.application_of(&interview).await?;
    let job = application
        .as_ref()
        .and_then(|a| a.jobs.first())
        .and_then(|j| j.name.clone());
    let candidate_id = application.as_ref().and_then(|a| a.candidate_id);
    let candidate = match candidate_id {
        Some(c) => store.get::<Candidate>(c).await?.map(|c| {
            [c.first_name, c.last_name]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
        }),
        None => None,
    };
    Ok(Described {
        interview: Some(interview),
        title,
        candidate: candidate.filter(|c| !c.is_empty()),
        job,
    })
}

/// The application and candidate ids of an interview, when the synced records name them.
pub async fn candidate_of(
    store: &DynStore,
    interview_id: Id,
) -> Result<Option<(Id, Id)>, StoreError> {
    let Some(interview) = store.get::<Interview>(interview_id).await? else {
        return Ok(None);
    };
    Ok(store
        .application_of(&interview)
        .await?
        .and_then(|a| a.candidate_id.map(|c| (a.id, c))))
}
