//! Salesforce (per-org instance URL, e.g. `https://MYDOMAIN.my.salesforce.com`).
//!
//! Check: `GET /services/data/v62.0/limits`, which needs only the `api` scope, authenticates
//! and gives `DailyApiRequests{Max,Remaining}`
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm>).
//! The limits resource also needs the user permission "View Setup and Configuration"; without it
//! (403 `INSUFFICIENT_ACCESS`) the token still authenticated and the quota comes from the
//! `Sforce-Limit-Info: api-usage=USED/MAX` header every REST answer carries
//! (<https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_api_usage.htm>).
//! Identity: `GET /services/oauth2/userinfo` (`preferred_username`,
//! <https://help.salesforce.com/s/articleView?id=sf.remoteaccess_using_userinfo_endpoint.htm>) only
//! when the granted scopes are known and include one that opens the identity service (`id`,
//! `openid`, `profile`, `email`, `address`, `phone` or `full`); API-only connected apps granted
//! `api refresh_token` lack it, and their probes must not fail for it. A failed userinfo call only
//! leaves the identity unknown.
//!
//! Scope implication, per "OAuth Tokens and Scopes"
//! (<https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_tokens_scopes.htm>):
//! `full` covers every scope except `refresh_token`/`offline_access` ("full doesn't return a
//! refresh token"); `refresh_token` and `offline_access` are synonyms; `id`, `profile`, `email`,
//! `address` and `phone` are synonyms; `api` includes `chatter_api`; `web` includes `visualforce`.
//!
//! Refused at config load: the client-credentials grant against `login.salesforce.com` or
//! `test.salesforce.com` (Salesforce answers `invalid_grant` "request not supported on this
//! domain": the flow needs the org's My Domain token URL,
//! <https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_client_credentials_flow.htm>,
//! pozil/pub-sub-api-node-client#58); a token endpoint answering that anyway is `unauthorized`
//! with the fix in words, not `credential_revoked`. And `oauth2_refresh_token` unless
//! `auth.refresh_token_rotates: false` states that Refresh Token Rotation (an OAuth setting of the
//! connected app or external client app) is off: with rotation on, each redemption issues a new
//! refresh token and invalidates the previous one, the one the platform holds (<https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_refresh_token_flow.htm>).
//! Should a grant still answer with a new refresh token, the exporter stops redeeming it and
//! reports `credential_revoked` saying so.
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
//! no extra request. Cannot be known: scopes, expiry and identity of a bare access token
//! (bearer): token introspection needs the connected app's client secret, sessions carry no
//! `expires_in`, and userinfo is not called without a known identity scope.

use super::common::{by_status, fail, first_text, implied, json_body, mentions, short, unexpected, used_of_max};
use super::runner::{row_if_says, row_says, ErrorTable};
use super::{BaseUrl, Description, Provider, ProviderRules, Refusal, RefusedKey, ScopeModel, ScopesKnown};
use crate::config::AuthType;
use crate::config::{Auth, IntegrationConfig};
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext, RateLimit};
use crate::reason::Reason;
use async_trait::async_trait;

/// The Salesforce preset.
#[derive(Debug)]
pub struct Salesforce;

/// REST API version used for `/limits`.
const API_VERSION: &str = "v62.0";

/// Salesforce as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "salesforce",
        base_url: BaseUrl::Required {
            hint: "https://yourcompany.my.salesforce.com (the instance_url of the token response)",
        },
        auth_types: &[AuthType::Bearer, AuthType::OAuth2ClientCredentials, AuthType::OAuth2RefreshToken],
        token_url: Some("https://login.salesforce.com/services/oauth2/token"),
        scopes: ScopesKnown::OnlyWithGrant(
            "a bare Salesforce access token reports no scopes; use an OAuth grant (its token response lists them)",
        ),
        validate,
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Rule(scope_satisfied),
    ..Description::PRESET
};

/// `full` covers everything but the refresh scopes; the rest follow [`COVERS`].
fn scope_satisfied(granted: &[String], wanted: &str) -> bool {
    let full_covers = wanted != "refresh_token" && wanted != "offline_access";
    (full_covers && granted.iter().any(|g| g == "full")) || implied(granted, wanted, COVERS)
}

/// Client credentials need the org's My Domain; a refresh token must be stated not to rotate.
fn validate(integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    match &integration.auth {
        Auth::OAuth2ClientCredentials { token_url, .. }
            if matches!(token_url.host_str(), Some("login.salesforce.com" | "test.salesforce.com")) =>
        {
            Err(Refusal::new(
                RefusedKey::Auth,
                format!(
                    "the Salesforce client-credentials flow is refused on {} (\"request not supported on this \
                     domain\"): set auth.token_url to your org's My Domain token endpoint, \
                     https://MYDOMAIN.my.salesforce.com/services/oauth2/token (Setup > My Domain shows the name)",
                    token_url.host_str().unwrap_or("this host")
                ),
            ))
        }
        Auth::OAuth2RefreshToken { .. } if integration.options.refresh_token_rotates != Some(false) => {
            Err(Refusal::new(
                RefusedKey::Auth,
                "oauth2_refresh_token is refused for provider salesforce unless auth.refresh_token_rotates: false \
                 is set. With Refresh Token Rotation on, each refresh issues a new refresh token and invalidates \
                 the one your platform holds. Check it in Setup > App Manager > your connected app (or external \
                 client app) > Edit > OAuth settings (Enable Refresh Token Rotation); if it is off, add \
                 refresh_token_rotates: false to auth, otherwise \
                 configure the access token with type: bearer",
            ))
        }
        _ => Ok(Vec::new()),
    }
}

