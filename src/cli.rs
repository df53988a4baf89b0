//! The command line: `serve`, and admin commands that call the same operations as the
//! console and the REST API.

mod backup;

use std::io::Read as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;

use crate::admin::AdminError;
use crate::admin::accounts::{CreateAccount, IssuedCredentials};
use crate::app::App;
use crate::config::Config;
use crate::domain::audit::Actor;
use crate::domain::format_ms;
use crate::store::accounts::ListFilter;

/// keygate: service accounts and the OAuth 2.0 server they get their tokens from.
#[derive(Parser, Debug)]
#[command(name = "keygate", version, about)]
pub struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web console and the OAuth 2.0 server.
    Serve,
    /// Manage service accounts.
    #[command(subcommand, name = "service-accounts")]
    ServiceAccounts(AccountCommand),
    /// List roles.
    #[command(subcommand)]
    Roles(RoleCommand),
    /// Manage console users (human administrators).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Copy a live SQLite database (and its key file) to FILE; PostgreSQL: use pg_dump.
    Backup {
        /// The new file to write.
        #[arg(long)]
        to: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AccountCommand {
    /// Create a service account and print its credentials (the secret is shown only now).
    Create {
        /// Name (unique, at most 100 characters).
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Role to assign, by name; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Access-token lifetime in seconds (60 to 86400).
        #[arg(long)]
        token_lifetime: Option<i64>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// List service accounts.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Disable an account: it gets no tokens and every token it holds dies at once.
    Disable {
        /// Account id, name or client ID.
        account: String,
    },
    /// Enable an account again (tokens from before the disable stay dead).
    Enable {
        /// Account id, name or client ID.
        account: String,
    },
    /// New client ID and secret, printed once; the old pair stops working.
    Regenerate {
        /// Account id, name or client ID.
        account: String,
        /// Keep the old pair (and its tokens) working this many seconds (at most 86400).
        #[arg(long, default_value_t = 0)]
        grace_period: i64,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Delete an account, its credentials and its tokens, for good.
    Delete {
        /// Account id, name or client ID.
        account: String,
    },
}

#[derive(Subcommand, Debug)]
enum RoleCommand {
    /// List roles and their permissions.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Create a custom role.
    Create {
        /// Name (unique).
        #[arg(long)]
        name: String,
        /// Description.
        #[arg(long, default_value = "")]
        description: String,
        /// Permission (`area:verb`); repeat for several.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create a console user; the password is read from standard input.
    Create {
        /// Username.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Role to give, by name (default: Administrator); repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

/// Runs the command line; errors are printed and give exit status 1.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn admin_message(e: AdminError) -> String {
    match e {
        AdminError::Store(s) => format!("database: {s}"),
        other => other.to_string(),
    }
}

async fn dispatch(cli: Cli) -> Result<(), String> {
    if let Command::Backup { to } = &cli.command {
        println!("{}", backup::run(&cli.config, to).await?);
        return Ok(());
    }
    let app = match cli.command {
        Command::Serve => App::build(cli.config).await,
        _ => App::build_for_command(cli.config).await,
    }
    .map_err(|e| e.to_string())?;
    let actor = Actor::system();
    match cli.command {
        Command::Serve => serve(app).await,
        // Handled before the application is built: it needs no keys, only the file.
        Command::Backup { .. } => Ok(()),
        Command::ServiceAccounts(AccountCommand::Create {
            name,
            description,
            roles,
            token_lifetime,
            output,
        }) => {
            let role_ids = app
                .admin
                .role_ids_by_names(&roles)
                .await
                .map_err(admin_message)?;
            let creds = app
                .admin
                .create_account(
                    &actor,
                    CreateAccount {
                        name,
                        description,
                        role_ids,
                        token_lifetime_secs: token_lifetime,
                    },
                )
                .await
                .map_err(admin_message)?;
            print_credentials(&creds, output, "Created service account")
        }
        Command::ServiceAccounts(AccountCommand::List { output }) => {
            let mut all = Vec::new();
            let mut filter = ListFilter {
                limit: 500,
                ..ListFilter::default()
            };
            loop {
                let page = app
                    .admin
                    .list_accounts(&actor, &filter)
                    .await
                    .map_err(admin_message)?;
                let done = page.len() < 500;
                filter.after = page
                    .last()
                    .map(|s| (s.account.name.to_lowercase(), s.account.id.clone()));
                all.extend(page);
                if done {
                    break;
                }
            }
            if output == Output::Json {
                let list: Vec<_> = all
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "id": s.account.id, "name": s.account.name,
                            "description": s.account.description,
                            "client_id": s.account.client_id, "enabled": s.account.enabled,
                            "roles": s.roles.iter().map(|r| &r.name).collect::<Vec<_>>(),
                            "created_at": format_ms(s.account.created_at),
                            "last_used_at": s.account.last_used_at.map(format_ms),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::from(list));
            } else if all.is_empty() {
                println!(
                    "No service accounts yet. Create one with: keygate service-accounts create --name NAME"
                );
            } else {
                println!(
                    "{:<36}  {:<30}  {:<26}  {:<8}  ROLES",
                    "ID", "NAME", "CLIENT ID", "STATUS"
                );
                for s in &all {
                    println!(
                        "{:<36}  {:<30}  {:<26}  {:<8}  {}",
                        s.account.id,
                        s.account.name,
                        s.account.client_id,
                        if s.account.enabled {
                            "enabled"
                        } else {
                            "disabled"
                        },
                        s.roles
                            .iter()
                            .map(|r| r.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::ServiceAccounts(AccountCommand::Disable { account }) => {
            let id = find_account(&app, &actor, &account).await?;
            let a = app
                .admin
                .set_enabled(&actor, &id, false)
                .await
                .map_err(admin_message)?;
            println!(
                "Disabled {} ({}); its tokens no longer work.",
                a.account.name, a.account.id
            );
            Ok(())
        }
        Command::ServiceAccounts(AccountCommand::Enable { account }) => {
            let id = find_account(&app, &actor, &account).await?;
            let a = app
                .admin
                .set_enabled(&actor, &id, true)
                .await
                .map_err(admin_message)?;
            println!("Enabled {} ({}).", a.account.name, a.account.id);
            Ok(())
        }
        Command::ServiceAccounts(AccountCommand::Regenerate {
            account,
            grace_period,
            output,
        }) => {
            let id = find_account(&app, &actor, &account).await?;
            let creds = app
                .admin
                .regenerate_credentials(&actor, &id, grace_period)
                .await
                .map_err(admin_message)?;
            print_credentials(&creds, output, "New credentials for")?;
            if grace_period > 0 && output == Output::Text {
                println!(
                    "The previous client ID and secret keep working for {grace_period} seconds."
                );
            }
            Ok(())
        }
        Command::ServiceAccounts(AccountCommand::Delete { account }) => {
            let id = find_account(&app, &actor, &account).await?;
            app.admin
                .delete_account(&actor, &id)
                .await
                .map_err(admin_message)?;
            println!("Deleted service account {id}.");
            Ok(())
        }
        Command::Roles(RoleCommand::Create {
            name,
            description,
            permissions,
        }) => {
            let role = app
                .admin
                .create_role(
                    &actor,
                    crate::admin::roles::RoleInput {
                        name,
                        description,
                        permissions,
                    },
                )
                .await
                .map_err(admin_message)?;
            println!(
                "Created role {} ({}): {}",
                role.name,
                role.id,
                role.permissions.join(", ")
            );
            Ok(())
        }
        Command::Roles(RoleCommand::List { output }) => {
            let roles = app.admin.list_roles(&actor).await.map_err(admin_message)?;
            if output == Output::Json {
                let list: Vec<_> = roles
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "name": r.name, "description": r.description,
                            "builtin": r.builtin, "permissions": r.permissions,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::from(list));
            } else {
                for r in &roles {
                    println!(
                        "{}{}: {}",
                        r.name,
                        if r.builtin { " (built-in)" } else { "" },
                        r.permissions.join(", ")
                    );
                }
            }
            Ok(())
        }
        Command::Admin(AdminCommand::Create {
            username,
            password_stdin: _,
            roles,
        }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
            let password = password.trim_end_matches(['\n', '\r']).to_owned();
            let roles = if roles.is_empty() {
                vec!["Administrator".to_owned()]
            } else {
                roles
            };
            let role_ids = app
                .admin
                .role_ids_by_names(&roles)
                .await
                .map_err(admin_message)?;
            let user = app
                .admin
                .create_user(&actor, &username, password, &role_ids)
                .await
                .map_err(admin_message)?;
            println!(
                "Created console user {} with role{} {}. Sign in at {}",
                user.username,
                if roles.len() == 1 { "" } else { "s" },
                roles.join(", "),
                crate::config::join_url(&app.config.issuer(), "login")
            );
            Ok(())
        }
    }
}

/// Prints credentials once: one JSON object, or labelled lines.
fn print_credentials(creds: &IssuedCredentials, output: Output, what: &str) -> Result<(), String> {
    match output {
        Output::Json => println!(
            "{}",
            serde_json::to_string(creds).map_err(|e| e.to_string())?
        ),
        Output::Text => {
            println!("{what} {} ({})", creds.name, creds.id);
            println!("client_id:        {}", creds.client_id);
            println!("client_secret:    {}", creds.client_secret.expose());
            println!("access_token_uri: {}", creds.access_token_uri);
            println!("The client secret is shown only now; store it safely.");
        }
    }
    Ok(())
}

/// The id of the account with id, name or client ID `wanted`.
async fn find_account(
    app: &crate::app::AppState,
    actor: &Actor,
    wanted: &str,
) -> Result<String, String> {
    app.admin
        .find_account(actor, wanted)
        .await
        .map(|a| a.account.id)
        .map_err(admin_message)
}

async fn serve(app: crate::app::AppState) -> Result<(), String> {
    let listener = TcpListener::bind(app.config.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", app.config.bind))?;
    let background = tokio::spawn(app.oauth.clone().run_background());
    let ops_tasks = crate::web::metrics::spawn_tasks(&app).await?;
    tracing::info!(
        "keygate listening on {} — console {}, token endpoint {}",
        app.config.bind,
        crate::config::join_url(&app.config.issuer(), "login"),
        app.config.token_url()
    );
    if matches!(app.admin.has_console_users().await, Ok(false)) {
        tracing::info!(
            "no console user yet: create the first with \
             `keygate admin create --username admin --password-stdin`"
        );
    }
    let router = crate::web::router(app.clone());
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(|e| format!("server error: {e}"))?;
    background.abort();
    ops_tasks.iter().for_each(tokio::task::JoinHandle::abort);
    if let Err(e) = app.oauth.flush_usage().await {
        tracing::warn!(error = %e, "cannot record last-used times at shutdown");
    }
    app.store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
