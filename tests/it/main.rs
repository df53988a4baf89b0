//! Integration tests of keygate, end to end through its HTTP interface, its admin operations
//! and its command line.
//!
//! Every test gets its own database: a fresh SQLite file, or, when `TEST_DATABASE_URL` is set
//! to a PostgreSQL URL, a fresh schema in that database. Set `TEST_LOG` to see logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod access_model;
mod api_access;
mod api_accounts;
mod browser;
mod browser_keys;
mod browser_list;
mod browser_ux;
mod cli;
mod cli_lifecycle;
mod client_library;
mod console;
mod console_access;
mod console_access_model;
mod console_account_page;
mod console_audit;
mod console_confirm;
mod console_groups;
mod console_lifecycle;
mod console_list;
mod console_personal_tokens;
mod console_users;
mod console_ux;
mod console_wizard;
mod federation;
mod instances;
mod introspect;
mod metadata;
mod openapi;
mod ops_backoff;
mod ops_backup;
mod ops_cli;
mod ops_discovery;
mod ops_inputs;
mod ops_junk;
mod ops_logs;
mod ops_metrics;
mod ops_outage;
mod ops_prefix;
mod ops_shutdown;
mod ops_signing_keys;
mod personal_tokens;
mod policies;
mod private_key_jwt;
mod revoke;
mod search;
mod security;
mod token;
mod token_errors;
mod whoami;
