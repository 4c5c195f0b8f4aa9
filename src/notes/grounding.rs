//! Grounding: every number, date, money amount and proper name in the notes must be found in the
//! transcript where the claim says it comes from. A small model misstates some of these in every
//! run (shared/llm/MODELS.md), so the check is code, not another prompt.
//!
//! For each claim the checkable tokens are extracted: numbers (digits or words, `150k`, `$1.5M`,
//! `four weeks`, `2019`, `3rd`), currencies, and capitalised words (names, companies, months,
//! weekdays, technologies). The claim is kept only if one window of five consecutive turns
//! around its time holds them all; its time is then moved to the turn that says them. A claim
//! with nothing checkable is kept at the turn its time names, or at the turn it shares the most
//! words with. Everything else is dropped and counted.

use std::collections::HashSet;

use super::schema::{Claim, FactKind, NotesDraft};
use super::transcript::{Role, Turn};

/// How far (seconds) a claim's time may be from the turn that supports it before the claim is
/// searched for in the rest of the chunk.
const NEAR_SECS: f64 = 90.0;
/// A claim with nothing checkable is anchored on a turn this close to its time.
const SNAP_SECS: f64 = 5.0;
/// Turns on each side of the anchor that may hold a claim's facts: a question, its answer, and
/// the follow-up ("from 2 million ... to forty million" spans a few turns).
const WINDOW: usize = 2;

/// What grounding did, for the note's footer and the logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroundingStats {
    pub checked: usize,
    /// Claims dropped because the transcript does not support them.
    pub unsupported: usize,
    /// Claims kept with a corrected time.
    pub reanchored: usize,
    /// The first few dropped claims, for logs and tests.
    pub dropped: Vec<String>,
}

impl GroundingStats {
    pub fn add(&mut self, other: &GroundingStats) {
        self.checked += other.checked;
        self.unsupported += other.unsupported;
        self.reanchored += other.reanchored;
        for d in &other.dropped {
            if self.dropped.len() < 20 {
                self.dropped.push(d.clone());
            }
        }
    }
}

/// Checks every claim of `draft` against `turns` (the chunk it was written from, plus context).
/// `participants` are the speakers' names, which count as present everywhere.
pub fn ground(draft: &mut NotesDraft, turns: &[Turn], participants: &[String]) -> GroundingStats {
    ground_with_questions(draft, turns, participants, &[])
}

/// `ground`, also checking that each kit answer follows its question: an interviewer turn that
/// shares words with the kit question, at most `ASKED_SECS` before the answer.
pub fn ground_with_questions(
    draft: &mut NotesDraft,
    turns: &[Turn],
    participants: &[String],
    questions: &[String],
) -> GroundingStats {
    let index: Vec<TurnFacts> = turns.iter().map(TurnFacts::new).collect();
    let people: HashSet<String> = participants
        .iter()
        .flat_map(|p| words(p))
        .map(|w| w.to_lowercase())
        .collect();
    let corpus = Corpus::new(turns);
    let mut stats = GroundingStats::default();
    let checker = Checker {
        turns,
        index: &index,
        people: &people,
        corpus: &corpus,
    };
    let check = |claim: &mut Claim, source: Source, stats: &mut GroundingStats| {
        stats.checked += 1;
        match checker.support(claim, source) {
            Some(at) => {
                if claim.at.is_none_or(|old| (old - at).abs() >= 1.0) {
                    stats.reanchored += 1;
                }
                claim.at = Some(at);
                true
            }
            None => {
                if stats.dropped.len() < 20 {
                    stats.dropped.push(claim.text.clone());
                }
                stats.unsupported += 1;
                false
            }
        }
    };
    // What the candidate said, the facts about them, and what the model judged from it must rest on
    // the candidate's own words (numbers and names may come from the question before); next steps
    // may come from either side (the interviewer names the next round).
    draft.answers.retain_mut(|a| {
        let asked = questions
            .get(a.question.wrapping_sub(1))
            .is_none_or(|q| checker.was_asked(q, a.claim.at));
        if !asked {
            stats.checked += 1;
            stats.unsupported += 1;
            if stats.dropped.len() < 20 {
                stats.dropped.push(a.claim.text.clone());
            }
            return false;
        }
        // An answer is the candidate's words, not the question's: the question's own words do not
        // count as support ("I approach mentoring junior engineers by..." after a question about
        // mentoring that the candidate never answered).
        if let Some(q) = questions.get(a.question.wrapping_sub(1)) {
            let asked = content_stems(q);
            let rest: Vec<&str> = a
                .claim
                .text
                .split_whitespace()
                .filter(|w| {
                    let stems = content_stems(w);
                    stems.is_empty() || !stems.is_subset(&asked)
                })
                .collect();
            if !checker.said_near(&content_stems(&rest.join(" ")), a.claim.at) {
                stats.checked += 1;
                stats.unsupported += 1;
                if stats.dropped.len() < 20 {
                    stats.dropped.push(a.claim.text.clone());
                }
                return false;
            }
        }
        check(&mut a.claim, Source::Candidate, &mut stats)
    });
    // A judgement must rest on a good part of what the candidate said around it; one shared word
    // with a nearby turn is the model's own text (or an unanswered question turned into praise).
    let judged = |c: &mut Claim, stats: &mut GroundingStats| {
        // First anchored to the turn that supports it, then checked around that turn.
        if !check(c, Source::Candidate, stats) {
            return false;
        }
        if !checker.said_near_share(&content_stems(&c.text), c.at, RELATED_PERCENT) {
            stats.unsupported += 1;
            if stats.dropped.len() < 20 {
                stats.dropped.push(c.text.clone());
            }
            return false;
        }
        true
    };
    draft.strengths.retain_mut(|c| judged(c, &mut stats));
    draft.concerns.retain_mut(|c| judged(c, &mut stats));
    draft.facts.retain_mut(|(kind, c)| {
        if !check(c, Source::Candidate, &mut stats) {
            // "Denver, Colorado" when only Denver was said: keep the part the transcript has.
            let Some((head, _)) = c.text.split_once(", ") else {
                return false;
            };
            let mut part = Claim::new(head, c.at);
            if checker.support(&part, Source::Candidate).is_none() {
                return false;
            }
            stats.unsupported -= 1;
            if stats.dropped.last() == Some(&c.text) {
                stats.dropped.pop();
            }
            part.at = checker.support(&part, Source::Candidate);
            *c = part;
        }
        // "Two weeks" said about a migration is not a notice period: the talk around a fact must
        // be about that kind of fact.
        let on_topic = checker.on_topic(*kind, c.at);
        if !on_topic {
            stats.unsupported += 1;
            if stats.dropped.len() < 20 {
                stats.dropped.push(c.text.clone());
            }
        }
        on_topic
    });
    draft
        .next_steps
        .retain_mut(|c| check(c, Source::Anyone, &mut stats));
    stats
}

