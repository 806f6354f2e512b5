//! Shopify Admin API (per shop, `https://SHOP.myshopify.com`).
//!
//! Check: `GET /admin/oauth/access_scopes.json` (unversioned) with the
//! `X-Shopify-Access-Token` header (auth type `header`); it authenticates and lists the granted
//! scopes as `{"access_scopes":[{"handle":…}]}` in one call (Shopify/shopify-app-js
//! `rest/admin/2025-01/access_scope.ts`; <https://shopify.dev/docs/api/admin-rest/latest/resources/accessscope>).
//! Scope implication: "any scope that writes a resource also grants read access to it"
//! (<https://shopify.dev/docs/api/usage/access-scopes>), so `write_X` covers `read_X` (and
//! `unauthenticated_write_X` covers `unauthenticated_read_X`); `access_scopes.json` may list only
//! the write scope (see `appDowngradeAccessScopes`).
//!
//! Rate limit: `X-Shopify-Shop-Api-Call-Limit: USED/BUCKET` (remaining = bucket − used); 429
//! carries `Retry-After` (<https://shopify.dev/docs/api/usage/rate-limits>). Errors
//! (<https://shopify.dev/docs/api/usage/response-codes>): 401 → `unauthorized` (invalid token
//! or app uninstalled), 402 (frozen, unpaid) and 423 (locked, changelog "Admin API requests to
//! locked stores will return a 423") → `account_suspended`, 403 "requires merchant approval for X
//! scope" (matched in any letter case; `errors` a string, list or object) → `scope_missing`,
//! other 403 → `forbidden`; 5xx and HTML bodies by status. 404 on `access_scopes.json`, which
//! every live shop serves: Shopify's page only says "not found", providers.md says a closed or
//! non-existent shop answers 404 and to classify it as account state, so it is
//! `account_suspended` with a detail that also names a wrong `base_url`.
//!
//! Expiring offline tokens rotate their refresh token on every refresh, so
//! `oauth2_refresh_token` is refused. Cannot be known: a token's expiry (only the token response
//! at issue says it; there is no introspection).

use super::common::{by_status, fail, json_body, short, unexpected, used_of_max};
use super::{BaseUrl, Description, Provider, ProviderRules, ScopeModel};
use crate::config::AuthType;
use crate::probe::{ApiRequest, ApiResponse, Failure, ProbeContext};
use crate::reason::Reason;
use async_trait::async_trait;
use serde_json::Value;

/// The Shopify preset.
#[derive(Debug)]
pub struct Shopify;

/// Shopify as data.
static DESCRIPTION: Description = Description {
    rules: ProviderRules {
        name: "shopify",
        base_url: BaseUrl::Required { hint: "https://your-shop.myshopify.com" },
        auth_types: &[AuthType::Header],
        refresh_token_rotation: Some(
            "Shopify's expiring offline tokens return a new refresh token on every refresh and invalidate the previous one.",
        ),
        ..ProviderRules::PRESET
    },
    scopes: ScopeModel::Rule(scope_satisfied),
    ..Description::PRESET
};

/// `write_x` covers `read_x` (and the unauthenticated pair likewise).
fn scope_satisfied(granted: &[String], wanted: &str) -> bool {
    let write_of = |w: &str| {
        w.strip_prefix("unauthenticated_read_")
            .map(|r| format!("unauthenticated_write_{r}"))
            .or_else(|| w.strip_prefix("read_").map(|r| format!("write_{r}")))
    };
    granted.iter().any(|g| g == wanted || Some(g.as_str()) == write_of(wanted).as_deref())
}

#[async_trait]
impl Provider for Shopify {
    fn description(&self) -> &'static Description {
        &DESCRIPTION
    }

    async fn check(&self, cx: &mut ProbeContext<'_>) -> Result<(), Failure> {
        let resp = cx.send(ApiRequest::get(cx.url("/admin/oauth/access_scopes.json")).main()).await?;
        if let Some(rl) = resp.header("x-shopify-shop-api-call-limit").and_then(used_of_max) {
            cx.findings.rate_limit = Some(rl);
        }
        if !resp.is_success() {
            return Err(classify(&resp));
        }
        let body = json_body(cx, &resp)?;
        let handles: Option<Vec<String>> = body.get("access_scopes").and_then(Value::as_array).and_then(|items| {
            items.iter().map(|i| i.get("handle").and_then(Value::as_str).map(String::from)).collect()
        });
        match handles {
            Some(h) => cx.findings.granted_scopes = Some(h),
            None => return Err(unexpected(cx, &resp, "access_scopes.json answered without access_scopes[].handle")),
        }
        cx.findings.identity = cx.integration().base_url.host_str().map(String::from);
        Ok(())
    }
}

fn classify(resp: &ApiResponse) -> Failure {
    let json = resp.json_opt().unwrap_or_default();
    let errors = match json.get("errors").or_else(|| json.get("error")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    match resp.status {
        401 => fail(Reason::Unauthorized, "Shopify rejected the access token (invalid, revoked or app uninstalled)"),
        402 => fail(Reason::AccountSuspended, "the shop is frozen (402 Payment Required)"),
        423 => fail(Reason::AccountSuspended, "the shop is locked (423 Locked)"),
        404 => fail(
            Reason::AccountSuspended,
            "Shopify found no shop here (404): the shop is closed, or base_url names no shop",
        ),
        403 => match approval_scope(&errors) {
            Some(scope) => fail(Reason::ScopeMissing, format!("Missing scope {scope} (requires merchant approval)")),
            None => fail(Reason::Forbidden, format!("Shopify denied the request: {}", short(&errors))),
        },
        429 => fail(Reason::RateLimited, "Shopify rate limited the request (429)"),
        _ => by_status(resp),
    }
}

/// The scope in "…requires merchant approval for read_orders scope." (any letter case).
fn approval_scope(errors: &str) -> Option<String> {
    let at = errors.to_ascii_lowercase().find("approval for ")? + "approval for ".len();
    let scope: String = errors[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!scope.is_empty()).then_some(scope)
}
