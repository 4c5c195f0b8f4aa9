//! Load benchmark: N concurrent bot sessions (2 speakers each) against the test room, decoding and recording.
//!
//!   cargo bench -p panelist-bots --bench bots -- --sessions N --seconds S
//!   cargo bench -p panelist-bots --bench bots -- --churn 1000
//!   cargo bench -p panelist-bots --bench bots -- --janus --sessions N --seconds S
//!
//! The room runs in a child process (this binary with `--serve-room`), so the CPU and memory measured here
//! are the bots' alone. With `--janus` the bots join a Janus VideoRoom instead (Debian's `janus`, two
//! webrtc-rs publishers in the child, `--serve-janus`); everything then re-runs itself in a private network
//! namespace, since Janus offers no loopback candidates (needs root). The last line is machine-readable:
//! `sessions=N joined=J frames_lost=L cpu_pct=C rss_mb=R` (CPU in % of one core and RSS for the whole bot
//! process), or for churn `churn=K joined=J rss_before_mb=B rss_after_mb=A`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panelist_bots::janus::local::{
    inside_namespace, remove_leftovers, rerun_in_namespace, setup_namespace, JanusOptions,
    JanusProcess, NETNS_ADDR,
};
use panelist_bots::janus::publisher::{JanusPublisher, PublisherSpec};
use panelist_bots::janus::{FeedId, JanusConnector, JanusSettings};
use panelist_bots::netpolicy::NetworkPolicy;
use panelist_bots::room::{AudioSource, RoomConfig, RoomParticipant, TestRoom};
use panelist_bots::rtc::NetworkSettings;
use panelist_bots::whep::{WhepConnector, WhepSettings};
use panelist_bots::{CallConnector, CallEvent, CallSession, JoinSpec};
use tokio::task::JoinSet;

/// Joins started at once; more just queues ICE/DTLS handshakes on two cores.
const JOIN_BATCH: usize = 10;
/// Time for every session to settle before the measurement window opens.
const WARMUP: Duration = Duration::from_secs(3);

struct Args {
    sessions: usize,
    seconds: u64,
    churn: Option<usize>,
    serve_room: bool,
    serve_janus: bool,
    janus: bool,
    no_record: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        sessions: 10,
        seconds: 20,
        churn: None,
        serve_room: false,
        serve_janus: false,
        janus: false,
        no_record: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sessions" => {
                a.sessions = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--sessions N")
            }
            "--seconds" => a.seconds = it.next().and_then(|v| v.parse().ok()).expect("--seconds S"),
            "--churn" => a.churn = it.next().and_then(|v| v.parse().ok()),
            "--serve-room" => a.serve_room = true,
            "--serve-janus" => a.serve_janus = true,
            "--janus" => a.janus = true,
            "--no-record" => a.no_record = true,
            // cargo passes --bench to harness=false benches; anything else is ignored too.
            _ => {}
        }
    }
    a
}

fn network() -> NetworkSettings {
    // Loopback only, but production timeouts: a loaded 2-core box must not mistake slow consent checks for
    // failures.
    NetworkSettings {
        loopback_only: true,
        ..NetworkSettings::default()
    }
}

/// Inside the Janus namespace: its one address, production timeouts.
fn janus_network() -> NetworkSettings {
    NetworkSettings {
        allowed_ips: vec![NETNS_ADDR.into()],
        ..NetworkSettings::default()
    }
}

fn main() {
    let args = parse_args();
    if args.janus && !inside_namespace() {
        let forwarded: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        let status =
            rerun_in_namespace(&forwarded).expect("--janus needs a network namespace (root)");
        std::process::exit(status.code().unwrap_or(1));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.serve_room {
        rt.block_on(serve_room());
        return;
    }
    if args.serve_janus {
        rt.block_on(serve_janus());
        return;
    }
    if args.janus {
        setup_namespace().expect("network namespace setup");
    }
    let (mut room, url, sfu_pid) = spawn_room(args.janus);
    let room_pid = room.id();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match args.churn {
        Some(k) => rt.block_on(churn(url, k, connector(&args))),
        None => rt.block_on(load(url, &args, room_pid, sfu_pid)),
    }));
    let _ = room.kill();
    let _ = room.wait();
    // The child was killed, so nothing of its own cleaned up after it.
    remove_leftovers(room_pid);
    let _ = std::fs::remove_dir_all(speech_dir_of(room_pid));
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

fn speech_dir_of(pid: u32) -> PathBuf {
    std::env::temp_dir().join(format!("panelist-bench-speech-{pid}"))
}

/// The interview's two WAVs, made with scripts/gen-speech.sh.
fn speech_dir() -> PathBuf {
    let dir = speech_dir_of(std::process::id());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let ok = Command::new("bash")
        .arg(root.join("scripts/gen-speech.sh"))
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "scripts/gen-speech.sh failed (needs espeak-ng and sox)");
    dir
}