/// Words and phrases (matched at word starts) that show talk about a kind of fact.
fn fact_cues(kind: FactKind) -> &'static [&'static str] {
    match kind {
        FactKind::Experience => &[
            "year",
            "experience",
            "career",
            "background",
            "worked",
            "working",
            "been a",
            "since",
            "senior",
            "engineer",
            "developer",
        ],
        FactKind::Projects => &[
            "project",
            "built",
            "build",
            "design",
            "led ",
            "lead",
            "system",
            "pipeline",
            "migrat",
            "service",
            "platform",
            "launch",
            "shipped",
            "wrote",
            "implement",
            "tool",
        ],
        FactKind::Compensation => &[
            "salary",
            "pay",
            "compensation",
            "base",
            "equity",
            "bonus",
            "expect",
            "money",
            "$",
            "dollar",
            "euro",
            "pound",
            "thousand",
            "package",
            "band",
            "range",
            "total",
        ],
        FactKind::NoticePeriod => &[
            "notice",
            "resign",
            "quit",
            "leave my",
            "leaving",
            "current employer",
            "contract",
            "finish",
        ],
        FactKind::StartDate => &[
            "could start",
            "can start",
            "start on",
            "start in",
            "start date",
            "starting date",
            "start from",
            "available from",
            "availability",
            "join ",
            "joining",
            "notice",
        ],
        FactKind::Location => &[
            "live",
            "living",
            "based",
            "located",
            "relocat",
            "remote",
            "office",
            "hybrid",
            "onsite",
            "on-site",
            "commut",
            "move to",
            "moving to",
            "from home",
        ],
        FactKind::CompetingOffers => &[
            "offer",
            "other compan",
            "interviewing",
            "deadline",
            "talking to",
            "competing",
            "elsewhere",
            "process with",
        ],
    }
}

/// Whose turns may support a claim's wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Candidate,
    Anyone,
}

/// Share of a claim's content words (percent) the candidate must have said around it.
const RELATED_PERCENT: usize = 30;
/// Share of a kit answer's own words (the question's aside) the candidate must have said nearby.
const ANSWER_PERCENT: usize = 40;

/// How far before its answer (seconds) a kit question may have been asked.
const ASKED_SECS: f64 = 600.0;

/// What one turn offers as support.
struct TurnFacts {
    numbers: Vec<f64>,
    /// Numbers with the time unit they count ("seven years" = (7, "year")).
    timed: Vec<(f64, &'static str)>,
    words: HashSet<String>,
    /// The words as written, for short names.
    original: HashSet<String>,
    /// The words in order, for acronyms (`MTTR` = "mean time to recovery").
    sequence: Vec<String>,
    stems: HashSet<String>,
    currencies: HashSet<Currency>,
}

impl TurnFacts {
    fn new(turn: &Turn) -> TurnFacts {
        let text = format!("{} {}", turn.speaker, turn.text);
        let toks = tokens(&text);
        let sequence: Vec<String> = toks.iter().map(|t| t.to_lowercase()).collect();
        TurnFacts {
            numbers: numbers(&toks, true),
            timed: timed_numbers(&toks, true),
            words: sequence.iter().cloned().collect(),
            original: toks.iter().cloned().collect(),
            sequence,
            stems: content_stems(&text),
            currencies: currencies(&text),
        }
    }

    /// Whether the turn names `name`: the word itself (any case), or, for an acronym, words
    /// whose initials spell it.
    fn mentions(&self, name: &str) -> bool {
        let lower = name.to_lowercase();
        let is_acronym =
            (2..=6).contains(&name.len()) && name.chars().all(|c| c.is_ascii_uppercase());
        // One or two letters ("A", "Go") match only as written: "company A" is not "a".
        let found = if name.chars().count() <= 2 {
            self.original.contains(name)
        } else {
            self.words.contains(&lower)
        };
        found
            || is_acronym
                && self
                    .sequence
                    .windows(name.len())
                    .any(|run| run.iter().zip(lower.chars()).all(|(w, c)| w.starts_with(c)))
    }
}

struct Checker<'a> {
    turns: &'a [Turn],
    index: &'a [TurnFacts],
    people: &'a HashSet<String>,
    corpus: &'a Corpus,
}

