//! Zendesk Support (per account, `https://SUBDOMAIN.zendesk.com`).
//!
//! Check: OAuth tokens (bearer or client credentials) `GET /api/v2/oauth/tokens/current.json`
//! → `token{scopes[], expires_at, refresh_token_expires_at, …}`
//! (<https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/>); API tokens
//! (Basic `EMAIL/token:API_TOKEN`) `GET /api/v2/users/me.json`, where bad credentials can answer
//! 200 with an anonymous user (`id: null`) instead of 401 — treated as `unauthorized`
//! (zendesk/zendesk_api_client_rb#27, blakmatrix/node-zendesk#152). No Zendesk-owned API
//! description exists for these paths; shapes follow the reference pages above.
//!
//! Scope implication (<https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/>,
//! "Scopes"): a scope without a resource covers every resource (`read` ⊇ `tickets:read`) and a
//! resource without an access covers both (`tickets` ⊇ `tickets:write`).
//!
//! Expiry: `refresh_token_expires_at` (the long-lived grant), else a bearer token's own
//! `expires_at`; null means no expiry. Rate limit: `X-Rate-Limit`/`X-Rate-Limit-Remaining`
//! and `ratelimit-*` (<https://developer.zendesk.com/api-reference/introduction/rate-limits/>).
//! Errors: 401 "Couldn't authenticate you" → `unauthorized` (no expired/revoked distinction),
//! 403 "You are missing the following required scopes: read" → `scope_missing` naming them (an
//! OAuth token without the scope; Zendesk community thread
//! <https://support.zendesk.com/hc/en-us/community/posts/4485954843162>), any other 403 →
//! `forbidden`, 429 + `Retry-After` → `rate_limited`; 5xx and HTML bodies by status. A users/me
//! answer whose `user.id` is null or absent is the anonymous user → `unauthorized`.
//!
//! Refresh grants return a new refresh token and delete the previous one, so
//! `oauth2_refresh_token` is refused. Cannot be known: scopes of API tokens (they act as the user).

use super::common::NO_SCOPES_USER_TOKEN;
use super::common::{by_status, fail, json_body, short, static_secret, string_array, text, unexpected};
use super::http::parse_rfc3339;
use super::{BaseUrl, Description, Provider, ProviderRules, ScopeModel, ScopesKnown};
use crate::config::Auth;
use crate::config::AuthType;
use crate::probe::{ratelimit, ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;

/// The Zendesk preset.
#[derive(Debug)]
pub struct Zendesk;

/// Zendesk as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "zendesk",
        base_url: BaseUrl::Required { hint: "https://yourcompany.zendesk.com" },
        auth_types: &[AuthType::Bearer, AuthType::Basic, AuthType::OAuth2ClientCredentials],
        refresh_token_rotation: Some(
            "a Zendesk refresh grant issues a new access and refresh token and deletes the previous ones.",
        ),
        scopes: ScopesKnown::NotWithBasic(NO_SCOPES_USER_TOKEN),
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Rule(scope_satisfied),
    ..Description::PRESET
};

/// "If you don't specify a resource, access to all resources is assumed. If you don't specify
/// the access, read and write access are assumed" (OAuth Tokens, Scopes): `read` covers
/// `tickets:read`, `write` covers `users:write`, and `tickets` covers both `tickets:…`.
fn scope_satisfied(granted: &[String], wanted: &str) -> bool {
    let has = |s: &str| granted.iter().any(|g| g == s);
    if has(wanted) {
        return true;
    }
    match wanted.split_once(':') {
        Some((resource, access)) if matches!(access, "read" | "write") => has(access) || has(resource),
        _ => false,
    }
}

#[async_trait]
impl Provider for Zendesk {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let basic = matches!(cx.integration().auth, Auth::Basic { .. });
        let path = if basic { "/api/v2/users/me.json" } else { "/api/v2/oauth/tokens/current.json" };
        let resp = cx.send(ApiRequest::get(cx.url(path)).main()).await?;
        if let Some(rl) = ratelimit::from_pair(&resp.headers, "x-rate-limit-remaining", "x-rate-limit") {
            cx.findings.rate_limit = Some(rl);
        }
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        cx.findings.identity = cx.integration().base_url.host_str().map(String::from);
        if basic {
            // An anonymous user (`id` null or absent) means the credentials were not accepted.
            return match body.get("user").filter(|u| u.is_object()) {
                Some(user) if user.get("id").is_some_and(|id| id.is_number()) => Ok(()),
                Some(_) => Err(fail(
                    Reason::Unauthorized,
                    "Zendesk answered as an anonymous user: the credentials were not accepted",
                )),
                None => Err(unexpected(cx, &resp, "users/me answered without a user")),
            };
        }
        let Some(token) = body.get("token") else {
            return Err(unexpected(cx, &resp, "tokens/current answered without token"));
        };
        match token.get("scopes").and_then(string_array) {
            Some(s) => cx.findings.granted_scopes = Some(s),
            None => return Err(unexpected(cx, &resp, "tokens/current answered without token.scopes[]")),
        }
        let refresh = text(token, "/refresh_token_expires_at").and_then(parse_rfc3339);
        let own = text(token, "/expires_at").and_then(parse_rfc3339).filter(|_| static_secret(&cx.integration().auth));
        cx.findings.expiry = refresh.or(own);
        Ok(())
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let error = text(&json, "/error").or_else(|| text(&json, "/error/title")).unwrap_or("");
    let description = text(&json, "/description").or_else(|| text(&json, "/error/message")).unwrap_or("");
    match resp.status {
        401 => fail(Reason::Unauthorized, format!("Zendesk: {} (expired, revoked or wrong)", short(error))),
        403 => match missing_scopes(description) {
            Some(scopes) => fail(Reason::ScopeMissing, format!("Missing scope {scopes} (Zendesk 403)")),
            None => fail(Reason::Forbidden, format!("Zendesk: {} {}", short(error), short(description))),
        },
        429 => fail(Reason::RateLimited, "Zendesk rate limited the request (429)"),
        _ => by_status(resp),
    }
}

/// The scopes in "You are missing the following required scopes: read" (any letter case).
fn missing_scopes(description: &str) -> Option<String> {
    const MARK: &str = "missing the following required scopes:";
    let at = description.to_ascii_lowercase().find(MARK)? + MARK.len();
    let scopes = description[at..].trim().trim_end_matches('.').trim();
    (!scopes.is_empty()).then(|| scopes.to_string())
}
