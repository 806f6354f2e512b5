//! `--web.config.file`: TLS (incl. client certificates) and basic auth protect every
//! endpoint; configured headers are added; a bad file is refused with its location.
//! Certificates are generated per test with rcgen; everything runs over loopback.

mod common;

use common::exporter::InProcess;
use integration_exporter::runtime::ConfigSource;
use integration_exporter::server::web_config::WebConfig;
use integration_exporter::server::ServerOptions;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use std::path::Path;
use std::time::Duration;

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_identity: String,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["scraper".to_string()]).unwrap().signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert: server.pem(),
        server_key: server_key.serialize_pem(),
        client_identity: format!("{}{}", client.pem(), client_key.serialize_pem()),
    }
}

const APP_CONFIG: &str = "integrations: []\n";

async fn start(web: WebConfig) -> (String, InProcess) {
    let server = InProcess::start_with(APP_CONFIG, ServerOptions { web: Some(web), ..ServerOptions::default() }).await;
    (server.addr.to_string(), server)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn basic(user: &str, pass: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

#[tokio::test]
async fn basic_auth_refuses_wrong_unknown_and_missing_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("correct horse", 4).unwrap();
    let path = write(
        dir.path(),
        "web.yml",
        &format!("basic_auth_users:\n  alice: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
    );
    let (addr, _stop) = start(WebConfig::load(Path::new(&path)).unwrap()).await;
    let client = reqwest::Client::new();
    for endpoint in ["/metrics", "/config", "/-/healthy", "/probe?target=x", "/"] {
        let url = format!("http://{addr}{endpoint}");
        let none = client.get(&url).send().await.unwrap();
        assert_eq!(none.status(), 401, "{endpoint} without credentials");
        assert!(none.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        assert_eq!(none.headers()["x-frame-options"], "deny");
        let wrong = client.get(&url).header("authorization", basic("alice", "wrong")).send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{endpoint} with a wrong password");
        let unknown = client.get(&url).header("authorization", basic("mallory", "correct horse")).send().await.unwrap();
        assert_eq!(unknown.status(), 401, "{endpoint} with an unknown user");
    }
    for _ in 0..2 {
        // the second round is served from the login cache
        let ok = client
            .get(format!("http://{addr}/-/healthy"))
            .header("authorization", basic("alice", "correct horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()["x-frame-options"], "deny");
    }
}

#[tokio::test]
async fn tls_with_required_client_certificate() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &pki.server_cert);
    write(dir.path(), "server.key", &pki.server_key);
    write(dir.path(), "ca.crt", &pki.ca_pem);
    let path = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  min_version: TLS12\n",
    );
    let (addr, _stop) = start(WebConfig::load(Path::new(&path)).unwrap()).await;
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}/-/healthy");
    let ca = reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap();

    let without_cert = reqwest::Client::builder().tls_certs_only([ca.clone()]).build().unwrap();
    let err = without_cert.get(&url).timeout(Duration::from_secs(5)).send().await;
    assert!(err.is_err(), "a client without a certificate must be refused");

    let identity = reqwest::Identity::from_pem(pki.client_identity.as_bytes()).unwrap();
    let with_cert = reqwest::Client::builder().tls_certs_only([ca.clone()]).identity(identity).build().unwrap();
    let ok = with_cert.get(&url).timeout(Duration::from_secs(5)).send().await.unwrap();
    assert_eq!(ok.status(), 200);

    let plain =
        reqwest::Client::new().get(format!("http://{addr}/-/healthy")).timeout(Duration::from_secs(5)).send().await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true), "plain HTTP must not be served on a TLS listener");

    let untrusting = reqwest::Client::builder()
        .identity(reqwest::Identity::from_pem(pki.client_identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(
        untrusting.get(&url).timeout(Duration::from_secs(5)).send().await.is_err(),
        "the test CA is not a public root"
    );
}

#[tokio::test]
async fn tls_certificate_is_reread_when_it_changes() {
    let first = pki();
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "server.crt", &first.server_cert);
    write(dir.path(), "server.key", &first.server_key);
    let path = write(dir.path(), "web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    let (addr, _stop) = start(WebConfig::load(Path::new(&path)).unwrap()).await;
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}/-/healthy");
    let trusting = |pem: &str| {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(pem.as_bytes()).unwrap()])
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    assert_eq!(trusting(&first.ca_pem).get(&url).send().await.unwrap().status(), 200);
    let second = pki();
    // mtime resolution can be coarse: make sure the new files get a different one
    tokio::time::sleep(Duration::from_millis(1100)).await;
    write(dir.path(), "server.key", &second.server_key);
    write(dir.path(), "server.crt", &second.server_cert);
    assert_eq!(trusting(&second.ca_pem).get(&url).send().await.unwrap().status(), 200);
    assert!(trusting(&first.ca_pem).get(&url).send().await.is_err(), "the old certificate must no longer be served");
}

#[test]
fn bad_web_configs_are_refused_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n", "2:3", "cert_file"),
        ("basic_auth_users:\n  alice: not-a-hash\n", "2:3", "not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: a\n", "2:3", "cert_file and key_file are both required"),
        ("tls_config: {}\n", "1:1", "unknown field"),
    ];
    for (text, at, needle) in cases {
        let path = write(dir.path(), "web.yml", text);
        let err = WebConfig::load(Path::new(&path)).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(err.contains(&format!("web.yml:{at}")), "{text:?} should point at {at}: {err}");
    }
}

