//! An Ogg/Opus stream (RFC 7845) built from the original RTP payloads, with no re-encoding.
//!
//! Packets are buffered into the current page until the recorder flushes; gaps in the RTP timeline (lost
//! packets, DTX) are filled with one-byte "lost frame" packets so granule positions keep matching real time
//! and a player's timeline lines up with the call clock.

use std::io::{self, Write};

use super::ogg::{segments_for, PageWriter, HEADER_BOS, HEADER_EOS, MAX_SEGMENTS};

/// Samples per second of Opus granule positions, whatever the input rate was.
pub const GRANULE_RATE: u64 = 48_000;

pub struct OggOpusWriter<W: Write> {
    pages: PageWriter<W>,
    /// Packets waiting for the next page.
    pending: Vec<Vec<u8>>,
    pending_segments: usize,
    /// Granule position at the end of the last packet accepted (pending or written).
    granule: u64,
    /// The TOC byte of the last real packet: filler packets reuse its mode and frame size.
    last_toc: Option<u8>,
    packets_since_flush: usize,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the OpusHead and OpusTags pages at once, so even an empty recording is a valid file.
    pub fn new(inner: W, serial: u32, comments: &[(&str, &str)]) -> io::Result<Self> {
        let mut pages = PageWriter::new(inner, serial);
        pages.write_page(HEADER_BOS, 0, &[&opus_head()])?;
        pages.write_page(0, 0, &[&opus_tags(comments)])?;
        Ok(Self {
            pages,
            pending: Vec::new(),
            pending_segments: 0,
            granule: 0,
            last_toc: None,
            packets_since_flush: 0,
        })
    }

    pub fn granule(&self) -> u64 {
        self.granule
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    pub fn get_ref(&self) -> &W {
        self.pages.get_ref()
    }

    /// Adds one packet that starts `offset` samples (48 kHz) after the track's first packet.
    pub fn push(&mut self, offset: u64, packet: &[u8]) -> io::Result<()> {
        let Ok(samples) = opus::packet::get_nb_samples(packet, GRANULE_RATE as u32) else {
            // Not a valid Opus packet: keep the file playable by leaving it out.
            return Ok(());
        };
        self.fill_gap(offset)?;
        if let Some(&toc) = packet.first() {
            self.last_toc = Some(toc);
        }
        self.append(packet.to_vec(), samples as u64)
    }

    /// Writes pending packets as one page (no-op when nothing is pending).
    pub fn flush_page(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let refs: Vec<&[u8]> = self.pending.iter().map(Vec::as_slice).collect();
        self.pages.write_page(0, self.granule, &refs)?;
        self.pending.clear();
        self.pending_segments = 0;
        self.packets_since_flush = 0;
        Ok(())
    }

    /// Writes what is pending and an end-of-stream page, and hands back the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let refs: Vec<&[u8]> = self.pending.iter().map(Vec::as_slice).collect();
        self.pages.write_page(HEADER_EOS, self.granule, &refs)?;
        Ok(self.pages.into_inner())
    }

    fn append(&mut self, packet: Vec<u8>, samples: u64) -> io::Result<()> {
        let segments = segments_for(packet.len());
        if self.pending_segments + segments > MAX_SEGMENTS {
            self.flush_page()?;
        }
        self.pending_segments += segments;
        self.pending.push(packet);
        self.granule += samples;
        self.packets_since_flush += 1;
        Ok(())
    }

    /// Fills `granule..offset` with zero-length frames (RFC 6716 §3.2.1: the decoder conceals them).
    fn fill_gap(&mut self, offset: u64) -> io::Result<()> {
        let Some(toc) = self.last_toc else {
            return Ok(());
        };
        // Code 0 (one frame per packet), same configuration and stereo flag as the last real packet.
        let filler = toc & 0xfc;
        let frame = frame_samples(filler);
        while offset >= self.granule + frame {
            self.append(vec![filler], frame)?;
        }
        Ok(())
    }
}

