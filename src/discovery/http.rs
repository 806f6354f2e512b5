//! The HTTP source: a URL polled at `refresh_interval`, following Prometheus' `http_sd_configs`:
//! only `200 OK` with `Content-Type: application/json` holding a JSON array is a success;
//! anything else (another status, a timeout, another type, malformed JSON) is a failed refresh
//! and the last good list stays.

use super::{text_hash, Scan};
use crate::config::discovery::{HttpSd, HttpSdAuth};
use crate::runtime::Shard;
use futures_util::StreamExt;
use secrecy::ExposeSecret;
use std::collections::HashSet;

/// Largest answer read: 100,000 realistic entries take about 60 MB.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

/// Fetches the list once; an answer whose hash is not `known` is cut, keeping the entries
/// `shard` owns.
pub(super) async fn fetch(sd: &HttpSd, known: Option<u64>, shard: Option<Shard>) -> Scan {
    let key = sd.shown_url();
    match get(sd).await {
        Ok(text) => {
            let hash = text_hash(&text);
            let mut scan = Scan { present: Some(HashSet::from([key.clone()])), ..Scan::default() };
            if known != Some(hash) {
                scan.add_read(key, hash, &text, shard);
            }
            scan
        }
        Err(why) => Scan { present: None, read: Vec::new(), failed: vec![(key, why)] },
    }
}

async fn get(sd: &HttpSd) -> Result<String, String> {
    let client = client(sd)?;
    let mut request = client.get(sd.url.clone()).header(http::header::ACCEPT, "application/json");
    match &sd.auth {
        Some(HttpSdAuth::Authorization { kind, credentials }) => {
            let secret = credentials.resolve("credentials").map_err(|e| format!("authorization: {e}"))?;
            request = request.header(http::header::AUTHORIZATION, format!("{kind} {}", secret.expose_secret()));
        }
        Some(HttpSdAuth::Basic { username, password }) => {
            let secret = password.resolve("password").map_err(|e| format!("basic_auth: {e}"))?;
            request = request.basic_auth(username, Some(secret.expose_secret()));
        }
        None => {}
    }
    let response = tokio::time::timeout(sd.timeout, request.send())
        .await
        .map_err(|_| format!("no answer within {}", crate::config::format_duration(sd.timeout)))?
        .map_err(|e| format!("request failed: {}", crate::probe::client::transport_failure(&e).detail))?;
    if response.status() != http::StatusCode::OK {
        return Err(format!("answered HTTP {}; only 200 is a success", response.status().as_u16()));
    }
    let content_type = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(format!("Content-Type is {mime:?}; it must be application/json"));
    }
    let body = tokio::time::timeout(sd.timeout, read_body(response))
        .await
        .map_err(|_| format!("the answer did not arrive within {}", crate::config::format_duration(sd.timeout)))??;
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
        return Err(format!("malformed JSON at line {}, column {}: {}", e.line(), e.column(), json_error_kind(&e)));
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_string())
}

/// What kind of JSON error, without serde_json's echo of the offending text.
fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "the answer ends early",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Io => "read error",
    }
}

async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            format!("reading the answer failed: {}", crate::probe::client::transport_failure(&e).detail)
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(format!("the answer is larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn client(sd: &HttpSd) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto_provider();
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("integration_exporter/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(path) = &sd.tls.ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read tls_config.ca_file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("tls_config.ca_file {}: {e}", path.display()))?;
        builder = builder.tls_certs_merge(certs);
    }
    if sd.tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))
}
