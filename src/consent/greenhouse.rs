//! Consent recorded in Greenhouse: a candidate tag (`consent.greenhouse.granted_tag` /
//! `declined_tag`) or a candidate custom field (`consent.greenhouse.custom_field`, yes/no). A
//! recruiter who collects consent in Greenhouse (an application question, a call) sets it there.
//!
//! Only a *change* of the Greenhouse answer counts: each candidate's last seen answer is kept, and a
//! consent record (how `greenhouse_tag` or `greenhouse_field`) is written when it changes. So an
//! answer given later on the consent page or in the dashboard is not overwritten by a tag that has
//! merely stayed in place, and the latest answer wins, wherever it was given.

use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::records::{ConsentDecision, ConsentRecord, Consents};
use crate::domain::Candidate;
use crate::store::{DynStore, StoreError};

const SEEN_NS: &str = "consent_greenhouse";

/// `[consent.greenhouse]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GreenhouseConsent {
    /// A candidate tag meaning "agreed to be recorded"; empty = not used.
    #[serde(default)]
    pub granted_tag: String,
    /// A candidate tag meaning "declined"; it wins over `granted_tag` when both are set.
    #[serde(default)]
    pub declined_tag: String,
    /// The key of a candidate custom field whose value says yes or no; empty = not used.
    #[serde(default)]
    pub custom_field: String,
}

impl GreenhouseConsent {
    fn is_off(&self) -> bool {
        self.granted_tag.trim().is_empty()
            && self.declined_tag.trim().is_empty()
            && self.custom_field.trim().is_empty()
    }
}

fn has_tag(candidate: &Candidate, tag: &str) -> bool {
    let tag = tag.trim();
    !tag.is_empty()
        && candidate
            .tags
            .iter()
            .any(|t| t.trim().eq_ignore_ascii_case(tag))
}

/// A yes/no custom field's value: `true`/`false`, or text such as "Yes", "No", "Granted",
/// "Declined", "Agreed". Anything else (empty, unknown) says nothing.
fn field_answer(value: &Value) -> Option<ConsentDecision> {
    // Webhooks nest `{name, type, value}`; Harvest's `custom_fields` gives the value itself.
    let value = value.get("value").unwrap_or(value);
    match value {
        Value::Bool(true) => Some(ConsentDecision::Granted),
        Value::Bool(false) => Some(ConsentDecision::Declined),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "granted" | "agreed" | "consented" | "y" => {
                Some(ConsentDecision::Granted)
            }
            "no" | "false" | "declined" | "refused" | "n" => Some(ConsentDecision::Declined),
            _ => None,
        },
        _ => None,
    }
}

/// What Greenhouse says about the candidate's consent, and how: a declined tag first, then the
/// custom field, then a granted tag.
pub fn answer(
    candidate: &Candidate,
    cfg: &GreenhouseConsent,
) -> Option<(ConsentDecision, &'static str)> {
    if has_tag(candidate, &cfg.declined_tag) {
        return Some((ConsentDecision::Declined, "greenhouse_tag"));
    }
    let field = cfg.custom_field.trim();
    if !field.is_empty() {
        let value = candidate
            .keyed_custom_fields
            .get(field)
            .or_else(|| candidate.custom_fields.get(field));
        if let Some(d) = value.and_then(field_answer) {
            return Some((d, "greenhouse_field"));
        }
    }
    has_tag(candidate, &cfg.granted_tag).then_some((ConsentDecision::Granted, "greenhouse_tag"))
}

fn seen_key(answer: Option<(ConsentDecision, &str)>) -> &'static str {
    match answer {
        None => "none",
        Some((ConsentDecision::Granted, "greenhouse_field")) => "granted_field",
        Some((ConsentDecision::Declined, "greenhouse_field")) => "declined_field",
        Some((ConsentDecision::Granted, _)) => "granted_tag",
        Some((ConsentDecision::Declined, _)) => "declined_tag",
    }
}

