//! A small jitter buffer: puts RTP packets back in sequence order and declares gaps lost after a short wait.
//!
//! Sans-IO: arrival times are inputs (`Duration` on the call clock), so reordering and loss are unit-tested
//! without sockets or sleeping. In-order packets pass straight through; only a gap makes packets wait, and for
//! at most `max_delay`.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;

/// One received RTP packet, reduced to what the audio path needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpPacket {
    pub seq: u16,
    pub timestamp: u32,
    pub payload: Bytes,
}

/// What the buffer hands on, in sequence order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Packet(RtpPacket),
    /// `count` consecutive packets never arrived in time.
    Missing {
        count: u64,
    },
}

#[derive(Debug, Clone, Copy)]
pub struct JitterSettings {
    /// How long a packet waits behind a gap for the missing one to turn up.
    pub max_delay: Duration,
    /// How many packets may wait behind a gap before the gap is given up regardless of time.
    pub capacity: usize,
}

impl Default for JitterSettings {
    fn default() -> Self {
        // 60 ms covers the reordering seen on real networks without adding noticeable delay to transcription.
        Self {
            max_delay: Duration::from_millis(60),
            capacity: 16,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct JitterCounters {
    pub received: u64,
    pub lost: u64,
    pub late: u64,
    pub duplicate: u64,
}

#[derive(Debug)]
pub struct JitterBuffer {
    settings: JitterSettings,
    /// Extended (wrap-free) sequence number of the next packet to hand on.
    next: Option<u64>,
    /// Highest extended sequence number seen, the reference for unwrapping the next one.
    highest: u64,
    /// Packets waiting behind a gap, keyed by extended sequence number, with their arrival time.
    held: BTreeMap<u64, (Duration, RtpPacket)>,
    counters: JitterCounters,
}

impl JitterBuffer {
    pub fn new(settings: JitterSettings) -> Self {
        Self {
            settings,
            next: None,
            highest: 0,
            held: BTreeMap::new(),
            counters: JitterCounters::default(),
        }
    }

    pub fn counters(&self) -> JitterCounters {
        self.counters
    }

    /// Takes one arriving packet; call `pop` afterwards to drain what became ready.
    pub fn push(&mut self, packet: RtpPacket, arrival: Duration) {
        self.counters.received += 1;
        let ext = self.extend(packet.seq);
        let next = *self.next.get_or_insert(ext);
        if ext < next {
            self.counters.late += 1;
            return;
        }
        if self.held.contains_key(&ext) {
            self.counters.duplicate += 1;
            return;
        }
        self.held.insert(ext, (arrival, packet));
    }

    /// The next slot that is ready at `now`, if any.
    pub fn pop(&mut self, now: Duration) -> Option<Slot> {
        let next = self.next?;
        let (&first, &(arrival, _)) = self.held.iter().next()?;
        if first == next {
            let (_, packet) = self.held.remove(&first)?;
            self.next = Some(next + 1);
            return Some(Slot::Packet(packet));
        }
        let overdue = now.saturating_sub(arrival) >= self.settings.max_delay;
        if overdue || self.held.len() > self.settings.capacity {
            let count = first - next;
            self.counters.lost += count;
            self.next = Some(first);
            return Some(Slot::Missing { count });
        }
        None
    }

    /// When the packet waiting behind a gap runs out of patience; `None` if nothing waits.
    pub fn next_deadline(&self) -> Option<Duration> {
        let next = self.next?;
        let (&first, &(arrival, _)) = self.held.iter().next()?;
        (first != next).then_some(arrival + self.settings.max_delay)
    }

    /// Gives up on every gap now (the stream ended); `pop` then drains all held packets.
    pub fn expire_all(&mut self) {
        self.settings.max_delay = Duration::ZERO;
    }

    /// Unwraps a 16-bit sequence number to the one closest to the highest seen so far.
    fn extend(&mut self, seq: u16) -> u64 {
        if self.next.is_none() {
            // Start well above zero so packets from just before the first one can still be placed.
            self.highest = (1 << 32) + u64::from(seq);
            return self.highest;
        }
        let delta = i64::from(seq.wrapping_sub(self.highest as u16) as i16);
        let ext = (self.highest as i64 + delta) as u64;
        self.highest = self.highest.max(ext);
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(seq: u16) -> RtpPacket {
        RtpPacket {
            seq,
            timestamp: u32::from(seq) * 960,
            payload: Bytes::from(vec![seq as u8]),
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn drain(jb: &mut JitterBuffer, now: Duration) -> Vec<Slot> {
        std::iter::from_fn(|| jb.pop(now)).collect()
    }

    fn seqs(slots: &[Slot]) -> Vec<i64> {
        slots
            .iter()
            .map(|s| match s {
                Slot::Packet(p) => i64::from(p.seq),
                Slot::Missing { count } => -(*count as i64),
            })
            .collect()
    }

    #[test]
    fn in_order_packets_pass_straight_through() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        for s in 0..5u16 {
            jb.push(pkt(s), ms(u64::from(s) * 20));
            assert_eq!(
                seqs(&drain(&mut jb, ms(u64::from(s) * 20))),
                vec![i64::from(s)]
            );
        }
        assert_eq!(jb.next_deadline(), None);
    }

    #[test]
    fn reordered_packets_come_out_in_order() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        jb.push(pkt(1), ms(0));
        jb.push(pkt(3), ms(20));
        assert_eq!(seqs(&drain(&mut jb, ms(20))), vec![1]);
        jb.push(pkt(2), ms(25));
        assert_eq!(seqs(&drain(&mut jb, ms(25))), vec![2, 3]);
        assert_eq!(jb.counters().lost, 0);
    }

    #[test]
    fn a_gap_is_declared_lost_after_max_delay_and_late_packets_are_dropped() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        jb.push(pkt(10), ms(0));
        jb.push(pkt(13), ms(60));
        assert_eq!(seqs(&drain(&mut jb, ms(60))), vec![10]);
        assert_eq!(jb.next_deadline(), Some(ms(120)));
        assert!(drain(&mut jb, ms(119)).is_empty());
        assert_eq!(seqs(&drain(&mut jb, ms(120))), vec![-2, 13]);
        jb.push(pkt(11), ms(130));
        assert!(drain(&mut jb, ms(130)).is_empty());
        let c = jb.counters();
        assert_eq!((c.received, c.lost, c.late), (3, 2, 1));
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        jb.push(pkt(65534), ms(0));
        jb.push(pkt(0), ms(40));
        jb.push(pkt(65535), ms(41));
        assert_eq!(seqs(&drain(&mut jb, ms(41))), vec![65534, 65535, 0]);
    }

    #[test]
    fn duplicates_are_counted_once() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        jb.push(pkt(5), ms(0));
        jb.push(pkt(7), ms(1));
        jb.push(pkt(7), ms(2));
        assert_eq!(jb.counters().duplicate, 1);
    }

    #[test]
    fn too_many_waiting_packets_force_the_gap() {
        let mut jb = JitterBuffer::new(JitterSettings {
            max_delay: ms(1000),
            capacity: 2,
        });
        jb.push(pkt(0), ms(0));
        drain(&mut jb, ms(0));
        for s in 2..5u16 {
            jb.push(pkt(s), ms(1));
        }
        assert_eq!(seqs(&drain(&mut jb, ms(1))), vec![-1, 2, 3, 4]);
    }

    #[test]
    fn expire_all_releases_everything() {
        let mut jb = JitterBuffer::new(JitterSettings::default());
        jb.push(pkt(0), ms(0));
        jb.push(pkt(2), ms(0));
        jb.expire_all();
        assert_eq!(seqs(&drain(&mut jb, ms(0))), vec![0, -1, 2]);
    }
}
