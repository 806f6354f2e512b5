//! OAuth 2.0 grants (client credentials, refresh token) and the access-token cache.
//!
//! A token is cached until shortly before it expires and dropped when the API answers 401.
//! The cache key includes the secrets, so a rotated client secret or refresh token gets a
//! fresh grant. Refresh grants are only ever made for providers whose refresh tokens do not
//! rotate (enforced at config load). Should a refresh grant still answer with a different
//! refresh token (the provider rotated it after all), the exporter stops redeeming that grant
//! and reports it (see [`TokenCache::stop`]): each further redemption would break the
//! platform's own copy again.

use super::{classify::short, Failure};
use crate::reason::Reason;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// A token kept for reuse.
#[derive(Clone)]
pub struct CachedToken {
    /// The access token.
    pub access_token: SecretString,
    /// When to stop using it (a margin before its real expiry).
    pub use_until: Instant,
    /// Scopes the token endpoint said it granted, if it said.
    pub scope: Option<String>,
    /// When the refresh token itself expires, if the endpoint said.
    pub refresh_expires_at: Option<SystemTime>,
}

/// Access tokens by grant, and the grants the exporter must no longer redeem.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<u64, CachedToken>>,
    stopped: Mutex<HashMap<u64, Failure>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCache { .. }")
    }
}

impl TokenCache {
    /// A still-usable cached token.
    pub fn get(&self, key: u64) -> Option<CachedToken> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.get(&key).filter(|t| t.use_until > Instant::now()).cloned()
    }

    /// Stores a token.
    pub fn put(&self, key: u64, token: CachedToken) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(key, token);
    }

    /// Drops a token (after a 401).
    pub fn drop_token(&self, key: u64) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// Never redeems this grant again (its refresh token rotated); `why` is reported instead.
    /// A new refresh token in the config is a new grant key, so configuring one resumes probing.
    pub fn stop(&self, key: u64, why: Failure) {
        self.stopped.lock().unwrap_or_else(|p| p.into_inner()).insert(key, why);
    }

    /// Why this grant is no longer redeemed, if it is not.
    pub fn stopped(&self, key: u64) -> Option<Failure> {
        self.stopped.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned()
    }
}

/// The failure to report when a refresh grant answered with a refresh token other than the
/// configured one and the provider revokes the old one on rotation: `None` when the answer
/// carries no refresh token, the same one, or the provider keeps old ones valid.
pub fn rotation_failure(body: &[u8], configured: &SecretString, keeps_old: bool) -> Option<Failure> {
    let returned = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let returned = returned.get("refresh_token")?.as_str()?;
    if keeps_old || returned.is_empty() || returned == configured.expose_secret() {
        return None;
    }
    Some(
        Failure::new(
            Reason::CredentialRevoked,
            "the token endpoint answered the refresh grant with a NEW refresh token: this connection rotates \
             refresh tokens, so the configured one (and your platform's copy) may now be revoked; the exporter \
             stopped redeeming it. Re-authorise the connection, turn refresh token rotation off, or monitor the \
             access token with type: bearer",
        )
        .with_log(
            "refresh token rotated by the exporter's own grant: redeeming stopped for this integration; \
             the production connection's refresh token may have been invalidated",
        ),
    )
}

/// The cache key of a grant: everything that identifies it, secrets hashed in memory only.
pub fn cache_key(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// A successful token response (RFC 6749 §5.1), with the fields providers add.
#[derive(serde::Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_token_expires_in: Option<serde_json::Value>,
    #[serde(default)]
    x_refresh_token_expires_in: Option<serde_json::Value>,
}

fn seconds(v: &Option<serde_json::Value>) -> Option<u64> {
    let secs = match v.as_ref()? {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }?;
    // A lifetime from the network is added to the clock: cap it (100 years) so it cannot overflow.
    Some(secs.min(MAX_LIFETIME_SECS))
}

/// See [`seconds`].
const MAX_LIFETIME_SECS: u64 = 100 * 365 * 86_400;

