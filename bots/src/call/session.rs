//! `CallSession`: the event stream of one joined call, plus the handle to leave it.

use std::pin::Pin;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::Stream;
use tokio::sync::mpsc;

use super::{CallEvent, LeaveError, ParticipantStats};

/// What a connector implements behind a `CallSession`.
#[async_trait]
pub trait SessionControl: Send + Sync {
    /// Leaves the call; the event stream then ends with `Disconnected { reason: Left }`.
    async fn leave(&self) -> Result<(), LeaveError>;

    /// A snapshot of each track's media counters.
    fn stats(&self) -> Vec<ParticipantStats>;
}

/// One joined call: a `Stream` of `CallEvent`s that ends after `Disconnected`.
pub struct CallSession {
    events: mpsc::Receiver<CallEvent>,
    control: Box<dyn SessionControl>,
}

impl CallSession {
    pub fn new(events: mpsc::Receiver<CallEvent>, control: Box<dyn SessionControl>) -> Self {
        Self { events, control }
    }

    /// The next event, or `None` once the session has ended and every event was read.
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    pub async fn leave(&self) -> Result<(), LeaveError> {
        self.control.leave().await
    }

    pub fn stats(&self) -> Vec<ParticipantStats> {
        self.control.stats()
    }
}

impl Stream for CallSession {
    type Item = CallEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CallEvent>> {
        self.events.poll_recv(cx)
    }
}

impl std::fmt::Debug for CallSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSession").finish_non_exhaustive()
    }
}
