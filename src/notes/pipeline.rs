//! The notes pipeline for one interview. While the call runs, transcript turns arrive in batches;
//! each time enough speech has gathered (`chunk_tokens`) that chunk is summarised into a partial
//! draft: protected remarks withheld from the model, the reply read leniently (and asked again
//! when unreadable), claims guarded and grounded against the chunk. The model also carries a
//! running summary forward. At hang-up only the last chunk is left to summarise; the partials are
//! then merged by code, so notes are ready seconds after the call, however long it was.
//!
//! Hang-up pre-empts: the signal from [`NotesPipeline::hang_up_signal`] stops a chunk the model
//! is still on (its turns go to the hang-up work, and what the model had read stays cached). A
//! chunk stopped in its assessment keeps the facts it already has, so they are not written twice;
//! its assessment waits for the end. At hang-up the facts pass always runs to the end; the
//! assessment passes run until `finish_deadline`, and where one is cut the note says up to when
//! the assessment goes.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::engine::{ChatRequest, DynSummarizer};
use super::grounding::{self, GroundingStats};
use super::guard::{self, GuardStats, Redactor};
use super::llm_protocol::{ChatMessage, Usage};
use super::prompt::{self, Pass, PromptContext};
use super::schema::{self, Claim, FactKind, NotesDraft};
use super::transcript::{Role, Turn};
use super::NotesError;

/// How the pipeline cuts and asks.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    /// Transcript tokens per chunk (estimated). Smaller chunks leave less to do at hang-up.
    pub chunk_tokens: usize,
    /// Completion budget per chunk.
    pub max_output_tokens: u32,
    /// Tries per chunk when the reply is not the schema (the first included).
    pub max_attempts: u32,
    pub temperature: f32,
    /// Turns of the previous chunk shown again for context (a question cut from its answer).
    pub context_turns: usize,
    /// How long after `finish` starts the assessment of the last chunk may run; `None` waits
    /// for it (a transcript summarised after the fact). The facts pass is never cut.
    pub finish_deadline: Option<Duration>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            chunk_tokens: 900,
            max_output_tokens: 700,
            max_attempts: 3,
            temperature: 0.0,
            context_turns: 2,
            finish_deadline: None,
        }
    }
}

/// Timings and sizes of one chunk, for logs and BENCHMARKS.md.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkReport {
    pub index: usize,
    pub turns: usize,
    /// Call time (seconds) of the chunk's first turn and of its last turn's end.
    pub from: f64,
    pub to: f64,
    pub attempts: u32,
    pub usage: Usage,
    pub wall_ms: u64,
    /// Set when the chunk could not be summarised (it is retried at `finish`).
    pub error: Option<String>,
}

/// The merged notes and what it took to make them.
#[derive(Debug, Clone, Default)]
pub struct NotesOutcome {
    pub notes: NotesDraft,
    pub grounding: GroundingStats,
    pub guard: GuardStats,
    pub chunks: Vec<ChunkReport>,
    /// Chunks that could not be summarised even at the end; their part is missing.
    pub failed_chunks: usize,
    /// Time spent in `finish` (the last chunk and the merge): hang-up to notes.
    pub finish_ms: u64,
    /// Call time (seconds) from which the assessment (answers, strengths, concerns) is missing
    /// because `finish_deadline` cut it; the facts still cover the whole call.
    pub assessed_until: Option<f64>,
}

/// Which passes a chunk gets, and what may stop them.
#[derive(Clone)]
enum Passes {
    /// During the call: both passes; hang-up stops them, and the chunk is done again at finish.
    InCall(CancellationToken),
    /// At hang-up: the facts pass to the end, then (unless `facts_only`) the assessment until
    /// `deadline` fires; a cut assessment leaves the facts in place.
    Finish {
        facts_only: bool,
        deadline: CancellationToken,
    },
    /// At hang-up, for a chunk whose facts came through during the call: only the assessment,
    /// until `deadline` fires.
    AssessOnly { deadline: CancellationToken },
}

