//! `--web.config.file`: the Prometheus exporter-toolkit web configuration.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # NoClientCert (default), RequireAnyClientCert, ...
//!   client_ca_file: clients-ca.crt
//!   min_version: TLS12                             # TLS12 (default) or TLS13
//! http_server_config:
//!   headers:
//!     Strict-Transport-Security: max-age=31536000
//! basic_auth_users:
//!   alice: $2y$10$...                              # bcrypt hash
//! ```
//!
//! It protects every endpoint. Certificate and key are re-read when their files change. A
//! bad file refuses to start with an error naming file, line and column.

use crate::config::Diagnostic;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Why the web config cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The file could not be read.
    #[error("--web.config.file {file}: cannot read: {error}")]
    Read {
        /// Path.
        file: String,
        /// I/O error.
        error: String,
    },
    /// One or more problems, each with its place.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<Spanned<RawTls>>,
    http_server_config: Option<RawHttp>,
    #[serde(default)]
    basic_auth_users: Option<Spanned<BTreeMap<String, String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<Spanned<String>>,
    client_ca_file: Option<String>,
    min_version: Option<Spanned<String>>,
    max_version: Option<Spanned<String>>,
    // Accepted for compatibility with exporter-toolkit files; rustls picks safe suites itself.
    #[allow(dead_code)]
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[allow(dead_code)]
    #[serde(default)]
    curve_preferences: Vec<String>,
    #[allow(dead_code)]
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    headers: BTreeMap<String, String>,
    // Accepted for compatibility; HTTP/2 is always offered (ALPN) and always allowed.
    #[allow(dead_code)]
    #[serde(default)]
    http2: Option<bool>,
}

/// The validated web config.
#[derive(Clone)]
pub struct WebConfig {
    /// TLS acceptor settings, when TLS is on.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Extra response headers.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Basic auth, when users are configured.
    pub basic_auth: Option<Arc<BasicAuth>>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("tls", &self.tls.is_some())
            .field("basic_auth", &self.basic_auth.is_some())
            .finish()
    }
}

impl WebConfig {
    /// Loads and validates the file.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| WebConfigError::Read { file: file.clone(), error: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let diag = |line: u64, column: u64, message: String| Diagnostic { file: file.clone(), line, column, message };
        let raw: RawWebConfig = serde_saphyr::from_str(&text).map_err(|e| {
            let loc = e.location();
            let msg = e.without_snippet().to_string();
            let msg = msg.lines().next().unwrap_or("").to_string();
            WebConfigError::Invalid(vec![diag(loc.map_or(0, |l| l.line()), loc.map_or(0, |l| l.column()), msg)])
        })?;
        let mut errors = Vec::new();
        let tls = match &raw.tls_server_config {
            Some(t) => match build_tls(&t.value, base) {
                Ok(c) => Some(Arc::new(c)),
                Err(m) => {
                    errors.push(diag(t.referenced.line(), t.referenced.column(), format!("tls_server_config: {m}")));
                    None
                }
            },
            None => None,
        };
        let mut headers = Vec::new();
        for (k, v) in raw.http_server_config.as_ref().map(|h| h.headers.clone()).unwrap_or_default() {
            match (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(&v)) {
                (Ok(k), Ok(v)) => headers.push((k, v)),
                _ => errors.push(diag(0, 0, format!("http_server_config.headers: {k:?} is not a valid header"))),
            }
        }
        let basic_auth = match &raw.basic_auth_users {
            Some(users) if !users.value.is_empty() => {
                for (user, hash) in &users.value {
                    if bcrypt::HashParts::from_str_compat(hash).is_none() {
                        errors.push(diag(users.referenced.line(), users.referenced.column(), format!("basic_auth_users: the hash of user {user:?} is not a bcrypt hash (generate one with htpasswd -nBC 10 USER)")));
                    }
                }
                Some(Arc::new(BasicAuth::new(users.value.clone())))
            }
            _ => None,
        };
        if errors.is_empty() {
            Ok(WebConfig { tls, headers, basic_auth })
        } else {
            Err(WebConfigError::Invalid(errors))
        }
    }

    /// Adds the configured headers to a response.
    pub fn decorate(&self, resp: &mut Response<Full<Bytes>>) {
        for (k, v) in &self.headers {
            resp.headers_mut().insert(k.clone(), v.clone());
        }
    }
}

trait FromStrCompat {
    fn from_str_compat(s: &str) -> Option<bcrypt::HashParts>;
}

