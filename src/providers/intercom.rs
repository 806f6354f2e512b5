//! Intercom (`https://api.intercom.io`; regional `https://api.eu.intercom.io`,
//! `https://api.au.intercom.io`).
//!
//! Check: `GET /me` → the admin behind the token, `{type:"admin", id, name, app{name,…}}`
//! (intercom/Intercom-OpenAPI 2.16 `admin_with_app`;
//! <https://developers.intercom.com/docs/references/rest-api/api.intercom.io/admins/identifyadmin>).
//! Identity: the workspace (`app.name`).
//!
//! Errors: `{"type":"error.list","errors":[{"code","message"}]}`
//! (<https://developers.intercom.com/docs/references/rest-api/errors/error-codes>): `token_expired`
//! → `token_expired`; `token_revoked`/`token_blocked` → `credential_revoked`; `unauthorized`,
//! `token_not_found`, `missing_authorization` → `unauthorized`; `token_unauthorized` →
//! `scope_missing` (the app lacks a permission); `forbidden`/`action_forbidden` →
//! `forbidden`, except the spec's 403 `forbidden` "You do not have the required scope (X) …",
//! which is `scope_missing`; `api_plan_restricted` ("Active subscription needed.") →
//! `account_suspended`; `rate_limit_exceeded` → `rate_limited`; `server_error`/
//! `service_unavailable` → `provider_unavailable`. Codes match case-insensitively; a body
//! without a known code (HTML, empty) is classified by status. Rate
//! limit: `X-RateLimit-*` with an epoch `X-RateLimit-Reset`.
//!
//! Cannot be known: the app's permissions (set in the Developer Hub, no API) and any expiry
//! (access tokens are long-lived; no refresh token exists).

use super::runner::{self, row, row_if, CheckSpec, ErrorTable, ExpirySource, ScopeSource};
use super::{BaseUrl, Description, Provider, ProviderRules, ScopesKnown};
use crate::config::AuthType;
use crate::probe::{Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use http::Method;
use serde_json::Value;

/// The Intercom preset.
#[derive(Debug)]
pub struct Intercom;

/// Intercom as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "intercom",
        base_url: BaseUrl::Default("https://api.intercom.io"),
        auth_types: &[AuthType::Bearer],
        scopes: ScopesKnown::Never("Intercom does not expose an app's permissions through its API"),
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

/// The whole check: `GET /me`, its error codes, its shape and identity.
static CHECK: CheckSpec = CheckSpec {
    method: Method::GET,
    path: "/me",
    headers: &[("accept", "application/json")],
    errors: ErrorTable {
        label: "Intercom",
        code_at: "/errors/0/code",
        message_at: "/errors/0/message",
        codes: &[
            row("token_expired", Reason::TokenExpired),
            row("token_revoked", Reason::CredentialRevoked),
            row("token_blocked", Reason::CredentialRevoked),
            row("unauthorized", Reason::Unauthorized),
            row("token_not_found", Reason::Unauthorized),
            row("missing_authorization", Reason::Unauthorized),
            row("token_unauthorized", Reason::ScopeMissing),
            // The spec's 403 `forbidden` examples include "You do not have the required scope
            // (read_conversations) to access this resource": scope detail.
            row_if("forbidden", "required scope", Reason::ScopeMissing),
            row_if("action_forbidden", "required scope", Reason::ScopeMissing),
            row("forbidden", Reason::Forbidden),
            row("action_forbidden", Reason::Forbidden),
            row("api_plan_restricted", Reason::AccountSuspended),
            row("rate_limit_exceeded", Reason::RateLimited),
            row("server_error", Reason::ProviderUnavailable),
            row("service_unavailable", Reason::ProviderUnavailable),
        ],
        statuses: &[],
        reset_header: Some("x-ratelimit-reset"),
    },
    shape: is_admin,
    shape_error: "GET /me did not answer an admin object",
    identity: &["/app/name", "/app/id_code", "/name"],
    account_id: &[],
    scopes: ScopeSource::None,
    expiry: ExpirySource::None,
};

/// `admin_with_app` requires no field: an object that says it is an admin, or carries an id
/// and says nothing else, is one.
fn is_admin(body: &Value) -> bool {
    let admin = match body.get("type").and_then(Value::as_str) {
        Some(t) => t.eq_ignore_ascii_case("admin"),
        None => body.get("id").is_some(),
    };
    body.is_object() && admin
}

#[async_trait]
impl Provider for Intercom {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        runner::run(cx, &CHECK).await.map(drop)
    }
}
