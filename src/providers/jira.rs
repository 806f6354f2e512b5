//! Jira Cloud / Atlassian.
//!
//! OAuth 2.0 (3LO) tokens (bearer; `base_url: https://api.atlassian.com`): `GET
//! /oauth/token/accessible-resources` → `[{id (cloudId), url, name, scopes[]}]`, then `GET
//! /ex/jira/{cloudId}/rest/api/3/myself` on the configured site — Nango's `jira` sequence
//! (<https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/>). A token can reach
//! several sites, each with its own scopes, and the order of the list is not documented, so
//! `site:` (the site URL, e.g. `https://acme.atlassian.net`, or its cloud id) picks the entry
//! whose scopes and `myself` are checked; a token whose list lacks that site is `forbidden`
//! naming the site and the ones it does reach. Without `site:` the only site is checked (with
//! several, the first one, and `/config` says to set `site:`). API tokens (Basic
//! `EMAIL:API_TOKEN`; `base_url: https://SITE.atlassian.net`): `GET /rest/api/3/myself`
//! (<https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/>). Identity:
//! the site name, else `displayName`.
//!
//! Scopes: the site's `scopes[]` from accessible-resources (a site without the list leaves them
//! unknown). An empty list is `forbidden`: the token authenticates but reaches no site (the app
//! was removed from the site, or the user lost access to it). Errors: a scope mismatch is a
//! **401** "Unauthorized; scope does not match" → `scope_missing` (JRACLOUD-69262); other 401 →
//! `unauthorized`; 403 → `forbidden`; 429 + `Retry-After` (or the ISO-8601
//! `X-RateLimit-Reset`, also read when shortened to minutes or with a `+0000` offset) →
//! `rate_limited`; `X-RateLimit-Limit`/`-Remaining` give the quota
//! (<https://developer.atlassian.com/cloud/jira/platform/rate-limiting/>). A refresh grant's 403
//! `invalid_grant` is mapped by the token code (`credential_revoked`).
//!
//! Refresh tokens rotate (<https://developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens/>),
//! so `oauth2_refresh_token` is refused. Cannot be known: scopes of API tokens (they act as the
//! user) and API-token expiry (set in the Atlassian account, not readable through the API).

use super::common::NO_SCOPES_USER_TOKEN;
use super::common::{fail, first_text, json_body, string_array, text, unexpected};
use super::http::parse_rfc3339;
use super::runner::{self, status_if_says, status_says, CheckSpec, ErrorTable, ExpirySource, ScopeSource};
use super::{BaseUrl, Description, Provider, ProviderRules, Refusal, RefusedKey, ScopesKnown};
use crate::config::AuthType;
use crate::config::{Auth, IntegrationConfig};
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use http::Method;
use serde_json::Value;
use std::time::{Duration, SystemTime};

/// The Jira preset.
#[derive(Debug)]
pub struct Jira;

/// Jira as data. Only static credentials: Atlassian OAuth refresh tokens rotate.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "jira",
        base_url: BaseUrl::Required {
            hint: "https://your-site.atlassian.net for API tokens (basic), https://api.atlassian.com for OAuth tokens",
        },
        auth_types: &[AuthType::Basic, AuthType::Bearer],
        refresh_token_rotation: Some(
            "Atlassian rotates refresh tokens: every refresh returns a new one and retires the old.",
        ),
        scopes: ScopesKnown::NotWithBasic(NO_SCOPES_USER_TOKEN),
        uses_options: &[RefusedKey::Site],
        validate,
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

/// `site:` is for OAuth tokens, and must name a site.
fn validate(integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    let basic = matches!(integration.auth, Auth::Basic { .. });
    match &integration.options.site {
        Some(_) if basic => Err(Refusal::new(
            RefusedKey::Site,
            "site: is for OAuth tokens (type: bearer with base_url https://api.atlassian.com); with an API \
             token (type: basic) base_url is the site, e.g. https://acme.atlassian.net",
        )),
        Some(site) if site.trim().is_empty() => Err(Refusal::new(
            RefusedKey::Site,
            "site: is empty; give the site URL (https://acme.atlassian.net) or its cloud id",
        )),
        None if !basic => Ok(vec![
            "no site: configured; an OAuth token that reaches several Atlassian sites is checked on the first \
             one accessible-resources lists: set site: to the site URL or cloud id the integration uses"
                .to_string(),
        ]),
        _ => Ok(Vec::new()),
    }
}

#[async_trait]
impl Provider for Jira {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        if matches!(cx.integration().auth, Auth::Basic { .. }) {
            return myself(cx, "/rest/api/3/myself".to_string()).await;
        }
        let resp = cx.send(ApiRequest::get(cx.url("/oauth/token/accessible-resources"))).await?;
        if !resp.is_success() {
            return Err(classify(cx, &resp));
        }
        let body = json_body(cx, &resp)?;
        let Some(sites) = body.as_array() else {
            return Err(unexpected(cx, &resp, "accessible-resources did not answer an array"));
        };
        let wanted = cx.integration().options.site.clone();
        let Some(site) =
            sites.iter().find(|s| s.get("id").and_then(Value::as_str).is_some() && is_site(s, wanted.as_deref()))
        else {
            return Err(match wanted {
                None => {
                    fail(Reason::Forbidden, "the token has access to no Atlassian site (accessible-resources is empty)")
                }
                Some(w) => fail(
                    Reason::Forbidden,
                    format!("the token has no access to site {w}; it reaches: {}", site_list(sites)),
                ),
            });
        };
        match site.get("scopes").and_then(string_array) {
            Some(s) => cx.findings.granted_scopes = Some(s),
            // The site is there, so the token works; without its scope list the grants are unknown.
            None => tracing::debug!(body = %cx.preview(&resp.body), "accessible-resources site without scopes[]"),
        }
        let cloud_id = text(site, "/id").unwrap_or_default().to_string();
        let site_name = first_text(site, &["/name", "/url"]);
        myself(cx, format!("/ex/jira/{cloud_id}/rest/api/3/myself")).await?;
        if site_name.is_some() {
            cx.findings.identity = site_name;
        }
        Ok(())
    }
}

