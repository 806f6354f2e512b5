//! Provider fidelity, second pass (issue 14): for each behaviour changed against the providers'
//! own documentation, a scenario over real HTTP against the simulated API with fixtures in the
//! documented shapes (`tests/fixtures/<provider>/`, each naming its source), asserting the
//! requests made (method, path, credential shape, read-only) and the resulting status and
//! reason — including the scenario that was wrong before — and the config-load refusals that
//! say what to configure instead.

mod common;

use common::{case, fixture, run, Preset};
use integration_exporter::config::{Config, ConfigError};
use integration_exporter::demo::sim::{Route, SimServer};
use integration_exporter::probe::Engine;
use integration_exporter::reason::{Reason, Status};

use Reason::*;
use Status::{Error as Err_, Healthy, Warning};

use common::config_errors as refused;

/// One integration's config text.
fn one(provider: &str, base_url: &str, auth: &str, extra: &str) -> String {
    format!("integrations:\n  - name: t\n    provider: {provider}\n    base_url: {base_url}\n    auth: {auth}\n{extra}")
}

// ---------------------------------------------------------------- Salesforce

const SF_LIMITS: &str = "/services/data/v62.0/limits";
const SF_USERINFO: &str = "/services/oauth2/userinfo";
const SF_TOKEN: &str = "Bearer 00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX.LVpxezPwuX5VAIrrbbHMuol7GQxnMeYMN7cj8EoWr78nt1u44zU31IbYNNJguseu";

const SALESFORCE_CC: Preset = Preset {
    provider: "salesforce",
    auth: "{type: oauth2_client_credentials, token_url: '{SIM}/token', client_id: cid, client_secret: csecret}",
    base_suffix: "",
    scopes: "{required: [api]}",
    auth_header: ("authorization", SF_TOKEN),
    unauthenticated: &[],
    post_paths: &[],
};

const SALESFORCE_BEARER: Preset = Preset {
    auth: "{type: bearer, token: 00Dxx0000001gPL!session}",
    scopes: "",
    auth_header: ("authorization", "Bearer 00Dxx0000001gPL!session"),
    ..SALESFORCE_CC
};

const SALESFORCE_REFRESH: Preset = Preset {
    auth: "{type: oauth2_refresh_token, token_url: '{SIM}/token', client_id: cid, client_secret: csecret, refresh_token: 5Aep861configured, refresh_token_rotates: false}",
    ..SALESFORCE_CC
};

/// Item 1: an API-only connected app (`api refresh_token`, no `id`) is healthy; userinfo, which
/// it may not call, is not called. Before, userinfo was the main check and failed every probe.
#[tokio::test]
async fn salesforce_api_only_app_is_checked_with_limits_not_userinfo() {
    let c = case("api-only app", Healthy, Ok)
        .post("/token", "token_api_only")
        .get(SF_LIMITS, "limits")
        .get(SF_USERINFO, "userinfo_no_id_scope")
        .requests(&["POST /token", "GET /services/data/v62.0/limits"])
        .scopes_valid(true)
        .granted(&[("api", true)])
        .rate(14998.0, 15000.0)
        .http(200);
    run(&SALESFORCE_CC, c).await;
}

/// Item 1: with the `id` scope granted, userinfo gives the identity after the limits check.
#[tokio::test]
async fn salesforce_identity_is_read_where_the_id_scope_allows() {
    let c = case("api id", Healthy, Ok)
        .post("/token", "token")
        .get(SF_LIMITS, "limits")
        .get(SF_USERINFO, "userinfo")
        .requests(&["POST /token", "GET /services/data/v62.0/limits", "GET /services/oauth2/userinfo"])
        .scopes_valid(true)
        .granted(&[("api", true)])
        .rate(14998.0, 15000.0)
        .identity("integration@example.com");
    run(&SALESFORCE_CC, c).await;
}

/// Item 1: a bare access token's scopes are unknown, so userinfo is not called and a user
/// without "View Setup and Configuration" is still healthy (quota from Sforce-Limit-Info).
#[tokio::test]
async fn salesforce_bearer_without_setup_permission_is_healthy() {
    let c = case("bearer, /limits denied", Healthy, Ok)
        .get(SF_LIMITS, "limits_denied")
        .get(SF_USERINFO, "userinfo_no_id_scope")
        .requests(&["GET /services/data/v62.0/limits"])
        .rate(14975.0, 15000.0)
        .http(403);
    run(&SALESFORCE_BEARER, c).await;
}

/// Item 2: `invalid_grant` "request not supported on this domain" is a configuration problem
/// (`unauthorized` naming the My Domain token URL), not `credential_revoked`.
#[tokio::test]
async fn salesforce_wrong_domain_for_client_credentials_is_not_revocation() {
    let c = case("request not supported on this domain", Err_, Unauthorized)
        .post("/token", "token_wrong_domain")
        .requests(&["POST /token"])
        .detail(&["My Domain", "token_url"]);
    run(&SALESFORCE_CC, c).await;
}

