//! `panelist admin`: dashboard users from the command line, for the first admin and for recovery.

use std::io::BufRead;

use anyhow::Context;
use secrecy::SecretString;

use crate::auth::{Role, Sessions, Users};
use crate::cli::AdminCommand;
use crate::config::Settings;
use crate::startup::Core;

pub async fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let core = Core::build(settings).await.context(
        "cannot open the store (with the embedded store, stop `panelist serve` first: one process at a time)",
    )?;
    let users = Users::new(core.store.clone());
    match command {
        AdminCommand::Create {
            email,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).context("--role must be admin or viewer")?;
            let (password, generated) = password(password_stdin)?;
            let user = users.create(&email, password.clone(), role).await?;
            println!("Created {} ({}).", user.email, user.role.as_str());
            if generated {
                use secrecy::ExposeSecret;
                println!("Password (shown once): {}", password.expose_secret());
            }
            let setup = crate::auth::SetupLink::new(core.store.clone());
            setup.consume().await?;
        }
        AdminCommand::SetPassword {
            email,
            password_stdin,
        } => {
            let (password, generated) = password(password_stdin)?;
            users.set_password(&email, password.clone()).await?;
            let ended = Sessions::new(core.store.clone(), std::time::Duration::from_secs(1))
                .end_all_for(&email.trim().to_ascii_lowercase())
                .await?;
            println!("Password changed; {ended} sessions signed out.");
            if generated {
                use secrecy::ExposeSecret;
                println!("Password (shown once): {}", password.expose_secret());
            }
        }
        AdminCommand::List => {
            for u in users.list().await? {
                println!(
                    "{}\t{}\t{}",
                    u.email,
                    u.role.as_str(),
                    u.created_at.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}

/// From stdin, the environment, or a fresh random one (true when generated).
fn password(from_stdin: bool) -> anyhow::Result<(SecretString, bool)> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        return Ok((
            SecretString::from(line.trim_end_matches(['\r', '\n']).to_string()),
            false,
        ));
    }
    if let Ok(p) = std::env::var("PANELIST_ADMIN_PASSWORD") {
        return Ok((SecretString::from(p), false));
    }
    Ok((SecretString::from(crate::auth::random_token()), true))
}