/// A server over a real config file and a simulated upstream that counts its requests.
async fn start_with_upstream(
    dir: &Path,
) -> (String, integration_exporter::demo::sim::SimServer, std::path::PathBuf, InProcess) {
    use integration_exporter::demo::sim::{Fixture, Route, SimServer};
    let sim = SimServer::start(vec![Route::fixed(http::Method::GET, "/me", Fixture::json(200, serde_json::json!({})))])
        .await
        .unwrap();
    let config = dir.join("c.yml");
    std::fs::write(&config, one_integration("svc", &sim.url())).unwrap();
    let server = InProcess::start_source(ConfigSource::File(config.clone()), ServerOptions::default()).await;
    (server.addr.to_string(), sim, config, server)
}

fn one_integration(name: &str, url: &str) -> String {
    format!(
        "global:\n  min_probe_interval: 0s\n  retries: 0\nintegrations:\n  - name: {name}\n    provider: http\n    base_url: {url}\n    auth: {{type: bearer, token: abcdefgh1234}}\n    check: {{path: /me}}\n"
    )
}

async fn names(client: &reqwest::Client, addr: &str) -> Vec<String> {
    let text = client.get(format!("http://{addr}/api/v1/integrations")).send().await.unwrap().text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["integrations"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn cross_site_requests_to_state_changing_endpoints_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, sim, config, _stop) = start_with_upstream(dir.path()).await;
    let client = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A reload would add `added`: a refused one must not.
    std::fs::write(&config, format!("{}{}", one_integration("svc", &sim.url()), "  - name: added\n    provider: http\n    base_url: http://127.0.0.1:9\n    auth: {type: bearer, token: abcdefgh1234}\n    check: {path: /me}\n")).unwrap();
    let evil: &[(&str, &str)] = &[
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:1"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ];
    let bodies: &[(&str, &str)] = &[
        ("application/x-www-form-urlencoded", "a=b"),
        ("text/plain", "x"),
        (
            "multipart/form-data; boundary=zz",
            "--zz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--zz--\r\n",
        ),
    ];
    for path in ["/-/reload".to_string(), "/api/v1/integrations/svc/probe".to_string()] {
        for (h, v) in evil {
            for (ct, body) in bodies {
                let resp = client
                    .post(format!("http://{addr}{path}"))
                    .header(*h, *v)
                    .header("content-type", *ct)
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(resp.status(), 403, "{path} with {h}: {v} and {ct}");
            }
        }
    }
    // A form content type without browser headers still is not what /-/reload takes.
    for (ct, body) in bodies {
        let resp = client
            .post(format!("http://{addr}/-/reload"))
            .header("content-type", *ct)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "/-/reload with {ct}");
    }
    // The probe endpoint takes only the urlencoded form of the status page, not the others.
    for (ct, body) in &bodies[1..] {
        let resp = client
            .post(format!("http://{addr}/api/v1/integrations/svc/probe"))
            .header("content-type", *ct)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "probe with {ct}");
    }
    assert!(sim.requests().is_empty(), "a refused probe reached the upstream: {:?}", sim.requests());
    assert_eq!(names(&client, &addr).await, vec!["svc"], "a refused reload was applied");

    // The status page's own form: same origin, urlencoded, asks for HTML: a 303 back to the
    // page, and the probe ran.
    let resp = client
        .post(format!("http://{addr}/api/v1/integrations/svc/probe"))
        .header("origin", format!("http://{addr}"))
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert!(resp.headers()["location"].to_str().unwrap().starts_with("/?probed=svc"));
    assert_eq!(sim.requests().len(), 1, "the same-origin form probes");
    // Behind a proxy that rewrites Host, X-Forwarded-Host names the origin.
    let resp = client
        .post(format!("http://{addr}/api/v1/integrations/svc/probe"))
        .header("origin", "https://exporter.example.com")
        .header("x-forwarded-host", "exporter.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // Programs send neither header: a plain POST reloads.
    let resp = client.post(format!("http://{addr}/-/reload")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(names(&client, &addr).await, vec!["added", "svc"]);
    // Same-origin (and user-initiated, `none`) reloads from a browser are allowed.
    for (h, v) in [("origin", format!("http://{addr}")), ("sec-fetch-site", "none".to_string())] {
        let resp = client.post(format!("http://{addr}/-/reload")).header(h, v).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_a_readable_400() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    write(dir.path(), "server.crt", &p.server_cert);
    write(dir.path(), "server.key", &p.server_key);
    let web = write(dir.path(), "web.yml", "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n");
    let (addr, _stop) = start(WebConfig::load(Path::new(&web)).unwrap()).await;
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut answer)).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.0 400 Bad Request\r\n"), "{answer}");
    assert!(answer.contains("Client sent an HTTP request to an HTTPS server."), "{answer}");
}

#[test]
fn web_config_header_and_version_errors_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let p = pki();
    write(dir.path(), "server.crt", &p.server_cert);
    write(dir.path(), "server.key", &p.server_key);
    let cases = [
        ("http_server_config:\n  headers:\n    \"Bad Header\": x\n", "web.yml:3:", "not a valid header name"),
        ("http_server_config:\n  headers:\n    X-Ok: \"a\\nb\"\n", "web.yml:3:", "not a valid header value"),
        (
            "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n",
            "web.yml:2:3",
            "min_version TLS13 is above max_version TLS12",
        ),
    ];
    for (text, at, needle) in cases {
        let path = write(dir.path(), "web.yml", text);
        let err = WebConfig::load(Path::new(&path)).unwrap_err().to_string();
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(err.contains(at), "{text:?} should point at {at}: {err}");
    }
    // max_version alone limits the versions: TLS12 only still loads.
    let path = write(
        dir.path(),
        "web.yml",
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  max_version: TLS12\n",
    );
    assert!(WebConfig::load(Path::new(&path)).is_ok());
}
