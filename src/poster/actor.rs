//! `GreenhousePosterActor`: runs [`Poster`] steps on a timer and whenever a note is queued. A
//! drain (steps until nothing is due) runs as a spawned future, never inside a handler, and only
//! one at a time; results come back to the actor as counters for the dashboard.

use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;

use super::{Poster, PosterError, StepOutcome};
use crate::domain::Id;
use crate::greenhouse::Visibility;

/// Steps per drain, so a huge backlog cannot starve the actor's other messages.
const MAX_STEPS_PER_DRAIN: usize = 50;

/// A note was put in the outbox: try to post it now.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct NoteQueued {
    pub interview_id: Id,
}

/// Put a note in the outbox and try to post it. `Ok(false)`: the interview already has one.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<bool, PosterError>")]
pub struct EnqueueNote {
    pub interview_id: Id,
    pub candidate_id: Id,
    pub body: String,
    pub visibility: Visibility,
}

/// Put a failed note back in the queue and try it now (the dashboard's retry). `Ok(false)`: there
/// is no failed note for the interview.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "Result<bool, PosterError>")]
pub struct RequeueNote {
    pub interview_id: Id,
}

#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "PosterStats")]
pub struct GetPosterStats;

/// Counters since start, for metrics and the dashboard (the outbox itself is in the store).
#[derive(Debug, Clone, Default, PartialEq, Eq, MessageResponse)]
pub struct PosterStats {
    pub posted: u64,
    pub found_by_marker: u64,
    pub retries: u64,
    pub failed: u64,
    pub step_errors: u64,
}

pub struct GreenhousePosterActor {
    poster: Poster,
    interval: Duration,
    /// A drain is running; further triggers set `again` instead of starting another.
    draining: bool,
    again: bool,
    stats: PosterStats,
    /// `poster.enabled = false`: notes are kept in the outbox, not posted.
    paused: bool,
}

impl GreenhousePosterActor {
    pub fn new(poster: Poster, interval: Duration) -> Self {
        GreenhousePosterActor {
            poster,
            interval,
            draining: false,
            again: false,
            stats: PosterStats::default(),
            paused: false,
        }
    }

    /// Keeps queued notes in the outbox without posting them (`poster.enabled = false`); they go
    /// out once posting is enabled and the server restarted.
    pub fn paused(mut self, paused: bool) -> Self {
        self.paused = paused;
        self
    }

    fn drain(&mut self, ctx: &mut Context<Self>) {
        if self.paused {
            return;
        }
        if self.draining {
            self.again = true;
            return;
        }
        self.draining = true;
        self.again = false;
        let poster = self.poster.clone();
        let work = async move {
            let mut outcomes = Vec::new();
            for _ in 0..MAX_STEPS_PER_DRAIN {
                match poster.try_post_next(Utc::now()).await {
                    Ok(Some(o)) => outcomes.push(Ok(o)),
                    Ok(None) => break,
                    Err(e) => {
                        outcomes.push(Err(e));
                        break;
                    }
                }
            }
            outcomes
        };
        ctx.spawn(work.into_actor(self).map(|outcomes, act, ctx| {
            for o in outcomes {
                match o {
                    Ok(StepOutcome::Posted {
                        found_by_marker, ..
                    }) => {
                        act.stats.posted += 1;
                        if found_by_marker {
                            act.stats.found_by_marker += 1;
                        }
                    }
                    Ok(StepOutcome::Retrying { .. }) => act.stats.retries += 1,
                    Ok(StepOutcome::Failed { .. }) => act.stats.failed += 1,
                    Err(e) => {
                        act.stats.step_errors += 1;
                        tracing::warn!(error = %e, "poster step failed; retrying on the next tick");
                    }
                }
            }
            act.draining = false;
            if act.again {
                act.drain(ctx);
            }
        }));
    }
}

impl Actor for GreenhousePosterActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.paused {
            tracing::warn!(
                "posting to Greenhouse is off (poster.enabled = false): notes stay in the outbox"
            );
        }
        // Restarts resume the outbox: whatever is due goes out now.
        self.drain(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.drain(ctx));
    }
}

impl Handler<NoteQueued> for GreenhousePosterActor {
    type Result = ();

    fn handle(&mut self, msg: NoteQueued, ctx: &mut Self::Context) {
        tracing::debug!(interview_id = msg.interview_id, "note queued");
        self.drain(ctx);
    }
}

impl Handler<EnqueueNote> for GreenhousePosterActor {
    type Result = ResponseActFuture<Self, Result<bool, PosterError>>;

    fn handle(&mut self, msg: EnqueueNote, _ctx: &mut Self::Context) -> Self::Result {
        let poster = self.poster.clone();
        Box::pin(
            async move {
                poster
                    .enqueue(
                        msg.interview_id,
                        msg.candidate_id,
                        msg.body,
                        msg.visibility,
                        Utc::now(),
                    )
                    .await
            }
            .into_actor(self)
            .map(|result, act, ctx| {
                if matches!(result, Ok(true)) {
                    act.drain(ctx);
                }
                result
            }),
        )
    }
}

impl Handler<RequeueNote> for GreenhousePosterActor {
    type Result = ResponseActFuture<Self, Result<bool, PosterError>>;

    fn handle(&mut self, msg: RequeueNote, _ctx: &mut Self::Context) -> Self::Result {
        let poster = self.poster.clone();
        Box::pin(
            async move { poster.requeue(msg.interview_id, Utc::now()).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    if matches!(result, Ok(true)) {
                        act.drain(ctx);
                    }
                    result
                }),
        )
    }
}

impl Handler<GetPosterStats> for GreenhousePosterActor {
    type Result = PosterStats;

    fn handle(&mut self, _: GetPosterStats, _: &mut Self::Context) -> PosterStats {
        self.stats.clone()
    }
}
