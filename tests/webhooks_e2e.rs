//! End to end with the real binary: the simulated Slack API revokes the token, a signed
//! `app_uninstalled` event reaches `--web.webhook-listen-address`, and `/metrics` shows the
//! integration in `error/credential_revoked` within 1 s, although its scheduled interval is 1 h.
//! Also: a flood of forged deliveries does not delay `/metrics`.
//!
//! `detection_latency_and_throughput_figures` (ignored: a measurement, not a check) prints the
//! figures for docs/performance.md.

mod common;

use common::exporter::ChildExporter;
use http::Method;
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::webhook::sig::{encode_hex, hmac_sha256};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &str = "slack-signing-secret-for-tests";
const TEAM: &str = "T12345678";

struct Exporter {
    process: ChildExporter,
    metrics: String,
    hooks: String,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Both listeners on port 0: the receiver's address comes from its log line.
const WEBHOOK_LISTENER: [&str; 2] = ["--web.webhook-listen-address", "127.0.0.1:0"];

fn fixture(name: &str) -> Fixture {
    let text = match name {
        "healthy" => include_str!("fixtures/slack/healthy.json"),
        _ => include_str!("fixtures/slack/token_revoked.json"),
    };
    Fixture::parse(text).unwrap()
}

fn slack_routes(name: &str) -> Vec<Route> {
    vec![Route::fixed(Method::POST, "/api/auth.test", fixture(name))]
}

async fn start(sim: &SimServer) -> Exporter {
    start_logging(sim, false).await
}

/// Starts the exporter with `global`'s settings (YAML flow mapping body) and no webhook.
async fn start_scheduled(sim: &SimServer, global: &str) -> Exporter {
    start_with(sim, false, global, false).await
}

/// Starts the exporter; with `debug`, it logs at debug level (its stderr is always captured).
async fn start_logging(sim: &SimServer, debug: bool) -> Exporter {
    start_with(sim, debug, "interval: 1h, min_probe_interval: 0s", true).await
}

async fn start_with(sim: &SimServer, debug: bool, global: &str, hook: bool) -> Exporter {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{{global}}}\nintegrations:\n  - name: slack\n    provider: slack\n    \
             base_url: {}/api\n    auth: {{type: bearer, token: xoxb-test}}\n{}",
            sim.url(),
            if hook { format!("    webhook: {{secret: {SECRET}, account: {TEAM}}}\n") } else { String::new() }
        ),
    )
    .unwrap();
    let level = ["--log.level", if debug { "debug" } else { "info" }];
    let process = ChildExporter::start(&config, &[&WEBHOOK_LISTENER[..], &level[..]].concat(), &[]);
    let hooks = format!("http://{}", process.logged_address("webhook receiver listening"));
    let base = process.url("");
    let exporter =
        Exporter { process, metrics: format!("{base}/metrics"), hooks, base, http: reqwest::Client::new(), _dir: dir };
    wait_for(&exporter, "healthy", Duration::from_secs(20)).await.expect("the first probe never found slack healthy");
    exporter
}