impl Checker<'_> {
    /// Whether an interviewer turn at most `ASKED_SECS` before `at` (or anywhere, without a time)
    /// shares words with `question`.
    fn was_asked(&self, question: &str, at: Option<f64>) -> bool {
        let stems = content_stems(question);
        let needed = stems.len().min(2);
        self.turns.iter().zip(self.index).any(|(t, f)| {
            t.role != Some(Role::Candidate)
                && at.is_none_or(|at| t.start <= at + SNAP_SECS && at - t.start <= ASKED_SECS)
                && f.stems.intersection(&stems).count() >= needed
        })
    }

    /// Whether the candidate, within `NEAR_SECS` of `at`, said a good part (`ANSWER_PERCENT`, at
    /// least two) of these words.
    fn said_near(&self, stems: &HashSet<String>, at: Option<f64>) -> bool {
        self.said_near_share(stems, at, ANSWER_PERCENT)
    }

    /// `said_near` with the share given: `percent` of the words, at least two.
    fn said_near_share(&self, stems: &HashSet<String>, at: Option<f64>, percent: usize) -> bool {
        if stems.is_empty() {
            return false;
        }
        let said: HashSet<&String> = self
            .turns
            .iter()
            .zip(self.index)
            .filter(|(t, _)| t.role == Some(Role::Candidate))
            .filter(|(t, _)| at.is_none_or(|at| (t.start - at).abs() <= NEAR_SECS))
            .flat_map(|(_, f)| f.stems.intersection(stems))
            .collect();
        let needed = (stems.len() * percent)
            .div_ceil(100)
            .max(2.min(stems.len()));
        said.len() >= needed
    }

    /// Whether the turns around `at` talk about `kind` at all (a word starting with one of its
    /// cues).
    fn on_topic(&self, kind: FactKind, at: Option<f64>) -> bool {
        let Some(at) = at else { return false };
        let Some(i) = self.turns.iter().position(|t| (t.start - at).abs() < 1.0) else {
            return false;
        };
        let w = i.saturating_sub(WINDOW)..(i + WINDOW + 1).min(self.turns.len());
        let cues = fact_cues(kind);
        w.into_iter().any(|j| {
            let text = format!(" {} ", self.index[j].sequence.join(" "));
            cues.iter().any(|c| text.contains(&format!(" {c}")))
        })
    }

    /// The time of the turn that supports `claim`, or `None`.
    fn support(&self, claim: &Claim, source: Source) -> Option<f64> {
        let (turns, index) = (self.turns, self.index);
        if turns.is_empty() {
            return None;
        }
        let toks = tokens(&claim.text);
        let nums = numbers(&toks, false);
        let timed = timed_numbers(&toks, false);
        let names: Vec<String> = names(&claim.text, self.corpus)
            .into_iter()
            .filter(|n| !self.people.contains(&n.to_lowercase()))
            .collect();
        let money = currencies(&claim.text);
        let stems = content_stems(&claim.text);
        let speaks = |j: usize| source == Source::Anyone || turns[j].role == Some(Role::Candidate);
        // The words of the claim must be about what was said around it (this catches examples
        // copied from the prompt and generic praise).
        // For the candidate's words, a good part of the claim's words must be theirs (a claim
        // sharing one word with them is the model's own text).
        let related = |w: std::ops::Range<usize>| {
            if stems.is_empty() {
                return true;
            }
            let said: HashSet<&String> = w
                .clone()
                .filter(|&j| speaks(j))
                .flat_map(|j| index[j].stems.intersection(&stems))
                .collect();
            let needed = match source {
                Source::Anyone => 1,
                Source::Candidate => (stems.len() * RELATED_PERCENT).div_ceil(100).max(1),
            };
            said.len() >= needed
        };

        // Turns to try, nearest to the claimed time first; without a time, in order.
        let mut order: Vec<usize> = (0..turns.len()).collect();
        if let Some(at) = claim.at {
            order.sort_by(|&a, &b| {
                (turns[a].start - at)
                    .abs()
                    .total_cmp(&(turns[b].start - at).abs())
            });
        }
        let window = |i: usize| i.saturating_sub(WINDOW)..(i + WINDOW + 1).min(turns.len());

        if nums.is_empty() && names.is_empty() {
            // Nothing checkable: the turn the time names if the talk around it shares a word with
            // the claim, else the nearby turn it shares most words with.
            if let Some(at) = claim.at {
                let nearest = order[0];
                if (turns[nearest].start - at).abs() <= SNAP_SECS
                    && !stems.is_empty()
                    && related(window(nearest))
                {
                    return Some(turns[nearest].start);
                }
            }
            let best = order
                .iter()
                .copied()
                .filter(|&i| speaks(i))
                .filter(|&i| {
                    claim
                        .at
                        .is_none_or(|at| (turns[i].start - at).abs() <= NEAR_SECS)
                })
                .map(|i| (i, index[i].stems.intersection(&stems).count()))
                .max_by_key(|&(i, score)| (score, usize::MAX - i));
            let needed = if claim.at.is_some() { 1 } else { 2 };
            return best
                .filter(|&(_, score)| score >= needed)
                .map(|(i, _)| turns[i].start);
        }

        for &i in &order {
            let w = window(i);
            let all_numbers = nums.iter().all(|n| {
                w.clone()
                    .any(|j| index[j].numbers.iter().any(|m| same(*m, *n)))
            }) && timed.iter().all(|(n, unit)| {
                // "Two years" needs two years, not "two tools" next to "years".
                w.clone().any(|j| {
                    index[j]
                        .timed
                        .iter()
                        .any(|(m, u)| u == unit && same(*m, *n))
                })
            });
            // A name may come from anywhere the same side said it (the candidate's employer,
            // named once at the start, is still their employer later); numbers may not.
            let all_names = names.iter().all(|name| {
                w.clone().any(|j| index[j].mentions(name))
                    || (0..turns.len()).any(|j| speaks(j) && index[j].mentions(name))
            });
            let money_ok = money.is_empty() || {
                let seen: HashSet<Currency> = w
                    .clone()
                    .flat_map(|j| index[j].currencies.clone())
                    .collect();
                seen.is_empty() || money.iter().any(|c| seen.contains(c))
            };
            if all_numbers && all_names && money_ok && related(w.clone()) {
                // The turn of the window that says the most of it is where the claim comes from.
                let best = w
                    .clone()
                    .max_by_key(|&j| {
                        let n = nums
                            .iter()
                            .filter(|n| index[j].numbers.iter().any(|m| same(*m, **n)))
                            .count();
                        let m = names.iter().filter(|name| index[j].mentions(name)).count();
                        (n + m, usize::from(j == i))
                    })
                    .unwrap_or(i);
                return Some(turns[best].start);
            }
        }
        None
    }
}

/// How the transcript uses words: which it writes in lower case (ordinary words) and which it
/// capitalises inside a sentence (names).
#[derive(Debug, Default)]
struct Corpus {
    lowercase: HashSet<String>,
    proper: HashSet<String>,
}

