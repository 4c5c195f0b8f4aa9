//! `SummarizerActor`: runs one [`NotesPipeline`] per interview while its call goes on, feeding it
//! the transcript as the transcriber appends it (`TranscriptFiles`, polled every few seconds), and
//! at `TranscriptReady` finishes it, renders the note and hands it to the poster's outbox.
//!
//! The pipeline is moved into a spawned future while it works and comes back with the result, so
//! the actor never waits on the model, and each interview has at most one piece of work running.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::pipeline::{NotesPipeline, PipelineOptions};
use super::prompt::PromptContext;
use super::render::{render, NoteMeta, Omissions};
use super::transcript::{from_segments, Turn};
use super::{DynSummarizer, NotesError};
use crate::domain::{Application, Candidate, EntityKind, Id, Interview, JobStage};
use crate::greenhouse::Visibility;
use crate::poster::EnqueueNote;
use crate::store::{DynStore, StoreExt};
use crate::transcribe::{TranscriptFiles, TranscriptReady};

/// Start taking notes for an interview whose call has begun.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct NotesRequested {
    pub interview_id: Id,
    pub candidate_id: Id,
    pub meta: NoteMeta,
}

/// A note was written (or could not be): for tests, metrics and the dashboard.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct NotesWritten {
    pub interview_id: Id,
    pub result: Result<String, String>,
    /// Hang-up (`TranscriptReady`) to note, milliseconds.
    pub finish_ms: u64,
}

/// What one piece of work on a session came to.
enum Step {
    /// Fed what was new; the pipeline goes back to the session.
    Fed(Box<NotesPipeline>, usize),
    /// The call had ended: the notes, or why there are none.
    Finished(Box<Result<super::NotesOutcome, NotesError>>),
}

struct Session {
    candidate_id: Id,
    meta: NoteMeta,
    /// `None` while a future holds it.
    pipeline: Option<NotesPipeline>,
    /// Segments of the transcript file already fed.
    seen: usize,
    ended: bool,
    /// The pipeline's hang-up signal, kept here because the pipeline is away while it works.
    hang_up: tokio_util::sync::CancellationToken,
}

pub struct SummarizerActor {
    engine: DynSummarizer,
    options: PipelineOptions,
    files: TranscriptFiles,
    poster: Recipient<EnqueueNote>,
    visibility: Visibility,
    poll: Duration,
    sessions: HashMap<Id, Session>,
    listeners: Vec<Recipient<NotesWritten>>,
}

impl SummarizerActor {
    pub fn new(
        engine: DynSummarizer,
        options: PipelineOptions,
        files: TranscriptFiles,
        poster: Recipient<EnqueueNote>,
        visibility: Visibility,
        poll: Duration,
    ) -> Self {
        SummarizerActor {
            engine,
            options,
            files,
            poster,
            visibility,
            poll,
            sessions: HashMap::new(),
            listeners: Vec::new(),
        }
    }

    pub fn with_listener(mut self, listener: Recipient<NotesWritten>) -> Self {
        self.listeners.push(listener);
        self
    }

    /// Feeds an idle session what the transcript file gained; finishes it if its call ended.
    fn work(&mut self, interview_id: Id, ctx: &mut Context<Self>) {
        let Some(session) = self.sessions.get_mut(&interview_id) else {
            return;
        };
        let Some(mut pipeline) = session.pipeline.take() else {
            return; // busy: the running future comes back here when done
        };
        let files = self.files.clone();
        let seen = session.seen;
        let ended = session.ended;
        let key = interview_id.to_string();
        let work = async move {
            let loaded = tokio::task::spawn_blocking(move || files.load(&key)).await;
            let segments = match loaded {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::warn!(interview_id, error = %e, "notes: cannot read the transcript");
                    return Step::Fed(Box::new(pipeline), seen);
                }
                Err(e) => {
                    tracing::warn!(interview_id, error = %e, "notes: transcript reader failed");
                    return Step::Fed(Box::new(pipeline), seen);
                }
            };
            let new: Vec<Turn> = from_segments(segments.get(seen..).unwrap_or_default());
            let now_seen = segments.len().max(seen);
            if !new.is_empty() {
                if let Err(e) = pipeline.push(new).await {
                    tracing::warn!(interview_id, error = %e, "notes: cannot summarise");
                }
            }
            if !ended {
                return Step::Fed(Box::new(pipeline), now_seen);
            }
            Step::Finished(Box::new(pipeline.finish().await))
        };
        ctx.spawn(work.into_actor(self).map(move |step, act, ctx| match step {
            Step::Fed(pipeline, seen) => {
                if let Some(s) = act.sessions.get_mut(&interview_id) {
                    s.pipeline = Some(*pipeline);
                    s.seen = seen;
                    if s.ended {
                        act.work(interview_id, ctx);
                    }
                }
            }
            Step::Finished(result) => {
                if let Some(session) = act.sessions.remove(&interview_id) {
                    act.deliver(interview_id, session, *result, ctx);
                }
            }
        }));
    }

    fn deliver(
        &mut self,
        interview_id: Id,
        session: Session,
        result: Result<super::NotesOutcome, NotesError>,
        ctx: &mut Context<Self>,
    ) {
        let written = match result {
            Ok(outcome) => {
                let text = render(
                    &outcome.notes,
                    &session.meta,
                    Omissions {
                        unsupported: outcome.grounding.unsupported,
                        protected: outcome.guard.total(),
                        assessed_until: outcome.assessed_until,
                    },
                );
                tracing::info!(
                    interview_id,
                    chunks = outcome.chunks.len(),
                    finish_ms = outcome.finish_ms,
                    unsupported_dropped = outcome.grounding.unsupported,
                    protected_removed = outcome.guard.total(),
                    assessed_until = outcome.assessed_until,
                    "notes written"
                );
                let enqueue = EnqueueNote {
                    interview_id,
                    candidate_id: session.candidate_id,
                    body: text.clone(),
                    visibility: self.visibility,
                };
                let poster = self.poster.clone();
                ctx.spawn(
                    async move {
                        match poster.send(enqueue).await {
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => tracing::error!(interview_id, error = %e, "notes: cannot queue the note"),
                            Err(e) => tracing::error!(interview_id, error = %e, "notes: the poster is gone"),
                        }
                    }
                    .into_actor(self),
                );
                NotesWritten {
                    interview_id,
                    result: Ok(text),
                    finish_ms: outcome.finish_ms,
                }
            }
            Err(e) => {
                tracing::error!(interview_id, error = %e, "notes could not be written");
                NotesWritten {
                    interview_id,
                    result: Err(e.to_string()),
                    finish_ms: 0,
                }
            }
        };
        for l in &self.listeners {
            l.do_send(written.clone());
        }
    }
}

