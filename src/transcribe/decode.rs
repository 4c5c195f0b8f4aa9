//! Audio files → 16 kHz mono PCM for `panelist transcribe`.
//!
//! symphonia reads WAV, FLAC, MP3, AAC (ADTS or MP4/M4A) and Ogg Vorbis. It has no Opus decoder, so Ogg Opus
//! (including the media plane's per-participant recordings) is demuxed with the `ogg` crate and decoded by
//! the system libopus. Every input is mixed down to mono and resampled to 16 kHz with a windowed-sinc filter.

use std::fs::File;
use std::io::{BufReader, Cursor, Read};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::SAMPLE_RATE;

pub const SUPPORTED: &str = "WAV, FLAC, MP3, AAC/M4A, Ogg Vorbis, Ogg Opus";

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{}: the file is empty", path.display())]
    Empty { path: PathBuf },
    #[error("{}: no audio could be decoded from it{}", path.display(), detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    NoAudio {
        path: PathBuf,
        detail: Option<String>,
    },
    #[error("{}: not a supported audio file ({detail}); supported: {SUPPORTED}", path.display())]
    Unsupported { path: PathBuf, detail: String },
    #[error("{}: the audio is corrupt: {detail}", path.display())]
    Corrupt { path: PathBuf, detail: String },
    #[error("{}: a recording encrypted at rest: {detail}", path.display())]
    Sealed { path: PathBuf, detail: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A decoded file.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// 16 kHz mono.
    pub samples: Vec<i16>,
    pub source_rate: u32,
    pub channels: usize,
    pub codec: &'static str,
    /// The speaker's name when the file says (the bots recorder tags its Ogg Opus tracks with it).
    pub speaker: Option<String>,
}

impl DecodedAudio {
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Sample rates a real recording has: telephone 8 kHz down to 1 kHz for margin, studio 384 kHz up.
const SOURCE_RATES: std::ops::RangeInclusive<u32> = 1_000..=384_000;

/// Decodes `path`. Blocking and CPU-heavy: call it from `spawn_blocking` in async code.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, DecodeError> {
    let io = |source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(DecodeError::Empty {
            path: path.to_path_buf(),
        });
    }
    let mut head = vec![0u8; 512.min(len as usize)];
    file.read_exact(&mut head).map_err(io)?;
    if panelist_bots::recorder::sealed::is_sealed(&head) {
        return Err(DecodeError::Sealed {
            path: path.to_path_buf(),
            detail:
                "it opens only with the data key (`panelist transcribe` uses the configured one)"
                    .into(),
        });
    }
    let file = File::open(path).map_err(io)?;
    decode_source(path, &head, file)
}

/// [`decode_file`], opening a recording sealed at rest with whichever of `keys` sealed it.
pub fn decode_file_with_keys(
    path: &Path,
    keys: &[panelist_bots::recorder::RecordingKey],
) -> Result<DecodedAudio, DecodeError> {
    match decode_file(path) {
        Err(DecodeError::Sealed { .. }) => {
            let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            let plain = panelist_bots::recorder::sealed::unseal(&bytes, keys).map_err(|e| {
                DecodeError::Sealed {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                }
            })?;
            // `x.opus.sealed` decodes as `x.opus`.
            decode_bytes(&path.with_extension(""), plain)
        }
        other => other,
    }
}

/// Whether the file at `path` is a recording sealed at rest (unreadable files are not).
pub fn is_sealed_file(path: &Path) -> bool {
    let mut head = [0u8; 16];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| panelist_bots::recorder::sealed::is_sealed(&head))
}

/// Decodes an audio file already in memory, exactly as [`decode_file`] decodes one on disk: `name` stands
/// for the file in errors, and its extension is the format hint. Used by the fuzz targets (docs/fuzzing.md).
pub fn decode_bytes(name: &Path, bytes: Vec<u8>) -> Result<DecodedAudio, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty {
            path: name.to_path_buf(),
        });
    }
    let head = bytes[..512.min(bytes.len())].to_vec();
    decode_source(name, &head, Cursor::new(bytes))
}

