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
mod dispatch;
mod handlers;
pub mod limits;
mod response;
mod state;
pub mod status_page;
pub mod web_config;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub use handlers::{cross_site_refusal, parse_scrape_timeout, route, MAX_SCRAPE_TIMEOUT};
pub use limits::{BODY_READ_TIMEOUT, DRAIN_TIMEOUT, FIRST_REQUEST_TIMEOUT, MAX_BODY_BYTES, MAX_CONNECTIONS};
pub use state::{ServerOptions, ServerState};

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
