//! keygate: a service-account manager that is both a web console and an OAuth 2.0
//! client-credentials authorization server over one database.

pub mod admin;
pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod store;
pub mod web;
