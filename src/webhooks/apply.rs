//! What a webhook means for Panelist, decided without I/O: a parsed delivery in, a list of
//! commands out. The actor carries the commands out; this module is tested against every
//! documented webhook body.

use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::domain::{Application, Candidate, Id, Job, JobPost};

/// A webhook body: `{"action": "...", "payload": {...}}`. The payload stays untyped until the
/// action says what it holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Webhook {
    pub action: String,
    #[serde(default)]
    pub payload: Value,
}

/// Why a body is not a webhook at all. The HTTP handler answers 400 for these.
#[derive(Debug, Error)]
pub enum ParseError {
    #[error("body is not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("body has no string `action` field")]
    MissingAction,
}

impl Webhook {
    pub fn parse(body: &str) -> Result<Webhook, ParseError> {
        let value: Value = serde_json::from_str(body).map_err(ParseError::Json)?;
        let Value::Object(mut map) = value else {
            return Err(ParseError::MissingAction);
        };
        let action = match map.remove("action") {
            Some(Value::String(action)) if !action.trim().is_empty() => action,
            _ => return Err(ParseError::MissingAction),
        };
        let payload = map.remove("payload").unwrap_or(Value::Null);
        Ok(Webhook { action, payload })
    }
}

/// One effect of a webhook, in the order the actor must carry them out.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    UpsertJob(Job),
    UpsertJobPost(JobPost),
    UpsertCandidate(Candidate),
    UpsertApplication(Box<Application>),
    /// Refetch the candidate's applications and their interviews from Greenhouse, since no
    /// webhook reports an interview being scheduled or moved.
    RefreshCandidate(Id),
    /// Refetch one application's interviews after its stage changed.
    RefreshApplication(Id),
    CancelInterview(Id),
    /// The candidate was deleted or anonymized in Greenhouse: remove everything about them.
    PurgeCandidate {
        candidate_id: Id,
        applications: Vec<Id>,
        reason: &'static str,
    },
    RecordPing {
        web_hook_id: i64,
        event: String,
    },
    /// An action Panelist does not act on; the action is kept for the event log.
    Ignore(String),
}

/// Why a well-formed webhook could not be mapped. Retrying cannot help: the same body maps the
/// same way, so the actor marks the event failed at once.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MapError {
    #[error("{action}: payload has no `{field}`")]
    Missing { action: String, field: &'static str },
    #[error("{action}: `{field}` is not a valid {what}: {reason}")]
    Invalid {
        action: String,
        field: &'static str,
        what: &'static str,
        reason: String,
    },
}

