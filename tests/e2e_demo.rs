//! End to end: `integration_exporter demo` as a child process on a free port, checked over
//! HTTP (metrics, status page, JSON API, "probe now") and in a real headless Chromium.
//!
//! Every test is ignored in a plain `cargo test` because the browser test needs Debian's
//! `chromium`; `.ci/run` installs it and runs `cargo test -- --include-ignored`.

use integration_exporter::demo::{DemoIntegration, INTEGRATIONS};
use integration_exporter::reason::Reason;
use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The demo exporter, killed when dropped.
struct Exporter {
    child: Child,
    base: String,
    http: reqwest::Client,
    _logs: tempfile::TempDir,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Starts the demo and waits (bounded) until it answers.
async fn start_demo() -> Exporter {
    let logs = tempfile::tempdir().expect("tempdir");
    let log = std::fs::File::create(logs.path().join("exporter.log")).expect("log file");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_integration_exporter"))
        .args(["demo", "--web.listen-address", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start integration_exporter demo");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let mut exporter = Exporter { child, base: format!("http://127.0.0.1:{port}"), http, _logs: logs };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = exporter.http.get(format!("{}/-/ready", exporter.base)).send().await {
            if r.status().is_success() {
                return exporter;
            }
        }
        if let Ok(Some(status)) = exporter.child.try_wait() {
            let log = std::fs::read_to_string(exporter._logs.path().join("exporter.log")).unwrap_or_default();
            panic!("integration_exporter demo exited with {status}:\n{log}");
        }
        assert!(Instant::now() < deadline, "demo did not become ready within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Exporter {
    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Waits (bounded) until every demo integration has settled on the reason it is built
    /// to show (`slack-notifications` may already be in its expired half).
    async fn wait_until_settled(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let all = self.json("/api/v1/integrations").await;
            let pending: Vec<String> = INTEGRATIONS
                .iter()
                .filter(|i| !matches_expected(i, &find(&all, i.name)["reason"]))
                .map(|i| format!("{} ({})", i.name, find(&all, i.name)["reason"]))
                .collect();
            if pending.is_empty() {
                return all;
            }
            assert!(Instant::now() < deadline, "not settled within 60 s: {pending:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn find<'a>(all: &'a Value, name: &str) -> &'a Value {
    all["integrations"]
        .as_array()
        .and_then(|l| l.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("{name} is not listed"))
}

fn matches_expected(i: &DemoIntegration, reason: &Value) -> bool {
    let ok = reason == i.reason.as_str();
    ok || (i.name == "slack-notifications" && reason == Reason::TokenExpired.as_str())
}

fn status_word(r: Reason) -> &'static str {
    match r.status().as_str() {
        "healthy" => "Healthy",
        "warning" => "Warning",
        "error" => "Error",
        _ => "Unknown",
    }
}

/// Every demo token, as the demo config writes them.
fn tokens() -> Vec<String> {
    INTEGRATIONS.iter().map(|i| format!("demo-{}-token", i.name)).collect()
}

fn assert_no_token(what: &str, body: &str) {
    for t in tokens() {
        assert!(!body.contains(&t), "{what} shows a secret ({t})");
    }
}

/// The text of one integration's row in the page or DOM.
fn row<'a>(page: &'a str, name: &str) -> &'a str {
    let start = page.find(&format!("id=\"i-{name}\"")).unwrap_or_else(|| panic!("no row for {name}"));
    let end = page[start..].find("</tbody>").map_or(page.len(), |e| start + e);
    &page[start..end]
}

/// The row's headline reason shows the reason's words.
fn assert_row(page: &str, i: &DemoIntegration) {
    let r = row(page, i.name);
    let expected = [i.reason].into_iter().chain((i.name == "slack-notifications").then_some(Reason::TokenExpired));
    let shown = expected
        .clone()
        .any(|reason| r.contains(status_word(reason)) && r.contains(reason.describe()) && r.contains(reason.as_str()));
    assert!(shown, "{} should show one of {:?} with its words; row: {r}", i.name, expected.collect::<Vec<_>>());
    assert!(r.contains(&format!(">{}<", i.provider)), "{}: provider", i.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs chromium; run by .ci/run"]
async fn demo_serves_metrics_status_page_api_and_probe_now() {
    tokio::time::timeout(Duration::from_secs(120), async {
        let demo = start_demo().await;

        // Healthy, warning and error integrations all appear on /metrics.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, metrics) = demo.get("/metrics").await;
            assert_eq!(status, 200);
            let on = |s: &str| {
                metrics.lines().any(|l| {
                    l.starts_with("integration_status{")
                        && l.contains(&format!("status=\"{s}\""))
                        && l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) == Some(1.0)
                })
            };
            if on("healthy") && on("warning") && on("error") {
                for i in INTEGRATIONS {
                    assert!(metrics.contains(&format!("integration=\"{}\"", i.name)), "{} on /metrics", i.name);
                }
                assert!(metrics.contains("env=\"demo\""), "static label");
                assert_no_token("/metrics", &metrics);
                break;
            }
            assert!(Instant::now() < deadline, "healthy, warning and error not all on /metrics within 60 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }

        // The JSON API: every integration with the state it is built to show.
        let all = demo.wait_until_settled().await;
        assert_no_token("/api/v1/integrations", &all.to_string());
        let counts = &all["counts"];
        let total: u64 =
            ["healthy", "warning", "error", "unknown"].iter().map(|s| counts[*s].as_u64().expect("count")).sum();
        assert_eq!(total, INTEGRATIONS.len() as u64);
        for i in INTEGRATIONS {
            let it = find(&all, i.name);
            assert_eq!(it["provider"], i.provider, "{}", i.name);
            assert_eq!(it["labels"]["env"], "demo", "{}", i.name);
        }
        let ci = demo.json("/api/v1/integrations/github-ci").await;
        assert_eq!(ci["detail"], "Missing scope repo");
        assert_eq!(ci["missing_scopes"], serde_json::json!(["repo"]));
        assert!(ci["history"].as_array().is_some_and(|h| !h.is_empty()));
        assert_no_token("/api/v1/integrations/github-ci", &ci.to_string());
        let bot = demo.json("/api/v1/integrations/github-deploy-bot").await;
        let left = bot["credential_expiry_timestamp_seconds"].as_f64().expect("expiry")
            - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs_f64();
        assert!((2.0 * 86400.0..3.1 * 86400.0).contains(&left), "expires in about 3 days: {left}");

        // The status page.
        let (status, page) = demo.get("/").await;
        assert_eq!(status, 200);
        assert_no_token("/", &page);
        for i in &INTEGRATIONS {
            assert_row(&page, i);
        }
        for link in ["href=\"/metrics\"", "href=\"/config\"", "href=\"/probe?target=github-ci&amp;debug=true\""] {
            assert!(page.contains(link), "{link}");
        }

        // Probe now: the form post comes back to the page; a program gets JSON.
        let url = format!("{}/api/v1/integrations/stripe-billing/probe", demo.base);
        let resp = demo
            .http
            .post(&url)
            .header("accept", "text/html")
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("POST");
        assert_eq!(resp.status().as_u16(), 303);
        let location = resp.headers()["location"].to_str().expect("ascii").to_string();
        assert!(location.starts_with("/?probed=stripe-billing"), "{location}");
        let (status, page) = demo.get(&location).await;
        assert_eq!(status, 200);
        assert!(page.contains("<strong>stripe-billing</strong>"), "the page notes the probe");
        let resp = demo.http.post(&url).header("accept", "application/json").send().await.expect("POST");
        assert_eq!(resp.status().as_u16(), 200);
        let body: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
        assert_eq!(body["name"], "stripe-billing");
        assert_eq!(body["status"], "healthy");
        assert!(body["ondemand"] == "probed" || body["ondemand"] == "cached");
        assert_no_token("probe JSON", &body.to_string());

        // The demo config is printed by /config like any other, secrets redacted; the debug
        // view of a probe shows no secret either.
        let (status, config) = demo.get("/config").await;
        assert_eq!(status, 200);
        assert!(config.contains("env: demo") && config.contains("<secret>"));
        assert_no_token("/config", &config);
        let (status, debug) = demo.get("/probe?target=hubspot-production&debug=true").await;
        assert_eq!(status, 200);
        assert_no_token("/probe debug", &debug);
    })
    .await
    .expect("finished within 120 s");
}

/// Runs chromium headless with `args` and the page URL; bounded; returns stdout.
fn chromium(profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium is installed (Debian package chromium; .ci/run installs it)");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromium did not finish within 90 s");
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    reader.join().expect("reader")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs chromium; run by .ci/run"]
async fn chromium_renders_every_demo_integration_with_status_and_reason() {
    tokio::time::timeout(Duration::from_secs(240), async {
        let demo = start_demo().await;
        demo.wait_until_settled().await;
        let url = format!("{}/", demo.base);
        let profile = tempfile::tempdir().expect("profile dir");

        let dom = tokio::task::block_in_place(|| chromium(profile.path(), &["--dump-dom"], &url));
        assert!(dom.contains("<table class=\"integrations\">"), "the page rendered: {dom:.300}");
        for i in &INTEGRATIONS {
            assert_row(&dom, i);
        }
        assert!(dom.contains("Missing scope<strong> repo</strong>"), "github-ci's missing scope");
        assert!(!dom.contains("<script"), "no script in the DOM");
        assert_no_token("the DOM", &dom);

        let shot: PathBuf = [env!("CARGO_MANIFEST_DIR"), "target", "status-page.png"].iter().collect();
        // target/ may not exist yet when CARGO_TARGET_DIR points elsewhere.
        std::fs::create_dir_all(shot.parent().expect("target dir")).expect("create target/");
        let _ = std::fs::remove_file(&shot);
        let arg = format!("--screenshot={}", shot.display());
        tokio::task::block_in_place(|| chromium(profile.path(), &[&arg, "--window-size=1400,1000"], &url));
        let png = std::fs::read(&shot).expect("screenshot written");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot at {}", shot.display());
    })
    .await
    .expect("finished within 240 s");
}
