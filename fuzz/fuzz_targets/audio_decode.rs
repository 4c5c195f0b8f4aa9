//! Audio files: `transcribe::decode::decode_bytes`, the in-memory twin of `decode_file` behind
//! `panelist transcribe FILE` (symphonia for WAV/FLAC/MP3/AAC/Ogg Vorbis, the `ogg` crate and libopus for
//! Ogg Opus), and the media plane's own Ogg page reader (`recorder::ogg::parse_pages`).
//!
//! Input: `[flags][file...]`. The low three bits of `flags` pick the file name's extension (symphonia's
//! format hint); bit 3 asks the harness to recompute the CRC of every Ogg page it can delimit first, so the
//! fuzzer gets past the checksum into the page and packet logic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use panelist::transcribe::decode::decode_bytes;
use panelist_bots::recorder::ogg::{crc32, parse_pages};

const NAMES: [&str; 8] = [
    "input",
    "input.wav",
    "input.flac",
    "input.mp3",
    "input.m4a",
    "input.ogg",
    "input.opus",
    "input.aac",
];

/// Rewrites the CRC field of each complete `OggS` page found scanning from the start.
fn fix_ogg_crcs(bytes: &mut [u8]) {
    let mut at = 0;
    while at + 27 <= bytes.len() {
        if &bytes[at..at + 4] != b"OggS" {
            at += 1;
            continue;
        }
        let count = usize::from(bytes[at + 26]);
        if at + 27 + count > bytes.len() {
            return;
        }
        let body: usize = bytes[at + 27..at + 27 + count]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        let end = at + 27 + count + body;
        if end > bytes.len() {
            return;
        }
        bytes[at + 22..at + 26].fill(0);
        let crc = crc32(&bytes[at..end]);
        bytes[at + 22..at + 26].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// libFuzzer's panic hook aborts on every panic, even one the library catches. `decode_source` catches
/// symphonia's panics on malformed files and reports them as `Corrupt` (docs/fuzzing.md, "Findings"), so
/// those, and only those, are let through to that `catch_unwind`: a panic raised under a symphonia frame
/// (by the location, or by the stack for panics raised in `core` on symphonia's behalf, like `step_by(0)`)
/// unwinds; any other, Panelist's own code included, still aborts and is reported as a crash.
fn let_symphonia_panics_unwind() {
    let abort_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_symphonia = info
            .location()
            .is_some_and(|l| l.file().contains("/symphonia-"))
            || std::backtrace::Backtrace::force_capture()
                .to_string()
                .contains("/symphonia-");
        if !in_symphonia {
            abort_hook(info);
        }
    }));
}

fuzz_target!(init: let_symphonia_panics_unwind(), |data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let mut file = file.to_vec();
    if flags & 8 != 0 {
        fix_ogg_crcs(&mut file);
    }
    if let Ok(parsed) = parse_pages(&file) {
        assert!(parsed.torn_tail <= file.len());
    }
    let name = NAMES[usize::from(flags & 7)];
    if let Ok(audio) = decode_bytes(Path::new(name), file) {
        assert!(!audio.samples.is_empty());
        assert!(audio.source_rate > 0);
    }
});