/// Polls `/metrics` until the integration shows `status`; returns when it first did.
async fn wait_for(e: &Exporter, status: &str, limit: Duration) -> Option<Instant> {
    let series = format!("integration_status{{integration=\"slack\",provider=\"slack\",status=\"{status}\"}} 1");
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(r) = e.http.get(&e.metrics).send().await {
            if r.text().await.unwrap_or_default().contains(&series) {
                return Some(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

fn signed_event(n: u64) -> (Vec<(&'static str, String)>, String) {
    let body = format!(
        r#"{{"token":"x","team_id":"{TEAM}","api_app_id":"A1","type":"event_callback","event_id":"Ev{n}","event_time":1,"event":{{"type":"app_uninstalled"}}}}"#
    );
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mac = hmac_sha256(SECRET.as_bytes(), &[format!("v0:{ts}:").as_bytes(), body.as_bytes()]);
    (
        vec![("x-slack-request-timestamp", ts.to_string()), ("x-slack-signature", format!("v0={}", encode_hex(&mac)))],
        body,
    )
}

async fn send(e: &Exporter, headers: &[(&'static str, String)], body: String) -> u16 {
    let mut req = e.http.post(format!("{}/webhooks/slack", e.hooks)).body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req.send().await.unwrap().status().as_u16()
}

/// Revokes the token at the mock, sends the event, and returns the time until `/metrics`
/// shows `error`.
async fn revoke_and_announce(e: &Exporter, sim: &SimServer, n: u64) -> Duration {
    sim.set_routes(slack_routes("revoked"));
    let (headers, body) = signed_event(n);
    let sent = Instant::now();
    assert_eq!(send(e, &headers, body).await, 200);
    let seen = wait_for(e, "error", Duration::from_secs(5)).await.expect("error never showed on /metrics");
    seen - sent
}

#[tokio::test]
async fn a_signed_revocation_event_shows_error_on_metrics_within_a_second() {
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let e = start(&sim).await;
    let latency = revoke_and_announce(&e, &sim, 1).await;
    assert!(latency < Duration::from_secs(1), "detected after {latency:?}");
    let m = e.http.get(&e.metrics).send().await.unwrap().text().await.unwrap();
    assert!(
        m.contains(r#"integration_failure_reason{integration="slack",provider="slack",reason="credential_revoked"} 1"#),
        "{m}"
    );
    assert!(m.contains(r#"integration_webhook_last_change_from_event{integration="slack",provider="slack"} 1"#), "{m}");
    assert!(m.contains(r#"integration_probe_interval_seconds{integration="slack",provider="slack"} 3600"#), "{m}");
}

#[tokio::test]
async fn logs_never_contain_the_signing_secret_or_the_payloads_tokens() {
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let e = start_logging(&sim, true).await;
    let (headers, body) = signed_event(1);
    let body = body.replace(r#""token":"x""#, r#""token":"PAYLOAD-VERIFICATION-TOKEN-5521""#);
    // Re-signed with the changed body; then the same body with a wrong signature, a replay and
    // a stale copy.
    let ts = headers[0].1.clone();
    let mac = hmac_sha256(SECRET.as_bytes(), &[format!("v0:{ts}:").as_bytes(), body.as_bytes()]);
    let good = vec![("x-slack-request-timestamp", ts), ("x-slack-signature", format!("v0={}", encode_hex(&mac)))];
    assert_eq!(send(&e, &good, body.clone()).await, 200);
    assert_eq!(send(&e, &good, body.clone()).await, 401);
    let mut bad = good.clone();
    bad[1].1 = format!("v0={}", "1".repeat(64));
    assert_eq!(send(&e, &bad, body.clone()).await, 401);
    let mut stale = good.clone();
    stale[0].1 = "1000".into();
    assert_eq!(send(&e, &stale, body).await, 401);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = e.process.log();
    assert!(text.contains("webhook event: probing now"), "{text}");
    assert!(text.contains("webhook delivery refused"), "{text}");
    for secret in [SECRET, "PAYLOAD-VERIFICATION-TOKEN-5521", "xoxb-test", &mac_hex_prefix(&mac)] {
        assert!(!text.contains(secret), "the log contains {secret}:\n{text}");
    }
}

fn mac_hex_prefix(mac: &[u8]) -> String {
    encode_hex(&mac[..8])
}

#[tokio::test]
async fn a_flood_of_forged_deliveries_does_not_delay_metrics() {
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let e = start(&sim).await;
    let flood = {
        let (hooks, http) = (e.hooks.clone(), e.http.clone());
        tokio::spawn(async move {
            let body = "x".repeat(64 * 1024);
            let tasks = (0..64).map(|_| {
                let (hooks, http, body) = (hooks.clone(), http.clone(), body.clone());
                tokio::spawn(async move {
                    let end = Instant::now() + Duration::from_secs(3);
                    let mut n = 0u32;
                    while Instant::now() < end {
                        let r = http
                            .post(format!("{hooks}/webhooks/slack"))
                            .header("x-slack-request-timestamp", "1")
                            .header("x-slack-signature", format!("v0={}", "0".repeat(64)))
                            .body(body.clone())
                            .send()
                            .await;
                        if r.is_ok() {
                            n += 1;
                        }
                    }
                    n
                })
            });
            futures_util::future::join_all(tasks).await.into_iter().map(|r| r.unwrap()).sum::<u32>()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = e.http.get(&e.metrics).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.text().await.unwrap();
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let forged = flood.await.unwrap();
    println!("/metrics slowest of 20 scrapes during a flood of {forged} forged deliveries: {worst:?}");
    assert!(forged > 100, "the flood sent only {forged} requests");
    // 64 flooding clients exceed the main listener's 40 requests in flight: had the two
    // listeners shared limits, scrapes would have been refused (503, asserted above) or queued.
    // The bound is loose on purpose: the machine's cores are shared with the flood's client
    // and other builds (105-430 ms measured).
    assert!(worst < Duration::from_secs(2), "/metrics took {worst:?} during a flood of {forged} forged deliveries");
    let m = e.http.get(&e.metrics).send().await.unwrap().text().await.unwrap();
    assert!(m.contains(r#"outcome="bad_signature"}"#), "{m}");
    assert!(m.contains(r#"integration_status{integration="slack",provider="slack",status="healthy"} 1"#));
}

#[tokio::test]
#[ignore = "measurement for docs/performance.md (about 4 minutes); run with --ignored --nocapture"]
async fn detection_latency_without_the_event_figures() {
    // Without the event a revocation waits for the next scheduled probe: uniform over the
    // interval. Measured at a 10 s interval (error_interval 1 s to recover between runs); the
    // figure scales with the interval.
    use rand::Rng;
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let e = start_scheduled(&sim, "interval: 10s, error_interval: 1s").await;
    let mut latencies = Vec::new();
    for _ in 0..20 {
        sim.set_routes(slack_routes("healthy"));
        wait_for(&e, "healthy", Duration::from_secs(15)).await.expect("not healthy again");
        let phase = rand::rng().random_range(0..10_000);
        tokio::time::sleep(Duration::from_millis(phase)).await;
        sim.set_routes(slack_routes("revoked"));
        let revoked = Instant::now();
        let seen = wait_for(&e, "error", Duration::from_secs(20)).await.expect("error never showed");
        latencies.push(seen - revoked);
    }
    latencies.sort();
    println!(
        "scheduled detection latency at a 10 s interval over 20 runs: median {:.2} s, min {:.2} s, max {:.2} s",
        ((latencies[9] + latencies[10]) / 2).as_secs_f64(),
        latencies[0].as_secs_f64(),
        latencies[19].as_secs_f64()
    );
}

#[tokio::test]
#[ignore = "measurement for docs/performance.md; run with --ignored --nocapture"]
async fn detection_latency_and_throughput_figures() {
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let e = start(&sim).await;
    let mut latencies = Vec::new();
    for n in 0..20 {
        sim.set_routes(slack_routes("healthy"));
        let probe = e.http.post(format!("{}/api/v1/integrations/slack/probe", e.base)).send().await.unwrap();
        assert_eq!(probe.status().as_u16(), 200);
        wait_for(&e, "healthy", Duration::from_secs(5)).await.expect("not healthy again");
        // Past the 100 ms debounce and any probe still in flight.
        tokio::time::sleep(Duration::from_millis(200)).await;
        latencies.push(revoke_and_announce(&e, &sim, 1000 + n).await);
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "event detection latency over 20 runs: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        ms((latencies[9] + latencies[10]) / 2),
        ms(latencies[0]),
        ms(latencies[19])
    );
    for (label, valid) in [("valid", true), ("invalid", false)] {
        let total = 4000u64;
        let start = Instant::now();
        let tasks = (0..16u64).map(|w| {
            let (hooks, http) = (e.hooks.clone(), e.http.clone());
            tokio::spawn(async move {
                for i in 0..total / 16 {
                    let (mut headers, body) = signed_event(10_000 + w * 1_000_000 + i);
                    if !valid {
                        headers[1].1 = format!("v0={}", "0".repeat(64));
                    }
                    let mut req = http.post(format!("{hooks}/webhooks/slack")).body(body);
                    for (k, v) in &headers {
                        req = req.header(*k, v);
                    }
                    let status = req.send().await.unwrap().status().as_u16();
                    assert_eq!(status, if valid { 200 } else { 401 });
                }
            })
        });
        futures_util::future::join_all(tasks).await;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "receiver throughput, {label} signatures: {:.0} deliveries/s ({total} in {secs:.2} s, 16 clients)",
            total as f64 / secs
        );
    }
}

/// A CA and a server certificate for localhost, PEM.
fn tls_files(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &Issuer::from_params(&ca, &ca_key))
        .unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca_cert.pem()
}

#[tokio::test]
async fn the_receiver_takes_the_main_tls_config_but_not_its_basic_auth() {
    let sim = SimServer::start(slack_routes("healthy")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = tls_files(dir.path());
    let hash = bcrypt::hash("scrape-password", 4).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("config.yml"),
        format!(
            "global: {{interval: 1h}}\nintegrations:\n  - name: slack\n    provider: slack\n    base_url: {}/api\n    \
             auth: {{type: bearer, token: xoxb-test}}\n    webhook: {{secret: {SECRET}, account: {TEAM}}}\n",
            sim.url()
        ),
    )
    .unwrap();
    let web = dir.path().join("web.yml");
    let args = [&WEBHOOK_LISTENER[..], &["--web.config.file", web.to_str().unwrap()]].concat();
    let process = ChildExporter::start(&dir.path().join("config.yml"), &args, &[]);
    let (port, hook_port) = (process.addr.port(), process.logged_address("webhook receiver listening").port());
    let https = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes()).unwrap()])
        .build()
        .unwrap();
    let hook = format!("https://localhost:{hook_port}/webhooks/slack");
    let (headers, body) = signed_event(7);
    let mut status = None;
    for _ in 0..200 {
        let mut req = https.post(&hook).body(body.clone());
        for (k, v) in &headers {
            req = req.header(*k, v);
        }
        if let Ok(r) = req.send().await {
            status = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Over TLS, without the basic auth /metrics needs.
    assert_eq!(status, Some(200), "a signed delivery over TLS without basic auth must be accepted");
    let metrics = https.get(format!("https://localhost:{port}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status().as_u16(), 401, "the main listener keeps its basic auth");
    let plain =
        reqwest::Client::new().post(format!("http://127.0.0.1:{hook_port}/webhooks/slack")).body(body).send().await;
    assert!(
        plain.map(|r| r.status() != 200).unwrap_or(true),
        "plain HTTP must not be served on a TLS webhook listener"
    );
}
