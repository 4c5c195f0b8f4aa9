//! Cutting one participant's audio into chunks for the engine, at voice-activity boundaries.
//!
//! Pure: it is fed audio frames and speech start/end events with their call-clock times, and asked what to
//! send at a given `now`; it never reads a clock. A chunk opens at speech start (with `pad` of audio before
//! it), takes everything until the speaker has been quiet for `flush_after_silence` (short pauses stay inside
//! the chunk, so Whisper sees whole sentences), and ends `pad` after the last speech. Speech that runs past
//! `max_chunk` is cut at the quietest 20 ms in its last few seconds, between words where possible.
//! Positions are sample indexes on the call clock (16 per millisecond), so gaps in the audio keep their
//! length and timestamps stay true to the call.

use std::collections::VecDeque;

use super::SAMPLES_PER_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkerSettings {
    pub max_chunk_ms: u64,
    pub flush_after_silence_ms: u64,
    pub pad_ms: u64,
    pub min_speech_ms: u64,
}

impl Default for ChunkerSettings {
    fn default() -> Self {
        ChunkerSettings {
            max_chunk_ms: 30_000,
            flush_after_silence_ms: 800,
            pad_ms: 200,
            min_speech_ms: 300,
        }
    }
}

impl ChunkerSettings {
    pub fn from_settings(t: &crate::config::TranscriptionSettings) -> ChunkerSettings {
        ChunkerSettings {
            max_chunk_ms: t.max_chunk_secs * 1000,
            flush_after_silence_ms: t.flush_after_silence_ms,
            pad_ms: t.pad_ms,
            min_speech_ms: t.min_speech_ms,
        }
    }
}

/// Audio ready for the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Call-clock time of the first sample.
    pub start_ms: u64,
    pub samples: Vec<i16>,
    /// How much of it the VAD called speech.
    pub speech_ms: u64,
}

impl Chunk {
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 / SAMPLES_PER_MS
    }

    pub fn end_ms(&self) -> u64 {
        self.start_ms + self.duration_ms()
    }
}

/// What a call to the chunker produced: chunks to send, and chunks dropped for holding too little speech.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cut {
    pub chunks: Vec<Chunk>,
    pub dropped: usize,
}

impl Cut {
    fn push(&mut self, chunk: Option<Chunk>, min_speech_ms: u64) {
        match chunk {
            Some(c) if c.speech_ms >= min_speech_ms && !c.samples.is_empty() => self.chunks.push(c),
            Some(_) => self.dropped += 1,
            None => {}
        }
    }
}

#[derive(Debug)]
struct Open {
    /// Sample position of `samples[0]`.
    start: u64,
    samples: Vec<i16>,
    /// Speech in finished utterances (samples).
    speech: u64,
}

impl Open {
    fn end(&self) -> u64 {
        self.start + self.samples.len() as u64
    }
}

#[derive(Debug)]
pub struct Chunker {
    settings: ChunkerSettings,
    open: Option<Open>,
    /// Start of the utterance in progress.
    speaking_since: Option<u64>,
    /// End of the last utterance, while waiting to see whether speech resumes.
    last_speech_end: Option<u64>,
    /// The most recent audio outside any chunk, for the pad before a speech start (the VAD reports a start
    /// only after some voiced frames, so they have already gone by).
    recent: VecDeque<i16>,
    /// Position just past `recent`'s last sample (equally: past every sample seen).
    recent_end: u64,
    recent_cap: usize,
}

/// How far back from the length limit to look for a quiet place to cut.
const CUT_SEARCH_MS: u64 = 3_000;
const CUT_FRAME: usize = 20 * SAMPLES_PER_MS as usize;

impl Chunker {
    pub fn new(settings: ChunkerSettings) -> Chunker {
        // The pad plus a second of slack for events that trail their audio.
        let recent_cap = ((settings.pad_ms + 1_000) * SAMPLES_PER_MS) as usize;
        Chunker {
            settings,
            open: None,
            speaking_since: None,
            last_speech_end: None,
            recent: VecDeque::with_capacity(recent_cap),
            recent_end: 0,
            recent_cap,
        }
    }

    pub fn is_speaking(&self) -> bool {
        self.speaking_since.is_some()
    }

    /// Milliseconds of audio held in an open chunk.
    pub fn buffered_ms(&self) -> u64 {
        self.open
            .as_ref()
            .map_or(0, |o| o.samples.len() as u64 / SAMPLES_PER_MS)
    }

    /// Call-clock time just past the last audio received.
    pub fn audio_end_ms(&self) -> u64 {
        self.recent_end / SAMPLES_PER_MS
    }

