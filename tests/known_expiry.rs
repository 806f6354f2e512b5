//! An expiry learnt from an earlier probe turns a later bare 401 into `token_expired`
//! (GitHub stops sending `GitHub-Authentication-Token-Expiration` once the token is dead and
//! answers "Bad credentials" for expired and revoked tokens alike).

use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::reason::Reason;
use integration_exporter::runtime::{App, ConfigSource};
use serde_json::json;
use std::time::Duration;

fn user_ok() -> Vec<Route> {
    vec![Route::fixed(
        http::Method::GET,
        "/user",
        Fixture::json(200, json!({"login": "octocat", "id": 1, "type": "User"}))
            .with_header("X-OAuth-Scopes", "repo")
            .with_header("GitHub-Authentication-Token-Expiration", "{{github_date:+5}}"),
    )]
}

fn bad_credentials() -> Vec<Route> {
    vec![Route::fixed(
        http::Method::GET,
        "/user",
        Fixture::json(401, json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})),
    )]
}

#[tokio::test]
async fn a_401_after_the_known_expiry_is_token_expired() {
    let sim = SimServer::start(user_ok()).await.unwrap();
    let yaml = format!(
        "global: {{min_probe_interval: 0s, retries: 0}}\nintegrations:\n  - name: gh\n    provider: github\n    base_url: {}\n    auth: {{type: bearer, token: ghp_knownexpiry}}\n",
        sim.url()
    );
    let app = App::new(ConfigSource::Text { text: yaml, name: "t.yml".into() }, None, 10).unwrap();
    let first = app.probe("gh", None).await.unwrap();
    assert_eq!(first.reason, Reason::ExpiringSoon, "{}", first.detail);
    let expiry = first.credential_expiry.expect("expiry read from the header");

    sim.set_routes(bad_credentials());
    let before = app.probe("gh", None).await.unwrap();
    // Still before the expiry (about 5 s away): a 401 now is just unauthorized.
    assert!(std::time::SystemTime::now() < expiry, "the test ran too slowly to check the 'before' case");
    assert_eq!(before.reason, Reason::Unauthorized, "{}", before.detail);
    tokio::time::sleep(Duration::from_millis(6100)).await;
    let after = app.probe("gh", None).await.unwrap();
    assert_eq!(after.reason, Reason::TokenExpired, "{}", after.detail);
    assert_eq!(after.credential_expiry, Some(expiry));
    assert!(after.detail.contains("credential expired at"), "{}", after.detail);
    // And it stays token_expired on the next probe (the expiry is carried forward).
    let again = app.probe("gh", None).await.unwrap();
    assert_eq!(again.reason, Reason::TokenExpired);
}

#[tokio::test]
async fn a_401_without_any_known_expiry_stays_unauthorized() {
    let sim = SimServer::start(bad_credentials()).await.unwrap();
    let yaml = format!(
        "global: {{min_probe_interval: 0s, retries: 0}}\nintegrations:\n  - name: gh\n    provider: github\n    base_url: {}\n    auth: {{type: bearer, token: ghp_neverseen}}\n",
        sim.url()
    );
    let app = App::new(ConfigSource::Text { text: yaml, name: "t.yml".into() }, None, 10).unwrap();
    let r = app.probe("gh", None).await.unwrap();
    assert_eq!(r.reason, Reason::Unauthorized, "{}", r.detail);
    assert_eq!(r.credential_expiry, None);
}
