//! SyncActor: runs the first sync at start-up, incremental syncs on a timer, and syncs on demand,
//! one at a time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;

use super::plan::SyncKind;
use super::syncer::{SyncProgress, Syncer};

/// Starts a sync unless one is running. Answers the id of the run that is (now) in progress.
#[derive(Message)]
#[rtype(result = "StartedSync")]
pub struct StartSync {
    pub kind: SyncKind,
}

#[derive(Debug, Clone, Serialize)]
pub struct StartedSync {
    pub run_id: String,
    /// False when a run was already in progress and this request joined it.
    pub started: bool,
}

#[derive(Message)]
#[rtype(result = "SyncStatus")]
pub struct GetSyncStatus;

/// Live state for the dashboard's progress display.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    pub running: Option<String>,
    pub resource: Option<String>,
    pub fetched: u64,
    pub resources_done: usize,
    pub resources_total: usize,
}

pub struct SyncActor {
    syncer: Arc<Syncer>,
    /// `None` disables the timer (sync.enabled = false); on-demand syncs still run.
    interval: Option<Duration>,
    /// Shared with the running sync's progress callback, which runs outside the actor.
    status: Arc<Mutex<SyncStatus>>,
}

impl SyncActor {
    pub fn new(syncer: Arc<Syncer>, interval: Option<Duration>) -> Self {
        SyncActor {
            syncer,
            interval,
            status: Arc::default(),
        }
    }

    fn start_run(&mut self, kind: SyncKind, ctx: &mut Context<Self>) -> StartedSync {
        if let Some(run_id) = self.lock().running.clone() {
            return StartedSync {
                run_id,
                started: false,
            };
        }
        let run_id = Syncer::new_run_id();
        *self.lock() = SyncStatus {
            running: Some(run_id.clone()),
            resources_total: super::RESOURCES.len(),
            ..Default::default()
        };
        let syncer = self.syncer.clone();
        let status = self.status.clone();
        let id = run_id.clone();
        let work = async move {
            let report = move |p: &SyncProgress| {
                if let Ok(mut s) = status.lock() {
                    s.resource = Some(p.resource.to_string());
                    s.fetched = p.fetched;
                    s.resources_done = p.resources_done;
                }
            };
            syncer.run(id, kind, &report).await
        };
        ctx.spawn(work.into_actor(self).map(|_run, act, _| {
            act.lock().running = None;
        }));
        StartedSync {
            run_id,
            started: true,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SyncStatus> {
        // A panic while holding this lock leaves plain counters behind; they are safe to reuse.
        self.status
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Actor for SyncActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if let Some(every) = self.interval {
            // Full for what was never synced, incremental for the rest.
            self.start_run(SyncKind::Auto, ctx);
            ctx.run_interval(every, |act, ctx| {
                act.start_run(SyncKind::Incremental, ctx);
            });
        }
    }
}

impl Handler<StartSync> for SyncActor {
    type Result = MessageResult<StartSync>;

    fn handle(&mut self, msg: StartSync, ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.start_run(msg.kind, ctx))
    }
}

impl Handler<GetSyncStatus> for SyncActor {
    type Result = MessageResult<GetSyncStatus>;

    fn handle(&mut self, _: GetSyncStatus, _: &mut Self::Context) -> Self::Result {
        MessageResult(self.lock().clone())
    }
}
