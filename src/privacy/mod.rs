//! Privacy purges: when a candidate is deleted or anonymized in Greenhouse (or an admin asks),
//! everything Panelist holds about them goes: the synced candidate, applications and interviews,
//! bot records (they name participants), transcripts, recordings and notes. Each purge leaves an
//! audit entry with counts only, never names or ids. A retention sweep expires data by age.

mod purge;
mod retention;

pub use purge::{AuditEntry, PurgeReport, Purger, AUDIT_NS, REDACTED};
pub use retention::{sweep, RetentionActor, SweepReport};
