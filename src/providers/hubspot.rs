//! HubSpot (`https://api.hubapi.com`).
//!
//! Check (two requests): `GET /account-info/v3/details` with the credential (identity and
//! latency; HubSpot's rate-limit headers), then the token's metadata for its scopes.
//!
//! HubSpot retires the v1 OAuth endpoints (`POST /oauth/v1/token`, `GET
//! /oauth/v1/access-tokens/{token}`, `GET /oauth/v1/refresh-tokens/{token}`) on 16 February 2027
//! in favour of the date-versioned OAuth API `POST /oauth/2026-03/token` and `POST
//! /oauth/2026-03/token/introspect` (<https://developers.hubspot.com/changelog/v1-oauth-api-deprecation>,
//! <https://developers.hubspot.com/docs/api-reference/legacy/authentication/oauth-tokens/v1/migration-guide>).
//! So: the refresh grant's default token URL is `https://api.hubapi.com/oauth/2026-03/token`
//! (form body, as before), and with the grant's client credentials at hand the access token is
//! introspected with `POST /oauth/2026-03/token/introspect` (form `client_id`, `client_secret`,
//! `token`, `token_type_hint=access_token`; no auth header; answer `active`, `scopes[]`,
//! `hub_domain`, `expires_in`, … per HubSpot's TypeScript SDK `auth/oauth.ts` and
//! <https://developers.hubspot.com/docs/api-reference/2026-03/authentication/oauth-tokens/token-introspect>);
//! `active: false` is `unauthorized`. Private-app tokens (`pat-…`) use `POST
//! /oauth/v2/private-apps/get/access-token-info` with `{"tokenKey": …}` (not part of the v1
//! retirement; answer field `scopes[]`, as in HubSpot/hubspot-api-nodejs#268 — not in an official
//! spec, so a missing `scopes` only leaves scopes unknown).
//!
//! Documented fallback: a bare OAuth access token (bearer) comes without the client secret the
//! introspection needs, so it is still read with `GET /oauth/v1/access-tokens/{token}` (no auth
//! header; the token is the path parameter; shape `hub_id`, `user_id`, `scopes[]`, `token_type`,
//! `app_id`, `expires_in`, `token` per HubSpot's generated SDK). `/config` notes the sunset for
//! such integrations, and the day v1 stops answering its documented shape (a 404/405/410, or any
//! answer that is neither an auth, rate-limit nor outage error) is `unexpected_response` naming
//! the sunset and what to configure instead (`oauth2_refresh_token`).
//!
//! Errors (<https://developers.hubspot.com/docs/api-reference/error-handling>): `category`
//! `EXPIRED_AUTHENTICATION` → `token_expired`, `INVALID_AUTHENTICATION` → `unauthorized`,
//! `MISSING_SCOPES` → `scope_missing` (naming `requiredScopes` or `requiredGranularScopes` from
//! the top-level `context` or `errors[].context`, the generated SDK's `Error`/`ErrorDetail`),
//! `RATE_LIMITS` → `rate_limited` (with its `policyName`); categories are matched
//! case-insensitively, and a 401/403/429/5xx without a category (or with an HTML body) is
//! classified by status, a category-less 401 saying "expired" as `token_expired`. A refresh
//! grant's `BAD_REFRESH_TOKEN` is mapped by the token code (`credential_revoked`).
//!
//! Rate limit: `X-HubSpot-RateLimit-Remaining`/`-Max` (10-second window) and
//! `X-HubSpot-RateLimit-Daily-Remaining`/`-Daily`; the tighter one is reported.
//!
//! Expiry: a bearer OAuth access token's `expires_in`; private-app tokens and refresh tokens
//! have none (HubSpot refresh tokens do not rotate, so `oauth2_refresh_token` is allowed).
//! Cannot be known: when a refresh token dies (it lives until the app is uninstalled).

use super::common::{code, fail, in_seconds, json_body, static_secret, string_array, text, unexpected};
use super::runner::{row_says, status_if_says, ErrorTable};
use super::{BaseUrl, Description, Provider, ProviderRules, Refusal};
use crate::config::AuthType;
use crate::config::{Auth, IntegrationConfig};
use crate::probe::{ratelimit, ApiRequest, ApiResponse, Failure, ProbeContext, RateLimit};
use crate::reason::Reason;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use serde_json::Value;