/// Maps a webhook to the commands that apply it.
pub fn commands_for(webhook: &Webhook) -> Result<Vec<Command>, MapError> {
    let action = webhook.action.as_str();
    let payload = &webhook.payload;
    let commands = match action {
        "job_created" => {
            let job: Job = entity(action, payload, "payload.job", &["job"], "job")?;
            vec![Command::UpsertJob(job)]
        }
        "job_post_updated" => {
            // The documented body is the post itself; a nested `job_post` is accepted too, as
            // the `job_post_deleted` body nests it.
            let post = payload.get("job_post").unwrap_or(payload);
            let post: JobPost = entity(action, post, "payload", &[], "job post")?;
            vec![Command::UpsertJobPost(post)]
        }
        "update_candidate" => {
            let candidate: Candidate = entity(
                action,
                payload,
                "payload.candidate",
                &["candidate"],
                "candidate",
            )?;
            let id = candidate.id;
            vec![
                Command::UpsertCandidate(candidate),
                Command::RefreshCandidate(id),
            ]
        }
        "candidate_stage_change" => {
            let mut application: Application = entity(
                action,
                payload,
                "payload.application",
                &["application"],
                "application",
            )?;
            let candidate = match payload.pointer("/application/candidate") {
                None | Some(Value::Null) => None,
                Some(_) => Some(entity::<Candidate>(
                    action,
                    payload,
                    "payload.application.candidate",
                    &["application", "candidate"],
                    "candidate",
                )?),
            };
            // The webhook nests the candidate instead of naming `candidate_id`; keep the link
            // so the application can be tied to its candidate later.
            if application.candidate_id.is_none() {
                application.candidate_id = candidate.as_ref().map(|c| c.id);
            }
            let id = application.id;
            let mut commands = vec![Command::UpsertApplication(Box::new(application))];
            commands.extend(candidate.map(Command::UpsertCandidate));
            commands.push(Command::RefreshApplication(id));
            commands
        }
        "interview_deleted" => {
            let id = required_id(action, payload, "payload.interview.id", "/interview/id")?;
            vec![Command::CancelInterview(id)]
        }
        "delete_candidate" => {
            let candidate_id = required_id(action, payload, "payload.person.id", "/person/id")?;
            let applications = payload
                .pointer("/person/deleted_application_ids")
                .and_then(Value::as_array)
                .map(|ids| ids.iter().filter_map(|v| id_of(Some(v))).collect())
                .unwrap_or_default();
            vec![Command::PurgeCandidate {
                candidate_id,
                applications,
                reason: "delete_candidate",
            }]
        }
        "candidate_anonymized" => {
            let candidate_id =
                required_id(action, payload, "payload.candidate_id", "/candidate_id")?;
            vec![Command::PurgeCandidate {
                candidate_id,
                applications: Vec::new(),
                reason: "candidate_anonymized",
            }]
        }
        "ping" => {
            let web_hook_id = required_id(action, payload, "payload.web_hook_id", "/web_hook_id")?;
            let event = payload
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            vec![Command::RecordPing { web_hook_id, event }]
        }
        other => vec![Command::Ignore(other.to_string())],
    };
    Ok(commands)
}

/// Parses the object at `path` (keys from the payload root) as a domain entity.
fn entity<T: for<'de> Deserialize<'de>>(
    action: &str,
    payload: &Value,
    field: &'static str,
    path: &[&str],
    what: &'static str,
) -> Result<T, MapError> {
    let value = path
        .iter()
        .try_fold(payload, |v, key| v.get(key))
        .filter(|v| v.is_object())
        .ok_or_else(|| MapError::Missing {
            action: action.to_string(),
            field,
        })?;
    if id_of(value.get("id")).is_none() {
        return Err(MapError::Missing {
            action: action.to_string(),
            field: id_field(field),
        });
    }
    T::deserialize(value).map_err(|e| MapError::Invalid {
        action: action.to_string(),
        field,
        what,
        reason: e.to_string(),
    })
}

