//! The policy and the decision for one interview.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::records::{ConsentDecision, Consents};
use crate::domain::{Id, Interview};
use crate::store::{DynStore, StoreError, StoreExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPolicy {
    /// Record, and announce the bot in the call.
    #[default]
    Notify,
    /// Record unless the candidate declined.
    OptOut,
    /// Record only once the candidate has consented.
    OptIn,
}

impl ConsentPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentPolicy::Notify => "notify",
            ConsentPolicy::OptOut => "opt_out",
            ConsentPolicy::OptIn => "opt_in",
        }
    }

    pub fn parse(s: &str) -> Option<ConsentPolicy> {
        match s.trim() {
            "notify" => Some(ConsentPolicy::Notify),
            "opt_out" => Some(ConsentPolicy::OptOut),
            "opt_in" => Some(ConsentPolicy::OptIn),
            _ => None,
        }
    }
}

const NS: &str = "settings";
const KEY: &str = "consent";

/// The organisation's policy and per-job overrides, saved from the dashboard; unset, the
/// configuration's `consent.policy` holds for every job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsentSettings {
    pub policy: ConsentPolicy,
    #[serde(default)]
    pub jobs: BTreeMap<Id, ConsentPolicy>,
}

impl ConsentSettings {
    pub async fn load(
        store: &DynStore,
        configured: ConsentPolicy,
    ) -> Result<ConsentSettings, StoreError> {
        Ok(match store.kv_get(NS, KEY).await? {
            Some(bytes) => serde_json::from_slice(&bytes)?,
            None => ConsentSettings {
                policy: configured,
                jobs: BTreeMap::new(),
            },
        })
    }

    pub async fn save(&self, store: &DynStore) -> Result<(), StoreError> {
        store
            .kv_put(NS, KEY, &serde_json::to_vec(self)?, None)
            .await
    }

    pub fn for_job(&self, job: Option<Id>) -> ConsentPolicy {
        job.and_then(|j| self.jobs.get(&j).copied())
            .unwrap_or(self.policy)
    }
}

/// Whether a bot may join this interview now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Record; the words say on what grounds, for the bot's timeline.
    Record(String),
    /// Not yet: `opt_in` without an answer.
    Pending(String),
    /// Never: the candidate declined.
    Denied(String),
}

/// The decision for `interview` under the stored policy (`configured` when none is saved).
pub async fn decide(
    store: &DynStore,
    configured: ConsentPolicy,
    interview: &Interview,
) -> Result<Decision, StoreError> {
    let application = store.application_of(interview).await?;
    let job = application
        .as_ref()
        .and_then(|a| a.jobs.first())
        .map(|j| j.id);
    let candidate = application.as_ref().and_then(|a| a.candidate_id);
    let policy = ConsentSettings::load(store, configured).await?.for_job(job);
    let record = match candidate {
        Some(c) => Consents::new(store.clone()).get(c).await?,
        None => None,
    };
    Ok(match (policy, record.map(|r| r.decision)) {
        (_, Some(ConsentDecision::Declined)) => {
            Decision::Denied("the candidate declined recording".into())
        }
        (_, Some(ConsentDecision::Granted)) => Decision::Record("consent granted".into()),
        (ConsentPolicy::OptIn, None) => Decision::Pending(if candidate.is_some() {
            "waiting for the candidate's consent (policy opt_in)".into()
        } else {
            "opt_in policy, and the candidate is not known: no consent can be asked".into()
        }),
        (p, None) => Decision::Record(format!("policy {}", p.as_str())),
    })
}