/// The HubSpot preset.
#[derive(Debug)]
pub struct HubSpot;

/// HubSpot as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "hubspot",
        base_url: BaseUrl::Default("https://api.hubapi.com"),
        auth_types: &[AuthType::Bearer, AuthType::OAuth2RefreshToken],
        token_url: Some("https://api.hubapi.com/oauth/2026-03/token"),
        validate,
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

/// Notes about HubSpot's retiring v1 token endpoints.
fn validate(integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    Ok(match &integration.auth {
        // A private-app token written in the config is not affected by the v1 retirement.
        Auth::Bearer { token: crate::config::SecretSource::Inline(t) } if t.expose_secret().starts_with("pat-") => {
            Vec::new()
        }
        Auth::Bearer { .. } => vec![format!(
            "OAuth access tokens configured as bearer are read with HubSpot's v1 token metadata, which {SUNSET}; \
             configure oauth2_refresh_token (client_id, client_secret, refresh_token) to use the 2026-03 \
             introspection instead. Private-app tokens (pat-...) are not affected"
        )],
        Auth::OAuth2RefreshToken { token_url, .. } if token_url.path().contains("/oauth/v1/") => vec![format!(
            "auth.token_url is HubSpot's v1 token endpoint, which {SUNSET}: use https://api.hubapi.com/oauth/2026-03/token"
        )],
        _ => Vec::new(),
    })
}

#[async_trait]
impl Provider for HubSpot {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/account-info/v3/details")).main()).await?;
        if let Some(rl) = hubspot_rate_limit(&resp) {
            cx.findings.rate_limit = Some(rl);
        }
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        // `portalId` is a `number` in HubSpot's SDK types: 62515 or 62515.0.
        let Some(portal) = body.get("portalId").and_then(Value::as_f64).filter(|p| p.is_finite() && *p >= 0.0) else {
            return Err(unexpected(cx, &resp, "GET /account-info/v3/details answered without portalId"));
        };
        cx.findings.identity = Some(format!("portal {}", portal as u64));

        let token = cx.secret().await?;
        let token = token.expose_secret();
        let grant = grant_client(cx);
        let meta = if token.starts_with("pat-") {
            let req = ApiRequest::post(cx.url("/oauth/v2/private-apps/get/access-token-info"))
                .json(&serde_json::json!({ "tokenKey": token }));
            cx.send(req).await?
        } else if let Some((client_id, client_secret)) = &grant {
            let form = [
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose_secret()),
                ("token", token),
                ("token_type_hint", "access_token"),
            ];
            cx.send(ApiRequest::post(cx.url(INTROSPECT)).form(&form).no_auth()).await?
        } else {
            let mut url = cx.url("/oauth/v1/access-tokens");
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.push(token);
            }
            let meta = cx.send(ApiRequest::get(url).no_auth().log_as("/oauth/v1/access-tokens/<secret>")).await?;
            if let Some(f) = v1_retired(&meta) {
                return Err(f);
            }
            meta
        };
        if !meta.is_success() {
            return Err(classify(&meta));
        }
        let info = json_body(cx, &meta)?;
        if grant.is_some() && info.get("active").and_then(Value::as_bool) == Some(false) {
            return Err(fail(Reason::Unauthorized, "HubSpot introspection says the access token is not active"));
        }
        match info.get("scopes").and_then(string_array) {
            Some(scopes) => cx.findings.granted_scopes = Some(scopes),
            None if token.starts_with("pat-") => {
                tracing::debug!(body = %cx.preview(&meta.body), "private-app token info without scopes[]");
            }
            None => return Err(unexpected(cx, &meta, "token metadata answered without scopes[]")),
        }
        if let Some(domain) = text(&info, "/hub_domain") {
            cx.findings.identity = Some(domain.to_string());
        }
        if static_secret(&cx.integration().auth) && !token.starts_with("pat-") {
            cx.findings.expiry = info.get("expires_in").and_then(in_seconds);
        }
        Ok(())
    }
}

/// HubSpot's retirement of the v1 OAuth endpoints, for messages.
const SUNSET: &str = "HubSpot retires on 16 February 2027 (changelog: v1 OAuth API deprecation)";

