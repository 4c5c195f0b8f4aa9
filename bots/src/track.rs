//! One remote audio track, whatever the connector: reads RTP and RTCP, runs the participant pipeline, and
//! emits events and recordings. Connectors only decide who a track belongs to and when it is over.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;
use webrtc::rtcp::goodbye::Goodbye;
use webrtc::rtp_transceiver::rtp_receiver::RTCRtpReceiver;
use webrtc::track::track_remote::TrackRemote;

use crate::audio::{
    ParticipantPipeline, PipelineCounters, PipelineOutput, PipelineSettings, RtpPacket, VadEvent,
};
use crate::call::{CallEvent, ParticipantId, ParticipantStats};
use crate::recorder::{CallRecorder, RecorderHandle};

/// Every track's live counters in a session, shared with its `SessionControl`.
pub type StatsList = Arc<Mutex<Vec<Arc<TrackStats>>>>;

/// A snapshot of every track's counters, for `SessionControl::stats`.
pub fn snapshot_all(stats: &StatsList) -> Vec<ParticipantStats> {
    match stats.lock() {
        Ok(list) => list.iter().map(|s| s.snapshot()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Live counters for one track, shared with `CallSession::stats`.
#[derive(Debug, Default)]
pub struct TrackStats {
    pub participant: std::sync::OnceLock<ParticipantId>,
    pub received: AtomicU64,
    pub concealed: AtomicU64,
    pub lost: AtomicU64,
    pub late: AtomicU64,
}

impl TrackStats {
    pub fn snapshot(&self) -> ParticipantStats {
        ParticipantStats {
            participant: self.participant.get().cloned(),
            received: self.received.load(Ordering::Relaxed),
            concealed: self.concealed.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            late: self.late.load(Ordering::Relaxed),
        }
    }
}

pub struct TrackContext {
    /// Unique within the session; names the recording file and survives a participant rejoining.
    pub key: u64,
    pub call_start: Instant,
    pub events: mpsc::Sender<CallEvent>,
    pub recorder: Option<RecorderHandle>,
    pub stats: Arc<TrackStats>,
    pub pipeline: PipelineSettings,
    /// Ends the track when it fires (or its sender is dropped): the connector's signalling said this
    /// participant left. `None`: only RTCP BYE or the end of the RTP stream end it.
    pub stop: Option<oneshot::Receiver<()>>,
    /// No RTP at all for this long ends the track as if the participant left: their RTCP BYE may have
    /// been lost, and a browser in a call sends audio packets even when muted. `None`: wait forever.
    pub idle_timeout: Option<Duration>,
}

/// Who a track belongs to, as the connector's signalling names them.
#[derive(Debug, Clone)]
pub struct TrackOwner {
    pub id: ParticipantId,
    pub display_name: String,
}

/// Runs one track to its end: `ParticipantJoined` first, then audio and speech events, `ParticipantLeft` last.
pub async fn run_track(
    track: Arc<TrackRemote>,
    receiver: Arc<RTCRtpReceiver>,
    owner: TrackOwner,
    mut ctx: TrackContext,
) {
    let TrackOwner {
        id: participant,
        display_name,
    } = owner;
    let _ = ctx.stats.participant.set(participant.clone());
    let mut pipeline = match ParticipantPipeline::new(ctx.pipeline) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(%participant, error = %e, "cannot start the audio pipeline");
            return;
        }
    };
    if ctx
        .events
        .send(CallEvent::ParticipantJoined {
            id: participant.clone(),
            display_name: display_name.clone(),
        })
        .await
        .is_err()
    {
        return;
    }

    // RTCP is read on its own task (webrtc-rs needs it drained); it only reports a BYE.
    let (bye_tx, mut bye_rx) = oneshot::channel();
    let rtcp = tokio::spawn(read_rtcp(receiver, bye_tx));
    let stop = ctx.stop.take();
    let mut stop = std::pin::pin!(async move {
        match stop {
            Some(rx) => {
                let _ = rx.await;
            }
            None => std::future::pending().await,
        }
    });
    let mut out = Vec::new();
    let mut sink = Sink {
        ctx: &ctx,
        participant: &participant,
        display_name: &display_name,
        opened_recording: false,
    };
    // RTP is read in this task: one pinned read future is kept across loop turns and replaced only once it
    // completes, so the timer branch never cancels a read half-way, and no extra task or channel hop is
    // paid per packet.
    let mut read = std::pin::pin!(track.read_rtp());
    let mut last_packet = Instant::now();
    loop {
        let deadline = pipeline.next_deadline().map(|d| ctx.call_start + d);
        let idle_deadline = ctx.idle_timeout.map(|t| last_packet + t);
        tokio::select! {
            r = &mut read => {
                let Ok((packet, _)) = r else { break };
                last_packet = Instant::now();
                read.set(track.read_rtp());
                let arrival = ctx.call_start.elapsed();
                pipeline.push(
                    RtpPacket {
                        seq: packet.header.sequence_number,
                        timestamp: packet.header.timestamp,
                        payload: packet.payload,
                    },
                    arrival,
                );
            }
            () = sleep_until_opt(deadline) => {}
            () = sleep_until_opt(idle_deadline) => {
                tracing::info!(%participant, idle_secs = ctx.idle_timeout.unwrap_or_default().as_secs(), "no audio packets for the idle timeout: the participant is treated as gone");
                break;
            }
            _ = &mut bye_rx => break,
            () = &mut stop => break,
        }
        pipeline.poll(ctx.call_start.elapsed(), &mut out);
        if !sink.dispatch(Progress::of(&pipeline), &mut out).await {
            break;
        }
    }
    pipeline.finish(ctx.call_start.elapsed(), &mut out);
    sink.dispatch(Progress::of(&pipeline), &mut out).await;
    rtcp.abort();
    if let Some(rec) = &ctx.recorder {
        if sink.opened_recording {
            rec.track_ended(ctx.key);
        }
    }
    let _ = ctx
        .events
        .send(CallEvent::ParticipantLeft { id: participant })
        .await;
}

/// What the sink needs from the pipeline, copied out because the Opus decoder cannot be held across `.await`
/// by reference (it is `Send` but not `Sync`).
#[derive(Clone, Copy)]
struct Progress {
    counters: PipelineCounters,
    start_offset: Option<Duration>,
}

impl Progress {
    fn of(p: &ParticipantPipeline) -> Self {
        Self {
            counters: p.counters(),
            start_offset: p.start_offset(),
        }
    }
}

struct Sink<'a> {
    ctx: &'a TrackContext,
    participant: &'a ParticipantId,
    display_name: &'a str,
    opened_recording: bool,
}

