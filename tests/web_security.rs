//! `--web.config.file`: TLS (incl. client certificates) and basic auth protect every
//! endpoint; configured headers are added; a bad file is refused with its location.
//! Certificates are generated per test with rcgen; everything runs over loopback.

use integration_exporter::app::{App, ConfigSource};
use integration_exporter::server::web_config::WebConfig;
use integration_exporter::server::{serve, ServerOptions, ServerState};
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

async fn start(web: WebConfig) -> (String, tokio::sync::oneshot::Sender<()>) {
    let app = App::new(ConfigSource::Text { text: APP_CONFIG.into(), name: "t.yml".into() }, None, 10).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = ServerState::new(app, ServerOptions { web: Some(web), ..ServerOptions::default() });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state, async move {
        let _ = rx.await;
    }));
    (format!("127.0.0.1:{port}"), tx)
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
