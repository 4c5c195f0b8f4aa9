//! Layering and validation. Types are checked against the defaults, so an unknown key or a value
//! of the wrong type is reported with its full name, alongside every other problem.

use std::path::Path;

use base64::Engine;
use secrecy::ExposeSecret;
use toml::{Table, Value};

use super::{Settings, DEFAULT_TOML};

const ENV_PREFIX: &str = "PANELIST__";

/// Every problem found in the configuration, reported together.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Loads defaults, then `file`, then the `PANELIST__*` entries of `env`.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let mut problems = Vec::new();
    let mut merged: Table = DEFAULT_TOML.parse().map_err(|e| ConfigError {
        problems: vec![format!("built-in defaults: {e}")],
    })?;
    let defaults = merged.clone();

    if let Some(path) = file {
        match std::fs::read_to_string(path) {
            Err(e) => problems.push(format!("{}: {e}", path.display())),
            Ok(text) => match text.parse::<Table>() {
                Err(e) => problems.push(format!("{}: {e}", path.display())),
                Ok(table) => merge_file(
                    &defaults,
                    &mut merged,
                    table,
                    "",
                    &path.display().to_string(),
                    &mut problems,
                ),
            },
        }
    }

    let mut env: Vec<_> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(ENV_PREFIX))
        .collect();
    env.sort();
    for (key, raw) in env {
        let path: Vec<String> = key[ENV_PREFIX.len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        match lookup(&defaults, &path) {
            None | Some(Value::Table(_)) => problems.push(format!("{key}: no such setting")),
            Some(default) => match coerce(default, &raw) {
                Ok(v) => set(&mut merged, &path, v),
                Err(want) => problems.push(format!("{key}: expected {want}, got {raw:?}")),
            },
        }
    }

    check_choices(&defaults, &mut merged, &mut problems);
    let settings = match Value::Table(merged).try_into::<Settings>() {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(e.to_string().trim().to_string());
            None
        }
    };
    if let Some(s) = &settings {
        validate(s, &mut problems);
    }
    match settings {
        Some(s) if problems.is_empty() => Ok(s),
        _ => Err(ConfigError { problems }),
    }
}

fn merge_file(
    defaults: &Table,
    merged: &mut Table,
    file: Table,
    prefix: &str,
    source: &str,
    problems: &mut Vec<String>,
) {
    for (k, v) in file {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (defaults.get(&k), v) {
            (None, _) => problems.push(format!("{source}: unknown key `{name}`")),
            (Some(Value::Table(d)), Value::Table(t)) => {
                if let Some(Value::Table(m)) = merged.get_mut(&k) {
                    merge_file(d, m, t, &name, source, problems);
                }
            }
            (Some(d), v) if same_type(d, &v) => {
                merged.insert(k, v);
            }
            (Some(Value::Float(_)), Value::Integer(i)) => {
                merged.insert(k, Value::Float(i as f64));
            }
            (Some(d), v) => problems.push(format!(
                "{source}: `{name}` should be {}, got {}",
                d.type_str(),
                v.type_str()
            )),
        }
    }
}

/// Settings that take one of a few words. A bad one is reported and replaced by its default,
/// so deserialization still runs and the remaining checks still report.
const CHOICES: &[(&[&str], &[&str])] = &[
    (&["greenhouse", "api_version"], &["v3", "v1"]),
    (&["log", "format"], &["auto", "pretty", "json"]),
    (&["transcription", "engine"], &["local", "http"]),
    (&["transcription", "model"], &["tiny.en", "base"]),
    (&["notes", "engine"], &["local", "openai"]),
    (
        &["poster", "visibility"],
        &["private", "admin_only", "public"],
    ),
    (&["consent", "policy"], &["notify", "opt_out", "opt_in"]),
    (
        &["dashboard", "secure_cookies"],
        &["auto", "always", "never"],
    ),
];

