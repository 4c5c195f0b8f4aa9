//! The media plane: joins video calls and captures each participant's audio.
//!
//! No actix, Greenhouse or Redis lives here. Layout: `call` is the connector-neutral API, `registry` picks a
//! connector by meeting URL, `whep` and `janus` are the connectors (WHEP egress; Janus VideoRoom), `rtc`
//! their shared WebRTC setup (offerer and answerer), `track` the per-track task every connector runs,
//! `netpolicy` where bots may connect (meeting URLs are untrusted), `audio` the pure receive path, `recorder` the durable Ogg/Opus writer, and `room` a WHEP test room that
//! tests, benchmarks and the demo play calls from.

pub mod audio;
pub mod call;
pub mod janus;
pub mod netpolicy;
pub mod platform;
pub mod recorder;
pub mod registry;
pub mod room;
pub mod rtc;
pub mod track;
pub mod whep;

pub use call::{
    BearerToken, CallConnector, CallEvent, CallSession, DisconnectReason, JoinError, JoinSpec,
    NoticeOutcome, ParticipantId, ParticipantStats, PcmFrame,
};
pub use netpolicy::{NetworkPolicy, UrlRefused};
pub use registry::ConnectorRegistry;
