//! The HTTP endpoints (SPEC §3): `/probe` caching and single-flight, target validation,
//! debug output, content negotiation, `/config`, health, reload (endpoint and SIGHUP),
//! graceful SIGTERM, and `--web.max-requests`.

mod common;

use common::exporter::{find, get, http_integration, parse_metrics, post, value, ChildExporter, InProcess, WAIT};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::runtime::ConfigSource;
use integration_exporter::server::ServerOptions;
use serde_json::json;
use std::time::{Duration, Instant};

const TOKEN: &str = "tok-Server-Test-5521";

fn me(delay_ms: u64) -> Route {
    Route::fixed(
        http::Method::GET,
        "/me",
        Fixture::json(200, json!({"ok": true})).with_delay(Duration::from_millis(delay_ms)),
    )
}

fn one(url: &str, global: &str) -> String {
    format!(
        "global:\n  retries: 0\n{global}integrations:\n{}",
        http_integration("svc", url, &format!("{{type: bearer, token: {TOKEN}}}"), "check: {path: /me}")
    )
}

async fn ondemand(srv: &InProcess, result: &str) -> f64 {
    value(&srv.metrics().await, "integration_exporter_ondemand_probes_total", &[("result", result)]).unwrap()
}

#[tokio::test]
async fn second_probe_within_min_probe_interval_is_cached() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "  min_probe_interval: 1m\n")).await;
    let (s1, _, b1) = srv.get("/probe?target=svc", None).await;
    let (s2, _, b2) = srv.get("/probe?target=svc", None).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(sim.requests().len(), 1, "the second call made no upstream request");
    let ts = |b: &str| value(&parse_metrics(b), "integration_last_probe_timestamp_seconds", &[]);
    assert_eq!(ts(&b1), ts(&b2), "the cached result is returned");
    assert_eq!(ondemand(&srv, "probed").await, 1.0);
    assert_eq!(ondemand(&srv, "cached").await, 1.0);
    srv.stop().await;
}

#[tokio::test]
async fn min_probe_interval_zero_never_caches() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "  min_probe_interval: 0s\n")).await;
    for _ in 0..3 {
        assert_eq!(srv.get("/probe?target=svc", None).await.0, 200);
    }
    assert_eq!(sim.requests().len(), 3);
    assert_eq!(ondemand(&srv, "cached").await, 0.0);
    assert_eq!(ondemand(&srv, "probed").await, 3.0);
    srv.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_probes_make_one_upstream_request() {
    // min_probe_interval 0s: only single-flight, not the cache, can collapse these.
    let sim = SimServer::start(vec![me(500)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "  min_probe_interval: 0s\n")).await;
    let url = srv.url("/probe?target=svc");
    let calls: Vec<_> = (0..20).map(|_| tokio::spawn(get_owned(url.clone()))).collect();
    for c in calls {
        let (status, _, body) = c.await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(value(&parse_metrics(&body), "integration_up", &[]), Some(1.0));
    }
    assert_eq!(sim.requests().len(), 1, "20 concurrent /probe calls share one upstream probe");
    let m = srv.metrics().await;
    assert_eq!(value(&m, "integration_probes_total", &[("result", "healthy")]), Some(1.0), "recorded once");
    srv.stop().await;
}

async fn get_owned(url: String) -> (u16, String, String) {
    get(&url, None).await
}

#[tokio::test]
async fn bad_targets_get_400_and_make_no_request() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "")).await;
    let url_target = format!("{}/me", sim.url());
    let encoded: String = url::form_urlencoded::byte_serialize(url_target.as_bytes()).collect();
    for q in [
        "/probe?target=nope".to_string(),
        "/probe".to_string(),
        "/probe?target=".to_string(),
        format!("/probe?target={encoded}"),
        format!("/probe?target={url_target}"),
        "/probe?target=svc/../svc".to_string(),
    ] {
        let (status, _, body) = srv.get(&q, None).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains("target"), "{body}");
    }
    assert!(sim.requests().is_empty(), "no outbound request at all: {:?}", sim.requests());
    assert_eq!(ondemand(&srv, "rejected").await, 6.0);
    assert_eq!(ondemand(&srv, "probed").await, 0.0);
    srv.stop().await;
}

#[tokio::test]
async fn debug_output_has_steps_metrics_and_redacted_config() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "")).await;
    let (status, ct, body) = srv.get("/probe?target=svc&debug=true", None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain"), "{ct}");
    let steps = body.find("Steps:").expect("steps section");
    let metrics = body.find("Metrics:").expect("metrics section");
    let config = body.find("Config:").expect("config section");
    assert!(steps < metrics && metrics < config, "{body}");
    assert!(body[steps..metrics].contains(&format!("GET {}/me -> 200", sim.addr())), "{body}");
    assert!(body[metrics..config].contains("integration_up{integration=\"svc\",provider=\"http\"} 1"), "{body}");
    assert!(body[config..].contains("token: <secret>"), "{body}");
    assert!(body[config..].contains("name: svc"), "{body}");
    assert!(!body.contains(TOKEN), "{body}");
    srv.stop().await;
}

