//! The per-integration `webhook:` key: the secret that signs the provider's webhooks for this
//! integration, and optionally the account the credential belongs to.
//!
//! ```yaml
//! webhook:
//!   secret_file: /run/secrets/slack-signing-secret   # or secret: ${SLACK_SIGNING_SECRET}
//!   account: T0123ABCD     # Slack team_id, Stripe acct_…, GitHub installation id or login,
//!                          # Shopify shop domain, HubSpot portalId, Zendesk account_id
//! ```

use super::secret::SecretSource;
use secrecy::SecretString;
use std::path::PathBuf;

/// The providers whose webhooks the receiver verifies (`crate::webhook::Kind`, which a test
/// there keeps equal to this list): the config room knows their names, not how they sign.
pub const WEBHOOK_PROVIDERS: [&str; 6] = ["stripe", "slack", "github", "shopify", "hubspot", "zendesk"];

/// A validated `webhook:` block.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The signing secret; read at every delivery, like every other secret, so a rotated file
    /// is picked up without a restart.
    pub secret: SecretSource,
    /// The provider's identifier of the account this credential belongs to. Without it, every
    /// event signed with the secret concerns this integration.
    pub account: Option<String>,
}

impl WebhookConfig {
    /// Validates the keys as written (`secret`, `secret_file`, `account`) for an integration of
    /// `provider`; the error says what to change.
    pub fn from_raw(
        secret: Option<&str>,
        secret_file: Option<&str>,
        account: Option<&str>,
        provider: &str,
    ) -> Result<WebhookConfig, String> {
        if !WEBHOOK_PROVIDERS.contains(&provider) {
            return Err(format!(
                "provider {provider} sends no webhooks the exporter can verify; webhook is supported for {}",
                WEBHOOK_PROVIDERS.join(", ")
            ));
        }
        let secret = match (secret, secret_file) {
            (Some(v), None) if !v.is_empty() => SecretSource::Inline(SecretString::from(v.to_string())),
            (None, Some(f)) if !f.is_empty() => SecretSource::File(PathBuf::from(f)),
            (Some(_), Some(_)) => return Err("sets both secret and secret_file; keep one".into()),
            _ => return Err("needs secret or secret_file (the provider's signing secret)".into()),
        };
        let account = match account.map(str::trim) {
            Some("") => return Err("account is empty; remove it or give the provider's account id".into()),
            a => a.map(str::to_string),
        };
        Ok(WebhookConfig { secret, account })
    }
}
