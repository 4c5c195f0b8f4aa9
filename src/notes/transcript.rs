//! The transcript as the notes pipeline sees it: speaker turns with a role and a start time, read
//! from the transcriber's segments, its JSON output (`{"segments":[{"speaker","start","end","text"}]}`)
//! or plain text with one turn per line (`[hh:mm:ss] Name (role): words`).

use serde::Deserialize;

use crate::transcribe::TranscriptSegment;

/// Who a speaker is in the interview. Notes are about the candidate; interviewers' words give
/// context (a question) but are never reported as facts about the candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Candidate,
    Interviewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Candidate => "candidate",
            Role::Interviewer => "interviewer",
        }
    }
}

/// One speaker's stretch of speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// Seconds from the start of the call.
    pub start: f64,
    pub end: f64,
    pub speaker: String,
    pub role: Option<Role>,
    pub text: String,
}

impl Turn {
    pub fn new(start: f64, speaker: &str, role: Option<Role>, text: &str) -> Turn {
        Turn {
            start,
            end: start,
            speaker: speaker.to_string(),
            role,
            text: text.to_string(),
        }
    }

    /// The time label the model sees and copies into its `at` fields.
    pub fn label(&self) -> String {
        clock(self.start)
    }
}

/// `mm:ss`, or `h:mm:ss` from the first hour on.
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).floor() as u64;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// Reads `ss`, `mm:ss`, `h:mm:ss` (optionally in brackets, with fractions of a second) as seconds.
pub fn parse_clock(text: &str) -> Option<f64> {
    let t = text
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim();
    if t.is_empty() {
        return None;
    }
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() > 3 {
        return None;
    }
    let mut total = 0.0;
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let v: f64 = if last {
            p.trim().parse().ok()?
        } else {
            p.trim().parse::<u32>().ok()? as f64
        };
        if v < 0.0 || (i > 0 && v >= 60.0) {
            return None;
        }
        total = total * 60.0 + v;
    }
    Some(total)
}

/// Turns from the transcriber's stored segments. Consecutive segments of one speaker are merged
/// into one turn while the gap between them is short, so the model reads a conversation.
pub fn from_segments(segments: &[TranscriptSegment]) -> Vec<Turn> {
    let mut turns: Vec<Turn> = Vec::new();
    for s in segments {
        let text = s.text.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(last) = turns.last_mut() {
            if last.speaker == s.speaker && s.start - last.end < 2.0 && last.text.len() < 1200 {
                last.text.push(' ');
                last.text.push_str(text);
                last.end = last.end.max(s.end);
                continue;
            }
        }
        turns.push(Turn {
            start: s.start,
            end: s.end,
            speaker: s.speaker.clone(),
            role: None,
            text: text.to_string(),
        });
    }
    turns
}

#[derive(Debug, thiserror::Error)]
pub enum TranscriptParseError {
    #[error("line {line}: expected `[hh:mm:ss] Speaker (role): words`, got {text:?}")]
    BadLine { line: usize, text: String },
    #[error("not a transcript: {0}")]
    BadJson(String),
    #[error("the transcript is empty")]
    Empty,
}

#[derive(Deserialize)]
struct JsonTranscript {
    segments: Vec<JsonSegment>,
}

#[derive(Deserialize)]
struct JsonSegment {
    #[serde(default)]
    speaker: Option<String>,
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    start: f64,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    text: String,
}

/// Parses a transcript file: the transcriber's JSON (or its JSONL store file), else plain text.
pub fn parse(text: &str) -> Result<Vec<Turn>, TranscriptParseError> {
    let trimmed = text.trim_start();
    let turns = if trimmed.starts_with('{') {
        parse_json(trimmed)?
    } else {
        parse_plain(text)?
    };
    if turns.is_empty() {
        return Err(TranscriptParseError::Empty);
    }
    Ok(turns)
}

