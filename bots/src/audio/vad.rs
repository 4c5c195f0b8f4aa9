//! Voice-activity detection per participant: an energy detector with an adaptive noise floor and hangover.
//!
//! Why not a crate: `webrtc-vad` wraps an unmaintained C copy, and `voice_activity_detector` needs ONNX
//! Runtime (a native download at build time). Each track here carries one already-separated speaker, so the
//! job is only "is this person talking", not separating speech from other voices; energy over a tracked
//! noise floor does that well, costs one multiply-add per sample, and is pure: time is an input, so tests
//! run in microseconds. The detector only cuts chunks for transcription; the ASR model decides what was said.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct VadSettings {
    /// Frames quieter than this are never speech, however quiet the room.
    pub min_speech_dbfs: f32,
    /// How far above the tracked noise floor a frame must be to count as voiced.
    pub snr_db: f32,
    /// Voiced audio needed in a row before speech is declared (ignores clicks).
    pub onset: Duration,
    /// Unvoiced audio needed in a row before speech is declared over (bridges pauses between words).
    pub hangover: Duration,
    /// How fast the noise floor may rise, in dB per second; it falls at once.
    pub floor_rise_db_per_s: f32,
}

impl Default for VadSettings {
    fn default() -> Self {
        Self {
            min_speech_dbfs: -50.0,
            snr_db: 12.0,
            onset: Duration::from_millis(60),
            hangover: Duration::from_millis(400),
            floor_rise_db_per_s: 3.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    SpeechStarted { at: Duration },
    SpeechEnded { at: Duration },
}

#[derive(Debug, Clone)]
pub struct EnergyVad {
    settings: VadSettings,
    noise_floor_db: f32,
    speaking: bool,
    /// Start of the current run of voiced frames, while not yet speaking.
    voiced_since: Option<Duration>,
    /// End of the last voiced frame, while speaking.
    last_voiced_end: Duration,
}

impl EnergyVad {
    pub fn new(settings: VadSettings) -> Self {
        Self {
            settings,
            noise_floor_db: settings.min_speech_dbfs - settings.snr_db,
            speaking: false,
            voiced_since: None,
            last_voiced_end: Duration::ZERO,
        }
    }

    pub fn is_speaking(&self) -> bool {
        self.speaking
    }

    /// Takes one frame starting at `at` (on the call clock) lasting `len`; says if speech started or ended.
    pub fn process(&mut self, at: Duration, len: Duration, samples: &[i16]) -> Option<VadEvent> {
        let level = dbfs(samples);
        let end = at + len;
        let threshold =
            (self.noise_floor_db + self.settings.snr_db).max(self.settings.min_speech_dbfs);
        let voiced = level >= threshold;
        // The floor keeps tracking during speech too: real speech dips between syllables pull it straight back
        // down, while a steady hum that started "speech" is learned as floor within seconds.
        self.track_floor(level, len);
        if self.speaking {
            if voiced {
                self.last_voiced_end = end;
            } else if end.saturating_sub(self.last_voiced_end) >= self.settings.hangover {
                self.speaking = false;
                self.voiced_since = None;
                return Some(VadEvent::SpeechEnded {
                    at: self.last_voiced_end,
                });
            }
            return None;
        }
        if !voiced {
            self.voiced_since = None;
            return None;
        }
        let since = *self.voiced_since.get_or_insert(at);
        if end.saturating_sub(since) >= self.settings.onset {
            self.speaking = true;
            self.last_voiced_end = end;
            return Some(VadEvent::SpeechStarted { at: since });
        }
        None
    }

    /// Ends speech at a track's end so every start gets its end.
    pub fn finish(&mut self) -> Option<VadEvent> {
        if !self.speaking {
            return None;
        }
        self.speaking = false;
        Some(VadEvent::SpeechEnded {
            at: self.last_voiced_end,
        })
    }

    fn track_floor(&mut self, level: f32, len: Duration) {
        if level < self.noise_floor_db {
            self.noise_floor_db = level;
        } else {
            let rise = self.settings.floor_rise_db_per_s * len.as_secs_f32();
            self.noise_floor_db = (self.noise_floor_db + rise).min(level);
        }
        // Digital silence would drag the floor to -inf and make any dither "speech"; the absolute minimum covers it.
        self.noise_floor_db = self.noise_floor_db.max(-90.0);
    }
}

/// Mean power of a frame relative to full scale.
pub fn dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -120.0;
    }
    let power: f64 = samples
        .iter()
        .map(|&s| f64::from(s) * f64::from(s))
        .sum::<f64>()
        / samples.len() as f64;
    (10.0 * (power / (32768.0 * 32768.0)).max(1e-12).log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Duration = Duration::from_millis(20);

    fn frame(amp: f64) -> Vec<i16> {
        (0..320)
            .map(|n| (amp * (n as f64 * 0.3).sin()) as i16)
            .collect()
    }

    /// Runs a pattern of (amplitude, frames) and collects events with their frame index.
    fn run(vad: &mut EnergyVad, pattern: &[(f64, usize)]) -> Vec<VadEvent> {
        let mut t = Duration::ZERO;
        let mut events = Vec::new();
        for &(amp, n) in pattern {
            let f = frame(amp);
            for _ in 0..n {
                events.extend(vad.process(t, FRAME, &f));
                t += FRAME;
            }
        }
        events
    }

    #[test]
    fn speech_over_noise_starts_and_ends_with_hangover() {
        let mut vad = EnergyVad::new(VadSettings::default());
        let events = run(&mut vad, &[(30.0, 50), (8000.0, 50), (30.0, 50)]);
        assert_eq!(
            events,
            vec![
                VadEvent::SpeechStarted {
                    at: Duration::from_millis(1000)
                },
                VadEvent::SpeechEnded {
                    at: Duration::from_millis(2000)
                },
            ]
        );
    }

    #[test]
    fn short_pauses_and_clicks_do_not_split_or_start_speech() {
        let mut vad = EnergyVad::new(VadSettings::default());
        let events = run(
            &mut vad,
            &[
                (30.0, 20),
                (8000.0, 1),
                (30.0, 20),
                (8000.0, 20),
                (30.0, 10),
                (8000.0, 20),
                (30.0, 40),
            ],
        );
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(events[0], VadEvent::SpeechStarted { .. }));
        assert!(matches!(events[1], VadEvent::SpeechEnded { .. }));
    }

    #[test]
    fn steady_loud_noise_is_learned_as_floor() {
        let mut vad = EnergyVad::new(VadSettings::default());
        // Loud hum from the start: it starts "speech" once, then the floor catches up and ends it.
        let events = run(&mut vad, &[(3000.0, 1500)]);
        assert!(!vad.is_speaking(), "{events:?}");
        let later = run(&mut vad, &[(3000.0, 200)]);
        assert!(later.is_empty(), "{later:?}");
    }

    #[test]
    fn finish_closes_open_speech() {
        let mut vad = EnergyVad::new(VadSettings::default());
        run(&mut vad, &[(8000.0, 10)]);
        assert!(matches!(vad.finish(), Some(VadEvent::SpeechEnded { .. })));
        assert_eq!(vad.finish(), None);
    }
}