    /// Takes a frame of audio starting at `start_ms`.
    pub fn push_audio(&mut self, start_ms: u64, samples: &[i16]) -> Cut {
        let mut cut = Cut::default();
        let mut start = start_ms * SAMPLES_PER_MS;
        let mut samples = samples;
        // Overlap with audio already seen (a retransmitted or re-timed frame): keep the first copy.
        if start < self.recent_end {
            let skip = ((self.recent_end - start) as usize).min(samples.len());
            samples = &samples[skip..];
            start += skip as u64;
        }
        if samples.is_empty() {
            return cut;
        }
        let end = start + samples.len() as u64;
        match &mut self.open {
            Some(open) => {
                // A gap in the audio (lost frames, DTX) is silence of the same length.
                let gap = start.saturating_sub(open.end()) as usize;
                open.samples.resize(open.samples.len() + gap, 0);
                open.samples.extend_from_slice(samples);
            }
            None => {
                if start > self.recent_end {
                    self.recent.clear();
                }
                self.recent.extend(samples.iter().copied());
                let excess = self.recent.len().saturating_sub(self.recent_cap);
                self.recent.drain(..excess);
            }
        }
        self.recent_end = end;
        self.cut_full_chunks(&mut cut);
        self.poll_into(end / SAMPLES_PER_MS, &mut cut);
        cut
    }

    pub fn speech_started(&mut self, at_ms: u64) {
        let at = at_ms * SAMPLES_PER_MS;
        if self.speaking_since.is_some() {
            return;
        }
        self.speaking_since = Some(at);
        self.last_speech_end = None;
        if self.open.is_none() {
            let from = at.saturating_sub(self.settings.pad_ms * SAMPLES_PER_MS);
            let recent_start = self.recent_end - self.recent.len() as u64;
            let from = from.max(recent_start).min(self.recent_end);
            let skip = (from - recent_start) as usize;
            self.open = Some(Open {
                start: from,
                samples: self.recent.iter().skip(skip).copied().collect(),
                speech: 0,
            });
            self.recent.clear();
        }
    }

    pub fn speech_ended(&mut self, at_ms: u64) {
        let at = at_ms * SAMPLES_PER_MS;
        if let Some(since) = self.speaking_since.take() {
            if let Some(open) = &mut self.open {
                open.speech += at.saturating_sub(since.max(open.start));
            }
            self.last_speech_end = Some(at);
        }
    }

    /// Sends the open chunk if its speaker has been quiet long enough by `now_ms`.
    pub fn poll(&mut self, now_ms: u64) -> Cut {
        let mut cut = Cut::default();
        self.poll_into(now_ms, &mut cut);
        cut
    }

    /// The call (or this participant) is over: everything still held goes out.
    pub fn finish(&mut self) -> Cut {
        let mut cut = Cut::default();
        if let Some(since) = self.speaking_since.take() {
            let end = self.open.as_ref().map_or(since, Open::end);
            if let Some(open) = &mut self.open {
                open.speech += end.saturating_sub(since.max(open.start));
            }
            self.last_speech_end = Some(end);
        }
        let chunk = self.close_at(self.padded_end());
        cut.push(chunk, self.settings.min_speech_ms);
        cut
    }

    fn poll_into(&mut self, now_ms: u64, cut: &mut Cut) {
        let Some(ended) = self.last_speech_end else {
            return;
        };
        if self.speaking_since.is_none()
            && now_ms * SAMPLES_PER_MS
                >= ended + self.settings.flush_after_silence_ms * SAMPLES_PER_MS
        {
            let chunk = self.close_at(self.padded_end());
            cut.push(chunk, self.settings.min_speech_ms);
        }
    }

    /// Where the open chunk should end if closed now: `pad` after the last speech.
    fn padded_end(&self) -> u64 {
        match (self.open.as_ref(), self.last_speech_end) {
            (Some(open), Some(ended)) => {
                (ended + self.settings.pad_ms * SAMPLES_PER_MS).min(open.end())
            }
            (Some(open), None) => open.end(),
            (None, _) => 0,
        }
    }

    /// Closes the open chunk at `end` (exclusive). Audio after `end` is silence; it goes back to `recent`.
    fn close_at(&mut self, end: u64) -> Option<Chunk> {
        let mut open = self.open.take()?;
        self.last_speech_end = None;
        let keep = (end.saturating_sub(open.start) as usize).min(open.samples.len());
        let rest = open.samples.split_off(keep);
        self.recent.clear();
        self.recent
            .extend(rest.iter().rev().take(self.recent_cap).rev());
        Some(Chunk {
            start_ms: open.start / SAMPLES_PER_MS,
            samples: open.samples,
            speech_ms: open.speech / SAMPLES_PER_MS,
        })
    }

