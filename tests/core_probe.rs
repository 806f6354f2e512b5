//! The probe engine with the generic `http` provider against a local mock API (real HTTP on
//! loopback): every SPEC §5 reason it can produce, and the SPEC §7 series on `/metrics`.

mod common;

use common::exporter::{find, http_integration, parse_metrics, value, InProcess, Sample, WAIT};
use integration_exporter::config::Config;
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::probe::{Engine, ProbeResult};
use integration_exporter::reason::{Reason, Status};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BEARER: &str = "{type: bearer, token: tok-abc123}";

fn get(path: &str, fixture: Fixture) -> Route {
    Route::fixed(http::Method::GET, path, fixture)
}

fn ok_json() -> Fixture {
    Fixture::json(200, json!({"ok": true}))
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Parses a one-integration config (`global` lines first) and probes it once.
async fn probe_one(global: &str, integration: &str) -> ProbeResult {
    let yaml = format!("global:\n  retries: 0\n{global}integrations:\n{integration}");
    let config = Config::parse(&yaml, "t.yml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let engine = Engine::new(1000.0);
    tokio::time::timeout(WAIT, engine.probe(&config.integrations[0], None)).await.expect("probe ends in time")
}

async fn probe_check(sim: &SimServer, check: &str, extra: &str) -> ProbeResult {
    let mut more = format!("check: {check}\n");
    more.push_str(extra);
    probe_one("", &http_integration("t", &sim.url(), BEARER, &more)).await
}

#[track_caller]
fn assert_reason(r: &ProbeResult, reason: Reason) {
    assert_eq!(r.reason, reason, "detail: {} / steps: {:?}", r.detail, r.steps);
    assert_eq!(r.status, reason.status());
}

#[tokio::test]
async fn ok() {
    let sim = SimServer::start(vec![get("/me", ok_json())]).await.unwrap();
    let r = probe_check(&sim, "{path: /me}", "").await;
    assert_reason(&r, Reason::Ok);
    assert_eq!(r.status, Status::Healthy);
    assert_eq!(r.http_status, 200);
    assert_eq!(r.auth_success, Some(true));
    let reqs = sim.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer tok-abc123"));
}

#[tokio::test]
async fn token_expired_from_www_authenticate() {
    let sim = SimServer::start(vec![get(
        "/me",
        Fixture::json(401, json!({})).with_header(
            "WWW-Authenticate",
            r#"Bearer realm="api", error="invalid_token", error_description="The access token expired""#,
        ),
    )])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /me}", "").await;
    assert_reason(&r, Reason::TokenExpired);
    assert_eq!(r.auth_success, Some(false));
    assert_eq!(r.http_status, 401);
}

#[tokio::test]
async fn token_expired_from_a_past_expiry() {
    let sim =
        SimServer::start(vec![get("/me", ok_json().with_header("X-Token-Expires", "{{unix:-3600}}"))]).await.unwrap();
    let r = probe_check(&sim, "{path: /me, expiry: {header: X-Token-Expires, format: unix}}", "").await;
    assert_reason(&r, Reason::TokenExpired);
    let exp = r.credential_expiry.expect("expiry known").duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(exp.abs_diff(now_unix() - 3600) <= 2, "{exp}");
}

#[tokio::test]
async fn unauthorized() {
    let sim =
        SimServer::start(vec![get("/me", Fixture::json(401, json!({"message": "bad credentials"})))]).await.unwrap();
    let r = probe_check(&sim, "{path: /me}", "").await;
    assert_reason(&r, Reason::Unauthorized);
    assert_eq!(r.auth_success, Some(false));
    // An invalid_token challenge that says neither expired nor revoked is plain unauthorized.
    let sim2 = SimServer::start(vec![get(
        "/me",
        Fixture::json(401, json!({}))
            .with_header("WWW-Authenticate", r#"Bearer error="invalid_token", error_description="malformed""#),
    )])
    .await
    .unwrap();
    assert_reason(&probe_check(&sim2, "{path: /me}", "").await, Reason::Unauthorized);
}

#[tokio::test]
async fn credential_missing_env_var_and_file_make_no_request() {
    let sim = SimServer::start(vec![get("/me", ok_json())]).await.unwrap();
    let var = http_integration(
        "t",
        &sim.url(),
        "{type: bearer, token: \"${IE_CORE_PROBE_NEVER_SET}\"}",
        "check: {path: /me}",
    );
    let r = probe_one("", &var).await;
    assert_reason(&r, Reason::CredentialMissing);
    assert!(r.detail.contains("IE_CORE_PROBE_NEVER_SET"), "{}", r.detail);
    let file =
        http_integration("t", &sim.url(), "{type: bearer, token_file: /nonexistent/ie/token}", "check: {path: /me}");
    let r = probe_one("", &file).await;
    assert_reason(&r, Reason::CredentialMissing);
    assert!(r.detail.contains("/nonexistent/ie/token"), "{}", r.detail);
    assert_eq!(r.http_status, 0);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let r = probe_one(
        "",
        &http_integration(
            "t",
            &sim.url(),
            &format!("{{type: bearer, token_file: {}}}", empty.display()),
            "check: {path: /me}",
        ),
    )
    .await;
    assert_reason(&r, Reason::CredentialMissing);
    assert!(sim.requests().is_empty(), "no request may be made without a credential");
}

#[tokio::test]
async fn forbidden() {
    let sim = SimServer::start(vec![get("/me", Fixture::json(403, json!({"message": "denied"})))]).await.unwrap();
    let r = probe_check(&sim, "{path: /me}", "").await;
    assert_reason(&r, Reason::Forbidden);
    assert_eq!(r.auth_success, Some(true));
}

#[tokio::test]
async fn scope_missing_from_scope_header() {
    let sim =
        SimServer::start(vec![get("/me", ok_json().with_header("X-OAuth-Scopes", "repo, read:org"))]).await.unwrap();
    let r = probe_check(
        &sim,
        "{path: /me, scopes: {header: X-OAuth-Scopes, separator: \",\"}}",
        "scopes: {required: [repo, admin:org], optional: [read:org]}\n",
    )
    .await;
    assert_reason(&r, Reason::ScopeMissing);
    assert!(r.detail.contains("admin:org"), "{}", r.detail);
    assert_eq!(r.scopes_valid, Some(false));
    let granted: Vec<(&str, bool, bool)> = r.scopes.iter().map(|s| (s.scope.as_str(), s.required, s.granted)).collect();
    assert_eq!(granted, vec![("repo", true, true), ("admin:org", true, false), ("read:org", false, true)]);
}

#[tokio::test]
async fn scope_missing_from_insufficient_scope_challenge() {
    let sim = SimServer::start(vec![get(
        "/me",
        Fixture::json(403, json!({}))
            .with_header("WWW-Authenticate", r#"Bearer error="insufficient_scope", scope="contacts.write""#),
    )])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /me}", "").await;
    assert_reason(&r, Reason::ScopeMissing);
    assert!(r.detail.contains("contacts.write"), "{}", r.detail);
    assert_eq!(r.auth_success, Some(true));
}

#[tokio::test]
async fn optional_scope_missing() {
    let sim = SimServer::start(vec![get("/me", Fixture::json(200, json!({"token": {"scope": "a b"}})))]).await.unwrap();
    let r = probe_check(
        &sim,
        "{path: /me, scopes: {json_pointer: /token/scope}}",
        "scopes: {required: [a], optional: [b, c]}\n",
    )
    .await;
    assert_reason(&r, Reason::OptionalScopeMissing);
    assert!(r.detail.contains('c') && !r.detail.contains(" b"), "{}", r.detail);
    assert_eq!(r.scopes_valid, Some(true));
}

#[tokio::test]
async fn provider_unavailable_after_retries() {
    let sim = SimServer::start(vec![get("/me", Fixture::json(503, json!({"error": "down"})))]).await.unwrap();
    let r = probe_check(&sim, "{path: /me}", "retries: 2\n").await;
    assert_reason(&r, Reason::ProviderUnavailable);
    assert_eq!(sim.requests().len(), 3, "one request and two retries");
    assert_eq!(r.steps.iter().map(|s| s.attempt).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(r.http_status, 503);
    assert_eq!(r.auth_success, None);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for status in [400u16, 401, 403, 404, 429] {
        let sim = SimServer::start(vec![get("/me", Fixture::json(status, json!({})))]).await.unwrap();
        let r = probe_check(&sim, "{path: /me}", "retries: 3\n").await;
        assert_eq!(sim.requests().len(), 1, "HTTP {status} was retried: {:?}", r.steps);
    }
}

/// A TCP server that accepts connections and never answers.
async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (url, task)
}

#[tokio::test]
async fn timeout_within_the_probe_timeout() {
    let (url, task) = silent_server().await;
    let started = Instant::now();
    let r = probe_one("", &http_integration("t", &url, BEARER, "check: {path: /me}\ntimeout: 1s\nretries: 2")).await;
    let took = started.elapsed();
    assert_reason(&r, Reason::Timeout);
    assert!(took >= Duration::from_millis(950) && took < Duration::from_millis(1800), "took {took:?}");
    assert!(r.duration < Duration::from_millis(1800));
    task.abort();
}

#[tokio::test]
async fn network_error_on_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r =
        probe_one("", &http_integration("t", &format!("http://127.0.0.1:{port}"), BEARER, "check: {path: /me}")).await;
    assert_reason(&r, Reason::NetworkError);
    assert_eq!(r.http_status, 0);
    assert_eq!(r.auth_success, None);
    assert!(r.api_latency.is_none());
}

#[tokio::test]
async fn unexpected_response_status_not_expected() {
    let sim = SimServer::start(vec![
        get("/me", Fixture::json(204, json!(null))),
        get("/gone", Fixture::json(404, json!({}))),
    ])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /me, expect_status: [200]}", "").await;
    assert_reason(&r, Reason::UnexpectedResponse);
    assert!(r.detail.contains("204"), "{}", r.detail);
    let r = probe_check(&sim, "{path: /gone}", "").await;
    assert_reason(&r, Reason::UnexpectedResponse);
    // A listed non-2xx status counts as success.
    let r = probe_check(&sim, "{path: /gone, expect_status: [404]}", "").await;
    assert_reason(&r, Reason::Ok);
}

