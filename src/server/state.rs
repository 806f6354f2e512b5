//! What every connection shares: the runtime, the server's settings, the request slots.

use super::web_config;
use crate::runtime::App;
use std::sync::Arc;
use tokio::sync::Semaphore;

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
    /// `--web.max-requests` slots.
    pub(super) in_flight: Semaphore,
}

impl ServerState {
    /// State for `serve`.
    pub fn new(app: Arc<App>, options: ServerOptions) -> Arc<ServerState> {
        let permits = options.max_requests.max(1);
        Arc::new(ServerState { app, options, in_flight: Semaphore::new(permits) })
    }
}