/// Item 7: `full` covers `api`, `chatter_api` and `email`; `offline_access` is `refresh_token`.
/// Before, each was `scope_missing` (exact string match only).
#[tokio::test]
async fn salesforce_full_and_synonyms_cover_what_salesforce_documents() {
    let preset = Preset { scopes: "{required: [api, chatter_api, email], optional: [refresh_token]}", ..SALESFORCE_CC };
    let c = case("full offline_access", Healthy, Ok)
        .post("/token", "token_full")
        .get(SF_LIMITS, "limits")
        .get(SF_USERINFO, "userinfo")
        .requests(&["POST /token", "GET /services/data/v62.0/limits", "GET /services/oauth2/userinfo"])
        .scopes_valid(true)
        .granted(&[("api", true), ("chatter_api", true), ("email", true), ("refresh_token", true)])
        .rate(14998.0, 15000.0)
        .identity("integration@example.com");
    run(&preset, c).await;
}

/// Item 7: `full` does not return a refresh token, so it does not cover `refresh_token`; `id`
/// is a synonym of `profile`.
#[tokio::test]
async fn salesforce_full_does_not_cover_refresh_token() {
    let preset = Preset { scopes: "{required: [profile], optional: [refresh_token]}", ..SALESFORCE_CC };
    let c = case("api id: profile granted, refresh_token not", Warning, OptionalScopeMissing)
        .post("/token", "token")
        .get(SF_LIMITS, "limits")
        .get(SF_USERINFO, "userinfo")
        .requests(&["POST /token", "GET /services/data/v62.0/limits", "GET /services/oauth2/userinfo"])
        .scopes_valid(true)
        .granted(&[("profile", true), ("refresh_token", false)])
        .rate(14998.0, 15000.0)
        .identity("integration@example.com");
    run(&preset, c).await;
    let g = |granted: &[&str], wanted: &str| {
        let granted: Vec<String> = granted.iter().map(|s| s.to_string()).collect();
        integration_exporter::providers::lookup("salesforce").map(|p| p.scope_satisfied(&granted, wanted))
    };
    assert_eq!(g(&["full"], "refresh_token"), Some(false));
    assert_eq!(g(&["full"], "offline_access"), Some(false));
    assert_eq!(g(&["full"], "api"), Some(true));
    assert_eq!(g(&["phone"], "address"), Some(true));
    assert_eq!(g(&["chatter_api"], "api"), Some(false));
}

/// Item 3: a refresh grant stated not to rotate, answered without a new refresh token: healthy.
#[tokio::test]
async fn salesforce_refresh_grant_without_rotation_is_healthy() {
    let c = case("rotation off", Healthy, Ok)
        .post("/token", "token_refresh")
        .get(SF_LIMITS, "limits")
        .requests(&["POST /token", "GET /services/data/v62.0/limits"])
        .scopes_valid(true)
        .granted(&[("api", true)])
        .rate(14998.0, 15000.0);
    run(&SALESFORCE_REFRESH, c).await;
}

/// Item 3: a refresh grant that answers with a new refresh token (rotation after all) is
/// reported loudly and never redeemed again for that integration: the second probe makes no
/// request at all.
#[tokio::test]
async fn salesforce_rotated_refresh_token_stops_redeeming() {
    let sim = SimServer::start(vec![
        Route::fixed(http::Method::POST, "/token", fixture("salesforce", "token_refresh_rotated")),
        Route::fixed(http::Method::GET, SF_LIMITS, fixture("salesforce", "limits")),
    ])
    .await
    .expect("sim");
    let yaml = common::config_yaml(&SALESFORCE_REFRESH, SALESFORCE_REFRESH.auth, &sim.url());
    let cfg = Config::parse(&yaml, "t.yml").expect("valid");
    let engine = Engine::new(1000.0);
    let first = engine.probe(&cfg.integrations[0], None).await;
    assert_eq!((first.status, first.reason), (Err_, CredentialRevoked), "{first:?}");
    assert!(first.detail.contains("NEW refresh token") && first.detail.contains("stopped"), "{}", first.detail);
    assert!(!first.detail.contains("5Aep861"), "no refresh token in the detail: {}", first.detail);
    let made: Vec<String> = sim.requests().iter().map(|q| format!("{} {}", q.method, q.path)).collect();
    assert_eq!(made, ["POST /token"]);
    let body = String::from_utf8_lossy(&sim.requests()[0].body).to_string();
    assert!(body.contains("grant_type=refresh_token") && body.contains("refresh_token=5Aep861configured"), "{body}");

    sim.clear_requests();
    let second = engine.probe(&cfg.integrations[0], None).await;
    assert_eq!((second.status, second.reason), (Err_, CredentialRevoked));
    assert!(sim.requests().is_empty(), "redeemed again: {:?}", sim.requests());
}

