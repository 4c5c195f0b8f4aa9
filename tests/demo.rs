//! `panelist demo --exit-after-note`, the real binary with the real models: the fake Greenhouse,
//! the test room playing the espeak-ng interview, a bot joining at the scheduled start, tiny.en
//! transcribing, the local notes model writing, and the note printed once it reached the fake
//! Greenhouse. Slow (minutes on 2 cores): every component runs for real.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transcribe_support;

use std::process::Command;

use panelist::models::ModelName;

#[test]
fn the_demo_posts_a_note_with_what_was_said() {
    let data = tempfile::tempdir().unwrap();
    let models = transcribe_support::model_dir(ModelName::TinyEn);
    let out = Command::new(env!("CARGO_BIN_EXE_panelist"))
        .args(["demo", "--exit-after-note", "--timeout-secs", "900"])
        .env("PANELIST__DATA_DIR", data.path())
        .env("PANELIST__TRANSCRIPTION__MODEL_DIR", &models)
        .env("PANELIST__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    // The tour, then the note as Greenhouse holds it.
    assert!(stdout.contains("fake Greenhouse"), "{stdout}");
    let note = stdout
        .split("The note in Greenhouse")
        .nth(1)
        .unwrap_or_else(|| panic!("no note printed:\n{stdout}\n{stderr}"));
    assert!(note.contains("[Panelist notes · interview 9001]"), "{note}");
    assert!(note.contains("Technical Interview"), "{note}");
    // Facts spoken in the call reached the note (Whisper writes numbers as digits).
    let lower = note.to_lowercase();
    let spoken = [
        "kafka",
        "40 million",
        "185",
        "12 minutes",
        "platform",
        "recruiter",
    ];
    let found: Vec<&str> = spoken
        .iter()
        .copied()
        .filter(|w| lower.contains(w))
        .collect();
    assert!(
        found.len() >= 3,
        "only {found:?} of {spoken:?} in the note:\n{note}"
    );
    // The kit's questions are all there, answered from the call.
    for q in [
        "1. Tell me about a system you designed end to end.",
        "2. How do you handle an incident in production?",
        "3. Why are you interested in this role?",
    ] {
        assert!(note.contains(q), "{q} missing:\n{note}");
    }
    assert!(!note.contains("Not covered."), "{note}");
}