fn check_choices(defaults: &Table, merged: &mut Table, problems: &mut Vec<String>) {
    for (path, allowed) in CHOICES {
        let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        let current = lookup(merged, &path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if !allowed.contains(&current.as_str()) {
            problems.push(format!(
                "{}: expected one of {}, got {current:?}",
                path.join("."),
                allowed.join(", ")
            ));
            if let Some(d) = lookup(defaults, &path).cloned() {
                set(merged, &path, d);
            }
        }
    }
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn lookup<'a>(table: &'a Table, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = table.get(first)?;
    if rest.is_empty() {
        Some(v)
    } else {
        match v {
            Value::Table(t) => lookup(t, rest),
            _ => None,
        }
    }
}

fn set(table: &mut Table, path: &[String], value: Value) {
    if let Some((first, rest)) = path.split_first() {
        if rest.is_empty() {
            table.insert(first.clone(), value);
        } else if let Some(Value::Table(t)) = table.get_mut(first) {
            set(t, rest, value);
        }
    }
}

/// Reads an environment string as the type of the default it overrides.
fn coerce(default: &Value, raw: &str) -> Result<Value, &'static str> {
    match default {
        Value::String(_) => Ok(Value::String(raw.to_string())),
        Value::Integer(_) => raw
            .trim()
            .parse()
            .map(Value::Integer)
            .map_err(|_| "an integer"),
        Value::Float(_) => raw.trim().parse().map(Value::Float).map_err(|_| "a number"),
        Value::Boolean(_) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Ok(Value::Boolean(false)),
            _ => Err("true or false"),
        },
        // Lists of words (`bots.network.allowed_hosts`): comma-separated, blanks dropped.
        Value::Array(_) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        )),
        _ => Err("a value this setting cannot take from the environment"),
    }
}