pub struct NotesPipeline {
    engine: DynSummarizer,
    options: PipelineOptions,
    ctx: PromptContext,
    system: ChatMessage,
    participants: Vec<String>,
    redactor: Redactor,
    guard: GuardStats,
    grounding: GroundingStats,
    /// Every turn so far, redacted: grounding the summary, and context lines.
    all: Vec<Turn>,
    /// Index in `all` of the first turn not yet summarised.
    next: usize,
    summary: String,
    partials: Vec<NotesDraft>,
    /// Chunks that failed during the call, retried at `finish`.
    failed: Vec<(usize, usize)>,
    /// Chunks whose facts came through during the call but whose assessment hang-up stopped.
    unassessed: Vec<(usize, usize)>,
    /// End of the latest chunk the running summary covers: an older chunk assessed late must
    /// not take the summary back in time.
    summary_end: usize,
    reports: Vec<ChunkReport>,
    last_error: Option<NotesError>,
    /// Fired when the call ends (see `hang_up_signal`).
    hung_up: CancellationToken,
    assessed_until: Option<f64>,
    /// Some chunk's assessment (answers, strengths, concerns) came through.
    assessed: bool,
}

impl NotesPipeline {
    /// `ctx.candidate` names the candidate: turns whose role is unknown are the candidate's when
    /// the speaker matches it, an interviewer's otherwise.
    pub fn new(
        engine: DynSummarizer,
        options: PipelineOptions,
        ctx: PromptContext,
    ) -> NotesPipeline {
        let system = prompt::system_message(&ctx);
        let mut participants = ctx.interviewers.clone();
        participants.push(ctx.candidate.clone());
        NotesPipeline {
            engine,
            options,
            ctx,
            system,
            participants,
            redactor: Redactor::default(),
            guard: GuardStats::default(),
            grounding: GroundingStats::default(),
            all: Vec::new(),
            next: 0,
            summary: String::new(),
            partials: Vec::new(),
            failed: Vec::new(),
            unassessed: Vec::new(),
            summary_end: 0,
            reports: Vec::new(),
            last_error: None,
            hung_up: CancellationToken::new(),
            assessed_until: None,
            assessed: false,
        }
    }

    /// Fire this when the call ends, even while `push` is running: the model stops the chunk it
    /// is on (within a second or two), so `finish` starts at once. `push` after it only queues
    /// turns.
    pub fn hang_up_signal(&self) -> CancellationToken {
        self.hung_up.clone()
    }

    /// Transcript tokens a chunk may hold so that the prompt, the running summary, the context
    /// lines and the completion fit the engine's context.
    pub fn chunk_budget(&self) -> Result<usize, NotesError> {
        let fixed = prompt::overhead_tokens(&self.ctx)
            + 120 * self.options.context_turns
            + self.options.max_output_tokens as usize
            + 64;
        let context = self.engine.context_tokens();
        let room = context.saturating_sub(fixed);
        if room < 100 {
            return Err(NotesError::Config(format!(
                "the model's context of {context} tokens leaves no room for transcript: the prompt and \
                 the answer take about {fixed}. Use fewer kit questions, a smaller max_output_tokens, or a \
                 larger context"
            )));
        }
        Ok(room.min(self.options.chunk_tokens.max(100)))
    }

    /// Turns received so far.
    pub fn turns(&self) -> &[Turn] {
        &self.all
    }

    pub fn reports(&self) -> &[ChunkReport] {
        &self.reports
    }

    /// Adds turns (in call order) and summarises every chunk that is now complete. Failures are
    /// recorded and retried at `finish`, so a flaky engine does not stop the call being followed.
    pub async fn push(&mut self, turns: Vec<Turn>) -> Result<Vec<ChunkReport>, NotesError> {
        let budget = self.chunk_budget()?;
        let mut turns: Vec<Turn> = turns
            .into_iter()
            .flat_map(|t| split_long_turn(t, budget))
            .collect();
        for t in turns.iter_mut() {
            if t.role.is_none() {
                t.role = Some(if same_person(&t.speaker, &self.ctx.candidate) {
                    Role::Candidate
                } else {
                    Role::Interviewer
                });
            }
        }
        let stats = self.redactor.redact(&mut turns);
        self.guard.add(&stats);
        self.all.extend(turns);
        let mut done = Vec::new();
        // The model is idle between chunks while the call goes on: summarising a part-filled
        // chunk now (`eager_end`) leaves less for hang-up, so the notes are ready sooner.
        while !self.hung_up.is_cancelled() {
            let Some(end) = self.cut(budget, false).or_else(|| self.eager_end(budget)) else {
                break;
            };
            let start = self.next;
            self.next = end;
            let passes = Passes::InCall(self.hung_up.clone());
            done.push(self.summarise_chunk(start, end, passes).await);
        }
        Ok(done)
    }

