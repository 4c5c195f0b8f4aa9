//! The `panelist` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
}