fn validate(s: &Settings, problems: &mut Vec<String>) {
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg);
        }
    };
    check(
        s.dashboard.session_hours >= 1,
        "dashboard.session_hours: must be at least 1".into(),
    );
    check(
        s.dashboard.login_attempts_per_minute >= 1,
        "dashboard.login_attempts_per_minute: must be at least 1".into(),
    );
    check(
        s.dashboard.live_refresh_ms >= 250,
        "dashboard.live_refresh_ms: must be at least 250".into(),
    );
    check(
        is_http_url(&s.public_url),
        format!(
            "public_url: expected an http(s) URL, got {:?}",
            s.public_url
        ),
    );
    check(
        is_http_url(&s.greenhouse.harvest_base_url),
        format!(
            "greenhouse.harvest_base_url: expected an http(s) URL, got {:?}",
            s.greenhouse.harvest_base_url
        ),
    );
    check(
        is_http_url(&s.greenhouse.token_url),
        format!(
            "greenhouse.token_url: expected an http(s) URL, got {:?}",
            s.greenhouse.token_url
        ),
    );
    check(
        (1..=500).contains(&s.greenhouse.per_page),
        format!(
            "greenhouse.per_page: must be 1..=500, got {}",
            s.greenhouse.per_page
        ),
    );
    check(
        s.greenhouse.request_timeout_secs > 0,
        "greenhouse.request_timeout_secs: must be at least 1".into(),
    );
    let email = s.greenhouse.integration_user_email.trim();
    check(
        email.is_empty() || email.contains('@'),
        format!("greenhouse.integration_user_email: {email:?} is not an email address"),
    );
    check(
        !s.data_dir.as_os_str().is_empty(),
        "data_dir: must not be empty".into(),
    );
    let redis = &s.store.redis_url;
    check(
        redis.is_empty() || redis::parse_redis_url(redis).is_some(),
        "store.redis_url: not a redis:// , rediss:// or unix URL".into(),
    );
    check(
        !s.store.key_prefix.is_empty() && !s.store.key_prefix.chars().any(char::is_whitespace),
        format!(
            "store.key_prefix: must be non-empty without spaces, got {:?}",
            s.store.key_prefix
        ),
    );
    check(
        s.sync.interval_secs >= 10,
        format!(
            "sync.interval_secs: must be at least 10, got {}",
            s.sync.interval_secs
        ),
    );
    check(
        s.sync.window_ahead_days >= 1,
        "sync.window_ahead_days: must be at least 1".into(),
    );
    check(
        s.store.redis_timeout_ms >= 100,
        format!(
            "store.redis_timeout_ms: must be at least 100, got {}",
            s.store.redis_timeout_ms
        ),
    );
    check(
        (1..=256).contains(&s.bots.max_participants),
        format!(
            "bots.max_participants: must be 1 to 256, got {}",
            s.bots.max_participants
        ),
    );
    let l = &s.server.limits;
    check(
        l.json_depth >= 10,
        format!(
            "server.limits.json_depth: must be at least 10 (Greenhouse's webhooks nest 9 levels), got {}",
            l.json_depth
        ),
    );
    check(
        l.max_headers >= 16 && l.header_bytes >= 4096,
        format!(
            "server.limits: max_headers must be at least 16 and header_bytes at least 4096, got {} and {}",
            l.max_headers, l.header_bytes
        ),
    );
    check(
        l.json_body_bytes >= 1024 && l.form_body_bytes >= 1024,
        format!(
            "server.limits: json_body_bytes and form_body_bytes must be at least 1024, got {} and {}",
            l.json_body_bytes, l.form_body_bytes
        ),
    );
    check(
        s.server.request_head_timeout_ms >= 500 && s.server.max_connections >= 1,
        "server: request_head_timeout_ms must be at least 500 and max_connections at least 1"
            .into(),
    );
    check(
        s.webhooks.body_limit_bytes >= 1024,
        format!(
            "webhooks.body_limit_bytes: must be at least 1024, got {}",
            s.webhooks.body_limit_bytes
        ),
    );
    check(
        s.webhooks.rescan_secs >= 1,
        "webhooks.rescan_secs: must be at least 1".into(),
    );
    check(
        s.webhooks.max_apply_attempts >= 1,
        "webhooks.max_apply_attempts: must be at least 1".into(),
    );
    let key = s.security.encryption_key.expose_secret();
    check(
        key.is_empty()
            || base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map(|k| k.len() == 32)
                .unwrap_or(false),
        // Never echo the key itself.
        "security.encryption_key: must be 32 bytes, base64-encoded".into(),
    );
    check(
        s.bots.lease_secs >= 3,
        format!(
            "bots.lease_secs: must be at least 3, got {}",
            s.bots.lease_secs
        ),
    );
    check(
        s.bots.rescan_secs >= 1,
        "bots.rescan_secs: must be at least 1".into(),
    );
    check(
        s.bots.join_timeout_secs >= 1,
        "bots.join_timeout_secs: must be at least 1".into(),
    );
    check(
        s.bots.retry_base_secs >= 1 && s.bots.retry_max_secs >= s.bots.retry_base_secs,
        "bots.retry_base_secs must be at least 1 and no more than bots.retry_max_secs".into(),
    );
    for pattern in &s.bots.network.allowed_hosts {
        if let Err(e) = panelist_bots::netpolicy::HostPattern::parse(pattern) {
            problems.push(format!("bots.network.allowed_hosts: {e}"));
        }
    }
    validate_transcription(&s.transcription, problems);
    crate::notes::validate_settings(s, problems);
}

