//! Building and running the whole service, so `main` and tests start it the same way
//! (tests bind port 0 and read the real port back).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::{dev::ServerHandle, web, App, HttpServer};
use anyhow::Context as _;

use crate::config::Settings;
use crate::http::{AdminToken, AppState};
use crate::settings::{DataKey, IntegrationService};
use crate::store::{self, DynStore};
use crate::sync::{SyncActor, Syncer};
use crate::webhooks::{WebhookActor, WebhookState};

/// The parts every entry point needs: store, sealed settings, and the syncer.
pub struct Core {
    pub settings: Arc<Settings>,
    pub store: DynStore,
    pub integration: IntegrationService,
    pub syncer: Arc<Syncer>,
    /// Seals secrets, and recordings and transcripts when `privacy.encrypt_at_rest` is on.
    pub key: DataKey,
}

impl Core {
    /// The key recordings and transcripts are sealed with; `None` when `privacy.encrypt_at_rest`
    /// is off.
    pub fn at_rest_key(&self) -> Option<DataKey> {
        self.settings
            .privacy
            .encrypt_at_rest
            .then(|| self.key.clone())
    }

    /// The transcript files: written sealed when configured, and sealed ones always readable.
    pub fn transcripts(&self) -> crate::transcribe::TranscriptFiles {
        let files = crate::transcribe::TranscriptFiles::new(&self.settings.data_dir);
        match self.at_rest_key() {
            Some(key) => files.with_key(Some(key)),
            None => files.reading_with(self.key.clone()),
        }
    }

    pub async fn build(settings: Settings) -> anyhow::Result<Core> {
        let settings = Arc::new(settings);
        crate::transcribe::warn_if_unavailable(&settings);
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create data_dir {}", settings.data_dir.display()))?;
        let store = store::open(&settings.store, &settings.data_dir)
            .await
            .context("cannot open the store")?;
        let key = DataKey::load_with_previous(
            &settings.security.encryption_key,
            &settings.security.previous_encryption_keys,
            &settings.data_dir,
        )?;
        let integration = IntegrationService::new(store.clone(), key.clone(), settings.clone());
        let consent_hook = crate::consent::GreenhouseConsentHook::new(
            store.clone(),
            settings.consent.greenhouse.clone(),
            crate::privacy::Purger::new(store.clone(), settings.data_dir.clone()),
        );
        let syncer = Arc::new(
            Syncer::new(store.clone(), integration.clone(), settings.sync.clone())
                .with_candidate_hook(Arc::new(consent_hook)),
        );
        Ok(Core {
            settings,
            store,
            integration,
            syncer,
            key,
        })
    }
}

pub struct Application {
    port: u16,
    pipeline: crate::pipeline::Pipeline,
    server: actix_web::dev::Server,
    grace: Duration,
    /// Kept so tests can reach the same store and services the server uses.
    state: AppState,
}

/// What webhooks change: refreshes go to the syncer, purges to the privacy purger (it needs the
/// data directory, where transcripts and recordings live).
struct WebhookApplier {
    syncer: Arc<crate::sync::Syncer>,
    purger: crate::privacy::Purger,
}

#[async_trait::async_trait]
impl crate::webhooks::Refresher for WebhookApplier {
    async fn refresh_application(&self, id: crate::domain::Id) -> Result<String, String> {
        crate::webhooks::Refresher::refresh_application(self.syncer.as_ref(), id).await
    }

    async fn refresh_candidate(&self, id: crate::domain::Id) -> Result<String, String> {
        crate::webhooks::Refresher::refresh_candidate(self.syncer.as_ref(), id).await
    }

    async fn candidates_seen(&self, candidates: &[crate::domain::Candidate]) {
        self.syncer.candidates_seen(candidates).await;
    }

    async fn purge_candidate(
        &self,
        candidate_id: crate::domain::Id,
        applications: &[crate::domain::Id],
        reason: &str,
    ) -> Result<String, String> {
        let r = self
            .purger
            .purge_candidate(candidate_id, applications, reason)
            .await
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "purged a candidate: {} interviews, {} transcripts, {} recordings, {} notes",
            r.interviews, r.transcripts, r.recordings, r.notes
        ))
    }
}

/// While nobody can sign in, print a one-time link that creates the first admin. It goes to
/// stderr, not the log stream: it is a credential until used, and log shippers keep what they see.
async fn announce_setup_link(state: &AppState) {
    match state.users.any().await {
        Ok(true) => {}
        Ok(false) => match state.setup.issue().await {
            Ok(token) => {
                let url = format!(
                    "{}/setup/{token}",
                    state.settings.public_url.trim_end_matches('/')
                );
                eprintln!("\n  No dashboard user yet. Create the first admin (link valid once, for 24 h):\n    {url}\n  or run: panelist admin create --email you@example.com\n");
                tracing::info!("no dashboard user yet: printed a one-time setup link to stderr");
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot create a setup link; use `panelist admin create`")
            }
        },
        Err(e) => tracing::warn!(error = %e, "cannot read the dashboard users"),
    }
}

