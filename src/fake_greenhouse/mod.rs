//! A fake Greenhouse: a real HTTP server following the documented Harvest behaviour (v1 Basic
//! auth and page links, v3 OAuth tokens and cursors, fixed-window rate limits, error shapes,
//! notes), for tests and `panelist demo`. It serves the documented fixtures, generated data at
//! any volume, and injected faults.
//!
//! - `server`: the actix thread and the catch-all handler (recording, faults).
//! - `api`: the pipeline (auth, rate limit) and routing; `auth`: keys, tokens;
//!   `listing`: collections per version; `notes`: activity feed and note writes;
//!   `query`: filters and the two pagination schemes.
//! - `state`: the world behind the mutex; `fixtures`, `generate`: ways to fill it.

mod api;
mod auth;
mod fixtures;
mod generate;
mod listing;
mod notes;
mod query;
mod server;
mod state;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

pub use fixtures::ACTIVITY_FEED_CANDIDATE;
pub use generate::{GenSpec, GenSummary};

use crate::domain::{Application, Candidate, Id, Interview, Job, JobPost, JobStage, User};
use crate::greenhouse::Resource;
use crate::settings::ApiVersion;
use server::{lock, SharedState};
use state::{ArmedFault, State};

/// A per-account request ceiling in fixed windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitCfg {
    pub limit: u32,
    pub window: Duration,
}

impl RateLimitCfg {
    /// The documented v1 example: 50 requests per 10 s.
    pub const fn v1_default() -> Self {
        RateLimitCfg {
            limit: 50,
            window: Duration::from_secs(10),
        }
    }

    /// What v3 was observed to allow: 75 requests per 30 s.
    pub const fn v3_default() -> Self {
        RateLimitCfg {
            limit: 75,
            window: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Accepted v1 API keys (Basic user name).
    pub v1_api_keys: Vec<String>,
    /// Accepted v3 (client id, client secret) pairs.
    pub v3_clients: Vec<(String, String)>,
    pub token_ttl: Duration,
    /// `None`: no limit and no rate-limit headers.
    pub rate_limit: Option<RateLimitCfg>,
    /// 0 picks a free port.
    pub port: u16,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            v1_api_keys: vec!["test-key".into()],
            v3_clients: vec![("test-client".into(), "test-secret".into())],
            token_ttl: Duration::from_secs(3600),
            rate_limit: None,
            port: 0,
        }
    }
}

/// A failure to inflict on upcoming requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (429 and 503 carry `Retry-After: 1`) without processing.
    Status(u16),
    /// Wait this long, then process normally.
    Delay(Duration),
    /// Send the headers, then break the connection.
    DropConnection,
    /// Process (a note is stored), then stall for 30 s before answering.
    StoreThenTimeout,
}

/// One request the fake received. `status` 0: the connection was dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string.
    pub query: String,
    pub status: u16,
    pub on_behalf_of: Option<String>,
    pub at: DateTime<Utc>,
}

impl RecordedRequest {
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        api::parse_query(&self.query)
    }
}

/// A note held by the fake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Note {
    pub id: Id,
    pub candidate_id: Id,
    pub user_id: Option<Id>,
    pub body: String,
    pub visibility: String,
    /// v1 `On-Behalf-Of` header, or the v3 token's `sub`.
    pub on_behalf_of: Option<Id>,
    pub created_at: DateTime<Utc>,
    /// The API it was created through; `None` for seeded notes.
    pub via: Option<ApiVersion>,
}

pub struct FakeGreenhouse;

impl FakeGreenhouse {
    /// Starts the server on its own thread (own actix `System`) and returns once it accepts
    /// connections on 127.0.0.1. It stops when the last handle clone is dropped.
    pub fn start(cfg: FakeConfig) -> io::Result<FakeHandle> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", cfg.port))?;
        let addr = listener.local_addr()?;
        let state: SharedState = Arc::new(Mutex::new(State::new(cfg)));
        let server = server::spawn(state.clone(), listener)?;
        Ok(FakeHandle {
            state,
            addr,
            _stopper: Arc::new(Stopper(server)),
        })
    }
}

struct Stopper(ServerHandle);

impl Drop for Stopper {
    fn drop(&mut self) {
        // `stop` sends the command at once; awaiting completion is not needed (nor possible
        // outside an async context).
        std::mem::drop(self.0.stop(false));
    }
}

/// Control of a running fake. Cheap to clone.
#[derive(Clone)]
pub struct FakeHandle {
    state: SharedState,
    addr: std::net::SocketAddr,
    _stopper: Arc<Stopper>,
}

impl std::fmt::Debug for FakeHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