fn validate_transcription(t: &super::TranscriptionSettings, problems: &mut Vec<String>) {
    let mut check = |ok: bool, msg: String| {
        if !ok {
            problems.push(msg);
        }
    };
    check(
        (1..=64).contains(&t.workers),
        format!("transcription.workers: must be 1..=64, got {}", t.workers),
    );
    check(
        (1..=64).contains(&t.threads_per_inference),
        format!(
            "transcription.threads_per_inference: must be 1..=64, got {}",
            t.threads_per_inference
        ),
    );
    check(
        (1..=8).contains(&t.beam_size),
        format!(
            "transcription.beam_size: must be 1 (greedy) to 8, got {}",
            t.beam_size
        ),
    );
    let lang = t.language.as_str();
    check(
        lang == "auto" || (lang.len() == 2 && lang.chars().all(|c| c.is_ascii_lowercase())),
        format!("transcription.language: expected a two-letter code such as \"en\", or \"auto\"; got {lang:?}"),
    );
    check(
        !t.model.is_english_only() || lang == "en",
        format!(
            "transcription.language: the {} model only understands English; set language = \"en\" or model = \"base\"",
            t.model
        ),
    );
    check(
        t.queue_capacity >= 1,
        "transcription.queue_capacity: must be at least 1".into(),
    );
    check(
        (1..=30).contains(&t.max_chunk_secs),
        format!(
            "transcription.max_chunk_secs: must be 1..=30 (Whisper's window), got {}",
            t.max_chunk_secs
        ),
    );
    check(
        t.flush_after_silence_ms <= 60_000,
        "transcription.flush_after_silence_ms: must be at most 60000".into(),
    );
    check(
        t.pad_ms <= 2_000,
        "transcription.pad_ms: must be at most 2000".into(),
    );
    check(
        t.min_speech_ms < t.max_chunk_secs * 1000,
        "transcription.min_speech_ms: must be shorter than max_chunk_secs".into(),
    );
    let h = &t.http;
    check(
        is_http_url(&h.base_url),
        format!(
            "transcription.http.base_url: expected an http(s) URL, got {:?}",
            h.base_url
        ),
    );
    check(
        !h.model.trim().is_empty(),
        "transcription.http.model: must not be empty".into(),
    );
    check(
        h.request_timeout_secs > 0,
        "transcription.http.request_timeout_secs: must be at least 1".into(),
    );
    check(
        h.max_concurrent_requests >= 1,
        "transcription.http.max_concurrent_requests: must be at least 1".into(),
    );
    check(
        h.max_retries <= 20,
        "transcription.http.max_retries: must be at most 20".into(),
    );
}