/// Items 2 and 3: config-load refusals that say what to configure instead.
#[test]
fn salesforce_refusals_at_config_load() {
    let base = "https://acme.my.salesforce.com";
    for token_url in [
        "",
        "token_url: 'https://login.salesforce.com/services/oauth2/token', ",
        "token_url: 'https://test.salesforce.com/services/oauth2/token', ",
    ] {
        let auth = format!("{{type: oauth2_client_credentials, {token_url}client_id: c, client_secret: s}}");
        let msg = refused(&one("salesforce", base, &auth, ""));
        assert!(
            msg.contains("My Domain") && msg.contains("https://MYDOMAIN.my.salesforce.com/services/oauth2/token"),
            "{msg}"
        );
        assert!(msg.contains("auth.token_url"), "{msg}");
    }
    let my_domain = "{type: oauth2_client_credentials, token_url: 'https://acme.my.salesforce.com/services/oauth2/token', client_id: c, client_secret: s}";
    assert!(Config::parse(&one("salesforce", base, my_domain, ""), "t.yml").is_ok());

    let refresh = |extra: &str| {
        format!("{{type: oauth2_refresh_token, token_url: 'https://acme.my.salesforce.com/services/oauth2/token', client_id: c, client_secret: s, refresh_token: r{extra}}}")
    };
    for extra in ["", ", refresh_token_rotates: true"] {
        let msg = refused(&one("salesforce", base, &refresh(extra), ""));
        assert!(msg.contains("refresh_token_rotates: false"), "{msg}");
        assert!(msg.contains("Refresh Token Rotation") && msg.contains("OAuth settings"), "says where to check: {msg}");
        assert!(msg.contains("type: bearer"), "says what to use otherwise: {msg}");
    }
    let cfg = Config::parse(&one("salesforce", base, &refresh(", refresh_token_rotates: false"), ""), "t.yml")
        .expect("stated non-rotating refresh token is accepted");
    assert_eq!(cfg.integrations[0].options.refresh_token_rotates, Some(false));
    assert!(integration_exporter::config::view::render(&cfg).contains("refresh_token_rotates: false"));
}

// ---------------------------------------------------------------- Microsoft

/// App-only JWT (`alg: none`, test only): `roles: [Mail.ReadWrite]`, `appid`, `app_displayname`.
const MS_MAIL_APP: &str = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJ0aWQiOiI4NDg0MTA2Ni0yNzRkLTRlYzAtYTVjMS0yNzZiZTY4NGJkZDMiLCJhcHBpZCI6IjExMTExMTExLTIyMjItMzMzMy00NDQ0LTU1NTU1NTU1NTU1NSIsImFwcF9kaXNwbGF5bmFtZSI6Ik1haWxib3ggU3luYyIsInJvbGVzIjpbIk1haWwuUmVhZFdyaXRlIl0sImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmF0dXJl";
/// The same token as a bearer auth.
const MS_MAIL_APP_BEARER: &str = "{type: bearer, token: eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJ0aWQiOiI4NDg0MTA2Ni0yNzRkLTRlYzAtYTVjMS0yNzZiZTY4NGJkZDMiLCJhcHBpZCI6IjExMTExMTExLTIyMjItMzMzMy00NDQ0LTU1NTU1NTU1NTU1NSIsImFwcF9kaXNwbGF5bmFtZSI6Ik1haWxib3ggU3luYyIsInJvbGVzIjpbIk1haWwuUmVhZFdyaXRlIl0sImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmF0dXJl}";
/// App-only JWT: `roles: [Mail.Read, Application.Read.All]`.
const MS_APPREAD_APP: &str = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJ0aWQiOiI4NDg0MTA2Ni0yNzRkLTRlYzAtYTVjMS0yNzZiZTY4NGJkZDMiLCJhcHBpZCI6IjExMTExMTExLTIyMjItMzMzMy00NDQ0LTU1NTU1NTU1NTU1NSIsImFwcF9kaXNwbGF5bmFtZSI6Ik1haWxib3ggU3luYyIsInJvbGVzIjpbIk1haWwuUmVhZCIsIkFwcGxpY2F0aW9uLlJlYWQuQWxsIl0sImV4cCI6NDEwMjQ0NDgwMH0.c2lnbmF0dXJl";
/// Delegated JWT: `scp: User.Read Mail.Read`.
const MS_USER_TOKEN: &str = "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJ0aWQiOiI4NDg0MTA2Ni0yNzRkLTRlYzAtYTVjMS0yNzZiZTY4NGJkZDMiLCJzY3AiOiJVc2VyLlJlYWQgTWFpbC5SZWFkIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJl";

const MICROSOFT_CC: Preset = Preset {
    provider: "microsoft",
    auth: "{type: oauth2_client_credentials, token_url: '{SIM}/v1.0/token', client_id: 11111111-2222-3333-4444-555555555555, client_secret: csecret~value, scopes: ['https://graph.microsoft.com/.default']}",
    base_suffix: "/v1.0",
    scopes: "{required: [Mail.Read]}",
    auth_header: ("authorization", MS_MAIL_APP),
    unauthenticated: &[],
    post_paths: &[],
};

const MICROSOFT_REFRESH: Preset = Preset {
    auth: "{type: oauth2_refresh_token, token_url: '{SIM}/v1.0/token', client_id: 11111111-2222-3333-4444-555555555555, client_secret: csecret~value, refresh_token: 0.AAAAconfigured}",
    scopes: "{required: [User.Read]}",
    auth_header: ("authorization", MS_USER_TOKEN),
    ..MICROSOFT_CC
};

