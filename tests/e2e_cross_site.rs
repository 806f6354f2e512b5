//! A real browser on a hostile page: headless Chromium loads a page from another site that
//! submits a form to the exporter's state-changing endpoints (the attack a cached basic-auth
//! credential would make dangerous). The browser's own `Origin` and `Sec-Fetch-Site` headers
//! must get the form refused, with nothing changed.
//!
//! Ignored in a plain `cargo test`: needs Debian's `chromium`.

mod common;

use common::exporter::InProcess;
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::runtime::ConfigSource;
use integration_exporter::server::ServerOptions;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn chromium(profile: &Path, url: &str) -> String {
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
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium is installed (Debian package chromium)");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().expect("reader")
}

/// A page that submits a form to `action` as soon as it loads.
fn evil_page(action: &str, enctype: &str) -> Fixture {
    let mut f = Fixture::json(200, serde_json::Value::Null);
    f.body = None;
    f.body_text = Some(format!(
        "<!doctype html><html><body><form method=\"post\" action=\"{action}\" enctype=\"{enctype}\"><input name=\"a\" value=\"b\"></form><script>document.forms[0].submit()</script></body></html>"
    ));
    f.with_header("content-type", "text/html; charset=utf-8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs chromium"]
async fn a_browser_on_another_site_cannot_reload_or_probe() {
    let upstream =
        SimServer::start(vec![Route::fixed(http::Method::GET, "/me", Fixture::json(200, serde_json::json!({})))])
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yml");
    let yaml = |extra: &str| {
        format!(
            "global:\n  min_probe_interval: 0s\nintegrations:\n  - name: svc\n    provider: http\n    base_url: {}\n    auth: {{type: bearer, token: abcdefgh1234}}\n    check: {{path: /me}}\n{extra}",
            upstream.url()
        )
    };
    std::fs::write(&config, yaml("")).unwrap();
    let ex = InProcess::start_source(ConfigSource::File(config.clone()), ServerOptions::default()).await;
    // A reload would now add `added`.
    std::fs::write(&config, yaml("  - name: added\n    provider: http\n    base_url: http://127.0.0.1:9\n    auth: {type: bearer, token: abcdefgh1234}\n    check: {path: /me}\n")).unwrap();

    let target = format!("http://127.0.0.1:{}", ex.addr.port());
    let evil = SimServer::start(vec![
        Route::fixed(http::Method::GET, "/reload-plain", evil_page(&format!("{target}/-/reload"), "text/plain")),
        Route::fixed(
            http::Method::GET,
            "/reload-multipart",
            evil_page(&format!("{target}/-/reload"), "multipart/form-data"),
        ),
        Route::fixed(
            http::Method::GET,
            "/probe-form",
            evil_page(&format!("{target}/api/v1/integrations/svc/probe"), "application/x-www-form-urlencoded"),
        ),
    ])
    .await
    .unwrap();
    // `localhost` is another site than `127.0.0.1`.
    let evil_base = format!("http://localhost:{}", evil.addr().port());
    for page in ["/reload-plain", "/reload-multipart", "/probe-form"] {
        let profile = tempfile::tempdir().unwrap();
        let url = format!("{evil_base}{page}");
        let dom = tokio::task::block_in_place(|| chromium(profile.path(), &url));
        assert!(
            dom.contains("cross-site request refused") || dom.contains("cross-origin request refused"),
            "{page}: the browser's form was not refused by the exporter:\n{dom}"
        );
        assert!(evil.requests().iter().any(|r| r.path == page), "the browser loaded {page}");
    }
    assert!(upstream.requests().is_empty(), "a cross-site form made the exporter probe");
    let (_, _, api) = ex.get("/api/v1/integrations", None).await;
    assert!(!api.contains("\"added\""), "a cross-site form reloaded the config");
    ex.stop().await;
}
