use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/greenhouse")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn parses_documented_scheduled_interview() {
    let i: Interview =
        serde_json::from_str(&fixture("harvest_scheduled_interview_retrieve.json")).unwrap();
    assert_eq!(i.id, 9128481);
    assert_eq!(i.application_id, Some(4684156));
    assert_eq!(i.status, InterviewStatus::AwaitingFeedback);
    assert_eq!(i.meeting_url().as_deref(), Some("http://example.com"));
    assert_eq!(
        i.interviewers[0].email.as_deref(),
        Some("kate.austen@example.com")
    );
    assert_eq!(i.interview.as_ref().unwrap().id, 7001);
    assert_eq!(
        i.starts_at().unwrap().to_rfc3339(),
        "2014-03-26T22:15:00+00:00"
    );
}

#[test]
fn all_day_interview_and_absent_fields_are_tolerated() {
    let i: Interview = serde_json::from_str(
        r#"{"id": 1, "start": {"date": "2026-12-01"}, "end": {"date": "2026-12-01"},
            "interviewers": null, "status": "brand_new_status", "new_field": {"x": 1},
            "location": "Zoom: https://zoom.us/j/999, room 4", "video_conferencing_url": null}"#,
    )
    .unwrap();
    assert!(i.start.unwrap().is_all_day());
    assert_eq!(
        i.starts_at().unwrap().to_rfc3339(),
        "2026-12-01T00:00:00+00:00"
    );
    assert!(i.interviewers.is_empty());
    assert_eq!(i.status, InterviewStatus::Other("brand_new_status".into()));
    assert_eq!(i.meeting_url().as_deref(), Some("https://zoom.us/j/999"));
    // An unknown status survives a round trip through the store.
    let back: Interview = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
    assert_eq!(back, i);
}

#[test]
fn every_list_fixture_parses() {
    type Parse = fn(&str) -> usize;
    let cases: [(&str, Parse); 8] = [
        ("harvest_users_list.json", |s| {
            serde_json::from_str::<Vec<User>>(s).unwrap().len()
        }),
        ("harvest_jobs_list.json", |s| {
            serde_json::from_str::<Vec<Job>>(s).unwrap().len()
        }),
        ("harvest_job_posts_list.json", |s| {
            serde_json::from_str::<Vec<JobPost>>(s).unwrap().len()
        }),
        ("harvest_candidates_list.json", |s| {
            serde_json::from_str::<Vec<Candidate>>(s).unwrap().len()
        }),
        ("harvest_applications_list.json", |s| {
            serde_json::from_str::<Vec<Application>>(s).unwrap().len()
        }),
        ("harvest_job_stages_list.json", |s| {
            serde_json::from_str::<Vec<JobStage>>(s).unwrap().len()
        }),
        ("harvest_scheduled_interviews_list.json", |s| {
            serde_json::from_str::<Vec<Interview>>(s).unwrap().len()
        }),
        (
            "harvest_scheduled_interviews_for_application_list.json",
            |s| serde_json::from_str::<Vec<Interview>>(s).unwrap().len(),
        ),
    ];
    for (name, parse) in cases {
        assert!(parse(&fixture(name)) > 0, "{name} parsed empty");
    }
}

#[test]
fn job_stage_exposes_kit_questions() {
    let stage: JobStage =
        serde_json::from_str(&fixture("harvest_job_stage_retrieve.json")).unwrap();
    let kit = stage.kit_for(7890).unwrap();
    assert_eq!(
        kit.questions[0].question,
        "Is this person really a good fit?"
    );
}

#[test]
fn user_email_match_is_case_insensitive() {
    let users: Vec<User> = serde_json::from_str(&fixture("harvest_users_list.json")).unwrap();
    let u = &users[0];
    let email = u.primary_email_address.clone().unwrap().to_uppercase();
    assert!(u.has_email(&email));
}