/// The decoding shared by [`decode_file`] and [`decode_bytes`]: `head` is the start of `source`, read
/// beforehand to tell Ogg Opus from the formats symphonia reads.
fn decode_source<R: MediaSource + 'static>(
    path: &Path,
    head: &[u8],
    source: R,
) -> Result<DecodedAudio, DecodeError> {
    let (mono, rate, channels, codec, speaker) = if is_ogg_opus(head) {
        let (mono, channels, speaker) = decode_ogg_opus(path, source)?;
        (mono, 48_000, channels, "opus", speaker)
    } else {
        // symphonia 0.5 panics on some malformed files (an integer overflow in its ADTS reader, found by
        // fuzzing: docs/fuzzing.md). A corrupt file must be an error, not a crashed `panelist transcribe`
        // or transcription worker. Nothing symphonia built outlives the call, so no half-updated state can
        // be seen after a panic.
        let decoded = std::panic::catch_unwind(AssertUnwindSafe(|| decode_symphonia(path, source)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(DecodeError::Corrupt {
                    path: path.to_path_buf(),
                    detail: format!("the decoder failed on malformed data ({what})"),
                })
            });
        let (mono, rate, channels, codec) = decoded?;
        (mono, rate, channels, codec, None)
    };
    if mono.is_empty() {
        return Err(DecodeError::NoAudio {
            path: path.to_path_buf(),
            detail: None,
        });
    }
    // A header can claim any rate; the resampler's work grows with the ratio, so a file claiming
    // 1 GHz (found by fuzzing: docs/fuzzing.md) took minutes and gigabytes for 800 samples.
    if !SOURCE_RATES.contains(&rate) {
        return Err(DecodeError::Unsupported {
            path: path.to_path_buf(),
            detail: format!(
                "a sample rate of {rate} Hz (audio files use {} to {} Hz)",
                SOURCE_RATES.start(),
                SOURCE_RATES.end()
            ),
        });
    }
    let resampled = resample(&mono, rate, SAMPLE_RATE);
    // A handful of samples at a high rate can come out as none at 16 kHz (found by fuzzing).
    if resampled.is_empty() {
        return Err(DecodeError::NoAudio {
            path: path.to_path_buf(),
            detail: Some(format!("{} samples at {rate} Hz", mono.len())),
        });
    }
    Ok(DecodedAudio {
        samples: resampled.iter().map(|&s| to_i16(s)).collect(),
        source_rate: rate,
        channels,
        codec,
        speaker,
    })
}

fn is_ogg_opus(head: &[u8]) -> bool {
    head.starts_with(b"OggS") && head.windows(8).any(|w| w == b"OpusHead")
}

