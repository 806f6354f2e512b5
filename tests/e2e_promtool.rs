//! `promtool check metrics` reports nothing on `/metrics` and `/probe` output (SPEC §7).
//!
//! promtool (Debian package `prometheus`) lints the Prometheus text format 0.0.4, the format
//! served when a scraper does not ask for OpenMetrics; `.ci/run` installs it and runs this.

mod common;

use common::exporter::{http_integration, InProcess, WAIT};
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use serde_json::json;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn promtool_check(text: String) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package prometheus)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), report)
}

async fn lint(what: &str, text: String) {
    assert!(text.contains("# TYPE"), "{what} is empty:\n{text}");
    let (ok, report) = tokio::time::timeout(WAIT, tokio::task::spawn_blocking(move || promtool_check(text)))
        .await
        .expect("promtool finishes")
        .unwrap();
    assert!(ok && report.trim().is_empty(), "promtool check metrics on {what}:\n{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs promtool; run by .ci/run"]
async fn promtool_finds_nothing_on_metrics_and_probe() {
    let sim = SimServer::start(vec![
        Route::fixed(
            http::Method::GET,
            "/full",
            Fixture::json(200, json!({"exp": "{{unix:+86400}}"}))
                .with_header("X-Scopes", "read write")
                .with_header("X-RateLimit-Limit", "100")
                .with_header("X-RateLimit-Remaining", "5"),
        ),
        Route::fixed(http::Method::GET, "/denied", Fixture::json(401, json!({}))),
        Route::fixed(http::Method::GET, "/slow", Fixture::json(200, json!({})).with_delay(Duration::from_millis(150))),
    ])
    .await
    .unwrap();
    let auth = "{type: bearer, token: t0ken}";
    let yaml = format!(
        "global:\n  retries: 0\n  labels: {{env: ci, team: \"core \\\"quoted\\\" \\\\ team\"}}\nintegrations:\n{}{}{}{}",
        http_integration(
            "full",
            &sim.url(),
            auth,
            "check: {path: /full, scopes: {header: X-Scopes}, expiry: {json_pointer: /exp}}\nscopes: {required: [read, admin], optional: [write, \"odd scope/with:chars\"]}"
        ),
        http_integration("denied", &sim.url(), "{type: basic, username: u, password: p}", "check: {path: /denied}"),
        http_integration("slow.one", &sim.url(), auth, "check: {path: /slow}\nslow_threshold: 10ms"),
        http_integration("never-probed", &sim.url(), auth, "check: {path: /full}"),
    );
    let srv = InProcess::start(&yaml).await;
    // Before any probe: unknown status, counters at zero.
    lint("/metrics before any probe", srv.get("/metrics", None).await.2).await;
    for t in ["full", "denied", "slow.one"] {
        for accept in [None, Some("text/plain; version=0.0.4")] {
            let (status, ct, body) = srv.get(&format!("/probe?target={t}"), accept).await;
            assert_eq!(status, 200);
            assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
            lint(&format!("/probe?target={t}"), body).await;
        }
    }
    let (_, ct, body) = srv.get("/metrics", Some("text/plain")).await;
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    assert!(
        body.contains("integration_scope_granted{") && body.contains("integration_rate_limit_remaining{"),
        "{body}"
    );
    lint("/metrics", body).await;
    lint("/metrics without Accept", srv.get("/metrics", None).await.2).await;
    srv.stop().await;
}