#[tokio::test]
async fn unexpected_response_invalid_json_for_scopes() {
    let mut f = Fixture::json(200, json!(null));
    f.body = None;
    f.body_text = Some("<html>maintenance</html>".into());
    let sim = SimServer::start(vec![get("/me", f)]).await.unwrap();
    let r = probe_check(&sim, "{path: /me, scopes: {json_pointer: /scope}}", "scopes: {required: [a]}\n").await;
    assert_reason(&r, Reason::UnexpectedResponse);
    assert_eq!(r.scopes_valid, None, "scopes are unknown, not missing");
}

#[tokio::test]
async fn rate_limited_with_retry_after_seconds_and_http_date() {
    let sim = SimServer::start(vec![
        get("/secs", Fixture::json(429, json!({})).with_header("Retry-After", "120")),
        get("/date", Fixture::json(429, json!({})).with_header("Retry-After", "{{http_date:+300}}")),
    ])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /secs}", "").await;
    assert_reason(&r, Reason::RateLimited);
    assert_eq!(r.auth_success, Some(true));
    let wait = r.not_before.expect("not_before set").duration_since(SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(115) && wait <= Duration::from_secs(120), "{wait:?}");
    let r = probe_check(&sim, "{path: /date}", "").await;
    assert_reason(&r, Reason::RateLimited);
    let wait = r.not_before.expect("not_before set").duration_since(SystemTime::now()).unwrap();
    assert!(wait > Duration::from_secs(295) && wait <= Duration::from_secs(301), "{wait:?}");
}

