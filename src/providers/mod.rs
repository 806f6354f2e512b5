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

use crate::config::{Auth, AuthType, IntegrationConfig};
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

/// Which config key a provider's refusal is about (it decides the line and column shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKey {
    /// The `auth:` block.
    Auth,
    /// `resource:`.
    Resource,
    /// `site:`.
    Site,
}

/// A provider's refusal of an integration at config load: what is wrong and what to configure
/// instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The key the message is about.
    pub key: RefusedKey,
    /// The message (without the integration's name, which the caller adds).
    pub message: String,
}

impl Refusal {
    /// A refusal about `key`.
    pub fn new(key: RefusedKey, message: impl Into<String>) -> Refusal {
        Refusal { key, message: message.into() }
    }
}

/// The default check of provider-specific keys: a preset refuses keys it does not use, so a
/// `site:` under Stripe is an error rather than silently ignored.
pub fn refuse_unused_options(provider: &str, i: &IntegrationConfig, uses: &[RefusedKey]) -> Result<(), Refusal> {
    if i.options.resource.is_some() && !uses.contains(&RefusedKey::Resource) {
        return Err(Refusal::new(
            RefusedKey::Resource,
            format!("resource: is a stripe setting; provider {provider} does not use it"),
        ));
    }
    if i.options.site.is_some() && !uses.contains(&RefusedKey::Site) {
        return Err(Refusal::new(
            RefusedKey::Site,
            format!("site: is a jira setting; provider {provider} does not use it"),
        ));
    }
    Ok(())
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

    /// Whether a refresh grant that answers with a *different* refresh token leaves the
    /// configured one valid (Microsoft: old refresh tokens are not revoked on use). When false,
    /// such an answer means the provider rotated the token: the exporter stops redeeming it.
    fn reissued_refresh_token_keeps_old(&self) -> bool {
        false
    }

    /// Provider-specific refusals at config load (called once per integration from the config
    /// loader), and notes for `/config` when the integration is accepted.
    fn validate(&self, integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
        refuse_unused_options(self.name(), integration, &[])?;
        Ok(Vec::new())
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
