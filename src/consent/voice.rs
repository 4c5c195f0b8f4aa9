//! The spoken consent notice: the text from Settings → Bots, spoken by espeak-ng (offline, no
//! model download) and encoded once into the 20 ms Opus packets a connector publishes. The last
//! text's audio is kept, so bots joining after it share one synthesis.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use panelist_bots::room::{encode_pcm, EncodedAudio};

/// The rate connectors publish at.
const PUBLISH_RATE: u32 = 48_000;
/// Words per minute: a little slower than espeak-ng's default, to be understood on a phone line.
const WORDS_PER_MINUTE: &str = "155";

#[derive(Debug, thiserror::Error)]
pub enum VoiceError {
    #[error("cannot run espeak-ng, which speaks the consent notice: {0} (Debian: apt-get install espeak-ng; or turn consent.spoken_notice off)")]
    Spawn(std::io::Error),
    #[error("espeak-ng failed ({status}): {stderr}")]
    Failed { status: String, stderr: String },
    #[error("espeak-ng gave audio that cannot be read: {0}")]
    Wav(&'static str),
    #[error("cannot encode the notice as Opus: {0}")]
    Encode(String),
}

/// Speaks notices in one voice, keeping the latest one's audio.
pub struct NoticeVoice {
    voice: String,
    last: Mutex<Option<(String, Arc<EncodedAudio>)>>,
}

impl NoticeVoice {
    /// `voice` is an espeak-ng voice name (`en-us`, `en-gb+f3`, `de`, …).
    pub fn new(voice: &str) -> NoticeVoice {
        NoticeVoice {
            voice: voice.to_owned(),
            last: Mutex::new(None),
        }
    }

    /// The notice's audio; blocking (runs espeak-ng the first time a text is asked for).
    pub fn speak(&self, text: &str) -> Result<Arc<EncodedAudio>, VoiceError> {
        if let Some((said, audio)) = self.last.lock().ok().and_then(|l| l.clone()) {
            if said == text {
                return Ok(audio);
            }
        }
        let pcm = synthesise(&self.voice, text)?;
        let audio = Arc::new(encode_pcm(&pcm).map_err(|e| VoiceError::Encode(e.to_string()))?);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((text.to_owned(), Arc::clone(&audio)));
        }
        Ok(audio)
    }
}

/// 48 kHz mono samples of `text` spoken by espeak-ng.
fn synthesise(voice: &str, text: &str) -> Result<Vec<i16>, VoiceError> {
    // The text goes on stdin, never the command line: it is user input and may start with '-'.
    let mut child = Command::new("espeak-ng")
        .args(["--stdout", "--stdin", "-v", voice, "-s", WORDS_PER_MINUTE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(VoiceError::Spawn)?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin
            .write_all(text.as_bytes())
            .map_err(VoiceError::Spawn)?;
    }
    let out = child.wait_with_output().map_err(VoiceError::Spawn)?;
    if !out.status.success() {
        return Err(VoiceError::Failed {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let (rate, samples) = parse_wav(&out.stdout)?;
    if samples.is_empty() {
        return Err(VoiceError::Wav("no samples"));
    }
    let floats: Vec<f32> = samples.iter().map(|&s| f32::from(s) / 32768.0).collect();
    let resampled = crate::transcribe::decode::resample(&floats, rate, PUBLISH_RATE);
    Ok(resampled
        .iter()
        .map(|&s| (s * 32767.0).clamp(-32768.0, 32767.0) as i16)
        .collect())
}

/// The rate and samples of the mono 16-bit WAV espeak-ng writes to a pipe. Written for that one
/// producer: its header sizes are placeholders when streaming, so the data runs to the end.
fn parse_wav(bytes: &[u8]) -> Result<(u32, Vec<i16>), VoiceError> {
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(VoiceError::Wav("not a WAV file"));
    }
    let mut at = 12;
    let mut rate = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = at + 8;
        if id == b"fmt " {
            let fmt = bytes
                .get(body..body + 16)
                .ok_or(VoiceError::Wav("short fmt chunk"))?;
            let format = u16::from_le_bytes([fmt[0], fmt[1]]);
            let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            if format != 1 || channels != 1 || bits != 16 {
                return Err(VoiceError::Wav("not 16-bit mono PCM"));
            }
            rate = Some(u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]));
        } else if id == b"data" {
            let rate = rate
                .filter(|r| (1_000..=384_000).contains(r))
                .ok_or(VoiceError::Wav("no usable fmt chunk before the data"))?;
            let data = &bytes[body..];
            let data = &data[..data.len().min(len) & !1];
            let samples = data
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            return Ok((rate, samples));
        }
        at = body.saturating_add(len + (len & 1));
    }
    Err(VoiceError::Wav("no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wav_from_a_pipe_reads_to_its_end() {
        let mut wav = crate::transcribe::wav::encode_wav(&[1, -2, 3, 300]);
        // Streaming writers leave placeholder sizes.
        wav[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        let (rate, samples) = parse_wav(&wav).unwrap();
        assert_eq!(rate, 16_000);
        assert_eq!(samples, vec![1, -2, 3, 300]);
        assert!(parse_wav(b"RIFF\0\0\0\0WAVEdata").is_err());
        assert!(parse_wav(b"not audio at all").is_err());
    }

    #[test]
    fn the_notice_is_spoken_at_the_publishing_rate_and_kept() {
        let voice = NoticeVoice::new("en-us");
        let text = "This call is recorded by Panelist.";
        let audio = voice.speak(text).unwrap();
        // About two seconds of speech, as 20 ms packets at 48 kHz.
        let secs = audio.samples as f64 / f64::from(PUBLISH_RATE);
        assert!((1.0..6.0).contains(&secs), "{secs} s");
        assert_eq!(audio.packets.len(), audio.samples.div_ceil(960));
        assert!(Arc::ptr_eq(&audio, &voice.speak(text).unwrap()));
        assert!(!Arc::ptr_eq(
            &audio,
            &voice.speak("Another notice.").unwrap()
        ));
    }

    #[test]
    fn text_that_looks_like_an_option_is_spoken_not_obeyed() {
        let voice = NoticeVoice::new("en-us");
        let audio = voice.speak("--version").unwrap();
        assert!(audio.samples > 4_800, "{} samples", audio.samples);
    }
}