/// Records the candidate's Greenhouse answer when it changed since last seen; the new record, if
/// one was written (a decline must then be acted on: bots stopped, recordings purged).
pub async fn record_change(
    store: &DynStore,
    candidate: &Candidate,
    cfg: &GreenhouseConsent,
) -> Result<Option<ConsentRecord>, StoreError> {
    if cfg.is_off() {
        return Ok(None);
    }
    let now = answer(candidate, cfg);
    let key = candidate.id.to_string();
    let seen = store.kv_get(SEEN_NS, &key).await?;
    let now_key = seen_key(now);
    if seen.as_deref() == Some(now_key.as_bytes()) {
        return Ok(None);
    }
    let record = now.map(|(decision, how)| ConsentRecord {
        candidate_id: candidate.id,
        decision,
        at: Utc::now(),
        how: how.to_string(),
        by: None,
    });
    if let Some(r) = &record {
        Consents::new(store.clone()).record(r).await?;
        tracing::info!(decision = ?r.decision, how = r.how, "consent recorded from Greenhouse");
    }
    // Written after the record: a crash between the two records it again, which is harmless.
    store
        .kv_put(SEEN_NS, &key, now_key.as_bytes(), None)
        .await?;
    Ok(record)
}

/// Picks up consent answers from candidates as Greenhouse sends them (sync and webhooks); a
/// decline is acted on as one on the consent page is: bots stopped, recordings and transcripts
/// deleted.
pub struct GreenhouseConsentHook {
    store: DynStore,
    cfg: GreenhouseConsent,
    purger: crate::privacy::Purger,
}

impl GreenhouseConsentHook {
    pub fn new(
        store: DynStore,
        cfg: GreenhouseConsent,
        purger: crate::privacy::Purger,
    ) -> GreenhouseConsentHook {
        GreenhouseConsentHook { store, cfg, purger }
    }
}

#[async_trait::async_trait]
impl crate::sync::CandidateHook for GreenhouseConsentHook {
    async fn candidates_seen(&self, candidates: &[Candidate]) {
        if self.cfg.is_off() {
            return;
        }
        for c in candidates {
            match record_change(&self.store, c, &self.cfg).await {
                Ok(Some(r)) if r.decision == ConsentDecision::Declined => {
                    if let Err(e) = self
                        .purger
                        .purge_candidate(c.id, &[], "consent_declined")
                        .await
                    {
                        // The record stands (no bot will start); the next change or an admin
                        // purge removes what is left.
                        tracing::error!(error = %e, "consent declined in Greenhouse, but the purge failed");
                    }
                }
                Ok(_) => {}
                // Read again at the next sync or webhook, since the last seen answer was not saved.
                Err(e) => tracing::warn!(error = %e, "cannot record consent from Greenhouse"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> GreenhouseConsent {
        GreenhouseConsent {
            granted_tag: "Recording OK".into(),
            declined_tag: "No recording".into(),
            custom_field: "recording_consent".into(),
        }
    }

    fn candidate(json: serde_json::Value) -> Candidate {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn tags_and_both_custom_field_shapes_are_read() {
        let c = candidate(serde_json::json!({"id": 1, "tags": ["python", "recording ok"]}));
        assert_eq!(
            answer(&c, &cfg()),
            Some((ConsentDecision::Granted, "greenhouse_tag"))
        );
        let c = candidate(serde_json::json!({"id": 1, "tags": ["Recording OK", "No recording"]}));
        assert_eq!(answer(&c, &cfg()).unwrap().0, ConsentDecision::Declined);
        // Harvest: the value itself; webhooks: {name, type, value}.
        let c =
            candidate(serde_json::json!({"id": 1, "custom_fields": {"recording_consent": "Yes"}}));
        assert_eq!(
            answer(&c, &cfg()),
            Some((ConsentDecision::Granted, "greenhouse_field"))
        );
        let c = candidate(
            serde_json::json!({"id": 1, "custom_fields": {"recording_consent":
            {"name": "Recording consent", "type": "single_select", "value": "No"}}}),
        );
        assert_eq!(answer(&c, &cfg()).unwrap().0, ConsentDecision::Declined);
        let c = candidate(
            serde_json::json!({"id": 1, "keyed_custom_fields": {"recording_consent":
            {"name": "Recording consent", "type": "boolean", "value": true}}}),
        );
        assert_eq!(answer(&c, &cfg()).unwrap().0, ConsentDecision::Granted);
        let c = candidate(
            serde_json::json!({"id": 1, "custom_fields": {"recording_consent": null},
            "tags": null}),
        );
        assert_eq!(answer(&c, &cfg()), None);
        assert_eq!(answer(&c, &GreenhouseConsent::default()), None);
    }
}