/// Child mode for `--janus`: Janus with one room and two looping webrtc-rs publishers; prints the room URL
/// and Janus's pid, and runs until killed.
async fn serve_janus() {
    let dir = speech_dir();
    let janus = JanusProcess::start(JanusOptions {
        debug_level: 3,
        ..JanusOptions::default()
    })
    .await
    .unwrap();
    let mut publishers = Vec::new();
    for (name, file) in [
        ("Interviewer", "interviewer.wav"),
        ("Candidate", "candidate.wav"),
    ] {
        let pcm = panelist_bots::room::read_wav(&dir.join(file)).unwrap();
        let p = JanusPublisher::start(PublisherSpec {
            api: janus.api_url(),
            room: FeedId::Num(1234),
            display: name.to_owned(),
            audio: Arc::new(panelist_bots::room::encode_pcm(&pcm).unwrap()),
            loop_audio: true,
            network: janus_network(),
            timeout: Duration::from_secs(10),
        })
        .await
        .unwrap();
        p.play();
        publishers.push(p);
    }
    println!("sfu_pid {}", janus.pid());
    println!("listening {}", janus.room_url(1234));
    std::future::pending::<()>().await;
}

/// Child mode: the room with two looping speakers, printing its URL and running until killed.
async fn serve_room() {
    let dir = speech_dir();
    let mut config = RoomConfig::new(vec![
        RoomParticipant::new(
            "interviewer",
            "Interviewer",
            AudioSource::Wav(dir.join("interviewer.wav")),
        )
        .looping(),
        RoomParticipant::new(
            "candidate",
            "Candidate",
            AudioSource::Wav(dir.join("candidate.wav")),
        )
        .looping(),
    ]);
    config.network = network();
    let room = TestRoom::start(config).await.unwrap();
    println!("listening {}", room.whep_url());
    std::future::pending::<()>().await;
}

/// Starts the child that plays the call; returns it, the URL to join and the SFU's pid when it has one.
fn spawn_room(janus: bool) -> (Child, url::Url, Option<u32>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg(if janus {
            "--serve-janus"
        } else {
            "--serve-room"
        })
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut sfu_pid = None;
    let url = loop {
        let line = lines.next().expect("room output").unwrap();
        if let Some(pid) = line.strip_prefix("sfu_pid ") {
            sfu_pid = pid.parse().ok();
        }
        if let Some(u) = line.strip_prefix("listening ") {
            break url::Url::parse(u).unwrap();
        }
    };
    (child, url, sfu_pid)
}

fn connector(args: &Args) -> Arc<dyn CallConnector> {
    if args.janus {
        Arc::new(JanusConnector::new(JanusSettings {
            network: janus_network(),
            // The benchmark's Janus and rooms run on this machine.
            policy: NetworkPolicy::local(),
            ..JanusSettings::default()
        }))
    } else {
        Arc::new(WhepConnector::new(WhepSettings {
            network: network(),
            policy: NetworkPolicy::local(),
            ..WhepSettings::default()
        }))
    }
}

/// Counts what a session delivers, as a consumer would, without keeping the audio.
async fn consume(mut session: CallSession, frames: Arc<AtomicU64>) -> CallSession {
    while let Ok(Some(e)) =
        tokio::time::timeout(Duration::from_millis(100), session.next_event()).await
    {
        if let CallEvent::Audio { frames: f, .. } = e {
            frames.fetch_add(f.len() as u64, Ordering::Relaxed);
        }
    }
    session
}

