//! Slack Web API (`https://slack.com/api`).
//!
//! Check: `POST /auth.test` (needs no scope; its own rate tier). Slack answers errors with
//! HTTP 200 and `{"ok":false,"error":CODE}`; only rate limiting is a real 429 with
//! `Retry-After` (<https://docs.slack.dev/reference/methods/auth.test>,
//! <https://docs.slack.dev/apis/web-api/rate-limits>). Success shape from slackapi/slack-api-specs
//! (`ok`, `url`, `team`, `user`, `team_id`, `user_id`); identity is `team`, else `team_id`. Error codes
//! are matched case-insensitively; a non-JSON error page (proxy 502) is classified by status.
//!
//! Scopes: the `x-oauth-scopes` response header, comma separated (node-slack-sdk splits it the
//! same way). Expiry: node-slack-sdk's `AuthTestResponse` declares an optional `expires_in` for
//! rotating tokens; Slack's reference does not define it, so it is read, when present, as the
//! seconds left on the configured token (unverified; no official description found).
//!
//! Refresh tokens rotate (<https://docs.slack.dev/authentication/using-token-rotation>), so
//! `oauth2_refresh_token` is refused. Cannot be known: Slack sends no quota headers.

use super::common::{by_status, code, fail, first_text, in_seconds, json_body, static_secret, text, unexpected};
use super::http::split_scopes;
use super::{BaseUrl, Description, Provider, ProviderRules};
use crate::config::AuthType;
use crate::probe::{ApiRequest, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use serde_json::Value;

/// The Slack preset.
#[derive(Debug)]
pub struct Slack;

/// Slack as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "slack",
        base_url: BaseUrl::Default("https://slack.com/api"),
        auth_types: &[AuthType::Bearer],
        refresh_token_rotation: Some(
            "with token rotation every Slack refresh returns a new refresh token and revokes the previous one.",
        ),
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

#[async_trait]
impl Provider for Slack {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::post(cx.url("/auth.test")).main()).await?;
        if resp.status == 429 {
            return Err(fail(Reason::RateLimited, "Slack rate limited auth.test (HTTP 429)"));
        }
        if !resp.is_success() {
            return Err(by_status(&resp));
        }
        let body = json_body(cx, &resp)?;
        match body.get("ok").and_then(Value::as_bool) {
            Some(true) => {}
            Some(false) => return Err(slack_error(&body)),
            None => return Err(unexpected(cx, &resp, "auth.test answered without ok")),
        }
        // `team`, `team_id`, `user_id` are required by the spec; only the identity depends on them.
        if body.get("team_id").is_none() && body.get("user_id").is_none() {
            return Err(unexpected(cx, &resp, "auth.test answered ok without team_id or user_id"));
        }
        cx.findings.identity = first_text(&body, &["/team", "/team_id"]);
        cx.findings.account_id = first_text(&body, &["/team_id"]);
        if let Some(scopes) = resp.header("x-oauth-scopes") {
            cx.findings.granted_scopes = Some(split_scopes(scopes, ","));
        }
        if static_secret(&cx.integration().auth) {
            if let Some(at) = body.get("expires_in").and_then(in_seconds) {
                cx.findings.expiry = Some(at);
            }
        }
        Ok(())
    }
}

/// Maps an `ok:false` error code to a reason (case-insensitively). The codes are auth.test's own
/// (slackapi/slack-api-specs `auth_test` default response: `not_authed`, `invalid_auth`,
/// `token_revoked`, `account_inactive`, the malformed-request family, `request_timeout`,
/// `upgrade_required`) plus the errors every method page lists
/// (<https://docs.slack.dev/reference/methods/auth.test>, "Errors").
pub fn slack_error(body: &Value) -> Failure {
    let code = code(body, "/error");
    let reason = match code.as_str() {
        "token_expired" => Reason::TokenExpired,
        "token_revoked" | "account_inactive" => Reason::CredentialRevoked,
        "invalid_auth" | "not_authed" => Reason::Unauthorized,
        "missing_scope" => {
            let needed = text(body, "/needed").unwrap_or("?");
            return fail(Reason::ScopeMissing, format!("Missing scope {needed} (Slack missing_scope)"));
        }
        // Authenticated, but this token or user may not call the method.
        "no_permission"
        | "ekm_access_denied"
        | "access_denied"
        | "accesslimited"
        | "team_access_not_granted"
        | "not_allowed_token_type"
        | "enterprise_is_restricted"
        | "two_factor_setup_required" => Reason::Forbidden,
        // The workspace is being migrated into an Enterprise organisation and is unavailable.
        "org_login_required" | "team_added_to_org" => Reason::AccountSuspended,
        "ratelimited" | "rate_limited" => Reason::RateLimited,
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => Reason::ProviderUnavailable,
        "invalid_arg_name"
        | "invalid_array_arg"
        | "invalid_arguments"
        | "invalid_charset"
        | "invalid_form_data"
        | "invalid_post_type"
        | "missing_post_type"
        | "invalid_json"
        | "json_not_object"
        | "upgrade_required"
        | "deprecated_endpoint"
        | "method_deprecated" => {
            return fail(Reason::UnexpectedResponse, format!("auth.test refused the request itself ({code})"))
        }
        _ => return fail(Reason::UnexpectedResponse, format!("auth.test failed with unknown error code {code:?}")),
    };
    fail(reason, format!("auth.test: {code}"))
}
