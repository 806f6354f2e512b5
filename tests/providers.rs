//! Provider presets (SPEC §6, issue 3): scope implication and config-load behaviour of every
//! preset. The scenarios over real HTTP (status, reason, scopes, expiry, rate limit, back-off,
//! identity and the exact requests, per preset) are data beside each provider's fixtures,
//! `tests/fixtures/<provider>/scenarios.json`, each its own test in `tests/provider_scenarios.rs`.

mod common;

use common::fixture;
use integration_exporter::config::Config;
use integration_exporter::demo::sim::{Route, SimServer};
use integration_exporter::providers;
use integration_exporter::reason::{Reason, Status};

use Reason::Ok;
use Status::Healthy;

// ---------------------------------------------------------------- scope implication

#[test]
fn broader_scopes_satisfy_narrower_ones() {
    let g = |p: &str, granted: &[&str], wanted: &str| {
        let granted: Vec<String> = granted.iter().map(|s| s.to_string()).collect();
        providers::lookup(p).expect(p).scope_satisfied(&granted, wanted)
    };
    assert!(g("github", &["repo"], "repo:status"));
    assert!(g("github", &["repo"], "public_repo"));
    assert!(g("github", &["admin:org"], "read:org"));
    assert!(g("github", &["user"], "user:email"));
    assert!(g("github", &["repo"], "read:repo_hook"));
    assert!(!g("github", &["read:org"], "admin:org"));
    // The scope table lists the package scopes as separate rows, not nested.
    assert!(!g("github", &["write:packages"], "read:packages"));
    assert!(!g("github", &["repo:status"], "repo"));
    assert!(!g("github", &["read:org"], "write:org"));
    assert!(g("shopify", &["write_products"], "read_products"));
    assert!(!g("shopify", &["read_products"], "write_products"));
    assert!(!g("shopify", &["write_orders"], "read_products"));
    assert!(g("google", &["https://www.googleapis.com/auth/drive"], "https://www.googleapis.com/auth/drive.readonly"));
    assert!(!g("google", &["https://www.googleapis.com/auth/drive.readonly"], "https://www.googleapis.com/auth/drive"));
    assert!(!g("slack", &["chat:write"], "chat:write.public"));
    // Zendesk: no resource means every resource; no access means read and write.
    assert!(g("zendesk", &["read"], "tickets:read"));
    assert!(g("zendesk", &["tickets"], "tickets:write"));
    assert!(!g("zendesk", &["tickets:read"], "read"));
    assert!(!g("zendesk", &["read"], "tickets:write"));
    assert!(!g("zendesk", &["users:read"], "tickets:read"));
}

// ---------------------------------------------------------------- config load

use common::config_errors as errors;

fn one(provider: &str, base_url: &str, auth: &str, extra: &str) -> String {
    format!("integrations:\n  - name: t\n    provider: {provider}\n{base_url}    auth: {auth}\n{extra}")
}

#[test]
fn every_preset_is_registered() {
    let names = providers::names();
    for p in [
        "stripe",
        "hubspot",
        "salesforce",
        "github",
        "slack",
        "google",
        "microsoft",
        "shopify",
        "zendesk",
        "intercom",
        "pipedrive",
        "mailchimp",
        "notion",
        "jira",
        "http",
    ] {
        assert!(names.contains(&p), "{p} missing from {names:?}");
    }
}

#[test]
fn unknown_provider_lists_the_valid_ones() {
    let msg = errors(&one("hubspott", "", "{type: bearer, token: x}", ""));
    assert!(msg.contains("unknown provider \"hubspott\""), "{msg}");
    assert!(
        msg.contains("stripe, hubspot, salesforce, github, slack, google, microsoft, shopify, zendesk, intercom, pipedrive, mailchimp, notion, jira, http"),
        "{msg}"
    );
}

#[test]
fn unsupported_auth_type_names_the_supported_ones() {
    let msg = errors(&one("shopify", "    base_url: https://x.myshopify.com\n", "{type: bearer, token: x}", ""));
    assert!(msg.contains("does not support auth type bearer; supported: header"), "{msg}");
    let msg = errors(&one("slack", "", "{type: basic, username: u, password: p}", ""));
    assert!(msg.contains("supported: bearer"), "{msg}");
}

