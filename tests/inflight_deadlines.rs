//! A probe in flight is shared, but each caller keeps its own budget (issue 13's deadline bug):
//! a `/probe` with a short scrape timeout that joins a longer background probe answers within
//! its own deadline, and a background probe that joins one cut short by a `/probe` probes again
//! with its own budget instead of inheriting the cut.

mod common;

use common::exporter::{http_integration, parse_metrics, value, InProcess};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::reason::Reason;
use serde_json::json;
use std::time::{Duration, Instant};

/// An upstream that answers healthy after 3 s (the probe's own timeout is 10 s).
async fn slow_upstream() -> SimServer {
    let slow = Fixture::json(200, json!({"ok": true})).with_delay(Duration::from_secs(3));
    SimServer::start(vec![Route::fixed(http::Method::GET, "/me", slow)]).await.expect("sim")
}

async fn exporter(sim: &SimServer) -> InProcess {
    let yaml = format!(
        "global: {{timeout: 10s, slow_threshold: 30s, min_probe_interval: 0s, retries: 0}}\nintegrations:\n{}",
        http_integration("svc", &sim.url(), "{type: bearer, token: tok-Inflight-7731}", "check: {path: /me}")
    );
    InProcess::start(&yaml).await
}

/// `/probe?target=svc` with a 1.5 s scrape timeout (a 1 s probe budget); its time and metrics.
async fn scrape_probe(srv: &InProcess) -> (Duration, String) {
    let started = Instant::now();
    let resp = common::exporter::client()
        .get(srv.url("/probe?target=svc"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", "1.5")
        .send()
        .await
        .expect("probe request");
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.expect("body");
    (started.elapsed(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_probe_joining_a_long_background_probe_answers_within_its_own_deadline() {
    let sim = slow_upstream().await;
    let srv = exporter(&sim).await;
    let app = srv.app.clone();
    let background = tokio::spawn(async move { app.probe("svc", None).await });
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (took, body) = scrape_probe(&srv).await;
    assert!(took < Duration::from_millis(1500), "answered within the scrape's budget, took {took:?}");
    let m = parse_metrics(&body);
    assert_eq!(value(&m, "integration_failure_reason", &[("reason", "timeout")]), Some(1.0), "{body}");

    let result = tokio::time::timeout(Duration::from_secs(10), background).await.expect("in time").unwrap().unwrap();
    assert_eq!(result.reason, Reason::Ok, "the background probe ran with its own budget: {result:?}");
    assert_eq!(sim.requests().len(), 1, "one upstream probe, shared");
    let m = srv.metrics().await;
    assert_eq!(value(&m, "integration_status", &[("status", "healthy")]), Some(1.0), "the joined result is recorded");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_background_probe_never_inherits_the_shorter_budget_of_a_probe_it_joins() {
    let sim = slow_upstream().await;
    let srv = exporter(&sim).await;
    let scrape = {
        let url = srv.url("/probe?target=svc");
        tokio::spawn(async move {
            common::exporter::client()
                .get(url)
                .header("X-Prometheus-Scrape-Timeout-Seconds", "1.5")
                .send()
                .await
                .expect("probe request")
                .text()
                .await
                .expect("body")
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(15), srv.app.probe("svc", None))
        .await
        .expect("in time")
        .expect("known integration");
    assert_eq!(result.reason, Reason::Ok, "probed again with its own 10 s budget: {result:?}");
    assert!(started.elapsed() >= Duration::from_secs(3), "it waited for the upstream, not for the cut");
    let body = scrape.await.unwrap();
    assert_eq!(value(&parse_metrics(&body), "integration_failure_reason", &[("reason", "timeout")]), Some(1.0));
    assert_eq!(sim.requests().len(), 2, "the cut-short probe and the background probe's own");
    srv.stop().await;
}
