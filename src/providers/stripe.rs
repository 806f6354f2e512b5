//! Stripe (`https://api.stripe.com`).
//!
//! Check: `GET /v1/account` (identity: dashboard display name, business name, email or id). A
//! restricted key (`rk_…`) may lack the account permission: on 403 the check tries
//! `GET /v1/balance` once before calling the key short of permissions. Shapes from
//! stripe/openapi (`account` requires `id`, `object`; `balance` requires `object`,
//! `available`, `pending`, `livemode`): <https://docs.stripe.com/api/accounts/retrieve>,
//! <https://docs.stripe.com/api/balance/balance_retrieve>.
//!
//! The key goes as `Authorization: Bearer` (<https://docs.stripe.com/api/authentication>); Stripe's
//! Basic form puts the key in the user name, which the config does not treat as a secret.
//!
//! Errors (<https://docs.stripe.com/error-codes>, stripe-go `error.go`): the JSON `type` is
//! `invalid_request_error` for auth failures too, so the status and `code` decide — code
//! `api_key_expired`/`platform_api_key_expired` is `token_expired`, any other 401 is
//! `unauthorized` (invalid, deleted or rolled key), 403 is a restricted key lacking a
//! permission (named in the message, e.g. `rak_balance_read`), 429 or code `rate_limit` is
//! `rate_limited` (<https://docs.stripe.com/rate-limits>).
//!
//! Cannot be known: a restricted key's permissions (no API lists them), an API key's expiry
//! (set in the Dashboard, never sent), and quota headroom (Stripe sends no rate-limit headers).

use super::common::basics;
use super::common::{by_status, fail, first_text, json_body, short, text, unexpected};
use super::Provider;
use crate::config::Auth;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;

/// The Stripe preset.
#[derive(Debug)]
pub struct Stripe;

#[async_trait]
impl Provider for Stripe {
    // Basic would need the key as the user name, which the config treats as not secret.
    basics!(
        "stripe",
        base: Some("https://api.stripe.com"),
        auth: [Bearer],
    );

    fn scopes_knowable(&self, _auth: &Auth) -> Result<(), &'static str> {
        Err("Stripe API keys carry no readable scope list: restricted-key permissions are not exposed by any API")
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/v1/account")).main()).await?;
        if resp.is_success() {
            let body = json_body(cx, &resp)?;
            if text(&body, "/object") != Some("account") || text(&body, "/id").is_none() {
                return Err(unexpected(cx, &resp, "GET /v1/account did not answer an account object"));
            }
            cx.findings.identity =
                first_text(&body, &["/settings/dashboard/display_name", "/business_profile/name", "/email", "/id"]);
            return Ok(());
        }
        if resp.status == 403 {
            // A restricted key without the account permission may still read the balance.
            let bal = cx.send(ApiRequest::get(cx.url("/v1/balance")).main()).await?;
            if bal.is_success() {
                let body = json_body(cx, &bal)?;
                if text(&body, "/object") != Some("balance") {
                    return Err(unexpected(cx, &bal, "GET /v1/balance did not answer a balance object"));
                }
                return Ok(());
            }
            return Err(classify(&bal));
        }
        Err(classify(&resp))
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let code = text(&json, "/error/code").unwrap_or("");
    let message = text(&json, "/error/message").unwrap_or("");
    match (resp.status, code) {
        (_, "api_key_expired" | "platform_api_key_expired") => {
            fail(Reason::TokenExpired, "Stripe says the API key expired (api_key_expired): roll a new key")
        }
        (401, _) => fail(Reason::Unauthorized, format!("Stripe rejected the API key: {}", short(message))),
        (403, _) => {
            let permission = message.split('\'').find(|p| p.starts_with("rak_")).unwrap_or("");
            if permission.is_empty() {
                fail(Reason::Forbidden, format!("Stripe denied the request: {}", short(message)))
            } else {
                fail(Reason::ScopeMissing, format!("the restricted key lacks the {permission} permission"))
            }
        }
        (429, _) | (_, "rate_limit") => fail(Reason::RateLimited, "Stripe rate limited the request (rate_limit)"),
        _ => by_status(resp),
    }
}
