//! Fault injection over real sockets on loopback. Each fault yields its reason within the
//! probe timeout plus a small margin, and `/metrics` keeps being served throughout.

mod common;

use common::exporter::InProcess;
use integration_exporter::demo::sim::{Fixture, Route, SimServer};
use integration_exporter::reason::Reason;
use integration_exporter::runtime::{App, ConfigSource};
use integration_exporter::server::ServerOptions;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TIMEOUT: Duration = Duration::from_secs(2);
const MARGIN: Duration = Duration::from_millis(1500);

/// A raw TCP server answering every connection with `behaviour`.
async fn raw_server<F, Fut>(behaviour: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let behaviour = Arc::new(behaviour);
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let b = behaviour.clone();
            tokio::spawn(async move { b(s).await });
        }
    });
    format!("http://{addr}")
}

async fn read_request(s: &mut TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut seen = Vec::new();
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

struct Tls {
    ca_pem: String,
    dir: tempfile::TempDir,
}

/// An HTTPS server with the given certificate on loopback; returns its port.
async fn tls_server(cert_pem: String, key_pem: String) -> u16 {
    use rustls_pki_types::pem::PemObject;
    let certs =
        rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(integration_exporter::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").await;
                }
            });
        }
    });
    port
}

/// CA plus three server certificates: valid-but-expired, for the wrong host, self-signed.
async fn tls_faults() -> (Tls, u16, u16, u16) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let expired_key = KeyPair::generate().unwrap();
    let mut expired_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    expired_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    expired_params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let expired = expired_params.signed_by(&expired_key, &issuer).unwrap();

    let wrong_key = KeyPair::generate().unwrap();
    let wrong =
        CertificateParams::new(vec!["other.example".to_string()]).unwrap().signed_by(&wrong_key, &issuer).unwrap();

    let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();

    let p_expired = tls_server(expired.pem(), expired_key.serialize_pem()).await;
    let p_wrong = tls_server(wrong.pem(), wrong_key.serialize_pem()).await;
    let p_self = tls_server(self_signed.cert.pem(), self_signed.signing_key.serialize_pem()).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
    (Tls { ca_pem: ca.pem(), dir }, p_expired, p_wrong, p_self)
}

