//! What Janus says, parsed: core events on the long poll and the VideoRoom plugin's events inside them.
//!
//! Parsing is lenient on purpose: fields this bot does not use are ignored, and an event it does not know is
//! `Other`, so a newer Janus that adds fields or events does not break calls.

use std::fmt;

use serde_json::Value;

/// A VideoRoom room or feed id: numbers normally, strings on servers run with `string_ids = true`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedId {
    Num(u64),
    Str(String),
}

impl FeedId {
    /// A number when it reads as one: the URL cannot tell `1234` from `"1234"`, and numeric ids are the
    /// default.
    pub fn parse(s: &str) -> Self {
        s.parse()
            .map_or_else(|_| FeedId::Str(s.to_owned()), FeedId::Num)
    }

    pub fn from_json(v: &Value) -> Option<Self> {
        match v {
            Value::Number(n) => n.as_u64().map(FeedId::Num),
            Value::String(s) => Some(FeedId::Str(s.clone())),
            _ => None,
        }
    }

    pub fn to_json(&self) -> Value {
        match self {
            FeedId::Num(n) => Value::from(*n),
            FeedId::Str(s) => Value::from(s.as_str()),
        }
    }
}

impl fmt::Display for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeedId::Num(n) => write!(f, "{n}"),
            FeedId::Str(s) => f.write_str(s),
        }
    }
}

/// One event from the long poll.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreEvent {
    /// A plugin event on one of our handles, with the SDP it carries (Janus offers to subscribers).
    Plugin {
        sender: u64,
        transaction: Option<String>,
        data: Value,
        jsep: Option<Jsep>,
    },
    /// Janus closed the handle's PeerConnection (ICE/DTLS failure, or the plugin hung up).
    Hangup { sender: u64, reason: String },
    /// The handle is gone on the server.
    Detached { sender: u64 },
    /// The handle's PeerConnection is up, as Janus sees it.
    WebrtcUp { sender: u64 },
    /// Keepalives, acks, media and slow-link notices: nothing to act on.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jsep {
    /// "offer" or "answer".
    pub kind: String,
    pub sdp: String,
}

impl CoreEvent {
    pub fn parse(v: &Value) -> Self {
        let janus = v.get("janus").and_then(Value::as_str).unwrap_or_default();
        let sender = v.get("sender").and_then(Value::as_u64).unwrap_or_default();
        match janus {
            "event" => CoreEvent::Plugin {
                sender,
                transaction: v
                    .get("transaction")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                data: v
                    .pointer("/plugindata/data")
                    .cloned()
                    .unwrap_or(Value::Null),
                jsep: v.get("jsep").and_then(|j| {
                    Some(Jsep {
                        kind: j.get("type")?.as_str()?.to_owned(),
                        sdp: j.get("sdp")?.as_str()?.to_owned(),
                    })
                }),
            },
            "hangup" => CoreEvent::Hangup {
                sender,
                reason: v
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            },
            "detached" => CoreEvent::Detached { sender },
            "webrtcup" => CoreEvent::WebrtcUp { sender },
            other => CoreEvent::Other(other.to_owned()),
        }
    }
}

/// A stream a publisher offers (from `joined` and `publishers` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedStream {
    pub mid: String,
    pub audio: bool,
    /// Muted at the source or not negotiated: subscribing to it is silently skipped by Janus.
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub id: FeedId,
    pub display: Option<String>,
    /// A placeholder publisher some rooms keep for pre-allocated subscriptions; never a person.
    pub dummy: bool,
    pub streams: Vec<PublishedStream>,
}

/// One m-line of our subscription (from `attached` and `updated` events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribedStream {
    pub mid: String,
    pub audio: bool,
    /// Whose media this m-line carries; `None` once the publisher is gone (the m-line is inactive and may be
    /// recycled for someone else later).
    pub feed: Option<FeedId>,
    pub feed_display: Option<String>,
}

