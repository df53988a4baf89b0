//! `keygate policies show | set`: the account policies, through the same operations as
//! the console and `GET/PATCH /api/v1/policies`.

use clap::Subcommand;
use serde_json::{Map, Value};

use super::{Output, admin_message};
use crate::app::AppState;
use crate::domain::audit::Actor;
use crate::domain::policy::{FIELDS, Policies, PolicyPatch};

/// `keygate policies …`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Show the policies in force.
    Show {
        /// Output format (json: the REST API's object).
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Change the policies given (a number, or `off` for no limit); the others stay.
    Set {
        /// Most roles per account, directly and through groups (`off`: unlimited).
        #[arg(long, value_name = "N|off")]
        max_roles_per_account: Option<String>,
        /// Longest access-token lifetime in seconds, 60 to 86400 (`off`: none).
        #[arg(long, value_name = "SECS|off")]
        max_token_lifetime_secs: Option<String>,
        /// Longest new personal token in days; 0 turns new personal tokens off.
        #[arg(long, value_name = "DAYS|off")]
        max_personal_token_days: Option<String>,
        /// Client secrets and keys expire this many days after they were made.
        #[arg(long, value_name = "DAYS|off")]
        credential_lifetime_days: Option<String>,
        /// Disable accounts unused this many days.
        #[arg(long, value_name = "DAYS|off")]
        disable_unused_after_days: Option<String>,
        /// Whether new accounts and regenerations may use a client secret.
        #[arg(long, value_name = "true|false")]
        allow_client_secrets: Option<bool>,
        /// List the accounts the change would affect and save nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Run the unused-account job once, as of `--now` (RFC 3339; default: now).
    #[command(hide = true)]
    DisableUnused {
        /// The time the job takes as now.
        #[arg(long)]
        now: Option<String>,
    },
}

/// A `N|off` argument as JSON (`off`, `none`, `unlimited`, `null`: null).
fn limit_value(name: &str, raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    if ["off", "none", "unlimited", "null"].contains(&raw.to_ascii_lowercase().as_str()) {
        return Ok(Value::Null);
    }
    raw.parse::<i64>().map(Value::from).map_err(|_| {
        format!(
            "--{} {raw:?} is not a number or off",
            name.replace('_', "-")
        )
    })
}

fn print_policies(p: &Policies, output: Output) {
    if output == Output::Json {
        println!("{}", p.to_json());
        return;
    }
    let json = p.to_json();
    for field in FIELDS {
        let v = &json[field];
        let shown = if v.is_null() {
            "off".to_owned()
        } else {
            v.to_string()
        };
        println!("{field}: {shown}");
    }
}

/// Runs a `keygate policies` command.
pub async fn run(app: &AppState, actor: &Actor, command: PolicyCommand) -> Result<(), String> {
    match command {
        PolicyCommand::Show { output } => {
            let p = app.admin.get_policies(actor).await.map_err(admin_message)?;
            print_policies(&p, output);
            Ok(())
        }
        PolicyCommand::Set {
            max_roles_per_account,
            max_token_lifetime_secs,
            max_personal_token_days,
            credential_lifetime_days,
            disable_unused_after_days,
            allow_client_secrets,
            dry_run,
            output,
        } => {
            let mut body = Map::new();
            for (name, raw) in [
                ("max_roles_per_account", max_roles_per_account),
                ("max_token_lifetime_secs", max_token_lifetime_secs),
                ("max_personal_token_days", max_personal_token_days),
                ("credential_lifetime_days", credential_lifetime_days),
                ("disable_unused_after_days", disable_unused_after_days),
            ] {
                if let Some(raw) = raw {
                    body.insert(name.to_owned(), limit_value(name, &raw)?);
                }
            }
            if let Some(b) = allow_client_secrets {
                body.insert("allow_client_secrets".to_owned(), b.into());
            }
            let (patch, _) = PolicyPatch::from_json(&Value::Object(body), &[])
                .map_err(|e| format!("{}: {}", e.field, e.message))?;
            if dry_run {
                let affected = app
                    .admin
                    .preview_policies(actor, &patch)
                    .await
                    .map_err(admin_message)?;
                if output == Output::Json {
                    let items: Vec<Value> = affected.iter().map(|a| a.to_json()).collect();
                    println!("{}", serde_json::json!({ "affected": items }));
                } else if affected.is_empty() {
                    println!("No service account is affected.");
                } else {
                    println!("{} service accounts affected:", affected.len());
                    for a in &affected {
                        println!("{}  {}  {}", a.id, a.name, a.change);
                    }
                }
                return Ok(());
            }
            let p = app
                .admin
                .update_policies(actor, &patch)
                .await
                .map_err(admin_message)?;
            print_policies(&p, output);
            Ok(())
        }
        PolicyCommand::DisableUnused { now } => {
            let now = match now {
                Some(t) => crate::domain::parse_rfc3339(&t)
                    .ok_or_else(|| format!("--now {t:?} is not an RFC 3339 time"))?,
                None => crate::domain::now_ms(),
            };
            let names = app
                .admin
                .disable_unused_accounts(now)
                .await
                .map_err(admin_message)?;
            for n in &names {
                println!("disabled {n}");
            }
            Ok(())
        }
    }
}
