//! A Janus VideoRoom publisher that plays Opus audio: the people in the interop test and the benchmark.
//!
//! It is an ordinary webrtc-rs offerer (`join` as publisher, then `publish` with an offer; Janus answers),
//! so the bot under test meets real publishers through Janus and never the project's own test room.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use url::Url;
use webrtc::media::Sample;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;
use webrtc::peer_connection::sdp::session_description::RTCSessionDescription;
use webrtc::peer_connection::RTCPeerConnection;
use webrtc::rtp_transceiver::rtp_transceiver_direction::RTCRtpTransceiverDirection;
use webrtc::rtp_transceiver::RTCRtpTransceiverInit;
use webrtc::track::track_local::track_local_static_sample::TrackLocalStaticSample;

use super::api::{ApiError, HandleId, JanusApi, SessionId};
use super::events::{room_events, CoreEvent, FeedId, Jsep, RoomEvent};
use super::VIDEOROOM;
use crate::netpolicy::{GuardedHttp, NetworkPolicy};
use crate::room::EncodedAudio;
use crate::rtc::{self, NetworkSettings};

pub(crate) const FRAME: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum PublisherError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("WebRTC: {0}")]
    WebRtc(#[from] webrtc::Error),
    #[error("Janus refused: {0}")]
    Refused(String),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl PublisherError {
    pub fn is_retryable(&self) -> bool {
        match self {
            PublisherError::Api(e) => e.is_retryable(),
            PublisherError::Timeout(_) => true,
            PublisherError::WebRtc(_) | PublisherError::Refused(_) => false,
        }
    }
}

/// Who publishes what.
#[derive(Debug, Clone)]
pub struct PublisherSpec {
    /// The Janus HTTP API root (`http://host:8088/janus`).
    pub api: Url,
    pub room: FeedId,
    pub display: String,
    pub audio: Arc<EncodedAudio>,
    /// Start again at the end (load tests); otherwise the publisher goes quiet, still in the room.
    pub loop_audio: bool,
    pub network: NetworkSettings,
    pub timeout: Duration,
}

/// A connected publisher. Audio starts with `play`, so a test can first let the bot subscribe and then
/// hear the source from its first packet.
pub struct JanusPublisher {
    api: JanusApi,
    session: SessionId,
    handle: HandleId,
    pc: Arc<RTCPeerConnection>,
    feed: FeedId,
    go: watch::Sender<bool>,
    /// Sends the audio; ends with it unless it loops.
    player: Option<JoinHandle<u64>>,
    tasks: Vec<JoinHandle<()>>,
}

/// How to publish: `PublisherSpec` for lab publishers, and what the bot's announcer adds to it.
pub(crate) struct Publish<'a> {
    pub room: &'a FeedId,
    pub pin: Option<&'a str>,
    /// The feed id to publish as, so the bot's own subscription can leave it out.
    pub id: Option<&'a FeedId>,
    pub display: &'a str,
    pub audio: Arc<EncodedAudio>,
    pub loop_audio: bool,
    pub network: &'a NetworkSettings,
    pub timeout: Duration,
    /// Media addresses in Janus's answer are filtered by this (the bot's); lab publishers take any.
    pub policy: Option<&'a NetworkPolicy>,
}

impl JanusPublisher {
    /// Joins, publishes and waits until the PeerConnection is up.
    pub async fn start(spec: PublisherSpec) -> Result<Self, PublisherError> {
        // A lab tool publishing into a Janus the test started: loopback and private networks are fine.
        let http = GuardedHttp::new(NetworkPolicy::local(), spec.timeout)
            .map_err(|e| ApiError::Transport(e.to_string()))?;
        let api = JanusApi::new(http, spec.api.clone(), None, spec.timeout);
        Self::start_on(
            api,
            Publish {
                room: &spec.room,
                pin: None,
                id: None,
                display: &spec.display,
                audio: Arc::clone(&spec.audio),
                loop_audio: spec.loop_audio,
                network: &spec.network,
                timeout: spec.timeout,
                policy: None,
            },
        )
        .await
    }

