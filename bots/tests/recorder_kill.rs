//! A recorder process killed with SIGKILL mid-write leaves Ogg/Opus files that parse, pass their CRCs, decode,
//! and hold audio up to at most a second before the kill.
//!
//! The writer is this same test binary, re-run as a child process on the ignored `writer_process` test
//! (selected by name, with an environment variable giving it its directory), so no extra binary is needed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use panelist_bots::recorder::ogg::parse_pages;
use panelist_bots::recorder::{CallManifest, CallRecorder, RecorderSettings};
use panelist_bots::ParticipantId;

const CHILD_ENV: &str = "PANELIST_RECORDER_CHILD_DIR";
const FRAME: Duration = Duration::from_millis(20);

/// The child: records two tracks in real time forever, printing how far it got after each packet was handed
/// to the recorder. Skipped in normal runs.
#[test]
#[ignore = "run as a child process by sigkill_mid_write_leaves_a_playable_file"]
fn writer_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let rec = CallRecorder::start(&PathBuf::from(dir), RecorderSettings::default(), None).unwrap();
    let h = rec.handle();
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut buf = vec![0u8; 1500];
    h.track(
        1,
        ParticipantId("alice".into()),
        "Alice".into(),
        Duration::ZERO,
    );
    h.track(
        2,
        ParticipantId("bob".into()),
        "Bob".into(),
        Duration::from_millis(40),
    );
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let pcm: Vec<i16> = (0..960)
            .map(|k| ((((i * 960 + k) as f64) * 0.03).sin() * 8000.0) as i16)
            .collect();
        let n = enc.encode(&pcm, &mut buf).unwrap();
        let packet = Bytes::copy_from_slice(&buf[..n]);
        h.packet(1, i * 960, packet.clone());
        h.packet(2, i * 960, packet);
        writeln!(out, "sent {i}").unwrap();
        out.flush().unwrap();
        let next = start + FRAME * (i as u32 + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

#[test]
fn sigkill_mid_write_leaves_a_playable_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "writer_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Run ~3.3 s, so several flushes happened and the kill lands between two of them.
    let mut last_sent = 0u64;
    while last_sent < 165 {
        let line = lines.next().expect("child output").unwrap();
        if let Some(n) = line.strip_prefix("sent ") {
            last_sent = n.parse().unwrap();
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Lines the child printed before dying still count as handed over.
    for line in lines.map_while(Result::ok) {
        if let Some(n) = line.strip_prefix("sent ") {
            last_sent = n.parse().unwrap();
        }
    }
    let handed_over = (last_sent + 1) * 960;

    let manifest = CallManifest::read(dir.path()).unwrap();
    assert!(!manifest.finished, "the writer never got to finish");
    assert_eq!(manifest.tracks.len(), 2);
    assert_eq!(manifest.tracks[1].start_offset_ms, 40);
    for track in &manifest.tracks {
        let bytes = std::fs::read(dir.path().join(&track.file)).unwrap();
        let parsed = parse_pages(&bytes).expect("every complete page passes its CRC");
        assert!(
            parsed.pages.len() >= 3,
            "{}: {} pages",
            track.file,
            parsed.pages.len()
        );
        assert_eq!(&parsed.pages[0].packets[0][..8], b"OpusHead");
        let granule = parsed.pages.last().unwrap().granule;
        let missing = handed_over.saturating_sub(granule);
        println!(
            "{}: {} pages, {:.2}s on disk, {:.3}s handed over but lost, torn tail {} bytes",
            track.file,
            parsed.pages.len(),
            granule as f64 / 48_000.0,
            missing as f64 / 48_000.0,
            parsed.torn_tail
        );
        assert!(
            missing <= 48_000,
            "{}: lost {missing} samples (> 1 s)",
            track.file
        );

        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = vec![0i16; 5760];
        let decoded: usize = parsed.pages[2..]
            .iter()
            .flat_map(|p| &p.packets)
            .map(|p| dec.decode(p, &mut pcm, false).unwrap())
            .sum();
        assert_eq!(
            decoded as u64, granule,
            "{}: packets decode to the granule",
            track.file
        );
    }
}
