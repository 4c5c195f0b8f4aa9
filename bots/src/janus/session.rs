//! The task that owns a joined Janus call: the long poll, the subscriber PeerConnection and its
//! renegotiations, the roster, and one track task per participant's audio.
//!
//! Everything happens on this one task, in the order Janus said it, so the roster is always up to date when
//! a track that needs naming arrives (the layout comes with the offer, the track only after the answer).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_receiver::RTCRtpReceiver;
use webrtc::rtp_transceiver::RTCRtpTransceiver;
use webrtc::track::track_remote::TrackRemote;

use super::api::{ApiError, HandleId, JanusApi, SessionId, SESSION_NOT_FOUND};
use super::events::{room_events, CoreEvent, FeedId, Jsep, RoomEvent};
use super::roster::{mid_from_track_id, Roster, StreamRequest};
use super::target::JanusTarget;
use super::{JanusSettings, VIDEOROOM};
use crate::call::{
    CallEvent, DisconnectReason, JoinError, JoinStage, LeaveError, ParticipantId, ParticipantStats,
    SessionControl,
};
use crate::recorder::CallRecorder;
use crate::rtc;
use crate::track::{self, run_track, StatsList, TrackContext, TrackOwner, TrackStats};

/// Long-poll failures in a row (transport errors) before the server counts as gone.
const POLL_RETRIES: u32 = 3;

pub enum Internal {
    Event(CoreEvent),
    /// The long poll cannot go on: the session is gone or the server unreachable.
    PollEnded(ApiError),
    Track(RemoteTrack),
    State(RTCPeerConnectionState),
    Leave(oneshot::Sender<Result<(), LeaveError>>),
}

/// `SessionControl` for Janus: talks to the driver task.
pub struct JanusControl {
    pub internal: mpsc::UnboundedSender<Internal>,
    pub stats: StatsList,
}

#[async_trait]
impl SessionControl for JanusControl {
    async fn leave(&self) -> Result<(), LeaveError> {
        let (tx, rx) = oneshot::channel();
        self.internal
            .send(Internal::Leave(tx))
            .map_err(|_| LeaveError::AlreadyEnded)?;
        rx.await.map_err(|_| LeaveError::AlreadyEnded)?
    }

    fn stats(&self) -> Vec<ParticipantStats> {
        track::snapshot_all(&self.stats)
    }
}

/// A remote track as webrtc-rs hands it over.
pub struct RemoteTrack {
    pub track: Arc<TrackRemote>,
    pub receiver: Arc<RTCRtpReceiver>,
    pub transceiver: Arc<RTCRtpTransceiver>,
}

/// One of our m-lines with a track on it, and whose audio its task reads.
///
/// Janus keeps an m-line's SSRC when it recycles the line for another publisher, so webrtc-rs sees the same
/// track and fires no new `on_track`: the driver itself restarts the task under the new owner.
struct Line {
    remote: RemoteTrack,
    /// The feed the running task reads for; `None` once the signalling ended it.
    feed: Option<FeedId>,
    stop: Option<oneshot::Sender<()>>,
}

impl Line {
    fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.feed = None;
    }
}

/// Where the join stands.
enum Phase {
    /// `join()` waits for the outcome here.
    Joining(oneshot::Sender<Result<(), JoinError>>),
    Running,
}

/// The subscriber handle, created when the first publisher with audio is seen.
enum Subscriber {
    None,
    /// `join` sent; waiting for the first offer.
    Joining {
        handle: HandleId,
        asked: Vec<StreamRequest>,
    },
    Ready {
        handle: HandleId,
    },
}

impl Subscriber {
    fn handle(&self) -> Option<HandleId> {
        match self {
            Subscriber::None => None,
            Subscriber::Joining { handle, .. } | Subscriber::Ready { handle } => Some(*handle),
        }
    }
}