const MS_APP_PATH: &str = "/v1.0/applications(appId='11111111-2222-3333-4444-555555555555')";

/// Item 4 (and 7): a mail-only app (`roles: [Mail.ReadWrite]`) is healthy after its grant, with
/// no Graph call; `Mail.ReadWrite` covers the required `Mail.Read`. Before, every probe called
/// `/organization`, got 403 and reported `scope_missing` for `Organization.Read.All`.
#[tokio::test]
async fn microsoft_app_only_mail_app_is_not_paged_for_organization() {
    let c = case("mail-only app", Healthy, Ok)
        .post("/v1.0/token", "token_app_mail")
        .get("/v1.0/organization", "denied")
        .requests(&["POST /token"])
        .scopes_valid(true)
        .granted(&[("Mail.Read", true)])
        .identity("Mailbox Sync");
    let (_, reqs) = run(&MICROSOFT_CC, c).await;
    let body = String::from_utf8_lossy(&reqs[0].body).to_string();
    assert!(body.contains("grant_type=client_credentials"), "{body}");
}

/// Item 6: with `Application.Read.All` the app's own registration gives the end date of the
/// secret in use (matched by its hint), so `expiring_soon` warns 5 days ahead; the already
/// ended old secret and the later one are not taken.
#[tokio::test]
async fn microsoft_client_secret_expiry_is_exported() {
    let preset = Preset { auth_header: ("authorization", MS_APPREAD_APP), ..MICROSOFT_CC };
    let c = case("secret ends in 5 days", Warning, ExpiringSoon)
        .post("/v1.0/token", "token_app_appread")
        .route(http::Method::GET, "/v1.0/applications*", "application_secrets")
        .requests(&["POST /token", "GET /applications(appId='11111111-2222-3333-4444-555555555555')"])
        .scopes_valid(true)
        .granted(&[("Mail.Read", true)])
        .expiry(5 * 86_400 - 120, 5 * 86_400 + 60)
        .identity("Mailbox Sync")
        .detail(&["expires in"]);
    let (_, reqs) = run(&preset, c).await;
    assert_eq!(reqs[1].path, MS_APP_PATH);
    let q = reqs[1].query.as_deref().unwrap_or("");
    assert!(q.contains("passwordCredentials") && q.contains("keyCredentials"), "{q}");
}

/// Item 5: an expired client secret (AADSTS7000222) is `token_expired` saying so, not "client
/// id/secret wrong".
#[tokio::test]
async fn microsoft_expired_client_secret_is_token_expired() {
    let c = case("AADSTS7000222", Err_, TokenExpired)
        .post("/v1.0/token", "token_secret_expired")
        .requests(&["POST /token"])
        .detail(&["client secret expired"]);
    run(&MICROSOFT_CC, c).await;
}

/// Item 5: `interaction_required` (MFA / Conditional Access) is `forbidden` saying an interactive
/// sign-in is needed, not `unexpected_response`.
#[tokio::test]
async fn microsoft_interaction_required_is_forbidden() {
    let c = case("interaction_required AADSTS50076", Err_, Forbidden)
        .post("/v1.0/token", "token_interaction_required")
        .requests(&["POST /token"])
        .detail(&["interactive sign-in"]);
    run(&MICROSOFT_REFRESH, c).await;
}

/// Item 5: `consent_required` is `scope_missing` (consent withdrawn), not `unexpected_response`.
#[tokio::test]
async fn microsoft_consent_required_is_scope_missing() {
    let c = case("consent_required", Err_, ScopeMissing)
        .post("/v1.0/token", "token_consent_required")
        .requests(&["POST /token"])
        .detail(&["consent"]);
    run(&MICROSOFT_REFRESH, c).await;
}

/// Item 5: a grant without a tenant (AADSTS50059) says which token URL to configure.
#[tokio::test]
async fn microsoft_missing_tenant_names_the_token_url() {
    let c = case("AADSTS50059", Err_, Unauthorized)
        .post("/v1.0/token", "token_no_tenant")
        .requests(&["POST /token"])
        .detail(&["TENANT_ID", "token_url"]);
    run(&MICROSOFT_CC, c).await;
}

/// Item 3 applied to Microsoft: its refresh grant returns a new refresh token every time without
/// revoking the old one, which must not stop probing.
#[tokio::test]
async fn microsoft_reissued_refresh_token_is_expected() {
    let c = case("new refresh token, old one kept", Healthy, Ok)
        .post("/v1.0/token", "token_refresh_reissued")
        .get("/v1.0/me", "me")
        .requests(&["POST /token", "GET /me"])
        .scopes_valid(true)
        .granted(&[("User.Read", true)])
        .identity("MeganB@contoso.com");
    run(&MICROSOFT_REFRESH, c).await;
}

