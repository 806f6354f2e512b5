//! Provider presets: one small module per SaaS provider behind the [`Provider`] trait.
//!
//! A provider is declarative where it can be (base URL, auth types, token URL, whether scopes
//! can be known) and runs its check through a [`ProbeContext`], which owns everything generic:
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
pub mod salesforce;
pub mod shopify;
pub mod slack;
pub mod stripe;
pub mod zendesk;

use crate::config::{Auth, AuthType};
use crate::probe::{Failure, ProbeContext};
use async_trait::async_trait;

/// How client credentials are sent to a token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    Body,
    /// HTTP Basic with `client_id:client_secret`.
    Basic,
}

/// One SaaS provider's knowledge.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// The preset's name in config (`provider: NAME`) and the `provider` label.
    fn name(&self) -> &'static str;

    /// The API base URL used when the config gives none; `None` when each account has its own
    /// host (the config must then give `base_url`).
    fn default_base_url(&self) -> Option<&'static str>;

    /// An example base URL for the error message when one is required.
    fn base_url_hint(&self) -> &'static str {
        "https://api.example.com"
    }

    /// Auth types this provider accepts.
    fn auth_types(&self) -> &'static [AuthType];

    /// The OAuth token endpoint used when the config gives no `token_url`.
    fn default_token_url(&self) -> Option<&'static str> {
        None
    }

    /// How the token endpoint expects client credentials.
    fn token_client_auth(&self) -> ClientAuth {
        ClientAuth::Body
    }

    /// `Some(why)` when this provider's refresh tokens rotate on use, so the exporter must
    /// never redeem one.
    fn refresh_token_rotation(&self) -> Option<&'static str> {
        None
    }

    /// `Ok` when granted scopes can be read with this auth, else why not.
    fn scopes_knowable(&self, auth: &Auth) -> Result<(), &'static str>;

    /// Whether the granted scopes cover `wanted`, including the provider's documented
    /// implications (a broader scope covers a narrower one).
    fn scope_satisfied(&self, granted: &[String], wanted: &str) -> bool {
        granted.iter().any(|g| g == wanted)
    }

    /// Makes the provider's read-only check calls and records what they reveal in
    /// `cx.findings`. Returns the failure that makes the integration unusable, if any.
    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure>;
}

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

/// The preset with this name.
pub fn lookup(name: &str) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.name() == name)
}

/// Names of all presets, for error messages.
pub fn names() -> Vec<&'static str> {
    PROVIDERS.iter().map(|p| p.name()).collect()
}

/// Every auth type that carries one static secret (no OAuth grant).
pub const STATIC_AUTH: &[AuthType] = &[AuthType::Bearer, AuthType::Basic, AuthType::Header];

/// Every auth type.
pub const ALL_AUTH: &[AuthType] = &[
    AuthType::Bearer,
    AuthType::Basic,
    AuthType::Header,
    AuthType::OAuth2ClientCredentials,
    AuthType::OAuth2RefreshToken,
];
