//! The Janus connector against Debian's `janus` (VideoRoom), with webrtc-rs publishers, all inside a
//! private network namespace that each test makes for itself (Janus never offers loopback candidates).
//!
//! Each test re-runs this binary for itself under `unshare -n` (see `common::in_netns`); where namespaces
//! cannot be made it is skipped with a loud message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use common::{best_ncc_wide, in_netns, listen, speech, to_16k, tone, Heard};
use panelist_bots::janus::local::{setup_namespace, JanusOptions, JanusProcess};
use panelist_bots::janus::publisher::{JanusPublisher, PublisherSpec};
use panelist_bots::janus::{FeedId, JanusApi, JanusConnector, JanusSettings};
use panelist_bots::netpolicy::{GuardedHttp, NetworkPolicy};
use panelist_bots::recorder::CallManifest;
use panelist_bots::room::{encode_pcm, read_wav, EncodedAudio};
use panelist_bots::rtc::NetworkSettings;
use panelist_bots::whep::{WhepConnector, WhepSettings};
use panelist_bots::{
    ConnectorRegistry, DisconnectReason, JoinError, JoinSpec, NoticeOutcome, ParticipantId,
};
use serde_json::json;

const ROOM: u64 = 1234;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Janus plus what every test needs; prints Janus's log if the test fails.
struct Lab {
    janus: JanusProcess,
    addr: IpAddr,
}

impl Lab {
    async fn start() -> Self {
        let addr = setup_namespace().unwrap();
        let janus = JanusProcess::start(JanusOptions::default()).await.unwrap();
        Self { janus, addr }
    }

    fn network(&self) -> NetworkSettings {
        NetworkSettings::only(vec![self.addr])
    }

    fn connector(&self) -> JanusConnector {
        JanusConnector::new(JanusSettings {
            network: self.network(),
            // Janus listens on the namespace's private address.
            policy: NetworkPolicy::local(),
            ..JanusSettings::default()
        })
    }

    async fn publisher(
        &self,
        room: u64,
        display: &str,
        audio: Arc<EncodedAudio>,
    ) -> JanusPublisher {
        JanusPublisher::start(PublisherSpec {
            api: self.janus.api_url(),
            room: FeedId::Num(room),
            display: display.to_owned(),
            audio,
            loop_audio: false,
            network: self.network(),
            timeout: Duration::from_secs(10),
        })
        .await
        .unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- janus log (last 60 lines) ---\n{}",
                self.janus.log_tail(60)
            );
        }
    }
}

fn id(feed: &FeedId) -> ParticipantId {
    ParticipantId(feed.to_string())
}

#[test]
fn janus_publishers_are_named_heard_and_one_leaving_is_noticed() {
    in_netns(
        "janus_publishers_are_named_heard_and_one_leaving_is_noticed",
        || runtime().block_on(publishers_are_named_heard_and_one_leaving_is_noticed()),
    );
}

