//! `panelist transcribe FILE`: decoding every supported container (including the bots recorder's Ogg Opus
//! tracks), clear errors for empty, corrupt and unsupported files, and the CLI's output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transcribe_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use panelist::models::ModelName;
use panelist::transcribe::decode::{decode_file, DecodeError};
use panelist::transcribe::wav::encode_wav;
use panelist::transcribe::wer::word_error_rate;
use panelist_bots::recorder::opus_file::OggOpusWriter;
use transcribe_support::{model_dir, speak};

const SENTENCE: &str = "Could you tell me about a project you are proud of?";

/// A 440 Hz tone at 48 kHz stereo, as a WAV file (16-bit).
fn write_tone_wav(path: &Path, rate: u32, channels: u16, secs: f32) {
    let n = (rate as f32 * secs) as usize;
    let mut data = Vec::new();
    for i in 0..n {
        let v = ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16;
        for _ in 0..channels {
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2 * channels as u32).to_le_bytes());
    out.extend_from_slice(&(2 * channels).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

fn sox(args: &[&str]) {
    let status = Command::new("sox")
        .args(args)
        .status()
        .expect("sox runs (apt-get install sox)");
    assert!(status.success(), "sox {args:?}");
}

/// Encodes 16 kHz speech as the bots recorder stores a track: Ogg Opus at 48 kHz, 20 ms packets, tagged
/// with the participant's display name.
fn write_recorder_opus(path: &Path, speech_16k: &[i16], name: &str) {
    write_track(std::fs::File::create(path).unwrap(), speech_16k, name);
}

/// As the recorder writes a track, into `out` (a file, or a sealing writer around one).
fn write_track<W: std::io::Write>(out: W, speech_16k: &[i16], name: &str) {
    // Upsample by 3 with sample repetition: crude, but Opus's own band limit cleans it up for speech.
    let pcm48: Vec<i16> = speech_16k.iter().flat_map(|&s| [s, s, s]).collect();
    let mut enc =
        opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
    let mut writer = OggOpusWriter::new(
        out,
        7,
        &[
            ("PANELIST_PARTICIPANT", "p9"),
            ("PANELIST_DISPLAY_NAME", "Ada Lovelace"),
        ],
    )
    .unwrap();
    let _ = name;
    let mut out = vec![0u8; 4000];
    for (i, frame) in pcm48.chunks(960).enumerate() {
        let mut frame = frame.to_vec();
        frame.resize(960, 0);
        let n = enc.encode(&frame, &mut out).unwrap();
        writer.push(i as u64 * 960, &out[..n]).unwrap();
        if i % 50 == 49 {
            writer.flush_page().unwrap();
        }
    }
    writer.finish().unwrap();
}

#[test]
fn every_supported_container_decodes_to_16khz_mono() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone.wav");
    write_tone_wav(&wav, 48_000, 2, 2.0);
    let a = decode_file(&wav).unwrap();
    assert_eq!(
        (a.source_rate, a.channels, a.codec),
        (48_000, 2, "pcm_s16le")
    );
    assert!(
        (a.samples.len() as i64 - 32_000).abs() <= 2,
        "{}",
        a.samples.len()
    );
    let peak = a.samples[2_000..30_000]
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap();
    assert!((7_000..=9_000).contains(&peak), "peak {peak}");

    let flac = dir.path().join("tone.flac");
    let ogg = dir.path().join("tone.ogg");
    sox(&[wav.to_str().unwrap(), flac.to_str().unwrap()]);
    sox(&[wav.to_str().unwrap(), "-C", "4", ogg.to_str().unwrap()]);
    for (path, codec) in [(&flac, "flac"), (&ogg, "vorbis")] {
        let a = decode_file(path).unwrap();
        assert_eq!(a.codec, codec);
        // Lossy codecs may keep a few ms of encoder padding.
        assert!(
            (a.samples.len() as i64 - 32_000).abs() <= 400,
            "{codec}: {}",
            a.samples.len()
        );
    }
}

#[test]
fn a_bots_recorder_ogg_opus_track_decodes_with_its_speaker_name() {
    let dir = tempfile::tempdir().unwrap();
    let speech = speak("en-gb+f3", SENTENCE, dir.path(), "s");
    let path = dir.path().join("p9.opus");
    write_recorder_opus(&path, &speech, "Ada Lovelace");
    let a = decode_file(&path).unwrap();
    assert_eq!(a.codec, "opus");
    assert_eq!(a.speaker.as_deref(), Some("Ada Lovelace"));
    let expected = speech.len().div_ceil(320) * 320;
    assert!(
        (a.samples.len() as i64 - expected as i64).abs() <= 320,
        "{} vs {expected}",
        a.samples.len()
    );
}

#[test]
fn empty_corrupt_and_unsupported_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let err = decode_file(&empty).unwrap_err();
    assert!(matches!(err, DecodeError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("empty"), "{err}");

    // A WAV header whose data is cut off after a few bytes, and an Ogg Opus file with garbage pages.
    let truncated = dir.path().join("truncated.wav");
    let mut wav = encode_wav(&vec![1000; 16_000]);
    wav.truncate(45);
    std::fs::write(&truncated, &wav).unwrap();
    let err = decode_file(&truncated).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::NoAudio { .. } | DecodeError::Corrupt { .. }
        ),
        "{err}"
    );

    let garbage_ogg = dir.path().join("garbage.opus");
    let mut bytes = b"OggS\0\x02".to_vec();
    bytes.extend_from_slice(&[0u8; 20]);
    bytes.extend_from_slice(b"OpusHead");
    bytes.extend_from_slice(&[0xff; 64]);
    std::fs::write(&garbage_ogg, &bytes).unwrap();
    let err = decode_file(&garbage_ogg).unwrap_err();
    assert!(matches!(err, DecodeError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("corrupt"), "{err}");

    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "these are not the sounds you are looking for\n".repeat(20),
    )
    .unwrap();
    let err = decode_file(&text).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains("WAV, FLAC, MP3"), "{err}");

    let missing = dir.path().join("missing.wav");
    assert!(matches!(
        decode_file(&missing).unwrap_err(),
        DecodeError::Io { .. }
    ));
}