async fn load(url: url::Url, args: &Args, room_pid: u32, sfu_pid: Option<u32>) {
    let n = args.sessions;
    let connector = connector(args);
    let record_root = tempfile::tempdir().unwrap();
    let base_rss = rss_mb();
    let started = Instant::now();
    let mut sessions = Vec::new();
    let mut failed = 0usize;
    for batch in (0..n).collect::<Vec<_>>().chunks(JOIN_BATCH) {
        let mut joins = JoinSet::new();
        for &i in batch {
            let mut spec = JoinSpec::new(url.clone());
            if !args.no_record {
                spec.record_dir = Some(record_root.path().join(format!("call-{i}")));
            }
            let c = Arc::clone(&connector);
            joins.spawn(async move { c.join(spec).await });
        }
        while let Some(r) = joins.join_next().await {
            match r.unwrap() {
                Ok(s) => sessions.push(s),
                Err(e) => {
                    failed += 1;
                    println!("join failed: {e}");
                }
            }
        }
    }
    let joined = sessions.len();
    println!(
        "joined {joined}/{n} in {:.1}s ({failed} failed)",
        started.elapsed().as_secs_f64()
    );

    let frames = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut consumers = JoinSet::new();
    for s in sessions {
        let frames = Arc::clone(&frames);
        let mut stop = stop_rx.clone();
        consumers.spawn(async move {
            let mut s = s;
            loop {
                tokio::select! {
                    r = stop.changed() => { if r.is_err() || *stop.borrow() { break; } }
                    next = s.next_event() => match next {
                        Some(CallEvent::Audio { frames: f, .. }) => { frames.fetch_add(f.len() as u64, Ordering::Relaxed); }
                        Some(_) => {}
                        None => break,
                    }
                }
            }
            s
        });
    }

    tokio::time::sleep(WARMUP).await;
    let cpu0 = cpu_seconds();
    let room_cpu0 = cpu_seconds_of(&room_pid.to_string());
    let sfu_cpu0 = sfu_pid.map(|p| cpu_seconds_of(&p.to_string()));
    let load0 = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let wall0 = Instant::now();
    let frames0 = frames.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = (cpu_seconds() - cpu0) / wall * 100.0;
    let room_cpu = (cpu_seconds_of(&room_pid.to_string()) - room_cpu0) / wall * 100.0;
    let sfu_cpu = sfu_pid
        .zip(sfu_cpu0)
        .map(|(p, c0)| (cpu_seconds_of(&p.to_string()) - c0) / wall * 100.0);
    let window_frames = frames.load(Ordering::Relaxed) - frames0;
    let rss = rss_mb();

    stop_tx.send_replace(true);
    let mut sessions = Vec::new();
    while let Some(s) = consumers.join_next().await {
        sessions.push(s.unwrap());
    }
    let (mut lost, mut concealed, mut received) = (0u64, 0u64, 0u64);
    for s in &sessions {
        for st in s.stats() {
            lost += st.lost;
            concealed += st.concealed;
            received += st.received;
        }
    }
    let mut leaves = JoinSet::new();
    for s in sessions {
        let frames = Arc::new(AtomicU64::new(0));
        leaves.spawn(async move {
            let _ = s.leave().await;
            consume(s, frames).await;
        });
    }
    while leaves.join_next().await.is_some() {}

    let expected = joined as f64 * 2.0 * 50.0 * args.seconds as f64;
    println!(
        "window {}s: frames {window_frames} ({:.1}% of expected), packets received {received}, concealed {concealed}, lost {lost}",
        args.seconds,
        window_frames as f64 / expected.max(1.0) * 100.0
    );
    // The room shares the machine; with others' work it shows how close to saturation the run was.
    if let Some(sfu) = sfu_cpu {
        println!("janus process cpu_pct={sfu:.1} (sending to {joined} sessions x 2 tracks)");
    }
    println!(
        "room process cpu_pct={room_cpu:.1}; load average at window start: {}",
        load0
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let per = joined.max(1) as f64;
    println!(
        "per session: cpu_pct={:.3} rss_mb={:.3} (process rss {rss:.1} MB, baseline {base_rss:.1} MB)",
        cpu / per,
        (rss - base_rss) / per
    );
    println!("sessions={n} joined={joined} frames_lost={lost} cpu_pct={cpu:.1} rss_mb={rss:.1}");
}

async fn churn(url: url::Url, k: usize, connector: Arc<dyn CallConnector>) {
    let joined = Arc::new(AtomicU64::new(0));
    let run = |count: usize| {
        let connector = Arc::clone(&connector);
        let url = url.clone();
        let joined = Arc::clone(&joined);
        async move {
            for batch in (0..count).collect::<Vec<_>>().chunks(JOIN_BATCH) {
                let mut set = JoinSet::new();
                for _ in batch {
                    let c = Arc::clone(&connector);
                    let spec = JoinSpec::new(url.clone());
                    let joined = Arc::clone(&joined);
                    set.spawn(async move {
                        let Ok(mut s) = c.join(spec).await else {
                            return;
                        };
                        joined.fetch_add(1, Ordering::Relaxed);
                        // Stay until audio flows, so every join exercises tracks, decoding and teardown.
                        let wait = async {
                            while let Some(e) = s.next_event().await {
                                if matches!(e, CallEvent::Audio { .. }) {
                                    break;
                                }
                            }
                        };
                        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
                        let _ = s.leave().await;
                        while s.next_event().await.is_some() {}
                    });
                }
                while set.join_next().await.is_some() {}
            }
        }
    };
    // Warm up allocator pools and lazily-built state so "before" is a fair baseline.
    run(50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mb();
    let started = Instant::now();
    run(k).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_mb();
    let j = joined.load(Ordering::Relaxed).saturating_sub(50);
    println!(
        "churn {k} joins+leaves in {:.1}s: rss {before:.1} MB -> {after:.1} MB ({:+.1} KB per join)",
        started.elapsed().as_secs_f64(),
        (after - before) * 1024.0 / k.max(1) as f64
    );
    println!("churn={k} joined={j} rss_before_mb={before:.1} rss_after_mb={after:.1}");
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// User + system CPU time of this process (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("self")
}

/// User + system CPU time of a process, from /proc/<pid>/stat.
fn cpu_seconds_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}
