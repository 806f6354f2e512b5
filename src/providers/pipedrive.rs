//! Pipedrive (`https://api.pipedrive.com/v1`; OAuth apps use the token response's
//! `api_domain` + `/api/v1`).
//!
//! Check: `GET /users/me` → `{"success":true,"data":{id, name, company_name, …}}` (pipedrive/client-nodejs,
//! generated from Pipedrive's OpenAPI; <https://developers.pipedrive.com/docs/api/v1/Users#getCurrentUser>).
//! Identity: `company_name`. API tokens go in the `x-api-token` header (auth type `header`);
//! OAuth tokens as bearer; the token endpoint takes client credentials by HTTP Basic.
//!
//! Scopes: only the OAuth token response's `scope`, so only knowable when the exporter runs the
//! refresh grant. Rate limit: Pipedrive's `x-ratelimit-limit`/`-remaining` describe a 2-second
//! burst window per token, and the daily limit is a token budget (30 000 base tokens × plan
//! multiplier × seats, each request costing tokens by its kind) for which Pipedrive documents no
//! remaining/limit headers; `x-daily-requests-left` counts only POST/PUT requests of API-token
//! auth and comes without its limit (<https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting>).
//! So quota headroom is left unknown (no `rate_limit_low` from a burst window the probe itself
//! half-used); a 429 is `rate_limited` and the next probe waits `x-ratelimit-reset` seconds.
//! Errors (<https://pipedrive.readme.io/docs/core-api-concepts-http-status-codes>): 401 →
//! `unauthorized`, 402 "Company account is not open (possible reason: trial expired, payment
//! details not entered)" → `account_suspended`, 403 → `forbidden`, 429 → `rate_limited`, 5xx
//! (503 "Scheduled maintenance") → `provider_unavailable`, whatever the body (HTML, empty). A 200
//! with `success: false` (<https://pipedrive.readme.io/docs/core-api-concepts-responses>) is
//! classified by its `errorCode`, else `unexpected_response`.
//!
//! Cannot be known: an API token's rights (full user rights, no scopes), any expiry of an API
//! token or a bare access token, and the daily token budget's headroom.

use super::common::{first_text, json_body, unexpected, NO_SCOPES_USER_TOKEN};
use super::runner::{status_says, ErrorTable};
use super::{BaseUrl, ClientAuth, Description, Provider, ProviderRules, ScopesKnown};
use crate::config::AuthType;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use std::time::Duration;

/// The Pipedrive preset.
#[derive(Debug)]
pub struct Pipedrive;

/// Pipedrive as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "pipedrive",
        base_url: BaseUrl::Default("https://api.pipedrive.com/v1"),
        auth_types: &[AuthType::Header, AuthType::Bearer, AuthType::OAuth2RefreshToken],
        token_url: Some("https://oauth.pipedrive.com/oauth/token"),
        scopes: ScopesKnown::OnlyWithGrant(NO_SCOPES_USER_TOKEN),
        ..ProviderRules::PRESET
    },
    client_auth: ClientAuth::Basic,
    ..Description::PRESET
};

#[async_trait]
impl Provider for Pipedrive {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/users/me")).main()).await?;
        // The generic x-ratelimit-* reading describes the 2-second burst window, not the daily
        // budget: headroom stays unknown rather than warning about a window that refills in 2 s.
        cx.findings.rate_limit = None;
        if !resp.is_success() {
            if resp.status == 429 && cx.findings.retry_after.is_none() {
                if let Some(secs) = resp.header("x-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok()) {
                    cx.findings.retry_after = Some(Duration::from_secs(secs));
                }
            }
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        if body.get("success").and_then(|s| s.as_bool()) == Some(false) {
            // "Upon success being false, an optional error parameter may be given"; classified
            // like the status it names (`errorCode`), else as not the documented success.
            return Err(match body.get("errorCode").and_then(|c| c.as_u64()).filter(|c| (400..600).contains(c)) {
                Some(status) => classify(&ApiResponse { status: status as u16, ..resp.clone() }),
                None => unexpected(cx, &resp, "users/me answered success: false"),
            });
        }
        // `success` is optional in the generated BaseResponse; `data.id` identifies the user.
        if body.pointer("/data/id").is_none() {
            return Err(unexpected(cx, &resp, "users/me answered without data.id"));
        }
        cx.findings.identity = first_text(&body, &["/data/company_name", "/data/company_domain"]);
        Ok(())
    }
}

/// Pipedrive sends no error code: its answers are told apart by status.
static ERRORS: ErrorTable = ErrorTable {
    label: "Pipedrive",
    code_at: "",
    message_at: "/error",
    codes: &[],
    statuses: &[
        status_says(401, Reason::Unauthorized, "Pipedrive: {message}"),
        status_says(
            402,
            Reason::AccountSuspended,
            "Pipedrive: the company account is not open (trial expired or payment missing) {message}",
        ),
        status_says(403, Reason::Forbidden, "Pipedrive: {message}"),
        status_says(429, Reason::RateLimited, "Pipedrive rate limited the request (429)"),
    ],
    reset_header: None,
};

fn classify(resp: &ApiResponse) -> Failure {
    ERRORS.classify(resp)
}