async fn publishers_are_named_heard_and_one_leaving_is_noticed() {
    let lab = Lab::start().await;
    let (kate_wav, john_wav) = speech();
    let kate_src = read_wav(&kate_wav).unwrap();
    let john_src = read_wav(&john_wav).unwrap();
    let kate = lab
        .publisher(
            ROOM,
            "Kate Austen (Interviewer)",
            Arc::new(encode_pcm(&kate_src).unwrap()),
        )
        .await;

    // Through the registry, as the control plane joins: the URL picks the connector.
    let registry = ConnectorRegistry::new()
        .with(Arc::new(WhepConnector::new(WhepSettings::default())))
        .with(Arc::new(lab.connector()));
    let record_dir = tempfile::tempdir().unwrap();
    let mut spec = JoinSpec::new(lab.janus.room_url(ROOM));
    spec.record_dir = Some(record_dir.path().to_path_buf());
    let mut session = registry.join(spec).await.unwrap();
    kate.play();

    let mut heard = Heard::default();
    listen(&mut session, &mut heard, Duration::from_secs(2), |_| false).await;
    // John publishes mid-call: the bot must subscribe to him and answer Janus's new offer.
    let john = lab
        .publisher(ROOM, "John Locke", Arc::new(encode_pcm(&john_src).unwrap()))
        .await;
    let john_id = id(john.feed());
    let kate_id = id(kate.feed());
    // Time for that renegotiation before John's first packet, so the bot hears him from his first word.
    listen(
        &mut session,
        &mut heard,
        Duration::from_millis(1500),
        |_| false,
    )
    .await;
    john.play();
    listen(&mut session, &mut heard, Duration::from_secs(9), |_| false).await;
    john.leave().await;
    let john_gone = listen(&mut session, &mut heard, Duration::from_secs(5), |h| {
        h.left.contains(&john_id)
    })
    .await;
    assert!(john_gone, "no ParticipantLeft for John: {:?}", heard.order);
    assert!(!heard.left.contains(&kate_id), "Kate left with John");

    // Kate talks to the end of her source.
    let kate_samples = kate_src.len() / 3;
    let done = listen(&mut session, &mut heard, Duration::from_secs(20), |h| {
        h.pcm(&kate_id.0).len() >= kate_samples - 320
    })
    .await;
    assert!(
        done,
        "Kate's audio never completed: {} samples",
        heard.pcm(&kate_id.0).len()
    );
    listen(&mut session, &mut heard, Duration::from_millis(500), |_| {
        false
    })
    .await;
    session.leave().await.unwrap();
    listen(&mut session, &mut heard, Duration::from_secs(10), |h| {
        h.disconnected.is_some()
    })
    .await;
    assert_eq!(heard.disconnected, Some(DisconnectReason::Left));
    assert_eq!(heard.order.first(), Some(&"joined"));
    assert_eq!(heard.order.last(), Some(&"disconnected"));
    assert_eq!(
        heard.joined.get(&kate_id).map(String::as_str),
        Some("Kate Austen (Interviewer)")
    );
    assert_eq!(
        heard.joined.get(&john_id).map(String::as_str),
        Some("John Locke")
    );
    assert_eq!(heard.joined.len(), 2, "{:?}", heard.joined);

    // Each participant's audio is their own source, not the other's.
    let refs = [to_16k(&kate_src), to_16k(&john_src)];
    for (k, who) in [&kate_id, &john_id].into_iter().enumerate() {
        let got = heard.pcm(&who.0);
        let (own, lag) = best_ncc_wide(&got, &refs[k], 32_000);
        let (other, _) = best_ncc_wide(&got, &refs[1 - k], 32_000);
        println!(
            "{}: {:.2}s heard, ncc own {own:.3} at lag {lag}, other {other:.3}",
            heard.joined[who],
            got.len() as f64 / 16_000.0
        );
        assert!(own > 0.6, "{who}: own correlation {own:.3}");
        assert!(
            own > 4.0 * other.abs(),
            "{who}: own {own:.3} vs other {other:.3}"
        );
    }
    let kate_s = heard.pcm(&kate_id.0).len() as f64 / 16_000.0;
    let want_s = kate_src.len() as f64 / 48_000.0;
    assert!(
        (kate_s - want_s).abs() < 0.060,
        "Kate: heard {kate_s:.3}s of {want_s:.3}s"
    );
    let john_s = heard.pcm(&john_id.0).len() as f64 / 16_000.0;
    assert!(
        (8.0..10.5).contains(&john_s),
        "John: heard {john_s:.3}s before leaving"
    );
    let stats = session.stats();
    println!("{stats:?}");
    assert!(stats.iter().all(|s| s.lost <= 2), "{stats:?}");

    let manifest = CallManifest::read(record_dir.path()).unwrap();
    assert!(manifest.finished);
    let mut names: Vec<&str> = manifest
        .tracks
        .iter()
        .map(|t| t.display_name.as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["John Locke", "Kate Austen (Interviewer)"]);
    kate.leave().await;
}