    /// The end (exclusive) of the next chunk, if one is complete (or, at the end, if any is left).
    fn cut(&self, budget: usize, at_end: bool) -> Option<usize> {
        let mut tokens = 0;
        for (i, t) in self.all.iter().enumerate().skip(self.next) {
            let cost = prompt::estimate_tokens(&prompt::transcript_line(t)) + 2;
            if tokens + cost > budget {
                // Always take at least one turn (long turns were split to fit the budget).
                if i == self.next {
                    return Some(i + 1);
                }
                // A chunk does not end on the interviewer's turn: a question goes with its answer.
                let last = i - 1;
                if last > self.next && self.all[last].role != Some(Role::Candidate) {
                    return Some(last);
                }
                return Some(i);
            }
            tokens += cost;
        }
        (at_end && self.next < self.all.len()).then_some(self.all.len())
    }

    /// The end of a part-filled chunk worth summarising now: at least `EAGER_PERCENT` of the
    /// budget, not ending on the interviewer's turn (its answer has not arrived yet).
    fn eager_end(&self, budget: usize) -> Option<usize> {
        let mut end = self.all.len();
        if end > self.next + 1 && self.all[end - 1].role != Some(Role::Candidate) {
            end -= 1;
        }
        let pending: usize = self.all[self.next..end]
            .iter()
            .map(|t| prompt::estimate_tokens(&prompt::transcript_line(t)) + 2)
            .sum();
        (end > self.next && pending * 100 >= budget * EAGER_PERCENT).then_some(end)
    }

