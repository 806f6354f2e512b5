//! The signals the alert rules read (issue 11): `integration_failure_class`,
//! `integration_consecutive_failed_probes`, `integration_status_change_timestamp_seconds`, the
//! external URL for links, and one `info` log line per status change — from the real binary,
//! driven through on-demand probes against an upstream on loopback whose answer the test
//! changes between probes.

mod common;

use common::exporter::{get, parse_metrics, post, value, ChildExporter, Sample};
use std::io::Write;
use std::process::Command;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-Alert-Signals-8813";

async fn answer(server: &MockServer, status: u16) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/me"))
        .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({"ok": status == 200})))
        .mount(server)
        .await;
}

fn config(dir: &tempfile::TempDir, base_url: &str) -> std::path::PathBuf {
    let yaml = format!(
        "global: {{interval: 1h, error_interval: 1h, retries: 0, min_probe_interval: 0s}}\n\
         integrations:\n  - name: crm\n    provider: http\n    base_url: {base_url}\n    \
         auth: {{type: bearer, token: {TOKEN}}}\n    check: {{path: /me}}\n"
    );
    let file = dir.path().join("config.yml");
    std::fs::File::create(&file).unwrap().write_all(yaml.as_bytes()).unwrap();
    file
}

async fn probe(exporter: &ChildExporter) -> Vec<Sample> {
    let (status, body) = post(&exporter.url("/api/v1/integrations/crm/probe")).await;
    assert_eq!(status, 200, "{body}");
    let (status, _, text) = get(&exporter.url("/metrics"), None).await;
    assert_eq!(status, 200);
    parse_metrics(&text)
}

fn crm<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = vec![("integration", "crm")];
    labels.extend_from_slice(extra);
    labels
}

/// `(class series present, consecutive failures, status change time)` after one probe.
fn signals(m: &[Sample]) -> (Option<&'static str>, f64, f64) {
    let class = ["credential", "availability"]
        .into_iter()
        .find(|c| value(m, "integration_failure_class", &crm(&[("class", c)])) == Some(1.0));
    let consecutive = value(m, "integration_consecutive_failed_probes", &crm(&[])).expect("consecutive failures");
    let since = value(m, "integration_status_change_timestamp_seconds", &crm(&[])).expect("status change time");
    (class, consecutive, since)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_probes_are_counted_whatever_their_reason_and_each_status_change_is_logged_once() {
    let upstream = MockServer::start().await;
    answer(&upstream, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let exporter = ChildExporter::start(&config(&dir, &upstream.uri()), &[], &[]);

    let m = probe(&exporter).await;
    let (class, n, healthy_since) = signals(&m);
    assert_eq!((class, n), (None, 0.0), "healthy: no class, no failures");

    // Two availability failures with different reasons: counted together, one class.
    answer(&upstream, 503).await;
    let m = probe(&exporter).await;
    assert_eq!(value(&m, "integration_failure_reason", &crm(&[("reason", "provider_unavailable")])), Some(1.0));
    let (class, n, error_since) = signals(&m);
    assert_eq!((class, n), (Some("availability"), 1.0));
    assert!(error_since > healthy_since, "the status change time moved when the status changed");

    answer(&upstream, 404).await;
    let m = probe(&exporter).await;
    assert_eq!(value(&m, "integration_failure_reason", &crm(&[("reason", "unexpected_response")])), Some(1.0));
    let (class, n, since) = signals(&m);
    assert_eq!((class, n), (Some("availability"), 2.0), "a change of reason does not reset the count");
    assert_eq!(since, error_since, "a change of reason inside error is no status change");

    // A credential failure right after: still in error, the class follows the reason.
    answer(&upstream, 401).await;
    let m = probe(&exporter).await;
    assert_eq!(value(&m, "integration_failure_reason", &crm(&[("reason", "unauthorized")])), Some(1.0));
    let (class, n, since) = signals(&m);
    assert_eq!((class, n, since), (Some("credential"), 3.0, error_since));

    answer(&upstream, 200).await;
    let m = probe(&exporter).await;
    let (class, n, since) = signals(&m);
    assert_eq!((class, n), (None, 0.0), "a healthy probe resets the count and drops the class");
    assert!(since > error_since);

    // One more healthy probe: nothing changes, nothing is logged.
    probe(&exporter).await;
    let log = exporter.log();
    let changes: Vec<&str> = log.lines().filter(|l| l.contains("integration status changed")).collect();
    assert_eq!(changes.len(), 3, "unknown->healthy, healthy->error, error->healthy:\n{log}");
    for (line, (from, to, reason)) in changes.iter().zip([
        ("unknown", "healthy", "ok"),
        ("healthy", "error", "provider_unavailable"),
        ("error", "healthy", "ok"),
    ]) {
        assert!(line.contains("level=info"), "{line}");
        assert!(line.contains("integration=crm"), "{line}");
        assert!(line.contains(&format!("from={from} ")), "{line}");
        assert!(line.contains(&format!("to={to} ")), "{line}");
        assert!(line.contains(&format!("reason={reason}")), "{line}");
    }
    assert!(!log.contains(TOKEN), "the token never reaches the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_external_url_is_exported_for_alert_links() {
    let upstream = MockServer::start().await;
    answer(&upstream, 200).await;
    let dir = tempfile::tempdir().unwrap();
    let file = config(&dir, &upstream.uri());

    let exporter = ChildExporter::start(&file, &["--web.external-url", "https://example.test/ie/"], &[]);
    // As in Prometheus, the route prefix defaults to the external URL's path.
    let (_, _, text) = get(&exporter.url("/ie/metrics"), None).await;
    let m = parse_metrics(&text);
    assert_eq!(
        value(&m, "integration_exporter_external_url_info", &[("external_url", "https://example.test/ie")]),
        Some(1.0),
        "{text}"
    );
    drop(exporter);

    let plain = ChildExporter::start(&file, &[], &[]);
    let (_, _, text) = get(&plain.url("/metrics"), None).await;
    assert!(!text.contains("integration_exporter_external_url_info"), "absent without the flag: {text}");
}

#[test]
fn a_bad_external_url_is_refused_naming_the_flag_and_never_echoing_a_password() {
    for (url, why) in [
        ("example.test/ie", "relative URL"),
        ("ftp://example.test/", "not http or https"),
        ("https://admin:hunter2-Pass@example.test/", "user name or password"),
        ("https://example.test/?token=hunter2-Pass", "query or fragment"),
    ] {
        let out = Command::new(common::exporter::bin())
            .args(["--config.check", "--config.file", "does-not-matter.yml", "--web.external-url", url])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains("--web.external-url"), "{url}: {stderr}");
        assert!(stderr.contains(why), "{url}: {stderr}");
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
    }
}
