//! Sending bots: the supervisor turns the schedule into bots (timers, leases, restarts), each bot
//! runs one call, and both persist a [`BotRun`] per interview. The decisions are pure functions in
//! `policy`; `speakers` names participants after the people Greenhouse expects.

pub mod actor;
pub mod bot;
pub mod policy;
pub mod preferences;
pub mod run;
pub mod speakers;

pub use actor::{
    lease_name, leave_rules, ApplyBotPreferences, Drain, GetSupervisorStats, NotesLink, Recipients,
    SetLeaveRules, StartNow, StopInterview, SupervisorActor, SupervisorSettings, SupervisorStats,
};
pub use bot::{BotActor, BotDeps, BotFinished, BotOutcome, BotSpec, NoticePlan};
pub use policy::{LeaveReason, LeaveRules};
pub use preferences::BotPreferences;
pub use run::{BotRun, BotState, CallFigures, NoticeLog, StateChange};

/// This replica's name: the configured one, else host name and process id.
pub fn replica_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_string();
    }
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "panelist".into());
    format!("{host}-{}", std::process::id())
}
