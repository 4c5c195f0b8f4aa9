//! The WHEP connector against the test room, over real UDP on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{best_ncc, listen, speech, to_16k, tone, Heard};
use panelist_bots::call::{JoinStage, LeaveError};
use panelist_bots::recorder::ogg::parse_pages;
use panelist_bots::recorder::CallManifest;
use panelist_bots::room::{read_wav, AudioSource, RoomConfig, RoomParticipant, TestRoom};
use panelist_bots::whep::{WhepConnector, WhepSettings};
use panelist_bots::{
    BearerToken, CallConnector, ConnectorRegistry, DisconnectReason, JoinError, JoinSpec,
    NoticeOutcome, ParticipantId,
};
use std::sync::Arc;

fn connector() -> WhepConnector {
    WhepConnector::new(WhepSettings::loopback())
}

fn id(s: &str) -> ParticipantId {
    ParticipantId(s.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_participants_each_get_their_own_audio_and_recording() {
    let (interviewer_wav, candidate_wav) = speech();
    let room = TestRoom::start(RoomConfig::new(vec![
        RoomParticipant::new(
            "interviewer",
            "Dana Interviewer",
            AudioSource::Wav(interviewer_wav.clone()),
        ),
        RoomParticipant::new(
            "candidate",
            "Sam Candidate",
            AudioSource::Wav(candidate_wav.clone()),
        ),
    ]))
    .await
    .unwrap();
    let record_dir = tempfile::tempdir().unwrap();
    let registry = ConnectorRegistry::new().with(Arc::new(connector()));
    let mut spec = JoinSpec::new(room.whep_url());
    spec.record_dir = Some(record_dir.path().to_path_buf());
    let mut session = registry.join(spec).await.unwrap();

    let mut heard = Heard::default();
    let both_left = listen(&mut session, &mut heard, Duration::from_secs(40), |h| {
        h.left.len() == 2
    })
    .await;
    assert!(both_left, "participants never both left: {:?}", heard.order);
    session.leave().await.unwrap();
    listen(&mut session, &mut heard, Duration::from_secs(10), |h| {
        h.disconnected.is_some()
    })
    .await;
    assert!(
        room.wait_for(Duration::from_secs(5), |s| s.deleted == 1)
            .await
    );
    assert_eq!(heard.disconnected, Some(DisconnectReason::Left));
    assert_eq!(heard.order.first(), Some(&"joined"));
    assert_eq!(heard.order.last(), Some(&"disconnected"));
    assert_eq!(
        heard.joined.get(&id("interviewer")).map(String::as_str),
        Some("Dana Interviewer")
    );
    assert_eq!(
        heard.joined.get(&id("candidate")).map(String::as_str),
        Some("Sam Candidate")
    );

    let sources = [
        ("interviewer", read_wav(&interviewer_wav).unwrap()),
        ("candidate", read_wav(&candidate_wav).unwrap()),
    ];
    let refs: Vec<Vec<i16>> = sources.iter().map(|(_, s)| to_16k(s)).collect();
    for (k, (who, src)) in sources.iter().enumerate() {
        let got = heard.pcm(who);
        let got_s = got.len() as f64 / 16_000.0;
        let want_s = src.len() as f64 / 48_000.0;
        assert!(
            (got_s - want_s).abs() < 0.020,
            "{who}: got {got_s:.3}s, source {want_s:.3}s"
        );
        let (own, lag) = best_ncc(&got, &refs[k], 480);
        let (other, _) = best_ncc(&got, &refs[1 - k], 480);
        println!("{who}: ncc own {own:.3} at lag {lag}, other {other:.3}");
        assert!(own > 0.6, "{who}: own correlation {own:.3}");
        assert!(
            own > 4.0 * other.abs(),
            "{who}: own {own:.3} vs other {other:.3}"
        );
        let speech = &heard.speech[&id(who)];
        let starts = speech.iter().filter(|(s, _)| *s).count();
        println!("{who}: {starts} speech segments {speech:?}");
        assert!((2..=8).contains(&starts), "{who}: {starts} speech segments");
        assert_eq!(starts * 2, speech.len(), "every start has an end");
    }
    // One call clock: both tracks start together (within the room's send jitter).
    let a = heard.first_frame_at("interviewer").unwrap();
    let b = heard.first_frame_at("candidate").unwrap();
    assert!(a.abs_diff(b) < Duration::from_millis(60), "{a:?} vs {b:?}");
    let stats = session.stats();
    assert!(
        stats.iter().all(|s| s.lost == 0 && s.received > 800),
        "{stats:?}"
    );

    let manifest = CallManifest::read(record_dir.path()).unwrap();
    assert!(manifest.finished);
    assert_eq!(manifest.tracks.len(), 2);
    for (track, (who, src)) in manifest.tracks.iter().zip(&sources) {
        let track = manifest
            .tracks
            .iter()
            .find(|t| t.participant == *who)
            .unwrap_or(track);
        let bytes = std::fs::read(record_dir.path().join(&track.file)).unwrap();
        let parsed = parse_pages(&bytes).unwrap();
        assert_eq!(parsed.torn_tail, 0);
        let granule = parsed.pages.last().unwrap().granule;
        let want = src.len().div_ceil(960) as u64 * 960;
        assert_eq!(granule, want, "{who}: recorded samples");
        assert!(track.start_offset_ms < 500);
    }
    room.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_sends_delete_with_the_bearer_token() {
    let mut config = RoomConfig::new(vec![RoomParticipant::new(
        "alice",
        "Alice",
        AudioSource::Pcm(tone(440.0, 10.0)),
    )]);
    config.token = Some("s3cret".into());
    let room = TestRoom::start(config).await.unwrap();

    let err = connector()
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap_err();
    assert!(matches!(err, JoinError::Refused { status: 401 }), "{err:?}");

    let mut spec = JoinSpec::new(room.whep_url());
    spec.bearer_token = Some(BearerToken::new("s3cret"));
    // WHEP is receive-only: a notice asked for is reported as not given, and the call goes on.
    spec.notice = Some(Arc::new(
        panelist_bots::room::encode_pcm(&tone(300.0, 1.0)).unwrap(),
    ));
    let mut session = connector().join(spec).await.unwrap();
    let mut heard = Heard::default();
    assert!(
        listen(&mut session, &mut heard, Duration::from_secs(10), |h| h
            .pcm("alice")
            .len()
            > 16_000)
        .await
    );
    assert!(
        matches!(heard.notices.as_slice(), [NoticeOutcome::Unsupported(why)] if why.contains("receive-only")),
        "{:?}",
        heard.notices
    );
    session.leave().await.unwrap();
    assert!(
        room.wait_for(Duration::from_secs(5), |s| s.deleted == 1)
            .await
    );
    listen(&mut session, &mut heard, Duration::from_secs(5), |_| false).await;
    assert_eq!(heard.disconnected, Some(DisconnectReason::Left));
    assert_eq!(heard.order.last(), Some(&"disconnected"));
    assert!(
        matches!(session.leave().await, Err(LeaveError::AlreadyEnded)),
        "leaving twice is an error, not a hang"
    );
    room.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_and_slow_joins_give_typed_errors() {
    let room = TestRoom::start(RoomConfig::new(vec![RoomParticipant::new(
        "alice",
        "Alice",
        AudioSource::Pcm(tone(440.0, 1.0)),
    )]))
    .await
    .unwrap();
    for (status, retryable) in [(403, false), (404, false), (503, true)] {
        room.refuse_with(Some(status));
        let err = connector()
            .join(JoinSpec::new(room.whep_url()))
            .await
            .unwrap_err();
        assert_eq!(err.is_retryable(), retryable, "{status}: {err:?}");
        match (status, &err) {
            (503, JoinError::ServerError { status: 503 }) => {}
            (s, JoinError::Refused { status }) if *status == s => {}
            _ => panic!("{status}: {err:?}"),
        }
    }
    room.refuse_with(None);
    room.delay_answers(Duration::from_secs(3));
    let mut settings = WhepSettings::loopback();
    settings.signalling_timeout = Duration::from_millis(500);
    let err = WhepConnector::new(settings)
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JoinError::Timeout {
                stage: JoinStage::Signalling
            }
        ) && err.is_retryable(),
        "{err:?}"
    );
    assert_eq!(room.stats().refused, 3);

    // Nothing listening at all.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let url = url::Url::parse(&format!("http://{dead}/whep/room")).unwrap();
    let err = connector().join(JoinSpec::new(url)).await.unwrap_err();
    assert!(
        matches!(err, JoinError::Transport(_)) && err.is_retryable(),
        "{err:?}"
    );
    room.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_session_ends_with_connection_lost() {
    let room = TestRoom::start(RoomConfig::new(vec![RoomParticipant::new(
        "alice",
        "Alice",
        AudioSource::Pcm(tone(440.0, 1.0)),
    )
    .looping()]))
    .await
    .unwrap();
    let mut first = connector()
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap();
    let mut second = connector()
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap();
    let (mut heard1, mut heard2) = (Heard::default(), Heard::default());
    let flowing = |h: &Heard| h.pcm("alice").len() > 16_000;
    assert!(listen(&mut first, &mut heard1, Duration::from_secs(10), flowing).await);
    assert!(listen(&mut second, &mut heard2, Duration::from_secs(10), flowing).await);

    // Cut only the first bot's session (sessions are numbered in join order).
    let ids = room.session_ids();
    assert_eq!(ids.len(), 2);
    assert!(room.cut(ids[0]).await);
    let ended = listen(&mut first, &mut heard1, Duration::from_secs(20), |h| {
        h.disconnected.is_some()
    })
    .await;
    assert!(ended, "{:?}", heard1.order);
    let reason = heard1.disconnected.clone().unwrap();
    assert_eq!(reason, DisconnectReason::ConnectionLost);
    assert!(reason.is_retryable());
    assert_eq!(heard1.left, vec![id("alice")]);
    assert_eq!(heard1.order.last(), Some(&"disconnected"));

    // The other session kept playing all along; cut_all ends it the same way.
    let before = heard2.pcm("alice").len();
    assert!(
        listen(&mut second, &mut heard2, Duration::from_secs(5), |h| h
            .pcm("alice")
            .len()
            > before + 16_000)
        .await
    );
    assert!(heard2.disconnected.is_none());
    assert_eq!(room.cut_all().await, 1);
    assert!(
        listen(&mut second, &mut heard2, Duration::from_secs(20), |h| h
            .disconnected
            .is_some())
        .await
    );
    assert_eq!(heard2.disconnected, Some(DisconnectReason::ConnectionLost));
    assert_eq!(room.stats().cut, 2);
    room.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_joining_mid_call_is_picked_up_and_loss_is_concealed() {
    let room = TestRoom::start(RoomConfig::new(vec![
        RoomParticipant::new("alice", "Alice", AudioSource::Pcm(tone(440.0, 4.0))),
        RoomParticipant::new("bob", "Bob", AudioSource::Pcm(tone(660.0, 3.0)))
            .joining_at(Duration::from_secs(2))
            .leaving_at(Duration::from_millis(4500))
            .dropping_every(10),
    ]))
    .await
    .unwrap();
    let mut session = connector()
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap();
    let mut heard = Heard::default();
    let done = listen(&mut session, &mut heard, Duration::from_secs(15), |h| {
        h.left.len() == 2
    })
    .await;
    assert!(done, "{:?}", heard.order);
    assert_eq!(heard.joined.len(), 2);
    let alice = heard.first_frame_at("alice").unwrap();
    let bob = heard.first_frame_at("bob").unwrap();
    let offset = bob.saturating_sub(alice);
    assert!(
        offset.abs_diff(Duration::from_secs(2)) < Duration::from_millis(150),
        "bob starts {offset:?} after alice"
    );
    // Bob: 2.5 s on the call = 125 frames, every 10th never sent and concealed instead.
    let bob_pcm = heard.pcm("bob");
    assert!(
        (bob_pcm.len() as i64 - 40_000).abs() <= 320,
        "bob {} samples",
        bob_pcm.len()
    );
    let stats = session.stats();
    let bob_stats = stats
        .iter()
        .find(|s| s.participant == Some(id("bob")))
        .unwrap();
    assert!((11..=13).contains(&bob_stats.lost), "{bob_stats:?}");
    assert_eq!(bob_stats.concealed, bob_stats.lost);
    let concealed = heard.frames[&id("bob")]
        .iter()
        .filter(|f| f.concealed)
        .count() as u64;
    assert_eq!(concealed, bob_stats.concealed);
    session.leave().await.unwrap();
    room.shutdown().await;
}

/// A WHEP endpoint in front of the room that points every candidate, the offer's and the answer's, at a UDP
/// socket that never answers, so ICE cannot connect (rewriting one side only is not enough: the other side's
/// checks would still arrive and be learnt as peer-reflexive candidates). The join must fail retryably and
/// still DELETE the server's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_failure_is_retryable_and_frees_the_server_session() {
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;

    let room = TestRoom::start(RoomConfig::new(vec![RoomParticipant::new(
        "alice",
        "Alice",
        AudioSource::Pcm(tone(440.0, 1.0)),
    )]))
    .await
    .unwrap();
    let black_hole = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead_port = black_hole.local_addr().unwrap().port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = url::Url::parse(&format!(
        "http://{}/whep/room",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    let room_url = room.whep_url();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let room_url = room_url.clone();
            async move {
                let offer = req.into_body().collect().await.unwrap().to_bytes();
                let offer = black_hole_candidates(&String::from_utf8_lossy(&offer), dead_port);
                let resp = reqwest::Client::new()
                    .post(room_url.clone())
                    .header("content-type", "application/sdp")
                    .body(offer)
                    .send()
                    .await
                    .unwrap();
                let location = room_url
                    .join(resp.headers()["location"].to_str().unwrap())
                    .unwrap();
                let answer = black_hole_candidates(&resp.text().await.unwrap(), dead_port);
                Ok::<_, std::convert::Infallible>(
                    hyper::Response::builder()
                        .status(201)
                        .header("content-type", "application/sdp")
                        .header("location", location.as_str())
                        .body(Full::new(bytes::Bytes::from(answer)))
                        .unwrap(),
                )
            }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
            .await;
    });

    let err = connector()
        .join(JoinSpec::new(proxy_url))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JoinError::IceFailed
                | JoinError::Timeout {
                    stage: JoinStage::Connecting
                }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        room.wait_for(Duration::from_secs(5), |s| s.deleted == 1)
            .await,
        "{:?}",
        room.stats()
    );
    drop(black_hole);
    room.shutdown().await;
}

fn black_hole_candidates(sdp: &str, port: u16) -> String {
    sdp.lines()
        .map(|l| {
            if l.starts_with("a=candidate:") {
                let mut f: Vec<String> = l.split(' ').map(str::to_owned).collect();
                f[5] = port.to_string();
                f.join(" ")
            } else {
                l.to_owned()
            }
        })
        .map(|l| l + "\r\n")
        .collect()
}

/// A participant whose RTCP BYE never arrives (lost on the way) stops sending: after the idle
/// timeout the bot treats them as gone, so the "alone" rule can end the call, instead of waiting for
/// the much longer silence rule. The one still talking is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_whose_bye_is_lost_is_gone_after_the_idle_timeout() {
    let room = TestRoom::start(RoomConfig::new(vec![
        RoomParticipant::new("alice", "Alice", AudioSource::Pcm(tone(440.0, 8.0))),
        RoomParticipant::new("bob", "Bob", AudioSource::Pcm(tone(660.0, 8.0)))
            .vanishing_at(Duration::from_secs(1)),
    ]))
    .await
    .unwrap();
    let mut settings = WhepSettings::loopback();
    settings.idle_timeout = Some(Duration::from_secs(2));
    let mut session = WhepConnector::new(settings)
        .join(JoinSpec::new(room.whep_url()))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut heard = Heard::default();
    let bob_left = listen(&mut session, &mut heard, Duration::from_secs(6), |h| {
        h.left.contains(&id("bob"))
    })
    .await;
    assert!(bob_left, "{:?}", heard.order);
    // Bob stopped at 1 s and is declared gone 2 s later, well before Alice's 8 s track ends.
    let at = started.elapsed();
    assert!(at < Duration::from_secs(6), "{at:?}");
    assert!(!heard.left.contains(&id("alice")), "{:?}", heard.order);
    session.leave().await.unwrap();
    room.shutdown().await;
}
