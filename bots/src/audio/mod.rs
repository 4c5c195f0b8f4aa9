//! The receive audio path, pure and clock-free: jitter buffer, Opus decode with concealment, 48→16 kHz, VAD.

pub mod jitter;
pub mod pipeline;
pub mod resample;
pub mod vad;

pub use jitter::{JitterSettings, RtpPacket};
pub use pipeline::{ParticipantPipeline, PipelineCounters, PipelineOutput, PipelineSettings};
pub use vad::{VadEvent, VadSettings};