/// Whether an accessible-resources entry is the configured site (by cloud id or URL, ignoring
/// case, scheme and a trailing slash); any site when none is configured.
fn is_site(entry: &Value, wanted: Option<&str>) -> bool {
    let Some(wanted) = wanted else { return true };
    let norm = |u: &str| {
        let u = u.trim().trim_end_matches('/').to_ascii_lowercase();
        u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")).map(String::from).unwrap_or(u)
    };
    let wanted = norm(wanted);
    text(entry, "/id").map(norm).as_deref() == Some(wanted.as_str())
        || text(entry, "/url").map(norm).as_deref() == Some(wanted.as_str())
}

/// The sites a token reaches, for the detail of a missing one.
fn site_list(sites: &[Value]) -> String {
    let names: Vec<&str> = sites.iter().filter_map(|s| text(s, "/url").or_else(|| text(s, "/id"))).collect();
    if names.is_empty() {
        "no site".to_string()
    } else {
        names.join(", ")
    }
}

/// `GET …/rest/api/3/myself` (the site's path for OAuth tokens): the user behind the token.
static MYSELF: CheckSpec = CheckSpec {
    method: Method::GET,
    path: "/rest/api/3/myself",
    headers: &[("accept", "application/json")],
    errors: ERRORS,
    shape: |b: &Value| b.get("accountId").is_some(),
    shape_error: "myself answered without accountId",
    identity: &["/displayName", "/accountId"],
    account_id: &[],
    scopes: ScopeSource::None,
    expiry: ExpirySource::None,
};

async fn myself(cx: &mut ProbeContext<'_>, path: String) -> Result<(), Failure> {
    let resp = runner::send(cx, &MYSELF, &path).await?;
    if !resp.is_success() {
        return Err(classify(cx, &resp));
    }
    runner::read(cx, &MYSELF, &resp).map(drop)
}

/// Atlassian's errors carry no code: `message` or `errorMessages[0]`, told apart by status.
static ERRORS: ErrorTable = ErrorTable {
    label: "Atlassian",
    code_at: "",
    message_at: "/message|/errorMessages/0",
    codes: &[],
    statuses: &[
        status_if_says(
            401,
            "scope does not match",
            Reason::ScopeMissing,
            "Atlassian: the token's scopes do not match this API (401 scope does not match)",
        ),
        status_says(401, Reason::Unauthorized, "Atlassian answered 401: {message}"),
        status_says(403, Reason::Forbidden, "Jira denied the request: {message}"),
    ],
    reset_header: None,
};

/// The table, and a 429's wait from the ISO-8601 `X-RateLimit-Reset`.
fn classify(cx: &mut ProbeContext<'_>, resp: &ApiResponse) -> Failure {
    if resp.status != 429 {
        return ERRORS.classify(resp);
    }
    if cx.findings.retry_after.is_none() {
        if let Some(at) = resp.header("x-ratelimit-reset").and_then(parse_reset) {
            cx.findings.retry_after = Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO));
        }
    }
    let why = resp.header("ratelimit-reason").unwrap_or("429");
    fail(Reason::RateLimited, format!("Jira rate limited the request ({why})"))
}

/// `X-RateLimit-Reset`: an ISO-8601 timestamp — RFC 3339, or shortened to minutes
/// (`2026-03-02T10:00Z`) or with a colon-less offset (`+0000`).
fn parse_reset(raw: &str) -> Option<SystemTime> {
    let raw = raw.trim();
    if let Some(t) = parse_rfc3339(raw) {
        return Some(t);
    }
    let (stamp, zone) = match raw.find(['Z', 'z', '+']).or_else(|| raw.rfind('-').filter(|i| *i > 10)) {
        Some(i) => raw.split_at(i),
        None => (raw, "Z"),
    };
    let stamp = if stamp.len() == 16 { format!("{stamp}:00") } else { stamp.to_string() };
    let zone = match zone {
        z if z.len() == 5 && !z.contains(':') => format!("{}:{}", &z[..3], &z[3..]),
        z => z.to_string(),
    };
    parse_rfc3339(&format!("{stamp}{zone}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iso_8601_reset_forms() {
        let full = parse_reset("2026-03-02T10:00:00Z").unwrap();
        assert_eq!(parse_reset("2026-03-02T10:00Z"), Some(full));
        assert_eq!(parse_reset("2026-03-02T10:00:00+0000"), Some(full));
        assert_eq!(parse_reset("2026-03-02T11:00:00.000+01:00"), Some(full));
        assert_eq!(parse_reset("soon"), None);
    }
}
