//! The simulated API's routes for each demo integration: fixtures at the providers'
//! documented paths, under the integration's own path prefix.

use super::sim::{Fixture, Route};
use http::Method;
use std::io;
use std::time::{Duration, Instant};

/// Parses a fixture compiled into the binary, naming it in the error.
fn load(path: &str, text: &str) -> io::Result<Fixture> {
    Fixture::parse(text).map_err(|e| io::Error::other(format!("demo fixture tests/fixtures/{path}: {e}")))
}

/// A fixture from `tests/fixtures/` (the provider tests' own), compiled in so the demo binary
/// needs no files.
macro_rules! fixture {
    ($path:literal) => {
        load($path, include_str!(concat!("../../tests/fixtures/", $path)))
    };
}

/// The path of an integration's base URL on the simulated API: its own prefix, plus the
/// provider's base path where the real base URL has one (`https://slack.com/api`).
pub(super) fn base_path(name: &str) -> String {
    match name {
        "slack-alerts" | "slack-notifications" => format!("/{name}/api"),
        _ => format!("/{name}"),
    }
}

/// The placeholder token of an integration. HubSpot private-app tokens start with `pat-`.
pub(super) fn token(name: &str) -> String {
    match name {
        "hubspot-production" => format!("pat-demo-{name}-token"),
        _ => format!("demo-{name}-token"),
    }
}

/// Scopes configured for an integration: (required, optional).
pub(super) fn scopes(name: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    match name {
        "hubspot-production" => Some((&["crm.objects.contacts.read"], &["crm.objects.contacts.write"])),
        "github-ci" | "github-deploy-bot" => Some((&["repo"], &[])),
        "slack-notifications" => Some((&["chat:write"], &[])),
        _ => None,
    }
}

/// Every route of the demo API. `started` anchors the time-varying integrations.
pub(super) fn routes(started: Instant) -> io::Result<Vec<Route>> {
    let at = |method: Method, name: &str, path: &str, f: &Fixture| {
        Route::fixed(method, &format!("{}{path}", base_path(name)), f.clone())
    };
    let get = |name: &str, path: &str, f: &Fixture| at(Method::GET, name, path, f);
    let post = |name: &str, path: &str, f: &Fixture| at(Method::POST, name, path, f);
    let mut routes = Vec::new();

    // HubSpot: an authenticated call (identity, latency, quota headers), then the token's
    // scopes. hubspot-production uses a private-app token (no expiry); hubspot-marketing's
    // OAuth access token has expired.
    let account = fixture!("hubspot/account_details.json")?;
    let token_info = fixture!("hubspot/private_app_info.json")?;
    let expired = fixture!("hubspot/expired.json")?;
    routes.push(get("hubspot-production", "/account-info/v3/details", &account));
    routes.push(post("hubspot-production", "/oauth/v2/private-apps/get/access-token-info", &token_info));
    routes.push(get("hubspot-marketing", "/account-info/v3/details", &expired));

    // Stripe: the account object; a 429 for the reporting key. Stripe documents no
    // Retry-After; the demo adds one so that the exporter's back-off shows on the page.
    let account = fixture!("stripe/healthy.json")?;
    let limited = fixture!("stripe/rate_limited.json")?.with_header("Retry-After", "30");
    for path in ["/v1/account", "/v1/balance"] {
        routes.push(get("stripe-billing", path, &account));
        routes.push(get("stripe-reporting", path, &limited));
    }

    // Salesforce: the daily quota (the main request, answering in 1.5 s); userinfo is only
    // read with an identity scope, which a bare token does not show.
    let userinfo = fixture!("salesforce/userinfo.json")?;
    let limits = fixture!("salesforce/limits.json")?.with_delay(Duration::from_millis(1500));
    routes.push(get("salesforce-sales", "/services/oauth2/userinfo", &userinfo));
    routes.push(get("salesforce-sales", "/services/data/{version}/limits", &limits));

    // GitHub: /user with X-OAuth-Scopes; one token lacks `repo`, one expires in 3 days.
    routes.push(get("github-ci", "/user", &fixture!("github/scope_missing.json")?));
    routes.push(get("github-deploy-bot", "/user", &fixture!("github/expiring_soon.json")?));

    // Slack: auth.test, HTTP 200 with ok:false for auth errors (base URL `…/api`, as slack.com/api).
    let ok = fixture!("slack/healthy.json")?;
    let revoked = fixture!("slack/token_revoked.json")?;
    let token_expired = fixture!("slack/token_expired.json")?;
    routes.push(post("slack-alerts", "/auth.test", &revoked));
    routes.push(Route::dynamic(Method::POST, &format!("{}/auth.test", base_path("slack-notifications")), move |_| {
        if super::slack_notifications_healthy(started.elapsed()) {
            ok.clone()
        } else {
            token_expired.clone()
        }
    }));
    Ok(routes)
}
