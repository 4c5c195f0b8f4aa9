//! The Janus VideoRoom connector: joins a room through the Janus HTTP API and hears every publisher's audio
//! on one multistream subscription.
//!
//! URL: `janus+http://host:8088/janus?room=1234` (`janus+https://` for TLS; `&pin=` for a room PIN;
//! `&display=` for the name the bot shows). A bearer token is sent as Janus's API `token`.
//!
//! Flow: create a session and long-poll it (keepalives every 25 s); attach a handle that joins the room as a
//! participant that never publishes, which is how Janus tells anyone about publishers coming and going;
//! attach a second handle that subscribes (`ptype: subscriber`) to every publisher's audio stream. Janus
//! offers, the bot answers (`start`). A publisher who appears later is added with `subscribe`, after which
//! Janus sends a new offer that the bot answers the same way. Janus labels every track `janus janus<mid>`,
//! so who speaks on a track comes from the signalling: each offer's stream list maps mid → feed → display
//! name. A feed that unpublishes or leaves ends its tracks (`ParticipantLeft`); a destroyed room ends the
//! session (`Disconnected { RemoteClosed }`). Audio runs through the same track task, pipeline and
//! recorder as every connector.

mod announce;
mod api;
mod events;
pub mod local;
pub mod publisher;
mod roster;
mod session;
mod target;

pub use api::{ApiError, HandleId, JanusApi, SessionId};
pub use events::{room_events, CoreEvent, FeedId, Jsep, Publisher, RoomEvent};
pub use target::{JanusTarget, TargetError};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::audio::PipelineSettings;
use crate::call::{CallConnector, CallEvent, CallSession, JoinError, JoinSpec, NoticeOutcome};
use crate::netpolicy::{GuardedHttp, NetworkPolicy};
use crate::platform::Platform;
use crate::recorder::RecorderSettings;
use crate::rtc::NetworkSettings;
use session::{Driver, JanusControl};

/// The plugin package name to attach to.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

#[derive(Debug, Clone)]
pub struct JanusSettings {
    pub network: NetworkSettings,
    /// Where the Janus HTTP API may be: the URL's server and any redirect it answers with.
    pub policy: NetworkPolicy,
    /// What other participants see for the bot (unless the URL's `display=` says otherwise).
    pub display_name: String,
    /// Limit for each HTTP request, and for each asynchronous answer (joined, offer) to arrive.
    pub signalling_timeout: Duration,
    /// Limit for candidate gathering before the answer is sent anyway.
    pub gather_timeout: Duration,
    /// Limit for ICE + DTLS after the first answer.
    pub connect_timeout: Duration,
    /// How often to send a keepalive; Janus destroys sessions idle for `session_timeout` (60 s default).
    pub keepalive: Duration,
    pub pipeline: PipelineSettings,
    pub recorder: RecorderSettings,
    /// Events buffered for a slow consumer before track tasks wait (and the network buffers instead).
    pub event_buffer: usize,
    /// Most participants' audio streams subscribed at once; more are logged and left out.
    pub max_streams: usize,
    /// Wait between publishing the spoken notice and speaking it, for the others to subscribe.
    pub notice_lead: Duration,
}

impl JanusSettings {
    /// The name the bot shows in this room: the URL's `display=`, else the configured one.
    pub(crate) fn display_for(&self, target: &JanusTarget) -> String {
        target
            .display
            .clone()
            .unwrap_or_else(|| self.display_name.clone())
    }
}

impl Default for JanusSettings {
    fn default() -> Self {
        Self {
            network: NetworkSettings::default(),
            policy: NetworkPolicy::default(),
            display_name: "Panelist Notetaker".to_owned(),
            signalling_timeout: Duration::from_secs(10),
            gather_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(15),
            keepalive: Duration::from_secs(25),
            pipeline: PipelineSettings::default(),
            recorder: RecorderSettings::default(),
            event_buffer: 1024,
            max_streams: 16,
            notice_lead: Duration::from_millis(1500),
        }
    }
}

pub struct JanusConnector {
    settings: Arc<JanusSettings>,
    /// An error only if the TLS stack could not start; every join then fails with it.
    http: Result<GuardedHttp, String>,
}

impl JanusConnector {
    pub fn new(settings: JanusSettings) -> Self {
        let http = GuardedHttp::new(settings.policy.clone(), settings.signalling_timeout)
            .map_err(|e| format!("cannot build the HTTP client: {e}"));
        Self {
            settings: Arc::new(settings),
            http,
        }
    }
}

#[async_trait]
impl CallConnector for JanusConnector {
    fn platform(&self) -> Platform {
        Platform::Janus
    }

    async fn join(&self, spec: JoinSpec) -> Result<CallSession, JoinError> {
        let target = JanusTarget::parse(&spec.url).map_err(|e| match e {
            TargetError::Scheme => JoinError::UnsupportedPlatform {
                platform: Platform::of(&spec.url),
            },
            e => JoinError::BadAnswer(e.to_string()),
        })?;
        let http = self.http.clone().map_err(JoinError::WebRtc)?;
        http.policy().check_request(&target.api)?;
        let s = &self.settings;
        let api = JanusApi::new(
            http,
            target.api.clone(),
            spec.bearer_token.clone(),
            s.signalling_timeout,
        );
        let session = api
            .create_session()
            .await
            .map_err(ApiError::into_join_error)?;
        let notify = match api.attach(session, VIDEOROOM).await {
            Ok(h) => h,
            Err(e) => {
                // The session would otherwise idle on the server until its timeout.
                let _ = api.destroy(session).await;
                return Err(e.into_join_error());
            }
        };

        // The notice's publisher: an id fixed now, so the bot's own subscription never hears it.
        let notice = spec
            .notice
            .map(|audio| (audio, announce::announcer_feed(&target.room)));
        let (internal_tx, internal_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(s.event_buffer.max(16));
        let (ready_tx, ready_rx) = oneshot::channel();
        let stats = Arc::new(Mutex::new(Vec::new()));
        let display = s.display_for(&target);
        let announcer = notice.as_ref().map(|(audio, feed)| {
            (
                api.clone(),
                target.clone(),
                Arc::clone(audio),
                feed.clone(),
                events_tx.clone(),
            )
        });
        let driver = Driver {
            api,
            session,
            notify,
            ignored_feed: notice.map(|(_, feed)| feed),
            target,
            settings: Arc::clone(&self.settings),
            internal_tx: internal_tx.clone(),
            internal: internal_rx,
            events: events_tx,
            ready: ready_tx,
            record_dir: spec.record_dir,
            record_key: spec.record_key,
            stats: Arc::clone(&stats),
        };
        tokio::spawn(driver.run());
        // The driver enforces each stage's limit; it always answers.
        match ready_rx.await {
            Ok(Ok(())) => {
                if let Some((api, target, audio, feed, events)) = announcer {
                    let settings = Arc::clone(&self.settings);
                    // Not cancelled when the bot leaves: a notice is a few seconds, and a publisher
                    // cut off mid-way would hold a seat in the room until Janus times its session out.
                    tokio::spawn(async move {
                        let outcome =
                            announce::announce(api, target, display, feed, audio, settings).await;
                        if let NoticeOutcome::Failed(why) = &outcome {
                            tracing::warn!(%why, "spoken notice not delivered");
                        }
                        let _ = events.send(CallEvent::Notice(outcome)).await;
                    });
                }
                Ok(CallSession::new(
                    events_rx,
                    Box::new(JanusControl {
                        internal: internal_tx,
                        stats,
                    }),
                ))
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(JoinError::WebRtc("the Janus session task stopped".into())),
        }
    }
}