#[tokio::test]
async fn openmetrics_and_text_004_negotiation() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let srv = InProcess::start(&one(&sim.url(), "")).await;
    assert_eq!(srv.get("/probe?target=svc", None).await.0, 200);
    for path in ["/metrics", "/probe?target=svc"] {
        let (_, ct, om) =
            srv.get(path, Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")).await;
        assert!(ct.starts_with("application/openmetrics-text; version=1.0.0"), "{path}: {ct}");
        assert!(om.ends_with("# EOF\n"), "{path}");
        assert_eq!(om.matches("# EOF").count(), 1);
        assert!(
            om.contains("# TYPE integration_probes counter\n"),
            "OpenMetrics names the counter family without _total"
        );
        assert!(om.contains("integration_probes_total{"), "{om}");

        for accept in [None, Some("text/plain"), Some("*/*")] {
            let (_, ct, text) = srv.get(path, accept).await;
            assert!(ct.starts_with("text/plain; version=0.0.4"), "{path} {accept:?}: {ct}");
            assert!(!text.contains("# EOF"), "{path}");
            assert!(text.contains("# TYPE integration_probes_total counter\n"), "{text}");
            assert!(text.contains("# HELP integration_probes_total "), "{text}");
            assert!(text.contains("integration_probes_total{"), "{text}");
            // The same samples in both formats.
            let names = |t: &str| parse_metrics(t).into_iter().map(|s| (s.name, s.labels)).collect::<Vec<_>>();
            let (a, b) = (names(&om), names(&text));
            if path == "/probe?target=svc" {
                assert_eq!(a, b);
            } else {
                assert_eq!(a.len(), b.len());
            }
        }
    }
    let (_, _, text) = srv.get("/metrics", None).await;
    assert!(text.contains("# TYPE integration_exporter_ondemand_probes_total counter"), "{text}");
    assert!(text.contains("# TYPE process_cpu_seconds_total counter"), "{text}");
    srv.stop().await;
}

#[tokio::test]
async fn config_endpoint_is_redacted_and_health_endpoints_answer() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("token");
    std::fs::write(&secret_file, "file-held-secret-0042").unwrap();
    let yaml = format!(
        "integrations:\n{}{}",
        http_integration(
            "inline",
            "http://127.0.0.1:1",
            &format!("{{type: bearer, token: {TOKEN}}}"),
            "check: {path: /me}"
        ),
        http_integration(
            "fromfile",
            "http://127.0.0.1:1",
            &format!("{{type: bearer, token_file: {}}}", secret_file.display()),
            "check: {path: /me}"
        ),
    );
    let srv = InProcess::start(&yaml).await;
    let (status, ct, body) = srv.get("/config", None).await;
    assert_eq!(status, 200);
    assert!(ct.contains("yaml"), "{ct}");
    assert!(!body.contains(TOKEN) && !body.contains("file-held-secret"), "{body}");
    assert!(body.contains("token: <secret>"), "{body}");
    assert!(body.contains(&format!("token_file: {}", secret_file.display())), "{body}");
    assert!(body.contains("name: inline") && body.contains("name: fromfile"), "{body}");
    assert_eq!(srv.get("/-/healthy", None).await.0, 200);
    assert_eq!(srv.get("/-/ready", None).await.0, 200);
    assert_eq!(srv.get("/no-such-page", None).await.0, 404);
    assert_eq!(post(&srv.url("/metrics")).await.0, 405);
    srv.stop().await;
}

fn reload_ok(m: &[common::exporter::Sample]) -> f64 {
    value(m, "integration_exporter_config_last_reload_successful", &[]).unwrap()
}

