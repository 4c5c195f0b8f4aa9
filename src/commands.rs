//! What each subcommand does, beyond `serve`.

mod admin;
mod demo;
mod join;
mod notes;
mod room;
mod speech;

pub use admin::admin;
pub use demo::{demo, DemoArgs};
pub use join::join;
pub use notes::notes_file;
pub use room::room;
pub use speech::{init_tool_logging, models_install, models_list, transcribe_file};

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Settings;
use crate::startup::Core;
use crate::store::SyncRunStatus;
use crate::sync::{SyncKind, SyncProgress, Syncer, RESOURCES};

/// `panelist sync`: one run with a progress bar; a failed run exits non-zero.
pub async fn sync(settings: Settings, full: bool) -> anyhow::Result<()> {
    let core = Core::build(settings).await?;
    let bar = ProgressBar::new(RESOURCES.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:20}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let report = {
        let bar = bar.clone();
        move |p: &SyncProgress| {
            bar.set_position(p.resources_done as u64);
            bar.set_message(format!("{}: {} fetched", p.resource, p.fetched));
        }
    };
    let kind = if full { SyncKind::Full } else { SyncKind::Auto };
    let run = core.syncer.run(Syncer::new_run_id(), kind, &report).await;
    bar.finish_and_clear();

    println!("sync {} ({}): {:?}", run.id, run.kind, run.status);
    for (resource, count) in &run.counts {
        println!("  {resource:<13} {count:>8}");
    }
    println!("  requests      {:>8}", run.requests);
    println!("  429s          {:>8}", run.rate_limited);
    if let Some(end) = run.finished_at {
        println!(
            "  took          {:>7.1}s",
            (end - run.started_at).num_milliseconds() as f64 / 1000.0
        );
    }
    for e in &run.errors {
        println!("  error: {e}");
    }
    match run.status {
        SyncRunStatus::Succeeded => Ok(()),
        _ => anyhow::bail!("sync did not complete: {} error(s)", run.errors.len()),
    }
}
