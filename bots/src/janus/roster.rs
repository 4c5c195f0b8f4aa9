//! Who is who in a VideoRoom subscription: publisher feeds, the audio streams asked for, and which of our
//! m-lines (mids) carries whose audio.
//!
//! Janus labels every subscriber track `janus janus<mid>` (INTEROP.md), so the media alone cannot name
//! anyone; this map, built from the signalling, is the only source of participant names.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::events::{FeedId, Publisher, SubscribedStream};
use crate::call::ParticipantId;
use crate::track::TrackOwner;

/// One publisher stream to subscribe to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StreamRequest {
    pub feed: FeedId,
    pub mid: String,
}

impl StreamRequest {
    pub fn to_json(&self) -> Value {
        json!({"feed": self.feed.to_json(), "mid": self.mid})
    }
}

#[derive(Debug)]
pub struct Roster {
    displays: HashMap<FeedId, String>,
    /// Publisher streams subscribed to (or asked for), so a repeated `publishers` event adds nothing twice.
    requested: HashSet<StreamRequest>,
    /// Our m-lines as of the last `attached`/`updated`: mid → whose audio.
    mids: HashMap<String, FeedId>,
    /// Most audio streams subscribed at once: a room with hundreds of publishers (a webinar, or a
    /// hostile room) must not make the bot decode and record hundreds of streams.
    max_streams: usize,
    /// Feeds left out because of `max_streams` (each is logged once).
    over_limit: HashSet<FeedId>,
    /// The bot's own notice publisher: the bot must not record itself.
    ignored: Option<FeedId>,
}

impl Default for Roster {
    fn default() -> Self {
        Self::with_limit(usize::MAX)
    }
}

impl Roster {
    pub fn with_limit(max_streams: usize) -> Self {
        Roster {
            displays: HashMap::new(),
            requested: HashSet::new(),
            mids: HashMap::new(),
            max_streams: max_streams.max(1),
            over_limit: HashSet::new(),
            ignored: None,
        }
    }

    /// Leaves `feed` out of every subscription.
    pub fn ignoring(mut self, feed: Option<FeedId>) -> Self {
        self.ignored = feed;
        self
    }

    /// Publishers not listened to because the stream limit was reached.
    #[cfg(test)]
    pub fn over_limit(&self) -> usize {
        self.over_limit.len()
    }

    /// Records publishers and returns their audio streams not asked for yet. Video and data are never
    /// asked for: a note-taker only listens, and each stream costs the SFU bandwidth.
    pub fn publishers_appeared(&mut self, publishers: &[Publisher]) -> Vec<StreamRequest> {
        let mut new = Vec::new();
        for p in publishers
            .iter()
            .filter(|p| !p.dummy && self.ignored.as_ref() != Some(&p.id))
        {
            if let Some(d) = &p.display {
                self.displays.insert(p.id.clone(), d.clone());
            }
            for s in p.streams.iter().filter(|s| s.audio && !s.disabled) {
                let req = StreamRequest {
                    feed: p.id.clone(),
                    mid: s.mid.clone(),
                };
                if self.requested.contains(&req) {
                    continue;
                }
                if self.requested.len() >= self.max_streams {
                    if self.over_limit.insert(p.id.clone()) {
                        tracing::warn!(
                            feed = ?p.id,
                            limit = self.max_streams,
                            "participant not recorded: the call has more audio streams than bots.max_participants"
                        );
                    }
                    continue;
                }
                self.over_limit.remove(&p.id);
                self.requested.insert(req.clone());
                new.push(req);
            }
        }
        new
    }

    /// Forgets a feed that stopped publishing, so publishing again is subscribed to afresh, and its m-lines
    /// own nobody until a layout says otherwise.
    pub fn feed_gone(&mut self, feed: &FeedId) {
        self.requested.retain(|r| &r.feed != feed);
        self.mids.retain(|_, f| f != feed);
    }

    /// Forgets requests that Janus refused, so a later `publishers` event may ask again.
    pub fn forget(&mut self, requests: &[StreamRequest]) {
        for r in requests {
            self.requested.remove(r);
        }
    }

    /// Takes the subscription's current layout (every m-line, old and new).
    pub fn set_layout(&mut self, streams: &[SubscribedStream]) {
        self.mids.clear();
        for s in streams.iter().filter(|s| s.audio) {
            if let Some(feed) = &s.feed {
                if let Some(d) = &s.feed_display {
                    self.displays.insert(feed.clone(), d.clone());
                }
                self.mids.insert(s.mid.clone(), feed.clone());
            }
        }
    }