fn parse_json(text: &str) -> Result<Vec<Turn>, TranscriptParseError> {
    let segments: Vec<JsonSegment> = match serde_json::from_str::<JsonTranscript>(text) {
        Ok(t) => t.segments,
        // The transcriber's own store file: one segment per line.
        Err(first) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str::<JsonSegment>)
            .collect::<Result<_, _>>()
            .map_err(|_| TranscriptParseError::BadJson(first.to_string()))?,
    };
    let segments: Vec<TranscriptSegment> = segments
        .into_iter()
        .map(|s| {
            let speaker = s
                .speaker
                .or(s.participant.clone())
                .unwrap_or_else(|| "Speaker".into());
            TranscriptSegment {
                participant: s.participant.unwrap_or_else(|| speaker.clone()),
                speaker,
                start: s.start,
                end: s.end.unwrap_or(s.start),
                text: s.text,
            }
        })
        .collect();
    let mut sorted = segments;
    crate::transcribe::transcript::sort_segments(&mut sorted);
    Ok(from_segments(&sorted))
}

/// One turn per line: optional `[hh:mm:ss]`, speaker, optional `(role)`, `:`, words. Lines
/// without a time continue the clock from the previous line (about 150 words a minute).
/// Blank lines and `#` comments are skipped.
fn parse_plain(text: &str) -> Result<Vec<Turn>, TranscriptParseError> {
    let mut turns: Vec<Turn> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || TranscriptParseError::BadLine {
            line: n + 1,
            text: line.chars().take(80).collect(),
        };
        let (start, rest) = match line.strip_prefix('[') {
            Some(after) => {
                let (stamp, rest) = after.split_once(']').ok_or_else(bad)?;
                // `[00:01.20 - 00:04.00]`, the transcriber's text format, is accepted too.
                let first = stamp.split(" - ").next().unwrap_or(stamp);
                (Some(parse_clock(first).ok_or_else(bad)?), rest.trim_start())
            }
            None => (None, line),
        };
        let (who, words) = rest.split_once(':').ok_or_else(bad)?;
        let who = who.trim();
        let words = words.trim();
        if who.is_empty() || who.len() > 80 || words.is_empty() {
            return Err(bad());
        }
        let (speaker, role) = match who.rsplit_once('(') {
            Some((name, role)) if role.ends_with(')') => {
                let role = role.trim_end_matches(')').trim().to_ascii_lowercase();
                let role = if role.contains("candidate") || role.contains("applicant") {
                    Some(Role::Candidate)
                } else {
                    Some(Role::Interviewer)
                };
                (name.trim().to_string(), role)
            }
            _ => (who.to_string(), None),
        };
        let start = start.unwrap_or_else(|| {
            turns
                .last()
                .map(|t| t.end.max(t.start) + 1.0)
                .unwrap_or(0.0)
        });
        let words_count = words.split_whitespace().count() as f64;
        turns.push(Turn {
            start,
            end: start + words_count / 2.5,
            speaker,
            role,
            text: words.to_string(),
        });
    }
    // Each turn ends where the next begins, when the file says when that was.
    for i in 1..turns.len() {
        let next = turns[i].start;
        let t = &mut turns[i - 1];
        if next > t.start {
            t.end = next;
        }
    }
    Ok(turns)
}

/// Fills in roles. `candidate` (matched on the full or the first name) wins; else speakers
/// labelled `(candidate)` somewhere are the candidate everywhere; failing both, the speaker with
/// the most words who is not labelled an interviewer is taken to be the candidate.
pub fn assign_roles(turns: &mut [Turn], candidate: Option<&str>) {
    let matches = |speaker: &str, name: &str| {
        let (s, n) = (speaker.to_lowercase(), name.to_lowercase());
        s == n
            || (n.split_whitespace().count() == 1
                && s.split_whitespace().next() == Some(n.as_str()))
    };
    let named = candidate
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .and_then(|name| turns.iter().find(|t| matches(&t.speaker, name)))
        .map(|t| t.speaker.clone());
    let labelled: Vec<String> = turns
        .iter()
        .filter(|t| t.role == Some(Role::Candidate))
        .map(|t| t.speaker.clone())
        .collect();
    let chosen: Vec<String> = match named {
        Some(name) => vec![name],
        None if !labelled.is_empty() => labelled,
        None => {
            let mut words: Vec<(String, usize)> = Vec::new();
            for t in turns.iter().filter(|t| t.role != Some(Role::Interviewer)) {
                let n = t.text.split_whitespace().count();
                match words.iter_mut().find(|(s, _)| *s == t.speaker) {
                    Some((_, c)) => *c += n,
                    None => words.push((t.speaker.clone(), n)),
                }
            }
            words
                .into_iter()
                .max_by_key(|(_, n)| *n)
                .map(|(s, _)| s)
                .into_iter()
                .collect()
        }
    };
    for t in turns.iter_mut() {
        t.role = Some(if chosen.contains(&t.speaker) {
            Role::Candidate
        } else {
            Role::Interviewer
        });
    }
}