#[tokio::test]
async fn rate_limit_low_from_both_header_forms() {
    let sim = SimServer::start(vec![
        get("/x", ok_json().with_header("X-RateLimit-Limit", "5000").with_header("X-RateLimit-Remaining", "100")),
        get(
            "/draft",
            ok_json()
                .with_header("RateLimit-Limit", "100")
                .with_header("RateLimit-Remaining", "3")
                .with_header("RateLimit-Reset", "30"),
        ),
        get("/plenty", ok_json().with_header("X-RateLimit-Limit", "100").with_header("X-RateLimit-Remaining", "90")),
    ])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /x}", "").await;
    assert_reason(&r, Reason::RateLimitLow);
    let rl = r.rate_limit.unwrap();
    assert_eq!((rl.remaining, rl.limit), (100.0, 5000.0));
    let r = probe_check(&sim, "{path: /draft}", "").await;
    assert_reason(&r, Reason::RateLimitLow);
    let rl = r.rate_limit.unwrap();
    assert_eq!((rl.remaining, rl.limit), (3.0, 100.0));
    let r = probe_check(&sim, "{path: /plenty}", "").await;
    assert_reason(&r, Reason::Ok);
    // The threshold is configurable: 90% left is "low" under rate_limit_warning 0.95.
    let r = probe_check(&sim, "{path: /plenty}", "rate_limit_warning: 0.95\n").await;
    assert_reason(&r, Reason::RateLimitLow);
}

