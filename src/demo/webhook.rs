//! Demo mode's provider webhook: when `slack-notifications` breaks (halfway through each
//! [`super::CYCLE`]), the simulated Slack sends a signed `tokens_revoked` event to the
//! exporter's webhook receiver, as Slack would, so the status page shows the break within a
//! second instead of at the next scheduled probe.

use crate::webhook::sig::{encode_hex, hmac_sha256};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The signing secret the demo config gives `slack-notifications` (a placeholder, like the
/// demo's tokens).
pub const SIGNING_SECRET: &str = "demo-slack-signing-secret";
/// The workspace the simulated `auth.test` reports (`tests/fixtures/slack/healthy.json`).
pub const TEAM_ID: &str = "T12345678";

/// Sends one signed `tokens_revoked` event for the demo workspace to the receiver at `to`
/// (plain HTTP); returns the HTTP status it answered.
pub async fn send_revocation(to: SocketAddr, n: u64) -> std::io::Result<u16> {
    let body = format!(
        r#"{{"token":"demo","team_id":"{TEAM_ID}","api_app_id":"ADEMO","type":"event_callback","event_id":"EvDemo{n}","event_time":{t},"event":{{"type":"tokens_revoked","tokens":{{"oauth":[],"bot":["W12345678"]}}}}}}"#,
        t = unix_now()
    );
    let ts = unix_now();
    let mac = hmac_sha256(SIGNING_SECRET.as_bytes(), &[format!("v0:{ts}:").as_bytes(), body.as_bytes()]);
    let request = format!(
        "POST /webhooks/slack HTTP/1.1\r\nhost: {to}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         x-slack-request-timestamp: {ts}\r\nx-slack-signature: v0={}\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        encode_hex(&mac)
    );
    let mut stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(to)).await??;
    stream.write_all(request.as_bytes()).await?;
    let mut head = [0u8; 12];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head)).await??;
    // "HTTP/1.1 200"
    std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

/// Sends the event at every break of `slack-notifications`, forever; `started` is when the
/// simulated API's cycle began.
pub async fn announce_breaks(to: SocketAddr, started: Instant) {
    let (cycle, half) = (super::CYCLE, super::CYCLE / 2);
    for n in 0.. {
        let into = Duration::from_nanos((started.elapsed().as_nanos() % cycle.as_nanos()) as u64);
        let wait = if into < half { half - into } else { cycle - into + half };
        // A moment past the break, so that the probe the event triggers sees it.
        tokio::time::sleep(wait + Duration::from_millis(20)).await;
        match send_revocation(to, n).await {
            Ok(status) => tracing::info!(status, "demo: simulated Slack sent a signed tokens_revoked webhook"),
            Err(e) => {
                tracing::warn!(error = %e, "demo: cannot deliver the simulated Slack webhook (is the receiver on TLS?)")
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