    /// Summarises `all[start..end]` into a partial draft, as `passes` says.
    async fn summarise_chunk(&mut self, start: usize, end: usize, passes: Passes) -> ChunkReport {
        let started = Instant::now();
        let index = self.reports.len();
        let from_ctx = start.saturating_sub(self.options.context_turns);
        let context = self.all[from_ctx..start].to_vec();
        let part = self.all[start..end].to_vec();
        let mut report = ChunkReport {
            index,
            turns: part.len(),
            from: part.first().map(|t| t.start).unwrap_or_default(),
            to: part.last().map(|t| t.end.max(t.start)).unwrap_or_default(),
            ..ChunkReport::default()
        };
        let result = self.ask(&context, &part, &passes, &mut report).await;
        match result {
            Ok((mut draft, cut)) => {
                if !cut
                    && !matches!(
                        passes,
                        Passes::Finish {
                            facts_only: true,
                            ..
                        }
                    )
                {
                    self.assessed = true;
                }
                if cut && matches!(passes, Passes::InCall(_)) {
                    tracing::debug!(
                        chunk = index,
                        "notes: hang-up interrupted the assessment; the facts are kept, the assessment waits for the end"
                    );
                    report.error =
                        Some("interrupted by hang-up in the assessment; its facts are kept".into());
                    self.unassessed.push((start, end));
                } else if cut {
                    tracing::info!(
                        chunk = index,
                        from = report.from,
                        "notes: the finish deadline cut the last assessment; its facts are kept"
                    );
                    report.error = Some("assessment cut by notes.finish_deadline_secs".into());
                    self.assessment_cut_at(report.from);
                }
                let guarded = guard::filter_draft(&mut draft);
                self.guard.add(&guarded);
                // Everything said so far: claims are checked near their time, but a name the
                // candidate said earlier (their employer) still counts later.
                let window: Vec<Turn> = self.all[..end].to_vec();
                let grounded = grounding::ground_with_questions(
                    &mut draft,
                    &window,
                    &self.participants,
                    &self.ctx.questions,
                );
                self.grounding.add(&grounded);
                let (summary, dropped) =
                    grounding::ground_text(&draft.summary, &self.all[..end], &self.participants);
                self.grounding.unsupported += dropped;
                if !summary.trim().is_empty() && end >= self.summary_end {
                    self.summary = summary;
                    self.summary_end = end;
                }
                self.partials.push(draft);
            }
            Err(NotesError::Cancelled) => {
                tracing::debug!(
                    chunk = index,
                    "notes: hang-up interrupted the chunk; finishing it at the end"
                );
                report.error = Some(NotesError::Cancelled.to_string());
                self.next = self.next.min(start);
            }
            Err(e) => {
                tracing::warn!(chunk = index, error = %e, "notes: chunk failed; retrying it at the end");
                report.error = Some(e.to_string());
                self.failed.push((start, end));
                self.last_error = Some(e);
            }
        }
        report.wall_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            chunk = index,
            turns = report.turns,
            prompt_tokens = report.usage.prompt_tokens,
            cached = report.usage.cached_tokens,
            completion_tokens = report.usage.completion_tokens,
            wall_ms = report.wall_ms,
            "notes: chunk summarised"
        );
        self.reports.push(report.clone());
        report
    }

    /// Both passes over one chunk (or only the facts pass), each asking only for what the chunk
    /// talks about; what the model adds beyond that is dropped. The flag is set when the finish
    /// deadline cut the assessment.
    async fn ask(
        &mut self,
        context: &[Turn],
        part: &[Turn],
        passes: &Passes,
        report: &mut ChunkReport,
    ) -> Result<(NotesDraft, bool), NotesError> {
        let (facts_stop, assess_stop, facts_only) = match passes {
            Passes::InCall(t) => (Some(t), Some(t), false),
            Passes::Finish {
                facts_only,
                deadline,
            } => (None, Some(deadline), *facts_only),
            Passes::AssessOnly { deadline } => (None, Some(deadline), false),
        };
        let assess_only = matches!(passes, Passes::AssessOnly { .. });
        let (facts_pass, assessment_pass) = prompt::plan(&self.ctx, context, part);
        let mut facts = match &facts_pass {
            Pass::Facts { kinds, next_steps } if assess_only || kinds.is_empty() && !next_steps => {
                NotesDraft::default()
            }
            _ => match self
                .ask_pass(&facts_pass, context, part, facts_stop, report)
                .await
            {
                Err(NotesError::ContextOverflow(detail)) if part.len() > 1 => {
                    // The estimate was off for this text: halve the chunk and do both halves.
                    tracing::warn!(%detail, "notes: prompt too long for the model; splitting the chunk");
                    let mid = part.len() / 2;
                    let (first, a) =
                        Box::pin(self.ask(context, &part[..mid], passes, report)).await?;
                    let (second, b) =
                        Box::pin(self.ask(&part[..mid], &part[mid..], passes, report)).await?;
                    return Ok((concat(first, second), a || b));
                }
                other => other?,
            },
        };
        if let Pass::Facts { kinds, next_steps } = &facts_pass {
            facts.facts.retain(|(k, _)| kinds.contains(k));
            if !next_steps {
                facts.next_steps.clear();
            }
        }
        // The facts pass answers nothing else.
        facts.answers.clear();
        facts.strengths.clear();
        facts.concerns.clear();
        facts.summary.clear();
        if facts_only {
            return Ok((facts, false));
        }
        let mut assessment = match self
            .ask_pass(&assessment_pass, context, part, assess_stop, report)
            .await
        {
            // Past the finish deadline, or hang-up during the call once the facts are in: the
            // facts stand alone (during the call, the assessment waits for the end).
            Err(NotesError::Cancelled) => {
                return Ok((facts, true));
            }
            other => other?,
        };
        if let Pass::Assessment { asked } = &assessment_pass {
            assessment.answers.retain(|a| asked.contains(&a.question));
        }
        assessment.facts.clear();
        assessment.next_steps.clear();
        Ok((concat(facts, assessment), false))
    }

    /// Asks the engine for one pass over one chunk until the reply reads as the schema.
    async fn ask_pass(
        &mut self,
        pass: &Pass,
        context: &[Turn],
        part: &[Turn],
        stop: Option<&CancellationToken>,
        report: &mut ChunkReport,
    ) -> Result<NotesDraft, NotesError> {
        // Context lines are a courtesy: drop them rather than overflow the context.
        let room = self
            .engine
            .context_tokens()
            .saturating_sub(self.options.max_output_tokens as usize + 32);
        let mut context = context;
        let message =
            |context: &[Turn]| prompt::user_message(pass, &self.ctx, &self.summary, context, part);
        let mut user = message(context);
        while !context.is_empty()
            && prompt::estimate_messages(&[self.system.clone(), user.clone()]) > room
        {
            context = &context[1..];
            user = message(context);
        }
        let mut messages = vec![self.system.clone(), user];
        let mut last_problem = String::new();
        for attempt in 1..=self.options.max_attempts.max(1) {
            report.attempts = attempt;
            let request = ChatRequest {
                messages: messages.clone(),
                max_tokens: self.options.max_output_tokens,
                temperature: self.options.temperature,
                json: true,
            };
            let completion = match stop {
                Some(stop) => self.engine.complete_unless(&request, stop).await?,
                None => self.engine.complete(&request).await?,
            };
            add_usage(&mut report.usage, &completion.usage);
            tracing::trace!(facts = pass.is_facts(), reply = %completion.text, "notes: model reply");
            match schema::parse_reply(&completion.text, &self.ctx.questions) {
                Ok(draft) => return Ok(draft),
                Err(schema::ReplyError(problem)) => {
                    tracing::warn!(attempt, facts = pass.is_facts(), %problem, finish = %completion.finish_reason, "notes: unreadable reply");
                    let excerpt: String = completion.text.chars().take(600).collect();
                    messages.truncate(2);
                    messages.push(ChatMessage {
                        role: "assistant".into(),
                        content: excerpt,
                    });
                    messages.push(prompt::retry_message(&problem));
                    last_problem = problem;
                }
            }
        }
        Err(NotesError::MalformedReply {
            attempts: self.options.max_attempts.max(1),
            detail: last_problem,
        })
    }

    /// The deadline an assessment at hang-up runs under. It trades the last minutes' assessment
    /// for notes sooner, never the whole of it: with none written yet (a short call, all of it
    /// summarised at hang-up) the notes wait for one.
    fn assessment_deadline(&self, deadline: &CancellationToken) -> CancellationToken {
        if self.assessed {
            deadline.clone()
        } else {
            CancellationToken::new()
        }
    }

    /// The assessment stops short of the call time `from` (the note's footer says so).
    fn assessment_cut_at(&mut self, from: f64) {
        self.assessed_until = Some(self.assessed_until.unwrap_or(from).min(from));
    }

    /// Hang-up: summarises what is left, retries chunks that failed, merges. Errors only when no
    /// part of the transcript could be summarised.
    pub async fn finish(mut self) -> Result<NotesOutcome, NotesError> {
        let started = Instant::now();
        let budget = self.chunk_budget()?;
        let deadline = CancellationToken::new();
        let timer = self.options.finish_deadline.map(|after| {
            let deadline = deadline.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                deadline.cancel();
            })
        });
        while let Some(end) = self.cut(budget, true) {
            let start = self.next;
            self.next = end;
            // A short last chunk with a summary already gets only the facts pass: the last
            // minutes are wrap-up and next steps, and the notes are wanted now.
            let short = self.all[start..end]
                .iter()
                .map(|t| prompt::estimate_tokens(&prompt::transcript_line(t)))
                .sum::<usize>()
                * 100
                < budget * SHORT_TAIL_PERCENT;
            let facts_only = end == self.all.len() && short && !self.summary.is_empty();
            let deadline = self.assessment_deadline(&deadline);
            let passes = Passes::Finish {
                facts_only,
                deadline,
            };
            self.summarise_chunk(start, end, passes).await;
        }
        // Assessments hang-up stopped during the call, while the deadline allows: their facts
        // are in already.
        for (start, end) in std::mem::take(&mut self.unassessed) {
            if deadline.is_cancelled() && self.assessed {
                self.assessment_cut_at(self.all[start].start);
                continue;
            }
            let deadline = self.assessment_deadline(&deadline);
            self.summarise_chunk(start, end, Passes::AssessOnly { deadline })
                .await;
        }
        if let Some(timer) = timer {
            timer.abort();
        }
        let retry: Vec<(usize, usize)> = std::mem::take(&mut self.failed);
        for (start, end) in retry {
            let passes = Passes::Finish {
                facts_only: false,
                deadline: CancellationToken::new(),
            };
            self.summarise_chunk(start, end, passes).await;
        }
        if self.partials.is_empty() {
            return Err(self
                .last_error
                .take()
                .unwrap_or(NotesError::EmptyTranscript));
        }
        let mut notes = merge(&self.partials, self.ctx.questions.len());
        notes.summary = self.summary.clone();
        Ok(NotesOutcome {
            notes,
            grounding: self.grounding,
            guard: self.guard,
            failed_chunks: self.failed.len(),
            chunks: self.reports,
            finish_ms: started.elapsed().as_millis() as u64,
            assessed_until: self.assessed_until,
        })
    }
}

