//! `panelist room`: a WHEP test room that plays WAV files as call participants, for demos and manual tests.

use std::collections::HashSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use panelist_bots::room::{AudioSource, RoomConfig, RoomParticipant, TestRoom};
use panelist_bots::rtc::NetworkSettings;

use crate::cli::RoomArgs;

/// Serves the room and prints `WHEP URL: ...` on stdout; runs until Ctrl-C or SIGTERM.
pub async fn room(args: RoomArgs) -> anyhow::Result<()> {
    let participants = parse_participants(&args.participants)?;
    let mut config = RoomConfig::new(
        participants
            .into_iter()
            .map(|p| {
                let mut rp = RoomParticipant::new(p.id, p.name, AudioSource::Wav(p.file));
                if args.r#loop {
                    rp = rp.looping();
                }
                rp
            })
            .collect(),
    );
    config.name = args.name.clone();
    config.bind = SocketAddr::new(args.bind, args.port);
    // Loopback-only media is what one machine needs (INTEROP.md); any other bind address means the bot is
    // elsewhere, so offer every interface.
    if !args.bind.is_loopback() {
        config.network = NetworkSettings::default();
    }
    let room = TestRoom::start(config)
        .await
        .context("cannot start the room")?;
    {
        // One line a script can wait for; flushed now, since stdout is a pipe when a test reads it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "WHEP URL: {}", room.whep_url())?;
        out.flush()?;
    }
    tracing::info!(url = %room.whep_url(), "room is serving; Ctrl-C stops it");
    crate::shutdown::signal().await;
    room.shutdown().await;
    tracing::info!(stats = ?room.stats(), "room stopped");
    Ok(())
}

#[derive(Debug, PartialEq, Eq)]
struct Participant {
    id: String,
    name: String,
    file: PathBuf,
}

/// `NAME=FILE.wav` pairs; each name also gives a stream id (an SDP token), made unique.
fn parse_participants(raw: &[String]) -> anyhow::Result<Vec<Participant>> {
    let mut taken = HashSet::new();
    raw.iter()
        .map(|r| {
            let (name, file) = r
                .split_once('=')
                .filter(|(n, f)| !n.trim().is_empty() && !f.is_empty())
                .with_context(|| format!("--participant {r:?}: expected NAME=FILE.wav"))?;
            let file = PathBuf::from(file);
            anyhow::ensure!(
                file.is_file(),
                "--participant {r:?}: no such file {}",
                file.display()
            );
            let base = token(name);
            let mut id = base.clone();
            let mut n = 1;
            while !taken.insert(id.clone()) {
                n += 1;
                id = format!("{base}-{n}");
            }
            Ok(Participant {
                id,
                name: name.trim().to_owned(),
                file,
            })
        })
        .collect()
}

/// "Kate Austen (Interviewer)" → "kate-austen-interviewer".
fn token(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    if out.is_empty() {
        "participant".to_owned()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_unique_sdp_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("a.wav");
        std::fs::write(&wav, b"").unwrap();
        let arg = |n: &str| format!("{n}={}", wav.display());
        let ps = parse_participants(&[
            arg("Kate Austen (Interviewer)"),
            arg("Kate Austen (Interviewer)"),
            arg("Jöhn"),
        ])
        .unwrap();
        let ids: Vec<&str> = ps.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "kate-austen-interviewer",
                "kate-austen-interviewer-2",
                "j-hn"
            ]
        );
        assert_eq!(ps[0].name, "Kate Austen (Interviewer)");
        assert!(parse_participants(&["no-equals".into()]).is_err());
        assert!(parse_participants(&["X=/no/such.wav".into()]).is_err());
    }
}