#[async_trait]
impl Provider for Salesforce {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let limits = cx.send(ApiRequest::get(cx.url(&format!("/services/data/{API_VERSION}/limits"))).main()).await?;
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
        } else {
            let failure = classify(&limits);
            if !(limits.status == 403 && failure.reason == Reason::Forbidden) {
                return Err(failure);
            }
            // The user may not "View Setup and Configuration": the token authenticated, and the
            // quota header still counts.
            tracing::debug!(body = %cx.preview(&limits.body), "Salesforce /limits denied; using Sforce-Limit-Info");
        }
        if identity_allowed(cx.findings.granted_scopes.as_deref()) {
            read_identity(cx).await;
        }
        Ok(())
    }
}

/// Documented synonyms and inclusions, `(broader, narrower)`; synonyms both ways.
const COVERS: &[(&str, &str)] = &[
    ("refresh_token", "offline_access"),
    ("offline_access", "refresh_token"),
    ("id", "profile"),
    ("id", "email"),
    ("id", "address"),
    ("id", "phone"),
    ("profile", "id"),
    ("email", "id"),
    ("address", "id"),
    ("phone", "id"),
    ("api", "chatter_api"),
    ("web", "visualforce"),
];

/// Scopes that open the identity service (userinfo).
const IDENTITY_SCOPES: &[&str] = &["id", "openid", "profile", "email", "address", "phone", "full"];

/// Whether userinfo may be called: only when the granted scopes are known and open it.
fn identity_allowed(granted: Option<&[String]>) -> bool {
    granted.is_some_and(|g| g.iter().any(|s| IDENTITY_SCOPES.contains(&s.as_str())))
}

/// Reads the user name from userinfo; any failure only leaves the identity unknown.
async fn read_identity(cx: &mut ProbeContext<'_>) {
    let Ok(resp) = cx.send(ApiRequest::get(cx.url("/services/oauth2/userinfo"))).await else { return };
    read_limit_header(cx, &resp);
    match resp.json_opt().filter(|_| resp.is_success()) {
        Some(body) => cx.findings.identity = first_text(&body, &["/preferred_username", "/organization_id"]),
        None => tracing::debug!(status = resp.status, "Salesforce userinfo gave no identity"),
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

/// Salesforce's `[{errorCode, message}]` (or one such object); codes match case-insensitively.
static ERRORS: ErrorTable = ErrorTable {
    label: "Salesforce",
    code_at: "/0/errorCode|/errorCode",
    message_at: "/0/message|/message",
    codes: &[
        row_if_says(
            "invalid_session_id",
            "not valid for use with the rest api",
            Reason::ScopeMissing,
            "the session is not valid for the REST API: the token lacks the api scope",
        ),
        row_says(
            "invalid_session_id",
            Reason::Unauthorized,
            "Salesforce: {message} (INVALID_SESSION_ID: expired or revoked)",
        ),
        row_says(
            "invalid_auth_header",
            Reason::Unauthorized,
            "Salesforce: {message} (INVALID_AUTH_HEADER: expired or revoked)",
        ),
        row_says(
            "invalid_operation_with_expired_password",
            Reason::TokenExpired,
            "Salesforce: the integration user's password expired ({message})",
        ),
        row_says("request_limit_exceeded", Reason::RateLimited, "Salesforce: {message}"),
        row_says(
            "api_disabled_for_org",
            Reason::AccountSuspended,
            "Salesforce: API access is disabled for this org or profile ({message})",
        ),
        row_says("insufficient_access", Reason::Forbidden, "Salesforce: {message}"),
        row_says("insufficient_access_or_readonly", Reason::Forbidden, "Salesforce: {message}"),
        row_says("server_unavailable", Reason::ProviderUnavailable, "Salesforce: {message}"),
    ],
    statuses: &[],
    reset_header: None,
};

/// The table; then userinfo's plain-text answers (`Bad_OAuth_Token`, `Missing_OAuth_Token`)
/// rather than JSON; then the status.
fn classify(resp: &ApiResponse) -> Failure {
    ERRORS.lookup(resp).unwrap_or_else(|| {
        let raw = String::from_utf8_lossy(&resp.body);
        if mentions(&raw, "bad_oauth_token") || mentions(&raw, "missing_oauth_token") {
            fail(Reason::Unauthorized, format!("Salesforce: {}", short(&raw)))
        } else {
            by_status(resp)
        }
    })
}