fn add_usage(total: &mut Usage, u: &Usage) {
    total.prompt_tokens += u.prompt_tokens;
    total.cached_tokens += u.cached_tokens;
    total.completion_tokens += u.completion_tokens;
    total.prompt_ms += u.prompt_ms;
    total.generation_ms += u.generation_ms;
}

fn concat(mut a: NotesDraft, b: NotesDraft) -> NotesDraft {
    if !b.summary.is_empty() {
        a.summary = b.summary;
    }
    a.answers.extend(b.answers);
    a.strengths.extend(b.strengths);
    a.concerns.extend(b.concerns);
    a.facts.extend(b.facts);
    a.next_steps.extend(b.next_steps);
    a
}

fn same_person(speaker: &str, name: &str) -> bool {
    let (s, n) = (speaker.trim().to_lowercase(), name.trim().to_lowercase());
    !n.is_empty()
        && (s == n || s.split_whitespace().next() == n.split_whitespace().next() && !s.is_empty())
}

/// A turn too long for one chunk, cut at sentence ends into pieces that fit.
fn split_long_turn(turn: Turn, budget: usize) -> Vec<Turn> {
    let line = prompt::transcript_line(&turn);
    if prompt::estimate_tokens(&line) + 2 <= budget {
        return vec![turn];
    }
    let overhead = prompt::estimate_tokens(&line) - prompt::estimate_tokens(&turn.text);
    let room = budget.saturating_sub(overhead + 4).max(20);
    let mut pieces = Vec::new();
    let mut current = String::new();
    for word in turn.text.split_inclusive(' ') {
        if prompt::estimate_tokens(&current) + prompt::estimate_tokens(word) > room
            && !current.is_empty()
        {
            pieces.push(std::mem::take(&mut current));
        }
        current.push_str(word);
    }
    if !current.trim().is_empty() {
        pieces.push(current);
    }
    let n = pieces.len().max(1) as f64;
    let span = (turn.end - turn.start).max(0.0);
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, text)| Turn {
            start: turn.start + span * i as f64 / n,
            end: turn.start + span * (i + 1) as f64 / n,
            speaker: turn.speaker.clone(),
            role: turn.role,
            text: text.trim().to_string(),
        })
        .collect()
}

