//! Hostile clients on loopback against the exporter binary, each bounded in time: 2,000
//! sockets that never send a byte; 45 clients sending a request body one byte every 2 s; 15
//! clients sending wrong passwords over TLS with basic auth. In each, a correct scraper opening
//! a fresh connection every 200 ms must get 200 on `/metrics` within 1 s for at least 99% of
//! its requests. Each test prints what it measured.
//!
//! Run: `cargo test --test hardening_load -- --ignored --nocapture --test-threads 1`; for the
//! figures of the shipped build, `cargo build --release` first and set
//! `IE_LOAD_TEST_BIN=target/release/integration_exporter`.

use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long each attack lasts while the scraper measures.
const ATTACK: Duration = Duration::from_secs(30);
/// The scraper's deadline per request.
const SCRAPE_DEADLINE: Duration = Duration::from_secs(1);

struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary under test: `IE_LOAD_TEST_BIN` (e.g. `target/release/integration_exporter`, for
/// the figures of the shipped build) or the one Cargo built for this test.
fn exporter_bin() -> String {
    std::env::var("IE_LOAD_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_integration_exporter").to_string())
}

/// Starts the binary with a raised descriptor limit (`ulimit -n` in a shell: the library
/// forbids unsafe code, so the limit is not raised from Rust).
fn start(config: &Path, extra: &[&str]) -> (Exporter, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 8192 2>/dev/null; exec \"$0\" \"$@\"")
        .arg(exporter_bin())
        .args(["--config.file", config.to_str().unwrap(), "--web.listen-address", "127.0.0.1:0"])
        .args(extra)
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

async fn config(dir: &Path) -> (SimServer, std::path::PathBuf) {
    let sim = SimServer::start(vec![Route::fixed(http::Method::GET, "/me", Fixture::json(200, serde_json::json!({})))])
        .await
        .unwrap();
    let path = dir.join("c.yml");
    std::fs::write(
        &path,
        format!(
            "global:\n  interval: 5s\n  min_probe_interval: 0s\nintegrations:\n  - name: svc\n    provider: http\n    base_url: {}\n    auth: {{type: bearer, token: load-test-token}}\n    check: {{path: /me}}\n",
            sim.url()
        ),
    )
    .unwrap();
    (sim, path)
}

/// What the scraper saw.
struct Scrapes {
    latencies: Vec<Duration>,
    failures: Vec<String>,
}

impl Scrapes {
    fn report(&self, what: &str) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        let total = l.len() + self.failures.len();
        let ok = l.iter().filter(|d| **d <= SCRAPE_DEADLINE).count();
        let pct = |p: f64| l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied();
        let share = ok as f64 / total.max(1) as f64;
        println!(
            "{what}: {ok}/{total} scrapes got 200 within {SCRAPE_DEADLINE:?} ({:.1}%); p50 {:?}, p99 {:?}, max {:?}; failures: {:?}",
            share * 100.0,
            pct(0.5),
            pct(0.99),
            l.last(),
            &self.failures[..self.failures.len().min(5)]
        );
        share
    }
}

