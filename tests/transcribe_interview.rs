//! The transcription path end to end with the real tiny.en model: a two-voice mock interview, one track per
//! speaker as the media plane delivers it, through the `TranscriberActor`, must come back with the right
//! words (WER ≤ 5%), every segment on the right speaker, and sane timestamps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod transcribe_support;

use std::time::Duration;

use actix::Actor;
use panelist::config::Settings;
use panelist::models::ModelName;
use panelist::transcribe::wer::word_error_rate;
use panelist::transcribe::{
    build_engine, CallEnded, GetTranscriberStats, TranscriberActor, TranscriptFiles,
};
use transcribe_support::{feed_call, model_dir, render_call, ReadyCollector};

fn settings(data_dir: &std::path::Path) -> Settings {
    let mut s = Settings::defaults().unwrap();
    s.data_dir = data_dir.to_path_buf();
    s.transcription.model = ModelName::TinyEn;
    s.transcription.model_dir = model_dir(ModelName::TinyEn);
    s
}

#[actix_web::test]
async fn a_two_voice_interview_is_transcribed_per_speaker_with_wer_under_5_percent() {
    let data = tempfile::tempdir().unwrap();
    let audio = tempfile::tempdir().unwrap();
    let settings = settings(data.path());
    let call = render_call(audio.path());
    let engine = build_engine(&settings).await.expect("the model loads");

    let (tx, rx) = tokio::sync::oneshot::channel();
    let collector = ReadyCollector { tx: Some(tx) }.start();
    let files = TranscriptFiles::new(data.path());
    let transcriber = TranscriberActor::new(engine, &settings.transcription, files.clone())
        .with_listener(collector.recipient())
        .start();

    feed_call(&transcriber, "4242", &call, None).await;
    transcriber
        .send(CallEnded {
            interview_id: "4242".into(),
        })
        .await
        .unwrap();
    let ready = tokio::time::timeout(Duration::from_secs(600), rx)
        .await
        .expect("TranscriptReady within 10 minutes")
        .unwrap();
    let stats = transcriber.send(GetTranscriberStats).await.unwrap();
    assert_eq!(ready.interview_id, "4242");
    assert_eq!(ready.failed_chunks, 0, "{stats:?}");
    assert_eq!(stats.queue_depth, 0);
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.lag_ms, 0);
    // Fed faster than it transcribes, chunks queue up, and waiting chunks share a Whisper window
    // (`batch_chunks`, on by default): the words below come back through the batched path.
    assert!(
        stats.inferences < stats.chunks_done,
        "no chunks were batched: {stats:?}"
    );

    let segments = files.load("4242").unwrap();
    assert_eq!(segments.len(), ready.segments);
    assert!(!segments.is_empty());

    // Every segment is on the track of the person who said it: its middle falls in one of their turns.
    for s in &segments {
        let mid_ms = ((s.start + s.end) / 2.0 * 1000.0) as u64;
        let turn = call
            .turns
            .iter()
            .find(|t| t.start_ms.saturating_sub(500) <= mid_ms && mid_ms <= t.end_ms + 500)
            .unwrap_or_else(|| panic!("segment {s:?} is outside every turn"));
        assert_eq!(s.speaker, turn.speaker, "segment {s:?} during {turn:?}");
        let expected_participant = if turn.speaker == "Interviewer" {
            "p1"
        } else {
            "p2"
        };
        assert_eq!(s.participant, expected_participant, "{s:?}");
    }

    // Timestamps: inside the audio, start ≤ end, and never going back in time for one speaker.
    let duration = call.duration_ms as f64 / 1000.0;
    for speaker in ["Interviewer", "Candidate"] {
        let mine: Vec<_> = segments.iter().filter(|s| s.speaker == speaker).collect();
        assert!(!mine.is_empty(), "nothing from {speaker}");
        for pair in mine.windows(2) {
            assert!(pair[0].start <= pair[1].start, "{pair:?}");
            assert!(pair[0].end <= pair[1].start + 0.05, "overlap: {pair:?}");
        }
        for s in &mine {
            assert!(
                0.0 <= s.start && s.start <= s.end && s.end <= duration,
                "{s:?} vs {duration}s"
            );
        }
    }

    // The words.
    let hypothesis: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let hypothesis = hypothesis.join(" ");
    let wer = word_error_rate(&call.reference_text(), &hypothesis);
    for speaker in ["Interviewer", "Candidate"] {
        let r: Vec<&str> = call
            .turns
            .iter()
            .filter(|t| t.speaker == speaker)
            .map(|t| t.text.as_str())
            .collect();
        let h: Vec<&str> = segments
            .iter()
            .filter(|s| s.speaker == speaker)
            .map(|s| s.text.as_str())
            .collect();
        eprintln!(
            "{speaker}: WER {:.2}%",
            100.0 * word_error_rate(&r.join(" "), &h.join(" "))
        );
    }
    eprintln!(
        "overall WER {:.2}% over {} segments, {:.0}s of call; RTF {:.3}\n{hypothesis}",
        wer * 100.0,
        segments.len(),
        duration,
        stats.real_time_factor()
    );
    assert!(
        wer <= 0.05,
        "WER {:.2}% > 5%\nreference: {}\nhypothesis: {hypothesis}",
        wer * 100.0,
        call.reference_text()
    );
}