impl Corpus {
    fn new(turns: &[Turn]) -> Corpus {
        let mut c = Corpus::default();
        for t in turns {
            for sentence in split_sentences(&t.text) {
                for (k, w) in tokens(sentence).into_iter().enumerate() {
                    match w.chars().next() {
                        Some(ch) if ch.is_lowercase() => {
                            c.lowercase.insert(w);
                        }
                        Some(ch) if ch.is_uppercase() && k > 0 && w != "I" => {
                            c.proper.insert(w);
                        }
                        _ => {}
                    }
                }
            }
        }
        c
    }
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6 * a.abs().max(1.0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Currency {
    Dollar,
    Euro,
    Pound,
}

fn currencies(text: &str) -> HashSet<Currency> {
    let t = text.to_lowercase();
    let mut out = HashSet::new();
    if t.contains('$') || t.contains("dollar") || t.contains("usd") {
        out.insert(Currency::Dollar);
    }
    if t.contains('€') || t.contains("euro") || t.contains("eur ") {
        out.insert(Currency::Euro);
    }
    if t.contains('£') || t.contains("pound") || t.contains("gbp") {
        out.insert(Currency::Pound);
    }
    out
}

/// Words with their inner punctuation (`$150,000`, `1.5M`, `O'Neil`, `Node.js`), outer punctuation
/// trimmed.
fn tokens(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == '/' || c == '–' || c == '—')
        .map(|w| {
            w.trim_matches(|c: char| {
                !(c.is_alphanumeric() || c == '$' || c == '€' || c == '£' || c == '%' || c == '+')
            })
        })
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.strip_suffix("'s")
                .or(w.strip_suffix("’s"))
                .unwrap_or(w)
                .to_string()
        })
        .collect()
}

fn words(text: &str) -> Vec<String> {
    tokens(text)
}

const UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const ORDINALS: [&str; 20] = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
];

fn word_value(w: &str) -> Option<f64> {
    let w = w.to_lowercase();
    if let Some(i) = UNITS.iter().position(|u| *u == w) {
        return Some(i as f64);
    }
    if let Some(i) = TENS.iter().position(|u| !u.is_empty() && *u == w) {
        return Some(i as f64 * 10.0);
    }
    if let Some(i) = ORDINALS.iter().position(|u| *u == w) {
        return Some(i as f64);
    }
    match w.as_str() {
        "twentieth" => Some(20.0),
        "thirtieth" => Some(30.0),
        "dozen" => Some(12.0),
        _ => {
            // "twenty-five", "thirty-first"
            let (a, b) = w.split_once('-')?;
            let tens = TENS.iter().position(|u| !u.is_empty() && *u == a)? as f64 * 10.0;
            let unit = UNITS
                .iter()
                .position(|u| *u == b)
                .or_else(|| ORDINALS.iter().position(|u| *u == b))? as f64;
            (unit < 10.0).then_some(tens + unit)
        }
    }
}

fn scale_of(w: &str) -> Option<f64> {
    match w.to_lowercase().as_str() {
        "hundred" => Some(100.0),
        "thousand" | "k" | "grand" => Some(1_000.0),
        "million" | "millions" | "m" | "mm" => Some(1_000_000.0),
        "billion" | "b" | "bn" => Some(1_000_000_000.0),
        _ => None,
    }
}

/// A number written with digits, with an optional suffix (`150k`, `1.5M`, `3rd`, `10%`).
fn digit_value(tok: &str) -> Vec<f64> {
    let t = tok
        .trim_start_matches(['$', '€', '£'])
        .trim_end_matches(['%', '+']);
    // Ranges and dates written with a hyphen: "3-4", "2024-05-01".
    if t.contains('-') && !t.starts_with('-') {
        return t.split('-').flat_map(digit_value).collect();
    }
    // Times of day: "9:30".
    if t.contains(':') {
        return t.split(':').flat_map(digit_value).collect();
    }
    let lower = t.to_lowercase();
    let (num, mult) = match lower.find(|c: char| c.is_alphabetic()) {
        Some(i) => {
            let (n, suffix) = lower.split_at(i);
            let mult = match suffix {
                "k" => 1_000.0,
                "m" | "mm" => 1_000_000.0,
                "b" | "bn" => 1_000_000_000.0,
                "st" | "nd" | "rd" | "th" | "s" | "x" | "h" | "pm" | "am" | "yrs" | "y" => 1.0,
                _ => return Vec::new(),
            };
            (n.to_string(), mult)
        }
        None => (lower, 1.0),
    };
    match num.replace(',', "").parse::<f64>() {
        Ok(v) => vec![v * mult],
        Err(_) => Vec::new(),
    }
}

/// The numeric values in a token stream. `lenient` (the transcript side) also records a bare
/// number scaled by a multiplier a few words on ("140 to 160 thousand"), so the claim "$140k"
/// finds it.
fn numbers(toks: &[String], lenient: bool) -> Vec<f64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        let lower = tok.to_lowercase();
        // Claims: "one" and "first" are mostly not numbers ("one of the", "first project").
        let next_is_number = toks
            .get(i + 1)
            .is_some_and(|n| scale_of(n).is_some() || word_value(n).is_some());
        let skip_word =
            !lenient && matches!(lower.as_str(), "one" | "first" | "second") && !next_is_number;
        let mut value: Option<f64> = None;
        let mut consumed = 1;
        if tok.chars().any(|c| c.is_ascii_digit()) {
            let vals = digit_value(tok);
            if vals.len() == 1 {
                value = vals.first().copied();
            } else {
                out.extend(vals);
            }
        } else if !skip_word && (word_value(&lower).is_some() || lower == "a" || lower == "an") {
            // A run of number words: "one hundred and fifty thousand", "a hundred", "twenty five".
            let mut total = 0.0;
            let mut current = 0.0;
            let mut any = false;
            let mut j = i;
            while j < toks.len() {
                let w = toks[j].to_lowercase();
                if let Some(v) = word_value(&w) {
                    current += v;
                    any = true;
                } else if (w == "a" || w == "an")
                    && j + 1 < toks.len()
                    && scale_of(&toks[j + 1]).is_some()
                {
                    current += 1.0;
                } else if let Some(s) = scale_of(&w).filter(|_| w.len() > 1) {
                    if current == 0.0 {
                        current = 1.0;
                    }
                    if s == 100.0 {
                        current *= s;
                    } else {
                        total += current * s;
                        current = 0.0;
                    }
                    any = true;
                } else if w == "and"
                    && any
                    && j + 1 < toks.len()
                    && word_value(&toks[j + 1]).is_some()
                {
                    // "a hundred and fifty"
                } else {
                    break;
                }
                j += 1;
            }
            if any {
                value = Some(total + current);
                consumed = (j - i).max(1);
            }
        }
        if let Some(mut v) = value {
            // "150 thousand", "1.5 million"
            if let Some(s) = toks.get(i + consumed).and_then(|w| scale_of(w)) {
                if toks[i + consumed].len() > 1 || tok.chars().any(|c| c.is_ascii_digit()) {
                    v *= s;
                    consumed += 1;
                }
            }
            out.push(v);
            if lenient && v < 1000.0 {
                out.push(v);
                for w in toks.iter().skip(i + consumed).take(4) {
                    if let Some(s) = scale_of(w).filter(|s| *s >= 1000.0) {
                        out.push(v * s);
                        break;
                    }
                    let scaled: Vec<f64> = digit_value(w);
                    if w.to_lowercase().ends_with('k') && !scaled.is_empty() {
                        out.push(v * 1000.0);
                        break;
                    }
                }
            }
        }
        i += consumed;
    }
    out
}

