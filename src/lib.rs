//! `integration_exporter` watches the credentials and connections underneath SaaS
//! integrations and exposes their health as Prometheus metrics.
//!
//! The crate is a library with a thin binary (`src/main.rs`). The pieces are:
//!
//! - [`config`]: the YAML file, its validation and the secret sources it names;
//! - [`providers`]: one small module per SaaS provider behind the [`providers::Provider`] trait;
//! - [`probe`]: the engine that runs one probe: outbound requests, classification, retries;
//! - [`runtime`]: the running exporter: config swap and reload, the store of results and
//!   history, background probing, single-flight on-demand probing, the JSON views;
//! - [`metrics`]: the Prometheus exposition of the runtime's snapshot;
//! - [`server`]: the HTTP endpoints;
//! - [`cli`]: the command line, which starts the rest;
//! - [`time`]: time formatting and parsing shared by every room;
//! - [`tls`]: the TLS crypto provider shared by the server and the outbound clients;
//! - [`webhook`]: the receiver for providers' revocation webhooks, which probes at once;
//! - [`discovery`]: integrations discovered from files and HTTP beside the static list;
//! - [`demo`]: the built-in simulated SaaS API used by `demo` mode and the tests.
#![forbid(unsafe_code)]
// Non-test code must not panic on bad input: every unwrap/expect is either removed or justified.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![warn(missing_docs)]

pub mod cli;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod process_metrics;
pub mod providers;
pub mod reason;
pub mod runtime;
pub mod server;
pub mod time;
pub mod tls;
pub mod webhook;

/// Version of this build, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Git revision of this build (set by build.rs from `GIT_REVISION` or git), else `unknown`.
pub const REVISION: &str = match option_env!("GIT_REVISION") {
    Some(r) => r,
    None => "unknown",
};

/// Git branch of this build (set by build.rs from `GIT_BRANCH` or git), else `unknown`.
pub const BRANCH: &str = match option_env!("GIT_BRANCH") {
    Some(b) => b,
    None => "unknown",
};