impl Actor for SummarizerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(self.poll, |act, ctx| {
            let ids: Vec<Id> = act.sessions.keys().copied().collect();
            for id in ids {
                act.work(id, ctx);
            }
        });
    }
}

impl Handler<NotesRequested> for SummarizerActor {
    type Result = ();

    fn handle(&mut self, msg: NotesRequested, _ctx: &mut Self::Context) {
        if self.sessions.contains_key(&msg.interview_id) {
            return;
        }
        let ctx = PromptContext {
            candidate: msg
                .meta
                .candidate_name
                .clone()
                .unwrap_or_else(|| "the candidate".into()),
            interviewers: msg.meta.interviewers.clone(),
            questions: msg.meta.questions.clone(),
            job: msg.meta.job_name.clone(),
        };
        let pipeline = NotesPipeline::new(self.engine.clone(), self.options.clone(), ctx);
        let hang_up = pipeline.hang_up_signal();
        self.sessions.insert(
            msg.interview_id,
            Session {
                candidate_id: msg.candidate_id,
                meta: msg.meta,
                pipeline: Some(pipeline),
                seen: 0,
                ended: false,
                hang_up,
            },
        );
    }
}

impl Handler<TranscriptReady> for SummarizerActor {
    type Result = ();

    fn handle(&mut self, msg: TranscriptReady, ctx: &mut Self::Context) {
        let Ok(id) = msg.interview_id.parse::<Id>() else {
            tracing::warn!(interview_id = %msg.interview_id, "notes: not a Greenhouse interview id; no notes");
            return;
        };
        match self.sessions.get_mut(&id) {
            Some(s) => {
                s.ended = true;
                // Stops a chunk the model is still on, so the notes are finished now.
                s.hang_up.cancel();
                self.work(id, ctx);
            }
            None => tracing::warn!(
                interview_id = id,
                "notes: transcript ready but notes were never requested"
            ),
        }
    }
}

/// What the note says about an interview and whose activity feed it goes to, from the synced
/// Greenhouse data in the store: the scheduled interview, its application and candidate, the job,
/// and the kit of its stage interview.
pub async fn meta_from_store(
    store: &DynStore,
    interview_id: Id,
    public_url: &str,
) -> Result<Option<(Id, NoteMeta)>, crate::store::StoreError> {
    let Some(raw) = store.get_raw(EntityKind::Interview, interview_id).await? else {
        return Ok(None);
    };
    let interview: Interview = serde_json::from_slice(&raw)?;
    let application = match interview.application_id {
        Some(a) => store.get::<Application>(a).await?,
        None => None,
    };
    let Some(application) = application else {
        return Ok(None);
    };
    let Some(candidate_id) = application.candidate_id else {
        return Ok(None);
    };
    let candidate = store.get::<Candidate>(candidate_id).await?;
    let stage_interview = interview.interview.as_ref().map(|i| i.id);
    let mut questions = Vec::new();
    if let Some(si) = stage_interview {
        let from_stage = application
            .current_stage
            .as_ref()
            .and_then(|s| s.interviews.iter().find(|i| i.id == si))
            .and_then(|i| i.interview_kit.clone());
        let kit = match from_stage {
            Some(kit) => Some(kit),
            None => {
                let mut found = None;
                for id in store.list_ids(EntityKind::JobStage).await? {
                    if let Some(stage) = store.get::<JobStage>(id).await? {
                        if let Some(kit) = stage.kit_for(si) {
                            found = Some(kit.clone());
                            break;
                        }
                    }
                }
                found
            }
        };
        if let Some(kit) = kit {
            questions = kit
                .questions
                .iter()
                .map(|q| super::render::plain(&q.question))
                .filter(|q| !q.is_empty())
                .collect();
        }
    }
    let meta = NoteMeta {
        interview_id: interview_id.to_string(),
        interview_name: interview.title(),
        candidate_name: candidate.map(|c| c.display_name()),
        job_name: application.jobs.first().and_then(|j| j.name.clone()),
        date: interview.starts_at(),
        interviewers: interview
            .interviewers
            .iter()
            .filter_map(|i| i.name.clone())
            .collect(),
        questions,
        public_url: public_url.to_string(),
    };
    Ok(Some((candidate_id, meta)))
}
