//! The status page and an integration's page in a real headless Chromium at 360 px and
//! 1400 px, light and dark: no horizontal overflow (document width <= viewport), every
//! integration's status, reason and "Probe now" visible without scrolling sideways, and the
//! history strip and the integration page render for an integration with 100 kept results.
//! Screenshots go to `target/screenshots/` for a person to look at.
//!
//! Chromium is driven over the DevTools protocol (a small WebSocket client below), which
//! measures the laid-out page; the page itself runs no script.
//!
//! `cargo test --test e2e_browser_layout -- --ignored` (needs `chromium` on PATH).

use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::server::{serve, ServerOptions, ServerState};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The integration with a full history.
const BUSY: &str = "payments-stripe-production-eu-west-1";

fn config(api: &str) -> String {
    let mut out = String::from("global:\n  labels: {env: production, team: payments-platform}\nintegrations:\n");
    let integrations = [
        (BUSY, "busy", ""),
        ("hubspot-crm-sync", "ok", ""),
        ("github-deploy-bot-with-a-rather-long-name", "scope", "    scopes: {required: [repo, admin:org, workflow]}\n"),
        ("zendesk-support", "expired", ""),
        ("never-probed-yet", "ok", ""),
    ];
    for (name, route, extra) in integrations {
        out.push_str(&format!(
            "  - name: {name}\n    provider: http\n    base_url: {api}/{route}\n    auth: {{type: bearer, token: t}}\n    \
             labels: {{region: eu-west-1}}\n    check:\n      path: /me\n      scopes: {{header: X-Scopes, separator: \",\"}}\n{extra}"
        ));
    }
    out
}

struct Server {
    base: String,
    _sim: SimServer,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// The exporter on loopback with every integration probed, `BUSY` 100 times.
async fn start() -> Server {
    let calls = Arc::new(AtomicUsize::new(0));
    let long_detail = "The access token expired at 2026-11-30T10:00:00Z; re-authorise the connection in the provider's admin console (Settings → Apps → Integrations → Reconnect) and update the secret";
    let routes = vec![
        // Flaps in runs of 7: healthy, then an expired token.
        Route::dynamic(http::Method::GET, "/busy/me", move |_| {
            if (calls.fetch_add(1, Ordering::SeqCst) / 7) % 3 == 2 {
                Fixture::json(401, json!({}))
                    .with_header("WWW-Authenticate", "Bearer error=\"invalid_token\", error_description=\"expired\"")
            } else {
                Fixture::json(200, json!({"id": "busy"})).with_header("X-Scopes", "read")
            }
        }),
        Route::fixed(http::Method::GET, "/ok/me", Fixture::json(200, json!({})).with_header("X-Scopes", "read")),
        Route::fixed(http::Method::GET, "/scope/me", Fixture::json(200, json!({})).with_header("X-Scopes", "repo")),
        Route::fixed(
            http::Method::GET,
            "/expired/me",
            Fixture::json(401, json!({})).with_header(
                "WWW-Authenticate",
                &format!("Bearer error=\"invalid_token\", error_description=\"{long_detail}\""),
            ),
        ),
    ];
    let sim = SimServer::start(routes).await.expect("sim");
    let source = ConfigSource::Text { text: config(&sim.url()), name: "layout test".into() };
    let app = App::new(source, None, 100).expect("valid config");
    for _ in 0..100 {
        app.probe(BUSY, None).await.expect("known");
    }
    for name in ["hubspot-crm-sync", "github-deploy-bot-with-a-rather-long-name", "zendesk-support"] {
        app.probe(name, None).await.expect("known");
    }
    assert_eq!(app.store.get(BUSY).expect("busy").history.len(), 100);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, ServerState::new(app, ServerOptions::default()), async move {
        let _ = stopped.await;
    }));
    Server { base: format!("http://{addr}"), _sim: sim, _stop: stop }
}

// ---------------------------------------------------------------------------------------------
// Chromium over the DevTools protocol.