fn is_http_url(s: &str) -> bool {
    url::Url::parse(s)
        .map(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load_and_are_valid() {
        let s = load(None, env(&[])).unwrap();
        assert_eq!(s.server.port, 8080);
        assert!(s.store.redis_url.is_empty());
        assert_eq!(
            s.webhook_endpoint(),
            "http://localhost:8080/webhooks/greenhouse"
        );
    }

    #[test]
    fn a_redis_password_is_not_in_debug_output() {
        let s = load(
            None,
            env(&[(
                "PANELIST__STORE__REDIS_URL",
                "redis://:hunter2-redis@redis.internal:6379/0",
            )]),
        )
        .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-redis"), "{shown}");
        assert!(shown.contains("redis.internal"), "{shown}");
    }

    #[test]
    fn limits_below_what_greenhouse_sends_are_refused() {
        let err = load(None, env(&[("PANELIST__SERVER__LIMITS__JSON_DEPTH", "5")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.limits.json_depth"), "{err}");
    }

    #[test]
    fn bot_network_settings_default_to_public_hosts_and_take_lists_from_the_environment() {
        let s = load(None, env(&[])).unwrap();
        let n = &s.bots.network;
        assert!(n.allowed_hosts.is_empty() && !n.allow_loopback && !n.allow_private);
        let s = load(
            None,
            env(&[
                (
                    "PANELIST__BOTS__NETWORK__ALLOWED_HOSTS",
                    "sfu.example.com, *.calls.example.org,",
                ),
                ("PANELIST__BOTS__NETWORK__ALLOW_LOOPBACK", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.bots.network.allowed_hosts,
            ["sfu.example.com", "*.calls.example.org"]
        );
        assert!(s.bots.network.policy().unwrap().allow_loopback);
        let err = load(
            None,
            env(&[(
                "PANELIST__BOTS__NETWORK__ALLOWED_HOSTS",
                "https://sfu.example.com/x",
            )]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("bots.network.allowed_hosts"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_nested_and_top_level_keys() {
        let s = load(
            None,
            env(&[
                ("PANELIST__SERVER__PORT", "9001"),
                ("PANELIST__DATA_DIR", "/tmp/x"),
                ("PANELIST__STORE__REDIS_URL", "redis://127.0.0.1:6379"),
                ("PANELIST__SYNC__ENABLED", "false"),
                ("UNRELATED", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9001);
        assert_eq!(s.data_dir, std::path::PathBuf::from("/tmp/x"));
        assert_eq!(s.store.redis_url, "redis://127.0.0.1:6379");
        assert!(!s.sync.enabled);
    }

    #[test]
    fn every_bad_key_is_reported_together() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "bogus = 1\n[server]\nport = \"eighty\"\n[greenhouse]\nper_page = 900"
        )
        .unwrap();
        let err = load(
            Some(f.path()),
            env(&[
                ("PANELIST__SERVER__PROT", "1"),
                ("PANELIST__SYNC__INTERVAL_SECS", "soon"),
                ("PANELIST__PUBLIC_URL", "not a url"),
            ]),
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        for needle in [
            "bogus",
            "server.port",
            "PANELIST__SERVER__PROT",
            "PANELIST__SYNC__INTERVAL_SECS",
            "public_url",
            "per_page",
        ] {
            assert!(all.contains(needle), "missing {needle} in:\n{all}");
        }
    }

    #[test]
    fn bad_enum_and_key_are_reported_without_echoing_secrets() {
        let err = load(
            None,
            env(&[
                ("PANELIST__GREENHOUSE__API_VERSION", "v2"),
                ("PANELIST__SECURITY__ENCRYPTION_KEY", "hunter2-not-base64"),
            ]),
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("api_version"), "{all}");
        assert!(!all.contains("hunter2"), "secret leaked: {all}");
    }

    #[test]
    fn transcription_defaults_and_bad_values_are_reported_together() {
        let s = load(None, env(&[])).unwrap();
        assert_eq!(s.transcription.model, crate::models::ModelName::TinyEn);
        assert_eq!(s.transcription.beam_size, 1);
        assert_eq!(s.transcription.threads_per_inference, 1);
        let err = load(
            None,
            env(&[
                ("PANELIST__TRANSCRIPTION__ENGINE", "cloud"),
                ("PANELIST__TRANSCRIPTION__MODEL", "large"),
                ("PANELIST__TRANSCRIPTION__BEAM_SIZE", "0"),
                ("PANELIST__TRANSCRIPTION__MAX_CHUNK_SECS", "45"),
                ("PANELIST__TRANSCRIPTION__HTTP__BASE_URL", "nope"),
                ("PANELIST__TRANSCRIPTION__HTTP__API_KEY", "sk-very-secret"),
            ]),
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        for needle in [
            "transcription.engine",
            "transcription.model",
            "beam_size",
            "max_chunk_secs",
            "http.base_url",
        ] {
            assert!(all.contains(needle), "missing {needle} in:\n{all}");
        }
        assert!(!all.contains("sk-very-secret"), "{all}");
        let err = load(None, env(&[("PANELIST__TRANSCRIPTION__LANGUAGE", "de")])).unwrap_err();
        assert!(err.problems.join("\n").contains("only understands English"));
        let ok = load(
            None,
            env(&[
                ("PANELIST__TRANSCRIPTION__LANGUAGE", "de"),
                ("PANELIST__TRANSCRIPTION__MODEL", "base"),
            ]),
        );
        assert!(ok.is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let s = load(
            None,
            env(&[("PANELIST__GREENHOUSE__CLIENT_SECRET", "s3cr3t-value")]),
        )
        .unwrap();
        assert!(!format!("{s:?}").contains("s3cr3t-value"));
    }
}