#[tokio::test]
async fn slow() {
    let sim = SimServer::start(vec![get("/me", ok_json().with_delay(Duration::from_millis(400)))]).await.unwrap();
    let r = probe_check(&sim, "{path: /me}", "slow_threshold: 150ms\n").await;
    assert_reason(&r, Reason::Slow);
    assert!(r.api_latency.unwrap() >= Duration::from_millis(400));
    let r = probe_check(&sim, "{path: /me}", "slow_threshold: 5s\n").await;
    assert_reason(&r, Reason::Ok);
}

#[tokio::test]
async fn expiring_soon() {
    let sim = SimServer::start(vec![get("/me", Fixture::json(200, json!({"expires_at": "{{rfc3339:+7200}}"})))])
        .await
        .unwrap();
    let check = "{path: /me, expiry: {json_pointer: /expires_at, format: rfc3339}}";
    let r = probe_check(&sim, check, "").await;
    assert_reason(&r, Reason::ExpiringSoon);
    let exp = r.credential_expiry.unwrap().duration_since(UNIX_EPOCH).unwrap().as_secs();
    assert!(exp.abs_diff(now_unix() + 7200) <= 2);
    let r = probe_check(&sim, check, "expiry_warning: 1h\n").await;
    assert_reason(&r, Reason::Ok);
}

#[tokio::test]
async fn most_severe_finding_wins() {
    // Slow, quota low and an optional scope missing, but a required scope missing: error/scope_missing.
    let sim = SimServer::start(vec![get(
        "/me",
        ok_json()
            .with_header("X-RateLimit-Limit", "100")
            .with_header("X-RateLimit-Remaining", "1")
            .with_header("X-Scopes", "a")
            .with_delay(Duration::from_millis(200)),
    )])
    .await
    .unwrap();
    let r = probe_check(
        &sim,
        "{path: /me, scopes: {header: X-Scopes}}",
        "slow_threshold: 50ms\nscopes: {required: [b], optional: [c]}\n",
    )
    .await;
    assert_reason(&r, Reason::ScopeMissing);
}

#[tokio::test]
async fn redirects_to_another_host_are_not_followed() {
    let other = SimServer::start(vec![get("/steal", ok_json())]).await.unwrap();
    let sim = SimServer::start(vec![
        get("/away", Fixture::json(302, json!({})).with_header("Location", &format!("{}/steal", other.url()))),
        get("/old", Fixture::json(301, json!({})).with_header("Location", "/new")),
        get("/new", ok_json()),
    ])
    .await
    .unwrap();
    let r = probe_check(&sim, "{path: /away}", "").await;
    assert_reason(&r, Reason::UnexpectedResponse);
    assert_eq!(r.http_status, 302);
    assert!(other.requests().is_empty(), "the other host must see no request, let alone the credential");
    // Same-origin redirects are followed, with the credential.
    let r = probe_check(&sim, "{path: /old}", "").await;
    assert_reason(&r, Reason::Ok);
    let new = sim.requests().into_iter().find(|q| q.path == "/new").expect("followed");
    assert_eq!(new.header("authorization"), Some("Bearer tok-abc123"));
    // A custom auth header is not sent cross-origin either.
    let r = probe_one(
        "",
        &http_integration(
            "t",
            &sim.url(),
            "{type: header, name: X-Api-Key, value: key-xyz789}",
            "check: {path: /away}",
        ),
    )
    .await;
    assert_reason(&r, Reason::UnexpectedResponse);
    assert!(other.requests().is_empty());
}