/// Headless Chromium with a fresh profile, killed when dropped.
struct Browser {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile");
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium is installed");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("ws://127.0.0.1:").nth(1) {
                    let _ = tx.send(rest.split('/').next().and_then(|p| p.parse::<u16>().ok()));
                }
            }
        });
        let port = rx.recv_timeout(Duration::from_secs(30)).ok().flatten().expect("chromium's DevTools port");
        Browser { child, port, _profile: profile }
    }

    /// A new tab, connected.
    fn tab(&self) -> Tab {
        let mut http = TcpStream::connect(("127.0.0.1", self.port)).expect("devtools http");
        http.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let request = format!("PUT /json/new?about:blank HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n", self.port);
        http.write_all(request.as_bytes()).unwrap();
        // DevTools keeps the connection open: read the head, then Content-Length bytes.
        let mut reader = BufReader::new(http);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("devtools answer");
            if line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        let body = String::from_utf8(body).expect("utf-8");
        let body = body.as_str();
        let target: Value = serde_json::from_str(body).expect("json");
        let ws = target["webSocketDebuggerUrl"].as_str().expect("ws url");
        let path = ws.split_once(&format!("127.0.0.1:{}", self.port)).expect("local").1;
        Tab::connect(self.port, path)
    }
}

/// One page over a WebSocket (RFC 6455, client side: masked text frames out).
struct Tab {
    stream: TcpStream,
    next_id: u64,
}

impl Tab {
    fn connect(port: u16, path: &str) -> Tab {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("devtools ws");
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let handshake = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(handshake.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("handshake answer");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{}", String::from_utf8_lossy(&head));
        Tab { stream, next_id: 1 }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).expect("frame");
            let mut len = u64::from(head[1] & 0x7f);
            if len == 126 {
                let mut b = [0u8; 2];
                self.stream.read_exact(&mut b).unwrap();
                len = u64::from(u16::from_be_bytes(b));
            } else if len == 127 {
                let mut b = [0u8; 8];
                self.stream.read_exact(&mut b).unwrap();
                len = u64::from_be_bytes(b);
            }
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).unwrap();
            message.extend_from_slice(&payload);
            if head[0] & 0x80 != 0 {
                return String::from_utf8(message).expect("utf-8");
            }
        }
    }

    /// Calls a DevTools method and returns its result (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let answer: Value = serde_json::from_str(&self.receive()).expect("json");
            if answer["id"] == id {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    fn eval(&mut self, expression: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}));
        r["result"]["value"].clone()
    }

    /// Loads `url` at `width` px in `scheme` (light or dark) and waits for it.
    fn open(&mut self, url: &str, width: u32, scheme: &str) {
        let mobile = width < 600;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval("document.readyState + ' ' + location.href") != json!(format!("complete {url}")) {
            assert!(Instant::now() < deadline, "{url} did not load");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A full-page PNG under target/screenshots/.
    fn screenshot(&mut self, name: &str) -> PathBuf {
        let metrics = self.call("Page.getLayoutMetrics", json!({}));
        let size = &metrics["cssContentSize"];
        let (w, h) = (size["width"].as_f64().unwrap_or(360.0), size["height"].as_f64().unwrap_or(900.0).min(6000.0));
        let shot = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true, "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
        );
        use base64::Engine;
        let png =
            base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data")).expect("base64");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{name}: a real screenshot");
        let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "target", "screenshots"].iter().collect();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// Measures the page: document and viewport width, and for each integration the boxes of its
/// status, reason and "Probe now", and its strip.
const MEASURE: &str = r#"(() => {
  const box = (root, sel) => {
    const e = root.querySelector(sel);
    if (!e) return null;
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return {left: r.left, right: r.right, width: r.width, height: r.height,
            shown: s.visibility !== 'hidden' && s.display !== 'none' && e.offsetParent !== null};
  };
  return {
    doc: document.documentElement.scrollWidth,
    body: document.body.scrollWidth,
    viewport: window.innerWidth,
    bg: getComputedStyle(document.body).backgroundColor,
    items: [...document.querySelectorAll('[data-integration]')].map(el => ({
      name: el.dataset.integration,
      status: box(el, '.pill'),
      reason: box(el, '.rtitle'),
      probe: box(el, 'button'),
      strip: box(el, 'ol.strip'),
      marks: el.querySelectorAll('ol.strip li').length,
      narrowest: Math.min(...[...el.querySelectorAll('ol.strip li')].map(li => li.getBoundingClientRect().width), 99),
    })),
    // How far the list's table sticks out of its box (it would scroll inside it).
    listOverflow: Math.max(0, ...[...document.querySelectorAll('.tablewrap.list')].map(w => w.scrollWidth - w.clientWidth)),
    historyRows: document.querySelectorAll('table.hist tbody tr').length,
    changedRows: document.querySelectorAll('table.hist tbody tr.changed').length,
  };
})()"#;

