//! The fixed schema the model fills, and a lenient reader for what small models actually send:
//! code fences around the JSON, a string where an object was asked for, `"q": "2"`, a reply cut
//! off by the token limit. The code, not the model, turns this into note text (`render`).

use serde_json::{Map, Value};

use super::transcript::parse_clock;

/// One statement in the notes, with the transcript time it comes from (seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub text: String,
    pub at: Option<f64>,
}

impl Claim {
    pub fn new(text: &str, at: Option<f64>) -> Claim {
        Claim {
            text: text.to_string(),
            at,
        }
    }
}

/// The candidate's answer to one kit question (1-based, in kit order).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub question: usize,
    pub claim: Claim,
}

/// The key facts the notes always list, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FactKind {
    Experience,
    Projects,
    Compensation,
    NoticePeriod,
    StartDate,
    Location,
    CompetingOffers,
}

impl FactKind {
    pub const ALL: [FactKind; 7] = [
        FactKind::Experience,
        FactKind::Projects,
        FactKind::Compensation,
        FactKind::NoticePeriod,
        FactKind::StartDate,
        FactKind::Location,
        FactKind::CompetingOffers,
    ];

    /// The JSON key the model fills.
    pub fn key(self) -> &'static str {
        match self {
            FactKind::Experience => "experience",
            FactKind::Projects => "projects",
            FactKind::Compensation => "compensation",
            FactKind::NoticePeriod => "notice_period",
            FactKind::StartDate => "start_date",
            FactKind::Location => "location",
            FactKind::CompetingOffers => "competing_offers",
        }
    }

    /// The label in the rendered note.
    pub fn label(self) -> &'static str {
        match self {
            FactKind::Experience => "Experience",
            FactKind::Projects => "Projects",
            FactKind::Compensation => "Compensation",
            FactKind::NoticePeriod => "Notice period",
            FactKind::StartDate => "Start date",
            FactKind::Location => "Location",
            FactKind::CompetingOffers => "Competing offers",
        }
    }

    /// What the prompt asks for under the key.
    pub fn hint(self) -> &'static str {
        match self {
            FactKind::Experience => "years of experience, current role or title, and team size",
            FactKind::Projects => {
                "a project the candidate worked on, with its measured results (numbers as said)"
            }
            FactKind::Compensation => "salary or pay the candidate expects or earns",
            FactKind::NoticePeriod => "how much notice the candidate must give",
            FactKind::StartDate => "when the candidate could start",
            FactKind::Location => "where the candidate lives or wants to work; remote or office",
            FactKind::CompetingOffers => {
                "other offers or interviews: the company, and any deadline (day and date as said)"
            }
        }
    }

    /// Facts that can have several values (the rest keep the best supported one).
    pub fn is_list(self) -> bool {
        matches!(
            self,
            FactKind::Experience | FactKind::Projects | FactKind::CompetingOffers
        )
    }

    fn from_key(key: &str) -> Option<FactKind> {
        let k = key.to_ascii_lowercase().replace([' ', '-'], "_");
        Some(match k.as_str() {
            "experience" | "years_of_experience" | "work_experience" => FactKind::Experience,
            "projects" | "project" | "key_projects" => FactKind::Projects,
            "compensation" | "salary" | "salary_expectation" | "pay" => FactKind::Compensation,
            "notice_period" | "notice" => FactKind::NoticePeriod,
            "start_date" | "availability" | "earliest_start" => FactKind::StartDate,
            "location" | "work_location" | "remote" => FactKind::Location,
            "competing_offers" | "offers" | "other_offers" | "other_processes" => {
                FactKind::CompetingOffers
            }
            _ => return None,
        })
    }
}

/// What one chunk of transcript (or the whole interview, once merged) says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotesDraft {
    pub summary: String,
    pub answers: Vec<Answer>,
    pub strengths: Vec<Claim>,
    pub concerns: Vec<Claim>,
    pub facts: Vec<(FactKind, Claim)>,
    pub next_steps: Vec<Claim>,
}

impl NotesDraft {
    /// Every claim, for checks that treat them all alike.
    pub fn claim_count(&self) -> usize {
        self.answers.len()
            + self.strengths.len()
            + self.concerns.len()
            + self.facts.len()
            + self.next_steps.len()
    }