/// Item 7: Graph permission implication as Microsoft names it.
#[test]
fn microsoft_readwrite_covers_read() {
    let p = integration_exporter::providers::lookup("microsoft").expect("preset");
    let g = |granted: &[&str], wanted: &str| {
        p.scope_satisfied(&granted.iter().map(|s| s.to_string()).collect::<Vec<_>>(), wanted)
    };
    assert!(g(&["Mail.ReadWrite"], "Mail.Read"));
    assert!(g(&["Sites.ReadWrite.All"], "Sites.Read.All"));
    assert!(g(&["Directory.Read.All"], "User.Read.All"));
    assert!(!g(&["Mail.Read"], "Mail.ReadWrite"));
    assert!(!g(&["Mail.ReadWrite"], "Mail.Send"));
    assert!(!g(&["Mail.ReadWrite"], "Mail.Read.Shared"));
}

/// Item 5: client credentials against /common, /organizations or /consumers (the default token
/// URL included) are refused at load with the tenant URL to configure; a tenant URL is accepted
/// with a note on the secret's expiry.
#[test]
fn microsoft_client_credentials_need_the_tenant() {
    let base = "https://graph.microsoft.com/v1.0";
    for token_url in [
        "",
        "token_url: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token', ",
        "token_url: 'https://login.microsoftonline.com/consumers/oauth2/v2.0/token', ",
    ] {
        let auth = format!("{{type: oauth2_client_credentials, {token_url}client_id: c, client_secret: s}}");
        let msg = refused(&one("microsoft", base, &auth, ""));
        assert!(msg.contains("is refused on") && msg.contains("needs the tenant"), "{msg}");
        assert!(msg.contains("https://login.microsoftonline.com/TENANT_ID/oauth2/v2.0/token"), "{msg}");
    }
    let auth = "{type: oauth2_client_credentials, token_url: 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token', client_id: c, client_secret: s}";
    let cfg = Config::parse(&one("microsoft", base, auth, ""), "t.yml").expect("tenant URL accepted");
    let notes = &cfg.integrations[0].notes;
    assert!(notes.iter().any(|n| n.contains("Application.Read.All") && n.contains("cannot be known")), "{notes:?}");
    assert!(integration_exporter::config::view::render(&cfg).contains("Application.Read.All"));
    // A delegated refresh grant may use /common.
    let auth = "{type: oauth2_refresh_token, client_id: c, refresh_token: r}";
    assert!(Config::parse(&one("microsoft", base, auth, ""), "t.yml").is_ok());
}

// ---------------------------------------------------------------- Stripe

const STRIPE_RK: Preset = Preset {
    provider: "stripe",
    auth: "{type: bearer, token: rk_test_51Nv0FGQ9RKHgCVdK1234}",
    base_suffix: "",
    scopes: "",
    auth_header: ("authorization", "Bearer rk_test_51Nv0FGQ9RKHgCVdK1234"),
    unauthenticated: &[],
    post_paths: &[],
};

/// Item 8: a restricted key without account or balance read: before, `scope_missing` (a page)
/// for a permission the integration never needed; now a warning that says to set `resource:`.
#[tokio::test]
async fn stripe_restricted_key_without_account_or_balance_is_a_warning() {
    let c = case("403 on account and balance", Warning, OptionalScopeMissing)
        .get("/v1/account", "restricted_permission")
        .get("/v1/balance", "restricted_permission")
        .requests(&["GET /v1/account", "GET /v1/balance"])
        .detail(&["cannot be verified", "resource:"]);
    run(&STRIPE_RK, c).await;
}

/// Item 8: with `resource: customers` the check reads that resource only (one item) and is
/// healthy, even though the key may read neither the account nor the balance.
#[tokio::test]
async fn stripe_resource_is_the_check() {
    let c = case("resource: customers", Healthy, Ok)
        .key("resource: customers")
        .get("/v1/customers", "customers_list")
        .get("/v1/account", "restricted_permission")
        .requests(&["GET /v1/customers"])
        .http(200);
    let (_, reqs) = run(&STRIPE_RK, c).await;
    assert_eq!(reqs[0].query.as_deref(), Some("limit=1"));
}

/// Item 8: the named resource denied is the permission the integration needs: `scope_missing`.
#[tokio::test]
async fn stripe_resource_denied_is_scope_missing() {
    let c = case("resource: customers denied", Err_, ScopeMissing)
        .key("resource: customers")
        .get("/v1/customers", "restricted_no_customer_read")
        .requests(&["GET /v1/customers"])
        .detail(&["rak_customer_read"]);
    run(&STRIPE_RK, c).await;
}

/// Item 8: `resource:` takes only the known read-only resources, and only under Stripe.
#[test]
fn stripe_resource_is_validated_at_load() {
    let auth = "{type: bearer, token: rk_x}";
    let msg = refused(&one("stripe", "https://api.stripe.com", auth, "    resource: customers/cus_1/delete\n"));
    assert!(msg.contains("not one of the read-only Stripe resources") && msg.contains("customers, charges"), "{msg}");
    let msg = refused(&one("github", "https://api.github.com", auth, "    resource: customers\n"));
    assert!(msg.contains("resource: is a stripe setting"), "{msg}");
    assert!(Config::parse(&one("stripe", "https://api.stripe.com", auth, "    resource: invoices\n"), "t.yml").is_ok());
}

// ---------------------------------------------------------------- Google

