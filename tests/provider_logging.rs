//! A response not in the documented shape is `unexpected_response`, and the first bytes of its
//! body are logged at debug level with every secret removed (issue 3, "Bad input").
//!
//! Its own test binary: a thread-local tracing subscriber only sees events whose callsite
//! interest was not cached by other tests running in parallel in the same process.

mod common;

use common::fixture;
use integration_exporter::config::Config;
use integration_exporter::demo::sim::{Route, SimServer};
use integration_exporter::reason::Reason::UnexpectedResponse;

const HUBSPOT: common::Preset = common::Preset {
    provider: "hubspot",
    auth: "{type: bearer, token: hubspot-oauth-access-token}",
    base_suffix: "",
    scopes: "",
    auth_header: ("authorization", "Bearer hubspot-oauth-access-token"),
    unauthenticated: &["/oauth/v1/access-tokens/"],
    post_paths: &[],
};

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        std::io::Result::Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Result::Ok(())
    }
}

#[tokio::test]
async fn unexpected_bodies_are_logged_at_debug_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // HubSpot token metadata echoes the token; a body without scopes[] is not the documented shape.
    let mut echo = fixture("hubspot", "token_metadata");
    echo.body = Some(serde_json::json!({"token": "hubspot-oauth-access-token", "unexpected": true}));
    let sim = SimServer::start(vec![
        Route::fixed(http::Method::GET, "/account-info/v3/details", fixture("hubspot", "account_details")),
        Route::fixed(http::Method::GET, "/oauth/v1/access-tokens/{token}", echo),
    ])
    .await
    .expect("sim");
    let yaml = common::config_yaml(&HUBSPOT, HUBSPOT.auth, &sim.url());
    let cfg = Config::parse(&yaml, "t.yml").expect("valid");
    let r = integration_exporter::probe::Engine::new(1000.0).probe(&cfg.integrations[0], None).await;
    assert_eq!(r.reason, UnexpectedResponse, "{r:?}");
    let log = String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(|p| p.into_inner())).to_string();
    assert!(log.contains("DEBUG") && log.contains("unexpected"), "body preview logged: {log}");
    assert!(log.contains("<secret>"), "the echoed token is redacted: {log}");
    assert!(!log.contains("hubspot-oauth-access-token"), "no secret in the log: {log}");
    assert!(!r.detail.contains("hubspot-oauth-access-token"));
}