/// The time unit a word names, if any.
fn time_unit(word: &str) -> Option<&'static str> {
    let w = word.to_lowercase();
    Some(match w.as_str() {
        "year" | "years" | "yrs" | "yr" => "year",
        "month" | "months" => "month",
        "week" | "weeks" => "week",
        "day" | "days" => "day",
        "hour" | "hours" | "hrs" => "hour",
        "minute" | "minutes" | "mins" | "min" => "minute",
        "second" | "seconds" | "secs" => "second",
        "quarter" | "quarters" => "quarter",
        _ => return None,
    })
}

/// Numbers counted in a time unit: a number right before a unit word, or with one of a few
/// qualifiers between ("two straight weeks"). "A day" after a number is a rate ("40 million events
/// a day"), not a duration, and is left out.
fn timed_numbers(toks: &[String], lenient: bool) -> Vec<(f64, &'static str)> {
    const QUALIFIERS: [&str; 9] = [
        "full", "straight", "more", "whole", "long", "calendar", "working", "business", "plus",
    ];
    let mut out = Vec::new();
    for (k, tok) in toks.iter().enumerate() {
        let Some(unit) = time_unit(tok) else { continue };
        let mut at = k;
        while at > 0 && QUALIFIERS.contains(&toks[at - 1].to_lowercase().as_str()) {
            at -= 1;
        }
        if at == 0 {
            continue;
        }
        let before = toks[at - 1].to_lowercase();
        if matches!(before.as_str(), "a" | "an" | "per" | "each" | "every") {
            continue;
        }
        // The number may be several words ("twenty-five", "one hundred"): parse what ends here.
        let from = at.saturating_sub(4);
        if let Some(v) = numbers(&toks[from..at], lenient).last() {
            let last_is_number = word_value(&before).is_some()
                || before.chars().any(|c| c.is_ascii_digit())
                || scale_of(&before).is_some();
            if last_is_number {
                out.push((*v, unit));
            }
        }
    }
    out
}

/// Capitalised words that name something: every one inside a sentence; a sentence's first word
/// when the transcript uses it as a name, when it is shaped like one (`AWS`, `GraphQL`), or when
/// it is not an ordinary word (`Strong`, `Worked`, `Admits`: on the common list, with a common
/// suffix, or written in lower case somewhere in the transcript).
fn names(text: &str, corpus: &Corpus) -> Vec<String> {
    let mut out = Vec::new();
    let mut sentence_start = true;
    for raw in text.split_whitespace() {
        let ends_sentence = raw.ends_with(['.', '!', '?', ';', ':']) && !raw.contains("..");
        let toks = tokens(raw);
        for (k, tok) in toks.iter().enumerate() {
            let first_char = tok.chars().next();
            let capitalised = first_char.is_some_and(char::is_uppercase);
            let at_start = sentence_start && k == 0;
            if capitalised && !tok.chars().all(|c| c.is_ascii_digit()) && tok != "I" {
                let lower = tok.to_lowercase();
                let is_name = !at_start
                    || corpus.proper.contains(tok.as_str())
                    || looks_like_name(tok)
                    || !(ordinary(&lower) || corpus.lowercase.contains(&lower));
                if is_name {
                    out.push(tok.clone());
                }
            }
        }
        sentence_start = ends_sentence;
    }
    out
}

/// All-caps acronyms and CamelCase words are names even at the start of a sentence.
fn looks_like_name(tok: &str) -> bool {
    let upper = tok.chars().filter(|c| c.is_uppercase()).count();
    upper >= 2
}

/// Ordinary words that start claims; anything with a common English suffix counts too.
fn ordinary(lower: &str) -> bool {
    const SUFFIXES: [&str; 14] = [
        "ed", "ing", "ly", "es", "ive", "ful", "ous", "able", "ible", "ment", "tion", "ness",
        "ity", "ent",
    ];
    COMMON.contains(&lower)
        || (lower.len() > 4 && SUFFIXES.iter().any(|s| lower.ends_with(s)))
        // Verbs and plurals: "Admits", "Prefers", "Projects". A name ending in s is still caught
        // when the transcript uses it as a name.
        || (lower.len() > 3 && lower.ends_with('s') && !lower.ends_with("ss"))
}

