//! The protected-topic guard: remarks about age, family and pregnancy, marital status, religion,
//! national origin and ethnicity, disability and health, sexual orientation and gender identity,
//! genetic information and military service (subjects US equal-employment law protects) must
//! never reach a hiring decision, so they never reach the notes.
//!
//! It works twice. Before the model sees a chunk, every sentence that touches such a subject is
//! replaced by a placeholder, and so is the answer right after a protected question; so the model
//! cannot repeat what it never read, and grounding cannot find support for it. After the model
//! answers, every claim is checked again and dropped if it touches one. Both are counted.
//!
//! A lexicon of phrases rather than a classifier: it is predictable, reviewable, and errs on the
//! side of removing (a false positive costs one sentence of notes, a miss puts a protected remark
//! in front of a hiring committee).

use super::schema::NotesDraft;
use super::transcript::Turn;

/// What replaces a removed sentence in the text the model reads.
pub const PLACEHOLDER: &str = "[personal remark removed]";

/// The subjects, each with phrases matched on whole words (lower case; `*` ends a prefix match).
const LEXICON: &[(&str, &[&str])] = &[
    (
        "age",
        &[
            "years old",
            "year old",
            "yrs old",
            "how old",
            "my age",
            "your age",
            "his age",
            "her age",
            "at the age of",
            "too old",
            "too young",
            "retirement",
            "retire early",
            "until i retire",
            "before i retire",
            "date of birth",
            "birthday",
            "born in",
            "millennial*",
            "boomer*",
            "gen z",
            "generation x",
            "midlife",
        ],
    ),
    (
        "family or pregnancy",
        &[
            "pregnan*",
            "expecting a baby",
            "expecting a child",
            "maternity",
            "paternity",
            "parental leave",
            "kid",
            "my kid*",
            "our kid*",
            "your kid*",
            "kids",
            "children",
            "my child*",
            "our child*",
            "childcare",
            "child care",
            "daycare",
            "day care",
            "nanny",
            "baby",
            "babies",
            "newborn",
            "toddler",
            "start a family",
            "family plans",
            "have kids",
            "my son",
            "my daughter",
            "our son",
            "our daughter",
            "my family",
            "your family",
            "family situation",
            "family reasons",
            "stay-at-home",
            "stay at home mom",
            "stay at home dad",
            "school run",
            "my mom",
            "my dad",
            "my mother",
            "my father",
            "my parents",
            "caregiver",
            "elder care",
            "new mother",
            "new mom",
            "new father",
            "new dad",
            "new parent",
            "a mother",
            "a father",
            "a mom",
            "a dad",
            "a parent",
        ],
    ),
    (
        "marital status",
        &[
            "married",
            "marriage",
            "divorce*",
            "my wife",
            "my husband",
            "your wife",
            "your husband",
            "his wife",
            "her husband",
            "spouse",
            "fiance*",
            "fiancé*",
            "engaged to",
            "wedding",
            "honeymoon",
            "widow*",
            "single mom",
            "single mother",
            "single dad",
            "single father",
            "single parent",
            "boyfriend",
            "girlfriend",
        ],
    ),
    (
        "religion",
        &[
            "religio*",
            "church*",
            "mosque*",
            "synagogue*",
            "temple",
            "pray",
            "prayer*",
            "praying",
            "worship*",
            "bible",
            "quran",
            "koran",
            "torah",
            "i'm christian",
            "a christian",
            "christianity",
            "muslim*",
            "islam*",
            "jewish",
            "jew",
            "judaism",
            "hindu*",
            "buddhis*",
            "sikh*",
            "catholic*",
            "protestant*",
            "mormon*",
            "atheis*",
            "sabbath",
            "ramadan",
            "passover",
            "yom kippur",
            "diwali",
            "eid",
            "kosher",
            "halal",
            "pastor",
            "priest",
            "rabbi",
            "imam",
            "spiritual",
        ],
    ),
    (
        "national origin or ethnicity",
        &[
            "where are you from",
            "where you're from",
            "where you are from",
            "originally from",
            "born and raised",
            "grew up in",
            "native country",
            "home country",
            "my country",
            "your country",
            "nationalit*",
            "ethnic*",
            "racial",
            "heritage",
            "ancestry",
            "immigra*",
            "emigrat*",
            "native language",
            "native speaker",
            "mother tongue",
            "my accent",
            "your accent",
            "an accent",
            "citizenship",
            "citizen of",
            "my parents are from",
            "my family is from",
        ],
    ),
    (
        "disability or health",
        &[
            "disability",
            "disabilities",
            "disabled person",
            "i'm disabled",
            "i am disabled",
            "handicap*",
            "wheelchair",
            "diagnosed with",
            "diagnosis of",
            "my diagnosis",
            "illness",
            "fell ill",
            "was ill",
            "sick leave",
            "got sick",
            "was sick",
            "medical leave",
            "medical condition",
            "medical reasons",
            "medical history",
            "medication*",
            "surgery",
            "surgeries",
            "in the hospital",
            "in hospital",
            "therapy",
            "therapist",
            "chemo*",
            "cancer",
            "diabet*",
            "chronic illness",
            "chronic pain",
            "chronic condition",
            "my health",
            "health issue*",
            "health problem*",
            "health condition*",
            "health reasons",
            "mental health",
            "depression",
            "depressed",
            "anxiety",
            "adhd",
            "autis*",
            "asperger*",
            "dyslexi*",
            "bipolar",
            "ptsd",
            "injur*",
            "deaf",
            "visually impaired",
            "hearing impaired",
            "hearing aid",
            "doctor",
            "rehab",
        ],
    ),
    (
        "sexual orientation or gender identity",
        &[
            "gay",
            "lesbian",
            "bisexual",
            "queer",
            "transgender",
            "sexual orientation",
            "gender identity",
            "my pronouns",
            "lgbt*",
        ],
    ),
    (
        "genetic information",
        &[
            "genetic test*",
            "genetic condition",
            "genetic disorder",
            "family history",
            "runs in my family",
            "runs in the family",
            "hereditary",
        ],
    ),
    (
        "military or veteran status",
        &[
            "i'm a veteran",
            "i am a veteran",
            "military veteran",
            "veteran status",
            "military",
            "army",
            "navy",
            "air force",
            "marines",
            "national guard",
        ],
    ),
];

