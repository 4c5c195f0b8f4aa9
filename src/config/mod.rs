//! Configuration: `config/default.toml`, then an optional file, then `PANELIST__*` variables,
//! validated as a whole so every bad key is reported at once.

mod layers;

pub use layers::{load, ConfigError};

use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

use crate::settings::ApiVersion;

/// The documented defaults, compiled in so a bare binary runs with nothing configured.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub public_url: String,
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub log: LogSettings,
    pub store: StoreSettings,
    pub greenhouse: GreenhouseSettings,
    pub sync: SyncSettings,
    pub webhooks: WebhookSettings,
    pub security: SecuritySettings,
    pub transcription: TranscriptionSettings,
    pub notes: NotesSettings,
    pub poster: PosterSettings,
    pub bots: BotSettings,
    pub dashboard: DashboardSettings,
    pub privacy: PrivacySettings,
    pub consent: ConsentConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub shutdown_grace_secs: u64,
    pub admin_token: SecretString,
    /// A client must send its whole request head within this time (slow-loris defence).
    pub request_head_timeout_ms: u64,
    /// Open connections per worker thread; further clients wait in the kernel's backlog.
    pub max_connections: usize,
    pub limits: RequestLimitSettings,
}

/// What one request may carry (webhook bodies have their own limit, `webhooks.body_limit_bytes`).
#[derive(Debug, Clone, Deserialize)]
pub struct RequestLimitSettings {
    pub max_headers: usize,
    pub header_bytes: usize,
    pub json_body_bytes: usize,
    pub form_body_bytes: usize,
    /// Deepest nesting of objects and arrays in a JSON body (API and webhooks).
    pub json_depth: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Clone, Deserialize)]
pub struct StoreSettings {
    pub redis_url: String,
    pub key_prefix: String,
    pub embedded_path: String,
    /// Connecting to Redis, and each command, fails after this long instead of hanging.
    pub redis_timeout_ms: u64,
}

