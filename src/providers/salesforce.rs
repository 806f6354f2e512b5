//! Salesforce (per-org instance URL, e.g. `https://MYDOMAIN.my.salesforce.com`).
//!
//! Check (two requests): `GET /services/oauth2/userinfo` on the instance (authenticates;
//! identity `preferred_username`,
//! <https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm>),
//! then `GET /services/data/v62.0/limits` for `DailyApiRequests{Max,Remaining}`
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm>).
//! The limits resource needs "View Setup and Configuration"; without it the quota comes only from
//! the `Sforce-Limit-Info: api-usage=USED/MAX` header every REST answer carries
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm>).
//!
//! Errors (JSON array `[{"message","errorCode"}]`, simple-salesforce `exceptions.py`):
//! 401 `INVALID_SESSION_ID` → `unauthorized` (expired and revoked sessions look the same; a
//! session "not valid for use with the REST API" lacks the `api` scope → `scope_missing`);
//! 403 `REQUEST_LIMIT_EXCEEDED` → `rate_limited` (the daily limit is a 403, not a 429);
//! 403 `API_DISABLED_FOR_ORG` → `account_suspended` (the org's edition or profile has no API);
//! userinfo's plain-text 403 `Bad_OAuth_Token` (or `Missing_OAuth_Token`) → `unauthorized`;
//! `INSUFFICIENT_ACCESS` → `forbidden`; 503 `SERVER_UNAVAILABLE` → `provider_unavailable`;
//! `INVALID_OPERATION_WITH_EXPIRED_PASSWORD` (SOAP API `StatusCode`) → `token_expired`. Codes are
//! matched case-insensitively; an HTML maintenance page or empty body is classified by status.
//!
//! Decision — `API_DISABLED_FOR_ORG` is `account_suspended`, not `forbidden`: providers.md's
//! classification guidance lists it with the account-state faults (the org's edition, or the
//! integration user's profile, has no API access), and no change of the credential fixes it —
//! the org's or profile's settings must change.
//!
//! Scopes: the token response's `scope` (space separated) when the exporter runs the OAuth
//! grant (client credentials or refresh token) — the same list introspection would return, at
//! no extra request. Cannot be known: scopes and expiry of a bare access token (bearer): token
//! introspection needs the connected app's client secret, and sessions carry no `expires_in`.

use super::common::basics;
use super::common::{by_status, fail, first_text, json_body, mentions, oauth_grant, short, unexpected, used_of_max};
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext, RateLimit};
use crate::reason::Reason;
use async_trait::async_trait;
use serde_json::Value;

/// The Salesforce preset.
#[derive(Debug)]
pub struct Salesforce;

/// REST API version used for `/limits`.
const API_VERSION: &str = "v62.0";

#[async_trait]
impl Provider for Salesforce {
    basics!(
        "salesforce",
        base: None,
        auth: [Bearer, OAuth2ClientCredentials, OAuth2RefreshToken],
        token_url: "https://login.salesforce.com/services/oauth2/token",
    );

    fn base_url_hint(&self) -> &'static str {
        "https://yourcompany.my.salesforce.com (the instance_url of the token response)"
    }

    fn scopes_knowable(&self, auth: &Auth) -> Result<(), &'static str> {
        if oauth_grant(auth) {
            Ok(())
        } else {
            Err("a bare Salesforce access token reports no scopes; use an OAuth grant (its token response lists them)")
        }
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/services/oauth2/userinfo")).main()).await?;
        read_limit_header(cx, &resp);
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        if body.get("user_id").is_none() && body.get("sub").is_none() {
            return Err(unexpected(cx, &resp, "userinfo answered without user_id or sub"));
        }
        cx.findings.identity = first_text(&body, &["/preferred_username", "/organization_id"]);

        let limits = cx.send(ApiRequest::get(cx.url(&format!("/services/data/{API_VERSION}/limits")))).await?;
        read_limit_header(cx, &limits);
        if limits.is_success() {
            let body = json_body(cx, &limits)?;
            let daily = body.get("DailyApiRequests").and_then(|d| {
                Some(RateLimit { remaining: d.get("Remaining")?.as_f64()?, limit: d.get("Max")?.as_f64()? })
            });
            match daily {
                Some(rl) => cx.findings.rate_limit = Some(rl),
                None => return Err(unexpected(cx, &limits, "limits answered without DailyApiRequests")),
            }
            return Ok(());
        }
        let failure = classify(&limits);
        if limits.status == 403 && failure.reason == Reason::Forbidden {
            // The user may not "View Setup and Configuration": the quota header still counts.
            tracing::debug!(body = %cx.preview(&limits.body), "Salesforce /limits denied; using Sforce-Limit-Info");
            return Ok(());
        }
        Err(failure)
    }
}

fn read_limit_header(cx: &mut ProbeContext<'_>, resp: &ApiResponse) {
    let usage = resp
        .header("sforce-limit-info")
        .and_then(|v| v.split(',').find_map(|part| part.trim().strip_prefix("api-usage=")).and_then(used_of_max));
    if let Some(rl) = usage {
        cx.findings.rate_limit = Some(rl);
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or(Value::Null);
    let first = json.get(0).or(Some(&json)).cloned().unwrap_or(Value::Null);
    let code = first.get("errorCode").and_then(Value::as_str).unwrap_or("").trim().to_ascii_uppercase();
    let message = first.get("message").and_then(Value::as_str).unwrap_or("");
    let raw = String::from_utf8_lossy(&resp.body);
    match code.as_str() {
        "INVALID_SESSION_ID" if mentions(message, "not valid for use with the rest api") => {
            fail(Reason::ScopeMissing, "the session is not valid for the REST API: the token lacks the api scope")
        }
        "INVALID_SESSION_ID" | "INVALID_AUTH_HEADER" => {
            fail(Reason::Unauthorized, format!("Salesforce: {} ({code}: expired or revoked)", short(message)))
        }
        "INVALID_OPERATION_WITH_EXPIRED_PASSWORD" => fail(
            Reason::TokenExpired,
            format!("Salesforce: the integration user's password expired ({})", short(message)),
        ),
        "REQUEST_LIMIT_EXCEEDED" => fail(Reason::RateLimited, format!("Salesforce: {}", short(message))),
        "API_DISABLED_FOR_ORG" => fail(
            Reason::AccountSuspended,
            format!("Salesforce: API access is disabled for this org or profile ({})", short(message)),
        ),
        "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY" => {
            fail(Reason::Forbidden, format!("Salesforce: {}", short(message)))
        }
        "SERVER_UNAVAILABLE" => fail(Reason::ProviderUnavailable, format!("Salesforce: {}", short(message))),
        // userinfo answers plain text (`Bad_OAuth_Token`, `Missing_OAuth_Token`) rather than JSON.
        _ if mentions(&raw, "bad_oauth_token") || mentions(&raw, "missing_oauth_token") => {
            fail(Reason::Unauthorized, format!("Salesforce: {}", short(&raw)))
        }
        _ => by_status(resp),
    }
}