/// What a VideoRoom event means for a subscribing bot. One Janus event may carry several.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// Our publisher-less participant is in the room; these are the active publishers.
    Joined {
        id: Option<FeedId>,
        /// Ties our subscriptions to our participant; rooms created with `require_pvtid` insist on it.
        private_id: Option<u64>,
        publishers: Vec<Publisher>,
    },
    /// Publishers became active.
    Publishers(Vec<Publisher>),
    /// A publisher stopped publishing (or their PeerConnection went away).
    Unpublished(FeedId),
    /// A participant left the room (or was kicked).
    Left(FeedId),
    /// We are out of the room: kicked, or our `leave` took effect.
    WeLeft,
    /// The room no longer exists.
    Destroyed,
    /// Our subscription's layout, after `join` (attached) or a renegotiation (updated). `None`: the update
    /// changed nothing in the SDP.
    Layout(Option<Vec<SubscribedStream>>),
    /// A request failed.
    Error { code: i64, reason: String },
    /// Anything else (started, updating, talking, ...).
    Other,
}

/// Splits a VideoRoom plugin event into what it means.
pub fn room_events(data: &Value) -> Vec<RoomEvent> {
    let kind = data
        .get("videoroom")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
        let reason = data
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown error")
            .to_owned();
        return vec![RoomEvent::Error { code, reason }];
    }
    match kind {
        "joined" => {
            return vec![RoomEvent::Joined {
                id: data.get("id").and_then(FeedId::from_json),
                private_id: data.get("private_id").and_then(Value::as_u64),
                publishers: publishers(data.get("publishers")),
            }]
        }
        "destroyed" => return vec![RoomEvent::Destroyed],
        "attached" | "updated" => {
            let streams = data
                .get("streams")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(subscribed_stream).collect());
            return vec![RoomEvent::Layout(streams)];
        }
        _ => {}
    }
    let mut out = Vec::new();
    if data.get("publishers").is_some() {
        out.push(RoomEvent::Publishers(publishers(data.get("publishers"))));
    }
    // Our own unpublish/leave is acknowledged with "ok" where others' carry their id.
    if let Some(id) = data.get("unpublished").and_then(FeedId::from_json) {
        if data.get("unpublished").and_then(Value::as_str) != Some("ok") {
            out.push(RoomEvent::Unpublished(id));
        }
    }
    for key in ["leaving", "kicked"] {
        match data.get(key) {
            Some(Value::String(s)) if s == "ok" => out.push(RoomEvent::WeLeft),
            Some(v) => {
                if let Some(id) = FeedId::from_json(v) {
                    out.push(RoomEvent::Left(id));
                }
            }
            None => {}
        }
    }
    if out.is_empty() {
        out.push(RoomEvent::Other);
    }
    out
}

