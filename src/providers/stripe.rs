//! Stripe (`https://api.stripe.com`).
//!
//! Check: with `resource:` set (a restricted key's sync reads, e.g. `customers`), `GET
//! /v1/<resource>?limit=1` — one of a short list of read-only list endpoints, each answering a
//! `list` object (<https://docs.stripe.com/api/pagination>) — and a 403 there names the missing
//! `rak_…` permission (`scope_missing`): that is the permission the integration needs. Without
//! it, `GET /v1/account` (identity: dashboard display name, business name, email or id); a
//! restricted key (`rk_…`) may lack the account permission, so on 403 the check tries
//! `GET /v1/balance` once; a 403 on both is `optional_scope_missing` (warning) saying the key's
//! permissions cannot be verified and to set `resource:`, not a credential error — Stripe keys are
//! commonly restricted to what a sync reads (<https://docs.stripe.com/keys#limit-access>), and
//! neither the account nor the balance permission is needed for that. Shapes from
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
//! Codes are matched case-insensitively; `lock_timeout` (object contention, "retry the request";
//! a 429, as the SDKs' lock-timeout retries show: stripe/stripe-php#718) is `rate_limited` whatever
//! the status, `secret_key_required` (a publishable key) is `unauthorized`, and 400 with
//! code `rate_limit` is `rate_limited` as stripe-node maps it. Any other status, including HTML or
//! empty bodies, is classified by status (5xx `api_error` → `provider_unavailable`).
//!
//! Decision — 403 for a restricted key: SPEC §5 says `forbidden` is "authenticated but denied (403
//! without scope detail)"; Stripe's 403 names the permission that would allow the call ("Having
//! the 'rak_balance_read' permission would allow this request to continue"), which is scope
//! detail, so a 403 naming a `rak_…` permission is `scope_missing` (the permission in the detail)
//! and a 403 naming none is `forbidden`.
//!
//! Account state: `requirements.disabled_reason` is an enum in stripe/openapi (`account`);
//! only its `rejected.*` values (fraud, terms of service, listed, incomplete verification, other,
//! platform_*) mean Stripe closed the account, so those are `account_suspended`.
//! `charges_enabled`/`details_submitted` false and the other reasons (`requirements.past_due`,
//! `under_review`, `platform_paused`, …) are onboarding or review states the owner resolves in the
//! Dashboard, not a dead connection, and stay healthy.
//!
//! Cannot be known: a restricted key's permissions (no API lists them), an API key's expiry
//! (set in the Dashboard, never sent), and quota headroom (Stripe sends no rate-limit headers).

use super::common::{fail, json_body, text, unexpected};
use super::runner::{self, late_says, row_says, status_quoting, status_says, CheckSpec, ErrorTable};
use super::runner::{ExpirySource, ScopeSource};
use super::{BaseUrl, Description, Provider, ProviderRules, Refusal, RefusedKey, ScopesKnown};
use crate::config::AuthType;
use crate::config::IntegrationConfig;
use crate::probe::{Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use http::Method;
use serde_json::Value;

/// The Stripe preset.
#[derive(Debug)]
pub struct Stripe;

/// Stripe as data. Basic would need the key as the user name, which the config treats as not
/// secret, so only bearer.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "stripe",
        base_url: BaseUrl::Default("https://api.stripe.com"),
        auth_types: &[AuthType::Bearer],
        scopes: ScopesKnown::Never(
            "Stripe API keys carry no readable scope list: restricted-key permissions are not exposed by any API",
        ),
        uses_options: &[RefusedKey::Resource],
        validate,
        ..ProviderRules::PRESET
    },
    ..Description::PRESET
};

/// A `resource:` must be one the check knows.
fn validate(integration: &IntegrationConfig) -> Result<Vec<String>, Refusal> {
    match integration.options.resource.as_deref() {
        Some(r) if !RESOURCES.contains(&r) => Err(Refusal::new(
            RefusedKey::Resource,
            format!(
                "resource: {r:?} is not one of the read-only Stripe resources the check knows: {}",
                RESOURCES.join(", ")
            ),
        )),
        _ => Ok(Vec::new()),
    }
}