impl Application {
    /// Builds every actor and binds the listener. Must run inside an actix system.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let core = Core::build(settings).await?;
        let settings = core.settings.clone();
        let interval = settings
            .sync
            .enabled
            .then(|| Duration::from_secs(settings.sync.interval_secs));
        let sync = SyncActor::new(core.syncer.clone(), interval).start();
        let applier = Arc::new(WebhookApplier {
            syncer: core.syncer.clone(),
            purger: crate::privacy::Purger::new(core.store.clone(), settings.data_dir.clone()),
        });
        let webhook_actor = WebhookActor::new(
            core.store.clone(),
            applier,
            settings.webhooks.max_apply_attempts,
        )
        .with_rescan(Duration::from_secs(settings.webhooks.rescan_secs))
        .start();
        let webhook_state = web::Data::new(WebhookState {
            store: core.store.clone(),
            secret: Arc::new(core.integration.clone()),
            actor: webhook_actor,
            deferred: Default::default(),
            settings: settings.webhooks.clone(),
        });
        crate::privacy::RetentionActor::new(
            core.store.clone(),
            settings.data_dir.clone(),
            settings.privacy.clone(),
        )
        .start();
        let registry = Arc::new(crate::pipeline::connectors(&settings)?);
        let pipeline = crate::pipeline::start(&core, registry.clone()).await;
        let admin_token =
            AdminToken::load_or_create(&settings.server.admin_token, &settings.data_dir)
                .context("cannot create the admin token file")?;
        let state = AppState {
            store: core.store.clone(),
            integration: core.integration.clone(),
            sync,
            admin_token,
            supervisor: pipeline.supervisor.clone(),
            transcriber: pipeline.transcriber.clone(),
            poster: pipeline.poster.clone(),
            transcripts: core.transcripts(),
            recording_keys: core.key.recording_keys(),
            data_key: core.key.clone(),
            settings: settings.clone(),
            users: crate::auth::Users::new(core.store.clone()),
            sessions: crate::auth::Sessions::new(
                core.store.clone(),
                Duration::from_secs(settings.dashboard.session_hours * 3600),
            ),
            throttle: crate::auth::LoginThrottle::new(
                core.store.clone(),
                settings.dashboard.login_attempts_per_minute,
            ),
            setup: crate::auth::SetupLink::new(core.store.clone()),
            registry,
            bots_off: pipeline.bots_off.clone(),
            notes_off: pipeline.notes_off.clone(),
            limits: crate::http::limits::RequestLimits::new(settings.server.limits.clone()),
        };
        announce_setup_link(&state).await;

        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))
            .with_context(|| {
                format!(
                    "cannot listen on {}:{}",
                    settings.server.host, settings.server.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let grace = Duration::from_secs(settings.server.shutdown_grace_secs);
        let app_state = web::Data::new(state.clone());
        let limits = web::Data::new(state.limits.clone());
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(
                    crate::http::limits::headers_within,
                ))
                .app_data(app_state.clone())
                .app_data(webhook_state.clone())
                .app_data(limits.clone())
                .configure(|cfg| limits.extractor_configs(cfg))
                .configure(crate::http::configure)
                .configure(crate::webhooks::configure)
                .configure(crate::dashboard::configure)
        })
        .client_request_timeout(Duration::from_millis(
            settings.server.request_head_timeout_ms,
        ))
        .max_connections(settings.server.max_connections)
        .listen(listener)?
        // Signals are handled in `run_until_stopped`, so every part drains under one grace period.
        .disable_signals()
        .shutdown_timeout(grace.as_secs())
        .run();
        tracing::info!(port, store = core.store.backend(), webhook_endpoint = %settings.webhook_endpoint(), "Panelist is serving");
        Ok(Application {
            port,
            pipeline,
            server,
            grace,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The bots, transcriber, summarizer and poster this process runs.
    pub fn pipeline(&self) -> &crate::pipeline::Pipeline {
        &self.pipeline
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then stops accepting, drains in-flight requests, and exits
    /// after at most the grace period.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let grace = self.grace;
        let supervisor = self.pipeline.supervisor.clone();
        let mut server = std::pin::pin!(self.server);
        tokio::select! {
            result = &mut server => return result,
            _ = crate::shutdown::signal() => {
                tracing::info!(grace_secs = grace.as_secs(), "shutting down: draining in-flight work");
            }
        }
        if let Some(supervisor) = supervisor {
            // Bots leave first, so their transcripts are flushed while the server still answers.
            match supervisor.send(crate::supervisor::Drain { grace }).await {
                Ok(true) => tracing::info!("every bot left its call"),
                Ok(false) => tracing::warn!("bots still in calls after the grace period; their leases expire and another replica (or the next start) resumes them"),
                Err(e) => tracing::warn!(error = %e, "the supervisor is gone"),
            }
        }
        let stop = handle.stop(true);
        if tokio::time::timeout(grace + Duration::from_secs(1), stop)
            .await
            .is_err()
        {
            tracing::warn!("grace period over; exiting with work still in flight");
        }
        Ok(())
    }
}
