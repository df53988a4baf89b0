//! Seeds a keygate database with many service accounts through the store (multi-row inserts in
//! transactions, not HTTP), for the scale benchmark (`bench/scale.sh`).
//!
//! ```sh
//! KEYGATE_DATABASE_URL=sqlite:///tmp/kg.db cargo run --release --example seed -- --count 1000000
//! ```
//!
//! Names are `svc-0000042-payments` (a zero-padded number and one of 50 team words), so a
//! search for a team word matches 2 % of the accounts and a search for a number a few hundred.
//! Every account holds the "Token Introspector" role and the same secret; the credentials of
//! the middle account are printed as JSON on the last line of standard output.

use std::time::Instant;

use clap::Parser;
use keygate::app::App;
use keygate::config::Config;
use keygate::domain::now_ms;
use keygate::domain::secret::{ClientId, ClientSecret};
use keygate::store::accounts::{self, NewAccount};

const TEAMS: [&str; 50] = [
    "payments",
    "billing",
    "search",
    "ingest",
    "reports",
    "mailer",
    "auth",
    "catalog",
    "orders",
    "shipping",
    "invoices",
    "ledger",
    "fraud",
    "risk",
    "pricing",
    "inventory",
    "warehouse",
    "crm",
    "support",
    "analytics",
    "metrics",
    "logging",
    "backup",
    "archive",
    "cdn",
    "dns",
    "edge",
    "gateway",
    "mobile",
    "web",
    "partner",
    "vendor",
    "payroll",
    "hr",
    "finance",
    "tax",
    "audit",
    "compliance",
    "security",
    "scanner",
    "builder",
    "deployer",
    "scheduler",
    "cron",
    "etl",
    "warehouse-sync",
    "notifier",
    "sms",
    "push",
    "chat",
];

#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    config: Config,
    /// Accounts to add.
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// Accounts per transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let app = App::build(args.config.clone()).await?;
    let role_ids = app
        .admin
        .role_ids_by_names(&["Token Introspector".to_owned()])
        .await
        .map_err(|e| e.to_string())?;
    let secret = ClientSecret::generate();
    let secret_hash = keygate::oauth::keys::MasterKey::load(&args.config)?
        .secret_hasher()
        .hash(secret.expose());
    let middle = args.count / 2;
    let mut middle_creds = None;
    let started = Instant::now();
    let now = now_ms();
    let mut done = 0;
    while done < args.count {
        let n = args.batch.min(args.count - done);
        let rows: Vec<(String, String, String)> = (done..done + n)
            .map(|i| {
                (
                    uuid::Uuid::new_v4().to_string(),
                    format!("svc-{i:07}-{}", TEAMS[i % TEAMS.len()]),
                    ClientId::generate().to_string(),
                )
            })
            .collect();
        if (done..done + n).contains(&middle) {
            let (id, name, client_id) = &rows[middle - done];
            middle_creds = Some(serde_json::json!({
                "id": id, "name": name, "client_id": client_id,
                "client_secret": secret.expose(),
            }));
        }
        let news: Vec<NewAccount<'_>> = rows
            .iter()
            .map(|(id, name, client_id)| NewAccount {
                id,
                name,
                description: "seeded for the scale benchmark",
                client_id,
                secret_hash: &secret_hash,
                token_lifetime_secs: 3600,
                auth_method: "client_secret_basic",
                role_ids: &role_ids,
                now,
            })
            .collect();
        let mut tx = app.store.begin().await?;
        accounts::insert_many(&mut tx, &news).await?;
        tx.commit().await?;
        done += n;
        if done % 100_000 == 0 || done == args.count {
            eprintln!(
                "seeded {done} accounts in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Fresh statistics, as after any bulk load: without them PostgreSQL plans the list's role
    // lookup as a scan of every assignment. (SQLite plans well without them.)
    if app.store.backend() == keygate::store::Backend::Postgres {
        sqlx::query("analyze").execute(app.store.pool()).await?;
    }
    if let Some(c) = middle_creds {
        println!("{c}");
    }
    app.store.close().await;
    Ok(())
}
