//! Deterministic generated accounts at any volume: users with e-mail addresses, jobs with
//! stages and kits, candidates, applications and scheduled interviews spread around "now".
//! The same `GenSpec` (seed and anchor time) always yields the same data.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::state::State;
use crate::domain::Id;
use crate::greenhouse::Resource;

// Id ranges per collection, clear of each other and of the documented fixtures' ids.
const USER_BASE: Id = 100_000;
const JOB_BASE: Id = 200_000;
const JOB_POST_BASE: Id = 250_000;
const STAGE_BASE: Id = 300_000;
const STAGE_INTERVIEW_BASE: Id = 350_000;
const KIT_BASE: Id = 360_000;
const QUESTION_BASE: Id = 370_000;
const CANDIDATE_BASE: Id = 1_000_000;
const APPLICATION_BASE: Id = 2_000_000;
const INTERVIEW_BASE: Id = 3_000_000;

/// How much to generate.
#[derive(Debug, Clone)]
pub struct GenSpec {
    pub seed: u64,
    pub users: usize,
    pub jobs: usize,
    pub stages_per_job: usize,
    pub candidates: usize,
    /// Spread over candidates round-robin (so each candidate has one when there are enough).
    pub applications: usize,
    pub interviews: usize,
    /// Interviews start within this distance before or after `now`.
    pub spread: Duration,
    /// The anchor for all timestamps; `None` = the moment of seeding.
    pub now: Option<DateTime<Utc>>,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            seed: 42,
            users: 50,
            jobs: 10,
            stages_per_job: 3,
            candidates: 200,
            applications: 250,
            interviews: 100,
            spread: Duration::from_secs(14 * 24 * 3600),
            now: None,
        }
    }
}

/// The ids generated, per collection, ascending.
#[derive(Debug, Clone, Default)]
pub struct GenSummary {
    pub users: Vec<Id>,
    pub jobs: Vec<Id>,
    pub job_posts: Vec<Id>,
    pub job_stages: Vec<Id>,
    pub candidates: Vec<Id>,
    pub applications: Vec<Id>,
    pub interviews: Vec<Id>,
}

const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie",
    "Margaret", "Tony",
];
const LAST: [&str; 12] = [
    "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman",
    "Lamport", "Hamilton", "Hoare",
];
const TITLES: [&str; 6] = [
    "Software Engineer",
    "Product Manager",
    "Data Scientist",
    "Designer",
    "Site Reliability Engineer",
    "Recruiter",
];
const CITIES: [&str; 5] = ["New York", "London", "Berlin", "Toronto", "Remote"];
const STAGES: [&str; 5] = [
    "Phone Screen",
    "Technical Interview",
    "System Design",
    "Culture Fit",
    "Executive Interview",
];

/// A generated job as later steps need it.
struct GenJob {
    id: Id,
    name: String,
    stages: Vec<GenStage>,
}

