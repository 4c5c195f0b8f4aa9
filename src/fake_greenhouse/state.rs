//! The fake's mutable world: stored objects per collection, notes, issued tokens, rate-limit
//! windows, armed faults and the request log. Always used under one mutex, never across an await.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{FakeConfig, Fault, Note, RateLimitCfg, RecordedRequest};
use crate::domain::Id;
use crate::greenhouse::Resource;

/// Request log entries kept (oldest dropped), so a long demo doesn't grow without bound.
const MAX_RECORDED: usize = 100_000;

pub(crate) struct TokenInfo {
    pub client_id: String,
    pub sub: Option<Id>,
    pub expires_at: DateTime<Utc>,
}

pub(crate) struct ArmedFault {
    pub fault: Fault,
    pub remaining: u32,
    pub method: Option<String>,
    pub path_prefix: Option<String>,
}

/// A note in the fake: seeded from the activity-feed fixture or created through either API.
#[derive(Debug, Clone)]
pub(crate) struct StoredNote {
    pub note: Note,
    /// The `user` object to render on v1, for seeded notes whose author is no stored user.
    pub user: Option<Value>,
}

pub(crate) struct State {
    pub cfg: FakeConfig,
    tables: [BTreeMap<Id, Value>; 7],
    pub notes: Vec<StoredNote>,
    pub next_note_id: Id,
    /// Seeded v1 activity-feed `emails` and `activities` per candidate.
    pub feed_extras: HashMap<Id, (Vec<Value>, Vec<Value>)>,
    pub tokens: HashMap<String, TokenInfo>,
    /// Per account: (window index, requests counted in it).
    windows: HashMap<String, (u64, u32)>,
    pub faults: Vec<ArmedFault>,
    pub requests: VecDeque<RecordedRequest>,
}

/// The outcome of counting one request against its account's window.
pub(crate) enum Admission {
    Unlimited,
    Allowed {
        limit: u32,
        remaining: u32,
        reset_epoch: u64,
    },
    Throttled {
        retry_after_secs: u64,
        reset_epoch: u64,
    },
}

fn index(r: Resource) -> usize {
    Resource::ALL.iter().position(|x| *x == r).unwrap_or(0)
}

impl State {
    pub(crate) fn new(cfg: FakeConfig) -> Self {
        State {
            cfg,
            tables: Default::default(),
            notes: Vec::new(),
            next_note_id: 900_000_000,
            feed_extras: HashMap::new(),
            tokens: HashMap::new(),
            windows: HashMap::new(),
            faults: Vec::new(),
            requests: VecDeque::new(),
        }
    }

    pub(crate) fn table(&self, r: Resource) -> &BTreeMap<Id, Value> {
        &self.tables[index(r)]
    }

    pub(crate) fn table_mut(&mut self, r: Resource) -> &mut BTreeMap<Id, Value> {
        &mut self.tables[index(r)]
    }

    /// Inserts or replaces an object by its `id`; objects without a numeric id are refused.
    pub(crate) fn put(&mut self, r: Resource, value: Value) -> Option<Id> {
        let id = value.get("id").and_then(Value::as_i64)?;
        self.table_mut(r).insert(id, value);
        Some(id)
    }

    pub(crate) fn record(&mut self, req: RecordedRequest) {
        if self.requests.len() >= MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(req);
    }

    /// Takes one use of the first armed fault matching this request. Without a path prefix a
    /// fault only hits Harvest paths, so the token endpoint keeps working unless aimed at.
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let pos = self.faults.iter().position(|f| {
            f.remaining > 0
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && match &f.path_prefix {
                    Some(p) => path.starts_with(p.as_str()),
                    None => path.starts_with("/v1/") || path.starts_with("/v3/"),
                }
        })?;
        let f = &mut self.faults[pos];
        f.remaining -= 1;
        let fault = f.fault.clone();
        if f.remaining == 0 {
            self.faults.remove(pos);
        }
        Some(fault)
    }

    /// Counts a request in its account's fixed window (windows aligned to the Unix epoch, so
    /// `X-RateLimit-Reset` is an exact whole second for whole-second windows).
    pub(crate) fn admit(&mut self, account: &str) -> Admission {
        let Some(RateLimitCfg { limit, window }) = self.cfg.rate_limit else {
            return Admission::Unlimited;
        };
        let window_ms = window.as_millis().max(1) as u64;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_millis() as u64;
        let idx = now_ms / window_ms;
        let end_ms = (idx + 1) * window_ms;
        let reset_epoch = end_ms.div_ceil(1000);
        let entry = self.windows.entry(account.to_string()).or_insert((idx, 0));
        if entry.0 != idx {
            *entry = (idx, 0);
        }
        if entry.1 >= limit {
            let retry_after_secs = (end_ms - now_ms).div_ceil(1000).max(1);
            return Admission::Throttled {
                retry_after_secs,
                reset_epoch,
            };
        }
        entry.1 += 1;
        Admission::Allowed {
            limit,
            remaining: limit - entry.1,
            reset_epoch,
        }
    }

    pub(crate) fn reset_windows(&mut self) {
        self.windows.clear();
    }

    /// The stored user rendered as the `{id, first_name, last_name, name, employee_id}` reference
    /// Greenhouse embeds in notes.
    pub(crate) fn user_ref(&self, id: Id) -> Value {
        match self.table(Resource::Users).get(&id) {
            Some(u) => serde_json::json!({
                "id": id,
                "first_name": u.get("first_name").cloned().unwrap_or(Value::Null),
                "last_name": u.get("last_name").cloned().unwrap_or(Value::Null),
                "name": u.get("name").cloned().unwrap_or(Value::Null),
                "employee_id": u.get("employee_id").cloned().unwrap_or(Value::Null),
            }),
            None => {
                serde_json::json!({"id": id, "first_name": null, "last_name": null, "name": null, "employee_id": null})
            }
        }
    }
}