fn to_i16(s: f32) -> i16 {
    (s * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

type Mono = Vec<f32>;

fn decode_symphonia<R: MediaSource + 'static>(
    path: &Path,
    file: R,
) -> Result<(Mono, u32, usize, &'static str), DecodeError> {
    let unsupported = |detail: String| DecodeError::Unsupported {
        path: path.to_path_buf(),
        detail,
    };
    let corrupt = |detail: String| DecodeError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let stream = MediaSourceStream::new(Box::new(file), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            stream,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymphoniaError::Unsupported(what) => {
                unsupported(format!("unrecognised format: {what}"))
            }
            other => corrupt(other.to_string()),
        })?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or_else(|| unsupported("no audio track".into()))?;
    let track_id = track.id;
    let codec = codec_name(track.codec_params.codec);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| unsupported(format!("{codec} audio cannot be decoded: {e}")))?;
    let mut mono = Vec::new();
    let mut rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut channels = track.codec_params.channels.map_or(0, |c| c.count());
    let (mut decoded, mut bad) = (0usize, 0usize);
    let mut last_error = None;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break
            }
            Err(SymphoniaError::ResetRequired) => break,
            Err(e) => {
                // A broken container after good audio: keep what was decoded.
                if decoded == 0 {
                    return Err(corrupt(e.to_string()));
                }
                last_error = Some(e.to_string());
                break;
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                let spec = *buf.spec();
                rate = spec.rate;
                channels = spec.channels.count().max(1);
                let mut samples = SampleBuffer::<f32>::new(buf.capacity() as u64, spec);
                samples.copy_interleaved_ref(buf);
                downmix_into(samples.samples(), channels, &mut mono);
                decoded += 1;
            }
            Err(SymphoniaError::DecodeError(e)) => {
                bad += 1;
                last_error = Some(e.to_string());
            }
            Err(SymphoniaError::IoError(_)) => break,
            Err(e) => return Err(corrupt(e.to_string())),
        }
    }
    if decoded == 0 {
        return Err(match last_error {
            Some(e) => corrupt(format!("no packet decoded ({bad} bad): {e}")),
            None => DecodeError::NoAudio {
                path: path.to_path_buf(),
                detail: Some(format!("{codec} track without audio packets")),
            },
        });
    }
    if bad > 0 {
        tracing::warn!(file = %path.display(), bad_packets = bad, "skipped undecodable packets");
    }
    if rate == 0 {
        return Err(corrupt("no sample rate".into()));
    }
    Ok((mono, rate, channels, codec))
}

fn codec_name(codec: symphonia::core::codecs::CodecType) -> &'static str {
    symphonia::default::get_codecs()
        .get_codec(codec)
        .map_or("audio", |d| d.short_name)
}

fn downmix_into(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    if channels <= 1 {
        out.extend_from_slice(interleaved);
        return;
    }
    let scale = 1.0 / channels as f32;
    out.extend(
        interleaved
            .chunks_exact(channels)
            .map(|frame| frame.iter().sum::<f32>() * scale),
    );
}

/// Largest Opus frame: 120 ms at 48 kHz, per channel.
const OPUS_MAX_FRAME: usize = 5_760;

fn decode_ogg_opus<R: MediaSource>(
    path: &Path,
    file: R,
) -> Result<(Mono, usize, Option<String>), DecodeError> {
    let corrupt = |detail: String| DecodeError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let mut reader = ogg::PacketReader::new(BufReader::new(file));
    let next = |reader: &mut ogg::PacketReader<BufReader<R>>| match reader.read_packet() {
        Ok(p) => Ok(p),
        Err(e) => Err(e.to_string()),
    };
    let head = next(&mut reader)
        .map_err(&corrupt)?
        .ok_or_else(|| corrupt("no OpusHead".into()))?;
    let h = &head.data;
    if h.len() < 19 || !h.starts_with(b"OpusHead") {
        return Err(corrupt("the first packet is not an OpusHead".into()));
    }
    let channels = usize::from(h[9]);
    let pre_skip = usize::from(u16::from_le_bytes([h[10], h[11]]));
    let gain_db = f32::from(i16::from_le_bytes([h[16], h[17]])) / 256.0;
    let mapping = h[18];
    let layout = match (channels, mapping) {
        (1, _) => opus::Channels::Mono,
        (2, _) => opus::Channels::Stereo,
        _ => {
            return Err(DecodeError::Unsupported {
                path: path.to_path_buf(),
                detail: format!("Opus with {channels} channels (mapping family {mapping})"),
            })
        }
    };
    let mut decoder =
        opus::Decoder::new(48_000, layout).map_err(|e| corrupt(format!("libopus: {e}")))?;
    let gain = 10f32.powf(gain_db / 20.0);
    let mut speaker = None;
    let mut mono = Vec::new();
    let mut pcm = vec![0f32; OPUS_MAX_FRAME * channels];
    let (mut packets, mut bad) = (0usize, 0usize);
    let mut first = true;
    loop {
        let packet = match next(&mut reader) {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A recording cut short by a crash ends in a torn page: keep everything before it.
            Err(e) if packets > 0 => {
                tracing::warn!(file = %path.display(), error = %e, "Ogg stream ends early; using the audio before it");
                break;
            }
            Err(e) => return Err(corrupt(e)),
        };
        if first {
            first = false;
            if packet.data.starts_with(b"OpusTags") {
                speaker = opus_tag(&packet.data, "PANELIST_DISPLAY_NAME");
                continue;
            }
        }
        match decoder.decode_float(&packet.data, &mut pcm, false) {
            Ok(n) => {
                downmix_into(&pcm[..n * channels], channels, &mut mono);
                packets += 1;
            }
            Err(_) => {
                // Keep the timeline: a bad packet becomes silence of its own length.
                bad += 1;
                let n = opus::packet::get_nb_samples(&packet.data, 48_000).unwrap_or(960);
                mono.resize(mono.len() + n, 0.0);
            }
        }
    }
    if packets == 0 && bad > 0 {
        return Err(corrupt(format!("none of its {bad} Opus packets decoded")));
    }
    if bad > 0 {
        tracing::warn!(file = %path.display(), bad_packets = bad, "replaced undecodable Opus packets with silence");
    }
    let skip = pre_skip.min(mono.len());
    mono.drain(..skip);
    if gain != 1.0 {
        mono.iter_mut().for_each(|s| *s *= gain);
    }
    Ok((mono, channels, speaker))
}