    /// Who the track on `mid` belongs to; `None` for an m-line no publisher feeds.
    pub fn owner_of(&self, mid: &str) -> Option<(FeedId, TrackOwner)> {
        let feed = self.mids.get(mid)?;
        let id = ParticipantId(feed.to_string());
        let display_name = self
            .displays
            .get(feed)
            .cloned()
            .unwrap_or_else(|| id.0.clone());
        Some((feed.clone(), TrackOwner { id, display_name }))
    }
}

/// The mid of a Janus track label (`janus<mid>`), for tracks whose transceiver has no mid yet.
pub fn mid_from_track_id(track_id: &str) -> Option<&str> {
    track_id.strip_prefix("janus").filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::janus::events::PublishedStream;

    fn publisher(id: u64, name: &str, streams: &[(&str, bool)]) -> Publisher {
        Publisher {
            id: FeedId::Num(id),
            display: Some(name.to_owned()),
            dummy: false,
            streams: streams
                .iter()
                .map(|(mid, audio)| PublishedStream {
                    mid: (*mid).to_owned(),
                    audio: *audio,
                    disabled: false,
                })
                .collect(),
        }
    }

    #[test]
    fn asks_for_each_audio_stream_once() {
        let mut r = Roster::default();
        let kate = publisher(7, "Kate", &[("0", true), ("1", false)]);
        let new = r.publishers_appeared(std::slice::from_ref(&kate));
        assert_eq!(
            new,
            vec![StreamRequest {
                feed: FeedId::Num(7),
                mid: "0".into()
            }]
        );
        assert!(r
            .publishers_appeared(std::slice::from_ref(&kate))
            .is_empty());
        r.feed_gone(&FeedId::Num(7));
        assert_eq!(
            r.publishers_appeared(&[kate]).len(),
            1,
            "republishing subscribes again"
        );
        let mut dummy = publisher(9, "placeholder", &[("0", true)]);
        dummy.dummy = true;
        assert!(r.publishers_appeared(&[dummy]).is_empty());
    }

    #[test]
    fn the_bots_own_notice_feed_is_never_asked_for() {
        let mut r = Roster::default().ignoring(Some(FeedId::Num(99)));
        let asks = r.publishers_appeared(&[
            publisher(99, "Panelist Notetaker", &[("0", true)]),
            publisher(7, "Kate", &[("0", true)]),
        ]);
        assert_eq!(asks.len(), 1);
        assert_eq!(asks[0].feed, FeedId::Num(7));
    }

    #[test]
    fn names_tracks_by_mid_through_the_layout() {
        let mut r = Roster::default();
        r.publishers_appeared(&[publisher(7, "Kate Austen (Interviewer)", &[("0", true)])]);
        r.set_layout(&[
            SubscribedStream {
                mid: "0".into(),
                audio: true,
                feed: Some(FeedId::Num(7)),
                feed_display: None,
            },
            SubscribedStream {
                mid: "1".into(),
                audio: true,
                feed: Some(FeedId::Num(8)),
                feed_display: Some("John Locke".into()),
            },
            SubscribedStream {
                mid: "2".into(),
                audio: true,
                feed: None,
                feed_display: None,
            },
        ]);
        let (feed, owner) = r.owner_of("0").unwrap();
        assert_eq!(feed, FeedId::Num(7));
        assert_eq!(owner.id, ParticipantId("7".into()));
        assert_eq!(owner.display_name, "Kate Austen (Interviewer)");
        assert_eq!(r.owner_of("1").unwrap().1.display_name, "John Locke");
        assert!(r.owner_of("2").is_none());
        assert_eq!(mid_from_track_id("janus1"), Some("1"));
        assert_eq!(mid_from_track_id("janus"), None);
    }

    #[test]
    fn streams_beyond_the_limit_are_left_out_and_counted() {
        let mut r = Roster::with_limit(2);
        let first = r.publishers_appeared(&[
            publisher(1, "A", &[("0", true)]),
            publisher(2, "B", &[("0", true)]),
            publisher(3, "C", &[("0", true)]),
        ]);
        assert_eq!(first.len(), 2);
        assert_eq!(r.over_limit(), 1);
        // A slot frees up when a feed leaves; the next announcement takes the waiting publisher.
        r.feed_gone(&FeedId::Num(1));
        let again = r.publishers_appeared(&[publisher(3, "C", &[("0", true)])]);
        assert_eq!(
            again,
            vec![StreamRequest {
                feed: FeedId::Num(3),
                mid: "0".into()
            }]
        );
        assert_eq!(r.over_limit(), 0);
    }
}