/// Why the loop stops.
enum Stop {
    /// Still joining: `join()` returns this error.
    Failed(JoinError),
    Ended(DisconnectReason),
    Leave(oneshot::Sender<Result<(), LeaveError>>),
}

pub struct Driver {
    pub api: JanusApi,
    pub session: SessionId,
    /// The publisher-less participant: room notifications (publishers, leaving, destroyed) arrive here.
    pub notify: HandleId,
    /// The bot's own notice publisher: never subscribed to.
    pub ignored_feed: Option<FeedId>,
    pub target: JanusTarget,
    pub settings: Arc<JanusSettings>,
    pub internal_tx: mpsc::UnboundedSender<Internal>,
    pub internal: mpsc::UnboundedReceiver<Internal>,
    pub events: mpsc::Sender<CallEvent>,
    pub ready: oneshot::Sender<Result<(), JoinError>>,
    pub record_dir: Option<PathBuf>,
    pub record_key: Option<crate::recorder::RecordingKey>,
    pub stats: StatsList,
}

struct State {
    phase: Phase,
    deadline: Option<(Instant, JoinStage)>,
    sub: Subscriber,
    pc: Option<Arc<RTCPeerConnection>>,
    private_id: Option<u64>,
    /// Streams to ask for once the subscriber's first negotiation is done.
    queued: Vec<StreamRequest>,
    roster: Roster,
    tracks: JoinSet<()>,
    /// Tracks that arrived before `Joined` was sent; started right after it.
    early_tracks: Vec<RemoteTrack>,
    /// By mid (or track label where the transceiver has none).
    lines: HashMap<String, Line>,
    recorder: Option<CallRecorder>,
    call_start: Instant,
    next_key: u64,
    background: Vec<JoinHandle<()>>,
}

impl Driver {
    pub async fn run(self) {
        let Driver {
            api,
            session,
            notify,
            ignored_feed,
            target,
            settings,
            internal_tx,
            mut internal,
            events,
            ready,
            record_dir,
            record_key,
            stats,
        } = self;
        let mut ctx = Ctx {
            api,
            session,
            notify,
            target,
            settings,
            internal_tx,
            events,
            record_dir,
            record_key,
            stats,
        };
        let mut st = State {
            phase: Phase::Joining(ready),
            deadline: None,
            sub: Subscriber::None,
            private_id: None,
            pc: None,
            queued: Vec::new(),
            roster: Roster::with_limit(ctx.settings.max_streams).ignoring(ignored_feed),
            tracks: JoinSet::new(),
            early_tracks: Vec::new(),
            lines: HashMap::new(),
            recorder: None,
            call_start: Instant::now(),
            next_key: 0,
            background: Vec::new(),
        };
        st.background.push(tokio::spawn(poll_loop(
            ctx.api.clone(),
            ctx.session,
            ctx.internal_tx.clone(),
        )));
        st.background.push(tokio::spawn(keepalive_loop(
            ctx.api.clone(),
            ctx.session,
            ctx.settings.keepalive,
        )));

        let stop = match ctx.send_join(&mut st).await {
            Err(stop) => stop,
            Ok(()) => ctx.event_loop(&mut st, &mut internal).await,
        };
        match stop {
            Stop::Failed(e) => ctx.fail(&mut st, e).await,
            Stop::Ended(reason) => {
                let _ = ctx.end(&mut st, reason).await;
            }
            Stop::Leave(reply) => {
                let res = ctx.end(&mut st, DisconnectReason::Left).await;
                let _ = reply.send(res);
            }
        }
    }
}

/// The driver's fixed parts, apart from the mutable `State` so both can be borrowed at once.
struct Ctx {
    api: JanusApi,
    session: SessionId,
    notify: HandleId,
    target: JanusTarget,
    settings: Arc<JanusSettings>,
    internal_tx: mpsc::UnboundedSender<Internal>,
    events: mpsc::Sender<CallEvent>,
    record_dir: Option<PathBuf>,
    record_key: Option<crate::recorder::RecordingKey>,
    stats: StatsList,
}

