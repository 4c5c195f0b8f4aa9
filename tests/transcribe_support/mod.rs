//! Shared by the transcription tests and benchmark: the model's location, and a two-voice mock interview
//! rendered with espeak-ng into one track per speaker, fed to a `TranscriberActor` the way the media plane
//! delivers a call (20 ms frames in call-clock order, voice activity from the media plane's own detector).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use actix::Addr;
use panelist::models::{self, ModelName};
use panelist::transcribe::decode::decode_file;
use panelist::transcribe::{ParticipantAudio, ParticipantSpeech, TranscriberActor, SAMPLES_PER_MS};
use panelist_bots::audio::vad::{EnergyVad, VadEvent, VadSettings};

pub const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/speech/interview.txt"
);
pub const FRAME_MS: u64 = 20;
/// Silence between turns, and before the first.
pub const GAP_MS: u64 = 300;
pub const LEAD_IN_MS: u64 = 500;

/// Where the tests look for models: `PANELIST_MODEL_DIR`, else where scripts/test.sh installs them.
pub fn model_dir(model: ModelName) -> PathBuf {
    let mut candidates = Vec::new();
    if let Ok(dir) = std::env::var("PANELIST_MODEL_DIR") {
        candidates.push(PathBuf::from(dir));
    } else {
        candidates.push(PathBuf::from("/var/cache/panelist/models"));
        candidates.push(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/models"
        )));
    }
    for dir in &candidates {
        if models::model_status(dir, model).is_ready() {
            return dir.clone();
        }
    }
    panic!(
        "the Whisper model {model} is not installed in {candidates:?}. Install it with \
         `cargo run -- models install {model} --model-dir DIR` and set PANELIST_MODEL_DIR=DIR \
         (scripts/test.sh and .ci/run do this before the tests)"
    );
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub speaker: String,
    pub text: String,
}

pub fn read_script() -> Vec<Turn> {
    std::fs::read_to_string(SCRIPT)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (speaker, text) = l.split_once(':').expect("lines are `Speaker: text`");
            Turn {
                speaker: speaker.trim().to_string(),
                text: text.trim().to_string(),
            }
        })
        .collect()
}

pub fn voice(speaker: &str) -> &'static str {
    match speaker {
        "Interviewer" => "en-us+m3",
        _ => "en-gb+f3",
    }
}

/// One participant's track on the call clock.
#[derive(Debug, Clone)]
pub struct Track {
    pub participant_id: String,
    pub display_name: String,
    pub samples: Vec<i16>,
}

/// Where each turn sits on the call clock.
#[derive(Debug, Clone)]
pub struct PlacedTurn {
    pub speaker: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Call {
    pub tracks: Vec<Track>,
    pub turns: Vec<PlacedTurn>,
    pub duration_ms: u64,
}

/// Renders one utterance with espeak-ng, at 16 kHz mono.
pub fn speak(voice: &str, text: &str, dir: &Path, name: &str) -> Vec<i16> {
    let wav = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", "160", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(status.success(), "espeak-ng failed for {text:?}");
    decode_file(&wav).unwrap().samples
}

/// The script as a two-track call: each turn on its speaker's track, the other track silent meanwhile.
pub fn render_call(dir: &Path) -> Call {
    let turns = read_script();
    let speakers = ["Interviewer", "Candidate"];
    let mut tracks: Vec<Track> = speakers
        .iter()
        .enumerate()
        .map(|(i, s)| Track {
            participant_id: format!("p{}", i + 1),
            display_name: s.to_string(),
            samples: vec![0; (LEAD_IN_MS * SAMPLES_PER_MS) as usize],
        })
        .collect();
    let mut placed = Vec::new();
    let mut now = LEAD_IN_MS;
    for (i, turn) in turns.iter().enumerate() {
        let speech = speak(voice(&turn.speaker), &turn.text, dir, &format!("turn{i}"));
        let len_ms = speech.len() as u64 / SAMPLES_PER_MS;
        let speech = &speech[..(len_ms * SAMPLES_PER_MS) as usize];
        for track in &mut tracks {
            if track.display_name == turn.speaker {
                track.samples.extend_from_slice(speech);
            } else {
                track.samples.resize(track.samples.len() + speech.len(), 0);
            }
            track
                .samples
                .resize(track.samples.len() + (GAP_MS * SAMPLES_PER_MS) as usize, 0);
        }
        placed.push(PlacedTurn {
            speaker: turn.speaker.clone(),
            start_ms: now,
            end_ms: now + len_ms,
            text: turn.text.clone(),
        });
        now += len_ms + GAP_MS;
    }
    Call {
        tracks,
        turns: placed,
        duration_ms: now,
    }
}

impl Call {
    /// The same conversation `times` over, back to back (for long-call benchmarks).
    pub fn looped(&self, times: usize) -> Call {
        let mut out = Call {
            tracks: self
                .tracks
                .iter()
                .map(|t| Track {
                    samples: Vec::new(),
                    ..t.clone()
                })
                .collect(),
            turns: Vec::new(),
            duration_ms: 0,
        };
        for i in 0..times as u64 {
            let offset = i * self.duration_ms;
            for (o, t) in out.tracks.iter_mut().zip(&self.tracks) {
                o.samples.extend_from_slice(&t.samples);
            }
            out.turns.extend(self.turns.iter().map(|t| PlacedTurn {
                start_ms: t.start_ms + offset,
                end_ms: t.end_ms + offset,
                ..t.clone()
            }));
        }
        out.duration_ms = self.duration_ms * times as u64;
        out
    }