/// Claims that say the same thing twice (one chunk repeating another) count once.
fn similar(a: &str, b: &str) -> bool {
    let words = |s: &str| -> std::collections::HashSet<String> {
        s.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 2)
            .map(str::to_string)
            .collect()
    };
    let (wa, wb) = (words(a), words(b));
    if wa.is_empty() || wb.is_empty() {
        return a.eq_ignore_ascii_case(b);
    }
    let common = wa.intersection(&wb).count() as f64;
    common / (wa.len().min(wb.len()) as f64) >= 0.8
}

fn push_distinct(into: &mut Vec<Claim>, claim: &Claim, cap: usize) {
    if into.len() < cap && !into.iter().any(|c| similar(&c.text, &claim.text)) {
        into.push(claim.clone());
    }
}

/// A last chunk shorter than this share of the chunk budget (percent) gets only the facts pass.
const SHORT_TAIL_PERCENT: usize = 50;
/// While the call runs, a part-filled chunk this full (percent of `chunk_tokens`) is summarised
/// without waiting for the rest, so hang-up leaves less than `SHORT_TAIL_PERCENT` to do.
const EAGER_PERCENT: usize = 50;

/// At most this many of each list in the final note: notes are read in a minute.
const MAX_LIST: usize = 6;
const MAX_ANSWERS_PER_QUESTION: usize = 2;