    /// Joins and publishes through `api` (its network policy and token), in a session of its own.
    pub(crate) async fn start_on(api: JanusApi, p: Publish<'_>) -> Result<Self, PublisherError> {
        let session = api.create_session().await?;
        match Self::publish(&api, session, &p).await {
            Ok(p) => Ok(p),
            Err(e) => {
                let _ = api.destroy(session).await;
                Err(e)
            }
        }
    }

    async fn publish(
        api: &JanusApi,
        session: SessionId,
        spec: &Publish<'_>,
    ) -> Result<Self, PublisherError> {
        let handle = api.attach(session, VIDEOROOM).await?;
        let mut join = json!({"request": "join", "ptype": "publisher", "room": spec.room.to_json(),
            "display": spec.display});
        if let Some(pin) = spec.pin {
            join["pin"] = Value::from(pin);
        }
        if let Some(id) = spec.id {
            join["id"] = id.to_json();
        }
        api.message(session, handle, join, None).await?;
        let (data, _) = wait_for(api, session, handle, spec.timeout, "joined", |d, _| {
            d.get("videoroom").and_then(Value::as_str) == Some("joined")
        })
        .await?;
        let feed = data
            .get("id")
            .and_then(FeedId::from_json)
            .ok_or_else(|| PublisherError::Refused(format!("joined without an id: {data}")))?;

        let pc = rtc::new_peer_connection(spec.network).await?;
        let track = Arc::new(TrackLocalStaticSample::new(
            rtc::opus_codec(),
            "audio".to_owned(),
            format!("feed{feed}"),
        ));
        pc.add_transceiver_from_track(
            Arc::clone(&track) as _,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Sendonly,
                send_encodings: vec![],
            }),
        )
        .await?;
        let (state_tx, mut state_rx) = watch::channel(RTCPeerConnectionState::New);
        pc.on_peer_connection_state_change(Box::new(move |s| {
            state_tx.send_replace(s);
            Box::pin(async {})
        }));
        let offer = rtc::gathered_offer(&pc, spec.timeout).await?;
        let publish = json!({"request": "publish", "audiocodec": "opus"});
        let jsep = Jsep {
            kind: "offer".into(),
            sdp: offer,
        };
        let ready = async {
            api.message(session, handle, publish, Some(jsep)).await?;
            let (_, answer) = wait_for(api, session, handle, spec.timeout, "the answer", |_, j| {
                j.is_some_and(|j| j.kind == "answer")
            })
            .await?;
            let answer = answer.ok_or(PublisherError::Timeout("the answer"))?;
            let sdp = match spec.policy {
                // The bot's own media must go only where its network policy allows.
                Some(policy) => crate::whep::media_within_policy(
                    policy,
                    api.base().host_str().unwrap_or_default(),
                    &answer.sdp,
                )
                .map_err(|e| PublisherError::Refused(e.to_string()))?,
                None => answer.sdp,
            };
            pc.set_remote_description(RTCSessionDescription::answer(sdp)?)
                .await?;
            let up = state_rx.wait_for(|s| {
                matches!(
                    s,
                    RTCPeerConnectionState::Connected | RTCPeerConnectionState::Failed
                )
            });
            match tokio::time::timeout(spec.timeout, up).await {
                Ok(Ok(s)) if *s == RTCPeerConnectionState::Connected => Ok(()),
                _ => Err(PublisherError::Timeout("the publisher to connect")),
            }
        }
        .await;
        if let Err(e) = ready {
            let _ = pc.close().await;
            return Err(e);
        }

        let (go, go_rx) = watch::channel(false);
        let player = tokio::spawn(play(track, Arc::clone(&spec.audio), spec.loop_audio, go_rx));
        Ok(Self {
            api: api.clone(),
            session,
            handle,
            pc,
            feed,
            go,
            player: Some(player),
            tasks: vec![tokio::spawn(drain_events(api.clone(), session))],
        })
    }

    /// The feed id other participants know this publisher by.
    pub fn feed(&self) -> &FeedId {
        &self.feed
    }

    /// Starts sending the audio from its first packet.
    pub fn play(&self) {
        self.go.send_replace(true);
    }

    /// Plays the audio once from its start and waits until its last packet is sent; the number of
    /// packets sent (0 when the player stopped early).
    pub async fn play_through(&mut self) -> u64 {
        self.play();
        match self.player.take() {
            Some(player) => player.await.unwrap_or(0),
            None => 0,
        }
    }

    /// Leaves the room the way a person hanging up does (others get `unpublished` and `leaving`).
    pub async fn leave(mut self) {
        if let Err(e) = self
            .api
            .message(self.session, self.handle, json!({"request": "leave"}), None)
            .await
        {
            tracing::debug!(error = %e, "publisher leave");
        }
        self.close().await;
    }

    async fn close(&mut self) {
        self.stop_tasks();
        let _ = self.api.destroy(self.session).await;
        let _ = self.pc.close().await;
    }

    fn stop_tasks(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        if let Some(player) = self.player.take() {
            player.abort();
        }
    }
}