const GOOGLE_MAIL: Preset = Preset {
    provider: "google",
    auth: "{type: bearer, token: ya29.test-access-token}",
    base_suffix: "",
    scopes: "{required: ['https://www.googleapis.com/auth/gmail.settings.sharing', 'https://www.googleapis.com/auth/gmail.readonly'], optional: ['https://www.googleapis.com/auth/gmail.settings.basic']}",
    auth_header: ("authorization", "Bearer ya29.test-access-token"),
    unauthenticated: &["/oauth2/v2/tokeninfo"],
    post_paths: &["/oauth2/v2/tokeninfo"],
};

/// Item 9: `https://mail.google.com/` does not cover `gmail.settings.sharing` (send-as,
/// forwarding, delegates) or `gmail.settings.basic`; it does cover `gmail.readonly`. Before,
/// every `gmail.*` scope counted as granted: a missed page.
#[tokio::test]
async fn google_full_mailbox_scope_does_not_cover_settings_scopes() {
    let c = case("mail.google.com only", Err_, ScopeMissing)
        .post("/oauth2/v2/tokeninfo", "tokeninfo_full_mailbox")
        .requests(&["POST /oauth2/v2/tokeninfo"])
        .scopes_valid(false)
        .granted(&[
            ("https://www.googleapis.com/auth/gmail.settings.sharing", false),
            ("https://www.googleapis.com/auth/gmail.readonly", true),
            ("https://www.googleapis.com/auth/gmail.settings.basic", false),
        ])
        .expiry(3500, 3600)
        .identity("ops@example.com")
        .detail(&["gmail.settings.sharing"]);
    let (_, reqs) = run(&GOOGLE_MAIL, c).await;
    assert!(reqs[0].query.as_deref().unwrap_or("").contains("access_token="), "token goes in the query, not a header");
}

// ---------------------------------------------------------------- Jira

// The token must not share an 8-character run with the texts the tests expect: the redactor
// hides any such run of a secret (a cut token), and "atlassian" is in every site URL.
const JIRA_OAUTH: Preset = Preset {
    provider: "jira",
    auth: "{type: bearer, token: jira-oat-7Hq2Zk9x}",
    base_suffix: "",
    scopes: "{required: ['read:jira-work']}",
    auth_header: ("authorization", "Bearer jira-oat-7Hq2Zk9x"),
    unauthenticated: &[],
    post_paths: &[],
};

const JIRA_RESOURCES: &str = "/oauth/token/accessible-resources";
const JIRA_MYSELF: &str = "/ex/jira/{cloud}/rest/api/3/myself";

/// Item 10: with `site:` the configured site's entry and scopes are checked, not the first one
/// listed. Before, the sandbox site (first, without `read:jira-work`) gave `scope_missing`.
#[tokio::test]
async fn jira_checks_the_configured_site() {
    for site in ["site: https://acme.atlassian.net/", "site: 1324a887-45db-1bf4-1e99-ef0ff456d421"] {
        let c = case("site: acme of two", Healthy, Ok)
            .key(site)
            .get(JIRA_RESOURCES, "resources_two_sites")
            .get(JIRA_MYSELF, "myself")
            .requests(&[
                "GET /oauth/token/accessible-resources",
                "GET /ex/jira/1324a887-45db-1bf4-1e99-ef0ff456d421/rest/api/3/myself",
            ])
            .scopes_valid(true)
            .granted(&[("read:jira-work", true)])
            .rate(349.0, 350.0)
            .identity("acme")
            .http(200);
        run(&JIRA_OAUTH, c).await;
    }
}

/// Item 10: a token whose accessible resources lack the configured site is an error naming
/// the site and the ones it reaches; no other site is called.
#[tokio::test]
async fn jira_token_without_the_configured_site_is_an_error() {
    let c = case("site missing from accessible-resources", Err_, Forbidden)
        .key("site: https://other.atlassian.net")
        .get(JIRA_RESOURCES, "resources_two_sites")
        .get(JIRA_MYSELF, "myself")
        .requests(&["GET /oauth/token/accessible-resources"])
        .detail(&["no access to site https://other.atlassian.net", "https://acme.atlassian.net"]);
    run(&JIRA_OAUTH, c).await;
}

/// Item 10: `site:` is refused with API tokens (their base_url is the site) and empty; without
/// it an OAuth integration gets a note on `/config`.
#[test]
fn jira_site_at_config_load() {
    let basic = "{type: basic, username: u, password: p}";
    let msg = refused(&one("jira", "https://acme.atlassian.net", basic, "    site: https://acme.atlassian.net\n"));
    assert!(msg.contains("site: is for OAuth tokens") && msg.contains("base_url is the site"), "{msg}");
    let bearer = "{type: bearer, token: t}";
    let msg = refused(&one("jira", "https://api.atlassian.com", bearer, "    site: ''\n"));
    assert!(msg.contains("site: is empty"), "{msg}");
    let cfg = Config::parse(&one("jira", "https://api.atlassian.com", bearer, ""), "t.yml").expect("valid");
    assert!(cfg.integrations[0].notes.iter().any(|n| n.contains("set site:")), "{:?}", cfg.integrations[0].notes);
    let cfg = Config::parse(
        &one("jira", "https://api.atlassian.com", bearer, "    site: https://acme.atlassian.net\n"),
        "t.yml",
    )
    .expect("valid");
    assert!(cfg.integrations[0].notes.is_empty());
    assert!(integration_exporter::config::view::render(&cfg).contains("site: https://acme.atlassian.net"));
}

