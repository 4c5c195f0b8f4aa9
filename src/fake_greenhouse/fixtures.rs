//! The documented Harvest example bodies (`tests/fixtures/greenhouse`), compiled in so the fake
//! serves them from any working directory, e.g. under `panelist demo`.

use serde_json::Value;

use super::state::{State, StoredNote};
use super::Note;
use crate::domain::Id;
use crate::greenhouse::Resource;

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../tests/fixtures/greenhouse/", $name)),
        )
    };
}

/// Per collection, the list and retrieve examples; later entries win on equal ids, so the
/// general list examples come last.
const COLLECTIONS: &[(Resource, &[(&str, &str)])] = &[
    (
        Resource::Users,
        &[
            fixture!("harvest_user_retrieve.json"),
            fixture!("harvest_users_list.json"),
        ],
    ),
    (
        Resource::Jobs,
        &[
            fixture!("harvest_job_retrieve.json"),
            fixture!("harvest_jobs_list.json"),
        ],
    ),
    (
        Resource::JobPosts,
        &[
            fixture!("harvest_job_post_retrieve.json"),
            fixture!("harvest_job_posts_for_job_list.json"),
            fixture!("harvest_job_posts_list.json"),
        ],
    ),
    (
        Resource::Candidates,
        &[
            fixture!("harvest_candidate_retrieve.json"),
            fixture!("harvest_candidates_list.json"),
        ],
    ),
    (
        Resource::Applications,
        &[
            fixture!("harvest_application_retrieve.json"),
            fixture!("harvest_applications_list.json"),
        ],
    ),
    (
        Resource::Interviews,
        &[
            fixture!("harvest_scheduled_interview_create_v2_response.json"),
            fixture!("harvest_scheduled_interview_retrieve.json"),
            fixture!("harvest_scheduled_interviews_for_application_list.json"),
            fixture!("harvest_scheduled_interviews_list.json"),
        ],
    ),
    (
        Resource::JobStages,
        &[
            fixture!("harvest_job_stage_retrieve.json"),
            fixture!("harvest_job_stages_for_job_list.json"),
            fixture!("harvest_job_stages_list.json"),
        ],
    ),
];

const ACTIVITY_FEED: (&str, &str) = fixture!("harvest_activity_feed_retrieve.json");

/// The documented activity feed belongs to no documented candidate; it is attached to the
/// documented candidate John Locke.
pub const ACTIVITY_FEED_CANDIDATE: Id = 53883394;

fn parse(name: &str, text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(obj @ Value::Object(_)) => vec![obj],
        Ok(_) | Err(_) => {
            tracing::warn!(fixture = name, "fake greenhouse: unusable fixture skipped");
            Vec::new()
        }
    }
}

/// Loads every fixture; returns how many objects were stored.
pub(crate) fn seed(st: &mut State) -> usize {
    let mut count = 0;
    for (resource, files) in COLLECTIONS {
        for (name, text) in *files {
            for mut obj in parse(name, text) {
                if *resource == Resource::Candidates {
                    // Embedded applications become stored applications; the candidate's
                    // `applications` are rendered from the store like everyone else's.
                    if let Some(Value::Array(apps)) =
                        obj.as_object_mut().and_then(|m| m.remove("applications"))
                    {
                        for app in apps {
                            count += usize::from(st.put(Resource::Applications, app).is_some());
                        }
                    }
                }
                count += usize::from(st.put(*resource, obj).is_some());
            }
        }
    }
    let (name, text) = ACTIVITY_FEED;
    if let Some(feed) = parse(name, text).into_iter().next() {
        let list = |k: &str| {
            feed.get(k)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        for n in list("notes") {
            let Some(id) = n.get("id").and_then(Value::as_i64) else {
                continue;
            };
            st.notes.retain(|s| s.note.id != id);
            st.notes.push(StoredNote {
                note: Note {
                    id,
                    candidate_id: ACTIVITY_FEED_CANDIDATE,
                    user_id: n
                        .get("user")
                        .and_then(|u| u.get("id"))
                        .and_then(Value::as_i64),
                    body: n
                        .get("body")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    visibility: n
                        .get("visibility")
                        .and_then(Value::as_str)
                        .unwrap_or("public")
                        .to_string(),
                    on_behalf_of: None,
                    created_at: n
                        .get("created_at")
                        .and_then(Value::as_str)
                        .and_then(super::query::parse_time)
                        .unwrap_or_default(),
                    via: None,
                },
                user: n.get("user").cloned(),
            });
            count += 1;
        }
        st.feed_extras.insert(
            ACTIVITY_FEED_CANDIDATE,
            (list("emails"), list("activities")),
        );
    }
    count
}