impl Ctx {
    async fn event_loop(
        &mut self,
        st: &mut State,
        internal: &mut mpsc::UnboundedReceiver<Internal>,
    ) -> Stop {
        loop {
            let deadline = st.deadline;
            let running = matches!(st.phase, Phase::Running);
            let msg = tokio::select! {
                m = internal.recv() => m,
                () = sleep_until_opt(deadline.map(|d| d.0)) => {
                    let stage = deadline.map_or(JoinStage::Signalling, |d| d.1);
                    return Stop::Failed(JoinError::Timeout { stage });
                }
                Some(_) = st.tracks.join_next(), if !st.tracks.is_empty() => continue,
                // Nobody reads the session any more: leave rather than hold a seat in the room.
                () = self.events.closed(), if running => return Stop::Ended(DisconnectReason::Left),
            };
            // The driver holds a sender itself, so the channel never closes under it.
            let Some(msg) = msg else {
                return Stop::Ended(DisconnectReason::Left);
            };
            if let Err(stop) = self.handle(st, msg).await {
                return stop;
            }
        }
    }

    async fn handle(&mut self, st: &mut State, msg: Internal) -> Result<(), Stop> {
        match msg {
            Internal::Event(CoreEvent::Plugin {
                sender, data, jsep, ..
            }) => {
                for event in room_events(&data) {
                    self.on_room_event(st, sender, event, jsep.as_ref()).await?;
                }
                Ok(())
            }
            Internal::Event(CoreEvent::Hangup { sender, reason }) => {
                if Some(HandleId(sender)) == st.sub.handle() {
                    tracing::info!(%reason, "Janus hung up the subscription");
                    return Err(lost(
                        st,
                        JoinError::IceFailed,
                        DisconnectReason::ConnectionLost,
                    ));
                }
                Ok(())
            }
            Internal::Event(CoreEvent::Detached { sender }) => {
                if HandleId(sender) == self.notify || Some(HandleId(sender)) == st.sub.handle() {
                    return Err(lost(
                        st,
                        JoinError::Transport("Janus detached the handle".into()),
                        DisconnectReason::RemoteClosed,
                    ));
                }
                Ok(())
            }
            Internal::Event(CoreEvent::WebrtcUp { .. } | CoreEvent::Other(_)) => Ok(()),
            Internal::PollEnded(e) => {
                tracing::info!(error = %e, "Janus long poll ended");
                Err(lost(
                    st,
                    e.into_join_error(),
                    DisconnectReason::ConnectionLost,
                ))
            }
            Internal::Track(remote) => {
                match st.phase {
                    Phase::Joining(_) => st.early_tracks.push(remote),
                    Phase::Running => self.on_track(st, remote),
                }
                Ok(())
            }
            Internal::State(RTCPeerConnectionState::Connected) => {
                if matches!(st.phase, Phase::Joining(_)) {
                    self.become_ready(st).await?;
                }
                Ok(())
            }
            Internal::State(RTCPeerConnectionState::Failed) => Err(lost(
                st,
                JoinError::IceFailed,
                DisconnectReason::ConnectionLost,
            )),
            Internal::State(_) => Ok(()),
            Internal::Leave(reply) => Err(Stop::Leave(reply)),
        }
    }