/// Counts of what the guard removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Transcript sentences withheld from the model.
    pub redacted_sentences: usize,
    /// Claims dropped from the model's output.
    pub dropped_claims: usize,
    /// Which subjects were seen (no text is kept).
    pub subjects: Vec<&'static str>,
}

impl GuardStats {
    pub fn total(&self) -> usize {
        self.redacted_sentences + self.dropped_claims
    }

    pub fn add(&mut self, other: &GuardStats) {
        self.redacted_sentences += other.redacted_sentences;
        self.dropped_claims += other.dropped_claims;
        for s in &other.subjects {
            self.note(s);
        }
    }

    fn note(&mut self, subject: &'static str) {
        if !self.subjects.contains(&subject) {
            self.subjects.push(subject);
        }
    }
}

/// The protected subject a text touches, if any.
pub fn protected_subject(text: &str) -> Option<&'static str> {
    let words = normalise(text);
    LEXICON.iter().find_map(|(subject, phrases)| {
        phrases
            .iter()
            .any(|p| contains_phrase(&words, p))
            .then_some(*subject)
    })
}

/// Lower-case words, with apostrophes kept (`i'm`) and other punctuation dropped.
fn normalise(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('\'').to_string())
        .collect()
}

fn contains_phrase(words: &[String], phrase: &str) -> bool {
    let parts: Vec<&str> = phrase.split_whitespace().collect();
    if parts.is_empty() || parts.len() > words.len() {
        return false;
    }
    words.windows(parts.len()).any(|w| {
        w.iter()
            .zip(&parts)
            .all(|(word, part)| match part.strip_suffix('*') {
                Some(prefix) => word.starts_with(prefix),
                None => word == part,
            })
    })
}

/// Splits text into sentences, keeping their end punctuation.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in bytes.iter().enumerate() {
        if matches!(c, '.' | '!' | '?') {
            let next = bytes.get(k + 1).map(|&(_, n)| n);
            if next.is_none_or(char::is_whitespace) {
                let end = i + c.len_utf8();
                let s = text[start..end].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = end;
            }
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Withholds protected remarks from the turns the model will read. A protected question also
/// withholds the first sentence of the next speaker's answer (`How old are you?` / `Forty-two.`),
/// which rarely names the subject itself.
pub fn redact_turns(turns: &mut [Turn]) -> GuardStats {
    Redactor::default().redact(turns)
}

/// `redact_turns` for a transcript that arrives in batches: remembers a protected question at the
/// end of one batch for the answer at the start of the next.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// The speaker whose last sentence was a protected question.
    asker: Option<String>,
}

