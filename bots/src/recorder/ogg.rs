//! Ogg pages (RFC 3533): writing whole pages, and reading them back with CRC checks.
//!
//! Written by hand rather than with the `ogg` crate because the recorder needs to decide exactly when a page
//! ends (so every fsync covers whole pages), and because the reader doubles as the validator for files cut
//! short by a crash: it stops cleanly at a torn last page instead of failing the whole file.

use std::io::{self, Write};

pub const HEADER_BOS: u8 = 0x02;
pub const HEADER_EOS: u8 = 0x04;
pub const HEADER_CONTINUED: u8 = 0x01;
const CAPTURE: &[u8; 4] = b"OggS";
const HEADER_LEN: usize = 27;
/// A page's segment table has at most 255 lacing values.
pub const MAX_SEGMENTS: usize = 255;

/// The Ogg CRC-32: polynomial 0x04c11db7, no reflection, zero initial value and no final xor.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
};

pub fn crc32(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |crc, &b| {
        (crc << 8) ^ CRC_TABLE[(((crc >> 24) as u8) ^ b) as usize]
    })
}

/// How many lacing values a packet of `len` bytes takes (a multiple of 255 needs a closing 0).
pub fn segments_for(len: usize) -> usize {
    len / 255 + 1
}

/// Writes one logical stream's pages.
#[derive(Debug)]
pub struct PageWriter<W: Write> {
    inner: W,
    serial: u32,
    sequence: u32,
    /// Reused between pages so a page costs no allocation once warmed up.
    buf: Vec<u8>,
}

impl<W: Write> PageWriter<W> {
    pub fn new(inner: W, serial: u32) -> Self {
        Self {
            inner,
            serial,
            sequence: 0,
            buf: Vec::with_capacity(8 * 1024),
        }
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Writes one page holding `packets`, each complete, with a single `write_all` so a crash tears at most
    /// this page. The caller keeps the total lacing values within `MAX_SEGMENTS`.
    pub fn write_page(
        &mut self,
        header_type: u8,
        granule: u64,
        packets: &[&[u8]],
    ) -> io::Result<()> {
        let segments: usize = packets.iter().map(|p| segments_for(p.len())).sum();
        if segments > MAX_SEGMENTS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{segments} lacing values do not fit one Ogg page"),
            ));
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(CAPTURE);
        buf.push(0); // stream structure version
        buf.push(header_type);
        buf.extend_from_slice(&granule.to_le_bytes());
        buf.extend_from_slice(&self.serial.to_le_bytes());
        buf.extend_from_slice(&self.sequence.to_le_bytes());
        buf.extend_from_slice(&[0; 4]); // CRC, filled in below
        buf.push(segments as u8);
        for p in packets {
            buf.extend(std::iter::repeat_n(255u8, p.len() / 255));
            buf.push((p.len() % 255) as u8);
        }
        for p in packets {
            buf.extend_from_slice(p);
        }
        let crc = crc32(buf);
        buf[22..26].copy_from_slice(&crc.to_le_bytes());
        self.inner.write_all(buf)?;
        self.sequence += 1;
        Ok(())
    }
}

/// One page read back from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub header_type: u8,
    pub granule: u64,
    pub serial: u32,
    pub sequence: u32,
    /// The packets that end on this page (this writer never splits a packet across pages).
    pub packets: Vec<Vec<u8>>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OggError {
    #[error("no Ogg capture pattern at byte {offset}")]
    NoCapture { offset: usize },
    #[error("page {sequence} at byte {offset} fails its CRC")]
    BadCrc { offset: usize, sequence: u32 },
    #[error("page sequence jumps from {expected} to {found}")]
    SequenceGap { expected: u32, found: u32 },
    #[error("page {sequence} continues a packet across pages, which this reader does not support")]
    Continued { sequence: u32 },
}

/// Pages parsed from a byte buffer, and how many trailing bytes were a torn page (a crash mid-write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedStream {
    pub pages: Vec<Page>,
    pub torn_tail: usize,
}

