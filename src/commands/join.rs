//! `panelist join URL`: one bot, now, outside the schedule. It joins, transcribes each speaker with
//! the configured engine, leaves by the leave rules (or at Ctrl-C), and prints the transcript. With
//! `--interview`, the speakers are named after that interview's people and the note goes into the
//! outbox for `panelist serve` to post.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use anyhow::Context as _;
use chrono::Utc;
use tokio::sync::{mpsc, watch};

use crate::cli::JoinArgs;
use crate::config::Settings;
use crate::poster::{GreenhouseAccess, Poster};
use crate::startup::Core;
use crate::supervisor::bot::{
    BotActor, BotDeps, BotFinished, BotInCall, BotOutcome, BotSpec, NoticePlan,
};
use crate::supervisor::{leave_rules, BotRun};
use crate::transcribe::{self, CallEnded, TranscriberActor, TranscriptReady};

/// Collects what the bot and the transcriber report, for the command to wait on.
struct Reports {
    finished: mpsc::UnboundedSender<BotFinished>,
    ready: mpsc::UnboundedSender<TranscriptReady>,
}

impl Actor for Reports {
    type Context = Context<Self>;
}

impl Handler<BotFinished> for Reports {
    type Result = ();
    fn handle(&mut self, msg: BotFinished, _: &mut Context<Self>) {
        let _ = self.finished.send(msg);
    }
}

impl Handler<BotInCall> for Reports {
    type Result = ();
    fn handle(&mut self, msg: BotInCall, _: &mut Context<Self>) {
        eprintln!("joined the call (interview {})", msg.interview_id);
    }
}

impl Handler<TranscriptReady> for Reports {
    type Result = ();
    fn handle(&mut self, msg: TranscriptReady, _: &mut Context<Self>) {
        let _ = self.ready.send(msg);
    }
}