struct GenStage {
    id: Id,
    name: String,
    /// The stage's one interview: (id, name).
    interview: (Id, String),
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

fn secs(rng: &mut StdRng, max: u64) -> chrono::Duration {
    chrono::Duration::seconds(rng.gen_range(0..max.max(1)) as i64)
}

pub(crate) fn generate(st: &mut State, spec: &GenSpec) -> GenSummary {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let now = spec.now.unwrap_or_else(Utc::now);
    let day = 24 * 3600;
    let mut out = GenSummary::default();

    let mut users: Vec<Value> = Vec::new();
    for i in 0..spec.users {
        let id = USER_BASE + i as Id;
        let (first, last) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let primary = format!(
            "{}.{}.{i}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        );
        let mut emails = vec![primary.clone()];
        if i % 3 == 0 {
            emails.push(format!("{}{i}@alias.example.com", first.to_lowercase()));
        }
        let created = now - chrono::Duration::days(400) + secs(&mut rng, 30 * day);
        let user = json!({
            "id": id, "name": format!("{first} {last}"), "first_name": first, "last_name": last,
            "primary_email_address": primary, "emails": emails, "disabled": false,
            "site_admin": i == 0, "employee_id": format!("E{i:05}"),
            "created_at": ts(created), "updated_at": ts(now - secs(&mut rng, 90 * day)),
        });
        st.put(Resource::Users, user.clone());
        users.push(user);
        out.users.push(id);
    }
    let user_ref = |u: &Value| {
        json!({"id": u["id"], "first_name": u["first_name"], "last_name": u["last_name"],
               "name": u["name"], "employee_id": u["employee_id"]})
    };

    let mut jobs: Vec<GenJob> = Vec::new();
    let mut stage_seq = 0;
    for j in 0..spec.jobs {
        let id = JOB_BASE + j as Id;
        let name = format!("{} - {}", pick(&mut rng, &TITLES), pick(&mut rng, &CITIES));
        let opened = now - chrono::Duration::days(120) + secs(&mut rng, 60 * day);
        st.put(
            Resource::Jobs,
            json!({
                "id": id, "name": name, "requisition_id": format!("REQ-{j:04}"), "status": "open",
                "confidential": false, "departments": [{"id": 9000 + (j % 4) as Id, "name": "Engineering"}],
                "offices": [{"id": 8000 + (j % 5) as Id, "name": CITIES[j % CITIES.len()]}],
                "opened_at": ts(opened), "closed_at": null, "created_at": ts(opened),
                "updated_at": ts(now - secs(&mut rng, 30 * day)),
            }),
        );
        out.jobs.push(id);
        let post_id = JOB_POST_BASE + j as Id;
        st.put(
            Resource::JobPosts,
            json!({
                "id": post_id, "title": name, "job_id": id, "live": true, "internal": false,
                "external": true, "location": {"name": CITIES[j % CITIES.len()]},
                "created_at": ts(opened), "updated_at": ts(opened),
            }),
        );
        out.job_posts.push(post_id);
        let mut stages = Vec::new();
        for s in 0..spec.stages_per_job {
            let stage_id = STAGE_BASE + stage_seq;
            let si_id = STAGE_INTERVIEW_BASE + stage_seq;
            let stage_name = STAGES[s % STAGES.len()].to_string();
            let interviewer = users.get(rng.gen_range(0..users.len().max(1)));
            let questions: Vec<Value> = (0..3)
                .map(|q| {
                    json!({"id": QUESTION_BASE + stage_seq * 10 + q,
                           "question": format!("{stage_name}: question {}?", q + 1)})
                })
                .collect();
            st.put(
                Resource::JobStages,
                json!({
                    "id": stage_id, "name": stage_name, "job_id": id, "priority": s,
                    "created_at": ts(opened), "updated_at": ts(opened),
                    "interviews": [{
                        "id": si_id, "name": stage_name, "schedulable": true, "estimated_minutes": 45,
                        "default_interviewer_users": interviewer.map(|u| vec![user_ref(u)]).unwrap_or_default(),
                        "interview_kit": {"id": KIT_BASE + stage_seq,
                            "content": format!("<p>Assess the candidate for the {stage_name}.</p>"),
                            "questions": questions},
                    }],
                }),
            );
            out.job_stages.push(stage_id);
            stages.push(GenStage {
                id: stage_id,
                name: stage_name.clone(),
                interview: (si_id, stage_name),
            });
            stage_seq += 1;
        }
        jobs.push(GenJob { id, name, stages });
    }

    for c in 0..spec.candidates {
        let id = CANDIDATE_BASE + c as Id;
        let (first, last) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let created = now - chrono::Duration::days(200) + secs(&mut rng, 190 * day);
        let updated = created + secs(&mut rng, ((now - created).num_seconds().max(1)) as u64);
        st.put(
            Resource::Candidates,
            json!({
                "id": id, "first_name": first, "last_name": last, "company": "Example Corp",
                "title": pick(&mut rng, &TITLES), "is_private": false, "tags": [],
                "email_addresses": [{"value": format!("{}.{}.c{c}@candidates.example.com",
                    first.to_lowercase(), last.to_lowercase()), "type": "personal"}],
                "created_at": ts(created), "updated_at": ts(updated), "last_activity": ts(updated),
            }),
        );
        out.candidates.push(id);
    }

    // Per application: (id, job index).
    let mut apps: Vec<(Id, usize)> = Vec::new();
    if spec.candidates > 0 && !jobs.is_empty() {
        for a in 0..spec.applications {
            let id = APPLICATION_BASE + a as Id;
            let candidate = CANDIDATE_BASE + (a % spec.candidates) as Id;
            let job_ix = rng.gen_range(0..jobs.len());
            let job = &jobs[job_ix];
            let (job_id, job_name) = (job.id, &job.name);
            let stage = job
                .stages
                .get(rng.gen_range(0..job.stages.len().max(1)))
                .map(|s| json!({"id": s.id, "name": s.name}))
                .unwrap_or(Value::Null);
            let applied = now - chrono::Duration::days(60) + secs(&mut rng, 55 * day);
            st.put(
                Resource::Applications,
                json!({
                    "id": id, "candidate_id": candidate, "prospect": false, "status": "active",
                    "jobs": [{"id": job_id, "name": job_name}], "current_stage": stage,
                    "applied_at": ts(applied), "rejected_at": null,
                    "last_activity_at": ts(applied + secs(&mut rng, 5 * day)),
                }),
            );
            out.applications.push(id);
            apps.push((id, job_ix));
        }
    }

    if !apps.is_empty() && !users.is_empty() {
        let spread = spec.spread.as_secs().max(1) as i64;
        for k in 0..spec.interviews {
            let id = INTERVIEW_BASE + k as Id;
            let (app_id, job_ix) = apps[rng.gen_range(0..apps.len())];
            let stages = &jobs[job_ix].stages;
            let stage_interview = stages
                .get(rng.gen_range(0..stages.len().max(1)))
                .map(|s| json!({"id": s.interview.0, "name": s.interview.1}))
                .unwrap_or(Value::Null);
            // Quarter-hour starts within ±spread of now.
            let offset = rng.gen_range(-spread..=spread) / 900 * 900;
            let start = now + chrono::Duration::seconds(offset);
            let start = start - chrono::Duration::seconds(start.timestamp() % 900);
            let end = start + chrono::Duration::minutes([30, 45, 60][rng.gen_range(0..3)]);
            let status = if end > now {
                "scheduled"
            } else if rng.gen_bool(0.5) {
                "awaiting_feedback"
            } else {
                "complete"
            };
            let digits: u64 = rng.gen_range(1_000_000_000..9_999_999_999);
            let (url, location) = match rng.gen_range(0..10) {
                0..=6 => (json!(format!("https://zoom.us/j/{digits}")), json!("Zoom")),
                7 | 8 => (
                    Value::Null,
                    json!(format!("Google Meet: https://meet.google.com/abc-{digits}")),
                ),
                _ => (Value::Null, json!("Big Conference Room")),
            };
            let n_interviewers = rng.gen_range(1..=3usize.min(users.len()));
            let mut interviewers = Vec::new();
            for _ in 0..n_interviewers {
                let u = &users[rng.gen_range(0..users.len())];
                if interviewers.iter().any(|i: &Value| i["id"] == u["id"]) {
                    continue;
                }
                interviewers.push(json!({
                    "id": u["id"], "employee_id": u["employee_id"], "name": u["name"],
                    "email": u["primary_email_address"], "response_status": "accepted",
                    "scorecard_id": null,
                }));
            }
            let organizer = user_ref(&users[rng.gen_range(0..users.len())]);
            let created = (start - chrono::Duration::days(7)).min(now - chrono::Duration::hours(1));
            let updated = (created + secs(&mut rng, 3 * day)).min(now);
            st.put(
                Resource::Interviews,
                json!({
                    "id": id, "application_id": app_id, "external_event_id": format!("event-{id}"),
                    "start": {"date_time": ts(start)}, "end": {"date_time": ts(end)},
                    "location": location, "video_conferencing_url": url, "status": status,
                    "created_at": ts(created), "updated_at": ts(updated),
                    "interview": stage_interview, "organizer": organizer, "interviewers": interviewers,
                }),
            );
            out.interviews.push(id);
        }
    }
    out
}