/// Tokens without `expires_in` are reused for at most this long (or until a 401).
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Turns a token endpoint's 2xx body into a cached token.
pub fn parse_token_response(body: &[u8], now: Instant) -> Result<CachedToken, Failure> {
    let t: TokenResponse = serde_json::from_slice(body)
        .map_err(|_| Failure::new(Reason::UnexpectedResponse, "token endpoint answered 2xx without an access_token"))?;
    if t.access_token.is_empty() {
        return Err(Failure::new(Reason::UnexpectedResponse, "token endpoint returned an empty access_token"));
    }
    let lifetime = seconds(&t.expires_in).map(Duration::from_secs).unwrap_or(DEFAULT_LIFETIME);
    // Stop using a token a minute before expiry, or at 90% of a short lifetime.
    let margin = Duration::from_secs(60).min(lifetime / 10);
    let refresh_expires_at = seconds(&t.refresh_token_expires_in)
        .or_else(|| seconds(&t.x_refresh_token_expires_in))
        .map(|s| SystemTime::now() + Duration::from_secs(s));
    Ok(CachedToken {
        access_token: SecretString::from(t.access_token),
        use_until: now + lifetime.saturating_sub(margin),
        scope: t.scope,
        refresh_expires_at,
    })
}

/// Maps a token endpoint's error answer (RFC 6749 §5.2 and provider variants).
pub fn classify_token_error(status: u16, body: &[u8]) -> Failure {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(|v| v.as_str()).unwrap_or("").to_string();
    // Codes are compared case-insensitively: some token endpoints capitalise them.
    let error = field("error").to_ascii_lowercase();
    let description = field("error_description");
    let hubspot_status = field("status");
    let aadsts = |codes: &[&str]| codes.iter().any(|c| description.contains(c));
    match error.as_str() {
        // Salesforce's client-credentials flow only works on the org's My Domain host.
        _ if mentions(&description, "not supported on this domain") => Failure::new(
            Reason::Unauthorized,
            "the token endpoint does not support this grant on its domain: set auth.token_url to the org's \
             My Domain token endpoint, https://MYDOMAIN.my.salesforce.com/services/oauth2/token",
        )
        .with_log("token_url is not the org's My Domain: the client-credentials flow is refused there"),
        // Microsoft: a client-credentials grant against /common, /organizations or /consumers.
        _ if aadsts(&["AADSTS900023", "AADSTS50059"]) => Failure::new(
            Reason::Unauthorized,
            format!(
                "the token endpoint needs the tenant: set auth.token_url to \
                 https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token ({})",
                short(&description)
            ),
        ),
        // Microsoft: the client secret's end date has passed.
        _ if aadsts(&["AADSTS7000222"]) => Failure::new(
            Reason::TokenExpired,
            format!("the client secret expired: add a new secret to the app registration ({})", short(&description)),
        ),
        // Microsoft: MFA or Conditional Access asks for an interactive sign-in.
        "interaction_required" | "invalid_grant" if aadsts(&["AADSTS50076", "AADSTS50079", "AADSTS53003"]) => {
            interaction_required(&description)
        }
        "interaction_required" => interaction_required(&description),
        "consent_required" => Failure::new(
            Reason::ScopeMissing,
            format!("consent for the requested permissions is missing or was withdrawn: {}", short(&description)),
        ),
        "invalid_grant" => {
            // Microsoft names lapsed grants by code; everything else is "re-authorise".
            if aadsts(&["AADSTS700082", "AADSTS700084"]) {
                Failure::new(Reason::TokenExpired, format!("refresh token expired: {}", short(&description)))
            } else if aadsts(&["AADSTS65001"]) {
                // Microsoft: the user or admin has not consented to the requested permissions.
                Failure::new(
                    Reason::ScopeMissing,
                    format!("consent missing for the requested scopes: {}", short(&description)),
                )
            } else {
                Failure::new(
                    Reason::CredentialRevoked,
                    format!("token grant refused with invalid_grant: {}", short(&description)),
                )
            }
        }
        "invalid_client" if aadsts(&["AADSTS7005003"]) => Failure::new(
            Reason::CredentialRevoked,
            format!(
                "the client secret was revoked: add a new secret to the app registration ({})",
                short(&description)
            ),
        ),
        "invalid_client" | "unauthorized_client" => Failure::new(
            Reason::Unauthorized,
            format!("token endpoint rejected the client ({error}): the configured client_id/client_secret is wrong"),
        )
        .with_log("the OAuth client id or client secret is wrong: the token endpoint answered invalid_client"),
        "invalid_scope" => Failure::new(
            Reason::ScopeMissing,
            format!("token endpoint refused the requested scopes: {}", short(&description)),
        ),
        _ if hubspot_status == "BAD_REFRESH_TOKEN" => Failure::new(
            Reason::CredentialRevoked,
            "refresh token is missing or invalid (BAD_REFRESH_TOKEN): re-authorise the app",
        ),
        _ if status == 429 => Failure::new(Reason::RateLimited, "token endpoint rate limited the grant"),
        _ if status >= 500 => {
            Failure::new(Reason::ProviderUnavailable, format!("token endpoint answered HTTP {status}"))
        }
        _ if status == 401 => {
            Failure::new(Reason::Unauthorized, "token endpoint answered 401: check client_id/client_secret")
                .with_log("the OAuth client id or client secret is wrong: the token endpoint answered 401")
        }
        _ => {
            Failure::new(Reason::UnexpectedResponse, format!("token endpoint answered HTTP {status} {}", short(&error)))
        }
    }
}