impl Sink<'_> {
    /// Hands pipeline output on; false once nobody listens to the session any more.
    async fn dispatch(&mut self, progress: Progress, out: &mut Vec<PipelineOutput>) -> bool {
        let c = progress.counters;
        let s = &self.ctx.stats;
        s.received.store(c.received, Ordering::Relaxed);
        s.concealed.store(c.concealed, Ordering::Relaxed);
        s.lost.store(c.lost, Ordering::Relaxed);
        s.late.store(c.late, Ordering::Relaxed);
        if out.is_empty() {
            return true;
        }
        let mut frames = Vec::new();
        let mut events = Vec::new();
        for o in out.drain(..) {
            match o {
                PipelineOutput::Frame(f) => frames.push(f),
                PipelineOutput::Speech(v) => {
                    // Flush audio first so speech events follow the frames they describe.
                    if !frames.is_empty() {
                        events.push(self.audio(std::mem::take(&mut frames)));
                    }
                    events.push(match v {
                        VadEvent::SpeechStarted { at } => CallEvent::SpeechStarted {
                            participant: self.participant.clone(),
                            at,
                        },
                        VadEvent::SpeechEnded { at } => CallEvent::SpeechEnded {
                            participant: self.participant.clone(),
                            at,
                        },
                    });
                }
                PipelineOutput::Record { offset, payload } => {
                    if let Some(rec) = &self.ctx.recorder {
                        if !self.opened_recording {
                            self.opened_recording = true;
                            rec.track(
                                self.ctx.key,
                                self.participant.clone(),
                                self.display_name.to_owned(),
                                progress.start_offset.unwrap_or_default(),
                            );
                        }
                        rec.packet(self.ctx.key, offset, payload);
                    }
                }
            }
        }
        if !frames.is_empty() {
            events.push(self.audio(frames));
        }
        for e in events {
            if self.ctx.events.send(e).await.is_err() {
                return false;
            }
        }
        true
    }

    fn audio(&self, frames: Vec<crate::call::PcmFrame>) -> CallEvent {
        CallEvent::Audio {
            participant: self.participant.clone(),
            frames,
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Drains RTCP and reports an RTCP BYE (the sender says this participant left).
async fn read_rtcp(receiver: Arc<RTCRtpReceiver>, bye: oneshot::Sender<()>) {
    while let Ok((packets, _)) = receiver.read_rtcp().await {
        if packets
            .iter()
            .any(|p| p.as_any().downcast_ref::<Goodbye>().is_some())
        {
            let _ = bye.send(());
            return;
        }
    }
    // The receiver closed: keep `bye` pending so the RTP side decides when the track ends.
    std::future::pending::<()>().await;
}

/// How long track tasks get to drain after the connection closes before they are cut off.
pub const TRACK_DRAIN: Duration = Duration::from_secs(2);

/// Waits for every track task to end (each sends its `ParticipantLeft`), cutting them off after
/// `TRACK_DRAIN`.
pub async fn drain(tracks: &mut JoinSet<()>) {
    let drained = tokio::time::timeout(TRACK_DRAIN, async {
        while tracks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracks.shutdown().await;
    }
}

/// Closes a call's recording off the async threads (it fsyncs), logging what went wrong.
pub async fn finish_recording(recorder: Option<CallRecorder>) {
    let Some(rec) = recorder else { return };
    match tokio::task::spawn_blocking(move || rec.finish()).await {
        Ok(Ok(summary)) if summary.errors > 0 || summary.dropped_packets > 0 => {
            tracing::warn!(errors = summary.errors, dropped_packets = summary.dropped_packets, dir = %summary.dir.display(), "recording is incomplete");
        }
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "recording did not finish"),
        Err(e) => tracing::error!(error = %e, "recording task failed"),
    }
}

/// Starts a call's recording, or records nothing (loudly) if the directory cannot be prepared: losing the
/// recording matters less than losing the live audio, which transcription still gets.
pub fn start_recording(
    dir: Option<&std::path::Path>,
    settings: crate::recorder::RecorderSettings,
    key: Option<crate::recorder::RecordingKey>,
) -> Option<CallRecorder> {
    match CallRecorder::start(dir?, settings, key) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "recording disabled for this call");
            None
        }
    }
}
