//! What validating a config needs to know of a provider, as plain data.
//!
//! The config room does not know the presets: [`Config::parse_with`](super::Config::parse_with)
//! is handed a [`ProviderCatalog`] (the probe room's registry implements it) and checks each
//! integration against the [`ProviderRules`] it finds there. An integration keeps only the
//! provider's name ([`ProviderName`]).

use super::{Auth, AuthType, IntegrationConfig};

/// Where a provider's API lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUrl {
    /// One public host: used when the config gives no `base_url`.
    Default(&'static str),
    /// Each account has its own host, so the config must give `base_url`; `hint` is an example
    /// for the error message.
    Required {
        /// An example base URL.
        hint: &'static str,
    },
}

/// Whether the scopes a credential holds can be read, by auth type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopesKnown {
    /// With every accepted auth (or only found out at probe time).
    Always,
    /// Never; the text says why.
    Never(&'static str),
    /// Not with `type: basic` (a user's own token with that user's rights); the text says why.
    NotWithBasic(&'static str),
    /// Only with an OAuth grant the exporter runs (its token response lists them).
    OnlyWithGrant(&'static str),
}

impl ScopesKnown {
    /// `Ok` when scopes can be read with `auth`, else why not.
    pub fn check(self, auth: &Auth) -> Result<(), &'static str> {
        let grant = !auth.auth_type().is_static();
        match self {
            ScopesKnown::Always => Ok(()),
            ScopesKnown::Never(why) => Err(why),
            ScopesKnown::NotWithBasic(why) if matches!(auth, Auth::Basic { .. }) => Err(why),
            ScopesKnown::OnlyWithGrant(why) if !grant => Err(why),
            ScopesKnown::NotWithBasic(_) | ScopesKnown::OnlyWithGrant(_) => Ok(()),
        }
    }
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

/// A provider's own check of an integration at load: a refusal, or notes for `/config`.
pub type ValidateFn = fn(&IntegrationConfig) -> Result<Vec<String>, Refusal>;

/// Everything config validation needs to know of one provider.
#[derive(Debug, Clone, Copy)]
pub struct ProviderRules {
    /// The name in config (`provider: NAME`) and the `provider` label.
    pub name: &'static str,
    /// The default API base URL, or that the config must give one.
    pub base_url: BaseUrl,
    /// Auth types the provider accepts.
    pub auth_types: &'static [AuthType],
    /// The OAuth token endpoint used when the config gives no `token_url`; only for providers
    /// that accept an OAuth grant.
    pub token_url: Option<&'static str>,
    /// `Some(why)` when the provider's refresh tokens rotate on use, so the exporter must never
    /// redeem one (`oauth2_refresh_token` is refused).
    pub refresh_token_rotation: Option<&'static str>,
    /// Whether the integration describes its own check in a `check:` block (the generic
    /// provider); presets know theirs and refuse one.
    pub takes_check_block: bool,
    /// Whether configured scopes can be checked, by auth.
    pub scopes: ScopesKnown,
    /// The provider-specific keys it uses (`resource:`, `site:`); the others are refused.
    pub uses_options: &'static [RefusedKey],
    /// Its own refusals and notes, after the unused keys were refused.
    pub validate: ValidateFn,
}

/// No refusal and no notes.
fn accept(_: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    Ok(Vec::new())
}

impl ProviderRules {
    /// The rules of a preset that needs nothing beyond its name, base URL and auth types
    /// (start from it with `..ProviderRules::PRESET`).
    pub const PRESET: ProviderRules = ProviderRules {
        name: "",
        base_url: BaseUrl::Required { hint: "https://api.example.com" },
        auth_types: &[],
        token_url: None,
        refresh_token_rotation: None,
        takes_check_block: false,
        scopes: ScopesKnown::Always,
        uses_options: &[],
        validate: accept,
    };

    /// The refusal of a provider-specific key this provider does not use, so a `site:` under
    /// Stripe is an error rather than silently ignored.
    pub fn refuse_unused_options(&self, i: &IntegrationConfig) -> Result<(), Refusal> {
        let name = self.name;
        if i.options.resource.is_some() && !self.uses_options.contains(&RefusedKey::Resource) {
            return Err(Refusal::new(
                RefusedKey::Resource,
                format!("resource: is a stripe setting; provider {name} does not use it"),
            ));
        }
        if i.options.site.is_some() && !self.uses_options.contains(&RefusedKey::Site) {
            return Err(Refusal::new(
                RefusedKey::Site,
                format!("site: is a jira setting; provider {name} does not use it"),
            ));
        }
        Ok(())
    }

    /// The static auth types this provider accepts, for advice ("bearer", or "header" for
    /// Shopify).
    pub fn static_alternative(&self) -> String {
        let names: Vec<&str> = self.auth_types.iter().filter(|t| t.is_static()).map(|t| t.as_str()).collect();
        if names.is_empty() {
            "bearer".to_string()
        } else {
            names.join(" or ")
        }
    }
}

/// The providers a config is validated against.
pub trait ProviderCatalog {
    /// The rules of the provider with this name.
    fn rules(&self, name: &str) -> Option<&ProviderRules>;

    /// Every provider's name, in the order messages list them.
    fn names(&self) -> Vec<&'static str>;
}

/// The name of an integration's provider: all the config keeps of it. The probe engine looks
/// the provider up by this name in the registry it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderName(&'static str);

impl ProviderName {
    /// The name of the provider these rules describe.
    pub fn of(rules: &ProviderRules) -> ProviderName {
        ProviderName(rules.name)
    }

    /// The name in config and in the `provider` label.
    pub fn name(&self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