impl FakeHandle {
    /// The Harvest base without version, e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("{}{}", self.base_url(), api::TOKEN_PATH)
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.state))
    }

    /// Loads every documented fixture; returns how many objects were stored.
    pub fn seed_fixtures(&self) -> usize {
        self.with(fixtures::seed)
    }

    pub fn seed_generated(&self, spec: GenSpec) -> GenSummary {
        self.with(|st| generate::generate(st, &spec))
    }

    /// Stores raw JSON as Greenhouse would return it; `None` without a numeric `id`.
    pub fn upsert_json(&self, resource: Resource, value: Value) -> Option<Id> {
        self.with(|st| st.put(resource, value))
    }

    fn upsert_touched<T: Serialize>(
        &self,
        resource: Resource,
        item: &T,
        stamp: &[&str],
    ) -> Option<Id> {
        let mut value = serde_json::to_value(item).ok()?;
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if let Some(map) = value.as_object_mut() {
            for key in stamp {
                map.insert((*key).to_string(), Value::String(now.clone()));
            }
        }
        self.upsert_json(resource, value)
    }

    pub fn upsert_user(&self, user: &User) -> Option<Id> {
        self.upsert_touched(Resource::Users, user, &["updated_at"])
    }

    pub fn upsert_job(&self, job: &Job) -> Option<Id> {
        self.upsert_touched(Resource::Jobs, job, &["updated_at"])
    }

    pub fn upsert_job_post(&self, post: &JobPost) -> Option<Id> {
        self.upsert_touched(Resource::JobPosts, post, &["updated_at"])
    }

    pub fn upsert_candidate(&self, candidate: &Candidate) -> Option<Id> {
        self.upsert_touched(
            Resource::Candidates,
            candidate,
            &["updated_at", "last_activity"],
        )
    }

    /// Applications have no `updated_at`: `last_activity_at` is what moves.
    pub fn upsert_application(&self, application: &Application) -> Option<Id> {
        self.upsert_touched(Resource::Applications, application, &["last_activity_at"])
    }

    pub fn upsert_interview(&self, interview: &Interview) -> Option<Id> {
        self.upsert_touched(Resource::Interviews, interview, &["updated_at"])
    }

    pub fn upsert_job_stage(&self, stage: &JobStage) -> Option<Id> {
        self.upsert_touched(Resource::JobStages, stage, &["updated_at"])
    }

    /// Removes a scheduled interview (as cancelling it in Greenhouse does).
    pub fn delete_interview(&self, id: Id) -> bool {
        self.with(|st| st.table_mut(Resource::Interviews).remove(&id).is_some())
    }

    /// A stored object as JSON.
    pub fn get_json(&self, resource: Resource, id: Id) -> Option<Value> {
        self.with(|st| st.table(resource).get(&id).cloned())
    }

    pub fn count(&self, resource: Resource) -> usize {
        self.with(|st| st.table(resource).len())
    }

    /// Notes created through the API on this candidate, oldest first.
    pub fn notes(&self, candidate_id: Id) -> Vec<Note> {
        self.with(|st| {
            st.notes
                .iter()
                .filter(|n| n.note.candidate_id == candidate_id && n.note.via.is_some())
                .map(|n| n.note.clone())
                .collect()
        })
    }

    /// Every note created through the API, oldest first.
    pub fn all_created_notes(&self) -> Vec<Note> {
        self.with(|st| {
            st.notes
                .iter()
                .filter(|n| n.note.via.is_some())
                .map(|n| n.note.clone())
                .collect()
        })
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with(|st| st.requests.iter().cloned().collect())
    }

    /// Recorded requests whose path starts with `prefix`.
    pub fn requests_to(&self, prefix: &str) -> Vec<RecordedRequest> {
        self.with(|st| {
            st.requests
                .iter()
                .filter(|r| r.path.starts_with(prefix))
                .cloned()
                .collect()
        })
    }

    pub fn clear_requests(&self) {
        self.with(|st| st.requests.clear())
    }

    /// Changes the limit; counting starts afresh.
    pub fn set_rate_limit(&self, rate_limit: Option<RateLimitCfg>) {
        self.with(|st| {
            st.cfg.rate_limit = rate_limit;
            st.reset_windows();
        })
    }

    /// Makes every issued token expired (Harvest answers 401 to them).
    pub fn expire_tokens(&self) {
        self.with(|st| {
            let past = Utc::now() - chrono::Duration::seconds(1);
            for t in st.tokens.values_mut() {
                t.expires_at = past;
            }
        })
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.with(|st| st.cfg.token_ttl = ttl)
    }

    /// Applies `fault` to the next `times` Harvest requests (token endpoint excluded).
    pub fn inject(&self, fault: Fault, times: u32) {
        self.inject_where(fault, times, None, None)
    }

    /// Applies `fault` to the next `times` requests with this method (any if `None`) whose path
    /// starts with `path_prefix` (any Harvest path if `None`; give `/token` to hit the token
    /// endpoint).
    pub fn inject_where(
        &self,
        fault: Fault,
        times: u32,
        method: Option<&str>,
        path_prefix: Option<&str>,
    ) {
        if times == 0 {
            return;
        }
        self.with(|st| {
            st.faults.push(ArmedFault {
                fault,
                remaining: times,
                method: method.map(str::to_string),
                path_prefix: path_prefix.map(str::to_string),
            })
        })
    }

    pub fn clear_faults(&self) {
        self.with(|st| st.faults.clear())
    }
}
