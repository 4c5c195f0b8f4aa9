//! A simulated participant's audio: loaded from a WAV file or samples, encoded once into 20 ms Opus packets.
//!
//! Encoding happens once per room, not per session, so a load test measures the bots and not the encoder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

/// Samples per 20 ms frame at 48 kHz.
pub const FRAME_SAMPLES: usize = 960;
const RATE: u32 = 48_000;

#[derive(Debug, Clone)]
pub enum AudioSource {
    /// A 48 kHz, 16-bit WAV file (stereo is mixed down).
    Wav(PathBuf),
    /// 48 kHz mono samples.
    Pcm(Arc<Vec<i16>>),
}

/// Opus packets ready to send, one per 20 ms.
#[derive(Debug)]
pub struct EncodedAudio {
    pub packets: Vec<Bytes>,
    /// One 20 ms frame of digital silence, for participants who stay after their source ends.
    pub silence: Bytes,
    /// Length of the source in 48 kHz samples (the last packet is padded with silence).
    pub samples: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Wav { path: PathBuf, source: hound::Error },
    #[error("{path} is {rate} Hz; the room plays 48 kHz sources (see scripts/gen-speech.sh)")]
    Rate { path: PathBuf, rate: u32 },
    #[error("Opus encoder: {0}")]
    Opus(#[from] opus::Error),
}

impl AudioSource {
    /// The source as 48 kHz mono samples.
    pub fn load(&self) -> Result<Arc<Vec<i16>>, SourceError> {
        match self {
            AudioSource::Pcm(p) => Ok(Arc::clone(p)),
            AudioSource::Wav(path) => read_wav(path).map(Arc::new),
        }
    }

    pub fn encode(&self) -> Result<EncodedAudio, SourceError> {
        encode_pcm(&self.load()?)
    }
}

pub fn read_wav(path: &Path) -> Result<Vec<i16>, SourceError> {
    let wav_err = |source| SourceError::Wav {
        path: path.to_path_buf(),
        source,
    };
    let reader = hound::WavReader::open(path).map_err(wav_err)?;
    let spec = reader.spec();
    if spec.sample_rate != RATE {
        return Err(SourceError::Rate {
            path: path.to_path_buf(),
            rate: spec.sample_rate,
        });
    }
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .collect::<Result<_, _>>()
        .map_err(wav_err)?;
    let channels = usize::from(spec.channels.max(1));
    Ok(samples
        .chunks(channels)
        .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16)
        .collect())
}

pub fn encode_pcm(pcm: &[i16]) -> Result<EncodedAudio, SourceError> {
    let mut enc = opus::Encoder::new(RATE, opus::Channels::Mono, opus::Application::Voip)?;
    // 32 kbit/s: what browsers send for speech; fullband Opus at this rate is transparent for ASR.
    enc.set_bitrate(opus::Bitrate::Bits(32_000))?;
    let mut out = vec![0u8; 1500];
    let mut frame = [0i16; FRAME_SAMPLES];
    let mut packets = Vec::with_capacity(pcm.len() / FRAME_SAMPLES + 1);
    for chunk in pcm.chunks(FRAME_SAMPLES) {
        frame.fill(0);
        frame[..chunk.len()].copy_from_slice(chunk);
        let n = enc.encode(&frame, &mut out)?;
        packets.push(Bytes::copy_from_slice(&out[..n]));
    }
    let n = enc.encode(&[0i16; FRAME_SAMPLES], &mut out)?;
    Ok(EncodedAudio {
        packets,
        silence: Bytes::copy_from_slice(&out[..n]),
        samples: pcm.len(),
    })
}