/// The message names the id inside the object that lacked one.
fn id_field(field: &'static str) -> &'static str {
    match field {
        "payload.job" => "payload.job.id",
        "payload.candidate" => "payload.candidate.id",
        "payload.application" => "payload.application.id",
        "payload.application.candidate" => "payload.application.candidate.id",
        _ => "payload.id",
    }
}

fn required_id(
    action: &str,
    payload: &Value,
    field: &'static str,
    pointer: &str,
) -> Result<Id, MapError> {
    match payload.pointer(pointer) {
        None | Some(Value::Null) => Err(MapError::Missing {
            action: action.to_string(),
            field,
        }),
        Some(value) => id_of(Some(value)).ok_or_else(|| MapError::Invalid {
            action: action.to_string(),
            field,
            what: "id",
            reason: format!("expected an integer, got {value}"),
        }),
    }
}

/// Greenhouse ids are integers; a numeric string is taken too, since it costs nothing.
fn id_of(value: Option<&Value>) -> Option<Id> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fixture(name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/greenhouse")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn map_fixture(name: &str) -> Vec<Command> {
        let webhook = Webhook::parse(&fixture(name)).unwrap();
        commands_for(&webhook).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn map_json(body: &str) -> Result<Vec<Command>, MapError> {
        commands_for(&Webhook::parse(body).unwrap())
    }

    #[test]
    fn job_created_upserts_the_job() {
        let commands = map_fixture("webhook_job_created.json");
        let [Command::UpsertJob(job)] = commands.as_slice() else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(job.id, 371417);
        assert_eq!(job.name.as_deref(), Some("Software Engineer"));
        assert_eq!(job.status.as_deref(), Some("open"));
        assert_eq!(job.offices.len(), 2);
    }

    #[test]
    fn job_post_updated_upserts_the_post_itself() {
        let commands = map_fixture("webhook_job_post_updated.json");
        let [Command::UpsertJobPost(post)] = commands.as_slice() else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(post.id, 1813002);
        assert_eq!(post.job_id, Some(1842002));
        assert_eq!(post.title.as_deref(), Some("A Cool Job"));
        assert_eq!(
            post.location.as_ref().and_then(|l| l.name.as_deref()),
            Some("At a Cool Place")
        );
        assert!(post.external && !post.live);
    }

    #[test]
    fn job_post_updated_accepts_a_nested_post_and_a_prospect_post() {
        let commands =
            map_json(r#"{"action":"job_post_updated","payload":{"job_post":{"id":5,"location":{"name":"Remote"}}}}"#)
                .unwrap();
        let [Command::UpsertJobPost(post)] = commands.as_slice() else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(post.id, 5);
        assert_eq!(post.job_id, None, "no job_id = a prospect post");
        assert_eq!(
            post.location.as_ref().and_then(|l| l.name.as_deref()),
            Some("Remote")
        );
    }

    #[test]
    fn update_candidate_upserts_then_refreshes() {
        let commands = map_fixture("webhook_candidate_or_prospect_updated.json");
        let [Command::UpsertCandidate(candidate), Command::RefreshCandidate(id)] =
            commands.as_slice()
        else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(candidate.id, 15696179);
        assert_eq!(*id, 15696179);
        assert_eq!(candidate.first_name.as_deref(), Some("Ronald"));
        assert_eq!(candidate.email_addresses[0].value, "123456email@email.com");
    }

    #[test]
    fn stage_change_upserts_application_and_candidate_then_refreshes() {
        let commands = map_fixture("webhook_candidate_stage_change.json");
        let [Command::UpsertApplication(app), Command::UpsertCandidate(candidate), Command::RefreshApplication(id)] =
            commands.as_slice()
        else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(app.id, 265277);
        assert_eq!(*id, 265277);
        assert_eq!(
            app.candidate_id,
            Some(265772),
            "linked from the nested candidate"
        );
        assert_eq!(app.jobs[0].id, 3485);
        let stage = app.current_stage.as_ref().unwrap();
        assert_eq!(stage.id, 71416);
        assert_eq!(stage.interviews[0].id, 113101);
        let kit = stage.interviews[0].interview_kit.as_ref().unwrap();
        assert_eq!(kit.content.as_deref(), Some("Assess their skills"));
        assert_eq!(candidate.id, 265772);
        assert_eq!(candidate.last_name.as_deref(), Some("Hurley"));
    }

    #[test]
    fn stage_change_without_candidate_still_applies() {
        let commands =
            map_json(r#"{"action":"candidate_stage_change","payload":{"application":{"id":9,"candidate":null}}}"#)
                .unwrap();
        assert!(matches!(
            commands.as_slice(),
            [Command::UpsertApplication(a), Command::RefreshApplication(9)] if a.id == 9
        ));
    }

    #[test]
    fn interview_deleted_cancels_the_interview() {
        assert_eq!(
            map_fixture("webhook_interview_deleted.json"),
            vec![Command::CancelInterview(31087450)]
        );
    }

    #[test]
    fn ping_records_the_webhook_and_its_event_label() {
        assert_eq!(
            map_fixture("webhook_ping.json"),
            vec![Command::RecordPing {
                web_hook_id: 9590,
                event: "Candidate has been hired".into()
            }]
        );
    }

    #[test]
    fn deleted_and_anonymized_candidates_are_purged() {
        let deleted = Webhook::parse(&fixture("webhook_candidate_deleted.json")).unwrap();
        assert_eq!(
            commands_for(&deleted).unwrap(),
            vec![Command::PurgeCandidate {
                candidate_id: 37031511,
                applications: vec![46196263, 46196258],
                reason: "delete_candidate",
            }]
        );
        let anonymized = Webhook::parse(&fixture("webhook_candidate_anonymized.json")).unwrap();
        assert_eq!(
            commands_for(&anonymized).unwrap(),
            vec![Command::PurgeCandidate {
                candidate_id: 37031511,
                applications: vec![],
                reason: "candidate_anonymized",
            }]
        );
    }

    #[test]
    fn every_other_documented_action_is_ignored() {
        let handled = [
            "webhook_job_created.json",
            "webhook_job_post_updated.json",
            "webhook_candidate_or_prospect_updated.json",
            "webhook_candidate_stage_change.json",
            "webhook_interview_deleted.json",
            "webhook_ping.json",
            "webhook_candidate_deleted.json",
            "webhook_candidate_anonymized.json",
        ];
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greenhouse");
        let mut ignored = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.starts_with("webhook_") || handled.contains(&name.as_str()) {
                continue;
            }
            let webhook = Webhook::parse(&fixture(&name)).unwrap();
            assert_eq!(
                commands_for(&webhook).unwrap(),
                vec![Command::Ignore(webhook.action.clone())],
                "{name}"
            );
            ignored += 1;
        }
        assert!(ignored >= 15, "only {ignored} unhandled fixtures found");
    }

    #[test]
    fn missing_ids_are_readable_errors() {
        let cases = [
            (
                r#"{"action":"interview_deleted","payload":{}}"#,
                "interview_deleted: payload has no `payload.interview.id`",
            ),
            (
                r#"{"action":"interview_deleted","payload":{"interview":{"id":null}}}"#,
                "payload.interview.id",
            ),
            (
                r#"{"action":"update_candidate","payload":{}}"#,
                "update_candidate: payload has no `payload.candidate`",
            ),
            (
                r#"{"action":"update_candidate","payload":{"candidate":{"first_name":"A"}}}"#,
                "payload.candidate.id",
            ),
            (
                r#"{"action":"job_created"}"#,
                "job_created: payload has no `payload.job`",
            ),
            (
                r#"{"action":"job_post_updated","payload":{"title":"x"}}"#,
                "payload.id",
            ),
            (
                r#"{"action":"candidate_stage_change","payload":{"application":{}}}"#,
                "payload.application.id",
            ),
            (
                r#"{"action":"ping","payload":{"event":"x"}}"#,
                "payload.web_hook_id",
            ),
        ];
        for (body, expected) in cases {
            let err = map_json(body).unwrap_err().to_string();
            assert!(err.contains(expected), "{body}: {err}");
        }
    }

    #[test]
    fn wrongly_typed_fields_are_readable_errors() {
        let err =
            map_json(r#"{"action":"interview_deleted","payload":{"interview":{"id":"abc"}}}"#)
                .unwrap_err()
                .to_string();
        assert!(err.contains("not a valid id"), "{err}");
        let err = map_json(
            r#"{"action":"update_candidate","payload":{"candidate":{"id":1,"tags":"x"}}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("update_candidate: `payload.candidate` is not a valid candidate"),
            "{err}"
        );
    }

    #[test]
    fn numeric_string_ids_are_accepted() {
        assert_eq!(
            map_json(r#"{"action":"interview_deleted","payload":{"interview":{"id":"42"}}}"#)
                .unwrap(),
            vec![Command::CancelInterview(42)]
        );
    }

    #[test]
    fn bodies_without_an_action_are_refused() {
        for body in [
            r#"{"payload":{}}"#,
            r#"{"action":7}"#,
            r#"{"action":" "}"#,
            "[1]",
            "\"ping\"",
        ] {
            assert!(
                matches!(Webhook::parse(body), Err(ParseError::MissingAction)),
                "{body}"
            );
        }
        assert!(matches!(
            Webhook::parse("{not json"),
            Err(ParseError::Json(_))
        ));
    }

    #[test]
    fn escaped_unicode_is_decoded() {
        let commands =
            map_json(r#"{"action":"update_candidate","payload":{"candidate":{"id":1,"first_name":"Jos\u00e9"}}}"#)
                .unwrap();
        let Command::UpsertCandidate(candidate) = &commands[0] else {
            panic!("unexpected {commands:?}");
        };
        assert_eq!(candidate.first_name.as_deref(), Some("José"));
    }
}