/// Samples (48 kHz) in one frame of the configuration in a TOC byte (RFC 6716 §3.1).
pub fn frame_samples(toc: u8) -> u64 {
    let config = toc >> 3;
    let ms_x10: u64 = match config {
        0..=11 => [100, 200, 400, 600][usize::from(config % 4)],
        12..=15 => [100, 200][usize::from(config % 2)],
        _ => [25, 50, 100, 200][usize::from(config % 4)],
    };
    ms_x10 * GRANULE_RATE / 10_000
}

fn opus_head() -> Vec<u8> {
    let mut h = Vec::with_capacity(19);
    h.extend_from_slice(b"OpusHead");
    h.push(1); // version
    h.push(1); // channels: WebRTC speech tracks are mono in practice; stereo packets are downmixed on decode
    h.extend_from_slice(&0u16.to_le_bytes()); // pre-skip: the stream starts mid-call, there is no encoder delay to trim
    h.extend_from_slice(&48_000u32.to_le_bytes()); // original input rate, informational
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0); // channel mapping family 0: mono/stereo
    h
}

fn opus_tags(comments: &[(&str, &str)]) -> Vec<u8> {
    let vendor = concat!("panelist-bots ", env!("CARGO_PKG_VERSION"));
    let mut t = Vec::new();
    t.extend_from_slice(b"OpusTags");
    t.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    t.extend_from_slice(vendor.as_bytes());
    t.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for (k, v) in comments {
        let c = format!("{k}={v}");
        t.extend_from_slice(&(c.len() as u32).to_le_bytes());
        t.extend_from_slice(c.as_bytes());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::super::ogg::parse_pages;
    use super::*;

    fn encoded(n: usize) -> Vec<Vec<u8>> {
        let mut enc =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let pcm: Vec<i16> = (0..960)
            .map(|k| ((k as f64 * 0.05).sin() * 6000.0) as i16)
            .collect();
        let mut buf = vec![0u8; 1500];
        (0..n)
            .map(|_| {
                let len = enc.encode(&pcm, &mut buf).unwrap();
                buf[..len].to_vec()
            })
            .collect()
    }

    #[test]
    fn headers_packets_and_gap_fill_decode_to_the_right_length() {
        let pk = encoded(10);
        let mut w = OggOpusWriter::new(Vec::new(), 42, &[("PARTICIPANT", "alice")]).unwrap();
        for (i, p) in pk.iter().enumerate() {
            if i == 3 || i == 4 {
                continue; // lost in transit
            }
            w.push(i as u64 * 960, p).unwrap();
        }
        w.flush_page().unwrap();
        assert_eq!(w.granule(), 9600);
        let bytes = w.finish().unwrap();
        let parsed = parse_pages(&bytes).unwrap();
        assert_eq!(&parsed.pages[0].packets[0][..8], b"OpusHead");
        assert_eq!(&parsed.pages[1].packets[0][..8], b"OpusTags");
        let audio: Vec<&Vec<u8>> = parsed.pages[2..].iter().flat_map(|p| &p.packets).collect();
        assert_eq!(audio.len(), 10);
        assert_eq!(audio[3].len(), 1, "filler is a lone TOC byte");
        assert_eq!(parsed.pages.last().unwrap().granule, 9600);

        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut out = vec![0i16; 5760];
        let total: usize = audio
            .iter()
            .map(|p| dec.decode(p, &mut out, false).unwrap())
            .sum();
        assert_eq!(total, 9600);
    }

    #[test]
    fn frame_sizes_from_toc() {
        assert_eq!(frame_samples(0x78), 960); // CELT FB 20 ms (config 15 is hybrid 20 ms)
        assert_eq!(frame_samples(0xf8), 960); // CELT FB 20 ms
        assert_eq!(frame_samples(0x08), 960); // SILK NB 20 ms
        assert_eq!(frame_samples(0x80), 120); // CELT NB 2.5 ms
    }
}
