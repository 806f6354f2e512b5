//! Slack Web API (`https://slack.com/api`).
//!
//! Check: `POST /auth.test` (needs no scope; its own rate tier). Slack answers errors with
//! HTTP 200 and `{"ok":false,"error":CODE}`; only rate limiting is a real 429 with
//! `Retry-After` (<https://docs.slack.dev/reference/methods/auth.test>,
//! <https://docs.slack.dev/apis/web-api/rate-limits>). Success shape from slackapi/slack-api-specs
//! (`ok`, `url`, `team`, `user`, `team_id`, `user_id`); identity is `team`.
//!
//! Scopes: the `x-oauth-scopes` response header, comma separated (node-slack-sdk splits it the
//! same way). Expiry: node-slack-sdk's `AuthTestResponse` declares an optional `expires_in` for
//! rotating tokens; Slack's reference does not define it, so it is read, when present, as the
//! seconds left on the configured token (unverified; no official description found).
//!
//! Refresh tokens rotate (<https://docs.slack.dev/authentication/using-token-rotation>), so
//! `oauth2_refresh_token` is refused. Cannot be known: Slack sends no quota headers.

use super::common::basics;
use super::common::{by_status, fail, in_seconds, json_body, static_secret, text, unexpected};
use super::http::split_scopes;
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use serde_json::Value;

/// The Slack preset.
#[derive(Debug)]
pub struct Slack;

#[async_trait]
impl Provider for Slack {
    basics!(
        "slack",
        base: Some("https://slack.com/api"),
        auth: [Bearer],
        token_url: "https://slack.com/api/oauth.v2.access",
    );

    fn refresh_token_rotation(&self) -> Option<&'static str> {
        Some("with token rotation every Slack refresh returns a new refresh token and revokes the previous one.")
    }

    fn scopes_knowable(&self, _auth: &Auth) -> Result<(), &'static str> {
        Ok(())
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
        let Some(team) = text(&body, "/team").filter(|_| body.get("team_id").is_some()) else {
            return Err(unexpected(cx, &resp, "auth.test answered ok without team and team_id"));
        };
        cx.findings.identity = Some(team.to_string());
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

/// Maps an `ok:false` error code to a reason.
pub fn slack_error(body: &Value) -> Failure {
    let code = text(body, "/error").unwrap_or("");
    let reason = match code {
        "token_expired" => Reason::TokenExpired,
        "token_revoked" | "account_inactive" => Reason::CredentialRevoked,
        "invalid_auth" | "not_authed" | "org_login_required" | "two_factor_setup_required" => Reason::Unauthorized,
        "missing_scope" => {
            let needed = text(body, "/needed").unwrap_or("?");
            return fail(Reason::ScopeMissing, format!("Missing scope {needed} (Slack missing_scope)"));
        }
        "no_permission" | "ekm_access_denied" | "access_denied" | "team_access_not_granted" => Reason::Forbidden,
        "ratelimited" => Reason::RateLimited,
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => Reason::ProviderUnavailable,
        _ => return fail(Reason::UnexpectedResponse, format!("auth.test failed with unknown error code {code:?}")),
    };
    fail(reason, format!("auth.test: {code}"))
}