/// Scrapes `/metrics` every 200 ms on a fresh connection for `ATTACK`.
async fn scrape(client: reqwest::Client, url: String) -> Scrapes {
    let end = Instant::now() + ATTACK;
    let mut s = Scrapes { latencies: Vec::new(), failures: Vec::new() };
    while Instant::now() < end {
        let started = Instant::now();
        match client.get(&url).timeout(SCRAPE_DEADLINE).send().await {
            Ok(r) if r.status() == 200 => match r.bytes().await {
                Ok(_) => s.latencies.push(started.elapsed()),
                Err(e) => s.failures.push(format!("body: {e}")),
            },
            Ok(r) => s.failures.push(format!("HTTP {}", r.status())),
            Err(e) => s.failures.push(format!("{e}")),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    s
}

fn fresh_connections() -> reqwest::ClientBuilder {
    reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: load test (30 s)"]
async fn two_thousand_zero_byte_sockets_do_not_lock_out_the_scraper() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, path) = config(dir.path()).await;
    let (_exporter, addr) = start(&path, &[]);
    // Each socket waits for the server to close it and reports how long it stayed open.
    let mut sockets = Vec::new();
    for _ in 0..2000 {
        let mut s = TcpStream::connect(&addr).await.expect("connect (raise `ulimit -n` for this test)");
        let opened = Instant::now();
        sockets.push(tokio::spawn(async move {
            let mut buf = [0u8; 16];
            match tokio::time::timeout(ATTACK, s.read(&mut buf)).await {
                Ok(Ok(0) | Err(_)) => Some(opened.elapsed()),
                _ => None,
            }
        }));
    }
    let scrapes = scrape(fresh_connections().build().unwrap(), format!("http://{addr}/metrics")).await;
    let mut open_for = Vec::new();
    for s in sockets {
        open_for.push(s.await.unwrap());
    }
    let closed: Vec<Duration> = open_for.iter().flatten().copied().collect();
    let longest = closed.iter().max().copied().unwrap_or_default();
    println!("zero-byte sockets: {}/2000 closed by the server, the last {longest:?} after it was opened", closed.len());
    let share = scrapes.report("2,000 zero-byte sockets");
    assert!(share >= 0.99, "the scraper was locked out");
    assert_eq!(closed.len(), 2000, "idle sockets were left open");
    let limit = integration_exporter::server::FIRST_REQUEST_TIMEOUT + Duration::from_secs(3);
    assert!(longest <= limit, "an idle socket stayed open {longest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: load test (30 s)"]
async fn forty_five_slow_bodies_do_not_starve_the_scraper() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, path) = config(dir.path()).await;
    let (_exporter, addr) = start(&path, &["--web.max-requests", "40"]);
    let end = Instant::now() + ATTACK;
    let mut slow = Vec::new();
    for _ in 0..45 {
        let addr = addr.clone();
        slow.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            while Instant::now() < end {
                let Ok(mut s) = TcpStream::connect(&addr).await else { continue };
                let head = "POST /api/v1/integrations/svc/probe HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                let mut buf = [0u8; 256];
                loop {
                    if Instant::now() >= end || s.write_all(b"a").await.is_err() {
                        break;
                    }
                    match tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(n)) => {
                            answers.push(String::from_utf8_lossy(&buf[..n.min(12)]).into_owned());
                            break;
                        }
                        Err(_) => {}
                    }
                }
            }
            answers
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let scrapes = scrape(fresh_connections().build().unwrap(), format!("http://{addr}/metrics")).await;
    let mut answers = Vec::new();
    for s in slow {
        answers.extend(s.await.unwrap());
    }
    let timeouts = answers.iter().filter(|a| a.starts_with("HTTP/1.1 408")).count();
    println!("slow bodies: {} answers, {timeouts} of them 408", answers.len());
    let share = scrapes.report("45 slow-body clients");
    assert!(share >= 0.99, "the scraper was starved by slow bodies");
    assert!(timeouts >= 45, "slow bodies were not cut off: {answers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "end-to-end: load test (30 s)"]
async fn fifteen_wrong_password_clients_do_not_starve_the_scraper() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, path) = config(dir.path()).await;
    // A CA, a server certificate for 127.0.0.1, and a web config with TLS and basic auth at
    // the cost `htpasswd -nBC 10` gives.
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
    let hash = bcrypt::hash("scraper-password", 10).unwrap();
    let web = dir.path().join("web.yml");
    std::fs::write(
        &web,
        format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    let (_exporter, addr) = start(&path, &["--web.config.file", web.to_str().unwrap()]);
    let url = format!("https://{addr}/metrics");
    let ca = reqwest::Certificate::from_pem(ca_cert.pem().as_bytes()).unwrap();
    let tls_client = |fresh: bool| {
        let b = if fresh { fresh_connections() } else { reqwest::Client::builder().no_proxy() };
        b.add_root_certificate(ca.clone()).build().unwrap()
    };
    // The scraper has been scraping before the attack: its credential is known good.
    let scraper = tls_client(true);
    let first = scraper.get(&url).basic_auth("prometheus", Some("scraper-password")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let end = Instant::now() + ATTACK;
    let mut attackers = Vec::new();
    for i in 0..15 {
        let (client, url) = (tls_client(false), url.clone());
        attackers.push(tokio::spawn(async move {
            let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
            let mut n = 0u64;
            while Instant::now() < end {
                n += 1;
                let pass = format!("wrong-{i}-{n}");
                let status = match client.get(&url).basic_auth("prometheus", Some(pass)).send().await {
                    Ok(r) => r.status().as_u16(),
                    Err(_) => 0,
                };
                *statuses.entry(status).or_default() += 1;
            }
            statuses
        }));
    }
    let authed = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .add_root_certificate(ca.clone())
        .default_headers({
            let mut h = reqwest::header::HeaderMap::new();
            use base64::Engine as _;
            let v = base64::engine::general_purpose::STANDARD.encode("prometheus:scraper-password");
            h.insert("authorization", format!("Basic {v}").parse().unwrap());
            h
        })
        .build()
        .unwrap();
    let scrapes = scrape(authed, url).await;
    let mut totals = std::collections::BTreeMap::<u16, u32>::new();
    for a in attackers {
        for (k, v) in a.await.unwrap() {
            *totals.entry(k).or_default() += v;
        }
    }
    println!("wrong-password requests by status: {totals:?}");
    let share = scrapes.report("15 wrong-password clients (TLS + basic auth)");
    assert!(share >= 0.99, "authenticated scrapes were starved by failed logins");
    assert!(!totals.contains_key(&200), "a wrong password was accepted");
}
