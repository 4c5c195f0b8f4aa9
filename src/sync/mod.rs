//! Greenhouse → store synchronisation: full and incremental syncs with high-water marks,
//! targeted refreshes after webhooks, and the SyncActor that runs them on a timer and on demand.

mod actor;
mod plan;
mod syncer;

pub use actor::{GetSyncStatus, StartSync, StartedSync, SyncActor, SyncStatus};
pub use plan::{SyncKind, RESOURCES};
pub use syncer::{CandidateHook, SyncError, SyncProgress, Syncer};