fn integration(name: &str, base_url: &str, path: &str, extra: &str) -> String {
    format!(
        "  - name: {name}\n    provider: http\n    base_url: {base_url}\n    auth: {{type: bearer, token: fault-token}}\n    check: {{path: {path}}}\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_yields_its_reason_in_time_while_metrics_keep_serving() {
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}")
    };
    let silent = raw_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await;
    let reset_mid_body = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"partial\":",
            )
            .await;
        // Linger 0 turns the close into a TCP reset (the blocking drop is immediate here).
        #[allow(deprecated)]
        let _ = s.set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    let one_byte_per_second = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n").await;
        for _ in 0..100 {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let huge = raw_server(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
            .await;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..1600 {
            if s.write_all(&chunk).await.is_err() {
                return;
            }
        }
    })
    .await;
    let sim = SimServer::start(vec![
        Route::fixed(
            http::Method::GET,
            "/invalid-json",
            Fixture { body: None, body_text: Some("{not json".into()), ..Fixture::json(200, serde_json::Value::Null) },
        ),
        Route::fixed(
            http::Method::GET,
            "/loop",
            Fixture::json(302, serde_json::json!({})).with_header("Location", "/loop"),
        ),
        Route::fixed(http::Method::GET, "/storm-5xx", Fixture::json(503, serde_json::json!({"error": "busy"}))),
        Route::fixed(
            http::Method::GET,
            "/storm-429",
            Fixture::json(429, serde_json::json!({})).with_header("Retry-After", "1"),
        ),
    ])
    .await
    .unwrap();
    let (tls, p_expired, p_wrong, p_self) = tls_faults().await;
    let ca_file = tls.dir.path().join("ca.pem").display().to_string();
    assert!(tls.ca_pem.contains("BEGIN CERTIFICATE"));
    let with_ca = format!("    tls: {{ca_file: {ca_file}}}\n");
    let s = sim.url();
    let cases: Vec<(&str, String, Reason)> = vec![
        ("refused", integration("refused", &refused, "/", ""), Reason::NetworkError),
        ("silent", integration("silent", &silent, "/", ""), Reason::Timeout),
        ("reset", integration("reset", &reset_mid_body, "/", "    retries: 0\n"), Reason::NetworkError),
        ("dribble", integration("dribble", &one_byte_per_second, "/", ""), Reason::Timeout),
        (
            "huge",
            integration("huge", &huge, "/", "    check: {path: /, scopes: {json_pointer: /scope}}\n")
                .replace("    check: {path: /}\n", ""),
            Reason::UnexpectedResponse,
        ),
        (
            "invalid-json",
            integration(
                "invalid-json",
                &s,
                "/invalid-json",
                "    check: {path: /invalid-json, scopes: {json_pointer: /scope}}\n",
            )
            .replace("    check: {path: /invalid-json}\n", ""),
            Reason::UnexpectedResponse,
        ),
        ("redirect-loop", integration("redirect-loop", &s, "/loop", ""), Reason::UnexpectedResponse),
        ("storm-5xx", integration("storm-5xx", &s, "/storm-5xx", ""), Reason::ProviderUnavailable),
        ("storm-429", integration("storm-429", &s, "/storm-429", ""), Reason::RateLimited),
        (
            "tls-expired",
            integration("tls-expired", &format!("https://localhost:{p_expired}"), "/", &with_ca),
            Reason::TlsError,
        ),
        (
            "tls-wrong-host",
            integration("tls-wrong-host", &format!("https://localhost:{p_wrong}"), "/", &with_ca),
            Reason::TlsError,
        ),
        (
            "tls-self-signed",
            integration("tls-self-signed", &format!("https://localhost:{p_self}"), "/", ""),
            Reason::TlsError,
        ),
    ];
    let mut yaml = format!(
        "global:\n  timeout: {}s\n  retries: 1\n  min_probe_interval: 0s\n  interval: 1h\n  requests_per_second_per_host: 1000\nintegrations:\n",
        TIMEOUT.as_secs()
    );
    for (_, y, _) in &cases {
        yaml.push_str(y);
    }
    let app = App::new(ConfigSource::Text { text: yaml, name: "faults.yml".into() }, None, 10).unwrap();
    let server = InProcess::serve(app.clone(), ServerOptions::default()).await;
    let addr = server.addr;

    // /metrics is scraped continuously while the faults run; every scrape must succeed quickly.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scraper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut slowest = Duration::ZERO;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                let r = client
                    .get(format!("http://{addr}/metrics"))
                    .timeout(Duration::from_secs(2))
                    .send()
                    .await
                    .expect("/metrics answered");
                assert_eq!(r.status(), 200);
                r.text().await.unwrap();
                slowest = slowest.max(t.elapsed());
                n += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (n, slowest)
        })
    };

    let mut probes = Vec::new();
    for (name, _, want) in &cases {
        let (app, name, want) = (app.clone(), name.to_string(), *want);
        probes.push(tokio::spawn(async move {
            let started = Instant::now();
            // Storms: several rounds back to back.
            let rounds = if name.starts_with("storm") { 5 } else { 1 };
            let mut last = None;
            for _ in 0..rounds {
                last = app.probe(&name, None).await;
            }
            let r = last.unwrap();
            (name, want, r.reason, r.detail.clone(), started.elapsed() / rounds)
        }));
    }
    let mut failures = Vec::new();
    for p in probes {
        let (name, want, got, detail, took) = p.await.unwrap();
        if got != want {
            failures.push(format!("{name}: expected {want}, got {got} ({detail})"));
        }
        if took > TIMEOUT + MARGIN {
            failures.push(format!("{name}: took {took:?}, more than timeout + margin"));
        }
        assert!(!detail.contains("fault-token"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (scrapes, slowest) = scraper.await.unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(scrapes >= 10, "only {scrapes} scrapes during the faults");
    assert!(slowest < Duration::from_secs(1), "a /metrics scrape took {slowest:?} during the faults");
}
