//! Outbound HTTP clients: one pooled client per distinct TLS setting, same-origin redirects
//! only, bodies read with a size cap, transport errors mapped to reasons.

use crate::config::TlsConfig;
use crate::reason::Reason;
use std::collections::HashMap;
use std::error::Error as _;
use std::sync::Mutex;
use std::time::Duration;

use super::Failure;

/// Largest response body read; the rest is dropped unread.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Builds and caches `reqwest` clients. Connections are reused across probes of one host.
#[derive(Debug, Default)]
pub struct ClientPool {
    clients: Mutex<HashMap<TlsConfig, reqwest::Client>>,
}

impl ClientPool {
    /// The client for this TLS setting, built on first use.
    pub fn get(&self, tls: &TlsConfig) -> Result<reqwest::Client, Failure> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(tls) {
            return Ok(c.clone());
        }
        let client = build_client(tls)?;
        clients.insert(tls.clone(), client.clone());
        Ok(client)
    }
}

fn build_client(tls: &TlsConfig) -> Result<reqwest::Client, Failure> {
    crate::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("integration_exporter/", env!("CARGO_PKG_VERSION")))
        .redirect(same_origin_redirects())
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .no_proxy();
    if let Some(path) = &tls.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| Failure::new(Reason::TlsError, format!("cannot read tls.ca_file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Failure::new(Reason::TlsError, format!("tls.ca_file {}: {e}", path.display())))?;
        builder = builder.tls_certs_merge(certs);
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| Failure::new(Reason::TlsError, format!("cannot build HTTP client: {e}")))
}

/// Follows a redirect only while scheme, host and port stay the same, so an `Authorization`
/// or custom auth header is never sent to another host. Stops after 5 hops.
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let Some(first) = attempt.previous().first() else {
            return attempt.stop();
        };
        if attempt.previous().len() > 5 {
            return attempt.error("too many redirects");
        }
        let same = first.scheme() == attempt.url().scheme()
            && first.host_str() == attempt.url().host_str()
            && first.port_or_known_default() == attempt.url().port_or_known_default();
        if same {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Maps a transport error to a reason, without any URL query (which could hold a token).
pub fn transport_failure(err: &reqwest::Error) -> Failure {
    let chain = error_chain(err);
    let lower = chain.to_ascii_lowercase();
    if err.is_timeout() {
        return Failure::new(Reason::Timeout, "no answer before the probe timeout");
    }
    if err.is_redirect() {
        return Failure::new(Reason::UnexpectedResponse, "redirect loop or too many redirects");
    }
    let tls_words = ["certificate", "tls", "handshake", "unknownissuer", "notvalidforname", "expired", "x509"];
    if tls_words.iter().any(|w| lower.contains(w)) {
        return Failure::new(Reason::TlsError, format!("TLS failure: {}", super::classify::short(&chain)));
    }
    if err.is_decode() || err.is_body() {
        return Failure::new(
            Reason::NetworkError,
            format!("connection broke while reading the body: {}", super::classify::short(&chain)),
        );
    }
    Failure::new(Reason::NetworkError, format!("network error: {}", super::classify::short(&chain)))
}

/// The error and its sources joined, with the URL stripped (reqwest's Display includes it).
fn error_chain(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = err.source();
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(err.without_url_string());
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_string(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_string(&self) -> String {
        let mut s = self.to_string();
        if let Some(url) = self.url() {
            s = s.replace(url.as_str(), "<url>");
        }
        s
    }
}

/// Reads at most `MAX_BODY_BYTES` of the body. Returns the bytes and whether it was cut.
pub async fn read_capped(mut resp: reqwest::Response) -> Result<(bytes::Bytes, bool), reqwest::Error> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = MAX_BODY_BYTES - buf.len();
        if chunk.len() > room {
            buf.extend_from_slice(&chunk[..room]);
            return Ok((buf.freeze(), true));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((buf.freeze(), false))
}
