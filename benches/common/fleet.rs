//! A synthetic fleet of integrations, shared by the criterion benchmarks (`benches/`), the
//! benchmark helper (`examples/bench_tool.rs`) and the scale test (`tests/e2e_scale.rs`).
//!
//! The fleet mixes three providers the way a platform monitoring its customers' accounts would:
//! half Stripe (`GET /v1/account`), a quarter GitHub (`GET /user`, scopes in `X-OAuth-Scopes`,
//! token expiry and rate-limit headers) and a quarter generic `http` checks (`GET /check`). Each
//! provider gets a path prefix on the simulated API, so one [`SimServer`] answers them all.
//!
//! [`SimServer`]: integration_exporter::demo::sim::SimServer

#![allow(dead_code)]

use integration_exporter::config::Config;
use integration_exporter::demo::sim::{Fixture, Route};
use integration_exporter::probe::{ProbeResult, RateLimit, ScopeCheck};
use integration_exporter::reason::Reason;
use integration_exporter::runtime::{IntegrationState, ProbeCounts};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The token every fleet integration sends; the simulated API accepts it.
pub const TOKEN: &str = "bench-token-0123456789";

/// Global settings of a generated fleet config.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Background interval of every integration (e.g. `1h`: one cycle per run).
    pub interval: String,
    /// Probes in flight at once.
    pub max_concurrency: usize,
    /// Per-host request budget; the whole fleet shares one loopback host, so this is high.
    pub requests_per_second_per_host: f64,
    /// `min_probe_interval` (`0s` never caches).
    pub min_probe_interval: String,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            interval: "1h".into(),
            max_concurrency: 256,
            requests_per_second_per_host: 1_000_000.0,
            min_probe_interval: "10s".into(),
        }
    }
}

/// The provider of the `i`-th integration of a fleet.
pub fn provider_of(i: usize) -> &'static str {
    match i % 4 {
        0 | 1 => "stripe",
        2 => "github",
        _ => "http",
    }
}

/// The name of the `i`-th integration: `customer-00042-stripe`.
pub fn name_of(i: usize) -> String {
    format!("customer-{i:05}-{}", provider_of(i))
}

/// A config of `n` integrations pointed at the simulated API at `api` (`http://127.0.0.1:PORT`).
pub fn config_yaml(n: usize, api: &str, opts: &FleetOptions) -> String {
    let mut out = String::with_capacity(256 + n * 260);
    let _ = write!(
        out,
        "global:\n  interval: {}\n  error_interval: 5m\n  timeout: 10s\n  retries: 1\n  max_concurrency: {}\n  \
         requests_per_second_per_host: {}\n  min_probe_interval: {}\n  labels:\n    env: bench\n\
         integrations:\n",
        opts.interval, opts.max_concurrency, opts.requests_per_second_per_host, opts.min_probe_interval
    );
    for i in 0..n {
        let provider = provider_of(i);
        let _ = write!(
            out,
            "  - name: {name}\n    provider: {provider}\n    base_url: {api}/{provider}\n    labels: {{team: team-{team}}}\n    \
             auth: {{type: bearer, token: {TOKEN}}}\n",
            name = name_of(i),
            team = i % 20,
        );
        match provider {
            "github" => out.push_str("    scopes: {required: [repo], optional: [read:org]}\n"),
            "http" => out.push_str("    check: {path: /check, expect_status: [200]}\n"),
            _ => {}
        }
    }
    out
}

/// The simulated API's routes for the fleet, each answering after `delay`.
pub fn routes(delay: Duration) -> Vec<Route> {
    let stripe = Fixture::json(
        200,
        serde_json::json!({
            "id": "acct_1Nv0FGQ9RKHgCVdK",
            "object": "account",
            "business_profile": {"name": "Example Ltd"},
            "email": "site@example.com",
            "settings": {"dashboard": {"display_name": "Example Ltd"}}
        }),
    )
    .with_header("Request-Id", "req_bench")
    .with_delay(delay);
    let github = Fixture::json(200, serde_json::json!({"login": "octocat", "id": 1, "type": "User"}))
        .with_header("X-OAuth-Scopes", "repo, read:org")
        .with_header("X-RateLimit-Limit", "5000")
        .with_header("X-RateLimit-Remaining", "4990")
        .with_header("X-RateLimit-Reset", "{{unix:+3600}}")
        .with_header("GitHub-Authentication-Token-Expiration", "{{github_date:+2592000}}")
        .with_delay(delay);
    let http = Fixture::json(200, serde_json::json!({"ok": true})).with_delay(delay);
    vec![
        Route::fixed(http::Method::GET, "/stripe/v1/account", stripe),
        Route::fixed(http::Method::GET, "/github/user", github),
        Route::fixed(http::Method::GET, "/http/check", http),
    ]
}

/// A probe result as the fleet's `i`-th integration would show it: mostly healthy, every 10th
/// low on quota, every 25th with an expired token; GitHub ones with scopes, expiry and quota.
pub fn result_for(i: usize, now: SystemTime) -> ProbeResult {
    let reason = if i % 25 == 7 {
        Reason::TokenExpired
    } else if i % 10 == 3 {
        Reason::RateLimitLow
    } else {
        Reason::Ok
    };
    let github = provider_of(i) == "github";
    let scopes = if github {
        vec![
            ScopeCheck { scope: "repo".into(), required: true, granted: true },
            ScopeCheck { scope: "read:org".into(), required: false, granted: true },
        ]
    } else {
        vec![]
    };
    let rate_limit = (github || reason == Reason::RateLimitLow)
        .then(|| RateLimit { remaining: if reason == Reason::RateLimitLow { 40.0 } else { 4990.0 }, limit: 5000.0 });
    ProbeResult {
        status: reason.status(),
        reason,
        detail: "all checks passed".into(),
        auth_success: Some(reason != Reason::TokenExpired),
        scopes_valid: github.then_some(true),
        scopes,
        api_latency: Some(Duration::from_micros(48_000 + (i as u64 % 997) * 13)),
        duration: Duration::from_micros(51_000 + (i as u64 % 991) * 17),
        http_status: if reason == Reason::TokenExpired { 401 } else { 200 },
        credential_expiry: github.then(|| now + Duration::from_secs(30 * 86_400)),
        rate_limit,
        not_before: None,
        identity: Some("Example Ltd".into()),
        account_id: None,
        finished_at: now,
        steps: vec![],
    }
}

/// The store's view of a probed fleet, as `/metrics` would encode it.
pub fn states(config: &Config, now: SystemTime) -> Vec<Arc<IntegrationState>> {
    let mut states: Vec<Arc<IntegrationState>> = config
        .integrations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let last = Arc::new(result_for(i, now));
            Arc::new(IntegrationState {
                config: c.clone(),
                status_changed_at: now - Duration::from_secs(3600),
                last_success: Some(now),
                probes: ProbeCounts { healthy: 40 + i as u64 % 7, warning: i as u64 % 3, error: i as u64 % 2 },
                consecutive_failures: (i % 2) as u32,
                history: Default::default(),
                last: Some(last),
            })
        })
        .collect();
    states.sort_by(|a, b| a.config.name.cmp(&b.config.name));
    states
}
