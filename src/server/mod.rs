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

pub mod api;
mod handlers;
pub mod status_page;
pub mod web_config;

use crate::app::App;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use handlers::route;

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

/// How long a client may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most; more are closed on accept, so idle or slow clients cannot
/// exhaust file descriptors.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long in-flight requests get to finish after shutdown is signalled.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP on `listener` until `shutdown` resolves, then drains in-flight requests
/// for at most [`DRAIN_TIMEOUT`].
pub async fn serve(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let tls = state.options.web.as_ref().and_then(|w| w.tls.clone());
                let state = state.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(dispatch(state, req).await) }
                });
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    // Over the connection cap: close at once rather than let idle sockets pile up.
                    tracing::debug!("connection refused: {MAX_CONNECTIONS} connections already open");
                    continue;
                };
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tls {
                        None => serve_io(watcher, TokioIo::new(stream), service).await,
                        Some(tls) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(tls);
                            match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                                Ok(Ok(s)) => serve_io(watcher, TokioIo::new(s), service).await,
                                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                                Err(_) => tracing::debug!("TLS handshake timed out"),
                            }
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await.is_err() {
        tracing::warn!("some HTTP connections did not finish within the drain timeout");
    }
    Ok(())
}

/// Serves one connection (plain or TLS) until it closes or shutdown drains it.
async fn serve_io<I, S>(watcher: hyper_util::server::graceful::Watcher, io: I, service: S)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = std::convert::Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = http_builder().serve_connection(io, service).into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

fn http_builder() -> hyper_util::server::conn::auto::Builder<TokioExecutor> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT).max_buf_size(64 * 1024);
    builder
}

async fn dispatch(state: Arc<ServerState>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let mut resp = match state.in_flight.try_acquire() {
        Err(_) => handlers::text(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight (--web.max-requests); retry shortly\n",
        ),
        Ok(_permit) => match state.options.web.as_ref().and_then(|w| w.basic_auth.clone()) {
            Some(auth) => {
                let header = req.headers().get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                if auth.check(header).await {
                    route(&state, req).await
                } else {
                    web_config::unauthorized()
                }
            }
            None => route(&state, req).await,
        },
    };
    if let Some(web) = &state.options.web {
        web.decorate(&mut resp);
    }
    resp
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
