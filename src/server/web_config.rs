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
use std::collections::{BTreeMap, HashMap, HashSet};
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
    headers: Option<Spanned<BTreeMap<String, String>>>,
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
        if let Some(spanned) = raw.http_server_config.as_ref().and_then(|h| h.headers.as_ref()) {
            let (line, column) = (spanned.referenced.line(), spanned.referenced.column());
            for (k, v) in &spanned.value {
                match (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
                    (Ok(k), Ok(v)) => headers.push((k, v)),
                    (Err(_), _) => errors.push(diag(
                        line,
                        column,
                        format!("http_server_config.headers: {k:?} is not a valid header name"),
                    )),
                    (_, Err(_)) => errors.push(diag(
                        line,
                        column,
                        format!("http_server_config.headers: the value of {k:?} is not a valid header value"),
                    )),
                }
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
    let versions = tls_versions(t)?;
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

/// The protocol versions between `min_version` (default TLS12) and `max_version` (default TLS13).
fn tls_versions(t: &RawTls) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    let rank = |field: &str, v: Option<&Spanned<String>>, default: u8| -> Result<u8, String> {
        match v.map(|v| v.value.as_str()) {
            None => Ok(default),
            Some("TLS12") => Ok(12),
            Some("TLS13") => Ok(13),
            Some(other) => Err(format!("{field} {other:?} is not supported; use TLS12 or TLS13")),
        }
    };
    let min = rank("min_version", t.min_version.as_ref(), 12)?;
    let max = rank("max_version", t.max_version.as_ref(), 13)?;
    if min > max {
        return Err(format!("min_version TLS{min} is above max_version TLS{max}: no protocol version is left"));
    }
    let mut versions = Vec::new();
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    Ok(versions)
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

/// What [`BasicAuth::check`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Valid credentials.
    Accepted,
    /// Missing or wrong credentials: 401.
    Refused,
    /// Not checked: this address has failed too often, or too many checks are waiting: 429.
    Throttled,
}

/// bcrypt checks running at once; each takes one blocking thread and one core for tens of ms.
const BCRYPT_PARALLEL: usize = 2;
/// Checks that may wait for a bcrypt slot; beyond, a check is refused at once as throttled.
const BCRYPT_QUEUE: usize = 16;
/// Failed checks an address may make per [`FAILURE_WINDOW`] before it only gets a check when
/// a bcrypt slot is free at once.
const FAILURE_BUDGET: u32 = 10;
/// See [`FAILURE_BUDGET`].
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);
/// Addresses whose failures are remembered at most (the oldest windows are forgotten first).
const FAILURE_TABLE_MAX: usize = 4096;

/// HTTP Basic authentication against bcrypt hashes.
///
/// bcrypt runs on the blocking pool, never on the async threads, at most [`BCRYPT_PARALLEL`] at
/// once, and before a request takes one of the `--web.max-requests` slots: a flood of wrong
/// passwords cannot starve authenticated requests. Successful logins are cached (by a SHA-256
/// of user, password and hash), so a scraper's repeated requests cost one hash per distinct
/// credential and never wait for bcrypt again. An address that failed [`FAILURE_BUDGET`] times
/// within [`FAILURE_WINDOW`] is checked only when a bcrypt slot is free at once, else answered
/// 429. Unknown users are checked against a decoy hash so the response time does not reveal
/// which user names exist.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    decoy: String,
    ok_cache: Mutex<HashSet<[u8; 32]>>,
    hashing: Arc<tokio::sync::Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    failures: Mutex<HashMap<std::net::IpAddr, (std::time::Instant, u32)>>,
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
        BasicAuth {
            users,
            decoy,
            ok_cache: Mutex::new(HashSet::new()),
            hashing: Arc::new(tokio::sync::Semaphore::new(BCRYPT_PARALLEL)),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Checks an `Authorization` header value sent from `peer`.
    pub async fn check(self: &Arc<Self>, header: Option<&str>, peer: std::net::IpAddr) -> AuthOutcome {
        let Some((user, pass)) = header.and_then(parse_basic) else { return AuthOutcome::Refused };
        let hash = self.users.get(&user).cloned();
        let key = cache_key(&user, &pass, hash.as_deref());
        if hash.is_some() && self.ok_cache.lock().unwrap_or_else(|p| p.into_inner()).contains(&key) {
            return AuthOutcome::Accepted;
        }
        let Some(permit) = self.bcrypt_slot(peer).await else { return AuthOutcome::Throttled };
        let known = hash.is_some();
        let target = hash.unwrap_or_else(|| self.decoy.clone());
        let verified = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            bcrypt::verify(pass.as_bytes(), &target).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if known && verified {
            let mut cache = self.ok_cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() > 1000 {
                cache.clear();
            }
            cache.insert(key);
            AuthOutcome::Accepted
        } else {
            self.note_failure(peer);
            AuthOutcome::Refused
        }
    }

    /// A bcrypt slot: waited for (in a bounded queue) by addresses within their failure budget,
    /// taken only if free at once by the others.
    async fn bcrypt_slot(&self, peer: std::net::IpAddr) -> Option<tokio::sync::OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering;
        if let Ok(p) = self.hashing.clone().try_acquire_owned() {
            return Some(p);
        }
        if self.over_budget(peer) {
            return None;
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= BCRYPT_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = self.hashing.clone().acquire_owned().await.ok();
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit
    }

    fn over_budget(&self, peer: std::net::IpAddr) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.get(&peer).is_some_and(|(since, n)| since.elapsed() < FAILURE_WINDOW && *n >= FAILURE_BUDGET)
    }

    fn note_failure(&self, peer: std::net::IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= FAILURE_TABLE_MAX && !failures.contains_key(&peer) {
            failures.retain(|_, (since, _)| since.elapsed() < FAILURE_WINDOW);
            if failures.len() >= FAILURE_TABLE_MAX {
                failures.clear();
            }
        }
        let entry = failures.entry(peer).or_insert((std::time::Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (std::time::Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

fn cache_key(user: &str, pass: &str, hash: Option<&str>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0]);
    h.update(pass.as_bytes());
    h.update([0]);
    h.update(hash.unwrap_or("").as_bytes());
    h.finalize().into()
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
    let mut r = super::response::text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    r.headers_mut()
        .insert(http::header::WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic realm=\"integration_exporter\""));
    r
}

/// The 429 sent when a credential check is not even attempted (see [`BasicAuth`]).
pub fn throttled() -> Response<Full<Bytes>> {
    let mut r = super::response::text(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many failed logins from this address, or too many logins at once; retry later\n",
    );
    r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("10"));
    r
}