// ---------------------------------------------------------------- Pipedrive

const PIPEDRIVE_TOKEN: Preset = Preset {
    provider: "pipedrive",
    auth: "{type: header, name: x-api-token, value: pipedrive-api-token}",
    base_suffix: "/v1",
    scopes: "",
    auth_header: ("x-api-token", "pipedrive-api-token"),
    unauthenticated: &[],
    post_paths: &[],
};

/// Item 11: `x-ratelimit-*` describe Pipedrive's 2-second burst window: 2 of 80 left there is
/// no quota problem, and the daily budget has no documented headers, so headroom is unknown
/// and the probe is healthy. Before, it was `rate_limit_low`.
#[tokio::test]
async fn pipedrive_burst_window_is_not_quota_headroom() {
    let c = case("burst window nearly used", Healthy, Ok)
        .get("/v1/users/me", "burst_window_low")
        .requests(&["GET /users/me"])
        .identity("Example Ltd")
        .http(200);
    run(&PIPEDRIVE_TOKEN, c).await;
}

/// Item 11: a 429 is still `rate_limited`, and the next probe waits `x-ratelimit-reset`.
#[tokio::test]
async fn pipedrive_429_still_backs_off() {
    let c = case("429", Warning, RateLimited).get("/v1/users/me", "rate_limited").requests(&["GET /users/me"]).retry(1);
    run(&PIPEDRIVE_TOKEN, c).await;
}

// ---------------------------------------------------------------- HubSpot

const HUBSPOT_GRANT: Preset = Preset {
    provider: "hubspot",
    auth: "{type: oauth2_refresh_token, token_url: '{SIM}/oauth/2026-03/token', client_id: hid, client_secret: hsecret, refresh_token: hrefresh}",
    base_suffix: "",
    scopes: "{required: [crm.objects.contacts.read]}",
    auth_header: ("authorization", "Bearer CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"),
    unauthenticated: &["/oauth/2026-03/token", "/oauth/v1/access-tokens/"],
    post_paths: &["/oauth/2026-03/token"],
};

const HUBSPOT_BEARER: Preset = Preset {
    auth: "{type: bearer, token: CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4}",
    ..HUBSPOT_GRANT
};

/// Item 12: the refresh grant goes to `/oauth/2026-03/token` and the scopes come from `POST
/// /oauth/2026-03/token/introspect` (form body with the client credentials, no auth header),
/// never from the v1 endpoints HubSpot retires on 16 February 2027.
#[tokio::test]
async fn hubspot_grant_uses_the_2026_03_introspection() {
    let c = case("refresh grant + introspection", Healthy, Ok)
        .post("/oauth/2026-03/token", "token_2026_03")
        .get("/account-info/v3/details", "account_details")
        .post("/oauth/2026-03/token/introspect", "introspect_active")
        .route(http::Method::GET, "/oauth/v1/access-tokens/*", "token_metadata")
        .requests(&[
            "POST /oauth/2026-03/token",
            "GET /account-info/v3/details",
            "POST /oauth/2026-03/token/introspect",
        ])
        .scopes_valid(true)
        .granted(&[("crm.objects.contacts.read", true)])
        .rate(183.0, 190.0)
        .identity("demo.hubspot.com");
    let (r, reqs) = run(&HUBSPOT_GRANT, c).await;
    let form = String::from_utf8_lossy(&reqs[2].body).to_string();
    for field in ["client_id=hid", "client_secret=hsecret", "token=CJSP5qf1", "token_type_hint=access_token"] {
        assert!(form.contains(field), "introspection form lacks {field}: {form}");
    }
    assert!(reqs[2].query.is_none(), "no secret in the introspection URL");
    assert!(!format!("{r:?}").contains("hsecret"), "client secret in the result");
}

/// Item 12: introspection saying `active: false` is `unauthorized`.
#[tokio::test]
async fn hubspot_inactive_token_is_unauthorized() {
    let c = case("active: false", Err_, Unauthorized)
        .post("/oauth/2026-03/token", "token_2026_03")
        .get("/account-info/v3/details", "account_details")
        .post("/oauth/2026-03/token/introspect", "introspect_inactive")
        .requests(&[
            "POST /oauth/2026-03/token",
            "GET /account-info/v3/details",
            "POST /oauth/2026-03/token/introspect",
        ])
        .rate(183.0, 190.0)
        .detail(&["not active"]);
    run(&HUBSPOT_GRANT, c).await;
}