/// The candidate's display name as the transcript spells it, if roles are known.
pub fn candidate_name(turns: &[Turn]) -> Option<String> {
    turns
        .iter()
        .find(|t| t.role == Some(Role::Candidate))
        .map(|t| t.speaker.clone())
}

/// The other speakers, in order of first appearance.
pub fn interviewer_names(turns: &[Turn]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in turns {
        if t.role != Some(Role::Candidate) && !out.contains(&t.speaker) {
            out.push(t.speaker.clone());
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn clocks_round_trip() {
        assert_eq!(clock(75.9), "01:15");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(parse_clock("01:15"), Some(75.0));
        assert_eq!(parse_clock("[1:02:05]"), Some(3725.0));
        assert_eq!(parse_clock("00:01.20"), Some(1.2));
        assert_eq!(parse_clock("12:75"), None);
        assert_eq!(parse_clock("soon"), None);
    }

    #[test]
    fn plain_text_lines_with_and_without_times_and_roles() {
        let turns = parse(
            "# a comment\n[00:00:05] Tom Becker (Interviewer): Hello there.\n\
             Maya Chen (candidate): Hi Tom.\n[00:01:00] Tom Becker: Next question.\n",
        )
        .unwrap();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[0].start, 5.0);
        assert_eq!(turns[0].role, Some(Role::Interviewer));
        assert_eq!(turns[1].speaker, "Maya Chen");
        assert_eq!(turns[1].role, Some(Role::Candidate));
        assert!(turns[1].start > 5.0 && turns[1].start < 60.0);
        assert_eq!(turns[2].start, 60.0);
        assert_eq!(turns[2].role, None);
        let err = parse("[00:00] no colon here").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn transcriber_json_and_jsonl() {
        let json = r#"{"segments":[{"speaker":"Ann","start":0.0,"end":1.0,"text":"Hi."},
            {"speaker":"Ann","start":1.5,"end":2.0,"text":"Welcome."},
            {"speaker":"Bo","start":3.0,"end":4.0,"text":"Thanks."}]}"#;
        let turns = parse(json).unwrap();
        assert_eq!(turns.len(), 2);
        assert_eq!(turns[0].text, "Hi. Welcome.");
        let jsonl = "{\"participant\":\"p1\",\"speaker\":\"Ann\",\"start\":0.0,\"end\":1.0,\"text\":\"Hi.\"}\n\
                     {\"participant\":\"p2\",\"speaker\":\"Bo\",\"start\":2.0,\"end\":3.0,\"text\":\"Yo.\"}\n";
        assert_eq!(parse(jsonl).unwrap().len(), 2);
    }

    #[test]
    fn roles_from_name_or_talk_time() {
        let mut turns = vec![
            Turn::new(0.0, "Ann Lee", None, "short question?"),
            Turn::new(
                5.0,
                "Bo Park",
                None,
                "a much longer answer with many many words in it",
            ),
        ];
        assign_roles(&mut turns, None);
        assert_eq!(turns[1].role, Some(Role::Candidate));
        assign_roles(&mut turns, Some("ann"));
        assert_eq!(turns[0].role, Some(Role::Candidate));
        assert_eq!(turns[1].role, Some(Role::Interviewer));
        assert_eq!(candidate_name(&turns).as_deref(), Some("Ann Lee"));
        assert_eq!(interviewer_names(&turns), vec!["Bo Park".to_string()]);
    }
}