/// A Redis URL may carry a password (`redis://:secret@host`): `Debug` shows the URL without it.
impl std::fmt::Debug for StoreSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redis_url = match url::Url::parse(&self.redis_url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("[REDACTED]"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) if self.redis_url.is_empty() => String::new(),
            Err(_) => "[unparsable URL]".to_string(),
        };
        f.debug_struct("StoreSettings")
            .field("redis_url", &redis_url)
            .field("key_prefix", &self.key_prefix)
            .field("embedded_path", &self.embedded_path)
            .field("redis_timeout_ms", &self.redis_timeout_ms)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct GreenhouseSettings {
    pub api_version: ApiVersion,
    pub client_id: String,
    pub client_secret: SecretString,
    pub api_key: SecretString,
    pub integration_user_email: String,
    pub webhook_secret: SecretString,
    pub harvest_base_url: String,
    pub token_url: String,
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    pub per_page: u32,
    pub token_refresh_margin_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SyncSettings {
    pub enabled: bool,
    pub interval_secs: u64,
    pub window_back_hours: u64,
    pub window_ahead_days: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    pub body_limit_bytes: usize,
    pub dedup_ttl_secs: u64,
    pub max_apply_attempts: u32,
    /// How often the event log is scanned for accepted events not yet applied (a full apply
    /// queue, or a store outage, leaves them there).
    pub rescan_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    pub encryption_key: SecretString,
    /// Keys a rotation retired: they open what they sealed, and seal nothing new.
    #[serde(default)]
    pub previous_encryption_keys: Vec<SecretString>,
}

/// `[transcription]`: speech to text (src/transcribe), and where models live (src/models).
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionSettings {
    pub engine: TranscriptionEngineKind,
    pub model: crate::models::ModelName,
    pub model_dir: PathBuf,
    pub workers: usize,
    pub threads_per_inference: usize,
    pub beam_size: usize,
    pub language: String,
    pub fit_audio_context: bool,
    /// Transcribe chunks that are waiting together, from any speakers, in one Whisper window.
    pub batch_chunks: bool,
    pub queue_capacity: usize,
    pub max_chunk_secs: u64,
    pub flush_after_silence_ms: u64,
    pub pad_ms: u64,
    pub min_speech_ms: u64,
    pub http: TranscriptionHttpSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TranscriptionEngineKind {
    Local,
    Http,
}

/// `[transcription.http]`: an OpenAI-compatible transcription API.
#[derive(Debug, Clone, Deserialize)]
pub struct TranscriptionHttpSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    pub retry_base_ms: u64,
    pub max_concurrent_requests: usize,
}

/// `[notes]`: turning a transcript into interview notes (src/notes).
#[derive(Debug, Clone, Deserialize)]
pub struct NotesSettings {
    pub engine: NotesEngineKind,
    pub chunk_tokens: usize,
    pub max_output_tokens: u32,
    pub max_attempts: u32,
    pub temperature: f32,
    /// Seconds after the call ends that the assessment of its last minutes may take; 0 = wait.
    pub finish_deadline_secs: u64,
    pub local: NotesLocalSettings,
    pub openai: NotesOpenAiSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotesEngineKind {
    Local,
    Openai,
}

/// `[notes.local]`: llama.cpp on this machine, in the `panelist-llm` worker process.
#[derive(Debug, Clone, Deserialize)]
pub struct NotesLocalSettings {
    pub worker_path: PathBuf,
    pub threads: usize,
    pub context_tokens: usize,
    pub request_timeout_secs: u64,
    pub idle_shutdown_secs: u64,
}

/// `[notes.openai]`: an OpenAI-compatible chat completions API.
#[derive(Debug, Clone, Deserialize)]
pub struct NotesOpenAiSettings {
    pub base_url: String,
    pub api_key: SecretString,
    pub model: String,
    pub json_response_format: bool,
    pub context_tokens: usize,
    pub request_timeout_secs: u64,
    pub max_retries: u32,
    pub retry_base_ms: u64,
}

/// `[poster]`: posting notes to the candidate's activity feed (src/poster).
#[derive(Debug, Clone, Deserialize)]
pub struct PosterSettings {
    pub enabled: bool,
    pub visibility: crate::greenhouse::Visibility,
    pub poll_interval_secs: u64,
    pub max_attempts: u32,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    pub lease_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BotSettings {
    pub enabled: bool,
    pub join_lead_secs: u64,
    pub lookahead_hours: u64,
    pub rescan_secs: u64,
    pub lease_secs: u64,
    pub join_timeout_secs: u64,
    pub record: bool,
    pub replica_id: String,
    pub retry_base_secs: u64,
    pub retry_max_secs: u64,
    /// Participants' audio streams a bot listens to at once; more are logged and left out.
    pub max_participants: usize,
    pub network: BotNetworkSettings,
    pub leave: LeaveSettings,
}

/// `[bots.network]`: where bots may connect (meeting URLs are untrusted customer data).
#[derive(Debug, Clone, Deserialize)]
pub struct BotNetworkSettings {
    pub allowed_hosts: Vec<String>,
    pub allow_loopback: bool,
    pub allow_private: bool,
}

impl BotNetworkSettings {
    /// The policy connectors enforce; patterns were validated when the configuration loaded.
    pub fn policy(
        &self,
    ) -> Result<panelist_bots::NetworkPolicy, panelist_bots::netpolicy::PatternError> {
        panelist_bots::NetworkPolicy::new(
            &self.allowed_hosts,
            self.allow_loopback,
            self.allow_private,
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConsentConfig {
    pub policy: crate::consent::ConsentPolicy,
    /// Whether bots speak the consent notice into calls whose platform lets them publish audio.
    pub spoken_notice: bool,
    /// The espeak-ng voice that speaks it.
    pub notice_voice: String,
    /// Consent recorded in Greenhouse, by candidate tag or custom field.
    #[serde(default)]
    pub greenhouse: crate::consent::GreenhouseConsent,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PrivacySettings {
    pub recordings_days: u64,
    pub transcripts_days: u64,
    pub notes_days: u64,
    pub delete_recordings_after_transcript: bool,
    pub sweep_interval_secs: u64,
    /// Seal recordings and transcripts on disk with `security.encryption_key` (AES-256-GCM).
    pub encrypt_at_rest: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DashboardSettings {
    pub session_hours: u64,
    pub login_attempts_per_minute: u32,
    pub secure_cookies: SecureCookies,
    pub metrics_public: bool,
    pub live_refresh_ms: u64,
}

/// Whether session cookies carry the `Secure` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// Secure when `public_url` is https.
    Auto,
    Always,
    Never,
}

impl Settings {
    /// Whether cookies get `Secure`: browsers then send them over HTTPS only.
    pub fn secure_cookies(&self) -> bool {
        match self.dashboard.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => self.public_url.starts_with("https://"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeaveSettings {
    pub overrun_grace_secs: u64,
    pub alone_secs: u64,
    pub nobody_joined_secs: u64,
    pub silence_secs: u64,
    pub max_duration_secs: u64,
    pub silent_watchdog_secs: u64,
}

impl Settings {
    /// The URL to paste into Greenhouse's webhook form.
    pub fn webhook_endpoint(&self) -> String {
        format!(
            "{}/webhooks/greenhouse",
            self.public_url.trim_end_matches('/')
        )
    }

    /// The compiled-in defaults, for tests and tools that need a base to adjust.
    pub fn defaults() -> Result<Settings, ConfigError> {
        load(None, std::iter::empty())
    }
}
