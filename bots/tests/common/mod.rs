//! Helpers shared by the integration tests: test speech, tones, event collection and signal comparison.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use panelist_bots::audio::resample::Decimator;
use panelist_bots::{
    CallEvent, CallSession, DisconnectReason, NoticeOutcome, ParticipantId, PcmFrame,
};

/// The interview WAVs, generated with scripts/gen-speech.sh. Each test process (nextest runs every test in
/// its own) generates into a directory of its own and then renames it into place, so a test never reads a
/// file another is still writing; the output is deterministic, so whichever rename wins is the same.
pub fn speech() -> (PathBuf, PathBuf) {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("speech");
        if dir.join("candidate.wav").exists() {
            return dir;
        }
        let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("speech-{}", std::process::id()));
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let status = Command::new("bash")
            .arg(root.join("scripts/gen-speech.sh"))
            .arg(&scratch)
            .arg(root.join("bots/testdata/interview.txt"))
            .status()
            .expect("run scripts/gen-speech.sh (needs espeak-ng and sox)");
        assert!(status.success(), "gen-speech.sh failed");
        // Another process may have won the race; its files are the same.
        if std::fs::rename(&scratch, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&scratch);
        }
        dir
    });
    (dir.join("interviewer.wav"), dir.join("candidate.wav"))
}

/// A 48 kHz sine tone.
pub fn tone(freq: f64, secs: f64) -> Arc<Vec<i16>> {
    let n = (secs * 48_000.0) as usize;
    Arc::new(
        (0..n)
            .map(|i| {
                (9000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 48_000.0).sin()) as i16
            })
            .collect(),
    )
}

/// Everything a session said, per participant.
#[derive(Debug, Default)]
pub struct Heard {
    pub joined: BTreeMap<ParticipantId, String>,
    pub left: Vec<ParticipantId>,
    pub frames: BTreeMap<ParticipantId, Vec<PcmFrame>>,
    pub speech: BTreeMap<ParticipantId, Vec<(bool, Duration)>>,
    pub disconnected: Option<DisconnectReason>,
    pub order: Vec<&'static str>,
    pub notices: Vec<NoticeOutcome>,
}

impl Heard {
    pub fn record(&mut self, e: CallEvent) {
        match e {
            CallEvent::Joined => self.order.push("joined"),
            CallEvent::WaitingRoom => self.order.push("waiting"),
            CallEvent::ParticipantJoined { id, display_name } => {
                self.order.push("participant_joined");
                self.joined.insert(id, display_name);
            }
            CallEvent::ParticipantLeft { id } => {
                self.order.push("participant_left");
                self.left.push(id);
            }
            CallEvent::Audio {
                participant,
                frames,
            } => {
                self.frames.entry(participant).or_default().extend(frames);
            }
            CallEvent::SpeechStarted { participant, at } => {
                self.speech.entry(participant).or_default().push((true, at));
            }
            CallEvent::SpeechEnded { participant, at } => {
                self.speech
                    .entry(participant)
                    .or_default()
                    .push((false, at));
            }
            CallEvent::Notice(outcome) => self.notices.push(outcome),
            CallEvent::Disconnected { reason } => {
                self.order.push("disconnected");
                self.disconnected = Some(reason);
            }
        }
    }

    pub fn pcm(&self, who: &str) -> Vec<i16> {
        self.frames
            .get(&ParticipantId(who.to_owned()))
            .map(|f| f.iter().flat_map(|f| f.samples.iter().copied()).collect())
            .unwrap_or_default()
    }

    pub fn first_frame_at(&self, who: &str) -> Option<Duration> {
        self.frames
            .get(&ParticipantId(who.to_owned()))
            .and_then(|f| f.first())
            .map(|f| f.at)
    }
}

/// Reads events until `done` says so, the stream ends, or `limit` passes.
pub async fn listen(
    session: &mut CallSession,
    heard: &mut Heard,
    limit: Duration,
    done: impl Fn(&Heard) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if done(heard) {
            return true;
        }
        match tokio::time::timeout_at(deadline, session.next_event()).await {
            Ok(Some(e)) => heard.record(e),
            Ok(None) | Err(_) => return done(heard),
        }
    }
}

/// 48 kHz source → 16 kHz with the bot's own decimator, so comparisons see the same filter.
pub fn to_16k(pcm: &[i16]) -> Vec<i16> {
    let mut d = Decimator::new();
    let mut out = Vec::new();
    d.process(pcm, &mut out);
    out
}

