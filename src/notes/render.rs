//! The note as posted: plain text (Greenhouse renders no HTML or markdown), headers in capitals,
//! `- ` bullets, each claim followed by the transcript time it comes from. The first line is a
//! stable marker carrying the interview id, which the poster looks for to never post twice.

use chrono::{DateTime, Utc};

use super::schema::{FactKind, NotesDraft};
use super::transcript::clock;

/// What the note says about the interview itself (from Greenhouse, or the CLI's options).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NoteMeta {
    pub interview_id: String,
    /// The stage interview's name, e.g. "Technical Interview".
    pub interview_name: String,
    pub candidate_name: Option<String>,
    pub job_name: Option<String>,
    pub date: Option<DateTime<Utc>>,
    pub interviewers: Vec<String>,
    /// The kit's questions, in order.
    pub questions: Vec<String>,
    /// `public_url` from the configuration, for the link to the full transcript.
    pub public_url: String,
}

/// What the footer reports as left out.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Omissions {
    pub unsupported: usize,
    pub protected: usize,
    /// Call time from which the assessment was cut for time (`NotesOutcome::assessed_until`).
    pub assessed_until: Option<f64>,
}

/// The first line of every note Panelist posts for `interview_id`. Never change its format:
/// notes already in Greenhouse are found by it.
pub fn marker(interview_id: &str) -> String {
    format!("[Panelist notes · interview {interview_id}]")
}

/// The link to the interview's page (transcript included) on the dashboard.
pub fn transcript_link(public_url: &str, interview_id: &str) -> String {
    format!(
        "{}/interviews/{interview_id}",
        public_url.trim_end_matches('/')
    )
}