    async fn on_room_event(
        &mut self,
        st: &mut State,
        sender: u64,
        event: RoomEvent,
        jsep: Option<&Jsep>,
    ) -> Result<(), Stop> {
        let from_notify = HandleId(sender) == self.notify;
        let from_sub = Some(HandleId(sender)) == st.sub.handle();
        match event {
            RoomEvent::Joined {
                publishers,
                private_id,
                ..
            } if from_notify => {
                st.private_id = private_id;
                let asks = st.roster.publishers_appeared(&publishers);
                if asks.is_empty() {
                    // An empty room: nothing to connect yet; the subscription starts with the first
                    // publisher.
                    self.become_ready(st).await?;
                } else {
                    self.subscribe(st, asks).await?;
                }
            }
            RoomEvent::Publishers(publishers) => {
                let asks = st.roster.publishers_appeared(&publishers);
                if !asks.is_empty() {
                    self.subscribe(st, asks).await?;
                }
            }
            RoomEvent::Unpublished(feed) | RoomEvent::Left(feed) => {
                st.roster.feed_gone(&feed);
                st.queued.retain(|r| r.feed != feed);
                // Ends the feed's tracks now: Janus renegotiates their m-lines away too, but the signalling
                // is the authority on who left, and an m-line may idle for a while before it is removed.
                for line in st.lines.values_mut() {
                    if line.feed.as_ref() == Some(&feed) {
                        line.stop();
                    }
                }
            }
            RoomEvent::WeLeft if from_notify => {
                return Err(lost(
                    st,
                    rejected("removed from the room".into()),
                    DisconnectReason::RemoteClosed,
                ));
            }
            RoomEvent::Destroyed => {
                return Err(lost(
                    st,
                    rejected("the room was destroyed".into()),
                    DisconnectReason::RemoteClosed,
                ));
            }
            RoomEvent::Layout(streams) if from_sub => {
                if let Some(streams) = streams {
                    st.roster.set_layout(&streams);
                    self.relayout(st).await;
                }
                if let Some(offer) = jsep.filter(|j| j.kind == "offer") {
                    self.answer(st, offer.sdp.clone()).await?;
                }
            }
            RoomEvent::Error { code, reason } => {
                let reason = format!("Janus VideoRoom {code}: {reason}");
                if from_notify && matches!(st.phase, Phase::Joining(_)) {
                    return Err(Stop::Failed(rejected(reason)));
                }
                if from_sub {
                    if let Subscriber::Joining { asked, .. } = &st.sub {
                        // The subscription never started (say, its only publisher left meanwhile): those
                        // streams may be asked for again when announced again, and anyone queued behind
                        // them is asked for now on a fresh subscriber handle.
                        st.roster.forget(asked);
                        st.sub = Subscriber::None;
                        if matches!(st.phase, Phase::Joining(_)) {
                            return Err(Stop::Failed(rejected(reason)));
                        }
                        tracing::warn!(%reason, "Janus refused the subscription");
                        let queued = std::mem::take(&mut st.queued);
                        if !queued.is_empty() {
                            self.subscribe(st, queued).await?;
                        }
                        return Ok(());
                    }
                }
                tracing::warn!(%reason, "Janus refused a request");
            }
            _ => {}
        }
        Ok(())
    }

    /// The publisher-less `join`: makes the bot a participant, so it hears about publishers.
    async fn send_join(&mut self, st: &mut State) -> Result<(), Stop> {
        let mut body = json!({
            "request": "join",
            "ptype": "publisher",
            "room": self.target.room.to_json(),
            "display": self.display_name(),
        });
        self.add_pin(&mut body);
        self.api
            .message(self.session, self.notify, body, None)
            .await
            .map_err(|e| Stop::Failed(e.into_join_error()))?;
        st.deadline = Some((
            Instant::now() + self.settings.signalling_timeout,
            JoinStage::Signalling,
        ));
        Ok(())
    }

