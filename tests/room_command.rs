//! `panelist room` as a demo runs it: the binary serves a WHEP test room, prints its URL, and the bots'
//! WHEP connector joins it and hears each participant by name; Ctrl-C stops it cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use panelist_bots::whep::{WhepConnector, WhepSettings};
use panelist_bots::{CallConnector, CallEvent, DisconnectReason, JoinSpec};

/// A 48 kHz mono 16-bit sine WAV, made with sox (which the media-plane tests need anyway).
fn tone_wav(dir: &std::path::Path, name: &str, freq: u32) -> std::path::PathBuf {
    let path = dir.join(name);
    let ok = Command::new("sox")
        .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
        .arg(&path)
        .args(["synth", "10", "sine", &freq.to_string(), "vol", "0.3"])
        .status()
        .expect("run sox (apt-get install sox)")
        .success();
    assert!(ok, "sox failed");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_serves_a_whep_url_that_the_connector_joins() {
    let dir = tempfile::tempdir().unwrap();
    let kate = tone_wav(dir.path(), "kate.wav", 440);
    let john = tone_wav(dir.path(), "john.wav", 660);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_panelist"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("PANELIST")) {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .current_dir(dir.path())
        .args(["room", "--port", "0", "--participant"])
        .arg(format!("Kate Austen (Interviewer)={}", kate.display()))
        .arg("--participant")
        .arg(format!("John Locke={}", john.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find(|l| l.starts_with("WHEP URL: "))
    });
    let line = tokio::time::timeout(Duration::from_secs(60), line)
        .await
        .expect("no URL line within 60 s")
        .unwrap()
        .expect("stdout ended without a URL line");
    let url = url::Url::parse(line.trim_start_matches("WHEP URL: ")).unwrap();
    assert_eq!(url.path(), "/whep/room");

    let mut session = WhepConnector::new(WhepSettings::loopback())
        .join(JoinSpec::new(url))
        .await
        .unwrap();
    let mut names = BTreeMap::new();
    let mut samples: BTreeMap<String, usize> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(2500);
    while let Ok(Some(e)) = tokio::time::timeout_at(deadline, session.next_event()).await {
        match e {
            CallEvent::ParticipantJoined { id, display_name } => {
                names.insert(id.0, display_name);
            }
            CallEvent::Audio {
                participant,
                frames,
            } => {
                *samples.entry(participant.0).or_default() +=
                    frames.iter().map(|f| f.samples.len()).sum::<usize>();
            }
            _ => {}
        }
    }
    assert_eq!(
        names.values().map(String::as_str).collect::<Vec<_>>(),
        ["John Locke", "Kate Austen (Interviewer)"],
        "{names:?}"
    );
    for (id, n) in &samples {
        assert!(*n > 16_000, "{id}: only {n} samples in 2.5 s");
    }
    assert_eq!(samples.len(), 2, "{samples:?}");
    session.leave().await.unwrap();
    let mut last = None;
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(5), session.next_event()).await
    {
        last = Some(e);
    }
    assert_eq!(
        last,
        Some(CallEvent::Disconnected {
            reason: DisconnectReason::Left
        })
    );

    // Ctrl-C stops the room and the process exits cleanly.
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("panelist room did not exit after SIGINT");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "panelist room exited with {status}");
}
