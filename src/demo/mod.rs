//! Demo mode: a simulated SaaS API on loopback and a built-in config that exercises it.
//!
//! [`start`] launches a [`sim::SimServer`] (the same simulated API the test suite uses as its
//! mock) with one path prefix per demo integration, so each integration can be given its own
//! answers at the provider's real, documented paths: `hubspot-production`'s base URL is
//! `http://127.0.0.1:PORT/hubspot-production`, and its account details are served at
//! `/hubspot-production/account-info/v3/details`. The returned config points every
//! integration at its prefix; `integration_exporter demo` then serves it like any config file.
//!
//! The integrations and what they show are listed in [`INTEGRATIONS`]; one of them,
//! `slack-notifications`, changes state on a timer ([`slack_notifications_healthy`]) so that
//! dashboards and alerts see transitions.

mod scenarios;
pub mod sim;
pub mod webhook;

use crate::reason::Reason;
use std::time::Duration;

/// One demo integration and the state it is built to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoIntegration {
    /// Integration name (other tests and the alerting examples depend on these names).
    pub name: &'static str,
    /// Provider preset.
    pub provider: &'static str,
    /// The reason it settles on (for `slack-notifications`, the reason in its first minute).
    pub reason: Reason,
}

/// Every demo integration, in config order.
pub const INTEGRATIONS: [DemoIntegration; 9] = [
    DemoIntegration { name: "hubspot-production", provider: "hubspot", reason: Reason::Ok },
    DemoIntegration { name: "stripe-billing", provider: "stripe", reason: Reason::Ok },
    DemoIntegration { name: "hubspot-marketing", provider: "hubspot", reason: Reason::TokenExpired },
    DemoIntegration { name: "slack-alerts", provider: "slack", reason: Reason::CredentialRevoked },
    DemoIntegration { name: "github-ci", provider: "github", reason: Reason::ScopeMissing },
    DemoIntegration { name: "salesforce-sales", provider: "salesforce", reason: Reason::Slow },
    DemoIntegration { name: "stripe-reporting", provider: "stripe", reason: Reason::RateLimited },
    DemoIntegration { name: "github-deploy-bot", provider: "github", reason: Reason::ExpiringSoon },
    DemoIntegration { name: "slack-notifications", provider: "slack", reason: Reason::Ok },
];

/// Length of `slack-notifications`' cycle: healthy for the first half, then its token is
/// expired for the second half, then it is "re-authorised" and the cycle repeats.
pub const CYCLE: Duration = Duration::from_secs(120);

/// Whether `slack-notifications` is healthy `elapsed` after the demo started.
pub fn slack_notifications_healthy(elapsed: Duration) -> bool {
    elapsed.as_secs() % CYCLE.as_secs() < CYCLE.as_secs() / 2
}

/// A running demo backend. Dropping it stops the simulated API.
#[derive(Debug)]
pub struct Demo {
    /// The built-in config, pointed at the simulated API.
    pub config_text: String,
    sim: sim::SimServer,
    /// When `slack-notifications`' cycle began.
    started: std::time::Instant,
}

impl Demo {
    /// The simulated API's base URL (`http://127.0.0.1:PORT`).
    pub fn api_url(&self) -> String {
        self.sim.url()
    }

    /// Has the simulated Slack send a signed webhook to the receiver at `to` whenever
    /// `slack-notifications` breaks (see [`webhook`]).
    pub fn announce_breaks(&self, to: std::net::SocketAddr) -> tokio::task::JoinHandle<()> {
        tokio::spawn(webhook::announce_breaks(to, self.started))
    }
}

/// Starts the simulated API and returns the demo config that points at it.
pub async fn start() -> std::io::Result<Demo> {
    let started = std::time::Instant::now();
    let routes = scenarios::routes(started)?;
    let sim = sim::SimServer::start(routes).await?;
    let config_text = config_text(&sim.url());
    tracing::info!(api = %sim.url(), integrations = INTEGRATIONS.len(), "demo: simulated provider API started");
    Ok(Demo { config_text, sim, started })
}

/// The demo config for a simulated API at `api` (`http://127.0.0.1:PORT`).
pub fn config_text(api: &str) -> String {
    let mut out = String::from(
        "# Built-in demo config: every integration talks to the simulated provider API that\n\
         # `integration_exporter demo` runs on loopback. The tokens are placeholders.\n\
         global:\n  interval: 15s\n  error_interval: 5s\n  slow_threshold: 1s\n  labels:\n    env: demo\n\
         integrations:\n",
    );
    for i in INTEGRATIONS {
        out.push_str(&format!(
            "  - name: {name}\n    provider: {provider}\n    base_url: {api}{path}\n    \
             auth:\n      type: bearer\n      token: {token}\n",
            name = i.name,
            provider = i.provider,
            path = scenarios::base_path(i.name),
            token = scenarios::token(i.name),
        ));
        if i.name == "slack-notifications" {
            // Used only when the exporter runs with --web.webhook-listen-address.
            out.push_str(&format!(
                "    webhook:\n      secret: {}\n      account: {}\n",
                webhook::SIGNING_SECRET,
                webhook::TEAM_ID
            ));
        }
        if let Some((required, optional)) = scenarios::scopes(i.name) {
            out.push_str("    scopes:\n");
            out.push_str(&format!("      required: [{}]\n", required.join(", ")));
            if !optional.is_empty() {
                out.push_str(&format!("      optional: [{}]\n", optional.join(", ")));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_is_healthy_first_then_expired_then_healthy_again() {
        assert!(slack_notifications_healthy(Duration::ZERO));
        assert!(slack_notifications_healthy(Duration::from_secs(59)));
        assert!(!slack_notifications_healthy(Duration::from_secs(60)));
        assert!(!slack_notifications_healthy(Duration::from_secs(119)));
        assert!(slack_notifications_healthy(Duration::from_secs(120)));
    }

    #[test]
    fn config_names_every_integration_once() {
        let text = config_text("http://127.0.0.1:1");
        for i in INTEGRATIONS {
            assert_eq!(text.matches(&format!("- name: {}\n", i.name)).count(), 1, "{}", i.name);
            assert!(text.contains(&format!("base_url: http://127.0.0.1:1/{}", i.name)));
        }
        assert!(text.contains("env: demo"));
    }

    #[test]
    fn fixtures_parse() {
        assert!(scenarios::routes(std::time::Instant::now()).is_ok());
    }
}
