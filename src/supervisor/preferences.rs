//! Bot settings changed from the dashboard: the join lead and the leave rules. They live in the
//! store, so every replica applies them at its next rescan without a restart; the replica that saved
//! them applies them at once. Unset, the configuration's values hold.

use serde::{Deserialize, Serialize};

use crate::config::{BotSettings, LeaveSettings};
use crate::store::{DynStore, StoreError};

const NS: &str = "settings";
const KEY: &str = "bots";

/// Longest join lead accepted: a bot waiting in a call for more than an hour is a mistake.
pub const MAX_JOIN_LEAD_SECS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotPreferences {
    pub join_lead_secs: u64,
    pub overrun_grace_secs: u64,
    pub alone_secs: u64,
    pub nobody_joined_secs: u64,
    pub silence_secs: u64,
    pub max_duration_secs: u64,
    pub silent_watchdog_secs: u64,
    /// What a bot says when it joins (the in-call notice); empty says nothing. Settings saved
    /// before the notice existed get the default text.
    #[serde(default = "default_notice")]
    pub consent_notice: String,
}

fn default_notice() -> String {
    DEFAULT_NOTICE.to_owned()
}

pub const DEFAULT_NOTICE: &str =
    "Hi, I'm Panelist, the note-taker for this interview. I record and \
transcribe this call so the interviewers can focus on the conversation. Tell the interviewer if \
you'd rather not be recorded.";

impl BotPreferences {
    pub fn from_config(b: &BotSettings) -> BotPreferences {
        BotPreferences {
            join_lead_secs: b.join_lead_secs,
            overrun_grace_secs: b.leave.overrun_grace_secs,
            alone_secs: b.leave.alone_secs,
            nobody_joined_secs: b.leave.nobody_joined_secs,
            silence_secs: b.leave.silence_secs,
            max_duration_secs: b.leave.max_duration_secs,
            silent_watchdog_secs: b.leave.silent_watchdog_secs,
            consent_notice: DEFAULT_NOTICE.to_string(),
        }
    }

    /// Problems a user can fix, in words; empty when fine.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.join_lead_secs > MAX_JOIN_LEAD_SECS {
            out.push(format!(
                "Join lead must be at most {MAX_JOIN_LEAD_SECS} seconds."
            ));
        }
        if self.max_duration_secs != 0 && self.max_duration_secs < 60 {
            out.push("Maximum duration must be 0 (off) or at least 60 seconds.".into());
        }
        if self.consent_notice.chars().count() > 1000 {
            out.push("The consent notice must be at most 1000 characters.".into());
        }
        out
    }

    /// These preferences over the configured bot settings.
    pub fn apply_to(&self, b: &mut BotSettings) {
        b.join_lead_secs = self.join_lead_secs;
        b.leave = LeaveSettings {
            overrun_grace_secs: self.overrun_grace_secs,
            alone_secs: self.alone_secs,
            nobody_joined_secs: self.nobody_joined_secs,
            silence_secs: self.silence_secs,
            max_duration_secs: self.max_duration_secs,
            silent_watchdog_secs: self.silent_watchdog_secs,
        };
    }

    /// The saved preferences, or `None` when the configuration's values hold.
    pub async fn load(store: &DynStore) -> Result<Option<BotPreferences>, StoreError> {
        match store.kv_get(NS, KEY).await? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    pub async fn save(&self, store: &DynStore) -> Result<(), StoreError> {
        store
            .kv_put(NS, KEY, &serde_json::to_vec(self)?, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_are_explained() {
        let Ok(settings) = crate::config::Settings::defaults() else {
            panic!("defaults load");
        };
        let mut p = BotPreferences::from_config(&settings.bots);
        assert!(p.problems().is_empty());
        p.join_lead_secs = 7200;
        p.max_duration_secs = 5;
        assert_eq!(p.problems().len(), 2);
        let mut b = settings.bots.clone();
        p.join_lead_secs = 90;
        p.alone_secs = 7;
        p.apply_to(&mut b);
        assert_eq!((b.join_lead_secs, b.leave.alone_secs), (90, 7));
    }
}