/// Merges the partial drafts (in call order) into the interview's notes. The summary is set by
/// the caller (the running summary). Pure, so the merge rules are tested directly.
pub fn merge(partials: &[NotesDraft], questions: usize) -> NotesDraft {
    let mut out = NotesDraft::default();
    for q in 1..=questions {
        let mut answers: Vec<Claim> = Vec::new();
        for p in partials {
            for a in p.answers.iter().filter(|a| a.question == q) {
                push_distinct(&mut answers, &a.claim, MAX_ANSWERS_PER_QUESTION);
            }
        }
        out.answers.extend(
            answers
                .into_iter()
                .map(|claim| schema::Answer { question: q, claim }),
        );
    }
    for p in partials {
        for c in &p.strengths {
            push_distinct(&mut out.strengths, c, MAX_LIST);
        }
        for c in &p.concerns {
            push_distinct(&mut out.concerns, c, MAX_LIST);
        }
        for c in &p.next_steps {
            push_distinct(&mut out.next_steps, c, MAX_LIST);
        }
    }
    // A point the model listed as both a strength and a concern says nothing: keep neither.
    let (strengths, concerns) = (out.strengths.clone(), out.concerns.clone());
    out.strengths
        .retain(|s| !concerns.iter().any(|c| similar(&c.text, &s.text)));
    out.concerns
        .retain(|c| !strengths.iter().any(|s| similar(&c.text, &s.text)));
    for kind in FactKind::ALL {
        let cap = if kind.is_list() { 4 } else { 2 };
        let mut values: Vec<Claim> = Vec::new();
        for p in partials {
            for (_, c) in p.facts.iter().filter(|(k, _)| *k == kind) {
                push_distinct(&mut values, c, cap);
            }
        }
        out.facts.extend(values.into_iter().map(|c| (kind, c)));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::notes::schema::Answer;

    #[test]
    fn merge_dedupes_caps_and_orders_by_question() {
        let a = NotesDraft {
            answers: vec![
                Answer {
                    question: 2,
                    claim: Claim::new("Wants to grow into a staff role", Some(50.0)),
                },
                Answer {
                    question: 1,
                    claim: Claim::new("Built the tracking pipeline", Some(10.0)),
                },
            ],
            strengths: vec![Claim::new("Deep Kafka knowledge", Some(12.0))],
            facts: vec![(FactKind::Compensation, Claim::new("$185k base", Some(20.0)))],
            ..Default::default()
        };
        let b = NotesDraft {
            answers: vec![Answer {
                question: 1,
                claim: Claim::new("Built the tracking pipeline.", Some(300.0)),
            }],
            strengths: vec![
                Claim::new("deep kafka knowledge", Some(400.0)),
                Claim::new("Calm under pressure", Some(410.0)),
            ],
            facts: vec![(
                FactKind::Compensation,
                Claim::new("Flexible on base for equity", Some(420.0)),
            )],
            ..Default::default()
        };
        let m = merge(&[a, b], 3);
        assert_eq!(
            m.answers.iter().map(|a| a.question).collect::<Vec<_>>(),
            vec![1, 2]
        );
        assert_eq!(m.strengths.len(), 2);
        assert_eq!(m.facts.len(), 2);
    }

    #[test]
    fn long_turns_are_split_to_fit() {
        let text = "word ".repeat(2000);
        let t = Turn {
            start: 0.0,
            end: 100.0,
            speaker: "A".into(),
            role: None,
            text,
        };
        let parts = split_long_turn(t, 300);
        assert!(parts.len() > 3);
        for p in &parts {
            assert!(prompt::estimate_tokens(&prompt::transcript_line(p)) <= 300);
        }
        assert!(parts.windows(2).all(|w| w[0].start < w[1].start));
    }
}