#[test]
fn janus_the_bot_speaks_its_notice_and_a_participant_hears_it() {
    in_netns(
        "janus_the_bot_speaks_its_notice_and_a_participant_hears_it",
        || runtime().block_on(the_bot_speaks_its_notice_and_a_participant_hears_it()),
    );
}

/// The consent notice: the bot publishes it once into the room, where a participant hears it under
/// the bot's name, as spoken; the bot reports it delivered and does not record its own voice.
async fn the_bot_speaks_its_notice_and_a_participant_hears_it() {
    let lab = Lab::start().await;
    let (kate_wav, john_wav) = speech();
    // Someone in the room already, as in an interview the bot joins on time.
    let kate = lab
        .publisher(
            ROOM,
            "Kate Austen (Interviewer)",
            Arc::new(encode_pcm(&read_wav(&john_wav).unwrap()).unwrap()),
        )
        .await;
    // The participant who must hear the notice: a second client, subscribed to everyone.
    let connector = lab.connector();
    let mut listener_url = lab.janus.room_url(ROOM);
    listener_url
        .query_pairs_mut()
        .append_pair("display", "Listener");
    let mut listener = join_url(&connector, listener_url).await.unwrap();

    // Four seconds of speech (the interviewer's opening words) stand in for the synthesised notice
    // (the orchestrator's espeak-ng voice is tested on its own): correlation can then tell it from
    // anything else. Kate stays silent, so the listener hears only the notice.
    let notice = read_wav(&kate_wav).unwrap()[..48_000 * 4].to_vec();
    let mut spec = JoinSpec::new(lab.janus.room_url(ROOM));
    spec.notice = Some(Arc::new(encode_pcm(&notice).unwrap()));
    let mut bot = {
        use panelist_bots::CallConnector;
        connector.join(spec).await.unwrap()
    };

    let mut heard = Heard::default();
    let notetaker = |h: &Heard| {
        h.joined
            .iter()
            .find(|(_, name)| name.as_str() == "Panelist Notetaker")
            .map(|(id, _)| id.clone())
    };
    let complete = listen(&mut listener, &mut heard, Duration::from_secs(20), |h| {
        notetaker(h).is_some_and(|id| h.left.contains(&id))
    })
    .await;
    let speaker = notetaker(&heard).expect("the listener never saw the bot's notice publisher");
    assert!(
        complete,
        "the notice publisher never left: {:?}",
        heard.order
    );
    let got = heard.pcm(&speaker.0);
    let want = to_16k(&notice);
    let (ncc, lag) = best_ncc_wide(&got, &want, 32_000);
    println!(
        "notice heard: {:.2}s of {:.2}s, ncc {ncc:.3} at lag {lag}",
        got.len() as f64 / 16_000.0,
        want.len() as f64 / 16_000.0
    );
    assert!(
        ncc > 0.6,
        "the notice heard is not the notice: ncc {ncc:.3}"
    );
    // All of it, from its first word (the publisher waits for subscribers before speaking).
    let heard_s = got.len() as f64 / 16_000.0;
    assert!((3.9..4.6).contains(&heard_s), "heard {heard_s:.2}s");

    let mut own = Heard::default();
    let reported = listen(&mut bot, &mut own, Duration::from_secs(10), |h| {
        !h.notices.is_empty()
    })
    .await;
    assert!(reported, "the bot never reported its notice");
    match own.notices.as_slice() {
        [NoticeOutcome::Delivered { duration, speaker }] => {
            assert_eq!(speaker, "Panelist Notetaker");
            assert!((3.9..4.1).contains(&duration.as_secs_f64()), "{duration:?}");
        }
        other => panic!("{other:?}"),
    }
    // The bot hears Kate and the listener's nothing, never itself.
    assert!(
        own.joined.values().all(|n| n != "Panelist Notetaker"),
        "the bot recorded its own notice: {:?}",
        own.joined
    );
    bot.leave().await.unwrap();
    listener.leave().await.unwrap();
    kate.leave().await;
}