    /// Keeps the claims `keep` accepts (it may rewrite them); returns how many were dropped.
    pub fn retain_claims(&mut self, mut keep: impl FnMut(&mut Claim) -> bool) -> usize {
        let before = self.claim_count();
        self.answers.retain_mut(|a| keep(&mut a.claim));
        self.strengths.retain_mut(&mut keep);
        self.concerns.retain_mut(&mut keep);
        self.facts.retain_mut(|(_, c)| keep(c));
        self.next_steps.retain_mut(&mut keep);
        before - self.claim_count()
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError(pub String);

/// Reads the model's reply. `questions` are the kit questions, for replies that name a question
/// by its text instead of its number.
pub fn parse_reply(text: &str, questions: &[String]) -> Result<NotesDraft, ReplyError> {
    let value = extract_json(text)?;
    let Value::Object(obj) = value else {
        return Err(ReplyError("the reply is JSON but not an object".into()));
    };
    let known = obj.keys().any(|k| {
        matches!(
            k.as_str(),
            "summary" | "answers" | "strengths" | "concerns" | "next_steps" | "facts"
        ) || FactKind::from_key(k).is_some()
    });
    // `{}` is a valid answer: "this part says nothing of that".
    if !known && !obj.is_empty() {
        return Err(ReplyError(format!(
            "the JSON object has none of the schema's keys (got {})",
            obj.keys().take(5).cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut draft = NotesDraft {
        summary: obj
            .get("summary")
            .map(|v| {
                claims(v)
                    .into_iter()
                    .map(|c| c.text)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
        answers: answers(obj.get("answers"), questions),
        strengths: obj.get("strengths").map(claims).unwrap_or_default(),
        concerns: obj.get("concerns").map(claims).unwrap_or_default(),
        facts: Vec::new(),
        next_steps: obj.get("next_steps").map(claims).unwrap_or_default(),
    };
    // Facts at the top level (the schema) or nested under "facts" (a common variation).
    let nested = obj.get("facts").and_then(Value::as_object);
    for (key, value) in obj.iter().chain(nested.into_iter().flatten()) {
        if let Some(kind) = FactKind::from_key(key) {
            for claim in claims(value) {
                draft.facts.push((kind, claim));
            }
        }
    }
    Ok(draft)
}

/// The JSON object in a reply: as is, inside a code fence or prose, or cut off at the end (then
/// closed where the last complete value ended).
fn extract_json(text: &str) -> Result<Value, ReplyError> {
    let start = text
        .find('{')
        .ok_or_else(|| ReplyError(format!("no JSON object in the reply: {:?}", excerpt(text))))?;
    let body = &text[start..];
    if let Some(end) = body.rfind('}') {
        if let Ok(v) = serde_json::from_str::<Value>(&body[..=end]) {
            return Ok(v);
        }
    }
    repair_truncated(body)
        .and_then(|fixed| serde_json::from_str::<Value>(&fixed).ok())
        .ok_or_else(|| ReplyError(format!("the reply is not valid JSON: {:?}", excerpt(text))))
}

fn excerpt(text: &str) -> String {
    let t: String = text.trim().chars().take(120).collect();
    if text.trim().chars().count() > 120 {
        format!("{t}…")
    } else {
        t
    }
}

/// Closes a JSON text that stops mid-way, dropping the incomplete last member or element.
fn repair_truncated(text: &str) -> Option<String> {
    // Positions after each complete value inside a container, with the open stack at that point.
    let mut stack: Vec<char> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut best: Option<(usize, Vec<char>)> = None;
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => stack.push(c),
            '}' | ']' => {
                stack.pop();
                if stack.is_empty() {
                    return Some(text[..=i].to_string());
                }
                best = Some((i + 1, stack.clone()));
            }
            ',' => best = Some((i, stack.clone())),
            _ => {}
        }
    }
    let (cut, open) = best?;
    let mut fixed = text[..cut].trim_end().trim_end_matches(',').to_string();
    for c in open.iter().rev() {
        fixed.push(if *c == '{' { '}' } else { ']' });
    }
    Some(fixed)
}

/// Words a model writes when it has nothing to report.
fn is_empty_text(t: &str) -> bool {
    let t = t.trim().trim_end_matches('.').to_ascii_lowercase();
    t.is_empty()
        || matches!(
            t.as_str(),
            "none"
                | "n/a"
                | "na"
                | "null"
                | "unknown"
                | "not mentioned"
                | "not discussed"
                | "not covered"
                | "not stated"
                | "not specified"
                | "not applicable"
                | "nothing"
                | "-"
        )
        || [
            "not mentioned",
            "not discussed",
            "not covered",
            "not stated",
            "not specified",
            "not provided",
            "no information",
            "no mention",
            "nothing mentioned",
            "in this part",
            "does not mention",
            "did not mention",
            "not applicable",
        ]
        .iter()
        .any(|p| t.contains(p))
}

const TEXT_KEYS: [&str; 7] = [
    "text",
    "answer",
    "value",
    "point",
    "summary",
    "detail",
    "description",
];
const AT_KEYS: [&str; 4] = ["at", "time", "timestamp", "ts"];

/// Claims in a value: a string, an object with a text and a time, or a list of either.
fn claims(value: &Value) -> Vec<Claim> {
    match value {
        Value::String(s) => claim_from_text(s, None).into_iter().collect(),
        Value::Array(items) => items.iter().flat_map(claims).collect(),
        Value::Object(obj) => {
            let at = at_of(obj);
            match TEXT_KEYS.iter().find_map(|k| obj.get(*k)) {
                Some(Value::String(s)) => claim_from_text(s, at).into_iter().collect(),
                Some(other) => claims(other)
                    .into_iter()
                    .map(|mut c| {
                        c.at = c.at.or(at);
                        c
                    })
                    .collect(),
                None => Vec::new(),
            }
        }
        Value::Number(n) => claim_from_text(&n.to_string(), None).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn at_of(obj: &Map<String, Value>) -> Option<f64> {
    AT_KEYS.iter().find_map(|k| match obj.get(*k)? {
        Value::String(s) => parse_clock(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    })
}

/// Cleans a claim's text: a time the model wrote inline (`[12:34]`, `(at 12:34)`) becomes its `at`
/// when it has none, and markdown emphasis goes.
fn claim_from_text(text: &str, at: Option<f64>) -> Option<Claim> {
    let mut at = at;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find(['[', '(']) {
        let close_char = if rest[open..].starts_with('[') {
            ']'
        } else {
            ')'
        };
        let Some(len) = rest[open..].find(close_char) else {
            break;
        };
        let inner = rest[open + 1..open + len]
            .trim()
            .trim_start_matches("at ")
            .trim();
        match parse_clock(inner).filter(|_| inner.contains(':')) {
            Some(t) => {
                at = at.or(Some(t));
                out.push_str(&rest[..open]);
            }
            None => out.push_str(&rest[..=open + len]),
        }
        rest = &rest[open + len + 1..];
    }
    out.push_str(rest);
    let cleaned: String = out.replace(['*', '`', '#'], "");
    let cleaned = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    // The prompt's format examples use `<placeholders>`; a model that copies one has said nothing.
    if cleaned.contains('<') && cleaned.contains('>')
        || cleaned.trim_matches(['.', '…', ' ']).is_empty()
    {
        return None;
    }
    let cleaned = cleaned
        .trim()
        .trim_start_matches(['-', '•'])
        .trim()
        .to_string();
    (!is_empty_text(&cleaned)).then(|| Claim::new(&cleaned, at))
}

fn answers(value: Option<&Value>, questions: &[String]) -> Vec<Answer> {
    let mut out = Vec::new();
    let mut push = |q: Option<usize>, claims_in: Vec<Claim>| {
        if let Some(q) = q.filter(|q| (1..=questions.len()).contains(q)) {
            for claim in claims_in {
                out.push(Answer { question: q, claim });
            }
        }
    };
    match value {
        Some(Value::Array(items)) => {
            for item in items {
                let Value::Object(obj) = item else { continue };
                let q = ["q", "question", "number", "id", "question_number"]
                    .iter()
                    .find_map(|k| obj.get(*k))
                    .and_then(|v| question_index(v, questions));
                let text = ["answer", "text", "value", "summary"]
                    .iter()
                    .find_map(|k| obj.get(*k));
                let at = at_of(obj);
                let found = text
                    .map(claims)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut c| {
                        c.at = c.at.or(at);
                        c
                    })
                    .collect();
                push(q, found);
            }
        }
        // One answer not in a list.
        Some(Value::Object(obj)) if obj.contains_key("answer") || obj.contains_key("q") => {
            return answers(
                Some(&Value::Array(vec![Value::Object(obj.clone())])),
                questions,
            );
        }
        // {"1": {...}, "2": "..."}
        Some(Value::Object(obj)) => {
            for (k, v) in obj {
                push(
                    question_index(&Value::String(k.clone()), questions),
                    claims(v),
                );
            }
        }
        _ => {}
    }
    out
}

/// A question reference: its number (1-based), "Q2", or (part of) its text.
fn question_index(v: &Value, questions: &[String]) -> Option<usize> {
    match v {
        Value::Number(n) => n.as_u64().map(|n| n as usize),
        Value::String(s) => {
            let t = s
                .trim()
                .trim_start_matches(['q', 'Q'])
                .trim_end_matches('.');
            if let Ok(n) = t.trim().parse::<usize>() {
                return Some(n);
            }
            let wanted = s.to_lowercase();
            questions
                .iter()
                .position(|q| {
                    let q = q.to_lowercase();
                    q.contains(&wanted) || wanted.contains(&q)
                })
                .map(|i| i + 1)
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn qs() -> Vec<String> {
        vec!["Tell me about a project.".into(), "Why this role?".into()]
    }

    #[test]
    fn reads_the_schema() {
        let d = parse_reply(
            r#"{"summary":"Good.","answers":[{"q":1,"answer":"Built X.","at":"01:02"},{"q":"2","answer":"not covered"}],
               "strengths":[{"text":"Clear","at":"00:10"}],"concerns":[],"compensation":{"text":"$150k","at":"10:00"},
               "projects":[{"text":"A"},{"text":"B","at":"1:00:00"}],"next_steps":["Onsite"]}"#,
            &qs(),
        )
        .unwrap();
        assert_eq!(d.summary, "Good.");
        assert_eq!(d.answers.len(), 1);
        assert_eq!(d.answers[0].claim.at, Some(62.0));
        assert_eq!(d.strengths[0].text, "Clear");
        assert_eq!(d.facts.len(), 3);
        assert_eq!(
            d.facts[0],
            (FactKind::Compensation, Claim::new("$150k", Some(600.0)))
        );
        assert_eq!(d.facts[2].1.at, Some(3600.0));
        assert_eq!(d.next_steps[0].text, "Onsite");
    }

    #[test]
    fn tolerates_fences_nesting_and_question_text() {
        let d = parse_reply(
            "Here you go:\n```json\n{\"facts\": {\"salary\": \"**120k** [03:04]\"}, \"answers\": {\"Why this role?\": \"Growth\"}}\n```",
            &qs(),
        )
        .unwrap();
        assert_eq!(
            d.facts,
            vec![(FactKind::Compensation, Claim::new("120k", Some(184.0)))]
        );
        assert_eq!(d.answers[0].question, 2);
        let d = parse_reply(
            r#"{"answers": {"q": 1, "answer": "Built X", "at": "01:45"}}"#,
            &qs(),
        )
        .unwrap();
        assert_eq!(d.answers[0].question, 1);
        assert_eq!(d.answers[0].claim, Claim::new("Built X", Some(105.0)));
    }

    #[test]
    fn repairs_a_reply_cut_off_by_the_token_limit() {
        let d = parse_reply(
            r#"{"summary":"S.","strengths":[{"text":"A","at":"00:01"},{"text":"B","at":"00:0"#,
            &qs(),
        )
        .unwrap();
        assert_eq!(d.summary, "S.");
        // The last complete member of the cut-off object is kept; its cut-off time is not.
        assert_eq!(
            d.strengths,
            vec![Claim::new("A", Some(1.0)), Claim::new("B", None)]
        );
    }

    #[test]
    fn an_empty_object_is_a_valid_empty_answer_and_placeholders_are_nothing() {
        assert_eq!(parse_reply("{}", &qs()).unwrap(), NotesDraft::default());
        let d = parse_reply(
            r#"{"experience": {"text": "<years and kind of experience>", "at": "<mm:ss>"}, "summary": "..."}"#,
            &qs(),
        )
        .unwrap();
        assert!(d.facts.is_empty() && d.summary.is_empty(), "{d:?}");
    }

    #[test]
    fn refuses_what_is_not_the_schema() {
        assert!(parse_reply("I cannot help with that.", &qs()).is_err());
        assert!(parse_reply("{\"foo\": 1}", &qs()).is_err());
        assert!(parse_reply("[1,2]", &qs()).is_err());
    }
}
