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

use super::common::basics;
use super::common::{
    by_status, code, fail, first_text, json_body, mentions, retry_after_epoch, short, text, unexpected,
};
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;

/// The Intercom preset.
#[derive(Debug)]
pub struct Intercom;

#[async_trait]
impl Provider for Intercom {
    basics!(
        "intercom",
        base: Some("https://api.intercom.io"),
        auth: [Bearer],
    );

    fn scopes_knowable(&self, _auth: &Auth) -> Result<(), &'static str> {
        Err("Intercom does not expose an app's permissions through its API")
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/me")).main().header("accept", "application/json")).await?;
        if !resp.is_success() {
            let failure = classify(&resp);
            if failure.reason == Reason::RateLimited && cx.findings.retry_after.is_none() {
                retry_after_epoch(cx, &resp, "x-ratelimit-reset");
            }
            return Err(failure);
        }
        let body = json_body(cx, &resp)?;
        // `admin_with_app` requires no field: an object that says it is an admin, or carries an
        // id and says nothing else, is one.
        let admin = match text(&body, "/type") {
            Some(t) => t.eq_ignore_ascii_case("admin"),
            None => body.get("id").is_some(),
        };
        if !body.is_object() || !admin {
            return Err(unexpected(cx, &resp, "GET /me did not answer an admin object"));
        }
        cx.findings.identity = first_text(&body, &["/app/name", "/app/id_code", "/name"]);
        Ok(())
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let code = code(&json, "/errors/0/code");
    let message = short(text(&json, "/errors/0/message").unwrap_or(""));
    let reason = match code.as_str() {
        "token_expired" => Reason::TokenExpired,
        "token_revoked" | "token_blocked" => Reason::CredentialRevoked,
        "unauthorized" | "token_not_found" | "missing_authorization" => Reason::Unauthorized,
        "token_unauthorized" => Reason::ScopeMissing,
        // The spec's 403 `forbidden` examples include "You do not have the required scope
        // (read_conversations) to access this resource": scope detail.
        "forbidden" | "action_forbidden" if mentions(&message, "required scope") => Reason::ScopeMissing,
        "forbidden" | "action_forbidden" => Reason::Forbidden,
        "api_plan_restricted" => Reason::AccountSuspended,
        "rate_limit_exceeded" => Reason::RateLimited,
        "server_error" | "service_unavailable" => Reason::ProviderUnavailable,
        _ => return by_status(resp),
    };
    fail(reason, format!("Intercom {code}: {message}"))
}
