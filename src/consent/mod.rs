//! Consent as a state of the bot. The organisation's policy (with per-job overrides) says whether a
//! bot may record: `notify` (record, and tell the room), `opt_out` (record unless the candidate
//! declined), `opt_in` (record only with recorded consent). A decline is honoured under every
//! policy. Candidates answer on a signed page that needs no login (`/consent/<token>`); admins can
//! record an answer from the dashboard. Declining purges what was already recorded.

mod greenhouse;
mod links;
mod policy;
mod records;
mod voice;

pub use greenhouse::{
    record_change as record_greenhouse_change, GreenhouseConsent, GreenhouseConsentHook,
};
pub use links::ConsentLinks;
pub use policy::{decide, ConsentPolicy, ConsentSettings, Decision};
pub use records::{ConsentDecision, ConsentRecord, Consents};
pub use voice::{NoticeVoice, VoiceError};