const COMMON: &[&str] = &[
    "a",
    "an",
    "the",
    "this",
    "that",
    "these",
    "those",
    "he",
    "she",
    "they",
    "it",
    "we",
    "you",
    "his",
    "her",
    "their",
    "its",
    "our",
    "my",
    "your",
    "candidate",
    "interviewer",
    "team",
    "has",
    "had",
    "have",
    "is",
    "was",
    "were",
    "are",
    "be",
    "been",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "must",
    "no",
    "not",
    "none",
    "some",
    "many",
    "most",
    "more",
    "less",
    "few",
    "several",
    "all",
    "both",
    "each",
    "every",
    "any",
    "other",
    "another",
    "also",
    "but",
    "and",
    "or",
    "so",
    "if",
    "when",
    "while",
    "after",
    "before",
    "since",
    "about",
    "around",
    "over",
    "under",
    "with",
    "without",
    "for",
    "from",
    "to",
    "in",
    "on",
    "at",
    "by",
    "of",
    "as",
    "into",
    "strong",
    "good",
    "great",
    "solid",
    "clear",
    "weak",
    "limited",
    "little",
    "lack",
    "lacks",
    "deep",
    "broad",
    "wide",
    "high",
    "low",
    "long",
    "short",
    "big",
    "small",
    "large",
    "new",
    "old",
    "own",
    "hands",
    "led",
    "built",
    "ran",
    "made",
    "set",
    "wrote",
    "drove",
    "grew",
    "cut",
    "took",
    "gave",
    "got",
    "saw",
    "knew",
    "thought",
    "felt",
    "kept",
    "left",
    "became",
    "began",
    "brought",
    "bought",
    "sold",
    "held",
    "met",
    "paid",
    "put",
    "read",
    "said",
    "sent",
    "spent",
    "spoke",
    "told",
    "understood",
    "won",
    "lost",
    "owns",
    "own",
    "wants",
    "want",
    "needs",
    "need",
    "prefers",
    "prefer",
    "plans",
    "plan",
    "expects",
    "expect",
    "asks",
    "asked",
    "open",
    "available",
    "able",
    "unable",
    "willing",
    "based",
    "remote",
    "hybrid",
    "onsite",
    "office",
    "currently",
    "current",
    "previously",
    "previous",
    "recently",
    "recent",
    "next",
    "last",
    "first",
    "then",
    "later",
    "soon",
    "early",
    "late",
    "salary",
    "base",
    "total",
    "compensation",
    "pay",
    "offer",
    "offers",
    "notice",
    "start",
    "starts",
    "location",
    "experience",
    "years",
    "year",
    "months",
    "month",
    "weeks",
    "week",
    "days",
    "day",
    "project",
    "projects",
    "system",
    "systems",
    "design",
    "work",
    "works",
    "worked",
    "job",
    "role",
    "company",
    "companies",
    "manager",
    "management",
    "lead",
    "leads",
    "leader",
    "leadership",
    "engineer",
    "engineers",
    "engineering",
    "developer",
    "code",
    "coding",
    "data",
    "service",
    "services",
    "platform",
    "product",
    "customer",
    "customers",
    "users",
    "user",
    "strength",
    "strengths",
    "concern",
    "concerns",
    "weakness",
    "answer",
    "answers",
    "question",
    "questions",
    "follow",
    "send",
    "schedule",
    "share",
    "review",
    "check",
    "confirm",
    "discuss",
    "decide",
    "provide",
    "move",
    "moving",
    "relocate",
    "would",
    "very",
    "quite",
    "only",
    "just",
    "even",
    "well",
    "still",
    "already",
    "again",
    "often",
    "always",
    "never",
    "sometimes",
    "usually",
    "mostly",
    "mainly",
    "primarily",
    "especially",
    "including",
    "like",
    "such",
    "than",
    "too",
    "up",
    "out",
    "down",
    "off",
    "back",
    "through",
    "across",
    "per",
    "via",
    "how",
    "what",
    "why",
    "where",
    "who",
    "which",
    "there",
    "here",
    "yes",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "one",
    "half",
    "ownership",
    "communication",
    "collaboration",
    "debugging",
    "testing",
    "scaling",
    "reliability",
    "performance",
    "migration",
    "incident",
    "incidents",
    "outage",
    "outages",
    "on-call",
    "call",
    "mentor",
    "mentoring",
    "mentored",
    "feedback",
    "conflict",
    "disagreement",
    "compromise",
    "motivation",
    "interest",
    "interested",
    "excited",
    "passionate",
    "curious",
    "pragmatic",
    "thoughtful",
    "candid",
    "honest",
    "humble",
    "confident",
    "calm",
    "structured",
    "organised",
    "organized",
    "detail",
    "details",
    "focus",
    "focused",
    "impact",
    "result",
    "results",
    "growth",
    "learning",
    "learned",
    "learn",
    "seeks",
    "seeking",
    "looking",
    "explained",
    "described",
    "mentioned",
    "noted",
    "stated",
    "admitted",
    "acknowledged",
    "showed",
    "shown",
    "demonstrated",
    "handled",
    "resolved",
    "reduced",
    "improved",
    "increased",
    "decreased",
    "scaled",
    "migrated",
    "designed",
    "implemented",
    "owned",
    "managed",
    "coordinated",
    "partnered",
    "proposed",
    "went",
    "came",
    "did",
    "does",
    "do",
    "done",
    "vague",
    "unclear",
    "unsure",
    "uncertain",
    "minimal",
    "relevant",
    "direct",
    "deadline",
    "pending",
    "waiting",
    "final",
    "round",
    "onsite",
    "take-home",
    "recruiter",
    "hiring",
    "panel",
    "interview",
    "interviews",
    "ask",
    "get",
    "make",
    "give",
    "see",
];

/// Lower-case word stems of length ≥ 4 that carry meaning, for matching claims without
/// checkable tokens to the turn they paraphrase.
pub(crate) fn content_stems(text: &str) -> HashSet<String> {
    const STOP: [&str; 24] = [
        "that",
        "this",
        "with",
        "have",
        "from",
        "they",
        "their",
        "there",
        "about",
        "would",
        "could",
        "should",
        "which",
        "what",
        "when",
        "were",
        "been",
        "also",
        "into",
        "than",
        "then",
        "very",
        "really",
        "candidate",
    ];
    tokens(text)
        .into_iter()
        .map(|w| w.to_lowercase())
        .filter(|w| w.len() >= 4 && !STOP.contains(&w.as_str()))
        // Numbers and amounts are checked as numbers, not as words.
        .filter(|w| {
            w.chars()
                .all(|c| c.is_alphabetic() || c == '-' || c == '\'')
        })
        .map(|w| stem(&w))
        .collect()
}

fn stem(w: &str) -> String {
    // Stripped repeatedly, so every form of a word ends at the same stem: delegating, delegation
    // and delegate → delegat; hardest → hard; engineers, engineering → engine.
    let mut w = w;
    'strip: loop {
        for suffix in ["ing", "ed", "es", "s", "ly", "er", "ion", "est", "e"] {
            if let Some(s) = w.strip_suffix(suffix) {
                if s.len() >= 4 {
                    w = s;
                    continue 'strip;
                }
            }
        }
        return w.to_string();
    }
}

