//! Consent records: one per candidate, the latest answer wins. They hold no name: the candidate id,
//! the answer, when and how.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Id;
use crate::store::{DynStore, StoreError};

const NS: &str = "consent";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentDecision {
    Granted,
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub candidate_id: Id,
    pub decision: ConsentDecision,
    pub at: DateTime<Utc>,
    /// "link" (the candidate's page), "dashboard" (an admin, named in `by`).
    pub how: String,
    #[serde(default)]
    pub by: Option<String>,
}

#[derive(Clone)]
pub struct Consents {
    store: DynStore,
}

impl Consents {
    pub fn new(store: DynStore) -> Consents {
        Consents { store }
    }

    pub async fn get(&self, candidate_id: Id) -> Result<Option<ConsentRecord>, StoreError> {
        Ok(
            match self.store.kv_get(NS, &candidate_id.to_string()).await? {
                Some(bytes) => Some(serde_json::from_slice(&bytes)?),
                None => None,
            },
        )
    }

    pub async fn record(&self, record: &ConsentRecord) -> Result<(), StoreError> {
        self.store
            .kv_put(
                NS,
                &record.candidate_id.to_string(),
                &serde_json::to_vec(record)?,
                None,
            )
            .await
    }
}