/// The date-versioned introspection endpoint that replaces v1 token metadata.
const INTROSPECT: &str = "/oauth/2026-03/token/introspect";

/// The refresh grant's client id and secret, which introspection needs; `None` for a bearer
/// token (no client secret is configured) or a public client.
fn grant_client(cx: &ProbeContext<'_>) -> Option<(String, secrecy::SecretString)> {
    let Auth::OAuth2RefreshToken { client_id, client_secret: Some(secret), .. } = &cx.integration().auth else {
        return None;
    };
    let id = crate::config::secret::expand_env(client_id).ok()?;
    Some((id, secret.resolve("client_secret").ok()?))
}

/// The v1 token-metadata answer once HubSpot has retired it: a 404/405/410, or any failure that
/// is not an auth, rate-limit or outage error, is `unexpected_response` naming the sunset.
fn v1_retired(meta: &ApiResponse) -> Option<Failure> {
    if meta.is_success() {
        return None;
    }
    let failure = classify(meta);
    let gone = matches!(meta.status, 404 | 405 | 410) || failure.reason == Reason::UnexpectedResponse;
    gone.then(|| {
        fail(
            Reason::UnexpectedResponse,
            format!(
                "HubSpot's v1 token metadata (GET /oauth/v1/access-tokens) answered HTTP {}: {SUNSET}. Configure \
                 oauth2_refresh_token (client_id, client_secret, refresh_token) so the exporter uses {INTROSPECT}",
                meta.status
            ),
        )
    })
}

/// The tighter of HubSpot's 10-second and daily windows.
fn hubspot_rate_limit(resp: &ApiResponse) -> Option<RateLimit> {
    let window = ratelimit::from_pair(&resp.headers, "x-hubspot-ratelimit-remaining", "x-hubspot-ratelimit-max");
    let daily = ratelimit::from_pair(&resp.headers, "x-hubspot-ratelimit-daily-remaining", "x-hubspot-ratelimit-daily");
    match (window, daily) {
        (Some(w), Some(d)) => Some(if d.fraction_left() < w.fraction_left() { d } else { w }),
        (w, d) => w.or(d),
    }
}

/// HubSpot's `category` (matched case-insensitively); a 401 without one that still says the
/// token expired.
static ERRORS: ErrorTable = ErrorTable {
    label: "HubSpot",
    code_at: "/category",
    message_at: "/message",
    codes: &[
        row_says("expired_authentication", Reason::TokenExpired, "HubSpot: {message}"),
        row_says("invalid_authentication", Reason::Unauthorized, "HubSpot: {message}"),
    ],
    statuses: &[status_if_says(401, "expired", Reason::TokenExpired, "HubSpot: {message}")],
    reset_header: None,
};

/// The table, with the two categories whose detail names more than the message.
fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    match code(&json, "/category").as_str() {
        "missing_scopes" => {
            let needed = required_scopes(&json);
            let named = if needed.is_empty() { "(HubSpot did not name it)".to_string() } else { needed.join(", ") };
            fail(Reason::ScopeMissing, format!("Missing scope {named} (HubSpot MISSING_SCOPES)"))
        }
        "rate_limits" => {
            let policy = text(&json, "/policyName").unwrap_or("");
            fail(Reason::RateLimited, format!("HubSpot rate limit {policy} reached"))
        }
        _ => ERRORS.classify(resp),
    }
}

/// The scopes a MISSING_SCOPES error names: `requiredScopes` or `requiredGranularScopes`, in the
/// top-level `context` or in each `errors[].context` (HubSpot's generated `Error`/`ErrorDetail`).
fn required_scopes(json: &Value) -> Vec<String> {
    let contexts = std::iter::once(json.get("context"))
        .chain(json.get("errors").and_then(Value::as_array).into_iter().flatten().map(|e| e.get("context")))
        .flatten();
    let mut needed: Vec<String> = Vec::new();
    for ctx in contexts {
        for key in ["requiredScopes", "requiredGranularScopes"] {
            for scope in ctx.get(key).and_then(string_array).unwrap_or_default() {
                if !needed.contains(&scope) {
                    needed.push(scope);
                }
            }
        }
    }
    needed
}
