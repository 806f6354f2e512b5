//! Provider presets: one small module per SaaS provider, each a [`Description`] (data) and a
//! check (the [`Provider`] contract of `probe::contract`), and the registry of them.
//!
//! A provider is declarative where it can be (base URL, auth types, token URL, whether scopes
//! can be known) and runs its check through a `ProbeContext`, which owns everything generic:
//! authentication, the per-host request budget, retries, timeouts, the step log and the
//! standard rate-limit headers. The provider only says which read-only calls to make and what
//! the answers mean.

pub mod common;
pub mod github;
pub mod google;
pub mod http;
pub mod hubspot;
pub mod intercom;
pub mod jira;
pub mod mailchimp;
pub mod microsoft;
pub mod notion;
pub mod pipedrive;
pub mod runner;
pub mod salesforce;
pub mod shopify;
pub mod slack;
pub mod stripe;
pub mod zendesk;

use crate::config::{AuthType, Config, ConfigError};
use crate::probe::Engine;
use std::path::Path;

pub use crate::probe::contract::{
    BaseUrl, ClientAuth, Description, Provider, ProviderRules, Refusal, RefusedKey, Registry, ScopeModel, ScopesKnown,
};

/// Every preset, in the order they are listed in messages.
static PROVIDERS: &[&dyn Provider] = &[
    &stripe::Stripe,
    &hubspot::HubSpot,
    &salesforce::Salesforce,
    &github::GitHub,
    &slack::Slack,
    &google::Google,
    &microsoft::Microsoft,
    &shopify::Shopify,
    &zendesk::Zendesk,
    &intercom::Intercom,
    &pipedrive::Pipedrive,
    &mailchimp::Mailchimp,
    &notion::Notion,
    &jira::Jira,
    &http::Http,
];

/// All presets.
pub fn all() -> &'static [&'static dyn Provider] {
    PROVIDERS
}

/// A registry of the built-in presets (extend it with [`Registry::with`]).
pub fn registry() -> Registry {
    Registry::new(PROVIDERS.to_vec())
}

/// The preset with this name.
pub fn lookup(name: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.name() == name)
}

/// Names of all presets, for error messages.
pub fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.name()).collect()
}

/// Every auth type.
pub const ALL_AUTH: &[AuthType] = &[
    AuthType::Bearer,
    AuthType::Basic,
    AuthType::Header,
    AuthType::OAuth2ClientCredentials,
    AuthType::OAuth2RefreshToken,
];

impl Config {
    /// Reads and validates a config file against the built-in presets
    /// ([`Config::load_with`] takes another registry).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::load_with(path, &registry())
    }

    /// Validates config text against the built-in presets; `file` names it in messages
    /// ([`Config::parse_with`] takes another registry).
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        Config::parse_with(text, file, &registry())
    }
}

impl Engine {
    /// An engine with the given per-host request rate that probes with the built-in presets
    /// ([`Engine::with_registry`] takes another registry).
    pub fn new(requests_per_second_per_host: f64) -> Engine {
        Engine::with_registry(requests_per_second_per_host, registry())
    }
}
