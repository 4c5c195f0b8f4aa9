//! `panelist notes FILE`: summarise one transcript file and print the note as it would be posted.

use std::time::Instant;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};

use crate::cli::NotesArgs;
use crate::config::{NotesEngineKind, Settings};
use crate::notes::{self, transcript, NoteMeta, PipelineOptions};

pub async fn notes_file(mut settings: Settings, args: NotesArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.model_dir {
        settings.transcription.model_dir = dir.clone();
    }
    if let Some(engine) = &args.engine {
        settings.notes.engine = match engine.as_str() {
            "local" => NotesEngineKind::Local,
            "openai" => NotesEngineKind::Openai,
            other => anyhow::bail!("--engine: expected local or openai, got {other:?}"),
        };
    }
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let turns = notes::load_transcript(&text, args.candidate.as_deref())
        .with_context(|| format!("{} is not a transcript", args.file.display()))?;
    let mut questions = args.questions.clone();
    if let Some(path) = &args.questions_file {
        let list = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        questions.extend(
            list.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    let date = args.date.as_deref().map(parse_date).transpose()?;
    let meta = NoteMeta {
        interview_id: args.interview_id.clone(),
        interview_name: args.interview_name.clone(),
        candidate_name: transcript::candidate_name(&turns),
        job_name: args.job.clone(),
        date,
        interviewers: transcript::interviewer_names(&turns),
        questions,
        public_url: settings.public_url.clone(),
    };
    // Checks the model is installed before anything slow happens.
    let engine = notes::build_engine(&settings)?;
    tracing::info!(engine = %engine.describe(), turns = turns.len(), "writing notes");
    let started = Instant::now();
    // Nobody is waiting on a call that just ended: the whole transcript is assessed.
    let options = PipelineOptions {
        finish_deadline: None,
        ..PipelineOptions::from_settings(&settings.notes)
    };
    let (note, outcome) = notes::summarize_turns(engine, options, &meta, turns).await?;
    print!("{note}");
    if let Some(path) = &args.output {
        std::fs::write(path, &note).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let usage = outcome.chunks.iter().fold((0, 0), |(p, c), r| {
        (p + r.usage.prompt_tokens, c + r.usage.completion_tokens)
    });
    tracing::info!(
        chunks = outcome.chunks.len(),
        failed_chunks = outcome.failed_chunks,
        prompt_tokens = usage.0,
        completion_tokens = usage.1,
        unsupported_dropped = outcome.grounding.unsupported,
        protected_removed = outcome.guard.total(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "notes written"
    );
    Ok(())
}

fn parse_date(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .with_context(|| format!("--date: expected RFC 3339 or YYYY-MM-DD, got {s:?}"))
}
