//! Notion (`https://api.notion.com`).
//!
//! Check: `GET /v1/users/me` with `Notion-Version: 2025-09-03` (the version the official
//! OpenAPI file and SDK default to) → the integration's bot user `{object:"user", id, name,
//! type:"bot", bot:{workspace_name,…}}` (makenotion/notion-mcp-server `notion-openapi.json`,
//! notion-sdk-js; <https://developers.notion.com/reference/get-self>). Identity:
//! `bot.workspace_name`, else `name`.
//!
//! Errors `{"object":"error","status","code","message"}` (notion-sdk-js `APIErrorCode`,
//! <https://developers.notion.com/reference/status-codes>): `unauthorized` → `unauthorized`
//! (no separate expired code), `restricted_resource` → `scope_missing` (a capability is
//! missing), `object_not_found` → `forbidden` (not shared with the integration),
//! `rate_limited` → `rate_limited` (`Retry-After`), `conflict_error`, `internal_server_error`,
//! `service_overload`, `service_unavailable`, `gateway_timeout` → `provider_unavailable` (any
//! 409 is transient). Codes match case-insensitively; the request-shape codes (`invalid_json`,
//! `invalid_request_url`, `invalid_request`, `invalid_beta`, `validation_error`, and the 400
//! `missing_version`) and HTML or empty bodies are classified by status (400 →
//! `unexpected_response`, 5xx → `provider_unavailable`).
//!
//! A refresh returns a new access and refresh token
//! (<https://developers.notion.com/reference/refresh-a-token>); Nango documents `invalid_grant`
//! after reusing a rotated one, so `oauth2_refresh_token` is refused. Cannot be known:
//! capabilities (introspection needs the client secret and reports only `scope`/`iat` for public
//! integrations), expiry (internal secrets do not expire), quota (no rate-limit headers).

use super::common::basics;
use super::common::{by_status, code, fail, first_text, json_body, short, text, unexpected};
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;

/// The Notion preset.
#[derive(Debug)]
pub struct Notion;

#[async_trait]
impl Provider for Notion {
    basics!(
        "notion",
        base: Some("https://api.notion.com"),
        auth: [Bearer],
        token_url: "https://api.notion.com/v1/oauth/token",
    );

    fn token_client_auth(&self) -> super::ClientAuth {
        super::ClientAuth::Basic
    }

    fn refresh_token_rotation(&self) -> Option<&'static str> {
        Some("a Notion refresh returns a new refresh token and the old one stops working.")
    }

    fn scopes_knowable(&self, _auth: &Auth) -> Result<(), &'static str> {
        Err("Notion capabilities are set on the integration and not reported to a token holder")
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let req = ApiRequest::get(cx.url("/v1/users/me")).main().header("notion-version", "2025-09-03");
        let resp = cx.send(req).await?;
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        if text(&body, "/object") != Some("user") || body.get("id").is_none() {
            return Err(unexpected(cx, &resp, "users/me did not answer a user object"));
        }
        cx.findings.identity = first_text(&body, &["/bot/workspace_name", "/name"]);
        Ok(())
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let code = code(&json, "/code");
    let reason = match code.as_str() {
        "unauthorized" => Reason::Unauthorized,
        "restricted_resource" => Reason::ScopeMissing,
        "object_not_found" => Reason::Forbidden,
        "rate_limited" => Reason::RateLimited,
        "conflict_error" | "internal_server_error" | "service_overload" | "service_unavailable" | "gateway_timeout" => {
            Reason::ProviderUnavailable
        }
        // 409 is transient whatever the body says (status-codes page).
        _ if resp.status == 409 => Reason::ProviderUnavailable,
        _ => return by_status(resp),
    };
    let code = if code.is_empty() { format!("HTTP {}", resp.status) } else { code };
    fail(reason, format!("Notion {code}: {}", short(text(&json, "/message").unwrap_or(""))))
}