pub async fn join(mut settings: Settings, args: JoinArgs) -> anyhow::Result<()> {
    let url = url::Url::parse(&args.url).with_context(|| format!("{:?} is not a URL", args.url))?;
    if args.allow_loopback {
        // The operator asked for it on the command line, for a test room on this machine.
        settings.bots.network.allow_loopback = true;
    }
    let registry = Arc::new(crate::pipeline::connectors(&settings)?);
    registry
        .connector_for(&url)
        .map_err(|e| anyhow::anyhow!("{e}: no bot can join this URL"))?;
    registry.check_url(&url).map_err(|e| {
        anyhow::anyhow!("the meeting URL is not allowed ({e}); see bots.network, or pass --allow-loopback for a test room on this machine")
    })?;
    let core = Core::build(settings).await?;
    let settings = core.settings.clone();
    let engine = transcribe::build_engine(&settings)
        .await
        .context("transcription cannot run, so the bot would record nothing useful")?;
    // Ad-hoc calls get an id no Greenhouse interview has: negative, from the clock.
    let interview_id = args.interview.unwrap_or(-Utc::now().timestamp());
    let (expected, interview) = match args.interview {
        Some(id) => {
            let interview = core
                .store
                .get_raw(crate::domain::EntityKind::Interview, id)
                .await?
                .with_context(|| {
                    format!("interview {id} is not in the store: run `panelist sync` first")
                })?;
            let interview: crate::domain::Interview = serde_json::from_slice(&interview)?;
            let expected =
                crate::supervisor::actor::expected_people(&core.store, &interview).await?;
            (expected, Some(interview))
        }
        None => (Vec::new(), None),
    };
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let reports = Reports {
        finished: finished_tx,
        ready: ready_tx,
    }
    .start();
    let files = core.transcripts();
    let transcriber = TranscriberActor::new(engine, &settings.transcription, files.clone())
        .with_listener(reports.clone().recipient())
        .start();
    let mut rules = leave_rules(&settings.bots);
    rules.max_duration = Duration::from_secs(args.max_minutes * 60);
    let (_rules_tx, rules_rx) = watch::channel(rules);
    let deps = BotDeps {
        registry,
        store: core.store.clone(),
        audio: transcriber.clone().recipient(),
        speech: transcriber.clone().recipient(),
        rules: rules_rx,
        voice: settings.consent.spoken_notice.then(|| {
            Arc::new(crate::consent::NoticeVoice::new(
                &settings.consent.notice_voice,
            ))
        }),
        record_key: core.at_rest_key().map(|k| k.recording_key()),
    };
    // The notice text saved in Settings → Bots, as the supervisor's bots speak it.
    let notice = match crate::supervisor::BotPreferences::load(&core.store).await? {
        Some(p) => p.consent_notice,
        None => crate::supervisor::preferences::DEFAULT_NOTICE.to_owned(),
    };
    let spec = BotSpec {
        interview_id,
        url,
        scheduled_start: interview.as_ref().and_then(|i| i.starts_at()),
        scheduled_end: interview.as_ref().and_then(|i| i.ends_at()),
        expected,
        record_dir: settings.bots.record.then(|| {
            settings
                .data_dir
                .join("recordings")
                .join(interview_id.to_string())
        }),
        clock_offset: Duration::ZERO,
        join_timeout: Duration::from_secs(settings.bots.join_timeout_secs),
        notice: NoticePlan::for_text(&notice),
    };
    let owner = crate::supervisor::replica_id(&settings.bots.replica_id);
    let run = BotRun::new(interview_id, &owner, Utc::now());
    let bot = BotActor::new(
        spec,
        deps,
        run,
        1,
        reports.clone().recipient(),
        reports.clone().recipient(),
    )
    .start();
    eprintln!(
        "joining {} as interview {interview_id}; Ctrl-C leaves",
        args.url
    );
    let finished = tokio::select! {
        f = finished_rx.recv() => f,
        _ = crate::shutdown::signal() => {
            eprintln!("leaving the call");
            bot.do_send(crate::supervisor::bot::StopBot);
            finished_rx.recv().await
        }
    }
    .context("the bot stopped without reporting")?;
    let mut run = finished.run;
    match &finished.outcome {
        BotOutcome::Left(why) => {
            run.transition(
                crate::supervisor::BotState::Done,
                Some(why.to_string()),
                Utc::now(),
            );
            eprintln!("left the call: {why}");
        }
        BotOutcome::Stopped => anyhow::bail!("stopped before joining"),
        BotOutcome::UrlNotAllowed(why) => anyhow::bail!(
            "the meeting URL is not allowed ({why}); see bots.network, or pass --allow-loopback for a test room on this machine"
        ),
        BotOutcome::Failed { error, .. } if !finished.heard => anyhow::bail!("{error}"),
        BotOutcome::Failed { error, .. } => eprintln!("the call broke off: {error}"),
    }
    core.store.put_bot_run(&run).await?;
    transcriber
        .send(CallEnded {
            interview_id: interview_id.to_string(),
        })
        .await?;
    let ready = ready_rx
        .recv()
        .await
        .context("the transcriber stopped without finishing")?;
    let segments = files.load(&interview_id.to_string())?;
    print!("{}", transcribe::transcript::render(&segments, args.format));
    eprintln!(
        "transcript: {} ({} segments, {} chunks failed)",
        ready.path.display(),
        ready.segments,
        ready.failed_chunks
    );
    if let Some(id) = args.interview {
        write_note(&core, id, interview_id).await?;
    }
    Ok(())
}

/// Writes the note for a real interview and queues it for `panelist serve` to post.
async fn write_note(core: &Core, id: i64, key: i64) -> anyhow::Result<()> {
    let settings = &core.settings;
    let Some((candidate_id, meta)) =
        crate::notes::meta_from_store(&core.store, id, &settings.public_url).await?
    else {
        eprintln!("no candidate for interview {id}: transcript only, no note");
        return Ok(());
    };
    let engine = crate::notes::build_engine(settings)?;
    let segments = core.transcripts().load(&key.to_string())?;
    let turns = crate::notes::transcript::from_segments(&segments);
    let (text, _) = crate::notes::summarize_turns(
        engine,
        crate::notes::PipelineOptions::from_settings(&settings.notes),
        &meta,
        turns,
    )
    .await?;
    let poster = Poster::new(
        core.store.clone(),
        GreenhouseAccess::Integration(core.integration.clone()),
        &settings.poster,
    );
    let queued = poster
        .enqueue(
            id,
            candidate_id,
            text.clone(),
            settings.poster.visibility,
            Utc::now(),
        )
        .await?;
    println!("\n{text}");
    if queued {
        eprintln!("note queued in the outbox; `panelist serve` posts it to Greenhouse");
    } else {
        eprintln!("interview {id} already has a note in the outbox; this one was not queued");
    }
    Ok(())
}