/// Microsoft's `interaction_required` (MFA or Conditional Access needs the user to sign in):
/// the credentials were accepted, a policy denies their use without a person present.
fn interaction_required(description: &str) -> Failure {
    Failure::new(
        Reason::Forbidden,
        format!(
            "an interactive sign-in is required (MFA or Conditional Access): the user must sign in again, or the \
             policy must exempt this app ({})",
            short(description)
        ),
    )
}

/// Whether `hay` contains `needle`, ignoring ASCII case (`needle` in lower case).
fn mentions(hay: &str, needle: &str) -> bool {
    hay.to_ascii_lowercase().contains(needle)
}

/// The secret parts of a grant, resolved for one probe.
pub struct Grant<'a> {
    /// Token endpoint.
    pub token_url: &'a url::Url,
    /// Client id.
    pub client_id: String,
    /// Client secret, if any.
    pub client_secret: Option<SecretString>,
    /// `Some` for a refresh grant.
    pub refresh_token: Option<SecretString>,
    /// Scopes requested by a client-credentials grant.
    pub scopes: &'a [String],
}

impl Grant<'_> {
    /// The cache key of this grant for `integration`.
    pub fn key(&self, integration: &str) -> u64 {
        cache_key(&[
            integration,
            self.token_url.as_str(),
            &self.client_id,
            self.client_secret.as_ref().map(|s| s.expose_secret()).unwrap_or(""),
            self.refresh_token.as_ref().map(|s| s.expose_secret()).unwrap_or(""),
            &self.scopes.join(" "),
        ])
    }

    /// The form body of the token request.
    pub fn form(&self, client_auth: super::ClientAuth) -> Vec<(&'static str, String)> {
        let mut form = Vec::new();
        match &self.refresh_token {
            Some(rt) => {
                form.push(("grant_type", "refresh_token".to_string()));
                form.push(("refresh_token", rt.expose_secret().to_string()));
            }
            None => {
                form.push(("grant_type", "client_credentials".to_string()));
                if !self.scopes.is_empty() {
                    form.push(("scope", self.scopes.join(" ")));
                }
            }
        }
        if client_auth == super::ClientAuth::Body {
            form.push(("client_id", self.client_id.clone()));
            if let Some(s) = &self.client_secret {
                form.push(("client_secret", s.expose_secret().to_string()));
            }
        }
        form
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_errors_map_to_reasons() {
        let f = classify_token_error(
            400,
            br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
        );
        assert_eq!(f.reason, Reason::CredentialRevoked);
        let f = classify_token_error(400, br#"{"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity."}"#);
        assert_eq!(f.reason, Reason::TokenExpired);
        let f = classify_token_error(401, br#"{"error":"invalid_client"}"#);
        assert_eq!(f.reason, Reason::Unauthorized);
        assert!(f.log.is_some());
        let f = classify_token_error(
            403,
            br#"{"error":"invalid_grant","error_description":"Unknown or invalid refresh token."}"#,
        );
        assert_eq!(f.reason, Reason::CredentialRevoked);
        let f = classify_token_error(
            400,
            br#"{"status":"BAD_REFRESH_TOKEN","message":"missing or invalid refresh token"}"#,
        );
        assert_eq!(f.reason, Reason::CredentialRevoked);
        assert_eq!(classify_token_error(503, b"oops").reason, Reason::ProviderUnavailable);
    }

    #[test]
    fn provider_token_errors_say_what_happened() {
        let f = classify_token_error(401, br#"{"error":"invalid_client","error_description":"AADSTS7000222: The provided client secret keys for app 'x' are expired."}"#);
        assert_eq!(f.reason, Reason::TokenExpired);
        assert!(f.detail.contains("client secret expired"), "{}", f.detail);
        let f = classify_token_error(400, br#"{"error":"interaction_required","error_description":"AADSTS50076: multi-factor authentication required"}"#);
        assert_eq!(f.reason, Reason::Forbidden);
        let f = classify_token_error(400, br#"{"error":"invalid_grant","error_description":"AADSTS53003: Access has been blocked by Conditional Access policies."}"#);
        assert_eq!(f.reason, Reason::Forbidden);
        let f = classify_token_error(
            400,
            br#"{"error":"consent_required","error_description":"AADSTS65001: not consented"}"#,
        );
        assert_eq!(f.reason, Reason::ScopeMissing);
        let f = classify_token_error(400, br#"{"error":"invalid_request","error_description":"AADSTS900023: Specified tenant identifier 'common' is neither a valid DNS name"}"#);
        assert_eq!(f.reason, Reason::Unauthorized);
        assert!(f.detail.contains("TENANT_ID"), "{}", f.detail);
        let f = classify_token_error(
            400,
            br#"{"error":"invalid_grant","error_description":"request not supported on this domain"}"#,
        );
        assert_eq!(f.reason, Reason::Unauthorized);
        assert!(f.detail.contains("My Domain"), "{}", f.detail);
        let f = classify_token_error(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        );
        assert_eq!(f.reason, Reason::Unauthorized);
    }

    #[test]
    fn a_new_refresh_token_is_rotation_unless_the_provider_keeps_old_ones() {
        let configured = SecretString::from("old-refresh");
        let rotated = br#"{"access_token":"a","refresh_token":"new-refresh"}"#;
        let f = rotation_failure(rotated, &configured, false).expect("rotation reported");
        assert_eq!(f.reason, Reason::CredentialRevoked);
        assert!(!f.detail.contains("new-refresh") && !f.detail.contains("old-refresh"));
        assert!(rotation_failure(rotated, &configured, true).is_none(), "Microsoft keeps old ones valid");
        assert!(
            rotation_failure(br#"{"access_token":"a","refresh_token":"old-refresh"}"#, &configured, false).is_none()
        );
        assert!(rotation_failure(br#"{"access_token":"a"}"#, &configured, false).is_none());
    }

    #[test]
    fn token_lifetime_has_a_margin() {
        let now = Instant::now();
        let t = parse_token_response(br#"{"access_token":"a","expires_in":3600}"#, now).unwrap();
        assert_eq!(t.use_until, now + Duration::from_secs(3540));
        let t = parse_token_response(br#"{"access_token":"a","expires_in":"100"}"#, now).unwrap();
        assert_eq!(t.use_until, now + Duration::from_secs(90));
        assert!(parse_token_response(b"{}", now).is_err());
    }
}