impl FromStrCompat for bcrypt::HashParts {
    fn from_str_compat(s: &str) -> Option<bcrypt::HashParts> {
        s.parse::<bcrypt::HashParts>().ok()
    }
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let path = PathBuf::from(p);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

fn build_tls(t: &RawTls, base: &Path) -> Result<rustls::ServerConfig, String> {
    let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) else {
        return Err("cert_file and key_file are both required".into());
    };
    let resolver = Arc::new(ReloadingCert::new(resolve(base, cert), resolve(base, key))?);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        match t.min_version.as_ref().map(|v| v.value.as_str()) {
            None | Some("TLS12") => vec![&rustls::version::TLS13, &rustls::version::TLS12],
            Some("TLS13") => vec![&rustls::version::TLS13],
            Some(other) => return Err(format!("min_version {other:?} is not supported; use TLS12 or TLS13")),
        };
    if let Some(max) = &t.max_version {
        if !matches!(max.value.as_str(), "TLS12" | "TLS13") {
            return Err(format!("max_version {:?} is not supported; use TLS12 or TLS13", max.value));
        }
    }
    let provider = crate::tls::crypto_provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let auth_type = t.client_auth_type.as_ref().map(|v| v.value.as_str()).unwrap_or("NoClientCert");
    let builder = match auth_type {
        "NoClientCert" | "" => builder.with_no_client_auth(),
        "RequestClientCert" | "RequireAnyClientCert" | "VerifyClientCertIfGiven" | "RequireAndVerifyClientCert" => {
            let Some(ca) = &t.client_ca_file else {
                return Err(format!("client_auth_type {auth_type} needs client_ca_file"));
            };
            let ca_path = resolve(base, ca);
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&ca_path)
                .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            for c in certs {
                roots.add(c).map_err(|e| format!("client_ca_file {}: {e}", ca_path.display()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if matches!(auth_type, "RequireAndVerifyClientCert" | "RequireAnyClientCert") {
                verifier
            } else {
                verifier.allow_unauthenticated()
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("client_ca_file: {e}"))?)
        }
        other => return Err(format!("client_auth_type {other:?} is unknown; use NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert")),
    };
    let mut config = builder.with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Serves the certificate from `cert_file`/`key_file`, re-reading them when either file's
/// modification time changes (checked at most once per handshake, a `stat` each).
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    current: Mutex<(Option<SystemTime>, Option<SystemTime>, Arc<CertifiedKey>)>,
}

impl ReloadingCert {
    fn new(cert: PathBuf, key: PathBuf) -> Result<ReloadingCert, String> {
        let ck = load_certified_key(&cert, &key)?;
        Ok(ReloadingCert { current: Mutex::new((mtime(&cert), mtime(&key), Arc::new(ck))), cert, key })
    }
}

fn mtime(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cert_file {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cert_file {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("cert_file {} holds no certificate", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("key_file {}: {e}", key.display()))?;
    let provider = crate::tls::crypto_provider();
    let signing =
        provider.key_provider.load_private_key(key_der).map_err(|e| format!("key_file {}: {e}", key.display()))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match().map_err(|e| format!("cert_file and key_file do not belong together: {e}"))?;
    Ok(ck)
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let (c, k) = (mtime(&self.cert), mtime(&self.key));
        if (c, k) != (cur.0, cur.1) {
            match load_certified_key(&self.cert, &self.key) {
                Ok(ck) => {
                    tracing::info!("TLS certificate reloaded");
                    *cur = (c, k, Arc::new(ck));
                }
                // Half-written files during a rotation: keep serving the old pair.
                Err(e) => {
                    tracing::warn!(error = %e, "TLS certificate changed but cannot be loaded; keeping the previous one")
                }
            }
        }
        Some(cur.2.clone())
    }
}

/// HTTP Basic authentication against bcrypt hashes.
///
/// bcrypt runs on the blocking pool, never on the async threads. Successful logins are
/// cached (by a SHA-256 of user, password and hash), so a scraper's repeated requests cost one
/// hash per distinct credential. Unknown users are checked against a decoy hash so the
/// response time does not reveal which user names exist.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    decoy: String,
    ok_cache: Mutex<HashSet<[u8; 32]>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth").field("users", &self.users.len()).finish()
    }
}

impl BasicAuth {
    fn new(users: BTreeMap<String, String>) -> BasicAuth {
        // A hash of a random password at the cost the users' hashes use (10 if unreadable).
        let cost = users.values().next().and_then(|h| h.parse::<bcrypt::HashParts>().ok()).map_or(10, |p| p.get_cost());
        let random: [u8; 16] = rand::random();
        let decoy = bcrypt::hash(random, cost).unwrap_or_default();
        BasicAuth { users, decoy, ok_cache: Mutex::new(HashSet::new()) }
    }

    /// Checks an `Authorization` header value.
    pub async fn check(self: &Arc<Self>, header: Option<&str>) -> bool {
        let Some((user, pass)) = header.and_then(parse_basic) else { return false };
        let hash = self.users.get(&user).cloned();
        let key: [u8; 32] = {
            let mut h = Sha256::new();
            h.update(user.as_bytes());
            h.update([0]);
            h.update(pass.as_bytes());
            h.update([0]);
            h.update(hash.as_deref().unwrap_or("").as_bytes());
            h.finalize().into()
        };
        if hash.is_some() && self.ok_cache.lock().unwrap_or_else(|p| p.into_inner()).contains(&key) {
            return true;
        }
        let this = self.clone();
        let known = hash.is_some();
        let verified = tokio::task::spawn_blocking(move || {
            let target = hash.unwrap_or_else(|| this.decoy.clone());
            bcrypt::verify(pass.as_bytes(), &target).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let ok = known && verified;
        if ok {
            let mut cache = self.ok_cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 1000 {
                cache.clear();
            }
            cache.insert(key);
        }
        ok
    }
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    use base64::Engine as _;
    let b64 = header.strip_prefix("Basic ").or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// The 401 sent without valid credentials.
pub fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = super::handlers::text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    r.headers_mut()
        .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic realm=\"integration_exporter\""));
    r
}