/// Best normalised cross-correlation of `a` against `b` over lags in `-max_lag..=max_lag` samples: a
/// coarse search every 4 samples, then every lag around the best (debug builds are slow at this).
pub fn best_ncc(a: &[i16], b: &[i16], max_lag: i64) -> (f64, i64) {
    let a: Vec<f64> = a.iter().map(|&x| f64::from(x)).collect();
    let b: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
    let mut best = (f64::MIN, 0);
    for lag in (-max_lag..=max_lag).step_by(4) {
        let v = ncc_at(&a, &b, lag);
        if v > best.0 {
            best = (v, lag);
        }
    }
    let centre = best.1;
    for lag in centre - 4..=centre + 4 {
        let v = ncc_at(&a, &b, lag);
        if v > best.0 {
            best = (v, lag);
        }
    }
    best
}

/// NCC of a[i] with b[i - lag] over the overlap.
fn ncc_at(a: &[f64], b: &[f64], lag: i64) -> f64 {
    let (a, b) = if lag >= 0 {
        let l = lag as usize;
        (a.get(l..).unwrap_or(&[]), b)
    } else {
        let l = (-lag) as usize;
        (a, b.get(l..).unwrap_or(&[]))
    };
    let (mut dot, mut ea, mut eb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        ea += x * x;
        eb += y * y;
    }
    if ea > 0.0 && eb > 0.0 {
        dot / (ea * eb).sqrt()
    } else {
        0.0
    }
}

/// Runs `body` in a private network namespace: outside one, re-runs this test binary for test `name` only
/// under `unshare -n` and checks that it passed; inside (the re-run), runs `body`. Where namespaces cannot
/// be made (no CAP_SYS_ADMIN, say, in an unprivileged container) it says so loudly and returns: a skip.
pub fn in_netns(name: &str, body: impl FnOnce()) {
    use panelist_bots::janus::local::{inside_namespace, rerun_in_namespace, LocalError};
    if inside_namespace() {
        body();
        return;
    }
    let args: Vec<std::ffi::OsString> = [name, "--exact", "--nocapture", "--test-threads=1"]
        .iter()
        .map(Into::into)
        .collect();
    match rerun_in_namespace(&args) {
        Ok(status) => assert!(
            status.success(),
            "{name} failed inside its network namespace: {status}"
        ),
        Err(LocalError::NoNamespaces(why)) => {
            // Straight to the stderr handle: libtest captures `eprintln!` of passing tests, and a skip must
            // be seen.
            use std::io::Write;
            let bar = "#".repeat(78);
            let _ = writeln!(
                std::io::stderr(),
                "\n{bar}\nSKIPPED {name}\n  It needs a private network namespace (Janus never offers loopback\n  \
                 candidates), and none can be created here: {why}\n  Run it as root, or in a container with \
                 CAP_SYS_ADMIN.\n{bar}\n"
            );
        }
        Err(e) => panic!("{name}: {e}"),
    }
}

/// `best_ncc` for signals whose alignment is unknown within `max_lag` samples (up to seconds): 10 ms energy
/// envelopes find the lag coarsely, then the sample-level search refines it around that.
pub fn best_ncc_wide(a: &[i16], b: &[i16], max_lag: i64) -> (f64, i64) {
    const HOP: usize = 160;
    let env = |x: &[i16]| -> Vec<f64> {
        x.chunks(HOP)
            .map(|c| (c.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
            .collect()
    };
    let (ea, eb) = (env(a), env(b));
    let max_hops = max_lag / HOP as i64;
    let mut coarse = (f64::MIN, 0i64);
    for lag in -max_hops..=max_hops {
        let v = ncc_at(&ea, &eb, lag);
        if v > coarse.0 {
            coarse = (v, lag);
        }
    }
    let centre = coarse.1 * HOP as i64;
    // Refine within two hops of the envelope's answer, at sample resolution.
    let shift = |x: &[i16], by: i64| -> Vec<i16> {
        if by >= 0 {
            x.get(by as usize..).unwrap_or(&[]).to_vec()
        } else {
            x.to_vec()
        }
    };
    let (a2, b2, base) = if centre >= 0 {
        (shift(a, centre), b.to_vec(), centre)
    } else {
        (a.to_vec(), shift(b, -centre), centre)
    };
    let (v, fine) = best_ncc(&a2, &b2, 2 * HOP as i64);
    (v, base + fine)
}