#[tokio::test]
async fn a_100_mb_body_is_capped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf).await;
        let total: u64 = 100 * 1024 * 1024;
        let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n");
        s.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b' '; 64 * 1024];
        while w.load(Ordering::Relaxed) < total {
            if s.write_all(&chunk).await.is_err() {
                break;
            }
            w.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    let started = Instant::now();
    let r = probe_one(
        "",
        &http_integration(
            "t",
            &url,
            BEARER,
            "check: {path: /me, scopes: {json_pointer: /scope}}\nscopes: {required: [a]}\ntimeout: 10s",
        ),
    )
    .await;
    assert_reason(&r, Reason::UnexpectedResponse);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The server stops once the client hangs up: far less than 100 MB was read.
    tokio::time::timeout(WAIT, server).await.expect("server sees the hang-up").unwrap();
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < 32 * 1024 * 1024, "sent {sent} bytes");
}

// ---------------------------------------------------------------------------------------------
// SPEC §7 series on /metrics and /probe.

fn series_labels(s: &Sample) -> Vec<&str> {
    s.labels.keys().map(String::as_str).collect()
}

#[tokio::test]
async fn metric_values_series_by_series() {
    let expiry = now_unix() + 30 * 86400;
    let sim = SimServer::start(vec![
        get(
            "/healthy",
            Fixture::json(200, json!({"exp": expiry}))
                .with_header("X-Scopes", "read write")
                .with_header("X-RateLimit-Limit", "1000")
                .with_header("X-RateLimit-Remaining", "900"),
        ),
        get("/denied", Fixture::json(401, json!({}))),
        get("/slow", ok_json().with_delay(Duration::from_millis(300))),
    ])
    .await
    .unwrap();
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let yaml = format!(
        "global:\n  retries: 0\n  timeout: 3s\n  labels: {{env: test}}\nintegrations:\n{}{}{}{}{}{}",
        http_integration(
            "good",
            &sim.url(),
            BEARER,
            "labels: {team: core}\ncheck: {path: /healthy, scopes: {header: X-Scopes}, expiry: {json_pointer: /exp}}\nscopes: {required: [read], optional: [write]}\nexpiry_warning: 1d\ninterval: 15m"
        ),
        http_integration(
            "partial",
            &sim.url(),
            BEARER,
            "check: {path: /healthy, scopes: {header: X-Scopes}}\nscopes: {required: [read], optional: [admin]}"
        ),
        http_integration("bad", &sim.url(), "{type: basic, username: u, password: p4ssw0rd}", "check: {path: /denied}"),
        http_integration("slowpoke", &sim.url(), BEARER, "check: {path: /slow}\nslow_threshold: 100ms"),
        http_integration("offline", &refused, BEARER, "check: {path: /x}"),
        http_integration("never", &sim.url(), BEARER, "check: {path: /healthy}"),
    );
    let srv = InProcess::start(&yaml).await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    for t in ["good", "partial", "bad", "slowpoke", "offline"] {
        let (status, _, _) = srv.get(&format!("/probe?target={t}"), None).await;
        assert_eq!(status, 200, "/probe?target={t}");
    }
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
    let m = srv.metrics().await;

    // Every per-integration series carries integration, provider and the static labels.
    for s in m.iter().filter(|s| s.name.starts_with("integration_") && !s.name.starts_with("integration_exporter_")) {
        assert!(
            s.labels.contains_key("integration") && s.labels.get("provider").map(String::as_str) == Some("http"),
            "{s:?}"
        );
        assert_eq!(s.labels.get("env").map(String::as_str), Some("test"), "{s:?}");
    }
    let g = |name: &str, i: &str| value(&m, name, &[("integration", i)]);

    // healthy: every family present with its value.
    let i = &[("integration", "good")];
    assert_eq!(value(&m, "integration_up", i), Some(1.0));
    for (st, v) in [("unknown", 0.0), ("healthy", 1.0), ("warning", 0.0), ("error", 0.0)] {
        assert_eq!(value(&m, "integration_status", &[("integration", "good"), ("status", st)]), Some(v), "{st}");
    }
    assert_eq!(find(&m, "integration_status", i).len(), 4);
    assert!(find(&m, "integration_failure_reason", i).is_empty(), "absent when healthy");
    assert_eq!(g("integration_auth_success", "good"), Some(1.0));
    assert_eq!(g("integration_scopes_valid", "good"), Some(1.0));
    assert_eq!(
        value(&m, "integration_scope_granted", &[("integration", "good"), ("scope", "read"), ("required", "true")]),
        Some(1.0)
    );
    assert_eq!(
        value(&m, "integration_scope_granted", &[("integration", "good"), ("scope", "write"), ("required", "false")]),
        Some(1.0)
    );
    assert_eq!(find(&m, "integration_scope_granted", i).len(), 2);
    let good = find(&m, "integration_up", i)[0];
    assert_eq!(good.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(series_labels(good), vec!["env", "integration", "provider", "team"]);
    let lat = g("integration_api_latency_seconds", "good").unwrap();
    assert!(lat > 0.0 && lat < 3.0, "{lat}");
    let dur = g("integration_probe_duration_seconds", "good").unwrap();
    assert!(dur >= lat && dur < 3.0, "{dur} vs {lat}");
    assert_eq!(g("integration_http_status_code", "good"), Some(200.0));
    assert_eq!(g("integration_credential_expiry_timestamp_seconds", "good"), Some(expiry as f64));
    assert_eq!(g("integration_rate_limit_remaining", "good"), Some(900.0));
    assert_eq!(g("integration_rate_limit_limit", "good"), Some(1000.0));
    let last = g("integration_last_probe_timestamp_seconds", "good").unwrap();
    assert!(last >= before && last <= after, "{before} <= {last} <= {after}");
    assert_eq!(g("integration_last_success_timestamp_seconds", "good"), Some(last));
    assert_eq!(g("integration_status_change_timestamp_seconds", "good"), Some(last));
    assert_eq!(g("integration_probe_interval_seconds", "good"), Some(900.0));
    assert_eq!(value(&m, "integration_probes_total", &[("integration", "good"), ("result", "healthy")]), Some(1.0));
    assert_eq!(value(&m, "integration_probes_total", &[("integration", "good"), ("result", "error")]), Some(0.0));
    assert_eq!(value(&m, "integration_info", &[("integration", "good"), ("auth_type", "bearer")]), Some(1.0));

    // warning/optional_scope_missing: the missing optional scope is 0, scopes are still valid.
    let pi = &[("integration", "partial")];
    assert_eq!(
        value(&m, "integration_failure_reason", &[("integration", "partial"), ("reason", "optional_scope_missing")]),
        Some(1.0)
    );
    assert_eq!(value(&m, "integration_scopes_valid", pi), Some(1.0));
    assert_eq!(
        value(
            &m,
            "integration_scope_granted",
            &[("integration", "partial"), ("scope", "admin"), ("required", "false")]
        ),
        Some(0.0)
    );
    assert_eq!(value(&m, "integration_up", pi), Some(1.0));
    assert!(find(&m, "integration_credential_expiry_timestamp_seconds", pi).is_empty(), "expiry not read: absent");

    // error/unauthorized: up 0, one reason series, auth 0; scopes, expiry, quota and last success absent.
    assert_eq!(g("integration_up", "bad"), Some(0.0));
    assert_eq!(value(&m, "integration_status", &[("integration", "bad"), ("status", "error")]), Some(1.0));
    assert_eq!(
        value(&m, "integration_failure_reason", &[("integration", "bad"), ("reason", "unauthorized")]),
        Some(1.0)
    );
    assert_eq!(find(&m, "integration_failure_reason", &[("integration", "bad")]).len(), 1);
    assert_eq!(g("integration_auth_success", "bad"), Some(0.0));
    assert_eq!(g("integration_http_status_code", "bad"), Some(401.0));
    for absent in [
        "integration_scopes_valid",
        "integration_scope_granted",
        "integration_credential_expiry_timestamp_seconds",
        "integration_rate_limit_remaining",
        "integration_rate_limit_limit",
        "integration_last_success_timestamp_seconds",
    ] {
        assert!(find(&m, absent, &[("integration", "bad")]).is_empty(), "{absent} must be absent for bad");
    }
    assert_eq!(value(&m, "integration_probes_total", &[("integration", "bad"), ("result", "error")]), Some(1.0));
    assert_eq!(value(&m, "integration_info", &[("integration", "bad"), ("auth_type", "basic")]), Some(1.0));

    // warning/slow: still up.
    assert_eq!(g("integration_up", "slowpoke"), Some(1.0));
    assert_eq!(value(&m, "integration_status", &[("integration", "slowpoke"), ("status", "warning")]), Some(1.0));
    assert_eq!(value(&m, "integration_failure_reason", &[("integration", "slowpoke"), ("reason", "slow")]), Some(1.0));
    assert!(g("integration_api_latency_seconds", "slowpoke").unwrap() >= 0.3);
    assert!(g("integration_last_success_timestamp_seconds", "slowpoke").is_some());
    assert_eq!(value(&m, "integration_probes_total", &[("integration", "slowpoke"), ("result", "warning")]), Some(1.0));

    // network_error: no answer, so status code 0, no latency, auth undecided.
    assert_eq!(
        value(&m, "integration_failure_reason", &[("integration", "offline"), ("reason", "network_error")]),
        Some(1.0)
    );
    assert_eq!(g("integration_http_status_code", "offline"), Some(0.0));
    assert_eq!(g("integration_api_latency_seconds", "offline"), None);
    assert_eq!(g("integration_auth_success", "offline"), None);

    // never probed: status unknown, no up, no reason; counters at zero.
    assert_eq!(g("integration_up", "never"), None);
    assert_eq!(value(&m, "integration_status", &[("integration", "never"), ("status", "unknown")]), Some(1.0));
    assert_eq!(find(&m, "integration_status", &[("integration", "never")]).len(), 4);
    assert!(find(&m, "integration_failure_reason", &[("integration", "never")]).is_empty());
    assert_eq!(g("integration_last_probe_timestamp_seconds", "never"), None);
    assert_eq!(
        find(&m, "integration_probes_total", &[("integration", "never")]).iter().map(|s| s.value).sum::<f64>(),
        0.0
    );
    assert_eq!(g("integration_probe_interval_seconds", "never"), Some(3600.0));

    // Exporter self-metrics.
    assert_eq!(value(&m, "integration_exporter_config_last_reload_successful", &[]), Some(1.0));
    assert_eq!(value(&m, "integration_exporter_ondemand_probes_total", &[("result", "probed")]), Some(5.0));
    assert_eq!(find(&m, "integration_exporter_build_info", &[]).len(), 1);
    assert!(value(&m, "process_start_time_seconds", &[]).is_some());

    // /probe shows the same names and labels for its one integration, without exporter metrics.
    let (_, _, body) = srv.get("/probe?target=good", None).await;
    let p = parse_metrics(&body);
    assert!(p.iter().all(|s| s.labels.get("integration").map(String::as_str) == Some("good")), "{body}");
    for s in &p {
        let twin = find(&m, &s.name, &s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>());
        assert_eq!(twin.len(), 1, "{s:?} not on /metrics");
    }
    assert_eq!(value(&p, "integration_up", &[]), Some(1.0));
    srv.stop().await;
}

#[tokio::test]
async fn a_missing_secret_fails_only_its_integration() {
    let sim = SimServer::start(vec![get("/me", ok_json())]).await.unwrap();
    let yaml = format!(
        "global:\n  retries: 0\nintegrations:\n{}{}",
        http_integration(
            "lost",
            &sim.url(),
            "{type: bearer, token_file: /nonexistent/ie-secret}",
            "check: {path: /me}"
        ),
        http_integration("fine", &sim.url(), BEARER, "check: {path: /me}"),
    );
    let srv = InProcess::start(&yaml).await;
    for t in ["lost", "fine"] {
        assert_eq!(srv.get(&format!("/probe?target={t}"), None).await.0, 200);
    }
    let m = srv.metrics().await;
    assert_eq!(
        value(&m, "integration_failure_reason", &[("integration", "lost"), ("reason", "credential_missing")]),
        Some(1.0)
    );
    assert_eq!(value(&m, "integration_auth_success", &[("integration", "lost")]), Some(0.0));
    assert_eq!(value(&m, "integration_status", &[("integration", "fine"), ("status", "healthy")]), Some(1.0));
    assert_eq!(sim.requests().len(), 1, "only the integration with a credential made a request");
    let (status, _, _) = srv.get("/-/healthy", None).await;
    assert_eq!(status, 200);
    srv.stop().await;
}