#[test]
fn refresh_grant_is_refused_where_refresh_tokens_rotate() {
    let auth = "{type: oauth2_refresh_token, token_url: 'https://example.com/token', client_id: c, client_secret: s, refresh_token: r}";
    for (p, base, why, instead) in [
        ("slack", "", "revokes the previous one", "type: bearer"),
        (
            "jira",
            "    base_url: https://api.atlassian.com\n",
            "Atlassian rotates refresh tokens",
            "type: basic or bearer",
        ),
        ("shopify", "    base_url: https://x.myshopify.com\n", "invalidate the previous one", "type: header"),
        ("zendesk", "    base_url: https://x.zendesk.com\n", "deletes the previous ones", "type: bearer"),
        ("notion", "", "the old one stops working", "type: bearer"),
    ] {
        let msg = errors(&one(p, base, auth, ""));
        assert!(msg.contains(&format!("oauth2_refresh_token is refused for provider {p}")), "{msg}");
        assert!(msg.contains(why), "{p}: {msg}");
        assert!(msg.contains(instead), "{p}: says what to configure instead ({instead}): {msg}");
    }
    // Non-rotating refresh tokens are accepted (Salesforce's only when stated: see
    // tests/providers_fidelity.rs).
    for p in ["hubspot", "google", "microsoft", "pipedrive"] {
        assert!(Config::parse(&one(p, "", auth, ""), "t.yml").is_ok(), "{p}");
    }
}

#[test]
fn per_account_presets_need_base_url() {
    for (p, auth, hint) in [
        ("salesforce", "{type: bearer, token: x}", "my.salesforce.com"),
        ("shopify", "{type: header, name: X-Shopify-Access-Token, value: x}", "myshopify.com"),
        ("zendesk", "{type: bearer, token: x}", "zendesk.com"),
        ("jira", "{type: basic, username: u, password: p}", "atlassian.net"),
    ] {
        let msg = errors(&one(p, "", auth, ""));
        assert!(msg.contains(&format!("provider {p} needs base_url")) && msg.contains(hint), "{msg}");
    }
    let cfg = Config::parse(&one("github", "", "{type: bearer, token: x}", ""), "t.yml").expect("valid");
    assert_eq!(cfg.integrations[0].base_url.as_str(), "https://api.github.com/");
}

#[test]
fn scopes_that_cannot_be_known_are_noted_at_load() {
    let scopes = "    scopes: {required: [anything]}\n";
    for (p, base, auth) in [
        ("stripe", "", "{type: bearer, token: x}"),
        ("mailchimp", "", "{type: basic, username: u, password: k-us6}"),
        ("intercom", "", "{type: bearer, token: x}"),
        ("notion", "", "{type: bearer, token: x}"),
        ("pipedrive", "", "{type: header, name: x-api-token, value: x}"),
        ("zendesk", "    base_url: https://x.zendesk.com\n", "{type: basic, username: u/token, password: p}"),
        ("jira", "    base_url: https://x.atlassian.net\n", "{type: basic, username: u, password: p}"),
        ("salesforce", "    base_url: https://x.my.salesforce.com\n", "{type: bearer, token: x}"),
    ] {
        let cfg = Config::parse(&one(p, base, auth, scopes), "t.yml").unwrap_or_else(|e| panic!("{p}: {e}"));
        let notes = &cfg.integrations[0].notes;
        assert!(notes.iter().any(|n| n.contains("configured scopes are not checked")), "{p}: {notes:?}");
    }
    for (p, base, auth) in [
        ("github", "", "{type: bearer, token: x}"),
        ("zendesk", "    base_url: https://x.zendesk.com\n", "{type: bearer, token: x}"),
        (
            "shopify",
            "    base_url: https://x.myshopify.com\n",
            "{type: header, name: X-Shopify-Access-Token, value: x}",
        ),
    ] {
        let cfg = Config::parse(&one(p, base, auth, scopes), "t.yml").expect("valid");
        assert!(cfg.integrations[0].notes.is_empty(), "{p}: {:?}", cfg.integrations[0].notes);
    }
}

#[tokio::test]
async fn scopes_configured_where_unknowable_are_not_pretended() {
    // Stripe with scopes configured: the probe is healthy and scopes stay unknown (no series).
    let sim = SimServer::start(vec![Route::fixed(http::Method::GET, "/v1/account", fixture("stripe", "healthy"))])
        .await
        .expect("sim");
    let yaml = format!(
        "integrations:\n  - name: t\n    provider: stripe\n    base_url: {}\n    auth: {{type: bearer, token: sk_test_x}}\n    scopes: {{required: [rak_balance_read]}}\n",
        sim.url()
    );
    let cfg = Config::parse(&yaml, "t.yml").expect("valid");
    let r = integration_exporter::probe::Engine::new(1000.0).probe(&cfg.integrations[0], None).await;
    assert_eq!((r.status, r.reason, r.scopes_valid), (Healthy, Ok, None));
    assert!(r.scopes.is_empty());
}
