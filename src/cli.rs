//! The command line: `serve`, and admin commands that call the same operations as the
//! console and the REST API.

mod backup;
mod policies;

use std::io::Read as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;

use crate::admin::AdminError;
use crate::admin::accounts::{CreateAccount, IssuedCredentials};
use crate::admin::keys::KeySource;
use crate::app::App;
use crate::config::Config;
use crate::domain::account::ListFilter;
use crate::domain::audit::Actor;
use crate::domain::format_ms;

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
    /// The token-signing keys (published in the JWKS).
    #[command(subcommand)]
    Keys(SigningKeyCommand),
    /// The account policies (role limit, lifetimes, unused accounts, client secrets).
    #[command(subcommand)]
    Policies(policies::PolicyCommand),
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
        /// The API the account is bound to (its product), by id or name.
        #[arg(long)]
        api: Option<String>,
        /// Access-token lifetime in seconds (60 to 86400).
        #[arg(long)]
        token_lifetime: Option<i64>,
        /// How the account authenticates: a client secret (default), or assertions signed
        /// with its key (RFC 7523 private_key_jwt; give --public-key or --generate-key).
        #[arg(long, value_enum, default_value_t = Auth::ClientSecret)]
        auth: Auth,
        #[command(flatten)]
        key: KeyArgs,
        /// Output format (json: the REST API's 201 object, key file included).
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Manage the public keys of a private-key-jwt account.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// List service accounts.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Disable an account: it gets no tokens and every token it holds dies at once.
    Disable {
        /// Account id, client ID or name (tried in that order).
        account: String,
    },
    /// Enable an account again (tokens from before the disable stay dead).
    Enable {
        /// Account id, client ID or name (tried in that order).
        account: String,
    },
    /// New client ID and secret, printed once; the old pair stops working.
    Regenerate {
        /// Account id, client ID or name (tried in that order).
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
        /// Account id, client ID or name (tried in that order).
        account: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Auth {
    /// A client secret (HTTP Basic, form fields or JSON body).
    ClientSecret,
    /// Assertions signed with one of the account's keys.
    PrivateKeyJwt,
}

/// Where a new key comes from.
#[derive(clap::Args, Debug)]
struct KeyArgs {
    /// A PEM public key (SubjectPublicKeyInfo) file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["jwks", "generate_key"])]
    public_key: Option<std::path::PathBuf>,
    /// A JWK Set file.
    #[arg(long, value_name = "FILE", conflicts_with = "generate_key")]
    jwks: Option<std::path::PathBuf>,
    /// Make a P-256 key pair and print its key file (the private key) once.
    #[arg(long)]
    generate_key: bool,
    /// When the key stops working (RFC 3339).
    #[arg(long, value_name = "TIME")]
    key_expires_at: Option<String>,
}

impl KeyArgs {
    /// The key source and expiry, read from the files named.
    fn source(&self) -> Result<(KeySource, Option<i64>), String> {
        let read = |p: &std::path::Path| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let source = match (&self.public_key, &self.jwks, self.generate_key) {
            (Some(p), _, _) => KeySource::PublicKey(read(p)?),
            (None, Some(j), _) => KeySource::Jwks(
                serde_json::from_str(&read(j)?)
                    .map_err(|e| format!("{} is not JSON: {e}", j.display()))?,
            ),
            (None, None, true) => KeySource::Generate,
            (None, None, false) => {
                return Err("give --public-key FILE, --jwks FILE or --generate-key".into());
            }
        };
        let expires = self
            .key_expires_at
            .as_deref()
            .map(|t| {
                crate::domain::parse_rfc3339(t)
                    .ok_or_else(|| format!("--key-expires-at {t:?} is not an RFC 3339 time"))
            })
            .transpose()?;
        Ok((source, expires))
    }
}

#[derive(Subcommand, Debug)]
enum KeyCommand {
    /// List an account's keys.
    List {
        /// Account id, client ID or name.
        account: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Add a key (live at once; the old ones stay until deleted).
    Add {
        /// Account id, client ID or name.
        account: String,
        #[command(flatten)]
        key: KeyArgs,
    },
    /// Delete a key (not the account's last one).
    Delete {
        /// Account id, client ID or name.
        account: String,
        /// The key's kid.
        kid: String,
    },
}

#[derive(Subcommand, Debug)]
enum SigningKeyCommand {
    /// List the published signing keys: the one that signs, and those retiring.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Make a new signing key that signs every new token at once, on every instance; the
    /// old one stays in the JWKS until no token it signed can still be alive.
    Rotate {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
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
        /// Permission (`area:verb`), defined by the API; repeat for several.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// The API the role belongs to, by id or name (`keygate` for keygate's own).
        #[arg(long)]
        api: String,
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
    /// Give a console user one more role (recovers a console nobody can manage any more,
    /// e.g. after restoring an old backup).
    Grant {
        /// Username.
        #[arg(long)]
        username: String,
        /// Role to give, by id or name.
        #[arg(long)]
        role: String,
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
        Command::Keys(command) => signing_keys_command(&app, &actor, command).await,
        Command::Policies(command) => policies::run(&app, &actor, command).await,
        Command::ServiceAccounts(AccountCommand::Create {
            name,
            description,
            roles,
            api,
            token_lifetime,
            auth,
            key,
            output,
        }) => {
            let (keys, keys_expire_at) = match auth {
                Auth::ClientSecret => (None, None),
                Auth::PrivateKeyJwt => {
                    let (s, e) = key.source()?;
                    (Some(s), e)
                }
            };
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
                        product: api,
                        token_lifetime_secs: token_lifetime,
                        keys,
                        keys_expire_at,
                        groups: Vec::new(),
                    },
                )
                .await
                .map_err(admin_message)?;
            print_credentials(&creds, output, "Created service account")
        }
        Command::ServiceAccounts(AccountCommand::Keys(command)) => {
            keys_command(&app, &actor, command).await
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
            api,
        }) => {
            let role = app
                .admin
                .create_role(
                    &actor,
                    crate::admin::roles::RoleInput {
                        name,
                        description,
                        permissions,
                        api: Some(api),
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
        Command::Admin(AdminCommand::Grant { username, role }) => {
            grant_role(&app, &actor, &username, &role).await
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

/// `keygate admin grant`.
async fn grant_role(
    app: &crate::app::AppState,
    actor: &Actor,
    username: &str,
    role: &str,
) -> Result<(), String> {
    let (user, role) = app
        .admin
        .grant_user_role(actor, username, role)
        .await
        .map_err(admin_message)?;
    println!(
        "Console user {} now holds the role {}.",
        user.username, role.name
    );
    Ok(())
}

/// Prints credentials once: one JSON object, or labelled lines.
fn print_credentials(creds: &IssuedCredentials, output: Output, what: &str) -> Result<(), String> {
    match output {
        // A secret account prints the same five fields as always; a key account the REST
        // API's 201 object (its keys and key file have no place among those five).
        Output::Json if creds.client_secret.is_some() => println!(
            "{}",
            serde_json::json!({
                "id": creds.id,
                "name": creds.name,
                "client_id": creds.client_id,
                "client_secret": creds.secret(),
                "access_token_uri": creds.access_token_uri,
            })
        ),
        Output::Json => println!("{}", creds.response_json()),
        Output::Text => {
            println!("{what} {} ({})", creds.name, creds.id);
            println!("client_id:        {}", creds.client_id);
            if creds.client_secret.is_some() {
                println!("client_secret:    {}", creds.secret());
            }
            for k in &creds.keys {
                println!("key:              {} ({})", k.kid, k.algs);
            }
            println!("access_token_uri: {}", creds.access_token_uri);
            if let Some(file) = &creds.key_file {
                println!("key file (the private key, shown only now; save it as JSON):");
                println!("{}", file.to_json());
            } else if creds.client_secret.is_some() {
                println!("The client secret is shown only now; store it safely.");
            }
        }
    }
    Ok(())
}

/// `keygate service-accounts keys …`.
async fn keys_command(
    app: &crate::app::AppState,
    actor: &Actor,
    command: KeyCommand,
) -> Result<(), String> {
    match command {
        KeyCommand::List { account, output } => {
            let id = find_account(app, actor, &account).await?;
            let keys = app
                .admin
                .list_keys(actor, &id)
                .await
                .map_err(admin_message)?;
            if output == Output::Json {
                let items: Vec<_> = keys.iter().map(crate::admin::keys::key_json).collect();
                println!("{}", serde_json::json!({ "items": items }));
            } else {
                for k in &keys {
                    println!(
                        "{}  {}  created {}  expires {}  last used {}",
                        k.kid,
                        k.algs,
                        format_ms(k.created_at),
                        k.expires_at.map_or_else(|| "never".into(), format_ms),
                        k.last_used_at.map_or_else(|| "never".into(), format_ms),
                    );
                }
            }
            Ok(())
        }
        KeyCommand::Add { account, key } => {
            let id = find_account(app, actor, &account).await?;
            let (source, expires) = key.source()?;
            let added = app
                .admin
                .add_keys(actor, &id, source, expires)
                .await
                .map_err(admin_message)?;
            for k in &added.keys {
                println!("Added key {} ({}).", k.kid, k.algs);
            }
            if let Some(file) = &added.key_file {
                println!("{}", file.to_json());
            }
            Ok(())
        }
        KeyCommand::Delete { account, kid } => {
            let id = find_account(app, actor, &account).await?;
            app.admin
                .delete_key(actor, &id, &kid)
                .await
                .map_err(admin_message)?;
            println!("Deleted key {kid}.");
            Ok(())
        }
    }
}

/// `keygate keys …`: the token-signing keys.
async fn signing_keys_command(
    app: &crate::app::AppState,
    actor: &Actor,
    command: SigningKeyCommand,
) -> Result<(), String> {
    match command {
        SigningKeyCommand::List { output } => {
            let keys = app.admin.signing_keys(actor).map_err(admin_message)?;
            if output == Output::Json {
                let items: Vec<_> = keys
                    .iter()
                    .map(crate::admin::signing_keys::signing_key_json)
                    .collect();
                println!("{}", serde_json::json!({ "items": items }));
            } else {
                for k in &keys {
                    println!(
                        "{}  created {}  {}",
                        k.kid,
                        format_ms(k.created_at),
                        k.retires_at.map_or_else(
                            || "signs new tokens".to_owned(),
                            |t| format!("retires {}", format_ms(t))
                        ),
                    );
                }
            }
            Ok(())
        }
        SigningKeyCommand::Rotate { output } => {
            let r = app
                .admin
                .rotate_signing_key(actor)
                .await
                .map_err(admin_message)?;
            if output == Output::Json {
                println!(
                    "{}",
                    serde_json::json!({
                        "kid": r.kid,
                        "retired": r.retired,
                        "retires_at": format_ms(r.retires_at),
                    })
                );
            } else {
                println!(
                    "New signing key {}: it signs every new token from now on.",
                    r.kid
                );
                for old in &r.retired {
                    println!(
                        "Key {old} stays in the JWKS until {}, when no token it signed is alive.",
                        format_ms(r.retires_at)
                    );
                }
            }
            Ok(())
        }
    }
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
    let policy_jobs = tokio::spawn(app.admin.clone().run_policy_jobs());
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
    let (listener, drain) = crate::web::shutdown::Drain::listen(listener)
        .map_err(|e| format!("cannot listen on {}: {e}", app.config.bind))?;
    let router = drain.close_connections_when_draining(crate::web::router(app.clone()));
    axum::serve(
        // `tap_io` only to get the socket address as `ConnectInfo` from a custom listener.
        axum::serve::ListenerExt::tap_io(listener, |_| {}),
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the requests under way");
        drain.start().await;
        tokio::time::sleep(crate::web::shutdown::DRAIN).await;
    })
    .await
    .map_err(|e| format!("server error: {e}"))?;
    background.abort();
    policy_jobs.abort();
    ops_tasks.iter().for_each(tokio::task::JoinHandle::abort);
    if let Err(e) = app.oauth.flush_usage().await {
        tracing::warn!(error = %e, "cannot record last-used times at shutdown");
    }
    if let Err(e) =
        crate::oauth::backoff::audit_failures(&app.backoff, &app.oauth, &app.store).await
    {
        tracing::warn!(error = %e, "cannot record failed client authentications at shutdown");
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
