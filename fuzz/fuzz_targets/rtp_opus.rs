//! One participant's receive path, as `track::run_track` drives it: RTP packets parsed by webrtc-rs, then
//! the jitter buffer and the Opus pipeline (real libopus decode, loss concealment, 48 → 16 kHz, VAD).
//!
//! Input: records, each `[ctrl][arrival delta ms]` then, when `ctrl` is odd, `[len][len bytes of raw RTP]`,
//! else `[seq u16][timestamp u32][len][len bytes of Opus payload]`. A standalone jitter buffer sees the same
//! packets, and at the end every packet it took in must have come out, or be counted late or duplicate.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use panelist_bots::audio::jitter::{JitterBuffer, JitterSettings, RtpPacket, Slot};
use panelist_bots::audio::{ParticipantPipeline, PipelineSettings};
use webrtc::rtp::packet::Packet;
use webrtc::util::Unmarshal;

struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
}

fn next_packet(input: &mut Input) -> Option<(u8, RtpPacket)> {
    let ctrl = input.u8()?;
    let delta = input.u8()?;
    if ctrl & 1 == 1 {
        let len = usize::from(input.u8()?);
        let mut raw = input.bytes(len)?;
        // Not RTP: the track task never sees it (webrtc-rs drops it), so neither does the pipeline.
        let packet = Packet::unmarshal(&mut raw).ok()?;
        Some((
            delta,
            RtpPacket {
                seq: packet.header.sequence_number,
                timestamp: packet.header.timestamp,
                payload: packet.payload,
            },
        ))
    } else {
        let seq = input.bytes(2)?;
        let ts = input.bytes(4)?;
        let len = usize::from(input.u8()?);
        let payload = input.bytes(len)?;
        Some((
            delta,
            RtpPacket {
                seq: u16::from_le_bytes([seq[0], seq[1]]),
                timestamp: u32::from_le_bytes([ts[0], ts[1], ts[2], ts[3]]),
                payload: Bytes::copy_from_slice(payload),
            },
        ))
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut pipeline) = ParticipantPipeline::new(PipelineSettings::default()) else {
        return;
    };
    let mut jitter = JitterBuffer::new(JitterSettings::default());
    let mut input = Input(data);
    let mut now = Duration::from_millis(500);
    let mut out = Vec::new();
    let (mut pushed, mut popped) = (0u64, 0u64);
    let drain = |jitter: &mut JitterBuffer, now: Duration, popped: &mut u64| {
        while let Some(slot) = jitter.pop(now) {
            match slot {
                Slot::Packet(_) => *popped += 1,
                Slot::Missing { count } => assert!(count > 0),
            }
        }
    };
    while !input.0.is_empty() {
        // A record that runs off the end, or is not RTP, is skipped; the clock still moves.
        let before = input.0.len();
        let Some((delta, packet)) = next_packet(&mut input) else {
            if input.0.len() == before {
                break;
            }
            continue;
        };
        now += Duration::from_millis(u64::from(delta));
        jitter.push(packet.clone(), now);
        pushed += 1;
        drain(&mut jitter, now, &mut popped);
        pipeline.push(packet, now);
        pipeline.poll(now, &mut out);
        let _ = pipeline.next_deadline();
        // Frames, speech events and packets to record are handed on; their content is the decoder's.
        out.clear();
    }
    jitter.expire_all();
    drain(&mut jitter, now, &mut popped);
    let c = jitter.counters();
    assert_eq!(c.received, pushed);
    assert_eq!(popped + c.late + c.duplicate, pushed, "{c:?}");
    pipeline.finish(now + Duration::from_secs(1), &mut out);
    let _ = pipeline.counters();
});
