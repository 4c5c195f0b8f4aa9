//! The transcript reader behind `panelist notes`: `load_transcript` (`transcript::parse`, then
//! `assign_roles`), the clock parser and formatter, and what the notes pipeline reads off the turns.
//!
//! Input: the first line, when it starts with `candidate=`, names the candidate; the rest is the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panelist::notes::load_transcript;
use panelist::notes::transcript::{
    candidate_name, clock, interviewer_names, parse, parse_clock, Role,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (candidate, file) = match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("candidate=") => {
            (Some(&first["candidate=".len()..]), rest)
        }
        _ => (None, text),
    };
    if let Some(secs) = parse_clock(file.lines().next().unwrap_or_default()) {
        assert!(!(secs < 0.0));
        let _ = clock(secs);
    }
    let parsed = parse(file);
    let loaded = load_transcript(file, candidate);
    assert_eq!(parsed.is_ok(), loaded.is_ok());
    if let Ok(turns) = loaded {
        assert!(!turns.is_empty());
        for t in &turns {
            assert!(t.role.is_some());
            let _ = (t.label(), clock(t.end), t.role.map(Role::as_str));
        }
        let _ = candidate_name(&turns);
        let _ = interviewer_names(&turns);
    }
});