impl Drop for JanusPublisher {
    /// Dropped without `leave`: no task may go on keeping the session alive (Janus then times it out).
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

/// Reads the long poll until an event on `handle` satisfies `done`; a VideoRoom error there fails.
async fn wait_for(
    api: &JanusApi,
    session: SessionId,
    handle: HandleId,
    limit: Duration,
    what: &'static str,
    done: impl Fn(&Value, Option<&Jsep>) -> bool,
) -> Result<(Value, Option<Jsep>), PublisherError> {
    let deadline = Instant::now() + limit;
    loop {
        let events = tokio::time::timeout_at(deadline, api.poll(session))
            .await
            .map_err(|_| PublisherError::Timeout(what))??;
        for raw in events {
            let CoreEvent::Plugin {
                sender, data, jsep, ..
            } = CoreEvent::parse(&raw)
            else {
                continue;
            };
            if sender != handle.0 {
                continue;
            }
            if let Some(RoomEvent::Error { code, reason }) = room_events(&data).into_iter().next() {
                return Err(PublisherError::Refused(format!("{code}: {reason}")));
            }
            if done(&data, jsep.as_ref()) {
                return Ok((data, jsep));
            }
        }
    }
}

/// Keeps the session alive and its event queue empty while the publisher plays.
async fn drain_events(api: JanusApi, session: SessionId) {
    loop {
        let _ = api.keepalive(session).await;
        let polled = tokio::time::timeout(Duration::from_secs(20), api.poll(session)).await;
        if let Ok(Err(e)) = polled {
            tracing::debug!(error = %e, "publisher long poll");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Sends one packet per 20 ms once `go` is set. Late ticks burst to catch up, so the rate is exact.
async fn play(
    track: Arc<TrackLocalStaticSample>,
    audio: Arc<EncodedAudio>,
    loop_audio: bool,
    mut go: watch::Receiver<bool>,
) -> u64 {
    if go.wait_for(|g| *g).await.is_err() {
        return 0;
    }
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut i = 0usize;
    loop {
        tick.tick().await;
        let data = match audio.packets.get(i) {
            Some(p) => p.clone(),
            None if loop_audio && !audio.packets.is_empty() => {
                i = 0;
                audio.packets[0].clone()
            }
            None => return i as u64,
        };
        i += 1;
        let sample = Sample {
            data,
            duration: FRAME,
            ..Default::default()
        };
        if let Err(e) = track.write_sample(&sample).await {
            tracing::debug!(error = %e, "publisher write failed");
        }
    }
}