#[track_caller]
fn assert_inside(what: &str, b: &Value, viewport: f64) {
    assert!(b.is_object(), "{what}: missing");
    assert_eq!(b["shown"], true, "{what}: hidden");
    assert!(b["width"].as_f64().unwrap() > 0.0 && b["height"].as_f64().unwrap() > 0.0, "{what}: empty box {b}");
    assert!(b["left"].as_f64().unwrap() >= 0.0, "{what}: starts left of the viewport {b}");
    assert!(b["right"].as_f64().unwrap() <= viewport + 0.5, "{what}: ends right of the viewport ({viewport}) {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: needs chromium"]
async fn pages_fit_360_and_1400_px_light_and_dark_with_a_100_probe_history() {
    let server = start().await;
    let base = server.base.clone();
    tokio::task::spawn_blocking(move || {
        let browser = Browser::start();
        let mut tab = browser.tab();
        let mut backgrounds = Vec::new();
        for width in [360u32, 1400] {
            for scheme in ["light", "dark"] {
                // The list: every integration's status, reason and probe-now inside the viewport.
                tab.open(&format!("{base}/"), width, scheme);
                let m = tab.eval(MEASURE);
                tab.screenshot(&format!("status-page-{width}-{scheme}"));
                let viewport = m["viewport"].as_f64().unwrap();
                assert_eq!(viewport, f64::from(width), "{m}");
                assert!(m["doc"].as_f64().unwrap() <= viewport, "{width} {scheme}: the page scrolls sideways: {m}");
                assert_eq!(m["listOverflow"], 0, "{width} {scheme}: the list's table is cut off: {m}");
                let items = m["items"].as_array().unwrap();
                assert_eq!(items.len(), 5, "{m}");
                for it in items {
                    let name = it["name"].as_str().unwrap();
                    for part in ["status", "probe"] {
                        assert_inside(&format!("{width} {scheme} {name} {part}"), &it[part], viewport);
                    }
                    assert_inside(&format!("{width} {scheme} {name} reason"), &it["reason"], viewport);
                }
                let busy = items.iter().find(|i| i["name"] == BUSY).unwrap();
                assert_eq!(busy["marks"], 100, "the strip shows the 100 kept results");
                assert!(busy["narrowest"].as_f64().unwrap() >= 1.0, "every mark is visible: {busy}");
                assert_inside(&format!("{width} {scheme} strip"), &busy["strip"], viewport);
                backgrounds.push(m["bg"].as_str().unwrap().to_string());

                // The busy integration's own page: 100 history rows, changes highlighted.
                tab.open(&format!("{base}/integrations/{BUSY}"), width, scheme);
                let m = tab.eval(MEASURE);
                tab.screenshot(&format!("integration-page-{width}-{scheme}"));
                assert!(
                    m["doc"].as_f64().unwrap() <= viewport,
                    "{width} {scheme}: integration page scrolls sideways: {m}"
                );
                assert_eq!(m["historyRows"], 100, "{m}");
                assert!(m["changedRows"].as_u64().unwrap() >= 10, "status changes highlighted: {m}");
                let page = &m["items"][0];
                assert_eq!(page["marks"], 100);
                assert_inside(&format!("{width} {scheme} page status"), &page["status"], viewport);
                assert_inside(&format!("{width} {scheme} page probe"), &page["probe"], viewport);
            }
        }
        // Light and dark really differ.
        assert_ne!(backgrounds[0], backgrounds[1], "dark scheme changes the background");
    })
    .await
    .expect("browser checks");
}
