//! Transcribing a whole recording (`panelist transcribe FILE`): the same voice-activity cut and chunker as
//! live calls, using the media plane's detector, then up to the engine's concurrency of chunks at once.

use std::time::Duration;

use futures::StreamExt;
use panelist_bots::audio::vad::{EnergyVad, VadEvent, VadSettings};

use super::chunker::{Chunk, Chunker, ChunkerSettings};
use super::transcript::{sort_segments, TranscriptSegment};
use super::{TranscribeError, TranscriptionEngine, SAMPLES_PER_MS};

/// The media plane's frame size: 20 ms.
const FRAME_MS: u64 = 20;

/// Speech chunks of one speaker's audio (16 kHz mono), cut as a live call would cut them.
pub fn chunk_recording(samples: &[i16], settings: ChunkerSettings) -> Vec<Chunk> {
    let mut vad = EnergyVad::new(VadSettings::default());
    let mut chunker = Chunker::new(settings);
    let mut chunks = Vec::new();
    let frame = (FRAME_MS * SAMPLES_PER_MS) as usize;
    for (i, pcm) in samples.chunks(frame).enumerate() {
        let at_ms = i as u64 * FRAME_MS;
        let len = Duration::from_micros(pcm.len() as u64 * 1000 / SAMPLES_PER_MS);
        let event = vad.process(Duration::from_millis(at_ms), len, pcm);
        // The detector reports a start after its onset frames went by; the chunker's look-back covers them.
        if let Some(VadEvent::SpeechStarted { at }) = event {
            chunker.speech_started(at.as_millis() as u64);
        }
        chunks.extend(chunker.push_audio(at_ms, pcm).chunks);
        if let Some(VadEvent::SpeechEnded { at }) = event {
            chunker.speech_ended(at.as_millis() as u64);
        }
    }
    if let Some(VadEvent::SpeechEnded { at }) = vad.finish() {
        chunker.speech_ended(at.as_millis() as u64);
    }
    chunks.extend(chunker.finish().chunks);
    chunks
}

/// Transcribes one speaker's recording into segments on the recording's clock.
pub async fn transcribe_recording(
    engine: &dyn TranscriptionEngine,
    samples: &[i16],
    participant: &str,
    speaker: &str,
    settings: ChunkerSettings,
) -> Result<Vec<TranscriptSegment>, TranscribeError> {
    let chunks = chunk_recording(samples, settings);
    let results: Vec<_> = futures::stream::iter(chunks)
        .map(|chunk| async move {
            let start = chunk.start_ms;
            engine.transcribe(chunk.samples).await.map(|s| (start, s))
        })
        .buffered(engine.concurrency().max(1))
        .collect()
        .await;
    let mut segments = Vec::new();
    for result in results {
        let (start, parts) = result?;
        segments.extend(parts.into_iter().map(|p| {
            TranscriptSegment::new(
                participant,
                speaker,
                start + p.start_ms,
                start + p.end_ms,
                &p.text,
            )
        }));
    }
    sort_segments(&mut segments);
    Ok(segments)
}
