//! The test room: a small WHEP server on webrtc-rs that plays simulated participants from WAV files.
//!
//! Each POST gets its own session that plays the same call (every participant on one track named by its
//! stream id, joining and leaving at set times). The room can refuse joins, delay answers and cut sessions on
//! command, so tests and benchmarks exercise the bot's failure paths over real UDP on 127.0.0.1.

mod config;
mod http;
mod session;
mod source;

pub use config::{RoomConfig, RoomParticipant};
pub use source::{encode_pcm, read_wav, AudioSource, EncodedAudio, SourceError};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use url::Url;

use session::{Cast, RoomSession};

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("participant id {0:?} is not an SDP token (letters, digits, - _ . only)")]
    BadParticipantId(String),
    #[error("room name {0:?} does not fit in a URL path")]
    BadName(String),
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("encoding task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("WebRTC: {0}")]
    WebRtc(#[from] webrtc::Error),
}

/// What the room has seen, for tests to wait on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomStats {
    pub created: u64,
    pub deleted: u64,
    pub refused: u64,
    pub cut: u64,
}

impl RoomStats {
    pub fn active(&self) -> u64 {
        self.created - self.deleted - self.cut
    }
}

pub struct TestRoom;

impl TestRoom {
    /// Encodes every source, binds the HTTP listener and starts serving.
    pub async fn start(config: RoomConfig) -> Result<RoomHandle, RoomError> {
        for p in &config.participants {
            let ok = !p.id.is_empty()
                && p.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !ok {
                return Err(RoomError::BadParticipantId(p.id.clone()));
            }
        }
        let specs = config.participants.clone();
        let cast = tokio::task::spawn_blocking(move || {
            specs
                .into_iter()
                .map(|spec| {
                    let audio = Arc::new(spec.source.encode()?);
                    Ok(Cast { spec, audio })
                })
                .collect::<Result<Vec<_>, SourceError>>()
        })
        .await??;
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| RoomError::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| RoomError::Bind {
            addr: config.bind,
            source,
        })?;
        let url = Url::parse(&format!("http://{addr}/whep/{}", config.name))
            .map_err(|_| RoomError::BadName(config.name.clone()))?;
        let shared = Arc::new(Shared {
            behaviour: Mutex::new((config.refuse_with, config.answer_delay)),
            config,
            cast,
            sessions: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stats: watch::channel(RoomStats::default()).0,
            stop: Notify::new(),
        });
        tokio::spawn(serve(listener, Arc::clone(&shared)));
        Ok(RoomHandle { shared, addr, url })
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = shared.stop.notified() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let svc = service_fn(move |req| http::handle(Arc::clone(&shared), req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "room HTTP connection");
            }
        });
    }
}

pub(crate) struct Shared {
    config: RoomConfig,
    cast: Vec<Cast>,
    /// Refusal status and answer delay, changeable while running.
    behaviour: Mutex<(Option<u16>, Duration)>,
    sessions: Mutex<HashMap<u64, RoomSession>>,
    next_id: AtomicU64,
    stats: watch::Sender<RoomStats>,
    stop: Notify,
}

impl Shared {
    fn behaviour(&self) -> (Option<u16>, Duration) {
        self.behaviour
            .lock()
            .map(|b| *b)
            .unwrap_or((Some(503), Duration::ZERO))
    }

    fn update_stats(&self, f: impl FnOnce(&mut RoomStats)) {
        self.stats.send_modify(f);
    }

    async fn create(&self, offer: String) -> Result<(u64, String), webrtc::Error> {
        let (session, answer) = session::answer(&self.config.network, &self.cast, offer).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.sessions.lock() {
            s.insert(id, session);
        }
        self.update_stats(|s| s.created += 1);
        Ok((id, answer))
    }

    async fn delete(&self, id: u64) -> bool {
        let session = self.sessions.lock().ok().and_then(|mut s| s.remove(&id));
        match session {
            Some(s) => {
                s.close().await;
                self.update_stats(|s| s.deleted += 1);
                true
            }
            None => false,
        }
    }

    fn take_all(&self) -> Vec<RoomSession> {
        self.sessions
            .lock()
            .map(|mut s| s.drain().map(|(_, v)| v).collect())
            .unwrap_or_default()
    }
}

/// Controls a running room. Cloneable; the room runs until `shutdown`.
#[derive(Clone)]
pub struct RoomHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    url: Url,
}

impl RoomHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn whep_url(&self) -> Url {
        self.url.clone()
    }

    /// Refuse new joins with this status (`None` accepts again).
    pub fn refuse_with(&self, status: Option<u16>) {
        if let Ok(mut b) = self.shared.behaviour.lock() {
            b.0 = status;
        }
    }

    pub fn delay_answers(&self, delay: Duration) {
        if let Ok(mut b) = self.shared.behaviour.lock() {
            b.1 = delay;
        }
    }

    /// Drops every live session mid-call: playback stops and its connection closes, with no RTCP BYE and no
    /// HTTP notice, as when a media server restarts. The bot notices through ICE consent failing.
    pub async fn cut_all(&self) -> usize {
        let sessions = self.shared.take_all();
        let n = sessions.len();
        for s in sessions {
            s.close().await;
        }
        self.shared.update_stats(|s| s.cut += n as u64);
        n
    }

    /// Ids of the live sessions (the last path segment of each session URL).
    pub fn session_ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .shared
            .sessions
            .lock()
            .map(|s| s.keys().copied().collect())
            .unwrap_or_default();
        ids.sort_unstable();
        ids
    }

    /// Cuts one session as `cut_all` does; false if no such session is live.
    pub async fn cut(&self, id: u64) -> bool {
        let session = self
            .shared
            .sessions
            .lock()
            .ok()
            .and_then(|mut s| s.remove(&id));
        let Some(session) = session else {
            return false;
        };
        session.close().await;
        self.shared.update_stats(|s| s.cut += 1);
        true
    }

    pub fn stats(&self) -> RoomStats {
        self.shared.stats.borrow().clone()
    }

    /// Waits until `pred` holds for the stats, or `timeout`; returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, pred: impl Fn(&RoomStats) -> bool) -> bool {
        let mut rx = self.shared.stats.subscribe();
        let held = tokio::time::timeout(timeout, rx.wait_for(|s| pred(s)))
            .await
            .is_ok_and(|r| r.is_ok());
        held
    }

    /// Stops accepting and closes every session.
    pub async fn shutdown(&self) {
        self.shared.stop.notify_waiters();
        for s in self.shared.take_all() {
            s.close().await;
        }
    }
}
