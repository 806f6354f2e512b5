//! The check contract: what a provider is to the probe engine, and the registry of providers.
//!
//! A provider is a [`Description`] (plain data: the config rules, client auth, the scope
//! model) plus one check function ([`Provider::check`]) for what really differs. The
//! description's [`ProviderRules`] are what config validation reads, so a [`Registry`] is also
//! the [`ProviderCatalog`] a config is validated against.

use super::{Failure, ProbeContext};
use crate::config::ProviderCatalog;
use async_trait::async_trait;

pub use crate::config::{BaseUrl, ProviderRules, Refusal, RefusedKey, ScopesKnown};

/// How client credentials are sent to a token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body.
    Body,
    /// HTTP Basic with `client_id:client_secret`.
    Basic,
}

/// How granted scopes cover a wanted one.
#[derive(Debug, Clone, Copy)]
pub enum ScopeModel {
    /// Only the scope itself.
    Exact,
    /// The scope itself or a broader one: `(broader, narrower)` pairs, followed transitively.
    Implies(&'static [(&'static str, &'static str)]),
    /// A rule too irregular for pairs (e.g. `read_x` covered by `write_x` for every `x`).
    Rule(fn(&[String], &str) -> bool),
}

impl ScopeModel {
    /// Whether `granted` covers `wanted`.
    pub fn satisfied(self, granted: &[String], wanted: &str) -> bool {
        match self {
            ScopeModel::Exact => granted.iter().any(|g| g == wanted),
            ScopeModel::Implies(pairs) => implied(granted, wanted, pairs),
            ScopeModel::Rule(rule) => rule(granted, wanted),
        }
    }
}

/// Whether `wanted` is granted directly or through a documented implication: `covers` lists
/// `(broader, narrower)` pairs and is followed transitively.
pub fn implied(granted: &[String], wanted: &str, covers: &[(&str, &str)]) -> bool {
    let mut frontier = vec![wanted];
    let mut seen: Vec<&str> = Vec::new();
    while let Some(scope) = frontier.pop() {
        if granted.iter().any(|g| g == scope) {
            return true;
        }
        seen.push(scope);
        for (broad, narrow) in covers {
            if *narrow == scope && !seen.contains(broad) {
                frontier.push(broad);
            }
        }
    }
    false
}

/// Everything about a provider that is data rather than code.
#[derive(Debug, Clone, Copy)]
pub struct Description {
    /// What config validation needs: name, base URL, auth types, token URL, rotation…
    pub rules: ProviderRules,
    /// How the token endpoint expects client credentials.
    pub client_auth: ClientAuth,
    /// Whether a refresh grant that answers with a *different* refresh token leaves the
    /// configured one valid (Microsoft: old refresh tokens are not revoked on use). When false,
    /// such an answer means the provider rotated the token: the exporter stops redeeming it.
    pub reissued_refresh_token_keeps_old: bool,
    /// How granted scopes cover the configured ones.
    pub scopes: ScopeModel,
}

impl Description {
    /// The description of a preset that needs nothing beyond its rules (start from it with
    /// `..Description::PRESET`).
    pub const PRESET: Description = Description {
        rules: ProviderRules::PRESET,
        client_auth: ClientAuth::Body,
        reissued_refresh_token_keeps_old: false,
        scopes: ScopeModel::Exact,
    };
}

/// One provider: its description and its check.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug + 'static {
    /// What the provider is, as data.
    fn description(&self) -> &'static Description;

    /// Makes the provider's read-only check calls and records what they reveal in
    /// `cx.findings`. Returns the failure that makes the integration unusable, if any.
    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure>;

    /// The name in config and the `provider` label.
    fn name(&self) -> &'static str {
        self.description().rules.name
    }

    /// Whether the granted scopes cover `wanted`, including the provider's documented
    /// implications.
    fn scope_satisfied(&self, granted: &[String], wanted: &str) -> bool {
        self.description().scopes.satisfied(granted, wanted)
    }
}

/// The providers an exporter knows, in the order messages list them.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    providers: Vec<&'static dyn Provider>,
}

impl Registry {
    /// A registry of these providers.
    pub fn new(providers: Vec<&'static dyn Provider>) -> Registry {
        Registry { providers }
    }

    /// This registry plus `provider` (replacing one of the same name).
    pub fn with(mut self, provider: &'static dyn Provider) -> Registry {
        self.providers.retain(|p| p.name() != provider.name());
        self.providers.push(provider);
        self
    }

    /// The provider with this name.
    pub fn get(&self, name: &str) -> Option<&'static dyn Provider> {
        self.providers.iter().copied().find(|p| p.name() == name)
    }
}

impl ProviderCatalog for Registry {
    fn rules(&self, name: &str) -> Option<&ProviderRules> {
        self.get(name).map(|p| &p.description().rules)
    }

    fn names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn implication_is_transitive_and_directional() {
        let covers = [("admin:org", "write:org"), ("write:org", "read:org")];
        let g = vec!["admin:org".to_string()];
        assert!(implied(&g, "read:org", &covers));
        assert!(!implied(&["read:org".to_string()], "admin:org", &covers));
        assert!(implied(&["x".to_string()], "x", &[]));
    }
}