    /// Asks for more streams: the first ask creates the subscriber handle, later ones update it.
    async fn subscribe(&mut self, st: &mut State, asks: Vec<StreamRequest>) -> Result<(), Stop> {
        let streams: Vec<Value> = asks.iter().map(StreamRequest::to_json).collect();
        match &st.sub {
            Subscriber::None => {
                let handle = self
                    .api
                    .attach(self.session, VIDEOROOM)
                    .await
                    .map_err(|e| lost(st, e.into_join_error(), DisconnectReason::ConnectionLost))?;
                let mut body = json!({
                    "request": "join",
                    "ptype": "subscriber",
                    "room": self.target.room.to_json(),
                    "streams": streams,
                });
                self.add_pin(&mut body);
                if let Some(id) = st.private_id {
                    body["private_id"] = Value::from(id);
                }
                self.api
                    .message(self.session, handle, body, None)
                    .await
                    .map_err(|e| lost(st, e.into_join_error(), DisconnectReason::ConnectionLost))?;
                st.sub = Subscriber::Joining {
                    handle,
                    asked: asks,
                };
                if matches!(st.phase, Phase::Joining(_)) {
                    st.deadline = Some((
                        Instant::now() + self.settings.signalling_timeout,
                        JoinStage::Signalling,
                    ));
                }
            }
            Subscriber::Joining { .. } => st.queued.extend(asks),
            Subscriber::Ready { handle } => {
                let body = json!({"request": "subscribe", "streams": streams});
                if let Err(e) = self.api.message(self.session, *handle, body, None).await {
                    // The feed may have gone between its announcement and our request; a lost session shows
                    // up on the long poll.
                    tracing::warn!(error = %e, "Janus subscribe failed");
                    st.roster.forget(&asks);
                }
            }
        }
        Ok(())
    }

    /// Answers an offer (the first, or a renegotiation) with `start`.
    async fn answer(&mut self, st: &mut State, offer: String) -> Result<(), Stop> {
        let Some(handle) = st.sub.handle() else {
            return Ok(());
        };
        let pc = match &st.pc {
            Some(pc) => Arc::clone(pc),
            None => {
                let pc = self
                    .new_peer_connection()
                    .await
                    .map_err(|e| lost(st, webrtc_error(e), DisconnectReason::ConnectionLost))?;
                st.pc = Some(Arc::clone(&pc));
                pc
            }
        };
        let offer = crate::whep::media_within_policy(
            &self.settings.policy,
            self.target.api.host_str().unwrap_or_default(),
            &offer,
        )
        .map_err(|e| lost(st, e, DisconnectReason::ConnectionLost))?;
        let answer = rtc::gathered_answer(&pc, offer, self.settings.gather_timeout)
            .await
            .map_err(|e| {
                lost(
                    st,
                    JoinError::BadAnswer(format!("Janus offer: {e}")),
                    DisconnectReason::ConnectionLost,
                )
            })?;
        let jsep = Jsep {
            kind: "answer".into(),
            sdp: answer,
        };
        self.api
            .message(
                self.session,
                handle,
                json!({"request": "start"}),
                Some(jsep),
            )
            .await
            .map_err(|e| lost(st, e.into_join_error(), DisconnectReason::ConnectionLost))?;
        if let Subscriber::Joining { .. } = st.sub {
            st.sub = Subscriber::Ready { handle };
            if matches!(st.phase, Phase::Joining(_)) {
                st.deadline = Some((
                    Instant::now() + self.settings.connect_timeout,
                    JoinStage::Connecting,
                ));
            }
            let queued = std::mem::take(&mut st.queued);
            if !queued.is_empty() {
                self.subscribe(st, queued).await?;
            }
        }
        Ok(())
    }

    async fn new_peer_connection(&self) -> Result<Arc<RTCPeerConnection>, webrtc::Error> {
        let pc = rtc::new_peer_connection(&self.settings.network).await?;
        // Handlers only hold channel senders, never the connection, so no reference cycle keeps it alive.
        let tx = self.internal_tx.clone();
        pc.on_track(Box::new(move |track, receiver, transceiver| {
            let _ = tx.send(Internal::Track(RemoteTrack {
                track,
                receiver,
                transceiver,
            }));
            Box::pin(async {})
        }));
        let tx = self.internal_tx.clone();
        pc.on_peer_connection_state_change(Box::new(move |state| {
            let _ = tx.send(Internal::State(state));
            Box::pin(async {})
        }));
        Ok(pc)
    }

