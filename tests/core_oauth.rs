//! OAuth 2.0 grants against a loopback token endpoint: caching, dropping on 401, error mapping
//! and the shape of the token request.

mod common;

use common::exporter::{bin, http_integration, WAIT};
use integration_exporter::config::Config;
use integration_exporter::demo::sim::{Fixture, RecordedRequest, Route, SimServer};
use integration_exporter::probe::{Engine, ProbeResult};
use integration_exporter::reason::Reason;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CLIENT_SECRET: &str = "cs-Very-Secret-4471";
const REFRESH_TOKEN: &str = "rt-Long-Lived-9920";

/// A token endpoint issuing `at-1`, `at-2`, … and an API accepting only the tokens in `valid`.
struct OAuthMock {
    sim: SimServer,
    grants: Arc<AtomicU64>,
    valid: Arc<Mutex<HashSet<String>>>,
}

impl OAuthMock {
    async fn start(token_extra: serde_json::Value) -> OAuthMock {
        let grants = Arc::new(AtomicU64::new(0));
        let valid = Arc::new(Mutex::new(HashSet::new()));
        let (g, v) = (grants.clone(), valid.clone());
        let token = Route::dynamic(http::Method::POST, "/oauth/token", move |_req| {
            let n = g.fetch_add(1, Ordering::SeqCst) + 1;
            let t = format!("at-{n}");
            v.lock().unwrap().insert(t.clone());
            let mut body = json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600});
            if let (Some(b), Some(extra)) = (body.as_object_mut(), token_extra.as_object()) {
                b.extend(extra.clone());
            }
            Fixture::json(200, body)
        });
        let v = valid.clone();
        let api = Route::dynamic(http::Method::GET, "/me", move |req| {
            let presented = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).unwrap_or("");
            if v.lock().unwrap().contains(presented) {
                Fixture::json(200, json!({"ok": true}))
            } else {
                Fixture::json(401, json!({"error": "invalid_token"}))
            }
        });
        OAuthMock { sim: SimServer::start(vec![token, api]).await.unwrap(), grants, valid }
    }

    fn grants(&self) -> u64 {
        self.grants.load(Ordering::SeqCst)
    }

    fn token_requests(&self) -> Vec<RecordedRequest> {
        self.sim.requests().into_iter().filter(|r| r.path == "/oauth/token").collect()
    }

    fn api_requests(&self) -> usize {
        self.sim.requests().iter().filter(|r| r.path == "/me").count()
    }

    fn revoke_all(&self) {
        self.valid.lock().unwrap().clear();
    }
}

fn client_credentials(url: &str) -> String {
    format!(
        "{{type: oauth2_client_credentials, token_url: {url}/oauth/token, client_id: my-client, client_secret: {CLIENT_SECRET}, scopes: [read, write]}}"
    )
}

fn refresh_token(url: &str) -> String {
    format!(
        "{{type: oauth2_refresh_token, token_url: {url}/oauth/token, client_id: my-client, client_secret: {CLIENT_SECRET}, refresh_token: {REFRESH_TOKEN}}}"
    )
}

fn config(url: &str, auth: &str) -> Config {
    let yaml =
        format!("global:\n  retries: 0\nintegrations:\n{}", http_integration("o", url, auth, "check: {path: /me}"));
    Config::parse(&yaml, "t.yml").unwrap_or_else(|e| panic!("{e}"))
}

async fn probe(engine: &Engine, c: &Config) -> ProbeResult {
    tokio::time::timeout(WAIT, engine.probe(&c.integrations[0], None)).await.expect("probe in time")
}

fn form(req: &RecordedRequest) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&req.body).into_owned().collect()
}

