//! One sync run, and targeted refreshes, as plain async code the actor and the CLI both call.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;

use super::plan::{filter_for, next_high_water, SyncKind, RESOURCES};
use crate::config::SyncSettings;
use crate::domain::{Application, Candidate, Entity, Id, Interview, Job, JobPost, JobStage, User};
use crate::greenhouse::{GreenhouseClient, GreenhouseError, Resource};
use crate::settings::{IntegrationService, SettingsError};
use crate::store::{DynStore, StoreError, StoreExt, SyncRun, SyncRunStatus};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("Greenhouse: {0}")]
    Greenhouse(#[from] GreenhouseError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Progress of a running sync, for the CLI's progress bar and the dashboard.
#[derive(Debug, Clone)]
pub struct SyncProgress {
    pub resource: &'static str,
    /// Records of this resource fetched so far in this run.
    pub fetched: u64,
    /// Resources finished so far, out of `RESOURCES.len()`.
    pub resources_done: usize,
}

/// What the sync needs to know about each record type beyond `Entity`.
#[async_trait::async_trait]
trait Synced: Entity + serde::de::DeserializeOwned {
    /// The newest-change timestamp Greenhouse reports, used for high-water marks.
    fn changed_at(&self) -> Option<DateTime<Utc>>;

    async fn persist(store: &DynStore, page: &[Self]) -> Result<(), StoreError> {
        store.put(page).await
    }

    /// The page as candidates, for the candidate hook (only `Candidate` answers).
    fn as_candidates(_page: &[Self]) -> Option<&[Candidate]> {
        None
    }
}

/// Told about every candidate read from Greenhouse, by the sync and by webhooks, while the payload
/// still has what is not stored (custom fields): how consent recorded in Greenhouse is picked up.
#[async_trait::async_trait]
pub trait CandidateHook: Send + Sync {
    async fn candidates_seen(&self, candidates: &[Candidate]);
}

macro_rules! synced {
    ($($ty:ty => $field:ident),*) => {$(
        impl Synced for $ty {
            fn changed_at(&self) -> Option<DateTime<Utc>> {
                self.$field
            }
        }
    )*};
}
synced!(User => updated_at, Job => updated_at, JobPost => updated_at, JobStage => updated_at,
    Application => last_activity_at);

impl Synced for Candidate {
    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    fn as_candidates(page: &[Self]) -> Option<&[Candidate]> {
        Some(page)
    }
}

#[async_trait::async_trait]
impl Synced for Interview {
    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    /// One by one, so the store diffs each against what it had and notifies the supervisor.
    async fn persist(store: &DynStore, page: &[Self]) -> Result<(), StoreError> {
        for interview in page {
            store.upsert_interview(interview).await?;
        }
        Ok(())
    }
}

/// Runs syncs against the account configured in the integration settings.
pub struct Syncer {
    store: DynStore,
    integration: IntegrationService,
    settings: SyncSettings,
    candidate_hook: Option<Arc<dyn CandidateHook>>,
}

impl Syncer {
    pub fn new(store: DynStore, integration: IntegrationService, settings: SyncSettings) -> Self {
        Syncer {
            store,
            integration,
            settings,
            candidate_hook: None,
        }
    }

    /// Tells `hook` about every candidate stored from Greenhouse.
    pub fn with_candidate_hook(mut self, hook: Arc<dyn CandidateHook>) -> Self {
        self.candidate_hook = Some(hook);
        self
    }

    /// Candidates read from Greenhouse elsewhere (webhooks), for the hook.
    pub async fn candidates_seen(&self, candidates: &[Candidate]) {
        if let Some(hook) = &self.candidate_hook {
            hook.candidates_seen(candidates).await;
        }
    }

    pub fn new_run_id() -> String {
        format!("sync-{}", uuid::Uuid::new_v4())
    }

    /// Runs one sync and records it. Never fails as a whole: problems end up in the run record,
    /// resource by resource, so one failing endpoint does not stop the others.
    pub async fn run(
        &self,
        id: String,
        kind: SyncKind,
        progress: &(dyn Fn(&SyncProgress) + Send + Sync),
    ) -> SyncRun {
        let started_at = Utc::now();
        let mut run = SyncRun {
            id,
            kind: kind.as_str().to_string(),
            status: SyncRunStatus::Running,
            started_at,
            finished_at: None,
            counts: BTreeMap::new(),
            errors: Vec::new(),
            requests: 0,
            rate_limited: 0,
        };
        self.save(&run).await;
        let client = match self.integration.client().await {
            Ok(c) => c,
            Err(e) => {
                run.errors.push(e.to_string());
                run.status = SyncRunStatus::Failed;
                run.finished_at = Some(Utc::now());
                self.save(&run).await;
                return run;
            }
        };
        let before = client.stats();
        for (done, (name, resource)) in RESOURCES.iter().enumerate() {
            let report = |fetched| {
                progress(&SyncProgress {
                    resource: name,
                    fetched,
                    resources_done: done,
                })
            };
            report(0);
            // One generic fetch per resource; the macro only picks the record type.
            macro_rules! fetch {
                ($($variant:ident => $ty:ty),*) => {
                    match resource {
                        $(Resource::$variant => {
                            self.sync_resource::<$ty>(&client, name, *resource, kind, started_at, &report).await
                        })*
                    }
                };
            }
            let result = fetch!(Users => User, Jobs => Job, JobPosts => JobPost, JobStages => JobStage,
                Candidates => Candidate, Applications => Application, Interviews => Interview);
            match result {
                Ok(n) => {
                    run.counts.insert(name.to_string(), n);
                }
                Err((n, e)) => {
                    tracing::warn!(resource = name, error = %e, "sync of a resource failed");
                    run.counts.insert(name.to_string(), n);
                    run.errors.push(format!("{name}: {e}"));
                }
            }
            let stats = client.stats();
            run.requests = stats.requests.saturating_sub(before.requests);
            run.rate_limited = stats.rate_limited.saturating_sub(before.rate_limited);
            self.save(&run).await;
        }
        run.status = match run.errors.len() {
            0 => SyncRunStatus::Succeeded,
            n if n == RESOURCES.len() => SyncRunStatus::Failed,
            _ => SyncRunStatus::Partial,
        };
        run.finished_at = Some(Utc::now());
        self.save(&run).await;
        tracing::info!(run = %run.id, status = ?run.status, requests = run.requests, rate_limited = run.rate_limited,
            counts = ?run.counts, "sync finished");
        run
    }

    /// Fetches one resource page by page into the store. On error returns how many records were
    /// stored before it; the high-water mark then stays put, so the next run fetches them again.
    async fn sync_resource<T>(
        &self,
        client: &GreenhouseClient,
        name: &str,
        resource: Resource,
        kind: SyncKind,
        started_at: DateTime<Utc>,
        report: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<u64, (u64, SyncError)>
    where
        T: Synced + 'static,
    {
        let previous = self
            .store
            .high_water_mark(name)
            .await
            .map_err(|e| (0, e.into()))?;
        let filter = filter_for(
            resource,
            previous,
            kind,
            started_at,
            Duration::hours(self.settings.window_back_hours as i64),
            Duration::days(self.settings.window_ahead_days as i64),
        );
        let mut pages = client.list::<T>(resource, filter);
        let mut fetched = 0u64;
        let mut newest: Option<DateTime<Utc>> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| (fetched, e.into()))?;
            newest = page
                .iter()
                .filter_map(Synced::changed_at)
                .chain(newest)
                .max();
            T::persist(&self.store, &page)
                .await
                .map_err(|e| (fetched, e.into()))?;
            if let Some(candidates) = T::as_candidates(&page) {
                self.candidates_seen(candidates).await;
            }
            fetched += page.len() as u64;
            report(fetched);
        }
        if let Some(mark) = next_high_water(previous, newest, started_at) {
            self.store
                .set_high_water_mark(name, mark)
                .await
                .map_err(|e| (fetched, e.into()))?;
        }
        Ok(fetched)
    }

    /// Re-reads one application's interviews. Interviews the store has for it that Greenhouse no
    /// longer returns were deleted there, so they are cancelled here.
    pub async fn refresh_application(&self, application_id: Id) -> Result<String, SyncError> {
        let client = self.integration.client().await?;
        let fresh = client.interviews_for_application(application_id).await?;
        let known = self
            .store
            .interviews_for_application(application_id)
            .await?;
        let fresh_ids: HashSet<Id> = fresh.iter().map(|i| i.id).collect();
        let mut changed = 0;
        for interview in &fresh {
            if self.store.upsert_interview(interview).await?.is_some() {
                changed += 1;
            }
        }
        let mut cancelled = 0;
        for gone in known.iter().filter(|i| !fresh_ids.contains(&i.id)) {
            if self.store.cancel_interview(gone.id).await?.is_some() {
                cancelled += 1;
            }
        }
        Ok(format!(
            "application {application_id}: {} interviews, {changed} changed, {cancelled} cancelled",
            fresh.len()
        ))
    }

    /// Re-reads one candidate's applications, then each application's interviews.
    pub async fn refresh_candidate(&self, candidate_id: Id) -> Result<String, SyncError> {
        let client = self.integration.client().await?;
        let applications = client.applications_for_candidate(candidate_id).await?;
        self.store.put(&applications).await?;
        let mut parts = Vec::new();
        for app in &applications {
            parts.push(self.refresh_application(app.id).await?);
        }
        Ok(format!(
            "candidate {candidate_id}: {} applications; {}",
            applications.len(),
            parts.join("; ")
        ))
    }

    /// A run record that cannot be written is logged, not fatal: the sync itself still counts.
    async fn save(&self, run: &SyncRun) {
        if let Err(e) = self.store.record_sync_run(run).await {
            tracing::warn!(run = %run.id, error = %e, "cannot record sync run");
        }
    }
}

#[async_trait::async_trait]
impl crate::webhooks::Refresher for Syncer {
    async fn refresh_application(&self, application_id: Id) -> Result<String, String> {
        Syncer::refresh_application(self, application_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn refresh_candidate(&self, candidate_id: Id) -> Result<String, String> {
        Syncer::refresh_candidate(self, candidate_id)
            .await
            .map_err(|e| e.to_string())
    }

    async fn candidates_seen(&self, candidates: &[Candidate]) {
        Syncer::candidates_seen(self, candidates).await;
    }
}