    /// The script's words, in the order they were spoken.
    pub fn reference_text(&self) -> String {
        self.turns
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Feeds a call to the transcriber as the media plane would: 20 ms frames in call-clock order, each track
/// through the media plane's voice-activity detector. `speed` paces it (2.0 = twice real time); `None` sends
/// as fast as the transcriber accepts (its backpressure applies through `send().await`).
pub async fn feed_call(
    addr: &Addr<TranscriberActor>,
    interview_id: &str,
    call: &Call,
    speed: Option<f64>,
) {
    let frame = (FRAME_MS * SAMPLES_PER_MS) as usize;
    let mut vads: Vec<EnergyVad> = call
        .tracks
        .iter()
        .map(|_| EnergyVad::new(VadSettings::default()))
        .collect();
    let frames = call
        .tracks
        .iter()
        .map(|t| t.samples.len().div_ceil(frame))
        .max()
        .unwrap_or(0);
    let started = Instant::now();
    for f in 0..frames {
        let at_ms = f as u64 * FRAME_MS;
        if let Some(speed) = speed {
            let due = Duration::from_secs_f64(at_ms as f64 / 1000.0 / speed);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                tokio::time::sleep(wait).await;
            }
        }
        for (track, vad) in call.tracks.iter().zip(&mut vads) {
            let Some(pcm) = track.samples.chunks(frame).nth(f) else {
                continue;
            };
            let len = Duration::from_millis(pcm.len() as u64 / SAMPLES_PER_MS);
            let event = vad.process(Duration::from_millis(at_ms), len, pcm);
            if let Some(VadEvent::SpeechStarted { at }) = event {
                addr.send(speech(interview_id, track, at, true))
                    .await
                    .unwrap();
            }
            addr.send(ParticipantAudio {
                interview_id: interview_id.to_string(),
                participant_id: track.participant_id.clone(),
                display_name: track.display_name.clone(),
                start_ms: at_ms,
                samples: pcm.to_vec(),
            })
            .await
            .unwrap();
            if let Some(VadEvent::SpeechEnded { at }) = event {
                addr.send(speech(interview_id, track, at, false))
                    .await
                    .unwrap();
            }
        }
    }
    for (track, vad) in call.tracks.iter().zip(&mut vads) {
        if let Some(VadEvent::SpeechEnded { at }) = vad.finish() {
            addr.send(speech(interview_id, track, at, false))
                .await
                .unwrap();
        }
    }
}

fn speech(interview_id: &str, track: &Track, at: Duration, speaking: bool) -> ParticipantSpeech {
    ParticipantSpeech {
        interview_id: interview_id.to_string(),
        participant_id: track.participant_id.clone(),
        display_name: track.display_name.clone(),
        at_ms: at.as_millis() as u64,
        speaking,
    }
}

/// Collects `TranscriptReady` events for a test to await.
pub struct ReadyCollector {
    pub tx: Option<tokio::sync::oneshot::Sender<panelist::transcribe::TranscriptReady>>,
}

impl actix::Actor for ReadyCollector {
    type Context = actix::Context<Self>;
}

impl actix::Handler<panelist::transcribe::TranscriptReady> for ReadyCollector {
    type Result = ();

    fn handle(&mut self, msg: panelist::transcribe::TranscriptReady, _: &mut Self::Context) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(msg);
        }
    }
}