#[tokio::test]
async fn client_credentials_grant_is_made_once_and_cached() {
    let mock = OAuthMock::start(json!({})).await;
    let c = config(&mock.sim.url(), &client_credentials(&mock.sim.url()));
    let engine = Engine::new(1000.0);
    for _ in 0..3 {
        let r = probe(&engine, &c).await;
        assert_eq!(r.reason, Reason::Ok, "{}", r.detail);
    }
    assert_eq!(mock.grants(), 1, "one grant for three probes");
    assert_eq!(mock.api_requests(), 3);

    // The token request: a form POST with the RFC 6749 §4.4 fields, no bearer credential.
    let reqs = mock.token_requests();
    let t = &reqs[0];
    assert_eq!(t.method, http::Method::POST);
    assert_eq!(t.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(t.header("authorization").is_none());
    let f = form(t);
    assert_eq!(f.get("grant_type").map(String::as_str), Some("client_credentials"));
    assert_eq!(f.get("client_id").map(String::as_str), Some("my-client"));
    assert_eq!(f.get("client_secret").map(String::as_str), Some(CLIENT_SECRET));
    assert_eq!(f.get("scope").map(String::as_str), Some("read write"));
    assert_eq!(f.len(), 4, "{f:?}");
    // The API got the granted access token.
    let api = mock.sim.requests().into_iter().find(|r| r.path == "/me").unwrap();
    assert_eq!(api.header("authorization"), Some("Bearer at-1"));
}

#[tokio::test]
async fn refresh_token_grant_is_made_once_and_cached() {
    let mock = OAuthMock::start(json!({})).await;
    let c = config(&mock.sim.url(), &refresh_token(&mock.sim.url()));
    let engine = Engine::new(1000.0);
    for _ in 0..3 {
        assert_eq!(probe(&engine, &c).await.reason, Reason::Ok);
    }
    assert_eq!(mock.grants(), 1);
    let f = form(&mock.token_requests()[0]);
    assert_eq!(f.get("grant_type").map(String::as_str), Some("refresh_token"));
    assert_eq!(f.get("refresh_token").map(String::as_str), Some(REFRESH_TOKEN));
    assert_eq!(f.get("client_id").map(String::as_str), Some("my-client"));
    assert_eq!(f.get("client_secret").map(String::as_str), Some(CLIENT_SECRET));
    assert!(!f.contains_key("scope"));
}

#[tokio::test]
async fn a_short_lived_token_is_granted_again_before_it_expires() {
    let mock = OAuthMock::start(json!({"expires_in": 1})).await;
    let c = config(&mock.sim.url(), &client_credentials(&mock.sim.url()));
    let engine = Engine::new(1000.0);
    assert_eq!(probe(&engine, &c).await.reason, Reason::Ok);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(probe(&engine, &c).await.reason, Reason::Ok);
    assert_eq!(mock.grants(), 2);
}

#[tokio::test]
async fn a_401_drops_the_cached_token() {
    let mock = OAuthMock::start(json!({})).await;
    let c = config(&mock.sim.url(), &client_credentials(&mock.sim.url()));
    let engine = Engine::new(1000.0);
    assert_eq!(probe(&engine, &c).await.reason, Reason::Ok);
    assert_eq!(mock.grants(), 1);

    // The provider revokes the cached token: the probe drops it, grants afresh and succeeds.
    mock.revoke_all();
    let r = probe(&engine, &c).await;
    assert_eq!(r.reason, Reason::Ok, "{} {:?}", r.detail, r.steps);
    assert_eq!(mock.grants(), 2);
    assert_eq!(probe(&engine, &c).await.reason, Reason::Ok);
    assert_eq!(mock.grants(), 2, "the fresh token is cached again");

    // Everything is refused: unauthorized, and no refused token stays cached, so the next
    // probe grants once and calls the API once (not: try a stale token, then grant again).
    let v = mock.valid.clone();
    let refuse = Route::dynamic(http::Method::GET, "/me", |_| Fixture::json(401, json!({"error": "invalid_token"})));
    mock.sim.set_routes(vec![
        Route::dynamic(http::Method::POST, "/oauth/token", move |_| {
            v.lock().unwrap().clear();
            Fixture::json(200, json!({"access_token": "at-refused", "expires_in": 3600}))
        }),
        refuse,
    ]);
    let r = probe(&engine, &c).await;
    assert_eq!(r.reason, Reason::Unauthorized, "{}", r.detail);
    let before = (mock.token_requests().len(), mock.api_requests());
    let r = probe(&engine, &c).await;
    assert_eq!(r.reason, Reason::Unauthorized);
    let after = (mock.token_requests().len(), mock.api_requests());
    assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1), "one grant and one API call");
}