    /// Chunks at the length limit are cut, at a quiet point, and speech carries on in a new chunk.
    fn cut_full_chunks(&mut self, cut: &mut Cut) {
        let max = (self.settings.max_chunk_ms * SAMPLES_PER_MS) as usize;
        loop {
            let Some(open) = &mut self.open else { return };
            if open.samples.len() < max {
                return;
            }
            let search = ((CUT_SEARCH_MS * SAMPLES_PER_MS) as usize).min(max / 2);
            let at = quietest_cut(&open.samples[..max], max - search);
            let rest = open.samples.split_off(at);
            let rest_start = open.start + at as u64;
            // Split the speech count at the cut: the utterance in progress, or the tail of one that ended
            // after the cut while the chunk waited for silence, belongs on the far side.
            let (chunk_speech, rest_speech, still_going) =
                match (self.speaking_since, self.last_speech_end) {
                    (Some(since), _) => (
                        open.speech + rest_start.saturating_sub(since.max(open.start)),
                        0,
                        true,
                    ),
                    (None, Some(ended)) if ended > rest_start => {
                        let tail = ended - rest_start;
                        (open.speech.saturating_sub(tail), tail, true)
                    }
                    _ => (open.speech, 0, false),
                };
            let chunk = Chunk {
                start_ms: open.start / SAMPLES_PER_MS,
                samples: std::mem::take(&mut open.samples),
                speech_ms: chunk_speech / SAMPLES_PER_MS,
            };
            if still_going {
                if let Some(since) = &mut self.speaking_since {
                    *since = (*since).max(rest_start);
                }
                self.open = Some(Open {
                    start: rest_start,
                    samples: rest,
                    speech: rest_speech,
                });
            } else {
                self.open = None;
                self.last_speech_end = None;
                self.recent.clear();
                self.recent
                    .extend(rest.iter().rev().take(self.recent_cap).rev());
            }
            cut.push(Some(chunk), self.settings.min_speech_ms);
        }
    }
}

