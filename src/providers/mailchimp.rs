//! Mailchimp Marketing API (`https://DC.api.mailchimp.com/3.0`).
//!
//! The data centre: when `base_url` is left at the default, it is the API key's suffix
//! (`…-us6` → `https://us6.api.mailchimp.com`); an OAuth token has no suffix, so its data
//! centre is read from `GET https://login.mailchimp.com/oauth2/metadata` (`api_endpoint`), as
//! Mailchimp's OAuth guide describes
//! (<https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/>).
//!
//! Check: `GET /3.0/ping` → `{"health_status":"Everything's Chimpy!"}` (mailchimp-marketing
//! TypeScript SDK `ListPingResponse`; <https://mailchimp.com/developer/marketing/api/ping/>).
//! API keys go as Basic (any user name, the key as password) or bearer.
//!
//! Errors (problem+json `{type,title,status,detail,instance}`,
//! <https://mailchimp.com/developer/marketing/docs/errors/>, error glossary): 401 "API Key
//! Invalid"/"API Key Missing" → `unauthorized` (a wrong data centre looks the same), 401 "API key
//! has been disabled" → `credential_revoked`, 403 "User Disabled" ("This account has been
//! disabled.") → `account_suspended`, 403 "Wrong Datacenter" → `unauthorized` (the key belongs to
//! another data centre), other 403 → `forbidden`, 429 "Too Many Requests" → `rate_limited`, 5xx
//! → `provider_unavailable`. Titles and details are matched case-insensitively; HTML or empty
//! bodies are classified by status.
//!
//! Cannot be known: scopes (Mailchimp has none; tokens carry the user's full rights), expiry
//! (keys and OAuth tokens do not expire), quota (no rate-limit headers; the limit is 10
//! concurrent connections).

use super::common::{by_status, fail, json_body, mentions, short, text, unexpected};
use super::{BaseUrl, Description, Provider, ProviderRules, ScopesKnown};
use crate::config::AuthType;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use secrecy::ExposeSecret;

/// The Mailchimp preset.
#[derive(Debug)]
pub struct Mailchimp;

/// The default base URL: a placeholder meaning "take the data centre from the credential".
const DEFAULT_BASE: &str = "https://api.mailchimp.com";

/// Mailchimp as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "mailchimp",
        base_url: BaseUrl::Default(DEFAULT_BASE),
        auth_types: &[AuthType::Basic, AuthType::Bearer],
        scopes: ScopesKnown::Never("Mailchimp has no scopes: keys and OAuth tokens carry their user's full rights"),
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

#[async_trait]
impl Provider for Mailchimp {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let base = cx.integration().base_url.clone();
        let base = if base.host_str() == url::Url::parse(DEFAULT_BASE).ok().as_ref().and_then(|u| u.host_str()) {
            data_centre_base(cx).await?
        } else {
            base
        };
        let resp = cx.send(ApiRequest::get(crate::probe::join_url(&base, "/3.0/ping")).main()).await?;
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        if text(&body, "/health_status").is_none() {
            return Err(unexpected(cx, &resp, "ping answered without health_status"));
        }
        cx.findings.identity = base.host_str().and_then(|h| h.split('.').next()).map(|dc| format!("data centre {dc}"));
        Ok(())
    }
}

/// `https://DC.api.mailchimp.com` from the key suffix, or from the OAuth metadata endpoint.
async fn data_centre_base(cx: &mut ProbeContext<'_>) -> Result<url::Url, Failure> {
    let secret = cx.secret().await?;
    if let Some(dc) = key_data_centre(secret.expose_secret()) {
        return url::Url::parse(&format!("https://{dc}.api.mailchimp.com"))
            .map_err(|_| Failure::unexpected("invalid data centre"));
    }
    let meta_url = url::Url::parse("https://login.mailchimp.com/oauth2/metadata")
        .map_err(|_| Failure::unexpected("invalid metadata URL"))?;
    let req = ApiRequest::get(meta_url).no_auth().header("authorization", &format!("OAuth {}", secret.expose_secret()));
    let resp = cx.send(req).await?;
    if !resp.is_success() {
        return Err(classify(&resp));
    }
    let body = json_body(cx, &resp)?;
    text(&body, "/api_endpoint")
        .and_then(|e| url::Url::parse(e).ok())
        .filter(|u| u.host_str().is_some_and(|h| h.ends_with(".api.mailchimp.com")))
        .ok_or_else(|| unexpected(cx, &resp, "oauth2/metadata answered without a Mailchimp api_endpoint"))
}

/// The data centre an API key names in its suffix (`…-us6` → `us6`).
pub fn key_data_centre(key: &str) -> Option<&str> {
    let (_, dc) = key.rsplit_once('-')?;
    (!dc.is_empty() && dc.len() <= 8 && dc.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())).then_some(dc)
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let title = text(&json, "/title").unwrap_or("");
    let detail = text(&json, "/detail").unwrap_or("");
    let says = |words: &str| mentions(title, words) || mentions(detail, words);
    match resp.status {
        401 if says("disabled") => fail(Reason::CredentialRevoked, format!("Mailchimp: {}", short(detail))),
        401 => fail(
            Reason::Unauthorized,
            format!("Mailchimp: {title} (an invalid key or the wrong data centre look the same)"),
        ),
        403 if says("user disabled") || says("account has been disabled") => {
            fail(Reason::AccountSuspended, format!("Mailchimp: the account is disabled ({})", short(detail)))
        }
        403 if says("wrong datacenter") || says("different datacenter") => {
            fail(Reason::Unauthorized, format!("Mailchimp: the key belongs to another data centre ({})", short(detail)))
        }
        403 => fail(Reason::Forbidden, format!("Mailchimp: {} {}", short(title), short(detail))),
        429 => fail(Reason::RateLimited, "Mailchimp rate limited the request (429)"),
        _ => by_status(resp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_centre_from_key_suffix() {
        assert_eq!(key_data_centre("0123456789abcdef0123456789abcdef-us6"), Some("us6"));
        assert_eq!(key_data_centre("oauth-token-without-dc-US6"), None);
        assert_eq!(key_data_centre("nodash"), None);
        assert_eq!(key_data_centre("abc-evil.example.com"), None);
    }
}