#[tokio::test]
async fn invalid_grant_is_credential_revoked() {
    let sim = SimServer::start(vec![Route::fixed(
        http::Method::POST,
        "/oauth/token",
        Fixture::json(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        ),
    )])
    .await
    .unwrap();
    let engine = Engine::new(1000.0);
    for auth in [refresh_token(&sim.url()), client_credentials(&sim.url())] {
        let r = probe(&engine, &config(&sim.url(), &auth)).await;
        assert_eq!(r.reason, Reason::CredentialRevoked, "{}", r.detail);
        assert_eq!(r.auth_success, Some(false));
    }
    assert!(sim.requests().iter().all(|r| r.path == "/oauth/token"), "the API is not called without a token");
}

#[tokio::test]
async fn refresh_token_expiry_from_the_token_response() {
    let mock = OAuthMock::start(json!({"refresh_token_expires_in": 3 * 86400})).await;
    let c = config(&mock.sim.url(), &refresh_token(&mock.sim.url()));
    let r = probe(&Engine::new(1000.0), &c).await;
    assert_eq!(r.reason, Reason::ExpiringSoon, "{}", r.detail);
    assert!(r.credential_expiry.is_some());
}

#[tokio::test]
async fn no_secret_in_the_step_log_or_detail() {
    let mock = OAuthMock::start(json!({})).await;
    let engine = Engine::new(1000.0);
    for auth in [client_credentials(&mock.sim.url()), refresh_token(&mock.sim.url())] {
        let r = probe(&engine, &config(&mock.sim.url(), &auth)).await;
        assert_eq!(r.steps.len(), 2, "token request and API call: {:?}", r.steps);
        let text = format!(
            "{} {:?} {}",
            r.detail,
            r.steps,
            r.steps.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("\n")
        );
        for secret in [CLIENT_SECRET, REFRESH_TOKEN, "at-1", "at-2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(r.steps[0].target.ends_with("/oauth/token"), "{:?}", r.steps[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_client_is_unauthorized_with_a_log_line() {
    let sim = SimServer::start(vec![Route::fixed(
        http::Method::POST,
        "/oauth/token",
        Fixture::json(401, json!({"error": "invalid_client", "error_description": "Client authentication failed"})),
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    let yaml = format!(
        "integrations:\n{}",
        http_integration("o", &sim.url(), &client_credentials(&sim.url()), "check: {path: /me}")
    );
    std::fs::write(&path, yaml).unwrap();
    let p = path.to_str().unwrap().to_string();
    let out = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin())
                .args(["check", "--config.file", &p, "--output", "json", "--log.level", "debug"])
                .output()
                .unwrap()
        }),
    )
    .await
    .expect("check ends")
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v[0]["reason"], "unauthorized", "{stdout}");
    let line = stderr
        .lines()
        .find(|l| l.contains("client id or client secret is wrong"))
        .unwrap_or_else(|| panic!("no log line in {stderr}"));
    assert!(line.contains("level=warn") && line.contains("integration=o"), "{line}");
    assert!(!stderr.contains(CLIENT_SECRET) && !stdout.contains(CLIENT_SECRET));
    // The token endpoint is not hammered: invalid_client is not transient.
    assert_eq!(sim.requests().len(), 1);

    // The same line with --log.format json: one JSON object per line.
    let p = path.to_str().unwrap().to_string();
    let out = tokio::time::timeout(
        WAIT,
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin())
                .args(["check", "--config.file", &p, "--log.format", "json"])
                .output()
                .unwrap()
        }),
    )
    .await
    .expect("check ends")
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let warn = lines
        .iter()
        .find(|v| v["message"].as_str().is_some_and(|m| m.contains("client id or client secret is wrong")))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert_eq!(warn["level"], "WARN");
    assert_eq!(warn["integration"], "o");
    assert!(!stderr.contains('\x1b') && !stderr.contains(CLIENT_SECRET));
}