/// Parses and validates every complete page; a trailing incomplete page is reported, not an error.
pub fn parse_pages(bytes: &[u8]) -> Result<ParsedStream, OggError> {
    let mut pages = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < HEADER_LEN {
            return torn(pages, at, rest);
        }
        if &rest[..4] != CAPTURE {
            return Err(OggError::NoCapture { offset: at });
        }
        let count = usize::from(rest[26]);
        if rest.len() < HEADER_LEN + count {
            return Ok(ParsedStream {
                pages,
                torn_tail: rest.len(),
            });
        }
        let lacing = &rest[HEADER_LEN..HEADER_LEN + count];
        let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let len = HEADER_LEN + count + body;
        if rest.len() < len {
            return Ok(ParsedStream {
                pages,
                torn_tail: rest.len(),
            });
        }
        let page = &rest[..len];
        let sequence = u32::from_le_bytes([page[18], page[19], page[20], page[21]]);
        let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        let mut check = page.to_vec();
        check[22..26].fill(0);
        if crc32(&check) != stored {
            return Err(OggError::BadCrc {
                offset: at,
                sequence,
            });
        }
        if let Some(prev) = pages.last().map(|p: &Page| p.sequence) {
            // Page sequence numbers are 32-bit and wrap; a page numbered u32::MAX (a corrupt or hostile
            // file can say anything) made `prev + 1` overflow, a panic in debug builds.
            let expected = prev.wrapping_add(1);
            if sequence != expected {
                return Err(OggError::SequenceGap {
                    expected,
                    found: sequence,
                });
            }
        }
        let header_type = page[5];
        if header_type & HEADER_CONTINUED != 0 {
            return Err(OggError::Continued { sequence });
        }
        let mut packets = Vec::new();
        let mut current = Vec::new();
        let mut data = &page[HEADER_LEN + count..];
        for &l in lacing {
            let (chunk, tail) = data.split_at(usize::from(l));
            current.extend_from_slice(chunk);
            data = tail;
            if l < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        pages.push(Page {
            header_type,
            granule: u64::from_le_bytes([
                page[6], page[7], page[8], page[9], page[10], page[11], page[12], page[13],
            ]),
            serial: u32::from_le_bytes([page[14], page[15], page[16], page[17]]),
            sequence,
            packets,
        });
        at += len;
    }
    Ok(ParsedStream {
        pages,
        torn_tail: 0,
    })
}

/// A tail shorter than a header is torn only if it is the start of a page.
fn torn(pages: Vec<Page>, offset: usize, rest: &[u8]) -> Result<ParsedStream, OggError> {
    let n = rest.len().min(4);
    if rest[..n] != CAPTURE[..n] {
        return Err(OggError::NoCapture { offset });
    }
    Ok(ParsedStream {
        pages,
        torn_tail: rest.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_ogg_reference_value() {
        // The CRC of "123456789" under Ogg's parameters (CRC-32/MPEG-2 without init/xorout) is 0x89a1897f.
        assert_eq!(crc32(b"123456789"), 0x89a1_897f);
    }

    #[test]
    fn pages_round_trip_and_a_torn_tail_is_tolerated() {
        let mut w = PageWriter::new(Vec::new(), 7);
        let big = vec![9u8; 510];
        w.write_page(HEADER_BOS, 0, &[b"head"]).unwrap();
        w.write_page(0, 960, &[b"a", &big, b""]).unwrap();
        w.write_page(HEADER_EOS, 1920, &[b"z"]).unwrap();
        let bytes = w.into_inner();
        let parsed = parse_pages(&bytes).unwrap();
        assert_eq!(parsed.torn_tail, 0);
        assert_eq!(parsed.pages.len(), 3);
        assert_eq!(
            parsed.pages[1].packets,
            vec![b"a".to_vec(), big, Vec::new()]
        );
        assert_eq!(parsed.pages[2].granule, 1920);
        assert_eq!(parsed.pages[0].serial, 7);

        // The last page is 29 bytes: 27 header, 1 lacing value, 1 data byte.
        for cut in 1..29 {
            let short = &bytes[..bytes.len() - cut];
            let parsed = parse_pages(short).unwrap();
            assert_eq!(parsed.pages.len(), 2, "cut {cut}");
            assert!(parsed.torn_tail > 0);
        }
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let mut w = PageWriter::new(Vec::new(), 1);
        w.write_page(HEADER_BOS, 0, &[b"hello"]).unwrap();
        let mut bytes = w.into_inner();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(matches!(parse_pages(&bytes), Err(OggError::BadCrc { .. })));
    }

    #[test]
    fn a_page_numbered_u32_max_is_followed_by_page_zero() {
        // Regression (docs/fuzzing.md; fuzz/corpus/audio_decode/regression-ogg-sequence-u32-max): the
        // check after a page numbered u32::MAX overflowed instead of reporting the gap.
        let mut w = PageWriter::new(Vec::new(), 1);
        w.write_page(HEADER_BOS, 0, &[b"a"]).unwrap();
        w.write_page(0, 960, &[b"b"]).unwrap();
        let mut bytes = w.into_inner();
        let first_len = HEADER_LEN + 2;
        bytes[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
        bytes[22..26].fill(0);
        let crc = crc32(&bytes[..first_len]);
        bytes[22..26].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(
            parse_pages(&bytes),
            Err(OggError::SequenceGap {
                expected: 0,
                found: 1
            })
        );
    }
}