/// Item 12: a bare OAuth token keeps the documented v1 fallback; the day v1 is gone it is
/// `unexpected_response` naming the sunset and what to configure. Before, a 404 there was
/// classified by status with no word of the retirement.
#[tokio::test]
async fn hubspot_v1_sunset_is_named() {
    let c = case("v1 retired", Err_, UnexpectedResponse)
        .get("/account-info/v3/details", "account_details")
        .route(http::Method::GET, "/oauth/v1/access-tokens/*", "v1_retired")
        .requests(&[
            "GET /account-info/v3/details",
            "GET /oauth/v1/access-tokens/CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4",
        ])
        .rate(183.0, 190.0)
        .detail(&["16 February 2027", "oauth2_refresh_token", "/oauth/2026-03/token/introspect"]);
    run(&HUBSPOT_BEARER, c).await;
}

/// Item 12: the v1 fallback still works until the sunset (a bare access token's own 30-minute
/// expiry is what it reports, as before).
#[tokio::test]
async fn hubspot_v1_fallback_until_the_sunset() {
    let c = case("v1 metadata", Warning, ExpiringSoon)
        .get("/account-info/v3/details", "account_details")
        .route(http::Method::GET, "/oauth/v1/access-tokens/*", "token_metadata")
        .requests(&[
            "GET /account-info/v3/details",
            "GET /oauth/v1/access-tokens/CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4",
        ])
        .scopes_valid(true)
        .granted(&[("crm.objects.contacts.read", true)])
        .expiry(1700, 1760)
        .rate(183.0, 190.0)
        .identity("demo.hubspot.com");
    run(&HUBSPOT_BEARER, c).await;
}

/// Item 12: the default token URL is the 2026-03 one; bearer OAuth tokens and an explicit v1
/// token URL get a note naming the sunset.
#[test]
fn hubspot_defaults_and_notes_name_the_sunset() {
    let base = "https://api.hubapi.com";
    let cfg = Config::parse(
        &one("hubspot", base, "{type: oauth2_refresh_token, client_id: c, client_secret: s, refresh_token: r}", ""),
        "t.yml",
    )
    .expect("valid");
    let rendered = integration_exporter::config::view::render(&cfg);
    assert!(rendered.contains("https://api.hubapi.com/oauth/2026-03/token"), "{rendered}");
    assert!(cfg.integrations[0].notes.is_empty(), "{:?}", cfg.integrations[0].notes);
    let v1 = "{type: oauth2_refresh_token, token_url: 'https://api.hubapi.com/oauth/v1/token', client_id: c, client_secret: s, refresh_token: r}";
    let cfg = Config::parse(&one("hubspot", base, v1, ""), "t.yml").expect("valid");
    assert!(cfg.integrations[0].notes.iter().any(|n| n.contains("16 February 2027") && n.contains("2026-03/token")));
    let cfg = Config::parse(&one("hubspot", base, "{type: bearer, token: t}", ""), "t.yml").expect("valid");
    assert!(cfg.integrations[0]
        .notes
        .iter()
        .any(|n| n.contains("16 February 2027") && n.contains("oauth2_refresh_token")));
    let cfg = Config::parse(&one("hubspot", base, "{type: bearer, token: pat-na1-x}", ""), "t.yml").expect("valid");
    assert!(
        cfg.integrations[0].notes.is_empty(),
        "private-app tokens are not affected: {:?}",
        cfg.integrations[0].notes
    );
}

// ---------------------------------------------------------------- where refusals point

/// A provider's refusal names the file, line and column of the key it is about: `resource:`
/// and `site:` their own line, auth refusals the `auth:` line.
#[test]
fn provider_refusals_point_at_the_key() {
    let at = |yaml: &str| match Config::parse(yaml, "t.yml") {
        Err(ConfigError::Invalid(d)) => (d[0].line, d[0].message.clone()),
        other => panic!("refused expected: {other:?}"),
    };
    let (line, msg) = at(&one("stripe", "https://api.stripe.com", "{type: bearer, token: x}", "    resource: nope\n"));
    assert_eq!(line, 6, "{msg}");
    let (line, msg) =
        at(&one("github", "https://api.github.com", "{type: bearer, token: x}", "    site: https://a.atlassian.net\n"));
    assert_eq!(line, 6, "{msg}");
    let (line, msg) = at(&one(
        "salesforce",
        "https://a.my.salesforce.com",
        "{type: oauth2_client_credentials, client_id: c, client_secret: s}",
        "",
    ));
    assert_eq!(line, 5, "{msg}");
    assert!(msg.starts_with("integration \"t\": "), "names the integration: {msg}");
}

/// A Microsoft app-only bearer token without a permission to read `/organization`: a 403 there
/// still proves the token was accepted, so the probe is healthy, not `scope_missing`.
#[tokio::test]
async fn microsoft_bearer_app_only_denied_organization_is_authenticated() {
    let preset = Preset { auth: MS_MAIL_APP_BEARER, scopes: "{required: [Mail.Read]}", ..MICROSOFT_CC };
    let c = case("bearer app-only, 403 on /organization", Healthy, Ok)
        .get("/v1.0/organization", "denied")
        .requests(&["GET /organization"])
        .scopes_valid(true)
        .granted(&[("Mail.Read", true)])
        .expiry(4_102_444_800 - now() - 60, 4_102_444_800 - now() + 60)
        .identity("Mailbox Sync")
        .http(403);
    run(&preset, c).await;
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