/// The start of the quietest 20 ms frame in `samples[from..]`, as a sample index aligned to whole
/// milliseconds; the end of `samples` when there is no room to search.
fn quietest_cut(samples: &[i16], from: usize) -> usize {
    let mut best = (u64::MAX, samples.len());
    let mut i = from - from % SAMPLES_PER_MS as usize;
    while i + CUT_FRAME <= samples.len() {
        let energy: u64 = samples[i..i + CUT_FRAME]
            .iter()
            .map(|&s| (i64::from(s) * i64::from(s)) as u64)
            .sum();
        // Later wins ties, so chunks stay as long as allowed.
        if energy <= best.0 {
            best = (energy, i + CUT_FRAME / 2);
        }
        i += CUT_FRAME / 2;
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: usize = SAMPLES_PER_MS as usize;

    fn settings() -> ChunkerSettings {
        ChunkerSettings {
            max_chunk_ms: 10_000,
            flush_after_silence_ms: 800,
            pad_ms: 200,
            min_speech_ms: 300,
        }
    }

    /// Feeds `ms` of audio in 20 ms frames from `*t`, loud or silent, collecting what comes out.
    fn feed(c: &mut Chunker, t: &mut u64, ms: u64, loud: bool, out: &mut Cut) {
        for _ in 0..ms / 20 {
            let v = if loud { 8000 } else { 0 };
            let cut = c.push_audio(*t, &vec![v; 20 * MS]);
            out.chunks.extend(cut.chunks);
            out.dropped += cut.dropped;
            *t += 20;
        }
    }

    #[test]
    fn one_utterance_becomes_one_padded_chunk_after_the_silence_delay() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        feed(&mut c, &mut t, 1_000, false, &mut out);
        c.speech_started(1_000);
        feed(&mut c, &mut t, 2_000, true, &mut out);
        c.speech_ended(3_000);
        feed(&mut c, &mut t, 700, false, &mut out);
        assert!(out.chunks.is_empty(), "sent before the silence delay");
        feed(&mut c, &mut t, 200, false, &mut out);
        assert_eq!(out.chunks.len(), 1);
        let chunk = &out.chunks[0];
        assert_eq!(chunk.start_ms, 800);
        assert_eq!(chunk.end_ms(), 3_200);
        assert_eq!(chunk.speech_ms, 2_000);
        // The pad before the start is the silence that preceded it; the speech itself is intact.
        assert_eq!(chunk.samples[200 * MS], 8000);
        assert_eq!(chunk.samples[199 * MS], 0);
    }

    #[test]
    fn a_short_pause_keeps_both_utterances_in_one_chunk() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        c.speech_started(0);
        feed(&mut c, &mut t, 1_000, true, &mut out);
        c.speech_ended(1_000);
        feed(&mut c, &mut t, 500, false, &mut out);
        c.speech_started(1_500);
        feed(&mut c, &mut t, 1_000, true, &mut out);
        c.speech_ended(2_500);
        assert!(out.chunks.is_empty());
        out.chunks.extend(c.poll(3_300).chunks);
        assert_eq!(out.chunks.len(), 1);
        assert_eq!(out.chunks[0].start_ms, 0);
        // No audio came after the speech, so there is nothing to pad with.
        assert_eq!(out.chunks[0].end_ms(), 2_500);
        assert_eq!(out.chunks[0].speech_ms, 2_000);
    }

    #[test]
    fn poll_with_a_later_clock_flushes_when_frames_stop_coming() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        c.speech_started(0);
        feed(&mut c, &mut t, 1_000, true, &mut out);
        c.speech_ended(1_000);
        assert!(c.poll(1_500).chunks.is_empty());
        let cut = c.poll(1_800);
        assert_eq!(cut.chunks.len(), 1);
        assert_eq!(cut.chunks[0].end_ms(), 1_000); // no audio past the speech to pad with
    }

    #[test]
    fn long_speech_is_cut_at_the_limit_at_a_quiet_point_and_continues() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        c.speech_started(0);
        feed(&mut c, &mut t, 8_000, true, &mut out);
        feed(&mut c, &mut t, 100, false, &mut out); // a breath at 8.0-8.1 s
        feed(&mut c, &mut t, 14_000, true, &mut out);
        c.speech_ended(t);
        out.chunks.extend(c.finish().chunks);
        assert_eq!(
            out.chunks.len(),
            3,
            "{:?}",
            out.chunks
                .iter()
                .map(|c| (c.start_ms, c.end_ms()))
                .collect::<Vec<_>>()
        );
        let first = &out.chunks[0];
        assert!(
            (8_000..=8_100).contains(&first.end_ms()),
            "cut at {}",
            first.end_ms()
        );
        // Contiguous, nothing lost, each within the limit.
        for pair in out.chunks.windows(2) {
            assert_eq!(pair[0].end_ms(), pair[1].start_ms);
        }
        assert_eq!(out.chunks.last().unwrap().end_ms(), 22_100);
        assert!(out.chunks.iter().all(|c| c.duration_ms() <= 10_000));
        let total: u64 = out.chunks.iter().map(|c| c.speech_ms).sum();
        assert!((21_900..=22_100).contains(&total), "{total}");
    }

    #[test]
    fn clicks_are_dropped_and_silence_is_never_sent() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        feed(&mut c, &mut t, 5_000, false, &mut out);
        c.speech_started(5_000);
        feed(&mut c, &mut t, 100, true, &mut out);
        c.speech_ended(5_100);
        feed(&mut c, &mut t, 3_000, false, &mut out);
        assert!(out.chunks.is_empty());
        assert_eq!(out.dropped, 1);
        assert!(c.finish().chunks.is_empty());
    }

    #[test]
    fn finish_sends_speech_still_in_progress() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        c.speech_started(0);
        feed(&mut c, &mut t, 2_000, true, &mut out);
        let cut = c.finish();
        assert_eq!(cut.chunks.len(), 1);
        assert_eq!(cut.chunks[0].speech_ms, 2_000);
        assert_eq!(c.buffered_ms(), 0);
    }

    #[test]
    fn gaps_in_the_audio_keep_the_call_clock_and_overlaps_are_ignored() {
        let mut c = Chunker::new(settings());
        let mut out = Cut::default();
        c.speech_started(0);
        c.push_audio(0, &vec![1000; 500 * MS]);
        c.push_audio(700, &vec![1000; 500 * MS]); // 200 ms lost
        c.push_audio(1_100, &vec![5; 200 * MS]); // 100 ms already seen
        c.speech_ended(1_300);
        out.chunks.extend(c.finish().chunks);
        let chunk = &out.chunks[0];
        assert_eq!(chunk.start_ms, 0);
        assert_eq!(chunk.end_ms(), 1_300);
        assert_eq!(chunk.samples[600 * MS], 0);
        assert_eq!(chunk.samples[1_150 * MS], 1000);
        assert_eq!(chunk.samples[1_250 * MS], 5);
    }

    #[test]
    fn a_speech_start_reported_late_still_gets_its_onset_and_pad() {
        let mut c = Chunker::new(settings());
        let (mut t, mut out) = (0, Cut::default());
        feed(&mut c, &mut t, 1_000, false, &mut out);
        feed(&mut c, &mut t, 300, true, &mut out);
        // The VAD needed a few frames to be sure: the event says speech began at 1.0 s.
        c.speech_started(1_000);
        feed(&mut c, &mut t, 700, true, &mut out);
        c.speech_ended(2_000);
        out.chunks.extend(c.finish().chunks);
        assert_eq!(out.chunks[0].start_ms, 800);
        assert_eq!(out.chunks[0].samples[200 * MS], 8000);
    }
}
