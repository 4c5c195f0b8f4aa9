//! The spoken notice: the bot tells the room it records, in its own voice, right after joining.
//!
//! The bot's main participant never publishes (Janus tells it about publishers that way, and its one
//! subscriber PeerConnection stays receive-only), so the notice is published by a second participant
//! under the bot's display name, with a feed id chosen here that the bot's own subscription leaves
//! out. It joins, plays the notice once, and leaves, like a person who says one sentence.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::api::JanusApi;
use super::events::FeedId;
use super::publisher::{JanusPublisher, Publish, FRAME};
use super::target::JanusTarget;
use super::JanusSettings;
use crate::call::NoticeOutcome;
use crate::room::EncodedAudio;

/// Largest id a JavaScript client of the same room can hold exactly (Janus ids are JSON numbers).
const MAX_SAFE_ID: u64 = (1 << 53) - 1;

/// A fresh feed id for the announcer, of the kind the room uses (numbers unless its ids are strings).
pub fn announcer_feed(room: &FeedId) -> FeedId {
    // std's per-process random hasher keys: enough to make a clash with another feed in one room
    // vanishingly rare, and a clash is refused by Janus (reported as a failed notice), not misrouted.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let n = (h.finish() & MAX_SAFE_ID).max(1);
    match room {
        FeedId::Num(_) => FeedId::Num(n),
        FeedId::Str(_) => FeedId::Str(format!("panelist-notice-{n:x}")),
    }
}

/// Publishes `audio` once as `display` with feed id `feed`, then leaves.
pub async fn announce(
    api: JanusApi,
    target: JanusTarget,
    display: String,
    feed: FeedId,
    audio: Arc<EncodedAudio>,
    settings: Arc<JanusSettings>,
) -> NoticeOutcome {
    let publish = Publish {
        room: &target.room,
        pin: target.pin.as_deref(),
        id: Some(&feed),
        display: &display,
        audio,
        loop_audio: false,
        network: &settings.network,
        timeout: settings.connect_timeout.max(settings.signalling_timeout),
        policy: Some(&settings.policy),
    };
    let mut publisher = match JanusPublisher::start_on(api, publish).await {
        Ok(p) => p,
        Err(e) => return NoticeOutcome::Failed(format!("cannot publish the notice: {e}")),
    };
    // Everyone else's client subscribes to a new publisher first (a renegotiation); speaking at
    // once would cut the start of the notice off for them.
    tokio::time::sleep(settings.notice_lead).await;
    let sent = publisher.play_through().await;
    // The last packets are still on their way through the SFU.
    tokio::time::sleep(Duration::from_millis(300)).await;
    publisher.leave().await;
    if sent == 0 {
        return NoticeOutcome::Failed("the notice could not be played".into());
    }
    let duration = FRAME * u32::try_from(sent).unwrap_or(u32::MAX);
    tracing::info!(
        seconds = duration.as_secs_f32(),
        packets = sent,
        "spoken notice delivered"
    );
    NoticeOutcome::Delivered {
        duration,
        speaker: display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcer_ids_follow_the_rooms_id_kind_and_differ() {
        let a = announcer_feed(&FeedId::Num(1234));
        let b = announcer_feed(&FeedId::Num(1234));
        assert!(matches!(a, FeedId::Num(n) if n > 0 && n <= MAX_SAFE_ID));
        assert_ne!(a, b);
        assert!(
            matches!(announcer_feed(&FeedId::Str("lobby".into())), FeedId::Str(s) if s.starts_with("panelist-notice-"))
        );
    }
}