#[tokio::test]
async fn reload_endpoint_adds_and_removes_series_and_keeps_config_on_error() {
    let sim = SimServer::start(vec![me(0)]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    let auth = format!("{{type: bearer, token: {TOKEN}}}");
    let a = http_integration("alpha", &sim.url(), &auth, "check: {path: /me}");
    let b = http_integration("beta", &sim.url(), &auth, "check: {path: /me}");
    std::fs::write(&path, format!("integrations:\n{a}")).unwrap();
    let srv = InProcess::start_source(ConfigSource::File(path.clone()), ServerOptions::default()).await;
    assert_eq!(srv.get("/probe?target=alpha", None).await.0, 200);
    let m = srv.metrics().await;
    assert_eq!(reload_ok(&m), 1.0);
    let t0 = value(&m, "integration_exporter_config_last_reload_success_timestamp_seconds", &[]).unwrap();
    assert!(find(&m, "integration_status", &[("integration", "beta")]).is_empty());

    // Add beta.
    std::fs::write(&path, format!("integrations:\n{a}{b}")).unwrap();
    let (status, body) = post(&srv.url("/-/reload")).await;
    assert_eq!(status, 200, "{body}");
    let m = srv.metrics().await;
    assert_eq!(value(&m, "integration_status", &[("integration", "beta"), ("status", "unknown")]), Some(1.0));
    assert_eq!(value(&m, "integration_up", &[("integration", "alpha")]), Some(1.0), "alpha keeps its result");
    assert!(value(&m, "integration_exporter_config_last_reload_success_timestamp_seconds", &[]).unwrap() >= t0);
    assert_eq!(srv.get("/probe?target=beta", None).await.0, 200);

    // Remove alpha: every one of its series disappears.
    std::fs::write(&path, format!("integrations:\n{b}")).unwrap();
    assert_eq!(post(&srv.url("/-/reload")).await.0, 200);
    let m = srv.metrics().await;
    assert!(m.iter().all(|s| s.labels.get("integration").map(String::as_str) != Some("alpha")), "alpha series remain");
    assert_eq!(value(&m, "integration_up", &[("integration", "beta")]), Some(1.0));
    assert_eq!(srv.get("/probe?target=alpha", None).await.0, 400);

    // A broken file: 500 with the reason, the old config stays, the gauge goes to 0.
    std::fs::write(&path, "integrations:\n  - name: beta\n    provider: http\n    bogus: 1\n").unwrap();
    let (status, body) = post(&srv.url("/-/reload")).await;
    assert_eq!(status, 500);
    assert!(body.contains("c.yml:4:5") && body.contains("bogus"), "{body}");
    let m = srv.metrics().await;
    assert_eq!(reload_ok(&m), 0.0);
    assert_eq!(value(&m, "integration_up", &[("integration", "beta")]), Some(1.0), "old config still serves");
    assert_eq!(srv.get("/probe?target=beta", None).await.0, 200);
    let (_, _, cfg) = srv.get("/config", None).await;
    assert!(cfg.contains("name: beta") && !cfg.contains("bogus"), "{cfg}");

    // Fixed again: back to 1.
    std::fs::write(&path, format!("integrations:\n{a}{b}")).unwrap();
    assert_eq!(post(&srv.url("/-/reload")).await.0, 200);
    assert_eq!(reload_ok(&srv.metrics().await), 1.0);
    assert_eq!(srv.get("/-/reload", None).await.0, 405);
    srv.stop().await;
}

#[tokio::test]
async fn max_requests_answers_503_beyond_the_limit() {
    let sim = SimServer::start(vec![me(800)]).await.unwrap();
    let options = ServerOptions { max_requests: 1, ..ServerOptions::default() };
    let srv = InProcess::start_with(&one(&sim.url(), ""), options).await;
    let slow = tokio::spawn(get_owned(srv.url("/probe?target=svc")));
    // Wait until the slow probe is in flight upstream.
    assert!(common::exporter::eventually(WAIT, || async { !sim.requests().is_empty() }).await);
    let (status, _, body) = srv.get("/metrics", None).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--web.max-requests"), "{body}");
    assert_eq!(slow.await.unwrap().0, 200);
    assert_eq!(srv.get("/metrics", None).await.0, 200, "served again once the slot is free");
    srv.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Signals, with the binary as a child process.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_sigterm_exits_gracefully() {
    let sim = SimServer::start(vec![
        me(0),
        Route::fixed(http::Method::GET, "/slow", Fixture::json(200, json!({})).with_delay(Duration::from_millis(1500))),
    ])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yml");
    let auth = format!("{{type: bearer, token: {TOKEN}}}");
    let a = http_integration("alpha", &sim.url(), &auth, "check: {path: /me}");
    let b = http_integration(
        "beta",
        &sim.url(),
        &auth,
        "check: {path: /slow}\ntimeout: 5s\nslow_threshold: 5s\nmin_probe_interval: 0s",
    );
    std::fs::write(&path, format!("global:\n  interval: 1h\nintegrations:\n{a}")).unwrap();
    let p = path.clone();
    let mut child = tokio::task::spawn_blocking(move || ChildExporter::start(&p, &[], &[])).await.unwrap();
    let metrics = |url: String| async move { parse_metrics(&get(&url, None).await.2) };
    let murl = child.url("/metrics");

    // The scheduler probes alpha at start.
    assert!(
        common::exporter::eventually(WAIT, || {
            let u = murl.clone();
            async move { value(&metrics(u).await, "integration_up", &[("integration", "alpha")]) == Some(1.0) }
        })
        .await
    );

    // SIGHUP with beta added.
    std::fs::write(&path, format!("global:\n  interval: 1h\nintegrations:\n{a}{b}")).unwrap();
    child.signal("HUP");
    assert!(
        common::exporter::eventually(WAIT, || {
            let u = murl.clone();
            async move { !find(&metrics(u).await, "integration_status", &[("integration", "beta")]).is_empty() }
        })
        .await,
        "beta appears after SIGHUP"
    );

    // SIGHUP with a broken file: beta stays, reload gauge 0.
    std::fs::write(&path, "global: [\n").unwrap();
    child.signal("HUP");
    assert!(
        common::exporter::eventually(WAIT, || {
            let u = murl.clone();
            async move { value(&metrics(u).await, "integration_exporter_config_last_reload_successful", &[]) == Some(0.0) }
        })
        .await
    );
    assert!(!find(&metrics(murl.clone()).await, "integration_status", &[("integration", "beta")]).is_empty());

    // SIGHUP with alpha removed: its series disappear, the gauge is 1 again.
    std::fs::write(&path, format!("global:\n  interval: 1h\nintegrations:\n{b}")).unwrap();
    child.signal("HUP");
    assert!(
        common::exporter::eventually(WAIT, || {
            let u = murl.clone();
            async move {
                let m = metrics(u).await;
                value(&m, "integration_exporter_config_last_reload_successful", &[]) == Some(1.0)
                    && m.iter().all(|s| s.labels.get("integration").map(String::as_str) != Some("alpha"))
            }
        })
        .await
    );

    // Let the scheduler's first probe of beta finish, so /probe below starts a probe of its own.
    assert!(
        common::exporter::eventually(WAIT, || {
            let u = murl.clone();
            async move { value(&metrics(u).await, "integration_up", &[("integration", "beta")]).is_some() }
        })
        .await
    );
    // SIGTERM while a slow /probe is in flight: the request completes, then the process exits 0.
    let probes_before = sim.requests().iter().filter(|r| r.path == "/slow").count();
    let in_flight = tokio::spawn(get_owned(child.url("/probe?target=beta&debug=true")));
    assert!(
        common::exporter::eventually(WAIT, || async {
            sim.requests().iter().filter(|r| r.path == "/slow").count() > probes_before
        })
        .await
    );
    let started = Instant::now();
    child.signal("TERM");
    let (status, _, body) = tokio::time::timeout(WAIT, in_flight).await.expect("in-flight request ends").unwrap();
    assert_eq!(status, 200, "{body}");
    let code = tokio::task::spawn_blocking(move || {
        let code = child.wait_exit(Duration::from_secs(15));
        (code, child.log())
    })
    .await
    .unwrap();
    assert_eq!(code.0, Some(0), "log:\n{}", code.1);
    assert!(started.elapsed() < Duration::from_secs(12));
    assert!(code.1.contains("config reloaded"), "{}", code.1);
    assert!(code.1.contains("config reload failed"), "{}", code.1);
    assert!(code.1.contains("shutting down"), "{}", code.1);
}

#[tokio::test]
async fn probe_honours_the_scrape_timeout_header() {
    // A server that accepts and never answers; the configured timeout is 20s.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let srv = InProcess::start(&one(&url, "  timeout: 20s\n")).await;
    let started = Instant::now();
    let resp = common::exporter::client()
        .get(srv.url("/probe?target=svc"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "2")
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(resp.status().as_u16(), 200);
    let m = parse_metrics(&resp.text().await.unwrap());
    assert_eq!(value(&m, "integration_failure_reason", &[("reason", "timeout")]), Some(1.0));
    assert!(took < Duration::from_secs(2), "answered within the scraper's deadline, took {took:?}");
    hold.abort();
    srv.stop().await;
}

#[tokio::test]
async fn probe_waits_for_retry_after_even_without_caching() {
    let sim = SimServer::start(vec![Route::fixed(
        http::Method::GET,
        "/me",
        Fixture::json(429, json!({})).with_header("Retry-After", "120"),
    )])
    .await
    .unwrap();
    let srv = InProcess::start(&one(&sim.url(), "  min_probe_interval: 0s\n")).await;
    for _ in 0..3 {
        let (status, _, body) = srv.get("/probe?target=svc", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            value(&parse_metrics(&body), "integration_failure_reason", &[("reason", "rate_limited")]),
            Some(1.0)
        );
    }
    assert_eq!(sim.requests().len(), 1, "no request before Retry-After has passed");
    assert_eq!(ondemand(&srv, "cached").await, 2.0);
    srv.stop().await;
}