    /// The join succeeded: the call clock starts, `Joined` goes out first, then any early tracks.
    async fn become_ready(&mut self, st: &mut State) -> Result<(), Stop> {
        let Phase::Joining(ready) = std::mem::replace(&mut st.phase, Phase::Running) else {
            return Ok(());
        };
        st.deadline = None;
        st.call_start = Instant::now();
        st.recorder = track::start_recording(
            self.record_dir.as_deref(),
            self.settings.recorder,
            self.record_key.clone(),
        );
        let joined = self.events.send(CallEvent::Joined).await.is_ok();
        if !joined || ready.send(Ok(())).is_err() {
            // `join()` was abandoned: nobody will ever read this session.
            return Err(Stop::Ended(DisconnectReason::Left));
        }
        for remote in std::mem::take(&mut st.early_tracks) {
            self.on_track(st, remote);
        }
        Ok(())
    }

    /// A new track from webrtc-rs: it replaces whatever track its m-line had.
    fn on_track(&self, st: &mut State, remote: RemoteTrack) {
        let key = remote
            .transceiver
            .mid()
            .map(|m| m.to_string())
            .or_else(|| mid_from_track_id(&remote.track.id()).map(str::to_owned))
            .unwrap_or_else(|| format!("ssrc{}", remote.track.ssrc()));
        if let Some(mut old) = st.lines.remove(&key) {
            old.stop();
        }
        self.start_line(st, key, remote);
    }

    /// After a layout change: a line now carrying someone else's audio gets a task for them.
    async fn relayout(&self, st: &mut State) {
        let keys: Vec<String> = st.lines.keys().cloned().collect();
        for key in keys {
            let owner = st.roster.owner_of(&key).map(|(feed, _)| feed);
            let Some(line) = st.lines.get_mut(&key) else {
                continue;
            };
            if owner == line.feed {
                continue;
            }
            line.stop();
            if owner.is_none() {
                continue;
            }
            // A receiver webrtc-rs replaced (the SSRC changed) ends on its own; its successor comes
            // through `on_track`.
            let current = line.remote.transceiver.receiver().await;
            if !Arc::ptr_eq(&current, &line.remote.receiver) {
                continue;
            }
            if let Some(line) = st.lines.remove(&key) {
                self.start_line(st, key, line.remote);
            }
        }
    }

    /// Starts a task reading `remote` for whoever the roster says owns `key`'s m-line.
    fn start_line(&self, st: &mut State, key: String, remote: RemoteTrack) {
        let (feed, owner) = match st.roster.owner_of(&key) {
            Some(found) => found,
            None => {
                // Janus only sends media on m-lines its layout named; keep the audio under a stable
                // placeholder rather than drop it.
                let label = format!("janus-mid-{key}");
                tracing::warn!(%label, "a track no publisher owns");
                (
                    FeedId::Str(label.clone()),
                    TrackOwner {
                        id: ParticipantId(label.clone()),
                        display_name: label,
                    },
                )
            }
        };
        st.next_key += 1;
        let stats = Arc::new(TrackStats::default());
        if let Ok(mut list) = self.stats.lock() {
            list.push(Arc::clone(&stats));
        }
        let (stop_tx, stop_rx) = oneshot::channel();
        let ctx = TrackContext {
            key: st.next_key,
            call_start: st.call_start,
            events: self.events.clone(),
            recorder: st.recorder.as_ref().map(CallRecorder::handle),
            stats,
            pipeline: self.settings.pipeline,
            stop: Some(stop_rx),
            // Janus's own events say who left; a quiet publisher is still there.
            idle_timeout: None,
        };
        st.tracks.spawn(run_track(
            Arc::clone(&remote.track),
            Arc::clone(&remote.receiver),
            owner,
            ctx,
        ));
        st.lines.insert(
            key,
            Line {
                remote,
                feed: Some(feed),
                stop: Some(stop_tx),
            },
        );
    }

