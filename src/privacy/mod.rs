//! Privacy purges: when a candidate is deleted or anonymized in Greenhouse (or an admin asks),
//! everything Panelist holds about them goes: the synced candidate, applications and interviews,
//! bot records (they name participants), transcripts, recordings and notes. Each purge leaves an
//! audit entry with counts only, never names or ids. A retention sweep expires data by age. The
//! audit log also records who viewed or exported a transcript or recording and who changed settings.

mod audit;
mod purge;
mod retention;

pub use audit::{recent_audit, record_access, AuditEntry, AUDIT_NS};
pub use purge::{PurgeReport, Purger, REDACTED};
pub use retention::{sweep, RetentionActor, SweepReport};