fn publishers(v: Option<&Value>) -> Vec<Publisher> {
    let Some(list) = v.and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|p| {
            Some(Publisher {
                id: FeedId::from_json(p.get("id")?)?,
                display: p.get("display").and_then(Value::as_str).map(str::to_owned),
                dummy: p.get("dummy").and_then(Value::as_bool).unwrap_or(false),
                streams: p
                    .get("streams")
                    .and_then(Value::as_array)
                    .map(|s| {
                        s.iter()
                            .filter_map(|s| {
                                Some(PublishedStream {
                                    mid: mid_of(s.get("mid")?)?,
                                    audio: s.get("type").and_then(Value::as_str) == Some("audio"),
                                    disabled: s
                                        .get("disabled")
                                        .and_then(Value::as_bool)
                                        .unwrap_or(false),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

fn subscribed_stream(s: &Value) -> Option<SubscribedStream> {
    let active = s.get("active").and_then(Value::as_bool).unwrap_or(true);
    let feed = if active {
        s.get("feed_id").and_then(FeedId::from_json)
    } else {
        None
    };
    Some(SubscribedStream {
        mid: mid_of(s.get("mid")?)?,
        audio: s.get("type").and_then(Value::as_str) == Some("audio"),
        feed_display: feed
            .as_ref()
            .and(s.get("feed_display"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        feed,
    })
}

/// Mids are strings in SDP, but some Janus versions send small numeric ones as numbers.
fn mid_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_joined_event_with_publishers() {
        let data = json!({
            "videoroom": "joined", "room": 1234, "id": 99, "private_id": 5,
            "publishers": [
                {"id": 7, "display": "Kate Austen (Interviewer)", "streams": [
                    {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus"},
                    {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8"}]},
                {"id": 8, "dummy": true, "streams": []}
            ]
        });
        let events = room_events(&data);
        let [RoomEvent::Joined {
            id,
            private_id,
            publishers,
        }] = events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert_eq!(id, &Some(FeedId::Num(99)));
        assert_eq!(private_id, &Some(5));
        assert_eq!(publishers.len(), 2);
        assert_eq!(
            publishers[0].display.as_deref(),
            Some("Kate Austen (Interviewer)")
        );
        assert!(publishers[0].streams[0].audio && !publishers[0].streams[1].audio);
        assert!(publishers[1].dummy);
    }

    #[test]
    fn tells_others_leaving_from_our_own() {
        let e = room_events(&json!({"videoroom": "event", "room": 1, "unpublished": 7}));
        assert_eq!(e, vec![RoomEvent::Unpublished(FeedId::Num(7))]);
        let e = room_events(&json!({"videoroom": "event", "room": 1, "leaving": 7}));
        assert_eq!(e, vec![RoomEvent::Left(FeedId::Num(7))]);
        let e = room_events(&json!({"videoroom": "event", "leaving": "ok", "reason": "kicked"}));
        assert_eq!(e, vec![RoomEvent::WeLeft]);
        let e = room_events(&json!({"videoroom": "event", "unpublished": "ok"}));
        assert_eq!(e, vec![RoomEvent::Other]);
        let e = room_events(&json!({"videoroom": "destroyed", "room": 1}));
        assert_eq!(e, vec![RoomEvent::Destroyed]);
        let e = room_events(
            &json!({"videoroom": "event", "error_code": 426, "error": "No such room (9)"}),
        );
        assert_eq!(
            e,
            vec![RoomEvent::Error {
                code: 426,
                reason: "No such room (9)".into()
            }]
        );
    }

    #[test]
    fn layouts_map_mids_to_feeds_and_drop_inactive_ones() {
        let data = json!({"videoroom": "updated", "room": 1, "streams": [
            {"mindex": 0, "mid": "0", "type": "audio", "feed_id": 7, "feed_mid": "0",
             "feed_display": "Kate", "send": true, "ready": true, "active": true},
            {"mindex": 1, "mid": "1", "type": "audio", "active": false},
            {"mindex": 2, "mid": "2", "type": "audio", "feed_id": "bob", "feed_display": "Bob"}
        ]});
        let events = room_events(&data);
        let [RoomEvent::Layout(Some(streams))] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(streams[0].feed, Some(FeedId::Num(7)));
        assert_eq!(streams[0].feed_display.as_deref(), Some("Kate"));
        assert_eq!(streams[1].feed, None);
        assert_eq!(streams[2].feed, Some(FeedId::Str("bob".into())));
        assert_eq!(
            room_events(&json!({"videoroom": "updated"})),
            vec![RoomEvent::Layout(None)]
        );
    }

    #[test]
    fn parses_core_events() {
        let v = json!({"janus": "event", "session_id": 1, "sender": 22, "transaction": "t1",
            "plugindata": {"plugin": "janus.plugin.videoroom", "data": {"videoroom": "attached"}},
            "jsep": {"type": "offer", "sdp": "v=0\r\n"}});
        let CoreEvent::Plugin {
            sender,
            transaction,
            data,
            jsep,
        } = CoreEvent::parse(&v)
        else {
            panic!()
        };
        assert_eq!((sender, transaction.as_deref()), (22, Some("t1")));
        assert_eq!(data["videoroom"], "attached");
        assert_eq!(jsep.unwrap().kind, "offer");
        let v = json!({"janus": "hangup", "sender": 22, "reason": "DTLS alert"});
        assert_eq!(
            CoreEvent::parse(&v),
            CoreEvent::Hangup {
                sender: 22,
                reason: "DTLS alert".into()
            }
        );
        assert_eq!(
            CoreEvent::parse(&json!({"janus": "keepalive"})),
            CoreEvent::Other("keepalive".into())
        );
    }
}