    /// A join that did not complete: frees the server session and reports why.
    async fn fail(&mut self, st: &mut State, e: JoinError) {
        // A failed destroy was logged; the session times out on the server in any case.
        let _ = self.close(st).await;
        if let Phase::Joining(ready) = std::mem::replace(&mut st.phase, Phase::Running) {
            let _ = ready.send(Err(e));
        }
    }

    /// Closes everything in order: server session, connection, track tasks, recording; `Disconnected` last.
    /// The session is destroyed whatever the reason: after a lost connection Janus may still hold our seat.
    async fn end(&mut self, st: &mut State, reason: DisconnectReason) -> Result<(), LeaveError> {
        let res = self.close(st).await;
        st.lines.clear();
        track::drain(&mut st.tracks).await;
        track::finish_recording(st.recorder.take()).await;
        let _ = self.events.send(CallEvent::Disconnected { reason }).await;
        res
    }

    async fn close(&mut self, st: &mut State) -> Result<(), LeaveError> {
        for task in st.background.drain(..) {
            task.abort();
        }
        let res = match self.api.destroy(self.session).await {
            Ok(()) => Ok(()),
            // Already gone on the server: that is what leaving wants.
            Err(ApiError::Janus {
                code: SESSION_NOT_FOUND,
                ..
            }) => Ok(()),
            Err(e) => {
                tracing::info!(error = %e, "Janus session destroy not confirmed");
                Err(LeaveError::NotConfirmed(e.to_string()))
            }
        };
        if let Some(pc) = st.pc.take() {
            if let Err(e) = pc.close().await {
                tracing::debug!(error = %e, "closing the peer connection");
            }
        }
        res
    }

    fn display_name(&self) -> String {
        self.settings.display_for(&self.target)
    }

    fn add_pin(&self, body: &mut Value) {
        if let Some(pin) = &self.target.pin {
            body["pin"] = Value::from(pin.as_str());
        }
    }
}

/// The stop for something that went wrong: a join error while joining, else the end of the call.
fn lost(st: &State, join: JoinError, reason: DisconnectReason) -> Stop {
    match st.phase {
        Phase::Joining(_) => Stop::Failed(join),
        Phase::Running => Stop::Ended(reason),
    }
}

fn rejected(reason: String) -> JoinError {
    JoinError::Rejected {
        reason,
        retryable: false,
    }
}

pub fn webrtc_error(e: webrtc::Error) -> JoinError {
    JoinError::WebRtc(e.to_string())
}

/// Long-polls events into the driver until the session is gone or the driver stops listening.
async fn poll_loop(api: JanusApi, session: SessionId, tx: mpsc::UnboundedSender<Internal>) {
    let mut failures = 0u32;
    loop {
        match api.poll(session).await {
            Ok(events) => {
                failures = 0;
                for raw in events {
                    let event = CoreEvent::parse(&raw);
                    if matches!(event, CoreEvent::Other(_)) {
                        continue;
                    }
                    if tx.send(Internal::Event(event)).is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                failures += 1;
                let gone = matches!(e, ApiError::Janus { .. } | ApiError::Http(_));
                if gone || failures >= POLL_RETRIES {
                    let _ = tx.send(Internal::PollEnded(e));
                    return;
                }
                tracing::debug!(error = %e, failures, "Janus long poll failed; retrying");
                tokio::time::sleep(Duration::from_millis(300) * failures).await;
            }
        }
    }
}

async fn keepalive_loop(api: JanusApi, session: SessionId, every: Duration) {
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    loop {
        tick.tick().await;
        if let Err(e) = api.keepalive(session).await {
            // A session that is really gone shows up on the long poll; one lost keepalive is harmless.
            tracing::debug!(error = %e, "Janus keepalive failed");
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