#[test]
fn janus_missing_room_is_refused_and_destroyed_room_ends_the_call() {
    in_netns(
        "janus_missing_room_is_refused_and_destroyed_room_ends_the_call",
        || runtime().block_on(missing_room_is_refused_and_destroyed_room_ends_the_call()),
    );
}

async fn missing_room_is_refused_and_destroyed_room_ends_the_call() {
    let lab = Lab::start().await;
    let err = join_url(&lab.connector(), lab.janus.room_url(999))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JoinError::Rejected { reason, .. } if reason.contains("426")),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    // A room made at run time, joined while empty: the subscription starts with its first publisher.
    let admin = JanusApi::new(
        GuardedHttp::new(NetworkPolicy::local(), Duration::from_secs(5)).unwrap(),
        lab.janus.api_url(),
        None,
        Duration::from_secs(5),
    );
    let s = admin.create_session().await.unwrap();
    let h = admin.attach(s, "janus.plugin.videoroom").await.unwrap();
    let (_, created) = admin
        .message(
            s,
            h,
            json!({"request": "create", "room": 4321, "audiocodec": "opus"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(created.unwrap()["videoroom"], "created");

    let mut session = join_url(&lab.connector(), lab.janus.room_url(4321))
        .await
        .unwrap();
    let mut heard = Heard::default();
    let alice = lab
        .publisher(
            4321,
            "Alice",
            Arc::new(encode_pcm(&tone(440.0, 30.0)).unwrap()),
        )
        .await;
    alice.play();
    let alice_id = id(alice.feed());
    let hearing = listen(&mut session, &mut heard, Duration::from_secs(10), |h| {
        h.pcm(&alice_id.0).len() > 16_000
    })
    .await;
    assert!(hearing, "{:?}", heard.order);
    assert_eq!(
        heard.joined.get(&alice_id).map(String::as_str),
        Some("Alice")
    );

    // Alice hangs up and Bob comes in: Janus recycles Alice's idle m-line for him, and the bot must name the
    // new track by the new layout, not the old one.
    alice.leave().await;
    assert!(
        listen(&mut session, &mut heard, Duration::from_secs(5), |h| h
            .left
            .contains(&alice_id))
        .await,
        "{:?}",
        heard.order
    );
    let bob = lab
        .publisher(
            4321,
            "Bob",
            Arc::new(encode_pcm(&tone(660.0, 30.0)).unwrap()),
        )
        .await;
    bob.play();
    let bob_id = id(bob.feed());
    let hearing = listen(&mut session, &mut heard, Duration::from_secs(10), |h| {
        h.pcm(&bob_id.0).len() > 16_000
    })
    .await;
    assert!(hearing, "{:?}", heard.order);
    assert_eq!(heard.joined.get(&bob_id).map(String::as_str), Some("Bob"));
    let alice_samples = heard.pcm(&alice_id.0).len();

    let (_, destroyed) = admin
        .message(s, h, json!({"request": "destroy", "room": 4321}), None)
        .await
        .unwrap();
    assert_eq!(destroyed.unwrap()["videoroom"], "destroyed");
    let ended = listen(&mut session, &mut heard, Duration::from_secs(10), |h| {
        h.disconnected.is_some()
    })
    .await;
    assert!(ended, "{:?}", heard.order);
    assert_eq!(heard.disconnected, Some(DisconnectReason::RemoteClosed));
    assert_eq!(heard.left, vec![alice_id.clone(), bob_id]);
    assert_eq!(heard.order.last(), Some(&"disconnected"));
    // Nothing of Bob's was put down to Alice.
    assert_eq!(heard.pcm(&alice_id.0).len(), alice_samples);
    bob.leave().await;
    let _ = admin.destroy(s).await;
}

/// `join` by URL alone, as tests here use it.
async fn join_url(
    connector: &JanusConnector,
    url: url::Url,
) -> Result<panelist_bots::CallSession, JoinError> {
    use panelist_bots::CallConnector;
    connector.join(JoinSpec::new(url)).await
}
