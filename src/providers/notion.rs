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

use super::runner::{self, row, status, CheckSpec, ErrorTable, ExpirySource, ScopeSource};
use super::{BaseUrl, Description, Provider, ProviderRules, ScopesKnown};
use crate::config::AuthType;
use crate::probe::{Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use http::Method;
use serde_json::Value;

/// The Notion preset.
#[derive(Debug)]
pub struct Notion;

/// Notion as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "notion",
        base_url: BaseUrl::Default("https://api.notion.com"),
        auth_types: &[AuthType::Bearer],
        refresh_token_rotation: Some("a Notion refresh returns a new refresh token and the old one stops working."),
        scopes: ScopesKnown::Never("Notion capabilities are set on the integration and not reported to a token holder"),
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

/// The whole check: `GET /v1/users/me`, its error codes, its shape and identity.
static CHECK: CheckSpec = CheckSpec {
    method: Method::GET,
    path: "/v1/users/me",
    headers: &[("notion-version", "2025-09-03")],
    errors: ErrorTable {
        label: "Notion",
        code_at: "/code",
        message_at: "/message",
        codes: &[
            row("unauthorized", Reason::Unauthorized),
            row("restricted_resource", Reason::ScopeMissing),
            row("object_not_found", Reason::Forbidden),
            row("rate_limited", Reason::RateLimited),
            row("conflict_error", Reason::ProviderUnavailable),
            row("internal_server_error", Reason::ProviderUnavailable),
            row("service_overload", Reason::ProviderUnavailable),
            row("service_unavailable", Reason::ProviderUnavailable),
            row("gateway_timeout", Reason::ProviderUnavailable),
        ],
        // 409 is transient whatever the body says (status-codes page).
        statuses: &[status(409, Reason::ProviderUnavailable)],
        reset_header: None,
    },
    shape: is_user,
    shape_error: "users/me did not answer a user object",
    identity: &["/bot/workspace_name", "/name"],
    account_id: &[],
    scopes: ScopeSource::None,
    expiry: ExpirySource::None,
};

fn is_user(body: &Value) -> bool {
    body.get("object").and_then(Value::as_str) == Some("user") && body.get("id").is_some()
}

#[async_trait]
impl Provider for Notion {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        runner::run(cx, &CHECK).await.map(drop)
    }
}
