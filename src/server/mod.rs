//! The HTTP server.
//!
//! Endpoints (SPEC §3):
//!
//! | path | method | what |
//! |---|---|---|
//! | `--web.telemetry-path` (`/metrics`) | GET | every integration's latest result + self-metrics; never probes |
//! | `/probe?target=NAME[&debug=true]` | GET | probe NAME now (cache and single-flight rules), its metrics |
//! | `/` | GET | status page |
//! | `/api/v1/integrations[/NAME]` | GET | the same as JSON |
//! | `/api/v1/integrations/NAME/probe` | POST | on-demand probe, JSON result |
//! | `/config` | GET | effective config, secrets redacted |
//! | `/-/healthy`, `/-/ready` | GET | liveness, readiness |
//! | `/-/reload` | POST | reload the config; keeps the old one on error |
//!
//! The server takes an already-bound listener and a shutdown signal, so tests run it on
//! port 0. Requests beyond `--web.max-requests` in flight get 503.
//!
//! No single client can starve the others: a connection must deliver its first request head
//! within [`FIRST_REQUEST_TIMEOUT`] of accept; bodies are read within [`BODY_READ_TIMEOUT`] and
//! [`MAX_BODY_BYTES`] before a request slot is taken; basic-auth checks run outside the slots
//! with their own bounded bcrypt pool and a per-address failure budget; when all
//! [`MAX_CONNECTIONS`] are open, the longest-idle connection makes room for a new one.

pub mod api;
mod conn;
mod handlers;
pub mod status_page;
pub mod web_config;

use crate::app::App;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use handlers::{cross_site_refusal, parse_scrape_timeout, route, MAX_SCRAPE_TIMEOUT};

/// Server settings from the command line.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Path of the metrics endpoint.
    pub telemetry_path: String,
    /// Requests served at once; more get 503.
    pub max_requests: usize,
    /// Whether `GET /config` is served.
    pub config_endpoint: bool,
    /// `--web.config.file`: TLS, basic auth, extra headers.
    pub web: Option<web_config::WebConfig>,
    /// `--web.route-prefix`: every endpoint and link lives under it; empty for `/`, else
    /// `/a/b` without a trailing slash.
    pub route_prefix: String,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            telemetry_path: "/metrics".into(),
            max_requests: 40,
            config_endpoint: true,
            web: None,
            route_prefix: String::new(),
        }
    }
}

/// Shared by every connection.
#[derive(Debug)]
pub struct ServerState {
    /// The exporter.
    pub app: Arc<App>,
    /// Settings.
    pub options: ServerOptions,
    in_flight: Semaphore,
}

impl ServerState {
    /// State for `serve`.
    pub fn new(app: Arc<App>, options: ServerOptions) -> Arc<ServerState> {
        let permits = options.max_requests.max(1);
        Arc::new(ServerState { app, options, in_flight: Semaphore::new(permits) })
    }
}

/// How long a client may take to send a request's headers once it has started one (and how
/// long an HTTP/1 keep-alive connection may sit idle between requests).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a new connection has, from accept, to deliver its first complete request head: the
/// TLS handshake, protocol detection and the headers all count, so a socket that never sends a
/// byte is closed after this.
pub const FIRST_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request body (every endpoint reads at most
/// [`MAX_BODY_BYTES`]). The body is read before the request takes one of the
/// `--web.max-requests` slots, so a slow body never holds one.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request body read; no endpoint needs more than a short form.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Open connections at most. When all are taken, a new connection closes the one that has
/// waited longest without a request in progress (never sent one, or idle between requests),
/// so idle sockets cannot lock real clients out; with none such, the new one is closed.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long in-flight requests get to finish after shutdown is signalled. Connections without
/// a request in progress are closed at once.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(8);

/// Serves HTTP on `listener` until `shutdown` resolves, then drains in-flight requests
/// for at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let tracker = Arc::new(conn::Tracker::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let accepted_at = tokio::time::Instant::now();
                let _ = stream.set_nodelay(true);
                let Some(slot) = tracker.admit() else {
                    tracing::debug!("connection refused: {MAX_CONNECTIONS} connections busy with requests");
                    continue;
                };
                let watcher = graceful.watcher();
                let state = state.clone();
                tokio::spawn(conn::run(stream, peer, accepted_at, slot, state, watcher));
            }
        }
    }
    drop(listener);
    // Nothing is lost by closing connections that have no request in progress.
    tracker.close_idle();
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("some HTTP connections did not finish within the drain timeout");
    }
    Ok(())
}

fn http_builder() -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(64 * 1024);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(16);
    builder
}

/// Handles one request: authentication (outside the request slots), cross-site refusal, the
/// body (bounded in size and time, also outside the slots), then a slot and the route.
async fn dispatch(state: Arc<ServerState>, peer: IpAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = match admit(&state, peer, req).await {
        Ok((req, _slot)) => route(&state, req).await,
        Err(refusal) => refusal,
    };
    if let Some(web) = &state.options.web {
        web.decorate(&mut resp);
    }
    resp
}

/// Everything a request must pass before it is routed; the response when it does not.
async fn admit(
    state: &ServerState,
    peer: IpAddr,
    req: Request<Incoming>,
) -> Result<(Request<Bytes>, tokio::sync::SemaphorePermit<'_>), Response<Full<Bytes>>> {
    if let Some(auth) = state.options.web.as_ref().and_then(|w| w.basic_auth.clone()) {
        let header = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match auth.check(header, peer).await {
            web_config::AuthOutcome::Accepted => {}
            web_config::AuthOutcome::Refused => return Err(web_config::unauthorized()),
            web_config::AuthOutcome::Throttled => return Err(web_config::throttled()),
        }
    }
    if let Some(refusal) = handlers::cross_site_refusal(&req, &state.options.route_prefix) {
        return Err(refusal);
    }
    let req = read_body(req).await?;
    match state.in_flight.try_acquire() {
        Ok(slot) => Ok((req, slot)),
        Err(_) => Err(handlers::text(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight (--web.max-requests); retry shortly\n",
        )),
    }
}

/// Reads the whole body within [`BODY_READ_TIMEOUT`] and [`MAX_BODY_BYTES`].
async fn read_body(req: Request<Incoming>) -> Result<Request<Bytes>, Response<Full<Bytes>>> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_READ_TIMEOUT, limited.collect()).await {
        Ok(Ok(collected)) => Ok(Request::from_parts(parts, collected.to_bytes())),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(handlers::text(
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes\n"),
        )),
        Ok(Err(_)) => Err(handlers::text(hyper::StatusCode::BAD_REQUEST, "request body could not be read\n")),
        Err(_) => Err(handlers::text(
            hyper::StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {} s\n", BODY_READ_TIMEOUT.as_secs()),
        )),
    }
}

/// The JSON form of one probe result (API and `check --output json`).
pub fn api_result_json(name: &str, r: &crate::probe::ProbeResult) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "status": r.status,
        "reason": r.reason,
        "detail": r.detail,
        "auth_success": r.auth_success,
        "scopes_valid": r.scopes_valid,
        "scopes": r.scopes,
        "http_status": r.http_status,
        "api_latency_seconds": r.api_latency.map(|d| d.as_secs_f64()),
        "probe_duration_seconds": r.duration.as_secs_f64(),
        "credential_expiry_timestamp_seconds": r.credential_expiry.map(crate::store::unix_seconds),
        "rate_limit": r.rate_limit.map(|l| serde_json::json!({"remaining": l.remaining, "limit": l.limit})),
        "identity": r.identity,
        "finished_at": crate::store::unix_seconds(r.finished_at),
        "steps": r.steps,
    })
}
