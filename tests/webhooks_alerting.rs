//! End to end with real Prometheus and Alertmanager: an integration probed every hour, its
//! token revoked at the (wiremock) Slack API, and the signed `app_uninstalled` event sent to
//! the exporter's webhook receiver. `/metrics` shows the error within 1 s of the event, and
//! the shipped rules page the credential owners through the example Alertmanager routes within
//! the 90 s the alerting issue sets, although no scheduled probe ran.
//!
//! Ignored by default: it needs the Debian packages `prometheus` and
//! `prometheus-alertmanager`; run with `cargo test --test webhooks_alerting -- --include-ignored`.

use integration_exporter::webhook::sig::{encode_hex, hmac_sha256};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "alerting-e2e-signing-secret";
const TEAM: &str = "T0E2E";

/// A child process killed when dropped; its output goes to `<dir>/<name>.log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn spawn(dir: &Path, name: &str, program: &str, args: &[String]) -> Proc {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e} (is it installed?)"));
        Proc { child, log }
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn slack_answers(server: &MockServer, revoked: bool) {
    let body = if revoked {
        json!({"ok": false, "error": "token_revoked"})
    } else {
        json!({"ok": true, "url": "https://e2e.slack.com/", "team": "E2E", "user": "bot", "team_id": TEAM, "user_id": "U0E2E"})
    };
    server.reset().await;
    Mock::given(method("POST"))
        .and(path("/auth.test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

async fn wait_ok(client: &reqwest::Client, url: &str, who: &Proc) {
    for _ in 0..120 {
        if client.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{url} never ready:\n{}", who.tail());
}

/// Whether `/metrics` has `series` with value 1.
async fn metrics_have(client: &reqwest::Client, url: &str, series: &str) -> bool {
    match client.get(url).send().await {
        Ok(r) => r
            .text()
            .await
            .unwrap_or_default()
            .lines()
            .any(|l| l.strip_prefix(series).is_some_and(|v| v.trim().parse::<f64>() == Ok(1.0))),
        Err(_) => false,
    }
}

/// Firing `IntegrationHealthCheckFailed` alerts for `slack-revocation` posted to `receiver`.
async fn notified(sink: &MockServer, receiver: &str) -> bool {
    let requests = sink.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.url.path() == format!("/{receiver}")).any(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        body["alerts"].as_array().is_some_and(|alerts| {
            alerts.iter().any(|a| {
                a["status"] == "firing"
                    && a["labels"]["alertname"] == "IntegrationHealthCheckFailed"
                    && a["labels"]["integration"] == "slack-revocation"
            })
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs prometheus and alertmanager"]
async fn an_announced_revocation_pages_within_90s_at_a_one_hour_interval() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();

    let slack = MockServer::start().await;
    slack_answers(&slack, false).await;
    std::fs::write(
        dir.join("exporter.yml"),
        format!(
            "global: {{interval: 1h, error_interval: 1h}}\nintegrations:\n  - name: slack-revocation\n    provider: slack\n    \
             base_url: {}\n    auth: {{type: bearer, token: xoxb-e2e}}\n    webhook: {{secret: {SECRET}, account: {TEAM}}}\n",
            slack.uri()
        ),
    )
    .unwrap();
    let (exporter_addr, hook_addr) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let exporter = Proc::spawn(
        dir,
        "exporter",
        env!("CARGO_BIN_EXE_integration_exporter"),
        &[
            "--config.file=exporter.yml".into(),
            format!("--web.listen-address={exporter_addr}"),
            format!("--web.webhook-listen-address={hook_addr}"),
        ],
    );
    let metrics = format!("http://{exporter_addr}/metrics");
    wait_ok(&client, &format!("http://{exporter_addr}/-/ready"), &exporter).await;

    // Alertmanager: the shipped example, receivers pointed at a sink this test reads.
    let sink = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&sink).await;
    let mut am: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(repo.join("alerts/alertmanager.example.yml")).unwrap())
            .unwrap();
    for receiver in am["receivers"].as_array_mut().unwrap() {
        let name = receiver["name"].as_str().unwrap().to_string();
        if let Some(hooks) = receiver.get_mut("webhook_configs") {
            for h in hooks.as_array_mut().unwrap() {
                h["url"] = json!(format!("{}/{name}", sink.uri()));
            }
        }
    }
    std::fs::write(dir.join("alertmanager.yml"), am.to_string()).unwrap();
    let am_addr = format!("127.0.0.1:{}", free_port());
    let alertmanager = Proc::spawn(
        dir,
        "alertmanager",
        "prometheus-alertmanager",
        &[
            "--config.file=alertmanager.yml".into(),
            format!("--storage.path={}", dir.join("am").display()),
            format!("--web.listen-address={am_addr}"),
            "--cluster.listen-address=".into(),
        ],
    );
    wait_ok(&client, &format!("http://{am_addr}/-/ready"), &alertmanager).await;

    // Prometheus: the shipped rules, 15 s scrape and evaluation.
    let prom_addr = format!("127.0.0.1:{}", free_port());
    let prom_config = json!({
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [repo.join("alerts/integration-health.rules.yml").display().to_string()],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [am_addr]}]}]},
        "scrape_configs": [{"job_name": "integration_exporter", "static_configs": [{"targets": [exporter_addr]}]}],
    });
    std::fs::write(dir.join("prometheus.yml"), prom_config.to_string()).unwrap();
    let prometheus = Proc::spawn(
        dir,
        "prometheus",
        "prometheus",
        &[
            "--config.file=prometheus.yml".into(),
            format!("--storage.tsdb.path={}", dir.join("prom").display()),
            format!("--web.listen-address={prom_addr}"),
        ],
    );
    wait_ok(&client, &format!("http://{prom_addr}/-/ready"), &prometheus).await;

    // Prometheus has scraped the integration healthy.
    let query = format!(
        "http://{prom_addr}/api/v1/query?query=integration_up%7Bintegration%3D%22slack-revocation%22%7D%3D%3D1"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = client.get(&query).send().await.unwrap().text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["data"]["result"].as_array().is_some_and(|r| !r.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus never saw the integration healthy:\n{}", prometheus.tail());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // The token is revoked; Slack announces it.
    slack_answers(&slack, true).await;
    let body = format!(
        r#"{{"token":"x","team_id":"{TEAM}","api_app_id":"A1","type":"event_callback","event_id":"EvE2E","event_time":1,"event":{{"type":"app_uninstalled"}}}}"#
    );
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mac = hmac_sha256(SECRET.as_bytes(), &[format!("v0:{ts}:").as_bytes(), body.as_bytes()]);
    let sent = Instant::now();
    let resp = client
        .post(format!("http://{hook_addr}/webhooks/slack"))
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", format!("v0={}", encode_hex(&mac)))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);

    let error = r#"integration_status{integration="slack-revocation",provider="slack",status="error"}"#;
    while !metrics_have(&client, &metrics, error).await {
        assert!(sent.elapsed() < Duration::from_secs(1), "no error on /metrics within 1 s:\n{}", exporter.tail());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let on_metrics = sent.elapsed();

    while !notified(&sink, "integration-owners").await {
        assert!(
            sent.elapsed() < Duration::from_secs(90),
            "no page within 90 s of the event:\n--- prometheus ---\n{}\n--- alertmanager ---\n{}",
            prometheus.tail(),
            alertmanager.tail()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "event -> error on /metrics: {on_metrics:?}; event -> page at the Alertmanager receiver: {:?}",
        sent.elapsed()
    );
    // No scheduled probe ran: one at start, one from the event.
    let probes = slack.received_requests().await.unwrap().len();
    assert_eq!(probes, 1, "after the reset, only the event's probe reached Slack");
}