/// Removes what would not show as plain text: HTML tags, markdown emphasis, code ticks and
/// heading marks, control characters; collapses whitespace. (`C#` keeps its `#`.)
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '*' | '`' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace()
        .filter(|w| !w.chars().all(|c| c == '#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Longest claim in words: a note is read in a minute, and a longer claim is the model copying
/// the transcript (which the link is for).
const MAX_CLAIM_WORDS: usize = 40;

/// A claim's text as shown: plain, and cut at `MAX_CLAIM_WORDS`.
fn claim_text(text: &str) -> String {
    let plain = plain(text);
    let words: Vec<&str> = plain.split_whitespace().collect();
    if words.len() <= MAX_CLAIM_WORDS {
        return plain;
    }
    format!(
        "{}…",
        words[..MAX_CLAIM_WORDS]
            .join(" ")
            .trim_end_matches([',', ';', ':'])
    )
}

fn at(t: Option<f64>) -> String {
    t.map(|s| format!(" [{}]", clock(s))).unwrap_or_default()
}

/// The note text for `notes`.
pub fn render(notes: &NotesDraft, meta: &NoteMeta, omitted: Omissions) -> String {
    let mut out = String::new();
    let mut line = |s: &str| {
        out.push_str(s);
        out.push('\n');
    };
    line(&marker(&meta.interview_id));
    let title = match meta.candidate_name.as_deref() {
        Some(name) => format!("{} with {}", plain(&meta.interview_name), plain(name)),
        None => plain(&meta.interview_name),
    };
    line(&title);
    if let Some(job) = &meta.job_name {
        line(&format!("Job: {}", plain(job)));
    }
    if let Some(date) = meta.date {
        line(&format!("Date: {}", date.format("%Y-%m-%d %H:%M UTC")));
    }
    if !meta.interviewers.is_empty() {
        let names: Vec<String> = meta.interviewers.iter().map(|n| plain(n)).collect();
        line(&format!("Interviewers: {}", names.join(", ")));
    }
    line(&format!(
        "Full transcript: {}",
        transcript_link(&meta.public_url, &meta.interview_id)
    ));

    line("");
    line("SUMMARY");
    let summary = plain(&notes.summary);
    line(if summary.is_empty() {
        "No summary could be written from the transcript."
    } else {
        &summary
    });

    if !meta.questions.is_empty() {
        line("");
        line("INTERVIEW KIT QUESTIONS");
        for (i, q) in meta.questions.iter().enumerate() {
            line(&format!("{}. {}", i + 1, plain(q)));
            let answers: Vec<_> = notes
                .answers
                .iter()
                .filter(|a| a.question == i + 1)
                .collect();
            if answers.is_empty() {
                line("   - Not covered.");
            }
            for a in answers {
                line(&format!(
                    "   - {}{}",
                    claim_text(&a.claim.text),
                    at(a.claim.at)
                ));
            }
        }
    }

    for (title, claims) in [
        ("STRENGTHS", &notes.strengths),
        ("CONCERNS", &notes.concerns),
    ] {
        line("");
        line(title);
        if claims.is_empty() {
            line("- None noted.");
        }
        for c in claims {
            line(&format!("- {}{}", claim_text(&c.text), at(c.at)));
        }
    }

    line("");
    line("KEY FACTS");
    for kind in FactKind::ALL {
        let values: Vec<String> = notes
            .facts
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, c)| format!("{}{}", claim_text(&c.text), at(c.at)))
            .collect();
        let text = if values.is_empty() {
            "not mentioned".to_string()
        } else {
            values.join("; ")
        };
        line(&format!("- {}: {text}", kind.label()));
    }

    line("");
    line("NEXT STEPS");
    if notes.next_steps.is_empty() {
        line("- None discussed.");
    }
    for c in &notes.next_steps {
        line(&format!("- {}{}", plain(&c.text), at(c.at)));
    }

    line("");
    let mut footer = String::from(
        "Written by Panelist from the interview transcript; [mm:ss] is where each point was said.",
    );
    if omitted.unsupported > 0 {
        footer.push_str(&format!(
            " {} statement(s) the transcript does not support were left out.",
            omitted.unsupported
        ));
    }
    if omitted.protected > 0 {
        footer.push_str(&format!(
            " {} remark(s) on protected personal topics were left out.",
            omitted.protected
        ));
    }
    if let Some(until) = omitted.assessed_until {
        footer.push_str(&format!(
            " Answers, strengths and concerns cover the call up to {}; the minutes after it are \
             in the full transcript (key facts and next steps cover the whole call).",
            clock(until)
        ));
    }
    line(&footer);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::notes::schema::{Answer, Claim};
    use chrono::TimeZone;

    fn meta() -> NoteMeta {
        NoteMeta {
            interview_id: "12345".into(),
            interview_name: "Technical Interview".into(),
            candidate_name: Some("Maya Chen".into()),
            job_name: None,
            date: Some(Utc.with_ymd_and_hms(2030, 3, 4, 15, 0, 0).unwrap()),
            interviewers: vec!["Tom Becker".into()],
            questions: vec!["Tell me about a project.".into(), "Why us?".into()],
            public_url: "https://panelist.example.com/".into(),
        }
    }

    #[test]
    fn renders_plain_text_with_marker_headers_and_times() {
        let notes = NotesDraft {
            summary: "**Strong** candidate with <b>deep</b> Kafka experience.".into(),
            answers: vec![Answer {
                question: 1,
                claim: Claim::new("Rebuilt the `tracking` pipeline", Some(305.0)),
            }],
            strengths: vec![Claim::new("Clear communicator", Some(12.0))],
            concerns: vec![],
            facts: vec![(FactKind::NoticePeriod, Claim::new("4 weeks", Some(3725.0)))],
            next_steps: vec![],
        };
        let text = render(
            &notes,
            &meta(),
            Omissions {
                unsupported: 2,
                protected: 1,
                assessed_until: None,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "[Panelist notes · interview 12345]");
        assert_eq!(lines[1], "Technical Interview with Maya Chen");
        assert!(text.contains("Date: 2030-03-04 15:00 UTC"));
        assert!(text.contains("Interviewers: Tom Becker"));
        assert!(text.contains("Full transcript: https://panelist.example.com/interviews/12345"));
        assert!(text.contains("Strong candidate with deep Kafka experience."));
        assert!(text
            .contains("1. Tell me about a project.\n   - Rebuilt the tracking pipeline [05:05]"));
        assert!(text.contains("2. Why us?\n   - Not covered."));
        assert!(text.contains("- Clear communicator [00:12]"));
        assert!(text.contains("CONCERNS\n- None noted."));
        assert!(text.contains("- Notice period: 4 weeks [1:02:05]"));
        assert!(text.contains("- Compensation: not mentioned"));
        assert!(text.contains("2 statement(s)") && text.contains("1 remark(s)"));
        for bad in ["**", "<b>", "`"] {
            assert!(!text.contains(bad), "{bad} in\n{text}");
        }
    }
}