fn panelist(args: &[&str], model_dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_panelist"))
        .args(args)
        .env("PANELIST_MODEL_DIR", model_dir)
        .env("PANELIST__DATA_DIR", model_dir.join("data"))
        .env_remove("PANELIST_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_cli_reports_bad_files_and_a_missing_model_with_non_zero_exits() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.wav");
    std::fs::write(&empty, b"").unwrap();
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "plain text, not audio ".repeat(40)).unwrap();
    for (file, needle) in [(&empty, "empty"), (&notes, "not a supported audio file")] {
        let out = panelist(&["transcribe", file.to_str().unwrap()], dir.path());
        assert!(!out.status.success());
        assert!(stderr(&out).contains(needle), "{}", stderr(&out));
        assert!(out.stdout.is_empty());
    }

    let wav = dir.path().join("tone.wav");
    write_tone_wav(&wav, 16_000, 1, 1.0);
    let no_models = dir.path().join("no-models");
    let out = panelist(&["transcribe", wav.to_str().unwrap()], &no_models);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("panelist models install tiny.en"), "{err}");
}

#[test]
fn the_cli_prints_json_text_and_subtitles_for_a_real_recording() {
    let models = model_dir(ModelName::TinyEn);
    let dir = tempfile::tempdir().unwrap();
    let speech = speak("en-us+m3", SENTENCE, dir.path(), "sentence");
    // Two seconds of silence on either side, as a recording of one participant would have.
    let mut padded = vec![0i16; 32_000];
    padded.extend_from_slice(&speech);
    padded.extend(vec![0i16; 32_000]);
    let wav = dir.path().join("interviewer.wav");
    std::fs::write(&wav, encode_wav(&padded)).unwrap();
    let file = wav.to_str().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_panelist"))
        .args(["transcribe", file, "--format", "json", "--model", "tiny.en"])
        .env("PANELIST_MODEL_DIR", &models)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    let obj = json.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), vec!["segments"]);
    let segments = obj["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    let mut text = String::new();
    for s in segments {
        let s = s.as_object().unwrap();
        let mut keys: Vec<_> = s.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, vec!["end", "speaker", "start", "text"]);
        assert_eq!(s["speaker"], "interviewer");
        let (start, end) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(
            1.5 <= start && start <= end && end <= padded.len() as f64 / 16_000.0,
            "{s:?}"
        );
        text.push_str(s["text"].as_str().unwrap());
        text.push(' ');
    }
    assert!(word_error_rate(SENTENCE, &text) <= 0.1, "{text}");

    for (format, start) in [
        ("text", "[00:0"),
        ("srt", "1\n00:00:0"),
        ("vtt", "WEBVTT\n\n00:00:0"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_panelist"))
            .args(["transcribe", file, "--format", format, "--speaker", "Sam"])
            .env("PANELIST_MODEL_DIR", &models)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.starts_with(start), "{format}: {stdout}");
        assert!(stdout.contains("Sam"), "{format}: {stdout}");
    }
}

/// `panelist models install` is idempotent: with the model present it does nothing and says so.
#[test]
fn installing_an_installed_model_is_a_no_op() {
    let models: PathBuf = model_dir(ModelName::TinyEn);
    let out = Command::new(env!("CARGO_BIN_EXE_panelist"))
        .args([
            "models",
            "install",
            "tiny.en",
            "--python",
            "/nonexistent/python",
        ])
        .env("PANELIST_MODEL_DIR", &models)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("already installed") && stdout.contains("nothing to do"),
        "{stdout}"
    );
}

/// A recording sealed at rest opens with the configured key and only with it.
#[test]
fn the_cli_opens_a_sealed_recording_with_the_data_key_only() {
    use base64::Engine;
    let models = model_dir(ModelName::TinyEn);
    let dir = tempfile::tempdir().unwrap();
    let speech = speak("en-gb+f3", SENTENCE, dir.path(), "s");
    let path = dir.path().join("00-p9.opus.sealed");
    let key = [11u8; 32];
    let sealed = panelist_bots::recorder::SealedWriter::new(
        std::fs::File::create(&path).unwrap(),
        panelist_bots::recorder::RecordingKey::new(&key),
    )
    .unwrap();
    write_track(sealed, &speech, "Ada Lovelace");
    let run = |key: [u8; 32]| {
        Command::new(env!("CARGO_BIN_EXE_panelist"))
            .args([
                "transcribe",
                path.to_str().unwrap(),
                "--format",
                "json",
                "--model",
                "tiny.en",
            ])
            .env("PANELIST_MODEL_DIR", &models)
            .env("PANELIST__DATA_DIR", dir.path().join("data"))
            .env(
                "PANELIST__SECURITY__ENCRYPTION_KEY",
                base64::engine::general_purpose::STANDARD.encode(key),
            )
            .env_remove("PANELIST_CONFIG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let out = run(key);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let segments = json["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    assert_eq!(segments[0]["speaker"], "Ada Lovelace");
    let wrong = run([12u8; 32]);
    assert!(!wrong.status.success());
    let err = stderr(&wrong);
    assert!(
        err.contains("encrypted at rest") && err.contains("not with the configured key"),
        "{err}"
    );
    assert!(wrong.stdout.is_empty());
}
