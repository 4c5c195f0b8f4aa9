//! One participant's audio path: jitter buffer → Opus decode (with loss concealment) → 16 kHz → VAD.
//!
//! Sans-IO: the caller pushes packets with their arrival time and polls with the current time, both on the
//! call clock, and gets back PCM frames, speech events and the original packets to record. Decoding runs
//! inline in the caller's task because one 20 ms Opus frame decodes in tens of microseconds; handing each
//! one to a blocking pool would cost more than the work.

use std::time::Duration;

use bytes::Bytes;

use super::jitter::{JitterBuffer, JitterSettings, RtpPacket, Slot};
use super::resample::Decimator;
use super::vad::{EnergyVad, VadEvent, VadSettings};
use crate::call::PcmFrame;

/// Opus always runs its RTP clock at 48 kHz.
pub const OPUS_RATE: u32 = 48_000;
/// The longest Opus packet (120 ms) at 48 kHz.
const MAX_PACKET_SAMPLES: usize = 5_760;
/// What a lost packet is assumed to have held before any packet told us otherwise (20 ms, WebRTC's default).
const DEFAULT_FRAME_SAMPLES: usize = 960;

#[derive(Debug, Clone, Copy)]
pub struct PipelineSettings {
    pub jitter: JitterSettings,
    pub vad: VadSettings,
    /// Longest run of lost audio to conceal; beyond it concealment only makes up noise, so the frames jump.
    pub max_conceal: Duration,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self {
            jitter: JitterSettings::default(),
            vad: VadSettings::default(),
            max_conceal: Duration::from_millis(120),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PipelineOutput {
    Frame(PcmFrame),
    Speech(VadEvent),
    /// An original Opus packet and where it starts, in 48 kHz samples from the track's first packet.
    Record {
        offset: u64,
        payload: Bytes,
    },
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PipelineCounters {
    pub received: u64,
    pub concealed: u64,
    pub lost: u64,
    pub late: u64,
    pub decode_errors: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("could not create the Opus decoder: {0}")]
    Decoder(#[from] opus::Error),
}

pub struct ParticipantPipeline {
    settings: PipelineSettings,
    jitter: JitterBuffer,
    decoder: opus::Decoder,
    decimator: Decimator,
    vad: EnergyVad,
    /// Call-clock arrival of the first packet, and its RTP timestamp: together they map RTP time to call time.
    origin: Option<(Duration, u64)>,
    /// Highest unwrapped RTP timestamp, the reference for unwrapping the next.
    ts_highest: u64,
    /// Where the next frame starts, in 48 kHz samples from the track's origin.
    cursor: u64,
    last_frame_samples: usize,
    concealed: u64,
    decode_errors: u64,
    pcm48: Vec<i16>,
}

impl ParticipantPipeline {
    pub fn new(settings: PipelineSettings) -> Result<Self, PipelineError> {
        Ok(Self {
            settings,
            jitter: JitterBuffer::new(settings.jitter),
            decoder: opus::Decoder::new(OPUS_RATE, opus::Channels::Mono)?,
            decimator: Decimator::new(),
            vad: EnergyVad::new(settings.vad),
            origin: None,
            ts_highest: 0,
            cursor: 0,
            last_frame_samples: DEFAULT_FRAME_SAMPLES,
            concealed: 0,
            decode_errors: 0,
            pcm48: vec![0; MAX_PACKET_SAMPLES],
        })
    }

    /// Where the track starts on the call clock (known after its first packet).
    pub fn start_offset(&self) -> Option<Duration> {
        self.origin.map(|(at, _)| at)
    }

    pub fn counters(&self) -> PipelineCounters {
        let j = self.jitter.counters();
        PipelineCounters {
            received: j.received,
            concealed: self.concealed,
            lost: j.lost,
            late: j.late,
            decode_errors: self.decode_errors,
        }
    }

    pub fn push(&mut self, packet: RtpPacket, arrival: Duration) {
        if self.origin.is_none() {
            let ts = (1u64 << 33) + u64::from(packet.timestamp);
            self.origin = Some((arrival, ts));
            self.ts_highest = ts;
        }
        self.jitter.push(packet, arrival);
    }

    /// When `poll` should next be called even if no packet arrives (a gap is waiting to be given up).
    pub fn next_deadline(&self) -> Option<Duration> {
        self.jitter.next_deadline()
    }

    /// Processes everything that is ready at `now`.
    pub fn poll(&mut self, now: Duration, out: &mut Vec<PipelineOutput>) {
        while let Some(slot) = self.jitter.pop(now) {
            match slot {
                Slot::Packet(p) => self.decode(p, out),
                Slot::Missing { count } => self.conceal(count, out),
            }
        }
    }

    /// The track ended: gives up on gaps, drains, and closes any open speech.
    pub fn finish(&mut self, now: Duration, out: &mut Vec<PipelineOutput>) {
        self.jitter.expire_all();
        self.poll(now, out);
        out.extend(self.vad.finish().map(PipelineOutput::Speech));
    }

    fn decode(&mut self, packet: RtpPacket, out: &mut Vec<PipelineOutput>) {
        let ts = self.extend_timestamp(packet.timestamp);
        let origin_ts = self.origin.map_or(ts, |(_, t)| t);
        let offset = ts.saturating_sub(origin_ts);
        match self.decoder.decode(&packet.payload, &mut self.pcm48, false) {
            Ok(n) if n > 0 => {
                self.last_frame_samples = n;
                self.emit(offset, n, false, out);
            }
            // A corrupt packet is treated like a lost one, so the timeline keeps its length.
            _ => {
                self.decode_errors += 1;
                self.cursor = self.cursor.max(offset);
                self.conceal_one(out);
            }
        }
        out.push(PipelineOutput::Record {
            offset,
            payload: packet.payload,
        });
    }

    fn conceal(&mut self, count: u64, out: &mut Vec<PipelineOutput>) {
        let frame = Duration::from_micros(
            self.last_frame_samples as u64 * 1_000_000 / u64::from(OPUS_RATE),
        );
        let max = (self.settings.max_conceal.as_micros() / frame.as_micros().max(1)) as u64;
        for _ in 0..count.min(max) {
            self.conceal_one(out);
        }
    }

    fn conceal_one(&mut self, out: &mut Vec<PipelineOutput>) {
        let want = self.last_frame_samples.min(MAX_PACKET_SAMPLES);
        match self.decoder.decode(&[], &mut self.pcm48[..want], false) {
            Ok(n) if n > 0 => {
                self.concealed += 1;
                self.emit(self.cursor, n, true, out);
            }
            _ => self.decode_errors += 1,
        }
    }

    /// Turns `n` decoded 48 kHz samples starting at `offset` into a 16 kHz frame and a VAD decision.
    fn emit(&mut self, offset: u64, n: usize, concealed: bool, out: &mut Vec<PipelineOutput>) {
        let Some((origin_at, _)) = self.origin else {
            return;
        };
        let mut samples = Vec::with_capacity(n / 3 + 1);
        self.decimator.process(&self.pcm48[..n], &mut samples);
        let at = origin_at + samples_to_duration(offset);
        let frame = PcmFrame {
            at,
            samples,
            concealed,
        };
        out.extend(
            self.vad
                .process(at, frame.duration(), &frame.samples)
                .map(PipelineOutput::Speech),
        );
        out.push(PipelineOutput::Frame(frame));
        self.cursor = offset + n as u64;
    }

    fn extend_timestamp(&mut self, ts: u32) -> u64 {
        let delta = i64::from(ts.wrapping_sub(self.ts_highest as u32) as i32);
        let ext = (self.ts_highest as i64 + delta) as u64;
        self.ts_highest = self.ts_highest.max(ext);
        ext
    }
}

/// 48 kHz sample count as a duration.
pub fn samples_to_duration(samples: u64) -> Duration {
    // In u128: a stream whose RTP timestamps keep jumping (hostile or broken) can reach sample
    // counts whose product with 10^6 overflows u64 (found in review, not by the fuzzer).
    let micros = u128::from(samples) * 1_000_000 / u128::from(OPUS_RATE);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_counts_convert_without_overflow() {
        assert_eq!(samples_to_duration(48_000), Duration::from_secs(1));
        assert_eq!(samples_to_duration(960), Duration::from_millis(20));
        // 2^50 samples times 10^6 overflows u64, though the duration itself fits.
        let big = 1u64 << 50;
        let want = (u128::from(big) * 1_000_000 / 48_000) as u64;
        assert_eq!(samples_to_duration(big), Duration::from_micros(want));
        // Beyond what fits, it saturates instead of panicking.
        assert_eq!(
            samples_to_duration(u64::MAX),
            Duration::from_micros(u64::MAX)
        );
    }

    /// Encodes a 48 kHz tone into 20 ms Opus packets.
    fn packets(n: usize) -> Vec<Bytes> {
        let mut enc =
            opus::Encoder::new(OPUS_RATE, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut buf = vec![0u8; 1500];
        (0..n)
            .map(|i| {
                let pcm: Vec<i16> = (0..960)
                    .map(|k| {
                        let t = (i * 960 + k) as f64 / 48_000.0;
                        (8000.0 * (2.0 * std::f64::consts::PI * 300.0 * t).sin()) as i16
                    })
                    .collect();
                let len = enc.encode(&pcm, &mut buf).unwrap();
                Bytes::copy_from_slice(&buf[..len])
            })
            .collect()
    }

    fn rtp(seq: u16, payload: Bytes) -> RtpPacket {
        RtpPacket {
            seq,
            timestamp: 1000 + u32::from(seq) * 960,
            payload,
        }
    }

    fn frames(out: &[PipelineOutput]) -> Vec<&PcmFrame> {
        out.iter()
            .filter_map(|o| match o {
                PipelineOutput::Frame(f) => Some(f),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn lost_packets_are_concealed_and_the_timeline_stays_whole() {
        let pk = packets(10);
        let mut p = ParticipantPipeline::new(PipelineSettings::default()).unwrap();
        let mut out = Vec::new();
        let start = Duration::from_secs(3);
        for (i, payload) in pk.iter().enumerate() {
            if i == 4 || i == 5 {
                continue;
            }
            let now = start + Duration::from_millis(20 * i as u64);
            p.push(rtp(i as u16, payload.clone()), now);
            p.poll(now, &mut out);
        }
        p.finish(start + Duration::from_secs(1), &mut out);
        let f = frames(&out);
        assert_eq!(f.len(), 10);
        for (i, frame) in f.iter().enumerate() {
            assert_eq!(
                frame.at,
                start + Duration::from_millis(20 * i as u64),
                "frame {i}"
            );
            assert_eq!(frame.samples.len(), 320);
            assert_eq!(frame.concealed, i == 4 || i == 5);
        }
        let c = p.counters();
        assert_eq!((c.received, c.lost, c.concealed), (8, 2, 2));
        let recorded: Vec<u64> = out
            .iter()
            .filter_map(|o| match o {
                PipelineOutput::Record { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(recorded, vec![0, 960, 1920, 2880, 5760, 6720, 7680, 8640]);
        assert_eq!(p.start_offset(), Some(start));
    }

    #[test]
    fn reordered_packets_decode_in_order_without_loss() {
        let pk = packets(6);
        let mut p = ParticipantPipeline::new(PipelineSettings::default()).unwrap();
        let mut out = Vec::new();
        for (i, seq) in [0u16, 2, 1, 3, 5, 4].into_iter().enumerate() {
            let now = Duration::from_millis(20 * i as u64);
            p.push(rtp(seq, pk[usize::from(seq)].clone()), now);
            p.poll(now, &mut out);
        }
        let at: Vec<Duration> = frames(&out).iter().map(|f| f.at).collect();
        let want: Vec<Duration> = (0..6).map(|i| Duration::from_millis(20 * i)).collect();
        assert_eq!(at, want);
        assert_eq!(p.counters().lost, 0);
    }

    #[test]
    fn a_long_gap_is_concealed_only_briefly_and_frames_jump() {
        let pk = packets(60);
        let mut p = ParticipantPipeline::new(PipelineSettings::default()).unwrap();
        let mut out = Vec::new();
        for i in [0usize, 1, 2, 52, 53] {
            let now = Duration::from_millis(20 * i as u64);
            p.push(rtp(i as u16, pk[i].clone()), now);
            p.poll(now + Duration::from_millis(100), &mut out);
        }
        let f = frames(&out);
        assert_eq!(f.iter().filter(|f| f.concealed).count(), 6);
        assert_eq!(f.last().unwrap().at, Duration::from_millis(20 * 53));
        assert_eq!(p.counters().lost, 49);
    }
}