/// A Vorbis-comment value from an OpusTags packet.
fn opus_tag(tags: &[u8], key: &str) -> Option<String> {
    let u32_at = |at: usize| -> Option<usize> {
        let b = tags.get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let vendor = u32_at(8)?;
    let mut at = 12 + vendor;
    let count = u32_at(at)?;
    at += 4;
    for _ in 0..count {
        let len = u32_at(at)?;
        let comment = tags.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        let comment = String::from_utf8_lossy(comment);
        if let Some((k, v)) = comment.split_once('=') {
            if k.eq_ignore_ascii_case(key) && !v.trim().is_empty() {
                return Some(v.trim().to_string());
            }
        }
    }
    None
}

/// Zero crossings of the sinc on each side of a sample (at the output rate's cut-off).
const HALF_ZEROS: f64 = 16.0;
/// Filter phases between two input samples; the nearest is used.
const PHASES: usize = 256;

/// Band-limited resampling with a Blackman-windowed sinc: a polyphase table for `PHASES` fractional
/// positions, cut-off just under the lower Nyquist frequency. Plenty for speech recognition.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    // Cut-off as a fraction of the input Nyquist: below the output's Nyquist when downsampling.
    let cutoff = ratio.min(1.0) * 0.95;
    let half = (HALF_ZEROS / cutoff).ceil() as usize;
    let taps = 2 * half;
    let mut bank = vec![0f32; (PHASES + 1) * taps];
    for p in 0..=PHASES {
        let frac = p as f64 / PHASES as f64;
        let row = &mut bank[p * taps..(p + 1) * taps];
        let mut sum = 0.0;
        for (k, w) in row.iter_mut().enumerate() {
            // Tap k sits at input offset (k - half + 1) from floor(t); its distance from t is that minus frac.
            let x = (k as f64 - half as f64 + 1.0) - frac;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                let a = std::f64::consts::PI * cutoff * x;
                a.sin() / a
            };
            let n = (x + half as f64) / (2.0 * half as f64); // 0..1 across the window
            let window = if (0.0..=1.0).contains(&n) {
                0.42 - 0.5 * (2.0 * std::f64::consts::PI * n).cos()
                    + 0.08 * (4.0 * std::f64::consts::PI * n).cos()
            } else {
                0.0
            };
            *w = (sinc * window) as f32;
            sum += sinc * window;
        }
        // Unity gain at DC for every phase.
        if sum.abs() > 1e-12 {
            row.iter_mut()
                .for_each(|w| *w = (f64::from(*w) / sum) as f32);
        }
    }
    let out_len = ((input.len() as f64) * ratio).round() as usize;
    let step = f64::from(from) / f64::from(to);
    let mut out = Vec::with_capacity(out_len);
    let last = input.len() as i64 - 1;
    for n in 0..out_len {
        let t = n as f64 * step;
        let base = t.floor();
        let phase = ((t - base) * PHASES as f64).round() as usize;
        let row = &bank[phase * taps..(phase + 1) * taps];
        let first = base as i64 - half as i64 + 1;
        let acc: f32 = if first >= 0 && first + taps as i64 - 1 <= last {
            let s = &input[first as usize..first as usize + taps];
            s.iter().zip(row).map(|(a, b)| a * b).sum()
        } else {
            // Near the ends: samples outside the input are silence.
            row.iter()
                .enumerate()
                .map(|(k, w)| {
                    let i = first + k as i64;
                    if (0..=last).contains(&i) {
                        input[i as usize] * w
                    } else {
                        0.0
                    }
                })
                .sum()
        };
        out.push(acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_panics_symphonia_is_a_corrupt_file() {
        // Regression (docs/fuzzing.md; fuzz/corpus/audio_decode/regression-symphonia-adts-overflow): this
        // input makes symphonia 0.5.5's ADTS probe subtract with overflow, a panic in debug builds.
        let bytes = include_bytes!("../../tests/fixtures/fuzz/symphonia-adts-overflow.opus");
        let result = decode_bytes(Path::new("input.opus"), bytes.to_vec());
        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn a_file_claiming_an_absurd_sample_rate_is_refused_at_once() {
        // Regression (docs/fuzzing.md, finding 5): a 1 KB WAV whose header says 1,090,527,040 Hz
        // made the resampler take minutes and gigabytes.
        let bytes = include_bytes!("../../tests/fixtures/fuzz/symphonia-wav-1ghz.wav");
        let err = decode_bytes(Path::new("input.wav"), bytes.to_vec()).unwrap_err();
        assert!(err.to_string().contains("1090527040 Hz"), "{err}");
    }

    #[test]
    fn audio_too_short_to_resample_is_no_audio_not_an_empty_success() {
        // Regression (docs/fuzzing.md, finding 6): a few samples at 65,509 Hz resample to none.
        let bytes = include_bytes!("../../tests/fixtures/fuzz/wav-too-short-to-resample.wav");
        let result = decode_bytes(Path::new("input.wav"), bytes.to_vec());
        assert!(
            matches!(result, Err(DecodeError::NoAudio { .. })),
            "{result:?}"
        );
    }

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(f64::from(rate) * secs) as usize)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn resampling_keeps_speech_band_tones_and_removes_aliases() {
        for from in [48_000, 44_100, 22_050, 8_000] {
            let out = resample(&tone(440.0, from, 1.0), from, 16_000);
            assert!(
                (out.len() as i64 - 16_000).abs() <= 1,
                "{from}: {}",
                out.len()
            );
            let level = rms(&out[1_000..15_000]);
            assert!((level - 0.3536).abs() < 0.01, "{from}: rms {level}");
        }
        // 12 kHz cannot exist at 16 kHz: it must be filtered out, not folded down to 4 kHz.
        let out = resample(&tone(12_000.0, 48_000, 1.0), 48_000, 16_000);
        assert!(rms(&out[1_000..15_000]) < 0.005);
    }

    #[test]
    fn opus_tags_are_read() {
        let mut t = b"OpusTags".to_vec();
        t.extend_from_slice(&3u32.to_le_bytes());
        t.extend_from_slice(b"abc");
        t.extend_from_slice(&2u32.to_le_bytes());
        for c in [
            "PANELIST_PARTICIPANT=p1",
            "PANELIST_DISPLAY_NAME=Ada Lovelace",
        ] {
            t.extend_from_slice(&(c.len() as u32).to_le_bytes());
            t.extend_from_slice(c.as_bytes());
        }
        assert_eq!(
            opus_tag(&t, "PANELIST_DISPLAY_NAME").as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(opus_tag(&t, "MISSING"), None);
        assert_eq!(opus_tag(&t[..20], "PANELIST_DISPLAY_NAME"), None);
    }
}
