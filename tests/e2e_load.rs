//! Load while reloading: `/metrics` and `/probe` are hammered concurrently (loopback, bounded
//! in time) while the config is reloaded repeatedly. Every request must succeed, except the
//! documented 503s beyond `--web.max-requests`, and resident memory must come back to its
//! baseline afterwards.

use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(sim: &str, count: usize) -> String {
    let mut s = String::from("global:\n  interval: 2s\n  error_interval: 2s\n  min_probe_interval: 0s\n  retries: 0\n  requests_per_second_per_host: 100000\n  max_concurrency: 64\nintegrations:\n");
    for i in 0..count {
        s.push_str(&format!(
            "  - name: svc-{i}\n    provider: http\n    base_url: {sim}\n    auth: {{type: bearer, token: load-test-token}}\n    check: {{path: /me, scopes: {{header: X-Scopes, separator: \",\"}}}}\n    scopes: {{required: [read]}}\n"
        ));
    }
    s
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn start(config_path: &Path) -> (Exporter, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_integration_exporter"))
        .args([
            "--config.file",
            config_path.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
            "--web.max-requests",
            "40",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("address=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("exporter printed its listen address");
    (Exporter(child), addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: load test; run by .ci/run"]
async fn metrics_and_probe_under_load_while_reloading() {
    let sim = SimServer::start(vec![Route::fixed(
        http::Method::GET,
        "/me",
        Fixture::json(200, serde_json::json!({"id": 1}))
            .with_header("X-Scopes", "read,write")
            .with_delay(Duration::from_millis(5)),
    )])
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yml");
    std::fs::write(&path, config(&sim.url(), 200)).unwrap();
    let (exporter, addr) = start(&path);
    let pid = exporter.0.id();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    // Warm up: one full cycle, then a baseline.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = client.get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
        if body.matches("integration_up{").count() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "first cycle did not complete");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..200 {
        client.get(format!("http://{addr}/probe?target=svc-1")).send().await.unwrap();
    }
    let baseline = rss_kb(pid);

    let (ok, busy, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let stop_at = Instant::now() + Duration::from_secs(12);
    let mut workers = Vec::new();
    for w in 0..48 {
        let (client, addr, ok, busy, failed) = (client.clone(), addr.clone(), ok.clone(), busy.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < stop_at {
                n += 1;
                let path = if n % 2 == 0 {
                    "/metrics".to_string()
                } else {
                    format!("/probe?target=svc-{}", (w * 7 + n) % 150)
                };
                match client.get(format!("http://{addr}{path}")).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) if r.status() == 503 => {
                        let body = r.text().await.unwrap_or_default();
                        assert!(body.contains("--web.max-requests"), "an undocumented 503: {body}");
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{path}: HTTP {}", r.status());
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        eprintln!("{path}: {e}");
                    }
                }
            }
        }));
    }
    // Reloads alternate between 200 and 180 integrations (svc-180.. come and go).
    let mut reloads = 0;
    while Instant::now() < stop_at {
        reloads += 1;
        std::fs::write(&path, config(&sim.url(), if reloads % 2 == 0 { 200 } else { 180 })).unwrap();
        let r = client.post(format!("http://{addr}/-/reload")).send().await.unwrap();
        assert!(r.status() == 200 || r.status() == 503, "reload answered {}", r.status());
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    for w in workers {
        w.await.unwrap();
    }
    let (ok, busy, failed) = (ok.load(Ordering::Relaxed), busy.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    eprintln!("load: {ok} ok, {busy} documented 503s, {failed} failed, {reloads} reloads, baseline RSS {baseline} kB");
    assert_eq!(failed, 0, "requests failed under load");
    assert!(ok > 1000, "too few requests served: {ok}");

    // After the load: memory settles back near the baseline.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kb(pid);
    eprintln!("RSS after load: {after} kB (baseline {baseline} kB)");
    assert!(after <= baseline + baseline / 4 + 4 * 1024, "RSS grew from {baseline} kB to {after} kB");
    let body = client.get(format!("http://{addr}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("integration_exporter_config_last_reload_successful 1"));
}