/// Grounds free text without times (the summary): each sentence whose numbers and names are not
/// all somewhere in `turns` is dropped. Returns the text kept and how many sentences went.
pub fn ground_text(text: &str, turns: &[Turn], participants: &[String]) -> (String, usize) {
    let people: HashSet<String> = participants
        .iter()
        .flat_map(|p| tokens(p))
        .map(|w| w.to_lowercase())
        .collect();
    let corpus = Corpus::new(turns);
    let facts: Vec<TurnFacts> = turns.iter().map(TurnFacts::new).collect();
    let all_numbers: Vec<f64> = facts
        .iter()
        .flat_map(|f| f.numbers.iter().copied())
        .collect();
    let mut kept = Vec::new();
    let mut dropped = 0;
    for sentence in split_sentences(text) {
        let nums_ok = numbers(&tokens(sentence), false)
            .iter()
            .all(|n| all_numbers.iter().any(|m| same(*m, *n)));
        let names_ok = names(sentence, &corpus)
            .iter()
            .all(|n| people.contains(&n.to_lowercase()) || facts.iter().any(|f| f.mentions(n)));
        if nums_ok && names_ok {
            kept.push(sentence);
        } else {
            dropped += 1;
        }
    }
    (kept.join(" "), dropped)
}

fn split_sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let next = chars.get(k + 1).map(|&(_, n)| n);
        if matches!(c, '.' | '!' | '?') && next.is_none_or(char::is_whitespace) {
            let end = i + c.len_utf8();
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// The numbers and names in `text` that nothing in `turns` (or the participants' names) supports,
/// wherever in the transcript: an independent, window-free check for tests and benchmarks.
pub fn unsupported_anywhere(text: &str, turns: &[Turn], participants: &[String]) -> Vec<String> {
    let corpus = Corpus::new(turns);
    let facts: Vec<TurnFacts> = turns.iter().map(TurnFacts::new).collect();
    let people: HashSet<String> = participants
        .iter()
        .flat_map(|p| tokens(p))
        .map(|w| w.to_lowercase())
        .collect();
    let mut out = Vec::new();
    for n in numbers(&tokens(text), false) {
        if !facts.iter().any(|f| f.numbers.iter().any(|m| same(*m, n))) {
            out.push(n.to_string());
        }
    }
    for name in names(text, &corpus) {
        if !people.contains(&name.to_lowercase()) && !facts.iter().any(|f| f.mentions(&name)) {
            out.push(name);
        }
    }
    out
}

/// The numbers and names of a text that grounding would check: for tests and benchmarks that
/// verify notes independently.
pub fn checkable(text: &str, transcript: &[Turn]) -> (Vec<f64>, Vec<String>) {
    (
        numbers(&tokens(text), false),
        names(text, &Corpus::new(transcript)),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::notes::schema::FactKind;
    use crate::notes::transcript::Role;

    fn turns() -> Vec<Turn> {
        vec![
            Turn::new(0.0, "Tom Becker", Some(Role::Interviewer), "What are you looking for in terms of compensation?"),
            Turn::new(10.0, "Maya Chen", Some(Role::Candidate), "Somewhere around a hundred and eighty five thousand dollars base."),
            Turn::new(30.0, "Tom Becker", Some(Role::Interviewer), "And your notice period?"),
            Turn::new(35.0, "Maya Chen", Some(Role::Candidate), "Four weeks. I could start on March 3rd. I have an offer from Brightline too, 140 to 160k."),
            Turn::new(300.0, "Maya Chen", Some(Role::Candidate), "At Fernwood I rebuilt the tracking pipeline on Kafka, from 2 million to 40 million events a day."),
        ]
    }

    fn ground_fact(kind: FactKind, text: &str, at: Option<f64>) -> Option<f64> {
        let mut d = NotesDraft {
            facts: vec![(kind, Claim::new(text, at))],
            ..Default::default()
        };
        let stats = ground(&mut d, &turns(), &["Tom Becker".into(), "Maya Chen".into()]);
        assert_eq!(stats.checked, 1);
        d.facts.first().and_then(|(_, c)| c.at)
    }

    fn ground_strength(text: &str, at: Option<f64>) -> Option<f64> {
        let mut d = NotesDraft {
            strengths: vec![Claim::new(text, at)],
            ..Default::default()
        };
        ground(&mut d, &turns(), &["Tom Becker".into(), "Maya Chen".into()]);
        d.strengths.first().and_then(|c| c.at)
    }

    #[test]
    fn a_fact_keeps_the_part_the_transcript_supports() {
        let mut d = NotesDraft {
            facts: vec![(
                FactKind::CompetingOffers,
                Claim::new("Brightline, Colorado", Some(35.0)),
            )],
            ..Default::default()
        };
        let stats = ground(&mut d, &turns(), &["Tom Becker".into(), "Maya Chen".into()]);
        assert_eq!(d.facts.len(), 1);
        assert_eq!(d.facts[0].1.text, "Brightline");
        assert_eq!(stats.unsupported, 0);
    }

    #[test]
    fn numbers_in_digits_and_words() {
        let n = |s: &str| numbers(&tokens(s), false);
        assert_eq!(n("$185,000 base"), vec![185000.0]);
        assert_eq!(n("185k"), vec![185000.0]);
        assert_eq!(n("a hundred and eighty five thousand"), vec![185000.0]);
        assert_eq!(n("1.5 million users"), vec![1_500_000.0]);
        assert_eq!(n("four weeks, March 3rd, 2019"), vec![4.0, 3.0, 2019.0]);
        assert_eq!(n("twenty-five people"), vec![25.0]);
        assert_eq!(n("one of the first"), Vec::<f64>::new());
        assert!(numbers(&tokens("140 to 160k"), true).contains(&140_000.0));
    }

    #[test]
    fn names_skip_ordinary_sentence_starts() {
        let none = Corpus::default();
        assert_eq!(
            names("Strong on Kafka and Go. Worked at Fernwood.", &none),
            vec!["Kafka", "Go", "Fernwood"]
        );
        assert_eq!(names("Google offer pending.", &none), vec!["Google"]);
        assert_eq!(names("AWS experience", &none), vec!["AWS"]);
        assert_eq!(names("Admits weak spots; Prefers Go.", &none), vec!["Go"]);
        let corpus = Corpus::new(&turns());
        assert_eq!(
            names("Brightline offer pending.", &corpus),
            vec!["Brightline"]
        );
    }

    #[test]
    fn supported_claims_are_kept_at_the_turn_that_says_them() {
        assert_eq!(
            ground_fact(
                FactKind::Compensation,
                "Expects $185k base salary",
                Some(0.0)
            ),
            Some(10.0)
        );
        assert_eq!(
            ground_fact(
                FactKind::NoticePeriod,
                "Notice period of 4 weeks",
                Some(35.0)
            ),
            Some(35.0)
        );
        assert_eq!(
            ground_fact(
                FactKind::CompetingOffers,
                "Offer from Brightline at $140k-$160k",
                Some(40.0)
            ),
            Some(35.0)
        );
        // A wrong time is corrected when the facts are said elsewhere in the chunk.
        assert_eq!(
            ground_fact(
                FactKind::Projects,
                "Scaled Kafka pipeline from 2M to 40M events per day",
                Some(20.0)
            ),
            Some(300.0)
        );
        // Acronyms match the words they abbreviate.
        assert_eq!(
            ground_fact(
                FactKind::NoticePeriod,
                "Notice period (NP) of 4 weeks",
                Some(35.0)
            ),
            Some(35.0)
        );
    }

    #[test]
    fn unsupported_numbers_names_and_currencies_are_dropped() {
        assert_eq!(
            ground_fact(FactKind::Compensation, "Expects $200k", Some(10.0)),
            None
        );
        assert_eq!(
            ground_fact(
                FactKind::CompetingOffers,
                "Has an offer from Google",
                Some(35.0)
            ),
            None
        );
        assert_eq!(
            ground_fact(FactKind::StartDate, "Could start in 2025", Some(35.0)),
            None
        );
        assert_eq!(
            ground_fact(FactKind::Compensation, "Expects 185,000 euros", Some(10.0)),
            None
        );
        assert_eq!(
            ground_fact(FactKind::Experience, "Worked at Stripe for 5 years", None),
            None
        );
    }

    #[test]
    fn summary_sentences_need_their_numbers_and_names_somewhere() {
        let (kept, dropped) = ground_text(
            "Maya Chen has strong Kafka skills. She expects 185k. She worked at Google for 9 years.",
            &turns(),
            &["Maya Chen".into()],
        );
        assert_eq!(kept, "Maya Chen has strong Kafka skills. She expects 185k.");
        assert_eq!(dropped, 1);
    }

    #[test]
    fn durations_need_their_unit() {
        let t = |s: &str| timed_numbers(&tokens(s), true);
        assert_eq!(
            t("seven years of Go, two straight weeks"),
            vec![(7.0, "year"), (2.0, "week")]
        );
        assert_eq!(t("40 million events a day"), vec![]);
        assert_eq!(t("twenty-five minutes"), vec![(25.0, "minute")]);
        // "Two years" is not supported by "two tools" near "years".
        assert_eq!(
            ground_fact(FactKind::Experience, "Two years at Fernwood", Some(300.0)),
            None
        );
    }

    #[test]
    fn facts_need_talk_about_their_kind_and_judgements_need_the_candidates_words() {
        // "Four weeks" is said right after the notice question: a notice period.
        assert_eq!(
            ground_fact(FactKind::NoticePeriod, "Four weeks", Some(35.0)),
            Some(35.0)
        );
        // The same words where nobody talks about starting or leaving are not.
        assert_eq!(
            ground_fact(FactKind::Location, "Four weeks", Some(35.0)),
            None
        );
        // Praise resting on the interviewer's words only is dropped.
        assert_eq!(
            ground_strength("Knows what to look for in compensation", Some(0.0)),
            None
        );
        assert_eq!(
            ground_strength("Rebuilt the tracking pipeline on Kafka", Some(300.0)),
            Some(300.0)
        );
    }

    #[test]
    fn claims_without_checkable_tokens_need_a_turn() {
        assert_eq!(
            ground_fact(
                FactKind::Compensation,
                "Quoted a figure around that level for base",
                Some(11.0)
            ),
            Some(10.0)
        );
        // The right time is not enough: the talk around it must be about the claim.
        assert_eq!(
            ground_fact(
                FactKind::Compensation,
                "Clear about expectations",
                Some(11.0)
            ),
            None
        );
        assert_eq!(
            ground_fact(FactKind::Projects, "Rebuilt the tracking pipeline", None),
            Some(300.0)
        );
        assert_eq!(ground_strength("Enjoys gardening", None), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod answers {
    use super::*;
    use crate::notes::schema::Answer;

    fn fixture() -> (Vec<Turn>, Vec<String>) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transcripts/");
        let text = std::fs::read_to_string(format!("{dir}backend_interview.txt")).unwrap();
        let questions = std::fs::read_to_string(format!("{dir}backend_interview.questions"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        (
            crate::notes::load_transcript(&text, None).unwrap(),
            questions,
        )
    }

    fn kept(question: usize, text: &str, at: f64) -> bool {
        let (turns, questions) = fixture();
        let mut d = NotesDraft {
            answers: vec![Answer {
                question,
                claim: Claim::new(text, Some(at)),
            }],
            ..Default::default()
        };
        let people = ["Daniel Okafor".to_string(), "Sarah Lindqvist".to_string()];
        ground_with_questions(&mut d, &turns, &people, &questions);
        !d.answers.is_empty()
    }

    #[test]
    fn an_answer_naming_the_employer_said_at_the_start_is_kept() {
        // Fernwood Logistics is named at 00:31, the answer at 06:51.
        assert!(kept(
            4,
            "Interested because it aligns with his experience at Fernwood Logistics and lets him influence architecture across several teams.",
            411.0
        ));
    }

    #[test]
    fn an_answer_made_of_the_question_words_is_dropped() {
        // The mentoring question (09:40) was never answered: the candidate asked about the team.
        assert!(!kept(
            5,
            "I approach mentoring junior engineers by providing clear and actionable feedback, setting goals, and offering guidance on best practices.",
            580.0
        ));
    }
}