impl Redactor {
    pub fn redact(&mut self, turns: &mut [Turn]) -> GuardStats {
        let mut stats = GuardStats::default();
        for turn in turns.iter_mut() {
            let pending = self.asker.take();
            let follows = pending.as_ref().is_some_and(|asker| *asker != turn.speaker);
            if !follows {
                // The asker is still talking: keep waiting for the other side's answer.
                self.asker = pending;
            }
            let mut kept: Vec<String> = Vec::new();
            let mut removed_any = false;
            for (k, s) in sentences(&turn.text).iter().enumerate() {
                let subject = protected_subject(s);
                // The first sentence of a reply to a protected question goes too.
                let in_reply = follows && k == 0;
                if subject.is_some() || in_reply {
                    if let Some(subject) = subject {
                        stats.note(subject);
                    }
                    stats.redacted_sentences += 1;
                    if kept.last().map(String::as_str) != Some(PLACEHOLDER) {
                        kept.push(PLACEHOLDER.to_string());
                    }
                    removed_any = true;
                    if subject.is_some() && s.trim_end().ends_with('?') {
                        self.asker = Some(turn.speaker.clone());
                    }
                } else {
                    kept.push((*s).to_string());
                }
            }
            if removed_any {
                turn.text = kept.join(" ");
            }
        }
        stats
    }
}

/// Drops the claims of `draft` that touch a protected subject; the summary loses such sentences.
pub fn filter_draft(draft: &mut NotesDraft) -> GuardStats {
    let mut stats = GuardStats::default();
    let dropped = draft.retain_claims(|c| match protected_subject(&c.text) {
        Some(subject) => {
            stats.note(subject);
            false
        }
        None => !c.text.contains(PLACEHOLDER),
    });
    stats.dropped_claims = dropped;
    let parts = sentences(&draft.summary);
    let kept: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|s| {
            let hit = protected_subject(s);
            if let Some(subject) = hit {
                stats.note(subject);
                stats.dropped_claims += 1;
            }
            hit.is_none() && !s.contains(PLACEHOLDER)
        })
        .collect();
    draft.summary = kept.join(" ");
    stats
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::notes::schema::{Claim, FactKind};
    use crate::notes::transcript::Role;

    #[test]
    fn recognises_each_subject_and_not_ordinary_work_talk() {
        for (text, subject) in [
            ("I'm 38 years old, so still plenty of runway.", "age"),
            (
                "My wife and I just had our second kid.",
                "family or pregnancy",
            ),
            ("I'm pregnant, due in June.", "family or pregnancy"),
            ("We go to church every Sunday.", "religion"),
            (
                "I'm originally from Taiwan.",
                "national origin or ethnicity",
            ),
            (
                "I was diagnosed with ADHD a few years ago.",
                "disability or health",
            ),
            ("I recently got divorced.", "marital status"),
        ] {
            assert_eq!(protected_subject(text), Some(subject), "{text}");
        }
        for text in [
            "I led the migration of our family of services to Kubernetes.",
            "The payments incident took 45 minutes to resolve.",
            "I have seven years of backend experience in Go.",
            "Our team adopted a blameless postmortem culture.",
        ] {
            assert_eq!(protected_subject(text), None, "{text}");
        }
    }

    #[test]
    fn redacts_sentences_and_the_reply_to_a_protected_question() {
        let mut turns = vec![
            Turn::new(
                0.0,
                "Tom",
                Some(Role::Interviewer),
                "Great answer. How old are you, by the way?",
            ),
            Turn::new(
                5.0,
                "Maya",
                Some(Role::Candidate),
                "Thirty-eight. Anyway, the pipeline handled 40 million events.",
            ),
            Turn::new(
                9.0,
                "Maya",
                Some(Role::Candidate),
                "My wife is expecting. I can start in four weeks.",
            ),
        ];
        let stats = redact_turns(&mut turns);
        assert_eq!(turns[0].text, format!("Great answer. {PLACEHOLDER}"));
        assert_eq!(
            turns[1].text,
            format!("{PLACEHOLDER} Anyway, the pipeline handled 40 million events.")
        );
        assert_eq!(
            turns[2].text,
            format!("{PLACEHOLDER} I can start in four weeks.")
        );
        assert_eq!(stats.redacted_sentences, 3);
        assert!(stats.subjects.contains(&"age"));
    }

    #[test]
    fn drops_claims_and_summary_sentences() {
        let mut d = NotesDraft {
            summary: "Strong backend engineer. Mentioned being a new mother.".into(),
            strengths: vec![Claim::new("Deep Kafka knowledge", None)],
            concerns: vec![Claim::new("May need time off for surgery", None)],
            facts: vec![(FactKind::Location, Claim::new("Grew up in Taiwan", None))],
            ..Default::default()
        };
        let stats = filter_draft(&mut d);
        assert_eq!(d.summary, "Strong backend engineer.");
        assert_eq!(d.strengths.len(), 1);
        assert!(d.concerns.is_empty() && d.facts.is_empty());
        assert_eq!(stats.dropped_claims, 3);
    }
}
