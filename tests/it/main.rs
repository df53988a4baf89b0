//! Integration tests of keygate, end to end through its HTTP interface, its admin operations
//! and its command line.
//!
//! Every test gets its own database: a fresh SQLite file, or, when `TEST_DATABASE_URL` is set
//! to a PostgreSQL URL, a fresh schema in that database. Set `TEST_LOG` to see logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod browser;
mod cli;
mod client_library;
mod console;
mod instances;
mod introspect;
mod metadata;
mod revoke;
mod search;
mod token;
mod token_errors;
mod whoami;