/// Stripe's answers: codes first, then the status, then codes that only count when the status
/// did not already say (a 429 `lock_timeout` is the 429's).
const ERRORS: ErrorTable = ErrorTable {
    label: "Stripe",
    code_at: "/error/code",
    message_at: "/error/message",
    codes: &[
        row_says("api_key_expired", Reason::TokenExpired, "Stripe says the API key expired ({code}): roll a new key"),
        row_says(
            "platform_api_key_expired",
            Reason::TokenExpired,
            "Stripe says the API key expired ({code}): roll a new key",
        ),
        row_says(
            "secret_key_required",
            Reason::Unauthorized,
            "a publishable key was configured: Stripe needs a secret or restricted key",
        ),
        late_says("rate_limit", Reason::RateLimited, "Stripe rate limited the request (rate_limit)"),
        late_says(
            "lock_timeout",
            Reason::RateLimited,
            "Stripe could not lock the object in time (lock_timeout): retry later",
        ),
    ],
    statuses: &[
        status_says(401, Reason::Unauthorized, "Stripe rejected the API key: {message}"),
        status_quoting(403, "rak_", Reason::ScopeMissing, "the restricted key lacks the {quoted} permission"),
        status_says(403, Reason::Forbidden, "Stripe denied the request: {message}"),
        status_says(429, Reason::RateLimited, "Stripe rate limited the request (rate_limit)"),
    ],
    reset_header: None,
};

/// `GET /v1/account`: `account` requires `id` and `object`.
const ACCOUNT: CheckSpec = CheckSpec {
    method: Method::GET,
    path: "/v1/account",
    headers: &[],
    errors: ERRORS,
    shape: |b: &Value| text(b, "/object") == Some("account") && text(b, "/id").is_some(),
    shape_error: "GET /v1/account did not answer an account object",
    identity: &["/settings/dashboard/display_name", "/business_profile/name", "/email", "/id"],
    account_id: &["/id"],
    scopes: ScopeSource::None,
    expiry: ExpirySource::None,
};

/// `GET /v1/balance`, the fallback of a restricted key without the account permission.
static BALANCE: CheckSpec = CheckSpec {
    path: "/v1/balance",
    shape: |b: &Value| text(b, "/object") == Some("balance"),
    shape_error: "GET /v1/balance did not answer a balance object",
    identity: &[],
    account_id: &[],
    ..ACCOUNT
};

#[async_trait]
impl Provider for Stripe {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        if let Some(resource) = cx.integration().options.resource.clone() {
            return check_resource(cx, &resource).await;
        }
        let resp = runner::send(cx, &ACCOUNT, ACCOUNT.path).await?;
        if resp.status != 403 {
            let body = runner::read(cx, &ACCOUNT, &resp)?;
            return match rejected(&body) {
                Some(why) => Err(fail(Reason::AccountSuspended, format!("Stripe rejected this account ({why})"))),
                None => Ok(()),
            };
        }
        // A restricted key without the account permission may still read the balance.
        let bal = runner::send(cx, &BALANCE, BALANCE.path).await?;
        if bal.status == 403 {
            let failure = ERRORS.classify(&bal);
            if matches!(failure.reason, Reason::ScopeMissing | Reason::Forbidden) {
                // The key authenticated; it just may not read these two, which the syncs may
                // never need.
                return Err(fail(
                    Reason::OptionalScopeMissing,
                    format!(
                        "the restricted key may read neither the account nor the balance, so its permissions cannot \
                         be verified: set resource: to what the integration's syncs read ({})",
                        failure.detail
                    ),
                ));
            }
        }
        runner::read(cx, &BALANCE, &bal).map(drop)
    }
}

/// Read-only list endpoints a restricted key may be limited to (`GET /v1/<name>?limit=1`).
const RESOURCES: &[&str] = &[
    "customers",
    "charges",
    "payment_intents",
    "invoices",
    "subscriptions",
    "products",
    "prices",
    "balance_transactions",
    "payouts",
    "refunds",
    "disputes",
    "events",
];

/// Checks the configured resource: one list request of one item.
async fn check_resource(cx: &mut ProbeContext<'_>, resource: &str) -> Result<(), Failure> {
    let resp = runner::send(cx, &ACCOUNT, &format!("/v1/{resource}?limit=1")).await?;
    if !resp.is_success() {
        return Err(ERRORS.classify(&resp));
    }
    let body = json_body(cx, &resp)?;
    if text(&body, "/object") != Some("list") {
        return Err(unexpected(cx, &resp, format!("GET /v1/{resource} did not answer a list object")));
    }
    Ok(())
}

/// `requirements.disabled_reason` of an account Stripe has rejected (`rejected.fraud`,
/// `rejected.terms_of_service`, …): the account is closed to charges and payouts for good.
fn rejected(account: &Value) -> Option<String> {
    text(account, "/requirements/disabled_reason")
        .filter(|r| r.to_ascii_lowercase().starts_with("rejected."))
        .map(String::from)
}
